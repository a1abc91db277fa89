#include "aws/json_reader.h"

#include <gtest/gtest.h>

namespace berth::aws {
namespace {

JsonReader Read(std::string_view body) {
  auto reader = JsonReader::Parse(body);
  EXPECT_TRUE(reader.has_value()) << body;
  return *reader;
}

template <class T>
void ExpectError(const Result<T>& result, std::string_view code, std::string_view message) {
  ASSERT_FALSE(result.has_value()) << message;
  EXPECT_EQ(result.error().code, code);
  EXPECT_EQ(result.error().message, message);
  EXPECT_EQ(result.error().http_status, 400);
}

template <class T>
void ExpectSerialization(const Result<T>& result, std::string_view message) {
  ExpectError(result, "SerializationException", message);
}

std::string NullAt(std::string_view path) {
  return "1 validation error detected: Value null at '" + std::string(path) +
         "' failed to satisfy constraint: Member must not be null";
}

TEST(JsonReaderTest, ParseRefusesWhatIsNotAnObject) {
  EXPECT_FALSE(Read("").Has("Anything"));  // an empty body is {}
  ExpectSerialization(JsonReader::Parse("{"), "Request body is not valid JSON.");
  ExpectSerialization(JsonReader::Parse("[1]"), "Request body must be a JSON object.");
  ExpectSerialization(JsonReader::Parse("\"x\""), "Request body must be a JSON object.");
}

TEST(JsonReaderTest, ReadsEveryType) {
  JsonReader in = Read(R"({"S":"text","I":42,"B":true,"D":1.5,"Blob":"aGk=",
      "L":["a","b"],"M":{"k":"v","n":"w"},"O":{"S":"inner"},"Os":[{"S":"one"},{"S":"two"}]})");
  EXPECT_EQ(*in.String("S"), "text");
  EXPECT_EQ(*in.Int("I"), 42);
  EXPECT_EQ(*in.Bool("B"), true);
  EXPECT_EQ(*in.Double("D"), 1.5);
  EXPECT_EQ(*in.Double("I"), 42.0);  // integers are doubles too
  EXPECT_EQ(*in.Blob("Blob"), "hi");
  EXPECT_EQ(*in.Strings("L"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*in.StringMap("M"), (std::map<std::string, std::string>{{"k", "v"}, {"n", "w"}}));
  EXPECT_EQ(*in.Object("O")->String("S"), "inner");
  auto list = in.Objects("Os");
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ(*(*list)[0].String("S"), "one");
  EXPECT_EQ(*(*list)[1].String("S"), "two");
  // The optional forms read the same values.
  EXPECT_EQ(*in.StringOr("S", "fallback"), "text");
  EXPECT_EQ(*in.BoolOr("B", false), true);
  EXPECT_EQ(*in.StringsOr("L"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(in.StringMapOr("M")->size(), 2u);
  EXPECT_EQ(in.ObjectsOr("Os")->size(), 2u);
  EXPECT_EQ(*(*in.OptionalObject("O"))->String("S"), "inner");
}

TEST(JsonReaderTest, AbsentAndNullAreTheSame) {
  JsonReader in = Read(R"({"Null":null})");
  for (std::string_view name : {"Null", "Absent"}) {
    EXPECT_FALSE(in.Has(name));
    EXPECT_EQ(*in.OptionalString(name), std::nullopt);
    EXPECT_EQ(*in.StringOr(name), "");
    EXPECT_EQ(*in.StringOr(name, "fallback"), "fallback");
    EXPECT_EQ(*in.OptionalInt(name), std::nullopt);
    EXPECT_EQ(*in.OptionalBool(name), std::nullopt);
    EXPECT_EQ(*in.BoolOr(name, true), true);
    EXPECT_EQ(*in.OptionalDouble(name), std::nullopt);
    EXPECT_EQ(*in.OptionalBlob(name), std::nullopt);
    EXPECT_EQ(*in.OptionalStrings(name), std::nullopt);
    EXPECT_EQ(*in.OptionalStringMap(name), std::nullopt);
    EXPECT_FALSE(in.OptionalObject(name)->has_value());
    EXPECT_FALSE(in.OptionalObjects(name)->has_value());
    EXPECT_TRUE(in.StringsOr(name)->empty());
    EXPECT_TRUE(in.StringMapOr(name)->empty());
    EXPECT_TRUE(in.ObjectsOr(name)->empty());
  }
}

TEST(JsonReaderTest, MissingRequiredIsValidationExceptionNamingTheMember) {
  JsonReader in = Read(R"({"Null":null})");
  ExpectError(in.String("KeyId"), "ValidationException", NullAt("keyId"));
  ExpectError(in.String("Null"), "ValidationException", NullAt("null"));
  ExpectError(in.Int("NumberOfBytes"), "ValidationException", NullAt("numberOfBytes"));
  ExpectError(in.Bool("Enabled"), "ValidationException", NullAt("enabled"));
  ExpectError(in.Double("Ratio"), "ValidationException", NullAt("ratio"));
  ExpectError(in.Blob("Plaintext"), "ValidationException", NullAt("plaintext"));
  ExpectError(in.Strings("TagKeys"), "ValidationException", NullAt("tagKeys"));
  ExpectError(in.StringMap("Context"), "ValidationException", NullAt("context"));
  ExpectError(in.Object("family"), "ValidationException", NullAt("family"));
  ExpectError(in.Objects("containerDefinitions"), "ValidationException",
              NullAt("containerDefinitions"));
}

TEST(JsonReaderTest, UnknownMembersAreIgnored) {
  JsonReader in = Read(R"({"KeyId":"k","Unknown":{"deep":[1,2,{"x":null}]},"Other":5})");
  EXPECT_EQ(*in.String("KeyId"), "k");
}

TEST(JsonReaderTest, WrongScalarTypesNameTheValueKind) {
  JsonReader in = Read(R"({"S":"1","N":1,"F":1.5,"T":true,"Fa":false,"L":["a"],"O":{"a":1}})");
  // Where a string belongs.
  ExpectSerialization(in.String("N"), "NUMBER_VALUE can not be converted to a String");
  ExpectSerialization(in.String("F"), "NUMBER_VALUE can not be converted to a String");
  ExpectSerialization(in.OptionalString("T"), "TRUE_VALUE can not be converted to a String");
  ExpectSerialization(in.StringOr("Fa"), "FALSE_VALUE can not be converted to a String");
  ExpectSerialization(in.String("L"), "Start of list found where not expected");
  ExpectSerialization(in.String("O"), "Start of structure or map found where not expected.");
  // Where an integer belongs.
  ExpectSerialization(in.Int("S"), "STRING_VALUE can not be converted to an Integer");
  ExpectSerialization(in.OptionalInt("T"), "TRUE_VALUE can not be converted to an Integer");
  ExpectSerialization(in.Int("Fa"), "FALSE_VALUE can not be converted to an Integer");
  ExpectSerialization(in.Int("L"), "Start of list found where not expected");
  ExpectSerialization(in.Int("O"), "Start of structure or map found where not expected.");
  // Where a boolean belongs.
  ExpectSerialization(in.Bool("S"), "STRING_VALUE can not be converted to a Boolean");
  ExpectSerialization(in.BoolOr("N", false), "NUMBER_VALUE can not be converted to a Boolean");
  ExpectSerialization(in.OptionalBool("L"), "Start of list found where not expected");
  // Where a double belongs.
  ExpectSerialization(in.Double("S"), "STRING_VALUE can not be converted to a Double");
  ExpectSerialization(in.OptionalDouble("T"), "TRUE_VALUE can not be converted to a Double");
  ExpectSerialization(in.Double("O"), "Start of structure or map found where not expected.");
  // Where a blob belongs.
  ExpectSerialization(in.Blob("N"), "NUMBER_VALUE can not be converted to a String");
}

TEST(JsonReaderTest, IntegersTruncateAndClamp) {
  JsonReader in = Read(R"({"F":2.9,"Neg":-2.9,"Big":1e300,"Small":-1e300,
      "U":18446744073709551615,"Max":9223372036854775807,"Min":-9223372036854775808})");
  EXPECT_EQ(*in.Int("F"), 2);
  EXPECT_EQ(*in.Int("Neg"), -2);
  EXPECT_EQ(*in.Int("Big"), INT64_MAX);
  EXPECT_EQ(*in.Int("Small"), INT64_MIN);
  EXPECT_EQ(*in.Int("U"), INT64_MAX);
  EXPECT_EQ(*in.Int("Max"), INT64_MAX);
  EXPECT_EQ(*in.Int("Min"), INT64_MIN);
}

TEST(JsonReaderTest, BadBase64NeverEchoesTheValue) {
  JsonReader in = Read(R"({"Plaintext":"s3cr3t!!"})");
  ExpectSerialization(in.Blob("Plaintext"),
                      "Value at 'plaintext' can not be converted to a Blob: invalid Base64.");
  ExpectSerialization(in.OptionalBlob("Plaintext"),
                      "Value at 'plaintext' can not be converted to a Blob: invalid Base64.");
}

TEST(JsonReaderTest, WrongContainerTypes) {
  JsonReader in = Read(R"({"S":"x","N":3,"T":true,"L":["a"],"O":{"a":"b"}})");
  // Where a list belongs.
  for (std::string_view scalar : {"S", "N", "T"}) {
    ExpectSerialization(in.Strings(scalar), "Expected list or null");
    ExpectSerialization(in.Objects(scalar), "Expected list or null");
    ExpectSerialization(in.StringsOr(scalar), "Expected list or null");
    ExpectSerialization(in.ObjectsOr(scalar), "Expected list or null");
  }
  ExpectSerialization(in.OptionalStrings("O"),
                      "Start of structure or map found where not expected.");
  ExpectSerialization(in.OptionalObjects("O"),
                      "Start of structure or map found where not expected.");
  // Where a map belongs.
  for (std::string_view scalar : {"S", "N", "T"}) {
    ExpectSerialization(in.StringMap(scalar), "Expected map or null");
    ExpectSerialization(in.StringMapOr(scalar), "Expected map or null");
  }
  ExpectSerialization(in.OptionalStringMap("L"), "Start of list found where not expected");
  // Where an object belongs.
  for (std::string_view scalar : {"S", "N", "T"}) {
    ExpectSerialization(in.Object(scalar), "Expected null");
  }
  ExpectSerialization(in.OptionalObject("L"), "Start of list found where not expected");
}

TEST(JsonReaderTest, WrongElementTypes) {
  JsonReader in = Read(R"({"Ints":["a",1],"Lists":[["a"]],"Map":{"k":1},"MapOfLists":{"k":[]},
      "ScalarObjects":[{"a":"b"},"x"],"ListObjects":[[{"a":"b"}]]})");
  ExpectSerialization(in.Strings("Ints"), "NUMBER_VALUE can not be converted to a String");
  ExpectSerialization(in.Strings("Lists"), "Start of list found where not expected");
  ExpectSerialization(in.StringMap("Map"), "NUMBER_VALUE can not be converted to a String");
  ExpectSerialization(in.StringMap("MapOfLists"), "Start of list found where not expected");
  ExpectSerialization(in.Objects("ScalarObjects"), "Expected null");
  ExpectSerialization(in.Objects("ListObjects"), "Start of list found where not expected");
}

TEST(JsonReaderTest, NullElementsAreSkipped) {
  JsonReader in = Read(R"({"L":["a",null,"b"],"M":{"k":"v","gone":null},"Os":[null,{"S":"x"}]})");
  EXPECT_EQ(*in.Strings("L"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*in.StringMap("M"), (std::map<std::string, std::string>{{"k", "v"}}));
  auto objects = in.Objects("Os");
  ASSERT_TRUE(objects.has_value());
  ASSERT_EQ(objects->size(), 1u);
  // The path counts the element's place in the list as sent.
  EXPECT_EQ((*objects)[0].PathOf("Name"), "os.2.member.name");
}

TEST(JsonReaderTest, NestedReadersNameMembersByTheirPath) {
  JsonReader in = Read(R"({"containerDefinitions":[
      {"name":"web","repositoryCredentials":{"credentialsParameter":"arn"},
       "logConfiguration":{"options":{"awslogs-group":"g"}}},
      {"image":"nginx","repositoryCredentials":{}}]})");
  auto containers = in.Objects("containerDefinitions");
  ASSERT_TRUE(containers.has_value());
  ASSERT_EQ(containers->size(), 2u);
  const JsonReader& web = (*containers)[0];
  const JsonReader& nginx = (*containers)[1];
  EXPECT_EQ(*web.String("name"), "web");
  EXPECT_EQ(*web.Object("repositoryCredentials")->String("credentialsParameter"), "arn");
  EXPECT_EQ(web.Object("logConfiguration")->StringMap("options")->at("awslogs-group"), "g");
  EXPECT_FALSE(web.Has("image"));

  ExpectError(nginx.String("name"), "ValidationException",
              NullAt("containerDefinitions.2.member.name"));
  auto creds = nginx.Object("repositoryCredentials");
  ASSERT_TRUE(creds.has_value());
  ExpectError(creds->String("credentialsParameter"), "ValidationException",
              NullAt("containerDefinitions.2.member.repositoryCredentials.credentialsParameter"));
  EXPECT_EQ(in.PathOf("Family"), "family");
}

TEST(JsonReaderTest, NestedReadersOutliveTheirParent) {
  std::optional<JsonReader> inner;
  {
    JsonReader in = Read(R"({"Outer":{"Inner":{"Value":"kept"}}})");
    inner = *in.Object("Outer")->Object("Inner");
  }
  EXPECT_EQ(*inner->String("Value"), "kept");
}

}  // namespace
}  // namespace berth::aws
