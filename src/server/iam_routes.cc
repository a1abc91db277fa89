// IAM's Query protocol: form parameters in, XML out (botocore `iam` model).
// Wire work only: every operation parses its parameters, calls iam::Api
// (which authorizes it, iam/api.h) and writes the reply.
#include <fmt/format.h>

#include <charconv>

#include "aws/xml.h"
#include "common/strings.h"
#include "iam/api.h"
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

// An integer parameter; absent: nullopt. `invalid` is the ValidationError's message.
Result<std::optional<int>> IntParam(const QueryParams& p, std::string_view name,
                                    std::string_view invalid) {
  const std::string* m = p.Find(name);
  if (!m) return std::optional<int>();
  int n = 0;
  auto [end, err] = std::from_chars(m->data(), m->data() + m->size(), n);
  if (err != std::errc() || end != m->data() + m->size()) {
    return Fail("ValidationError", std::string(invalid));
  }
  return std::optional<int>(n);
}

Result<iam::Page> PageOf(const QueryParams& p) {
  iam::Page page;
  page.marker = Opt(p, "Marker");
  auto n = IntParam(p, "MaxItems", "");
  if (!n || (*n && (**n < 1 || **n > 1000))) {
    return Fail(
        "ValidationError",
        fmt::format("1 validation error detected: Value '{}' at 'maxItems' failed to satisfy "
                    "constraint: Member must have value between 1 and 1000",
                    p.Find("MaxItems")->substr(0, 32)));
  }
  if (*n) page.max_items = **n;
  return page;
}

void TagsXml(Xml& x, const iam::Tags& tags) {
  x.Element("Tags", [&](Xml& x) {
    for (const auto& [k, v] : tags) {
      x.Element("member", [&](Xml& x) { x.Text("Key", k).Text("Value", v); });
    }
  });
}

