#include "agent/credentials/registry_key.h"

#include "agent/reference/reference.h"
#include "common/strings.h"

namespace berth::agent::credentials {

RegistryKey NormalizeRegistryKey(std::string_view key) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (key.size() >= scheme.size() && EqualsIgnoreCase(key.substr(0, scheme.size()), scheme)) {
      key.remove_prefix(scheme.size());
      break;
    }
  }
  size_t slash = key.find('/');
  std::string_view path = slash == std::string_view::npos ? "" : key.substr(slash + 1);
  while (path.starts_with('/')) path.remove_prefix(1);
  while (path.ends_with('/')) path.remove_suffix(1);
  if (path == "v1" || path == "v2") path = "";

  RegistryKey out{.host = ToLower(key.substr(0, slash)), .path = std::string(path)};
  if (reference::IsDockerHubHost(out.host)) out.host = reference::kDockerHubRegistry;
  return out;
}

}  // namespace berth::agent::credentials
