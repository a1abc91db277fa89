// IAM's entities: users, roles, inline and managed policies, attachments.
// Pure domain logic over store::Kv; the Query wire shapes live in
// server/iam_routes.cc. Every name is unique per account case-insensitively,
// as in IAM, and keeps the case it was created with.
//
// Store layout (per account A; names lower-cased in keys):
//   iam/A/user/<name>                         User record
//   iam/A/role/<name>                         Role record (incl. trust policy)
//   iam/A/inline/user/<name>/<policy>         {"name","document"}
//   iam/A/inline/role/<name>/<policy>
//   iam/A/policy/<name>                       ManagedPolicy with its versions
//   iam/A/attach/user/<name>/<policy arn>     ""  (and .../role/...)
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "store/key_locks.h"
#include "store/kv.h"

namespace berth::iam {

// IAM tags: (key, value) pairs in the order given. Keys are unique ignoring
// case and keep the case they were given with.
using Tags = std::vector<std::pair<std::string, std::string>>;

struct User {
  std::string name, id, arn, path = "/";
  TimePoint created;
  std::string permissions_boundary;  // a managed policy's ARN; empty: none
  Tags tags;
};

struct Role {
  std::string name, id, arn, path = "/", description;
  std::string trust_policy;  // the AssumeRolePolicyDocument as given
  // What the trust policy is evaluated as: the document with every IAM user
  // and role principal of this server replaced by its unique id, fixed when
  // the document was stored (see BindPrincipals). Empty: `trust_policy`.
  std::string bound_trust_policy;
  // Principal ARN -> the unique id it named when the document was stored.
  std::vector<std::pair<std::string, std::string>> trust_principal_ids;
  int max_session_duration = 3600;
  TimePoint created;
  std::string permissions_boundary;
  Tags tags;
};

struct Group {
  std::string name, id, arn, path = "/";
  TimePoint created;
};

// What CreateUser and CreateRole may set besides the name and path.
struct EntityOptions {
  std::string permissions_boundary;  // a managed policy ARN; empty: none
  Tags tags;
};

struct InlinePolicy {
  std::string name;
  std::string document;
};

struct PolicyVersion {
  std::string version_id;  // "v1", "v2", ...
  std::string document;
  bool is_default = false;
  TimePoint created;
};

struct ManagedPolicy {
  std::string name, id, arn, path = "/", description, default_version_id = "v1";
  int attachment_count = 0;
  TimePoint created, updated;
  std::vector<PolicyVersion> versions;
  Tags tags;
};

struct Page {
  std::string marker;   // opaque; empty: from the start
  int max_items = 100;  // 1..1000
};

template <class T>
struct Listed {
  std::vector<T> items;
  bool truncated = false;
  std::string marker;  // pass back to continue when truncated
};

// Who owns inline policies and attachments. Groups own policies but sign
// nothing: their policies apply to their members.
enum class PrincipalType { kUser, kRole, kGroup };
// "user", "role", "group": the type as ARNs and messages name it.
std::string TypeName(PrincipalType type);

// Where a policy document is going to be used: decides its grammar (trust
// policies name principals) and IAM's size limit.
enum class PolicyUse { kUserInline, kRoleInline, kGroupInline, kManaged, kTrust };

// Validates a document before it is stored; MalformedPolicyDocument (or
// LimitExceeded for size) on failure. Supplied by the policy engine.
using PolicyValidator = std::function<Status(std::string_view document, PolicyUse use)>;

class Service {
 public:
  Service(store::Kv& kv, Ids& ids, const Clock& clock, PolicyValidator validator);

  // `options.permissions_boundary` must name a managed policy of `account`
  // (InvalidInput for a malformed ARN, NoSuchEntity for a missing policy);
  // tags follow IAM's rules (ValidateTags).
  Result<User> CreateUser(const std::string& account, const std::string& name, const std::string& path,
                          const EntityOptions& options = {});
  Result<User> GetUser(const std::string& account, const std::string& name);
  Result<Listed<User>> ListUsers(const std::string& account, const std::string& path_prefix,
                                 const Page& page);
  // DeleteConflict while the user has access keys, inline or attached policies,
  // or is in a group.
  Status DeleteUser(const std::string& account, const std::string& name,
                    bool has_access_keys);
  // UpdateUser: a new name and/or path; the user keeps its id, policies, groups
  // and access keys (whose records are rewritten in the same transaction).
  // EntityAlreadyExists when the new name is taken.
  Result<User> UpdateUser(const std::string& account, const std::string& name,
                          const std::string& new_name, const std::string& new_path);

