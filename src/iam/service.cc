#include "iam/service.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/arn.h"
#include "common/json.h"
#include "common/strings.h"

namespace berth::iam {

namespace {

using json::Json;

constexpr int kMaxPolicyVersions = 5;

std::string Prefix(const std::string& account, std::string_view kind) {
  return fmt::format("iam/{}/{}/", account, kind);
}
std::string TypeName(PrincipalType t) { return t == PrincipalType::kUser ? "user" : "role"; }

std::unexpected<Error> NoSuch(std::string_view what, std::string_view name) {
  return Fail("NoSuchEntity", fmt::format("The {} with name {} cannot be found.", what, name), 404);
}

int64_t Millis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
TimePoint FromMillis(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

Result<Json> ParseRecord(const store::KeyValue& kv) {
  Json j = Json::parse(kv.value, nullptr, false);
  if (!j.is_object()) return InternalFailure(fmt::format("corrupt IAM record {}", kv.key));
  return j;
}

Json ToJson(const User& u) {
  return {{"name", u.name}, {"id", u.id}, {"arn", u.arn}, {"path", u.path}, {"created", Millis(u.created)}};
}
User UserFrom(const Json& j) {
  return User{j.value("name", ""), j.value("id", ""), j.value("arn", ""), j.value("path", "/"),
              FromMillis(j.value("created", int64_t{0}))};
}
Json ToJson(const Role& r) {
  return {{"name", r.name},       {"id", r.id},
          {"arn", r.arn},         {"path", r.path},
          {"description", r.description}, {"trust", r.trust_policy},
          {"max_session", r.max_session_duration}, {"created", Millis(r.created)}};
}
Role RoleFrom(const Json& j) {
  Role r;
  r.name = j.value("name", "");
  r.id = j.value("id", "");
  r.arn = j.value("arn", "");
  r.path = j.value("path", "/");
  r.description = j.value("description", "");
  r.trust_policy = j.value("trust", "");
  r.max_session_duration = j.value("max_session", 3600);
  r.created = FromMillis(j.value("created", int64_t{0}));
  return r;
}
Json ToJson(const ManagedPolicy& p) {
  Json versions = Json::array();
  for (const auto& v : p.versions) {
    versions.push_back({{"id", v.version_id}, {"document", v.document}, {"created", Millis(v.created)}});
  }
  return {{"name", p.name},
          {"id", p.id},
          {"arn", p.arn},
          {"path", p.path},
          {"description", p.description},
          {"default", p.default_version_id},
          {"attachments", p.attachment_count},
          {"created", Millis(p.created)},
          {"updated", Millis(p.updated)},
          {"versions", versions}};
}
ManagedPolicy PolicyFrom(const Json& j) {
  ManagedPolicy p;
  p.name = j.value("name", "");
  p.id = j.value("id", "");
  p.arn = j.value("arn", "");
  p.path = j.value("path", "/");
  p.description = j.value("description", "");
  p.default_version_id = j.value("default", "v1");
  p.attachment_count = j.value("attachments", 0);
  p.created = FromMillis(j.value("created", int64_t{0}));
  p.updated = FromMillis(j.value("updated", int64_t{0}));
  if (j.contains("versions") && j["versions"].is_array()) {
    for (const auto& v : j["versions"]) {
      PolicyVersion pv{v.value("id", ""), v.value("document", ""), false,
                       FromMillis(v.value("created", int64_t{0}))};
      pv.is_default = pv.version_id == p.default_version_id;
      p.versions.push_back(std::move(pv));
    }
  }
  return p;
}

// Parses a managed policy ARN into (account, lower-cased store key name).
Result<std::pair<std::string, std::string>> PolicyKey(const std::string& policy_arn) {
  auto arn = ParseArn(policy_arn);
  if (!arn || arn->service != "iam" || !arn->resource.starts_with("policy/")) {
    return Fail("InvalidInput", fmt::format("ARN {} is not valid.", Utf8Prefix(policy_arn, 256)));
  }
  std::string_view resource = arn->resource;
  std::string name(resource.substr(resource.rfind('/') + 1));
  if (arn->account == "aws") {
    return Fail("NoSuchEntity", fmt::format("Policy {} does not exist or is not attachable.", policy_arn),
                404);
  }
  return std::pair<std::string, std::string>(arn->account, ToLower(name));
}

Page Clamp(Page page) {
  page.max_items = std::clamp(page.max_items, 1, 1000);
  return page;
}

// Lists records under `prefix`, paginated by an opaque marker (the last key).
template <class T, class Convert>
Result<Listed<T>> ListRange(store::Kv& kv, const std::string& prefix, const Page& raw_page,
                            Convert convert) {
  Page page = Clamp(raw_page);
  std::string after;
  if (!page.marker.empty()) {
    auto decoded = Base64Decode(page.marker);
    if (!decoded || !decoded->starts_with(prefix)) {
      return Fail("ValidationError", "Invalid Marker.");
    }
    after = *decoded;
  }
  auto range = BERTH_TRY(kv.Range(prefix, after, static_cast<size_t>(page.max_items)));
  Listed<T> out;
  for (const auto& item : range.kvs) {
    auto converted = BERTH_TRY(convert(item));
    if (converted) out.items.push_back(std::move(*converted));
  }
  if (range.more && !range.kvs.empty()) {
    out.truncated = true;
    out.marker = Base64Encode(range.kvs.back().key);
  }
  return out;
}

Result<bool> AnyUnder(store::Kv& kv, const std::string& prefix) {
  auto r = BERTH_TRY(kv.Range(prefix, {}, 1));
  return !r.kvs.empty();
}

Status CommitOrConflict(store::Kv& kv, const store::Txn& txn, std::string message) {
  auto r = BERTH_TRY(kv.Commit(txn));
  if (!r.succeeded) return Fail("ConcurrentModification", std::move(message), 409);
  return {};
}

// Stores a new user or role record at `key`; EntityAlreadyExists ("User with
// name x already exists.") when the name is taken (names are unique ignoring case).
Status PutNewEntity(store::Kv& kv, const std::string& key, const json::Json& record,
                    std::string_view title, const std::string& name) {
  store::Txn txn;
  txn.compares.push_back({key, 0});
  txn.ops.push_back(store::Op::Put(key, json::Dump(record)));
  auto r = BERTH_TRY(kv.Commit(txn));
  if (!r.succeeded) {
    return Fail("EntityAlreadyExists", fmt::format("{} with name {} already exists.", title, name),
                409);
  }
  return {};
}

// The users or roles under `prefix` whose path starts with `path_prefix`.
template <class T, class From>
Result<Listed<T>> ListByPath(store::Kv& kv, const std::string& prefix,
                             const std::string& path_prefix, const Page& page, From from) {
  return ListRange<T>(kv, prefix, page, [&](const store::KeyValue& e) -> Result<std::optional<T>> {
    T entity = from(BERTH_TRY(ParseRecord(e)));
    if (!entity.path.starts_with(path_prefix)) return std::optional<T>();
    return std::optional<T>(std::move(entity));
  });
}

// Deletes the user or role record `kv` once it has no inline or attached
// policies left (DeleteConflict otherwise), as IAM requires.
Status DeleteEntity(store::Kv& kv, const std::string& account, std::string_view kind,
                    const std::string& name, const store::KeyValue& record) {
  std::string owner = fmt::format("{}/{}", kind, ToLower(name));
  if (BERTH_TRY(AnyUnder(kv, Prefix(account, "inline/" + owner)))) {
    return Fail("DeleteConflict", "Cannot delete entity, must delete policies first.", 409);
  }
  if (BERTH_TRY(AnyUnder(kv, Prefix(account, "attach/" + owner)))) {
    return Fail("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409);
  }
  store::Txn txn;
  txn.compares.push_back({record.key, record.mod_revision});
  txn.ops.push_back(store::Op::Delete(record.key));
  return CommitOrConflict(kv, txn, fmt::format("The {} changed while being deleted.", kind));
}

}  // namespace

Status ValidateName(std::string_view what, std::string_view name, size_t max) {
  bool ok = !name.empty() && name.size() <= max &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '=' ||
                     c == ',' || c == '.' || c == '@' || c == '_' || c == '-';
            });
  if (!ok) {
    return Fail("ValidationError",
                fmt::format("1 validation error detected: Value '{}' at '{}' failed to satisfy "
                            "constraint: Member must satisfy regular expression pattern: "
                            "[\\w+=,.@-]+ and have length between 1 and {}",
                            Utf8Prefix(name, 128), what, max));
  }
  return {};
}

Status ValidatePath(std::string_view path) {
  bool ok = !path.empty() && path.size() <= 512 && path.front() == '/' && path.back() == '/' &&
            std::all_of(path.begin(), path.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
  if (!ok) {
    return Fail("ValidationError",
                fmt::format("The specified value for path is invalid. It must begin and end with / "
                            "and contain only alphanumeric characters and/or / characters."));
  }
  return {};
}

Service::Service(store::Kv& kv, Ids& ids, const Clock& clock, PolicyValidator validator)
    : listening_(kv), kv_(listening_), ids_(ids), clock_(clock), validator_(std::move(validator)) {}

Result<store::TxnResult> Service::ListeningKv::Commit(const store::Txn& txn) {
  auto result = BERTH_TRY(inner_.Commit(txn));
  if (result.succeeded && !txn.ops.empty()) {
    std::vector<std::function<void()>> listeners;
    {
      std::lock_guard lock(mu_);
      listeners = listeners_;
    }
    for (const auto& listener : listeners) listener();
  }
  return result;
}

void Service::ListeningKv::AddListener(std::function<void()> listener) {
  std::lock_guard lock(mu_);
  listeners_.push_back(std::move(listener));
}

// ---- users ----------------------------------------------------------------

Result<User> Service::CreateUser(const std::string& account, const std::string& name,
                                 const std::string& path) {
  BERTH_CHECK(ValidateName("userName", name, 64));
  BERTH_CHECK(ValidatePath(path));
  User u{name, ids_.UpperId("AIDA", 21), fmt::format("arn:aws:iam::{}:user{}{}", account, path, name),
         path, clock_.Now()};
  BERTH_CHECK(PutNewEntity(kv_, Prefix(account, "user") + ToLower(name), ToJson(u), "User", name));
  return u;
}

Result<User> Service::GetUser(const std::string& account, const std::string& name) {
  auto kv = BERTH_TRY(kv_.Get(Prefix(account, "user") + ToLower(name)));
  if (!kv) return NoSuch("user", name);
  return UserFrom(BERTH_TRY(ParseRecord(*kv)));
}

Result<Listed<User>> Service::ListUsers(const std::string& account, const std::string& path_prefix,
                                        const Page& page) {
  return ListByPath<User>(kv_, Prefix(account, "user"), path_prefix, page, UserFrom);
}

Status Service::DeleteUser(const std::string& account, const std::string& name, bool has_access_keys) {
  std::string key = Prefix(account, "user") + ToLower(name);
  auto kv = BERTH_TRY(kv_.Get(key));
  if (!kv) return NoSuch("user", name);
  if (has_access_keys) {
    return Fail("DeleteConflict", "Cannot delete entity, must delete access keys first.", 409);
  }
  return DeleteEntity(kv_, account, "user", name, *kv);
}

// ---- roles ----------------------------------------------------------------

Result<Role> Service::CreateRole(const std::string& account, const std::string& name,
                                 const std::string& path, const std::string& trust_policy,
                                 const std::string& description,
                                 std::optional<int> max_session_duration) {
  BERTH_CHECK(ValidateName("roleName", name, 64));
  BERTH_CHECK(ValidatePath(path));
  if (max_session_duration && (*max_session_duration < 3600 || *max_session_duration > 43200)) {
    return Fail("ValidationError",
                fmt::format("1 validation error detected: Value '{}' at 'maxSessionDuration' failed "
                            "to satisfy constraint: Member must have value between 3600 and 43200",
                            *max_session_duration));
  }
  if (description.size() > 1000) {
    return Fail("ValidationError", "Description must be at most 1000 characters.");
  }
  BERTH_CHECK(validator_(trust_policy, PolicyUse::kTrust));
  Role r;
  r.name = name;
  r.id = ids_.UpperId("AROA", 21);
  r.arn = fmt::format("arn:aws:iam::{}:role{}{}", account, path, name);
  r.path = path;
  r.description = description;
  r.trust_policy = trust_policy;
  r.max_session_duration = max_session_duration.value_or(3600);
  r.created = clock_.Now();
  BERTH_CHECK(PutNewEntity(kv_, Prefix(account, "role") + ToLower(name), ToJson(r), "Role", name));
  return r;
}

Result<Role> Service::GetRole(const std::string& account, const std::string& name) {
  auto kv = BERTH_TRY(kv_.Get(Prefix(account, "role") + ToLower(name)));
  if (!kv) return NoSuch("role", name);
  return RoleFrom(BERTH_TRY(ParseRecord(*kv)));
}

Result<Listed<Role>> Service::ListRoles(const std::string& account, const std::string& path_prefix,
                                        const Page& page) {
  return ListByPath<Role>(kv_, Prefix(account, "role"), path_prefix, page, RoleFrom);
}

Status Service::DeleteRole(const std::string& account, const std::string& name) {
  std::string key = Prefix(account, "role") + ToLower(name);
  auto kv = BERTH_TRY(kv_.Get(key));
  if (!kv) return NoSuch("role", name);
  return DeleteEntity(kv_, account, "role", name, *kv);
}

Status Service::UpdateAssumeRolePolicy(const std::string& account, const std::string& name,
                                       const std::string& trust_policy) {
  std::string key = Prefix(account, "role") + ToLower(name);
  auto kv = BERTH_TRY(kv_.Get(key));
  if (!kv) return NoSuch("role", name);
  BERTH_CHECK(validator_(trust_policy, PolicyUse::kTrust));
  Role r = RoleFrom(BERTH_TRY(ParseRecord(*kv)));
  r.trust_policy = trust_policy;
  store::Txn txn;
  txn.compares.push_back({key, kv->mod_revision});
  txn.ops.push_back(store::Op::Put(key, json::Dump(ToJson(r))));
  return CommitOrConflict(kv_, txn, "The role changed while being updated.");
}

// ---- inline policies --------------------------------------------------------

namespace {
std::string OwnerKey(const std::string& account, PrincipalType type, const std::string& owner) {
  return Prefix(account, TypeName(type)) + ToLower(owner);
}
std::string InlinePrefix(const std::string& account, PrincipalType type, const std::string& owner) {
  return Prefix(account, "inline/" + TypeName(type) + "/" + ToLower(owner));
}
}  // namespace

Status Service::PutInlinePolicy(const std::string& account, PrincipalType type,
                                const std::string& owner, const std::string& policy_name,
                                const std::string& document) {
  BERTH_CHECK(ValidateName("policyName", policy_name, 128));
  auto owner_kv = BERTH_TRY(kv_.Get(OwnerKey(account, type, owner)));
  if (!owner_kv) return NoSuch(TypeName(type), owner);
  BERTH_CHECK(validator_(document, type == PrincipalType::kUser ? PolicyUse::kUserInline
                                                                 : PolicyUse::kRoleInline));
  std::string key = InlinePrefix(account, type, owner) + "/" + ToLower(policy_name);
  store::Txn txn;
  txn.compares.push_back({owner_kv->key, owner_kv->mod_revision});
  txn.ops.push_back(store::Op::Put(key, json::Dump(Json{{"name", policy_name}, {"document", document}})));
  return CommitOrConflict(kv_, txn, "The principal changed while its policy was being written.");
}

Result<InlinePolicy> Service::GetInlinePolicy(const std::string& account, PrincipalType type,
                                              const std::string& owner,
                                              const std::string& policy_name) {
  auto owner_kv = BERTH_TRY(kv_.Get(OwnerKey(account, type, owner)));
  if (!owner_kv) return NoSuch(TypeName(type), owner);
  auto kv = BERTH_TRY(kv_.Get(InlinePrefix(account, type, owner) + "/" + ToLower(policy_name)));
  if (!kv) {
    return Fail("NoSuchEntity",
                fmt::format("The {} policy with name {} cannot be found.", TypeName(type), policy_name),
                404);
  }
  Json j = BERTH_TRY(ParseRecord(*kv));
  return InlinePolicy{j.value("name", ""), j.value("document", "")};
}

Status Service::DeleteInlinePolicy(const std::string& account, PrincipalType type,
                                   const std::string& owner, const std::string& policy_name) {
  BERTH_TRY(GetInlinePolicy(account, type, owner, policy_name));
  auto r = BERTH_TRY(kv_.Delete(InlinePrefix(account, type, owner) + "/" + ToLower(policy_name)));
  (void)r;
  return {};
}

Result<Listed<std::string>> Service::ListInlinePolicies(const std::string& account, PrincipalType type,
                                                        const std::string& owner, const Page& page) {
  auto owner_kv = BERTH_TRY(kv_.Get(OwnerKey(account, type, owner)));
  if (!owner_kv) return NoSuch(TypeName(type), owner);
  return ListRange<std::string>(kv_, InlinePrefix(account, type, owner) + "/", page,
                                [](const store::KeyValue& kv) -> Result<std::optional<std::string>> {
                                  Json j = BERTH_TRY(ParseRecord(kv));
                                  return std::optional<std::string>(j.value("name", ""));
                                });
}

Result<std::vector<InlinePolicy>> Service::InlinePolicies(const std::string& account,
                                                          PrincipalType type,
                                                          const std::string& owner) {
  std::vector<InlinePolicy> out;
  auto range = BERTH_TRY(kv_.Range(InlinePrefix(account, type, owner) + "/"));
  for (const auto& kv : range.kvs) {
    Json j = BERTH_TRY(ParseRecord(kv));
    out.push_back(InlinePolicy{j.value("name", ""), j.value("document", "")});
  }
  return out;
}

// ---- managed policies ---------------------------------------------------------

Result<ManagedPolicy> Service::CreatePolicy(const std::string& account, const std::string& name,
                                            const std::string& path, const std::string& document,
                                            const std::string& description) {
  BERTH_CHECK(ValidateName("policyName", name, 128));
  BERTH_CHECK(ValidatePath(path));
  BERTH_CHECK(validator_(document, PolicyUse::kManaged));
  ManagedPolicy p;
  p.name = name;
  p.id = ids_.UpperId("ANPA", 21);
  p.arn = fmt::format("arn:aws:iam::{}:policy{}{}", account, path, name);
  p.path = path;
  p.description = description;
  p.created = p.updated = clock_.Now();
  p.versions.push_back(PolicyVersion{"v1", document, true, p.created});
  std::string key = Prefix(account, "policy") + ToLower(name);
  store::Txn txn;
  txn.compares.push_back({key, 0});
  txn.ops.push_back(store::Op::Put(key, json::Dump(ToJson(p))));
  auto r = BERTH_TRY(kv_.Commit(txn));
  if (!r.succeeded) {
    return Fail("EntityAlreadyExists",
                fmt::format("A policy called {} already exists. Duplicate names are not allowed.", name),
                409);
  }
  return p;
}

Result<ManagedPolicy> Service::GetPolicy(const std::string& policy_arn) {
  auto [account, name] = BERTH_TRY(PolicyKey(policy_arn));
  auto kv = BERTH_TRY(kv_.Get(Prefix(account, "policy") + name));
  if (!kv) {
    return Fail("NoSuchEntity", fmt::format("Policy {} does not exist or is not attachable.", policy_arn),
                404);
  }
  ManagedPolicy p = PolicyFrom(BERTH_TRY(ParseRecord(*kv)));
  if (p.arn != policy_arn) {
    return Fail("NoSuchEntity", fmt::format("Policy {} does not exist or is not attachable.", policy_arn),
                404);
  }
  return p;
}

Result<PolicyVersion> Service::GetPolicyVersion(const std::string& policy_arn,
                                                const std::string& version_id) {
  ManagedPolicy p = BERTH_TRY(GetPolicy(policy_arn));
  for (auto& v : p.versions) {
    if (v.version_id == version_id) return v;
  }
  return Fail("NoSuchEntity",
              fmt::format("Policy {} version {} does not exist or is not attachable.", policy_arn,
                          version_id.substr(0, 32)),
              404);
}

Result<PolicyVersion> Service::CreatePolicyVersion(const std::string& policy_arn,
                                                   const std::string& document, bool set_as_default) {
  auto [account, name] = BERTH_TRY(PolicyKey(policy_arn));
  std::string key = Prefix(account, "policy") + name;
  auto kv = BERTH_TRY(kv_.Get(key));
  if (!kv) {
    return Fail("NoSuchEntity", fmt::format("Policy {} does not exist or is not attachable.", policy_arn),
                404);
  }
  BERTH_CHECK(validator_(document, PolicyUse::kManaged));
  ManagedPolicy p = PolicyFrom(BERTH_TRY(ParseRecord(*kv)));
  if (static_cast<int>(p.versions.size()) >= kMaxPolicyVersions) {
    return Fail("LimitExceeded",
                fmt::format("A managed policy can have up to {} versions. Before you create a new "
                            "version, you must delete an existing version.",
                            kMaxPolicyVersions),
                409);
  }
  int next = 1;
  for (const auto& v : p.versions) next = std::max(next, std::stoi(v.version_id.substr(1)) + 1);
  PolicyVersion pv{fmt::format("v{}", next), document, set_as_default, clock_.Now()};
  p.versions.push_back(pv);
  if (set_as_default) p.default_version_id = pv.version_id;
  p.updated = pv.created;
  store::Txn txn;
  txn.compares.push_back({key, kv->mod_revision});
  txn.ops.push_back(store::Op::Put(key, json::Dump(ToJson(p))));
  BERTH_CHECK(CommitOrConflict(kv_, txn, "The policy changed while a version was being added."));
  return pv;
}

Result<Listed<ManagedPolicy>> Service::ListPolicies(const std::string& account,
                                                    const std::string& scope, bool only_attached,
                                                    const std::string& path_prefix,
                                                    const Page& page) {
  if (scope == "AWS") return Listed<ManagedPolicy>{};  // no AWS managed policies (yet)
  return ListRange<ManagedPolicy>(
      kv_, Prefix(account, "policy"), page,
      [&](const store::KeyValue& kv) -> Result<std::optional<ManagedPolicy>> {
        ManagedPolicy p = PolicyFrom(BERTH_TRY(ParseRecord(kv)));
        if (!p.path.starts_with(path_prefix) || (only_attached && p.attachment_count == 0)) {
          return std::optional<ManagedPolicy>();
        }
        return std::optional<ManagedPolicy>(std::move(p));
      });
}

Status Service::DeletePolicy(const std::string& policy_arn) {
  auto [account, name] = BERTH_TRY(PolicyKey(policy_arn));
  std::string key = Prefix(account, "policy") + name;
  auto kv = BERTH_TRY(kv_.Get(key));
  if (!kv) {
    return Fail("NoSuchEntity", fmt::format("Policy {} does not exist or is not attachable.", policy_arn),
                404);
  }
  ManagedPolicy p = PolicyFrom(BERTH_TRY(ParseRecord(*kv)));
  if (p.attachment_count > 0) {
    return Fail("DeleteConflict", "Cannot delete a policy attached to entities.", 409);
  }
  store::Txn txn;
  txn.compares.push_back({key, kv->mod_revision});
  txn.ops.push_back(store::Op::Delete(key));
  return CommitOrConflict(kv_, txn, "The policy changed while being deleted.");
}

Status Service::AttachPolicy(const std::string& account, PrincipalType type, const std::string& owner,
                             const std::string& policy_arn) {
  auto owner_kv = BERTH_TRY(kv_.Get(OwnerKey(account, type, owner)));
  if (!owner_kv) return NoSuch(TypeName(type), owner);
  auto [policy_account, name] = BERTH_TRY(PolicyKey(policy_arn));
  std::string policy_key = Prefix(policy_account, "policy") + name;
  auto policy_kv = BERTH_TRY(kv_.Get(policy_key));
  if (!policy_kv || PolicyFrom(BERTH_TRY(ParseRecord(*policy_kv))).arn != policy_arn ||
      policy_account != account) {
    return Fail("NoSuchEntity", fmt::format("Policy {} does not exist or is not attachable.", policy_arn),
                404);
  }
  std::string attach_key = Prefix(account, "attach/" + TypeName(type) + "/" + ToLower(owner)) + "/" +
                           policy_arn;
  if (BERTH_TRY(kv_.Get(attach_key))) return {};  // attaching twice is a no-op, as in IAM
  ManagedPolicy p = PolicyFrom(BERTH_TRY(ParseRecord(*policy_kv)));
  ++p.attachment_count;
  store::Txn txn;
  txn.compares.push_back({owner_kv->key, owner_kv->mod_revision});
  txn.compares.push_back({policy_key, policy_kv->mod_revision});
  txn.compares.push_back({attach_key, 0});
  txn.ops.push_back(store::Op::Put(attach_key, ""));
  txn.ops.push_back(store::Op::Put(policy_key, json::Dump(ToJson(p))));
  return CommitOrConflict(kv_, txn, "The policy changed while being attached.");
}

Status Service::DetachPolicy(const std::string& account, PrincipalType type, const std::string& owner,
                             const std::string& policy_arn) {
  auto owner_kv = BERTH_TRY(kv_.Get(OwnerKey(account, type, owner)));
  if (!owner_kv) return NoSuch(TypeName(type), owner);
  std::string attach_key = Prefix(account, "attach/" + TypeName(type) + "/" + ToLower(owner)) + "/" +
                           policy_arn;
  auto attached = BERTH_TRY(kv_.Get(attach_key));
  if (!attached) {
    return Fail("NoSuchEntity", fmt::format("Policy {} was not found.", policy_arn), 404);
  }
  auto [policy_account, name] = BERTH_TRY(PolicyKey(policy_arn));
  std::string policy_key = Prefix(policy_account, "policy") + name;
  auto policy_kv = BERTH_TRY(kv_.Get(policy_key));
  store::Txn txn;
  txn.compares.push_back({attach_key, attached->mod_revision});
  txn.ops.push_back(store::Op::Delete(attach_key));
  if (policy_kv) {
    ManagedPolicy p = PolicyFrom(BERTH_TRY(ParseRecord(*policy_kv)));
    p.attachment_count = std::max(0, p.attachment_count - 1);
    txn.compares.push_back({policy_key, policy_kv->mod_revision});
    txn.ops.push_back(store::Op::Put(policy_key, json::Dump(ToJson(p))));
  }
  return CommitOrConflict(kv_, txn, "The policy changed while being detached.");
}

Result<Listed<std::pair<std::string, std::string>>> Service::ListAttachedPolicies(
    const std::string& account, PrincipalType type, const std::string& owner, const Page& page) {
  auto owner_kv = BERTH_TRY(kv_.Get(OwnerKey(account, type, owner)));
  if (!owner_kv) return NoSuch(TypeName(type), owner);
  std::string prefix = Prefix(account, "attach/" + TypeName(type) + "/" + ToLower(owner)) + "/";
  return ListRange<std::pair<std::string, std::string>>(
      kv_, prefix, page,
      [&](const store::KeyValue& kv) -> Result<std::optional<std::pair<std::string, std::string>>> {
        std::string arn = kv.key.substr(prefix.size());
        std::string name = arn.substr(arn.rfind('/') + 1);
        return std::optional<std::pair<std::string, std::string>>({name, arn});
      });
}

Result<std::vector<std::pair<std::string, std::string>>> Service::AttachedPolicyDocuments(
    const std::string& account, PrincipalType type, const std::string& owner) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string prefix = Prefix(account, "attach/" + TypeName(type) + "/" + ToLower(owner)) + "/";
  auto range = BERTH_TRY(kv_.Range(prefix));
  for (const auto& kv : range.kvs) {
    std::string arn = kv.key.substr(prefix.size());
    auto policy = GetPolicy(arn);
    if (!policy) continue;  // deleted concurrently: grants nothing
    for (const auto& v : policy->versions) {
      if (v.is_default) out.emplace_back(arn, v.document);
    }
  }
  return out;
}

std::unique_ptr<store::WatchHandle> Service::WatchChanges(std::function<void()> on_change) {
  listening_.AddListener(on_change);
  return kv_.Watch("iam/", [on_change = std::move(on_change)](const store::WatchEvent&) {
    on_change();
  });
}

}  // namespace berth::iam
