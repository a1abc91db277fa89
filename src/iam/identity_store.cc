#include "iam/identity_store.h"

#include <fmt/format.h>

#include <mutex>

#include "common/arn.h"
#include "common/json.h"
#include "common/strings.h"

namespace berth::iam {

namespace {
constexpr std::string_view kAccountsPrefix = "accounts/";
constexpr std::string_view kKeysPrefix = "accesskeys/";

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
    : kv_(kv), root_key_(root_key), ids_(ids), clock_(clock) {
  watch_ = kv_.Watch(kKeysPrefix, [this](const store::WatchEvent& event) {
    std::unique_lock lock(cache_mu_);
    ++generation_;
    cache_.erase(event.kv.key.substr(kKeysPrefix.size()));
  });
}

IdentityStore::~IdentityStore() { watch_.reset(); }

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
  {
    std::unique_lock lock(cache_mu_);
    ++generation_;
    cache_.erase(creds.access_key_id);
    if (old_key_id) cache_.erase(*old_key_id);
  }
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
  } else {
    p.kind = aws::Principal::Kind::kUser;
    p.name = record.value("user", "");
    p.arn = fmt::format("arn:aws:iam::{}:user/{}", p.account, p.name);
    p.user_id = record.value("user_id", "");
  }
  return std::optional<aws::SigningSecret>(std::move(out));
}

Result<aws::SigningSecret> IdentityStore::Resolve(std::string_view access_key_id,
                                                  std::string_view session_token) {
  if (!session_token.empty()) return Unrecognized();  // temporary credentials: IAM/STS issue
  uint64_t generation;
  {
    std::shared_lock lock(cache_mu_);
    auto it = cache_.find(std::string(access_key_id));
    if (it != cache_.end()) return it->second;
    generation = generation_;
  }
  if (!IsValidAccessKeyId(access_key_id)) return Unrecognized();
  auto loaded = BERTH_TRY(Load(access_key_id));
  if (!loaded) return Unrecognized();
  std::unique_lock lock(cache_mu_);
  // A change seen since the read may have made it stale: do not cache it.
  if (generation == generation_) cache_.emplace(std::string(access_key_id), *loaded);
  return std::move(*loaded);
}

}  // namespace berth::iam
