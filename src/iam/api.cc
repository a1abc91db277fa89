#include "iam/api.h"

#include <fmt/format.h>

#include <map>

#include "common/arn.h"

namespace berth::iam {

namespace {

// Which account an operation acts in: the caller's own.
const std::string& Acct(const aws::RequestContext& ctx) { return ctx.caller.account; }

// "User", "Role", "Group".
std::string Noun(PrincipalType type) {
  std::string noun = TypeName(type);
  noun[0] = static_cast<char>(noun[0] - 'a' + 'A');
  return noun;
}

// "iam:" + verb + the owner's type + suffix: iam:PutUserPolicy, iam:TagRole.
std::string Action(std::string_view verb, PrincipalType type, std::string_view suffix = "") {
  return fmt::format("iam:{}{}{}", verb, Noun(type), suffix);
}

// arn:aws:iam::<acct>:<kind><path><name> (the ARN an entity created there has).
std::string EntityArn(const aws::RequestContext& ctx, std::string_view kind, std::string_view path,
                      std::string_view name) {
  return fmt::format("arn:aws:iam::{}:{}{}{}", Acct(ctx), kind, path, name);
}

// aws:RequestTag/<key> and aws:TagKeys for an operation that sets tags.
void AddRequestTags(ContextMap& keys, const Tags& tags) {
  if (tags.empty()) return;
  std::vector<std::string> tag_keys;
  for (const auto& [k, v] : tags) {
    keys["aws:RequestTag/" + k] = {v};
    tag_keys.push_back(k);
  }
  keys["aws:TagKeys"] = std::move(tag_keys);
}

void AddResourceTags(ContextMap& keys, const Tags& tags) {
  for (const auto& [k, v] : tags) keys["iam:ResourceTag/" + k] = {v};
}

// The keys an operation that creates an entity or sets a boundary adds.
ContextMap CreationKeys(const Tags& tags, const std::string& boundary) {
  ContextMap keys;
  AddRequestTags(keys, tags);
  if (!boundary.empty()) keys["iam:PermissionsBoundary"] = {boundary};
  return keys;
}

ContextMap TagKeys(const std::vector<std::string>& keys) {
  ContextMap map;
  if (!keys.empty()) map["aws:TagKeys"] = keys;
  return map;
}

// A user's name as an access-key operation means it: the caller's own when empty.
Result<std::string> KeyUser(const aws::RequestContext& ctx, const std::string& name) {
  if (!name.empty()) return name;
  if (ctx.caller.kind == aws::Principal::Kind::kUser) return ctx.caller.name;
  return Fail("ValidationError",
              "berth does not manage root access keys through IAM; give UserName (root keys come "
              "from the server's --root-credentials or its credentials file)");
}

// Service-linked roles berth knows: the service, the role's name.
const std::map<std::string, std::string, std::less<>>& LinkedRoles() {
  static const std::map<std::string, std::string, std::less<>> kLinkedRoles = {
      {"ecs.amazonaws.com", "AWSServiceRoleForECS"},
  };
  return kLinkedRoles;
}

Status RequireActions(const SimulationInput& in) {
  if (!in.actions.empty()) return {};
  return Fail("ValidationError",
              "1 validation error detected: Value null at 'actionNames' "
              "failed to satisfy constraint: Member must not be null");
}

}  // namespace

Api::Api(Service& iam, IdentityStore& identities, AccessControl& access)
    : iam_(iam), identities_(identities), access_(access) {}

Result<Api::Target> Api::TargetOf(const Ctx& ctx, PrincipalType type, const std::string& name) {
  Target t;
  // NoSuchEntity leaves the ARN as typed; any other failure is the answer.
  auto missing = [](const auto& found) -> Status {
    if (found || found.error().code == "NoSuchEntity") return {};
    return Fail(found.error());
  };
  t.arn = EntityArn(ctx, TypeName(type), "/", name);
  if (type == PrincipalType::kGroup) {
    auto found = iam_.GetGroup(Acct(ctx), name);
    BERTH_CHECK(missing(found));
    if (found) t.arn = found->arn;
    return t;
  }
  std::string boundary;
  if (type == PrincipalType::kUser) {
    auto found = iam_.GetUser(Acct(ctx), name);
    BERTH_CHECK(missing(found));
    if (found) {
      t.arn = found->arn;
      boundary = found->permissions_boundary;
      AddResourceTags(t.res.condition_keys, found->tags);
    }
  } else {
    auto found = iam_.GetRole(Acct(ctx), name);
    BERTH_CHECK(missing(found));
    if (found) {
      t.arn = found->arn;
      boundary = found->permissions_boundary;
      AddResourceTags(t.res.condition_keys, found->tags);
    }
  }
  if (!boundary.empty()) t.res.condition_keys["iam:PermissionsBoundary"] = {boundary};
  return t;
}

Status Api::AuthorizeOn(const Ctx& ctx, const std::string& action, PrincipalType type,
                        const std::string& name, const ContextMap& keys) {
  Target t = BERTH_TRY(TargetOf(ctx, type, name));
  for (const auto& [k, v] : keys) t.res.condition_keys[k] = v;
  return access_.Authorize(ctx, action, t.arn, t.res);
}

Status Api::AuthorizePolicy(const Ctx& ctx, const std::string& action, const std::string& arn,
                            const ContextMap& keys) {
  ResourceContext res;
  if (auto pol = iam_.GetPolicy(arn)) AddResourceTags(res.condition_keys, pol->tags);
  for (const auto& [k, v] : keys) res.condition_keys[k] = v;
  return access_.Authorize(ctx, action, arn, res);
}

Status Api::AuthorizeArn(const Ctx& ctx, const std::string& action, const std::string& arn,
                         const ContextMap& keys) {
  ResourceContext res;
  res.condition_keys = keys;
  return access_.Authorize(ctx, action, arn, res);
}

Role Api::Shown(Role role) {
  role.trust_policy =
      ShowBoundPrincipals(role.trust_policy, role.trust_principal_ids,
                          [this](std::string_view arn) -> std::optional<std::string> {
                            auto id = iam_.PrincipalId(arn);
                            return id ? *id : std::nullopt;
                          });
  return role;
}

// ---- users

Result<User> Api::CreateUser(const Ctx& ctx, const std::string& name, const std::string& path,
                             const EntityOptions& options) {
  BERTH_CHECK(AuthorizeArn(ctx, "iam:CreateUser", EntityArn(ctx, "user", path, name),
                           CreationKeys(options.tags, options.permissions_boundary)));
  return iam_.CreateUser(Acct(ctx), name, path, options);
}

Result<User> Api::GetUser(const Ctx& ctx, std::string name) {
  if (name.empty()) {
    if (ctx.caller.kind != aws::Principal::Kind::kUser) {
      return Fail("ValidationError",
                  "Must specify userName when calling with non-User credentials");
    }
    name = ctx.caller.name;
  }
  BERTH_CHECK(AuthorizeOn(ctx, "iam:GetUser", PrincipalType::kUser, name));
  return iam_.GetUser(Acct(ctx), name);
}

Result<Listed<User>> Api::ListUsers(const Ctx& ctx, const std::string& path_prefix,
                                    const Page& page) {
  BERTH_CHECK(AuthorizeArn(ctx, "iam:ListUsers", EntityArn(ctx, "user/", "", "")));
  return iam_.ListUsers(Acct(ctx), path_prefix, page);
}

Status Api::DeleteUser(const Ctx& ctx, const std::string& name) {
  BERTH_CHECK(AuthorizeOn(ctx, "iam:DeleteUser", PrincipalType::kUser, name));
  auto keys = BERTH_TRY(identities_.ListAccessKeys(Acct(ctx), name));
  return iam_.DeleteUser(Acct(ctx), name, !keys.empty());
}

Status Api::UpdateUser(const Ctx& ctx, const std::string& name, const std::string& new_name,
                       const std::string& new_path) {
  BERTH_CHECK(AuthorizeOn(ctx, "iam:UpdateUser", PrincipalType::kUser, name));
  if (!new_name.empty() || !new_path.empty()) {
    // As IAM requires: permission on the target name too.
    auto current = iam_.GetUser(Acct(ctx), name);
    std::string path = !new_path.empty() ? new_path : current ? current->path : "/";
    BERTH_CHECK(AuthorizeArn(ctx, "iam:UpdateUser",
                             EntityArn(ctx, "user", path, !new_name.empty() ? new_name : name)));
  }
  BERTH_TRY(iam_.UpdateUser(Acct(ctx), name, new_name, new_path));
  return {};
}

// ---- access keys

Result<std::pair<IdentityStore::AccessKeyInfo, std::string>> Api::CreateAccessKey(
    const Ctx& ctx, const std::string& user) {
  auto name = BERTH_TRY(KeyUser(ctx, user));
  BERTH_CHECK(AuthorizeOn(ctx, "iam:CreateAccessKey", PrincipalType::kUser, name));
  auto found = BERTH_TRY(iam_.GetUser(Acct(ctx), name));
  return identities_.CreateAccessKey(Acct(ctx), found.name, found.id);
}

Result<AccessKeys> Api::ListAccessKeys(const Ctx& ctx, const std::string& user) {
  auto name = BERTH_TRY(KeyUser(ctx, user));
  BERTH_CHECK(AuthorizeOn(ctx, "iam:ListAccessKeys", PrincipalType::kUser, name));
  auto found = BERTH_TRY(iam_.GetUser(Acct(ctx), name));
  return AccessKeys{found.name, BERTH_TRY(identities_.ListAccessKeys(Acct(ctx), found.name))};
}

Status Api::UpdateAccessKey(const Ctx& ctx, const std::string& user, const std::string& key_id,
                            const std::string& status) {
  auto name = BERTH_TRY(KeyUser(ctx, user));
  BERTH_CHECK(AuthorizeOn(ctx, "iam:UpdateAccessKey", PrincipalType::kUser, name));
  return identities_.UpdateAccessKey(Acct(ctx), name, key_id, status);
}

Status Api::DeleteAccessKey(const Ctx& ctx, const std::string& user, const std::string& key_id) {
  auto name = BERTH_TRY(KeyUser(ctx, user));
  BERTH_CHECK(AuthorizeOn(ctx, "iam:DeleteAccessKey", PrincipalType::kUser, name));
  return identities_.DeleteAccessKey(Acct(ctx), name, key_id);
}

// ---- roles

Result<Role> Api::CreateRole(const Ctx& ctx, const CreateRoleInput& in) {
  BERTH_CHECK(AuthorizeArn(ctx, "iam:CreateRole", EntityArn(ctx, "role", in.path, in.name),
                           CreationKeys(in.options.tags, in.options.permissions_boundary)));
  return iam_.CreateRole(Acct(ctx), in.name, in.path, in.trust_policy, in.description,
                         in.max_session_duration, in.options);
}

Result<Role> Api::GetRole(const Ctx& ctx, const std::string& name) {
  BERTH_CHECK(AuthorizeOn(ctx, "iam:GetRole", PrincipalType::kRole, name));
  return Shown(BERTH_TRY(iam_.GetRole(Acct(ctx), name)));
}

Result<Listed<Role>> Api::ListRoles(const Ctx& ctx, const std::string& path_prefix,
                                    const Page& page) {
  BERTH_CHECK(AuthorizeArn(ctx, "iam:ListRoles", EntityArn(ctx, "role/", "", "")));
  auto listed = BERTH_TRY(iam_.ListRoles(Acct(ctx), path_prefix, page));
  for (auto& role : listed.items) role = Shown(std::move(role));
  return listed;
}

Status Api::DeleteRole(const Ctx& ctx, const std::string& name) {
  BERTH_CHECK(AuthorizeOn(ctx, "iam:DeleteRole", PrincipalType::kRole, name));
  return iam_.DeleteRole(Acct(ctx), name);
}

Status Api::UpdateAssumeRolePolicy(const Ctx& ctx, const std::string& name,
                                   const std::string& document) {
  BERTH_CHECK(AuthorizeOn(ctx, "iam:UpdateAssumeRolePolicy", PrincipalType::kRole, name));
  return iam_.UpdateAssumeRolePolicy(Acct(ctx), name, document);
}

Result<Role> Api::UpdateRole(const Ctx& ctx, const std::string& name,
                             std::optional<std::string> description,
                             std::optional<int> max_session_duration, bool description_only) {
  BERTH_CHECK(AuthorizeOn(ctx, description_only ? "iam:UpdateRoleDescription" : "iam:UpdateRole",
                          PrincipalType::kRole, name));
  return Shown(
      BERTH_TRY(iam_.UpdateRole(Acct(ctx), name, std::move(description), max_session_duration)));
}

Result<Role> Api::CreateServiceLinkedRole(const Ctx& ctx, const std::string& service,
                                          const std::string& description, bool custom_suffix) {
  auto known = LinkedRoles().find(service);
  std::string path = fmt::format("/aws-service-role/{}/", service);
  std::string name = known != LinkedRoles().end() ? known->second : "";
  BERTH_CHECK(AuthorizeArn(ctx, "iam:CreateServiceLinkedRole",
                           EntityArn(ctx, "role", path, name.empty() ? "*" : name),
                           {{"iam:AWSServiceName", {service}}}));
  if (known == LinkedRoles().end()) {
    return Fail("InvalidInput", fmt::format("Unknown service: {}. Service-linked roles berth "
                                            "can create: ecs.amazonaws.com.",
                                            service.substr(0, 128)));
  }
  if (custom_suffix) {
    return Fail("InvalidInput", fmt::format("Custom suffix is not allowed for {}", service));
  }
  std::string trust = fmt::format(
      R"({{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{}"}},"Action":"sts:AssumeRole"}}]}})",
      service);
  auto created = iam_.CreateRole(Acct(ctx), name, path, trust, description, std::nullopt);
  if (!created && created.error().code == "EntityAlreadyExists") {
    return Fail("InvalidInput",
                fmt::format("Service role name {} has been taken in this account, please try a "
                            "different suffix.",
                            name));
  }
  return created;
}