  // Groups: CreateGroup, GetGroup, ListGroups, DeleteGroup (DeleteConflict
  // while it has members or policies), membership.
  Result<Group> CreateGroup(const std::string& account, const std::string& name,
                            const std::string& path);
  Result<Group> GetGroup(const std::string& account, const std::string& name);
  Result<Listed<Group>> ListGroups(const std::string& account, const std::string& path_prefix,
                                   const Page& page);
  Status DeleteGroup(const std::string& account, const std::string& name);
  Status AddUserToGroup(const std::string& account, const std::string& group,
                        const std::string& user);
  Status RemoveUserFromGroup(const std::string& account, const std::string& group,
                             const std::string& user);
  // Stored names of the group's members / the user's groups.
  Result<std::vector<User>> GroupMembers(const std::string& account, const std::string& group);
  Result<std::vector<Group>> GroupsOfUser(const std::string& account, const std::string& user);

  Result<Role> CreateRole(const std::string& account, const std::string& name, const std::string& path,
                          const std::string& trust_policy, const std::string& description,
                          std::optional<int> max_session_duration,
                          const EntityOptions& options = {});
  Result<Role> GetRole(const std::string& account, const std::string& name);
  Result<Listed<Role>> ListRoles(const std::string& account, const std::string& path_prefix,
                                 const Page& page);
  Status DeleteRole(const std::string& account, const std::string& name);
  Status UpdateAssumeRolePolicy(const std::string& account, const std::string& name,
                                const std::string& trust_policy);
  // UpdateRole / UpdateRoleDescription: what is given changes.
  Result<Role> UpdateRole(const std::string& account, const std::string& name,
                          std::optional<std::string> description,
                          std::optional<int> max_session_duration);

  // Permissions boundaries of users and roles (Put/Delete{User,Role}PermissionsBoundary).
  Status PutPermissionsBoundary(const std::string& account, PrincipalType type,
                                const std::string& owner, const std::string& policy_arn);
  // NoSuchEntity when the entity has no boundary.
  Status DeletePermissionsBoundary(const std::string& account, PrincipalType type,
                                   const std::string& owner);

  // Tags of users and roles (Tag/Untag{User,Role}); a tag whose key exists
  // (ignoring case) replaces it. LimitExceeded past 50 tags.
  Status TagEntity(const std::string& account, PrincipalType type, const std::string& owner,
                   const Tags& tags);
  Status UntagEntity(const std::string& account, PrincipalType type, const std::string& owner,
                     const std::vector<std::string>& keys);
  Status TagPolicy(const std::string& policy_arn, const Tags& tags);
  Status UntagPolicy(const std::string& policy_arn, const std::vector<std::string>& keys);

  // The unique id (AIDA.../AROA...) of the user or role a principal ARN
  // names on this server, matching the name ignoring case and the path
  // exactly; nullopt when there is none.
  Result<std::optional<std::string>> PrincipalId(std::string_view principal_arn);

  Status PutInlinePolicy(const std::string& account, PrincipalType type, const std::string& owner,
                         const std::string& policy_name, const std::string& document);
  Result<InlinePolicy> GetInlinePolicy(const std::string& account, PrincipalType type,
                                       const std::string& owner, const std::string& policy_name);
  Status DeleteInlinePolicy(const std::string& account, PrincipalType type, const std::string& owner,
                            const std::string& policy_name);
  Result<Listed<std::string>> ListInlinePolicies(const std::string& account, PrincipalType type,
                                                 const std::string& owner, const Page& page);
  // Every inline policy of the owner, documents included (for the authorizer).
  Result<std::vector<InlinePolicy>> InlinePolicies(const std::string& account, PrincipalType type,
                                                   const std::string& owner);

  Result<ManagedPolicy> CreatePolicy(const std::string& account, const std::string& name,
                                     const std::string& path, const std::string& document,
                                     const std::string& description, const Tags& tags = {});
  Result<ManagedPolicy> GetPolicy(const std::string& policy_arn);
  Result<PolicyVersion> GetPolicyVersion(const std::string& policy_arn, const std::string& version_id);
  Result<PolicyVersion> CreatePolicyVersion(const std::string& policy_arn, const std::string& document,
                                            bool set_as_default);
  Result<Listed<ManagedPolicy>> ListPolicies(const std::string& account, const std::string& scope,
                                             bool only_attached, const std::string& path_prefix,
                                             const Page& page);
  Status DeletePolicy(const std::string& policy_arn);
  Result<std::vector<PolicyVersion>> ListPolicyVersions(const std::string& policy_arn);
  // DeleteConflict for the default version.
  Status DeletePolicyVersion(const std::string& policy_arn, const std::string& version_id);
  Status SetDefaultPolicyVersion(const std::string& policy_arn, const std::string& version_id);
  // Who a managed policy is attached to: (type, stored name) pairs.
  Result<std::vector<std::pair<PrincipalType, std::string>>> EntitiesForPolicy(
      const std::string& policy_arn);
  // How many records are under iam/<account>/<kind>/ (users, roles, groups, policies).
  Result<size_t> Count(const std::string& account, std::string_view kind);

