// AWS Key Management Service (TrentService). Pure domain logic: typed
// requests in, Result out; the JSON wire shapes live in server/kms_routes.cc.
//
// Every operation is authorized through iam::AccessControl with the key's
// policy as a KMS key policy (the key policy must allow; a statement naming
// the account delegates to IAM). Keys live per account and region.
//
// Secrets Manager calls GenerateDataKey and Decrypt *as the caller* with
// `via_service` = "secretsmanager.<region>.amazonaws.com", which sets the
// kms:ViaService condition key, so the caller's own kms:Decrypt permission
// and the key policy decide, as in AWS.
//
// Key records are kept parsed, with their material unsealed (in memory only,
// wiped when dropped), so cryptographic operations read, parse and unseal
// nothing per request; every call is still authorized against the current
// key policy and key state (see keys_ below and store/watched_cache.h).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/request_context.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "crypto/root_key.h"
#include "iam/access_control.h"
#include "store/key_locks.h"
#include "store/kv.h"
#include "store/watched_cache.h"

namespace berth::kms {

inline constexpr int kMaxRandomBytes = 1024;
inline constexpr int kMaxOnDemandRotations = 25;  // AWS's fixed quota per key

using EncryptionContext = std::map<std::string, std::string>;

struct KeyMetadata {
  std::string account, region, key_id, arn, description;
  std::string key_state = "Enabled";  // Enabled | Disabled | PendingDeletion
  std::string key_manager = "CUSTOMER";  // CUSTOMER | AWS
  std::string key_usage = "ENCRYPT_DECRYPT";
  std::string key_spec = "SYMMETRIC_DEFAULT";
  TimePoint created;
  std::optional<TimePoint> deletion_date;
  int pending_window_days = 0;
};

struct DataKey {
  std::string key_arn;
  std::string plaintext;        // 32 bytes (AES_256) or NumberOfBytes; secret
  std::string ciphertext_blob;  // berth's ciphertext format, names the key
};

struct Decrypted {
  std::string key_arn;
  std::string plaintext;  // secret
};

// Who is calling and how: the request context of the API call, and the AWS
// service it comes through (empty for a direct KMS call).
struct Caller {
  const aws::RequestContext& ctx;
  std::string via_service;  // e.g. "secretsmanager.us-east-1.amazonaws.com"
};

// A key as stored (metadata, policy, tags, sealed material, store revision);
// defined in kms/key_record.h.
struct KeyRecord;
// A key's unsealed material, in memory only; defined in kms/key_material.h.
class KeyMaterial;

class Service {
 public:
  // All references must outlive the service.
  Service(store::Kv& kv, const crypto::RootKey& root_key, iam::AccessControl& access, Ids& ids,
          const Clock& clock);
  ~Service();

  // `number_of_bytes` random bytes from the CSPRNG, 1..1024 (AWS's bounds);
  // ValidationException outside them or when absent.
  Result<std::string> GenerateRandom(std::optional<long long> number_of_bytes) const;

  // KeyId forms accepted by DescribeKey and the cryptographic operations: key
  // id, key ARN, "alias/name", alias ARN. Another account's key only by key
  // ARN or alias ARN. NotFoundException when it does not resolve. (The
  // management operations below the marked line take fewer forms, as AWS.)
  Result<KeyMetadata> CreateKey(const Caller& caller, const std::string& description,
                                const std::string& policy /* empty: the default key policy */,
                                const std::map<std::string, std::string>& tags);
  Result<KeyMetadata> DescribeKey(const Caller& caller, const std::string& key_id);

  Result<DataKey> GenerateDataKey(const Caller& caller, const std::string& key_id,
                                  const EncryptionContext& context, size_t number_of_bytes = 32);
  Result<std::string> Encrypt(const Caller& caller, const std::string& key_id,
                              const std::string& plaintext, const EncryptionContext& context);
  Result<Decrypted> Decrypt(const Caller& caller, const std::string& ciphertext_blob,
                            const EncryptionContext& context,
                            const std::string& key_id /* optional: must match when given */);

  // The AWS managed key "alias/aws/<service>" of the caller's account in the
  // caller's region, created on first use with AWS's managed-key policy
  // (use only by principals of this account, only via that service).
  Result<KeyMetadata> ManagedKey(const Caller& caller,
                                 const std::string& service /* "secretsmanager" */);

