// The one authorization mechanism every operation goes through: gathers the
// policies that apply to a request (the caller's identity policies, its
// session policy, the resource's policy) and asks the policy engine
// (iam/authorizer.h) for the decision. Compiled policies are cached by
// document text, so a request re-parses nothing.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "aws/gateway.h"
#include "common/clock.h"
#include "common/error.h"
#include "iam/identity_store.h"
#include "iam/service.h"

namespace berth::iam {

class Policy;
struct PolicySet;

// What a resource contributes to a decision.
struct ResourceContext {
  std::string account;         // the resource's account; empty: the caller's
  std::string policy;          // resource-based policy document; empty: none
  bool is_key_policy = false;  // KMS: the key policy must allow
  // Extra condition keys (kms:ViaService, kms:EncryptionContext:..., ...).
  std::map<std::string, std::vector<std::string>> condition_keys;
};

// Validates a document before IAM stores it, with IAM's size limits:
// MalformedPolicyDocument or LimitExceeded.
Status ValidatePolicyDocument(std::string_view document, PolicyUse use);

class AccessControl {
 public:
  AccessControl(Service& iam, IdentityStore& identities, const Clock& clock);
  ~AccessControl();

  // OK when the caller may perform `action` on `resource`; otherwise
  // AccessDeniedException (AccessDenied on Query) with AWS's message.
  Status Authorize(const aws::RequestContext& ctx, const std::string& action,
                   const std::string& resource, const ResourceContext& res = {});

  // May `caller` (an IAM principal) or `service` (e.g. ecs-tasks.amazonaws.com,
  // when `caller` is null) assume `role`? The trust policy decides, with the
  // caller's identity policies where AWS requires them. AccessDenied if not.
  Status CheckTrust(const aws::Principal* caller, const std::string& service, const Role& role,
                    const std::string& external_id, const std::string& source_ip);

 private:
  Result<std::shared_ptr<const Policy>> Compiled(const std::string& document, int type);
  // The caller's identity and session policies.
  Status AddCallerPolicies(const aws::Principal& p, PolicySet& set);

  Service& iam_;
  IdentityStore& identities_;
  const Clock& clock_;
  std::mutex cache_mu_;
  std::unordered_map<std::string, std::shared_ptr<const Policy>> cache_;  // by type + document
};

}  // namespace berth::iam
