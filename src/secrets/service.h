// AWS Secrets Manager. Pure domain logic: typed requests in, Result out; the
// JSON wire shapes live in server/secrets_routes.cc.
//
// Namespaces. A secret lives in one account and one region; its ARN is
// arn:aws:secretsmanager:<region>:<account>:secret:<Name>-<6 random letters>.
// A SecretId is resolved as FACTS.md says:
//  * a name looks in the caller's own account and the request's region only;
//  * a full ARN looks where the ARN says (any account, any region);
//  * a partial ARN (no suffix) names a secret by name where the ARN says.
//    When an ARN could be read both ways (a secret "a" whose ARN ends
//    "a-bcdefg", and a secret named "a-bcdefg"), the full-ARN reading wins.
// A secret that does not resolve is ResourceNotFoundException ("Secrets Manager
// can't find the specified secret."), except in another account, where the
// caller gets the AccessDeniedException its missing resource policy implies.
//
// Authorization. Every operation on a secret goes through
// iam::AccessControl::Authorize with the action "secretsmanager:<Operation>",
// the secret's ARN, the secret's account and its resource policy, and the
// condition keys secretsmanager:SecretId (the ARN), secretsmanager:ResourceTag/<k>
// and aws:ResourceTag/<k>, plus the operation's own (secretsmanager:VersionId,
// secretsmanager:VersionStage, aws:RequestTag/<k>, aws:TagKeys, ...). So across
// accounts both the resource policy and the caller's identity policies must
// allow. CreateSecret, ListSecrets, GetRandomPassword and BatchGetSecretValue's
// own permission are decided by identity policies alone.
//
// Encryption. Each version's value is sealed with AES-256-GCM under a fresh
// data key that KMS generates *as the caller*, via the service
// (via_service "secretsmanager.<region>.amazonaws.com"), under the secret's
// key with encryption context {"SecretARN": arn, "SecretVersionId": id}; the
// associated data binds the ARN, the version id and the value's type. Only
// the data key's ciphertext is stored; its plaintext is wiped after use.
// Reading decrypts the data key the same way, so the caller's kms:Decrypt
// permission and the key policy decide, as in AWS: the account's AWS managed
// key (alias/aws/secretsmanager) serves principals of its own account through
// Secrets Manager only; a customer managed key needs kms:Decrypt for the
// caller. KMS errors become AccessDeniedException ("Access to KMS is not
// allowed", naming the KMS action) or DecryptionFailure / EncryptionFailure.
//
// State. Everything lives in store::Kv (see secrets/record.h for the layout);
// every write is one transaction conditioned on the revision of the secret
// record it read, so a failure leaves nothing behind and concurrent writers
// never lose each other's updates (a losing writer starts over). Operations
// that write nothing take the secret record, parsed, with the sealed values of
// its versions already read, from a cache (secrets_ below): they neither read
// the store nor parse anything again, and see every change this service makes
// as soon as it is made. GetSecretValue writes only to note LastAccessedDate,
// at most once a day per version.
//
// Secret values are never logged and never part of an Error's message.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/request_context.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "iam/access_control.h"
#include "kms/service.h"
#include "store/key_locks.h"
#include "store/kv.h"
#include "store/watched_cache.h"

namespace berth::secrets {

inline constexpr char kCurrent[] = "AWSCURRENT";
inline constexpr char kPrevious[] = "AWSPREVIOUS";
inline constexpr char kPending[] = "AWSPENDING";

inline constexpr size_t kMaxValueBytes = 65536;  // SecretString / SecretBinary
inline constexpr size_t kMaxNameLength = 512;
inline constexpr size_t kMaxDescriptionLength = 2048;
inline constexpr size_t kMaxPolicyLength = 20480;
inline constexpr size_t kMaxVersions = 100;  // older deprecated versions are dropped
inline constexpr size_t kMaxTags = 50;

struct Tag {
  std::string key, value;
  friend bool operator==(const Tag&, const Tag&) = default;
};

// A secret's value: exactly one of a string or bytes.
struct SecretValue {
  enum class Type { kString, kBinary };
  Type type = Type::kString;
  std::string data;  // secret: never logged, never in an Error
};

struct Version {
  std::string id;
  std::vector<std::string> stages;  // empty: deprecated
  TimePoint created;
  std::optional<TimePoint> last_accessed;  // day resolution, as AWS
  std::string key_arn;                     // the KMS key its data key is under
};

// A secret's metadata as stored. Holds no secret value.
struct Secret {
  std::string account, region, name, arn, description;
  std::string kms_key_id;  // as the owner gave it; empty: the AWS managed key
  std::string key_arn;     // the key new versions are encrypted under; empty: not yet known
  std::string policy;      // resource policy document; empty: none
  // The policy with the IAM users and roles it names bound to their unique
  // ids when it was put (what is evaluated; empty: `policy`), and those ids.
  std::string bound_policy;
  std::vector<std::pair<std::string, std::string>> policy_ids;
  TimePoint created, last_changed;
  std::optional<TimePoint> last_accessed;
  std::optional<TimePoint> deleted;        // when DeleteSecret marked it
  std::optional<TimePoint> deletion_date;  // when it goes for good
  std::string create_token;                // CreateSecret's ClientRequestToken
  std::vector<Tag> tags;
  std::vector<Version> versions;  // oldest first, deprecated ones included

