// iam::Api: every IAM operation is authorized here, on the entity as stored,
// before anything about it is told.
#include "iam/api.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "iam/test_iam.h"

namespace berth::iam {
namespace {

constexpr const char* kAccount = kTestAccount;

std::string Doc(std::string_view effect, std::string_view action, std::string_view resource,
                std::string_view condition = "") {
  return fmt::format(R"({{"Version":"2012-10-17","Statement":[{{"Effect":"{}","Action":"{}",)"
                     R"("Resource":"{}"{}}}]}})",
                     effect, action, resource,
                     condition.empty() ? "" : fmt::format(R"(,"Condition":{})", condition));
}

std::string UserArn(std::string_view path_and_name) {
  return fmt::format("arn:aws:iam::{}:user/{}", kAccount, path_and_name);
}

// "ok", or the error's code and message.
template <class T>
std::string Outcome(const Result<T>& r) {
  return r ? "ok" : r.error().code + ": " + r.error().message;
}

class ApiTest : public IamTest {
 protected:
  ApiTest() : IamTest("iam_api_test"), api_(std::make_unique<Api>(*iam_, *identities_, *access_)) {}

  // A user `name` whose one inline policy is `policy` (none when empty), and
  // a request context signed by it.
  aws::RequestContext Caller(const std::string& name, const std::string& policy = "") {
    User u = *iam_->CreateUser(kAccount, name, "/");
    if (!policy.empty()) {
      EXPECT_TRUE(iam_->PutInlinePolicy(kAccount, PrincipalType::kUser, name, "p", policy));
    }
    return As(u);
  }

  std::unique_ptr<Api> api_;  // destroyed first
};

TEST_F(ApiTest, DeniedCallerGetsAccessDeniedNamingActionAndResource) {
  ASSERT_TRUE(iam_->CreateUser(kAccount, "alice", "/team/"));
  auto bob = Caller("bob");
  EXPECT_EQ(Outcome(api_->GetUser(bob, "alice")),
            "AccessDeniedException: User: " + UserArn("bob") +
                " is not authorized to perform: iam:GetUser on resource: " + UserArn("team/alice") +
                " because no identity-based policy allows the iam:GetUser action");
  // Each type's operation is named after it, on the entity's own ARN.
  ASSERT_TRUE(iam_->CreateGroup(kAccount, "Ops", "/"));
  EXPECT_EQ(Outcome(api_->PutInlinePolicy(bob, PrincipalType::kGroup, "ops", "p",
                                          Doc("Allow", "*", "*"))),
            "AccessDeniedException: User: " + UserArn("bob") +
                " is not authorized to perform: iam:PutGroupPolicy on resource: "
                "arn:aws:iam::123456789012:group/Ops because no identity-based policy allows "
                "the iam:PutGroupPolicy action");
  EXPECT_EQ(Outcome(iam_->GetInlinePolicy(kAccount, PrincipalType::kGroup, "ops", "p")),
            "NoSuchEntity: The group policy with name p cannot be found.");
}

TEST_F(ApiTest, NoSuchEntityComesOnlyAfterAuthorization) {
  auto bob = Caller("bob");
  // Nothing answers to "ghost": the request is decided on the ARN as typed,
  // and a denied caller learns no more than that.
  EXPECT_EQ(Outcome(api_->GetUser(bob, "ghost")),
            "AccessDeniedException: User: " + UserArn("bob") +
                " is not authorized to perform: iam:GetUser on resource: " + UserArn("ghost") +
                " because no identity-based policy allows the iam:GetUser action");
  EXPECT_EQ(Outcome(api_->DeleteRole(bob, "ghost")).substr(0, 22), "AccessDeniedException:");
  auto carol = Caller("carol", Doc("Allow", "iam:*", "*"));
  EXPECT_EQ(Outcome(api_->GetUser(carol, "ghost")),
            "NoSuchEntity: The user with name ghost cannot be found.");
}

TEST_F(ApiTest, NameInAnotherCaseIsDecidedOnTheStoredArn) {
  ASSERT_TRUE(iam_->CreateUser(kAccount, "Alice", "/team/"));
  // Allowed on the stored ARN only: a name typed in another case still is it.
  auto carol = Caller("carol", Doc("Allow", "iam:GetUser", UserArn("team/Alice")));
  auto got = api_->GetUser(carol, "ALICE");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->arn, UserArn("team/Alice"));
  // Denied on the stored ARN: another case cannot dodge the Deny.
  auto dave = Caller("dave", R"({"Version":"2012-10-17","Statement":[)"
                             R"({"Effect":"Allow","Action":"iam:*","Resource":"*"},)"
                             R"({"Effect":"Deny","Action":"iam:*","Resource":")" +
                                 UserArn("team/Alice") + R"("}]})");
  EXPECT_EQ(Outcome(api_->DeleteUser(dave, "alice")),
            "AccessDeniedException: User: " + UserArn("dave") +
                " is not authorized to perform: iam:DeleteUser on resource: " +
                UserArn("team/Alice") + " with an explicit deny in an identity-based policy");
  EXPECT_TRUE(iam_->GetUser(kAccount, "Alice"));
}

