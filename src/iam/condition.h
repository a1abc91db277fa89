// The matching pieces of IAM policies: the request context, patterns (wildcards and
// policy variables) and Condition operators.
//
// Everything here is compiled once, when a policy is parsed, and evaluated on every
// request: evaluation allocates nothing, uses no regex and no JSON.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace berth::iam {

// The request context: condition key -> values. Keys are looked up ignoring case, as AWS
// does ("aws:sourceip" finds "aws:SourceIp"). A single-valued key has one value; a
// multivalued key (aws:TagKeys) any number; an empty vector is "present but empty",
// which the operators treat like an absent key.
//
// A lookup finds, in order: the keys set on this map, the keys of its base (a map kept
// elsewhere: a resource's own keys, built once per record), then the global aws:* keys.
// The global keys are computed from the request's facts (SetGlobals) only when a policy
// asks for one: most policies name none, and a request then pays nothing for them.
// Not thread-safe (the computed keys are cached in the map); a context belongs to one
// request.
class ContextMap {
 public:
  using Values = std::vector<std::string>;
  using Entry = std::pair<std::string, Values>;

  // What the global keys are computed from (see AddGlobalConditionKeys).
  struct Globals {
    enum class Caller : uint8_t { kRoot, kUser, kAssumedRole, kFederatedUser, kService };
    Caller caller = Caller::kService;
    std::string arn;  // the caller's ARN (a session's: the assumed-role ARN)
    std::string account;
    std::string user_id;
    std::string name;     // user name; for a session, the role's name
    std::string service;  // the service principal, for kService
    std::string source_ip;
    bool secure_transport = false;
    TimePoint now{};
  };

  ContextMap() = default;
  ContextMap(std::initializer_list<Entry> entries);

  // The values of `key` on this map, added (empty) when absent.
  Values& operator[](std::string_view key);
  void Erase(std::string_view key);
  void Reserve(size_t n) { entries_.reserve(n); }
  // The values a condition sees for `key`; null when absent.
  const Values* Find(std::string_view key) const;

  // `base` must outlive this map (and its copies); null: none. A base is
  // shared by concurrent requests: it must have no globals (their values are
  // computed, and cached, on lookup).
  void SetBase(const ContextMap* base) { base_ = base; }
  void SetGlobals(Globals globals);
  bool HasGlobals() const { return globals_.has_value(); }

  // The keys set on this map (neither the base's nor the globals).
  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

  static constexpr size_t kGlobalKeys = 11;

 private:
  const Values* FindGlobal(std::string_view key) const;

  // Past kIndexFrom own keys (a request may carry thousands: KMS encryption
  // contexts, simulator entries) lookups go through a case-insensitive index
  // instead of a scan, so building and reading a context stay linear.
  static constexpr size_t kIndexFrom = 16;
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const noexcept;
  };
  struct KeyEq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept;
  };
  const Values* FindOwn(std::string_view key) const;
  void Reindex();

  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t, KeyHash, KeyEq> index_;  // empty below kIndexFrom
  const ContextMap* base_ = nullptr;
  std::optional<Globals> globals_;
  mutable std::array<Values, kGlobalKeys> computed_{};
  mutable uint16_t computed_mask_ = 0;  // bit i: computed_[i] holds global key i
  mutable uint16_t present_mask_ = 0;   // bit i: global key i applies to this request
};

// The policy language version. Policy variables are substituted only in 2012-10-17
// documents; in 2008-10-17 ones (also a document without Version) "${...}" is literal.
enum class LanguageVersion : uint8_t { k2008_10_17, k2012_10_17 };

// A policy string that request strings are compared with: a literal with, depending on
// where it appears, wildcards and policy variables.
class Pattern {
 public:
  struct Options {
    bool wildcards = true;     // '*': any run of characters, ':' and '/' included; '?': one
    bool variables = false;    // ${key}, ${key, 'default'}, ${*}, ${?}, ${$}
    bool ignore_case = false;  // ASCII case folding on both sides
  };

  Pattern() = default;
  // Never fails: text that is not a well-formed variable ("${", "${}") stays literal.
  static Pattern Compile(std::string_view text, Options options);

  // True when `text` matches. A variable takes its key's value from `context` when the
  // key has exactly one value, else its default; with neither the pattern matches nothing
  // (AWS: a variable that cannot be resolved makes the element not match).
  bool Matches(std::string_view text, const ContextMap& context) const;

  // The text as written in the policy.
  const std::string& source() const { return source_; }
  // True for the pattern "*" with wildcards on.
  bool MatchesEverything() const { return kind_ == Kind::kAnything; }

 private:
  enum class Kind : uint8_t { kAnything, kExact, kPrefix, kStars, kGeneral };
  struct Piece {
    enum class Type : uint8_t { kLiteral, kStar, kOne, kVariable } type;
    std::string text;      // literal text, or the variable's key
    std::string fallback;  // the variable's default
    bool has_fallback = false;
  };

  bool MatchGeneral(std::string_view text, const ContextMap& context) const;
  // The text a literal or variable piece stands for; false when a variable is unresolved.
  bool PieceText(const Piece& piece, const ContextMap& context, std::string_view* out) const;

