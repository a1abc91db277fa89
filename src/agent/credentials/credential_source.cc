#include "agent/credentials/credential_source.h"

namespace berth::agent::credentials {

std::optional<RegistryCredentials> SplitUserPassword(std::string_view user_password) {
  size_t colon = user_password.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  return RegistryCredentials{.username = std::string(user_password.substr(0, colon)),
                             .password = std::string(user_password.substr(colon + 1))};
}

}  // namespace berth::agent::credentials
