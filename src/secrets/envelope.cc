#include "secrets/envelope.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <optional>
#include <utility>

#include "crypto/aes_gcm.h"

namespace berth::secrets {

namespace {

kms::EncryptionContext KmsContext(const Secret& s, const std::string& version_id) {
  return {{"SecretARN", s.arn}, {"SecretVersionId", version_id}};
}

// The AES-GCM associated data: the value is bound to its secret, version and type.
std::string Aad(const Secret& s, const std::string& version_id, SecretValue::Type type) {
  return fmt::format("berth-secret-v1\n{}\n{}\n{}", s.arn, version_id,
                     type == SecretValue::Type::kBinary ? "binary" : "string");
}

// KMS's answer as Secrets Manager gives it.
Error FromKms(const Error& e, std::string_view action, bool decrypting) {
  if (e.code == "AccessDeniedException") {
    std::string message = fmt::format("Access to KMS is not allowed: {}", e.message);
    if (message.find(action) == std::string::npos) {
      message += fmt::format(" (the caller needs {} on the secret's KMS key)", action);
    }
    return Error{"AccessDeniedException", std::move(message), e.http_status};
  }
  if (e.http_status >= 500) return e;
  if (decrypting) {
    return Error{"DecryptionFailure",
                 fmt::format("Secrets Manager can't decrypt the protected secret text using the "
                             "provided KMS key. {}: {}",
                             e.code, e.message),
                 400};
  }
  return Error{"EncryptionFailure",
               fmt::format("Secrets Manager can't encrypt the protected secret text using the "
                           "provided KMS key. {}: {}",
                           e.code, e.message),
               400};
}

// KMS is called as the caller, through Secrets Manager, in the secret's region
// (KMS's namespace is the caller's region).
aws::RequestContext InRegion(const aws::RequestContext& ctx, const std::string& region) {
  aws::RequestContext copy = ctx;
  copy.region = region;
  return copy;
}

}  // namespace

std::string ViaService(std::string_view region) {
  return fmt::format("secretsmanager.{}.amazonaws.com", region);
}

bool IsManaged(const std::string& kms_key_id) {
  return kms_key_id.empty() || kms_key_id == kManagedKeyAlias;
}

Result<std::string> ManagedKeyArn(kms::Service& kms, const aws::RequestContext& ctx,
                                  const std::string& region) {
  aws::RequestContext kctx = InRegion(ctx, region);
  auto managed = kms.ManagedKey(kms::Caller{kctx, ViaService(region)}, "secretsmanager");
  if (!managed) return Fail(FromKms(managed.error(), "kms:GenerateDataKey", false));
  return managed->arn;
}

Result<SealedValue> SealValue(kms::Service& kms, const aws::RequestContext& ctx, const Secret& s,
                              const std::string& version_id, const SecretValue& value) {
  const std::string& key_id = s.key_arn.empty() ? s.kms_key_id : s.key_arn;
  aws::RequestContext kctx = InRegion(ctx, s.region);
  kms::Caller caller{kctx, ViaService(s.region)};
  auto data_key = kms.GenerateDataKey(caller, key_id, KmsContext(s, version_id), 32);
  if (!data_key) return Fail(FromKms(data_key.error(), "kms:GenerateDataKey", false));
  auto sealed = crypto::AesGcmSeal(data_key->plaintext, value.data, Aad(s, version_id, value.type));
  Wipe(data_key->plaintext);
  if (!sealed) return InternalFailure("sealing a secret value failed");
  return SealedValue{value.type, data_key->key_arn, std::move(data_key->ciphertext_blob),
                     std::move(*sealed)};
}

Result<SecretValue> OpenValue(kms::Service& kms, const aws::RequestContext& ctx, const Secret& s,
                              const std::string& via_service, const std::string& version_id,
                              const SealedValue& sealed) {
  std::optional<aws::RequestContext> other_region;
  if (ctx.region != s.region) other_region = InRegion(ctx, s.region);
  kms::Caller caller{other_region ? *other_region : ctx, via_service};
  auto data_key = kms.Decrypt(caller, sealed.data_key, KmsContext(s, version_id), "");
  if (!data_key) return Fail(FromKms(data_key.error(), "kms:Decrypt", true));
  auto plain =
      crypto::AesGcmOpen(data_key->plaintext, sealed.sealed, Aad(s, version_id, sealed.type));
  Wipe(data_key->plaintext);
  if (!plain) {
    return Fail("DecryptionFailure",
                "Secrets Manager can't decrypt the protected secret text using the provided KMS "
                "key: the stored value does not authenticate.");
  }
  return SecretValue{sealed.type, std::move(*plain)};
}

void Wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace berth::secrets