TEST_F(ApiTest, TargetsTagsAndBoundaryAreConditionKeys) {
  auto boundary = *iam_->CreatePolicy(kAccount, "Boundary", "/", Doc("Allow", "*", "*"), "");
  ASSERT_TRUE(iam_->CreateUser(kAccount, "red", "/", {boundary.arn, {{"team", "red"}}}));
  ASSERT_TRUE(iam_->CreateUser(kAccount, "blue", "/", {"", {{"team", "blue"}}}));
  auto carol = Caller("carol", Doc("Allow", "iam:GetUser", "*",
                                   R"({"StringEquals":{"iam:ResourceTag/team":"blue"}})"));
  EXPECT_TRUE(api_->GetUser(carol, "blue"));
  EXPECT_EQ(Outcome(api_->GetUser(carol, "red")).substr(0, 22), "AccessDeniedException:");
  auto dave = Caller(
      "dave",
      Doc("Allow", "iam:GetUser", "*",
          fmt::format(R"({{"StringEquals":{{"iam:PermissionsBoundary":"{}"}}}})", boundary.arn)));
  EXPECT_TRUE(api_->GetUser(dave, "red"));
  EXPECT_EQ(Outcome(api_->GetUser(dave, "blue")).substr(0, 22), "AccessDeniedException:");
  // Put*PermissionsBoundary is decided on the boundary being set.
  auto other = *iam_->CreatePolicy(kAccount, "Other", "/", Doc("Allow", "*", "*"), "");
  auto erin = Caller(
      "erin",
      Doc("Allow", "iam:PutUserPermissionsBoundary", "*",
          fmt::format(R"({{"StringEquals":{{"iam:PermissionsBoundary":"{}"}}}})", other.arn)));
  EXPECT_TRUE(api_->PutPermissionsBoundary(erin, PrincipalType::kUser, "red", other.arn));
  EXPECT_EQ(Outcome(api_->PutPermissionsBoundary(erin, PrincipalType::kUser, "red", boundary.arn))
                .substr(0, 22),
            "AccessDeniedException:");
}

TEST_F(ApiTest, CreatesAreDecidedOnTheNewArnWithTheRequestTags) {
  auto carol =
      Caller("carol", R"({"Version":"2012-10-17","Statement":[)"
                      R"({"Effect":"Allow","Action":"iam:CreateUser","Resource":")" +
                          UserArn("team/*") +
                          R"(",)"
                          R"("Condition":{"StringEquals":{"aws:RequestTag/team":"blue"}}}]})");
  EXPECT_TRUE(api_->CreateUser(carol, "u1", "/team/", {"", {{"team", "blue"}}}));
  EXPECT_EQ(Outcome(api_->CreateUser(carol, "u2", "/team/", {"", {{"team", "red"}}})).substr(0, 22),
            "AccessDeniedException:");
  EXPECT_EQ(Outcome(api_->CreateUser(carol, "u3", "/", {"", {{"team", "blue"}}})),
            "AccessDeniedException: User: " + UserArn("carol") +
                " is not authorized to perform: iam:CreateUser on resource: " + UserArn("u3") +
                " because no identity-based policy allows the iam:CreateUser action");
  EXPECT_FALSE(iam_->GetUser(kAccount, "u2"));
}

