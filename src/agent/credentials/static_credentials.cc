#include "agent/credentials/static_credentials.h"

#include <utility>

namespace berth::agent::credentials {

Result<std::unique_ptr<StaticCredentials>> StaticCredentials::Parse(
    std::string_view user_password) {
  std::optional<RegistryCredentials> credentials = SplitUserPassword(user_password);
  if (!credentials) {
    return Fail("InvalidRegistryCredentials",
                "registry credentials must be \"username:password\" with a non-empty username");
  }
  return std::make_unique<StaticCredentials>(std::move(*credentials));
}

StaticCredentials::StaticCredentials(RegistryCredentials credentials)
    : credentials_(std::move(credentials)) {}

Result<std::optional<RegistryCredentials>> StaticCredentials::Lookup(
    const reference::Reference& /*ref*/) {
  return credentials_;
}

}  // namespace berth::agent::credentials
