// IAM's Query protocol: form parameters in, XML out (botocore `iam` model).
#include <fmt/format.h>

#include <charconv>
#include <map>

#include "aws/xml.h"
#include "common/arn.h"
#include "common/strings.h"
#include "server/module.h"
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

void TagsXml(Xml& x, const iam::Tags& tags, std::string_view element = "Tags") {
  x.Open(element);
  for (const auto& [k, v] : tags) x.Open("member").Text("Key", k).Text("Value", v).Close("member");
  x.Close(element);
}

void BoundaryXml(Xml& x, const std::string& boundary) {
  if (boundary.empty()) return;
  x.Open("PermissionsBoundary")
      .Text("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
      .Text("PermissionsBoundaryArn", boundary)
      .Close("PermissionsBoundary");
}

void UserXml(Xml& x, const iam::User& u) {
  x.Text("Path", u.path).Text("UserName", u.name).Text("UserId", u.id).Text("Arn", u.arn)
      .Text("CreateDate", FormatIso8601(u.created));
  BoundaryXml(x, u.permissions_boundary);
  if (!u.tags.empty()) TagsXml(x, u.tags);
}

// `trust` is the trust policy as IAM shows it (ShowBoundPrincipals).
void RoleXml(Xml& x, const iam::Role& r, const std::string& trust) {
  x.Text("Path", r.path).Text("RoleName", r.name).Text("RoleId", r.id).Text("Arn", r.arn)
      .Text("CreateDate", FormatIso8601(r.created))
      .Text("AssumeRolePolicyDocument", UriEncode(trust));
  if (!r.description.empty()) x.Text("Description", r.description);
  x.Text("MaxSessionDuration", std::to_string(r.max_session_duration));
  BoundaryXml(x, r.permissions_boundary);
  if (!r.tags.empty()) TagsXml(x, r.tags);
}

void PolicyXml(Xml& x, const iam::ManagedPolicy& p) {
  x.Text("PolicyName", p.name).Text("PolicyId", p.id).Text("Arn", p.arn).Text("Path", p.path)
      .Text("DefaultVersionId", p.default_version_id)
      .Text("AttachmentCount", std::to_string(p.attachment_count))
      .Text("PermissionsBoundaryUsageCount", "0").Text("IsAttachable", "true");
  if (!p.description.empty()) x.Text("Description", p.description);
  x.Text("CreateDate", FormatIso8601(p.created)).Text("UpdateDate", FormatIso8601(p.updated));
  if (!p.tags.empty()) TagsXml(x, p.tags);
}

// Tags.member.N.Key / .Value, in order.
iam::Tags TagsOf(const QueryParams& p) {
  iam::Tags tags;
  for (int i = 1;; ++i) {
    const std::string* key = p.Find(fmt::format("Tags.member.{}.Key", i));
    if (!key) break;
    tags.emplace_back(*key, Opt(p, fmt::format("Tags.member.{}.Value", i)));
  }
  return tags;
}

// aws:RequestTag/<key> and aws:TagKeys for an operation that sets tags.
void AddRequestTags(iam::ContextMap& keys, const iam::Tags& tags) {
  if (tags.empty()) return;
  std::vector<std::string> tag_keys;
  for (const auto& [k, v] : tags) {
    keys["aws:RequestTag/" + k] = {v};
    tag_keys.push_back(k);
  }
  keys["aws:TagKeys"] = std::move(tag_keys);
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

  // What an operation on a named user or role is authorized against. IAM names
  // are unique ignoring case, so the entity is looked up first and the request
  // is decided on its stored ARN (its own case and path) and its tags and
  // boundary (iam:ResourceTag/*, iam:PermissionsBoundary): a name typed in
  // another case cannot dodge a Deny. For a name nothing answers to, the ARN
  // as typed (the operation then fails with NoSuchEntity, after the check, so
  // that an unauthorized caller learns nothing).
  struct Target {
    std::string arn;
    iam::ResourceContext res;
  };
  auto target = [iam](const RequestContext& ctx, PrincipalType type,
                      const std::string& name) -> Result<Target> {
    Target t;
    std::string boundary;
    const iam::Tags* tags = nullptr;
    std::optional<iam::User> user;
    std::optional<iam::Role> role;
    auto fill = [&](auto& found) -> Status {
      if (found) return {};
      if (found.error().code != "NoSuchEntity") return Fail(found.error());
      return {};
    };
    if (type == PrincipalType::kGroup) {
      auto found = iam->GetGroup(Acct(ctx), name);
      BERTH_CHECK(fill(found));
      t.arn = found ? found->arn : fmt::format("arn:aws:iam::{}:group/{}", Acct(ctx), name);
      return t;
    }
    if (type == PrincipalType::kUser) {
      auto found = iam->GetUser(Acct(ctx), name);
      BERTH_CHECK(fill(found));
      if (found) user = std::move(*found);
    } else {
      auto found = iam->GetRole(Acct(ctx), name);
      BERTH_CHECK(fill(found));
      if (found) role = std::move(*found);
    }
    if (user) {
      t.arn = user->arn;
      boundary = user->permissions_boundary;
      tags = &user->tags;
    } else if (role) {
      t.arn = role->arn;
      boundary = role->permissions_boundary;
      tags = &role->tags;
    } else {
      t.arn = fmt::format("arn:aws:iam::{}:{}/{}", Acct(ctx),
                          type == PrincipalType::kUser ? "user" : "role", name);
    }
    if (tags) {
      for (const auto& [k, v] : *tags) t.res.condition_keys["iam:ResourceTag/" + k] = {v};
    }
    if (!boundary.empty()) t.res.condition_keys["iam:PermissionsBoundary"] = {boundary};
    return t;
  };
  // Resolves the named user or role and authorizes `action` on it; `extra`
  // adds the operation's own condition keys.
  auto authorize_on = [=](const RequestContext& ctx, const std::string& action, PrincipalType type,
                          const std::string& name,
                          const std::function<void(iam::ContextMap&)>& extra = {}) -> Status {
    Target t = BERTH_TRY(target(ctx, type, name));
    if (extra) extra(t.res.condition_keys);
    return authorize(ctx, action, t.arn, t.res);
  };
  // The trust policy as IAM shows it: principals deleted since it was stored
  // appear as their unique ids.
  auto shown_trust = [iam](const iam::Role& r) {
    return iam::ShowBoundPrincipals(r.trust_policy, r.trust_principal_ids,
                                    [iam](std::string_view arn) -> std::optional<std::string> {
                                      auto id = iam->PrincipalId(arn);
                                      return id ? *id : std::nullopt;
                                    });
  };
  // The keys an operation that creates an entity or sets a boundary adds.
  auto creation_keys = [](const iam::Tags& tags, const std::string& boundary) {
    return [tags, boundary](iam::ContextMap& keys) {
      AddRequestTags(keys, tags);
      if (!boundary.empty()) keys["iam:PermissionsBoundary"] = {boundary};
    };
  };

  // ---- users
  ops["CreateUser"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("UserName"));
    std::string path = Opt(p, "Path", "/");
    iam::EntityOptions options{Opt(p, "PermissionsBoundary"), TagsOf(p)};
    iam::ResourceContext res;
    creation_keys(options.tags, options.permissions_boundary)(res.condition_keys);
    BERTH_CHECK(authorize(ctx, "iam:CreateUser",
                          fmt::format("arn:aws:iam::{}:user{}{}", Acct(ctx), path, name), res));
    auto u = BERTH_TRY(iam->CreateUser(Acct(ctx), name, path, options));
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
    BERTH_CHECK(authorize_on(ctx, "iam:GetUser", PrincipalType::kUser, name));
    auto u = BERTH_TRY(iam->GetUser(Acct(ctx), name));
    Xml x;
    x.Open("User");
    UserXml(x, u);
    x.Close("User");
    return x.Take();
  };
  ops["ListUsers"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    BERTH_CHECK(authorize(ctx, "iam:ListUsers", fmt::format("arn:aws:iam::{}:user/", Acct(ctx)), {}));
    auto listed = BERTH_TRY(iam->ListUsers(Acct(ctx), Opt(p, "PathPrefix", "/"), BERTH_TRY(PageOf(p))));
    Xml x;
    ListXml(x, "Users", listed, UserXml);
    return x.Take();
  };
  ops["DeleteUser"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("UserName"));
    BERTH_CHECK(authorize_on(ctx, "iam:DeleteUser", PrincipalType::kUser, name));
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
    BERTH_CHECK(authorize_on(ctx, "iam:CreateAccessKey", PrincipalType::kUser, name));
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
    BERTH_CHECK(authorize_on(ctx, "iam:ListAccessKeys", PrincipalType::kUser, name));
    auto user = BERTH_TRY(iam->GetUser(Acct(ctx), name));
    auto keys = BERTH_TRY(ids->ListAccessKeys(Acct(ctx), user.name));
    Xml x;
    x.Open("AccessKeyMetadata");
    for (const auto& k : keys) {
      x.Open("member").Text("UserName", user.name).Text("AccessKeyId", k.access_key_id)
          .Text("Status", k.status).Text("CreateDate", FormatIso8601(k.created)).Close("member");
    }
    x.Close("AccessKeyMetadata").Text("IsTruncated", "false");
    return x.Take();
  };
  ops["UpdateAccessKey"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(key_user(ctx, p));
    BERTH_CHECK(authorize_on(ctx, "iam:UpdateAccessKey", PrincipalType::kUser, name));
    BERTH_CHECK(ids->UpdateAccessKey(Acct(ctx), name, BERTH_TRY(p.Required("AccessKeyId")),
                                     BERTH_TRY(p.Required("Status"))));
    return std::string();
  };
  ops["DeleteAccessKey"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(key_user(ctx, p));
    BERTH_CHECK(authorize_on(ctx, "iam:DeleteAccessKey", PrincipalType::kUser, name));
    BERTH_CHECK(ids->DeleteAccessKey(Acct(ctx), name, BERTH_TRY(p.Required("AccessKeyId"))));
    return std::string();
  };

  // ---- roles
  ops["CreateRole"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("RoleName"));
    std::string path = Opt(p, "Path", "/");
    iam::EntityOptions options{Opt(p, "PermissionsBoundary"), TagsOf(p)};
    iam::ResourceContext res;
    creation_keys(options.tags, options.permissions_boundary)(res.condition_keys);
    BERTH_CHECK(authorize(ctx, "iam:CreateRole",
                          fmt::format("arn:aws:iam::{}:role{}{}", Acct(ctx), path, name), res));
    std::optional<int> max;
    if (const std::string* m = p.Find("MaxSessionDuration")) {
      int n = 0;
      auto [end, err] = std::from_chars(m->data(), m->data() + m->size(), n);
      if (err != std::errc() || end != m->data() + m->size()) {
        return Fail("ValidationError", "MaxSessionDuration must be an integer.");
      }
      max = n;
    }
    auto r = BERTH_TRY(iam->CreateRole(Acct(ctx), name, path,
                                       BERTH_TRY(p.Required("AssumeRolePolicyDocument")),
                                       Opt(p, "Description"), max, options));
    Xml x;
    x.Open("Role");
    RoleXml(x, r, r.trust_policy);
    x.Close("Role");
    return x.Take();
  };
  ops["GetRole"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("RoleName"));
    BERTH_CHECK(authorize_on(ctx, "iam:GetRole", PrincipalType::kRole, name));
    auto r = BERTH_TRY(iam->GetRole(Acct(ctx), name));
    Xml x;
    x.Open("Role");
    RoleXml(x, r, shown_trust(r));
    x.Close("Role");
    return x.Take();
  };
  ops["ListRoles"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    BERTH_CHECK(authorize(ctx, "iam:ListRoles", fmt::format("arn:aws:iam::{}:role/", Acct(ctx)), {}));
    auto listed = BERTH_TRY(iam->ListRoles(Acct(ctx), Opt(p, "PathPrefix", "/"), BERTH_TRY(PageOf(p))));
    Xml x;
    ListXml(x, "Roles", listed, [&](Xml& x, const iam::Role& r) { RoleXml(x, r, shown_trust(r)); });
    return x.Take();
  };
  ops["DeleteRole"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("RoleName"));
    BERTH_CHECK(authorize_on(ctx, "iam:DeleteRole", PrincipalType::kRole, name));
    BERTH_CHECK(iam->DeleteRole(Acct(ctx), name));
    return std::string();
  };
  ops["UpdateAssumeRolePolicy"] = [=](const RequestContext& ctx,
                                      const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("RoleName"));
    BERTH_CHECK(authorize_on(ctx, "iam:UpdateAssumeRolePolicy", PrincipalType::kRole, name));
    BERTH_CHECK(iam->UpdateAssumeRolePolicy(Acct(ctx), name, BERTH_TRY(p.Required("PolicyDocument"))));
    return std::string();
  };

  // ---- what users, roles and groups share: inline and managed policies (and, users
  // and roles only, boundaries and tags)
  for (auto [type, noun, param] : {std::tuple{PrincipalType::kUser, "User", "UserName"},
                                   std::tuple{PrincipalType::kRole, "Role", "RoleName"},
                                   std::tuple{PrincipalType::kGroup, "Group", "GroupName"}}) {
    std::string n = noun;
    std::string owner_param = param;
    // Decides `verb` + n + `suffix` (e.g. iam:PutUserPolicy) on the owner the request names.
    auto check = [=](const RequestContext& ctx, const QueryParams& p, const std::string& action,
                     const std::function<void(iam::ContextMap&)>& extra = {}) -> Result<std::string> {
      auto owner = BERTH_TRY(p.Required(owner_param));
      BERTH_CHECK(authorize_on(ctx, "iam:" + action, type, owner, extra));
      return owner;
    };
    ops["Put" + n + "Policy"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(check(ctx, p, "Put" + n + "Policy"));
      BERTH_CHECK(iam->PutInlinePolicy(Acct(ctx), type, owner, BERTH_TRY(p.Required("PolicyName")),
                                       BERTH_TRY(p.Required("PolicyDocument"))));
      return std::string();
    };
    ops["Get" + n + "Policy"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(check(ctx, p, "Get" + n + "Policy"));
      auto pol = BERTH_TRY(iam->GetInlinePolicy(Acct(ctx), type, owner, BERTH_TRY(p.Required("PolicyName"))));
      Xml x;
      x.Text(owner_param, owner).Text("PolicyName", pol.name)
          .Text("PolicyDocument", UriEncode(pol.document));
      return x.Take();
    };
    ops["Delete" + n + "Policy"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(check(ctx, p, "Delete" + n + "Policy"));
      BERTH_CHECK(iam->DeleteInlinePolicy(Acct(ctx), type, owner, BERTH_TRY(p.Required("PolicyName"))));
      return std::string();
    };
    ops["List" + n + "Policies"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(check(ctx, p, "List" + n + "Policies"));
      auto listed = BERTH_TRY(iam->ListInlinePolicies(Acct(ctx), type, owner, BERTH_TRY(PageOf(p))));
      Xml x;
      ListXml(x, "PolicyNames", listed,
              [](Xml& x, const std::string& name) { x.Raw(aws::XmlEscape(name)); });
      return x.Take();
    };
    // iam:PolicyARN: the managed policy being attached or detached.
    auto policy_arn_key = [](const std::string& arn) {
      return [arn](iam::ContextMap& keys) { keys["iam:PolicyARN"] = {arn}; };
    };
    ops["Attach" + n + "Policy"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
      auto arn = BERTH_TRY(p.Required("PolicyArn"));
      auto owner = BERTH_TRY(check(ctx, p, "Attach" + n + "Policy", policy_arn_key(arn)));
      BERTH_CHECK(iam->AttachPolicy(Acct(ctx), type, owner, arn));
      return std::string();
    };
    ops["Detach" + n + "Policy"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
      auto arn = BERTH_TRY(p.Required("PolicyArn"));
      auto owner = BERTH_TRY(check(ctx, p, "Detach" + n + "Policy", policy_arn_key(arn)));
      BERTH_CHECK(iam->DetachPolicy(Acct(ctx), type, owner, arn));
      return std::string();
    };
    ops["ListAttached" + n + "Policies"] = [=](const RequestContext& ctx,
                                               const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(check(ctx, p, "ListAttached" + n + "Policies"));
      auto listed = BERTH_TRY(iam->ListAttachedPolicies(Acct(ctx), type, owner, BERTH_TRY(PageOf(p))));
      Xml x;
      ListXml(x, "AttachedPolicies", listed, [](Xml& x, const std::pair<std::string, std::string>& a) {
        x.Text("PolicyName", a.first).Text("PolicyArn", a.second);
      });
      return x.Take();
    };
    ops["Put" + n + "PermissionsBoundary"] = [=](const RequestContext& ctx,
                                                 const QueryParams& p) -> Result<std::string> {
      auto arn = BERTH_TRY(p.Required("PermissionsBoundary"));
      // iam:PermissionsBoundary is the boundary being set (not the current one).
      auto owner = BERTH_TRY(check(ctx, p, "Put" + n + "PermissionsBoundary",
                                   [arn](iam::ContextMap& keys) {
                                     keys["iam:PermissionsBoundary"] = {arn};
                                   }));
      BERTH_CHECK(iam->PutPermissionsBoundary(Acct(ctx), type, owner, arn));
      return std::string();
    };
    ops["Delete" + n + "PermissionsBoundary"] = [=](const RequestContext& ctx,
                                                    const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(check(ctx, p, "Delete" + n + "PermissionsBoundary"));
      BERTH_CHECK(iam->DeletePermissionsBoundary(Acct(ctx), type, owner));
      return std::string();
    };
    ops["Tag" + n] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
      iam::Tags tags = TagsOf(p);
      auto owner = BERTH_TRY(check(ctx, p, "Tag" + n,
                                   [tags](iam::ContextMap& keys) { AddRequestTags(keys, tags); }));
      BERTH_CHECK(iam->TagEntity(Acct(ctx), type, owner, tags));
      return std::string();
    };
    ops["Untag" + n] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
      std::vector<std::string> keys = p.List("TagKeys");
      auto owner = BERTH_TRY(check(ctx, p, "Untag" + n, [keys](iam::ContextMap& k) {
        if (!keys.empty()) k["aws:TagKeys"] = keys;
      }));
      BERTH_CHECK(iam->UntagEntity(Acct(ctx), type, owner, keys));
      return std::string();
    };
    ops["List" + n + "Tags"] = [=](const RequestContext& ctx,
                                   const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(check(ctx, p, "List" + n + "Tags"));
      iam::Tags tags;
      if (type == PrincipalType::kUser) {
        tags = BERTH_TRY(iam->GetUser(Acct(ctx), owner)).tags;
      } else {
        tags = BERTH_TRY(iam->GetRole(Acct(ctx), owner)).tags;
      }
      Xml x;
      TagsXml(x, tags);
      x.Text("IsTruncated", "false");
      return x.Take();
    };
  }

  // ---- managed policies
  ops["CreatePolicy"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("PolicyName"));
    std::string path = Opt(p, "Path", "/");
    iam::Tags tags = TagsOf(p);
    iam::ResourceContext res;
    AddRequestTags(res.condition_keys, tags);
    BERTH_CHECK(authorize(ctx, "iam:CreatePolicy",
                          fmt::format("arn:aws:iam::{}:policy{}{}", Acct(ctx), path, name), res));
    auto pol = BERTH_TRY(iam->CreatePolicy(Acct(ctx), name, path,
                                           BERTH_TRY(p.Required("PolicyDocument")),
                                           Opt(p, "Description"), tags));
    Xml x;
    x.Open("Policy");
    PolicyXml(x, pol);
    x.Close("Policy");
    return x.Take();
  };
  // A managed policy's tags are its iam:ResourceTag/* keys.
  auto authorize_policy = [=](const RequestContext& ctx, const std::string& action,
                              const std::string& arn,
                              const std::function<void(iam::ContextMap&)>& extra = {}) -> Status {
    iam::ResourceContext res;
    if (auto pol = iam->GetPolicy(arn)) {
      for (const auto& [k, v] : pol->tags) res.condition_keys["iam:ResourceTag/" + k] = {v};
    }
    if (extra) extra(res.condition_keys);
    return authorize(ctx, action, arn, res);
  };
  ops["GetPolicy"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    BERTH_CHECK(authorize_policy(ctx, "iam:GetPolicy", arn));
    auto pol = BERTH_TRY(iam->GetPolicy(arn));
    Xml x;
    x.Open("Policy");
    PolicyXml(x, pol);
    x.Close("Policy");
    return x.Take();
  };
  ops["GetPolicyVersion"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    BERTH_CHECK(authorize_policy(ctx, "iam:GetPolicyVersion", arn));
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
    BERTH_CHECK(authorize_policy(ctx, "iam:CreatePolicyVersion", arn));
    auto v = BERTH_TRY(iam->CreatePolicyVersion(arn, BERTH_TRY(p.Required("PolicyDocument")),
                                                Opt(p, "SetAsDefault") == "true"));
    Xml x;
    x.Open("PolicyVersion");
    VersionXml(x, v);
    x.Close("PolicyVersion");
    return x.Take();
  };
  ops["ListPolicies"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    BERTH_CHECK(authorize(ctx, "iam:ListPolicies", fmt::format("arn:aws:iam::{}:policy/", Acct(ctx)), {}));
    auto listed = BERTH_TRY(iam->ListPolicies(Acct(ctx), Opt(p, "Scope", "All"),
                                              Opt(p, "OnlyAttached") == "true",
                                              Opt(p, "PathPrefix", "/"), BERTH_TRY(PageOf(p))));
    Xml x;
    ListXml(x, "Policies", listed, PolicyXml);
    return x.Take();
  };
  ops["DeletePolicy"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    BERTH_CHECK(authorize_policy(ctx, "iam:DeletePolicy", arn));
    BERTH_CHECK(iam->DeletePolicy(arn));
    return std::string();
  };
  ops["TagPolicy"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    iam::Tags tags = TagsOf(p);
    BERTH_CHECK(authorize_policy(ctx, "iam:TagPolicy", arn,
                                 [tags](iam::ContextMap& keys) { AddRequestTags(keys, tags); }));
    BERTH_CHECK(iam->TagPolicy(arn, tags));
    return std::string();
  };
  ops["UntagPolicy"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    std::vector<std::string> keys = p.List("TagKeys");
    BERTH_CHECK(authorize_policy(ctx, "iam:UntagPolicy", arn, [keys](iam::ContextMap& k) {
      if (!keys.empty()) k["aws:TagKeys"] = keys;
    }));
    BERTH_CHECK(iam->UntagPolicy(arn, keys));
    return std::string();
  };
  ops["ListPolicyTags"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    BERTH_CHECK(authorize_policy(ctx, "iam:ListPolicyTags", arn));
    auto pol = BERTH_TRY(iam->GetPolicy(arn));
    Xml x;
    TagsXml(x, pol.tags);
    x.Text("IsTruncated", "false");
    return x.Take();
  };
  svc.empty_result_element = {"UpdateRole"};
  // ---- more of IAM that scripts call: renames, groups, role updates, versions, summaries
  ops["UpdateUser"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("UserName"));
    std::string new_name = Opt(p, "NewUserName");
    std::string new_path = Opt(p, "NewPath");
    BERTH_CHECK(authorize_on(ctx, "iam:UpdateUser", PrincipalType::kUser, name));
    if (!new_name.empty() || !new_path.empty()) {
      // As IAM requires: permission on the target name too.
      auto current = iam->GetUser(Acct(ctx), name);
      std::string path = !new_path.empty() ? new_path : current ? current->path : "/";
      std::string target_name = !new_name.empty() ? new_name : name;
      BERTH_CHECK(authorize(ctx, "iam:UpdateUser",
                            fmt::format("arn:aws:iam::{}:user{}{}", Acct(ctx), path, target_name),
                            {}));
    }
    BERTH_TRY(iam->UpdateUser(Acct(ctx), name, new_name, new_path));
    return std::string();
  };
  auto group_xml = [](Xml& x, const iam::Group& g) {
    x.Text("Path", g.path).Text("GroupName", g.name).Text("GroupId", g.id).Text("Arn", g.arn)
        .Text("CreateDate", FormatIso8601(g.created));
  };
  ops["CreateGroup"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("GroupName"));
    std::string path = Opt(p, "Path", "/");
    BERTH_CHECK(authorize(ctx, "iam:CreateGroup",
                          fmt::format("arn:aws:iam::{}:group{}{}", Acct(ctx), path, name), {}));
    auto g = BERTH_TRY(iam->CreateGroup(Acct(ctx), name, path));
    Xml x;
    x.Open("Group");
    group_xml(x, g);
    x.Close("Group");
    return x.Take();
  };
  ops["GetGroup"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("GroupName"));
    BERTH_CHECK(authorize_on(ctx, "iam:GetGroup", PrincipalType::kGroup, name));
    auto g = BERTH_TRY(iam->GetGroup(Acct(ctx), name));
    auto members = BERTH_TRY(iam->GroupMembers(Acct(ctx), name));
    Xml x;
    x.Open("Group");
    group_xml(x, g);
    x.Close("Group").Open("Users");
    for (const auto& u : members) {
      x.Open("member");
      UserXml(x, u);
      x.Close("member");
    }
    x.Close("Users").Text("IsTruncated", "false");
    return x.Take();
  };
  ops["ListGroups"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    BERTH_CHECK(authorize(ctx, "iam:ListGroups", fmt::format("arn:aws:iam::{}:group/", Acct(ctx)), {}));
    auto listed = BERTH_TRY(iam->ListGroups(Acct(ctx), Opt(p, "PathPrefix", "/"), BERTH_TRY(PageOf(p))));
    Xml x;
    ListXml(x, "Groups", listed, group_xml);
    return x.Take();
  };
  ops["DeleteGroup"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("GroupName"));
    BERTH_CHECK(authorize_on(ctx, "iam:DeleteGroup", PrincipalType::kGroup, name));
    BERTH_CHECK(iam->DeleteGroup(Acct(ctx), name));
    return std::string();
  };
  ops["AddUserToGroup"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto group = BERTH_TRY(p.Required("GroupName"));
    auto user = BERTH_TRY(p.Required("UserName"));
    BERTH_CHECK(authorize_on(ctx, "iam:AddUserToGroup", PrincipalType::kGroup, group));
    BERTH_CHECK(iam->AddUserToGroup(Acct(ctx), group, user));
    return std::string();
  };
  ops["RemoveUserFromGroup"] = [=](const RequestContext& ctx,
                                   const QueryParams& p) -> Result<std::string> {
    auto group = BERTH_TRY(p.Required("GroupName"));
    auto user = BERTH_TRY(p.Required("UserName"));
    BERTH_CHECK(authorize_on(ctx, "iam:RemoveUserFromGroup", PrincipalType::kGroup, group));
    BERTH_CHECK(iam->RemoveUserFromGroup(Acct(ctx), group, user));
    return std::string();
  };
  ops["ListGroupsForUser"] = [=](const RequestContext& ctx,
                                 const QueryParams& p) -> Result<std::string> {
    auto user = BERTH_TRY(p.Required("UserName"));
    BERTH_CHECK(authorize_on(ctx, "iam:ListGroupsForUser", PrincipalType::kUser, user));
    BERTH_TRY(iam->GetUser(Acct(ctx), user));
    Xml x;
    x.Open("Groups");
    for (const auto& g : BERTH_TRY(iam->GroupsOfUser(Acct(ctx), user))) {
      x.Open("member");
      group_xml(x, g);
      x.Close("member");
    }
    x.Close("Groups").Text("IsTruncated", "false");
    return x.Take();
  };
  auto int_param = [](const QueryParams& p, std::string_view name) -> Result<std::optional<int>> {
    const std::string* m = p.Find(name);
    if (!m) return std::optional<int>();
    int n = 0;
    auto [end, err] = std::from_chars(m->data(), m->data() + m->size(), n);
    if (err != std::errc() || end != m->data() + m->size()) {
      return Fail("ValidationError", fmt::format("{} must be an integer.", name));
    }
    return std::optional<int>(n);
  };
  ops["UpdateRole"] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("RoleName"));
    BERTH_CHECK(authorize_on(ctx, "iam:UpdateRole", PrincipalType::kRole, name));
    std::optional<std::string> description;
    if (const std::string* d = p.Find("Description")) description = *d;
    BERTH_TRY(iam->UpdateRole(Acct(ctx), name, description,
                              BERTH_TRY(int_param(p, "MaxSessionDuration"))));
    return std::string();
  };
  ops["UpdateRoleDescription"] = [=](const RequestContext& ctx,
                                     const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("RoleName"));
    BERTH_CHECK(authorize_on(ctx, "iam:UpdateRoleDescription", PrincipalType::kRole, name));
    auto r = BERTH_TRY(iam->UpdateRole(Acct(ctx), name, BERTH_TRY(p.Required("Description")),
                                       std::nullopt));
    Xml x;
    x.Open("Role");
    RoleXml(x, r, shown_trust(r));
    x.Close("Role");
    return x.Take();
  };
  ops["ListPolicyVersions"] = [=](const RequestContext& ctx,
                                  const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    BERTH_CHECK(authorize_policy(ctx, "iam:ListPolicyVersions", arn));
    Xml x;
    x.Open("Versions");
    for (const auto& v : BERTH_TRY(iam->ListPolicyVersions(arn))) {
      x.Open("member").Text("VersionId", v.version_id)
          .Text("IsDefaultVersion", v.is_default ? "true" : "false")
          .Text("CreateDate", FormatIso8601(v.created)).Close("member");
    }
    x.Close("Versions").Text("IsTruncated", "false");
    return x.Take();
  };
  ops["DeletePolicyVersion"] = [=](const RequestContext& ctx,
                                   const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    BERTH_CHECK(authorize_policy(ctx, "iam:DeletePolicyVersion", arn));
    BERTH_CHECK(iam->DeletePolicyVersion(arn, BERTH_TRY(p.Required("VersionId"))));
    return std::string();
  };
  ops["SetDefaultPolicyVersion"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    BERTH_CHECK(authorize_policy(ctx, "iam:SetDefaultPolicyVersion", arn));
    BERTH_CHECK(iam->SetDefaultPolicyVersion(arn, BERTH_TRY(p.Required("VersionId"))));
    return std::string();
  };
  ops["ListEntitiesForPolicy"] = [=](const RequestContext& ctx,
                                     const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    BERTH_CHECK(authorize_policy(ctx, "iam:ListEntitiesForPolicy", arn));
    std::string filter = Opt(p, "EntityFilter");
    auto entities = BERTH_TRY(iam->EntitiesForPolicy(arn));
    Xml x;
    for (auto [type, element, name_tag, id_tag, kind] :
         {std::tuple{PrincipalType::kGroup, "PolicyGroups", "GroupName", "GroupId", "Group"},
          std::tuple{PrincipalType::kUser, "PolicyUsers", "UserName", "UserId", "User"},
          std::tuple{PrincipalType::kRole, "PolicyRoles", "RoleName", "RoleId", "Role"}}) {
      x.Open(element);
      if (filter.empty() || filter == kind) {
        for (const auto& [t, name] : entities) {
          if (t != type) continue;
          std::string id;
          if (t == PrincipalType::kUser) {
            if (auto u = iam->GetUser(Acct(ctx), name)) id = u->id;
          } else if (t == PrincipalType::kRole) {
            if (auto r = iam->GetRole(Acct(ctx), name)) id = r->id;
          } else if (auto g = iam->GetGroup(Acct(ctx), name)) {
            id = g->id;
          }
          x.Open("member").Text(name_tag, name).Text(id_tag, id).Close("member");
        }
      }
      x.Close(element);
    }
    x.Text("IsTruncated", "false");
    return x.Take();
  };
  ops["GetAccountSummary"] = [=](const RequestContext& ctx, const QueryParams&) -> Result<std::string> {
    BERTH_CHECK(authorize(ctx, "iam:GetAccountSummary", "*", {}));
    std::vector<std::pair<std::string, size_t>> summary = {
        {"Users", BERTH_TRY(iam->Count(Acct(ctx), "user"))},
        {"UsersQuota", 5000},
        {"Groups", BERTH_TRY(iam->Count(Acct(ctx), "group"))},
        {"GroupsQuota", 300},
        {"Roles", BERTH_TRY(iam->Count(Acct(ctx), "role"))},
        {"RolesQuota", 1000},
        {"Policies", BERTH_TRY(iam->Count(Acct(ctx), "policy"))},
        {"PoliciesQuota", 1500},
        {"AccessKeysPerUserQuota", 2},
        {"GroupsPerUserQuota", 10},
        {"AttachedPoliciesPerUserQuota", 10},
        {"AttachedPoliciesPerRoleQuota", 10},
        {"AttachedPoliciesPerGroupQuota", 10},
        {"PolicyVersionsInUseQuota", 10000},
        {"VersionsPerPolicyQuota", 5},
        {"PolicySizeQuota", 6144},
        {"UserPolicySizeQuota", 2048},
        {"RolePolicySizeQuota", 10240},
        {"GroupPolicySizeQuota", 5120},
        {"AssumeRolePolicySizeQuota", 2048},
        {"AccountMFAEnabled", 0},
    };
    Xml x;
    x.Open("SummaryMap");
    for (const auto& [k, v] : summary) {
      x.Open("entry").Text("key", k).Text("value", std::to_string(v)).Close("entry");
    }
    x.Close("SummaryMap");
    return x.Take();
  };
  // Service-linked roles berth knows: the service, the role's name.
  static const std::map<std::string, std::string, std::less<>> kLinkedRoles = {
      {"ecs.amazonaws.com", "AWSServiceRoleForECS"},
  };
  ops["CreateServiceLinkedRole"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
    auto service = BERTH_TRY(p.Required("AWSServiceName"));
    auto known = kLinkedRoles.find(service);
    std::string path = fmt::format("/aws-service-role/{}/", service);
    std::string name = known != kLinkedRoles.end() ? known->second : "";
    iam::ResourceContext res;
    res.condition_keys["iam:AWSServiceName"] = {service};
    BERTH_CHECK(authorize(ctx, "iam:CreateServiceLinkedRole",
                          fmt::format("arn:aws:iam::{}:role{}{}", Acct(ctx), path,
                                      name.empty() ? "*" : name),
                          res));
    if (known == kLinkedRoles.end()) {
      return Fail("InvalidInput", fmt::format("Unknown service: {}. Service-linked roles berth "
                                              "can create: ecs.amazonaws.com.",
                                              service.substr(0, 128)));
    }
    if (p.Find("CustomSuffix")) {
      return Fail("InvalidInput", fmt::format("Custom suffix is not allowed for {}", service));
    }
    std::string trust = fmt::format(
        R"({{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{}"}},"Action":"sts:AssumeRole"}}]}})",
        service);
    auto created = iam->CreateRole(Acct(ctx), name, path, trust, Opt(p, "Description"), std::nullopt);
    if (!created && created.error().code == "EntityAlreadyExists") {
      return Fail("InvalidInput",
                  fmt::format("Service role name {} has been taken in this account, please try a "
                              "different suffix.",
                              name));
    }
    auto r = BERTH_TRY(std::move(created));
    Xml x;
    x.Open("Role");
    RoleXml(x, r, r.trust_policy);
    x.Close("Role");
    return x.Take();
  };

  // ---- the policy simulator
  // MaxItems (1-1000, default 100) and Marker page the (action, resource) pairs, as
  // in IAM, so one request evaluates at most 1,000 of them however many it names.
  auto simulation_input = [](const QueryParams& p) -> Result<iam::SimulationInput> {
    iam::SimulationInput in;
    iam::Page page = BERTH_TRY(PageOf(p));
    in.max_items = static_cast<size_t>(page.max_items);
    if (!page.marker.empty()) {
      auto decoded = Base64Decode(page.marker);
      size_t first = 0;
      if (!decoded || !decoded->starts_with("pair:") ||
          std::from_chars(decoded->data() + 5, decoded->data() + decoded->size(), first).ec !=
              std::errc()) {
        return Fail("InvalidInput", "Invalid Marker.");
      }
      in.first = first;
    }
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
  auto simulation_xml = [](const iam::SimulationPage& page) {
    Xml x;
    x.Open("EvaluationResults");
    for (const auto& r : page.results) {
      x.Open("member").Text("EvalActionName", r.action).Text("EvalResourceName", r.resource)
          .Text("EvalDecision", r.decision).Open("MatchedStatements");
      for (const auto& m : r.matched) {
        x.Open("member").Text("SourcePolicyId", m.policy_id).Text("SourcePolicyType", m.policy_type)
            .Close("member");
      }
      x.Close("MatchedStatements").Open("MissingContextValues").Close("MissingContextValues")
          .Close("member");
    }
    x.Close("EvaluationResults").Text("IsTruncated", page.truncated ? "true" : "false");
    if (page.truncated) x.Text("Marker", Base64Encode(fmt::format("pair:{}", page.next)));
    return x.Take();
  };
  iam::AccessControl* access = deps.access;
  ops["SimulatePrincipalPolicy"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
    auto source = BERTH_TRY(p.Required("PolicySourceArn"));
    auto arn = ParseArn(source);
    if (!arn || arn->service != "iam" || arn->account != Acct(ctx) ||
        !(arn->resource.starts_with("user/") || arn->resource.starts_with("role/"))) {
      BERTH_CHECK(authorize(ctx, "iam:SimulatePrincipalPolicy", source, {}));
      return Fail("InvalidInput", fmt::format("Invalid ARN: {}", source.substr(0, 256)));
    }
    std::string name = arn->resource.substr(arn->resource.rfind('/') + 1);
    BERTH_CHECK(authorize_on(ctx, "iam:SimulatePrincipalPolicy",
                             arn->resource.starts_with("user/") ? PrincipalType::kUser
                                                                : PrincipalType::kRole,
                             name));
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
    BERTH_CHECK(authorize(ctx, "iam:SimulateCustomPolicy", "*", {}));
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

Result<std::unique_ptr<Module>> IamModule(Environment& env) {
  // IAM's service and AccessControl are the core every module shares: App
  // builds them; this module only serves IAM's API over them.
  IamDeps deps{&env.iam, &env.identities, &env.access, AuthorizeWith(env.access)};
  return std::make_unique<RoutesModule>(
      "iam", [deps](aws::Gateway& gateway) { gateway.Add(IamRoutes(deps)); });
}

}  // namespace berth::server
