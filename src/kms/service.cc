#include "kms/service.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

#include "common/arn.h"
#include "common/json.h"
#include "common/strings.h"
#include "crypto/aes_gcm.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "iam/policy.h"
#include "store/retry.h"

// Store layout (account A, region R):
//   kms/A/R/key/<key id>       the key: metadata, policy, tags, rotation settings and
//                              its material versions, each sealed with the root key
//                              (version 0 bound to this store key, version n to
//                              "<store key>#material/<n>")
//   kms/A/R/alias/<name>       {"target": key id, "created", "updated"} for "alias/<name>"
//
// Ciphertext blob (berth's own format), version 2, written by this code:
//   0xB7 0x02 | u16 length n | key ARN (n bytes) | u32 material version | nonce||ct||tag
// and version 1, written before key rotation existed and still read (material version 0):
//   0xB7 0x01 | u16 length n | key ARN (n bytes) | nonce||ct||tag
// Integers are big-endian. The associated data is the header (everything before the
// GCM part) followed by the canonical encryption context: u32 count, then per pair in
// byte order of the keys u32 length + key, u32 length + value. So the blob names its
// key and material version, and opening it under another key, version, header or
// context fails.

namespace berth::kms {

namespace {

using json::Json;

constexpr uint8_t kBlobMagic = 0xB7;
constexpr uint8_t kBlobVersion1 = 0x01;  // no material version: version 0
constexpr uint8_t kBlobVersion2 = 0x02;  // u32 material version after the ARN
constexpr size_t kBlobHeaderFixed = 4;   // magic, version, u16 length
constexpr size_t kMaterialSize = 32;
constexpr size_t kMaxPlaintext = 4096;
constexpr size_t kMaxCiphertext = 6144;
constexpr size_t kMaxKeyIdText = 2048;
constexpr size_t kMaxDescription = 8192;
constexpr size_t kMaxKeyPolicy = 32768;
constexpr size_t kMaxTags = 50;
constexpr size_t kMaxAliasName = 256;
constexpr int kMinPendingWindow = 7;
constexpr int kMaxPendingWindow = 30;
constexpr int kDefaultPendingWindow = 30;
constexpr int kMinRotationPeriod = 90;
constexpr int kMaxRotationPeriod = 2560;
constexpr int kDefaultRotationPeriod = 365;
constexpr size_t kMaxOpenedPerKey = 256;  // data keys kept opened per key (KeyMaterial)
constexpr size_t kMaxOpenedSize = 64;     // larger plaintexts are never kept

// Services whose AWS managed key ("alias/aws/<service>") berth creates on first use.
constexpr std::string_view kManagedServices[] = {"secretsmanager"};
constexpr std::string_view kReservedAliasPrefix = "alias/aws/";

constexpr char kEnabled[] = "Enabled";
constexpr char kDisabled[] = "Disabled";
constexpr char kPendingDeletion[] = "PendingDeletion";

constexpr char kAutomatic[] = "AUTOMATIC";
constexpr char kOnDemand[] = "ON_DEMAND";

bool IsManagedService(std::string_view service) {
  return std::find(std::begin(kManagedServices), std::end(kManagedServices), service) !=
         std::end(kManagedServices);
}

std::string KeyPrefix(const std::string& account, const std::string& region) {
  return fmt::format("kms/{}/{}/key/", account, region);
}
std::string AliasPrefix(const std::string& account, const std::string& region) {
  return fmt::format("kms/{}/{}/alias/", account, region);
}
// `alias_name` is the full "alias/..." name.
std::string AliasStoreKey(const std::string& account, const std::string& region,
                          std::string_view alias_name) {
  return AliasPrefix(account, region) + std::string(alias_name.substr(6));
}
std::string KeyArn(const std::string& region, const std::string& account, const std::string& id) {
  return fmt::format("arn:aws:kms:{}:{}:key/{}", region, account, id);
}
std::string AliasArn(const std::string& region, const std::string& account,
                     std::string_view alias_name) {
  return fmt::format("arn:aws:kms:{}:{}:{}", region, account, alias_name);
}

int64_t Millis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
TimePoint FromMillis(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }
// Times are kept to the millisecond, so what an operation returns is what is stored.
TimePoint NowMillis(const Clock& clock) { return FromMillis(Millis(clock.Now())); }

std::string Clip(std::string_view text) { return std::string(Utf8Prefix(text, 256)); }

// AWS's message for a member outside its enum (`member` as AWS spells it, e.g.
// "keySpec"; `values` in the order AWS lists them).
std::unexpected<Error> NotInEnum(std::string_view member, std::string_view value,
                                 std::string_view values) {
  return Fail("ValidationException",
              fmt::format("1 validation error detected: Value '{}' at '{}' failed to satisfy "
                          "constraint: Member must satisfy enum value set: [{}]",
                          Clip(value), member, values));
}

// AWS's message for a number outside [min, max] (`member` as AWS spells it).
std::unexpected<Error> OutOfRange(std::string_view member, long long value, long long min,
                                  long long max) {
  return Fail(
      "ValidationException",
      fmt::format("1 validation error detected: Value '{}' at '{}' failed to satisfy "
                  "constraint: Member must have value {} {}",
                  value, member, value < min ? "greater than or equal to" : "less than or equal to",
                  value < min ? min : max));
}

std::unexpected<Error> KeyNotFound(const std::string& arn) {
  return Fail("NotFoundException", fmt::format("Key '{}' does not exist", arn));
}
std::unexpected<Error> AliasNotFound(const std::string& alias_arn) {
  return Fail("NotFoundException", fmt::format("Alias {} is not found.", alias_arn));
}
std::unexpected<Error> InvalidKeyId(std::string_view text) {
  return Fail("NotFoundException", fmt::format("Invalid keyId '{}'", Clip(text)));
}
std::unexpected<Error> InvalidCiphertext() {
  return Fail("InvalidCiphertextException",
              "The ciphertext is invalid, was not produced by this KMS, or was encrypted under "
              "another key or encryption context.");
}

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

Status ValidateAliasName(std::string_view name) {
  if (!name.starts_with("alias/")) {
    return Fail("ValidationException",
                "Alias must start with the prefix \"alias/\". Please see "
                "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html");
  }
  if (name.size() > kMaxAliasName) {
    return Fail("ValidationException",
                "1 validation error detected: Value at 'aliasName' failed to satisfy constraint: "
                "Member must have length less than or equal to 256");
  }
  // The model's pattern admits ':', which KMS then refuses with a message of its own.
  if (name.find(':') != std::string_view::npos) {
    return Fail("ValidationException",
                fmt::format("{} contains invalid characters for an alias", Clip(name)));
  }
  bool ok = name.size() > 6;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-')) {
      ok = false;
    }
  }
  if (!ok) {
    return Fail("ValidationException",
                fmt::format("1 validation error detected: Value '{}' at 'aliasName' failed to "
                            "satisfy constraint: Member must satisfy regular expression pattern: "
                            "^[a-zA-Z0-9:/_-]+$",
                            Clip(name)));
  }
  return {};
}

