// Where registry credentials come from: the second stage of the agent's pull
// pipeline (DESIGN.md). A CredentialSource answers "which credentials, if any,
// should a pull of this reference present?"; the authorizer stage uses the answer
// to reply to the registry's 401 challenge.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agent/reference/reference.h"
#include "common/error.h"

namespace berth::agent::credentials {

// Credentials for one registry: either `username` and `password` (HTTP Basic, or
// the Basic credentials of a Bearer token request), or `identity_token` (an
// OAuth2 refresh token, as `docker login` stores for some registries; it may come
// with a username). Every field is a SECRET: never log it, format it, or put it
// into an Error message, and drop the value once the pull is done.
struct RegistryCredentials {
  std::string username;
  std::string password;
  std::string identity_token;
};

// Splits "username:password" at the first ':' (passwords may contain ':').
// nullopt when there is no ':' or the username is empty.
std::optional<RegistryCredentials> SplitUserPassword(std::string_view user_password);

class CredentialSource {
 public:
  virtual ~CredentialSource() = default;

  // The credentials to present when pulling `ref`, or nullopt to pull
  // anonymously. An error means this source cannot say (for example the
  // credentials are kept somewhere berth cannot read); it never contains a secret.
  // The sources in this folder do not change after construction, so concurrent
  // calls are safe.
  virtual Result<std::optional<RegistryCredentials>> Lookup(const reference::Reference& ref) = 0;
};

}  // namespace berth::agent::credentials
