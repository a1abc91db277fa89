// What a SecretId names (FACTS.md, "Secrets Manager: SecretId").
//
// A secret's ARN is arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6
// characters>. A SecretId is
//  * a name: the secret of that name in the caller's account and the request's
//    region;
//  * a full ARN: the secret with exactly that ARN, in any account and region;
//  * a partial ARN (no suffix): the secret of that name where the ARN says.
// "arn:...:secret:a-bcdefg" reads both ways (secret "a" with suffix "bcdefg",
// or secret "a-bcdefg"): the full-ARN reading is tried first and wins when
// the secret "a" has that very ARN. This file only reads the id; looking the
// candidates up is the service's.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace berth::secrets {

// Where a secret would live.
struct SecretLocation {
  std::string account, region, name;
  friend bool operator==(const SecretLocation&, const SecretLocation&) = default;
};

// One reading of a SecretId.
struct SecretCandidate {
  SecretLocation where;
  // The full-ARN reading: it names the secret at `where` only when that
  // secret's ARN is the SecretId itself.
  bool must_match_arn = false;
  friend bool operator==(const SecretCandidate&, const SecretCandidate&) = default;
};

// The readings of `secret_id`, to try in order: the first that names an
// existing secret wins; none left means ResourceNotFoundException. A name is
// looked up in `caller_account` and `region`. An ARN of another service, of a
// resource that is not "secret:", without a region or with an account that is
// not 12 digits names nothing (an empty list). Errors: ValidationException
// when `secret_id` is not 1..2048 characters; ParseArn's error for an "arn:"
// that does not parse.
Result<std::vector<SecretCandidate>> ReadSecretId(std::string_view caller_account,
                                                  std::string_view region,
                                                  const std::string& secret_id);

// A secret ARN taken apart; `resource_name` is what follows "secret:" (the
// name, with its suffix when the ARN is a full one).
struct SecretArn {
  std::string account, region, resource_name;
};
// nullopt when `text` is not an ARN of a Secrets Manager secret (no region or
// account checks: see ReadSecretId).
std::optional<SecretArn> ParseSecretArn(std::string_view text);

// `resource_name` without a trailing "-" and 6 characters, when it has them
// (the shape of the suffix AWS adds: a name of 7 characters or fewer keeps
// them all).
std::string_view WithoutSuffix(std::string_view resource_name);

// The ARN of secret `name` with the random `suffix` (6 characters).
std::string MakeSecretArn(std::string_view account, std::string_view region, std::string_view name,
                          std::string_view suffix);

// The account `secret_id` names when it is an ARN with a valid account that is
// not `caller_account` (any service); empty otherwise. Such a caller learns
// only what the secret's (absent) resource policy implies.
std::string ForeignAccount(std::string_view caller_account, std::string_view secret_id);

// "Secrets Manager can't find the specified secret." (ResourceNotFoundException).
std::unexpected<Error> SecretNotFound();

}  // namespace berth::secrets
