#include "common/arn.h"

#include <gtest/gtest.h>

#include <string>

namespace berth {
namespace {

// Parses `text`, checks every part, and checks ToString gives `text` back.
void ExpectRoundTrip(const std::string& text, const Arn& expected) {
  auto arn = ParseArn(text);
  ASSERT_TRUE(arn.has_value()) << text << ": " << arn.error().message;
  EXPECT_EQ(arn->partition, expected.partition);
  EXPECT_EQ(arn->service, expected.service);
  EXPECT_EQ(arn->region, expected.region);
  EXPECT_EQ(arn->account, expected.account);
  EXPECT_EQ(arn->resource, expected.resource);
  EXPECT_EQ(*arn, expected);
  EXPECT_EQ(arn->ToString(), text);
}

TEST(ArnTest, SecretsManagerRoundTrip) {
  ExpectRoundTrip("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
                  Arn{"aws", "secretsmanager", "us-east-1", "123456789012", "secret:db-AbCdEf"});
}

TEST(ArnTest, IamHasNoRegion) {
  ExpectRoundTrip("arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
                  Arn{"aws", "iam", "", "123456789012", "role/ecsTaskExecutionRole"});
}

TEST(ArnTest, KmsKey) {
  ExpectRoundTrip("arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                  Arn{"aws", "kms", "eu-central-1", "111122223333",
                      "key/1234abcd-12ab-34cd-56ef-1234567890ab"});
}

TEST(ArnTest, StsAssumedRole) {
  ExpectRoundTrip("arn:aws:sts::123456789012:assumed-role/app-role/session-1",
                  Arn{"aws", "sts", "", "123456789012", "assumed-role/app-role/session-1"});
}

TEST(ArnTest, AwsManagedPolicyHasAccountAws) {
  ExpectRoundTrip("arn:aws:iam::aws:policy/AdministratorAccess",
                  Arn{"aws", "iam", "", "aws", "policy/AdministratorAccess"});
}

TEST(ArnTest, OtherPartitionsAndGovRegion) {
  ExpectRoundTrip("arn:aws-cn:s3:::bucket", Arn{"aws-cn", "s3", "", "", "bucket"});
  ExpectRoundTrip("arn:aws-us-gov:ecs:us-gov-west-1:123456789012:cluster/default",
                  Arn{"aws-us-gov", "ecs", "us-gov-west-1", "123456789012", "cluster/default"});
}

TEST(ArnTest, ResourceWithColonsAndSlashesKeptWhole) {
  auto arn = ParseArn("arn:aws:secretsmanager:us-east-1:123456789012:secret:a/b:c/d-XyZabc");
  ASSERT_TRUE(arn.has_value());
  EXPECT_EQ(arn->resource, "secret:a/b:c/d-XyZabc");
  EXPECT_EQ(arn->account, "123456789012");

  auto log_group = ParseArn("arn:aws:logs:us-west-2:123456789012:log-group:/ecs/app:*");
  ASSERT_TRUE(log_group.has_value());
  EXPECT_EQ(log_group->resource, "log-group:/ecs/app:*");
}

TEST(ArnTest, DefaultPartitionIsAws) {
  Arn arn;
  arn.service = "iam";
  arn.account = "123456789012";
  arn.resource = "user/alice";
  EXPECT_EQ(arn.ToString(), "arn:aws:iam::123456789012:user/alice");
}

void ExpectInvalid(const std::string& text, const std::string& why) {
  auto arn = ParseArn(text);
  ASSERT_FALSE(arn.has_value()) << text;
  EXPECT_EQ(arn.error().code, "InvalidParameterException") << text;
  EXPECT_EQ(arn.error().http_status, 400) << text;
  EXPECT_TRUE(arn.error().IsSenderFault());
  EXPECT_NE(arn.error().message.find(why), std::string::npos)
      << text << ": " << arn.error().message;
}

TEST(ArnTest, MissingPrefix) {
  ExpectInvalid("aws:iam::123456789012:role/x", "must start with 'arn:'");
  ExpectInvalid("ARN:aws:iam::123456789012:role/x", "must start with 'arn:'");
  ExpectInvalid("", "must start with 'arn:'");
  EXPECT_FALSE(LooksLikeArn("my-secret"));
  EXPECT_TRUE(LooksLikeArn("arn:whatever"));
}

TEST(ArnTest, TooFewParts) {
  ExpectInvalid("arn:aws:iam::123456789012", "six ':'-separated parts");
  ExpectInvalid("arn:aws:iam", "six ':'-separated parts");
  ExpectInvalid("arn:", "six ':'-separated parts");
}

TEST(ArnTest, BadAccount) {
  ExpectInvalid("arn:aws:iam::12345678901:role/x", "account id must be 12 digits");
  ExpectInvalid("arn:aws:iam::1234567890123:role/x", "account id must be 12 digits");
  ExpectInvalid("arn:aws:iam::12345678901a:role/x", "account id must be 12 digits");
  ExpectInvalid("arn:aws:iam::AWS:role/x", "account id must be 12 digits");
}

TEST(ArnTest, BadRegion) {
  ExpectInvalid("arn:aws:kms:US-EAST-1:123456789012:key/k", "malformed region");
  ExpectInvalid("arn:aws:kms:useast:123456789012:key/k", "malformed region");
  ExpectInvalid("arn:aws:kms:us-east-1a:123456789012:key/k", "malformed region");
}

TEST(ArnTest, EmptyResource) { ExpectInvalid("arn:aws:iam::123456789012:", "empty resource"); }

TEST(ArnTest, BadPartitionAndService) {
  ExpectInvalid("arn:azure:iam::123456789012:role/x", "unknown partition");
  ExpectInvalid("arn::iam::123456789012:role/x", "unknown partition");
  ExpectInvalid("arn:aws::us-east-1:123456789012:thing", "empty service");
  ExpectInvalid("arn:aws:IAM::123456789012:role/x", "malformed service");
}

TEST(ArnTest, TooLong) {
  std::string text = "arn:aws:iam::123456789012:role/" + std::string(2048, 'r');
  ExpectInvalid(text, "longer than 2048 characters");
}

TEST(ArnTest, IsRegionName) {
  EXPECT_TRUE(IsRegionName("us-east-1"));
  EXPECT_TRUE(IsRegionName("eu-central-2"));
  EXPECT_TRUE(IsRegionName("us-gov-west-1"));
  EXPECT_TRUE(IsRegionName("ap-southeast-10"));
  EXPECT_FALSE(IsRegionName(""));
  EXPECT_FALSE(IsRegionName("us-east"));
  EXPECT_FALSE(IsRegionName("us-east-"));
  EXPECT_FALSE(IsRegionName("-east-1"));
  EXPECT_FALSE(IsRegionName("us--east-1"));
  EXPECT_FALSE(IsRegionName("US-east-1"));
  EXPECT_FALSE(IsRegionName("us_east-1"));
  EXPECT_FALSE(IsRegionName("us-east-1a"));
  EXPECT_FALSE(IsRegionName("-1"));
  EXPECT_FALSE(IsRegionName(std::string(31, 'a') + "-1"));
}

TEST(ArnTest, IsAccountId) {
  EXPECT_TRUE(IsAccountId("123456789012"));
  EXPECT_TRUE(IsAccountId("000000000000"));
  EXPECT_FALSE(IsAccountId(""));
  EXPECT_FALSE(IsAccountId("12345678901"));
  EXPECT_FALSE(IsAccountId("1234567890123"));
  EXPECT_FALSE(IsAccountId("12345678901x"));
  EXPECT_FALSE(IsAccountId("aws"));
  EXPECT_FALSE(IsAccountId("-12345678901"));
}

}  // namespace
}  // namespace berth
