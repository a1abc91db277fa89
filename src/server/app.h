// `berth server`: the control plane wired together. Opens the store and the
// root key under the data directory, makes sure the default account and its
// root key exist (writing DATA_DIR/credentials), and serves every API on one
// HTTP listener.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "aws/sigv4.h"
#include "common/error.h"

namespace berth::server {

struct AppOptions {
  std::string data_dir = "./berth-data";
  std::string host = "127.0.0.1";
  uint16_t port = 4566;
  std::string account_id = "123456789012";
  std::optional<aws::Credentials> root_credentials;  // fixed root key (CI)
  std::string root_key_file;                          // default DATA_DIR/root.key
  int threads = 0;
  size_t body_limit = 8 << 20;
  std::chrono::milliseconds header_timeout{10'000};
  size_t max_connections = 0;  // 0: http::DefaultMaxConnections()
  size_t body_memory_limit = 256 << 20;
};

class App {
 public:
  static Result<std::unique_ptr<App>> Start(AppOptions options);
  ~App();

  uint16_t port() const;
  std::string endpoint() const;          // http://host:port
  const std::string& credentials_file() const;
  const std::string& account_id() const;

  void Stop();
  void Wait();

  struct Impl;

 private:
  explicit App(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses "HOST:PORT" ("127.0.0.1:4566", "[::1]:4566").
Result<std::pair<std::string, uint16_t>> ParseListen(std::string_view text);

// Parses "KEY_ID:SECRET".
Result<aws::Credentials> ParseRootCredentials(std::string_view text);

}  // namespace berth::server
