#include "http/client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <mutex>

#include "common/strings.h"

namespace berth::http {

namespace {
void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::vector<Header>*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a new response (after 100-continue or a redirect)
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    headers->push_back({ToLower(Trim(line.substr(0, colon))), std::string(Trim(line.substr(colon + 1)))});
  }
  return size * n;
}
}  // namespace

std::string_view ClientResponse::HeaderOr(std::string_view name) const {
  for (const Header& h : headers) {
    if (h.name == name) return h.value;
  }
  return {};
}

struct Client::Impl {
  ClientOptions options;
  CURL* curl = nullptr;
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>()) {
  GlobalInit();
  impl_->options = std::move(options);
  impl_->curl = curl_easy_init();
}

Client::~Client() {
  if (impl_->curl) curl_easy_cleanup(impl_->curl);
}

Result<ClientResponse> Client::Send(const ClientRequest& request) {
  CURL* c = impl_->curl;
  if (!c) return InternalFailure("curl_easy_init failed");
  curl_easy_reset(c);
  ClientResponse response;
  curl_slist* headers = nullptr;
  for (const Header& h : request.headers) {
    headers = curl_slist_append(headers, fmt::format("{}: {}", h.name, h.value).c_str());
  }
  // libcurl adds these unless told not to; requests state their own.
  headers = curl_slist_append(headers, "Expect:");
  if (request.body.empty() && request.method != "GET" && request.method != "HEAD") {
    headers = curl_slist_append(headers, "Content-Type:");
  }
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, impl_->options.follow_redirects ? 1L : 0L);
  if (!impl_->options.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, impl_->options.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response.headers);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Fail("RequestTimeout", fmt::format("{} {}: timed out", request.method, request.url), 504);
  }
  if (rc != CURLE_OK) {
    return Fail("ConnectionFailed",
                fmt::format("{} {}: {}", request.method, request.url, curl_easy_strerror(rc)), 502);
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace berth::http