  // The version carrying `stage`, or nullptr.
  const Version* WithStage(const std::string& stage) const;
  const Version* FindVersion(const std::string& id) const;
};

// Both value fields as the request gave them, so that the service can tell
// "both" and "neither" apart (InvalidParameterException).
struct ValueInput {
  std::optional<std::string> secret_string;
  std::optional<std::string> secret_binary;  // decoded bytes
  bool empty() const { return !secret_string && !secret_binary; }
};

struct CreateSecretRequest {
  std::string name;
  std::string client_request_token;  // empty: a UUID is drawn
  std::string description;
  std::string kms_key_id;  // empty: alias/aws/secretsmanager
  ValueInput value;        // may be empty: a secret without versions
  std::vector<Tag> tags;
};

struct PutSecretValueRequest {
  std::string secret_id;
  std::string client_request_token;                        // empty: a UUID is drawn
  ValueInput value;                                        // required
  std::optional<std::vector<std::string>> version_stages;  // absent: AWSCURRENT
};

struct UpdateSecretRequest {
  std::string secret_id;
  std::string client_request_token;
  std::optional<std::string> description;
  std::optional<std::string> kms_key_id;
  ValueInput value;  // empty: metadata only
};

// What Create/Put/UpdateSecret report. `version_id` is empty when no version
// was created (CreateSecret or UpdateSecret without a value).
struct WriteResult {
  std::string arn, name, version_id;
  std::vector<std::string> version_stages;
};

struct GetSecretValueRequest {
  std::string secret_id;
  std::string version_id;     // empty: by stage
  std::string version_stage;  // empty: AWSCURRENT unless version_id is given
};

struct SecretVersionValue {
  std::string arn, name, version_id;
  std::vector<std::string> version_stages;
  TimePoint created;
  SecretValue value;
};

struct ListFilter {
  std::string key;  // description | name | tag-key | tag-value | primary-region | all
  std::vector<std::string> values;  // a leading '!' negates
};

struct ListSecretsRequest {
  std::vector<ListFilter> filters;
  std::string sort_order;          // "" | "asc" | "desc" (by creation date)
  std::optional<int> max_results;  // 1..100, default 100
  std::string next_token;
  bool include_planned_deletion = false;
};

struct SecretPage {
  std::vector<Secret> secrets;
  std::string next_token;  // empty: no more
};

struct ListVersionsRequest {
  std::string secret_id;
  bool include_deprecated = false;
  std::optional<int> max_results;  // 1..100
  std::string next_token;
};

struct VersionPage {
  std::string arn, name;
  std::vector<Version> versions;  // newest first
  std::string next_token;
};

struct BatchGetRequest {
  std::vector<std::string> secret_ids;  // 1..20; or
  std::vector<ListFilter> filters;      // with max_results 1..20
  std::optional<int> max_results;
  std::string next_token;
};

struct BatchError {
  std::string secret_id, error_code, message;
};

struct BatchGetResult {
  std::vector<SecretVersionValue> values;
  std::vector<BatchError> errors;
  std::string next_token;
};

struct PolicyValidation {
  bool passed = true;
  struct Finding {
    std::string check_name, message;
  };
  std::vector<Finding> errors;
};

struct PasswordOptions {
  std::optional<int64_t> length;  // 1..4096, default 32
  std::string exclude_characters;
  bool exclude_numbers = false;
  bool exclude_punctuation = false;
  bool exclude_uppercase = false;
  bool exclude_lowercase = false;
  bool include_space = false;
  bool require_each_included_type = true;
};

struct SealedValue;  // secrets/record.h

class Service {
 public:
  // All references must outlive the service. `ids` draws ARN suffixes,
  // version ids and passwords (production: crypto::SecureIds()).
  Service(store::Kv& kv, kms::Service& kms, iam::AccessControl& access, Ids& ids,
          const Clock& clock);
  ~Service();

  // A new secret in the caller's account and region, with a first version
  // (AWSCURRENT) when a value is given. ResourceExistsException when the name
  // is taken, unless this is a retry (same ClientRequestToken, same value; the
  // token of a version with another value is PutSecretValue's error);
  // InvalidRequestException when a secret of that name is scheduled for
  // deletion. Without KmsKeyId the account's AWS managed key is used.
  Result<WriteResult> CreateSecret(const aws::RequestContext& ctx, const CreateSecretRequest& req);

