// AccessControl over real IAM entities: what a caller is for a decision (its
// groups' policies, its boundary, its tags) and credentials that outlive
// their principal.
#include "iam/access_control.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/json.h"
#include "iam/test_iam.h"

namespace berth::iam {
namespace {

constexpr const char* kAccount = kTestAccount;

std::string Allow(std::string_view action, std::string_view effect = "Allow") {
  return fmt::format(R"({{"Version":"2012-10-17","Statement":[{{"Effect":"{}","Action":"{}",)"
                     R"("Resource":"*"}}]}})",
                     effect, action);
}

class AccessControlTest : public IamTest {
 protected:
  AccessControlTest() : IamTest("access_control_test") {}

  // "allowed", or the error code with the decision's message.
  std::string Decide(const aws::RequestContext& ctx, const std::string& action) {
    auto r = access_->Authorize(ctx, action, "*");
    return r ? "allowed" : r.error().code + ": " + r.error().message;
  }
};

TEST_F(AccessControlTest, GroupPoliciesCountForTheirMembers) {
  User gina = *iam_->CreateUser(kAccount, "gina", "/");
  ASSERT_TRUE(iam_->CreateGroup(kAccount, "Readers", "/"));
  ASSERT_TRUE(iam_->PutInlinePolicy(kAccount, PrincipalType::kGroup, "readers", "kms",
                                    Allow("kms:ListKeys")));
  auto ctx = As(gina);
  EXPECT_EQ(Decide(ctx, "kms:ListKeys"),
            "AccessDeniedException: User: arn:aws:iam::123456789012:user/gina is not authorized "
            "to perform: kms:ListKeys because no identity-based policy allows the kms:ListKeys "
            "action");
  ASSERT_TRUE(iam_->AddUserToGroup(kAccount, "READERS", "Gina"));
  EXPECT_EQ(Decide(ctx, "kms:ListKeys"), "allowed");
  // A Deny in a managed policy attached to the group beats the user's own Allow.
  ASSERT_TRUE(iam_->PutInlinePolicy(kAccount, PrincipalType::kUser, "gina", "all", Allow("kms:*")));
  auto deny = iam_->CreatePolicy(kAccount, "NoKms", "/", Allow("kms:ListKeys", "Deny"), "");
  ASSERT_TRUE(deny);
  ASSERT_TRUE(iam_->AttachPolicy(kAccount, PrincipalType::kGroup, "Readers", deny->arn));
  EXPECT_EQ(Decide(ctx, "kms:ListKeys"),
            "AccessDeniedException: User: arn:aws:iam::123456789012:user/gina is not authorized "
            "to perform: kms:ListKeys with an explicit deny in an identity-based policy");
  EXPECT_EQ(Decide(ctx, "kms:DescribeKey"), "allowed");
  ASSERT_TRUE(iam_->RemoveUserFromGroup(kAccount, "Readers", "gina"));
  EXPECT_EQ(Decide(ctx, "kms:ListKeys"), "allowed");
}

TEST_F(AccessControlTest, BoundaryAndPrincipalTagsApply) {
  auto boundary = iam_->CreatePolicy(kAccount, "KmsOnly", "/", Allow("kms:*"), "");
  ASSERT_TRUE(boundary);
  User u = *iam_->CreateUser(kAccount, "u", "/", EntityOptions{boundary->arn, {{"team", "a"}}});
  ASSERT_TRUE(iam_->PutInlinePolicy(kAccount, PrincipalType::kUser, "u", "all", Allow("*")));
  auto ctx = As(u);
  EXPECT_EQ(Decide(ctx, "kms:ListKeys"), "allowed");
  EXPECT_EQ(Decide(ctx, "secretsmanager:ListSecrets"),
            "AccessDeniedException: User: arn:aws:iam::123456789012:user/u is not authorized to "
            "perform: secretsmanager:ListSecrets because no permissions boundary allows the "
            "secretsmanager:ListSecrets action");
  // The boundary's policy deleted: the boundary allows nothing.
  ASSERT_TRUE(iam_->DeletePolicy(boundary->arn));
  EXPECT_NE(Decide(ctx, "kms:ListKeys"), "allowed");
  ASSERT_TRUE(iam_->DeletePermissionsBoundary(kAccount, PrincipalType::kUser, "u"));
  ASSERT_TRUE(iam_->PutInlinePolicy(
      kAccount, PrincipalType::kUser, "u", "tagged",
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*",)"
      R"("Condition":{"StringEquals":{"aws:PrincipalTag/team":"a"}}}]})"));
  EXPECT_NE(Decide(ctx, "kms:ListKeys"), "allowed");
  ASSERT_TRUE(iam_->UntagEntity(kAccount, PrincipalType::kUser, "u", {"TEAM"}));
  EXPECT_EQ(Decide(ctx, "kms:ListKeys"), "allowed");
}

TEST_F(AccessControlTest, CredentialsOfADeletedUserGrantNothingToItsNamesake) {
  User old = *iam_->CreateUser(kAccount, "alice", "/");
  ASSERT_TRUE(iam_->PutInlinePolicy(kAccount, PrincipalType::kUser, "alice", "p", Allow("*")));
  auto ctx = As(old);
  EXPECT_EQ(Decide(ctx, "kms:ListKeys"), "allowed");
  ASSERT_TRUE(iam_->DeleteInlinePolicy(kAccount, PrincipalType::kUser, "alice", "p"));
  ASSERT_TRUE(iam_->DeleteUser(kAccount, "alice", false));
  User fresh = *iam_->CreateUser(kAccount, "ALICE", "/");
  ASSERT_TRUE(iam_->PutInlinePolicy(kAccount, PrincipalType::kUser, "alice", "p", Allow("*")));
  EXPECT_NE(fresh.id, old.id);
  EXPECT_EQ(Decide(ctx, "kms:ListKeys"),
            "AccessDeniedException: User: arn:aws:iam::123456789012:user/alice is not "
            "authorized to perform: kms:ListKeys because no identity-based policy allows the "
            "kms:ListKeys action");
  EXPECT_EQ(Decide(As(fresh), "kms:ListKeys"), "allowed");
}

TEST_F(AccessControlTest, SecureTransportIsTheRequestsTls) {
  User u = *iam_->CreateUser(kAccount, "tls", "/");
  ASSERT_TRUE(iam_->PutInlinePolicy(
      kAccount, PrincipalType::kUser, "tls", "p",
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*",)"
      R"("Condition":{"Bool":{"aws:SecureTransport":"true"}}}]})"));
  auto ctx = As(u);
  EXPECT_EQ(Decide(ctx, "kms:ListKeys"),
            "AccessDeniedException: User: arn:aws:iam::123456789012:user/tls is not authorized "
            "to perform: kms:ListKeys because no identity-based policy allows the kms:ListKeys "
            "action");
  ctx.secure_transport = true;
  EXPECT_EQ(Decide(ctx, "kms:ListKeys"), "allowed");
}

TEST_F(AccessControlTest, SessionTokensOfUsersCannotCallIam) {
  User u = *iam_->CreateUser(kAccount, "u", "/");
  ASSERT_TRUE(iam_->PutInlinePolicy(kAccount, PrincipalType::kUser, "u", "all", Allow("*")));
  auto ctx = As(u);
  EXPECT_EQ(Decide(ctx, "iam:ListUsers"), "allowed");
  ctx.caller.expiration = clock_.Now() + std::chrono::hours(1);  // a GetSessionToken session
  EXPECT_EQ(Decide(ctx, "iam:ListUsers"),
            "InvalidClientTokenId: The security token included in the request is invalid");
  EXPECT_EQ(Decide(ctx, "IAM:ListUsers"),
            "InvalidClientTokenId: The security token included in the request is invalid");
  EXPECT_EQ(Decide(ctx, "kms:ListKeys"), "allowed");
}

TEST_F(AccessControlTest, OnlyTheOperatorRootMayCallTheOperatorApi) {
  aws::RequestContext root;
  root.caller.kind = aws::Principal::Kind::kRoot;
  root.caller.account = kAccount;
  root.caller.arn = fmt::format("arn:aws:iam::{}:root", kAccount);
  EXPECT_TRUE(access_->AuthorizeOperator(root, "berth:CreateAccount", kAccount));

  aws::RequestContext other = root;
  other.caller.account = "222233334444";
  other.caller.arn = "arn:aws:iam::222233334444:root";
  auto denied = access_->AuthorizeOperator(other, "berth:CreateAccount", kAccount);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, "AccessDeniedException");
  EXPECT_EQ(denied.error().http_status, 403);
  EXPECT_EQ(denied.error().message,
            "User: arn:aws:iam::222233334444:root is not authorized to perform: "
            "berth:CreateAccount on resource: arn:aws:berth:::account because only the "
            "operator account's root may manage accounts");

  // A user of the operator account is refused even with every permission.
  User u = *iam_->CreateUser(kAccount, "admin", "/");
  ASSERT_TRUE(iam_->PutInlinePolicy(kAccount, PrincipalType::kUser, "admin", "all", Allow("*")));
  auto user = access_->AuthorizeOperator(As(u), "berth:ListAccounts", kAccount);
  ASSERT_FALSE(user);
  EXPECT_EQ(user.error().message,
            fmt::format("User: {} is not authorized to perform: berth:ListAccounts on resource: "
                        "arn:aws:berth:::account because only the operator account's root may "
                        "manage accounts",
                        u.arn));
}

}  // namespace
}  // namespace berth::iam
