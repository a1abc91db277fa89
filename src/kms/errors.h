// KMS's AWS-shaped errors (codes and wording as AWS's). A message that repeats
// caller input clips it (Clip), so an error never carries more than 256 bytes of
// what the caller sent.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace berth::kms {

// `text` cut to at most 256 bytes at a UTF-8 boundary, for error messages.
std::string Clip(std::string_view text);

// ValidationException with AWS's message for a member outside its enum
// (`member` as AWS spells it, e.g. "keySpec"; `values` in the order AWS lists them).
std::unexpected<Error> NotInEnum(std::string_view member, std::string_view value,
                                 std::string_view values);
// ValidationException with AWS's message for a number outside [min, max].
std::unexpected<Error> OutOfRange(std::string_view member, long long value, long long min,
                                  long long max);

// NotFoundException "Key '<arn>' does not exist".
std::unexpected<Error> KeyNotFound(const std::string& arn);
// NotFoundException "Alias <alias arn> is not found.".
std::unexpected<Error> AliasNotFound(const std::string& alias_arn);
// NotFoundException "Invalid keyId '<text>'".
std::unexpected<Error> InvalidKeyId(std::string_view text);
// InvalidCiphertextException: one message whatever was wrong with the blob, so
// that it reveals nothing about which check failed.
std::unexpected<Error> InvalidCiphertext();

}  // namespace berth::kms