  // The remaining operations (ListKeys, aliases, Enable/Disable, deletion,
  // key policies, tags, ReEncrypt, GenerateDataKeyWithoutPlaintext) are
  // declared by their implementer below this line.
  //
  // Which KeyId forms an operation takes follows AWS: the cryptographic
  // operations and DescribeKey take all four and another account's key (by
  // ARN); the management operations (Enable/Disable, deletion, key policies,
  // tags, alias targets, ListAliases' filter) take a key id or key ARN of the
  // caller's own account. An alias given to those is NotFoundException
  // "Invalid keyId ..."; another account's key is AccessDeniedException.
  // The caller's region (ctx.region) is the namespace: an ARN naming another
  // region does not resolve.
  //
  // Key states: Disabled keys refuse cryptographic operations with
  // DisabledException, PendingDeletion keys with KMSInvalidStateException.
  // A key whose deletion date has passed is deleted (with its aliases) the
  // next time it is looked up or keys are listed, and is NotFoundException.
  //
  // Every write is one store transaction conditioned on the records it read,
  // so an error leaves nothing behind and concurrent writers do not lose
  // updates. Plaintexts and key material never appear in an Error.

  // CreateKey with every parameter berth supports. A KeyUsage/KeySpec outside
  // the API's enums is ValidationException with AWS's message. Only symmetric
  // encryption keys: another KeyUsage/KeySpec, Origin or MultiRegion is
  // UnsupportedOperationException. A given policy must parse as a key policy
  // (MalformedPolicyDocumentException) and, unless bypassed, must let the
  // caller PutKeyPolicy later (AWS's lockout safety check). Tags need
  // kms:TagResource as well as kms:CreateKey.
  struct CreateKeyRequest {
    std::string description;
    std::string policy;  // empty: the default key policy
    std::map<std::string, std::string> tags;
    std::string key_usage = "ENCRYPT_DECRYPT";
    std::string key_spec = "SYMMETRIC_DEFAULT";
    // Which member key_spec came in, for AWS's validation message: "keySpec", or
    // "customerMasterKeySpec" (the deprecated name).
    std::string key_spec_member = "keySpec";
    std::string origin = "AWS_KMS";
    bool multi_region = false;
    bool bypass_policy_lockout_safety_check = false;
  };
  Result<KeyMetadata> CreateKey(const Caller& caller, const CreateKeyRequest& request);

  // The key ARN a ciphertext blob of this service names (Encrypt's reply
  // reports it); nullopt when `blob` is not in berth's format. Reveals
  // nothing secret: the ARN is in the clear in every blob.
  static std::optional<std::string> BlobKeyArn(std::string_view blob);

  // kms:GenerateRandom (identity policies, resource "*"), then GenerateRandom.
  Result<std::string> GenerateRandom(const Caller& caller,
                                     std::optional<long long> number_of_bytes);

  // Like GenerateDataKey, authorized as kms:GenerateDataKeyWithoutPlaintext;
  // the returned DataKey's plaintext is empty.
  Result<DataKey> GenerateDataKeyWithoutPlaintext(const Caller& caller, const std::string& key_id,
                                                  const EncryptionContext& context,
                                                  size_t number_of_bytes = 32);

  // Decrypts under the blob's key (kms:ReEncryptFrom, `source_key_id`
  // optional and checked as Decrypt's key_id) and encrypts under the
  // destination (kms:ReEncryptTo); the plaintext never leaves the service.
  struct ReEncrypted {
    std::string ciphertext_blob;
    std::string source_key_arn;
    std::string key_arn;  // the destination key
  };
  Result<ReEncrypted> ReEncrypt(const Caller& caller, const std::string& ciphertext_blob,
                                const EncryptionContext& source_context,
                                const std::string& source_key_id,
                                const std::string& destination_key_id,
                                const EncryptionContext& destination_context);

  // Pagination as KMS does it: at most `limit` (1..1000, ValidationException
  // outside) items after `marker` (a NextMarker this service returned).
  struct Page {
    std::string marker;
    int limit = 100;
  };
  template <class T>
  struct Listed {
    std::vector<T> items;
    std::string next_marker;  // empty: no more (Truncated false)
  };

  struct KeyListEntry {
    std::string key_id, key_arn;
  };
  // The caller's keys in its region (all states), by key id.
  Result<Listed<KeyListEntry>> ListKeys(const Caller& caller, const Page& page);

