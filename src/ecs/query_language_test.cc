#include "ecs/query_language.h"

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>

namespace berth::ecs {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::sys_days;
using std::chrono::year;
using std::chrono::year_month_day;

InstanceFacts Instance() {
  InstanceFacts f;
  f.container_instance_arn = "arn:aws:ecs:us-east-1:000000000000:container-instance/c/i1";
  f.ec2_instance_id = "i-abcd1234";
  f.agent_connected = true;
  f.agent_version = "1.19.0";
  f.attributes = {{"ecs.instance-type", "t2.small"},
                  {"ecs.availability-zone", "us-east-1a"},
                  {"stack", "prod"},
                  {"cores", "8"},
                  {"ecs.capability.private-registry-authentication.secretsmanager", ""}};
  // 2018-02-13T10:00:00Z
  f.registered_at =
      sys_days{year_month_day{year{2018}, std::chrono::February, std::chrono::day{13}}} + hours{10};
  f.running_tasks_count = 1;
  f.task_groups = {{"service:production", 1}};
  return f;
}

// Parses `text` (which must be valid) and evaluates it against `facts`.
bool Eval(const std::string& text, const InstanceFacts& facts = Instance()) {
  auto e = QueryExpression::Parse(text);
  EXPECT_TRUE(e.has_value()) << text << ": " << (e ? "" : e.error().message);
  return e && e->Matches(facts);
}

// The InvalidParameterException message for `text`, which must be refused.
std::string ParseError(const std::string& text) {
  auto e = QueryExpression::Parse(text);
  EXPECT_FALSE(e.has_value()) << text;
  if (e) return "";
  EXPECT_EQ(e.error().code, "InvalidParameterException");
  EXPECT_EQ(e.error().http_status, 400);
  return e.error().message;
}

TEST(QueryLanguage, EqualityBothSpellings) {
  EXPECT_TRUE(Eval("attribute:ecs.instance-type == t2.small"));
  EXPECT_TRUE(Eval("attribute:ecs.instance-type equals t2.small"));
  EXPECT_FALSE(Eval("attribute:ecs.instance-type == t2.medium"));
  EXPECT_TRUE(Eval("attribute:ecs.instance-type EQUALS t2.small"));  // keywords fold case
  EXPECT_FALSE(Eval("attribute:ecs.instance-type == T2.SMALL"));     // values do not
}

TEST(QueryLanguage, InequalityNeedsTheSubject) {
  EXPECT_TRUE(Eval("attribute:stack != dev"));
  EXPECT_TRUE(Eval("attribute:stack not_equals dev"));
  EXPECT_FALSE(Eval("attribute:stack != prod"));
  // The guide: "instances with the custom attribute stack unless the value is prod".
  EXPECT_FALSE(Eval("attribute:team != prod"));
}

TEST(QueryLanguage, OrderingOnAttributesIsNumericForNumbers) {
  EXPECT_TRUE(Eval("attribute:cores > 10") == false);
  EXPECT_TRUE(Eval("attribute:cores greater_than 7"));
  EXPECT_TRUE(Eval("attribute:cores >= 8"));
  EXPECT_TRUE(Eval("attribute:cores greater_than_equal 8"));
  EXPECT_TRUE(Eval("attribute:cores < 10"));  // as text "8" > "10"
  EXPECT_TRUE(Eval("attribute:cores less_than 9"));
  EXPECT_TRUE(Eval("attribute:cores <= 8"));
  EXPECT_TRUE(Eval("attribute:cores less_than_equal 8"));
  EXPECT_FALSE(Eval("attribute:cores <= 7"));
  EXPECT_TRUE(Eval("attribute:stack > dev"));  // text: "prod" > "dev"
  EXPECT_FALSE(Eval("attribute:missing < 100"));
}

TEST(QueryLanguage, ExistsAndNotExists) {
  EXPECT_TRUE(
      Eval("attribute:ecs.capability.private-registry-authentication.secretsmanager exists"));
  EXPECT_FALSE(
      Eval("attribute:ecs.capability.private-registry-authentication.secretsmanager !exists"));
  EXPECT_TRUE(Eval("attribute:gpu !exists"));
  EXPECT_TRUE(Eval("attribute:gpu not_exists"));
  EXPECT_FALSE(Eval("attribute:gpu exists"));
  EXPECT_TRUE(Eval("ec2InstanceId exists"));
  InstanceFacts bare = Instance();
  bare.ec2_instance_id.clear();
  bare.task_groups.clear();
  EXPECT_TRUE(Eval("ec2InstanceId !exists", bare));
  EXPECT_TRUE(Eval("task:group !exists", bare));
  EXPECT_TRUE(Eval("task:group exists"));
}

TEST(QueryLanguage, InAndNotIn) {
  EXPECT_TRUE(Eval("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"));
  EXPECT_FALSE(Eval("attribute:ecs.availability-zone in [us-east-1c,us-east-1d]"));
  EXPECT_FALSE(Eval("attribute:ecs.availability-zone not_in [us-east-1a, us-east-1b]"));
  EXPECT_TRUE(Eval("attribute:ecs.availability-zone !in [us-east-1c]"));
  EXPECT_TRUE(Eval("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']"));  // the guide's example
  EXPECT_TRUE(Eval("ec2InstanceId in [\"i-abcd1234\"]"));
  EXPECT_FALSE(Eval("attribute:missing not_in [a]"));
  EXPECT_TRUE(Eval("agentVersion == 1.19"));  // versions compare as versions
  EXPECT_TRUE(Eval("attribute:ecs.availability-zone IN [us-east-1a]"));
}

TEST(QueryLanguage, RegexMatchesTheWholeValue) {
  EXPECT_TRUE(Eval("attribute:ecs.instance-type =~ t2.*"));
  EXPECT_TRUE(Eval("attribute:ecs.instance-type matches t2\\.(micro|small)"));
  EXPECT_FALSE(Eval("attribute:ecs.instance-type =~ t2"));  // whole value, as Java's matches()
  EXPECT_TRUE(Eval("attribute:ecs.instance-type !~ g2.*"));
  EXPECT_FALSE(Eval("attribute:ecs.instance-type not_matches t2.*"));
  EXPECT_TRUE(Eval("attribute:ecs.instance-type =~ 't[0-9]\\.s.*'"));
  EXPECT_TRUE(Eval("ec2InstanceId =~ i-[a-f0-9]+"));
  EXPECT_TRUE(Eval("agentConnected =~ tr.e"));
  EXPECT_FALSE(Eval("attribute:missing !~ x"));
  // A balanced regex group is part of the argument; the closing parenthesis of a term is not.
  EXPECT_TRUE(Eval("not(attribute:ecs.instance-type =~ g2.(x|y))"));
}

TEST(QueryLanguage, RegexCannotBacktrackExponentially) {
  InstanceFacts f = Instance();
  f.attributes["evil"] = std::string(100, 'a');
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(Eval("attribute:evil =~ '(a|a)*(a*)*b'", f));
  EXPECT_FALSE(Eval("attribute:evil =~ '(a+)+b'", f));
  auto elapsed = std::chrono::steady_clock::now() - start;
  // Exponential backtracking over 100 characters would not finish; polynomial is milliseconds.
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(QueryLanguage, CompoundAndPrecedence) {
  EXPECT_TRUE(Eval(
      "attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d"));
  EXPECT_TRUE(Eval("attribute:stack == prod && attribute:cores == 8"));
  EXPECT_FALSE(Eval("attribute:stack == prod && attribute:cores == 9"));
  EXPECT_TRUE(Eval("attribute:stack == dev || attribute:cores == 8"));
  EXPECT_TRUE(Eval("attribute:stack == dev or attribute:cores == 8"));
  EXPECT_FALSE(Eval("attribute:stack == dev OR attribute:cores == 9"));
  // and binds tighter than or: true || (false && false).
  EXPECT_TRUE(Eval("attribute:stack == prod || attribute:stack == dev && attribute:cores == 9"));
  // parentheses change it: (true || false) && false.
  EXPECT_FALSE(Eval("(attribute:stack == prod || attribute:stack == dev) && attribute:cores == 9"));
  EXPECT_FALSE(
      Eval("(attribute:stack == prod or attribute:stack == dev) and attribute:cores == 9"));
  // not binds tighter than and: (!false) && true.
  EXPECT_TRUE(Eval("!attribute:stack == dev && attribute:cores == 8"));
  EXPECT_TRUE(Eval("not attribute:stack == dev and attribute:cores == 8"));
  // not binds tighter than or: (!true) || false is false; !(true || false) is false too, so
  // check with a case that tells them apart: (!false) || false vs !(false || true).
  EXPECT_TRUE(Eval("not attribute:stack == dev or attribute:stack == prod"));
  EXPECT_FALSE(Eval("not (attribute:stack == dev or attribute:stack == prod)"));
  EXPECT_TRUE(Eval("!(attribute:stack == dev)"));
  EXPECT_TRUE(Eval("not not attribute:stack == prod"));
  EXPECT_TRUE(Eval("attribute:stack==prod&&attribute:cores==8"));  // no spaces needed
  EXPECT_TRUE(Eval("((attribute:stack == prod))"));
}

TEST(QueryLanguage, TaskGroupAffinityAndAntiAffinity) {
  EXPECT_TRUE(Eval("task:group == service:production"));
  EXPECT_FALSE(Eval("task:group == database"));
  EXPECT_TRUE(Eval("not(task:group == database)"));
  EXPECT_FALSE(Eval("not(task:group == service:production)"));
  InstanceFacts two = Instance();
  two.task_groups = {{"service:production", 1}, {"database", 1}};
  EXPECT_TRUE(Eval("task:group == database", two));
  EXPECT_FALSE(Eval("not(task:group == database)", two));
  // != holds when some task is in another group; anti-affinity is not(==).
  EXPECT_TRUE(Eval("task:group != database", two));
  EXPECT_TRUE(Eval("task:group in [database, cache]", two));
  EXPECT_TRUE(Eval("task:group =~ data.*", two));
  InstanceFacts empty = Instance();
  empty.task_groups.clear();
  EXPECT_FALSE(Eval("task:group == database", empty));
  EXPECT_TRUE(Eval("not(task:group == database)", empty));
  EXPECT_FALSE(Eval("task:group != database", empty));
}

TEST(QueryLanguage, AgentVersionComparesAsVersions) {
  EXPECT_TRUE(Eval("agentVersion > 1.14.5"));  // 1.19.0 > 1.14.5
  EXPECT_FALSE(Eval("agentVersion < 1.14.5"));
  EXPECT_TRUE(Eval("agentVersion >= 1.19.0"));
  EXPECT_TRUE(Eval("agentVersion <= 1.19.0"));
  EXPECT_TRUE(Eval("agentVersion == 1.19.0"));
  EXPECT_TRUE(Eval("agentVersion != 1.9.0"));
  EXPECT_TRUE(Eval("agentVersion > 1.9.0"));  // as text "1.19.0" < "1.9.0"
  EXPECT_TRUE(Eval("agentVersion < 1.100"));
  InstanceFacts old = Instance();
  old.agent_version = "1.14.4";
  EXPECT_TRUE(Eval("agentVersion < 1.14.5", old));
  EXPECT_EQ(CompareVersions("1.14.5", "1.19.0"), -1);
  EXPECT_EQ(CompareVersions("1.19", "1.19.0"), 0);
  EXPECT_EQ(CompareVersions("2.0.0", "1.99.99"), 1);
}

TEST(QueryLanguage, RegisteredAtDatesAndTimestamps) {
  // registered 2018-02-13T10:00:00Z
  EXPECT_TRUE(Eval("registeredAt < 2018-02-14"));
  EXPECT_FALSE(Eval("registeredAt < 2018-02-13"));  // a date compares by day
  EXPECT_TRUE(Eval("registeredAt == 2018-02-13"));
  EXPECT_TRUE(Eval("registeredAt >= 2018-02-13"));
  EXPECT_TRUE(Eval("registeredAt > 2018-02-12"));
  EXPECT_TRUE(Eval("registeredAt > 2018-02-13T09:59:59Z"));
  EXPECT_TRUE(Eval("registeredAt == 2018-02-13T10:00:00Z"));
  EXPECT_TRUE(Eval("registeredAt == 2018-02-13T10:00:00"));
  EXPECT_TRUE(Eval("registeredAt == 2018-02-13T12:00:00+02:00"));
  EXPECT_TRUE(Eval("registeredAt == 2018-02-13T05:00:00-05:00"));
  EXPECT_TRUE(Eval("registeredAt < 2018-02-13T10:00:00.5Z"));
  EXPECT_TRUE(Eval("registeredAt less_than 2018-02-13T10:00:01Z"));
}

TEST(QueryLanguage, RunningTasksCountIsNumeric) {
  EXPECT_TRUE(Eval("runningTasksCount == 1"));
  EXPECT_TRUE(Eval("runningTasksCount < 10"));  // as text "1" < "10" either way; and:
  InstanceFacts busy = Instance();
  busy.running_tasks_count = 9;
  EXPECT_TRUE(Eval("runningTasksCount < 10", busy));  // as text "9" > "10"
  EXPECT_TRUE(Eval("runningTasksCount >= 9", busy));
  EXPECT_FALSE(Eval("runningTasksCount != 9", busy));
}

TEST(QueryLanguage, AgentConnected) {
  EXPECT_TRUE(Eval("agentConnected == true"));
  EXPECT_FALSE(Eval("agentConnected == false"));
  EXPECT_TRUE(Eval("agentConnected in [true]"));
  InstanceFacts off = Instance();
  off.agent_connected = false;
  EXPECT_TRUE(Eval("agentConnected == false", off));
  EXPECT_TRUE(Eval("agentConnected != true", off));
}

TEST(QueryLanguage, QuotedValuesKeepSpacesAndQuotes) {
  InstanceFacts f = Instance();
  f.attributes["owner"] = "team a's";
  EXPECT_TRUE(Eval("attribute:owner == 'team a\\'s'", f));
  EXPECT_TRUE(Eval("attribute:owner == \"team a's\"", f));
  EXPECT_TRUE(Eval("attribute:owner in ['x y', \"team a's\"]", f));
  f.attributes["path"] = "arn:aws:outposts:us-east-1:1:outpost/op-1";
  EXPECT_TRUE(Eval("attribute:path == arn:aws:outposts:us-east-1:1:outpost/op-1", f));
}

TEST(QueryLanguage, ParseErrorsNameTheProblemAndPosition) {
  EXPECT_EQ(ParseError(""), "Invalid cluster query expression: it is empty.");
  EXPECT_EQ(ParseError("   "), "Invalid cluster query expression: it is empty.");
  EXPECT_EQ(ParseError("instanceType == t2.small"),
            "Invalid cluster query expression: unknown subject 'instanceType' at position 0.");
  EXPECT_EQ(ParseError("attribute:stack"),
            "Invalid cluster query expression: expected an operator after 'attribute:stack' at "
            "position 15.");
  EXPECT_EQ(ParseError("attribute:stack === prod"),
            "Invalid cluster query expression: missing argument after '==' at position 18.");
  EXPECT_EQ(ParseError("attribute:stack ==="),
            "Invalid cluster query expression: missing argument after '==' at position 18.");
  EXPECT_EQ(ParseError("attribute:stack like prod"),
            "Invalid cluster query expression: expected an operator, found 'like' at position 16.");
  EXPECT_EQ(ParseError("attribute:stack =="),
            "Invalid cluster query expression: missing argument after '==' at position 18.");
  EXPECT_EQ(ParseError("attribute:stack == (prod)"),  // "a single expression can't contain ()"
            "Invalid cluster query expression: missing argument after '==' at position 19.");
  EXPECT_EQ(ParseError("attribute:stack == prod extra"),
            "Invalid cluster query expression: unexpected 'extra' at position 24.");
  EXPECT_EQ(ParseError("(attribute:stack == prod"),
            "Invalid cluster query expression: missing ')' at position 24.");
  EXPECT_EQ(ParseError("attribute:stack == prod)"),
            "Invalid cluster query expression: unexpected ')' at position 23.");
  EXPECT_EQ(ParseError("attribute:stack == prod and"),
            "Invalid cluster query expression: expected a subject at position 27.");
  EXPECT_EQ(ParseError("and attribute:stack == prod"),
            "Invalid cluster query expression: unknown subject 'and' at position 0.");
  EXPECT_EQ(ParseError("attribute:stack in prod"),
            "Invalid cluster query expression: 'in' expects an argument list [a, b, ...] at "
            "position 19.");
  EXPECT_EQ(ParseError("attribute:stack in [a, b"),
            "Invalid cluster query expression: expected ',' or ']' in the argument list at "
            "position 24.");
  EXPECT_EQ(ParseError("attribute:stack in [a,]"),
            "Invalid cluster query expression: expected a value in the argument list at position "
            "22.");
  EXPECT_EQ(ParseError("attribute:stack == 'prod"),
            "Invalid cluster query expression: unterminated quoted string at position 19.");
  EXPECT_EQ(ParseError("attribute: == x"),
            "Invalid cluster query expression: unknown subject 'attribute:' at position 0.");
}

TEST(QueryLanguage, OperatorsTheSubjectDoesNotSupport) {
  EXPECT_EQ(ParseError("ec2InstanceId > i-1"),
            "Invalid cluster query expression: operator '>' is not supported for ec2InstanceId at "
            "position 14.");
  EXPECT_EQ(ParseError("agentConnected greater_than true"),
            "Invalid cluster query expression: operator 'greater_than' is not supported for "
            "agentConnected at position 15.");
  EXPECT_EQ(ParseError("agentVersion in [1.0.0]"),
            "Invalid cluster query expression: operator 'in' is not supported for agentVersion at "
            "position 13.");
  EXPECT_EQ(ParseError("runningTasksCount =~ 1"),
            "Invalid cluster query expression: operator '=~' is not supported for "
            "runningTasksCount at position 18.");
  EXPECT_EQ(ParseError("task:group < a"),
            "Invalid cluster query expression: operator '<' is not supported for task:group at "
            "position 11.");
}

TEST(QueryLanguage, TypedArgumentsAreChecked) {
  EXPECT_EQ(ParseError("agentVersion < latest"),
            "Invalid cluster query expression: 'latest' is not a version like 1.19.0 at position "
            "15.");
  EXPECT_EQ(ParseError("runningTasksCount > few"),
            "Invalid cluster query expression: 'few' is not an integer at position 20.");
  EXPECT_EQ(ParseError("registeredAt < 2018-02-30"),
            "Invalid cluster query expression: '2018-02-30' is not a date "
            "(2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z, 2018-06-18T22:28:28 or 2018-06-18) "
            "at position 15.");
  EXPECT_NE(ParseError("registeredAt < 2018-02-13T25:00:00Z"), "");
  EXPECT_NE(ParseError("registeredAt < 2018-02-13T10:00:00+0200"), "");
  EXPECT_NE(ParseError("registeredAt < yesterday"), "");
  EXPECT_EQ(ParseError("agentConnected == yes"),
            "Invalid cluster query expression: agentConnected is true or false, not 'yes' at "
            "position 18.");
}

TEST(QueryLanguage, BadRegexesAreRefused) {
  EXPECT_EQ(ParseError("attribute:a =~ 'x('"),
            "Invalid cluster query expression: invalid regular expression 'x(': " +
                std::string(std::regex_error(std::regex_constants::error_paren).what()) +
                " at position 15.");
  EXPECT_EQ(ParseError("attribute:a =~ '(a)\\1'"),
            "Invalid cluster query expression: invalid regular expression '(a)\\1': "
            "back-references are not supported at position 15.");
  EXPECT_EQ(ParseError("attribute:a =~ " + std::string(kMaxPatternLength + 1, 'a')),
            "Invalid cluster query expression: the pattern is longer than 256 characters at "
            "position 15.");
}

TEST(QueryLanguage, LimitsOnLengthAndNesting) {
  std::string longest = "attribute:a == " + std::string(kMaxExpressionLength - 15, 'x');
  EXPECT_TRUE(QueryExpression::Parse(longest).has_value());
  EXPECT_EQ(ParseError(longest + "x"),
            "Invalid cluster query expression: longer than 2000 characters.");
  std::string deep = std::string(500, '(') + "attribute:a exists" + std::string(500, ')');
  EXPECT_EQ(ParseError(deep),
            "Invalid cluster query expression: nesting deeper than 64 at position 64.");
  std::string nots;
  for (int i = 0; i < 400; ++i) nots += "!";
  EXPECT_NE(ParseError(nots + "attribute:a exists"), "");
}

TEST(QueryLanguage, CopiesShareTheParsedTree) {
  auto e = QueryExpression::Parse("task:group == a");
  ASSERT_TRUE(e.has_value());
  QueryExpression copy = *e;
  EXPECT_TRUE(copy.DependsOnTasks());
  EXPECT_FALSE(QueryExpression::Parse("attribute:a exists")->DependsOnTasks());
  EXPECT_TRUE(QueryExpression::Parse("runningTasksCount == 0")->DependsOnTasks());
  InstanceFacts f = Instance();
  f.task_groups = {{"a", 1}};
  EXPECT_TRUE(copy.Matches(f));
  EXPECT_FALSE(QueryExpression().Matches(f));  // a default-constructed expression matches nothing
}

}  // namespace
}  // namespace berth::ecs
