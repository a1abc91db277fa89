// CloudWatch Logs' input validation, worded as the service words it. Constraints of the model
// (lengths, patterns, ranges, enums) fail with InvalidParameterException and Coral's text,
// every failure of a request in one message:
//   "2 validation errors detected: Value '' at 'logGroupNamePrefix' failed to satisfy
//    constraint: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+; Value ''
//    at 'logGroupNamePrefix' failed to satisfy constraint: Member must have length greater than
//    or equal to 1"
// The service's own rules (the reserved "aws/" prefix, retention values) have their own texts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace berth::logs {

inline constexpr std::string_view kGroupNamePattern = R"([\.\-_/#A-Za-z0-9]+)";
inline constexpr std::string_view kStreamNamePattern = "[^:*]*";

// Collects a request's constraint failures; Done() reports them all, or OK.
class Validation {
 public:
  // `value` is echoed in the message (cut to 256 bytes); nullopt prints "null" (a missing
  // member) and `shown = false` leaves the value out (lists, large values).
  void Fail(std::string_view field, std::optional<std::string_view> value,
            std::string_view constraint, bool shown = true);

  // An optional member: the checks run only on a present value.
  void Length(std::string_view field, std::string_view value, size_t min, size_t max);
  void GroupName(std::string_view field, std::string_view name);   // 1-512, the pattern
  void StreamName(std::string_view field, std::string_view name);  // 1-512, no ':' or '*'
  void Range(std::string_view field, std::optional<int64_t> value, int64_t min, int64_t max);
  void Enum(std::string_view field, std::string_view value,
            const std::vector<std::string_view>& allowed);
  void Tags(std::string_view field, const std::map<std::string, std::string>& tags);
  void TagKeys(std::string_view field, const std::vector<std::string>& keys);

  bool ok() const { return errors_.empty(); }
  Status Done() const;

 private:
  std::vector<std::string> errors_;
};

// A name CreateLogGroup refuses beyond the model: "aws/..." (any case) is AWS's.
Status CheckNotReserved(std::string_view group_name);

// PutRetentionPolicy's day values.
bool IsRetentionDays(int64_t days);
Status CheckRetentionDays(std::optional<int64_t> days);

}  // namespace berth::logs
