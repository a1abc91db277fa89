// Conditions, continued: Arn*, Null, ...IfExists on absent keys, ForAnyValue/ForAllValues
// over multivalued keys, how values (ORed), keys and operators (ANDed) combine, and
// condition keys matched ignoring case.
#include "iam/authorizer_cases.h"

namespace berth::iam::testing {

namespace {
using R = Decision::Reason;

const auto C = ConditionCase;  // see authorizer_cases.h

constexpr char kSrc[] = "aws:SourceArn";
constexpr char kTask[] = "arn:aws:ecs:us-east-1:111122223333:task/web/abc";
constexpr char kTags[] = "aws:TagKeys";
constexpr char kIp[] = "aws:SourceIp";
}  // namespace

std::vector<AuthzCase> ConditionSetCases() {
  const char* any_env = R"({"ForAnyValue:StringEquals":{"aws:TagKeys":["env","owner"]}})";
  const char* all_allowed =
      R"({"ForAllValues:StringEquals":{"aws:TagKeys":["team","env","owner"]}})";
  const char* both_keys =
      R"({"StringEquals":{"aws:RequestTag/team":"blue","aws:RequestTag/env":"prod"}})";
  const char* two_ops =
      R"({"StringEquals":{"aws:RequestTag/team":"blue"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}})";
  return {
      // --- Arn* (each of the six ':'-separated parts matched on its own, case-sensitively)
      C("ArnEqualsMatches",
        R"({"ArnEquals":{"aws:SourceArn":"arn:aws:ecs:us-east-1:111122223333:task/web/abc"}})",
        kSrc, {kTask}, true),
      C("ArnEqualsOtherArn",
        R"({"ArnEquals":{"aws:SourceArn":"arn:aws:ecs:us-east-1:111122223333:task/web/xyz"}})",
        kSrc, {kTask}, false),
      C("ArnLikeWildcardParts",
        R"({"ArnLike":{"aws:SourceArn":"arn:aws:ecs:*:111122223333:task/web/*"}})", kSrc, {kTask},
        true),
      C("ArnLikeIsCaseSensitive",
        R"({"ArnLike":{"aws:SourceArn":"arn:aws:ECS:*:111122223333:task/*"}})", kSrc, {kTask},
        false),
      C("ArnLikeStarStaysInItsPart",
        R"({"ArnLike":{"aws:SourceArn":"arn:aws:logs:*:log-group:web"}})", kSrc,
        {"arn:aws:logs:us-east-1:111122223333:log-group:web"}, false),
      C("StringLikeStarSpansParts",
        R"({"StringLike":{"aws:SourceArn":"arn:aws:logs:*:log-group:web"}})", kSrc,
        {"arn:aws:logs:us-east-1:111122223333:log-group:web"}, true),
      C("ArnLikeResourcePartKeepsColons",
        R"({"ArnLike":{"aws:SourceArn":"arn:aws:logs:us-east-1:111122223333:log-group:*"}})", kSrc,
        {"arn:aws:logs:us-east-1:111122223333:log-group:web:log-stream:x"}, true),
      C("ArnNotEqualsOtherArn",
        R"({"ArnNotEquals":{"aws:SourceArn":"arn:aws:ecs:us-east-1:111122223333:task/web/xyz"}})",
        kSrc, {kTask}, true),
      C("ArnNotLikeMatchingArn", R"({"ArnNotLike":{"aws:SourceArn":"arn:aws:ecs:*:*:task/*"}})",
        kSrc, {kTask}, false),
      C("ArnEqualsAbsentKeyIsFalse",
        R"({"ArnEquals":{"aws:SourceArn":"arn:aws:ecs:us-east-1:111122223333:task/web/abc"}})", "",
        {}, false),
      C("ArnNotLikeAbsentKeyIsTrue", R"({"ArnNotLike":{"aws:SourceArn":"arn:aws:ecs:*:*:task/*"}})",
        "", {}, true),
      Case("ArnLikeOnSessionPrincipalArnIsTheRole")
          .As(Session())
          .Do(kGet, kSecret)
          .Identity(Doc({St(
              "S", "Allow", kGet, "*",
              Cond(R"({"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/exec"}})"))}))
          .Allow({"S"}),

      // --- Null
      C("NullTrueOnAbsentKey", R"({"Null":{"aws:TokenIssueTime":"true"}})", "", {}, true),
      C("NullTrueOnPresentKey", R"({"Null":{"aws:TokenIssueTime":"true"}})", "aws:TokenIssueTime",
        {"2026-11-26T16:00:00Z"}, false),
      C("NullFalseOnPresentKey", R"({"Null":{"aws:TokenIssueTime":"false"}})", "aws:TokenIssueTime",
        {"2026-11-26T16:00:00Z"}, true),
      C("NullFalseOnAbsentKey", R"({"Null":{"aws:TokenIssueTime":"false"}})", "", {}, false),
      C("NullJsonBoolean", R"({"Null":{"aws:TokenIssueTime":true}})", "", {}, true),
      C("NullFalseOnEmptyListIsAbsent", R"({"Null":{"aws:TagKeys":"false"}})", kTags, {}, false),

      // --- ...IfExists
      C("StringEqualsIfExistsAbsentKey",
        R"({"StringEqualsIfExists":{"aws:RequestTag/team":"blue"}})", "", {}, true),
      C("StringEqualsIfExistsPresentMismatch",
        R"({"StringEqualsIfExists":{"aws:RequestTag/team":"blue"}})", "aws:RequestTag/team",
        {"red"}, false),
      C("StringEqualsIfExistsPresentMatch",
        R"({"StringEqualsIfExists":{"aws:RequestTag/team":"blue"}})", "aws:RequestTag/team",
        {"blue"}, true),
      C("NumericLessThanIfExistsAbsentKey",
        R"({"NumericLessThanIfExists":{"sts:DurationSeconds":"3600"}})", "", {}, true),
      C("IpAddressIfExistsAbsentKey", R"({"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}})", "",
        {}, true),
      C("IpAddressIfExistsPresentOutside", R"({"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}})",
        kIp, {"192.0.2.1"}, false),
      C("ArnLikeIfExistsAbsentKey",
        R"({"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:ecs:*:*:*:*"}})", "", {}, true),
      C("DateLessThanIfExistsPresentLater",
        R"({"DateLessThanIfExists":{"aws:CurrentTime":"2026-01-01"}})", "", {}, false),
      Case("DenyStringNotEqualsIfExistsOnAbsentKeyDenies")
          .Do(kGet, kSecret)
          .Identity(
              Doc({St("All", "Allow", "*", "*"),
                   St("OnlyBlue", "Deny", "*", "*",
                      Cond(R"({"StringNotEqualsIfExists":{"aws:RequestTag/team":"blue"}})"))}))
          .Deny(R::kIdentity, {"OnlyBlue"}),
      Case("DenyStringEqualsIfExistsOnAbsentKeyDenies")
          .Do(kGet, kSecret)
          .Identity(Doc({St("All", "Allow", "*", "*"),
                         St("NoRed", "Deny", "*", "*",
                            Cond(R"({"StringEqualsIfExists":{"aws:RequestTag/team":"red"}})"))}))
          .Deny(R::kIdentity, {"NoRed"}),

      // --- ForAnyValue / ForAllValues over aws:TagKeys
      C("ForAnyValueOneValueMatches", any_env, kTags, {"team", "env"}, true),
      C("ForAnyValueNoValueMatches", any_env, kTags, {"team", "cost"}, false),
      C("ForAnyValueAbsentKeyIsFalse", any_env, "", {}, false),
      C("ForAnyValueEmptyListIsFalse", any_env, kTags, {}, false),
      C("ForAnyValueStringLike", R"({"ForAnyValue:StringLike":{"aws:TagKeys":"te*"}})", kTags,
        {"env", "team"}, true),
      C("ForAnyValueStringNotEqualsSomeOtherValue",
        R"({"ForAnyValue:StringNotEquals":{"aws:TagKeys":"team"}})", kTags, {"team", "env"}, true),
      C("ForAnyValueStringNotEqualsOnlyThatValue",
        R"({"ForAnyValue:StringNotEquals":{"aws:TagKeys":"team"}})", kTags, {"team"}, false),
      C("ForAllValuesEveryValueInSet", all_allowed, kTags, {"team", "env"}, true),
      C("ForAllValuesOneValueOutside", all_allowed, kTags, {"team", "secret"}, false),
      C("ForAllValuesAbsentKeyIsTrue", all_allowed, "", {}, true),
      C("ForAllValuesEmptyListIsTrue", all_allowed, kTags, {}, true),
      C("ForAllValuesIgnoreCase",
        R"({"ForAllValues:StringEqualsIgnoreCase":{"aws:TagKeys":["team","env"]}})", kTags,
        {"TEAM", "Env"}, true),
      C("ForAllValuesStringNotEqualsNoneForbidden",
        R"({"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret","admin"]}})", kTags,
        {"team", "env"}, true),
      C("ForAllValuesStringNotEqualsOneForbidden",
        R"({"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret","admin"]}})", kTags,
        {"team", "admin"}, false),
      C("ForAllValuesWithNullFalseRejectsAbsentKey",
        R"({"ForAllValues:StringEquals":{"aws:TagKeys":["team"]},"Null":{"aws:TagKeys":"false"}})",
        "", {}, false),

      // --- ORed values, ANDed keys and operators, keys ignoring case
      Case("KeysInOneOperatorAreAndedBothHold")
          .Do(kGet, kSecret)
          .Ctx("aws:RequestTag/team", {"blue"})
          .Ctx("aws:RequestTag/env", {"prod"})
          .Identity(Doc({St("S", "Allow", kGet, "*", Cond(both_keys))}))
          .Allow({"S"}),
      Case("KeysInOneOperatorAreAndedOneFails")
          .Do(kGet, kSecret)
          .Ctx("aws:RequestTag/team", {"blue"})
          .Ctx("aws:RequestTag/env", {"dev"})
          .Identity(Doc({St("S", "Allow", kGet, "*", Cond(both_keys))}))
          .Implicit(R::kIdentity),
      Case("OperatorsAreAndedBothHold")
          .Do(kGet, kSecret)
          .Ctx("aws:RequestTag/team", {"blue"})
          .Ctx(kIp, {"10.9.8.7"})
          .Identity(Doc({St("S", "Allow", kGet, "*", Cond(two_ops))}))
          .Allow({"S"}),
      Case("OperatorsAreAndedOneFails")
          .Do(kGet, kSecret)
          .Ctx("aws:RequestTag/team", {"blue"})
          .Ctx(kIp, {"192.0.2.1"})
          .Identity(Doc({St("S", "Allow", kGet, "*", Cond(two_ops))}))
          .Implicit(R::kIdentity),
      C("PolicyKeyIgnoresCase", R"({"IpAddress":{"AWS:SOURCEIP":"10.0.0.0/8"}})", kIp, {"10.0.0.1"},
        true),
      C("ContextKeyIgnoresCase", R"({"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}})", "Aws:sourceIP",
        {"10.0.0.1"}, true),
      C("ServiceKeyIgnoresCase",
        R"({"StringEquals":{"KMS:VIASERVICE":"secretsmanager.us-east-1.amazonaws.com"}})",
        "kms:ViaService", {"secretsmanager.us-east-1.amazonaws.com"}, true),
      Case("DenyNotIpAddressFromOutside")
          .Do(kGet, kSecret)
          .Ctx(kIp, {"192.0.2.1"})
          .Identity(Doc(
              {St("All", "Allow", "*", "*"),
               St("OfficeOnly", "Deny", "*", "*",
                  Cond(R"({"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}})"))}))
          .Deny(R::kIdentity, {"OfficeOnly"}),
      Case("DenyNotIpAddressFromInsideV6")
          .Do(kGet, kSecret)
          .Ctx(kIp, {"2001:db8::42"})
          .Identity(Doc(
              {St("All", "Allow", "*", "*"),
               St("OfficeOnly", "Deny", "*", "*",
                  Cond(R"({"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}})"))}))
          .Allow({"All"}),
  };
}

}  // namespace berth::iam::testing
