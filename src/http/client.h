// A blocking HTTP client over libcurl: keep-alive per Client, TLS with the
// system CAs (plus an optional CA file), redirects not followed unless asked.
// Used by the agent, the etcd backend, tests and benchmarks.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "http/message.h"

namespace berth::http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // absolute: "http://127.0.0.1:4566/"
  std::vector<Header> headers;
  std::string body;
  std::chrono::milliseconds timeout{30'000};
};

struct ClientResponse {
  int status = 0;
  std::vector<Header> headers;  // header names lower-cased
  std::string body;

  // First header named `name` (lower-case), or "".
  std::string_view HeaderOr(std::string_view name) const;
};

struct ClientOptions {
  std::string ca_file;  // extra CA bundle; empty: system CAs only
  bool follow_redirects = false;
};

// Not thread-safe: one Client per thread (it holds one connection cache).
class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Fails with code "RequestTimeout" or "ConnectionFailed" when no HTTP
  // response arrived; any HTTP status is a success at this layer.
  Result<ClientResponse> Send(const ClientRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::http
