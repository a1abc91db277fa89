#include "agent/credentials/secrets_manager_credentials.h"

#include <fmt/format.h>

#include "aws/json_client.h"
#include "common/arn.h"
#include "common/json.h"
#include "common/strings.h"
#include "http/client.h"

namespace berth::agent::credentials {

namespace {

std::unexpected<Error> InitError(std::string_view what) {
  return Fail("ResourceInitializationError",
              fmt::format("unable to pull secrets or registry auth: {}", what));
}

std::unexpected<Error> InvalidSchema() {
  return InitError(
      "asm fetching authorization data: unable to unmarshal secret value, invalid schema");
}

// The value of `key` (matched ignoring case) in the secret's object; nullopt
// when absent; an error when a member of that name is not a string.
Result<std::optional<std::string>> Field(const json::Json& object, std::string_view key) {
  for (const auto& [name, value] : object.items()) {
    if (!EqualsIgnoreCase(name, key)) continue;
    if (!value.is_string()) return InvalidSchema();
    return std::optional<std::string>(value.get<std::string>());
  }
  return std::optional<std::string>();
}

}  // namespace

SecretsManagerCredentials::SecretsManagerCredentials(RegistryCredentials credentials)
    : credentials_(std::move(credentials)) {}

Result<std::unique_ptr<SecretsManagerCredentials>> SecretsManagerCredentials::Fetch(
    const SecretsManagerOptions& options, TimePoint now) {
  std::string region = options.region;
  if (options.secret_id.starts_with("arn:")) {
    if (auto arn = ParseArn(options.secret_id); arn && !arn->region.empty()) region = arn->region;
  }
  http::Client client({.ca_file = options.ca_file});
  auto reply =
      aws::CallJson(client,
                    {options.endpoint, "secretsmanager.GetSecretValue", region, "secretsmanager",
                     json::Dump(json::Json{{"SecretId", options.secret_id}})},
                    options.credentials, now);
  if (!reply) {
    return InitError(fmt::format("asm fetching secret from the service for {}: {}: {}",
                                 options.secret_id, reply.error().code, reply.error().message));
  }
  json::Json response = json::Json::parse(*reply, nullptr, /*allow_exceptions=*/false);
  if (!response.is_object()) return InvalidSchema();
  auto secret_string = response.find("SecretString");
  if (secret_string == response.end() || !secret_string->is_string()) return InvalidSchema();
  json::Json secret =
      json::Json::parse(secret_string->get<std::string>(), nullptr, /*allow_exceptions=*/false);
  if (!secret.is_object()) return InvalidSchema();
  auto username = BERTH_TRY(Field(secret, "username"));
  auto password = BERTH_TRY(Field(secret, "password"));
  if (!username || username->empty()) {
    return InitError("asm fetching username: AuthorizationData is malformed, empty field");
  }
  if (!password || password->empty()) {
    return InitError("asm fetching password: AuthorizationData is malformed, empty field");
  }
  RegistryCredentials credentials;
  credentials.username = std::move(*username);
  credentials.password = std::move(*password);
  return std::unique_ptr<SecretsManagerCredentials>(
      new SecretsManagerCredentials(std::move(credentials)));
}

Result<std::optional<RegistryCredentials>> SecretsManagerCredentials::Lookup(
    const reference::Reference&) {
  return std::optional<RegistryCredentials>(credentials_);
}

}  // namespace berth::agent::credentials