TEST_F(ApiTest, RenamingNeedsPermissionOnTheNewArnToo) {
  ASSERT_TRUE(iam_->CreateUser(kAccount, "alice", "/"));
  auto carol = Caller("carol", Doc("Allow", "iam:UpdateUser", UserArn("alice")));
  EXPECT_EQ(Outcome(api_->UpdateUser(carol, "alice", "alicia", "")),
            "AccessDeniedException: User: " + UserArn("carol") +
                " is not authorized to perform: iam:UpdateUser on resource: " + UserArn("alicia") +
                " because no identity-based policy allows the iam:UpdateUser action");
  EXPECT_TRUE(iam_->GetUser(kAccount, "alice"));
}

TEST_F(ApiTest, ARecreatedCallerIsNotTheOneItsOldCredentialsName) {
  std::string all = Doc("Allow", "iam:*", "*");
  auto old_bob = Caller("bob", all);
  EXPECT_TRUE(api_->ListUsers(old_bob, "/", {}));
  ASSERT_TRUE(iam_->DeleteInlinePolicy(kAccount, PrincipalType::kUser, "bob", "p"));
  ASSERT_TRUE(iam_->DeleteUser(kAccount, "bob", false));
  auto new_bob = Caller("bob", all);
  EXPECT_TRUE(api_->ListUsers(new_bob, "/", {}));
  EXPECT_EQ(Outcome(api_->ListUsers(old_bob, "/", {})).substr(0, 22), "AccessDeniedException:");
}

TEST_F(ApiTest, RolesShowTrustPrincipalsDeletedSinceAsTheirIds) {
  User alice = *iam_->CreateUser(kAccount, "alice", "/");
  std::string trust = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":)"
                      R"({"AWS":")" +
                      alice.arn + R"("},"Action":"sts:AssumeRole"}]})";
  auto carol = Caller("carol", Doc("Allow", "iam:*", "*"));
  auto created = api_->CreateRole(carol, {.name = "r", .trust_policy = trust});
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->trust_policy, trust);
  EXPECT_EQ(api_->GetRole(carol, "r")->trust_policy, trust);
  ASSERT_TRUE(iam_->DeleteUser(kAccount, "alice", false));
  auto shown = api_->GetRole(carol, "R");
  ASSERT_TRUE(shown);
  EXPECT_EQ(shown->trust_policy.find(alice.arn), std::string::npos) << shown->trust_policy;
  EXPECT_NE(shown->trust_policy.find(alice.id), std::string::npos) << shown->trust_policy;
  EXPECT_EQ(api_->ListRoles(carol, "/", {})->items.at(0).trust_policy, shown->trust_policy);
}

TEST_F(ApiTest, TheSimulatorIsAuthorizedBeforeItLooksAtItsInput) {
  auto bob = Caller("bob");
  SimulationInput in;  // no actions
  EXPECT_EQ(Outcome(api_->SimulateCustomPolicy(bob, in)),
            "AccessDeniedException: User: " + UserArn("bob") +
                " is not authorized to perform: iam:SimulateCustomPolicy because no "
                "identity-based policy allows the iam:SimulateCustomPolicy action");
  EXPECT_EQ(Outcome(api_->SimulatePrincipalPolicy(bob, "arn:aws:s3:::bucket", in)),
            "AccessDeniedException: User: " + UserArn("bob") +
                " is not authorized to perform: iam:SimulatePrincipalPolicy on resource: "
                "arn:aws:s3:::bucket because no identity-based policy allows the "
                "iam:SimulatePrincipalPolicy action");
  EXPECT_EQ(Outcome(api_->SimulatePrincipalPolicy(bob, UserArn("ghost"), in)).substr(0, 22),
            "AccessDeniedException:");
  auto carol = Caller("carol", Doc("Allow", "iam:Simulate*", "*"));
  EXPECT_EQ(Outcome(api_->SimulatePrincipalPolicy(carol, "arn:aws:s3:::bucket", in)),
            "InvalidInput: Invalid ARN: arn:aws:s3:::bucket");
  EXPECT_EQ(Outcome(api_->SimulatePrincipalPolicy(carol, UserArn("ghost"), in)),
            "NoSuchEntity: The user with name ghost cannot be found.");
  EXPECT_EQ(Outcome(api_->SimulatePrincipalPolicy(carol, UserArn("bob"), in)),
            "ValidationError: 1 validation error detected: Value null at 'actionNames' failed to "
            "satisfy constraint: Member must not be null");
  in.actions = {"iam:GetUser"};
  auto page = api_->SimulatePrincipalPolicy(carol, UserArn("carol"), in);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->results.at(0).decision, "implicitDeny");
}

}  // namespace
}  // namespace berth::iam
