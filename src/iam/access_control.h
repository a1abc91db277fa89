// The one authorization mechanism every operation goes through: gathers the
// policies that apply to a request (the caller's identity policies, its
// session policy, the resource's policy) and asks the policy engine
// (iam/authorizer.h) for the decision. Compiled policies are cached by
// document text, so a request re-parses nothing.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "aws/request_context.h"
#include "common/clock.h"
#include "common/error.h"
#include "iam/condition.h"
#include "iam/identity_store.h"
#include "iam/service.h"
#include "store/watched_cache.h"

namespace berth::iam {

class Policy;
struct PolicySet;
struct AuthzRequest;

// What a resource contributes to a decision.
struct ResourceContext {
  std::string account;         // the resource's account; empty: the caller's
  // The resource-based policy document; empty: none. A view: the document
  // (a record's own) must outlive every use of this context.
  std::string_view policy;
  bool is_key_policy = false;  // KMS: the key policy must allow
  // Extra condition keys (kms:ViaService, kms:EncryptionContext:..., ...); the request's
  // context refers to them (no copy) for the length of Authorize.
  ContextMap condition_keys;
};

// Validates a document before IAM stores it, with IAM's size limits:
// MalformedPolicyDocument or LimitExceeded.
Status ValidatePolicyDocument(std::string_view document, PolicyUse use);

// IAM's policy simulator (SimulatePrincipalPolicy / SimulateCustomPolicy):
// how a user finds out why a request is or is not allowed.
struct SimulationInput {
  std::optional<aws::Principal> principal;   // whose stored policies apply (PrincipalPolicy)
  std::vector<std::string> identity_policies;  // PolicyInputList, added to the stored ones
  std::vector<std::string> boundary_policies;  // PermissionsBoundaryPolicyInputList
  std::vector<std::string> actions;
  std::vector<std::string> resources;  // empty: "*"
  std::string resource_policy;         // empty: none
  std::string resource_owner;          // account of the resources; empty: the caller's
  std::string caller_arn;              // who calls (needed with a resource policy)
  std::map<std::string, std::vector<std::string>> context;
  // The page of (action, resource) pairs to evaluate, in order (actions major):
  // pairs [first, first + max_items).
  size_t first = 0;
  size_t max_items = 100;
};

struct SimulationResult {
  std::string action, resource;
  std::string decision;  // "allowed" | "explicitDeny" | "implicitDeny"
  struct Matched {
    std::string policy_id;
    std::string policy_type;  // "user" | "role" | "user-managed" | "resource" | "none"
  };
  std::vector<Matched> matched;
};

struct SimulationPage {
  std::vector<SimulationResult> results;
  bool truncated = false;
  size_t next = 0;  // SimulationInput::first of the next page
};

class AccessControl {
 public:
  AccessControl(Service& iam, IdentityStore& identities, const Clock& clock);
  ~AccessControl();

  // OK when the caller may perform `action` on `resource`; otherwise
  // AccessDeniedException (AccessDenied on Query) with AWS's message.
  // Temporary credentials other than a role's (GetSessionToken,
  // GetFederationToken) get InvalidClientTokenId for every iam: action.
  Status Authorize(const aws::RequestContext& ctx, const std::string& action,
                   const std::string& resource, const ResourceContext& res = {});

  // berth's operator API (`action` is "berth:CreateAccount", ... on the
  // accounts, arn:aws:berth:::account): only the root of `operator_account`
  // may call it, whatever policies say. AccessDeniedException otherwise,
  // worded as every other denial, with that reason.
  Status AuthorizeOperator(const aws::RequestContext& ctx, const std::string& action,
                           const std::string& operator_account) const;

  // May `caller` (an IAM principal) or `service` (e.g. ecs-tasks.amazonaws.com,
  // when `caller` is null) assume `role`? The trust policy decides, with the
  // caller's identity policies where AWS requires them. AccessDenied if not.
  // `source_ip` and `secure_transport` are aws:SourceIp and aws:SecureTransport.
  Status CheckTrust(const aws::Principal* caller, const std::string& service, const Role& role,
                    const std::string& external_id, const std::string& source_ip,
                    bool secure_transport = false);

  // Binds the IAM users and roles a resource policy names to their unique ids
  // (iam::BindPrincipals with this server's entities), so that the stored
  // policy keeps meaning them when they are deleted and names re-used. A user
  // or role that does not exist: `code` ("MalformedPolicyDocumentException")
  // with `invalid_message`.
  Result<BoundPolicy> BindPolicy(std::string_view document, const std::string& code,
                                 const std::string& invalid_message);
  // The document as IAM shows it: bound principals that are gone appear as
  // their unique ids.
  std::string ShowPolicy(const std::string& document,
                         const std::vector<std::pair<std::string, std::string>>& ids);

  // Evaluates every (action, resource) pair as Authorize would, with the
  // deciding statements, one page at a time. Input documents that do not parse
  // are MalformedPolicyDocument; InvalidInput for a resource policy without a
  // caller or a page past the end.
  Result<SimulationPage> Simulate(const SimulationInput& input, TimePoint now);

 private:
  Result<std::shared_ptr<const Policy>> Compiled(std::string_view document, int type);
  // The caller's (request.principal's) identity, boundary and session
  // policies, and its aws:PrincipalTag/* keys. False when the caller's user or
  // role is gone (deleted, or re-created: another unique id).
  Result<bool> AddCallerPolicies(AuthzRequest& request, PolicySet& set);

  Service& iam_;
  IdentityStore& identities_;
  const Clock& clock_;
  // Compiled documents, one map per PolicyType, looked up by the document's
  // text without copying it.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using CompiledMap =
      std::unordered_map<std::string, std::shared_ptr<const Policy>, TextHash, std::equal_to<>>;
  static constexpr int kPolicyTypes = 8;
  std::mutex cache_mu_;
  std::array<CompiledMap, kPolicyTypes> cache_;
  size_t cache_size_ = 0;

  // The compiled identity policies of each user and role ("user/<acct>/<name>"),
  // all dropped whenever any IAM entity changes (Service::WatchChanges: at
  // once for this process's writes, by watch for others', and on a watch
  // reset): what one principal's policies are depends on groups, managed
  // policies and boundaries stored under other keys, so a change cannot be
  // mapped to the entries it affects. Unwatched for that reason: the store
  // watch is Service's.
  struct NamedPolicies;
  Result<std::shared_ptr<const NamedPolicies>> IdentityPoliciesOf(PrincipalType type,
                                                                  const std::string& account,
                                                                  const std::string& owner);
  store::WatchedCache<NamedPolicies> principals_;
  std::unique_ptr<store::WatchHandle> iam_watch_;
};

}  // namespace berth::iam
