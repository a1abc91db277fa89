#include "agent/credentials/docker_config_credentials.h"

#include <fmt/format.h>

#include <utility>

#include "agent/credentials/auth_map.h"
#include "common/json.h"

namespace berth::agent::credentials {
namespace {

constexpr std::string_view kInvalid = "InvalidDockerConfig";

std::unexpected<Error> Invalid(std::string_view problem) {
  return Fail(std::string(kInvalid), fmt::format("docker config: {}", problem));
}

}  // namespace

Result<std::unique_ptr<DockerConfigCredentials>> DockerConfigCredentials::Parse(
    std::string_view config_json) {
  auto document = json::ParseObject(config_json);
  if (!document) return Invalid("not a JSON object");

  std::unique_ptr<DockerConfigCredentials> config(new DockerConfigCredentials());
  if (auto auths = document->find("auths"); auths != document->end() && !auths->is_null()) {
    std::vector<AuthEntry> entries =
        BERTH_TRY(ReadAuthMap(*auths, "docker config \"auths\"", kInvalid));
    for (AuthEntry& entry : entries) {
      std::optional<RegistryCredentials> credentials = std::move(entry.auth);
      if (!credentials && entry.username && !entry.username->empty()) {
        credentials = RegistryCredentials{.username = std::move(*entry.username),
                                          .password = entry.password.value_or("")};
      }
      if (entry.identity_token && !entry.identity_token->empty()) {
        if (!credentials) credentials.emplace();
        credentials->identity_token = std::move(*entry.identity_token);
      }
      config->auths_.push_back({std::move(entry.registry), std::move(credentials)});
    }
  }

  auto creds_store = json::OptionalString(*document, "credsStore");
  if (!creds_store) return Invalid("\"credsStore\" must be a string");
  config->creds_store_ = creds_store->value_or("");

  if (auto helpers = document->find("credHelpers");
      helpers != document->end() && !helpers->is_null()) {
    if (!helpers->is_object()) return Invalid("\"credHelpers\" must be a JSON object");
    for (const auto& item : helpers->items()) {
      if (!item.value().is_string()) {
        return Invalid(
            fmt::format("the \"credHelpers\" entry for {} must be a string", QuoteKey(item.key())));
      }
      config->cred_helpers_.push_back(
          {NormalizeRegistryKey(item.key()).host, item.value().get<std::string>()});
    }
  }
  return config;
}

Result<std::optional<RegistryCredentials>> DockerConfigCredentials::Lookup(
    const reference::Reference& ref) {
  auto unsupported = [&](std::string_view where, std::string_view helper) {
    return Fail("UnsupportedCredentialStore",
                fmt::format("docker config: the credentials for {:?} are kept by {} "
                            "\"docker-credential-{}\", which berth does not run; put them in "
                            "\"auths\" as \"auth\" (base64 of \"username:password\") instead",
                            ref.registry, where, helper));
  };
  for (const Helper& helper : cred_helpers_) {
    if (helper.host == ref.registry) return unsupported("credential helper", helper.name);
  }

  const Entry* match = nullptr;
  for (const Entry& entry : auths_) {
    if (entry.key.host != ref.registry) continue;
    if (match == nullptr || (!match->key.path.empty() && entry.key.path.empty())) match = &entry;
  }
  if (match == nullptr) return std::nullopt;
  if (match->credentials) return match->credentials;
  if (!creds_store_.empty()) return unsupported("credsStore", creds_store_);
  return std::nullopt;
}

}  // namespace berth::agent::credentials
