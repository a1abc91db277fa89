// Envelope encryption against the real KMS (SQLite store, IAM policies).
#include "secrets/envelope.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/ids.h"
#include "crypto/root_key.h"
#include "iam/access_control.h"
#include "iam/identity_store.h"
#include "iam/service.h"
#include "kms/test_world.h"
#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace berth::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kA[] = "111122223333";
constexpr char kEast[] = "us-east-1";
constexpr char kValue[] = "hunter2-Zq9";

class EnvelopeTest : public kms::testing::WorldTest {
 protected:
  EnvelopeTest() : kms::testing::WorldTest("envelope_test") {}

  void SetUp() override {
    BuildWorld({kA});
    secret_.account = kA;
    secret_.region = kEast;
    secret_.name = "db";
    secret_.arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf";
  }

  aws::RequestContext Root(const std::string& region = kEast) {
    aws::RequestContext ctx;
    ctx.caller.kind = aws::Principal::Kind::kRoot;
    ctx.caller.account = kA;
    ctx.caller.arn = fmt::format("arn:aws:iam::{}:root", kA);
    ctx.caller.user_id = kA;
    ctx.caller.access_key_id = "AKIAROOT";
    ctx.region = region;
    ctx.request_id = "req";
    ctx.now = clock_.Now();
    return ctx;
  }

  // A role session of the account with no policy of its own.
  aws::RequestContext Unprivileged() {
    auto role = iam_->GetRole(kA, "none");
    if (!role) {
      role = iam_->CreateRole(
          kA, "none", "/",
          fmt::format(
              R"({{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",)"
              R"("Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sts:AssumeRole"}}]}})",
              kA),
          "", std::nullopt);
    }
    EXPECT_TRUE(role) << role.error().message;
    aws::RequestContext ctx = Root();
    ctx.caller.kind = aws::Principal::Kind::kAssumedRole;
    ctx.caller.arn = fmt::format("arn:aws:sts::{}:assumed-role/none/task", kA);
    ctx.caller.user_id = role->id + ":task";
    ctx.caller.name = "none";
    ctx.caller.session_name = "task";
    ctx.caller.access_key_id = "ASIATESTSESSION0001";
    return ctx;
  }

  std::string CustomerKey() {
    auto ctx = Root();
    auto key = kms_->CreateKey(kms::Caller{ctx, ""}, "test key", "", {});
    EXPECT_TRUE(key) << key.error().message;
    return key->arn;
  }

  Secret secret_;
};

TEST_F(EnvelopeTest, ViaServiceAndManagedKeyIds) {
  EXPECT_EQ(ViaService("eu-west-1"), "secretsmanager.eu-west-1.amazonaws.com");
  EXPECT_TRUE(IsManaged(""));
  EXPECT_TRUE(IsManaged("alias/aws/secretsmanager"));
  EXPECT_FALSE(IsManaged("alias/mine"));
}

TEST_F(EnvelopeTest, SealsUnderTheManagedKeyAndOpensAsTheCaller) {
  auto managed = ManagedKeyArn(*kms_, Root(), kEast);
  ASSERT_TRUE(managed) << managed.error().message;
  EXPECT_THAT(*managed, StartsWith("arn:aws:kms:us-east-1:111122223333:key/"));
  secret_.key_arn = *managed;

  auto sealed = SealValue(*kms_, Root(), secret_, "v1", {SecretValue::Type::kString, kValue});
  ASSERT_TRUE(sealed) << sealed.error().message;
  EXPECT_EQ(sealed->key_arn, *managed);
  EXPECT_EQ(sealed->type, SecretValue::Type::kString);
  EXPECT_FALSE(sealed->data_key.empty());
  EXPECT_THAT(sealed->sealed, Not(HasSubstr(kValue)));

  // From another region the secret's region's KMS is asked.
  auto opened = OpenValue(*kms_, Root("us-west-2"), secret_, ViaService(kEast), "v1", *sealed);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->type, SecretValue::Type::kString);
  EXPECT_EQ(opened->data, kValue);
}

TEST_F(EnvelopeTest, SealsUnderTheOwnersKeyIdUntilTheKeyArnIsKnown) {
  std::string key = CustomerKey();
  secret_.kms_key_id = key;
  auto sealed = SealValue(*kms_, Root(), secret_, "v1", {SecretValue::Type::kBinary, "\x01\x02"});
  ASSERT_TRUE(sealed) << sealed.error().message;
  EXPECT_EQ(sealed->key_arn, key);
  auto opened = OpenValue(*kms_, Root(), secret_, ViaService(kEast), "v1", *sealed);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->type, SecretValue::Type::kBinary);
  EXPECT_EQ(opened->data, "\x01\x02");
}

TEST_F(EnvelopeTest, ASealedValueOpensOnlyAsItsVersionAndType) {
  secret_.kms_key_id = CustomerKey();
  auto sealed = SealValue(*kms_, Root(), secret_, "v1", {SecretValue::Type::kString, kValue});
  ASSERT_TRUE(sealed) << sealed.error().message;

  // Another version: KMS's encryption context no longer matches.
  auto other_version = OpenValue(*kms_, Root(), secret_, ViaService(kEast), "v2", *sealed);
  ASSERT_FALSE(other_version);
  EXPECT_EQ(other_version.error().code, "DecryptionFailure");
  EXPECT_THAT(other_version.error().message,
              StartsWith("Secrets Manager can't decrypt the protected secret text using the "
                         "provided KMS key. InvalidCiphertextException: "));

  // Another type: the data key opens, the associated data does not match.
  SealedValue retyped = *sealed;
  retyped.type = SecretValue::Type::kBinary;
  auto other_type = OpenValue(*kms_, Root(), secret_, ViaService(kEast), "v1", retyped);
  ASSERT_FALSE(other_type);
  EXPECT_EQ(other_type.error().code, "DecryptionFailure");
  EXPECT_EQ(other_type.error().message,
            "Secrets Manager can't decrypt the protected secret text using the provided KMS key: "
            "the stored value does not authenticate.");
}

TEST_F(EnvelopeTest, KmsDenialsNameTheKmsAction) {
  secret_.kms_key_id = CustomerKey();
  auto sealed =
      SealValue(*kms_, Unprivileged(), secret_, "v1", {SecretValue::Type::kString, kValue});
  ASSERT_FALSE(sealed);
  EXPECT_EQ(sealed.error().code, "AccessDeniedException");
  EXPECT_THAT(sealed.error().message, StartsWith("Access to KMS is not allowed: "));
  EXPECT_THAT(sealed.error().message, HasSubstr("kms:GenerateDataKey"));
  EXPECT_THAT(sealed.error().message, Not(HasSubstr(kValue)));

  auto mine = SealValue(*kms_, Root(), secret_, "v1", {SecretValue::Type::kString, kValue});
  ASSERT_TRUE(mine) << mine.error().message;
  auto opened = OpenValue(*kms_, Unprivileged(), secret_, ViaService(kEast), "v1", *mine);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "AccessDeniedException");
  EXPECT_THAT(opened.error().message, HasSubstr("kms:Decrypt"));
}

TEST(EnvelopeWipeTest, WipeClears) {
  std::string plain = kValue;
  Wipe(plain);
  EXPECT_TRUE(plain.empty());
}

}  // namespace
}  // namespace berth::secrets
