#include "iam/access_control.h"

#include <fmt/format.h>

#include "common/arn.h"
#include "common/strings.h"
#include "iam/authorizer.h"
#include "iam/policy.h"

namespace berth::iam {

namespace {
std::string RoleArnOf(const aws::Principal& p) {
  return fmt::format("arn:aws:iam::{}:role/{}", p.account, p.name);
}
}  // namespace

Status ValidatePolicyDocument(std::string_view document, PolicyUse use) {
  ParseOptions options;
  PolicyType type = PolicyType::kIdentity;
  switch (use) {
    case PolicyUse::kUserInline: options.max_size = 2048; break;
    case PolicyUse::kRoleInline: options.max_size = 10240; break;
    case PolicyUse::kManaged:
      options.max_size = 6144;
      options.require_version_2012 = true;
      break;
    case PolicyUse::kTrust:
      options.max_size = 2048;
      type = PolicyType::kTrust;
      break;
  }
  auto parsed = ParsePolicy(document, type, options);
  if (!parsed) return Fail(parsed.error());
  return {};
}

struct AccessControl::NamedPolicies {
  std::vector<NamedPolicy> policies;
};

AccessControl::AccessControl(Service& iam, IdentityStore& identities, const Clock& clock)
    : iam_(iam), identities_(identities), clock_(clock) {
  iam_watch_ = iam_.WatchChanges([this] {
    std::lock_guard lock(principals_mu_);
    ++principals_generation_;
    principals_.clear();
  });
}

AccessControl::~AccessControl() { iam_watch_.reset(); }

Result<std::shared_ptr<const AccessControl::NamedPolicies>> AccessControl::IdentityPoliciesOf(
    PrincipalType type, const std::string& account, const std::string& owner) {
  std::string key = fmt::format("{}/{}/{}", type == PrincipalType::kUser ? "user" : "role",
                                account, ToLower(owner));
  uint64_t generation;
  {
    std::lock_guard lock(principals_mu_);
    if (auto it = principals_.find(key); it != principals_.end()) return it->second;
    generation = principals_generation_;
  }
  auto loaded = std::make_shared<NamedPolicies>();
  std::string label = fmt::format("{}/{}", type == PrincipalType::kUser ? "user" : "role", owner);
  for (const auto& inline_policy : BERTH_TRY(iam_.InlinePolicies(account, type, owner))) {
    auto compiled = BERTH_TRY(Compiled(inline_policy.document, int(PolicyType::kIdentity)));
    loaded->policies.push_back({fmt::format("{}/inline/{}", label, inline_policy.name), compiled});
  }
  for (const auto& [arn, document] : BERTH_TRY(iam_.AttachedPolicyDocuments(account, type, owner))) {
    loaded->policies.push_back({arn, BERTH_TRY(Compiled(document, int(PolicyType::kIdentity)))});
  }
  std::lock_guard lock(principals_mu_);
  if (generation == principals_generation_) principals_.emplace(key, loaded);
  return std::shared_ptr<const NamedPolicies>(loaded);
}

Result<std::shared_ptr<const Policy>> AccessControl::Compiled(std::string_view document, int type) {
  if (type < 0 || type >= kPolicyTypes) return InternalFailure("unknown policy type");
  CompiledMap& cache = cache_[type];
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = cache.find(document); it != cache.end()) return it->second;
  }
  auto policy = ParsePolicy(document, static_cast<PolicyType>(type));
  if (!policy) {
    // Stored documents were validated when written; one that no longer parses
    // is the server's fault, not the caller's.
    return InternalFailure(fmt::format("stored policy does not parse: {}", policy.error().message));
  }
  std::lock_guard lock(cache_mu_);
  if (cache_size_ > 4096) {  // bounded: at worst documents are re-parsed
    for (auto& m : cache_) m.clear();
    cache_size_ = 0;
  }
  if (cache.emplace(std::string(document), *policy).second) ++cache_size_;
  return *policy;
}

Status AccessControl::AddCallerPolicies(const aws::Principal& p, PolicySet& set) {
  if (p.kind == aws::Principal::Kind::kUser) {
    auto policies = BERTH_TRY(IdentityPoliciesOf(PrincipalType::kUser, p.account, p.name));
    set.shared_identity = {policies, &policies->policies};  // shares the cached list
  } else if (p.kind == aws::Principal::Kind::kAssumedRole) {
    auto policies = BERTH_TRY(IdentityPoliciesOf(PrincipalType::kRole, p.account, p.name));
    set.shared_identity = {policies, &policies->policies};
    std::string session_policy = BERTH_TRY(identities_.GetSessionPolicy(p.access_key_id));
    if (!session_policy.empty()) {
      set.session.push_back(
          {"session", BERTH_TRY(Compiled(session_policy, int(PolicyType::kSession)))});
    }
  }
  return {};
}

