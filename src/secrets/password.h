// GetRandomPassword's generator.
#pragma once

#include <string>

#include "common/error.h"
#include "common/ids.h"
#include "secrets/service.h"

namespace berth::secrets {

// The characters AWS counts as punctuation: !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
inline constexpr char kPunctuation[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

// A password of `options.length` (default 32) characters drawn uniformly from
// the included character types (minus ExcludeCharacters), with at least one
// of each included type when `require_each_included_type`. Errors, as AWS:
// length outside 1..4096 is ValidationException; no character left to draw
// from, or a length shorter than the number of required types, is
// InvalidParameterException.
Result<std::string> GeneratePassword(const PasswordOptions& options, Ids& ids);

}  // namespace berth::secrets
