#include "kms/ciphertext.h"

#include "crypto/aes_gcm.h"

namespace berth::kms {

namespace {

constexpr uint8_t kBlobMagic = 0xB7;
constexpr uint8_t kBlobVersion1 = 0x01;  // no material version: version 0
constexpr uint8_t kBlobVersion2 = 0x02;  // u32 material version after the ARN
constexpr size_t kBlobHeaderFixed = 4;   // magic, version, u16 length

void AppendU32(std::string& out, uint32_t n) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
}

// `bytes` holds at least 4 bytes.
uint32_t ReadU32(std::string_view bytes) {
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  return n;
}

}  // namespace

std::string CanonicalContext(const std::map<std::string, std::string>& context) {
  std::string out;
  AppendU32(out, static_cast<uint32_t>(context.size()));
  for (const auto& [k, v] : context) {  // std::map: byte order of the keys
    AppendU32(out, static_cast<uint32_t>(k.size()));
    out += k;
    AppendU32(out, static_cast<uint32_t>(v.size()));
    out += v;
  }
  return out;
}

Result<std::string> BuildBlob(std::string_view key_arn, uint32_t material_version,
                              std::string_view material, std::string_view plaintext,
                              const std::map<std::string, std::string>& context) {
  std::string blob;
  blob.push_back(static_cast<char>(kBlobMagic));
  blob.push_back(static_cast<char>(kBlobVersion2));
  blob.push_back(static_cast<char>((key_arn.size() >> 8) & 0xff));
  blob.push_back(static_cast<char>(key_arn.size() & 0xff));
  blob += key_arn;
  AppendU32(blob, material_version);
  std::string aad = blob + CanonicalContext(context);
  blob += BERTH_TRY(crypto::AesGcmSeal(material, plaintext, aad));
  return blob;
}

std::optional<ParsedBlob> ParseBlob(std::string_view blob) {
  if (blob.size() < kBlobHeaderFixed || static_cast<uint8_t>(blob[0]) != kBlobMagic) {
    return std::nullopt;
  }
  const uint8_t format = static_cast<uint8_t>(blob[1]);
  if (format != kBlobVersion1 && format != kBlobVersion2) return std::nullopt;
  size_t n =
      (static_cast<size_t>(static_cast<uint8_t>(blob[2])) << 8) | static_cast<uint8_t>(blob[3]);
  size_t header = kBlobHeaderFixed + n + (format == kBlobVersion2 ? 4 : 0);
  if (n == 0 || blob.size() < header + crypto::kGcmNonceSize + crypto::kGcmTagSize) {
    return std::nullopt;
  }
  ParsedBlob parsed;
  parsed.key_arn = std::string(blob.substr(kBlobHeaderFixed, n));
  if (format == kBlobVersion2) parsed.material_version = ReadU32(blob.substr(kBlobHeaderFixed + n));
  parsed.header = blob.substr(0, header);
  parsed.sealed = blob.substr(header);
  return parsed;
}

std::optional<std::string> OpenParsedBlob(const ParsedBlob& blob, std::string_view material,
                                          std::string_view canonical_context) {
  std::string aad = std::string(blob.header);
  aad += canonical_context;
  auto plaintext = crypto::AesGcmOpen(material, blob.sealed, aad);
  if (!plaintext) return std::nullopt;
  return std::move(*plaintext);
}

std::string OpenedId(std::string_view blob, std::string_view canonical_context) {
  std::string id;
  id.reserve(4 + blob.size() + canonical_context.size());
  AppendU32(id, static_cast<uint32_t>(blob.size()));
  id += blob;
  id += canonical_context;
  return id;
}

}  // namespace berth::kms