  // The value of one version: by id, by stage, or AWSCURRENT. With both, they
  // must name the same version (InvalidRequestException).
  Result<SecretVersionValue> GetSecretValue(const aws::RequestContext& ctx,
                                            const GetSecretValueRequest& req);

  // Needs secretsmanager:BatchGetSecretValue (and ListSecrets with filters);
  // each secret is then read as GetSecretValue would, its failures reported
  // in `errors` rather than failing the batch.
  Result<BatchGetResult> BatchGetSecretValue(const aws::RequestContext& ctx,
                                             const BatchGetRequest& req);

  // A new version; the stages it takes move as in AWS: AWSCURRENT by default,
  // the version that loses AWSCURRENT gets AWSPREVIOUS, a version left
  // without stages is deprecated. The ClientRequestToken is the version id: a
  // retry with the same value changes nothing, with another value is
  // ResourceExistsException ("You can't use ClientRequestToken <token> because
  // that value is already in use for a version of secret <arn>.").
  Result<WriteResult> PutSecretValue(const aws::RequestContext& ctx,
                                     const PutSecretValueRequest& req);

  // Description, KMS key and/or a new AWSCURRENT value. A new key encrypts
  // the new value; the versions labelled AWSCURRENT/AWSPENDING/AWSPREVIOUS are
  // re-encrypted under it when the caller may decrypt them and use the new key
  // (otherwise they stay readable under their old key, as in AWS).
  Result<WriteResult> UpdateSecret(const aws::RequestContext& ctx, const UpdateSecretRequest& req);

  // Moves `stage` to `move_to` and/or removes it from `remove_from` (AWS's
  // rules: a stage attached elsewhere must be named in remove_from; AWSCURRENT
  // can only be moved, and leaves AWSPREVIOUS behind).
  Result<Secret> UpdateSecretVersionStage(const aws::RequestContext& ctx,
                                          const std::string& secret_id, const std::string& stage,
                                          const std::string& remove_from,
                                          const std::string& move_to);

  Result<Secret> DescribeSecret(const aws::RequestContext& ctx, const std::string& secret_id);

  // The caller's secrets in the request's region. Filters: prefix matches,
  // name/tag-key/tag-value case-sensitive, description and all not; values
  // of one filter are ORed, filters ANDed; "!" negates a value.
  Result<SecretPage> ListSecrets(const aws::RequestContext& ctx, const ListSecretsRequest& req);

  Result<VersionPage> ListSecretVersionIds(const aws::RequestContext& ctx,
                                           const ListVersionsRequest& req);

  // Schedules deletion after `recovery_window_days` (7..30, default 30) or,
  // with `force`, deletes at once. Not both (InvalidParameterException).
  // Returns the secret with its deletion_date. With `force`, a secret that does
  // not exist answers as AWS does: success, with the name given, an ARN for it
  // (a new random suffix when a name was given) and now as the deletion date.
  Result<Secret> DeleteSecret(const aws::RequestContext& ctx, const std::string& secret_id,
                              std::optional<int64_t> recovery_window_days, bool force);
  Result<Secret> RestoreSecret(const aws::RequestContext& ctx, const std::string& secret_id);

  // `policy` must parse as a resource policy (MalformedPolicyDocumentException
  // with the policy engine's message). With `block_public`, a policy that
  // grants to everyone without a condition pinning the caller
  // (secrets/public_policy.h) is PublicPolicyException.
  Result<Secret> PutResourcePolicy(const aws::RequestContext& ctx, const std::string& secret_id,
                                   const std::string& policy, bool block_public);
  Result<Secret> GetResourcePolicy(const aws::RequestContext& ctx, const std::string& secret_id);
  Result<Secret> DeleteResourcePolicy(const aws::RequestContext& ctx, const std::string& secret_id);
  // Syntax errors are MalformedPolicyDocumentException; a policy granting
  // broad access fails the "PUBLIC_POLICY" check.
  Result<PolicyValidation> ValidateResourcePolicy(const aws::RequestContext& ctx,
                                                  const std::optional<std::string>& secret_id,
                                                  const std::string& policy);

  Status TagResource(const aws::RequestContext& ctx, const std::string& secret_id,
                     const std::vector<Tag>& tags);
  Status UntagResource(const aws::RequestContext& ctx, const std::string& secret_id,
                       const std::vector<std::string>& tag_keys);

  // A password from the CSPRNG behind `ids` (see secrets/password.h).
  Result<std::string> GetRandomPassword(const aws::RequestContext& ctx,
                                        const PasswordOptions& options);

 private:
  struct Parsed;
  struct Loaded;
  struct Access;

