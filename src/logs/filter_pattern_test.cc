// Filter patterns against AWS's documented examples (FilterAndPatternSyntax): each form with
// messages that match and messages that do not, and malformed patterns.
#include "logs/filter_pattern.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <string_view>

namespace berth::logs {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

FilterPattern P(std::string_view pattern) {
  Result<FilterPattern> parsed = FilterPattern::Parse(pattern);
  EXPECT_TRUE(parsed.has_value()) << pattern << ": " << parsed.error().message;
  if (!parsed) return std::move(FilterPattern::Parse("").value());
  return std::move(parsed).value();
}

bool M(std::string_view pattern, std::string_view message) { return P(pattern).Matches(message); }

void ExpectInvalid(std::string_view pattern, std::string_view message = "Invalid filter pattern") {
  Result<FilterPattern> parsed = FilterPattern::Parse(pattern);
  ASSERT_FALSE(parsed.has_value()) << pattern;
  EXPECT_EQ(parsed.error().code, "InvalidParameterException") << pattern;
  EXPECT_EQ(parsed.error().message, message) << pattern;
  EXPECT_EQ(parsed.error().http_status, 400);
}

TEST(FilterPatternTest, EmptyPatternMatchesEverything) {
  for (std::string_view pattern : {"", "   "}) {
    FilterPattern p = P(pattern);
    EXPECT_TRUE(p.MatchesEverything());
    EXPECT_TRUE(p.Matches(""));
    EXPECT_TRUE(p.Matches("anything {\"at\": all}"));
    EXPECT_THAT(p.RequiredSubstrings(), IsEmpty());
  }
  EXPECT_FALSE(P("ERROR").MatchesEverything());
}

TEST(FilterPatternTest, TermIsCaseSensitiveSubstring) {
  EXPECT_TRUE(M("ERROR", "[ERROR] A fatal exception has occurred"));
  EXPECT_TRUE(M("ERROR", "Exiting with ERRORCODE: -1"));
  EXPECT_FALSE(M("ERROR", "error: lower case"));
  EXPECT_FALSE(M("ERROR", ""));
  EXPECT_THAT(P("ERROR").RequiredSubstrings(), ElementsAre("ERROR"));
}

TEST(FilterPatternTest, TermsAreAndedInAnyOrder) {
  FilterPattern p = P("ERROR Exception");
  EXPECT_TRUE(p.Matches("[ERROR] Caught IllegalArgumentException"));
  EXPECT_TRUE(p.Matches("Exception then ERROR"));
  EXPECT_FALSE(p.Matches("[ERROR] only"));
  EXPECT_FALSE(p.Matches("Exception only"));
  EXPECT_THAT(p.RequiredSubstrings(), ElementsAre("ERROR", "Exception"));
}

TEST(FilterPatternTest, QuotedPhraseIsOneTermWithPunctuation) {
  FilterPattern p = P("\"connection reset\"");
  EXPECT_TRUE(p.Matches("read: connection reset by peer"));
  EXPECT_FALSE(p.Matches("connection was reset"));
  EXPECT_THAT(p.RequiredSubstrings(), ElementsAre("connection reset"));
  EXPECT_TRUE(M("\"user@example.com\"", "login user@example.com ok"));
  EXPECT_TRUE(M(R"("say \"hi\"")", R"(he said: say "hi" twice)"));
  EXPECT_FALSE(M(R"("say \"hi\"")", "say hi"));
  EXPECT_THAT(P(R"("a\"b" c)").RequiredSubstrings(), ElementsAre("a\"b", "c"));
}

TEST(FilterPatternTest, TermSearchAgreesWithFindAtEveryOffsetAndLength) {
  // The vectorised search handles 16-byte blocks and a scalar tail: check both, with needles of
  // 1 to 40 bytes (long ones take another path) over a small alphabet full of near misses.
  uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1103515245 + 12345; };
  for (int round = 0; round < 3000; ++round) {
    std::string haystack, needle;
    size_t haystack_size = next() % 70, needle_size = 1 + next() % 40;
    for (size_t i = 0; i < haystack_size; ++i) haystack += "abc "[(next() >> 16) % 4];
    if (needle_size <= haystack_size && next() % 2 == 0) {
      needle = haystack.substr((next() >> 8) % (haystack_size - needle_size + 1), needle_size);
    } else {
      for (size_t i = 0; i < needle_size; ++i) needle += "abc "[(next() >> 16) % 4];
    }
    if (needle.find_first_not_of(' ') == std::string::npos) continue;
    bool expected = haystack.find(needle) != std::string::npos;
    EXPECT_EQ(P("\"" + needle + "\"").Matches(haystack), expected)
        << "needle '" << needle << "' haystack '" << haystack << "'";
  }
}

TEST(FilterPatternTest, QuestionMarkTermsAreOr) {
  // AWS's example: ?ERROR ?WARN matches all three; ERROR WARN only the first.
  FilterPattern p = P("?ERROR ?WARN");
  EXPECT_TRUE(p.Matches("ERROR WARN message"));
  EXPECT_TRUE(p.Matches("ERROR message"));
  EXPECT_TRUE(p.Matches("WARN message"));
  EXPECT_FALSE(p.Matches("INFO message"));
  EXPECT_THAT(p.RequiredSubstrings(), IsEmpty());
  EXPECT_FALSE(M("ERROR WARN", "ERROR message"));
  EXPECT_TRUE(M("?\"connection reset\" ?timeout", "read: connection reset"));
  // Mixed: the plain terms are required, and one of the ?-terms.
  FilterPattern mixed = P("app ?ERROR ?WARN");
  EXPECT_TRUE(mixed.Matches("app WARN"));
  EXPECT_FALSE(mixed.Matches("app INFO"));
  EXPECT_FALSE(mixed.Matches("lib ERROR"));
  EXPECT_THAT(mixed.RequiredSubstrings(), ElementsAre("app"));
}

TEST(FilterPatternTest, MinusTermExcludes) {
  FilterPattern p = P("ERROR -WARN");
  EXPECT_TRUE(p.Matches("ERROR message"));
  EXPECT_FALSE(p.Matches("ERROR WARN message"));
  EXPECT_FALSE(p.Matches("WARN message"));
  EXPECT_THAT(p.RequiredSubstrings(), ElementsAre("ERROR"));
  // AWS's example writes the minus apart from a quoted phrase.
  FilterPattern q = P("\"ERROR\" - \"Exiting\"");
  EXPECT_TRUE(q.Matches("[ERROR] A fatal exception has occurred"));
  EXPECT_FALSE(q.Matches("Exiting with ERRORCODE: -1"));
  EXPECT_TRUE(M("-\"connection reset\"", "all fine"));
  EXPECT_FALSE(M("-\"connection reset\"", "connection reset"));
  EXPECT_TRUE(M("-DEBUG", "INFO started"));
}

TEST(FilterPatternTest, UnquotedTermsHoldOnlyAlphanumericsAndUnderscore) {
  EXPECT_TRUE(M("status_404", "got status_404 here"));
  ExpectInvalid("user@example.com");
  ExpectInvalid("ERROR:");
  ExpectInvalid("a.b");
  ExpectInvalid("ERROR \"unterminated");
  ExpectInvalid("\"\"");
  ExpectInvalid("\"a\"b");
  ExpectInvalid("ERROR -");
  ExpectInvalid("?");
}

TEST(FilterPatternTest, RegexTerm) {
  FilterPattern ip = P(R"(%\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}%)");
  EXPECT_TRUE(ip.Matches("from 10.0.12.255 port 22"));
  EXPECT_FALSE(ip.Matches("from 10.0.12 port 22"));
  EXPECT_THAT(ip.RequiredSubstrings(), IsEmpty());
  FilterPattern alt = P("%[Ee]rror|[Ff]ail%");
  EXPECT_TRUE(alt.Matches("an error"));
  EXPECT_TRUE(alt.Matches("Failed"));
  EXPECT_FALSE(alt.Matches("ERROR"));
  EXPECT_TRUE(M("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST"));
  EXPECT_TRUE(M("%colou?r%", "color"));
  EXPECT_TRUE(M("%colou?r%", "colour"));
  EXPECT_FALSE(M("%colou?r%", "colouur"));
  EXPECT_TRUE(M("%^[hc]at%", "hat trick"));
  EXPECT_FALSE(M("%^[hc]at%", "that"));
  EXPECT_TRUE(M("%[hc]at$%", "a cat"));
  EXPECT_FALSE(M("%[hc]at$%", "cats"));
  EXPECT_TRUE(M("%a{3,5}%", "baaab"));
  EXPECT_FALSE(M("%ba{3,5}b%", "baab"));
  EXPECT_FALSE(M("%ba{3,5}b%", "baaaaaab"));
  EXPECT_TRUE(M("%ba{2,}b%", "baaaaaab"));
  EXPECT_TRUE(M("%ba{2}b%", "baab"));
  EXPECT_TRUE(M("%x+y*z%", "xxxz"));
  EXPECT_FALSE(M("%x+y*z%", "yz"));
  EXPECT_TRUE(M(R"(%\w+=\s*\d%)", "key= 5"));
  EXPECT_TRUE(M(R"(%^\D\W\S$%)", "a-b"));
  EXPECT_FALSE(M(R"(%^\D\W\S$%)", "1-b"));
  EXPECT_FALSE(M(R"(%^\D\W\S$%)", "a_b"));
  EXPECT_FALSE(M(R"(%^\D\W\S$%)", "a- "));
  EXPECT_TRUE(M(R"(%a\tb%)", "a\tb"));
  EXPECT_TRUE(M("%a.c%", "abc"));
  EXPECT_TRUE(M(R"(%10\.0%)", "10.0"));
  EXPECT_FALSE(M(R"(%10\.0%)", "1000"));
  EXPECT_TRUE(M(R"(%\x28x\x29%)", "f(x)"));
  EXPECT_TRUE(M("%[^0-9]%", "a"));
  EXPECT_FALSE(M("%^[^0-9]+$%", "a1"));
}

TEST(FilterPatternTest, RegexTermCombinesWithTerms) {
  FilterPattern p = P("app %[Ee]rror%");
  EXPECT_TRUE(p.Matches("app Error"));
  EXPECT_FALSE(p.Matches("app ok"));
  EXPECT_FALSE(p.Matches("lib error"));
  EXPECT_THAT(p.RequiredSubstrings(), ElementsAre("app"));
  EXPECT_FALSE(M("-%\\d%", "a1"));
  EXPECT_TRUE(M("-%\\d%", "ab"));
}

TEST(FilterPatternTest, RegexOutsideAwsSubsetIsInvalid) {
  ExpectInvalid("%something!%");  // AWS's own example: '!' is not supported
  ExpectInvalid("%(ab)+%");       // no groups
  ExpectInvalid(R"(%\(%)");       // not even escaped
  ExpectInvalid("%%");
  ExpectInvalid("%abc");
  ExpectInvalid("%a|%");
  ExpectInvalid("%*a%");
  ExpectInvalid("%a{3,2}%");
  ExpectInvalid("%[abc%");
  ExpectInvalid("%a^b%");
  ExpectInvalid("%\xC3\xA9%");  // multi-byte characters are not supported
  ExpectInvalid("%a{1000}{1000}%");
  ExpectInvalid("%a% %b% %c%");  // at most 2 regex a pattern
  EXPECT_TRUE(M("%a% %b%", "ab"));
}

TEST(FilterPatternTest, RegexWithManyStatesMatchesLikeFewStates) {
  // 64 states and more take the general simulation; fewer the bit-parallel one.
  std::string many = "%^a{70}b?c*d$%";
  EXPECT_TRUE(M(many, std::string(70, 'a') + "d"));
  EXPECT_TRUE(M(many, std::string(70, 'a') + "bcccd"));
  EXPECT_FALSE(M(many, std::string(69, 'a') + "d"));
  EXPECT_FALSE(M(many, std::string(70, 'a') + "bbd"));
  EXPECT_TRUE(M("%x{60,80}y%", "zz" + std::string(75, 'x') + "y"));
  EXPECT_FALSE(M("%zx{60,80}y%", "z" + std::string(81, 'x') + "y"));
  EXPECT_TRUE(M("%x{62}y|q%", std::string(62, 'x') + "y"));
}

TEST(FilterPatternTest, RegexAgreesWithStdRegexOnRandomPatterns) {
  // Both simulations against std::regex (ECMAScript search): each pattern once as written and
  // once padded with "c{0,64}" (matches the empty string here) to exceed 64 states.
  uint32_t seed = 7;
  auto next = [&] { return (seed = seed * 1103515245 + 12345) >> 16; };
  const char* atoms[] = {"a", "b", ".", "[ab]", "[^a]", "\\w"};
  const char* quantifiers[] = {"", "", "*", "+", "?", "{1,2}", "{2}", "{0,1}"};
  for (int round = 0; round < 400; ++round) {
    std::string source, padded;
    for (size_t alt = 0, alts = 1 + next() % 2; alt < alts; ++alt) {
      std::string body;
      bool anchor_start = next() % 4 == 0, anchor_end = next() % 4 == 0;
      for (size_t k = 0, atoms_count = 1 + next() % 4; k < atoms_count; ++k) {
        body += std::string(atoms[next() % 6]) + quantifiers[next() % 8];
      }
      std::string start = anchor_start ? "^" : "", end = anchor_end ? "$" : "";
      source += (alt ? "|" : "") + start + body + end;
      padded += (alt ? "|" : "") + start + "c{0,64}" + body + end;
    }
    const std::regex reference(source);
    FilterPattern plain = P("%" + source + "%");
    FilterPattern big = P("%" + padded + "%");
    for (int t = 0; t < 8; ++t) {
      std::string text;
      for (size_t i = 0, size = next() % 7; i < size; ++i) text += "ab"[next() % 2];
      bool expected = std::regex_search(text, reference);
      EXPECT_EQ(plain.Matches(text), expected) << source << " on '" << text << "'";
      EXPECT_EQ(big.Matches(text), expected) << padded << " on '" << text << "'";
    }
  }
}

TEST(FilterPatternTest, RegexIsLinearOnPathologicalInput) {
  // (a*)*b-style blowups cannot happen: the NFA simulation is O(message x states).
  std::string message(100000, 'a');
  EXPECT_FALSE(M("%a*a*a*a*a*a*a*a*a*a*b%", message));
}

constexpr std::string_view kCloudTrail = R"({
  "eventType": "UpdateTrail",
  "sourceIPAddress": "111.111.111.111",
  "arrayKey": ["value", "another value"],
  "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
  "SomeObject": null,
  "ThisFlag": true,
  "OtherFlag": false,
  "latency": 1200,
  "ratio": 0.5
})";

