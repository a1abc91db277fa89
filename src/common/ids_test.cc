#include "common/ids.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace berth {
namespace {

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::string_view kLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kSecretAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool AllIn(std::string_view s, std::string_view alphabet) {
  return s.find_first_not_of(alphabet) == std::string_view::npos;
}

TEST(IdsTest, SequenceIdsCountsUpFromSeed) {
  SequenceIds ids(250);
  std::vector<uint8_t> bytes(8);
  ids.Fill(bytes.data(), bytes.size());
  EXPECT_EQ(bytes, (std::vector<uint8_t>{250, 251, 252, 253, 254, 255, 0, 1}));
  ids.Fill(bytes.data(), 2);
  EXPECT_EQ(bytes[0], 2);
  EXPECT_EQ(bytes[1], 3);
}

TEST(IdsTest, SequenceIdsIsDeterministic) {
  SequenceIds a(7), b(7);
  EXPECT_EQ(a.Uuid(), b.Uuid());
  EXPECT_EQ(a.UpperId("AKIA", 20), b.UpperId("AKIA", 20));
  EXPECT_EQ(a.SecretString(40), b.SecretString(40));
  EXPECT_EQ(a.Letters(6), b.Letters(6));
  SequenceIds c(8);
  EXPECT_NE(SequenceIds(7).Uuid(), c.Uuid());
}

TEST(IdsTest, UuidExactValueSetsVersionAndVariant) {
  SequenceIds ids(0);
  // Bytes 00..0f; byte 6 gets version 4 (0x06 -> 0x46), byte 8 variant 10xx (0x08 -> 0x88).
  EXPECT_EQ(ids.Uuid(), "00010203-0405-4607-8809-0a0b0c0d0e0f");
  // Bytes 10..1f: 0x16 -> 0x46, 0x18 -> 0x98.
  EXPECT_EQ(ids.Uuid(), "10111213-1415-4617-9819-1a1b1c1d1e1f");
}

// Every byte drawn is `value`.
class ConstantIds final : public Ids {
 public:
  explicit ConstantIds(uint8_t value) : value_(value) {}
  void Fill(uint8_t* out, size_t n) override { std::fill(out, out + n, value_); }

 private:
  uint8_t value_;
};

TEST(IdsTest, UuidMasksVersionAndVariantBits) {
  ConstantIds ones(0xff);
  EXPECT_EQ(ones.Uuid(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
  ConstantIds zeros(0x00);
  EXPECT_EQ(zeros.Uuid(), "00000000-0000-4000-8000-000000000000");
}

TEST(IdsTest, UuidFormatForManyDraws) {
  // The version and variant bits are forced whatever the bytes drawn.
  SequenceIds ids(0);
  std::set<std::string> seen;
  for (int n = 0; n < 16; ++n) {  // 16 UUIDs use each counter value 0..255 once
    std::string uuid = ids.Uuid();
    ASSERT_EQ(uuid.size(), 36u) << uuid;
    for (size_t i = 0; i < uuid.size(); ++i) {
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        EXPECT_EQ(uuid[i], '-') << uuid;
      } else {
        EXPECT_TRUE(AllIn(uuid.substr(i, 1), "0123456789abcdef")) << uuid;
      }
    }
    EXPECT_EQ(uuid[14], '4') << uuid;
    EXPECT_TRUE(AllIn(uuid.substr(19, 1), "89ab")) << uuid;
    seen.insert(uuid);
  }
  EXPECT_EQ(seen.size(), 16u);
}

TEST(IdsTest, UpperIdExactValue) {
  SequenceIds ids(0);
  // Base32 has 32 symbols, so no byte is rejected: bytes 0..15 map to A..P.
  EXPECT_EQ(ids.UpperId("AKIA", 20), "AKIAABCDEFGHIJKLMNOP");
  // Bytes 16..32: Q..Z, 2..7, then wrap to A.
  EXPECT_EQ(ids.UpperId("AIDA", 21), "AIDAQRSTUVWXYZ234567A");
}

TEST(IdsTest, UpperIdPrefixLengthAndAlphabet) {
  SequenceIds ids(123);
  for (int n = 0; n < 50; ++n) {
    std::string id = ids.UpperId("ASIA", 20);
    ASSERT_EQ(id.size(), 20u);
    EXPECT_EQ(id.substr(0, 4), "ASIA");
    EXPECT_TRUE(AllIn(id.substr(4), kBase32)) << id;
  }
}

TEST(IdsTest, UpperIdNeverShortensPrefix) {
  SequenceIds ids(0);
  EXPECT_EQ(ids.UpperId("AKIA", 4), "AKIA");
  EXPECT_EQ(ids.UpperId("AKIA", 2), "AKIA");
  EXPECT_EQ(ids.UpperId("", 3), "ABC");
}

TEST(IdsTest, SecretStringExactValue) {
  SequenceIds ids(0);
  EXPECT_EQ(ids.SecretString(40), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn");
  SequenceIds high(60);
  EXPECT_EQ(high.SecretString(6), "89+/AB");
}

TEST(IdsTest, SecretStringLengthAndAlphabet) {
  SequenceIds ids(0);
  std::string all = ids.SecretString(256);
  ASSERT_EQ(all.size(), 256u);
  EXPECT_TRUE(AllIn(all, kSecretAlphabet));
  // 256 counting bytes over 64 symbols: every symbol exactly four times.
  for (char c : kSecretAlphabet) {
    EXPECT_EQ(std::count(all.begin(), all.end(), c), 4) << c;
  }
  EXPECT_EQ(ids.SecretString(0), "");
  EXPECT_EQ(ids.SecretString(1).size(), 1u);
}

TEST(IdsTest, LettersExactValue) {
  SequenceIds ids(0);
  EXPECT_EQ(ids.Letters(6), "ABCDEF");
  EXPECT_EQ(ids.Letters(0), "");
}

TEST(IdsTest, LettersRejectsBiasedBytes) {
  // 52 symbols: bytes >= 208 (= 256 - 256 % 52) are dropped and more are drawn.
  // Bytes 200..207 give s..z; 208..255 are dropped; the counter wraps to 0, 1 -> A, B.
  SequenceIds ids(200);
  EXPECT_EQ(ids.Letters(10), "stuvwxyzAB");
}

TEST(IdsTest, LettersLengthAndAlphabet) {
  SequenceIds ids(0);
  std::string all = ids.Letters(1000);
  ASSERT_EQ(all.size(), 1000u);
  EXPECT_TRUE(AllIn(all, kLetters)) << all;
  for (char c : kLetters) {
    EXPECT_NE(all.find(c), std::string::npos) << c;
  }
}

}  // namespace
}  // namespace berth