// ---- groups

Result<Group> Api::CreateGroup(const Ctx& ctx, const std::string& name, const std::string& path) {
  BERTH_CHECK(AuthorizeArn(ctx, "iam:CreateGroup", EntityArn(ctx, "group", path, name)));
  return iam_.CreateGroup(Acct(ctx), name, path);
}

Result<GroupWithMembers> Api::GetGroup(const Ctx& ctx, const std::string& name) {
  BERTH_CHECK(AuthorizeOn(ctx, "iam:GetGroup", PrincipalType::kGroup, name));
  auto group = BERTH_TRY(iam_.GetGroup(Acct(ctx), name));
  return GroupWithMembers{std::move(group), BERTH_TRY(iam_.GroupMembers(Acct(ctx), name))};
}

Result<Listed<Group>> Api::ListGroups(const Ctx& ctx, const std::string& path_prefix,
                                      const Page& page) {
  BERTH_CHECK(AuthorizeArn(ctx, "iam:ListGroups", EntityArn(ctx, "group/", "", "")));
  return iam_.ListGroups(Acct(ctx), path_prefix, page);
}

Status Api::DeleteGroup(const Ctx& ctx, const std::string& name) {
  BERTH_CHECK(AuthorizeOn(ctx, "iam:DeleteGroup", PrincipalType::kGroup, name));
  return iam_.DeleteGroup(Acct(ctx), name);
}

