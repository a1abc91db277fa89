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
#include "store/kv.h"

namespace berth::iam {

struct User {
  std::string name, id, arn, path = "/";
  TimePoint created;
};

struct Role {
  std::string name, id, arn, path = "/", description;
  std::string trust_policy;  // the AssumeRolePolicyDocument as given
  int max_session_duration = 3600;
  TimePoint created;
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

enum class PrincipalType { kUser, kRole };

// Where a policy document is going to be used: decides its grammar (trust
// policies name principals) and IAM's size limit.
enum class PolicyUse { kUserInline, kRoleInline, kManaged, kTrust };

// Validates a document before it is stored; MalformedPolicyDocument (or
// LimitExceeded for size) on failure. Supplied by the policy engine.
using PolicyValidator = std::function<Status(std::string_view document, PolicyUse use)>;

class Service {
 public:
  Service(store::Kv& kv, Ids& ids, const Clock& clock, PolicyValidator validator);

  Result<User> CreateUser(const std::string& account, const std::string& name, const std::string& path);
  Result<User> GetUser(const std::string& account, const std::string& name);
  Result<Listed<User>> ListUsers(const std::string& account, const std::string& path_prefix,
                                 const Page& page);
  // DeleteConflict while the user has access keys, inline or attached policies.
  Status DeleteUser(const std::string& account, const std::string& name,
                    bool has_access_keys);

  Result<Role> CreateRole(const std::string& account, const std::string& name, const std::string& path,
                          const std::string& trust_policy, const std::string& description,
                          std::optional<int> max_session_duration);
  Result<Role> GetRole(const std::string& account, const std::string& name);
  Result<Listed<Role>> ListRoles(const std::string& account, const std::string& path_prefix,
                                 const Page& page);
  Status DeleteRole(const std::string& account, const std::string& name);
  Status UpdateAssumeRolePolicy(const std::string& account, const std::string& name,
                                const std::string& trust_policy);

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
                                     const std::string& description);
  Result<ManagedPolicy> GetPolicy(const std::string& policy_arn);
  Result<PolicyVersion> GetPolicyVersion(const std::string& policy_arn, const std::string& version_id);
  Result<PolicyVersion> CreatePolicyVersion(const std::string& policy_arn, const std::string& document,
                                            bool set_as_default);
  Result<Listed<ManagedPolicy>> ListPolicies(const std::string& account, const std::string& scope,
                                             bool only_attached, const std::string& path_prefix,
                                             const Page& page);
  Status DeletePolicy(const std::string& policy_arn);

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
    std::unique_ptr<store::WatchHandle> Watch(
        std::string_view prefix, std::function<void(const store::WatchEvent&)> on_event) override {
      return inner_.Watch(prefix, std::move(on_event));
    }
    void AddListener(std::function<void()> listener);

   private:
    store::Kv& inner_;
    std::mutex mu_;
    std::vector<std::function<void()>> listeners_;
  };

  ListeningKv listening_;
  store::Kv& kv_;  // = listening_
  Ids& ids_;
  const Clock& clock_;
  PolicyValidator validator_;
};

// IAM's name rules: users and roles 1-64 (roles) / 1-64 (users) of
// [A-Za-z0-9+=,.@_-]; policy names 1-128 of the same; paths "/" or
// "/.../" of printable ASCII, at most 512. Errors: ValidationError.
Status ValidateName(std::string_view what, std::string_view name, size_t max);
Status ValidatePath(std::string_view path);

}  // namespace berth::iam
