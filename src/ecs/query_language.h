// ECS's cluster query language: the expressions of memberOf placement constraints and of
// ListContainerInstances' `filter` (developer guide, "Create expressions to define container
// instances").
//
//   expression := or ; or := and (("||" | "or") and)* ; and := unary (("&&" | "and") unary)*
//   unary      := ("!" | "not") unary | "(" expression ")" | subject operator [argument]
//
// so `not` binds tighter than `and`, which binds tighter than `or`. Keywords (and, or, not and
// the word operators) are not case-sensitive; subjects are.
//
// Subjects: agentConnected ("true"/"false"), agentVersion (compared as dotted versions: 1.9.0 <
// 1.14.5 < 1.19.0), attribute:<name>, ec2InstanceId, registeredAt (2018-06-18T22:28:28+00:00,
// ...Z, 2018-06-18T22:28:28 as UTC, or 2018-06-18, which compares by day), runningTasksCount
// (integer), task:group. Operators: == equals, != not_equals, > greater_than, >=
// greater_than_equal, < less_than, <= less_than_equal, exists, !exists not_exists, in, !in not_in
// (argument `[a, b]`), =~ matches, !~ not_matches (the whole value must match; ECMAScript syntax,
// the common subset of Java's). An argument is a quoted string ('..' or "..", \' or \" inside
// for the quote) or a bare token that does not start with = ! < > ~ and ends at white space, a
// parenthesis, a bracket, a comma, && or ||; a regex token keeps balanced parentheses and
// brackets and backslash escapes (`t2\.(micro|small)`).
//
// Semantics where the guide is silent (berth's choices):
// * A subject the instance lacks (an attribute it does not have, an empty ec2InstanceId, no task)
//   satisfies only !exists: `attribute:stack != prod` lists instances that have `stack` with
//   another value, as the guide's example says.
// * task:group has one value per task on the instance; a comparison holds when it holds for
//   some task. So `task:group == db` is affinity and `not(task:group == db)` anti-affinity
//   (`task:group != db` only says some task is in another group).
// * Ordering operators on attributes compare numerically when both sides are numbers, else as
//   strings.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace berth::ecs {

// Longest expression ECS accepts (PlacementConstraint.expression) and longest =~ pattern.
inline constexpr size_t kMaxExpressionLength = 2000;
inline constexpr size_t kMaxPatternLength = 256;

// What a cluster query expression (and placement) can see of a container instance.
struct InstanceFacts {
  std::string container_instance_arn;
  std::string ec2_instance_id;  // berth: the instance's own id
  bool agent_connected = false;
  std::string agent_version;  // "1.19.0"
  // Attribute name -> value; attributes without a value map to "".
  std::map<std::string, std::string, std::less<>> attributes;
  TimePoint registered_at{};
  int running_tasks_count = 0;
  // group -> how many of the instance's tasks that are not STOPPED have it
  // (counts > 0): one entry per group, however many tasks there are.
  std::map<std::string, int64_t, std::less<>> task_groups;
};

// A parsed cluster-query-language expression. Immutable once parsed; copies share the tree, so
// copying is cheap and a copy may be used from several threads.
class QueryExpression {
 public:
  // InvalidParameterException naming the problem and its position on bad syntax, an unknown
  // subject or operator, an operator the subject does not support, a malformed version, number,
  // date or regex, or more than kMaxExpressionLength characters.
  static Result<QueryExpression> Parse(std::string_view text);
  bool Matches(const InstanceFacts& instance) const;
  // True when the result can change as tasks are placed (task:group, runningTasksCount).
  bool DependsOnTasks() const { return depends_on_tasks_; }

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
  bool depends_on_tasks_ = false;
};

// Compares dotted versions numerically part by part ("1.9" < "1.14.5"; missing parts are 0; a
// part that is not a number compares as text). <0, 0 or >0.
int CompareVersions(std::string_view a, std::string_view b);

}  // namespace berth::ecs