Status Api::AddUserToGroup(const Ctx& ctx, const std::string& group, const std::string& user) {
  BERTH_CHECK(AuthorizeOn(ctx, "iam:AddUserToGroup", PrincipalType::kGroup, group));
  return iam_.AddUserToGroup(Acct(ctx), group, user);
}

Status Api::RemoveUserFromGroup(const Ctx& ctx, const std::string& group, const std::string& user) {
  BERTH_CHECK(AuthorizeOn(ctx, "iam:RemoveUserFromGroup", PrincipalType::kGroup, group));
  return iam_.RemoveUserFromGroup(Acct(ctx), group, user);
}

Result<std::vector<Group>> Api::ListGroupsForUser(const Ctx& ctx, const std::string& user) {
  BERTH_CHECK(AuthorizeOn(ctx, "iam:ListGroupsForUser", PrincipalType::kUser, user));
  BERTH_TRY(iam_.GetUser(Acct(ctx), user));
  return iam_.GroupsOfUser(Acct(ctx), user);
}

// ---- what users, roles and groups share

Status Api::PutInlinePolicy(const Ctx& ctx, PrincipalType type, const std::string& owner,
                            const std::string& policy_name, const std::string& document) {
  BERTH_CHECK(AuthorizeOn(ctx, Action("Put", type, "Policy"), type, owner));
  return iam_.PutInlinePolicy(Acct(ctx), type, owner, policy_name, document);
}

