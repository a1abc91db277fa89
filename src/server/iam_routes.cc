// IAM's Query protocol: form parameters in, XML out (botocore `iam` model).
#include <fmt/format.h>

#include <charconv>

#include "aws/xml.h"
#include "common/arn.h"
#include "common/strings.h"
#include "server/routes.h"

namespace berth::server {

namespace {

using aws::QueryParams;
using aws::RequestContext;
using aws::Xml;
using iam::PrincipalType;

std::string Opt(const QueryParams& p, std::string_view name, std::string fallback = "") {
  const std::string* v = p.Find(name);
  return v ? *v : fallback;
}

Result<iam::Page> PageOf(const QueryParams& p) {
  iam::Page page;
  page.marker = Opt(p, "Marker");
  if (const std::string* m = p.Find("MaxItems")) {
    int n = 0;
    auto [end, err] = std::from_chars(m->data(), m->data() + m->size(), n);
    if (err != std::errc() || end != m->data() + m->size() || n < 1 || n > 1000) {
      return Fail("ValidationError",
                  fmt::format("1 validation error detected: Value '{}' at 'maxItems' failed to satisfy "
                              "constraint: Member must have value between 1 and 1000",
                              m->substr(0, 32)));
    }
    page.max_items = n;
  }
  return page;
}

void UserXml(Xml& x, const iam::User& u) {
  x.Text("Path", u.path).Text("UserName", u.name).Text("UserId", u.id).Text("Arn", u.arn)
      .Text("CreateDate", FormatIso8601(u.created));
}

void RoleXml(Xml& x, const iam::Role& r) {
  x.Text("Path", r.path).Text("RoleName", r.name).Text("RoleId", r.id).Text("Arn", r.arn)
      .Text("CreateDate", FormatIso8601(r.created))
      .Text("AssumeRolePolicyDocument", UriEncode(r.trust_policy));
  if (!r.description.empty()) x.Text("Description", r.description);
  x.Text("MaxSessionDuration", std::to_string(r.max_session_duration));
}

void PolicyXml(Xml& x, const iam::ManagedPolicy& p) {
  x.Text("PolicyName", p.name).Text("PolicyId", p.id).Text("Arn", p.arn).Text("Path", p.path)
      .Text("DefaultVersionId", p.default_version_id)
      .Text("AttachmentCount", std::to_string(p.attachment_count))
      .Text("PermissionsBoundaryUsageCount", "0").Text("IsAttachable", "true");
  if (!p.description.empty()) x.Text("Description", p.description);
  x.Text("CreateDate", FormatIso8601(p.created)).Text("UpdateDate", FormatIso8601(p.updated));
}

void VersionXml(Xml& x, const iam::PolicyVersion& v) {
  x.Text("Document", UriEncode(v.document)).Text("VersionId", v.version_id)
      .Text("IsDefaultVersion", v.is_default ? "true" : "false")
      .Text("CreateDate", FormatIso8601(v.created));
}

template <class T, class Each>
void ListXml(Xml& x, std::string_view element, const iam::Listed<T>& listed, Each each) {
  x.Open(element);
  for (const auto& item : listed.items) {
    x.Open("member");
    each(x, item);
    x.Close("member");
  }
  x.Close(element);
  x.Text("IsTruncated", listed.truncated ? "true" : "false");
  if (listed.truncated) x.Text("Marker", listed.marker);
}

// Which account an operation acts in: the caller's own.
const std::string& Acct(const RequestContext& ctx) { return ctx.caller.account; }

}  // namespace

aws::QueryService IamRoutes(IamDeps deps) {
  aws::QueryService svc;
  svc.signing_name = "iam";
  svc.version = "2010-05-08";
  svc.xmlns = "https://iam.amazonaws.com/doc/2010-05-08/";
  auto& ops = svc.operations;
  iam::Service* iam = deps.iam;
  iam::IdentityStore* ids = deps.identities;
  Authorize authorize = deps.authorize;

  auto user_arn = [](const RequestContext& ctx, const std::string& name) {
    return fmt::format("arn:aws:iam::{}:user/{}", Acct(ctx), name);
  };
  auto role_arn = [](const RequestContext& ctx, const std::string& name) {
    return fmt::format("arn:aws:iam::{}:role/{}", Acct(ctx), name);
  };

  // ---- users
  ops["CreateUser"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("UserName"));
    BERTH_CHECK(authorize(ctx, "iam:CreateUser", user_arn(ctx, name)));
    auto u = BERTH_TRY(iam->CreateUser(Acct(ctx), name, Opt(p, "Path", "/")));
    Xml x;
    x.Open("User");
    UserXml(x, u);
    x.Close("User");
    return x.Take();
  };
  ops["GetUser"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    std::string name = Opt(p, "UserName");
    if (name.empty()) {
      if (ctx.caller.kind != aws::Principal::Kind::kUser) {
        return Fail("ValidationError", "Must specify userName when calling with non-User credentials");
      }
      name = ctx.caller.name;
    }
    BERTH_CHECK(authorize(ctx, "iam:GetUser", user_arn(ctx, name)));
    auto u = BERTH_TRY(iam->GetUser(Acct(ctx), name));
    Xml x;
    x.Open("User");
    UserXml(x, u);
    x.Close("User");
    return x.Take();
  };
  ops["ListUsers"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    BERTH_CHECK(authorize(ctx, "iam:ListUsers", fmt::format("arn:aws:iam::{}:user/", Acct(ctx))));
    auto listed = BERTH_TRY(iam->ListUsers(Acct(ctx), Opt(p, "PathPrefix", "/"), BERTH_TRY(PageOf(p))));
    Xml x;
    ListXml(x, "Users", listed, UserXml);
    return x.Take();
  };
  ops["DeleteUser"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("UserName"));
    BERTH_CHECK(authorize(ctx, "iam:DeleteUser", user_arn(ctx, name)));
    auto keys = BERTH_TRY(ids->ListAccessKeys(Acct(ctx), name));
    BERTH_CHECK(iam->DeleteUser(Acct(ctx), name, !keys.empty()));
    return std::string();
  };

  // ---- access keys
  auto key_user = [](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    std::string name = Opt(p, "UserName");
    if (!name.empty()) return name;
    if (ctx.caller.kind == aws::Principal::Kind::kUser) return ctx.caller.name;
    return Fail("ValidationError",
                "berth does not manage root access keys through IAM; give UserName (root keys come "
                "from the server's --root-credentials or its credentials file)");
  };
  ops["CreateAccessKey"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(key_user(ctx, p));
    BERTH_CHECK(authorize(ctx, "iam:CreateAccessKey", user_arn(ctx, name)));
    auto user = BERTH_TRY(iam->GetUser(Acct(ctx), name));
    auto [info, secret] = BERTH_TRY(ids->CreateAccessKey(Acct(ctx), user.name, user.id));
    Xml x;
    x.Open("AccessKey").Text("UserName", info.user_name).Text("AccessKeyId", info.access_key_id)
        .Text("Status", info.status).Text("SecretAccessKey", secret)
        .Text("CreateDate", FormatIso8601(info.created)).Close("AccessKey");
    return x.Take();
  };
  ops["ListAccessKeys"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(key_user(ctx, p));
    BERTH_CHECK(authorize(ctx, "iam:ListAccessKeys", user_arn(ctx, name)));
    auto user = BERTH_TRY(iam->GetUser(Acct(ctx), name));
    auto keys = BERTH_TRY(ids->ListAccessKeys(Acct(ctx), user.name));
    Xml x;
    x.Open("AccessKeyMetadata");
    for (const auto& k : keys) {
      x.Open("member").Text("UserName", user.name).Text("AccessKeyId", k.access_key_id)
          .Text("Status", k.status).Close("member");
    }
    x.Close("AccessKeyMetadata").Text("IsTruncated", "false");
    return x.Take();
  };
  ops["UpdateAccessKey"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(key_user(ctx, p));
    BERTH_CHECK(authorize(ctx, "iam:UpdateAccessKey", user_arn(ctx, name)));
    BERTH_CHECK(ids->UpdateAccessKey(Acct(ctx), name, BERTH_TRY(p.Required("AccessKeyId")),
                                     BERTH_TRY(p.Required("Status"))));
    return std::string();
  };
  ops["DeleteAccessKey"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(key_user(ctx, p));
    BERTH_CHECK(authorize(ctx, "iam:DeleteAccessKey", user_arn(ctx, name)));
    BERTH_CHECK(ids->DeleteAccessKey(Acct(ctx), name, BERTH_TRY(p.Required("AccessKeyId"))));
    return std::string();
  };

  // ---- roles
  ops["CreateRole"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("RoleName"));
    BERTH_CHECK(authorize(ctx, "iam:CreateRole", role_arn(ctx, name)));
    std::optional<int> max;
    if (const std::string* m = p.Find("MaxSessionDuration")) {
      int n = 0;
      auto [end, err] = std::from_chars(m->data(), m->data() + m->size(), n);
      if (err != std::errc() || end != m->data() + m->size()) {
        return Fail("ValidationError", "MaxSessionDuration must be an integer.");
      }
      max = n;
    }
    auto r = BERTH_TRY(iam->CreateRole(Acct(ctx), name, Opt(p, "Path", "/"),
                                       BERTH_TRY(p.Required("AssumeRolePolicyDocument")),
                                       Opt(p, "Description"), max));
    Xml x;
    x.Open("Role");
    RoleXml(x, r);
    x.Close("Role");
    return x.Take();
  };
  ops["GetRole"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("RoleName"));
    BERTH_CHECK(authorize(ctx, "iam:GetRole", role_arn(ctx, name)));
    auto r = BERTH_TRY(iam->GetRole(Acct(ctx), name));
    Xml x;
    x.Open("Role");
    RoleXml(x, r);
    x.Close("Role");
    return x.Take();
  };
  ops["ListRoles"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    BERTH_CHECK(authorize(ctx, "iam:ListRoles", fmt::format("arn:aws:iam::{}:role/", Acct(ctx))));
    auto listed = BERTH_TRY(iam->ListRoles(Acct(ctx), Opt(p, "PathPrefix", "/"), BERTH_TRY(PageOf(p))));
    Xml x;
    ListXml(x, "Roles", listed, RoleXml);
    return x.Take();
  };
  ops["DeleteRole"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("RoleName"));
    BERTH_CHECK(authorize(ctx, "iam:DeleteRole", role_arn(ctx, name)));
    BERTH_CHECK(iam->DeleteRole(Acct(ctx), name));
    return std::string();
  };
  ops["UpdateAssumeRolePolicy"] = [=](const RequestContext& ctx,
                                      const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("RoleName"));
    BERTH_CHECK(authorize(ctx, "iam:UpdateAssumeRolePolicy", role_arn(ctx, name)));
    BERTH_CHECK(iam->UpdateAssumeRolePolicy(Acct(ctx), name, BERTH_TRY(p.Required("PolicyDocument"))));
    return std::string();
  };

  // ---- inline policies, for users and roles alike
  for (auto [type, noun, param] : {std::tuple{PrincipalType::kUser, "User", "UserName"},
                                   std::tuple{PrincipalType::kRole, "Role", "RoleName"}}) {
    std::string arn_kind = type == PrincipalType::kUser ? "user" : "role";
    auto owner_arn = [arn_kind](const RequestContext& ctx, const std::string& name) {
      return fmt::format("arn:aws:iam::{}:{}/{}", Acct(ctx), arn_kind, name);
    };
    std::string n = noun;
    std::string owner_param = param;
    ops["Put" + n + "Policy"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(p.Required(owner_param));
      BERTH_CHECK(authorize(ctx, "iam:Put" + n + "Policy", owner_arn(ctx, owner)));
      BERTH_CHECK(iam->PutInlinePolicy(Acct(ctx), type, owner, BERTH_TRY(p.Required("PolicyName")),
                                       BERTH_TRY(p.Required("PolicyDocument"))));
      return std::string();
    };
    ops["Get" + n + "Policy"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(p.Required(owner_param));
      BERTH_CHECK(authorize(ctx, "iam:Get" + n + "Policy", owner_arn(ctx, owner)));
      auto pol = BERTH_TRY(iam->GetInlinePolicy(Acct(ctx), type, owner, BERTH_TRY(p.Required("PolicyName"))));
      Xml x;
      x.Text(owner_param, owner).Text("PolicyName", pol.name)
          .Text("PolicyDocument", UriEncode(pol.document));
      return x.Take();
    };
    ops["Delete" + n + "Policy"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(p.Required(owner_param));
      BERTH_CHECK(authorize(ctx, "iam:Delete" + n + "Policy", owner_arn(ctx, owner)));
      BERTH_CHECK(iam->DeleteInlinePolicy(Acct(ctx), type, owner, BERTH_TRY(p.Required("PolicyName"))));
      return std::string();
    };
    ops["List" + n + "Policies"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(p.Required(owner_param));
      BERTH_CHECK(authorize(ctx, "iam:List" + n + "Policies", owner_arn(ctx, owner)));
      auto listed = BERTH_TRY(iam->ListInlinePolicies(Acct(ctx), type, owner, BERTH_TRY(PageOf(p))));
      Xml x;
      ListXml(x, "PolicyNames", listed,
              [](Xml& x, const std::string& name) { x.Raw(aws::XmlEscape(name)); });
      return x.Take();
    };
    ops["Attach" + n + "Policy"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(p.Required(owner_param));
      BERTH_CHECK(authorize(ctx, "iam:Attach" + n + "Policy", owner_arn(ctx, owner)));
      BERTH_CHECK(iam->AttachPolicy(Acct(ctx), type, owner, BERTH_TRY(p.Required("PolicyArn"))));
      return std::string();
    };
    ops["Detach" + n + "Policy"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(p.Required(owner_param));
      BERTH_CHECK(authorize(ctx, "iam:Detach" + n + "Policy", owner_arn(ctx, owner)));
      BERTH_CHECK(iam->DetachPolicy(Acct(ctx), type, owner, BERTH_TRY(p.Required("PolicyArn"))));
      return std::string();
    };
    ops["ListAttached" + n + "Policies"] = [=](const RequestContext& ctx,
                                               const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(p.Required(owner_param));
      BERTH_CHECK(authorize(ctx, "iam:ListAttached" + n + "Policies", owner_arn(ctx, owner)));
      auto listed = BERTH_TRY(iam->ListAttachedPolicies(Acct(ctx), type, owner, BERTH_TRY(PageOf(p))));
      Xml x;
      ListXml(x, "AttachedPolicies", listed, [](Xml& x, const std::pair<std::string, std::string>& a) {
        x.Text("PolicyName", a.first).Text("PolicyArn", a.second);
      });
      return x.Take();
    };
  }

  // ---- managed policies
  ops["CreatePolicy"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("PolicyName"));
    BERTH_CHECK(authorize(ctx, "iam:CreatePolicy",
                          fmt::format("arn:aws:iam::{}:policy/{}", Acct(ctx), name)));
    auto pol = BERTH_TRY(iam->CreatePolicy(Acct(ctx), name, Opt(p, "Path", "/"),
                                           BERTH_TRY(p.Required("PolicyDocument")), Opt(p, "Description")));
    Xml x;
    x.Open("Policy");
    PolicyXml(x, pol);
    x.Close("Policy");
    return x.Take();
  };
  ops["GetPolicy"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    BERTH_CHECK(authorize(ctx, "iam:GetPolicy", arn));
    auto pol = BERTH_TRY(iam->GetPolicy(arn));
    Xml x;
    x.Open("Policy");
    PolicyXml(x, pol);
    x.Close("Policy");
    return x.Take();
  };
  ops["GetPolicyVersion"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    BERTH_CHECK(authorize(ctx, "iam:GetPolicyVersion", arn));
    auto v = BERTH_TRY(iam->GetPolicyVersion(arn, BERTH_TRY(p.Required("VersionId"))));
    Xml x;
    x.Open("PolicyVersion");
    VersionXml(x, v);
    x.Close("PolicyVersion");
    return x.Take();
  };
  ops["CreatePolicyVersion"] = [=](const RequestContext& ctx,
                                   const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    BERTH_CHECK(authorize(ctx, "iam:CreatePolicyVersion", arn));
    auto v = BERTH_TRY(iam->CreatePolicyVersion(arn, BERTH_TRY(p.Required("PolicyDocument")),
                                                Opt(p, "SetAsDefault") == "true"));
    Xml x;
    x.Open("PolicyVersion");
    VersionXml(x, v);
    x.Close("PolicyVersion");
    return x.Take();
  };
  ops["ListPolicies"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    BERTH_CHECK(authorize(ctx, "iam:ListPolicies", fmt::format("arn:aws:iam::{}:policy/", Acct(ctx))));
    auto listed = BERTH_TRY(iam->ListPolicies(Acct(ctx), Opt(p, "Scope", "All"),
                                              Opt(p, "OnlyAttached") == "true",
                                              Opt(p, "PathPrefix", "/"), BERTH_TRY(PageOf(p))));
    Xml x;
    ListXml(x, "Policies", listed, PolicyXml);
    return x.Take();
  };
  ops["DeletePolicy"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    BERTH_CHECK(authorize(ctx, "iam:DeletePolicy", arn));
    BERTH_CHECK(iam->DeletePolicy(arn));
    return std::string();
  };
  // ---- the policy simulator
  auto simulation_input = [](const QueryParams& p) -> Result<iam::SimulationInput> {
    iam::SimulationInput in;
    in.identity_policies = p.List("PolicyInputList");
    in.boundary_policies = p.List("PermissionsBoundaryPolicyInputList");
    in.actions = p.List("ActionNames");
    if (in.actions.empty()) {
      return Fail("ValidationError", "1 validation error detected: Value null at 'actionNames' "
                                     "failed to satisfy constraint: Member must not be null");
    }
    in.resources = p.List("ResourceArns");
    in.resource_policy = Opt(p, "ResourcePolicy");
    in.resource_owner = Opt(p, "ResourceOwner");
    in.caller_arn = Opt(p, "CallerArn");
    for (int i = 1;; ++i) {
      std::string prefix = fmt::format("ContextEntries.member.{}", i);
      const std::string* name = p.Find(prefix + ".ContextKeyName");
      if (!name) break;
      in.context[*name] = p.List(prefix + ".ContextKeyValues");
    }
    return in;
  };
  auto simulation_xml = [](const std::vector<iam::SimulationResult>& results) {
    Xml x;
    x.Open("EvaluationResults");
    for (const auto& r : results) {
      x.Open("member").Text("EvalActionName", r.action).Text("EvalResourceName", r.resource)
          .Text("EvalDecision", r.decision).Open("MatchedStatements");
      for (const auto& m : r.matched) {
        x.Open("member").Text("SourcePolicyId", m.policy_id).Text("SourcePolicyType", m.policy_type)
            .Close("member");
      }
      x.Close("MatchedStatements").Open("MissingContextValues").Close("MissingContextValues")
          .Close("member");
    }
    x.Close("EvaluationResults").Text("IsTruncated", "false");
    return x.Take();
  };
  iam::AccessControl* access = deps.access;
  ops["SimulatePrincipalPolicy"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
    auto source = BERTH_TRY(p.Required("PolicySourceArn"));
    BERTH_CHECK(authorize(ctx, "iam:SimulatePrincipalPolicy", source));
    auto arn = ParseArn(source);
    if (!arn || arn->service != "iam" || arn->account != Acct(ctx)) {
      return Fail("InvalidInput", fmt::format("Invalid ARN: {}", source.substr(0, 256)));
    }
    std::string name = arn->resource.substr(arn->resource.rfind('/') + 1);
    aws::Principal principal;
    principal.account = arn->account;
    principal.name = name;
    if (arn->resource.starts_with("user/")) {
      auto user = BERTH_TRY(iam->GetUser(Acct(ctx), name));
      principal.kind = aws::Principal::Kind::kUser;
      principal.arn = user.arn;
      principal.user_id = user.id;
    } else if (arn->resource.starts_with("role/")) {
      auto role = BERTH_TRY(iam->GetRole(Acct(ctx), name));
      principal.kind = aws::Principal::Kind::kAssumedRole;
      principal.arn = fmt::format("arn:aws:sts::{}:assumed-role/{}/simulation", Acct(ctx), role.name);
      principal.user_id = role.id + ":simulation";
    } else {
      return Fail("InvalidInput", "PolicySourceArn must name a user or a role.");
    }
    auto in = BERTH_TRY(simulation_input(p));
    in.principal = principal;
    return simulation_xml(BERTH_TRY(access->Simulate(in, ctx.now)));
  };
  ops["SimulateCustomPolicy"] = [=](const RequestContext& ctx,
                                    const QueryParams& p) -> Result<std::string> {
    BERTH_CHECK(authorize(ctx, "iam:SimulateCustomPolicy", "*"));
    auto in = BERTH_TRY(simulation_input(p));
    if (in.identity_policies.empty()) {
      return Fail("ValidationError", "1 validation error detected: Value null at "
                                     "'policyInputList' failed to satisfy constraint: Member must "
                                     "not be null");
    }
    if (in.caller_arn.empty()) in.caller_arn = fmt::format("arn:aws:iam::{}:user/simulated", Acct(ctx));
    return simulation_xml(BERTH_TRY(access->Simulate(in, ctx.now)));
  };
  return svc;
}

}  // namespace berth::server