TEST(FilterPatternTest, JsonStringEquality) {
  EXPECT_TRUE(M(R"({ $.eventType = "UpdateTrail" })", kCloudTrail));
  EXPECT_TRUE(M("{ $.eventType = UpdateTrail }", kCloudTrail));
  EXPECT_TRUE(M("{$.eventType=UpdateTrail}", kCloudTrail));
  EXPECT_FALSE(M(R"({ $.eventType = "Update" })", kCloudTrail));
  EXPECT_FALSE(M(R"({ $.eventType = "updatetrail" })", kCloudTrail));
  EXPECT_TRUE(M(R"({ $.eventType != "CreateTrail" })", kCloudTrail));
  EXPECT_FALSE(M(R"({ $.eventType != "UpdateTrail" })", kCloudTrail));
  EXPECT_THAT(P(R"({ $.eventType = "UpdateTrail" })").RequiredSubstrings(), IsEmpty());
}

TEST(FilterPatternTest, JsonWildcards) {
  EXPECT_TRUE(M("{ $.sourceIPAddress != 123.123.* }", kCloudTrail));
  EXPECT_FALSE(M("{ $.sourceIPAddress != 111.111.* }", kCloudTrail));
  EXPECT_TRUE(M("{ $.eventType = *Trail }", kCloudTrail));
  EXPECT_TRUE(M("{ $.eventType = Update* }", kCloudTrail));
  EXPECT_TRUE(M(R"({ $.eventType = "U*e*l" })", kCloudTrail));
  EXPECT_FALSE(M("{ $.eventType = Create* }", kCloudTrail));
  EXPECT_TRUE(M("{ $.latency = * }", kCloudTrail));
  EXPECT_TRUE(M("{ $.latency = 12* }", kCloudTrail));
  EXPECT_FALSE(M("{ $.missing = * }", kCloudTrail));
}

