#include "common/json.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace berth::json {
namespace {

void ExpectSerializationError(std::string_view body) {
  auto parsed = ParseObject(body);
  ASSERT_FALSE(parsed.has_value()) << body;
  EXPECT_EQ(parsed.error().code, "SerializationException") << body;
  EXPECT_EQ(parsed.error().http_status, 400) << body;
}

TEST(JsonTest, EmptyBodyIsEmptyObject) {
  auto parsed = ParseObject("");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed->is_object());
  EXPECT_TRUE(parsed->empty());
}

TEST(JsonTest, ParsesObject) {
  auto parsed = ParseObject(R"({"Name":"db","Count":3,"Tags":[{"Key":"k"}]})");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ((*parsed)["Name"], "db");
  EXPECT_EQ((*parsed)["Count"], 3);
  EXPECT_EQ((*parsed)["Tags"][0]["Key"], "k");
  auto empty = ParseObject("{}");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->is_object());
  EXPECT_TRUE(empty->empty());
}

TEST(JsonTest, NonJsonIsSerializationException) {
  ExpectSerializationError("not json");
  ExpectSerializationError("{\"Name\":");
  ExpectSerializationError("{\"Name\":\"db\"} trailing");
  ExpectSerializationError("{'Name':'db'}");
  ExpectSerializationError("   ");
  EXPECT_EQ(ParseObject("nope").error().message, "Request body is not valid JSON.");
}

TEST(JsonTest, NonObjectIsSerializationException) {
  ExpectSerializationError("[]");
  ExpectSerializationError(R"([{"Name":"db"}])");
  ExpectSerializationError("\"text\"");
  ExpectSerializationError("42");
  ExpectSerializationError("null");
  ExpectSerializationError("true");
  EXPECT_EQ(ParseObject("[1]").error().message, "Request body must be a JSON object.");
}

TEST(JsonTest, OptionalString) {
  Json object = Json::parse(R"({"Name":"db","Empty":"","Null":null,"Number":5,"List":["a"]})");

  auto name = OptionalString(object, "Name");
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(*name, std::optional<std::string>("db"));

  auto empty = OptionalString(object, "Empty");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(*empty, std::optional<std::string>(""));

  auto absent = OptionalString(object, "Missing");
  ASSERT_TRUE(absent.has_value());
  EXPECT_EQ(*absent, std::nullopt);

  auto null = OptionalString(object, "Null");
  ASSERT_TRUE(null.has_value());
  EXPECT_EQ(*null, std::nullopt);

  auto number = OptionalString(object, "Number");
  ASSERT_FALSE(number.has_value());
  EXPECT_EQ(number.error().code, "SerializationException");
  EXPECT_EQ(number.error().message, "'Number' must be a string.");

  auto list = OptionalString(object, "List");
  ASSERT_FALSE(list.has_value());
  EXPECT_EQ(list.error().code, "SerializationException");
}

TEST(JsonTest, Dump) {
  EXPECT_EQ(Dump(Json::object()), "{}");
  EXPECT_EQ(Dump(Json{{"a", 1}, {"b", "x\"y"}}), R"({"a":1,"b":"x\"y"})");
  // Invalid UTF-8 becomes U+FFFD instead of throwing.
  EXPECT_EQ(Dump(Json("a\xff")), "\"a\xef\xbf\xbd\"");
}

}  // namespace
}  // namespace berth::json
