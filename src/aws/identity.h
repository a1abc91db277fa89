// Who signed a request: the principal behind an access key, as the signature
// check establishes it. The IAM layer stores principals; this layer only
// needs to look one up by access key id.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/error.h"

namespace berth::aws {

struct Principal {
  // kFederatedUser: GetFederationToken's credentials, which carry an IAM user's
  // permissions narrowed by the session policy.
  enum class Kind { kRoot, kUser, kAssumedRole, kFederatedUser };
  Kind kind = Kind::kRoot;
  std::string account;        // 12 digits
  std::string arn;            // arn:aws:iam::<acct>:root | :user/<n> | arn:aws:sts::<acct>:assumed-role/<r>/<s>
                              // | arn:aws:sts::<acct>:federated-user/<n>
  std::string user_id;        // <acct> for root, AIDA... for users, AROA...:<session> for roles,
                              // <acct>:<name> for federated users
  std::string name;           // user or role name (a federated user's: the IAM user's); empty for root
  std::string parent_id;      // kFederatedUser: the IAM user's unique id (AIDA...)
  std::string access_key_id;  // the key that signed
  std::string session_name;   // assumed roles only
  std::optional<TimePoint> expiration;  // temporary credentials only
};

// An access key pair (and the session token of temporary credentials).
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;  // secret: never logged
  std::string session_token;      // empty unless temporary
};

// The secret a signature is checked with, and whose it is.
struct SigningSecret {
  std::string secret_access_key;  // secret: never logged
  Principal principal;
};

class CredentialResolver {
 public:
  virtual ~CredentialResolver() = default;
  // Looks up an access key (and, for temporary credentials, its session token).
  // Errors: UnrecognizedClientException for an unknown or inactive key or a
  // token that does not belong to it; ExpiredTokenException when expired.
  virtual Result<SigningSecret> Resolve(std::string_view access_key_id,
                                        std::string_view session_token) = 0;
};

}  // namespace berth::aws
