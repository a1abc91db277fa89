#include "kms/key_material.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include "crypto/random.h"
#include "crypto/sha256.h"

namespace berth::kms {

namespace {

constexpr size_t kMaterialSize = 32;
constexpr size_t kMaxOpenedPerKey = 256;  // data keys kept opened per key
constexpr size_t kMaxOpenedSize = 64;     // larger plaintexts are never kept

// What the root-key seal of material version `version` of `store_key` is bound to.
std::string MaterialContext(const std::string& store_key, size_t version) {
  if (version == 0) return store_key;
  return fmt::format("{}#material/{}", store_key, version);
}

// Fresh material sealed as version `version` of the key stored at `store_key`.
Result<std::string> SealNewMaterial(const crypto::RootKey& root_key, const std::string& store_key,
                                    size_t version) {
  std::string bytes = crypto::RandomString(kMaterialSize);
  auto sealed = root_key.Seal(bytes, MaterialContext(store_key, version));
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return sealed;
}

}  // namespace

KeyMaterial::~KeyMaterial() {
  for (auto& bytes : versions_) OPENSSL_cleanse(bytes.data(), bytes.size());
  for (auto& [id, plaintext] : opened_) OPENSSL_cleanse(plaintext.data(), plaintext.size());
}

std::optional<std::string> KeyMaterial::Opened(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = opened_.find(id);
  if (it == opened_.end()) return std::nullopt;
  return it->second;
}

void KeyMaterial::KeepOpened(std::string id, const std::string& plaintext) const {
  if (plaintext.size() > kMaxOpenedSize) return;
  std::lock_guard lock(mu_);
  if (opened_.size() >= kMaxOpenedPerKey) {
    for (auto& [old_id, old] : opened_) OPENSSL_cleanse(old.data(), old.size());
    opened_.clear();
  }
  opened_.emplace(std::move(id), plaintext);
}

Result<std::string> SealInitialMaterial(const crypto::RootKey& root_key,
                                        const std::string& store_key) {
  return SealNewMaterial(root_key, store_key, 0);
}

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

Status AddMaterial(const crypto::RootKey& root_key, KeyRecord& key, const char* type,
                   TimePoint when) {
  auto sealed = BERTH_TRY(SealNewMaterial(root_key, key.store_key, key.rotations.size() + 1));
  key.rotations.push_back(KeyRotation{std::move(sealed), when, type});
  key.material.reset();  // lacks the new version: unsealed again when used
  return {};
}

std::string KeyMaterialId(const KeyRecord& key, size_t version) {
  return crypto::Sha256Hex(fmt::format("berth-kms-key-material:{}:{}", key.meta.arn, version));
}

}  // namespace berth::kms