Status RefuseReservedAlias(std::string_view name) {
  if (name.starts_with(kReservedAliasPrefix)) {
    return Fail("NotAuthorizedException",
                fmt::format("The alias {} is reserved for AWS managed keys.", Clip(name)));
  }
  return {};
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

// Validates a key policy document as AWS does before storing it.
Status ValidateKeyPolicy(const std::string& policy) {
  iam::ParseOptions options;
  options.max_size = kMaxKeyPolicy;
  auto parsed = iam::ParsePolicy(policy, iam::PolicyType::kKeyPolicy, options);
  if (!parsed) {
    if (parsed.error().code == "LimitExceeded") {
      return Fail(
          "LimitExceededException",
          fmt::format("The key policy exceeds the maximum size of {} characters.", kMaxKeyPolicy));
    }
    return Fail("MalformedPolicyDocumentException", parsed.error().message);
  }
  return {};
}

std::string DefaultKeyPolicy(const std::string& account) {
  nlohmann::ordered_json doc = {
      {"Version", "2012-10-17"},
      {"Id", "key-default-1"},
      {"Statement",
       {{{"Sid", "Enable IAM User Permissions"},
         {"Effect", "Allow"},
         {"Principal", {{"AWS", fmt::format("arn:aws:iam::{}:root", account)}}},
         {"Action", "kms:*"},
         {"Resource", "*"}}}}};
  return doc.dump(2);
}

// AWS's policy for a managed key: any principal of the account may use it, only
// through the service; the account may read its metadata.
std::string ManagedKeyPolicy(const std::string& account, const std::string& region,
                             const std::string& service) {
  nlohmann::ordered_json doc = {
      {"Version", "2012-10-17"},
      {"Id", fmt::format("auto-{}-2", service)},
      {"Statement",
       {{{"Sid", fmt::format("Allow access through {} for all principals in the account that "
                             "are authorized to use {}",
                             service, service)},
         {"Effect", "Allow"},
         {"Principal", {{"AWS", "*"}}},
         {"Action",
          {"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
           "kms:CreateGrant", "kms:DescribeKey"}},
         {"Resource", "*"},
         {"Condition",
          {{"StringEquals",
            {{"kms:CallerAccount", account},
             {"kms:ViaService", fmt::format("{}.{}.amazonaws.com", service, region)}}}}}},
        {{"Sid", "Allow direct access to key metadata to the account"},
         {"Effect", "Allow"},
         {"Principal", {{"AWS", fmt::format("arn:aws:iam::{}:root", account)}}},
         {"Action", {"kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"}},
         {"Resource", "*"}}}}};
  return doc.dump(2);
}

void AppendU32(std::string& out, uint32_t n) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
}

