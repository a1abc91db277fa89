#include "server/app.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "aws/credentials_file.h"
#include "aws/gateway.h"
#include "common/log.h"
#include "crypto/random.h"
#include "crypto/root_key.h"
#include "http/server.h"
#include "iam/access_control.h"
#include "iam/identity_store.h"
#include "iam/service.h"
#include "server/routes.h"
#include "store/sqlite/sqlite_kv.h"
#include "sts/service.h"

namespace berth::server {

struct App::Impl {
  AppOptions options;
  std::string credentials_file;
  std::unique_ptr<store::Kv> kv;
  std::optional<crypto::RootKey> root_key;
  std::unique_ptr<iam::IdentityStore> identities;
  std::unique_ptr<iam::Service> iam;
  std::unique_ptr<iam::AccessControl> access;
  std::unique_ptr<sts::Service> sts;
  std::unique_ptr<kms::Service> kms;
  std::unique_ptr<secrets::Service> secrets;
  std::unique_ptr<aws::Gateway> gateway;
  std::unique_ptr<http::Server> http;
};

App::App(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
App::~App() { Stop(); }

Result<std::unique_ptr<App>> App::Start(AppOptions options) {
  auto impl = std::make_unique<Impl>();
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return Fail("InvalidDataDir",
                fmt::format("cannot create data directory {}: {}", options.data_dir, ec.message()));
  }
  chmod(options.data_dir.c_str(), 0700);
  std::string root_key_file =
      options.root_key_file.empty() ? options.data_dir + "/root.key" : options.root_key_file;
  impl->root_key.emplace(BERTH_TRY(crypto::RootKey::LoadOrCreate(root_key_file)));
  impl->kv = BERTH_TRY(store::SqliteKv::Open(options.data_dir + "/berth.db"));
  impl->identities = std::make_unique<iam::IdentityStore>(*impl->kv, *impl->root_key,
                                                          crypto::SecureIds(), SystemClock::Instance());

  bool created = BERTH_TRY(impl->identities->EnsureAccount(options.account_id));
  auto creds = BERTH_TRY(impl->identities->EnsureRootAccessKey(options.account_id, options.root_credentials));
  impl->credentials_file = options.data_dir + "/credentials";
  BERTH_CHECK(aws::WriteProfile(impl->credentials_file, "default", creds));
  log::Info("account ready", {{"account", options.account_id},
                              {"created", created ? "true" : "false"},
                              {"access_key_id", creds.access_key_id}});

  impl->iam = std::make_unique<iam::Service>(*impl->kv, crypto::SecureIds(), SystemClock::Instance(),
                                             iam::ValidatePolicyDocument);
  impl->access = std::make_unique<iam::AccessControl>(*impl->iam, *impl->identities,
                                                      SystemClock::Instance());
  iam::AccessControl* access = impl->access.get();
  impl->kms = std::make_unique<kms::Service>(*impl->kv, *impl->root_key, *access, crypto::SecureIds(),
                                             SystemClock::Instance());
  impl->sts = std::make_unique<sts::Service>(
      *impl->iam, *impl->identities, SystemClock::Instance(),
      [access](const aws::Principal* caller, const std::string& service, const iam::Role& role,
               const sts::AssumeRoleRequest& request) {
        return access->CheckTrust(caller, service, role, request.external_id, request.source_ip);
      });
  Authorize authorize = [access](const aws::RequestContext& ctx, const std::string& action,
                                 const std::string& resource,
                                 const iam::ResourceContext& res) -> Status {
    return access->Authorize(ctx, action, resource, res);
  };

  impl->gateway = std::make_unique<aws::Gateway>(*impl->identities, SystemClock::Instance(),
                                                 crypto::SecureIds());
  impl->gateway->Add(StsRoutes(*impl->sts, authorize));
  impl->gateway->Add(IamRoutes(IamDeps{impl->iam.get(), impl->identities.get(), access, authorize}));
  impl->gateway->Add(KmsRoutes(*impl->kms));
  // Secrets Manager's routes are added here (with the service built above,
  // after kms).
  impl->secrets = std::make_unique<secrets::Service>(*impl->kv, *impl->kms, *access,
                                                     crypto::SecureIds(), SystemClock::Instance());
  impl->gateway->Add(SecretsRoutes(*impl->secrets));
  impl->gateway->Add(AdminRoutes(*impl->identities, *impl->sts, options.account_id));

  http::ServerOptions http_options;
  http_options.host = options.host;
  http_options.port = options.port;
  http_options.threads = options.threads;
  http_options.body_limit = options.body_limit;
  http_options.header_timeout = options.header_timeout;
  http_options.max_connections = options.max_connections;
  http_options.body_memory_limit = options.body_memory_limit;
  aws::Gateway* gateway = impl->gateway.get();
  impl->http = BERTH_TRY(http::Server::Start(
      http_options, [gateway](const http::Request& r) { return gateway->Handle(r); },
      [gateway](const http::Request& r, int status, std::string_view reason) {
        return gateway->Reject(r, status, reason);
      }));
  impl->options = std::move(options);
  log::Info("serving", {{"endpoint", fmt::format("http://{}:{}", impl->options.host,
                                                 impl->http->port())},
                        {"data_dir", impl->options.data_dir}});
  return std::unique_ptr<App>(new App(std::move(impl)));
}

uint16_t App::port() const { return impl_->http->port(); }

std::string App::endpoint() const {
  const std::string& host = impl_->options.host;
  if (host.find(':') != std::string::npos) return fmt::format("http://[{}]:{}", host, port());
  return fmt::format("http://{}:{}", host, port());
}

const std::string& App::credentials_file() const { return impl_->credentials_file; }
const std::string& App::account_id() const { return impl_->options.account_id; }

void App::Stop() {
  if (impl_ && impl_->http) impl_->http->Stop();
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

Result<aws::Credentials> ParseRootCredentials(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return Fail("InvalidArgument", "root credentials must be KEY_ID:SECRET");
  }
  return aws::Credentials{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1)), ""};
}

}  // namespace berth::server
