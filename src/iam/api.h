// IAM's API: every IAM operation as a caller makes it, authorized here. Typed
// inputs in, entities out; the Query wire shapes (parameters, XML) live in
// server/iam_routes.cc, which only parses, calls one method and writes.
//
// Authorization. Each operation calls AccessControl::Authorize with the action
// "iam:<Operation>" before it reads or changes anything, so an unauthorized
// caller learns nothing (not even whether the entity exists: NoSuchEntity
// comes only after the check). The resource is:
//  * for an operation on a named user, role or group, that entity as stored:
//    names are unique ignoring case, so the entity is looked up first and the
//    request is decided on its stored ARN (its own case and path), with its
//    tags as iam:ResourceTag/<k> and its boundary as iam:PermissionsBoundary;
//    a name in another case cannot dodge a Deny. For a name nothing answers
//    to, the ARN as typed (arn:aws:iam::<acct>:user/<name>);
//  * for a managed policy, its ARN, with its tags as iam:ResourceTag/<k>;
//  * for a create, the ARN the entity will have (path included), with
//    aws:RequestTag/<k>, aws:TagKeys and iam:PermissionsBoundary for what it
//    sets;
//  * for a list, arn:aws:iam::<acct>:user/ (role/, policy/, group/).
// Operations add their own keys: iam:PolicyARN (Attach/Detach*Policy),
// iam:PermissionsBoundary (the boundary being set), aws:RequestTag/<k> and
// aws:TagKeys (Tag*, Untag*), iam:AWSServiceName (CreateServiceLinkedRole).
// Every operation acts in the caller's own account.
//
// Roles come back with `trust_policy` as IAM shows it: principals deleted
// since the document was stored appear as their unique ids (except from
// CreateRole, which shows the document as given).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aws/request_context.h"
#include "common/error.h"
#include "iam/access_control.h"
#include "iam/identity_store.h"
#include "iam/service.h"

namespace berth::iam {

struct CreateRoleInput {
  std::string name, path = "/";
  std::string trust_policy;  // AssumeRolePolicyDocument
  std::string description;
  std::optional<int> max_session_duration;
  EntityOptions options;
};

// A user's access keys (ListAccessKeys): the user's stored name and its keys.
struct AccessKeys {
  std::string user_name;
  std::vector<IdentityStore::AccessKeyInfo> keys;
};

struct GroupWithMembers {
  Group group;
  std::vector<User> members;
};

// An entity a managed policy is attached to (ListEntitiesForPolicy).
struct PolicyEntity {
  PrincipalType type;
  std::string name, id;  // id: empty if the entity is gone
};

class Api {
 public:
  using Ctx = aws::RequestContext;

  // All three must outlive the Api.
  Api(Service& iam, IdentityStore& identities, AccessControl& access);

  // ---- users
  Result<User> CreateUser(const Ctx& ctx, const std::string& name, const std::string& path,
                          const EntityOptions& options);
  // `name` empty: the calling user (ValidationError for callers that are not users).
  Result<User> GetUser(const Ctx& ctx, std::string name);
  Result<Listed<User>> ListUsers(const Ctx& ctx, const std::string& path_prefix, const Page& page);
  Status DeleteUser(const Ctx& ctx, const std::string& name);
  // A new name or path also needs iam:UpdateUser on the user's new ARN, as in IAM.
  Status UpdateUser(const Ctx& ctx, const std::string& name, const std::string& new_name,
                    const std::string& new_path);

  // ---- access keys; `user` empty: the calling user (ValidationError for
  // other callers: berth manages no root keys through IAM).
  Result<std::pair<IdentityStore::AccessKeyInfo, std::string /*secret*/>> CreateAccessKey(
      const Ctx& ctx, const std::string& user);
  Result<AccessKeys> ListAccessKeys(const Ctx& ctx, const std::string& user);
  Status UpdateAccessKey(const Ctx& ctx, const std::string& user, const std::string& key_id,
                         const std::string& status);
  Status DeleteAccessKey(const Ctx& ctx, const std::string& user, const std::string& key_id);

  // ---- roles
  Result<Role> CreateRole(const Ctx& ctx, const CreateRoleInput& in);
  Result<Role> GetRole(const Ctx& ctx, const std::string& name);
  Result<Listed<Role>> ListRoles(const Ctx& ctx, const std::string& path_prefix, const Page& page);
  Status DeleteRole(const Ctx& ctx, const std::string& name);
  Status UpdateAssumeRolePolicy(const Ctx& ctx, const std::string& name,
                                const std::string& document);
  // UpdateRole; UpdateRoleDescription when `description_only` (its own action).
  Result<Role> UpdateRole(const Ctx& ctx, const std::string& name,
                          std::optional<std::string> description,
                          std::optional<int> max_session_duration, bool description_only = false);
  // The service-linked roles berth knows (ecs.amazonaws.com); InvalidInput
  // for another service, a custom suffix, or a role name already taken.
  Result<Role> CreateServiceLinkedRole(const Ctx& ctx, const std::string& service,
                                       const std::string& description, bool custom_suffix);

  // ---- groups
  Result<Group> CreateGroup(const Ctx& ctx, const std::string& name, const std::string& path);
  Result<GroupWithMembers> GetGroup(const Ctx& ctx, const std::string& name);
  Result<Listed<Group>> ListGroups(const Ctx& ctx, const std::string& path_prefix,
                                   const Page& page);
  Status DeleteGroup(const Ctx& ctx, const std::string& name);
  Status AddUserToGroup(const Ctx& ctx, const std::string& group, const std::string& user);
  Status RemoveUserFromGroup(const Ctx& ctx, const std::string& group, const std::string& user);
  Result<std::vector<Group>> ListGroupsForUser(const Ctx& ctx, const std::string& user);

