// KMS key policies: the documents berth writes (the default and the AWS
// managed-key policy), the checks a document passes before it is stored, and
// what KMS adds to an authorization (condition keys, the key as a resource).
// The evaluation itself is iam::AccessControl's.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "iam/access_control.h"
#include "kms/key_record.h"
#include "kms/service.h"

namespace berth::kms {

// AWS's default key policy: the account's root may do kms:*, so the account's
// IAM policies decide.
std::string DefaultKeyPolicy(const std::string& account);

// A service whose AWS managed key ("alias/aws/<service>") berth creates on
// first use: "secretsmanager".
bool IsManagedService(std::string_view service);
// AWS's policy for the managed key of `service`: any principal of the account
// may use it, only through the service; the account may read its metadata.
std::string ManagedKeyPolicy(const std::string& account, const std::string& region,
                             const std::string& service);

// Validates a key policy document as AWS does before storing it:
// MalformedPolicyDocumentException, or LimitExceededException past 32 KiB.
Status ValidateKeyPolicy(const std::string& policy);
// A key has one policy, "default" (empty means it too); another name is
// NotFoundException.
Status CheckPolicyName(const std::string& policy_name);

// The condition keys KMS sets: kms:CallerAccount, kms:ViaService (through a
// service), kms:EncryptionContext:<key> and kms:EncryptionContextKeys (for a
// non-empty context), kms:RequestAlias (when `request_alias` is not empty).
iam::ContextMap ConditionKeys(const Caller& caller, const EncryptionContext& context,
                              const std::string& request_alias);
// `key` as the resource of an authorization: its account, and its policy (the
// bound one when there is one) as a key policy. Views key's policy: `key` must
// outlive the result.
iam::ResourceContext KeyResource(const KeyRecord& key, iam::ContextMap condition_keys);

}  // namespace berth::kms
