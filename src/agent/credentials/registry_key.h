// How Docker-style credential configs name registries. Docker's config.json
// "auths" and the ECS agent's ECS_ENGINE_AUTH_DATA key their entries by a
// registry address spelled many ways ("https://index.docker.io/v1/",
// "my.registry:5000", "http://my.registry/team"); NormalizeRegistryKey reduces
// each spelling to the form a reference::Reference is compared with.
#pragma once

#include <string>
#include <string_view>

namespace berth::agent::credentials {

struct RegistryKey {
  // Lower-case host[:port], comparable with reference::Reference::registry
  // (Docker Hub is reference::kDockerHubRegistry).
  std::string host;
  // Repository namespace the key is limited to ("team" in "my.registry/team"),
  // without leading or trailing '/'; empty when the key names the whole host.
  std::string path;

  bool operator==(const RegistryKey&) const = default;
};

// Drops an "http://" or "https://" scheme, lower-cases the host, maps Docker
// Hub's names ("docker.io", "index.docker.io", "registry-1.docker.io") to
// reference::kDockerHubRegistry, and treats a path of "v1" or "v2" as none: it is
// the registry API version Docker writes into keys ("https://index.docker.io/v1/"),
// not a namespace.
RegistryKey NormalizeRegistryKey(std::string_view key);

}  // namespace berth::agent::credentials
