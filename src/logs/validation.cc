#include "logs/validation.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>

#include "common/strings.h"

namespace berth::logs {

namespace {

constexpr std::array<int, 22> kRetentionDays = {1,    3,    5,    7,    14,   30,  60,  90,
                                                120,  150,  180,  365,  400,  545, 731, 1096,
                                                1827, 2192, 2557, 2922, 3288, 3653};

bool IsGroupNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || c == '/' || c == '#';
}

// Tag keys and values: letters, digits, spaces and _.:/=+-@ (the model's \p{L}\p{Z}\p{N}...);
// any non-ASCII byte is taken as a letter.
bool IsTagChar(unsigned char c) {
  return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view(" _.:/=+-@").find(static_cast<char>(c)) != std::string_view::npos;
}

}  // namespace

void Validation::Fail(std::string_view field, std::optional<std::string_view> value,
                      std::string_view constraint, bool shown) {
  std::string v;
  if (!shown) {
    v = "";
  } else if (value) {
    v = fmt::format(" '{}'", Utf8Prefix(*value, 256));
  } else {
    v = " null";
  }
  errors_.push_back(fmt::format("Value{} at '{}' failed to satisfy constraint: Member must {}", v,
                                field, constraint));
}

void Validation::Length(std::string_view field, std::string_view value, size_t min, size_t max) {
  if (value.size() < min) {
    Fail(field, value, fmt::format("have length greater than or equal to {}", min));
  } else if (value.size() > max) {
    Fail(field, value, fmt::format("have length less than or equal to {}", max));
  }
}

void Validation::GroupName(std::string_view field, std::string_view name) {
  if (!std::all_of(name.begin(), name.end(), IsGroupNameChar) || name.empty()) {
    Fail(field, name, fmt::format("satisfy regular expression pattern: {}", kGroupNamePattern));
  }
  Length(field, name, 1, 512);
}

void Validation::StreamName(std::string_view field, std::string_view name) {
  if (name.find_first_of(":*") != std::string_view::npos) {
    Fail(field, name, fmt::format("satisfy regular expression pattern: {}", kStreamNamePattern));
  }
  Length(field, name, 1, 512);
}

void Validation::Range(std::string_view field, std::optional<int64_t> value, int64_t min,
                       int64_t max) {
  if (!value) return;
  std::string text = std::to_string(*value);
  if (*value < min) {
    Fail(field, text, fmt::format("have value greater than or equal to {}", min));
  } else if (*value > max) {
    Fail(field, text, fmt::format("have value less than or equal to {}", max));
  }
}

void Validation::Enum(std::string_view field, std::string_view value,
                      const std::vector<std::string_view>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  Fail(field, value, fmt::format("satisfy enum value set: [{}]", fmt::join(allowed, ", ")));
}

void Validation::Tags(std::string_view field, const std::map<std::string, std::string>& tags) {
  if (tags.size() > 50) {
    Fail(field, std::nullopt, "have length less than or equal to 50", false);
  }
  for (const auto& [key, value] : tags) {
    std::string key_field = fmt::format("{}.key", field);
    if (key.empty() || key.size() > 128) {
      Length(key_field, key, 1, 128);
    } else if (!std::all_of(key.begin(), key.end(), IsTagChar)) {
      Fail(key_field, key,
           R"(satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$)");
    }
    std::string value_field = fmt::format("{}.{}.member", field, key);
    if (value.size() > 256) {
      Length(value_field, value, 0, 256);
    } else if (!std::all_of(value.begin(), value.end(), IsTagChar)) {
      Fail(value_field, value,
           R"(satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$)");
    }
  }
}

void Validation::TagKeys(std::string_view field, const std::vector<std::string>& keys) {
  if (keys.size() > 50) Fail(field, std::nullopt, "have length less than or equal to 50", false);
  for (const auto& key : keys) Length(fmt::format("{}.member", field), key, 1, 128);
}

Status Validation::Done() const {
  if (errors_.empty()) return {};
  return berth::Fail("InvalidParameterException",
                     fmt::format("{} validation error{} detected: {}", errors_.size(),
                                 errors_.size() == 1 ? "" : "s", fmt::join(errors_, "; ")));
}

Status CheckNotReserved(std::string_view group_name) {
  if (ToLower(group_name.substr(0, 4)) == "aws/") {
    return berth::Fail("InvalidParameterException",
                       "Log groups starting with AWS/ are reserved for AWS.");
  }
  return {};
}

bool IsRetentionDays(int64_t days) {
  return std::find(kRetentionDays.begin(), kRetentionDays.end(), days) != kRetentionDays.end();
}

Status CheckRetentionDays(std::optional<int64_t> days) {
  if (!days) {
    Validation v;
    v.Fail("retentionInDays", std::nullopt, "not be null");
    return v.Done();
  }
  if (IsRetentionDays(*days)) return {};
  Validation v;
  v.Fail("retentionInDays", std::to_string(*days),
         fmt::format("satisfy enum value set: [{}]", fmt::join(kRetentionDays, ", ")));
  return v.Done();
}

}  // namespace berth::logs