  Status AttachPolicy(const std::string& account, PrincipalType type, const std::string& owner,
                      const std::string& policy_arn);
  Status DetachPolicy(const std::string& account, PrincipalType type, const std::string& owner,
                      const std::string& policy_arn);
  // (name, arn) pairs of attached managed policies.
  Result<Listed<std::pair<std::string, std::string>>> ListAttachedPolicies(
      const std::string& account, PrincipalType type, const std::string& owner, const Page& page);
  // Default-version documents of every attached policy (for the authorizer):
  // (policy arn, document).
  Result<std::vector<std::pair<std::string, std::string>>> AttachedPolicyDocuments(
      const std::string& account, PrincipalType type, const std::string& owner);

  // Calls `on_change` after any IAM entity of any account changed: at once
  // (on the writing thread) for changes made through this Service, and on the
  // store's watch thread for every change (other replicas' too). For caches
  // of what the entities imply. `on_change` must outlive the Service's use.
  std::unique_ptr<store::WatchHandle> WatchChanges(std::function<void()> on_change);

 private:
  // Forwards to the store and, after every successful commit, tells this
  // process's listeners at once (the watch only tells them later, on its
  // thread): a policy change takes effect for the very next request.
  class ListeningKv final : public store::Kv {
   public:
    explicit ListeningKv(store::Kv& inner) : inner_(inner) {}
    Result<std::optional<store::KeyValue>> Get(std::string_view key) override {
      return inner_.Get(key);
    }
    Result<store::RangeResult> Range(std::string_view prefix, std::string_view start_after,
                                     size_t limit) override {
      return inner_.Range(prefix, start_after, limit);
    }
    Result<store::TxnResult> Commit(const store::Txn& txn) override;
    using store::Kv::Watch;
    std::unique_ptr<store::WatchHandle> Watch(
        std::string_view prefix, int64_t after_revision,
        std::function<void(const store::WatchEvent&)> on_event) override {
      return inner_.Watch(prefix, after_revision, std::move(on_event));
    }
    Result<int64_t> GrantLease(std::chrono::seconds ttl) override { return inner_.GrantLease(ttl); }
    Result<std::chrono::seconds> KeepAlive(int64_t lease) override {
      return inner_.KeepAlive(lease);
    }
    // Revoking deletes keys: listeners are told, as after a Commit.
    Status Revoke(int64_t lease) override;
    void AddListener(std::function<void()> listener);

   private:
    void Notify();  // calls every listener

    store::Kv& inner_;
    std::mutex mu_;
    std::vector<std::function<void()>> listeners_;
  };

  // InvalidInput / NoSuchEntity unless `policy_arn` is a managed policy of `account`.
  Status ValidateBoundary(const std::string& account, const std::string& policy_arn);

  ListeningKv listening_;
  store::Kv& kv_;  // = listening_
  // Writers of one entity (user, role, group, managed policy) queue here
  // (store/key_locks.h), locked by the entity's store key.
  store::KeyLocks locks_;
  Ids& ids_;
  const Clock& clock_;
  PolicyValidator validator_;
};

// IAM's name rules: users and roles 1-64 (roles) / 1-64 (users) of
// [A-Za-z0-9+=,.@_-]; policy names 1-128 of the same; paths "/" or
// "/.../" of printable ASCII, at most 512. Errors: ValidationError.
Status ValidateName(std::string_view what, std::string_view name, size_t max);
Status ValidatePath(std::string_view path);
// IAM's tag rules: keys 1-128 and values 0-256 characters of letters, digits,
// white space and _.:/=+-@; no key starting with "aws:" (any case); no key
// twice (ignoring case); at most 50. ValidationError / InvalidInput.
Status ValidateTags(const Tags& tags);

// Rewrites a trust or resource policy so that it keeps meaning the principals
// it names when it is stored, as IAM does: every "AWS" principal that is the
// ARN of an IAM user or role `lookup` knows (it returns the unique id) becomes
// that unique id. Returns the rewritten document (empty when nothing was
// bound) and the (ARN, id) pairs bound. `lookup` returns nullopt for an ARN
// of an account this server does not hold (left as written) and NoSuchEntity
// for a user or role that does not exist, which makes the document
// MalformedPolicyDocument "Invalid principal in policy", as in AWS.
struct BoundPolicy {
  std::string document;  // empty: the original binds nothing
  std::vector<std::pair<std::string, std::string>> ids;
};
Result<BoundPolicy> BindPrincipals(
    std::string_view document,
    const std::function<Result<std::optional<std::string>>(std::string_view arn)>& lookup);
// The document as IAM shows it: a bound principal whose ARN now names
// another entity (or none) is shown as its unique id. `current` returns the id
// an ARN names now.
std::string ShowBoundPrincipals(
    const std::string& document, const std::vector<std::pair<std::string, std::string>>& ids,
    const std::function<std::optional<std::string>(std::string_view arn)>& current);

}  // namespace berth::iam
