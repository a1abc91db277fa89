#include "kms/ciphertext.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "crypto/aes_gcm.h"

namespace berth::kms {
namespace {

constexpr char kArn[] =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const std::string kMaterial(32, '\x11');
const std::map<std::string, std::string> kContext = {{"purpose", "test"}, {"app", "berth"}};

std::string Build(uint32_t version = 7, const std::string& plaintext = "data key bytes",
                  const std::map<std::string, std::string>& context = kContext) {
  auto blob = BuildBlob(kArn, version, kMaterial, plaintext, context);
  EXPECT_TRUE(blob.has_value());
  return *blob;
}

// Opens `blob` as the service does: parse, then open under the context.
std::optional<std::string> Open(std::string_view blob, const std::string& material = kMaterial,
                                const std::map<std::string, std::string>& context = kContext) {
  auto parsed = ParseBlob(blob);
  if (!parsed) return std::nullopt;
  return OpenParsedBlob(*parsed, material, CanonicalContext(context));
}

TEST(CiphertextTest, RoundTripNamesKeyAndVersion) {
  std::string blob = Build(7, "data key bytes");
  auto parsed = ParseBlob(blob);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->key_arn, kArn);
  EXPECT_EQ(parsed->material_version, 7u);
  EXPECT_EQ(parsed->header.size(), 4 + std::string_view(kArn).size() + 4);
  EXPECT_EQ(parsed->header, std::string_view(blob).substr(0, parsed->header.size()));
  EXPECT_EQ(parsed->sealed.size(),
            crypto::kGcmNonceSize + std::string("data key bytes").size() + crypto::kGcmTagSize);
  EXPECT_EQ(Open(blob), "data key bytes");
}

TEST(CiphertextTest, HeaderIsTheDocumentedLayout) {
  std::string blob = Build(0x01020304);
  ASSERT_GE(blob.size(), 4u);
  EXPECT_EQ(static_cast<uint8_t>(blob[0]), 0xB7);
  EXPECT_EQ(static_cast<uint8_t>(blob[1]), 0x02);
  size_t n = std::string_view(kArn).size();
  EXPECT_EQ(static_cast<uint8_t>(blob[2]), n >> 8);
  EXPECT_EQ(static_cast<uint8_t>(blob[3]), n & 0xff);
  EXPECT_EQ(blob.substr(4, n), kArn);
  EXPECT_EQ(blob.substr(4 + n, 4), std::string("\x01\x02\x03\x04", 4));
}

TEST(CiphertextTest, SealsAFreshNonceEachTime) {
  EXPECT_NE(Build(), Build());
  EXPECT_EQ(Open(Build()), Open(Build()));
}

TEST(CiphertextTest, ContextOrderDoesNotMatterButContentDoes) {
  std::string blob = Build();
  std::map<std::string, std::string> same = {{"app", "berth"}, {"purpose", "test"}};
  EXPECT_EQ(Open(blob, kMaterial, same), "data key bytes");
  EXPECT_EQ(Open(blob, kMaterial, {}), std::nullopt);
  EXPECT_EQ(Open(blob, kMaterial, {{"app", "berth"}, {"purpose", "other"}}), std::nullopt);
  EXPECT_EQ(Open(blob, kMaterial, {{"app", "berth"}}), std::nullopt);
  // Pairs that concatenate alike are still different contexts.
  std::string ab = *BuildBlob(kArn, 0, kMaterial, "p", {{"a", "bc"}});
  EXPECT_EQ(Open(ab, kMaterial, {{"ab", "c"}}), std::nullopt);
  EXPECT_EQ(Open(ab, kMaterial, {{"a", "bc"}}), "p");
}

TEST(CiphertextTest, OtherMaterialDoesNotOpen) {
  EXPECT_EQ(Open(Build(), std::string(32, '\x12')), std::nullopt);
}

TEST(CiphertextTest, EmptyContextAndEmptyPlaintextRoundTrip) {
  std::string blob = Build(0, "", {});
  EXPECT_EQ(Open(blob, kMaterial, {}), "");
}

TEST(CiphertextTest, ReadsVersion1Blobs) {
  // Version 1: no material version; the header (magic, version, length, ARN) is
  // the associated data's prefix.
  std::string header = "\xB7\x01";
  header.push_back(static_cast<char>(std::string_view(kArn).size() >> 8));
  header.push_back(static_cast<char>(std::string_view(kArn).size() & 0xff));
  header += kArn;
  std::string blob =
      header + *crypto::AesGcmSeal(kMaterial, "legacy", header + CanonicalContext(kContext));
  auto parsed = ParseBlob(blob);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->key_arn, kArn);
  EXPECT_EQ(parsed->material_version, 0u);
  EXPECT_EQ(parsed->header, header);
  EXPECT_EQ(Open(blob), "legacy");
}

TEST(CiphertextTest, EveryTruncationIsRefused) {
  std::string blob = Build();
  for (size_t size = 0; size < blob.size(); ++size) {
    EXPECT_EQ(Open(std::string_view(blob).substr(0, size)), std::nullopt) << "size " << size;
  }
  // Too short for a nonce and a tag after the header: not even parsed.
  size_t header = ParseBlob(blob)->header.size();
  EXPECT_FALSE(ParseBlob(std::string_view(blob).substr(
                             0, header + crypto::kGcmNonceSize + crypto::kGcmTagSize - 1))
                   .has_value());
}

TEST(CiphertextTest, EveryFlippedBitIsRefused) {
  std::string blob = Build();
  for (size_t i = 0; i < blob.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string tampered = blob;
      tampered[i] = static_cast<char>(tampered[i] ^ (1 << bit));
      EXPECT_EQ(Open(tampered), std::nullopt) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(CiphertextTest, AppendedBytesAreRefused) { EXPECT_EQ(Open(Build() + "x"), std::nullopt); }

TEST(CiphertextTest, ParseRefusesWhatIsNotABlob) {
  EXPECT_FALSE(ParseBlob("").has_value());
  EXPECT_FALSE(ParseBlob("plain text that is long enough to hold a header").has_value());
  std::string blob = Build();
  std::string other_version = blob;
  other_version[1] = 0x03;
  EXPECT_FALSE(ParseBlob(other_version).has_value());
  std::string no_arn = blob;
  no_arn[2] = 0;
  no_arn[3] = 0;
  EXPECT_FALSE(ParseBlob(no_arn).has_value());
  std::string long_arn = blob;
  long_arn[2] = '\xff';  // a length past the end
  EXPECT_FALSE(ParseBlob(long_arn).has_value());
}

TEST(CiphertextTest, OpenedIdSeparatesBlobFromContext) {
  EXPECT_NE(OpenedId("ab", "c"), OpenedId("a", "bc"));
  EXPECT_EQ(OpenedId("ab", "c"), OpenedId("ab", "c"));
  EXPECT_EQ(OpenedId("ab", "c"), std::string("\0\0\0\x02", 4) + "abc");
}

}  // namespace
}  // namespace berth::kms