Result<InlinePolicy> Api::GetInlinePolicy(const Ctx& ctx, PrincipalType type,
                                          const std::string& owner,
                                          const std::string& policy_name) {
  BERTH_CHECK(AuthorizeOn(ctx, Action("Get", type, "Policy"), type, owner));
  return iam_.GetInlinePolicy(Acct(ctx), type, owner, policy_name);
}

Status Api::DeleteInlinePolicy(const Ctx& ctx, PrincipalType type, const std::string& owner,
                               const std::string& policy_name) {
  BERTH_CHECK(AuthorizeOn(ctx, Action("Delete", type, "Policy"), type, owner));
  return iam_.DeleteInlinePolicy(Acct(ctx), type, owner, policy_name);
}

Result<Listed<std::string>> Api::ListInlinePolicies(const Ctx& ctx, PrincipalType type,
                                                    const std::string& owner, const Page& page) {
  BERTH_CHECK(AuthorizeOn(ctx, Action("List", type, "Policies"), type, owner));
  return iam_.ListInlinePolicies(Acct(ctx), type, owner, page);
}

// iam:PolicyARN: the managed policy being attached or detached.
Status Api::AttachPolicy(const Ctx& ctx, PrincipalType type, const std::string& owner,
                         const std::string& policy_arn) {
  BERTH_CHECK(AuthorizeOn(ctx, Action("Attach", type, "Policy"), type, owner,
                          {{"iam:PolicyARN", {policy_arn}}}));
  return iam_.AttachPolicy(Acct(ctx), type, owner, policy_arn);
}

