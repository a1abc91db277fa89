#include "aws/xml.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/strings.h"

namespace berth::aws {
namespace {

TEST(XmlEscapeTest, MarkupCharactersBecomeReferences) {
  EXPECT_EQ(XmlEscape(""), "");
  EXPECT_EQ(XmlEscape("plain text"), "plain text");
  EXPECT_EQ(XmlEscape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  EXPECT_EQ(XmlEscape("</Message><Code>AccessDenied</Code>"),
            "&lt;/Message&gt;&lt;Code&gt;AccessDenied&lt;/Code&gt;");
  EXPECT_EQ(XmlEscape("tab\tlf\ncr\r"), "tab\tlf\ncr&#13;");
}

TEST(XmlEscapeTest, WellFormedUtf8IsKept) {
  const std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xC2\x85 \xEF\xBF\xBD";
  EXPECT_EQ(XmlEscape(text), text);
}

TEST(XmlEscapeTest, IllFormedUtf8BecomesReplacementCharacters) {
  const std::string r(kUtf8Replacement);
  EXPECT_EQ(XmlEscape("\xFF"), r);
  EXPECT_EQ(XmlEscape("a\x80z"), "a" + r + "z");
  EXPECT_EQ(XmlEscape("\xE2\x82"), r);              // one maximal subpart, one U+FFFD
  EXPECT_EQ(XmlEscape("\xE2\x82<"), r + "&lt;");    // interrupted by markup
  EXPECT_EQ(XmlEscape("\xED\xA0\x80"), r + r + r);  // a surrogate: three bad bytes
  EXPECT_EQ(XmlEscape("\xC0\xAF"), r + r);
}

TEST(XmlEscapeTest, CharactersXmlCannotCarryBecomeReplacementCharacters) {
  const std::string r(kUtf8Replacement);
  EXPECT_EQ(XmlEscape(std::string("a\0b", 3)), "a" + r + "b");
  EXPECT_EQ(XmlEscape("\x01\x08\x0B\x0C\x0E\x1F"), r + r + r + r + r + r);
  EXPECT_EQ(XmlEscape("\x7F"), "\x7F");                     // DEL is an XML 1.0 Char
  EXPECT_EQ(XmlEscape("\xEF\xBF\xBE\xEF\xBF\xBF"), r + r);  // U+FFFE, U+FFFF
}

// Whatever the bytes, the escaped text is well-formed UTF-8 holding only XML 1.0
// characters and no markup.
TEST(XmlEscapeTest, RandomBytesGiveWellFormedText) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> len(0, 24), any(0, 255);
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    for (int i = len(rng); i > 0; --i) s.push_back(static_cast<char>(any(rng)));
    std::string out = XmlEscape(s);
    for (size_t i = 0; i < out.size();) {
      size_t bad = 0;
      size_t n = Utf8SequenceLength(out, i, &bad);
      ASSERT_NE(n, 0u) << testing::PrintToString(s);
      auto c = static_cast<unsigned char>(out[i]);
      if (n == 1) {
        ASSERT_TRUE(c >= 0x20 || c == '\t' || c == '\n') << testing::PrintToString(s);
        ASSERT_TRUE(c != '<' && c != '>' && c != '"' && c != '\'') << testing::PrintToString(s);
      }
      ASSERT_NE(out.substr(i, n), "\xEF\xBF\xBE");
      ASSERT_NE(out.substr(i, n), "\xEF\xBF\xBF");
      i += n;
    }
  }
}

TEST(XmlTest, TextEscapes) {
  Xml x;
  x.Open("Error").Text("Message", "bad <\x01>").Close("Error");
  EXPECT_EQ(x.str(), "<Error><Message>bad &lt;\xEF\xBF\xBD&gt;</Message></Error>");
}

TEST(XmlTest, ElementWrapsWhatItsBodyAppends) {
  Xml x;
  x.Element("Tags", [](Xml& x) {
     x.Element("member", [](Xml& x) { x.Text("Key", "k"); }).Element("member", [](Xml&) {});
   }).Text("IsTruncated", "false");
  EXPECT_EQ(x.str(),
            "<Tags><member><Key>k</Key></member><member></member></Tags>"
            "<IsTruncated>false</IsTruncated>");
}

}  // namespace
}  // namespace berth::aws
