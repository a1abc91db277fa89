#include "agent/credentials/engine_auth_credentials.h"

#include <fmt/format.h>

#include <utility>

#include "agent/credentials/auth_map.h"
#include "common/json.h"

namespace berth::agent::credentials {
namespace {

constexpr std::string_view kInvalid = "InvalidEngineAuthData";

std::unexpected<Error> Invalid(std::string_view problem) {
  return Fail(std::string(kInvalid), fmt::format("ECS_ENGINE_AUTH_DATA: {}", problem));
}

}  // namespace

Result<std::unique_ptr<EngineAuthCredentials>> EngineAuthCredentials::FromEnv(
    std::string_view type, std::string_view data) {
  // The type is not echoed: a mistake could have put the data there.
  bool docker = type == "docker";
  if (!docker && type != "dockercfg") {
    return Fail(std::string(kInvalid), "ECS_ENGINE_AUTH_TYPE must be \"docker\" or \"dockercfg\"");
  }
  if (data.empty()) return Invalid("empty, but ECS_ENGINE_AUTH_TYPE is set");
  auto document = json::ParseObject(data);
  if (!document) return Invalid("not a JSON object");

  std::unique_ptr<EngineAuthCredentials> source(new EngineAuthCredentials());
  std::vector<AuthEntry> entries =
      BERTH_TRY(ReadAuthMap(*document, "ECS_ENGINE_AUTH_DATA", kInvalid));
  for (AuthEntry& entry : entries) {
    std::string quoted_key = QuoteKey(entry.key);
    RegistryCredentials credentials;
    if (docker) {
      bool has_token = entry.identity_token && !entry.identity_token->empty();
      bool has_user = entry.username && !entry.username->empty() && entry.password;
      if (!has_user && !has_token) {
        return Invalid(fmt::format(
            "the entry for {} needs \"username\" and \"password\" (type docker)", quoted_key));
      }
      if (has_user) {
        credentials.username = std::move(*entry.username);
        credentials.password = std::move(*entry.password);
      }
      if (has_token) credentials.identity_token = std::move(*entry.identity_token);
    } else {
      if (!entry.auth) {
        return Invalid(fmt::format("the entry for {} needs a non-empty \"auth\" (type dockercfg)",
                                   quoted_key));
      }
      credentials = std::move(*entry.auth);
    }
    source->entries_.push_back({std::move(entry.registry), std::move(credentials)});
  }
  return source;
}

Result<std::optional<RegistryCredentials>> EngineAuthCredentials::Lookup(
    const reference::Reference& ref) {
  const Entry* best = nullptr;
  for (const Entry& entry : entries_) {
    const std::string& ns = entry.key.path;
    if (entry.key.host != ref.registry) continue;
    bool covers = ns.empty() || ref.repository == ns ||
                  (ref.repository.starts_with(ns) && ref.repository[ns.size()] == '/');
    if (covers && (best == nullptr || ns.size() > best->key.path.size())) best = &entry;
  }
  if (best == nullptr) return std::nullopt;
  return best->credentials;
}

}  // namespace berth::agent::credentials
