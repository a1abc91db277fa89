#include "agent/registry/transport.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "agent/registry/curl_setup.h"
#include "agent/registry/errors.h"
#include "common/strings.h"

namespace berth::agent::registry {
namespace {

// How early libcurl may end a request its timeout cut, on our clock, for the cut to count as
// the pull's deadline (Transport::Send).
constexpr std::chrono::milliseconds kDeadlineSlack{5};

// libcurl's sockets are not close-on-exec: a registry connection (kept alive between
// requests, see HandlePool) would be inherited by every process the agent starts.
curl_socket_t OpenSocket(void*, curlsocktype purpose, curl_sockaddr* address) {
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

// Curl handles kept between uses (the Transports, the fetcher's runs): each keeps its
// connections (and their TLS sessions and DNS answers) alive, so the next request to the same
// registry, a task's image re-check after another's, a pull after another, goes out at once
// instead of after a TCP and a TLS handshake: two round trips to a remote registry. A handle
// serves one user at a time; curl_easy_reset (ConfigureEasy, Release) clears every option and
// header of the last request, and connections carry no credentials (headers are per request).
// libcurl reuses a connection only for the same scheme, host, port and TLS settings, and
// closes those idle for longer than two minutes when the handle is next used.
template <class Handle, Handle* (*kInit)(), void (*kReset)(Handle*)>
class HandlePool {
 public:
  // Never destroyed: threads may still release handles while the process exits.
  static HandlePool& Instance() {
    static HandlePool* pool = new HandlePool;
    return *pool;
  }
  Handle* Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        Handle* handle = idle_.back();  // the latest: likely connected to the same registry
        idle_.pop_back();
        return handle;
      }
    }
    return kInit();
  }
  // False when the pool is full: the caller cleans the handle up.
  bool Release(Handle* handle) {
    kReset(handle);
    std::lock_guard lock(mu_);
    if (idle_.size() >= kMaxIdle) return false;
    idle_.push_back(handle);
    return true;
  }

 private:
  static constexpr size_t kMaxIdle = 8;
  std::mutex mu_;
  std::vector<Handle*> idle_;
};

void NoReset(CURLM*) {}
using EasyPool = HandlePool<CURL, curl_easy_init, curl_easy_reset>;
using MultiPool = HandlePool<CURLM, curl_multi_init, NoReset>;

struct UrlParts {
  std::string scheme;  // lower case
  std::string host;    // lower case; IPv6 in brackets
  std::string port;    // effective port (default filled in)
  std::string path;
};

std::optional<UrlParts> ParseUrl(std::string_view url) {
  internal::CurlGlobalInit();
  CURLU* handle = curl_url();
  if (handle == nullptr) return std::nullopt;
  std::optional<UrlParts> parts;
  if (curl_url_set(handle, CURLUPART_URL, std::string(url).c_str(), 0) == CURLUE_OK) {
    auto get = [&](CURLUPart part, unsigned flags, std::string* out) {
      char* value = nullptr;
      if (curl_url_get(handle, part, &value, flags) != CURLUE_OK) return false;
      *out = value;
      curl_free(value);
      return true;
    };
    UrlParts p;
    if (get(CURLUPART_SCHEME, 0, &p.scheme) && get(CURLUPART_HOST, 0, &p.host) &&
        get(CURLUPART_PORT, CURLU_DEFAULT_PORT, &p.port) && get(CURLUPART_PATH, 0, &p.path)) {
      p.scheme = ToLower(p.scheme);
      p.host = ToLower(p.host);
      parts = std::move(p);
    }
  }
  curl_url_cleanup(handle);
  return parts;
}

bool IsInsecureHost(const UrlParts& url, const TransportOptions& options) {
  std::string host_port = url.host + ":" + url.port;
  return std::any_of(options.insecure_hosts.begin(), options.insecure_hosts.end(),
                     [&](const std::string& entry) {
                       std::string e = ToLower(entry);
                       return e == url.host || e == host_port;
                     });
}

bool IsTlsError(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  internal::ParseHeaderLine(std::string_view(data, size * n),
                            static_cast<std::vector<http::Header>*>(user));
  return size * n;
}

struct BodySink {
  std::string* body;
  size_t max;
  bool overflow = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  if (sink->body->size() + size * n > sink->max) {
    sink->overflow = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  sink->body->append(data, size * n);
  return size * n;
}

}  // namespace