// `bytes` holds at least 4 bytes.
uint32_t ReadU32(std::string_view bytes) {
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  return n;
}

// The encryption context as associated data: unambiguous and independent of the
// order the client sent the pairs in.
std::string CanonicalContext(const EncryptionContext& context) {
  std::string out;
  AppendU32(out, static_cast<uint32_t>(context.size()));
  for (const auto& [k, v] : context) {  // std::map: byte order of the keys
    AppendU32(out, static_cast<uint32_t>(k.size()));
    out += k;
    AppendU32(out, static_cast<uint32_t>(v.size()));
    out += v;
  }
  return out;
}

struct ParsedBlob {
  std::string key_arn;
  uint32_t material_version = 0;
  std::string_view header;  // associated data prefix
  std::string_view sealed;  // nonce || ciphertext || tag
};

std::optional<ParsedBlob> ParseBlob(std::string_view blob) {
  if (blob.size() < kBlobHeaderFixed || static_cast<uint8_t>(blob[0]) != kBlobMagic) {
    return std::nullopt;
  }
  const uint8_t format = static_cast<uint8_t>(blob[1]);
  if (format != kBlobVersion1 && format != kBlobVersion2) return std::nullopt;
  size_t n =
      (static_cast<size_t>(static_cast<uint8_t>(blob[2])) << 8) | static_cast<uint8_t>(blob[3]);
  size_t header = kBlobHeaderFixed + n + (format == kBlobVersion2 ? 4 : 0);
  if (n == 0 || blob.size() < header + crypto::kGcmNonceSize + crypto::kGcmTagSize) {
    return std::nullopt;
  }
  ParsedBlob parsed;
  parsed.key_arn = std::string(blob.substr(kBlobHeaderFixed, n));
  if (format == kBlobVersion2) parsed.material_version = ReadU32(blob.substr(kBlobHeaderFixed + n));
  parsed.header = blob.substr(0, header);
  parsed.sealed = blob.substr(header);
  return parsed;
}

iam::ContextMap ConditionKeys(const Caller& caller, const EncryptionContext& context,
                              const std::string& request_alias) {
  iam::ContextMap keys;
  keys.Reserve(3 + context.size() + (request_alias.empty() ? 0 : 1));
  keys["kms:CallerAccount"] = {caller.ctx.caller.account};
  if (!caller.via_service.empty()) keys["kms:ViaService"] = {caller.via_service};
  if (!context.empty()) {
    std::vector<std::string> names;
    for (const auto& [k, v] : context) {
      keys["kms:EncryptionContext:" + k] = {v};
      names.push_back(k);
    }
    keys["kms:EncryptionContextKeys"] = std::move(names);
  }
  if (!request_alias.empty()) keys["kms:RequestAlias"] = {request_alias};
  return keys;
}

// The lock (in Service::locks_) of the key a key id or key ARN names: "key/<id>".
std::string KeyLock(std::string_view key_id) {
  return "key/" + std::string(key_id.substr(key_id.rfind('/') + 1));
}

}  // namespace

