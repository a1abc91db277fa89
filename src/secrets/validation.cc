#include "secrets/validation.h"

#include <fmt/format.h>

#include <utility>

#include "common/strings.h"
#include "iam/policy.h"

namespace berth::secrets {

std::unexpected<Error> Invalid(std::string_view field, std::optional<std::string_view> value,
                               std::string_view constraint) {
  std::string shown = value ? fmt::format(" '{}'", Utf8Prefix(*value, 256)) : std::string();
  return Fail("ValidationException",
              fmt::format("1 validation error detected: Value{} at '{}' failed to satisfy "
                          "constraint: Member must {}",
                          shown, field, constraint));
}

Status CheckLength(std::string_view field, std::string_view value, size_t min, size_t max,
                   bool sensitive) {
  std::optional<std::string_view> shown;
  if (!sensitive) shown = value;
  if (value.size() < min) {
    return Invalid(field, shown, fmt::format("have length greater than or equal to {}", min));
  }
  if (value.size() > max) {
    return Invalid(field, shown, fmt::format("have length less than or equal to {}", max));
  }
  return {};
}

Status ValidateName(const std::string& name) {
  BERTH_CHECK(CheckLength("name", name, 1, kMaxNameLength));
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("/_+=.@-").find(c) != std::string_view::npos;
    if (!ok) {
      return Fail("InvalidParameterException",
                  "Invalid name. Must be a valid name containing alphanumeric characters, or any "
                  "of the following: -/_+=.@!");
    }
  }
  return {};
}

Status ValidateToken(const std::string& token) {
  if (token.empty()) return {};
  return CheckLength("clientRequestToken", token, 32, 64);
}

Status ValidateStages(const std::vector<std::string>& stages) {
  if (stages.empty() || stages.size() > 20) {
    return Invalid("versionStages", std::nullopt,
                   stages.empty() ? "have length greater than or equal to 1"
                                  : "have length less than or equal to 20");
  }
  for (const auto& s : stages) BERTH_CHECK(CheckLength("versionStages.member", s, 1, 256));
  return {};
}

Status ValidateTags(const std::vector<Tag>& tags) {
  for (const auto& t : tags) {
    BERTH_CHECK(CheckLength("tags.member.key", t.key, 1, 128));
    BERTH_CHECK(CheckLength("tags.member.value", t.value, 0, 256));
    if (ToLower(t.key).starts_with("aws:")) {
      return Fail(
          "InvalidParameterException",
          fmt::format("Invalid tag key {}: the aws: prefix is reserved for AWS use.", t.key));
    }
  }
  return {};
}

Status CheckTagCount(size_t count) {
  if (count <= kMaxTags) return {};
  return Fail("InvalidParameterException",
              fmt::format("A secret can have at most {} tags.", kMaxTags));
}

Result<std::optional<SecretValue>> ToValue(const ValueInput& in, bool required) {
  if (in.secret_string && in.secret_binary) {
    return Fail("InvalidParameterException",
                "You can't specify both a binary secret value and a string secret value in the "
                "same secret.");
  }
  if (in.empty()) {
    if (required) {
      return Fail("InvalidParameterException",
                  "You must provide either SecretString or SecretBinary.");
    }
    return std::optional<SecretValue>();
  }
  SecretValue v;
  if (in.secret_string) {
    BERTH_CHECK(CheckLength("secretString", *in.secret_string, 0, kMaxValueBytes, true));
    v.type = SecretValue::Type::kString;
    v.data = *in.secret_string;
  } else {
    BERTH_CHECK(CheckLength("secretBinary", *in.secret_binary, 0, kMaxValueBytes, true));
    v.type = SecretValue::Type::kBinary;
    v.data = *in.secret_binary;
  }
  return std::optional<SecretValue>(std::move(v));
}

Status ParseResourcePolicy(const std::string& policy) {
  BERTH_CHECK(CheckLength("resourcePolicy", policy, 1, kMaxPolicyLength));
  auto parsed = iam::ParsePolicy(policy, iam::PolicyType::kResource);
  if (!parsed) return Fail("MalformedPolicyDocumentException", parsed.error().message);
  return {};
}

std::string PageToken(std::string_view last) { return Base64Encode(last); }

Result<std::string> ParsePageToken(const std::string& token) {
  auto decoded = Base64Decode(token);
  if (!decoded || decoded->empty()) return InvalidNextToken();
  return *decoded;
}

std::unexpected<Error> InvalidNextToken() {
  return Fail("InvalidNextTokenException", "The NextToken value is invalid.");
}

Result<size_t> PageSize(std::optional<int> max_results, int max, int fallback) {
  int n = max_results.value_or(fallback);
  if (n < 1 || n > max) {
    return Invalid("maxResults", std::to_string(n),
                   n < 1 ? "have value greater than or equal to 1"
                         : fmt::format("have value less than or equal to {}", max));
  }
  return static_cast<size_t>(n);
}

}  // namespace berth::secrets
