#include "iam/identity_store.h"

#include <fmt/format.h>

#include <mutex>

#include "common/arn.h"
#include "common/json.h"
#include "common/strings.h"
#include "crypto/sha256.h"
#include "iam/condition.h"

namespace berth::iam {

namespace {
constexpr std::string_view kAccountsPrefix = "accounts/";
constexpr std::string_view kKeysPrefix = "accesskeys/";
constexpr std::string_view kSessionsPrefix = "sessions/";
// Resolved keys and sessions kept in memory; beyond it an arbitrary one is
// dropped and loaded again when next used.
constexpr size_t kCacheCapacity = 65536;

// The cache key (an access key id) of a store key under `prefix`.
store::WatchedCache<int>::KeyOf IdOf(std::string_view prefix) {
  return
      [prefix](std::string_view store_key) { return std::string(store_key.substr(prefix.size())); };
}

std::string AccountKey(std::string_view id) { return fmt::format("{}{}", kAccountsPrefix, id); }
std::string AccessKeyKey(std::string_view id) { return fmt::format("{}{}", kKeysPrefix, id); }

std::unexpected<Error> Unrecognized() {
  return Fail("UnrecognizedClientException", "The security token included in the request is invalid.",
              400);
}
}  // namespace

bool IsValidAccessKeyId(std::string_view id) {
  if (id.size() < 16 || id.size() > 128) return false;
  for (char c : id) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

IdentityStore::IdentityStore(store::Kv& kv, const crypto::RootKey& root_key, Ids& ids,
                             const Clock& clock)
    : kv_(kv),
      root_key_(root_key),
      ids_(ids),
      clock_(clock),
      keys_(kv, kKeysPrefix, IdOf(kKeysPrefix), kCacheCapacity),
      sessions_(kv, kSessionsPrefix, IdOf(kSessionsPrefix), kCacheCapacity) {}

IdentityStore::~IdentityStore() = default;

Result<bool> IdentityStore::EnsureAccount(const std::string& account_id) {
  if (!IsAccountId(account_id)) {
    return Fail("InvalidParameterException",
                fmt::format("Account id '{}' must be 12 digits.", account_id.substr(0, 32)));
  }
  json::Json record = {{"id", account_id}, {"created", FormatIso8601(clock_.Now())}};
  store::Txn txn;
  txn.compares.push_back({AccountKey(account_id), 0});
  txn.ops.push_back(store::Op::Put(AccountKey(account_id), json::Dump(record)));
  auto result = BERTH_TRY(kv_.Commit(txn));
  return result.succeeded;
}

Result<bool> IdentityStore::AccountExists(const std::string& account_id) {
  auto kv = BERTH_TRY(kv_.Get(AccountKey(account_id)));
  return kv.has_value();
}

Result<std::vector<std::string>> IdentityStore::ListAccounts() {
  std::vector<std::string> out;
  std::string after;
  while (true) {
    auto page = BERTH_TRY(kv_.Range(kAccountsPrefix, after, 500));
    for (auto& kv : page.kvs) out.push_back(kv.key.substr(kAccountsPrefix.size()));
    if (!page.more || page.kvs.empty()) break;
    after = page.kvs.back().key;
  }
  return out;
}

Result<aws::Credentials> IdentityStore::EnsureRootAccessKey(
    const std::string& account_id, const std::optional<aws::Credentials>& fixed) {
  auto account = BERTH_TRY(kv_.Get(AccountKey(account_id)));
  if (!account) {
    return Fail("NoSuchEntity", fmt::format("Account {} does not exist.", account_id), 404);
  }
  auto record = json::Json::parse(account->value, nullptr, false);
  std::optional<std::string> current;
  if (record.is_object() && record.contains("root_access_key_id")) {
    current = record["root_access_key_id"].get<std::string>();
  }
  if (fixed) {
    if (!IsValidAccessKeyId(fixed->access_key_id)) {
      return Fail("InvalidParameterException",
                  "Root access key id must be 16-128 characters of A-Z and 0-9.");
    }
    if (fixed->secret_access_key.size() < 16) {
      return Fail("InvalidParameterException", "Root secret access key must be at least 16 characters.");
    }
    if (current == fixed->access_key_id) {
      auto existing = BERTH_TRY(Load(*current));
      if (existing && existing->secret_access_key == fixed->secret_access_key) return *fixed;
    }
    return PutRootKey(account_id, *fixed, current);
  }
  if (current) {
    auto existing = BERTH_TRY(Load(*current));
    if (existing) {
      return aws::Credentials{*current, existing->secret_access_key, ""};
    }
  }
  return PutRootKey(account_id,
                    aws::Credentials{ids_.UpperId("AKIA", 20), ids_.SecretString(40), ""}, current);
}

Result<aws::Credentials> IdentityStore::PutRootKey(const std::string& account_id,
                                                   aws::Credentials creds,
                                                   const std::optional<std::string>& old_key_id) {
  auto account = BERTH_TRY(kv_.Get(AccountKey(account_id)));
  if (!account) return Fail("NoSuchEntity", fmt::format("Account {} does not exist.", account_id), 404);
  auto existing_key = BERTH_TRY(kv_.Get(AccessKeyKey(creds.access_key_id)));
  if (existing_key) {
    auto owner = json::Json::parse(existing_key->value, nullptr, false);
    if (!owner.is_object() || owner.value("account", "") != account_id || owner.value("kind", "") != "root") {
      return Fail("EntityAlreadyExists",
                  fmt::format("Access key {} already belongs to another principal.", creds.access_key_id),
                  409);
    }
  }
  std::string key = AccessKeyKey(creds.access_key_id);
  auto sealed = BERTH_TRY(root_key_.Seal(creds.secret_access_key, key));
  json::Json key_record = {{"account", account_id},
                           {"kind", "root"},
                           {"status", "Active"},
                           {"created", FormatIso8601(clock_.Now())},
                           {"secret", Base64Encode(sealed)}};
  auto record = json::Json::parse(account->value, nullptr, false);
  if (!record.is_object()) record = json::Json{{"id", account_id}};
  record["root_access_key_id"] = creds.access_key_id;

  store::Txn txn;
  txn.compares.push_back({AccountKey(account_id), account->mod_revision});
  txn.ops.push_back(store::Op::Put(key, json::Dump(key_record)));
  txn.ops.push_back(store::Op::Put(AccountKey(account_id), json::Dump(record)));
  if (old_key_id && *old_key_id != creds.access_key_id) {
    txn.ops.push_back(store::Op::Delete(AccessKeyKey(*old_key_id)));
  }
  auto result = BERTH_TRY(kv_.Commit(txn));
  if (!result.succeeded) {
    return Fail("ConcurrentModification", "The account changed while its root key was being set.", 409);
  }
  // The watch invalidates the cache too, but later, on its own thread: until
  // then the replaced key (or secret) would still resolve on this very server.
  keys_.Drop(creds.access_key_id);
  if (old_key_id) keys_.Drop(*old_key_id);
  return creds;
}

Result<std::optional<aws::SigningSecret>> IdentityStore::Load(std::string_view access_key_id) {
  std::string key = AccessKeyKey(access_key_id);
  auto kv = BERTH_TRY(kv_.Get(key));
  if (!kv) return std::optional<aws::SigningSecret>();
  auto record = json::Json::parse(kv->value, nullptr, false);
  if (!record.is_object() || !record["secret"].is_string() || !record["account"].is_string()) {
    return InternalFailure(fmt::format("access key record {} is corrupt", access_key_id));
  }
  if (record.value("status", "") != "Active") return std::optional<aws::SigningSecret>();
  auto sealed = Base64Decode(record["secret"].get<std::string>());
  if (!sealed) return InternalFailure(fmt::format("access key record {} is corrupt", access_key_id));
  auto secret = root_key_.Open(*sealed, key);
  if (!secret) {
    return InternalFailure(fmt::format("access key {} does not open with this root key", access_key_id));
  }
  aws::SigningSecret out;
  out.secret_access_key = std::move(*secret);
  aws::Principal& p = out.principal;
  p.account = record["account"].get<std::string>();
  p.access_key_id = std::string(access_key_id);
  std::string kind = record.value("kind", "");
  if (kind == "root") {
    p.kind = aws::Principal::Kind::kRoot;
    p.arn = fmt::format("arn:aws:iam::{}:root", p.account);
    p.user_id = p.account;
  } else if (kind == "user") {
    p.kind = aws::Principal::Kind::kUser;
    p.name = record.value("user", "");
    p.arn = fmt::format("arn:aws:iam::{}:user/{}", p.account, p.name);
    p.user_id = record.value("user_id", "");
  }
  return std::optional<aws::SigningSecret>(std::move(out));
}

Result<aws::SigningSecret> IdentityStore::Resolve(std::string_view access_key_id,
                                                  std::string_view session_token) {
  if (access_key_id.starts_with("ASIA")) return ResolveSession(access_key_id, session_token);
  if (!session_token.empty()) return Unrecognized();
  if (auto hit = keys_.Find(access_key_id)) return *hit;
  uint64_t generation = keys_.Generation();
  if (!IsValidAccessKeyId(access_key_id)) return Unrecognized();
  auto loaded = BERTH_TRY(Load(access_key_id));
  if (!loaded) return Unrecognized();
  auto resolved = std::make_shared<const aws::SigningSecret>(std::move(*loaded));
  keys_.Put(std::string(access_key_id), 0, generation, resolved);
  return *resolved;
}

}  // namespace berth::iam

namespace berth::iam {

namespace {
constexpr int kMaxKeysPerUser = 2;
std::string UserKeysPrefix(const std::string& account, const std::string& user) {
  return fmt::format("iam/{}/userkeys/{}/", account, ToLower(user));
}
}  // namespace

Result<std::pair<IdentityStore::AccessKeyInfo, std::string>> IdentityStore::CreateAccessKey(
    const std::string& account, const std::string& user_name, const std::string& user_id) {
  auto existing = BERTH_TRY(kv_.Range(UserKeysPrefix(account, user_name)));
  if (existing.kvs.size() >= kMaxKeysPerUser) {
    return Fail("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409);
  }
  AccessKeyInfo info{ids_.UpperId("AKIA", 20), user_name, "Active", clock_.Now()};
  std::string secret = ids_.SecretString(40);
  std::string key = AccessKeyKey(info.access_key_id);
  auto sealed = BERTH_TRY(root_key_.Seal(secret, key));
  json::Json record = {{"account", account},   {"kind", "user"},
                       {"user", user_name},    {"user_id", user_id},
                       {"status", "Active"},   {"created", FormatIso8601(info.created)},
                       {"secret", Base64Encode(sealed)}};
  store::Txn txn;
  txn.compares.push_back({key, 0});
  for (const auto& kv : existing.kvs) txn.compares.push_back({kv.key, kv.mod_revision});
  txn.ops.push_back(store::Op::Put(key, json::Dump(record)));
  txn.ops.push_back(store::Op::Put(UserKeysPrefix(account, user_name) + info.access_key_id, ""));
  auto r = BERTH_TRY(kv_.Commit(txn));
  if (!r.succeeded) return Fail("ConcurrentModification", "Access keys changed concurrently.", 409);
  return std::pair<AccessKeyInfo, std::string>(info, std::move(secret));
}

Result<std::vector<IdentityStore::AccessKeyInfo>> IdentityStore::ListAccessKeys(
    const std::string& account, const std::string& user_name) {
  std::vector<AccessKeyInfo> out;
  std::string prefix = UserKeysPrefix(account, user_name);
  auto range = BERTH_TRY(kv_.Range(prefix));
  for (const auto& kv : range.kvs) {
    std::string id = kv.key.substr(prefix.size());
    auto record_kv = BERTH_TRY(kv_.Get(AccessKeyKey(id)));
    if (!record_kv) continue;
    auto record = json::Json::parse(record_kv->value, nullptr, false);
    if (!record.is_object()) continue;
    TimePoint created{};
    double epoch = 0;
    if (ParseConditionDate(record.value("created", ""), &epoch)) {
      created = TimePoint(std::chrono::seconds(static_cast<int64_t>(epoch)));
    }
    out.push_back(AccessKeyInfo{id, record.value("user", user_name), record.value("status", "Active"),
                                created});
  }
  return out;
}

Status IdentityStore::UpdateAccessKey(const std::string& account, const std::string& user_name,
                                      const std::string& access_key_id, const std::string& status) {
  if (status != "Active" && status != "Inactive") {
    return Fail("ValidationError", "Status must be Active or Inactive.");
  }
  std::string key = AccessKeyKey(access_key_id);
  auto kv = BERTH_TRY(kv_.Get(key));
  auto index = BERTH_TRY(kv_.Get(UserKeysPrefix(account, user_name) + access_key_id));
  if (!kv || !index) {
    return Fail(
        "NoSuchEntity",
        fmt::format("The Access Key with id {} cannot be found.", Utf8Prefix(access_key_id, 128)),
        404);
  }
  auto record = json::Json::parse(kv->value, nullptr, false);
  record["status"] = status;
  store::Txn txn;
  txn.compares.push_back({key, kv->mod_revision});
  txn.ops.push_back(store::Op::Put(key, json::Dump(record)));
  auto r = BERTH_TRY(kv_.Commit(txn));
  if (!r.succeeded) return Fail("ConcurrentModification", "The access key changed concurrently.", 409);
  keys_.Drop(access_key_id);
  return {};
}

Status IdentityStore::DeleteAccessKey(const std::string& account, const std::string& user_name,
                                      const std::string& access_key_id) {
  std::string index = UserKeysPrefix(account, user_name) + access_key_id;
  auto index_kv = BERTH_TRY(kv_.Get(index));
  if (!index_kv) {
    return Fail(
        "NoSuchEntity",
        fmt::format("The Access Key with id {} cannot be found.", Utf8Prefix(access_key_id, 128)),
        404);
  }
  store::Txn txn;
  txn.ops.push_back(store::Op::Delete(index));
  txn.ops.push_back(store::Op::Delete(AccessKeyKey(access_key_id)));
  BERTH_TRY(kv_.Commit(txn));
  keys_.Drop(access_key_id);
  return {};
}

Result<aws::Credentials> IdentityStore::CreateSession(const Session& session) {
  aws::Credentials creds{ids_.UpperId("ASIA", 20), ids_.SecretString(40), ""};
  std::string token_bytes(96, '\0');
  ids_.Fill(reinterpret_cast<uint8_t*>(token_bytes.data()), token_bytes.size());
  creds.session_token = Base64Encode(token_bytes);
  std::string key = fmt::format("{}{}", kSessionsPrefix, creds.access_key_id);
  auto sealed = BERTH_TRY(root_key_.Seal(creds.secret_access_key, key));
  json::Json record = {
      {"kind", session.kind},
      {"user", session.user_name},
      {"user_id", session.user_id},
      {"account", session.account},
      {"role", session.role_name},
      {"role_id", session.role_id},
      {"role_arn", session.role_arn},
      {"session", session.session_name},
      {"policy", session.session_policy},
      {"expiration", std::chrono::duration_cast<std::chrono::seconds>(
                         session.expiration.time_since_epoch()).count()},
      {"token_sha256", crypto::Sha256Hex(creds.session_token)},
      {"secret", Base64Encode(sealed)}};
  BERTH_TRY(kv_.Put(key, json::Dump(record)));
  return creds;
}

Result<std::shared_ptr<IdentityStore::CachedSession>> IdentityStore::LoadSession(
    std::string_view access_key_id) {
  std::string key = fmt::format("{}{}", kSessionsPrefix, access_key_id);
  auto kv = BERTH_TRY(kv_.Get(key));
  if (!kv) return std::shared_ptr<CachedSession>();
  auto r = json::Json::parse(kv->value, nullptr, false);
  if (!r.is_object() || !r["secret"].is_string()) return InternalFailure("corrupt session record");
  auto loaded = std::make_shared<CachedSession>();
  CachedSession& c = *loaded;
  Session& s = c.session;
  s.kind = r.value("kind", "role");
  s.user_name = r.value("user", "");
  s.user_id = r.value("user_id", "");
  s.account = r.value("account", "");
  s.role_name = r.value("role", "");
  s.role_id = r.value("role_id", "");
  s.role_arn = r.value("role_arn", "");
  s.session_name = r.value("session", "");
  s.session_policy = r.value("policy", "");
  s.expiration = TimePoint(std::chrono::seconds(r.value("expiration", int64_t{0})));
  c.expiration = s.expiration;
  c.token_sha256 = r.value("token_sha256", "");
  auto sealed = Base64Decode(r["secret"].get<std::string>());
  if (!sealed) return InternalFailure("corrupt session record");
  c.secret.secret_access_key = BERTH_TRY(root_key_.Open(*sealed, key));
  aws::Principal& p = c.secret.principal;
  p.account = s.account;
  if (s.kind == "root") {
    p.kind = aws::Principal::Kind::kRoot;
    p.arn = fmt::format("arn:aws:iam::{}:root", p.account);
    p.user_id = p.account;
  } else if (s.kind == "user") {
    p.kind = aws::Principal::Kind::kUser;
    p.name = s.user_name;
    p.arn = fmt::format("arn:aws:iam::{}:user/{}", p.account, p.name);
    p.user_id = s.user_id;
  } else if (s.kind == "federated") {
    p.kind = aws::Principal::Kind::kFederatedUser;
    p.name = s.user_name;
    p.parent_id = s.user_id;
    p.session_name = s.session_name;
    p.arn = fmt::format("arn:aws:sts::{}:federated-user/{}", p.account, s.session_name);
    p.user_id = fmt::format("{}:{}", p.account, s.session_name);
  } else {
    p.kind = aws::Principal::Kind::kAssumedRole;
    p.name = s.role_name;
    p.session_name = s.session_name;
    p.arn = fmt::format("arn:aws:sts::{}:assumed-role/{}/{}", p.account, p.name, p.session_name);
    p.user_id = fmt::format("{}:{}", s.role_id, p.session_name);
  }
  p.access_key_id = std::string(access_key_id);
  p.expiration = s.expiration;
  return loaded;
}

Result<std::string> IdentityStore::GetSessionPolicy(std::string_view access_key_id) {
  if (auto hit = sessions_.Find(access_key_id)) return hit->session.session_policy;
  auto loaded = BERTH_TRY(LoadSession(access_key_id));
  if (!loaded) return std::string();
  return loaded->session.session_policy;
}

Result<std::optional<std::string>> IdentityStore::AccountOfKey(std::string_view access_key_id) {
  if (!IsValidAccessKeyId(access_key_id)) return std::optional<std::string>();
  std::string key = access_key_id.starts_with("ASIA")
                        ? fmt::format("{}{}", kSessionsPrefix, access_key_id)
                        : AccessKeyKey(access_key_id);
  auto kv = BERTH_TRY(kv_.Get(key));
  if (!kv) return std::optional<std::string>();
  auto record = json::Json::parse(kv->value, nullptr, false);
  if (!record.is_object()) return InternalFailure("corrupt access key record");
  return std::optional<std::string>(record.value("account", ""));
}

Result<aws::SigningSecret> IdentityStore::ResolveSession(std::string_view access_key_id,
                                                         std::string_view session_token) {
  if (session_token.empty() || !IsValidAccessKeyId(access_key_id)) return Unrecognized();
  std::shared_ptr<const CachedSession> cached = sessions_.Find(access_key_id);
  if (!cached) {
    uint64_t generation = sessions_.Generation();
    auto loaded = BERTH_TRY(LoadSession(access_key_id));
    if (!loaded) return Unrecognized();
    cached = std::move(loaded);
    sessions_.Put(std::string(access_key_id), 0, generation, cached);
  }
  bool verified;
  {
    std::lock_guard lock(cached->verified_mu);
    verified = !cached->verified_token.empty() &&
               crypto::ConstantTimeEquals(session_token, cached->verified_token);
  }
  if (!verified) {
    if (!crypto::ConstantTimeEquals(crypto::Sha256Hex(session_token), cached->token_sha256)) {
      return Unrecognized();
    }
    std::lock_guard lock(cached->verified_mu);
    cached->verified_token = session_token;
  }
  if (clock_.Now() >= cached->expiration) {
    return Fail("ExpiredTokenException", "The security token included in the request is expired", 400);
  }
  return cached->secret;
}

}  // namespace berth::iam
