// How the registry stages of the pull pipeline talk HTTP: which URLs they may
// contact (TLS unless a host is listed as insecure), with which CAs and
// timeouts, and a blocking request for small bodies (manifests, tokens).
//
// The fetcher streams blobs with libcurl's multi interface but configures each
// transfer through the same policy (see curl_setup.h), so every stage follows
// one set of rules.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "http/message.h"

namespace berth::agent::registry {

// The system's trusted CA directory (OpenSSL hashed form). With a CA file the
// file is trusted in addition to it.
inline constexpr std::string_view kSystemCaPath = "/etc/ssl/certs";

// The transfer speed floor (TransportOptions::low_speed_bytes, low_speed_time).
inline constexpr int64_t kDefaultLowSpeedBytes = 1024;
inline constexpr std::chrono::seconds kDefaultLowSpeedTime{30};

struct TransportOptions {
  // Registries reachable over plain HTTP, as "host" (any port) or "host:port"
  // ("127.0.0.1:5000", "[::1]:5000", "registry.local"). Every other URL (a
  // registry, a token realm, a redirect target) must be https. Loopback hosts
  // (127.0.0.1, ::1, localhost) are NOT implicitly insecure: they must be
  // listed like any other host.
  std::vector<std::string> insecure_hosts;
  // A PEM CA bundle trusted in addition to the system CAs; empty for system CAs only.
  std::string ca_file;
  std::chrono::milliseconds connect_timeout{15'000};
  // Whole-request limit for small requests (manifests, tokens). Blob transfers
  // have the fetcher's overall deadline instead.
  std::chrono::milliseconds request_timeout{60'000};
  // A transfer that moves fewer than `low_speed_bytes` bytes a second for
  // `low_speed_time` is abandoned (and retried as other transfer failures
  // are), so a registry trickling a few bytes a second cannot hold a pull.
  // libcurl measures the rate over a sliding window of up to 5 s, so a
  // transfer that stalls right after a burst is noticed once the burst has
  // left the window. low_speed_bytes 0: no floor.
  std::chrono::seconds low_speed_time = kDefaultLowSpeedTime;
  int64_t low_speed_bytes = kDefaultLowSpeedBytes;
  // No request runs past this point: a request's timeout is cut to what
  // remains, nothing is retried after it, and the fetcher abandons its
  // transfers ("RequestTimeout" / the fetcher's timeout error). Puller::Pull
  // sets it from PullOptions::timeout.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::string user_agent = "berth";
};

// When and how often a failed request is tried again: 5xx, 429, connection
// resets and timeouts. Attempt n (1-based) waits initial_backoff * 2^(n-1),
// at most max_backoff, before attempt n+1.
struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{5'000};

  // Wait after failed attempt `attempt` (1-based).
  std::chrono::milliseconds BackoffAfter(int attempt) const;
};

// The origin of an absolute URL, "scheme://host:port" in lower case with the
// default port filled in; empty when `url` cannot be parsed. Credentials and
// tokens meant for one origin are never sent to another.
std::string OriginOf(std::string_view url);

// "https://<registry>" or, for a host listed as insecure, "http://<registry>".
// `registry` is host[:port] as in reference::Reference::registry.
std::string RegistryBaseUrl(std::string_view registry, const TransportOptions& options);

// OK when `url` is absolute https, or http to a host listed in insecure_hosts.
// Errors: "CannotPullContainerError" naming the URL's origin (never its query,
// which may carry a signature).
Status CheckUrlAllowed(std::string_view url, const TransportOptions& options);

struct TransportRequest {
  std::string method = "GET";
  std::string url;
  std::vector<http::Header> headers;
  std::string body;  // sent as is (POST)
};

struct TransportResponse {
  int status = 0;
  std::vector<http::Header> headers;  // names lower-cased; only the final response's
  std::string body;
  // For a 3xx: the absolute target of Location (relative ones resolved), or "".
  std::string redirect_url;

  // First header named `name` (lower-case), or "".
  std::string_view HeaderOr(std::string_view name) const;
  // Every value of header `name` (lower-case), in order.
  std::vector<std::string_view> HeaderValues(std::string_view name) const;
};

// Blocking requests with a body size cap. Redirects are not followed: callers
// decide what a redirect may carry. Not thread-safe (one connection cache). The
// connection cache outlives the Transport: it goes back to a process-wide pool,
// and a later Transport to the same registry reuses its connections.
class Transport {
 public:
  explicit Transport(TransportOptions options);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  const TransportOptions& options() const { return options_; }

  // Sends `request` after CheckUrlAllowed. A body over `max_body` bytes fails.
  // Errors (no usable HTTP response): "ConnectionFailed" (502, retryable),
  // "RequestTimeout" (504, retryable), "TlsFailed" (502, not retryable: a
  // certificate problem, or a plain HTTP server spoken to with TLS),
  // "ResponseTooLarge" (502), "CannotPullContainerError" (URL refused).
  // Messages name the URL's origin and path, never header values.
  Result<TransportResponse> Send(const TransportRequest& request, size_t max_body);

 private:
  struct Impl;
  TransportOptions options_;
  std::unique_ptr<Impl> impl_;
};

// Sends `request`, trying again (after the policy's backoff) on retryable
// transport errors and statuses. Returns the last response, whatever its
// status, or the last transport error once the attempts are used up or the
// transport's deadline would pass during the backoff.
Result<TransportResponse> SendWithRetry(Transport& transport, const TransportRequest& request,
                                        size_t max_body, const RetryPolicy& retry);

// True for transport errors worth another attempt (resets, timeouts).
bool IsRetryable(const Error& transport_error);
// True for HTTP statuses worth another attempt (5xx, 429, 408).
bool IsRetryableStatus(int status);

}  // namespace berth::agent::registry
