// Policy variables: ${aws:username}, ${aws:userid}, ${aws:PrincipalAccount}, tags,
// defaults, the escapes ${*} ${?} ${$}, unresolvable variables, and no substitution in
// 2008-10-17 documents (or ones without a Version).
#include "iam/authorizer_cases.h"

namespace berth::iam::testing {

namespace {
constexpr char kPrefix[] = "arn:aws:secretsmanager:us-east-1:111122223333:secret:";
using R = Decision::Reason;

std::string Secret(std::string_view name) { return kPrefix + std::string(name); }

// `who` asks for secret `name`; one identity statement "S" allows kGet on `pattern`
// (a secret name pattern) in a document of `version`.
AuthzCase V(std::string case_name, aws::Principal who, std::string_view name,
            std::string_view pattern, bool allowed, std::string_view version = "2012-10-17") {
  AuthzCase c = Case(std::move(case_name))
                    .As(std::move(who))
                    .Do(kGet, Secret(name))
                    .Identity(Doc({St("S", "Allow", kGet, Secret(pattern))}, version));
  return allowed ? c.Allow({"S"}) : c.Implicit(R::kIdentity);
}

// Alice's request carries `key` = `value`; statement "S" allows under `condition`.
AuthzCase VC(std::string case_name, std::string_view condition, std::string key, std::string value,
             bool allowed, std::string_view version = "2012-10-17") {
  AuthzCase c = Case(std::move(case_name))
                    .Do(kGet, kSecret)
                    .Ctx(std::move(key), {std::move(value)})
                    .Identity(Doc({St("S", "Allow", kGet, "*", Cond(condition))}, version));
  return allowed ? c.Allow({"S"}) : c.Implicit(R::kIdentity);
}
}  // namespace

std::vector<AuthzCase> VariableCases() {
  const char* owner_is_me = R"({"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}})";
  return {
      V("UsernameInResource", Alice(), "alice/db-AbCdEf", "${aws:username}/*", true),
      V("UsernameOfOtherUser", Carol(), "alice/db-AbCdEf", "${aws:username}/*", false),
      V("UsernameKeyIgnoresCase", Alice(), "alice/db-AbCdEf", "${AWS:UserName}/*", true),
      V("UsernameValueIsCaseSensitive", Alice(), "Alice/db-AbCdEf", "${aws:username}/*", false),
      V("UsernameUnresolvedForSession", Session(), "exec/db-AbCdEf", "${aws:username}/*", false),
      V("UsernameDefaultForSession", Session(), "shared/db-AbCdEf", "${aws:username, 'shared'}/*",
        true),
      V("UsernameDefaultUnusedWhenKeyPresent", Alice(), "shared/db-AbCdEf",
        "${aws:username, 'shared'}/*", false),
      V("UseridInResource", Alice(), "AIDAALICEEXAMPLE00001-AbCdEf", "${aws:userid}-??????", true),
      V("UseridOfOtherUser", Carol(), "AIDAALICEEXAMPLE00001-AbCdEf", "${aws:userid}-??????",
        false),
      V("EscapedStarIsLiteral", Alice(), "literal*", "literal${*}", true),
      V("EscapedStarIsNotAWildcard", Alice(), "literalX", "literal${*}", false),
      V("EscapedQuestionMarkIsLiteral", Alice(), "what?", "what${?}", true),
      V("EscapedQuestionMarkIsNotAWildcard", Alice(), "whatX", "what${?}", false),
      V("EscapedDollarIsLiteral", Alice(), "cost$", "cost${$}", true),
      V("UnclosedVariableStaysLiteral", Alice(), "odd${name", "odd${name", true),
      V("Version2008DoesNotSubstitute", Alice(), "alice/db-AbCdEf", "${aws:username}/*", false,
        "2008-10-17"),
      V("Version2008MatchesTheLiteralText", Alice(), "${aws:username}/db-AbCdEf",
        "${aws:username}/*", true, "2008-10-17"),
      V("NoVersionDoesNotSubstitute", Alice(), "alice/db-AbCdEf", "${aws:username}/*", false, ""),
      V("NoVersionMatchesTheLiteralText", Alice(), "${aws:username}/db-AbCdEf", "${aws:username}/*",
        true, ""),
      Case("PrincipalAccountInResourceArn")
          .Do(kGet, kSecret)
          .Identity(Doc({St("S", "Allow", kGet,
                            "arn:aws:secretsmanager:*:${aws:PrincipalAccount}:secret:*")}))
          .Allow({"S"}),
      Case("PrincipalAccountDoesNotMatchOtherAccount")
          .Do(kGet, kSecretB)
          .In(kAcctB)
          .Identity(Doc({St("S", "Allow", kGet,
                            "arn:aws:secretsmanager:*:${aws:PrincipalAccount}:secret:*")}))
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kAliceArn))}))
          .Implicit(R::kIdentity),
      Case("PrincipalTagInResource")
          .Do(kGet, Secret("blue/db-AbCdEf"))
          .Ctx("aws:PrincipalTag/team", {"blue"})
          .Identity(Doc({St("S", "Allow", kGet, Secret("${aws:PrincipalTag/team}/*"))}))
          .Allow({"S"}),
      Case("VariableInResourcePolicyResource")
          .Do(kGet, Secret("alice/db-AbCdEf"))
          .Resource(Doc({St("R", "Allow", kGet, Secret("${aws:username}/*"), P("*"))}))
          .Allow({"R"}),
      Case("VariableInDenyNotResource")
          .Do(kGet, Secret("carol/db-AbCdEf"))
          .Identity(Doc({St("All", "Allow", kGet, "*"),
                         St("OwnOnly", "Deny", kGet, "!" + Secret("${aws:username}/*"))}))
          .Deny(R::kIdentity, {"OwnOnly"}),
      Case("VariableInDenyNotResourceSparesOwn")
          .Do(kGet, Secret("alice/db-AbCdEf"))
          .Identity(Doc({St("All", "Allow", kGet, "*"),
                         St("OwnOnly", "Deny", kGet, "!" + Secret("${aws:username}/*"))}))
          .Allow({"All"}),

      // --- variables in condition values
      VC("VariableInConditionValue", owner_is_me, "aws:ResourceTag/owner", "alice", true),
      VC("VariableInConditionValueOtherOwner", owner_is_me, "aws:ResourceTag/owner", "carol",
         false),
      VC("VariableInStringLikeValue",
         R"({"StringLike":{"aws:ResourceTag/owner":"${aws:username}-*"}})", "aws:ResourceTag/owner",
         "alice-team", true),
      VC("UseridVariableInCondition",
         R"({"StringEquals":{"aws:ResourceTag/owner":"${aws:userid}"}})", "aws:ResourceTag/owner",
         "AIDAALICEEXAMPLE00001", true),
      VC("PrincipalAccountVariableInCondition",
         R"({"StringEquals":{"aws:ResourceAccount":"${aws:PrincipalAccount}"}})",
         "aws:ResourceAccount", "111122223333", true),
      VC("ConditionVariableDefault",
         R"({"StringEquals":{"aws:ResourceTag/owner":"${aws:PrincipalTag/owner, 'nobody'}"}})",
         "aws:ResourceTag/owner", "nobody", true),
      VC("Version2008ConditionValueIsLiteral", owner_is_me, "aws:ResourceTag/owner", "alice", false,
         "2008-10-17"),
      VC("Version2008ConditionLiteralMatches", owner_is_me, "aws:ResourceTag/owner",
         "${aws:username}", true, "2008-10-17"),
      Case("SessionUseridVariableInStringLike")
          .As(Session())
          .Do(kGet, kSecret)
          .Ctx("aws:ResourceTag/owner", {"AROAEXECEXAMPLE00001:task-1"})
          .Identity(
              Doc({St("S", "Allow", kGet, "*",
                      Cond(R"({"StringEquals":{"aws:ResourceTag/owner":"${aws:userid}"}})"))}))
          .Allow({"S"}),
      Case("SessionUseridConditionWithWildcard")
          .As(Session())
          .Do(kGet, kSecret)
          .Identity(Doc({St("S", "Allow", kGet, "*",
                            Cond(R"({"StringLike":{"aws:userid":"AROAEXECEXAMPLE00001:*"}})"))}))
          .Allow({"S"}),
  };
}

}  // namespace berth::iam::testing
