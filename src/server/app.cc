#include "server/app.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "aws/credentials_file.h"
#include "aws/gateway.h"
#include "common/log.h"
#include "crypto/random.h"
#include "crypto/root_key.h"
#include "crypto/tls_files.h"
#include "http/server.h"
#include "iam/access_control.h"
#include "iam/identity_store.h"
#include "iam/service.h"
#include "server/module.h"
#include "store/sqlite/sqlite_kv.h"

namespace berth::server {

// The service modules, in the order they are built and started (Stop runs in
// reverse). Each entry N is the factory `NModule(Environment&)` defined in
// server/<n>_routes.cc; a module comes after the modules whose services it
// uses (Secrets Manager after KMS, the operator API after STS). Adding a
// service is one line here (see server/module.h).
#define BERTH_SERVICE_MODULES(M) \
  M(Iam)                         \
  M(Sts)                         \
  M(Kms)                         \
  M(Logs)                        \
  M(Secrets)                     \
  M(Ecs)                         \
  M(Admin)

#define BERTH_DECLARE_MODULE(N) Result<std::unique_ptr<Module>> N##Module(Environment& env);
BERTH_SERVICE_MODULES(BERTH_DECLARE_MODULE)
#undef BERTH_DECLARE_MODULE

namespace {

#define BERTH_LIST_MODULE(N) &N##Module,
const std::vector<ModuleFactory> kServiceModules = {BERTH_SERVICE_MODULES(BERTH_LIST_MODULE)};
#undef BERTH_LIST_MODULE

}  // namespace

struct App::Impl {
  AppOptions options;
  std::string credentials_file;
  // The core every module shares (Environment refers to it).
  std::unique_ptr<store::Kv> kv;
  std::optional<crypto::RootKey> root_key;
  std::unique_ptr<iam::IdentityStore> identities;
  std::unique_ptr<iam::Service> iam;
  std::unique_ptr<iam::AccessControl> access;
  std::unique_ptr<Environment> env;
  std::vector<std::unique_ptr<Module>> modules;
  size_t started = 0;  // modules[0, started) have started
  std::unique_ptr<aws::Gateway> gateway;
  std::unique_ptr<http::Server> http;
  std::string tls_cert_file;  // serving HTTPS when set
  std::string tls_key_file;
  std::string ca_bundle;      // self_signed_tls: the authority's certificate
  std::once_flag stopped;

  ~Impl() {
    if (http) http->Stop();
    StopModules();
    // Modules go before the core, last built first: a module may use an
    // earlier one's service until it is gone.
    while (!modules.empty()) modules.pop_back();
  }

  void StopModules() {
    for (; started > 0; --started) modules[started - 1]->Stop();
  }

  // The data directory, the store, the root key, the default account and its
  // root credentials, IAM and AccessControl.
  Status OpenCore();
  // Builds the modules and registers their routes; then starts them.
  Status StartModules(const std::vector<ModuleFactory>& factories);
  // Picks the certificate to serve, making it when self_signed_tls.
  Status PrepareTls();
  Status Serve();
  std::string Endpoint() const {
    const std::string& host = options.host;
    const char* scheme = tls_cert_file.empty() ? "http" : "https";
    if (host.find(':') != std::string::npos) {
      return fmt::format("{}://[{}]:{}", scheme, host, http->port());
    }
    return fmt::format("{}://{}:{}", scheme, host, http->port());
  }
};

namespace {

// Refuses plain HTTP off the loopback interface unless asked for: secrets
// and credentials would cross the network in the clear.
Status CheckTransport(const AppOptions& options) {
  bool tls = options.self_signed_tls || !options.tls_cert_file.empty() ||
             !options.tls_key_file.empty();
  if (tls || options.insecure_http || IsLoopbackAddress(options.host)) return {};
  return Fail("InvalidArgument",
              fmt::format("refusing to serve plain HTTP on {}, which is not a loopback address: "
                          "give --tls-cert and --tls-key, or --insecure-http to serve plain HTTP "
                          "anyway",
                          options.host));
}

// The names a self-signed server certificate covers: the listen address, and
// the loopback names every local client may use.
std::vector<std::string> CertificateNames(const std::string& host) {
  std::vector<std::string> names = {host};
  for (const char* local : {"localhost", "127.0.0.1", "::1"}) {
    if (host != local) names.emplace_back(local);
  }
  return names;
}

}  // namespace

Status App::Impl::PrepareTls() {
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    tls_cert_file = options.tls_cert_file;
    tls_key_file = options.tls_key_file;
    return {};
  }
  if (!options.self_signed_tls) return {};
  auto files = BERTH_TRY(crypto::EnsureTlsFiles(options.data_dir + "/tls",
                                                CertificateNames(options.host),
                                                SystemClock::Instance().Now()));
  log::Info("TLS certificate ready",
            {{"ca_bundle", files.ca_file},
             {"ca_created", files.ca_created ? "true" : "false"},
             {"certificate_issued", files.cert_issued ? "true" : "false"}});
  tls_cert_file = files.cert_file;
  tls_key_file = files.key_file;
  ca_bundle = files.ca_file;
  return {};
}

