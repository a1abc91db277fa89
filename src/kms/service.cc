#include "kms/service.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "common/arn.h"
#include "crypto/random.h"
#include "kms/aliases.h"
#include "kms/ciphertext.h"
#include "kms/errors.h"
#include "kms/key_material.h"
#include "kms/key_policy.h"
#include "kms/key_record.h"
#include "store/retry.h"

// The operations. What they keep and how: kms/key_record.h (keys),
// kms/aliases.h (aliases), kms/key_material.h (key material),
// kms/ciphertext.h (the ciphertext blob), kms/key_policy.h (key policies).

namespace berth::kms {

namespace {

constexpr size_t kMaxPlaintext = 4096;
constexpr size_t kMaxCiphertext = 6144;
constexpr size_t kMaxKeyIdText = 2048;
constexpr size_t kMaxDescription = 8192;
constexpr size_t kMaxTags = 50;
constexpr int kMinPendingWindow = 7;
constexpr int kMaxPendingWindow = 30;
constexpr int kDefaultPendingWindow = 30;
constexpr int kMinRotationPeriod = 90;
constexpr int kMaxRotationPeriod = 2560;

// A KMS key id as AWS makes them: a lower- or upper-case hex UUID.
bool IsKeyIdShape(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

Status ValidateTags(const std::map<std::string, std::string>& tags) {
  if (tags.size() > kMaxTags) {
    return Fail("TagException", fmt::format("A KMS key can have at most {} tags.", kMaxTags));
  }
  for (const auto& [k, v] : tags) {
    if (k.empty() || k.size() > 128) {
      return Fail("TagException", "Tag keys must be 1 to 128 characters long.");
    }
    if (v.size() > 256) {
      return Fail("TagException",
                  fmt::format("The value of tag '{}' is longer than 256 characters.", Clip(k)));
    }
    if (k.starts_with("aws:")) {
      return Fail("TagException",
                  fmt::format("Tag key '{}' uses the reserved prefix 'aws:'.", Clip(k)));
    }
  }
  return {};
}

Status ValidatePage(const Service::Page& page) {
  if (page.limit < 1 || page.limit > 1000) return OutOfRange("limit", page.limit, 1, 1000);
  if (page.marker.size() > 1024) {
    return Fail("InvalidMarkerException", "The marker is not valid.");
  }
  return {};
}

// The lock (in Service::locks_) of the key a key id or key ARN names: "key/<id>".
std::string KeyLock(std::string_view key_id) {
  return "key/" + std::string(key_id.substr(key_id.rfind('/') + 1));
}

Status ValidateDescription(const std::string& description) {
  if (description.size() > kMaxDescription) {
    return Fail("ValidationException",
                "1 validation error detected: Value at 'description' failed to satisfy "
                "constraint: Member must have length less than or equal to 8192");
  }
  return {};
}

// A key of `account` in `region`, not stored yet: a fresh id, created now, with
// its initial material sealed for its store key.
Result<KeyRecord> NewKey(const std::string& account, const std::string& region, Ids& ids,
                         const Clock& clock, const crypto::RootKey& root_key) {
  KeyRecord key;
  key.meta.account = account;
  key.meta.region = region;
  key.meta.key_id = ids.Uuid();
  key.meta.arn = KeyArn(region, account, key.meta.key_id);
  key.meta.created = NowMillis(clock);
  key.store_key = KeyPrefix(account, region) + key.meta.key_id;
  key.sealed_material = BERTH_TRY(SealInitialMaterial(root_key, key.store_key));
  return key;
}

// Deletes a key whose waiting period is over, with the aliases that name it, in one
// transaction. A lost race (someone changed the key or an alias) leaves it for the
// next look-up.
Status Purge(store::Kv& kv, const KeyRecord& key) {
  store::Txn txn;
  txn.compares.push_back({key.store_key, key.mod_revision});
  txn.ops.push_back(store::Op::Delete(key.store_key));
  auto aliases = BERTH_TRY(kv.Range(AliasPrefix(key.meta.account, key.meta.region)));
  for (const auto& item : aliases.kvs) {
    auto alias = BERTH_TRY(DecodeAlias(item));
    if (alias.target != key.meta.key_id) continue;
    txn.compares.push_back({item.key, item.mod_revision});
    txn.ops.push_back(store::Op::Delete(item.key));
  }
  BERTH_TRY(kv.Commit(txn));
  return {};
}

template <class T>
Service::Listed<T> PageOf(std::vector<T> all, const Service::Page& page,
                          const std::function<std::string(const T&)>& marker_of) {
  Service::Listed<T> out;
  size_t start = 0;
  if (!page.marker.empty()) {
    while (start < all.size() && marker_of(all[start]) <= page.marker) ++start;
  }
  size_t end = std::min(all.size(), start + static_cast<size_t>(page.limit));
  for (size_t i = start; i < end; ++i) out.items.push_back(std::move(all[i]));
  if (end < all.size() && !out.items.empty()) out.next_marker = marker_of(out.items.back());
  return out;
}

}  // namespace

template <class T, class F>
Result<T> Service::Write(const std::string& lock_key, F&& attempt) {
  return store::UntilCommitted<T>(locks_, lock_key, std::forward<F>(attempt), {.what = "KMS key"});
}

Service::Service(store::Kv& kv, const crypto::RootKey& root_key, iam::AccessControl& access,
                 Ids& ids, const Clock& clock)
    : kv_(kv), root_key_(root_key), access_(access), ids_(ids), clock_(clock), keys_(kv, "kms/") {}

Service::~Service() = default;

std::optional<std::string> Service::BlobKeyArn(std::string_view blob) {
  auto parsed = ParseBlob(blob);
  if (!parsed) return std::nullopt;
  return parsed->key_arn;
}

// ---- randomness

Result<std::string> Service::GenerateRandom(std::optional<long long> number_of_bytes) const {
  if (!number_of_bytes) {
    return Fail("ValidationException", "NumberOfBytes is required.");
  }
  if (*number_of_bytes < 1 || *number_of_bytes > kMaxRandomBytes) {
    return OutOfRange("numberOfBytes", *number_of_bytes, 1, kMaxRandomBytes);
  }
  return crypto::RandomString(static_cast<size_t>(*number_of_bytes));
}

Result<std::string> Service::GenerateRandom(const Caller& caller,
                                            std::optional<long long> number_of_bytes) {
  BERTH_CHECK(AuthorizeIdentity(caller, "kms:GenerateRandom", "*"));
  return GenerateRandom(number_of_bytes);
}

// ---- authorization

Status Service::AuthorizeKey(const Caller& caller, const std::string& action, const KeyRecord& key,
                             const EncryptionContext& context) {
  return AuthorizeKey(caller, action, key, context, key.via_alias);
}

Status Service::AuthorizeKey(const Caller& caller, const std::string& action, const KeyRecord& key,
                             const EncryptionContext& context, const std::string& request_alias) {
  return access_.Authorize(caller.ctx, action, key.meta.arn,
                           KeyResource(key, ConditionKeys(caller, context, request_alias)));
}

Status Service::AuthorizeIdentity(const Caller& caller, const std::string& action,
                                  const std::string& resource) {
  iam::ResourceContext res;
  res.condition_keys = ConditionKeys(caller, {}, "");
  return access_.Authorize(caller.ctx, action, resource, res);
}

// ---- finding keys

Result<std::shared_ptr<const KeyRecord>> Service::LoadCached(const std::string& account,
                                                             const std::string& region,
                                                             const std::string& id, Read read) {
  std::string store_key = KeyPrefix(account, region) + id;
  std::shared_ptr<const KeyRecord> key;
  int64_t mod_revision = 0;
  if (read == Read::kCached) key = keys_.Find(store_key, mod_revision);
  if (!key) {
    uint64_t generation = keys_.Generation();
    auto got = BERTH_TRY(kv_.Get(store_key));
    if (!got) {
      keys_.Drop(store_key);
      return std::shared_ptr<const KeyRecord>();
    }
    key = keys_.FindAt(store_key, got->mod_revision);
    if (!key) {
      auto parsed = std::make_shared<KeyRecord>(BERTH_TRY(DecodeKeyRecord(*got)));
      // Unsealed once per revision of the record, not per request.
      if (auto material = Unseal(root_key_, *parsed)) parsed->material = std::move(*material);
      keys_.Put(store_key, got->mod_revision, generation, parsed);
      key = std::move(parsed);
    }
  }
  if (Expired(*key, clock_.Now())) {
    auto writing = keys_.Write(store_key);
    BERTH_CHECK(Purge(kv_, *key));
    return std::shared_ptr<const KeyRecord>();
  }
  return key;
}

Result<std::optional<KeyRecord>> Service::LoadKey(const std::string& account,
                                                  const std::string& region, const std::string& id,
                                                  Read read) {
  auto key = BERTH_TRY(LoadCached(account, region, id, read));
  if (!key) return std::optional<KeyRecord>();
  return std::optional<KeyRecord>(*key);
}

Result<std::shared_ptr<const KeyMaterial>> Service::Material(const KeyRecord& key) {
  if (key.material) return key.material;
  return Unseal(root_key_, key);
}

Result<KeyRecord> Service::Resolve(const Caller& caller, const std::string& key_id, Forms forms,
                                   bool cross_account, const std::string& action, Read read) {
  const std::string& own_account = caller.ctx.caller.account;
  const std::string& region = caller.ctx.region;
  if (key_id.empty() || key_id.size() > kMaxKeyIdText) {
    return Fail("ValidationException",
                "1 validation error detected: Value at 'keyId' failed to satisfy constraint: "
                "Member must have length between 1 and 2048");
  }
  std::string account = own_account;
  std::string alias_name;  // "alias/..." when the text names an alias
  std::string id;
  if (LooksLikeArn(key_id)) {
    auto arn = ParseArn(key_id);
    if (!arn || arn->service != "kms" || !IsAccountId(arn->account)) {
      return Fail("NotFoundException", fmt::format("Invalid arn {}", Clip(key_id)));
    }
    bool is_alias = arn->resource.starts_with("alias/");
    if (!is_alias && !arn->resource.starts_with("key/")) {
      return Fail("NotFoundException", fmt::format("Invalid arn {}", Clip(key_id)));
    }
    if (is_alias && forms == Forms::kKeyOnly) return InvalidKeyId(key_id);
    if (arn->region != region) {
      // KMS is regional: a key of another region is not found from this one.
      return is_alias ? AliasNotFound(key_id) : KeyNotFound(key_id);
    }
    if (arn->account != own_account && !cross_account) {
      return Fail("AccessDeniedException",
                  fmt::format("User: {} is not authorized to perform: {} on resource: {} because "
                              "{} cannot be used with a KMS key in another account",
                              caller.ctx.caller.arn, action, Clip(key_id), action),
                  403);
    }
    account = arn->account;
    if (is_alias) {
      alias_name = arn->resource;
    } else {
      id = arn->resource.substr(4);
    }
  } else if (key_id.starts_with("alias/")) {
    if (forms == Forms::kKeyOnly) return InvalidKeyId(key_id);
    alias_name = key_id;
  } else {
    id = key_id;
  }

  if (!alias_name.empty()) {
    const std::string alias_arn = AliasArn(region, account, alias_name);
    if (alias_name.size() <= 6 || alias_name.size() > kMaxAliasName) {
      return AliasNotFound(alias_arn);
    }
    auto alias = BERTH_TRY(GetAlias(kv_, AliasStoreKey(account, region, alias_name)));
    if (!alias) {
      std::string_view service = ManagedKeyAliasService(alias_name);
      if (account == own_account && IsManagedService(service)) {
        // AWS creates an AWS managed key the first time its alias is used.
        auto key = BERTH_TRY(CreateManagedKey(caller, std::string(service)));
        key.via_alias = alias_name;
        return key;
      }
      return AliasNotFound(alias_arn);
    }
    auto key = BERTH_TRY(LoadKey(account, region, alias->target, read));
    if (!key) return AliasNotFound(alias_arn);
    key->via_alias = alias_name;
    return std::move(*key);
  }

  if (!IsKeyIdShape(id)) return InvalidKeyId(key_id);
  auto key = BERTH_TRY(LoadKey(account, region, id, read));
  if (!key) return KeyNotFound(KeyArn(region, account, id));
  return std::move(*key);
}

// ---- keys

Result<KeyMetadata> Service::CreateKey(const Caller& caller, const std::string& description,
                                       const std::string& policy,
                                       const std::map<std::string, std::string>& tags) {
  CreateKeyRequest request;
  request.description = description;
  request.policy = policy;
  request.tags = tags;
  return CreateKey(caller, request);
}

Result<KeyMetadata> Service::CreateKey(const Caller& caller, const CreateKeyRequest& request) {
  BERTH_CHECK(AuthorizeIdentity(caller, "kms:CreateKey", "*"));
  if (!request.tags.empty()) BERTH_CHECK(AuthorizeIdentity(caller, "kms:TagResource", "*"));
  BERTH_CHECK(ValidateDescription(request.description));
  // Values outside the API's enums first, as AWS validates them before anything else
  // (the sets and their order are those AWS's messages show).
  static constexpr std::string_view kKeyUsages[] = {"SIGN_VERIFY", "ENCRYPT_DECRYPT",
                                                    "GENERATE_VERIFY_MAC"};
  static constexpr std::string_view kKeySpecs[] = {
      "RSA_2048",          "ECC_NIST_P384", "ECC_NIST_P256",   "ECC_NIST_P521",
      "HMAC_384",          "RSA_3072",      "ECC_SECG_P256K1", "RSA_4096",
      "SYMMETRIC_DEFAULT", "HMAC_256",      "HMAC_224",        "HMAC_512"};
  auto in = [](const auto& set, std::string_view value) {
    return std::find(std::begin(set), std::end(set), value) != std::end(set);
  };
  if (!in(kKeyUsages, request.key_usage)) {
    return NotInEnum("keyUsage", request.key_usage, fmt::format("{}", fmt::join(kKeyUsages, ", ")));
  }
  if (!in(kKeySpecs, request.key_spec)) {
    return NotInEnum(request.key_spec_member, request.key_spec,
                     fmt::format("{}", fmt::join(kKeySpecs, ", ")));
  }
  if (request.key_usage != "ENCRYPT_DECRYPT") {
    return Fail("UnsupportedOperationException",
                fmt::format("KeyUsage {} is not supported: berth has symmetric encryption keys "
                            "only (ENCRYPT_DECRYPT).",
                            Clip(request.key_usage)));
  }
  if (request.key_spec != "SYMMETRIC_DEFAULT") {
    return Fail("UnsupportedOperationException",
                fmt::format("KeySpec {} is not supported: berth has symmetric encryption keys only "
                            "(SYMMETRIC_DEFAULT).",
                            Clip(request.key_spec)));
  }
  if (request.origin != "AWS_KMS") {
    return Fail("UnsupportedOperationException",
                fmt::format("Origin {} is not supported: berth generates all key material "
                            "(AWS_KMS).",
                            Clip(request.origin)));
  }
  if (request.multi_region) {
    return Fail("UnsupportedOperationException", "berth does not support multi-Region keys.");
  }
  BERTH_CHECK(ValidateTags(request.tags));

  if (!request.policy.empty()) BERTH_CHECK(ValidateKeyPolicy(request.policy));

  const std::string& account = caller.ctx.caller.account;
  const std::string& region = caller.ctx.region;
  // A fresh id per attempt: a compare fails only if the id was already taken.
  return store::UntilCommitted<KeyMetadata>([&]() -> Result<std::optional<KeyMetadata>> {
    KeyRecord key = BERTH_TRY(NewKey(account, region, ids_, clock_, root_key_));
    key.meta.description = request.description;
    key.tags = request.tags;
    key.policy = request.policy.empty() ? DefaultKeyPolicy(account) : request.policy;
    BERTH_CHECK(BindKeyPolicy(key));
    if (!request.policy.empty() && !request.bypass_policy_lockout_safety_check) {
      BERTH_CHECK(CheckLockout(caller, key));
    }
    store::Txn txn;
    txn.compares.push_back({key.store_key, 0});
    txn.ops.push_back(store::Op::Put(key.store_key, EncodeKeyRecord(key)));
    auto committed = BERTH_TRY(kv_.Commit(txn));
    if (!committed.succeeded) return std::optional<KeyMetadata>();
    return std::optional<KeyMetadata>(key.meta);
  });
}

Result<KeyRecord> Service::CreateManagedKey(const Caller& caller, const std::string& service) {
  const std::string& account = caller.ctx.caller.account;
  const std::string& region = caller.ctx.region;
  const std::string alias_name = ManagedKeyAlias(service);
  const std::string alias_key = AliasStoreKey(account, region, alias_name);
  return Write<KeyRecord>(alias_key, [&]() -> Result<std::optional<KeyRecord>> {
    auto alias = BERTH_TRY(GetAlias(kv_, alias_key));
    if (alias) {
      auto existing = BERTH_TRY(LoadKey(account, region, alias->target));
      if (existing) return existing;
      return InternalFailure(fmt::format("KMS: {} names a missing key", alias_key));
    }
    KeyRecord key = BERTH_TRY(NewKey(account, region, ids_, clock_, root_key_));
    key.meta.key_manager = "AWS";
    key.meta.description =
        fmt::format("Default key that protects my {} data when no other key is defined",
                    service == "secretsmanager" ? "Secrets Manager" : service);
    key.policy = ManagedKeyPolicy(account, region, service);
    // AWS rotates its managed keys yearly.
    ScheduleRotation(key, kDefaultRotationPeriod, key.meta.created);
    AliasRecord record{alias_name,       key.meta.key_id, key.meta.created,
                       key.meta.created, alias_key,       0};
    store::Txn txn;
    txn.compares.push_back({alias_key, 0});
    txn.compares.push_back({key.store_key, 0});
    txn.ops.push_back(store::Op::Put(key.store_key, EncodeKeyRecord(key)));
    txn.ops.push_back(store::Op::Put(alias_key, EncodeAlias(record)));
    auto committed = BERTH_TRY(kv_.Commit(txn));
    if (!committed.succeeded) return std::optional<KeyRecord>();  // another request made it
    key.mod_revision = committed.revision;
    return std::optional<KeyRecord>(std::move(key));
  });
}

Result<KeyMetadata> Service::ManagedKey(const Caller& caller, const std::string& service) {
  if (!IsManagedService(service)) {
    return Fail("ValidationException",
                fmt::format("berth has no AWS managed key for service '{}'.", Clip(service)));
  }
  auto key = BERTH_TRY(Resolve(caller, ManagedKeyAlias(service),
                               Forms::kKeyOrAlias, /*cross_account=*/false, "kms:DescribeKey"));
  return key.meta;
}

Result<KeyMetadata> Service::DescribeKey(const Caller& caller, const std::string& key_id) {
  auto key = BERTH_TRY(Resolve(caller, key_id, Forms::kKeyOrAlias, true, "kms:DescribeKey"));
  BERTH_CHECK(AuthorizeKey(caller, "kms:DescribeKey", key));
  return key.meta;
}

Result<Service::Listed<Service::KeyListEntry>> Service::ListKeys(const Caller& caller,
                                                                 const Page& page) {
  BERTH_CHECK(AuthorizeIdentity(caller, "kms:ListKeys", "*"));
  BERTH_CHECK(ValidatePage(page));
  const std::string& account = caller.ctx.caller.account;
  const std::string& region = caller.ctx.region;
  BERTH_CHECK(PurgeExpired(account, region));
  const std::string prefix = KeyPrefix(account, region);
  std::string after = page.marker.empty() ? std::string() : prefix + page.marker;
  auto range = BERTH_TRY(kv_.Range(prefix, after, static_cast<size_t>(page.limit)));
  Listed<KeyListEntry> out;
  for (const auto& item : range.kvs) {
    std::string id = item.key.substr(prefix.size());
    out.items.push_back({id, KeyArn(region, account, id)});
  }
  if (range.more && !out.items.empty()) out.next_marker = out.items.back().key_id;
  return out;
}

Status Service::PurgeExpired(const std::string& account, const std::string& region) {
  auto range = BERTH_TRY(kv_.Range(KeyPrefix(account, region)));
  TimePoint now = clock_.Now();
  for (const auto& item : range.kvs) {
    auto key = BERTH_TRY(DecodeKeyRecord(item));
    if (!Expired(key, now)) continue;
    auto writing = keys_.Write(key.store_key);
    BERTH_CHECK(Purge(kv_, key));
  }
  return {};
}

Result<KeyRecord> Service::UpdateKey(const Caller& caller, const std::string& key_id,
                                     const std::string& action,
                                     const std::function<Status(KeyRecord&)>& mutate) {
  return Write<KeyRecord>(KeyLock(key_id), [&]() -> Result<std::optional<KeyRecord>> {
    auto key = BERTH_TRY(Resolve(caller, key_id, Forms::kKeyOnly, false, action, Read::kFresh));
    BERTH_CHECK(AuthorizeKey(caller, action, key));
    BERTH_CHECK(mutate(key));
    return CommitKey(std::move(key));
  });
}

Result<std::optional<KeyRecord>> Service::CommitKey(KeyRecord key) {
  store::Txn txn;
  txn.compares.push_back({key.store_key, key.mod_revision});
  txn.ops.push_back(store::Op::Put(key.store_key, EncodeKeyRecord(key)));
  auto writing = keys_.Write(key.store_key);
  auto committed = BERTH_TRY(kv_.Commit(txn));
  if (!committed.succeeded) return std::optional<KeyRecord>();
  key.mod_revision = committed.revision;
  return std::optional<KeyRecord>(std::move(key));
}

Result<KeyRecord> Service::RotateIfDue(KeyRecord key) {
  if (!RotationDue(key, clock_.Now())) return key;
  std::string lock = KeyLock(key.meta.key_id);
  auto rotated = Write<KeyRecord>(lock, [&]() -> Result<std::optional<KeyRecord>> {
    auto fresh =
        BERTH_TRY(LoadKey(key.meta.account, key.meta.region, key.meta.key_id, Read::kFresh));
    if (!fresh) return KeyNotFound(key.meta.arn);
    TimePoint now = NowMillis(clock_);
    if (!RotationDue(*fresh, now)) return fresh;  // another request rotated it
    BERTH_CHECK(AddMaterial(root_key_, *fresh, kAutomatic, now));
    fresh->next_rotation = now + std::chrono::days(fresh->rotation_period_days);
    return CommitKey(std::move(*fresh));
  });
  if (rotated) rotated->via_alias = key.via_alias;
  return rotated;
}

Status Service::EnableKey(const Caller& caller, const std::string& key_id) {
  BERTH_TRY(UpdateKey(caller, key_id, "kms:EnableKey", [](KeyRecord& key) -> Status {
    BERTH_CHECK(RefusePendingDeletion(key));
    key.meta.key_state = kEnabled;
    return {};
  }));
  return {};
}

Status Service::DisableKey(const Caller& caller, const std::string& key_id) {
  BERTH_TRY(UpdateKey(caller, key_id, "kms:DisableKey", [](KeyRecord& key) -> Status {
    BERTH_CHECK(RefusePendingDeletion(key));
    if (key.meta.key_manager == "AWS") {
      return Fail("UnsupportedOperationException",
                  fmt::format("{} is an AWS managed key and cannot be disabled.", key.meta.arn));
    }
    key.meta.key_state = kDisabled;
    return {};
  }));
  return {};
}

Result<KeyMetadata> Service::ScheduleKeyDeletion(const Caller& caller, const std::string& key_id,
                                                 std::optional<int> pending_window_days) {
  int days = pending_window_days.value_or(kDefaultPendingWindow);
  if (days < kMinPendingWindow || days > kMaxPendingWindow) {
    return OutOfRange("pendingWindowInDays", days, kMinPendingWindow, kMaxPendingWindow);
  }
  TimePoint now = NowMillis(clock_);
  auto key =
      BERTH_TRY(UpdateKey(caller, key_id, "kms:ScheduleKeyDeletion", [&](KeyRecord& k) -> Status {
        BERTH_CHECK(RefusePendingDeletion(k));
        if (k.meta.key_manager == "AWS") {
          return Fail("UnsupportedOperationException",
                      fmt::format("{} is an AWS managed key and cannot be deleted.", k.meta.arn));
        }
        k.meta.key_state = kPendingDeletion;
        k.meta.deletion_date = now + std::chrono::hours(24 * days);
        k.meta.pending_window_days = days;
        return {};
      }));
  return key.meta;
}

Result<KeyMetadata> Service::CancelKeyDeletion(const Caller& caller, const std::string& key_id) {
  auto key =
      BERTH_TRY(UpdateKey(caller, key_id, "kms:CancelKeyDeletion", [](KeyRecord& k) -> Status {
        if (k.meta.key_state != kPendingDeletion) {
          return Fail("KMSInvalidStateException",
                      fmt::format("{} is not pending deletion.", k.meta.arn));
        }
        k.meta.key_state = kDisabled;
        k.meta.deletion_date.reset();
        k.meta.pending_window_days = 0;
        return {};
      }));
  return key.meta;
}

Status Service::UpdateKeyDescription(const Caller& caller, const std::string& key_id,
                                     const std::string& description) {
  BERTH_CHECK(ValidateDescription(description));
  BERTH_TRY(UpdateKey(caller, key_id, "kms:UpdateKeyDescription", [&](KeyRecord& key) -> Status {
    BERTH_CHECK(RefusePendingDeletion(key));
    key.meta.description = description;
    return {};
  }));
  return {};
}

// ---- key rotation

Status Service::EnableKeyRotation(const Caller& caller, const std::string& key_id,
                                  std::optional<long long> rotation_period_days) {
  long long days = rotation_period_days.value_or(kDefaultRotationPeriod);
  if (days < kMinRotationPeriod || days > kMaxRotationPeriod) {
    return OutOfRange("rotationPeriodInDays", days, kMinRotationPeriod, kMaxRotationPeriod);
  }
  TimePoint now = NowMillis(clock_);
  BERTH_TRY(UpdateKey(caller, key_id, "kms:EnableKeyRotation", [&](KeyRecord& key) -> Status {
    BERTH_CHECK(RequireRotatable(key));
    ScheduleRotation(key, static_cast<int>(days), now);
    return {};
  }));
  return {};
}

Status Service::DisableKeyRotation(const Caller& caller, const std::string& key_id) {
  BERTH_TRY(UpdateKey(caller, key_id, "kms:DisableKeyRotation", [](KeyRecord& key) -> Status {
    BERTH_CHECK(RequireRotatable(key));
    key.rotation_enabled = false;
    key.rotation_period_days = 0;
    key.next_rotation.reset();
    return {};
  }));
  return {};
}

Result<Service::RotationStatus> Service::GetKeyRotationStatus(const Caller& caller,
                                                              const std::string& key_id) {
  auto key = BERTH_TRY(Resolve(caller, key_id, Forms::kKeyOnly, true, "kms:GetKeyRotationStatus"));
  BERTH_CHECK(AuthorizeKey(caller, "kms:GetKeyRotationStatus", key));
  key = BERTH_TRY(RotateIfDue(std::move(key)));
  RotationStatus out;
  out.key_id = key.meta.key_id;
  out.enabled = key.rotation_enabled;
  if (key.rotation_enabled) {
    out.period_days = key.rotation_period_days;
    out.next_rotation = key.next_rotation;
  }
  return out;
}

Result<std::string> Service::RotateKeyOnDemand(const Caller& caller, const std::string& key_id) {
  TimePoint now = NowMillis(clock_);
  auto key =
      BERTH_TRY(UpdateKey(caller, key_id, "kms:RotateKeyOnDemand", [&](KeyRecord& k) -> Status {
        BERTH_CHECK(RequireRotatable(k));
        auto on_demand = std::count_if(k.rotations.begin(), k.rotations.end(),
                                       [](const KeyRotation& r) { return r.type == kOnDemand; });
        if (on_demand >= kMaxOnDemandRotations) {
          return Fail("LimitExceededException",
                      fmt::format("The on-demand rotations limit has been reached for the given "
                                  "keyId. No more on-demand rotations can be performed for this "
                                  "key: {}",
                                  k.meta.arn));
        }
        // An on-demand rotation leaves the automatic schedule as it is, as in AWS.
        return AddMaterial(root_key_, k, kOnDemand, now);
      }));
  return key.meta.key_id;
}

Result<Service::Listed<Service::RotationEntry>> Service::ListKeyRotations(const Caller& caller,
                                                                          const std::string& key_id,
                                                                          bool include_initial,
                                                                          const Page& page) {
  BERTH_CHECK(ValidatePage(page));
  auto key = BERTH_TRY(Resolve(caller, key_id, Forms::kKeyOnly, false, "kms:ListKeyRotations"));
  BERTH_CHECK(AuthorizeKey(caller, "kms:ListKeyRotations", key));
  key = BERTH_TRY(RotateIfDue(std::move(key)));
  const size_t current = key.rotations.size();
  std::vector<size_t> versions;
  for (size_t version = include_initial ? 0 : 1; version <= current; ++version) {
    versions.push_back(version);
  }
  // Markers are material versions, zero-padded so that they sort as numbers.
  auto listed = PageOf<size_t>(std::move(versions), page,
                               [](const size_t& v) { return fmt::format("{:010}", v); });
  Listed<RotationEntry> out;
  out.next_marker = std::move(listed.next_marker);
  for (size_t version : listed.items) {
    RotationEntry entry{key.meta.key_id, KeyMaterialId(key, version), "", std::nullopt,
                        version == current};
    if (version > 0) {
      entry.rotation_type = key.rotations[version - 1].type;
      entry.rotation_date = key.rotations[version - 1].date;
    }
    out.items.push_back(std::move(entry));
  }
  return out;
}

// ---- key policies

Result<std::string> Service::GetKeyPolicy(const Caller& caller, const std::string& key_id,
                                          const std::string& policy_name) {
  auto key = BERTH_TRY(Resolve(caller, key_id, Forms::kKeyOnly, false, "kms:GetKeyPolicy"));
  BERTH_CHECK(AuthorizeKey(caller, "kms:GetKeyPolicy", key));
  BERTH_CHECK(CheckPolicyName(policy_name));
  if (key.policy_ids.empty()) return key.policy;
  return access_.ShowPolicy(key.policy, key.policy_ids);
}

Status Service::BindKeyPolicy(KeyRecord& key) {
  auto bound = BERTH_TRY(access_.BindPolicy(
      key.policy, "MalformedPolicyDocumentException",
      "Policy contains a statement with one or more invalid principals."));
  key.bound_policy = std::move(bound.document);
  key.policy_ids = std::move(bound.ids);
  return {};
}

Status Service::CheckLockout(const Caller& caller, const KeyRecord& key) {
  if (!AuthorizeKey(caller, "kms:PutKeyPolicy", key)) {
    return Fail("MalformedPolicyDocumentException",
                "The new key policy will not allow you to update the key policy in the future.");
  }
  return {};
}

Status Service::PutKeyPolicy(const Caller& caller, const std::string& key_id,
                             const std::string& policy_name, const std::string& policy,
                             bool bypass_lockout_check) {
  BERTH_TRY(UpdateKey(caller, key_id, "kms:PutKeyPolicy", [&](KeyRecord& key) -> Status {
    BERTH_CHECK(CheckPolicyName(policy_name));
    BERTH_CHECK(RefuseManaged(key, "its key policy cannot be changed."));
    if (policy.empty()) {
      return Fail("MalformedPolicyDocumentException", "The key policy must not be empty.");
    }
    BERTH_CHECK(ValidateKeyPolicy(policy));
    key.policy = policy;
    BERTH_CHECK(BindKeyPolicy(key));
    if (!bypass_lockout_check) BERTH_CHECK(CheckLockout(caller, key));
    return {};
  }));
  return {};
}

Result<Service::Listed<std::string>> Service::ListKeyPolicies(const Caller& caller,
                                                              const std::string& key_id,
                                                              const Page& page) {
  BERTH_CHECK(ValidatePage(page));
  auto key = BERTH_TRY(Resolve(caller, key_id, Forms::kKeyOnly, false, "kms:ListKeyPolicies"));
  BERTH_CHECK(AuthorizeKey(caller, "kms:ListKeyPolicies", key));
  return PageOf<std::string>({"default"}, page, [](const std::string& s) { return s; });
}

// ---- tags

Status Service::TagResource(const Caller& caller, const std::string& key_id,
                            const std::map<std::string, std::string>& tags) {
  BERTH_CHECK(ValidateTags(tags));
  BERTH_TRY(UpdateKey(caller, key_id, "kms:TagResource", [&](KeyRecord& key) -> Status {
    BERTH_CHECK(RefusePendingDeletion(key));
    for (const auto& [k, v] : tags) key.tags[k] = v;
    return ValidateTags(key.tags);
  }));
  return {};
}

Status Service::UntagResource(const Caller& caller, const std::string& key_id,
                              const std::vector<std::string>& tag_keys) {
  BERTH_TRY(UpdateKey(caller, key_id, "kms:UntagResource", [&](KeyRecord& key) -> Status {
    BERTH_CHECK(RefusePendingDeletion(key));
    for (const auto& k : tag_keys) key.tags.erase(k);
    return {};
  }));
  return {};
}

Result<Service::Listed<std::pair<std::string, std::string>>> Service::ListResourceTags(
    const Caller& caller, const std::string& key_id, const Page& page) {
  BERTH_CHECK(ValidatePage(page));
  auto key = BERTH_TRY(Resolve(caller, key_id, Forms::kKeyOnly, false, "kms:ListResourceTags"));
  BERTH_CHECK(AuthorizeKey(caller, "kms:ListResourceTags", key));
  using Tag = std::pair<std::string, std::string>;
  std::vector<Tag> all(key.tags.begin(), key.tags.end());
  return PageOf<Tag>(std::move(all), page, [](const Tag& t) { return t.first; });
}

// ---- aliases

Status Service::CreateAlias(const Caller& caller, const std::string& alias_name,
                            const std::string& target_key_id) {
  return WriteAlias(caller, "kms:CreateAlias", alias_name, target_key_id);
}

Status Service::UpdateAlias(const Caller& caller, const std::string& alias_name,
                            const std::string& target_key_id) {
  return WriteAlias(caller, "kms:UpdateAlias", alias_name, target_key_id);
}

Status Service::WriteAlias(const Caller& caller, const std::string& action,
                           const std::string& alias_name, const std::string& target_key_id) {
  const bool create = action == "kms:CreateAlias";
  BERTH_CHECK(ValidateAliasName(alias_name));
  BERTH_CHECK(RefuseReservedAlias(alias_name));
  if (target_key_id.starts_with("alias/") ||
      (LooksLikeArn(target_key_id) && target_key_id.find(":alias/") != std::string::npos)) {
    return Fail("ValidationException", "Aliases must refer to keys. Not aliases");
  }
  const std::string& account = caller.ctx.caller.account;
  const std::string& region = caller.ctx.region;
  const std::string alias_arn = AliasArn(region, account, alias_name);
  const std::string alias_key = AliasStoreKey(account, region, alias_name);
  auto done = Write<bool>(alias_key, [&]() -> Result<std::optional<bool>> {
    // Fresh: the commit is conditioned on the target's revision.
    auto target =
        BERTH_TRY(Resolve(caller, target_key_id, Forms::kKeyOnly, false, action, Read::kFresh));
    BERTH_CHECK(AuthorizeIdentity(caller, action, alias_arn));
    auto existing = BERTH_TRY(GetAlias(kv_, alias_key));
    if (!create && !existing) return AliasNotFound(alias_arn);
    if (!create) {
      // UpdateAlias needs the permission on the key the alias leaves, too.
      auto old_key = BERTH_TRY(LoadKey(account, region, existing->target));
      if (old_key) BERTH_CHECK(AuthorizeKey(caller, action, *old_key));
    }
    BERTH_CHECK(AuthorizeKey(caller, action, target));
    if (create && existing) {
      return Fail("AlreadyExistsException",
                  fmt::format("An alias with the name {} already exists", alias_arn));
    }
    BERTH_CHECK(RefusePendingDeletion(target));
    TimePoint now = NowMillis(clock_);
    AliasRecord record{alias_name, target.meta.key_id, existing ? existing->created : now,
                       now,        alias_key,          0};
    store::Txn txn;
    txn.compares.push_back({alias_key, existing ? existing->mod_revision : 0});
    txn.compares.push_back({target.store_key, target.mod_revision});
    txn.ops.push_back(store::Op::Put(alias_key, EncodeAlias(record)));
    auto committed = BERTH_TRY(kv_.Commit(txn));
    if (!committed.succeeded) return std::optional<bool>();
    return std::optional<bool>(true);
  });
  if (!done) return Fail(done.error());
  return {};
}

Status Service::DeleteAlias(const Caller& caller, const std::string& alias_name) {
  BERTH_CHECK(ValidateAliasName(alias_name));
  BERTH_CHECK(RefuseReservedAlias(alias_name));
  const std::string& account = caller.ctx.caller.account;
  const std::string& region = caller.ctx.region;
  const std::string alias_arn = AliasArn(region, account, alias_name);
  const std::string alias_key = AliasStoreKey(account, region, alias_name);
  auto done = Write<bool>(alias_key, [&]() -> Result<std::optional<bool>> {
    BERTH_CHECK(AuthorizeIdentity(caller, "kms:DeleteAlias", alias_arn));
    auto existing = BERTH_TRY(GetAlias(kv_, alias_key));
    if (!existing) return AliasNotFound(alias_arn);
    auto key = BERTH_TRY(LoadKey(account, region, existing->target));
    if (key) BERTH_CHECK(AuthorizeKey(caller, "kms:DeleteAlias", *key));
    store::Txn txn;
    txn.compares.push_back({alias_key, existing->mod_revision});
    txn.ops.push_back(store::Op::Delete(alias_key));
    auto committed = BERTH_TRY(kv_.Commit(txn));
    if (!committed.succeeded) return std::optional<bool>();
    return std::optional<bool>(true);
  });
  if (!done) return Fail(done.error());
  return {};
}

Result<Service::Listed<Service::AliasEntry>> Service::ListAliases(const Caller& caller,
                                                                  const std::string& key_id,
                                                                  const Page& page) {
  BERTH_CHECK(AuthorizeIdentity(caller, "kms:ListAliases", "*"));
  BERTH_CHECK(ValidatePage(page));
  const std::string& account = caller.ctx.caller.account;
  const std::string& region = caller.ctx.region;
  std::string only;
  if (!key_id.empty()) {
    only =
        BERTH_TRY(Resolve(caller, key_id, Forms::kKeyOnly, false, "kms:ListAliases")).meta.key_id;
  }
  BERTH_CHECK(PurgeExpired(account, region));
  auto range = BERTH_TRY(kv_.Range(AliasPrefix(account, region)));
  std::vector<AliasEntry> all;
  for (const auto& item : range.kvs) {
    auto alias = BERTH_TRY(DecodeAlias(item));
    if (!only.empty() && alias.target != only) continue;
    all.push_back(AliasEntry{alias.name, AliasArn(region, account, alias.name), alias.target,
                             alias.created, alias.updated});
  }
  return PageOf<AliasEntry>(std::move(all), page, [](const AliasEntry& a) { return a.alias_name; });
}

// ---- cryptography

Result<std::string> Service::SealBlob(const KeyRecord& key, std::string_view plaintext,
                                      const EncryptionContext& context) {
  auto material = BERTH_TRY(Material(key));
  return BuildBlob(key.meta.arn, material->current_version(), material->current(), plaintext,
                   context);
}

Result<Decrypted> Service::OpenBlob(const Caller& caller, const std::string& action,
                                    const std::string& blob, const EncryptionContext& context,
                                    const std::string& key_id) {
  if (blob.empty() || blob.size() > kMaxCiphertext) {
    return Fail("ValidationException",
                "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy "
                "constraint: Member must have length between 1 and 6144");
  }
  auto parsed = ParseBlob(blob);
  if (!parsed) return InvalidCiphertext();
  auto arn = ParseArn(parsed->key_arn);
  if (!arn || arn->service != "kms" || !arn->resource.starts_with("key/") ||
      !IsAccountId(arn->account) || arn->region != caller.ctx.region) {
    return InvalidCiphertext();
  }
  std::string id = arn->resource.substr(4);
  // The cached record (parsed and unsealed once per revision), not a copy.
  auto key = BERTH_TRY(LoadCached(arn->account, arn->region, id, Read::kCached));
  if (!key) return KeyNotFound(parsed->key_arn);
  std::string via_alias;
  if (!key_id.empty()) {
    auto named = BERTH_TRY(Resolve(caller, key_id, Forms::kKeyOrAlias, true, action));
    if (named.meta.arn != key->meta.arn) {
      return Fail("IncorrectKeyException",
                  "The key ID in the request does not identify a KMS key that can perform this "
                  "operation.");
    }
    via_alias = named.via_alias;
  }
  BERTH_CHECK(AuthorizeKey(caller, action, *key, context, via_alias));
  BERTH_CHECK(RequireUsable(*key));
  auto material = BERTH_TRY(Material(*key));
  const std::string* bytes = material->Version(parsed->material_version);
  if (bytes == nullptr) return InvalidCiphertext();
  std::string canonical = CanonicalContext(context);
  std::string opened_id;
  if (!caller.via_service.empty()) {
    opened_id = OpenedId(blob, canonical);
    if (auto opened = material->Opened(opened_id)) {
      return Decrypted{key->meta.arn, std::move(*opened)};
    }
  }
  auto plaintext = OpenParsedBlob(*parsed, *bytes, canonical);
  if (!plaintext) return InvalidCiphertext();
  if (!opened_id.empty()) material->KeepOpened(std::move(opened_id), *plaintext);
  return Decrypted{key->meta.arn, std::move(*plaintext)};
}

Result<std::string> Service::Encrypt(const Caller& caller, const std::string& key_id,
                                     const std::string& plaintext,
                                     const EncryptionContext& context) {
  if (plaintext.empty() || plaintext.size() > kMaxPlaintext) {
    // AWS's message; the value is secret and never repeated.
    return Fail("ValidationException",
                fmt::format("1 validation error detected: Value at 'plaintext' failed to satisfy "
                            "constraint: Member must have length {}",
                            plaintext.empty() ? "greater than or equal to 1"
                                              : "less than or equal to 4096"));
  }
  auto key = BERTH_TRY(Resolve(caller, key_id, Forms::kKeyOrAlias, true, "kms:Encrypt"));
  BERTH_CHECK(AuthorizeKey(caller, "kms:Encrypt", key, context));
  BERTH_CHECK(RequireUsable(key));
  return SealBlob(BERTH_TRY(RotateIfDue(std::move(key))), plaintext, context);
}

Result<Decrypted> Service::Decrypt(const Caller& caller, const std::string& ciphertext_blob,
                                   const EncryptionContext& context, const std::string& key_id) {
  return OpenBlob(caller, "kms:Decrypt", ciphertext_blob, context, key_id);
}

Result<DataKey> Service::NewDataKey(const Caller& caller, const std::string& action,
                                    const std::string& key_id, const EncryptionContext& context,
                                    size_t number_of_bytes) {
  if (number_of_bytes < 1 || number_of_bytes > static_cast<size_t>(kMaxRandomBytes)) {
    return Fail("ValidationException",
                fmt::format("1 validation error detected: Value '{}' at 'numberOfBytes' failed to "
                            "satisfy constraint: Member must have value between 1 and {}",
                            number_of_bytes, kMaxRandomBytes));
  }
  auto key = BERTH_TRY(Resolve(caller, key_id, Forms::kKeyOrAlias, true, action));
  BERTH_CHECK(AuthorizeKey(caller, action, key, context));
  BERTH_CHECK(RequireUsable(key));
  key = BERTH_TRY(RotateIfDue(std::move(key)));
  DataKey out;
  out.key_arn = key.meta.arn;
  out.plaintext = crypto::RandomString(number_of_bytes);
  out.ciphertext_blob = BERTH_TRY(SealBlob(key, out.plaintext, context));
  return out;
}

Result<DataKey> Service::GenerateDataKey(const Caller& caller, const std::string& key_id,
                                         const EncryptionContext& context, size_t number_of_bytes) {
  return NewDataKey(caller, "kms:GenerateDataKey", key_id, context, number_of_bytes);
}

Result<DataKey> Service::GenerateDataKeyWithoutPlaintext(const Caller& caller,
                                                         const std::string& key_id,
                                                         const EncryptionContext& context,
                                                         size_t number_of_bytes) {
  auto out = BERTH_TRY(
      NewDataKey(caller, "kms:GenerateDataKeyWithoutPlaintext", key_id, context, number_of_bytes));
  out.plaintext.clear();
  return out;
}

Result<Service::ReEncrypted> Service::ReEncrypt(const Caller& caller,
                                                const std::string& ciphertext_blob,
                                                const EncryptionContext& source_context,
                                                const std::string& source_key_id,
                                                const std::string& destination_key_id,
                                                const EncryptionContext& destination_context) {
  auto destination =
      BERTH_TRY(Resolve(caller, destination_key_id, Forms::kKeyOrAlias, true, "kms:ReEncryptTo"));
  auto source = BERTH_TRY(
      OpenBlob(caller, "kms:ReEncryptFrom", ciphertext_blob, source_context, source_key_id));
  BERTH_CHECK(AuthorizeKey(caller, "kms:ReEncryptTo", destination, destination_context));
  BERTH_CHECK(RequireUsable(destination));
  destination = BERTH_TRY(RotateIfDue(std::move(destination)));
  ReEncrypted out;
  out.ciphertext_blob = BERTH_TRY(SealBlob(destination, source.plaintext, destination_context));
  out.source_key_arn = source.key_arn;
  out.key_arn = destination.meta.arn;
  return out;
}

}  // namespace berth::kms
