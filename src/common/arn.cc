#include "common/arn.h"

#include <fmt/format.h>

#include <cctype>

namespace berth {

std::string Arn::ToString() const {
  return fmt::format("arn:{}:{}:{}:{}:{}", partition, service, region, account, resource);
}

bool IsAccountId(std::string_view text) {
  if (text.size() != 12) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool IsRegionName(std::string_view text) {
  // Lower-case words separated by '-', the last one a number: us-east-1.
  if (text.size() < 4 || text.size() > 32) return false;
  size_t dash = text.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == text.size()) return false;
  for (size_t i = dash + 1; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  bool prev_dash = true;
  for (size_t i = 0; i < dash; ++i) {
    char c = text[i];
    if (c == '-') {
      if (prev_dash) return false;
      prev_dash = true;
    } else if (c >= 'a' && c <= 'z') {
      prev_dash = false;
    } else {
      return false;
    }
  }
  return !prev_dash;
}

namespace {
std::unexpected<Error> Invalid(std::string_view text, std::string_view why) {
  return Fail("InvalidParameterException", fmt::format("Invalid ARN '{}': {}", text, why));
}
}  // namespace

Result<Arn> ParseArn(std::string_view text) {
  if (text.size() > 2048) return Invalid(text.substr(0, 64), "longer than 2048 characters");
  if (!text.starts_with("arn:")) return Invalid(text, "must start with 'arn:'");
  std::string_view parts[5];
  size_t pos = 0;
  for (auto& part : parts) {
    size_t colon = text.find(':', pos);
    if (colon == std::string_view::npos) return Invalid(text, "must have six ':'-separated parts");
    part = text.substr(pos, colon - pos);
    pos = colon + 1;
  }
  Arn arn;
  arn.partition = parts[1];
  arn.service = parts[2];
  arn.region = parts[3];
  arn.account = parts[4];
  arn.resource = text.substr(pos);
  if (arn.partition != "aws" && arn.partition != "aws-cn" && arn.partition != "aws-us-gov") {
    return Invalid(text, "unknown partition");
  }
  if (arn.service.empty()) return Invalid(text, "empty service");
  for (char c : arn.service) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '-')) {
      return Invalid(text, "malformed service");
    }
  }
  if (!arn.region.empty() && !IsRegionName(arn.region)) return Invalid(text, "malformed region");
  if (!arn.account.empty() && arn.account != "aws" && !IsAccountId(arn.account)) {
    return Invalid(text, "account id must be 12 digits");
  }
  if (arn.resource.empty()) return Invalid(text, "empty resource");
  return arn;
}

}  // namespace berth