  // The secret record `kv` holds (read after secrets_.Generation() returned
  // `generation`), parsed once per revision.
  Result<std::shared_ptr<const Parsed>> ParseRecord(const store::KeyValue& kv, uint64_t generation);
  // The sealed value of version `version_id` of the secret (kept with the
  // record's revision once read); null when absent.
  Result<std::shared_ptr<const SealedValue>> ReadSealed(const Parsed& parsed,
                                                        const std::string& version_id);

  // Resolves `secret_id`, authorizes `action` on it (with the operation's own
  // condition keys from `access`) and, unless `access.allow_deleted`, refuses a
  // secret scheduled for deletion (InvalidRequestException).
  Result<Loaded> Open(const aws::RequestContext& ctx, const std::string& secret_id,
                      const std::string& action, const Access& access);
  // The secret `secret_id` names (see the top of this file), if it exists.
  // `fresh`: read from the store, not the watched cache (see secrets_).
  Result<std::optional<Loaded>> Resolve(const aws::RequestContext& ctx,
                                        const std::string& secret_id, bool fresh);
  // One secret by name; one whose recovery window has passed is purged.
  Result<std::optional<Loaded>> Load(const std::string& account, const std::string& region,
                                     const std::string& name, bool fresh);
  Status Authorize(const aws::RequestContext& ctx, const std::string& action, const Parsed& parsed,
                   const iam::ContextMap& extra);
  // Commits `updated` as the record at store key `key` (which must still be
  // at `mod_revision`; 0: must not exist) plus `ops`; false when another
  // writer got there first (the caller starts over).
  Result<bool> Commit(const std::string& key, int64_t mod_revision, const Secret& updated,
                      std::vector<store::Op> ops);

  // Reads version `version_id` of the secret and decrypts it as the caller.
  Result<SecretValue> OpenVersion(const aws::RequestContext& ctx, const Parsed& parsed,
                                  const std::string& version_id);
  // A write whose ClientRequestToken names version `version_id`: fine when that
  // version holds `value` (a retry), else ResourceExistsException as AWS words it.
  Status RequireSameValue(const aws::RequestContext& ctx, const Parsed& parsed,
                          const std::string& version_id, const SecretValue& value);
  // DeleteSecret's answer for a forced deletion of a secret that does not exist.
  Result<Secret> ForceDeletedAbsent(const aws::RequestContext& ctx, const std::string& secret_id);
  // Finds the version (by id, stage, or AWSCURRENT) and decrypts it as the
  // caller; notes the access date (at most one write a day).
  Result<SecretVersionValue> ReadVersion(const aws::RequestContext& ctx, const Loaded& loaded,
                                         const std::string& version_id,
                                         const std::string& version_stage);
  // PutSecretValue and UpdateSecret: the optional metadata changes and a new
  // version with `stages` (absent: AWSCURRENT), in one transaction.
  Result<WriteResult> WriteVersion(const aws::RequestContext& ctx, const std::string& secret_id,
                                   const std::string& action, const std::string& token,
                                   const ValueInput& value,
                                   const std::optional<std::vector<std::string>>& stages,
                                   const std::optional<std::string>& description,
                                   const std::optional<std::string>& kms_key_id);
  // A read-modify-write of the secret `lock_key` names (its store key; see
  // LockKey), holding that key's lock in locks_ while it runs, and retried
  // when a writer elsewhere won (store/retry.h): ThrottlingException when the
  // secret is written faster than writes can queue.
  template <class T, class F>
  Result<T> Write(const std::string& lock_key, F&& attempt);
  // The store key of the secret `secret_id` names, as the cache knows it
  // (no authorization: it only picks the lock); `secret_id` when none.
  std::string LockKey(const aws::RequestContext& ctx, const std::string& secret_id);
  // Opens the secret, applies `change` to a copy and commits it, starting
  // over when a concurrent writer wins.
  Result<Secret> Mutate(const aws::RequestContext& ctx, const std::string& secret_id,
                        const std::string& action, const Access& access,
                        const std::function<Status(Secret&)>& change);

  store::Kv& kv_;
  kms::Service& kms_;
  iam::AccessControl& access_;
  Ids& ids_;
  const Clock& clock_;
  // Parsed secret records with their versions' sealed values, watched
  // (store/watched_cache.h): reads that write nothing take them without a store
  // read; this service's writes drop them synchronously (Commit); a change
  // behind the service's back to a secret or value record drops the record
  // when its watch event arrives. They hold no plaintext: values stay sealed
  // until KMS has authorized the caller.
  store::WatchedCache<Parsed> secrets_;
  // Writers of one secret queue here (store/key_locks.h) instead of losing
  // their commits to each other.
  store::KeyLocks locks_;
};

}  // namespace berth::secrets
