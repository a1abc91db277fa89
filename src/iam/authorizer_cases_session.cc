// Assumed-role sessions, session policies and permissions boundaries (same account).
#include "iam/authorizer_cases.h"

namespace berth::iam::testing {

namespace {
using R = Decision::Reason;
}  // namespace

std::vector<AuthzCase> SessionCases() {
  const std::string all = Doc({St("All", "Allow", "secretsmanager:*", "*")});
  const std::string get_only = Doc({St("SGet", "Allow", kGet, "*")});
  const std::string put_only = Doc({St("SPut", "Allow", kPut, "*")});
  const std::string res_role = Doc({St("R", "Allow", kGet, "*", P(kExecRole))});
  const std::string res_session = Doc({St("R", "Allow", kGet, "*", P(kSessionArn))});
  return {
      // --- assumed-role sessions and resource policies
      Case("SessionIdentityAllow").As(Session()).Do(kGet, kSecret).Identity(all).Allow({"All"}),
      Case("SessionNoPolicyImplicitDeny").As(Session()).Do(kGet, kSecret).Implicit(R::kIdentity),
      Case("SessionResourceNamesRoleArn")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(res_role)
          .Allow({"R"}),
      Case("SessionResourceNamesSessionArn")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(res_session)
          .Allow({"R"}),
      Case("SessionResourceNamesRoleArnWithPath")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(Doc(
              {St("R", "Allow", kGet, "*", P("arn:aws:iam::111122223333:role/service-role/exec"))}))
          .Allow({"R"}),
      Case("SessionResourceNamesAnotherSession")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*",
                            P("arn:aws:sts::111122223333:assumed-role/exec/other"))}))
          .Implicit(R::kIdentity),
      Case("SessionResourceNamesAnotherRole")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P("arn:aws:iam::111122223333:role/web"))}))
          .Implicit(R::kIdentity),
      Case("SessionResourceNamesSameRoleNameInOtherAccount")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kExecRoleB))}))
          .Implicit(R::kIdentity),
      Case("SessionResourceNamesRoleUniqueId")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P("AROAEXECEXAMPLE00001"))}))
          .Allow({"R"}),
      Case("SessionResourceDenyNamingRoleArn")
          .As(Session())
          .Do(kGet, kSecret)
          .Identity(all)
          .Resource(Doc({St("RD", "Deny", kGet, "*", P(kExecRole))}))
          .Deny(R::kResource, {"RD"}),
      Case("SessionResourceNamesAccountDelegates")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kAcctA))}))
          .Implicit(R::kIdentity),
      Case("UserIsNotMatchedByRoleArn").Do(kGet, kSecret).Resource(res_role).Implicit(R::kIdentity),

      // --- session policies only narrow
      Case("SessionPolicyNarrowsAndAllows")
          .As(Session())
          .Do(kGet, kSecret)
          .Identity(all)
          .SessionPolicy(get_only)
          .Allow({"All"}),
      Case("SessionPolicyDoesNotAllowAction")
          .As(Session())
          .Do(kGet, kSecret)
          .Identity(all)
          .SessionPolicy(put_only)
          .Implicit(R::kSession),
      Case("SessionPolicyCannotGrantBeyondIdentity")
          .As(Session())
          .Do(kGet, kSecret)
          .Identity(Doc({St("Put", "Allow", kPut, "*")}))
          .SessionPolicy(get_only)
          .Implicit(R::kIdentity),
      Case("SessionPolicyExplicitDeny")
          .As(Session())
          .Do(kGet, kSecret)
          .Identity(all)
          .SessionPolicy(Doc({St("SAll", "Allow", "*", "*"), St("SD", "Deny", kGet, "*")}))
          .Deny(R::kSession, {"SD"}),
      Case("OneOfSeveralSessionPoliciesAllows")
          .As(Session())
          .Do(kGet, kSecret)
          .Identity(all)
          .SessionPolicy(put_only)
          .SessionPolicy(get_only)
          .Allow({"All"}),
      Case("SessionPolicyLimitsResourceGrantToRole")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(res_role)
          .SessionPolicy(put_only)
          .Implicit(R::kSession),
      Case("SessionPolicyAllowsResourceGrantToRole")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(res_role)
          .SessionPolicy(get_only)
          .Allow({"R"}),
      Case("SessionPolicyDoesNotLimitGrantToSessionArn")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(res_session)
          .SessionPolicy(put_only)
          .Allow({"R"}),
      Case("SessionPolicyDenyBeatsGrantToSessionArn")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(res_session)
          .SessionPolicy(Doc({St("SD", "Deny", "*", "*")}))
          .Deny(R::kSession, {"SD"}),

      // --- permissions boundaries
      Case("BoundaryAndIdentityAllow")
          .Do(kGet, kSecret)
          .Identity(all)
          .Boundary(Doc({St("B", "Allow", kGet, "*")}))
          .Allow({"All"}),
      Case("BoundaryDoesNotAllowAction")
          .Do(kGet, kSecret)
          .Identity(all)
          .Boundary(Doc({St("B", "Allow", kPut, "*")}))
          .Implicit(R::kBoundary),
      Case("BoundaryCannotGrantBeyondIdentity")
          .Do(kGet, kSecret)
          .Boundary(Doc({St("B", "Allow", "*", "*")}))
          .Implicit(R::kIdentity),
      Case("BoundaryExplicitDeny")
          .Do(kGet, kSecret)
          .Identity(all)
          .Boundary(Doc({St("B", "Allow", "*", "*"), St("BD", "Deny", kGet, kSecret)}))
          .Deny(R::kBoundary, {"BD"}),
      Case("BoundaryDoesNotLimitGrantToUserArn")
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kAliceArn))}))
          .Boundary(Doc({St("B", "Allow", kPut, "*")}))
          .Allow({"R"}),
      Case("BoundaryLimitsGrantToRoleArn")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(res_role)
          .Boundary(Doc({St("B", "Allow", kPut, "*")}))
          .Implicit(R::kBoundary),
      Case("BoundaryAllowsGrantToRoleArn")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(res_role)
          .Boundary(Doc({St("B", "Allow", "secretsmanager:*", "*")}))
          .Allow({"R"}),
      Case("BoundaryDoesNotLimitGrantToSessionArn")
          .As(Session())
          .Do(kGet, kSecret)
          .Resource(res_session)
          .Boundary(Doc({St("B", "Allow", kPut, "*")}))
          .Allow({"R"}),
      Case("BoundaryAllowsButSessionPolicyDoesNot")
          .As(Session())
          .Do(kGet, kSecret)
          .Identity(all)
          .Boundary(Doc({St("B", "Allow", "*", "*")}))
          .SessionPolicy(put_only)
          .Implicit(R::kSession),
      Case("NeitherBoundaryNorSessionPolicyAllow")
          .As(Session())
          .Do(kGet, kSecret)
          .Identity(all)
          .Boundary(Doc({St("B", "Allow", kPut, "*")}))
          .SessionPolicy(put_only)
          .Implicit(R::kBoundary),
      Case("IdentityBoundaryAndSessionAllAllow")
          .As(Session())
          .Do(kGet, kSecret)
          .Identity(all)
          .Boundary(Doc({St("B", "Allow", "*", "*")}))
          .SessionPolicy(get_only)
          .Allow({"All"}),
      Case("BoundaryOfOtherResourceDoesNotAllow")
          .Do(kGet, kSecret)
          .Identity(all)
          .Boundary(Doc({St("B", "Allow", kGet,
                            "arn:aws:secretsmanager:us-east-1:111122223333:secret:other-*")}))
          .Implicit(R::kBoundary),
  };
}

}  // namespace berth::iam::testing
