#include "sts/service.h"

namespace berth::sts {

Result<CallerIdentity> Service::GetCallerIdentity(const aws::Principal& caller) const {
  return CallerIdentity{caller.account, caller.arn, caller.user_id};
}

}  // namespace berth::sts
