#include "secrets/validation.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::secrets {
namespace {

// `status` is any Result (or an unexpected Error).
template <class R>
void ExpectError(const R& status, const std::string& code, const std::string& message) {
  ASSERT_FALSE(status) << "expected " << code;
  EXPECT_EQ(status.error().code, code);
  EXPECT_EQ(status.error().message, message);
  EXPECT_EQ(status.error().http_status, 400);
}

void ExpectError(const std::unexpected<Error>& error, const std::string& code,
                 const std::string& message) {
  ExpectError(Status(error), code, message);
}

TEST(SecretsValidationTest, InvalidShowsTheValueOrLeavesItOut) {
  ExpectError(Invalid("sortOrder", "up", "satisfy enum value set: [asc, desc]"),
              "ValidationException",
              "1 validation error detected: Value 'up' at 'sortOrder' failed to satisfy "
              "constraint: Member must satisfy enum value set: [asc, desc]");
  ExpectError(Invalid("versionStages", std::nullopt, "have length greater than or equal to 1"),
              "ValidationException",
              "1 validation error detected: Value at 'versionStages' failed to satisfy "
              "constraint: Member must have length greater than or equal to 1");
}

TEST(SecretsValidationTest, InvalidShowsAtMost256BytesCutAtACharacter) {
  // 255 ASCII bytes and a 2-byte character: the cut would split it.
  std::string value = std::string(255, 'a') + "\xc3\xa9" + "tail";
  auto error = Invalid("name", value, "x");
  EXPECT_EQ(error.error().message, "1 validation error detected: Value '" + std::string(255, 'a') +
                                       "' at 'name' failed to satisfy constraint: Member must x");
}

TEST(SecretsValidationTest, CheckLengthBoundsAndSensitiveValues) {
  EXPECT_TRUE(CheckLength("versionId", std::string(32, 'v'), 32, 64));
  EXPECT_TRUE(CheckLength("versionId", std::string(64, 'v'), 32, 64));
  ExpectError(CheckLength("versionId", "short", 32, 64), "ValidationException",
              "1 validation error detected: Value 'short' at 'versionId' failed to satisfy "
              "constraint: Member must have length greater than or equal to 32");
  ExpectError(CheckLength("secretString", "hunter2", 0, 3, /*sensitive=*/true),
              "ValidationException",
              "1 validation error detected: Value at 'secretString' failed to satisfy "
              "constraint: Member must have length less than or equal to 3");
}

TEST(SecretsValidationTest, NamesAllowAwsCharactersOnly) {
  EXPECT_TRUE(ValidateName("prod/db_user+1=a.b@c-d"));
  ExpectError(ValidateName("a b"), "InvalidParameterException",
              "Invalid name. Must be a valid name containing alphanumeric characters, or any of "
              "the following: -/_+=.@!");
  ExpectError(ValidateName(""), "ValidationException",
              "1 validation error detected: Value '' at 'name' failed to satisfy constraint: "
              "Member must have length greater than or equal to 1");
  EXPECT_TRUE(ValidateName(std::string(kMaxNameLength, 'n')));
  EXPECT_FALSE(ValidateName(std::string(kMaxNameLength + 1, 'n')));
}

TEST(SecretsValidationTest, TokensAreEmptyOr32To64Characters) {
  EXPECT_TRUE(ValidateToken(""));
  EXPECT_TRUE(ValidateToken(std::string(36, 't')));
  ExpectError(ValidateToken(std::string(65, 't')), "ValidationException",
              "1 validation error detected: Value '" + std::string(65, 't') +
                  "' at 'clientRequestToken' failed to satisfy constraint: Member must have "
                  "length less than or equal to 64");
}

TEST(SecretsValidationTest, StagesAreOneToTwentyLabels) {
  EXPECT_TRUE(ValidateStages({"AWSCURRENT", "mine"}));
  ExpectError(ValidateStages({}), "ValidationException",
              "1 validation error detected: Value at 'versionStages' failed to satisfy "
              "constraint: Member must have length greater than or equal to 1");
  ExpectError(ValidateStages(std::vector<std::string>(21, "s")), "ValidationException",
              "1 validation error detected: Value at 'versionStages' failed to satisfy "
              "constraint: Member must have length less than or equal to 20");
  ExpectError(ValidateStages({""}), "ValidationException",
              "1 validation error detected: Value '' at 'versionStages.member' failed to "
              "satisfy constraint: Member must have length greater than or equal to 1");
}

TEST(SecretsValidationTest, TagKeysMayNotUseTheAwsPrefixInAnyCase) {
  EXPECT_TRUE(ValidateTags({{"team", ""}, {"awsome", "yes"}}));
  ExpectError(ValidateTags({{"AWS:owner", "x"}}), "InvalidParameterException",
              "Invalid tag key AWS:owner: the aws: prefix is reserved for AWS use.");
  ExpectError(ValidateTags({{"", "x"}}), "ValidationException",
              "1 validation error detected: Value '' at 'tags.member.key' failed to satisfy "
              "constraint: Member must have length greater than or equal to 1");
  EXPECT_TRUE(CheckTagCount(kMaxTags));
  ExpectError(CheckTagCount(kMaxTags + 1), "InvalidParameterException",
              "A secret can have at most 50 tags.");
}

TEST(SecretsValidationTest, ValueIsExactlyOneOfStringOrBinary) {
  ValueInput both{"s", "b"};
  auto r = ToValue(both, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "InvalidParameterException");
  EXPECT_EQ(r.error().message,
            "You can't specify both a binary secret value and a string secret value in the same "
            "secret.");

  auto neither = ToValue({}, /*required=*/true);
  ASSERT_FALSE(neither);
  EXPECT_EQ(neither.error().message, "You must provide either SecretString or SecretBinary.");
  auto optional = ToValue({}, /*required=*/false);
  ASSERT_TRUE(optional);
  EXPECT_FALSE(*optional);

  auto binary = ToValue({std::nullopt, std::string("\x00\x01", 2)}, true);
  ASSERT_TRUE(binary && *binary);
  EXPECT_EQ((*binary)->type, SecretValue::Type::kBinary);
  EXPECT_EQ((*binary)->data, std::string("\x00\x01", 2));

  auto big = ToValue({std::string(kMaxValueBytes + 1, 'x'), std::nullopt}, true);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().message,
            "1 validation error detected: Value at 'secretString' failed to satisfy constraint: "
            "Member must have length less than or equal to 65536");
}