TEST(FilterPatternTest, JsonNestedSelectorsAndArrays) {
  EXPECT_TRUE(M(R"({ $.arrayKey[0] = "value" })", kCloudTrail));
  EXPECT_TRUE(M(R"({ $.arrayKey[1] = "another value" })", kCloudTrail));
  EXPECT_FALSE(M(R"({ $.arrayKey[2] = "value" })", kCloudTrail));
  EXPECT_FALSE(M(R"({ $.eventType[0] = "UpdateTrail" })", kCloudTrail));
  EXPECT_TRUE(M("{ $.objectList[1].id = 2 }", kCloudTrail));
  EXPECT_FALSE(M("{ $.objectList[0].id = 2 }", kCloudTrail));
  EXPECT_TRUE(M("{ $.a.b-c.d_e = 1 }", R"({"a":{"b-c":{"d_e":1}}})"));
  EXPECT_TRUE(M("{ $.coordinates[0][1] = 1 }", R"({"coordinates":[[0,1,2]]})"));
  EXPECT_TRUE(M("{ $[1].x = 1 }", R"([{"x":0},{"x":1}])"));
  // A selector on an object or array matches neither = nor !=.
  EXPECT_FALSE(M("{ $.users = 1 }", R"({"users":[1,2,3]})"));
  EXPECT_FALSE(M("{ $.users != 1 }", R"({"users":[1,2,3]})"));
}