Status AccessControl::Authorize(const aws::RequestContext& ctx, const std::string& action,
                                const std::string& resource, const ResourceContext& res) {
  const aws::Principal& p = ctx.caller;
  std::string resource_account = res.account.empty() ? p.account : res.account;
  // Fast path: the root of an account may do anything to its own account's
  // resources when no resource policy is involved.
  if (p.kind == aws::Principal::Kind::kRoot && resource_account == p.account && res.policy.empty()) {
    return {};
  }
  AuthzRequest request;
  request.principal = p;
  request.action = action;
  request.resource = resource;
  request.resource_account = resource_account;
  AddGlobalConditionKeys(request, ctx.source_ip, /*secure_transport=*/false, ctx.now);
  request.context.SetBase(&res.condition_keys);

  PolicySet set;
  BERTH_CHECK(AddCallerPolicies(p, set));
  if (!res.policy.empty()) {
    PolicyType type = res.is_key_policy ? PolicyType::kKeyPolicy : PolicyType::kResource;
    set.resource = NamedPolicy{res.is_key_policy ? "key policy" : "resource",
                               BERTH_TRY(Compiled(res.policy, int(type)))};
    set.resource_is_key_policy = res.is_key_policy;
  }
  Decision decision = Evaluate(request, set);
  if (decision.allowed()) return {};
  return Fail("AccessDeniedException", decision.Message(request), 403);
}

Status AccessControl::CheckTrust(const aws::Principal* caller, const std::string& service,
                                 const Role& role, const std::string& external_id,
                                 const std::string& source_ip) {
  auto trust = BERTH_TRY(Compiled(role.trust_policy, int(PolicyType::kTrust)));
  AuthzRequest request;
  request.action = "sts:AssumeRole";
  request.resource = role.arn;
  request.resource_account = role.arn.substr(13, 12);  // arn:aws:iam::<12 digits>:role/...
  PolicySet caller_policies;
  if (caller) {
    request.principal = *caller;
    BERTH_CHECK(AddCallerPolicies(*caller, caller_policies));
  } else {
    request.service_principal = service;
  }
  AddGlobalConditionKeys(request, source_ip, /*secure_transport=*/false, clock_.Now());
  if (!external_id.empty()) request.context["sts:ExternalId"] = {external_id};
  Decision decision = EvaluateTrust(request, *trust, caller_policies);
  if (decision.allowed()) return {};
  return Fail("AccessDenied", decision.Message(request), 403);
}

Result<std::vector<SimulationResult>> AccessControl::Simulate(const SimulationInput& input,
                                                              TimePoint now) {
  if (!input.resource_policy.empty() && input.caller_arn.empty() && !input.principal) {
    return Fail("InvalidInput", "CallerArn is required when ResourcePolicy is given.");
  }
  PolicySet set;
  aws::Principal principal;
  if (input.principal) {
    principal = *input.principal;
    BERTH_CHECK(AddCallerPolicies(principal, set));
  } else {
    principal.kind = aws::Principal::Kind::kUser;
    principal.arn = input.caller_arn;
    auto arn = ParseArn(input.caller_arn);
    if (arn) {
      principal.account = arn->account;
      principal.name = arn->resource.substr(arn->resource.rfind('/') + 1);
    }
  }
  auto parse_inputs = [&](const std::vector<std::string>& docs, std::string_view label,
                          std::vector<NamedPolicy>& out) -> Status {
    for (size_t i = 0; i < docs.size(); ++i) {
      auto parsed = ParsePolicy(docs[i], PolicyType::kIdentity);
      if (!parsed) return Fail(parsed.error());
      out.push_back({fmt::format("{}.{}", label, i + 1), *parsed});
    }
    return {};
  };
  BERTH_CHECK(parse_inputs(input.identity_policies, "PolicyInputList", set.identity));
  BERTH_CHECK(parse_inputs(input.boundary_policies, "PermissionsBoundaryPolicyInputList",
                           set.permissions_boundary));
  if (!input.resource_policy.empty()) {
    auto parsed = ParsePolicy(input.resource_policy, PolicyType::kResource);
    if (!parsed) return Fail(parsed.error());
    set.resource = NamedPolicy{"ResourcePolicy", *parsed};
  }
  std::vector<std::string> resources = input.resources;
  if (resources.empty()) resources.push_back("*");
  std::vector<SimulationResult> out;
  for (const auto& action : input.actions) {
    for (const auto& resource : resources) {
      AuthzRequest request;
      request.principal = principal;
      request.action = action;
      request.resource = resource;
      request.resource_account = input.resource_owner.empty() ? principal.account : input.resource_owner;
      AddGlobalConditionKeys(request, "", false, now);
      for (const auto& [k, v] : input.context) request.context[k] = v;
      Decision d;
      if (principal.kind == aws::Principal::Kind::kRoot && set.identity.empty() &&
          !set.shared_identity && !set.resource) {
        d.effect = Decision::kAllow;
      } else {
        d = Evaluate(request, set);
      }
      SimulationResult r{action, resource,
                         d.effect == Decision::kAllow          ? "allowed"
                         : d.effect == Decision::kExplicitDeny ? "explicitDeny"
                                                               : "implicitDeny",
                         {}};
      for (const auto& ref : d.deciding) {
        std::string type = "none";
        if (ref.source == PolicySource::kResource) {
          type = "resource";
        } else if (ref.policy_id.starts_with("arn:")) {
          type = "user-managed";
        } else if (ref.policy_id.starts_with("user/")) {
          type = "user";
        } else if (ref.policy_id.starts_with("role/")) {
          type = "role";
        }
        r.matched.push_back({ref.policy_id, type});
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace berth::iam
