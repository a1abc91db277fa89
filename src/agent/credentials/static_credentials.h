// One set of credentials for every registry, as given on the command line
// (`berth pull --creds user:password`, like `skopeo --creds`).
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "agent/credentials/credential_source.h"

namespace berth::agent::credentials {

class StaticCredentials final : public CredentialSource {
 public:
  // Parses "username:password", split at the first ':' (the password may contain
  // ':'). Errors: "InvalidRegistryCredentials" when there is no ':' or the
  // username is empty; the message never contains the input.
  static Result<std::unique_ptr<StaticCredentials>> Parse(std::string_view user_password);

  explicit StaticCredentials(RegistryCredentials credentials);

  // Always the same credentials, whatever the registry.
  Result<std::optional<RegistryCredentials>> Lookup(const reference::Reference& ref) override;

 private:
  RegistryCredentials credentials_;
};

}  // namespace berth::agent::credentials