Status Api::DetachPolicy(const Ctx& ctx, PrincipalType type, const std::string& owner,
                         const std::string& policy_arn) {
  BERTH_CHECK(AuthorizeOn(ctx, Action("Detach", type, "Policy"), type, owner,
                          {{"iam:PolicyARN", {policy_arn}}}));
  return iam_.DetachPolicy(Acct(ctx), type, owner, policy_arn);
}

Result<Listed<std::pair<std::string, std::string>>> Api::ListAttachedPolicies(
    const Ctx& ctx, PrincipalType type, const std::string& owner, const Page& page) {
  BERTH_CHECK(AuthorizeOn(ctx, Action("ListAttached", type, "Policies"), type, owner));
  return iam_.ListAttachedPolicies(Acct(ctx), type, owner, page);
}

// iam:PermissionsBoundary is the boundary being set (not the current one).
Status Api::PutPermissionsBoundary(const Ctx& ctx, PrincipalType type, const std::string& owner,
                                   const std::string& policy_arn) {
  BERTH_CHECK(AuthorizeOn(ctx, Action("Put", type, "PermissionsBoundary"), type, owner,
                          {{"iam:PermissionsBoundary", {policy_arn}}}));
  return iam_.PutPermissionsBoundary(Acct(ctx), type, owner, policy_arn);
}

Status Api::DeletePermissionsBoundary(const Ctx& ctx, PrincipalType type,
                                      const std::string& owner) {
  BERTH_CHECK(AuthorizeOn(ctx, Action("Delete", type, "PermissionsBoundary"), type, owner));
  return iam_.DeletePermissionsBoundary(Acct(ctx), type, owner);
}

Status Api::TagEntity(const Ctx& ctx, PrincipalType type, const std::string& owner,
                      const Tags& tags) {
  ContextMap keys;
  AddRequestTags(keys, tags);
  BERTH_CHECK(AuthorizeOn(ctx, Action("Tag", type), type, owner, keys));
  return iam_.TagEntity(Acct(ctx), type, owner, tags);
}

Status Api::UntagEntity(const Ctx& ctx, PrincipalType type, const std::string& owner,
                        const std::vector<std::string>& keys) {
  BERTH_CHECK(AuthorizeOn(ctx, Action("Untag", type), type, owner, TagKeys(keys)));
  return iam_.UntagEntity(Acct(ctx), type, owner, keys);
}

