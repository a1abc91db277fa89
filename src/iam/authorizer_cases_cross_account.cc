// Across accounts (ordinary resources): the caller's identity policies AND the resource's
// policy must both allow; an explicit deny on either side wins.
#include "iam/authorizer_cases.h"

namespace berth::iam::testing {

namespace {
using R = Decision::Reason;
}  // namespace

std::vector<AuthzCase> CrossAccountCases() {
  const std::string id_allow = Doc({St("I", "Allow", kGet, kSecret)});
  const std::string res_bob = Doc({St("R", "Allow", kGet, "*", P(kBobArn))});
  const std::string res_acct_b = Doc({St("R", "Allow", kGet, "*", P(kAcctB))});
  const std::string res_role_b = Doc({St("R", "Allow", kGet, "*", P(kExecRoleB))});
  auto bob = [](std::string name) {
    return Case(std::move(name)).As(Bob()).Do(kGet, kSecret).In(kAcctA);
  };
  auto task_b = [](std::string name) {
    return Case(std::move(name)).As(Session(kAcctB)).Do(kGet, kSecret).In(kAcctA);
  };
  return {
      bob("CrossAccountNeitherAllows").Implicit(R::kIdentity),
      bob("CrossAccountIdentityOnly").Identity(id_allow).Implicit(R::kResource),
      bob("CrossAccountResourceOnlyNamingUser").Resource(res_bob).Implicit(R::kIdentity),
      bob("CrossAccountBothAllowUserArn").Identity(id_allow).Resource(res_bob).Allow({"I", "R"}),
      bob("CrossAccountBothAllowAccountPrincipal")
          .Identity(id_allow)
          .Resource(res_acct_b)
          .Allow({"I", "R"}),
      bob("CrossAccountAccountPrincipalWithoutIdentity")
          .Resource(res_acct_b)
          .Implicit(R::kIdentity),
      bob("CrossAccountAccountRootArnPrincipal")
          .Identity(id_allow)
          .Resource(Doc({St("R", "Allow", kGet, "*", P("arn:aws:iam::444455556666:root"))}))
          .Allow({"I", "R"}),
      bob("CrossAccountResourceStarWithIdentity")
          .Identity(id_allow)
          .Resource(Doc({St("R", "Allow", kGet, "*", P("*"))}))
          .Allow({"I", "R"}),
      bob("CrossAccountResourceStarWithoutIdentity")
          .Resource(Doc({St("R", "Allow", kGet, "*", P("*"))}))
          .Implicit(R::kIdentity),
      bob("CrossAccountResourceNamesOwnerAccountOnly")
          .Identity(id_allow)
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kAcctA))}))
          .Implicit(R::kResource),
      bob("CrossAccountResourceNamesUserUniqueId")
          .Identity(id_allow)
          .Resource(Doc({St("R", "Allow", kGet, "*", P("AIDABOBEXAMPLE000001"))}))
          .Allow({"I", "R"}),
      bob("CrossAccountResourceAllowsOtherAction")
          .Identity(id_allow)
          .Resource(Doc({St("R", "Allow", kPut, "*", P(kBobArn))}))
          .Implicit(R::kResource),
      bob("CrossAccountIdentityAllowsOtherResource")
          .Identity(Doc({St("I", "Allow", kGet, kSecretB)}))
          .Resource(res_bob)
          .Implicit(R::kIdentity),
      bob("CrossAccountIdentityWildcardAccount")
          .Identity(Doc({St("I", "Allow", kGet, "arn:aws:secretsmanager:us-east-1:*:secret:*")}))
          .Resource(res_bob)
          .Allow({"I", "R"}),
      bob("CrossAccountResourceDenyWins")
          .Identity(id_allow)
          .Resource(Doc(
              {St("R", "Allow", kGet, "*", P(kBobArn)), St("RD", "Deny", kGet, "*", P(kAcctB))}))
          .Deny(R::kResource, {"RD"}),
      bob("CrossAccountIdentityDenyWins")
          .Identity(Doc({St("I", "Allow", kGet, "*"), St("ID", "Deny", kGet, kSecret)}))
          .Resource(res_bob)
          .Deny(R::kIdentity, {"ID"}),
      bob("CrossAccountResourceConditionOnPrincipalAccount")
          .Identity(id_allow)
          .Resource(Doc({St(
              "R", "Allow", kGet, "*",
              P("*") + "," + Cond(R"({"StringEquals":{"aws:PrincipalAccount":"444455556666"}})"))}))
          .Allow({"I", "R"}),
      bob("CrossAccountResourceConditionFails")
          .Identity(id_allow)
          .Resource(Doc({St(
              "R", "Allow", kGet, "*",
              P("*") + "," + Cond(R"({"StringEquals":{"aws:PrincipalAccount":"999988887777"}})"))}))
          .Implicit(R::kResource),
      bob("CrossAccountBoundaryLimitsIdentity")
          .Identity(id_allow)
          .Boundary(Doc({St("B", "Allow", kPut, "*")}))
          .Resource(res_bob)
          .Implicit(R::kBoundary),
      Case("ResourceAccountOfCallerIsSameAccount")
          .As(Bob())
          .Do(kGet, kSecretB)
          .In(kAcctB)
          .Identity(Doc({St("I", "Allow", kGet, kSecretB)}))
          .Allow({"I"}),
      Case("AliceToAccountBBothAllow")
          .Do(kGet, kSecretB)
          .In(kAcctB)
          .Identity(Doc({St("I", "Allow", kGet, "arn:aws:secretsmanager:*:444455556666:secret:*")}))
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kAliceArn))}))
          .Allow({"I", "R"}),
      Case("AliceToAccountBResourceOnly")
          .Do(kGet, kSecretB)
          .In(kAcctB)
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kAliceArn))}))
          .Implicit(R::kIdentity),

      // --- sessions of a role in account B
      task_b("CrossAccountSessionRoleNamedWithIdentity")
          .Identity(id_allow)
          .Resource(res_role_b)
          .Allow({"I", "R"}),
      task_b("CrossAccountSessionRoleNamedWithoutIdentity")
          .Resource(res_role_b)
          .Implicit(R::kIdentity),
      task_b("CrossAccountSessionArnNamedWithIdentity")
          .Identity(id_allow)
          .Resource(Doc({St("R", "Allow", kGet, "*",
                            P("arn:aws:sts::444455556666:assumed-role/exec/task-1"))}))
          .Allow({"I", "R"}),
      task_b("CrossAccountSessionRoleOfOtherAccountNamed")
          .Identity(id_allow)
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kExecRole))}))
          .Implicit(R::kResource),
      task_b("CrossAccountSessionPolicyLimits")
          .Identity(id_allow)
          .Resource(res_role_b)
          .SessionPolicy(Doc({St("S", "Allow", kPut, "*")}))
          .Implicit(R::kSession),
      task_b("CrossAccountSessionPolicyAllows")
          .Identity(id_allow)
          .Resource(res_role_b)
          .SessionPolicy(Doc({St("S", "Allow", "secretsmanager:*", "*")}))
          .Allow({"I", "R"}),
      task_b("CrossAccountSessionResourceDenyOnRole")
          .Identity(id_allow)
          .Resource(Doc(
              {St("R", "Allow", kGet, "*", P(kAcctB)), St("RD", "Deny", kGet, "*", P(kExecRoleB))}))
          .Deny(R::kResource, {"RD"}),
  };
}

}  // namespace berth::iam::testing
