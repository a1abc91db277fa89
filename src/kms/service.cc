#include "kms/service.h"

#include <fmt/format.h>

#include "crypto/random.h"

namespace berth::kms {

Service::Service(store::Kv& kv, const crypto::RootKey& root_key, iam::AccessControl& access,
                 Ids& ids, const Clock& clock)
    : kv_(kv), root_key_(root_key), access_(access), ids_(ids), clock_(clock) {}

Result<std::string> Service::GenerateRandom(std::optional<long long> number_of_bytes) const {
  if (!number_of_bytes) {
    return Fail("ValidationException", "NumberOfBytes is required.");
  }
  if (*number_of_bytes < 1 || *number_of_bytes > kMaxRandomBytes) {
    return Fail("ValidationException",
                fmt::format("1 validation error detected: Value '{}' at 'numberOfBytes' failed to "
                            "satisfy constraint: Member must have value {} {}",
                            *number_of_bytes,
                            *number_of_bytes < 1 ? "greater than or equal to" : "less than or equal to",
                            *number_of_bytes < 1 ? 1 : kMaxRandomBytes));
  }
  return crypto::RandomString(static_cast<size_t>(*number_of_bytes));
}

}  // namespace berth::kms
