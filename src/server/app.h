// `berth server`: the control plane wired together. Opens the store and the
// root key under the data directory, makes sure the default account and its
// root key exist (writing DATA_DIR/credentials), builds IAM's core (identities,
// policies, AccessControl), then the service modules (server/module.h) in
// order, and serves every API on one HTTP (or HTTPS) listener.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  // HTTPS with this PEM certificate chain and key. Empty: see self_signed_tls.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Without the files above: HTTPS with a certificate for `host`, localhost,
  // 127.0.0.1 and ::1 signed by an authority berth keeps in DATA_DIR/tls
  // (crypto/tls_files.h: created on first start, reissued when the names
  // change). `berth up` sets it.
  bool self_signed_tls = false;
  // Plain HTTP on an address that is not loopback. Without it, and without
  // TLS, Start refuses such a `host`.
  bool insecure_http = false;
  // The agents' ACS sessions (server/acs.h AcsOptions): a HeartbeatMessage (and task manifest)
  // every acs_heartbeat_interval; the task credentials handed out (which last an hour) sent again
  // once they expire within acs_refresh_before. Tests shorten them (--acs-heartbeat-seconds,
  // --acs-credentials-refresh-seconds); 0 < acs_refresh_before < 1 h.
  std::chrono::seconds acs_heartbeat_interval{30};
  std::chrono::seconds acs_refresh_before{15 * 60};
};

class Module;
struct Environment;
// Builds one service module from the environment (server/module.h).
using ModuleFactory = Result<std::unique_ptr<Module>> (*)(Environment& env);

class App {
 public:
  // Serves berth's services: the module list in server/app.cc.
  static Result<std::unique_ptr<App>> Start(AppOptions options);
  // Serves `modules` instead, built, registered and started in that order
  // (tests). A module that fails to build or start fails the start; the
  // modules started before it are stopped.
  static Result<std::unique_ptr<App>> Start(AppOptions options,
                                            const std::vector<ModuleFactory>& modules);
  ~App();

  uint16_t port() const;
  std::string endpoint() const;          // http://host:port, https:// with TLS
  bool tls() const;
  // The authority's certificate clients should trust (AWS_CA_BUNDLE) when
  // self_signed_tls made the certificate; "" otherwise.
  const std::string& ca_bundle() const;
  const std::string& credentials_file() const;
  const std::string& account_id() const;

  // Stops the HTTP server (in-flight requests finish), then every module's
  // background work in reverse module order. Idempotent; the destructor
  // calls it.
  void Stop();
  // Blocks until the HTTP server stopped.
  void Wait();

  struct Impl;

 private:
  explicit App(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses "HOST:PORT" ("127.0.0.1:4566", "[::1]:4566").
Result<std::pair<std::string, uint16_t>> ParseListen(std::string_view text);

// Whether `host` is an IP address of the loopback interface (127.0.0.0/8, ::1,
// ::ffff:127.x.y.z).
bool IsLoopbackAddress(std::string_view host);

// Parses "KEY_ID:SECRET".
Result<aws::Credentials> ParseRootCredentials(std::string_view text);

}  // namespace berth::server