  struct AliasEntry {
    std::string alias_name, alias_arn, target_key_id;
    TimePoint created, updated;
  };
  // Alias names: "alias/" then 1-250 of [A-Za-z0-9/_-] (ValidationException);
  // "alias/aws/..." is reserved for AWS managed keys (NotAuthorizedException).
  // CreateAlias: AlreadyExistsException when the name is taken. Aliases are
  // authorized twice, as in AWS: the identity policies on the alias ARN and
  // the key policy on each key involved.
  Status CreateAlias(const Caller& caller, const std::string& alias_name,
                     const std::string& target_key_id);
  Status UpdateAlias(const Caller& caller, const std::string& alias_name,
                     const std::string& target_key_id);
  Status DeleteAlias(const Caller& caller, const std::string& alias_name);
  // The caller's aliases in its region by name; only those of `key_id`
  // (key id or ARN) when it is not empty.
  Result<Listed<AliasEntry>> ListAliases(const Caller& caller, const std::string& key_id,
                                         const Page& page);

  // KMSInvalidStateException for a key pending deletion.
  Status EnableKey(const Caller& caller, const std::string& key_id);
  Status DisableKey(const Caller& caller, const std::string& key_id);
  // `pending_window_days` 7..30 (default 30; ValidationException outside).
  // Returns the key's metadata with its deletion date.
  Result<KeyMetadata> ScheduleKeyDeletion(const Caller& caller, const std::string& key_id,
                                          std::optional<int> pending_window_days);
  // The key returns to Disabled, as in AWS. KMSInvalidStateException when it
  // is not pending deletion.
  Result<KeyMetadata> CancelKeyDeletion(const Caller& caller, const std::string& key_id);

  // A key has one policy, "default" (`policy_name` empty means it too);
  // another name is NotFoundException.
  Result<std::string> GetKeyPolicy(const Caller& caller, const std::string& key_id,
                                   const std::string& policy_name);
  // MalformedPolicyDocumentException when `policy` is not a valid key policy
  // or (unless `bypass_lockout_check`) would deny the caller kms:PutKeyPolicy.
  // AWS managed keys' policies cannot be changed.
  Status PutKeyPolicy(const Caller& caller, const std::string& key_id,
                      const std::string& policy_name, const std::string& policy,
                      bool bypass_lockout_check);
  Result<Listed<std::string>> ListKeyPolicies(const Caller& caller, const std::string& key_id,
                                              const Page& page);

  // 0..8192 characters (ValidationException); KMSInvalidStateException for a
  // key pending deletion.
  Status UpdateKeyDescription(const Caller& caller, const std::string& key_id,
                              const std::string& description);

  // ---- key rotation
  //
  // A rotation gives the key new material (a new material version) that
  // encrypts from then on; every older version stays and decrypts what it
  // encrypted (a ciphertext blob names its version). Automatic rotation runs
  // every `rotation_period_days` (90..2560, default 365; ValidationException
  // outside); it is applied lazily, by the first Encrypt/GenerateDataKey/
  // ReEncrypt/GetKeyRotationStatus/ListKeyRotations that finds it due, dated
  // then. AWS managed keys always rotate yearly and cannot be configured
  // (UnsupportedOperationException). Enable/Disable/RotateKeyOnDemand need an
  // enabled key: DisabledException when disabled, KMSInvalidStateException
  // when pending deletion.
  struct RotationStatus {
    std::string key_id;
    bool enabled = false;
    int period_days = 0;                     // when enabled
    std::optional<TimePoint> next_rotation;  // when enabled
  };
  struct RotationEntry {
    std::string key_id;
    std::string key_material_id;  // 64 hex digits naming the material, not derived from it
    std::string rotation_type;    // AUTOMATIC | ON_DEMAND; empty for the initial material
    std::optional<TimePoint> rotation_date;  // absent for the initial material
    bool current = false;                    // the material that encrypts now
  };
  Status EnableKeyRotation(const Caller& caller, const std::string& key_id,
                           std::optional<long long> rotation_period_days);
  Status DisableKeyRotation(const Caller& caller, const std::string& key_id);
  // Another account's key by key ARN, as AWS allows.
  Result<RotationStatus> GetKeyRotationStatus(const Caller& caller, const std::string& key_id);
  // At most kMaxOnDemandRotations per key (LimitExceededException). Returns
  // the key id.
  Result<std::string> RotateKeyOnDemand(const Caller& caller, const std::string& key_id);
  // The completed rotations, oldest first; with `include_initial` the key's
  // first material before them (IncludeKeyMaterial=ALL_KEY_MATERIAL).
  Result<Listed<RotationEntry>> ListKeyRotations(const Caller& caller, const std::string& key_id,
                                                 bool include_initial, const Page& page);

  // Tags: keys 1-128 characters, not starting "aws:"; values 0-256; at most
  // 50 a key (TagException). Keys pending deletion cannot be (un)tagged.
  Status TagResource(const Caller& caller, const std::string& key_id,
                     const std::map<std::string, std::string>& tags);
  Status UntagResource(const Caller& caller, const std::string& key_id,
                       const std::vector<std::string>& tag_keys);
  Result<Listed<std::pair<std::string, std::string>>> ListResourceTags(const Caller& caller,
                                                                       const std::string& key_id,
                                                                       const Page& page);