template <class T, class F>
Result<T> Service::Write(const std::string& lock_key, F&& attempt) {
  return store::UntilCommitted<T>(locks_, lock_key, std::forward<F>(attempt), {.what = "KMS key"});
}

// A key's material versions, unsealed: in memory only (never stored, logged or
// in an Error), wiped when the last record holding them is dropped.
class KeyMaterial {
 public:
  KeyMaterial() = default;
  KeyMaterial(const KeyMaterial&) = delete;
  KeyMaterial& operator=(const KeyMaterial&) = delete;
  ~KeyMaterial() {
    for (auto& bytes : versions_) OPENSSL_cleanse(bytes.data(), bytes.size());
    for (auto& [id, plaintext] : opened_) OPENSSL_cleanse(plaintext.data(), plaintext.size());
  }

  // Appends the next version (while the material is being unsealed).
  void Add(std::string bytes) { versions_.push_back(std::move(bytes)); }

  // The version that encrypts now (the last); there is at least one.
  uint32_t current_version() const { return static_cast<uint32_t>(versions_.size() - 1); }
  const std::string& current() const { return versions_.back(); }
  // Version `v`, or null when the key has no such version.
  const std::string* Version(uint32_t v) const {
    return v < versions_.size() ? &versions_[v] : nullptr;
  }

  // A data key this material opened before for an AWS service, by OpenedId.
  std::optional<std::string> Opened(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = opened_.find(id);
    if (it == opened_.end()) return std::nullopt;
    return it->second;
  }

  void KeepOpened(std::string id, const std::string& plaintext) const {
    std::lock_guard lock(mu_);
    if (opened_.size() >= kMaxOpenedPerKey) {
      for (auto& [old_id, old] : opened_) OPENSSL_cleanse(old.data(), old.size());
      opened_.clear();
    }
    opened_.emplace(std::move(id), plaintext);
  }

 private:
  std::vector<std::string> versions_;  // version i at index i
  // Data keys (at most kMaxOpenedSize bytes) opened for an AWS service, e.g.
  // Secrets Manager's envelope keys: opening the same blob under the same
  // context with this material always gives the same plaintext, so reading
  // the same secret again skips the AES work. Authorization and the key's
  // state are still decided on every call; a new revision of the key record
  // (disabled, new policy, ...) comes with a new KeyMaterial, and these go
  // with the old one. Wiped like the material.
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, std::string> opened_;
};

namespace {

// What identifies a decryption: the blob and the canonical context (the blob
// length first, so that the boundary is unambiguous).
std::string OpenedId(std::string_view blob, std::string_view canonical_context) {
  std::string id;
  id.reserve(4 + blob.size() + canonical_context.size());
  AppendU32(id, static_cast<uint32_t>(blob.size()));
  id += blob;
  id += canonical_context;
  return id;
}

}  // namespace

// A rotation: the material version it made (its index in KeyRecord::rotations, plus one).
struct KeyRotation {
  std::string sealed_material;  // root-key sealed, bound to MaterialContext
  TimePoint date;
  std::string type;  // kAutomatic | kOnDemand
};

struct KeyRecord {
  KeyMetadata meta;
  std::string policy;
  // The policy with the IAM users and roles it names bound to their unique
  // ids when it was put (what is evaluated; empty: `policy`), and those ids.
  std::string bound_policy;
  std::vector<std::pair<std::string, std::string>> policy_ids;
  std::map<std::string, std::string> tags;
  std::string sealed_material;             // version 0, root-key sealed, bound to store_key
  std::vector<KeyRotation> rotations;      // versions 1..n, oldest first
  bool rotation_enabled = false;           // automatic rotation
  int rotation_period_days = 0;            // when enabled
  std::optional<TimePoint> next_rotation;  // when enabled
  std::string store_key;
  int64_t mod_revision = 0;
  std::string via_alias;  // the alias the request named it by, if any (not stored)
  // sealed_material opened, when the record came through the cache; null
  // otherwise or when it does not open (not stored).
  std::shared_ptr<const KeyMaterial> material;
};

