// berth's KMS ciphertext blob: what Encrypt and GenerateDataKey return and
// Decrypt takes. Pure format and AES-GCM; which key and material version open
// a blob is the service's business (kms/service.cc).
//
// Version 2, written by BuildBlob:
//   0xB7 0x02 | u16 length n | key ARN (n bytes) | u32 material version | nonce||ct||tag
// Version 1, written before key rotation existed and still read (material version 0):
//   0xB7 0x01 | u16 length n | key ARN (n bytes) | nonce||ct||tag
// Integers are big-endian. The associated data is the header (everything before the
// GCM part) followed by the canonical encryption context (CanonicalContext). So the
// blob names its key and material version, and opening it under another key,
// version, header or context fails.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace berth::kms {

// A blob split into its parts; the views point into the blob parsed, which must
// outlive them.
struct ParsedBlob {
  std::string key_arn;            // as written; not checked to be an ARN
  uint32_t material_version = 0;  // 0 for a version 1 blob
  std::string_view header;        // the associated data's prefix: all before `sealed`
  std::string_view sealed;        // nonce || ciphertext || tag
};

// `context` (kms::EncryptionContext) as associated data: u32 count, then per
// pair in byte order of the keys u32 length + key, u32 length + value; so it is
// unambiguous and independent of the order the client sent the pairs in.
std::string CanonicalContext(const std::map<std::string, std::string>& context);

// A version 2 blob of `plaintext` sealed with `material` (the 32 bytes of
// version `material_version` of the key `key_arn`, which must be shorter than
// 64 KiB), bound to `context`. Fails only when AES-GCM does.
Result<std::string> BuildBlob(std::string_view key_arn, uint32_t material_version,
                              std::string_view material, std::string_view plaintext,
                              const std::map<std::string, std::string>& context);

// The parts of `blob`; nullopt when it is not a blob of version 1 or 2 (magic,
// version, an empty ARN, or too short for its header and a GCM nonce and tag).
// Checks nothing cryptographic: any input is safe.
std::optional<ParsedBlob> ParseBlob(std::string_view blob);

// The plaintext of `blob` opened with `material` under `canonical_context`
// (CanonicalContext's output); nullopt when it does not open: tampered, or
// sealed with other material or under another context.
std::optional<std::string> OpenParsedBlob(const ParsedBlob& blob, std::string_view material,
                                          std::string_view canonical_context);

// What identifies a decryption: the blob and the canonical context, the blob's
// length first so that the boundary is unambiguous (a key for KeyMaterial's
// cache of opened data keys).
std::string OpenedId(std::string_view blob, std::string_view canonical_context);

}  // namespace berth::kms