Result<Tags> Api::ListEntityTags(const Ctx& ctx, PrincipalType type, const std::string& owner) {
  BERTH_CHECK(AuthorizeOn(ctx, Action("List", type, "Tags"), type, owner));
  if (type == PrincipalType::kUser) return BERTH_TRY(iam_.GetUser(Acct(ctx), owner)).tags;
  return BERTH_TRY(iam_.GetRole(Acct(ctx), owner)).tags;
}

// ---- managed policies

Result<ManagedPolicy> Api::CreatePolicy(const Ctx& ctx, const std::string& name,
                                        const std::string& path, const std::string& document,
                                        const std::string& description, const Tags& tags) {
  ContextMap keys;
  AddRequestTags(keys, tags);
  BERTH_CHECK(AuthorizeArn(ctx, "iam:CreatePolicy", EntityArn(ctx, "policy", path, name), keys));
  return iam_.CreatePolicy(Acct(ctx), name, path, document, description, tags);
}

Result<ManagedPolicy> Api::GetPolicy(const Ctx& ctx, const std::string& arn) {
  BERTH_CHECK(AuthorizePolicy(ctx, "iam:GetPolicy", arn));
  return iam_.GetPolicy(arn);
}

Result<Listed<ManagedPolicy>> Api::ListPolicies(const Ctx& ctx, const std::string& scope,
                                                bool only_attached, const std::string& path_prefix,
                                                const Page& page) {
  BERTH_CHECK(AuthorizeArn(ctx, "iam:ListPolicies", EntityArn(ctx, "policy/", "", "")));
  return iam_.ListPolicies(Acct(ctx), scope, only_attached, path_prefix, page);
}

Status Api::DeletePolicy(const Ctx& ctx, const std::string& arn) {
  BERTH_CHECK(AuthorizePolicy(ctx, "iam:DeletePolicy", arn));
  return iam_.DeletePolicy(arn);
}

Status Api::TagPolicy(const Ctx& ctx, const std::string& arn, const Tags& tags) {
  ContextMap keys;
  AddRequestTags(keys, tags);
  BERTH_CHECK(AuthorizePolicy(ctx, "iam:TagPolicy", arn, keys));
  return iam_.TagPolicy(arn, tags);
}

Status Api::UntagPolicy(const Ctx& ctx, const std::string& arn,
                        const std::vector<std::string>& keys) {
  BERTH_CHECK(AuthorizePolicy(ctx, "iam:UntagPolicy", arn, TagKeys(keys)));
  return iam_.UntagPolicy(arn, keys);
}

Result<Tags> Api::ListPolicyTags(const Ctx& ctx, const std::string& arn) {
  BERTH_CHECK(AuthorizePolicy(ctx, "iam:ListPolicyTags", arn));
  return BERTH_TRY(iam_.GetPolicy(arn)).tags;
}

Result<PolicyVersion> Api::GetPolicyVersion(const Ctx& ctx, const std::string& arn,
                                            const std::string& version_id) {
  BERTH_CHECK(AuthorizePolicy(ctx, "iam:GetPolicyVersion", arn));
  return iam_.GetPolicyVersion(arn, version_id);
}

Result<PolicyVersion> Api::CreatePolicyVersion(const Ctx& ctx, const std::string& arn,
                                               const std::string& document, bool set_as_default) {
  BERTH_CHECK(AuthorizePolicy(ctx, "iam:CreatePolicyVersion", arn));
  return iam_.CreatePolicyVersion(arn, document, set_as_default);
}

Result<std::vector<PolicyVersion>> Api::ListPolicyVersions(const Ctx& ctx, const std::string& arn) {
  BERTH_CHECK(AuthorizePolicy(ctx, "iam:ListPolicyVersions", arn));
  return iam_.ListPolicyVersions(arn);
}

Status Api::DeletePolicyVersion(const Ctx& ctx, const std::string& arn,
                                const std::string& version_id) {
  BERTH_CHECK(AuthorizePolicy(ctx, "iam:DeletePolicyVersion", arn));
  return iam_.DeletePolicyVersion(arn, version_id);
}

Status Api::SetDefaultPolicyVersion(const Ctx& ctx, const std::string& arn,
                                    const std::string& version_id) {
  BERTH_CHECK(AuthorizePolicy(ctx, "iam:SetDefaultPolicyVersion", arn));
  return iam_.SetDefaultPolicyVersion(arn, version_id);
}