TEST(FilterPatternTest, JsonNumbers) {
  EXPECT_TRUE(M("{ $.latency >= 500 }", kCloudTrail));
  EXPECT_TRUE(M("{ $.latency > +1000 }", kCloudTrail));
  EXPECT_FALSE(M("{ $.latency < 1000 }", kCloudTrail));
  EXPECT_TRUE(M("{ $.latency <= 1200 }", kCloudTrail));
  EXPECT_TRUE(M("{ $.latency = 1200 }", kCloudTrail));
  EXPECT_TRUE(M("{ $.latency = 1.2e3 }", kCloudTrail));
  EXPECT_TRUE(M("{ $.latency != 500 }", kCloudTrail));
  EXPECT_TRUE(M("{ $.ratio < 10e-1 }", kCloudTrail));
  EXPECT_TRUE(M("{ $.ratio = 0.50 }", kCloudTrail));
  EXPECT_TRUE(M("{ $.n > -3 }", R"({"n":-2})"));
  EXPECT_FALSE(M("{ $.eventType > 5 }", kCloudTrail));  // not a number
  EXPECT_FALSE(M("{ $.missing < 5 }", kCloudTrail));
  EXPECT_TRUE(M("{ $.code = 400 }", R"({"code":"400"})"));
}

TEST(FilterPatternTest, JsonIsTrueFalseNullNotExists) {
  EXPECT_TRUE(M("{ $.ThisFlag IS TRUE }", kCloudTrail));
  EXPECT_FALSE(M("{ $.ThisFlag IS FALSE }", kCloudTrail));
  EXPECT_TRUE(M("{ $.OtherFlag IS FALSE }", kCloudTrail));
  EXPECT_FALSE(M("{ $.eventType IS TRUE }", kCloudTrail));
  EXPECT_TRUE(M("{ $.SomeObject IS NULL }", kCloudTrail));
  EXPECT_FALSE(M("{ $.SomeOtherObject IS NULL }", kCloudTrail));
  EXPECT_FALSE(M("{ $.ThisFlag IS NULL }", kCloudTrail));
  EXPECT_TRUE(M("{ $.SomeOtherObject NOT EXISTS }", kCloudTrail));
  EXPECT_TRUE(M("{ $.objectList[5].id NOT EXISTS }", kCloudTrail));
  EXPECT_FALSE(M("{ $.SomeObject NOT EXISTS }", kCloudTrail));
  EXPECT_FALSE(M("{ $.objectList[0].id NOT EXISTS }", kCloudTrail));
}

