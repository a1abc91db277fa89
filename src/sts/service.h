// AWS Security Token Service: who is calling, and (with the IAM work)
// temporary credentials. Pure domain logic: no wire shapes here.
#pragma once

#include <string>

#include "aws/identity.h"
#include "common/error.h"

namespace berth::sts {

struct CallerIdentity {
  std::string account;
  std::string arn;
  std::string user_id;
};

class Service {
 public:
  // The identity behind the credentials that signed the request. Needs no
  // permission, as in AWS: even an explicit deny cannot hide who you are.
  Result<CallerIdentity> GetCallerIdentity(const aws::Principal& caller) const;
};

}  // namespace berth::sts
