// Amazon Resource Names: arn:partition:service:region:account-id:resource.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace berth {

struct Arn {
  std::string partition = "aws";
  std::string service;   // "secretsmanager", "iam", "kms", ...
  std::string region;    // empty for global services (iam, sts's account ARNs)
  std::string account;   // 12 digits; empty or "aws" for a few AWS-owned resources
  std::string resource;  // everything after the fifth ':', e.g. "secret:db-AbCdEf"

  std::string ToString() const;
  friend bool operator==(const Arn&, const Arn&) = default;
};

// Parses and validates an ARN. Errors are InvalidParameterException naming what
// is wrong; callers whose service uses another code remap it.
Result<Arn> ParseArn(std::string_view text);

// True when `text` starts like an ARN ("arn:"), i.e. the caller meant an ARN.
inline bool LooksLikeArn(std::string_view text) { return text.starts_with("arn:"); }

// True for a 12-digit AWS account id.
bool IsAccountId(std::string_view text);

// True for a region name shaped like "us-east-1" / "eu-central-2" / "us-gov-west-1".
bool IsRegionName(std::string_view text);

}  // namespace berth