constexpr std::string_view kUsers = R"({
  "user": {"id": 1, "email": "John.Stiles@example.com"},
  "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
  "actions": ["GET", "PUT", "DELETE"],
  "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]]
})";

TEST(FilterPatternTest, JsonCompoundConditionsFollowAwsPrecedence) {
  // AWS's four examples, with their documented outcomes: ( ) > && > ||.
  EXPECT_TRUE(M(R"({ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") })", kUsers));
  EXPECT_FALSE(
      M(R"({ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" })", kUsers));
  EXPECT_TRUE(M(
      R"({ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch })",
      kUsers));
  EXPECT_FALSE(M(
      R"({ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch })",
      kUsers));
  EXPECT_TRUE(M("{ $.foo = bar || $.foo = baz }", R"({"foo": "baz"})"));
  EXPECT_FALSE(M("{ $.foo = bar || $.foo = baz }", R"({"foo": "qux"})"));
  EXPECT_TRUE(M("{ ((($.user.id = 1))) }", kUsers));
}

TEST(FilterPatternTest, JsonRegexValue) {
  EXPECT_TRUE(M("{ $.eventType = %Update[A-Z]% }", kCloudTrail));
  EXPECT_FALSE(M("{ $.eventType != %Update[A-Z]% }", kCloudTrail));
  EXPECT_TRUE(M("{ $.eventType = %^Up% && $.eventType != %Create% }", kCloudTrail));
}

