// Authorization: does a request's principal get to perform its action on its resource?
//
// One mechanism for every service, deciding as AWS documents it ("Policy evaluation
// logic"): an explicit Deny in any policy wins; otherwise some combination of Allows,
// depending on the kind of resource and whose account it is in; otherwise an implicit
// deny. Evaluate runs on every request: it only reads compiled policies and the request,
// and allocates only for the Decision it returns.
//
// The rules, in full (A = the caller's account, R = the resource's account):
//  * Explicit deny: a matching Deny statement in an identity policy, the resource policy
//    (whose Principal/NotPrincipal must also match), a permissions boundary or a session
//    policy denies.
//  * "Identity allows" means: some identity policy allows, and, if the caller has a
//    permissions boundary, the boundary allows too, and, if it has session policies, one
//    of them allows too. The root user's identity allows everything.
//  * A resource-policy allow is direct when its Principal names the caller's own ARN
//    (user ARN, assumed-role session ARN, the root's account), "*", or its service; it is
//    delegated when it names the caller's role (arn:aws:iam::A:role/R matching the
//    sessions of R) or the caller's account (arn:aws:iam::A:root).
//  * Ordinary resources (PolicySet::resource_is_key_policy false):
//      - the root user of R is allowed everything on R's resources;
//      - same account (A == R): allowed when identity allows, or a direct resource allow,
//        or a resource allow naming the caller's role that the boundary and session
//        policies (if any) also allow (AWS: grants to a role ARN are limited by them,
//        grants to a user or session ARN are not). A resource allow naming the caller's
//        account delegates to IAM, as everywhere: it allows only what identity allows;
//      - cross account: identity allows AND the resource policy allows (any match).
//  * KMS key policies (resource_is_key_policy true): the key policy must allow.
//      - same account: a direct key-policy allow suffices; a role-ARN allow needs the
//        boundary and session policies; an account-principal allow ("delegation to IAM")
//        needs identity allows. The root user is not special: it needs the key policy
//        to name the account (or it), which the default key policy does.
//      - cross account: the key policy allows (any match) AND identity allows.
//  * An AWS service as caller (service_principal set) has no identity policies: only a
//    resource-policy allow naming the service (or "*") lets it in. Identity, boundary and
//    session policies passed along with a service caller are ignored.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/identity.h"
#include "common/clock.h"
#include "iam/condition.h"
#include "iam/policy.h"

