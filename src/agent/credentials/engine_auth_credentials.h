// Agent-wide registry credentials from ECS_ENGINE_AUTH_TYPE and
// ECS_ENGINE_AUTH_DATA, the ECS agent's method for EC2 instances (FACTS.md). The
// pipeline uses them only for containers without repositoryCredentials, and only
// on EC2 instances.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "agent/credentials/credential_source.h"
#include "agent/credentials/registry_key.h"

namespace berth::agent::credentials {

class EngineAuthCredentials final : public CredentialSource {
 public:
  // Builds the source from the two variables; call it only when the type is set.
  //   type "docker":    {"my.registry:5000": {"username": "u", "password": "p", "email": "e"}}
  //                     (an "identitytoken" may stand in for username and password)
  //   type "dockercfg": {"https://index.docker.io/v1/": {"auth": "<base64 u:p>", "email": "e"}}
  // Keys are registry addresses, normalised by NormalizeRegistryKey. Errors:
  // "InvalidEngineAuthData" for an unknown type, empty data, data that is not a
  // JSON object, an entry without the fields its type needs, or an "auth" that is
  // not base64 of "user:password". Messages name the problem and the registry key
  // and never contain the data.
  static Result<std::unique_ptr<EngineAuthCredentials>> FromEnv(std::string_view type,
                                                                std::string_view data);

  // Among the entries for ref.registry (Docker Hub under any of its names), the
  // one whose namespace is the longest prefix of ref.repository, a key without a
  // namespace being the shortest: with "my.registry" and "my.registry/team", an
  // image my.registry/team/api gets the second and my.registry/other/api the
  // first, as in the ECS agent. Namespaces match whole path components. nullopt
  // when no entry matches.
  Result<std::optional<RegistryCredentials>> Lookup(const reference::Reference& ref) override;

 private:
  struct Entry {
    RegistryKey key;
    RegistryCredentials credentials;
  };

  EngineAuthCredentials() = default;

  std::vector<Entry> entries_;
};

}  // namespace berth::agent::credentials