namespace internal {

void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void ConfigureEasy(CURL* easy, const TransportOptions& options, const std::string& url,
                   char* error_buffer) {
  curl_easy_reset(easy);
  error_buffer[0] = '\0';
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options.low_speed_bytes));
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.low_speed_time.count()));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options.ca_file.empty()) {
    // With OpenSSL, CAINFO and CAPATH are both consulted: the file is trusted
    // in addition to the system directory, not instead of it.
    curl_easy_setopt(easy, CURLOPT_CAINFO, options.ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_CAPATH, std::string(kSystemCaPath).c_str());
  }
}

curl_slist* HeaderList(const std::vector<http::Header>& headers) {
  curl_slist* list = nullptr;
  for (const http::Header& h : headers) {
    list = curl_slist_append(list, fmt::format("{}: {}", h.name, h.value).c_str());
  }
  return list;
}

void ParseHeaderLine(std::string_view line, std::vector<http::Header>* headers) {
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a new response
    return;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;
  headers->push_back(
      {ToLower(Trim(line.substr(0, colon))), std::string(Trim(line.substr(colon + 1)))});
}

std::string DescribeUrl(std::string_view url) {
  std::optional<UrlParts> parts = ParseUrl(url);
  if (!parts) return "<malformed URL>";
  return fmt::format("{}://{}:{}{}", parts->scheme, parts->host, parts->port, parts->path);
}

Error TransportError(CURLcode code, std::string_view method, std::string_view url,
                     const char* error_buffer) {
  std::string detail = (error_buffer != nullptr && error_buffer[0] != '\0')
                           ? std::string(error_buffer)
                           : std::string(curl_easy_strerror(code));
  std::string where = fmt::format("{} {}", method, DescribeUrl(url));
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return Error{"RequestTimeout", fmt::format("{}: timed out ({})", where, detail), 504};
  }
  if (IsTlsError(code)) {
    // A certificate problem wants a CA; a handshake with something that does
    // not speak TLS at all is a plain-HTTP registry.
    bool certificate = code == CURLE_PEER_FAILED_VERIFICATION;
    return Error{"TlsFailed",
                 fmt::format("{}: TLS failed: {} ({})", where, detail,
                             certificate ? "give the registry's CA with --ca-file"
                                         : "a registry that serves plain HTTP must be listed as an "
                                           "insecure registry"),
                 502};
  }
  if (code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT) {
    return Error{std::string(kCannotPullContainerError),
                 fmt::format("{}: URL refused: {}", where, detail), 400};
  }
  return Error{"ConnectionFailed", fmt::format("{}: {}", where, detail), 502};
}

CURLM* AcquireMulti() { return MultiPool::Instance().Acquire(); }

void ReleaseMulti(CURLM* multi) {
  if (!MultiPool::Instance().Release(multi)) curl_multi_cleanup(multi);
}

}  // namespace internal

std::chrono::milliseconds RetryPolicy::BackoffAfter(int attempt) const {
  std::chrono::milliseconds wait = initial_backoff;
  for (int i = 1; i < attempt && wait < max_backoff; ++i) wait *= 2;
  return std::min(wait, max_backoff);
}

std::string OriginOf(std::string_view url) {
  std::optional<UrlParts> parts = ParseUrl(url);
  if (!parts) return "";
  return fmt::format("{}://{}:{}", parts->scheme, parts->host, parts->port);
}

std::string RegistryBaseUrl(std::string_view registry, const TransportOptions& options) {
  std::string https = fmt::format("https://{}", registry);
  std::optional<UrlParts> parts = ParseUrl(https);
  if (parts && IsInsecureHost(*parts, options)) return fmt::format("http://{}", registry);
  return https;
}

Status CheckUrlAllowed(std::string_view url, const TransportOptions& options) {
  std::optional<UrlParts> parts = ParseUrl(url);
  if (!parts) {
    return Fail(std::string(kCannotPullContainerError),
                fmt::format("malformed URL {:?}", url.substr(0, url.find('?')).substr(0, 200)));
  }
  if (parts->scheme == "https") return {};
  if (parts->scheme == "http" && IsInsecureHost(*parts, options)) return {};
  return Fail(std::string(kCannotPullContainerError),
              fmt::format("refusing {}://{}:{}: only https is allowed unless the host is listed "
                          "as an insecure registry",
                          parts->scheme, parts->host, parts->port));
}