  // ---- what users, roles and groups share: the action is named after the
  // owner's type (iam:PutUserPolicy, iam:PutRolePolicy, iam:PutGroupPolicy).
  Status PutInlinePolicy(const Ctx& ctx, PrincipalType type, const std::string& owner,
                         const std::string& policy_name, const std::string& document);
  Result<InlinePolicy> GetInlinePolicy(const Ctx& ctx, PrincipalType type, const std::string& owner,
                                       const std::string& policy_name);
  Status DeleteInlinePolicy(const Ctx& ctx, PrincipalType type, const std::string& owner,
                            const std::string& policy_name);
  Result<Listed<std::string>> ListInlinePolicies(const Ctx& ctx, PrincipalType type,
                                                 const std::string& owner, const Page& page);
  Status AttachPolicy(const Ctx& ctx, PrincipalType type, const std::string& owner,
                      const std::string& policy_arn);
  Status DetachPolicy(const Ctx& ctx, PrincipalType type, const std::string& owner,
                      const std::string& policy_arn);
  // (name, arn) pairs.
  Result<Listed<std::pair<std::string, std::string>>> ListAttachedPolicies(const Ctx& ctx,
                                                                           PrincipalType type,
                                                                           const std::string& owner,
                                                                           const Page& page);
  Status PutPermissionsBoundary(const Ctx& ctx, PrincipalType type, const std::string& owner,
                                const std::string& policy_arn);
  Status DeletePermissionsBoundary(const Ctx& ctx, PrincipalType type, const std::string& owner);
  Status TagEntity(const Ctx& ctx, PrincipalType type, const std::string& owner, const Tags& tags);
  Status UntagEntity(const Ctx& ctx, PrincipalType type, const std::string& owner,
                     const std::vector<std::string>& keys);
  Result<Tags> ListEntityTags(const Ctx& ctx, PrincipalType type, const std::string& owner);

  // ---- managed policies
  Result<ManagedPolicy> CreatePolicy(const Ctx& ctx, const std::string& name,
                                     const std::string& path, const std::string& document,
                                     const std::string& description, const Tags& tags);
  Result<ManagedPolicy> GetPolicy(const Ctx& ctx, const std::string& arn);
  Result<Listed<ManagedPolicy>> ListPolicies(const Ctx& ctx, const std::string& scope,
                                             bool only_attached, const std::string& path_prefix,
                                             const Page& page);
  Status DeletePolicy(const Ctx& ctx, const std::string& arn);
  Status TagPolicy(const Ctx& ctx, const std::string& arn, const Tags& tags);
  Status UntagPolicy(const Ctx& ctx, const std::string& arn, const std::vector<std::string>& keys);
  Result<Tags> ListPolicyTags(const Ctx& ctx, const std::string& arn);
  Result<PolicyVersion> GetPolicyVersion(const Ctx& ctx, const std::string& arn,
                                         const std::string& version_id);
  Result<PolicyVersion> CreatePolicyVersion(const Ctx& ctx, const std::string& arn,
                                            const std::string& document, bool set_as_default);
  Result<std::vector<PolicyVersion>> ListPolicyVersions(const Ctx& ctx, const std::string& arn);
  Status DeletePolicyVersion(const Ctx& ctx, const std::string& arn, const std::string& version_id);
  Status SetDefaultPolicyVersion(const Ctx& ctx, const std::string& arn,
                                 const std::string& version_id);
  // Groups, then users, then roles.
  Result<std::vector<PolicyEntity>> ListEntitiesForPolicy(const Ctx& ctx, const std::string& arn);

  // ---- the account: GetAccountSummary's (key, value) pairs, in IAM's order.
  Result<std::vector<std::pair<std::string, size_t>>> GetAccountSummary(const Ctx& ctx);

  // ---- the policy simulator. `in.actions` must not be empty (ValidationError,
  // after authorization). SimulatePrincipalPolicy: `source_arn` names a user or
  // role of the caller's account (InvalidInput otherwise), whose stored policies
  // apply. SimulateCustomPolicy: `in.identity_policies` must not be empty; the
  // caller defaults to arn:aws:iam::<acct>:user/simulated.
  Result<SimulationPage> SimulatePrincipalPolicy(const Ctx& ctx, const std::string& source_arn,
                                                 SimulationInput in);
  Result<SimulationPage> SimulateCustomPolicy(const Ctx& ctx, SimulationInput in);

 private:
  // What an operation on a named entity is authorized against (see above).
  struct Target {
    std::string arn;
    ResourceContext res;
  };
  Result<Target> TargetOf(const Ctx& ctx, PrincipalType type, const std::string& name);
  // Authorizes `action` on the named user, role or group; `keys` are the
  // operation's own condition keys.
  Status AuthorizeOn(const Ctx& ctx, const std::string& action, PrincipalType type,
                     const std::string& name, const ContextMap& keys = {});
  // Authorizes `action` on a managed policy (its tags are iam:ResourceTag/*).
  Status AuthorizePolicy(const Ctx& ctx, const std::string& action, const std::string& arn,
                         const ContextMap& keys = {});
  // Authorizes `action` on an ARN with `keys`.
  Status AuthorizeArn(const Ctx& ctx, const std::string& action, const std::string& arn,
                      const ContextMap& keys = {});
  // The role with its trust policy as IAM shows it.
  Role Shown(Role role);

  Service& iam_;
  IdentityStore& identities_;
  AccessControl& access_;
};

}  // namespace berth::iam
