#include "iam/access_control.h"

#include <fmt/format.h>

#include "common/arn.h"
#include "common/strings.h"
#include "iam/authorizer.h"
#include "iam/policy.h"

namespace berth::iam {

Status ValidatePolicyDocument(std::string_view document, PolicyUse use) {
  ParseOptions options;
  PolicyType type = PolicyType::kIdentity;
  switch (use) {
    case PolicyUse::kUserInline: options.max_size = 2048; break;
    case PolicyUse::kRoleInline: options.max_size = 10240; break;
    case PolicyUse::kGroupInline: options.max_size = 5120; break;
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
  bool exists = false;  // false: no such user or role (any more)
  std::string id;       // its unique id (AIDA.../AROA...)
  std::vector<NamedPolicy> policies;
  // Its permissions boundary; a boundary whose policy is gone allows nothing.
  std::optional<NamedPolicy> boundary;
  Tags tags;
};

AccessControl::AccessControl(Service& iam, IdentityStore& identities, const Clock& clock)
    : iam_(iam), identities_(identities), clock_(clock) {
  iam_watch_ = iam_.WatchChanges([this] { principals_.Clear(); });
}

AccessControl::~AccessControl() { iam_watch_.reset(); }

Result<std::shared_ptr<const AccessControl::NamedPolicies>> AccessControl::IdentityPoliciesOf(
    PrincipalType type, const std::string& account, const std::string& owner) {
  std::string key = fmt::format("{}/{}/{}", type == PrincipalType::kUser ? "user" : "role",
                                account, ToLower(owner));
  if (auto hit = principals_.Find(key)) return hit;
  uint64_t generation = principals_.Generation();
  auto loaded = std::make_shared<NamedPolicies>();
  std::string boundary_arn;
  if (type == PrincipalType::kUser) {
    auto user = iam_.GetUser(account, owner);
    if (user) {
      loaded->exists = true;
      loaded->id = user->id;
      boundary_arn = user->permissions_boundary;
      loaded->tags = user->tags;
    } else if (user.error().code != "NoSuchEntity") {
      return std::unexpected(user.error());
    }
  } else {
    auto role = iam_.GetRole(account, owner);
    if (role) {
      loaded->exists = true;
      loaded->id = role->id;
      boundary_arn = role->permissions_boundary;
      loaded->tags = role->tags;
    } else if (role.error().code != "NoSuchEntity") {
      return std::unexpected(role.error());
    }
  }
  std::string label = fmt::format("{}/{}", type == PrincipalType::kUser ? "user" : "role", owner);
  if (loaded->exists) {
    for (const auto& inline_policy : BERTH_TRY(iam_.InlinePolicies(account, type, owner))) {
      auto compiled = BERTH_TRY(Compiled(inline_policy.document, int(PolicyType::kIdentity)));
      loaded->policies.push_back({fmt::format("{}/inline/{}", label, inline_policy.name), compiled});
    }
    for (const auto& [arn, document] :
         BERTH_TRY(iam_.AttachedPolicyDocuments(account, type, owner))) {
      loaded->policies.push_back({arn, BERTH_TRY(Compiled(document, int(PolicyType::kIdentity)))});
    }
    // A user's groups' policies are the user's too.
    if (type == PrincipalType::kUser) {
      for (const auto& group : BERTH_TRY(iam_.GroupsOfUser(account, owner))) {
        for (const auto& p : BERTH_TRY(iam_.InlinePolicies(account, PrincipalType::kGroup,
                                                           group.name))) {
          loaded->policies.push_back({fmt::format("group/{}/inline/{}", group.name, p.name),
                                      BERTH_TRY(Compiled(p.document, int(PolicyType::kIdentity)))});
        }
        for (const auto& [arn, document] :
             BERTH_TRY(iam_.AttachedPolicyDocuments(account, PrincipalType::kGroup, group.name))) {
          loaded->policies.push_back(
              {arn, BERTH_TRY(Compiled(document, int(PolicyType::kIdentity)))});
        }
      }
    }
  }
  if (!boundary_arn.empty()) {
    static const auto kNothing = std::make_shared<const Policy>();
    auto policy = iam_.GetPolicy(boundary_arn);
    std::shared_ptr<const Policy> compiled = kNothing;
    if (policy) {
      for (const auto& v : policy->versions) {
        if (v.is_default) compiled = BERTH_TRY(Compiled(v.document, int(PolicyType::kIdentity)));
      }
    } else if (policy.error().code != "NoSuchEntity") {
      return std::unexpected(policy.error());
    }
    loaded->boundary = NamedPolicy{boundary_arn, std::move(compiled)};
  }
  principals_.Put(std::move(key), 0, generation, loaded);
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

Result<bool> AccessControl::AddCallerPolicies(AuthzRequest& request, PolicySet& set) {
  const aws::Principal& p = request.principal;
  if (p.kind == aws::Principal::Kind::kRoot) return true;
  const bool federated = p.kind == aws::Principal::Kind::kFederatedUser;
  const bool user = p.kind == aws::Principal::Kind::kUser || federated;
  auto policies =
      BERTH_TRY(IdentityPoliciesOf(user ? PrincipalType::kUser : PrincipalType::kRole, p.account,
                                   p.name));
  // Credentials belong to one user or role, named by its unique id: once it is
  // deleted (even if another is created under its name) they grant nothing.
  std::string_view id = federated ? std::string_view(p.parent_id) : std::string_view(p.user_id);
  if (!user) id = id.substr(0, id.find(':'));
  if (!policies->exists || policies->id != id) return false;
  set.shared_identity = {policies, &policies->policies};  // shares the cached list
  if (policies->boundary) set.permissions_boundary.push_back(*policies->boundary);
  for (const auto& [key, value] : policies->tags) {
    request.context["aws:PrincipalTag/" + key] = {value};
  }
  if (!user || federated) {
    std::string session_policy = BERTH_TRY(identities_.GetSessionPolicy(p.access_key_id));
    if (!session_policy.empty()) {
      set.session.push_back(
          {"session", BERTH_TRY(Compiled(session_policy, int(PolicyType::kSession)))});
    } else if (federated) {
      // A federated user without a session policy has no permissions (AWS).
      static const auto kNothing = std::make_shared<const Policy>();
      set.session.push_back({"session", kNothing});
    }
  }
  return true;
}

namespace {
// The denial of a caller whose user or role no longer exists.
std::unexpected<Error> PrincipalGone(const AuthzRequest& request, std::string_view code) {
  Decision d;
  d.reason = Decision::Reason::kIdentity;
  return Fail(std::string(code), d.Message(request), 403);
}
}  // namespace

Status AccessControl::Authorize(const aws::RequestContext& ctx, const std::string& action,
                                const std::string& resource, const ResourceContext& res) {
  const aws::Principal& p = ctx.caller;
  // As in AWS: temporary credentials that are not a role's (GetSessionToken
  // without MFA, GetFederationToken) cannot call IAM at all.
  if (p.expiration && p.kind != aws::Principal::Kind::kAssumedRole && action.size() > 4 &&
      EqualsIgnoreCase(std::string_view(action).substr(0, 4), "iam:")) {
    return Fail("InvalidClientTokenId", "The security token included in the request is invalid",
                403);
  }
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
  AddGlobalConditionKeys(request, ctx.source_ip, ctx.secure_transport, ctx.now);
  request.context.SetBase(&res.condition_keys);

  PolicySet set;
  if (!BERTH_TRY(AddCallerPolicies(request, set))) {
    return PrincipalGone(request, "AccessDeniedException");
  }
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

Status AccessControl::AuthorizeOperator(const aws::RequestContext& ctx, const std::string& action,
                                        const std::string& operator_account) const {
  const aws::Principal& p = ctx.caller;
  if (p.kind == aws::Principal::Kind::kRoot && p.account == operator_account) return {};
  AuthzRequest request;
  request.principal = p;
  request.action = action;
  request.resource = "arn:aws:berth:::account";
  return Fail("AccessDeniedException",
              Decision{}.Message(request) +
                  " because only the operator account's root may manage accounts",
              403);
}

Status AccessControl::CheckTrust(const aws::Principal* caller, const std::string& service,
                                 const Role& role, const std::string& external_id,
                                 const std::string& source_ip, bool secure_transport) {
  // The bound document names the principals the role's owner meant, by unique id.
  const std::string& document =
      role.bound_trust_policy.empty() ? role.trust_policy : role.bound_trust_policy;
  auto trust = BERTH_TRY(Compiled(document, int(PolicyType::kTrust)));
  AuthzRequest request;
  request.action = "sts:AssumeRole";
  request.resource = role.arn;
  request.resource_account = role.arn.substr(13, 12);  // arn:aws:iam::<12 digits>:role/...
  PolicySet caller_policies;
  if (caller) {
    request.principal = *caller;
    if (!BERTH_TRY(AddCallerPolicies(request, caller_policies))) {
      return PrincipalGone(request, "AccessDenied");
    }
  } else {
    request.service_principal = service;
  }
  AddGlobalConditionKeys(request, source_ip, secure_transport, clock_.Now());
  if (!external_id.empty()) request.context["sts:ExternalId"] = {external_id};
  Decision decision = EvaluateTrust(request, *trust, caller_policies);
  if (decision.allowed()) return {};
  return Fail("AccessDenied", decision.Message(request), 403);
}

Result<BoundPolicy> AccessControl::BindPolicy(std::string_view document, const std::string& code,
                                              const std::string& invalid_message) {
  auto bound = BindPrincipals(document, [this](std::string_view arn) {
    return iam_.PrincipalId(arn);
  });
  if (!bound && bound.error().code == "MalformedPolicyDocument") {
    return Fail(code, invalid_message);
  }
  return bound;
}

std::string AccessControl::ShowPolicy(const std::string& document,
                                      const std::vector<std::pair<std::string, std::string>>& ids) {
  return ShowBoundPrincipals(document, ids,
                             [this](std::string_view arn) -> std::optional<std::string> {
                               auto id = iam_.PrincipalId(arn);
                               return id ? *id : std::nullopt;
                             });
}

Result<SimulationPage> AccessControl::Simulate(const SimulationInput& input, TimePoint now) {
  if (!input.resource_policy.empty() && input.caller_arn.empty() && !input.principal) {
    return Fail("InvalidInput", "CallerArn is required when ResourcePolicy is given.");
  }
  PolicySet set;
  aws::Principal principal;
  // The caller's own keys (aws:PrincipalTag/*), copied into every pair's request.
  ContextMap caller_keys;
  if (input.principal) {
    principal = *input.principal;
    AuthzRequest probe;
    probe.principal = principal;
    if (!BERTH_TRY(AddCallerPolicies(probe, set))) {
      return Fail("NoSuchEntity", fmt::format("The principal {} cannot be found.", principal.arn),
                  404);
    }
    caller_keys = probe.context;
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
  // Only the asked-for page of (action, resource) pairs is evaluated: a request's
  // work is bounded by max_items, however many pairs the input names.
  const size_t total = input.actions.size() * resources.size();
  if (input.first > total || (input.first == total && total > 0)) {
    return Fail("InvalidInput", "Invalid Marker.");
  }
  const size_t end = std::min(total, input.first + std::max<size_t>(1, input.max_items));
  SimulationPage page;
  page.truncated = end < total;
  page.next = end;
  std::vector<SimulationResult>& out = page.results;
  out.reserve(end - input.first);
  for (size_t pair = input.first; pair < end; ++pair) {
    const std::string& action = input.actions[pair / resources.size()];
    const std::string& resource = resources[pair % resources.size()];
    {
      AuthzRequest request;
      request.principal = principal;
      request.action = action;
      request.resource = resource;
      request.resource_account = input.resource_owner.empty() ? principal.account : input.resource_owner;
      AddGlobalConditionKeys(request, "", false, now);
      for (const auto& [k, v] : caller_keys) request.context[k] = v;
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
        } else if (ref.policy_id.starts_with("group/")) {
          type = "group";
        }
        r.matched.push_back({ref.policy_id, type});
      }
      out.push_back(std::move(r));
    }
  }
  return page;
}

}  // namespace berth::iam
