#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <thread>

#include "common/strings.h"
#include "crypto/aes_gcm.h"
#include "crypto/random.h"
#include "crypto/sha256.h"

namespace berth::crypto {
namespace {

std::string Unhex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  if (!bytes) ADD_FAILURE() << "bad hex in test: " << hex;
  return bytes.value_or("");
}

std::string Hex(const Digest& digest) { return HexEncode(AsBytes(digest)); }

// --- SHA-256 (FIPS 180-2 / NIST example vectors) ---

constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kAbcSha256 =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view kMillionASha256 =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

TEST(Sha256Test, OneShotVectors) {
  EXPECT_EQ(Hex(Sha256Of("")), kEmptySha256);
  EXPECT_EQ(Hex(Sha256Of("abc")), kAbcSha256);
  EXPECT_EQ(Hex(Sha256Of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Hex(Sha256Of(std::string(1000000, 'a'))), kMillionASha256);
}

TEST(Sha256Test, NullEmptyInput) {
  EXPECT_EQ(Hex(Sha256Of(std::string_view())), kEmptySha256);
  EXPECT_EQ(Sha256Hex(std::string_view()), kEmptySha256);
}

TEST(Sha256Test, HexIsLowerCase) {
  EXPECT_EQ(Sha256Hex(""), kEmptySha256);
  EXPECT_EQ(Sha256Hex("abc"), kAbcSha256);
}

TEST(Sha256Test, StreamingEmptyAndSmall) {
  Sha256 empty;
  EXPECT_EQ(Hex(empty.Final()), kEmptySha256);

  Sha256 abc;
  abc.Update("a");
  abc.Update("");
  abc.Update(nullptr, 0);
  abc.Update("bc", 2);
  EXPECT_EQ(Hex(abc.Final()), kAbcSha256);
}

TEST(Sha256Test, StreamingUnevenChunksEqualsOneShot) {
  const std::string million(1000000, 'a');
  // Chunk sizes that straddle the 64-byte block boundary in every way.
  constexpr size_t kChunks[] = {1, 63, 64, 65, 127, 3, 1000, 4096, 7, 0, 65537};
  Sha256 sha;
  size_t pos = 0;
  for (size_t i = 0; pos < million.size(); ++i) {
    size_t n = std::min(kChunks[i % std::size(kChunks)], million.size() - pos);
    sha.Update(std::string_view(million).substr(pos, n));
    pos += n;
  }
  Digest streamed = sha.Final();
  EXPECT_EQ(Hex(streamed), kMillionASha256);
  EXPECT_EQ(streamed, Sha256Of(million));
}

TEST(Sha256Test, ResetReuses) {
  Sha256 sha;
  sha.Update("garbage");
  sha.Reset();
  sha.Update("abc");
  EXPECT_EQ(Hex(sha.Final()), kAbcSha256);
  sha.Reset();
  EXPECT_EQ(Hex(sha.Final()), kEmptySha256);
}

TEST(Sha256Test, MoveKeepsState) {
  Sha256 a;
  a.Update("ab");
  Sha256 b(std::move(a));
  b.Update("c");
  EXPECT_EQ(Hex(b.Final()), kAbcSha256);

  Sha256 c;
  c.Update("x");
  c = std::move(b);
  c.Reset();
  c.Update("abc");
  EXPECT_EQ(Hex(c.Final()), kAbcSha256);
}

// --- HMAC-SHA256 (RFC 4231) ---

TEST(HmacSha256Test, Rfc4231Case1) {
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacSha256Test, Rfc4231Case2) {
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256Test, Rfc4231Case6KeyLongerThanBlock) {
  EXPECT_EQ(Hex(HmacSha256(std::string(131, '\xaa'),
                           "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256Test, EmptyKeyAndData) {
  const std::string expected = "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad";
  EXPECT_EQ(Hex(HmacSha256("", "")), expected);
  // A default std::string_view has a null data pointer; it must hash like "".
  EXPECT_EQ(Hex(HmacSha256(std::string_view(), std::string_view())), expected);
  EXPECT_EQ(Hex(HmacSha256(std::string_view(), "")), expected);
  EXPECT_EQ(Hex(HmacSha256("", std::string_view())), expected);
  EXPECT_EQ(HmacSha256(std::string_view(), "data"), HmacSha256("", "data"));
  EXPECT_EQ(HmacSha256("key", std::string_view()), HmacSha256("key", ""));
}

// --- ConstantTimeEquals ---

TEST(ConstantTimeEqualsTest, ComparesBytesAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("signature", "signature"));
  EXPECT_TRUE(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals("signature", "signaturf"));
  EXPECT_FALSE(ConstantTimeEquals("signature", "Signature"));
  EXPECT_FALSE(ConstantTimeEquals("signature", "signatur"));
  EXPECT_FALSE(ConstantTimeEquals("sig", "signature"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
  Digest d = Sha256Of("abc");
  EXPECT_TRUE(ConstantTimeEquals(AsBytes(d), Unhex(kAbcSha256)));
}

// --- AES-256-GCM ---

std::string TestKey(char first = 0) {
  std::string key(kAesKeySize, '\0');
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>(first + i);
  return key;
}

void ExpectInvalidCiphertext(const Result<std::string>& result) {
  ASSERT_FALSE(result.has_value()) << "opened to: " << HexEncode(*result);
  EXPECT_EQ(result.error().code, "InvalidCiphertextException");
  EXPECT_EQ(result.error().http_status, 400);
}

TEST(AesGcmTest, SealOpenRoundTrip) {
  const std::string key = TestKey();
  for (std::string_view plaintext :
       {std::string_view(""), std::string_view("x"), std::string_view("database password: hunter2"),
        std::string_view("\0\xff\0", 3)}) {
    auto sealed = AesGcmSeal(key, plaintext, "arn:aws:secretsmanager:us-east-1:1:secret:s");
    ASSERT_TRUE(sealed.has_value()) << sealed.error().message;
    EXPECT_EQ(sealed->size(), kGcmNonceSize + plaintext.size() + kGcmTagSize);
    auto opened = AesGcmOpen(key, *sealed, "arn:aws:secretsmanager:us-east-1:1:secret:s");
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    EXPECT_EQ(*opened, plaintext);
  }
}

TEST(AesGcmTest, NullEmptyPlaintextAndAad) {
  const std::string key = TestKey();
  auto sealed = AesGcmSeal(key, std::string_view(), std::string_view());
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(sealed->size(), kGcmNonceSize + kGcmTagSize);
  auto opened = AesGcmOpen(key, *sealed, std::string_view());
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, "");
  EXPECT_EQ(AesGcmOpen(key, *sealed, "").value(), "");
}

TEST(AesGcmTest, RoundTripWithoutAadAndLargeInput) {
  const std::string key = TestKey(7);
  std::string big(100000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  auto sealed = AesGcmSeal(key, big, "");
  ASSERT_TRUE(sealed.has_value());
  ASSERT_EQ(sealed->size(), 12 + big.size() + 16);
  // The plaintext does not appear in the output.
  EXPECT_EQ(sealed->find(big.substr(0, 64)), std::string::npos);
  auto opened = AesGcmOpen(key, *sealed, "");
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, big);
}

TEST(AesGcmTest, OpensKnownAnswerVectors) {
  // McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13, 14 and 16,
  // laid out as nonce || ciphertext || tag.
  auto empty = AesGcmOpen(Unhex(std::string(64, '0')),
                          Unhex(std::string(24, '0') + "530f8afbc74536b9a963b4f1c4cb738b"), "");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(*empty, "");

  auto zeros = AesGcmOpen(Unhex(std::string(64, '0')),
                          Unhex(std::string(24, '0') + "cea7403d4d606b6e074ec5d3baf39d18"
                                                       "d0d1c8a799996bf0265b98b5d48ab919"),
                          "");
  ASSERT_TRUE(zeros.has_value());
  EXPECT_EQ(*zeros, std::string(16, '\0'));

  const std::string key = Unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const std::string sealed = Unhex(
      "cafebabefacedbaddecaf888"
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b");
  const std::string aad = Unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  auto opened = AesGcmOpen(key, sealed, aad);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(HexEncode(*opened),
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
  ExpectInvalidCiphertext(AesGcmOpen(key, sealed, ""));
}

// Contexts are reused per thread: a failed open (wrong tag, wrong key) must leave
// nothing behind that changes the next call, and threads must not share state.
TEST(AesGcmTest, ReusedContextsRecoverFromFailures) {
  const std::string k1(32, '\x01'), k2(32, '\x02');
  auto a = AesGcmSeal(k1, "first", "ctx-a").value();
  auto b = AesGcmSeal(k2, "second value", "").value();
  std::string flipped = a;
  flipped[kGcmNonceSize] ^= 1;
  for (int i = 0; i < 3; ++i) {
    ExpectInvalidCiphertext(AesGcmOpen(k1, flipped, "ctx-a"));
    ExpectInvalidCiphertext(AesGcmOpen(k2, a, "ctx-a"));
    ExpectInvalidCiphertext(AesGcmOpen(k1, a, "ctx-b"));
    EXPECT_EQ(AesGcmOpen(k1, a, "ctx-a").value(), "first");
    EXPECT_EQ(AesGcmOpen(k2, b, "").value(), "second value");
  }
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::string key(32, static_cast<char>('a' + t));
      for (int i = 0; i < 200; ++i) {
        std::string text = "thread " + std::to_string(t) + " item " + std::to_string(i);
        auto sealed = AesGcmSeal(key, text, text);
        if (sealed && AesGcmOpen(key, *sealed, text).value_or("") == text) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 800);
}

TEST(AesGcmTest, TwoSealsDiffer) {
  const std::string key = TestKey();
  auto a = AesGcmSeal(key, "same plaintext", "aad");
  auto b = AesGcmSeal(key, "same plaintext", "aad");
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_NE(*a, *b);
  EXPECT_NE(a->substr(0, kGcmNonceSize), b->substr(0, kGcmNonceSize));
  EXPECT_EQ(AesGcmOpen(key, *a, "aad").value(), "same plaintext");
  EXPECT_EQ(AesGcmOpen(key, *b, "aad").value(), "same plaintext");
}

TEST(AesGcmTest, AnyFlippedBitFails) {
  const std::string key = TestKey();
  auto sealed = AesGcmSeal(key, "secret value", "context");
  ASSERT_TRUE(sealed.has_value());
  ASSERT_EQ(sealed->size(), 12u + 12u + 16u);
  // Every bit of the nonce, the ciphertext and the tag.
  for (size_t byte = 0; byte < sealed->size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string tampered = *sealed;
      tampered[byte] = static_cast<char>(tampered[byte] ^ (1 << bit));
      SCOPED_TRACE(testing::Message() << "byte " << byte << " bit " << bit);
      ExpectInvalidCiphertext(AesGcmOpen(key, tampered, "context"));
    }
  }
  EXPECT_EQ(AesGcmOpen(key, *sealed, "context").value(), "secret value");
}

TEST(AesGcmTest, TruncatedOrExtendedFails) {
  const std::string key = TestKey();
  auto sealed = AesGcmSeal(key, "secret value", "");
  ASSERT_TRUE(sealed.has_value());
  ExpectInvalidCiphertext(AesGcmOpen(key, sealed->substr(0, sealed->size() - 1), ""));
  ExpectInvalidCiphertext(AesGcmOpen(key, sealed->substr(1), ""));
  ExpectInvalidCiphertext(AesGcmOpen(key, *sealed + "x", ""));
}

TEST(AesGcmTest, WrongKeyFails) {
  auto sealed = AesGcmSeal(TestKey(0), "secret value", "aad");
  ASSERT_TRUE(sealed.has_value());
  ExpectInvalidCiphertext(AesGcmOpen(TestKey(1), *sealed, "aad"));
  std::string one_bit_off = TestKey(0);
  one_bit_off[31] ^= 1;
  ExpectInvalidCiphertext(AesGcmOpen(one_bit_off, *sealed, "aad"));
}

TEST(AesGcmTest, DifferentAadFails) {
  const std::string key = TestKey();
  auto sealed = AesGcmSeal(key, "secret value", "secret-a");
  ASSERT_TRUE(sealed.has_value());
  ExpectInvalidCiphertext(AesGcmOpen(key, *sealed, "secret-b"));
  ExpectInvalidCiphertext(AesGcmOpen(key, *sealed, "secret-a "));
  ExpectInvalidCiphertext(AesGcmOpen(key, *sealed, ""));

  auto no_aad = AesGcmSeal(key, "secret value", "");
  ASSERT_TRUE(no_aad.has_value());
  ExpectInvalidCiphertext(AesGcmOpen(key, *no_aad, "secret-a"));
}

TEST(AesGcmTest, TooShortFails) {
  const std::string key = TestKey();
  for (size_t n = 0; n < kGcmNonceSize + kGcmTagSize; ++n) {
    auto opened = AesGcmOpen(key, std::string(n, 'x'), "");
    ExpectInvalidCiphertext(opened);
    EXPECT_EQ(opened.error().message, "The ciphertext is too short.") << n;
  }
  // Exactly nonce + tag is long enough to try, and fails authentication.
  auto opened = AesGcmOpen(key, std::string(kGcmNonceSize + kGcmTagSize, 'x'), "");
  ExpectInvalidCiphertext(opened);
  EXPECT_NE(opened.error().message, "The ciphertext is too short.");
}

TEST(AesGcmTest, WrongKeySizeIsInternalFailure) {
  for (size_t size : {0, 16, 24, 31, 33, 64}) {
    const std::string key(size, 'k');
    auto sealed = AesGcmSeal(key, "data", "");
    ASSERT_FALSE(sealed.has_value()) << size;
    EXPECT_EQ(sealed.error().code, "InternalFailure");
    EXPECT_EQ(sealed.error().http_status, 500);
    EXPECT_FALSE(sealed.error().IsSenderFault());

    auto opened = AesGcmOpen(key, std::string(40, 'x'), "");
    ASSERT_FALSE(opened.has_value()) << size;
    EXPECT_EQ(opened.error().code, "InternalFailure");
    EXPECT_EQ(opened.error().http_status, 500);
  }
}

// --- Randomness ---

TEST(RandomTest, RandomStringLengthAndDraws) {
  EXPECT_EQ(RandomString(0), "");
  EXPECT_EQ(RandomString(1).size(), 1u);
  std::string a = RandomString(32);
  std::string b = RandomString(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(b.size(), 32u);
  EXPECT_NE(a, b);  // 2^-256 chance of a false failure
  EXPECT_NE(a, std::string(32, '\0'));
}

TEST(RandomTest, RandomBytesFillsBuffer) {
  uint8_t buf[64] = {};
  RandomBytes(buf, sizeof buf);
  EXPECT_NE(std::string(reinterpret_cast<char*>(buf), sizeof buf), std::string(64, '\0'));
  RandomBytes(nullptr, 0);  // nothing to fill is fine
}

TEST(RandomTest, SecureIds) {
  Ids& ids = SecureIds();
  EXPECT_EQ(&ids, &SecureIds());
  std::string a = ids.Uuid();
  std::string b = ids.Uuid();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(std::string_view("89ab").find(a[19]), std::string_view::npos) << a;
  std::string key = ids.UpperId("AKIA", 20);
  EXPECT_EQ(key.size(), 20u);
  EXPECT_TRUE(key.starts_with("AKIA"));
  EXPECT_EQ(key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), std::string::npos);
  EXPECT_EQ(ids.SecretString(40).size(), 40u);
  EXPECT_NE(ids.SecretString(40), ids.SecretString(40));
}

}  // namespace
}  // namespace berth::crypto