  std::string source_;
  Kind kind_ = Kind::kExact;
  bool ignore_case_ = false;
  // kStars: literals and '*' only, case-sensitive, without variables.
  bool MatchStars(std::string_view text) const;

  std::string literal_;  // kExact: the whole text; kPrefix: the text before the final '*'
  std::vector<Piece> pieces_;  // kStars and kGeneral
};

// One condition: `"<operator>": {"<key>": <values>}` with one key. The values of a
// condition are ORed; the conditions of a statement are ANDed.
//
// Without a set qualifier a positive operator holds when any context value matches any
// policy value, a negated one (StringNotEquals, NotIpAddress, ...) when none does. An
// absent key makes positive operators false and negated ones true; `...IfExists` makes
// any operator true on an absent key. ForAnyValue: some context value satisfies the
// operator (absent key: false). ForAllValues: every context value does (absent or
// empty key: true). Null: "true" holds when the key is absent, "false" when present.
class Condition {
 public:
  enum class Operator : uint8_t {
    kStringEquals, kStringNotEquals, kStringEqualsIgnoreCase, kStringNotEqualsIgnoreCase,
    kStringLike, kStringNotLike,
    kNumericEquals, kNumericNotEquals, kNumericLessThan, kNumericLessThanEquals,
    kNumericGreaterThan, kNumericGreaterThanEquals,
    kDateEquals, kDateNotEquals, kDateLessThan, kDateLessThanEquals, kDateGreaterThan,
    kDateGreaterThanEquals,
    kBool, kBinaryEquals, kIpAddress, kNotIpAddress,
    kArnEquals, kArnLike, kArnNotEquals, kArnNotLike,
    kNull,
  };
  enum class Qualifier : uint8_t { kNone, kForAnyValue, kForAllValues };

  // Compiles one key of an operator block. `op` is the operator as written, prefix and
  // suffix included ("ForAllValues:StringLikeIfExists"). Errors (MalformedPolicyDocument):
  // an unknown operator ("Syntax errors in policy.", without naming it, as IAM says), a
  // Date value ParseConditionDate refuses ("The policy failed legacy parsing").
  // Numeric values and IP ranges that do not parse are accepted and never match.
  static Result<Condition> Compile(std::string_view op, std::string_view key,
                                   const std::vector<std::string>& values, LanguageVersion version);

  bool Evaluate(const ContextMap& context) const;

  const std::string& key() const { return key_; }
  Operator op() const { return op_; }
  Qualifier qualifier() const { return qualifier_; }
  bool if_exists() const { return if_exists_; }

 private:
  struct Cidr {
    uint8_t family = 0;  // 4 or 6; 0 = did not parse
    uint8_t prefix_bits = 0;
    std::array<uint8_t, 16> bytes{};
  };
  // An ARN value split into its six ':'-separated parts, each matched on its own.
  struct ArnPattern {
    bool split = false;  // false: fewer than six parts, `whole` is matched instead
    std::array<Pattern, 6> parts;
    Pattern whole;
  };

  Condition() = default;
  // The positive operator's test of one context value against all policy values (ORed).
  bool MatchesAnyValue(std::string_view value, const ContextMap& context) const;

  Operator op_ = Operator::kStringEquals;
  Qualifier qualifier_ = Qualifier::kNone;
  bool if_exists_ = false;
  bool negated_ = false;
  std::string key_;
  std::vector<std::string> raw_;        // Bool (lower-cased), BinaryEquals, Null
  std::vector<Pattern> patterns_;       // String*
  std::vector<ArnPattern> arns_;        // Arn*
  std::vector<double> numbers_;         // Numeric* (NaN when unparsable), Date* (epoch s)
  std::vector<Cidr> cidrs_;             // IpAddress, NotIpAddress
};

// Parses a Date condition value (or a date-valued context key) as IAM does. Returns
// seconds since the epoch; false when malformed, which IAM calls "The policy failed legacy
// parsing". The forms are those IAM accepts in moto's validation cases (checked against IAM,
// getmoto/moto#2269) and the W3C profile of ISO 8601 the IAM guide names; the accepted year
// range is Joda-Time's, whose ISO parser the rest follows where those say nothing:
//   - Digits only: epoch seconds, 0 to 2^63-1 ("1563278400"; a JSON number is its text).
//   - Otherwise ISO 8601 with the date in front:
//       [-]Y[YYYYYYYY] [-M[M] [-D[D]]] [T [h[h] [:m[m] [:s[s] [.f{1,9}]]]] [zone]]
//       zone: Z | (+|-)hh[[:]mm]
//     so "2019-07-16", "2019-07", "2019-07-16T12:00Z", "2019-07-16T12:00:00.000Z",
//     "2019-07-16T12:00:00+01:00", "2016-12-13t2:00:00.593194+23", even "01T" (year 1)
//     and "-292275054" (a year: a value with '-' is never epoch seconds). 'T' and 'Z' in
//     either case; no zone: UTC; year -292275054 to 292278993; the day must exist.
//   - Refused: a space for the 'T' ("2019-07-16 12:00:00", not ISO 8601), a one-digit
//     zone ("+1"), more than nine fraction digits, ordinal and week dates, ',' fractions,
//     a time without a date ("T12:00"), an epoch past 2^63-1.
bool ParseConditionDate(std::string_view text, double* epoch_seconds);

}  // namespace berth::iam
