#include "kms/errors.h"

#include <fmt/format.h>

#include "common/strings.h"

namespace berth::kms {

std::string Clip(std::string_view text) { return std::string(Utf8Prefix(text, 256)); }

std::unexpected<Error> NotInEnum(std::string_view member, std::string_view value,
                                 std::string_view values) {
  return Fail("ValidationException",
              fmt::format("1 validation error detected: Value '{}' at '{}' failed to satisfy "
                          "constraint: Member must satisfy enum value set: [{}]",
                          Clip(value), member, values));
}

std::unexpected<Error> OutOfRange(std::string_view member, long long value, long long min,
                                  long long max) {
  return Fail(
      "ValidationException",
      fmt::format("1 validation error detected: Value '{}' at '{}' failed to satisfy "
                  "constraint: Member must have value {} {}",
                  value, member, value < min ? "greater than or equal to" : "less than or equal to",
                  value < min ? min : max));
}

std::unexpected<Error> KeyNotFound(const std::string& arn) {
  return Fail("NotFoundException", fmt::format("Key '{}' does not exist", arn));
}

std::unexpected<Error> AliasNotFound(const std::string& alias_arn) {
  return Fail("NotFoundException", fmt::format("Alias {} is not found.", alias_arn));
}

std::unexpected<Error> InvalidKeyId(std::string_view text) {
  return Fail("NotFoundException", fmt::format("Invalid keyId '{}'", Clip(text)));
}

std::unexpected<Error> InvalidCiphertext() {
  return Fail("InvalidCiphertextException",
              "The ciphertext is invalid, was not produced by this KMS, or was encrypted under "
              "another key or encryption context.");
}

}  // namespace berth::kms
