// How Secrets Manager keeps its state in store::Kv.
//
// Keys (A = account, R = region; names are case-sensitive and never contain
// ':', so "<name>:" is an unambiguous prefix of one secret's values):
//   secrets/A/R/secret/<name>             the Secret (metadata, stages, policy, tags) as JSON
//   secrets/A/R/value/<name>:<version id> the SealedValue of one version as JSON
//
// A SealedValue holds the version's value AES-256-GCM-sealed under a data
// key, and that data key as KMS ciphertext; never a plaintext.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "secrets/service.h"

namespace berth::secrets {

std::string SecretKey(std::string_view account, std::string_view region, std::string_view name);
std::string SecretPrefix(std::string_view account, std::string_view region);
std::string ValueKey(std::string_view account, std::string_view region, std::string_view name,
                     std::string_view version_id);
std::string ValuePrefix(std::string_view account, std::string_view region, std::string_view name);
// The store key of the secret record that `store_key` belongs to: itself for a
// secret record, its secret's for a value record; empty for any other key.
std::string SecretKeyOf(std::string_view store_key);

struct SealedValue {
  SecretValue::Type type = SecretValue::Type::kString;
  std::string key_arn;   // the KMS key the data key is under
  std::string data_key;  // KMS ciphertext blob of the data key
  std::string sealed;    // crypto::AesGcmSeal output
};

std::string EncodeSecret(const Secret& secret);
// InternalFailure when the stored bytes are not a Secret record.
Result<Secret> DecodeSecret(std::string_view bytes);

std::string EncodeSealedValue(const SealedValue& value);
Result<SealedValue> DecodeSealedValue(std::string_view bytes);

}  // namespace berth::secrets
