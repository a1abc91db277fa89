#include "aws/gateway.h"

#include <fmt/format.h>

#include <algorithm>

#include "aws/sigv4.h"
#include "aws/xml.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "common/strings.h"

namespace berth::aws {

namespace {

constexpr std::string_view kJsonContentType = "application/x-amz-json-1.1";

// Codes whose Query spelling differs, and the HTTP status Query uses for them
// (0: the error's own).
struct QueryName {
  std::string_view json;
  std::string_view query;
  int status;
};
constexpr QueryName kQueryNames[] = {
    {"MissingAuthenticationTokenException", "MissingAuthenticationToken", 403},
    {"UnrecognizedClientException", "InvalidClientTokenId", 403},
    {"InvalidSignatureException", "SignatureDoesNotMatch", 403},
    {"IncompleteSignatureException", "IncompleteSignature", 400},
    {"ExpiredTokenException", "ExpiredToken", 400},
    {"AccessDeniedException", "AccessDenied", 403},
    {"UnknownOperationException", "InvalidAction", 400},
    {"SerializationException", "MalformedInput", 400},
    {"RequestEntityTooLargeException", "RequestEntityTooLarge", 413},
    {"MalformedHttpRequestException", "MalformedHttpRequest", 400},
    // 503 when the server sheds load (Reject), 400 when one record is written
    // faster than writes can queue (store/retry.h), as IAM answers it.
    {"ThrottlingException", "Throttling", 0},
};

bool WantsJson(const http::Request& request) {
  if (request.FindHeader("x-amz-target")) return true;
  return request.HeaderOr("content-type").find("x-amz-json") != std::string_view::npos;
}

http::Response Reply(int status, std::string_view content_type, std::string body,
                     const std::string& request_id) {
  http::Response res;
  res.status = status;
  res.headers.push_back({"x-amzn-RequestId", request_id});
  res.headers.push_back({"Content-Type", std::string(content_type)});
  res.body = std::move(body);
  return res;
}

Error WrongService(std::string_view signing_name) {
  return Error{"InvalidSignatureException",
               fmt::format("Credential should be scoped to correct service: '{}'. ", signing_name),
               400};
}

void LogFailure(std::string_view protocol, std::string_view operation, const Error& error,
                const std::string& request_id) {
  if (error.http_status >= 500) {
    log::Error("request failed", {{"protocol", protocol}, {"operation", operation},
                                  {"code", error.code}, {"message", error.message},
                                  {"request_id", request_id}});
  } else if (log::Enabled(log::Level::kDebug)) {
    log::Debug("request rejected", {{"protocol", protocol}, {"operation", operation},
                                    {"code", error.code}, {"message", error.message},
                                    {"request_id", request_id}});
  }
}

// Runs an operation's handler on `input` with the request's context: the one
// place a handler is called. A handler that throws is an InternalFailure (the
// exception's text goes to the log only).
template <class Handler, class Input>
Result<std::string> RunHandler(const Handler& handler, const RequestContext& ctx,
                               const Input& input) {
  try {
    return handler(ctx, input);
  } catch (const std::exception& e) {
    return InternalFailure(fmt::format("handler threw: {}", e.what()));
  }
}

}  // namespace

std::string QueryErrorCode(std::string_view json_code) {
  for (const auto& n : kQueryNames) {
    if (n.json == json_code) return std::string(n.query);
  }
  return std::string(json_code);
}

http::Response JsonError(const Error& error, const std::string& request_id) {
  // Internal details stay in the log; the client sees a generic message.
  std::string message = error.http_status >= 500 && error.code == "InternalFailure"
                            ? "An internal error occurred. Request id: " + request_id
                            : error.message;
  std::string body = "{\"__type\":";
  json::AppendQuoted(body, error.code);
  body += ",\"message\":";
  json::AppendQuoted(body, message);
  if (!error.extra_json.empty()) {
    body.push_back(',');
    body += error.extra_json;
  }
  body.push_back('}');
  auto res = Reply(error.http_status, kJsonContentType, std::move(body), request_id);
  res.headers.push_back({"x-amzn-ErrorType", error.code});
  return res;
}

http::Response QueryError(const Error& error, const std::string& request_id,
                          std::string_view xmlns) {
  int status = error.http_status;
  std::string code = error.code;
  for (const auto& n : kQueryNames) {
    if (n.json == error.code) {
      code = n.query;
      if (n.status != 0) status = n.status;
    }
  }
  std::string message = status >= 500 && error.code == "InternalFailure"
                            ? "An internal error occurred. Request id: " + request_id
                            : error.message;
  Xml xml;
  xml.Raw(fmt::format(R"(<ErrorResponse xmlns="{}">)", xmlns))
      .Open("Error")
      .Text("Type", status >= 500 ? "Receiver" : "Sender")
      .Text("Code", code)
      .Text("Message", message)
      .Close("Error")
      .Text("RequestId", request_id)
      .Close("ErrorResponse");
  return Reply(status, "text/xml", xml.Take(), request_id);
}

QueryParams::QueryParams(std::vector<std::pair<std::string, std::string>> pairs)
    : pairs_(std::move(pairs)) {
  std::stable_sort(pairs_.begin(), pairs_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

const std::string* QueryParams::Find(std::string_view name) const {
  auto it = std::lower_bound(pairs_.begin(), pairs_.end(), name,
                             [](const auto& p, std::string_view n) { return p.first < n; });
  return it != pairs_.end() && it->first == name ? &it->second : nullptr;
}

Result<std::string> QueryParams::Required(std::string_view name) const {
  const std::string* v = Find(name);
  if (!v) {
    return Fail("MissingParameter",
                fmt::format("The request must contain the parameter {}", name));
  }
  return *v;
}

std::vector<std::string> QueryParams::List(std::string_view prefix) const {
  std::vector<std::string> out;
  for (int i = 1;; ++i) {
    const std::string* v = Find(fmt::format("{}.member.{}", prefix, i));
    if (!v) break;
    out.push_back(*v);
  }
  return out;
}

Gateway::Gateway(CredentialResolver& resolver, const Clock& clock, Ids& ids)
    : resolver_(resolver), clock_(clock), ids_(ids) {}

void Gateway::Add(JsonService service) {
  std::string prefix = service.target_prefix;
  json_by_prefix_.emplace(std::move(prefix), std::move(service));
}

void Gateway::Add(QueryService service) {
  std::string name = service.signing_name;
  query_by_signing_name_.emplace(std::move(name), std::move(service));
}

http::Response Gateway::Handle(const http::Request& request) {
  std::string request_id = ids_.Uuid();
  return WantsJson(request) ? HandleJson(request, request_id) : HandleQuery(request, request_id);
}

Result<RequestContext> Gateway::Authenticate(const http::Request& request,
                                             std::string_view signing_name) {
  auto verified = BERTH_TRY(Verify(request, resolver_, clock_.Now()));
  if (verified.service != signing_name) return std::unexpected(WrongService(signing_name));
  return ContextOf(std::move(verified), request, ids_.Uuid());
}

RequestContext Gateway::ContextOf(VerifiedRequest verified, const http::Request& request,
                                  const std::string& request_id) const {
  return RequestContext{std::move(verified.principal), std::move(verified.region), request_id,
                        request.remote_ip, clock_.Now(), request.secure};
}

http::Response Gateway::Reject(const http::Request& request, int status, std::string_view reason) {
  std::string request_id = ids_.Uuid();
  std::string_view code = status == 413   ? "RequestEntityTooLargeException"
                          : status == 503 ? "ThrottlingException"
                                          : "MalformedHttpRequestException";
  Error error{std::string(code), std::string(reason), status};
  return WantsJson(request) ? JsonError(error, request_id) : QueryError(error, request_id);
}

http::Response Gateway::HandleJson(const http::Request& request, const std::string& request_id) {
  std::string_view target = request.HeaderOr("x-amz-target");
  auto fail = [&](const Error& e) {
    LogFailure("json", target, e, request_id);
    return JsonError(e, request_id);
  };
  if (request.method != "POST") {
    return fail(Error{"UnknownOperationException", "JSON 1.1 requests must be POST.", 400});
  }
  auto verified = Verify(request, resolver_, clock_.Now());
  if (!verified) return fail(verified.error());

  size_t dot = target.find('.');
  auto service = json_by_prefix_.find(target.substr(0, dot));
  if (dot == std::string_view::npos || service == json_by_prefix_.end()) {
    return fail(Error{"UnknownOperationException",
                      fmt::format("Unknown operation '{}'.", Utf8Prefix(target, 128)), 400});
  }
  if (verified->service != service->second.signing_name) {
    return fail(WrongService(service->second.signing_name));
  }
  std::string_view name = target.substr(dot + 1);
  auto op = service->second.operations.find(name);
  if (op == service->second.operations.end()) {
    return fail(Error{"UnknownOperationException",
                      fmt::format("Unknown operation '{}'.", Utf8Prefix(target, 128)), 400});
  }
  auto out = RunHandler(op->second, ContextOf(std::move(*verified), request, request_id),
                        request.body);
  if (!out) return fail(out.error());
  return Reply(200, kJsonContentType, std::move(*out), request_id);
}

http::Response Gateway::HandleQuery(const http::Request& request, const std::string& request_id) {
  std::string action;
  std::string_view xmlns = "https://iam.amazonaws.com/doc/2010-05-08/";
  auto fail = [&](const Error& e) {
    LogFailure("query", action, e, request_id);
    return QueryError(e, request_id, xmlns);
  };
  auto verified = Verify(request, resolver_, clock_.Now());
  if (!verified) return fail(verified.error());

  auto pairs = ParseForm(request.Query());
  if (request.method == "POST") {
    auto body = ParseForm(request.body);
    pairs.insert(pairs.end(), std::make_move_iterator(body.begin()),
                 std::make_move_iterator(body.end()));
  }
  QueryParams params(std::move(pairs));
  const std::string* action_param = params.Find("Action");
  if (!action_param || action_param->empty()) {
    return fail(Error{"MissingAction", "The request must contain the parameter Action.", 400});
  }
  action = *action_param;
  auto service = query_by_signing_name_.find(verified->service);
  if (service == query_by_signing_name_.end()) {
    return fail(Error{"InvalidAction",
                      fmt::format("Could not find operation {} for service '{}'.",
                                  Utf8Prefix(action, 128), Utf8Prefix(verified->service, 64)),
                      400});
  }
  const QueryService& svc = service->second;
  xmlns = svc.xmlns;
  const std::string* version = params.Find("Version");
  auto op = svc.operations.find(action);
  if (op == svc.operations.end() || (version && *version != svc.version)) {
    return fail(
        Error{"InvalidAction",
              fmt::format("Could not find operation {} for version {}", Utf8Prefix(action, 128),
                          version ? Utf8Prefix(*version, 32) : "NO_VERSION_SPECIFIED"),
              400});
  }
  auto out = RunHandler(op->second, ContextOf(std::move(*verified), request, request_id),
                        params);
  if (!out) return fail(out.error());
  std::string body;
  body.reserve(out->size() + 256);
  body += fmt::format(R"(<{}Response xmlns="{}">)", action, svc.xmlns);
  if (!out->empty()) {
    body += fmt::format("<{0}Result>{1}</{0}Result>", action, *out);
  } else if (svc.empty_result_element.contains(action)) {
    body += fmt::format("<{}Result/>", action);
  }
  body += fmt::format("<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{}Response>",
                      request_id, action);
  return Reply(200, "text/xml", std::move(body), request_id);
}

}  // namespace berth::aws
