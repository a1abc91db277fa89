// Same-account basics: explicit deny, allow, implicit deny; several identity policies;
// identity-only and resource-only allows; the account principal as delegation; root.
#include "iam/authorizer_cases.h"

namespace berth::iam::testing {

namespace {
constexpr char kOther[] = "arn:aws:secretsmanager:us-east-1:111122223333:secret:other-QwErTy";
using R = Decision::Reason;
}  // namespace

std::vector<AuthzCase> BasicCases() {
  const std::string allow_get = Doc({St("Get", "Allow", kGet, kSecret)});
  return {
      Case("NoPoliciesImplicitDeny").Do(kGet, kSecret).Implicit(R::kIdentity),
      Case("IdentityAllowExact").Do(kGet, kSecret).Identity(allow_get).Allow({"Get"}),
      Case("IdentityAllowOtherActionImplicitDeny")
          .Do(kPut, kSecret)
          .Identity(allow_get)
          .Implicit(R::kIdentity),
      Case("IdentityAllowOtherResourceImplicitDeny")
          .Do(kGet, kOther)
          .Identity(allow_get)
          .Implicit(R::kIdentity),
      Case("IdentityDenyOnly")
          .Do(kGet, kSecret)
          .Identity(Doc({St("NoGet", "Deny", kGet, "*")}))
          .Deny(R::kIdentity, {"NoGet"}),
      Case("IdentityDenyBeatsAllowInSamePolicy")
          .Do(kGet, kSecret)
          .Identity(Doc(
              {St("All", "Allow", "secretsmanager:*", "*"), St("NoGet", "Deny", kGet, kSecret)}))
          .Deny(R::kIdentity, {"NoGet"}),
      Case("IdentityDenyInSecondPolicyBeatsAllowInFirst")
          .Do(kGet, kSecret)
          .Identity(allow_get)
          .Identity(Doc({St("NoSecrets", "Deny", "secretsmanager:*", "*")}))
          .Deny(R::kIdentity, {"NoSecrets"}),
      Case("IdentityDenyOfOtherActionDoesNotDeny")
          .Do(kGet, kSecret)
          .Identity(Doc({St("Get", "Allow", kGet, "*"), St("NoPut", "Deny", kPut, "*")}))
          .Allow({"Get"}),
      Case("EveryMatchingDenyIsListed")
          .Do(kGet, kSecret)
          .Identity(Doc({St("D1", "Deny", kGet, "*"), St("A", "Allow", kGet, "*")}))
          .Identity(Doc({St("D2", "Deny", "secretsmanager:Get*", kSecret)}))
          .Deny(R::kIdentity, {"D1", "D2"}),
      Case("SecondIdentityPolicyAllows")
          .Do(kGet, kSecret)
          .Identity(Doc({St("Put", "Allow", kPut, "*")}))
          .Identity(allow_get)
          .Allow({"Get"}),
      Case("EveryAllowingStatementIsListed")
          .Do(kGet, kSecret)
          .Identity(Doc({St("First", "Allow", "secretsmanager:*", "*")}))
          .Identity(Doc({St("Nope", "Allow", kPut, "*"), St("Second", "Allow", kGet, kSecret)}))
          .Allow({"First", "Second"}),
      Case("StatementWithoutSid")
          .Do(kGet, kSecret)
          .Identity(Doc({St("", "Allow", kGet, "*")}))
          .Allow({""}),
      Case("StatementAsSingleObject")
          .Do(kGet, kSecret)
          .Identity(R"({"Version":"2012-10-17","Statement":{"Sid":"One","Effect":"Allow",)"
                    R"("Action":"secretsmanager:GetSecretValue","Resource":"*"}})")
          .Allow({"One"}),
      Case("ActionListAllows")
          .Do(kGet, kSecret)
          .Identity(
              Doc({St("Both", "Allow", R"(["kms:Decrypt","secretsmanager:GetSecretValue"])", "*")}))
          .Allow({"Both"}),
      Case("ResourceListAllows")
          .Do(kGet, kSecret)
          .Identity(Doc(
              {St("Two", "Allow", kGet, std::string("[\"") + kOther + "\",\"" + kSecret + "\"]")}))
          .Allow({"Two"}),
      Case("DenyWhoseConditionFailsDoesNotDeny")
          .Do(kGet, kSecret)
          .Identity(Doc({St("Get", "Allow", kGet, "*"),
                         St("NoPlain", "Deny", "*", "*",
                            Cond(R"({"Bool":{"aws:SecureTransport":"false"}})"))}))
          .Allow({"Get"}),
      Case("AllowWhoseConditionFailsImplicitDeny")
          .Do(kGet, kSecret)
          .Identity(Doc(
              {St("Get", "Allow", kGet, "*", Cond(R"({"Bool":{"aws:SecureTransport":"false"}})"))}))
          .Implicit(R::kIdentity),
      Case("ActionStarAllowsEverything")
          .Do("ecs:RunTask", "arn:aws:ecs:us-east-1:111122223333:task-definition/web:1")
          .Identity(Doc({St("Admin", "Allow", "*", "*")}))
          .Allow({"Admin"}),

      // --- resource-based policies in the caller's own account
      Case("ResourceOnlyAllowNamingUserArn")
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kAliceArn))}))
          .Allow({"R"}),
      Case("ResourceOnlyAllowNamingEveryone")
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P("*"))}))
          .Allow({"R"}),
      Case("ResourceOnlyAllowNamingAwsStar")
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P(R"({"AWS":"*"})"))}))
          .Allow({"R"}),
      Case("ResourceAllowNamingAnotherUser")
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P("arn:aws:iam::111122223333:user/carol"))}))
          .Implicit(R::kIdentity),
      Case("ResourceAllowForOtherActionImplicitDeny")
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kPut, "*", P(kAliceArn))}))
          .Implicit(R::kIdentity),
      Case("ResourceDenyBeatsIdentityAllow")
          .Do(kGet, kSecret)
          .Identity(allow_get)
          .Resource(Doc({St("RD", "Deny", kGet, "*", P("*"))}))
          .Deny(R::kResource, {"RD"}),
      Case("ResourceDenyNamingAnotherUserDoesNotApply")
          .Do(kGet, kSecret)
          .Identity(allow_get)
          .Resource(Doc({St("RD", "Deny", kGet, "*", P("arn:aws:iam::111122223333:user/carol"))}))
          .Allow({"Get"}),
      Case("IdentityDenyBeatsResourceAllow")
          .Do(kGet, kSecret)
          .Identity(Doc({St("D", "Deny", kGet, "*")}))
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kAliceArn))}))
          .Deny(R::kIdentity, {"D"}),
      Case("IdentityAndResourceDenyBothListed")
          .Do(kGet, kSecret)
          .Identity(Doc({St("D", "Deny", kGet, "*")}))
          .Resource(Doc({St("RD", "Deny", kGet, "*", P("*"))}))
          .Deny(R::kIdentity, {"D", "RD"}),
      Case("IdentityAndResourceBothAllow")
          .Do(kGet, kSecret)
          .Identity(allow_get)
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kAliceArn))}))
          .Allow({"Get", "R"}),
      Case("ResourceAllowNamingAccountDelegatesNoIdentity")
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P("arn:aws:iam::111122223333:root"))}))
          .Implicit(R::kIdentity),
      Case("ResourceAllowNamingBareAccountIdDelegates")
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kAcctA))}))
          .Implicit(R::kIdentity),
      Case("ResourceAllowNamingAccountWithIdentityAllow")
          .Do(kGet, kSecret)
          .Identity(allow_get)
          .Resource(Doc({St("R", "Allow", kGet, "*", P("arn:aws:iam::111122223333:root"))}))
          .Allow({"Get", "R"}),
      Case("ResourceAllowNamingUserUniqueId")
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P("AIDAALICEEXAMPLE00001"))}))
          .Allow({"R"}),
      Case("ResourceAllowNamingServiceDoesNotAllowUser")
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", Svc("ecs-tasks.amazonaws.com"))}))
          .Implicit(R::kIdentity),

      // --- the root user
      Case("RootOwnAccountNeedsNoPolicy").As(Root()).Do(kGet, kSecret).Allow(),
      Case("RootOwnAccountResourceDeny")
          .As(Root())
          .Do(kGet, kSecret)
          .Resource(Doc({St("RD", "Deny", "secretsmanager:*", "*", P("*"))}))
          .Deny(R::kResource, {"RD"}),
      Case("RootOwnAccountResourceAllowNamingAccountIsDirect")
          .As(Root())
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kAcctA))}))
          .Allow({"R"}),
      Case("RootOfOtherAccountWithoutResourcePolicy")
          .As(Root(kAcctB))
          .Do(kGet, kSecret)
          .In(kAcctA)
          .Implicit(R::kResource),
      Case("RootOfOtherAccountResourceNamesItsAccount")
          .As(Root(kAcctB))
          .Do(kGet, kSecret)
          .In(kAcctA)
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kAcctB))}))
          .Allow({"R"}),
  };
}

}  // namespace berth::iam::testing
