#include "iam/service.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/arn.h"
#include "common/json.h"
#include "common/strings.h"
#include "store/retry.h"

namespace berth::iam {

namespace {

using json::Json;

constexpr int kMaxPolicyVersions = 5;

std::string Prefix(const std::string& account, std::string_view kind) {
  return fmt::format("iam/{}/{}/", account, kind);
}
// Membership is indexed both ways: the user's groups and the group's users.
std::string MemberKey(const std::string& account, std::string_view user, std::string_view group) {
  return fmt::format("iam/{}/member/{}/{}", account, ToLower(user), ToLower(group));
}
std::string GroupMemberKey(const std::string& account, std::string_view group,
                           std::string_view user) {
  return fmt::format("iam/{}/groupmember/{}/{}", account, ToLower(group), ToLower(user));
}

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

Json TagsJson(const Tags& tags) {
  Json out = Json::array();
  for (const auto& [k, v] : tags) out.push_back(Json::array({k, v}));
  return out;
}
Tags TagsFrom(const Json& j) {
  Tags out;
  if (!j.contains("tags") || !j["tags"].is_array()) return out;
  for (const auto& t : j["tags"]) {
    if (t.is_array() && t.size() == 2 && t[0].is_string() && t[1].is_string()) {
      out.emplace_back(t[0].get<std::string>(), t[1].get<std::string>());
    }
  }
  return out;
}
using IdPairs = std::vector<std::pair<std::string, std::string>>;
Json PairsJson(const IdPairs& pairs) {
  Json out = Json::object();
  for (const auto& [k, v] : pairs) out[k] = v;
  return out;
}
IdPairs PairsFrom(const Json& j, const char* field) {
  IdPairs out;
  if (!j.contains(field) || !j[field].is_object()) return out;
  for (const auto& [k, v] : j[field].items()) {
    if (v.is_string()) out.emplace_back(k, v.get<std::string>());
  }
  return out;
}

Json ToJson(const User& u) {
  return {{"name", u.name},       {"id", u.id},
          {"arn", u.arn},         {"path", u.path},
          {"created", Millis(u.created)}, {"boundary", u.permissions_boundary},
          {"tags", TagsJson(u.tags)}};
}
User UserFrom(const Json& j) {
  User u{j.value("name", ""), j.value("id", ""), j.value("arn", ""), j.value("path", "/"),
         FromMillis(j.value("created", int64_t{0}))};
  u.permissions_boundary = j.value("boundary", "");
  u.tags = TagsFrom(j);
  return u;
}
Json ToJson(const Role& r) {
  return {{"name", r.name},
          {"id", r.id},
          {"arn", r.arn},
          {"path", r.path},
          {"description", r.description},
          {"trust", r.trust_policy},
          {"trust_bound", r.bound_trust_policy},
          {"trust_ids", PairsJson(r.trust_principal_ids)},
          {"max_session", r.max_session_duration},
          {"created", Millis(r.created)},
          {"boundary", r.permissions_boundary},
          {"tags", TagsJson(r.tags)}};
}
Role RoleFrom(const Json& j) {
  Role r;
  r.name = j.value("name", "");
  r.id = j.value("id", "");
  r.arn = j.value("arn", "");
  r.path = j.value("path", "/");
  r.description = j.value("description", "");
  r.trust_policy = j.value("trust", "");
  r.bound_trust_policy = j.value("trust_bound", "");
  r.trust_principal_ids = PairsFrom(j, "trust_ids");
  r.max_session_duration = j.value("max_session", 3600);
  r.created = FromMillis(j.value("created", int64_t{0}));
  r.permissions_boundary = j.value("boundary", "");
  r.tags = TagsFrom(j);
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
          {"versions", versions},
          {"tags", TagsJson(p.tags)}};
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
  p.tags = TagsFrom(j);
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

// Commits `txn`: false when a compare failed (another writer won; read again).
Result<bool> Committed(store::Kv& kv, const store::Txn& txn) {
  return BERTH_TRY(kv.Commit(txn)).succeeded;
}

// A read-modify-write of the entity at store key `lock_key`: `attempt` reads,
// decides and returns Committed(...); it runs holding the key's lock and again
// whenever a writer elsewhere won (store/retry.h). Throttling (Query) when
// the entity is written faster than writes can queue.
Status Write(store::KeyLocks& locks, const std::string& lock_key,
             const std::function<Result<bool>()>& attempt) {
  auto done = store::UntilCommitted<bool>(locks, lock_key,
                                          [&]() -> Result<std::optional<bool>> {
                                            if (BERTH_TRY(attempt())) return true;
                                            return std::nullopt;
                                          },
                                          {.what = "IAM entity"});
  if (!done) return Fail(done.error());
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

Status ValidateTags(const Tags& tags) {
  if (tags.size() > 50) {
    return Fail("ValidationError",
                "1 validation error detected: Value at 'tags' failed to satisfy constraint: "
                "Member must have length less than or equal to 50");
  }
  auto allowed = [](std::string_view text) {
    for (unsigned char c : text) {
      // Letters, digits and white space of any script (UTF-8 bytes past ASCII are
      // accepted as such), and _ . : / = + - @.
      if (c >= 0x80 || std::isalnum(c) || c == ' ' || c == '\t' || c == '_' || c == '.' ||
          c == ':' || c == '/' || c == '=' || c == '+' || c == '-' || c == '@') {
        continue;
      }
      return false;
    }
    return true;
  };
  auto invalid = [](std::string_view value, std::string_view where, std::string_view rule) {
    return Fail("ValidationError",
                fmt::format("1 validation error detected: Value '{}' at '{}' failed to satisfy "
                            "constraint: {}",
                            value.substr(0, 256), where, rule));
  };
  constexpr std::string_view kPattern =
      "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+";
  for (size_t i = 0; i < tags.size(); ++i) {
    const auto& [key, value] = tags[i];
    std::string key_at = fmt::format("tags.{}.member.key", i + 1);
    std::string value_at = fmt::format("tags.{}.member.value", i + 1);
    if (key.empty() || key.size() > 128) {
      return invalid(key, key_at, "Member must have length between 1 and 128");
    }
    if (!allowed(key)) return invalid(key, key_at, kPattern);
    if (value.size() > 256) {
      return invalid(value, value_at, "Member must have length less than or equal to 256");
    }
    if (!allowed(value)) return invalid(value, value_at, kPattern);
    if (ToLower(key).starts_with("aws:")) {
      return Fail("InvalidInput", "User-defined tag keys can't start with \"aws:\".");
    }
    for (size_t j = 0; j < i; ++j) {
      if (EqualsIgnoreCase(tags[j].first, key)) {
        return Fail("InvalidInput",
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive.");
      }
    }
  }
  return {};
}

namespace {

// Calls `each` on every string of the "AWS" entries of every Principal and
// NotPrincipal element of `doc` (a parsed policy), which it may rewrite.
Status ForEachAwsPrincipal(Json& doc, const std::function<Status(std::string&)>& each) {
  if (!doc.is_object() || !doc.contains("Statement")) return {};
  Json& statements = doc["Statement"];
  auto visit = [&](Json& st) -> Status {
    if (!st.is_object()) return {};
    for (const char* element : {"Principal", "NotPrincipal"}) {
      if (!st.contains(element) || !st[element].is_object()) continue;
      Json& p = st[element];
      if (!p.contains("AWS")) continue;
      Json& aws = p["AWS"];
      if (aws.is_string()) {
        std::string text = aws.get<std::string>();
        BERTH_CHECK(each(text));
        aws = text;
      } else if (aws.is_array()) {
        for (Json& entry : aws) {
          if (!entry.is_string()) continue;
          std::string text = entry.get<std::string>();
          BERTH_CHECK(each(text));
          entry = text;
        }
      }
    }
    return {};
  };
  if (statements.is_array()) {
    for (Json& st : statements) BERTH_CHECK(visit(st));
  } else {
    BERTH_CHECK(visit(statements));
  }
  return {};
}

bool IsEntityArn(std::string_view text) {
  auto arn = ParseArn(text);
  return arn && arn->service == "iam" &&
         (arn->resource.starts_with("user/") || arn->resource.starts_with("role/"));
}

}  // namespace

Result<BoundPolicy> BindPrincipals(
    std::string_view document,
    const std::function<Result<std::optional<std::string>>(std::string_view arn)>& lookup) {
  // Always parsed (this runs only when a policy is stored): a text search for
  // ":user/" would miss principals written with JSON escapes ("user\/alice").
  BoundPolicy out;
  Json doc = Json::parse(document.begin(), document.end(), nullptr, false);
  if (doc.is_discarded()) return out;  // the validator reports it
  BERTH_CHECK(ForEachAwsPrincipal(doc, [&](std::string& text) -> Status {
    if (!IsEntityArn(text)) return {};
    auto id = lookup(text);
    if (!id) {
      if (id.error().code != "NoSuchEntity") return Fail(id.error());
      return Fail("MalformedPolicyDocument",
                  fmt::format("Invalid principal in policy: \"AWS\":\"{}\"", text.substr(0, 512)));
    }
    if (!*id) return {};
    out.ids.emplace_back(text, **id);
    text = **id;
    return {};
  }));
  if (!out.ids.empty()) out.document = json::Dump(doc);
  return out;
}

std::string ShowBoundPrincipals(
    const std::string& document, const std::vector<std::pair<std::string, std::string>>& ids,
    const std::function<std::optional<std::string>(std::string_view arn)>& current) {
  std::vector<const std::pair<std::string, std::string>*> gone;
  for (const auto& pair : ids) {
    if (current(pair.first) != pair.second) gone.push_back(&pair);
  }
  if (gone.empty()) return document;
  Json doc = Json::parse(document, nullptr, false);
  if (doc.is_discarded()) return document;
  (void)ForEachAwsPrincipal(doc, [&](std::string& text) -> Status {
    for (const auto* pair : gone) {
      if (text == pair->first) text = pair->second;
    }
    return {};
  });
  return json::Dump(doc);
}

std::string TypeName(PrincipalType t) {
  switch (t) {
    case PrincipalType::kUser: return "user";
    case PrincipalType::kRole: return "role";
    case PrincipalType::kGroup: return "group";
  }
  return "user";
}

Service::Service(store::Kv& kv, Ids& ids, const Clock& clock, PolicyValidator validator)
    : listening_(kv), kv_(listening_), ids_(ids), clock_(clock), validator_(std::move(validator)) {}

Result<store::TxnResult> Service::ListeningKv::Commit(const store::Txn& txn) {
  auto result = BERTH_TRY(inner_.Commit(txn));
  if (result.succeeded && !txn.ops.empty()) Notify();
  return result;
}

Status Service::ListeningKv::Revoke(int64_t lease) {
  BERTH_CHECK(inner_.Revoke(lease));
  Notify();
  return {};
}

void Service::ListeningKv::Notify() {
  std::vector<std::function<void()>> listeners;
  {
    std::lock_guard lock(mu_);
    listeners = listeners_;
  }
  for (const auto& listener : listeners) listener();
}

void Service::ListeningKv::AddListener(std::function<void()> listener) {
  std::lock_guard lock(mu_);
  listeners_.push_back(std::move(listener));
}

// ---- users ----------------------------------------------------------------

Status Service::ValidateBoundary(const std::string& account, const std::string& policy_arn) {
  auto arn = ParseArn(policy_arn);
  if (!arn || arn->service != "iam" || !arn->resource.starts_with("policy/")) {
    return Fail("InvalidInput", fmt::format("ARN {} is not valid.", policy_arn.substr(0, 256)));
  }
  auto policy = GetPolicy(policy_arn);
  if (!policy || arn->account != account) {
    return Fail("NoSuchEntity",
                fmt::format("Scope ARN: {} does not exist or is not attachable.",
                            policy_arn.substr(0, 256)),
                404);
  }
  return {};
}

Result<User> Service::CreateUser(const std::string& account, const std::string& name,
                                 const std::string& path, const EntityOptions& options) {
  BERTH_CHECK(ValidateName("userName", name, 64));
  BERTH_CHECK(ValidatePath(path));
  BERTH_CHECK(ValidateTags(options.tags));
  if (!options.permissions_boundary.empty()) {
    BERTH_CHECK(ValidateBoundary(account, options.permissions_boundary));
  }
  User u{name, ids_.UpperId("AIDA", 21), fmt::format("arn:aws:iam::{}:user{}{}", account, path, name),
         path, clock_.Now()};
  u.permissions_boundary = options.permissions_boundary;
  u.tags = options.tags;
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
  if (BERTH_TRY(AnyUnder(kv_, MemberKey(account, name, "")))) {
    return Fail("DeleteConflict", "Cannot delete entity, must remove user from all groups first.",
                409);
  }
  return DeleteEntity(kv_, account, "user", name, *kv);
}

// ---- roles ----------------------------------------------------------------

Result<Role> Service::CreateRole(const std::string& account, const std::string& name,
                                 const std::string& path, const std::string& trust_policy,
                                 const std::string& description,
                                 std::optional<int> max_session_duration,
                                 const EntityOptions& options) {
  BERTH_CHECK(ValidateName("roleName", name, 64));
  BERTH_CHECK(ValidatePath(path));
  BERTH_CHECK(ValidateTags(options.tags));
  if (!options.permissions_boundary.empty()) {
    BERTH_CHECK(ValidateBoundary(account, options.permissions_boundary));
  }
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
  auto bound = BERTH_TRY(BindPrincipals(trust_policy, [this](std::string_view arn) {
    return PrincipalId(arn);
  }));
  Role r;
  r.bound_trust_policy = std::move(bound.document);
  r.trust_principal_ids = std::move(bound.ids);
  r.permissions_boundary = options.permissions_boundary;
  r.tags = options.tags;
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
  return Write(locks_, key, [&]() -> Result<bool> {
    auto kv = BERTH_TRY(kv_.Get(key));
    if (!kv) return NoSuch("role", name);
    BERTH_CHECK(validator_(trust_policy, PolicyUse::kTrust));
    auto bound = BERTH_TRY(
        BindPrincipals(trust_policy, [this](std::string_view arn) { return PrincipalId(arn); }));
    Role r = RoleFrom(BERTH_TRY(ParseRecord(*kv)));
    r.trust_policy = trust_policy;
    r.bound_trust_policy = std::move(bound.document);
    r.trust_principal_ids = std::move(bound.ids);
    store::Txn txn;
    txn.compares.push_back({key, kv->mod_revision});
    txn.ops.push_back(store::Op::Put(key, json::Dump(ToJson(r))));
    return Committed(kv_, txn);
  });
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
  std::string owner_key = OwnerKey(account, type, owner);
  // Locked by the owner: its record is what the commit is conditioned on.
  return Write(locks_, owner_key, [&]() -> Result<bool> {
    auto owner_kv = BERTH_TRY(kv_.Get(owner_key));
    if (!owner_kv) return NoSuch(TypeName(type), owner);
    BERTH_CHECK(validator_(document, type == PrincipalType::kUser   ? PolicyUse::kUserInline
                                     : type == PrincipalType::kRole ? PolicyUse::kRoleInline
                                                                    : PolicyUse::kGroupInline));
    std::string key = InlinePrefix(account, type, owner) + "/" + ToLower(policy_name);
    store::Txn txn;
    txn.compares.push_back({owner_kv->key, owner_kv->mod_revision});
    txn.ops.push_back(
        store::Op::Put(key, json::Dump(Json{{"name", policy_name}, {"document", document}})));
    return Committed(kv_, txn);
  });
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
                                            const std::string& description, const Tags& tags) {
  BERTH_CHECK(ValidateName("policyName", name, 128));
  BERTH_CHECK(ValidatePath(path));
  BERTH_CHECK(ValidateTags(tags));
  BERTH_CHECK(validator_(document, PolicyUse::kManaged));
  ManagedPolicy p;
  p.name = name;
  p.id = ids_.UpperId("ANPA", 21);
  p.arn = fmt::format("arn:aws:iam::{}:policy{}{}", account, path, name);
  p.path = path;
  p.description = description;
  p.created = p.updated = clock_.Now();
  p.versions.push_back(PolicyVersion{"v1", document, true, p.created});
  p.tags = tags;
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
  PolicyVersion pv;
  BERTH_CHECK(Write(locks_, key, [&]() -> Result<bool> {
    auto kv = BERTH_TRY(kv_.Get(key));
    if (!kv) {
      return Fail("NoSuchEntity",
                  fmt::format("Policy {} does not exist or is not attachable.", policy_arn), 404);
    }
    BERTH_CHECK(validator_(document, PolicyUse::kManaged));
    ManagedPolicy p = PolicyFrom(BERTH_TRY(ParseRecord(*kv)));
    if (static_cast<int>(p.versions.size()) >= kMaxPolicyVersions) {
      return Fail("LimitExceeded",
                  fmt::format("A managed policy can have up to {} versions. Before you create a "
                              "new version, you must delete an existing version.",
                              kMaxPolicyVersions),
                  409);
    }
    int next = 1;
    for (const auto& v : p.versions) next = std::max(next, std::stoi(v.version_id.substr(1)) + 1);
    pv = PolicyVersion{fmt::format("v{}", next), document, set_as_default, clock_.Now()};
    p.versions.push_back(pv);
    if (set_as_default) p.default_version_id = pv.version_id;
    p.updated = pv.created;
    store::Txn txn;
    txn.compares.push_back({key, kv->mod_revision});
    txn.ops.push_back(store::Op::Put(key, json::Dump(ToJson(p))));
    return Committed(kv_, txn);
  }));
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

Status Service::AttachPolicy(const std::string& account, PrincipalType type,
                             const std::string& owner, const std::string& policy_arn) {
  auto [policy_account, name] = BERTH_TRY(PolicyKey(policy_arn));
  std::string policy_key = Prefix(policy_account, "policy") + name;
  // Locked by the policy: its attachment count is what attachments of it share.
  return Write(locks_, policy_key, [&]() -> Result<bool> {
    auto owner_kv = BERTH_TRY(kv_.Get(OwnerKey(account, type, owner)));
    if (!owner_kv) return NoSuch(TypeName(type), owner);
    auto policy_kv = BERTH_TRY(kv_.Get(policy_key));
    if (!policy_kv || PolicyFrom(BERTH_TRY(ParseRecord(*policy_kv))).arn != policy_arn ||
        policy_account != account) {
      return Fail("NoSuchEntity",
                  fmt::format("Policy {} does not exist or is not attachable.", policy_arn), 404);
    }
    std::string attach_key =
        Prefix(account, "attach/" + TypeName(type) + "/" + ToLower(owner)) + "/" + policy_arn;
    if (BERTH_TRY(kv_.Get(attach_key))) return true;  // attaching twice is a no-op, as in IAM
    ManagedPolicy p = PolicyFrom(BERTH_TRY(ParseRecord(*policy_kv)));
    ++p.attachment_count;
    store::Txn txn;
    txn.compares.push_back({owner_kv->key, owner_kv->mod_revision});
    txn.compares.push_back({policy_key, policy_kv->mod_revision});
    txn.compares.push_back({attach_key, 0});
    txn.ops.push_back(store::Op::Put(attach_key, ""));
    txn.ops.push_back(store::Op::Put(policy_key, json::Dump(ToJson(p))));
    return Committed(kv_, txn);
  });
}

Status Service::DetachPolicy(const std::string& account, PrincipalType type, const std::string& owner,
                             const std::string& policy_arn) {
  auto owner_kv = BERTH_TRY(kv_.Get(OwnerKey(account, type, owner)));
  if (!owner_kv) return NoSuch(TypeName(type), owner);
  std::string attach_key =
      Prefix(account, "attach/" + TypeName(type) + "/" + ToLower(owner)) + "/" + policy_arn;
  auto [policy_account, name] = BERTH_TRY(PolicyKey(policy_arn));
  std::string policy_key = Prefix(policy_account, "policy") + name;
  return Write(locks_, policy_key, [&]() -> Result<bool> {
    auto attached = BERTH_TRY(kv_.Get(attach_key));
    if (!attached) {
      return Fail("NoSuchEntity", fmt::format("Policy {} was not found.", policy_arn), 404);
    }
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
    return Committed(kv_, txn);
  });
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

// ---- boundaries, tags, principal ids -------------------------------------------

namespace {

// Replaces or adds `tags` in `current` (keys compared ignoring case);
// LimitExceeded past 50.
Status MergeTags(Tags& current, const Tags& tags) {
  BERTH_CHECK(ValidateTags(tags));
  for (const auto& [k, v] : tags) {
    auto it = std::find_if(current.begin(), current.end(),
                           [&](const auto& t) { return EqualsIgnoreCase(t.first, k); });
    if (it != current.end()) {
      *it = {k, v};
    } else {
      current.emplace_back(k, v);
    }
  }
  if (current.size() > 50) {
    return Fail("LimitExceeded", "The number of tags has reached the maximum limit.", 409);
  }
  return {};
}

void RemoveTags(Tags& current, const std::vector<std::string>& keys) {
  std::erase_if(current, [&](const auto& t) {
    return std::any_of(keys.begin(), keys.end(),
                       [&](const std::string& k) { return EqualsIgnoreCase(k, t.first); });
  });
}

// Reads the record at `key`, lets `change` edit it, and writes it back if it
// did not change meanwhile.
Status UpdateRecord(store::Kv& kv, store::KeyLocks& locks, const std::string& key,
                    std::string_view what, std::string_view name,
                    const std::function<Status(Json&)>& change) {
  return Write(locks, key, [&]() -> Result<bool> {
    auto current = BERTH_TRY(kv.Get(key));
    if (!current) return NoSuch(what, name);
    Json record = BERTH_TRY(ParseRecord(*current));
    BERTH_CHECK(change(record));
    store::Txn txn;
    txn.compares.push_back({key, current->mod_revision});
    txn.ops.push_back(store::Op::Put(key, json::Dump(record)));
    return Committed(kv, txn);
  });
}

}  // namespace

Status Service::PutPermissionsBoundary(const std::string& account, PrincipalType type,
                                       const std::string& owner, const std::string& policy_arn) {
  BERTH_CHECK(ValidateBoundary(account, policy_arn));
  return UpdateRecord(kv_, locks_, OwnerKey(account, type, owner), TypeName(type), owner,
                      [&](Json& record) -> Status {
                        record["boundary"] = policy_arn;
                        return {};
                      });
}

Status Service::DeletePermissionsBoundary(const std::string& account, PrincipalType type,
                                          const std::string& owner) {
  return UpdateRecord(kv_, locks_, OwnerKey(account, type, owner), TypeName(type), owner,
                      [&](Json& record) -> Status {
                        if (record.value("boundary", "").empty()) {
                          return Fail("NoSuchEntity",
                                      fmt::format("The {} with name {} has no permissions boundary.",
                                                  TypeName(type), owner),
                                      404);
                        }
                        record["boundary"] = "";
                        return {};
                      });
}

Status Service::TagEntity(const std::string& account, PrincipalType type, const std::string& owner,
                          const Tags& tags) {
  return UpdateRecord(kv_, locks_, OwnerKey(account, type, owner), TypeName(type), owner,
                      [&](Json& record) -> Status {
                        Tags current = TagsFrom(record);
                        BERTH_CHECK(MergeTags(current, tags));
                        record["tags"] = TagsJson(current);
                        return {};
                      });
}

Status Service::UntagEntity(const std::string& account, PrincipalType type,
                            const std::string& owner, const std::vector<std::string>& keys) {
  return UpdateRecord(kv_, locks_, OwnerKey(account, type, owner), TypeName(type), owner,
                      [&](Json& record) -> Status {
                        Tags current = TagsFrom(record);
                        RemoveTags(current, keys);
                        record["tags"] = TagsJson(current);
                        return {};
                      });
}

Status Service::TagPolicy(const std::string& policy_arn, const Tags& tags) {
  BERTH_TRY(GetPolicy(policy_arn));
  auto [account, name] = BERTH_TRY(PolicyKey(policy_arn));
  return UpdateRecord(kv_, locks_, Prefix(account, "policy") + name, "policy", policy_arn,
                      [&](Json& record) -> Status {
                        Tags current = TagsFrom(record);
                        BERTH_CHECK(MergeTags(current, tags));
                        record["tags"] = TagsJson(current);
                        return {};
                      });
}

Status Service::UntagPolicy(const std::string& policy_arn, const std::vector<std::string>& keys) {
  BERTH_TRY(GetPolicy(policy_arn));
  auto [account, name] = BERTH_TRY(PolicyKey(policy_arn));
  return UpdateRecord(kv_, locks_, Prefix(account, "policy") + name, "policy", policy_arn,
                      [&](Json& record) -> Status {
                        Tags current = TagsFrom(record);
                        RemoveTags(current, keys);
                        record["tags"] = TagsJson(current);
                        return {};
                      });
}

Result<std::optional<std::string>> Service::PrincipalId(std::string_view principal_arn) {
  auto arn = ParseArn(principal_arn);
  if (!arn || arn->service != "iam" || !IsAccountId(arn->account)) {
    return std::optional<std::string>();
  }
  auto account = BERTH_TRY(kv_.Get("accounts/" + arn->account));
  if (!account) return std::optional<std::string>();  // not an account of this server
  const std::string& res = arn->resource;
  bool user = res.starts_with("user/");
  if (!user && !res.starts_with("role/")) return std::optional<std::string>();
  std::string name = res.substr(res.rfind('/') + 1);
  std::string path = res.substr(4, res.size() - 4 - name.size());  // "/" or "/a/b/"
  auto kv = BERTH_TRY(kv_.Get(Prefix(arn->account, user ? "user" : "role") + ToLower(name)));
  if (!kv) return NoSuch(user ? "user" : "role", name);
  Json record = BERTH_TRY(ParseRecord(*kv));
  if (record.value("path", "/") != path) return NoSuch(user ? "user" : "role", name);
  return std::optional<std::string>(record.value("id", ""));
}

// ---- renames, groups, role updates, policy versions, counts -------------------

namespace {
Json GroupJson(const Group& g) {
  return {{"name", g.name}, {"id", g.id}, {"arn", g.arn}, {"path", g.path},
          {"created", Millis(g.created)}};
}
Group GroupFrom(const Json& j) {
  return Group{j.value("name", ""), j.value("id", ""), j.value("arn", ""), j.value("path", "/"),
               FromMillis(j.value("created", int64_t{0}))};
}
}  // namespace

Result<User> Service::UpdateUser(const std::string& account, const std::string& name,
                                 const std::string& new_name, const std::string& new_path) {
  std::string old_key = Prefix(account, "user") + ToLower(name);
  auto current = BERTH_TRY(kv_.Get(old_key));
  if (!current) return NoSuch("user", name);
  User u = UserFrom(BERTH_TRY(ParseRecord(*current)));
  std::string target = new_name.empty() ? u.name : new_name;
  std::string path = new_path.empty() ? u.path : new_path;
  BERTH_CHECK(ValidateName("newUserName", target, 64));
  BERTH_CHECK(ValidatePath(path));
  const std::string old_lower = ToLower(u.name), new_lower = ToLower(target);
  u.name = target;
  u.path = path;
  u.arn = fmt::format("arn:aws:iam::{}:user{}{}", account, path, target);
  std::string new_key = Prefix(account, "user") + new_lower;
  store::Txn txn;
  txn.compares.push_back({old_key, current->mod_revision});
  if (new_key != old_key) {
    txn.compares.push_back({new_key, 0});
    txn.ops.push_back(store::Op::Delete(old_key));
  }
  txn.ops.push_back(store::Op::Put(new_key, json::Dump(ToJson(u))));
  // Everything keyed by the old name moves with it.
  auto move_under = [&](const std::string& from, const std::string& to) -> Status {
    if (from == to) return {};
    auto range = BERTH_TRY(kv_.Range(from));
    for (const auto& e : range.kvs) {
      txn.compares.push_back({e.key, e.mod_revision});
      txn.ops.push_back(store::Op::Delete(e.key));
      txn.ops.push_back(store::Op::Put(to + e.key.substr(from.size()), e.value));
    }
    return {};
  };
  BERTH_CHECK(move_under(Prefix(account, "inline/user/" + old_lower + "/"),
                         Prefix(account, "inline/user/" + new_lower + "/")));
  BERTH_CHECK(move_under(Prefix(account, "attach/user/" + old_lower + "/"),
                         Prefix(account, "attach/user/" + new_lower + "/")));
  std::string member_from = MemberKey(account, old_lower, "");
  auto groups = BERTH_TRY(kv_.Range(member_from));
  BERTH_CHECK(move_under(member_from, MemberKey(account, new_lower, "")));
  for (const auto& g : groups.kvs) {
    std::string group = g.key.substr(member_from.size());
    if (old_lower != new_lower) {
      txn.ops.push_back(store::Op::Delete(GroupMemberKey(account, group, old_lower)));
      txn.ops.push_back(store::Op::Put(GroupMemberKey(account, group, new_lower), ""));
    }
  }
  // The access key index (IdentityStore's layout) and the keys' own records.
  std::string keys_from = fmt::format("iam/{}/userkeys/{}/", account, old_lower);
  auto keys = BERTH_TRY(kv_.Range(keys_from));
  BERTH_CHECK(move_under(keys_from, fmt::format("iam/{}/userkeys/{}/", account, new_lower)));
  for (const auto& k : keys.kvs) {
    std::string record_key = "accesskeys/" + k.key.substr(keys_from.size());
    auto record = BERTH_TRY(kv_.Get(record_key));
    if (!record) continue;
    Json j = BERTH_TRY(ParseRecord(*record));
    j["user"] = target;
    txn.compares.push_back({record_key, record->mod_revision});
    txn.ops.push_back(store::Op::Put(record_key, json::Dump(j)));
  }
  auto r = BERTH_TRY(kv_.Commit(txn));
  if (!r.succeeded) {
    if (new_key != old_key && BERTH_TRY(kv_.Get(new_key))) {
      return Fail("EntityAlreadyExists", fmt::format("User with name {} already exists.", target),
                  409);
    }
    return Fail("ConcurrentModification", "The user changed while being updated.", 409);
  }
  return u;
}

Result<Group> Service::CreateGroup(const std::string& account, const std::string& name,
                                   const std::string& path) {
  BERTH_CHECK(ValidateName("groupName", name, 128));
  BERTH_CHECK(ValidatePath(path));
  Group g{name, ids_.UpperId("AGPA", 21),
          fmt::format("arn:aws:iam::{}:group{}{}", account, path, name), path, clock_.Now()};
  BERTH_CHECK(PutNewEntity(kv_, Prefix(account, "group") + ToLower(name), GroupJson(g), "Group",
                           name));
  return g;
}

Result<Group> Service::GetGroup(const std::string& account, const std::string& name) {
  auto kv = BERTH_TRY(kv_.Get(Prefix(account, "group") + ToLower(name)));
  if (!kv) return NoSuch("group", name);
  return GroupFrom(BERTH_TRY(ParseRecord(*kv)));
}

Result<Listed<Group>> Service::ListGroups(const std::string& account,
                                          const std::string& path_prefix, const Page& page) {
  return ListByPath<Group>(kv_, Prefix(account, "group"), path_prefix, page, GroupFrom);
}

Status Service::DeleteGroup(const std::string& account, const std::string& name) {
  auto kv = BERTH_TRY(kv_.Get(Prefix(account, "group") + ToLower(name)));
  if (!kv) return NoSuch("group", name);
  if (BERTH_TRY(AnyUnder(kv_, GroupMemberKey(account, name, "")))) {
    return Fail("DeleteConflict", "Cannot delete entity, must remove users from group first.", 409);
  }
  return DeleteEntity(kv_, account, "group", name, *kv);
}

Status Service::AddUserToGroup(const std::string& account, const std::string& group,
                               const std::string& user) {
  std::string group_key = Prefix(account, "group") + ToLower(group);
  return Write(locks_, group_key, [&]() -> Result<bool> {
    auto g = BERTH_TRY(kv_.Get(group_key));
    if (!g) return NoSuch("group", group);
    auto u = BERTH_TRY(kv_.Get(Prefix(account, "user") + ToLower(user)));
    if (!u) return NoSuch("user", user);
    store::Txn txn;
    txn.compares.push_back({g->key, g->mod_revision});
    txn.compares.push_back({u->key, u->mod_revision});
    txn.ops.push_back(store::Op::Put(MemberKey(account, user, group), ""));
    txn.ops.push_back(store::Op::Put(GroupMemberKey(account, group, user), ""));
    return Committed(kv_, txn);
  });
}

Status Service::RemoveUserFromGroup(const std::string& account, const std::string& group,
                                    const std::string& user) {
  BERTH_TRY(GetGroup(account, group));
  BERTH_TRY(GetUser(account, user));
  std::string member = MemberKey(account, user, group);
  auto m = BERTH_TRY(kv_.Get(member));
  if (!m) {
    return Fail("NoSuchEntity",
                fmt::format("The user with name {} cannot be found in group {}.", user, group), 404);
  }
  store::Txn txn;
  txn.compares.push_back({member, m->mod_revision});
  txn.ops.push_back(store::Op::Delete(member));
  txn.ops.push_back(store::Op::Delete(GroupMemberKey(account, group, user)));
  return CommitOrConflict(kv_, txn, "The group changed while a user was being removed.");
}

Result<std::vector<User>> Service::GroupMembers(const std::string& account,
                                                const std::string& group) {
  BERTH_TRY(GetGroup(account, group));
  std::string prefix = GroupMemberKey(account, group, "");
  std::vector<User> out;
  for (const auto& e : BERTH_TRY(kv_.Range(prefix)).kvs) {
    auto u = GetUser(account, e.key.substr(prefix.size()));
    if (u) out.push_back(std::move(*u));
  }
  return out;
}

Result<std::vector<Group>> Service::GroupsOfUser(const std::string& account,
                                                 const std::string& user) {
  std::string prefix = MemberKey(account, user, "");
  std::vector<Group> out;
  for (const auto& e : BERTH_TRY(kv_.Range(prefix)).kvs) {
    auto g = GetGroup(account, e.key.substr(prefix.size()));
    if (g) out.push_back(std::move(*g));
  }
  return out;
}

Result<Role> Service::UpdateRole(const std::string& account, const std::string& name,
                                 std::optional<std::string> description,
                                 std::optional<int> max_session_duration) {
  if (max_session_duration && (*max_session_duration < 3600 || *max_session_duration > 43200)) {
    return Fail("ValidationError",
                fmt::format("1 validation error detected: Value '{}' at 'maxSessionDuration' failed "
                            "to satisfy constraint: Member must have value between 3600 and 43200",
                            *max_session_duration));
  }
  if (description && description->size() > 1000) {
    return Fail("ValidationError", "Description must be at most 1000 characters.");
  }
  BERTH_CHECK(UpdateRecord(kv_, locks_, OwnerKey(account, PrincipalType::kRole, name), "role", name,
                           [&](Json& record) -> Status {
                             if (description) record["description"] = *description;
                             if (max_session_duration)
                               record["max_session"] = *max_session_duration;
                             return {};
                           }));
  return GetRole(account, name);
}

Result<std::vector<PolicyVersion>> Service::ListPolicyVersions(const std::string& policy_arn) {
  ManagedPolicy p = BERTH_TRY(GetPolicy(policy_arn));
  std::vector<PolicyVersion> out(p.versions.rbegin(), p.versions.rend());  // newest first
  return out;
}

Status Service::DeletePolicyVersion(const std::string& policy_arn, const std::string& version_id) {
  BERTH_TRY(GetPolicyVersion(policy_arn, version_id));
  auto [account, name] = BERTH_TRY(PolicyKey(policy_arn));
  return UpdateRecord(kv_, locks_, Prefix(account, "policy") + name, "policy", policy_arn,
                      [&](Json& record) -> Status {
                        if (record.value("default", "v1") == version_id) {
                          return Fail("DeleteConflict",
                                      "Cannot delete the default version of a policy.", 409);
                        }
                        Json kept = Json::array();
                        for (const auto& v : record["versions"]) {
                          if (v.value("id", "") != version_id) kept.push_back(v);
                        }
                        record["versions"] = kept;
                        return {};
                      });
}

Status Service::SetDefaultPolicyVersion(const std::string& policy_arn,
                                        const std::string& version_id) {
  BERTH_TRY(GetPolicyVersion(policy_arn, version_id));
  auto [account, name] = BERTH_TRY(PolicyKey(policy_arn));
  return UpdateRecord(kv_, locks_, Prefix(account, "policy") + name, "policy", policy_arn,
                      [&](Json& record) -> Status {
                        record["default"] = version_id;
                        record["updated"] = Millis(clock_.Now());
                        return {};
                      });
}

Result<std::vector<std::pair<PrincipalType, std::string>>> Service::EntitiesForPolicy(
    const std::string& policy_arn) {
  BERTH_TRY(GetPolicy(policy_arn));
  auto [account, name] = BERTH_TRY(PolicyKey(policy_arn));
  std::vector<std::pair<PrincipalType, std::string>> out;
  for (PrincipalType type : {PrincipalType::kUser, PrincipalType::kRole, PrincipalType::kGroup}) {
    std::string prefix = Prefix(account, "attach/" + TypeName(type));  // iam/A/attach/<type>/
    std::string after;
    while (true) {
      auto range = BERTH_TRY(kv_.Range(prefix, after, 500));
      for (const auto& e : range.kvs) {
        std::string_view rest = std::string_view(e.key).substr(prefix.size());
        // <owner>//<policy arn> (AttachPolicy's layout: the owner's prefix, then "/" + arn)
        size_t slash = rest.find("//");
        if (slash == std::string_view::npos || rest.substr(slash + 2) != policy_arn) continue;
        std::string owner(rest.substr(0, slash));
        // The stored name (its own case) from the owner's record.
        auto record = BERTH_TRY(kv_.Get(Prefix(account, TypeName(type)) + owner));
        if (record) owner = BERTH_TRY(ParseRecord(*record)).value("name", owner);
        out.emplace_back(type, owner);
      }
      if (!range.more || range.kvs.empty()) break;
      after = range.kvs.back().key;
    }
  }
  return out;
}

Result<size_t> Service::Count(const std::string& account, std::string_view kind) {
  size_t n = 0;
  std::string prefix = Prefix(account, kind);
  std::string after;
  while (true) {
    auto range = BERTH_TRY(kv_.Range(prefix, after, 1000));
    n += range.kvs.size();
    if (!range.more || range.kvs.empty()) break;
    after = range.kvs.back().key;
  }
  return n;
}

std::unique_ptr<store::WatchHandle> Service::WatchChanges(std::function<void()> on_change) {
  listening_.AddListener(on_change);
  return kv_.Watch("iam/", [on_change = std::move(on_change)](const store::WatchEvent&) {
    on_change();
  });
}

}  // namespace berth::iam