namespace {

std::string Serialize(const KeyRecord& k) {
  Json j = {{"id", k.meta.key_id},
            {"arn", k.meta.arn},
            {"account", k.meta.account},
            {"region", k.meta.region},
            {"description", k.meta.description},
            {"state", k.meta.key_state},
            {"manager", k.meta.key_manager},
            {"usage", k.meta.key_usage},
            {"spec", k.meta.key_spec},
            {"created", Millis(k.meta.created)},
            {"policy", k.policy},
            {"bound_policy", k.bound_policy},
            {"policy_ids", k.policy_ids},
            {"tags", k.tags},
            {"material", Base64Encode(k.sealed_material)}};
  if (k.meta.deletion_date) {
    j["deletion"] = Millis(*k.meta.deletion_date);
    j["window"] = k.meta.pending_window_days;
  }
  if (!k.rotations.empty()) {
    Json rotations = Json::array();
    for (const auto& r : k.rotations) {
      rotations.push_back({{"material", Base64Encode(r.sealed_material)},
                           {"date", Millis(r.date)},
                           {"type", r.type}});
    }
    j["rotations"] = std::move(rotations);
  }
  Json rotation = {{"enabled", k.rotation_enabled}};
  if (k.rotation_enabled) {
    rotation["period"] = k.rotation_period_days;
    if (k.next_rotation) rotation["next"] = Millis(*k.next_rotation);
  }
  j["rotation"] = std::move(rotation);
  return json::Dump(j);
}

Result<KeyRecord> ParseKey(const store::KeyValue& kv) {
  Json j = Json::parse(kv.value, nullptr, false);
  if (!j.is_object()) return InternalFailure(fmt::format("corrupt KMS key record {}", kv.key));
  KeyRecord k;
  try {
    k.meta.key_id = j.value("id", "");
    k.meta.arn = j.value("arn", "");
    k.meta.account = j.value("account", "");
    k.meta.region = j.value("region", "");
    k.meta.description = j.value("description", "");
    k.meta.key_state = j.value("state", kEnabled);
    k.meta.key_manager = j.value("manager", "CUSTOMER");
    k.meta.key_usage = j.value("usage", "ENCRYPT_DECRYPT");
    k.meta.key_spec = j.value("spec", "SYMMETRIC_DEFAULT");
    k.meta.created = FromMillis(j.value("created", int64_t{0}));
    if (j.contains("deletion")) {
      k.meta.deletion_date = FromMillis(j["deletion"].get<int64_t>());
      k.meta.pending_window_days = j.value("window", 0);
    }
    k.policy = j.value("policy", "");
    k.bound_policy = j.value("bound_policy", "");
    if (j.contains("policy_ids") && j["policy_ids"].is_array()) {
      k.policy_ids =
          j["policy_ids"].get<std::vector<std::pair<std::string, std::string>>>();
    }
    if (j.contains("tags")) k.tags = j["tags"].get<std::map<std::string, std::string>>();
    auto material = Base64Decode(j.value("material", ""));
    if (!material) return InternalFailure(fmt::format("corrupt KMS key record {}", kv.key));
    k.sealed_material = std::move(*material);
    if (j.contains("rotations")) {
      for (const auto& r : j["rotations"]) {
        auto sealed = Base64Decode(r.value("material", ""));
        if (!sealed) return InternalFailure(fmt::format("corrupt KMS key record {}", kv.key));
        k.rotations.push_back(KeyRotation{std::move(*sealed),
                                          FromMillis(r.value("date", int64_t{0})),
                                          r.value("type", kAutomatic)});
      }
    }
    if (j.contains("rotation")) {
      const Json& rotation = j["rotation"];
      k.rotation_enabled = rotation.value("enabled", false);
      k.rotation_period_days = rotation.value("period", 0);
      if (rotation.contains("next")) k.next_rotation = FromMillis(rotation["next"].get<int64_t>());
    } else if (k.meta.key_manager == "AWS") {
      // A managed key written before rotation existed: AWS rotates those yearly.
      k.rotation_enabled = true;
      k.rotation_period_days = kDefaultRotationPeriod;
      k.next_rotation = k.meta.created + std::chrono::days(kDefaultRotationPeriod);
    }
  } catch (const Json::exception&) {
    return InternalFailure(fmt::format("corrupt KMS key record {}", kv.key));
  }
  k.store_key = kv.key;
  k.mod_revision = kv.mod_revision;
  return k;
}

struct AliasRecord {
  std::string name, target;
  TimePoint created, updated;
  std::string store_key;
  int64_t mod_revision = 0;
};

std::string Serialize(const AliasRecord& a) {
  return json::Dump(Json{{"name", a.name},
                         {"target", a.target},
                         {"created", Millis(a.created)},
                         {"updated", Millis(a.updated)}});
}

Result<AliasRecord> ParseAlias(const store::KeyValue& kv) {
  Json j = Json::parse(kv.value, nullptr, false);
  if (!j.is_object()) return InternalFailure(fmt::format("corrupt KMS alias record {}", kv.key));
  AliasRecord a;
  try {
    a.name = j.value("name", "");
    a.target = j.value("target", "");
    a.created = FromMillis(j.value("created", int64_t{0}));
    a.updated = FromMillis(j.value("updated", int64_t{0}));
  } catch (const Json::exception&) {
    return InternalFailure(fmt::format("corrupt KMS alias record {}", kv.key));
  }
  a.store_key = kv.key;
  a.mod_revision = kv.mod_revision;
  return a;
}

Result<std::optional<AliasRecord>> GetAlias(store::Kv& kv, const std::string& store_key) {
  auto got = BERTH_TRY(kv.Get(store_key));
  if (!got) return std::optional<AliasRecord>();
  return std::optional<AliasRecord>(BERTH_TRY(ParseAlias(*got)));
}

bool Expired(const KeyRecord& k, TimePoint now) {
  return k.meta.key_state == kPendingDeletion && k.meta.deletion_date &&
         *k.meta.deletion_date <= now;
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
    auto alias = BERTH_TRY(ParseAlias(item));
    if (alias.target != key.meta.key_id) continue;
    txn.compares.push_back({item.key, item.mod_revision});
    txn.ops.push_back(store::Op::Delete(item.key));
  }
  BERTH_TRY(kv.Commit(txn));
  return {};
}

