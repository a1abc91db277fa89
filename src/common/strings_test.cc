#include "common/strings.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(StringsTest, ToLower) {
  EXPECT_EQ(ToLower("Content-Type: X-Amz-Date 123"), "content-type: x-amz-date 123");
  EXPECT_EQ(ToLower(""), "");
  EXPECT_EQ(ToLower("caf\xc3\x89"), "caf\xc3\x89");  // bytes >= 0x80 untouched
}

TEST(StringsTest, Trim) {
  EXPECT_EQ(Trim("  \t\r\n x y \n\t "), "x y");
  EXPECT_EQ(Trim("x"), "x");
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Trim(" \t\r\n"), "");
  EXPECT_EQ(Trim("a  "), "a");
  EXPECT_EQ(Trim("  a"), "a");
}

TEST(StringsTest, EqualsIgnoreCase) {
  EXPECT_TRUE(EqualsIgnoreCase("Content-Type", "content-TYPE"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
  EXPECT_FALSE(EqualsIgnoreCase("abc", "abd"));
  EXPECT_FALSE(EqualsIgnoreCase("abc", "abcd"));
  EXPECT_FALSE(EqualsIgnoreCase("abcd", "abc"));
  EXPECT_FALSE(EqualsIgnoreCase("a", ""));
}

TEST(UriEncodeTest, UnreservedKept) {
  constexpr std::string_view kUnreserved =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
  EXPECT_EQ(UriEncode(kUnreserved), kUnreserved);
  EXPECT_EQ(UriEncode(""), "");
}

TEST(UriEncodeTest, ReservedEncodedUpperCase) {
  EXPECT_EQ(UriEncode("a b"), "a%20b");
  EXPECT_EQ(UriEncode("a+b=c&d"), "a%2Bb%3Dc%26d");
  EXPECT_EQ(UriEncode("!*'()"), "%21%2A%27%28%29");
  EXPECT_EQ(UriEncode(":/?#[]@"), "%3A%2F%3F%23%5B%5D%40");
  EXPECT_EQ(UriEncode("%"), "%25");
  EXPECT_EQ(UriEncode("caf\xc3\xa9"), "caf%C3%A9");
  EXPECT_EQ(UriEncode(std::string_view("\x00\x7f\xff", 3)), "%00%7F%FF");
}

TEST(UriEncodeTest, KeepSlash) {
  EXPECT_EQ(UriEncode("/path/to my/obj", false), "%2Fpath%2Fto%20my%2Fobj");
  EXPECT_EQ(UriEncode("/path/to my/obj", true), "/path/to%20my/obj");
  EXPECT_EQ(UriEncode("/", true), "/");
  // Only '/' is kept: other reserved characters are still encoded.
  EXPECT_EQ(UriEncode("/a:b", true), "/a%3Ab");
}

TEST(UriDecodeTest, Escapes) {
  EXPECT_EQ(UriDecode("a%20b", false), "a b");
  EXPECT_EQ(UriDecode("%2Fx%2fy", false), "/x/y");
  EXPECT_EQ(UriDecode("caf%C3%A9", false), "caf\xc3\xa9");
  EXPECT_EQ(UriDecode("%41", false), "A");
  EXPECT_EQ(UriDecode("%00", false), std::string(1, '\0'));
  EXPECT_EQ(UriDecode("", false), "");
}

TEST(UriDecodeTest, PlusHandling) {
  EXPECT_EQ(UriDecode("a+b", true), "a b");
  EXPECT_EQ(UriDecode("a+b", false), "a+b");
  // An encoded plus is a plus in both modes.
  EXPECT_EQ(UriDecode("a%2Bb", true), "a+b");
  EXPECT_EQ(UriDecode("a%2Bb", false), "a+b");
}

TEST(UriDecodeTest, MalformedEscapesKeptLiterally) {
  EXPECT_EQ(UriDecode("%zz", false), "%zz");
  EXPECT_EQ(UriDecode("%4", false), "%4");
  EXPECT_EQ(UriDecode("100%", false), "100%");
  EXPECT_EQ(UriDecode("%", false), "%");
  EXPECT_EQ(UriDecode("%4g%41", false), "%4gA");
  EXPECT_EQ(UriDecode("%%41", false), "%A");
  EXPECT_EQ(UriDecode("%41%", false), "A%");
  EXPECT_EQ(UriDecode("%+1", true), "% 1");
}

TEST(UriDecodeTest, RoundTripsEncode) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(UriDecode(UriEncode(all), false), all);
  EXPECT_EQ(UriDecode(UriEncode(all), true), all);
  EXPECT_EQ(UriDecode(UriEncode(all, true), false), all);
}

TEST(ParseFormTest, PairsInOrderDecoded) {
  EXPECT_EQ(
      ParseForm("Action=AssumeRole&Version=2011-06-15&RoleSessionName=a%20b+c"),
      (Pairs{{"Action", "AssumeRole"}, {"Version", "2011-06-15"}, {"RoleSessionName", "a b c"}}));
  EXPECT_EQ(ParseForm("b=2&a=1&b=3"), (Pairs{{"b", "2"}, {"a", "1"}, {"b", "3"}}));
  EXPECT_EQ(ParseForm("k%3D=v%26w"), (Pairs{{"k=", "v&w"}}));
}

TEST(ParseFormTest, EdgeCases) {
  EXPECT_EQ(ParseForm(""), Pairs{});
  EXPECT_EQ(ParseForm("&&"), Pairs{});
  EXPECT_EQ(ParseForm("a=1&&b=2&"), (Pairs{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(ParseForm("flag"), (Pairs{{"flag", ""}}));
  EXPECT_EQ(ParseForm("k="), (Pairs{{"k", ""}}));
  EXPECT_EQ(ParseForm("=v"), (Pairs{{"", "v"}}));
  EXPECT_EQ(ParseForm("a=b=c"), (Pairs{{"a", "b=c"}}));
}

TEST(HexTest, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> kVectors[] = {{"", ""},
                                                                    {"f", "66"},
                                                                    {"fo", "666f"},
                                                                    {"foo", "666f6f"},
                                                                    {"foob", "666f6f62"},
                                                                    {"fooba", "666f6f6261"},
                                                                    {"foobar", "666f6f626172"}};
  for (auto [plain, hex] : kVectors) {
    EXPECT_EQ(HexEncode(plain), hex);
    auto decoded = HexDecode(hex);
    ASSERT_TRUE(decoded.has_value()) << hex;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(HexTest, AllBytesAndCase) {
  EXPECT_EQ(HexEncode(std::string_view("\x00\x0f\xf0\xff", 4)), "000ff0ff");
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(HexDecode(HexEncode(all)), all);
  EXPECT_EQ(HexDecode("ABCDEF"), std::string("\xab\xcd\xef"));
  EXPECT_EQ(HexDecode("aBcD"), std::string("\xab\xcd"));
}

TEST(HexTest, DecodeRejectsMalformed) {
  EXPECT_EQ(HexDecode("a"), std::nullopt);
  EXPECT_EQ(HexDecode("abc"), std::nullopt);
  EXPECT_EQ(HexDecode("zz"), std::nullopt);
  EXPECT_EQ(HexDecode("0g"), std::nullopt);
  EXPECT_EQ(HexDecode("g0"), std::nullopt);
  EXPECT_EQ(HexDecode(" 00"), std::nullopt);
  EXPECT_EQ(HexDecode("0x00"), std::nullopt);
}

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> kVectors[] = {{"", ""},
                                                                    {"f", "Zg=="},
                                                                    {"fo", "Zm8="},
                                                                    {"foo", "Zm9v"},
                                                                    {"foob", "Zm9vYg=="},
                                                                    {"fooba", "Zm9vYmE="},
                                                                    {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : kVectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64Test, UsesStandardAlphabet) {
  EXPECT_EQ(Base64Encode("\xfb\xff\xbf"), "+/+/");
  EXPECT_EQ(Base64Decode("+/+/"), std::string("\xfb\xff\xbf"));
  EXPECT_EQ(Base64Encode(std::string_view("\x00\x00\x00", 3)), "AAAA");
}

TEST(Base64Test, RoundTripsEveryLength) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(255 - c));
  for (size_t n = 0; n <= all.size(); ++n) {
    std::string plain = all.substr(0, n);
    std::string encoded = Base64Encode(plain);
    EXPECT_EQ(encoded.size(), (n + 2) / 3 * 4);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << n;
    EXPECT_EQ(*decoded, plain) << n;
  }
}

TEST(Base64Test, DecodeRejectsMalformed) {
  for (std::string_view text : {
           "Zg",        // padding missing
           "Zg=",       // length not a multiple of 4
           "Zm9vY",     // length not a multiple of 4
           "Z===",      // padding too early
           "====",      // only padding
           "Zm=v",      // data after padding
           "Zg==Zg==",  // padding in the middle
           "Zm9-",      // URL-safe alphabet
           "Zm9_",      // URL-safe alphabet
           "Zm9 ",      // space
           "Zm9v\n",    // newline
           "Zm\n9v",    // line break inside
           "Zm9\x80",   // non-ASCII
       }) {
    EXPECT_EQ(Base64Decode(text), std::nullopt) << text;
  }
}

TEST(Utf8Test, SequenceLengthOfWellFormedAndIllFormedInput) {
  struct Case {
    std::string text;
    size_t length;  // 0: ill-formed
    size_t bad;     // bytes one U+FFFD replaces
  };
  const Case cases[] = {
      {"a", 1, 0},
      {std::string("\0", 1), 1, 0},
      {"\xC3\xA9", 2, 0},
      {"\xE2\x82\xAC", 3, 0},
      {"\xF0\x9F\x98\x80", 4, 0},
      {"\xEF\xBF\xBF", 3, 0},      // U+FFFF is well-formed UTF-8
      {"\x80", 0, 1},              // stray continuation
      {"\xC0\xAF", 0, 1},          // overlong lead
      {"\xC3", 0, 1},              // truncated
      {"\xE2\x82", 0, 2},          // truncated after a valid prefix
      {"\xE2\x82\x41", 0, 2},      // interrupted
      {"\xE0\x80\xAF", 0, 1},      // overlong 3-byte
      {"\xED\xA0\x80", 0, 1},      // surrogate
      {"\xF4\x90\x80\x80", 0, 1},  // above U+10FFFF
      {"\xF5\x80", 0, 1},
      {"\xFF", 0, 1},
  };
  for (const Case& c : cases) {
    size_t bad = 0;
    EXPECT_EQ(Utf8SequenceLength(c.text, 0, &bad), c.length) << testing::PrintToString(c.text);
    if (c.length == 0) {
      EXPECT_EQ(bad, c.bad) << testing::PrintToString(c.text);
    }
  }
  size_t bad = 0;
  EXPECT_EQ(Utf8SequenceLength("x\xE2\x82\xAC", 1, &bad), 3u);
}

TEST(Utf8Test, PrefixNeverSplitsACharacter) {
  EXPECT_EQ(Utf8Prefix("short", 10), "short");
  EXPECT_EQ(Utf8Prefix("exactly", 7), "exactly");
  EXPECT_EQ(Utf8Prefix("abcdef", 3), "abc");
  EXPECT_EQ(Utf8Prefix("", 0), "");
  const std::string euros = "\xE2\x82\xAC\xE2\x82\xAC";  // two 3-byte characters
  EXPECT_EQ(Utf8Prefix(euros, 6), euros);
  EXPECT_EQ(Utf8Prefix(euros, 5), "\xE2\x82\xAC");
  EXPECT_EQ(Utf8Prefix(euros, 4), "\xE2\x82\xAC");
  EXPECT_EQ(Utf8Prefix(euros, 3), "\xE2\x82\xAC");
  EXPECT_EQ(Utf8Prefix(euros, 2), "");
  EXPECT_EQ(Utf8Prefix("a\xF0\x9F\x98\x80", 4), "a");
  EXPECT_EQ(Utf8Prefix("a\xF0\x9F\x98\x80", 5), "a\xF0\x9F\x98\x80");
  // Ill-formed input: more than three continuation bytes are no character, so
  // the cut stays where it was asked (the escapers replace what is left).
  EXPECT_EQ(Utf8Prefix("a\x80\x80\x80\x80\x80", 5), "a\x80\x80\x80\x80");
  // Every cut of a string of mixed widths is a whole-character prefix.
  const std::string mixed = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";
  for (size_t max = 0; max <= mixed.size(); ++max) {
    std::string_view cut = Utf8Prefix(mixed, max);
    EXPECT_LE(cut.size(), max);
    EXPECT_GT(cut.size() + 4, max);
    for (size_t i = 0; i < cut.size();) {
      size_t bad = 0;
      size_t n = Utf8SequenceLength(cut, i, &bad);
      ASSERT_NE(n, 0u) << "cut " << max << " split a character";
      i += n;
    }
  }
}

}  // namespace
}  // namespace berth
