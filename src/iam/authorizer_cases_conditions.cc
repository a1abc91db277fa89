// Condition operators, one family after another: String*, Numeric*, Date*, Bool,
// BinaryEquals, IpAddress/NotIpAddress (IPv4 and IPv6). The request time is kNow
// (aws:CurrentTime 2026-11-26T16:55:06Z, aws:EpochTime 1795712106) and the connection is
// TLS (aws:SecureTransport true); aws:SourceIp is absent unless a case sets it.
#include "iam/authorizer_cases.h"

namespace berth::iam::testing {

namespace {
using R = Decision::Reason;

const auto C = ConditionCase;  // see authorizer_cases.h

constexpr char kTeam[] = "aws:RequestTag/team";
constexpr char kIp[] = "aws:SourceIp";
}  // namespace

std::vector<AuthzCase> ConditionCases() {
  const char* eq_blue = R"({"StringEquals":{"aws:RequestTag/team":"blue"}})";
  const char* lt10 = R"({"NumericLessThan":{"secretsmanager:RecoveryWindowInDays":"10"}})";
  const char* gt10 = R"({"NumericGreaterThan":{"secretsmanager:RecoveryWindowInDays":"10"}})";
  constexpr char kDays[] = "secretsmanager:RecoveryWindowInDays";
  const char* v4 = R"({"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}})";
  const char* not_v4 = R"({"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}})";
  const char* v6 = R"({"IpAddress":{"aws:SourceIp":"2001:db8::/32"}})";
  return {
      // --- String
      C("StringEqualsMatches", eq_blue, kTeam, {"blue"}, true),
      C("StringEqualsIsCaseSensitive", eq_blue, kTeam, {"Blue"}, false),
      C("StringEqualsHasNoWildcards", R"({"StringEquals":{"aws:RequestTag/team":"bl*"}})", kTeam,
        {"blue"}, false),
      C("StringEqualsAbsentKeyIsFalse", eq_blue, "", {}, false),
      C("StringEqualsEmptyValueListIsAbsent", eq_blue, kTeam, {}, false),
      C("StringNotEqualsOtherValue", R"({"StringNotEquals":{"aws:RequestTag/team":"blue"}})", kTeam,
        {"red"}, true),
      C("StringNotEqualsSameValue", R"({"StringNotEquals":{"aws:RequestTag/team":"blue"}})", kTeam,
        {"blue"}, false),
      C("StringNotEqualsAbsentKeyIsTrue", R"({"StringNotEquals":{"aws:RequestTag/team":"blue"}})",
        "", {}, true),
      C("StringEqualsIgnoreCaseMatches",
        R"({"StringEqualsIgnoreCase":{"aws:RequestTag/team":"blue"}})", kTeam, {"BLUE"}, true),
      C("StringNotEqualsIgnoreCaseSameValue",
        R"({"StringNotEqualsIgnoreCase":{"aws:RequestTag/team":"blue"}})", kTeam, {"BlUe"}, false),
      C("StringLikeStar", R"({"StringLike":{"aws:RequestTag/team":"registry-*"}})", kTeam,
        {"registry-creds"}, true),
      C("StringLikeQuestionMark", R"({"StringLike":{"aws:RequestTag/team":"blu?"}})", kTeam,
        {"blue"}, true),
      C("StringLikeIsCaseSensitive", R"({"StringLike":{"aws:RequestTag/team":"Blu*"}})", kTeam,
        {"blue"}, false),
      C("StringNotLikeMatchingValue", R"({"StringNotLike":{"aws:RequestTag/team":"blu*"}})", kTeam,
        {"blue"}, false),
      C("StringNotLikeOtherValue", R"({"StringNotLike":{"aws:RequestTag/team":"blu*"}})", kTeam,
        {"red"}, true),
      C("StringValuesAreOredMatch", R"({"StringEquals":{"aws:RequestTag/team":["red","blue"]}})",
        kTeam, {"blue"}, true),
      C("StringValuesAreOredNone", R"({"StringEquals":{"aws:RequestTag/team":["red","green"]}})",
        kTeam, {"blue"}, false),
      C("StringEqualsAnyContextValue", eq_blue, kTeam, {"red", "blue"}, true),
      C("StringNotEqualsNoContextValueMayMatch",
        R"({"StringNotEquals":{"aws:RequestTag/team":"blue"}})", kTeam, {"red", "blue"}, false),
      C("StringEqualsOnGlobalPrincipalAccount",
        R"({"StringEquals":{"aws:PrincipalAccount":"111122223333"}})", "", {}, true),
      C("StringEqualsOnGlobalPrincipalType", R"({"StringEquals":{"aws:PrincipalType":"User"}})", "",
        {}, true),

      // --- Numeric
      C("NumericEqualsMatches", R"({"NumericEquals":{"secretsmanager:RecoveryWindowInDays":"7"}})",
        kDays, {"7"}, true),
      C("NumericEqualsComparesNumbers",
        R"({"NumericEquals":{"secretsmanager:RecoveryWindowInDays":"7"}})", kDays, {"7.0"}, true),
      C("NumericEqualsOtherNumber",
        R"({"NumericEquals":{"secretsmanager:RecoveryWindowInDays":"7"}})", kDays, {"8"}, false),
      C("NumericNotEqualsOtherNumber",
        R"({"NumericNotEquals":{"secretsmanager:RecoveryWindowInDays":"7"}})", kDays, {"8"}, true),
      C("NumericNotEqualsSameNumber",
        R"({"NumericNotEquals":{"secretsmanager:RecoveryWindowInDays":"7"}})", kDays, {"7"}, false),
      C("NumericLessThanBelow", lt10, kDays, {"9"}, true),
      C("NumericLessThanEqualIsFalse", lt10, kDays, {"10"}, false),
      C("NumericLessThanEqualsEqual",
        R"({"NumericLessThanEquals":{"secretsmanager:RecoveryWindowInDays":"10"}})", kDays, {"10"},
        true),
      C("NumericGreaterThanAbove", gt10, kDays, {"11"}, true),
      C("NumericGreaterThanEqualIsFalse", gt10, kDays, {"10"}, false),
      C("NumericGreaterThanEqualsEqual",
        R"({"NumericGreaterThanEquals":{"secretsmanager:RecoveryWindowInDays":"10"}})", kDays,
        {"10"}, true),
      C("NumericJsonNumberValue", R"({"NumericLessThanEquals":{"sts:DurationSeconds":3600}})",
        "sts:DurationSeconds", {"900"}, true),
      C("NumericContextNotANumber", lt10, kDays, {"seven"}, false),
      C("NumericAbsentKeyIsFalse", lt10, "", {}, false),

      // --- Date (aws:CurrentTime is kNow)
      C("DateLessThanFuture", R"({"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}})", "",
        {}, true),
      C("DateLessThanPast", R"({"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}})", "",
        {}, false),
      C("DateGreaterThanPast", R"({"DateGreaterThan":{"aws:CurrentTime":"2026-11-26T16:55:05Z"}})",
        "", {}, true),
      C("DateGreaterThanSameInstant",
        R"({"DateGreaterThan":{"aws:CurrentTime":"2026-11-26T16:55:06Z"}})", "", {}, false),
      C("DateEqualsSameInstant", R"({"DateEquals":{"aws:CurrentTime":"2026-11-26T16:55:06Z"}})", "",
        {}, true),
      C("DateNotEqualsOtherInstant",
        R"({"DateNotEquals":{"aws:CurrentTime":"2026-11-26T16:55:07Z"}})", "", {}, true),
      C("DateLessThanEqualsSameInstant",
        R"({"DateLessThanEquals":{"aws:CurrentTime":"2026-11-26T16:55:06Z"}})", "", {}, true),
      C("DateGreaterThanEqualsSameInstant",
        R"({"DateGreaterThanEquals":{"aws:CurrentTime":"2026-11-26T16:55:06Z"}})", "", {}, true),
      C("DateEpochSecondsValue", R"({"DateGreaterThan":{"aws:CurrentTime":"1795712105"}})", "", {},
        true),
      C("DateWithZoneOffset", R"({"DateEquals":{"aws:CurrentTime":"2026-11-26T17:55:06+01:00"}})",
        "", {}, true),
      C("DateDayOnlyIsMidnight", R"({"DateGreaterThan":{"aws:CurrentTime":"2026-11-26"}})", "", {},
        true),
      C("DateOnEpochTimeKey", R"({"DateLessThan":{"aws:EpochTime":"2026-11-27"}})", "", {}, true),
      C("DateAbsentKeyIsFalse", R"({"DateLessThan":{"aws:TokenIssueTime":"2027-01-01"}})", "", {},
        false),

      // --- Bool (aws:SecureTransport is "true")
      C("BoolTrue", R"({"Bool":{"aws:SecureTransport":"true"}})", "", {}, true),
      C("BoolFalseDoesNotMatchTrue", R"({"Bool":{"aws:SecureTransport":"false"}})", "", {}, false),
      C("BoolValueIgnoresCase", R"({"Bool":{"aws:SecureTransport":"True"}})", "", {}, true),
      C("BoolJsonBoolean", R"({"Bool":{"aws:SecureTransport":true}})", "", {}, true),
      C("BoolFalseOnAbsentKeyIsFalse", R"({"Bool":{"aws:MultiFactorAuthPresent":"false"}})", "", {},
        false),
      C("BoolIfExistsOnAbsentKey", R"({"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}})", "",
        {}, true),

      // --- BinaryEquals (base64 text, compared exactly)
      C("BinaryEqualsMatches", R"({"BinaryEquals":{"kms:EncryptionContext:blob":"QmluYXJ5"}})",
        "kms:EncryptionContext:blob", {"QmluYXJ5"}, true),
      C("BinaryEqualsOtherValue", R"({"BinaryEquals":{"kms:EncryptionContext:blob":"QmluYXJ5"}})",
        "kms:EncryptionContext:blob", {"cmluYXJ5"}, false),
      C("BinaryEqualsAbsentKey", R"({"BinaryEquals":{"kms:EncryptionContext:blob":"QmluYXJ5"}})",
        "", {}, false),

      // --- IpAddress / NotIpAddress
      C("IpV4InCidr", v4, kIp, {"203.0.113.7"}, true),
      C("IpV4OutsideCidr", v4, kIp, {"198.51.100.7"}, false),
      C("IpV4SingleAddress", R"({"IpAddress":{"aws:SourceIp":"203.0.113.7"}})", kIp,
        {"203.0.113.7"}, true),
      C("IpV4SingleAddressIsSlash32", R"({"IpAddress":{"aws:SourceIp":"203.0.113.7"}})", kIp,
        {"203.0.113.8"}, false),
      C("IpV4Slash25UpperHalfOutside", R"({"IpAddress":{"aws:SourceIp":"203.0.113.0/25"}})", kIp,
        {"203.0.113.200"}, false),
      C("IpV4Slash25LowerHalfInside", R"({"IpAddress":{"aws:SourceIp":"203.0.113.0/25"}})", kIp,
        {"203.0.113.100"}, true),
      C("IpV4SlashZeroMatchesAll", R"({"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}})", kIp,
        {"192.0.2.1"}, true),
      C("IpV4ListIsOred", R"({"IpAddress":{"aws:SourceIp":["10.0.0.0/8","203.0.113.0/24"]}})", kIp,
        {"10.1.2.3"}, true),
      C("IpV6InCidr", v6, kIp, {"2001:db8:1::5"}, true),
      C("IpV6OutsideCidr", v6, kIp, {"2001:db9::1"}, false),
      C("IpV4RangeDoesNotMatchV6Address", v4, kIp, {"2001:db8::1"}, false),
      C("IpV6RangeDoesNotMatchV4Address", v6, kIp, {"203.0.113.7"}, false),
      C("IpAddressAbsentKeyIsFalse", v4, "", {}, false),
      C("NotIpAddressOutside", not_v4, kIp, {"198.51.100.7"}, true),
      C("NotIpAddressInside", not_v4, kIp, {"203.0.113.9"}, false),
      C("NotIpAddressAbsentKeyIsTrue", not_v4, "", {}, true),
      C("NotIpAddressV6", R"({"NotIpAddress":{"aws:SourceIp":"2001:db8::/32"}})", kIp,
        {"2001:db8::1"}, false),
  };
}

}  // namespace berth::iam::testing