Status RequireUsable(const KeyRecord& key) {
  if (key.meta.key_state == kDisabled) {
    return Fail("DisabledException", fmt::format("{} is disabled.", key.meta.arn));
  }
  if (key.meta.key_state == kPendingDeletion) {
    return Fail("KMSInvalidStateException", fmt::format("{} is pending deletion.", key.meta.arn));
  }
  return {};
}

Status RefusePendingDeletion(const KeyRecord& key) {
  if (key.meta.key_state == kPendingDeletion) {
    return Fail("KMSInvalidStateException", fmt::format("{} is pending deletion.", key.meta.arn));
  }
  return {};
}

Status RefuseManaged(const KeyRecord& key, std::string_view what) {
  if (key.meta.key_manager == "AWS") {
    return Fail("UnsupportedOperationException",
                fmt::format("{} is an AWS managed key; {}", key.meta.arn, what));
  }
  return {};
}

// What the root-key seal of material version `version` of `store_key` is bound to, so
// that versions (and keys) cannot be swapped in the store.
std::string MaterialContext(const std::string& store_key, size_t version) {
  if (version == 0) return store_key;
  return fmt::format("{}#material/{}", store_key, version);
}

// Every material version of `key`, unsealed (InternalFailure when one does not open).
Result<std::shared_ptr<const KeyMaterial>> Unseal(const crypto::RootKey& root_key,
                                                  const KeyRecord& key) {
  auto material = std::make_shared<KeyMaterial>();  // wipes what it holds if we fail
  for (size_t version = 0; version <= key.rotations.size(); ++version) {
    const std::string& sealed =
        version == 0 ? key.sealed_material : key.rotations[version - 1].sealed_material;
    auto bytes = root_key.Open(sealed, MaterialContext(key.store_key, version));
    if (!bytes) {
      return InternalFailure(
          fmt::format("KMS: the key material of {} does not open", key.meta.arn));
    }
    material->Add(std::move(*bytes));
  }
  return std::shared_ptr<const KeyMaterial>(std::move(material));
}

// Gives `key` a new material version, made by a rotation of `type` at `when`.
Status AddMaterial(const crypto::RootKey& root_key, KeyRecord& key, const char* type,
                   TimePoint when) {
  std::string bytes = crypto::RandomString(kMaterialSize);
  auto sealed = root_key.Seal(bytes, MaterialContext(key.store_key, key.rotations.size() + 1));
  OPENSSL_cleanse(bytes.data(), bytes.size());
  if (!sealed) return Fail(sealed.error());
  key.rotations.push_back(KeyRotation{std::move(*sealed), when, type});
  key.material.reset();  // lacks the new version: unsealed again when used
  return {};
}