void BoundaryXml(Xml& x, const std::string& boundary) {
  if (boundary.empty()) return;
  x.Element("PermissionsBoundary", [&](Xml& x) {
    x.Text("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
        .Text("PermissionsBoundaryArn", boundary);
  });
}

void UserXml(Xml& x, const iam::User& u) {
  x.Text("Path", u.path)
      .Text("UserName", u.name)
      .Text("UserId", u.id)
      .Text("Arn", u.arn)
      .Text("CreateDate", FormatIso8601(u.created));
  BoundaryXml(x, u.permissions_boundary);
  if (!u.tags.empty()) TagsXml(x, u.tags);
}

// The role's trust policy as iam::Api returns it (as IAM shows it).
void RoleXml(Xml& x, const iam::Role& r) {
  x.Text("Path", r.path)
      .Text("RoleName", r.name)
      .Text("RoleId", r.id)
      .Text("Arn", r.arn)
      .Text("CreateDate", FormatIso8601(r.created))
      .Text("AssumeRolePolicyDocument", UriEncode(r.trust_policy));
  if (!r.description.empty()) x.Text("Description", r.description);
  x.Text("MaxSessionDuration", std::to_string(r.max_session_duration));
  BoundaryXml(x, r.permissions_boundary);
  if (!r.tags.empty()) TagsXml(x, r.tags);
}

void GroupXml(Xml& x, const iam::Group& g) {
  x.Text("Path", g.path)
      .Text("GroupName", g.name)
      .Text("GroupId", g.id)
      .Text("Arn", g.arn)
      .Text("CreateDate", FormatIso8601(g.created));
}

void PolicyXml(Xml& x, const iam::ManagedPolicy& p) {
  x.Text("PolicyName", p.name)
      .Text("PolicyId", p.id)
      .Text("Arn", p.arn)
      .Text("Path", p.path)
      .Text("DefaultVersionId", p.default_version_id)
      .Text("AttachmentCount", std::to_string(p.attachment_count))
      .Text("PermissionsBoundaryUsageCount", "0")
      .Text("IsAttachable", "true");
  if (!p.description.empty()) x.Text("Description", p.description);
  x.Text("CreateDate", FormatIso8601(p.created)).Text("UpdateDate", FormatIso8601(p.updated));
  if (!p.tags.empty()) TagsXml(x, p.tags);
}

void VersionXml(Xml& x, const iam::PolicyVersion& v) {
  x.Text("Document", UriEncode(v.document))
      .Text("VersionId", v.version_id)
      .Text("IsDefaultVersion", v.is_default ? "true" : "false")
      .Text("CreateDate", FormatIso8601(v.created));
}

// <element> holding `write(x, item)` for each item, then IsTruncated.
template <class T, class Each>
std::string MembersXml(std::string_view element, const std::vector<T>& items, Each write,
                       bool truncated = false, const std::string& marker = "") {
  Xml x;
  x.Element(element, [&](Xml& x) {
    for (const auto& item : items) x.Element("member", [&](Xml& x) { write(x, item); });
  });
  x.Text("IsTruncated", truncated ? "true" : "false");
  if (truncated) x.Text("Marker", marker);
  return x.Take();
}

template <class T, class Each>
std::string ListXml(std::string_view element, const iam::Listed<T>& listed, Each write) {
  return MembersXml(element, listed.items, write, listed.truncated, listed.marker);
}

// <element> holding `write(x, value)`.
template <class T, class Write>
std::string OneXml(std::string_view element, const T& value, Write write) {
  Xml x;
  x.Element(element, [&](Xml& x) { write(x, value); });
  return x.Take();
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

// The policy simulator's input. MaxItems (1-1000, default 100) and Marker page
// the (action, resource) pairs, as in IAM, so one request evaluates at most
// 1,000 of them however many it names.
Result<iam::SimulationInput> SimulationInputOf(const QueryParams& p) {
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
}

std::string SimulationXml(const iam::SimulationPage& page) {
  Xml x;
  x.Element("EvaluationResults", [&](Xml& x) {
    for (const auto& r : page.results) {
      x.Element("member", [&](Xml& x) {
        x.Text("EvalActionName", r.action)
            .Text("EvalResourceName", r.resource)
            .Text("EvalDecision", r.decision)
            .Element(
                "MatchedStatements",
                [&](Xml& x) {
                  for (const auto& m : r.matched) {
                    x.Element("member", [&](Xml& x) {
                      x.Text("SourcePolicyId", m.policy_id).Text("SourcePolicyType", m.policy_type);
                    });
                  }
                })
            .Element("MissingContextValues", [](Xml&) {});
      });
    }
  });
  x.Text("IsTruncated", page.truncated ? "true" : "false");
  if (page.truncated) x.Text("Marker", Base64Encode(fmt::format("pair:{}", page.next)));
  return x.Take();
}

// An operation whose reply is empty.
Result<std::string> Done(Status status) {
  BERTH_CHECK(status);
  return std::string();
}

}  // namespace

aws::QueryService IamRoutes(iam::Api& api) {
  aws::QueryService svc;
  svc.signing_name = "iam";
  svc.version = "2010-05-08";
  svc.xmlns = "https://iam.amazonaws.com/doc/2010-05-08/";
  svc.empty_result_element = {"UpdateRole"};
  auto& ops = svc.operations;
  iam::Api* a = &api;

  // ---- users
  ops["CreateUser"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("UserName"));
    iam::EntityOptions options{Opt(p, "PermissionsBoundary"), TagsOf(p)};
    return OneXml("User", BERTH_TRY(a->CreateUser(ctx, name, Opt(p, "Path", "/"), options)),
                  UserXml);
  };
  ops["GetUser"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    return OneXml("User", BERTH_TRY(a->GetUser(ctx, Opt(p, "UserName"))), UserXml);
  };
  ops["ListUsers"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    return ListXml("Users",
                   BERTH_TRY(a->ListUsers(ctx, Opt(p, "PathPrefix", "/"), BERTH_TRY(PageOf(p)))),
                   UserXml);
  };
  ops["DeleteUser"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    return Done(a->DeleteUser(ctx, BERTH_TRY(p.Required("UserName"))));
  };
  ops["UpdateUser"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    return Done(a->UpdateUser(ctx, BERTH_TRY(p.Required("UserName")), Opt(p, "NewUserName"),
                              Opt(p, "NewPath")));
  };

  // ---- access keys
  ops["CreateAccessKey"] = [a](const RequestContext& ctx,
                               const QueryParams& p) -> Result<std::string> {
    auto [info, secret] = BERTH_TRY(a->CreateAccessKey(ctx, Opt(p, "UserName")));
    Xml x;
    x.Element("AccessKey", [&](Xml& x) {
      x.Text("UserName", info.user_name)
          .Text("AccessKeyId", info.access_key_id)
          .Text("Status", info.status)
          .Text("SecretAccessKey", secret)
          .Text("CreateDate", FormatIso8601(info.created));
    });
    return x.Take();
  };
  ops["ListAccessKeys"] = [a](const RequestContext& ctx,
                              const QueryParams& p) -> Result<std::string> {
    auto listed = BERTH_TRY(a->ListAccessKeys(ctx, Opt(p, "UserName")));
    return MembersXml("AccessKeyMetadata", listed.keys,
                      [&](Xml& x, const iam::IdentityStore::AccessKeyInfo& k) {
                        x.Text("UserName", listed.user_name)
                            .Text("AccessKeyId", k.access_key_id)
                            .Text("Status", k.status)
                            .Text("CreateDate", FormatIso8601(k.created));
                      });
  };
  ops["UpdateAccessKey"] = [a](const RequestContext& ctx,
                               const QueryParams& p) -> Result<std::string> {
    return Done(a->UpdateAccessKey(ctx, Opt(p, "UserName"), BERTH_TRY(p.Required("AccessKeyId")),
                                   BERTH_TRY(p.Required("Status"))));
  };
  ops["DeleteAccessKey"] = [a](const RequestContext& ctx,
                               const QueryParams& p) -> Result<std::string> {
    return Done(a->DeleteAccessKey(ctx, Opt(p, "UserName"), BERTH_TRY(p.Required("AccessKeyId"))));
  };

  // ---- roles
  ops["CreateRole"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    iam::CreateRoleInput in;
    in.name = BERTH_TRY(p.Required("RoleName"));
    in.path = Opt(p, "Path", "/");
    in.options = {Opt(p, "PermissionsBoundary"), TagsOf(p)};
    in.max_session_duration =
        BERTH_TRY(IntParam(p, "MaxSessionDuration", "MaxSessionDuration must be an integer."));
    in.trust_policy = BERTH_TRY(p.Required("AssumeRolePolicyDocument"));
    in.description = Opt(p, "Description");
    return OneXml("Role", BERTH_TRY(a->CreateRole(ctx, in)), RoleXml);
  };
  ops["GetRole"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    return OneXml("Role", BERTH_TRY(a->GetRole(ctx, BERTH_TRY(p.Required("RoleName")))), RoleXml);
  };
  ops["ListRoles"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    return ListXml("Roles",
                   BERTH_TRY(a->ListRoles(ctx, Opt(p, "PathPrefix", "/"), BERTH_TRY(PageOf(p)))),
                   RoleXml);
  };
  ops["DeleteRole"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    return Done(a->DeleteRole(ctx, BERTH_TRY(p.Required("RoleName"))));
  };
  ops["UpdateAssumeRolePolicy"] = [a](const RequestContext& ctx,
                                      const QueryParams& p) -> Result<std::string> {
    return Done(a->UpdateAssumeRolePolicy(ctx, BERTH_TRY(p.Required("RoleName")),
                                          BERTH_TRY(p.Required("PolicyDocument"))));
  };
  ops["UpdateRole"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("RoleName"));
    std::optional<std::string> description;
    if (const std::string* d = p.Find("Description")) description = *d;
    auto max =
        BERTH_TRY(IntParam(p, "MaxSessionDuration", "MaxSessionDuration must be an integer."));
    BERTH_TRY(a->UpdateRole(ctx, name, description, max));
    return std::string();
  };
  ops["UpdateRoleDescription"] = [a](const RequestContext& ctx,
                                     const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("RoleName"));
    auto description = BERTH_TRY(p.Required("Description"));
    return OneXml("Role", BERTH_TRY(a->UpdateRole(ctx, name, description, std::nullopt, true)),
                  RoleXml);
  };
  ops["CreateServiceLinkedRole"] = [a](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
    auto role = BERTH_TRY(a->CreateServiceLinkedRole(ctx, BERTH_TRY(p.Required("AWSServiceName")),
                                                     Opt(p, "Description"),
                                                     p.Find("CustomSuffix") != nullptr));
    return OneXml("Role", role, RoleXml);
  };

  // ---- what users, roles and groups share: inline and managed policies (and
  // boundaries and tags)
  for (auto [type, noun, param] : {std::tuple{PrincipalType::kUser, "User", "UserName"},
                                   std::tuple{PrincipalType::kRole, "Role", "RoleName"},
                                   std::tuple{PrincipalType::kGroup, "Group", "GroupName"}}) {
    std::string n = noun;
    std::string owner_param = param;
    ops["Put" + n + "Policy"] = [=](const RequestContext& ctx,
                                    const QueryParams& p) -> Result<std::string> {
      return Done(a->PutInlinePolicy(ctx, type, BERTH_TRY(p.Required(owner_param)),
                                     BERTH_TRY(p.Required("PolicyName")),
                                     BERTH_TRY(p.Required("PolicyDocument"))));
    };
    ops["Get" + n + "Policy"] = [=](const RequestContext& ctx,
                                    const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(p.Required(owner_param));
      auto pol =
          BERTH_TRY(a->GetInlinePolicy(ctx, type, owner, BERTH_TRY(p.Required("PolicyName"))));
      Xml x;
      x.Text(owner_param, owner)
          .Text("PolicyName", pol.name)
          .Text("PolicyDocument", UriEncode(pol.document));
      return x.Take();
    };
    ops["Delete" + n + "Policy"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
      return Done(a->DeleteInlinePolicy(ctx, type, BERTH_TRY(p.Required(owner_param)),
                                        BERTH_TRY(p.Required("PolicyName"))));
    };
    ops["List" + n + "Policies"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(p.Required(owner_param));
      return ListXml("PolicyNames",
                     BERTH_TRY(a->ListInlinePolicies(ctx, type, owner, BERTH_TRY(PageOf(p)))),
                     [](Xml& x, const std::string& name) { x.Raw(aws::XmlEscape(name)); });
    };
    ops["Attach" + n + "Policy"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
      return Done(a->AttachPolicy(ctx, type, BERTH_TRY(p.Required(owner_param)),
                                  BERTH_TRY(p.Required("PolicyArn"))));
    };
    ops["Detach" + n + "Policy"] = [=](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
      return Done(a->DetachPolicy(ctx, type, BERTH_TRY(p.Required(owner_param)),
                                  BERTH_TRY(p.Required("PolicyArn"))));
    };
    ops["ListAttached" + n + "Policies"] = [=](const RequestContext& ctx,
                                               const QueryParams& p) -> Result<std::string> {
      auto owner = BERTH_TRY(p.Required(owner_param));
      return ListXml("AttachedPolicies",
                     BERTH_TRY(a->ListAttachedPolicies(ctx, type, owner, BERTH_TRY(PageOf(p)))),
                     [](Xml& x, const std::pair<std::string, std::string>& attached) {
                       x.Text("PolicyName", attached.first).Text("PolicyArn", attached.second);
                     });
    };
    // Groups have no permissions boundary and no tags in IAM: those operations are users' and
    // roles' only (IAM answers TagGroup and the like with InvalidAction).
    if (type == PrincipalType::kGroup) continue;
    ops["Put" + n + "PermissionsBoundary"] = [=](const RequestContext& ctx,
                                                 const QueryParams& p) -> Result<std::string> {
      return Done(a->PutPermissionsBoundary(ctx, type, BERTH_TRY(p.Required(owner_param)),
                                            BERTH_TRY(p.Required("PermissionsBoundary"))));
    };
    ops["Delete" + n + "PermissionsBoundary"] = [=](const RequestContext& ctx,
                                                    const QueryParams& p) -> Result<std::string> {
      return Done(a->DeletePermissionsBoundary(ctx, type, BERTH_TRY(p.Required(owner_param))));
    };
    ops["Tag" + n] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
      return Done(a->TagEntity(ctx, type, BERTH_TRY(p.Required(owner_param)), TagsOf(p)));
    };
    ops["Untag" + n] = [=](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
      return Done(a->UntagEntity(ctx, type, BERTH_TRY(p.Required(owner_param)), p.List("TagKeys")));
    };
    ops["List" + n + "Tags"] = [=](const RequestContext& ctx,
                                   const QueryParams& p) -> Result<std::string> {
      auto tags = BERTH_TRY(a->ListEntityTags(ctx, type, BERTH_TRY(p.Required(owner_param))));
      Xml x;
      TagsXml(x, tags);
      return x.Text("IsTruncated", "false").Take();
    };
  }

  // ---- groups
  ops["CreateGroup"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("GroupName"));
    return OneXml("Group", BERTH_TRY(a->CreateGroup(ctx, name, Opt(p, "Path", "/"))), GroupXml);
  };
  ops["GetGroup"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    auto got = BERTH_TRY(a->GetGroup(ctx, BERTH_TRY(p.Required("GroupName"))));
    return OneXml("Group", got.group, GroupXml) + MembersXml("Users", got.members, UserXml);
  };
  ops["ListGroups"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    return ListXml("Groups",
                   BERTH_TRY(a->ListGroups(ctx, Opt(p, "PathPrefix", "/"), BERTH_TRY(PageOf(p)))),
                   GroupXml);
  };
  ops["DeleteGroup"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    return Done(a->DeleteGroup(ctx, BERTH_TRY(p.Required("GroupName"))));
  };
  ops["AddUserToGroup"] = [a](const RequestContext& ctx,
                              const QueryParams& p) -> Result<std::string> {
    return Done(a->AddUserToGroup(ctx, BERTH_TRY(p.Required("GroupName")),
                                  BERTH_TRY(p.Required("UserName"))));
  };
  ops["RemoveUserFromGroup"] = [a](const RequestContext& ctx,
                                   const QueryParams& p) -> Result<std::string> {
    return Done(a->RemoveUserFromGroup(ctx, BERTH_TRY(p.Required("GroupName")),
                                       BERTH_TRY(p.Required("UserName"))));
  };
  ops["ListGroupsForUser"] = [a](const RequestContext& ctx,
                                 const QueryParams& p) -> Result<std::string> {
    return MembersXml("Groups",
                      BERTH_TRY(a->ListGroupsForUser(ctx, BERTH_TRY(p.Required("UserName")))),
                      GroupXml);
  };

  // ---- managed policies
  ops["CreatePolicy"] = [a](const RequestContext& ctx,
                            const QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("PolicyName"));
    auto document = BERTH_TRY(p.Required("PolicyDocument"));
    return OneXml("Policy",
                  BERTH_TRY(a->CreatePolicy(ctx, name, Opt(p, "Path", "/"), document,
                                            Opt(p, "Description"), TagsOf(p))),
                  PolicyXml);
  };
  ops["GetPolicy"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    return OneXml("Policy", BERTH_TRY(a->GetPolicy(ctx, BERTH_TRY(p.Required("PolicyArn")))),
                  PolicyXml);
  };
  ops["ListPolicies"] = [a](const RequestContext& ctx,
                            const QueryParams& p) -> Result<std::string> {
    return ListXml(
        "Policies",
        BERTH_TRY(a->ListPolicies(ctx, Opt(p, "Scope", "All"), Opt(p, "OnlyAttached") == "true",
                                  Opt(p, "PathPrefix", "/"), BERTH_TRY(PageOf(p)))),
        PolicyXml);
  };
  ops["DeletePolicy"] = [a](const RequestContext& ctx,
                            const QueryParams& p) -> Result<std::string> {
    return Done(a->DeletePolicy(ctx, BERTH_TRY(p.Required("PolicyArn"))));
  };
  ops["TagPolicy"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    return Done(a->TagPolicy(ctx, BERTH_TRY(p.Required("PolicyArn")), TagsOf(p)));
  };
  ops["UntagPolicy"] = [a](const RequestContext& ctx, const QueryParams& p) -> Result<std::string> {
    return Done(a->UntagPolicy(ctx, BERTH_TRY(p.Required("PolicyArn")), p.List("TagKeys")));
  };
  ops["ListPolicyTags"] = [a](const RequestContext& ctx,
                              const QueryParams& p) -> Result<std::string> {
    auto tags = BERTH_TRY(a->ListPolicyTags(ctx, BERTH_TRY(p.Required("PolicyArn"))));
    Xml x;
    TagsXml(x, tags);
    return x.Text("IsTruncated", "false").Take();
  };
  ops["GetPolicyVersion"] = [a](const RequestContext& ctx,
                                const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    auto version = BERTH_TRY(a->GetPolicyVersion(ctx, arn, BERTH_TRY(p.Required("VersionId"))));
    return OneXml("PolicyVersion", version, VersionXml);
  };
  ops["CreatePolicyVersion"] = [a](const RequestContext& ctx,
                                   const QueryParams& p) -> Result<std::string> {
    auto arn = BERTH_TRY(p.Required("PolicyArn"));
    auto document = BERTH_TRY(p.Required("PolicyDocument"));
    auto version =
        BERTH_TRY(a->CreatePolicyVersion(ctx, arn, document, Opt(p, "SetAsDefault") == "true"));
    return OneXml("PolicyVersion", version, VersionXml);
  };
  ops["ListPolicyVersions"] = [a](const RequestContext& ctx,
                                  const QueryParams& p) -> Result<std::string> {
    return MembersXml("Versions",
                      BERTH_TRY(a->ListPolicyVersions(ctx, BERTH_TRY(p.Required("PolicyArn")))),
                      [](Xml& x, const iam::PolicyVersion& v) {
                        x.Text("VersionId", v.version_id)
                            .Text("IsDefaultVersion", v.is_default ? "true" : "false")
                            .Text("CreateDate", FormatIso8601(v.created));
                      });
  };
  ops["DeletePolicyVersion"] = [a](const RequestContext& ctx,
                                   const QueryParams& p) -> Result<std::string> {
    return Done(a->DeletePolicyVersion(ctx, BERTH_TRY(p.Required("PolicyArn")),
                                       BERTH_TRY(p.Required("VersionId"))));
  };
  ops["SetDefaultPolicyVersion"] = [a](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
    return Done(a->SetDefaultPolicyVersion(ctx, BERTH_TRY(p.Required("PolicyArn")),
                                           BERTH_TRY(p.Required("VersionId"))));
  };
  ops["ListEntitiesForPolicy"] = [a](const RequestContext& ctx,
                                     const QueryParams& p) -> Result<std::string> {
    auto entities = BERTH_TRY(a->ListEntitiesForPolicy(ctx, BERTH_TRY(p.Required("PolicyArn"))));
    std::string filter = Opt(p, "EntityFilter");
    Xml x;
    for (auto [type, element, name_tag, id_tag, kind] :
         {std::tuple{PrincipalType::kGroup, "PolicyGroups", "GroupName", "GroupId", "Group"},
          std::tuple{PrincipalType::kUser, "PolicyUsers", "UserName", "UserId", "User"},
          std::tuple{PrincipalType::kRole, "PolicyRoles", "RoleName", "RoleId", "Role"}}) {
      x.Element(element, [&](Xml& x) {
        if (!filter.empty() && filter != kind) return;
        for (const auto& e : entities) {
          if (e.type != type) continue;
          x.Element("member", [&](Xml& x) { x.Text(name_tag, e.name).Text(id_tag, e.id); });
        }
      });
    }
    return x.Text("IsTruncated", "false").Take();
  };

  // ---- the account
  ops["GetAccountSummary"] = [a](const RequestContext& ctx,
                                 const QueryParams&) -> Result<std::string> {
    auto summary = BERTH_TRY(a->GetAccountSummary(ctx));
    Xml x;
    x.Element("SummaryMap", [&](Xml& x) {
      for (const auto& [k, v] : summary) {
        x.Element("entry", [&](Xml& x) { x.Text("key", k).Text("value", std::to_string(v)); });
      }
    });
    return x.Take();
  };

  // ---- the policy simulator
  ops["SimulatePrincipalPolicy"] = [a](const RequestContext& ctx,
                                       const QueryParams& p) -> Result<std::string> {
    auto source = BERTH_TRY(p.Required("PolicySourceArn"));
    auto in = BERTH_TRY(SimulationInputOf(p));
    return SimulationXml(BERTH_TRY(a->SimulatePrincipalPolicy(ctx, source, std::move(in))));
  };
  ops["SimulateCustomPolicy"] = [a](const RequestContext& ctx,
                                    const QueryParams& p) -> Result<std::string> {
    return SimulationXml(BERTH_TRY(a->SimulateCustomPolicy(ctx, BERTH_TRY(SimulationInputOf(p)))));
  };
  return svc;
}

Result<std::unique_ptr<Module>> IamModule(Environment& env) {
  // IAM's service and AccessControl are the core every module shares: App
  // builds them; this module only serves IAM's API over them.
  auto api = std::make_shared<iam::Api>(env.iam, env.identities, env.access);
  return std::make_unique<RoutesModule>(
      "iam", [a = api.get()](aws::Gateway& gateway) { gateway.Add(IamRoutes(*a)); }, api);
}

}  // namespace berth::server
