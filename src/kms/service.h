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
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/gateway.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "crypto/root_key.h"
#include "iam/access_control.h"
#include "store/kv.h"

namespace berth::kms {

inline constexpr int kMaxRandomBytes = 1024;

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

class Service {
 public:
  // All references must outlive the service.
  Service(store::Kv& kv, const crypto::RootKey& root_key, iam::AccessControl& access, Ids& ids,
          const Clock& clock);

  // `number_of_bytes` random bytes from the CSPRNG, 1..1024 (AWS's bounds);
  // ValidationException outside them or when absent.
  Result<std::string> GenerateRandom(std::optional<long long> number_of_bytes) const;

  // KeyId forms accepted everywhere: key id, key ARN, "alias/name", alias ARN.
  // Another account's key only by key ARN or alias ARN. NotFoundException
  // when it does not resolve.
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
  Result<KeyMetadata> ManagedKey(const Caller& caller, const std::string& service /* "secretsmanager" */);

  // The remaining operations (ListKeys, aliases, Enable/Disable, deletion,
  // key policies, tags, ReEncrypt, GenerateDataKeyWithoutPlaintext) are
  // declared by their implementer below this line.

 private:
  store::Kv& kv_;
  const crypto::RootKey& root_key_;
  iam::AccessControl& access_;
  Ids& ids_;
  const Clock& clock_;
};

}  // namespace berth::kms
