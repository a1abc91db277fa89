// A KMS key's material: 32 random bytes a version, sealed with the root key in
// the key record (version 0 bound to the record's store key, version n to
// "<store key>#material/<n>", so that versions and keys cannot be swapped in
// the store), unsealed only into a KeyMaterial, in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "crypto/root_key.h"
#include "kms/key_record.h"

namespace berth::kms {

// A key's material versions, unsealed: in memory only (never stored, logged or
// in an Error), wiped when the last record holding them is dropped.
class KeyMaterial {
 public:
  KeyMaterial() = default;
  KeyMaterial(const KeyMaterial&) = delete;
  KeyMaterial& operator=(const KeyMaterial&) = delete;
  ~KeyMaterial();

  // Appends the next version (while the material is being unsealed).
  void Add(std::string bytes) { versions_.push_back(std::move(bytes)); }

  // The version that encrypts now (the last); there is at least one.
  uint32_t current_version() const { return static_cast<uint32_t>(versions_.size() - 1); }
  const std::string& current() const { return versions_.back(); }
  // Version `v`, or null when the key has no such version.
  const std::string* Version(uint32_t v) const {
    return v < versions_.size() ? &versions_[v] : nullptr;
  }

  // A data key this material opened before for an AWS service, by OpenedId
  // (kms/ciphertext.h).
  std::optional<std::string> Opened(const std::string& id) const;
  // Keeps `plaintext` as what `id` opens to, unless it is longer than a data
  // key (64 bytes); at most 256 are kept, then they are wiped and it starts over.
  void KeepOpened(std::string id, const std::string& plaintext) const;

 private:
  std::vector<std::string> versions_;  // version i at index i
  // Data keys opened for an AWS service, e.g. Secrets Manager's envelope keys:
  // opening the same blob under the same context with this material always
  // gives the same plaintext, so reading the same secret again skips the AES
  // work. Authorization and the key's state are still decided on every call; a
  // new revision of the key record (disabled, new policy, ...) comes with a new
  // KeyMaterial, and these go with the old one. Wiped like the material.
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, std::string> opened_;
};

// New material for a new key whose record is stored at `store_key`, sealed as
// its version 0.
Result<std::string> SealInitialMaterial(const crypto::RootKey& root_key,
                                        const std::string& store_key);
// Every material version of `key`, unsealed (InternalFailure when one does not open).
Result<std::shared_ptr<const KeyMaterial>> Unseal(const crypto::RootKey& root_key,
                                                  const KeyRecord& key);
// Gives `key` a new material version, made by a rotation of `type` (kAutomatic
// or kOnDemand) at `when`; drops key.material, which lacks it.
Status AddMaterial(const crypto::RootKey& root_key, KeyRecord& key, const char* type,
                   TimePoint when);
// Names material version `version` of `key` without revealing anything about it
// (64 hex digits, as AWS's KeyMaterialId).
std::string KeyMaterialId(const KeyRecord& key, size_t version);

}  // namespace berth::kms
