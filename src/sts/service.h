// AWS Security Token Service: who is calling, and temporary credentials for
// assumed roles. Pure domain logic: no wire shapes here.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "aws/identity.h"
#include "common/clock.h"
#include "common/error.h"
#include "iam/identity_store.h"
#include "iam/service.h"

namespace berth::sts {

struct CallerIdentity {
  std::string account;
  std::string arn;
  std::string user_id;
};

struct AssumeRoleRequest {
  std::string role_arn;
  std::string session_name;
  std::optional<int> duration_seconds;  // 900..role's MaxSessionDuration
  std::string external_id;              // empty: none given
  std::string session_policy;           // empty: none
  // The caller's address (aws:SourceIp in the trust and identity policies);
  // empty for the platform's own assumptions.
  std::string source_ip;
  bool secure_transport = false;  // aws:SecureTransport, likewise
};

struct AssumedRole {
  aws::Credentials credentials;
  TimePoint expiration;
  std::string assumed_role_arn;  // arn:aws:sts::<acct>:assumed-role/<role>/<session>
  std::string assumed_role_id;   // <role id>:<session>
};

// Decides whether `caller` (or the service principal `service`, when not
// empty) may assume `role`: the role's trust policy, and for IAM callers
// their own identity policies. Returns AccessDenied with AWS's message.
using TrustCheck = std::function<Status(const aws::Principal* caller, const std::string& service,
                                        const iam::Role& role, const AssumeRoleRequest& request)>;

class Service {
 public:
  Service(iam::Service& iam, iam::IdentityStore& identities, const Clock& clock, TrustCheck trust);

  // The identity behind the credentials that signed the request. Needs no
  // permission, as in AWS: even an explicit deny cannot hide who you are.
  Result<CallerIdentity> GetCallerIdentity(const aws::Principal& caller) const;

  // sts:AssumeRole by an IAM principal.
  Result<AssumedRole> AssumeRole(const aws::Principal& caller, const AssumeRoleRequest& request);

  // Temporary credentials for the caller itself (an IAM user or an account's
  // root): 900..129600 s for users (default 43200), 900..3600 for root.
  // Temporary credentials cannot get more temporary credentials this way.
  Result<AssumedRole> GetSessionToken(const aws::Principal& caller, std::optional<int> duration);

  // GetFederationToken: credentials of a federated user `name` (2-32 of
  // [\w+=,.@-]) that carry the calling IAM user's permissions narrowed by
  // `session_policy` (none: no permissions, as in AWS); 900..129600 s, default
  // 43200. Only an IAM user's long-term credentials may call it.
  Result<AssumedRole> GetFederationToken(const aws::Principal& caller, const std::string& name,
                                         const std::string& session_policy,
                                         std::optional<int> duration);

  // GetAccessKeyInfo: the account an access key belongs to.
  Result<std::string> GetAccessKeyInfo(const std::string& access_key_id);

  // The platform assuming a role as an AWS service principal (e.g.
  // "ecs-tasks.amazonaws.com" for a task's execution role). The role's trust
  // policy must allow that service.
  Result<AssumedRole> AssumeRoleAsService(const std::string& service, const AssumeRoleRequest& request);

 private:
  Result<AssumedRole> Assume(const aws::Principal* caller, const std::string& service,
                             const AssumeRoleRequest& request);

  iam::Service& iam_;
  iam::IdentityStore& identities_;
  const Clock& clock_;
  TrustCheck trust_;
};

}  // namespace berth::sts