Status App::Impl::OpenCore() {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return Fail("InvalidDataDir",
                fmt::format("cannot create data directory {}: {}", options.data_dir, ec.message()));
  }
  chmod(options.data_dir.c_str(), 0700);
  std::string root_key_file =
      options.root_key_file.empty() ? options.data_dir + "/root.key" : options.root_key_file;
  root_key.emplace(BERTH_TRY(crypto::RootKey::LoadOrCreate(root_key_file)));
  kv = BERTH_TRY(store::SqliteKv::Open(options.data_dir + "/berth.db"));
  const Clock& clock = SystemClock::Instance();
  identities = std::make_unique<iam::IdentityStore>(*kv, *root_key, crypto::SecureIds(), clock);

  bool created = BERTH_TRY(identities->EnsureAccount(options.account_id));
  auto creds =
      BERTH_TRY(identities->EnsureRootAccessKey(options.account_id, options.root_credentials));
  credentials_file = options.data_dir + "/credentials";
  BERTH_CHECK(aws::WriteProfile(credentials_file, "default", creds));
  log::Info("account ready", {{"account", options.account_id},
                              {"created", created ? "true" : "false"},
                              {"access_key_id", creds.access_key_id}});

  iam =
      std::make_unique<iam::Service>(*kv, crypto::SecureIds(), clock, iam::ValidatePolicyDocument);
  access = std::make_unique<iam::AccessControl>(*iam, *identities, clock);
  env.reset(new Environment{
      options, *kv, clock, crypto::SecureIds(), *root_key, *iam, *identities, *access, {}});
  env->endpoint = [this] { return http ? Endpoint() : std::string(); };
  return {};
}

Status App::Impl::StartModules(const std::vector<ModuleFactory>& factories) {
  gateway = std::make_unique<aws::Gateway>(*identities, env->clock, env->ids);
  for (ModuleFactory factory : factories) {
    modules.push_back(BERTH_TRY(factory(*env)));
    modules.back()->Register(*gateway);
  }
  for (auto& module : modules) {
    if (auto status = module->Start(); !status) {
      log::Error("module failed to start",
                 {{"module", module->name()}, {"message", status.error().message}});
      StopModules();
      return status;
    }
    ++started;
  }
  return {};
}

Status App::Impl::Serve() {
  http::ServerOptions http_options;
  http_options.host = options.host;
  http_options.port = options.port;
  http_options.threads = options.threads;
  http_options.body_limit = options.body_limit;
  http_options.header_timeout = options.header_timeout;
  http_options.max_connections = options.max_connections;
  http_options.body_memory_limit = options.body_memory_limit;
  http_options.tls_cert_file = tls_cert_file;
  http_options.tls_key_file = tls_key_file;
  for (auto& module : modules) module->RegisterWebSockets(http_options.websockets);
  aws::Gateway* front = gateway.get();
  http = BERTH_TRY(http::Server::Start(
      http_options, [front](const http::Request& r) { return front->Handle(r); },
      [front](const http::Request& r, int status, std::string_view reason) {
        return front->Reject(r, status, reason);
      }));
  std::string names;
  for (const auto& module : modules) {
    if (!names.empty()) names += ",";
    names += module->name();
  }
  log::Info("serving", {{"endpoint", Endpoint()},
                        {"data_dir", options.data_dir},
                        {"modules", names}});
  return {};
}

App::App(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
App::~App() { Stop(); }

Result<std::unique_ptr<App>> App::Start(AppOptions options) {
  return Start(std::move(options), kServiceModules);
}

Result<std::unique_ptr<App>> App::Start(AppOptions options,
                                        const std::vector<ModuleFactory>& modules) {
  auto impl = std::make_unique<Impl>();
  BERTH_CHECK(CheckTransport(options));
  impl->options = std::move(options);
  BERTH_CHECK(impl->OpenCore());
  BERTH_CHECK(impl->PrepareTls());
  BERTH_CHECK(impl->StartModules(modules));
  BERTH_CHECK(impl->Serve());  // on failure ~Impl stops the started modules
  return std::unique_ptr<App>(new App(std::move(impl)));
}

uint16_t App::port() const { return impl_->http->port(); }

std::string App::endpoint() const { return impl_->Endpoint(); }

bool App::tls() const { return !impl_->tls_cert_file.empty(); }
const std::string& App::ca_bundle() const { return impl_->ca_bundle; }
const std::string& App::credentials_file() const { return impl_->credentials_file; }
const std::string& App::account_id() const { return impl_->options.account_id; }

void App::Stop() {
  if (!impl_) return;
  std::call_once(impl_->stopped, [impl = impl_.get()] {
    impl->http->Stop();
    impl->StopModules();
  });
}

void App::Wait() { impl_->http->Wait(); }

Result<std::pair<std::string, uint16_t>> ParseListen(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Fail("InvalidArgument", fmt::format("--listen '{}' must be HOST:PORT", text));
  }
  std::string_view host = text.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, err] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (err != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return Fail("InvalidArgument", fmt::format("--listen '{}': port must be 0-65535", text));
  }
  return std::pair<std::string, uint16_t>(std::string(host), static_cast<uint16_t>(port));
}

bool IsLoopbackAddress(std::string_view host) {
  std::string text(host);
  unsigned char addr[16];
  if (inet_pton(AF_INET, text.c_str(), addr) == 1) return addr[0] == 127;
  if (inet_pton(AF_INET6, text.c_str(), addr) != 1) return false;
  static const unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const unsigned char kMapped4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(addr, kLoopback6, 16) == 0) return true;
  return std::memcmp(addr, kMapped4, 12) == 0 && addr[12] == 127;
}

Result<aws::Credentials> ParseRootCredentials(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return Fail("InvalidArgument", "root credentials must be KEY_ID:SECRET");
  }
  return aws::Credentials{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1)),
                          ""};
}

}  // namespace berth::server