// Names a material version without revealing anything about it (AWS's KeyMaterialId
// is 64 hex digits too).
std::string KeyMaterialId(const KeyRecord& key, size_t version) {
  return crypto::Sha256Hex(fmt::format("berth-kms-key-material:{}:{}", key.meta.arn, version));
}

bool RotationDue(const KeyRecord& key, TimePoint now) {
  return key.meta.key_state == kEnabled && key.rotation_enabled && key.next_rotation &&
         *key.next_rotation <= now;
}

// Enable/Disable/RotateKeyOnDemand need an enabled customer managed key.
Status RequireRotatable(const KeyRecord& key) {
  BERTH_CHECK(RequireUsable(key));
  return RefuseManaged(key, "its key material rotation cannot be changed.");
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
  iam::ResourceContext res;
  res.account = key.meta.account;
  res.policy = key.bound_policy.empty() ? std::string_view(key.policy)
                                        : std::string_view(key.bound_policy);
  res.is_key_policy = true;
  res.condition_keys = ConditionKeys(caller, context, request_alias);
  return access_.Authorize(caller.ctx, action, key.meta.arn, res);
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
      auto parsed = std::make_shared<KeyRecord>(BERTH_TRY(ParseKey(*got)));
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
      std::string_view service;
      if (alias_name.starts_with(kReservedAliasPrefix)) {
        service = std::string_view(alias_name).substr(kReservedAliasPrefix.size());
      }
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
  if (request.description.size() > kMaxDescription) {
    return Fail("ValidationException",
                "1 validation error detected: Value at 'description' failed to satisfy "
                "constraint: Member must have length less than or equal to 8192");
  }
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
    KeyRecord key;
    key.meta.account = account;
    key.meta.region = region;
    key.meta.key_id = ids_.Uuid();
    key.meta.arn = KeyArn(region, account, key.meta.key_id);
    key.meta.description = request.description;
    key.meta.created = NowMillis(clock_);
    key.tags = request.tags;
    key.policy = request.policy.empty() ? DefaultKeyPolicy(account) : request.policy;
    BERTH_CHECK(BindKeyPolicy(key));
    if (!request.policy.empty() && !request.bypass_policy_lockout_safety_check &&
        !AuthorizeKey(caller, "kms:PutKeyPolicy", key)) {
      return Fail("MalformedPolicyDocumentException",
                  "The new key policy will not allow you to update the key policy in the future.");
    }
    key.store_key = KeyPrefix(account, region) + key.meta.key_id;
    key.sealed_material =
        BERTH_TRY(root_key_.Seal(crypto::RandomString(kMaterialSize), key.store_key));
    store::Txn txn;
    txn.compares.push_back({key.store_key, 0});
    txn.ops.push_back(store::Op::Put(key.store_key, Serialize(key)));
    auto committed = BERTH_TRY(kv_.Commit(txn));
    if (!committed.succeeded) return std::optional<KeyMetadata>();
    return std::optional<KeyMetadata>(key.meta);
  });
}