 private:
  enum class Forms { kKeyOnly, kKeyOrAlias };
  // Where a key record is read from: the watched cache when it has the record
  // (read-only operations), or the store (writes conditioned on the revision
  // read). Either way a change made through this service is seen at once.
  enum class Read { kCached, kFresh };

  // Resolves `key_id` in the caller's account and region (another account's
  // only when `cross_account`) and loads the key; `action` names the
  // operation for a cross-account denial.
  Result<KeyRecord> Resolve(const Caller& caller, const std::string& key_id, Forms forms,
                            bool cross_account, const std::string& action,
                            Read read = Read::kCached);
  Result<std::optional<KeyRecord>> LoadKey(const std::string& account, const std::string& region,
                                           const std::string& id, Read read = Read::kCached);
  // The key record as cached (null: absent); LoadKey copies it. Parsed, its
  // material unsealed, once per revision of the record.
  Result<std::shared_ptr<const KeyRecord>> LoadCached(const std::string& account,
                                                      const std::string& region,
                                                      const std::string& id, Read read);
  // The key's material: the cached one, else unsealed now (InternalFailure
  // when it does not open).
  Result<std::shared_ptr<const KeyMaterial>> Material(const KeyRecord& key);
  Result<KeyRecord> CreateManagedKey(const Caller& caller, const std::string& service);
  Status PurgeExpired(const std::string& account, const std::string& region);
  // Binds the users and roles `key.policy` names to their unique ids
  // (iam::AccessControl::BindPolicy), into key.bound_policy / policy_ids.
  Status BindKeyPolicy(KeyRecord& key);
  // AWS's lockout safety check: MalformedPolicyDocumentException unless
  // `key`'s policy lets the caller kms:PutKeyPolicy.
  Status CheckLockout(const Caller& caller, const KeyRecord& key);
  Status AuthorizeKey(const Caller& caller, const std::string& action, const KeyRecord& key,
                      const EncryptionContext& context = {});
  // With kms:RequestAlias `request_alias` (empty: none) instead of key.via_alias.
  Status AuthorizeKey(const Caller& caller, const std::string& action, const KeyRecord& key,
                      const EncryptionContext& context, const std::string& request_alias);
  Status AuthorizeIdentity(const Caller& caller, const std::string& action,
                           const std::string& resource);
  // A read-modify-write of key or alias records holding the lock of
  // `lock_key` in locks_ ("key/<id>" for a key, the alias's store key for an
  // alias) and retried when a writer elsewhere won (store/retry.h);
  // ThrottlingException when the record is written faster than writes can queue.
  template <class T, class F>
  Result<T> Write(const std::string& lock_key, F&& attempt);
  Result<KeyRecord> UpdateKey(const Caller& caller, const std::string& key_id,
                              const std::string& action,
                              const std::function<Status(KeyRecord&)>& mutate);
  // Writes `key` conditioned on the revision it was read at; nullopt when a
  // concurrent writer won.
  Result<std::optional<KeyRecord>> CommitKey(KeyRecord key);
  // `key` after its automatic rotation when one is due (written first), else
  // `key` itself: no store access unless due.
  Result<KeyRecord> RotateIfDue(KeyRecord key);
  Result<std::string> SealBlob(const KeyRecord& key, std::string_view plaintext,
                               const EncryptionContext& context);
  // Finds, authorizes (`action`) and opens a ciphertext blob.
  Result<Decrypted> OpenBlob(const Caller& caller, const std::string& action,
                             const std::string& blob, const EncryptionContext& context,
                             const std::string& key_id);
  Result<DataKey> NewDataKey(const Caller& caller, const std::string& action,
                             const std::string& key_id, const EncryptionContext& context,
                             size_t number_of_bytes);
  Status WriteAlias(const Caller& caller, const std::string& action,
                    const std::string& alias_name, const std::string& target_key_id);

  store::Kv& kv_;
  const crypto::RootKey& root_key_;
  iam::AccessControl& access_;
  Ids& ids_;
  const Clock& clock_;
  // Key records with their unsealed material (in memory only), watched under
  // "kms/" (store/watched_cache.h); this service's writes of a key record hold
  // keys_.Write(store key) around their commit.
  store::WatchedCache<KeyRecord> keys_;
  // Writers of one key or alias queue here (store/key_locks.h).
  store::KeyLocks locks_;
};

}  // namespace berth::kms