TEST(FilterPatternTest, JsonPrefilterNeverHidesAMatch) {
  // Matching skips the JSON parse when the raw text lacks a condition's member name or string
  // value; escapes and numbers printed differently must not fool it.
  EXPECT_TRUE(M("{ $.level = error }", R"({"lev\u0065l":"error"})"));
  EXPECT_TRUE(M("{ $.level = error }", R"({"level":"\u0065rror"})"));
  EXPECT_TRUE(M(R"({ $.path = "a/b" })", R"({"path":"a\/b"})"));
  EXPECT_TRUE(M("{ $.latency = 1.2* }", R"({"latency":1.2e3})"));  // a number's text as written
  EXPECT_FALSE(M("{ $.latency = 12* }", R"({"latency":1.2e3})"));
  EXPECT_TRUE(M("{ $.x = 0 }", R"({"x":-0})"));
  EXPECT_TRUE(M("{ $.latency = 1200.0 }", R"({"latency":1.2e3})"));
  EXPECT_TRUE(M("{ $.flag = true }", R"({"flag":true})"));
  EXPECT_TRUE(M("{ $.a = x || $.b NOT EXISTS }", R"({"c":1})"));
  EXPECT_FALSE(M("{ $.a = x && $.b NOT EXISTS }", R"({"c":1})"));
  EXPECT_FALSE(M("{ $.level = error }", R"({"levels":"error"})"));
  EXPECT_FALSE(M("{ $.level = err*r }", R"({"level":"warn","x":"err"})"));
  EXPECT_TRUE(M("{ $.level = err*r }", R"({"level":"errxr"})"));
}

TEST(FilterPatternTest, JsonSelectorsFindTheRightValueWhileStreaming) {
  // Values are collected while parsing: paths must not match at another depth or index, and
  // the last of repeated members wins.
  constexpr std::string_view kDoc =
      R"({"a":{"b":[{"c":1},{"c":2,"d":{"c":3}}],"c":4},"c":5,"b":[9],"dup":1,"dup":2})";
  EXPECT_TRUE(M("{ $.c = 5 }", kDoc));
  EXPECT_TRUE(M("{ $.a.c = 4 }", kDoc));
  EXPECT_TRUE(M("{ $.a.b[1].c = 2 }", kDoc));
  EXPECT_TRUE(M("{ $.a.b[1].d.c = 3 }", kDoc));
  EXPECT_TRUE(M("{ $.a.b[0].c = 1 && $.b[0] = 9 }", kDoc));
  EXPECT_TRUE(M("{ $.a.b[2] NOT EXISTS && $.a.b[0].d NOT EXISTS }", kDoc));
  EXPECT_FALSE(M("{ $.a.b[0].c = 2 }", kDoc));
  EXPECT_FALSE(M("{ $.a.b = * }", kDoc));  // an array
  EXPECT_FALSE(M("{ $.a != 1 }", kDoc));   // an object
  EXPECT_FALSE(M("{ $.a IS NULL }", kDoc));
  EXPECT_TRUE(M("{ $.dup = 2 }", kDoc));
  EXPECT_TRUE(M(R"({ $.s = "tab\there" })", R"({"s":"tab\\there"})"));
  EXPECT_TRUE(M(R"({ $.s = "é" })", R"({"s":"\u00e9"})"));
  EXPECT_TRUE(M("{ $.big = 18446744073709551615 }", R"({"big":18446744073709551615})"));
  EXPECT_TRUE(M("{ $.neg < -5 }", R"({"neg":-9223372036854775808})"));
}