std::string_view TransportResponse::HeaderOr(std::string_view name) const {
  for (const http::Header& h : headers) {
    if (h.name == name) return h.value;
  }
  return {};
}

std::vector<std::string_view> TransportResponse::HeaderValues(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const http::Header& h : headers) {
    if (h.name == name) values.push_back(h.value);
  }
  return values;
}

struct Transport::Impl {
  CURL* easy = nullptr;
  char error_buffer[CURL_ERROR_SIZE];
};

Transport::Transport(TransportOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  internal::CurlGlobalInit();
  impl_->easy = EasyPool::Instance().Acquire();
}

Transport::~Transport() {
  if (impl_->easy != nullptr && !EasyPool::Instance().Release(impl_->easy)) {
    curl_easy_cleanup(impl_->easy);
  }
}

Result<TransportResponse> Transport::Send(const TransportRequest& request, size_t max_body) {
  BERTH_CHECK(CheckUrlAllowed(request.url, options_));
  // Rounded up: a request cut short by the deadline ends after it, not just before.
  auto remaining = std::chrono::ceil<std::chrono::milliseconds>(options_.deadline -
                                                                std::chrono::steady_clock::now());
  if (remaining.count() <= 0) {
    return Fail("RequestTimeout",
                fmt::format("{} {}: not sent: the pull's deadline has passed", request.method,
                            internal::DescribeUrl(request.url)),
                504);
  }
  CURL* easy = impl_->easy;
  if (easy == nullptr) return InternalFailure("curl_easy_init failed");
  internal::ConfigureEasy(easy, options_, request.url, impl_->error_buffer);
  TransportResponse response;
  BodySink sink{&response.body, max_body};
  std::vector<http::Header> headers = request.headers;
  headers.push_back({"Expect", ""});
  curl_slist* list = internal::HeaderList(headers);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::min(options_.request_timeout, remaining).count()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &response.headers);
  CURLcode code = curl_easy_perform(easy);
  curl_slist_free_all(list);
  if (sink.overflow) {
    return Fail("ResponseTooLarge",
                fmt::format("{} {}: response body is larger than {} bytes", request.method,
                            internal::DescribeUrl(request.url), max_body),
                502);
  }
  if (code == CURLE_OPERATION_TIMEDOUT) {
    // Cut short by the pull's deadline: return no earlier than it, so the caller can
    // tell from the time alone that the deadline passed. libcurl's own reckoning of its
    // timeout can end the request a fraction of a millisecond before it on ours (seen on
    // CI: "timed out after 499 milliseconds" of a 500 ms deadline); the wait is that much.
    // A timeout that ended well before the deadline (connect, the speed floor) was not the
    // deadline's: it returns at once, so the request can still be retried.
    auto left = options_.deadline - std::chrono::steady_clock::now();
    if (left > std::chrono::steady_clock::duration::zero() && left <= kDeadlineSlack) {
      std::this_thread::sleep_until(options_.deadline);
    }
  }
  if (code != CURLE_OK) {
    return Fail(internal::TransportError(code, request.method, request.url, impl_->error_buffer));
  }
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  if (response.status >= 300 && response.status < 400) {
    char* location = nullptr;
    if (curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &location) == CURLE_OK &&
        location != nullptr) {
      response.redirect_url = location;
    }
  }
  return response;
}

Result<TransportResponse> SendWithRetry(Transport& transport, const TransportRequest& request,
                                        size_t max_body, const RetryPolicy& retry) {
  for (int attempt = 1;; ++attempt) {
    Result<TransportResponse> response = transport.Send(request, max_body);
    bool again = response ? IsRetryableStatus(response->status) : IsRetryable(response.error());
    if (!again || attempt >= retry.max_attempts) return response;
    std::chrono::milliseconds wait = retry.BackoffAfter(attempt);
    if (wait >= transport.options().deadline - std::chrono::steady_clock::now()) return response;
    std::this_thread::sleep_for(wait);
  }
}

bool IsRetryable(const Error& transport_error) {
  return transport_error.code == "ConnectionFailed" || transport_error.code == "RequestTimeout";
}

bool IsRetryableStatus(int status) { return status >= 500 || status == 429 || status == 408; }

}  // namespace berth::agent::registry