Result<KeyRecord> Service::CreateManagedKey(const Caller& caller, const std::string& service) {
  const std::string& account = caller.ctx.caller.account;
  const std::string& region = caller.ctx.region;
  const std::string alias_name = std::string(kReservedAliasPrefix) + service;
  const std::string alias_key = AliasStoreKey(account, region, alias_name);
  return Write<KeyRecord>(alias_key, [&]() -> Result<std::optional<KeyRecord>> {
    auto alias = BERTH_TRY(GetAlias(kv_, alias_key));
    if (alias) {
      auto existing = BERTH_TRY(LoadKey(account, region, alias->target));
      if (existing) return existing;
      return InternalFailure(fmt::format("KMS: {} names a missing key", alias_key));
    }
    KeyRecord key;
    key.meta.account = account;
    key.meta.region = region;
    key.meta.key_id = ids_.Uuid();
    key.meta.arn = KeyArn(region, account, key.meta.key_id);
    key.meta.key_manager = "AWS";
    key.meta.description =
        fmt::format("Default key that protects my {} data when no other key is defined",
                    service == "secretsmanager" ? "Secrets Manager" : service);
    key.meta.created = NowMillis(clock_);
    key.policy = ManagedKeyPolicy(account, region, service);
    key.rotation_enabled = true;  // AWS rotates its managed keys yearly
    key.rotation_period_days = kDefaultRotationPeriod;
    key.next_rotation = key.meta.created + std::chrono::days(kDefaultRotationPeriod);
    key.store_key = KeyPrefix(account, region) + key.meta.key_id;
    key.sealed_material =
        BERTH_TRY(root_key_.Seal(crypto::RandomString(kMaterialSize), key.store_key));
    AliasRecord record{alias_name,       key.meta.key_id, key.meta.created,
                       key.meta.created, alias_key,       0};
    store::Txn txn;
    txn.compares.push_back({alias_key, 0});
    txn.compares.push_back({key.store_key, 0});
    txn.ops.push_back(store::Op::Put(key.store_key, Serialize(key)));
    txn.ops.push_back(store::Op::Put(alias_key, Serialize(record)));
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
  auto key = BERTH_TRY(Resolve(caller, std::string(kReservedAliasPrefix) + service,
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
    auto key = BERTH_TRY(ParseKey(item));
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
  txn.ops.push_back(store::Op::Put(key.store_key, Serialize(key)));
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
  if (description.size() > kMaxDescription) {
    return Fail("ValidationException",
                "1 validation error detected: Value at 'description' failed to satisfy "
                "constraint: Member must have length less than or equal to 8192");
  }
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
    key.rotation_enabled = true;
    key.rotation_period_days = static_cast<int>(days);
    key.next_rotation = now + std::chrono::days(days);
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
  if (!policy_name.empty() && policy_name != "default") {
    return Fail("NotFoundException", fmt::format("No such policy exists: {}", Clip(policy_name)));
  }
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

Status Service::PutKeyPolicy(const Caller& caller, const std::string& key_id,
                             const std::string& policy_name, const std::string& policy,
                             bool bypass_lockout_check) {
  BERTH_TRY(UpdateKey(caller, key_id, "kms:PutKeyPolicy", [&](KeyRecord& key) -> Status {
    if (!policy_name.empty() && policy_name != "default") {
      return Fail("NotFoundException", fmt::format("No such policy exists: {}", Clip(policy_name)));
    }
    if (key.meta.key_manager == "AWS") {
      return Fail(
          "UnsupportedOperationException",
          fmt::format("{} is an AWS managed key; its key policy cannot be changed.", key.meta.arn));
    }
    if (policy.empty()) {
      return Fail("MalformedPolicyDocumentException", "The key policy must not be empty.");
    }
    BERTH_CHECK(ValidateKeyPolicy(policy));
    key.policy = policy;
    BERTH_CHECK(BindKeyPolicy(key));
    if (!bypass_lockout_check && !AuthorizeKey(caller, "kms:PutKeyPolicy", key)) {
      return Fail("MalformedPolicyDocumentException",
                  "The new key policy will not allow you to update the key policy in the future.");
    }
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
    txn.ops.push_back(store::Op::Put(alias_key, Serialize(record)));
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
    auto alias = BERTH_TRY(ParseAlias(item));
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
  std::string blob;
  blob.push_back(static_cast<char>(kBlobMagic));
  blob.push_back(static_cast<char>(kBlobVersion2));
  blob.push_back(static_cast<char>((key.meta.arn.size() >> 8) & 0xff));
  blob.push_back(static_cast<char>(key.meta.arn.size() & 0xff));
  blob += key.meta.arn;
  AppendU32(blob, material->current_version());
  std::string aad = blob + CanonicalContext(context);
  blob += BERTH_TRY(crypto::AesGcmSeal(material->current(), plaintext, aad));
  return blob;
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
  std::string aad = std::string(parsed->header) + canonical;
  auto plaintext = crypto::AesGcmOpen(*bytes, parsed->sealed, aad);
  if (!plaintext) return InvalidCiphertext();
  if (!opened_id.empty() && plaintext->size() <= kMaxOpenedSize) {
    material->KeepOpened(std::move(opened_id), *plaintext);
  }
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