TEST(FilterPatternTest, NonJsonMessageNeverMatchesJsonPattern) {
  FilterPattern p = P("{ $.missing NOT EXISTS }");
  EXPECT_TRUE(p.Matches("{}"));
  EXPECT_TRUE(p.Matches(" [1, 2]"));
  EXPECT_FALSE(p.Matches("plain text"));
  EXPECT_FALSE(p.Matches("{not json"));
  EXPECT_FALSE(p.Matches("{\"a\":1} trailing"));
  EXPECT_FALSE(p.Matches("\"a string\""));
  EXPECT_FALSE(p.Matches("42"));
  EXPECT_FALSE(p.Matches(""));
}

TEST(FilterPatternTest, MalformedJsonPatterns) {
  ExpectInvalid(R"({$.a = "x" && $.b = "y")",
                "If a filter pattern starts with '{' it must end with '}'");
  ExpectInvalid("{", "If a filter pattern starts with '{' it must end with '}'");
  ExpectInvalid("{ }");
  ExpectInvalid("{ $.a }");
  ExpectInvalid("{ a = 1 }");
  ExpectInvalid("{ $. = 1 }");
  ExpectInvalid("{ $ = 1 }");
  ExpectInvalid("{ $.a[x] = 1 }");
  ExpectInvalid("{ $.a = }");
  ExpectInvalid("{ $.a == 1 }");
  ExpectInvalid("{ $.a > abc }");
  ExpectInvalid("{ $.a = \"x }");
  ExpectInvalid("{ $.a = user@example.com }");  // must be quoted
  ExpectInvalid("{ $.a IS MAYBE }");
  ExpectInvalid("{ $.a NOT THERE }");
  ExpectInvalid("{ ($.a = 1 }");
  ExpectInvalid("{ $.a = 1 && }");
  ExpectInvalid("{ $.a = 1 $.b = 2 }");
  ExpectInvalid("{ $.a = 1 } extra }");
  ExpectInvalid(std::string(100, '(') + "$.a = 1" + std::string(100, ')'));
  ExpectInvalid("{" + std::string(100, '(') + "$.a = 1" + std::string(100, ')') + "}");
}

constexpr std::string_view kApache1 =
    R"(127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534)";
constexpr std::string_view kApache2 =
    R"(127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /index.html HTTP/1.0" 404 5324)";

TEST(FilterPatternTest, DelimitedFieldsByPosition) {
  FilterPattern all = P("[ip, user, username, timestamp, request, status_code, bytes]");
  EXPECT_TRUE(all.Matches(kApache1));
  EXPECT_THAT(all.RequiredSubstrings(), IsEmpty());
  // Fewer pattern fields than message fields, or more: no match.
  EXPECT_FALSE(M("[ip, user, username, timestamp, request, status_code]", kApache1));
  EXPECT_FALSE(M("[ip, user, username, timestamp, request, status_code, bytes, extra]", kApache1));
  EXPECT_TRUE(M("[w1=ERROR, w2]", "ERROR message"));
  EXPECT_FALSE(M("[w1=ERROR, w2]", "ERROR WARN message"));
  EXPECT_FALSE(M("[w1=ERROR, w2]", "WARN message"));
  EXPECT_TRUE(M("[a, b]", "  x    y  "));
}

TEST(FilterPatternTest, DelimitedQuotedAndBracketedFieldsAreOne) {
  EXPECT_TRUE(
      M("[ip, user, username, timestamp = 10/Oct/2000*, request = \"GET /apache_pb.gif "
        "HTTP/1.0\", status_code = 200, bytes = 1534]",
        kApache1));
  EXPECT_TRUE(M("[ip, user, username, timestamp, request = *html*, status_code, bytes]", kApache2));
  EXPECT_FALSE(
      M("[ip, user, username, timestamp, request = *html*, status_code, bytes]", kApache1));
}

