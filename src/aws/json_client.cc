#include "aws/json_client.h"

#include <fmt/format.h>

#include "common/json.h"

namespace berth::aws {

std::string EndpointHost(std::string_view endpoint) {
  if (size_t scheme = endpoint.find("://"); scheme != std::string_view::npos) {
    endpoint.remove_prefix(scheme + 3);
  }
  return std::string(endpoint.substr(0, endpoint.find('/')));
}

Result<std::string> CallJson(http::Client& client, const JsonCall& call,
                             const Credentials& credentials, TimePoint now) {
  std::string host = EndpointHost(call.endpoint);
  http::Request request;
  request.method = "POST";
  request.target = "/";
  request.headers = {{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", call.target}};
  request.body = call.body;
  Sign(request, host, credentials, call.region, call.signing_name, now);
  std::string scheme = call.endpoint.starts_with("https://") ? "https://" : "http://";
  auto reply = BERTH_TRY(client.Send({"POST", scheme + host + "/", request.headers, request.body}));
  if (reply.status >= 200 && reply.status < 300) return std::move(reply.body);
  json::Json error = json::Json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  std::string code, message;
  if (error.is_object()) {
    if (auto it = error.find("__type"); it != error.end() && it->is_string()) {
      code = it->get<std::string>();
      if (size_t hash = code.rfind('#'); hash != std::string::npos) code = code.substr(hash + 1);
    }
    for (const char* key : {"message", "Message"}) {
      if (auto it = error.find(key); it != error.end() && it->is_string()) {
        message = it->get<std::string>();
        break;
      }
    }
  }
  if (code.empty()) {
    return Fail("InvalidResponse",
                fmt::format("{} answered HTTP {} without an AWS error", call.target, reply.status),
                reply.status);
  }
  return Fail(std::move(code), std::move(message), reply.status);
}

Result<std::string> CallJson(const JsonCall& call, const Credentials& credentials, TimePoint now,
                             const std::string& ca_file) {
  http::Client client({.ca_file = ca_file});
  return CallJson(client, call, credentials, now);
}

}  // namespace berth::aws