namespace berth::iam {

struct AuthzRequest {
  aws::Principal principal;       // the caller; ignored when service_principal is set
  std::string service_principal;  // "ecs-tasks.amazonaws.com" when an AWS service calls
  std::string action;             // "secretsmanager:GetSecretValue"
  std::string resource;           // the resource ARN, or "*" for actions without one
  // The resource's account; empty means the caller's own (same-account rules).
  std::string resource_account;
  // Condition keys (looked up ignoring case): the global aws:* keys (see
  // AddGlobalConditionKeys) and service keys such as kms:ViaService, kms:CallerAccount,
  // kms:EncryptionContext:<key>, sts:ExternalId, secretsmanager:SecretId.
  ContextMap context;
};

// Fills the global condition keys AWS puts in every request context, from the caller
// (request.principal or request.service_principal) and the connection:
//   aws:PrincipalArn (for a session: the role's ARN, arn:aws:iam::A:role/<name> — berth's
//   principals do not carry a role path), aws:PrincipalAccount, aws:PrincipalType
//   (Account|User|AssumedRole), aws:userid, aws:username (users only),
//   aws:PrincipalIsAWSService, aws:PrincipalServiceName (services), aws:SourceIp (when
//   not empty), aws:SecureTransport, aws:CurrentTime (ISO 8601), aws:EpochTime.
// Existing values of these keys are replaced; other keys are kept. Each value is computed
// only when a policy looks the key up (see ContextMap).
void AddGlobalConditionKeys(AuthzRequest& request, std::string_view source_ip,
                            bool secure_transport, TimePoint now);

struct NamedPolicy {
  // Names the policy in decisions: a managed policy's ARN, "user/<name>/inline/<policy>",
  // "role/<name>/inline/<policy>", "resource", ...
  std::string id;
  std::shared_ptr<const Policy> policy;
};

struct PolicySet {
  // The caller's inline and managed policies: `shared_identity` (kept by a cache,
  // evaluated first, not copied per request), then `identity`.
  std::shared_ptr<const std::vector<NamedPolicy>> shared_identity;
  std::vector<NamedPolicy> identity;
  std::optional<NamedPolicy> resource;    // the resource's policy (or the KMS key policy)
  bool resource_is_key_policy = false;    // apply the KMS key-policy rules
  std::vector<NamedPolicy> session;       // session policies; empty: none
  std::vector<NamedPolicy> permissions_boundary;  // empty: no boundary
};

// Which kind of policy a statement (or a denial's reason) belongs to.
enum class PolicySource : uint8_t { kIdentity, kResource, kSession, kBoundary };

struct StatementRef {
  std::string policy_id;
  std::string sid;     // empty when the statement has none
  size_t index = 0;    // position in the policy's Statement list
  PolicySource source = PolicySource::kIdentity;
  friend bool operator==(const StatementRef&, const StatementRef&) = default;
};

struct Decision {
  enum Effect { kAllow, kExplicitDeny, kImplicitDeny };
  // What the denial message says; kNone for decisions that give no reason.
  enum class Reason : uint8_t {
    kNone,
    kIdentity,        // "... no identity-based policy allows" / "an identity-based policy"
    kResource,        // "... no resource-based policy allows" / "a resource-based policy"
    kSession,         // "... no session policy allows" / "a session policy"
    kBoundary,        // "... no permissions boundary allows" / "a permissions boundary"
    kRootAssumeRole,  // "Roles may not be assumed by root accounts."
  };

  Effect effect = kImplicitDeny;
  Reason reason = Reason::kNone;
  // kAllow: the Allow statements that granted (identity policies first, then the resource
  // policy; boundary and session statements, which only permit, are not listed).
  // kExplicitDeny: every matching Deny statement. kImplicitDeny: empty.
  std::vector<StatementRef> deciding;

  bool allowed() const { return effect == kAllow; }
  // AWS's AccessDenied message; empty for kAllow. For example:
  //   "User: arn:aws:iam::111122223333:user/alice is not authorized to perform:
  //    secretsmanager:GetSecretValue on resource: arn:...:secret:db-AbCdEf because no
  //    identity-based policy allows the secretsmanager:GetSecretValue action"
  //   "... with an explicit deny in a resource-based policy"
  // " on resource: <arn>" is left out when the resource is "*" or empty; the reason is left
  // out for kNone (as AWS does for AssumeRole). An AWS service caller is named by its
  // service principal.
  std::string Message(const AuthzRequest& request) const;
};

// Decides `request` against `policies` by the rules at the top of this file.
Decision Evaluate(const AuthzRequest& request, const PolicySet& policies);

// Decides whether the caller may assume a role (request.action "sts:AssumeRole",
// request.resource the role ARN, request.resource_account the role's account) under the
// role's trust policy. `caller` holds the caller's identity policies, boundary and session
// policies (its `resource` is ignored). Implemented as AWS documents it:
//  * the trust policy must allow, always (the trust policy is like a key policy);
//  * a trust statement naming the caller's ARN, its role's ARN, "*" or its service
//    allows by itself within the role's account; one naming the caller's account
//    delegates to IAM: the caller's identity policies must allow sts:AssumeRole on the
//    role too;
//  * across accounts the caller's identity policies must always allow it too;
//  * an AWS service (request.service_principal) needs only the trust policy;
//  * the root user may not assume roles (Reason::kRootAssumeRole).
// Denial messages give no reason, as AWS's do for AssumeRole.
Decision EvaluateTrust(const AuthzRequest& request, const Policy& trust,
                       const PolicySet& caller = {});

}  // namespace berth::iam