TEST(SecretsValidationTest, ResourcePoliciesMustParse) {
  EXPECT_TRUE(ParseResourcePolicy(
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":)"
      R"("arn:aws:iam::111122223333:root"},"Action":"secretsmanager:GetSecretValue",)"
      R"("Resource":"*"}]})"));
  auto bad = ParseResourcePolicy("{not json");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "MalformedPolicyDocumentException");
  ExpectError(ParseResourcePolicy(""), "ValidationException",
              "1 validation error detected: Value '' at 'resourcePolicy' failed to satisfy "
              "constraint: Member must have length greater than or equal to 1");
}

TEST(SecretsValidationTest, PageTokensRoundTripAndPageSizesAreBounded) {
  auto back = ParsePageToken(PageToken("00000001/db"));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, "00000001/db");
  ExpectError(ParsePageToken("!!!"), "InvalidNextTokenException",
              "The NextToken value is invalid.");
  ExpectError(ParsePageToken(""), "InvalidNextTokenException", "The NextToken value is invalid.");

  EXPECT_EQ(PageSize(std::nullopt, 100, 100).value(), 100u);
  EXPECT_EQ(PageSize(20, 20, 20).value(), 20u);
  ExpectError(PageSize(21, 20, 20), "ValidationException",
              "1 validation error detected: Value '21' at 'maxResults' failed to satisfy "
              "constraint: Member must have value less than or equal to 20");
  ExpectError(PageSize(0, 100, 100), "ValidationException",
              "1 validation error detected: Value '0' at 'maxResults' failed to satisfy "
              "constraint: Member must have value greater than or equal to 1");
}

}  // namespace
}  // namespace berth::secrets
