#include "iam/authorizer.h"

#include <fmt/format.h>

#include <chrono>
#include <utility>

namespace berth::iam {

namespace {

enum class Mode : uint8_t {
  kOrdinary,   // resource policy optional; same-account allows are a union
  kKeyPolicy,  // the resource policy must allow; the account principal delegates to IAM
  kTrust,      // like kKeyPolicy, and root may not assume roles; denials give no reason
};

// A statement that matched the request.
struct Candidate {
  const std::string* policy_id;
  const Statement* statement;
  size_t index;
  PolicySource source;
  PrincipalMatch match;
  bool deny;
};

struct Tally {
  bool deny = false;
  bool identity_allow = false;
  bool boundary_allow = false;
  bool session_allow = false;
  bool resource_exact = false;    // direct grant: own ARN, "*", service
  bool resource_role = false;     // grant to the caller's role ARN
  bool resource_account = false;  // grant to the caller's account
  bool ResourceAny() const { return resource_exact || resource_role || resource_account; }
};

void Scan(const Policy& policy, const std::string& id, PolicySource source,
          const AuthzRequest& request, Tally& tally, std::vector<Candidate>& out) {
  const bool check_principal = source == PolicySource::kResource;
  for (size_t i = 0; i < policy.statements.size(); ++i) {
    const Statement& st = policy.statements[i];
    if (!st.MatchesAction(request.action)) continue;
    if (!st.MatchesResource(request.resource, request.context)) continue;
    PrincipalMatch match = PrincipalMatch::kExact;
    if (check_principal) {
      match = st.MatchPrincipal(request.principal, request.service_principal);
      if (match == PrincipalMatch::kNone) continue;
    }
    if (!st.ConditionsHold(request.context)) continue;
    const bool deny = st.effect == Statement::Effect::kDeny;
    if (deny) {
      tally.deny = true;
    } else {
      switch (source) {
        case PolicySource::kIdentity:
          tally.identity_allow = true;
          break;
        case PolicySource::kBoundary:
          tally.boundary_allow = true;
          break;
        case PolicySource::kSession:
          tally.session_allow = true;
          break;
        case PolicySource::kResource:
          if (match == PrincipalMatch::kExact) tally.resource_exact = true;
          if (match == PrincipalMatch::kRole) tally.resource_role = true;
          if (match == PrincipalMatch::kAccount) tally.resource_account = true;
          break;
      }
    }
    out.push_back(Candidate{&id, &st, i, source, match, deny});
  }
}

Decision::Reason ReasonOf(PolicySource source) {
  switch (source) {
    case PolicySource::kIdentity:
      return Decision::Reason::kIdentity;
    case PolicySource::kResource:
      return Decision::Reason::kResource;
    case PolicySource::kSession:
      return Decision::Reason::kSession;
    case PolicySource::kBoundary:
      return Decision::Reason::kBoundary;
  }
  return Decision::Reason::kNone;
}

StatementRef RefOf(const Candidate& c) {
  return StatementRef{*c.policy_id, c.statement->sid, c.index, c.source};
}

Decision Decide(const AuthzRequest& request, const PolicySet& set, const Policy* resource,
                const std::string& resource_id, Mode mode) {
  using PK = aws::Principal::Kind;
  const bool service = !request.service_principal.empty();
  const bool root = !service && request.principal.kind == PK::kRoot;
  Decision d;
  if (mode == Mode::kTrust && root) {
    d.reason = Decision::Reason::kRootAssumeRole;
    return d;
  }

  // Reused per thread: the scan itself allocates nothing once warm.
  thread_local std::vector<Candidate> candidates;
  candidates.clear();
  Tally t;
  // An AWS service has no identity, boundary or session policies: any in `set` belong to
  // no caller of this request and neither allow nor deny.
  static const PolicySet kNoCallerPolicies;
  const PolicySet& caller = service ? kNoCallerPolicies : set;
  if (caller.shared_identity) {
    for (const auto& p : *caller.shared_identity) {
      if (p.policy) Scan(*p.policy, p.id, PolicySource::kIdentity, request, t, candidates);
    }
  }
  for (const auto& p : caller.identity) {
    if (p.policy) Scan(*p.policy, p.id, PolicySource::kIdentity, request, t, candidates);
  }
  if (resource) Scan(*resource, resource_id, PolicySource::kResource, request, t, candidates);
  for (const auto& p : caller.permissions_boundary) {
    if (p.policy) Scan(*p.policy, p.id, PolicySource::kBoundary, request, t, candidates);
  }
  for (const auto& p : caller.session) {
    if (p.policy) Scan(*p.policy, p.id, PolicySource::kSession, request, t, candidates);
  }

  if (t.deny) {
    d.effect = Decision::kExplicitDeny;
    for (const auto& c : candidates) {
      if (!c.deny) continue;
      if (d.deciding.empty() && mode != Mode::kTrust) d.reason = ReasonOf(c.source);
      d.deciding.push_back(RefOf(c));
    }
    return d;
  }

  const bool same_account = request.resource_account.empty() ||
                            (!service && request.resource_account == request.principal.account);
  const bool bounded = caller.permissions_boundary.empty() || t.boundary_allow;
  const bool sessioned = caller.session.empty() || t.session_allow;
  const bool limits_allow = bounded && sessioned;
  const bool identity_ok = !service && (root || (t.identity_allow && limits_allow));

  bool allowed = false;
  bool use_identity = false, use_exact = false, use_role = false, use_account = false;
  if (service) {
    allowed = t.resource_exact;
    use_exact = true;
  } else if (mode == Mode::kOrdinary && same_account) {
    // A grant to the caller's account delegates to IAM (as in key and trust policies):
    // it adds nothing to what the identity policies allow.
    use_identity = identity_ok;
    use_exact = true;
    use_role = limits_allow;
    use_account = identity_ok;
    allowed = identity_ok || t.resource_exact || (t.resource_role && limits_allow);
  } else if (same_account) {  // key or trust policy
    use_exact = true;
    use_role = limits_allow;
    use_account = identity_ok;
    use_identity = t.resource_account && identity_ok;
    allowed = t.resource_exact || (t.resource_role && limits_allow) ||
              (t.resource_account && identity_ok);
  } else {  // cross account: both sides
    allowed = identity_ok && t.ResourceAny();
    use_identity = use_exact = use_role = use_account = true;
  }

  if (allowed) {
    d.effect = Decision::kAllow;
    for (const auto& c : candidates) {
      bool use = false;
      if (c.source == PolicySource::kIdentity) {
        use = use_identity;
      } else if (c.source == PolicySource::kResource) {
        use = (c.match == PrincipalMatch::kExact && use_exact) ||
              (c.match == PrincipalMatch::kRole && use_role) ||
              (c.match == PrincipalMatch::kAccount && use_account);
      }
      if (use) d.deciding.push_back(RefOf(c));
    }
    return d;
  }

  d.effect = Decision::kImplicitDeny;
  if (mode == Mode::kTrust) return d;
  auto limits_reason = [&] {
    return bounded ? Decision::Reason::kSession : Decision::Reason::kBoundary;
  };
  auto identity_reason = [&] {
    return t.identity_allow ? limits_reason() : Decision::Reason::kIdentity;
  };
  if (service) {
    d.reason = Decision::Reason::kResource;
  } else if (mode == Mode::kOrdinary) {
    if (!same_account) {
      d.reason = identity_ok ? Decision::Reason::kResource : identity_reason();
    } else if (t.resource_role) {
      // A grant to the caller's role, which the boundary or session policy cut: only
      // they can let it through (an identity allow would be cut the same way).
      d.reason = limits_reason();
    } else {
      d.reason = identity_reason();
    }
  } else if (!t.ResourceAny()) {
    d.reason = Decision::Reason::kResource;
  } else if (same_account && !t.resource_account) {
    // Only a grant to the caller's role, which the boundary or session policy cut.
    d.reason = limits_reason();
  } else {
    d.reason = identity_reason();
  }
  return d;
}

}  // namespace

void AddGlobalConditionKeys(AuthzRequest& request, std::string_view source_ip,
                            bool secure_transport, TimePoint now) {
  using C = ContextMap::Globals::Caller;
  ContextMap::Globals g;
  if (!request.service_principal.empty()) {
    g.caller = C::kService;
    g.service = request.service_principal;
  } else {
    const aws::Principal& p = request.principal;
    switch (p.kind) {
      case aws::Principal::Kind::kRoot:
        g.caller = C::kRoot;
        break;
      case aws::Principal::Kind::kUser:
        g.caller = C::kUser;
        break;
      case aws::Principal::Kind::kAssumedRole:
        g.caller = C::kAssumedRole;
        break;
      case aws::Principal::Kind::kFederatedUser:
        g.caller = C::kFederatedUser;
        break;
    }
    g.arn = p.arn;
    g.account = p.account;
    g.user_id = p.user_id;
    g.name = p.name;
  }
  g.source_ip = source_ip;
  g.secure_transport = secure_transport;
  g.now = now;
  request.context.SetGlobals(std::move(g));
}

std::string Decision::Message(const AuthzRequest& request) const {
  if (effect == kAllow) return {};
  if (reason == Reason::kRootAssumeRole) return "Roles may not be assumed by root accounts.";
  const std::string& who =
      request.service_principal.empty() ? request.principal.arn : request.service_principal;
  std::string out = fmt::format("User: {} is not authorized to perform: {}", who, request.action);
  if (!request.resource.empty() && request.resource != "*") {
    out += fmt::format(" on resource: {}", request.resource);
  }
  if (reason == Reason::kNone) return out;
  if (effect == kExplicitDeny) {
    std::string_view where = reason == Reason::kIdentity   ? "an identity-based policy"
                             : reason == Reason::kResource ? "a resource-based policy"
                             : reason == Reason::kSession  ? "a session policy"
                                                           : "a permissions boundary";
    out += fmt::format(" with an explicit deny in {}", where);
  } else {
    std::string_view which = reason == Reason::kIdentity   ? "identity-based policy"
                             : reason == Reason::kResource ? "resource-based policy"
                             : reason == Reason::kSession  ? "session policy"
                                                           : "permissions boundary";
    out += fmt::format(" because no {} allows the {} action", which, request.action);
  }
  return out;
}

Decision Evaluate(const AuthzRequest& request, const PolicySet& policies) {
  static const std::string kNoId;
  const Policy* resource = policies.resource ? policies.resource->policy.get() : nullptr;
  const std::string& id = policies.resource ? policies.resource->id : kNoId;
  return Decide(request, policies, resource, id,
                policies.resource_is_key_policy ? Mode::kKeyPolicy : Mode::kOrdinary);
}

Decision EvaluateTrust(const AuthzRequest& request, const Policy& trust, const PolicySet& caller) {
  static const std::string kTrustId = "trust";
  return Decide(request, caller, &trust, kTrustId, Mode::kTrust);
}

}  // namespace berth::iam
