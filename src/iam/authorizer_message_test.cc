// Exact AccessDenied messages (Decision::Message), the deciding statement references, and
// the global condition keys AddGlobalConditionKeys fills in.
#include <gtest/gtest.h>

#include <string>

#include "iam/authorizer.h"
#include "iam/authorizer_cases.h"
#include "iam/policy.h"

namespace berth::iam::testing {
namespace {


NamedPolicy Named(std::string id, const std::string& json, PolicyType type) {
  auto parsed = ParsePolicy(json, type);
  EXPECT_TRUE(parsed) << parsed.error().message;
  return NamedPolicy{std::move(id), parsed ? *parsed : nullptr};
}

AuthzRequest Request(aws::Principal who, std::string action, std::string resource,
                     std::string account = "") {
  AuthzRequest r;
  r.principal = std::move(who);
  r.action = std::move(action);
  r.resource = std::move(resource);
  r.resource_account = std::move(account);
  return r;
}

const std::string kSecretStr = kSecret;

TEST(AuthorizerMessage, ImplicitDenyNoIdentityPolicy) {
  AuthzRequest r = Request(Alice(), kGet, kSecret);
  Decision d = Evaluate(r, {});
  EXPECT_EQ(
      d.Message(r),
      "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: "
      "secretsmanager:GetSecretValue on resource: " +
          kSecretStr +
          " because no identity-based policy allows the secretsmanager:GetSecretValue action");
}

TEST(AuthorizerMessage, ExplicitDenyInResourcePolicy) {
  AuthzRequest r = Request(Alice(), kGet, kSecret);
  PolicySet set;
  set.identity.push_back(Named("inline", Doc({St("A", "Allow", "*", "*")}), PolicyType::kIdentity));
  set.resource =
      Named("resource", Doc({St("RD", "Deny", kGet, "*", P("*"))}), PolicyType::kResource);
  Decision d = Evaluate(r, set);
  EXPECT_EQ(d.Message(r),
            "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: "
            "secretsmanager:GetSecretValue on resource: " +
                kSecretStr + " with an explicit deny in a resource-based policy");
  ASSERT_EQ(d.deciding.size(), 1u);
  EXPECT_EQ(d.deciding[0], (StatementRef{"resource", "RD", 0, PolicySource::kResource}));
}

TEST(AuthorizerMessage, ExplicitDenyInIdentityPolicy) {
  AuthzRequest r = Request(Alice(), "secretsmanager:ListSecrets", "*");
  PolicySet set;
  set.identity.push_back(Named("inline", Doc({St("D", "Deny", "*", "*")}), PolicyType::kIdentity));
  EXPECT_EQ(Evaluate(r, set).Message(r),
            "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: "
            "secretsmanager:ListSecrets with an explicit deny in an identity-based policy");
}

TEST(AuthorizerMessage, CrossAccountNoResourcePolicyAllows) {
  AuthzRequest r = Request(Bob(), kGet, kSecret, kAcctA);
  PolicySet set;
  set.identity.push_back(
      Named("inline", Doc({St("A", "Allow", kGet, "*")}), PolicyType::kIdentity));
  EXPECT_EQ(
      Evaluate(r, set).Message(r),
      "User: arn:aws:iam::444455556666:user/bob is not authorized to perform: "
      "secretsmanager:GetSecretValue on resource: " +
          kSecretStr +
          " because no resource-based policy allows the secretsmanager:GetSecretValue action");
}

TEST(AuthorizerMessage, SessionPolicyAndBoundary) {
  AuthzRequest r = Request(Session(), kGet, kSecret);
  PolicySet set;
  set.identity.push_back(Named("inline", Doc({St("A", "Allow", "*", "*")}), PolicyType::kIdentity));
  set.session.push_back(
      Named("session", Doc({St("S", "Allow", "kms:*", "*")}), PolicyType::kSession));
  EXPECT_EQ(Evaluate(r, set).Message(r),
            "User: arn:aws:sts::111122223333:assumed-role/exec/task-1 is not authorized to "
            "perform: secretsmanager:GetSecretValue on resource: " +
                kSecretStr +
                " because no session policy allows the secretsmanager:GetSecretValue action");
  set.session.clear();
  set.permissions_boundary.push_back(
      Named("boundary", Doc({St("B", "Allow", "*", "*"), St("BD", "Deny", kGet, "*")}),
            PolicyType::kIdentity));
  EXPECT_EQ(Evaluate(r, set).Message(r),
            "User: arn:aws:sts::111122223333:assumed-role/exec/task-1 is not authorized to "
            "perform: secretsmanager:GetSecretValue on resource: " +
                kSecretStr + " with an explicit deny in a permissions boundary");
}

TEST(AuthorizerMessage, AssumeRoleDenialsGiveNoReason) {
  auto trust =
      ParsePolicy(Doc({St("T", "Allow", "sts:AssumeRole", "", P(kAcctA))}), PolicyType::kTrust);
  ASSERT_TRUE(trust);
  AuthzRequest r = Request(Bob(), "sts:AssumeRole", kExecRole, kAcctA);
  Decision d = EvaluateTrust(r, **trust);
  EXPECT_EQ(d.effect, Decision::kImplicitDeny);
  EXPECT_EQ(d.Message(r),
            "User: arn:aws:iam::444455556666:user/bob is not authorized to perform: "
            "sts:AssumeRole on resource: arn:aws:iam::111122223333:role/exec");

  AuthzRequest svc = Request({}, "sts:AssumeRole", kExecRole, kAcctA);
  svc.service_principal = "ecs-tasks.amazonaws.com";
  EXPECT_EQ(EvaluateTrust(svc, **trust).Message(svc),
            "User: ecs-tasks.amazonaws.com is not authorized to perform: sts:AssumeRole on "
            "resource: arn:aws:iam::111122223333:role/exec");

  AuthzRequest root = Request(Root(), "sts:AssumeRole", kExecRole, kAcctA);
  Decision rd = EvaluateTrust(root, **trust);
  EXPECT_EQ(rd.reason, Decision::Reason::kRootAssumeRole);
  EXPECT_EQ(rd.Message(root), "Roles may not be assumed by root accounts.");
}

TEST(AuthorizerMessage, AllowHasNoMessageAndNamesItsStatements) {
  AuthzRequest r = Request(Bob(), kGet, kSecret, kAcctA);
  PolicySet set;
  set.identity.push_back(
      Named("user/bob/inline/a", Doc({St("", "Allow", "kms:*", "*")}), PolicyType::kIdentity));
  set.identity.push_back(Named("user/bob/inline/b",
                               Doc({St("X", "Allow", "kms:*", "*"), St("Get", "Allow", kGet, "*")}),
                               PolicyType::kIdentity));
  set.resource =
      Named("resource", Doc({St("R", "Allow", kGet, "*", P(kAcctB))}), PolicyType::kResource);
  Decision d = Evaluate(r, set);
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.Message(r), "");
  ASSERT_EQ(d.deciding.size(), 2u);
  EXPECT_EQ(d.deciding[0], (StatementRef{"user/bob/inline/b", "Get", 1, PolicySource::kIdentity}));
  EXPECT_EQ(d.deciding[1], (StatementRef{"resource", "R", 0, PolicySource::kResource}));
}

TEST(AuthorizerGlobalKeys, SessionAndUser) {
  AuthzRequest r = Request(Session(), kGet, kSecret);
  r.context["aws:SourceIp"] = {"stale"};
  r.context["kms:ViaService"] = {"kept"};
  AddGlobalConditionKeys(r, "203.0.113.7", true, TimePoint(std::chrono::seconds(1795712106)));
  auto value = [&](const char* key) {
    const auto* values = r.context.Find(key);
    return !values || values->size() != 1 ? std::string("<none>") : values->front();
  };
  EXPECT_EQ(value("aws:PrincipalArn"), kExecRole);
  EXPECT_EQ(value("aws:PrincipalType"), "AssumedRole");
  EXPECT_EQ(value("aws:PrincipalAccount"), kAcctA);
  EXPECT_EQ(value("aws:userid"), "AROAEXECEXAMPLE00001:task-1");
  EXPECT_EQ(value("aws:username"), "<none>");
  EXPECT_EQ(value("AWS:SOURCEIP"), "203.0.113.7");
  EXPECT_EQ(value("aws:SecureTransport"), "true");
  EXPECT_EQ(value("aws:CurrentTime"), kNow);
  EXPECT_EQ(value("aws:EpochTime"), "1795712106");
  EXPECT_EQ(value("kms:ViaService"), "kept");

  AuthzRequest u = Request(Alice(), kGet, kSecret);
  AddGlobalConditionKeys(u, "", false, TimePoint(std::chrono::seconds(0)));
  ASSERT_NE(u.context.Find("aws:username"), nullptr);
  EXPECT_EQ(*u.context.Find("aws:username"), std::vector<std::string>{"alice"});
  EXPECT_EQ(*u.context.Find("aws:PrincipalType"), std::vector<std::string>{"User"});
  EXPECT_EQ(u.context.Find("aws:SourceIp"), nullptr);
}

}  // namespace
}  // namespace berth::iam::testing
