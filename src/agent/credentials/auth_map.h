// Reading a Docker-style auth map, {"<registry key>": {"auth": ..., "username":
// ..., "password": ..., "identitytoken": ..., "email": ...}}: the shape shared by
// Docker's config.json "auths" and the ECS agent's ECS_ENGINE_AUTH_DATA.
// Internal to credentials/: include only from .cc files (it names nlohmann::json).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/credentials/credential_source.h"
#include "agent/credentials/registry_key.h"
#include "common/error.h"

namespace berth::agent::credentials {

// One entry, decoded but not yet checked against what its source requires.
// Absent fields are nullopt; the values are secrets (see RegistryCredentials).
struct AuthEntry {
  std::string key;                          // As written: a registry address, not a secret.
  RegistryKey registry;                     // NormalizeRegistryKey(key).
  std::optional<RegistryCredentials> auth;  // "auth", decoded from base64("user:password").
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::optional<std::string> identity_token;  // "identitytoken".
};

// How messages name a registry key: quoted and escaped, at most 100 characters.
std::string QuoteKey(std::string_view key);

// Reads every member of `auths`, in key order. An empty "auth" counts as absent
// (Docker writes one beside a credsStore); other members ("email") are ignored.
// Errors carry `error_code` and start with `source` ("ECS_ENGINE_AUTH_DATA"):
// `auths` or an entry that is not an object, a field that is not a string, an
// "auth" that is not base64 of "user:password". They name the registry key and
// the field, never a value.
Result<std::vector<AuthEntry>> ReadAuthMap(const nlohmann::json& auths, std::string_view source,
                                           std::string_view error_code);

}  // namespace berth::agent::credentials
