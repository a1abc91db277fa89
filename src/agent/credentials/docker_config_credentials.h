// Credentials from a Docker client config file (~/.docker/config.json), so that
// `berth pull` can use what `docker login` stored.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/credentials/credential_source.h"
#include "agent/credentials/registry_key.h"

namespace berth::agent::credentials {

class DockerConfigCredentials final : public CredentialSource {
 public:
  // Parses the text of a config.json: "auths" entries holding "auth"
  // (base64 "user:password"), "username"/"password", or "identitytoken";
  // "credsStore" and "credHelpers" are recorded only so Lookup can refuse them.
  // Other members are ignored; empty text is an empty config. Errors:
  // "InvalidDockerConfig", naming the problem and the registry key, never a value.
  static Result<std::unique_ptr<DockerConfigCredentials>> Parse(std::string_view config_json);

  // Matches by host, as the Docker CLI does: the "auths" entry whose key names
  // ref.registry (any scheme or path; Docker Hub under any of its names,
  // "https://index.docker.io/v1/" included), preferring a key without a path.
  // nullopt when no entry matches or the matching entry is empty. Errors
  // "UnsupportedCredentialStore" when the credentials would come from a
  // credential helper: a "credHelpers" entry for the host, or an empty "auths"
  // entry beside a "credsStore" (berth runs no docker-credential-* program). A
  // global "credsStore" alone does not stop anonymous pulls from other hosts.
  Result<std::optional<RegistryCredentials>> Lookup(const reference::Reference& ref) override;

 private:
  struct Entry {
    RegistryKey key;
    std::optional<RegistryCredentials> credentials;  // nullopt for an empty entry.
  };
  struct Helper {
    std::string host;  // Normalised like RegistryKey::host.
    std::string name;  // The "desktop" of docker-credential-desktop.
  };

  DockerConfigCredentials() = default;

  std::vector<Entry> auths_;
  std::string creds_store_;
  std::vector<Helper> cred_helpers_;
};

}  // namespace berth::agent::credentials