TEST(FilterPatternTest, DelimitedEllipsis) {
  EXPECT_TRUE(M("[..., status_code, bytes]", kApache1));
  EXPECT_TRUE(M("[ip, user, ..., status_code, bytes]", kApache1));
  EXPECT_TRUE(M("[ip, user, ...]", kApache1));
  EXPECT_TRUE(M("[..., status_code = 404, bytes]", kApache2));
  EXPECT_FALSE(M("[..., status_code = 404, bytes]", kApache1));
  EXPECT_TRUE(M("[ip = 127*, ..., status_code = 200, ...]", kApache1));
  EXPECT_TRUE(M("[..., x = b, ...]", "a b c"));
  EXPECT_FALSE(M("[..., x = d, ...]", "a b c"));
  EXPECT_TRUE(M("[...]", ""));
  EXPECT_TRUE(M("[a, ..., b]", "x y"));
  EXPECT_FALSE(M("[a, ..., b]", "x"));
  // AWS's example ends with a comma: one more, unnamed, field.
  EXPECT_TRUE(M("[..., request=*.html*, status_code=4*,]", kApache2));
  EXPECT_FALSE(M("[..., request=*.html*, status_code=4*]", kApache2));
  EXPECT_TRUE(M("[a,]", "x y"));
  EXPECT_FALSE(M("[a,]", "x"));
}

TEST(FilterPatternTest, DelimitedConditions) {
  EXPECT_TRUE(M("[ip, user, username, timestamp, request, status_code, bytes > 1000]", kApache1));
  EXPECT_FALSE(M("[ip, user, username, timestamp, request, status_code, bytes > 2000]", kApache1));
  EXPECT_TRUE(M("[ip, user, username, timestamp, request, status_code = 200, bytes]", kApache1));
  EXPECT_FALSE(M("[ip, user, username, timestamp, request, status_code = 200, bytes]", kApache2));
  EXPECT_TRUE(M("[ip, user, username, timestamp, request, status_code = 4*, bytes]", kApache2));
  EXPECT_TRUE(M("[ip, user, username, timestamp, request, status_code != 200, bytes]", kApache2));
  EXPECT_TRUE(M("[..., status_code >= 400, bytes <= 5324]", kApache2));
  EXPECT_FALSE(M("[..., status_code < 400, bytes]", kApache2));
  EXPECT_FALSE(M("[..., user > 5, bytes]", "a b c"));  // not a number
  EXPECT_TRUE(M("[a = %^[0-9]+$%, b]", "123 x"));
  EXPECT_FALSE(M("[a = %^[0-9]+$%, b]", "12a x"));
}

TEST(FilterPatternTest, DelimitedAndOrWithinAField) {
  FilterPattern p =
      P("[ip, user, username, timestamp, request, status_code = 4* && status_code != "
        "403, bytes]");
  EXPECT_TRUE(p.Matches(kApache2));
  EXPECT_FALSE(p.Matches(R"(1 - f [t] "r" 403 1)"));
  EXPECT_FALSE(p.Matches(kApache1));
  FilterPattern either = P("[w1=ERROR || w1=WARN, w2]");
  EXPECT_TRUE(either.Matches("ERROR message"));
  EXPECT_TRUE(either.Matches("WARN message"));
  EXPECT_FALSE(either.Matches("INFO message"));
  // && binds tighter than ||.
  FilterPattern mixed = P("[w = 1 || w > 5 && w < 7]");
  EXPECT_TRUE(mixed.Matches("1"));
  EXPECT_TRUE(mixed.Matches("6"));
  EXPECT_FALSE(mixed.Matches("8"));
}

TEST(FilterPatternTest, MalformedDelimitedPatterns) {
  // AWS answers this documented-looking pattern with "Invalid filter pattern": a field's
  // conditions must all name that field.
  ExpectInvalid("[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]");
  ExpectInvalid("[ip, user");
  ExpectInvalid("[]");
  ExpectInvalid("[ , ]");
  ExpectInvalid("[a b]");
  ExpectInvalid("[a =]");
  ExpectInvalid("[a > x]");
  ExpectInvalid("[a = 1 &&]");
  ExpectInvalid("[a, , b]");
  ExpectInvalid("[a = \"x]");
}

TEST(FilterPatternTest, MovedPatternStillMatches) {
  FilterPattern a = P("ERROR");
  FilterPattern b = std::move(a);
  EXPECT_TRUE(b.Matches("ERROR"));
  FilterPattern c = P("");
  c = std::move(b);
  EXPECT_TRUE(c.Matches("ERROR"));
  EXPECT_FALSE(c.Matches("ok"));
}

}  // namespace
}  // namespace berth::logs
