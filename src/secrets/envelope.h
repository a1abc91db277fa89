// Envelope encryption of secret values with KMS.
//
// A version's value is sealed with AES-256-GCM under a fresh 256-bit data key
// that KMS generates *as the caller*, via the service ("secretsmanager.<region>
// .amazonaws.com"), in the secret's region, under the secret's key, with the
// encryption context {"SecretARN": arn, "SecretVersionId": id}. The GCM
// associated data binds the ARN, the version id and the value's type, so a
// sealed value moved to another secret, version or type does not open. Only
// the data key's KMS ciphertext is kept; its plaintext is wiped after use.
//
// So KMS's key policy and the caller's kms: permissions decide who may write
// and read, as in AWS. KMS errors are reported as Secrets Manager reports
// them: AccessDeniedException "Access to KMS is not allowed: ..." naming the
// KMS action, EncryptionFailure / DecryptionFailure for other client errors;
// KMS's 5xx errors pass through unchanged.
#pragma once

#include <string>
#include <string_view>

#include "aws/request_context.h"
#include "common/error.h"
#include "kms/service.h"
#include "secrets/record.h"
#include "secrets/service.h"

namespace berth::secrets {

// The alias of the account's AWS managed key for Secrets Manager.
inline constexpr char kManagedKeyAlias[] = "alias/aws/secretsmanager";

// The service principal KMS sees calls through: secretsmanager.<region>.amazonaws.com.
std::string ViaService(std::string_view region);

// Whether a KmsKeyId as the owner gave it means the AWS managed key (empty or
// kManagedKeyAlias).
bool IsManaged(const std::string& kms_key_id);

// The ARN of the caller's AWS managed key in `region` (created on first use).
Result<std::string> ManagedKeyArn(kms::Service& kms, const aws::RequestContext& ctx,
                                  const std::string& region);

// Seals `value` as version `version_id` of `secret`, under the secret's key:
// `secret.key_arn` when known, else `secret.kms_key_id` as the owner gave it.
// The result's key_arn is the key KMS used.
Result<SealedValue> SealValue(kms::Service& kms, const aws::RequestContext& ctx,
                              const Secret& secret, const std::string& version_id,
                              const SecretValue& value);

// Opens what SealValue sealed for version `version_id` of `secret`; KMS is
// called through `via_service` (ViaService of the secret's region).
// DecryptionFailure when the sealed bytes do not authenticate.
Result<SecretValue> OpenValue(kms::Service& kms, const aws::RequestContext& ctx,
                              const Secret& secret, const std::string& via_service,
                              const std::string& version_id, const SealedValue& sealed);

// Overwrites `s` (a plaintext) before clearing it.
void Wipe(std::string& s);

}  // namespace berth::secrets
