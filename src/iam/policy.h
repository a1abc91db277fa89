// IAM policy documents: parsing, validation and the compiled form evaluation uses.
//
// A document is parsed and validated once (with AWS's MalformedPolicyDocument messages)
// into an immutable Policy: actions are lower-cased and split into wildcard pieces,
// principals normalised ("123456789012" -> "arn:aws:iam::123456789012:root"), condition
// values pre-parsed. Nothing of JSON survives parsing; matching a request against a
// statement allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aws/identity.h"
#include "common/error.h"
#include "iam/condition.h"

namespace berth::iam {

// Where a document is used; it decides which elements are required or forbidden.
//   kIdentity, kSession: no Principal/NotPrincipal; Resource/NotResource required.
//   kResource, kKeyPolicy: Principal or NotPrincipal and Resource/NotResource required.
//   kTrust (a role's assume-role policy): Principal or NotPrincipal required, no
//     Resource/NotResource, Action only sts:* actions.
// Permissions boundaries are identity policies (kIdentity).
enum class PolicyType : uint8_t { kIdentity, kResource, kTrust, kKeyPolicy, kSession };

struct ParseOptions {
  // Maximum number of non-whitespace characters (IAM does not count white space):
  // 2048 for a user's inline policies, 10240 for a role's, 6144 for a managed policy.
  // 0: no limit. Over the limit: LimitExceeded (HTTP 409),
  // "Cannot exceed quota for PolicySize: <max_size>"; callers may reword it.
  size_t max_size = 0;
  // Managed policies (CreatePolicy, CreatePolicyVersion) must say Version 2012-10-17;
  // inline, trust, resource and key policies may omit it (then 2008-10-17).
  bool require_version_2012 = false;
};

// One entry of a Principal/NotPrincipal element.
struct PrincipalEntry {
  enum class Kind : uint8_t {
    kAnyone,         // "*" or {"AWS": "*"}
    kAccount,        // arn:aws:iam::<acct>:root (also written as the bare 12-digit id)
    kUser,           // arn:aws:iam::<acct>:user/<path><name>
    kRole,           // arn:aws:iam::<acct>:role/<path><name>: matches the role's sessions
    kAssumedRole,    // arn:aws:sts::<acct>:assumed-role/<role>/<session>
    kFederatedUser,  // arn:aws:sts::<acct>:federated-user/<name> (GetFederationToken sessions)
    kUniqueId,       // AIDA.../AROA... unique ids, which IAM leaves after a deletion
    kService,        // {"Service": "ecs-tasks.amazonaws.com"} (lower-cased)
    kFederated,      // {"Federated": ...}: accepted, never matches (no web identity in berth)
    kCanonicalUser,  // {"CanonicalUser": ...}: accepted, never matches
  };
  Kind kind = Kind::kAnyone;
  std::string value;    // normalised ARN, service name, id
  std::string account;  // ARN kinds
  std::string name;     // kRole: the role name (last path component)
};

// How a caller matched a Principal element, weakest first. A match through the account
// delegates to IAM: it grants only together with an identity-policy allow. A match
// through the role (rather than the caller's own ARN, "*" or its service name) grants
// within the role's account, limited by permissions boundaries and session policies.
enum class PrincipalMatch : uint8_t { kNone, kAccount, kRole, kExact };

struct Statement {
  enum class Effect : uint8_t { kAllow, kDeny };

  std::string sid;  // empty when the statement has none
  Effect effect = Effect::kAllow;

  bool has_principal = false;  // Principal or NotPrincipal present
  bool not_principal = false;
  std::vector<PrincipalEntry> principals;

  bool not_action = false;
  std::vector<Pattern> actions;  // case-insensitive, wildcards, no variables

  bool has_resource = false;  // false only in trust policies: every resource matches
  bool not_resource = false;
  std::vector<Pattern> resources;  // case-sensitive, wildcards, variables in 2012-10-17

  std::vector<Condition> conditions;  // ANDed

  // `action` ("secretsmanager:GetSecretValue") is in Action / not in NotAction.
  bool MatchesAction(std::string_view action) const;
  // `resource` (an ARN or "*") is in Resource / not in NotResource.
  bool MatchesResource(std::string_view resource, const ContextMap& context) const;
  // How the caller (an IAM principal, or an AWS service when `service_principal` is not
  // empty) matches Principal/NotPrincipal. A statement without either matches kExact.
  // NotPrincipal excludes a caller only when every name it goes by is listed: a user's
  // ARN and its account; a session's ARN, its role and its account (AWS's rule).
  PrincipalMatch MatchPrincipal(const aws::Principal& caller,
                                std::string_view service_principal) const;
  bool ConditionsHold(const ContextMap& context) const;
};

struct Policy {
  PolicyType type = PolicyType::kIdentity;
  LanguageVersion version = LanguageVersion::k2008_10_17;
  std::string id;  // the document's Id element, if any
  std::vector<Statement> statements;
};

// Parses, validates and compiles a policy document. Errors are MalformedPolicyDocument
// (HTTP 400) with IAM's messages, checked in IAM's order:
//   "Syntax errors in policy." (not JSON, unknown or mistyped elements, missing Effect or
//     Statement, Action with NotAction, unknown Version, unknown condition operator): these
//     words alone, naming neither the fault nor where it is, as IAM answers
//   "Policy document must be version 2012-10-17 or greater." (require_version_2012)
//   "The policy failed legacy parsing" (Effect not capitalised as Allow/Deny, malformed
//     Date condition value, resource ARNs with "::" and fewer than six parts)
//   "Statement IDs (SID) in a single policy must be unique." (identity, session, trust)
//   "Policy document should not specify a principal." (identity, session)
//   "Missing required field Principal" (resource, trust, key)
//   "Policy statement must contain actions."
//   "Policy statement must contain resources." / "Has prohibited field Resource" (trust);
//     null items of a Resource/NotResource list are dropped, as IAM accepts them, and a
//     list of nulls alone counts as empty (berth's choice: what IAM does is not known)
//   "Resource <r> must be in ARN format or \"*\"." and the other resource-format messages
//   "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
//     "Actions/Condition can contain only one colon.", "Vendor <v> is not valid"
//   "AssumeRole policy may only specify STS AssumeRole actions." (trust)
//   "Invalid principal in policy: \"AWS\":\"<value>\"" (also "SERVICE", ...)
// Services whose error code differs (Secrets Manager, KMS: MalformedPolicyDocumentException)
// rename the code. Size limits: see ParseOptions.
Result<std::shared_ptr<const Policy>> ParsePolicy(std::string_view json, PolicyType type,
                                                  const ParseOptions& options = {});

// Number of characters IAM counts against a size limit: all but white space (UTF-8
// continuation bytes are not counted, so a character is one whatever its encoding).
size_t PolicySize(std::string_view json);

}  // namespace berth::iam