Result<std::vector<PolicyEntity>> Api::ListEntitiesForPolicy(const Ctx& ctx,
                                                             const std::string& arn) {
  BERTH_CHECK(AuthorizePolicy(ctx, "iam:ListEntitiesForPolicy", arn));
  auto entities = BERTH_TRY(iam_.EntitiesForPolicy(arn));
  std::vector<PolicyEntity> out;
  for (PrincipalType type : {PrincipalType::kGroup, PrincipalType::kUser, PrincipalType::kRole}) {
    for (const auto& [t, name] : entities) {
      if (t != type) continue;
      std::string id;
      if (t == PrincipalType::kUser) {
        if (auto u = iam_.GetUser(Acct(ctx), name)) id = u->id;
      } else if (t == PrincipalType::kRole) {
        if (auto r = iam_.GetRole(Acct(ctx), name)) id = r->id;
      } else if (auto g = iam_.GetGroup(Acct(ctx), name)) {
        id = g->id;
      }
      out.push_back({t, name, std::move(id)});
    }
  }
  return out;
}

Result<std::vector<std::pair<std::string, size_t>>> Api::GetAccountSummary(const Ctx& ctx) {
  BERTH_CHECK(AuthorizeArn(ctx, "iam:GetAccountSummary", "*"));
  return std::vector<std::pair<std::string, size_t>>{
      {"Users", BERTH_TRY(iam_.Count(Acct(ctx), "user"))},
      {"UsersQuota", 5000},
      {"Groups", BERTH_TRY(iam_.Count(Acct(ctx), "group"))},
      {"GroupsQuota", 300},
      {"Roles", BERTH_TRY(iam_.Count(Acct(ctx), "role"))},
      {"RolesQuota", 1000},
      {"Policies", BERTH_TRY(iam_.Count(Acct(ctx), "policy"))},
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
}

// ---- the policy simulator

Result<SimulationPage> Api::SimulatePrincipalPolicy(const Ctx& ctx, const std::string& source_arn,
                                                    SimulationInput in) {
  auto arn = ParseArn(source_arn);
  if (!arn || arn->service != "iam" || arn->account != Acct(ctx) ||
      !(arn->resource.starts_with("user/") || arn->resource.starts_with("role/"))) {
    BERTH_CHECK(AuthorizeArn(ctx, "iam:SimulatePrincipalPolicy", source_arn));
    return Fail("InvalidInput", fmt::format("Invalid ARN: {}", source_arn.substr(0, 256)));
  }
  bool is_user = arn->resource.starts_with("user/");
  std::string name = arn->resource.substr(arn->resource.rfind('/') + 1);
  BERTH_CHECK(AuthorizeOn(ctx, "iam:SimulatePrincipalPolicy",
                          is_user ? PrincipalType::kUser : PrincipalType::kRole, name));
  aws::Principal principal;
  principal.account = arn->account;
  principal.name = name;
  if (is_user) {
    auto user = BERTH_TRY(iam_.GetUser(Acct(ctx), name));
    principal.kind = aws::Principal::Kind::kUser;
    principal.arn = user.arn;
    principal.user_id = user.id;
  } else {
    auto role = BERTH_TRY(iam_.GetRole(Acct(ctx), name));
    principal.kind = aws::Principal::Kind::kAssumedRole;
    principal.arn = fmt::format("arn:aws:sts::{}:assumed-role/{}/simulation", Acct(ctx), role.name);
    principal.user_id = role.id + ":simulation";
  }
  BERTH_CHECK(RequireActions(in));
  in.principal = principal;
  return access_.Simulate(in, ctx.now);
}

Result<SimulationPage> Api::SimulateCustomPolicy(const Ctx& ctx, SimulationInput in) {
  BERTH_CHECK(AuthorizeArn(ctx, "iam:SimulateCustomPolicy", "*"));
  BERTH_CHECK(RequireActions(in));
  if (in.identity_policies.empty()) {
    return Fail("ValidationError",
                "1 validation error detected: Value null at "
                "'policyInputList' failed to satisfy constraint: Member must "
                "not be null");
  }
  if (in.caller_arn.empty()) {
    in.caller_arn = fmt::format("arn:aws:iam::{}:user/simulated", Acct(ctx));
  }
  return access_.Simulate(in, ctx.now);
}

}  // namespace berth::iam
