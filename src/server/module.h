// Service modules: how a service joins `berth server`.
//
// App builds the shared core once (store, root key, identities, IAM,
// AccessControl) and hands it to every module as one Environment. A module
// builds its domain service from it, registers its route tables with the
// gateway, and owns whatever runs in the background. App keeps the modules in
// one ordered list (server/app.cc): they are built and started in that
// order, and stopped in reverse after the HTTP server stops.
//
// Adding a service (ECS, Logs) touches one new file and one line:
//   1. server/<name>_routes.cc: the route tables and the factory
//        Result<std::unique_ptr<Module>> EcsModule(Environment& env) {
//          auto ecs = std::make_shared<ecs::Service>(env.kv, env.access, env.ids, env.clock,
//                                                    env.services.Get<secrets::Service>());
//          env.services.Provide(*ecs);  // only if a later module needs it
//          return std::make_unique<RoutesModule>(
//              "ecs", [svc = ecs.get()](aws::Gateway& g) { g.Add(EcsRoutes(*svc)); }, ecs);
//        }
//      (a module with background work derives from Module and overrides
//      Start/Stop), and the file added to server/CMakeLists.txt;
//   2. `M(Ecs)` in BERTH_SERVICE_MODULES in server/app.cc, after the modules
//      whose services it uses.
#pragma once

#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>

#include "aws/gateway.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "common/log.h"
#include "http/websocket.h"
#include "server/app.h"

namespace berth::crypto {
class RootKey;
}
namespace berth::store {
class Kv;
}
namespace berth::iam {
class AccessControl;
class IdentityStore;
class Service;
}  // namespace berth::iam

namespace berth::server {

// The domain services modules built, for the modules after them (Secrets
// Manager seals with KMS's, the operator API assumes roles with STS's). One
// service of each type.
class Services {
 public:
  // `service` must outlive every module (a module's own service does: modules
  // are destroyed in reverse order).
  template <class T>
  void Provide(T& service) {
    by_type_[std::type_index(typeid(T))] = &service;
  }

  // The service an earlier module provided. Asking for one nobody provided is
  // a bug in the module order: it aborts (the app tests start every module).
  template <class T>
  T& Get() const {
    auto it = by_type_.find(std::type_index(typeid(T)));
    if (it == by_type_.end()) {
      log::Error("module order: service not provided yet", {{"type", typeid(T).name()}});
      std::abort();
    }
    return *static_cast<T*>(it->second);
  }

 private:
  std::map<std::type_index, void*> by_type_;
};

// What every module is built from. Everything referred to outlives the
// modules.
struct Environment {
  const AppOptions& options;  // data_dir, account_id (the operator account), ...
  store::Kv& kv;
  const Clock& clock;
  Ids& ids;
  const crypto::RootKey& root_key;
  iam::Service& iam;               // users, roles, policies
  iam::IdentityStore& identities;  // accounts, access keys, sessions
  iam::AccessControl& access;      // every permission check goes through it
  Services services;               // filled as modules are built
  // The server's URL ("http://127.0.0.1:4566"), once it listens (empty
  // before): what DiscoverPollEndpoint hands to agents.
  std::function<std::string()> endpoint;
};

class Module {
 public:
  virtual ~Module() = default;
  // "kms": for logs.
  virtual std::string_view name() const = 0;
  // Adds the module's route tables to the gateway; called once, before
  // serving.
  virtual void Register(aws::Gateway& gateway) = 0;
  // Adds the module's websocket routes (ECS's agent sessions); called once,
  // after Register, before serving.
  virtual void RegisterWebSockets(std::vector<http::WebSocketRoute>& routes) { (void)routes; }
  // Starts background work, after every module registered and before the
  // first request. An error stops the server's start.
  virtual Status Start() { return {}; }
  // Stops background work; called once, after the HTTP server stopped (no
  // request is running), in reverse module order.
  virtual void Stop() {}
};

// A module's factory: builds the module (and its service) from `env`.
using ModuleFactory = Result<std::unique_ptr<Module>> (*)(Environment& env);

// The module most services are: route tables over a service it owns, and no
// background work.
class RoutesModule final : public Module {
 public:
  // `routes` adds the tables; `owned` (the service they call; may be null) is
  // kept alive as long as the module.
  RoutesModule(std::string name, std::function<void(aws::Gateway&)> routes,
               std::shared_ptr<void> owned = nullptr)
      : name_(std::move(name)), routes_(std::move(routes)), owned_(std::move(owned)) {}

  std::string_view name() const override { return name_; }
  void Register(aws::Gateway& gateway) override { routes_(gateway); }

 private:
  std::string name_;
  std::function<void(aws::Gateway&)> routes_;
  std::shared_ptr<void> owned_;
};

}  // namespace berth::server
