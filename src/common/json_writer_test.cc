#include "common/json_writer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/json.h"

namespace berth::json {
namespace {

std::string Quoted(std::string_view text) {
  std::string out;
  AppendQuoted(out, text);
  return out;
}

TEST(JsonWriterTest, EscapesLikeDump) {
  const std::string cases[] = {
      "",
      "plain",
      "quote\" back\\slash",
      "\b\f\n\r\t",
      std::string("nul\0x", 5),
      "\x01\x1f\x7f",
      "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",  // 2-, 3-, 4-byte sequences
      "\xC3",
      "\xE2\x82",
      "\xE2\x82\x41",
      "\xF0\x9F\x98",  // truncated
      "\x80",
      "\xBF\xBF",
      "\xC0\xAF",
      "\xC1\xBF",
      "\xE0\x80\xAF",  // stray, overlong
      "\xED\xA0\x80",
      "\xF4\x90\x80\x80",
      "\xF5\x80",
      "\xFF",  // surrogate, > U+10FFFF
      "{\"username\":\"u\",\"password\":\"p\xE2\x82\"}"};
  for (const auto& c : cases) {
    EXPECT_EQ(Quoted(c), Dump(Json(c))) << testing::PrintToString(c);
  }
}

TEST(JsonWriterTest, RandomBytesMatchDump) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> len(0, 24), pick(0, 9), any(0, 255), cont(0x80, 0xBF);
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    for (int i = len(rng); i > 0; --i) {
      int p = pick(rng);
      if (p < 4) {
        s.push_back(static_cast<char>(any(rng)));
      } else if (p < 6) {
        s.push_back(static_cast<char>(cont(rng)));
      } else if (p < 8) {
        s.push_back(static_cast<char>(0xC2 + any(rng) % 51));  // a lead byte C2..F4
      } else {
        s.push_back(static_cast<char>('a' + any(rng) % 26));
      }
    }
    ASSERT_EQ(Quoted(s), Dump(Json(s))) << testing::PrintToString(s);
  }
}

TEST(JsonWriterTest, ObjectParsesBack) {
  std::string text = ObjectWriter()
                         .String("ARN", "arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf")
                         .Strings("VersionStages", {"AWSCURRENT", "x\"y"})
                         .Strings("Empty", {})
                         .Number("CreatedDate", 1795712106.25)
                         .Number("Whole", 1795712106)
                         .String("SecretString", "{\"username\":\"u\"}")
                         .Finish();
  Json parsed = Json::parse(text);
  EXPECT_EQ(parsed["ARN"], "arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf");
  EXPECT_EQ(parsed["VersionStages"], Json::array({"AWSCURRENT", "x\"y"}));
  EXPECT_EQ(parsed["Empty"], Json::array());
  EXPECT_EQ(parsed["CreatedDate"].get<double>(), 1795712106.25);
  EXPECT_EQ(parsed["Whole"].get<double>(), 1795712106.0);
  EXPECT_EQ(parsed["SecretString"], "{\"username\":\"u\"}");
  EXPECT_EQ(ObjectWriter().Finish(), "{}");
}

}  // namespace
}  // namespace berth::json
