#include "secrets/resolution.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace berth::secrets {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kMine[] = "111122223333";
constexpr char kOther[] = "444455556666";
constexpr char kEast[] = "us-east-1";

std::vector<SecretCandidate> Read(const std::string& id) {
  auto r = ReadSecretId(kMine, kEast, id);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : std::vector<SecretCandidate>{};
}

SecretCandidate At(const std::string& account, const std::string& region, const std::string& name,
                   bool must_match_arn = false) {
  return {{account, region, name}, must_match_arn};
}

TEST(SecretsResolutionTest, ANameIsLookedUpInTheCallersAccountAndRegion) {
  EXPECT_THAT(Read("prod/db"), ElementsAre(At(kMine, kEast, "prod/db")));
  // A name shaped like "<name>-<6>" is just a name.
  EXPECT_THAT(Read("db-AbCdEf"), ElementsAre(At(kMine, kEast, "db-AbCdEf")));
}

TEST(SecretsResolutionTest, AFullArnReadsAsTheSecretWithThatArnThenAsAName) {
  EXPECT_THAT(Read("arn:aws:secretsmanager:eu-west-1:444455556666:secret:prod/db-AbCdEf"),
              ElementsAre(At(kOther, "eu-west-1", "prod/db", /*must_match_arn=*/true),
                          At(kOther, "eu-west-1", "prod/db-AbCdEf")));
}

TEST(SecretsResolutionTest, APartialArnNamesTheSecretWhereTheArnSays) {
  EXPECT_THAT(Read("arn:aws:secretsmanager:us-west-2:111122223333:secret:prod/db"),
              ElementsAre(At(kMine, "us-west-2", "prod/db")));
  // Seven characters or fewer cannot carry a name and a suffix.
  EXPECT_THAT(Read("arn:aws:secretsmanager:us-east-1:111122223333:secret:-AbCdEf"),
              ElementsAre(At(kMine, kEast, "-AbCdEf")));
  EXPECT_THAT(Read("arn:aws:secretsmanager:us-east-1:111122223333:secret:a-AbCdE"),
              ElementsAre(At(kMine, kEast, "a-AbCdE")));
}

TEST(SecretsResolutionTest, ArnsOfOtherThingsNameNothing) {
  EXPECT_THAT(Read("arn:aws:kms:us-east-1:111122223333:key/abc"), IsEmpty());
  EXPECT_THAT(Read("arn:aws:secretsmanager:us-east-1:111122223333:other:x"), IsEmpty());
  EXPECT_THAT(Read("arn:aws:secretsmanager::111122223333:secret:x"), IsEmpty());
  EXPECT_THAT(Read("arn:aws:secretsmanager:us-east-1:aws:secret:x"), IsEmpty());
}

TEST(SecretsResolutionTest, BadIdsAreErrors) {
  auto empty = ReadSecretId(kMine, kEast, "");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, "ValidationException");
  EXPECT_EQ(empty.error().message,
            "1 validation error detected: Value '' at 'secretId' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1");
  auto long_id = ReadSecretId(kMine, kEast, std::string(2049, 'x'));
  ASSERT_FALSE(long_id);
  EXPECT_EQ(long_id.error().code, "ValidationException");
  EXPECT_TRUE(ReadSecretId(kMine, kEast, std::string(2048, 'x')));

  auto malformed = ReadSecretId(kMine, kEast, "arn:aws");
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, "InvalidParameterException");
}

TEST(SecretsResolutionTest, SecretArnsComeApartAndTogether) {
  std::string arn = MakeSecretArn(kOther, "eu-west-1", "prod/db", "AbCdEf");
  EXPECT_EQ(arn, "arn:aws:secretsmanager:eu-west-1:444455556666:secret:prod/db-AbCdEf");
  auto parts = ParseSecretArn(arn);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->account, kOther);
  EXPECT_EQ(parts->region, "eu-west-1");
  EXPECT_EQ(parts->resource_name, "prod/db-AbCdEf");
  EXPECT_EQ(WithoutSuffix(parts->resource_name), "prod/db");
  EXPECT_EQ(WithoutSuffix("prod/db"), "prod/db");
  EXPECT_EQ(WithoutSuffix("-AbCdEf"), "-AbCdEf");

  EXPECT_FALSE(ParseSecretArn("arn:aws:kms:us-east-1:111122223333:key/abc"));
  EXPECT_FALSE(ParseSecretArn("prod/db"));
}

TEST(SecretsResolutionTest, ForeignAccountIsAnotherValidAccountInAnArn) {
  EXPECT_EQ(ForeignAccount(kMine, "arn:aws:secretsmanager:us-east-1:444455556666:secret:x"),
            kOther);
  // Any service: the caller learns nothing about a resource it cannot see.
  EXPECT_EQ(ForeignAccount(kMine, "arn:aws:kms:us-east-1:444455556666:key/x"), kOther);
  EXPECT_EQ(ForeignAccount(kMine, "arn:aws:secretsmanager:us-east-1:111122223333:secret:x"), "");
  EXPECT_EQ(ForeignAccount(kMine, "arn:aws:secretsmanager:us-east-1:aws:secret:x"), "");
  EXPECT_EQ(ForeignAccount(kMine, "444455556666"), "");
}

TEST(SecretsResolutionTest, NotFoundIsAwsWording) {
  Status status = SecretNotFound();
  EXPECT_EQ(status.error().code, "ResourceNotFoundException");
  EXPECT_EQ(status.error().message, "Secrets Manager can't find the specified secret.");
}

}  // namespace
}  // namespace berth::secrets
