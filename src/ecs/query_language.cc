#include "ecs/query_language.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <regex>
#include <utility>

#include "common/strings.h"

namespace berth::ecs {

namespace {

// Parentheses and `not` may nest this deep; deeper input is refused rather than recursed into.
constexpr int kMaxDepth = 64;

enum class Subject {
  kAgentConnected,
  kAgentVersion,
  kAttribute,
  kEc2InstanceId,
  kRegisteredAt,
  kRunningTasksCount,
  kTaskGroup,
};

enum class Op {
  kEq,
  kNe,
  kGt,
  kGe,
  kLt,
  kLe,
  kExists,
  kNotExists,
  kIn,
  kNotIn,
  kMatches,
  kNotMatches
};

bool IsOrdering(Op op) { return op == Op::kGt || op == Op::kGe || op == Op::kLt || op == Op::kLe; }

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t value = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

bool IsVersion(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char c : s) {
    if (c == '.' && prev == '.') return false;
    if (c != '.' && (c < '0' || c > '9')) return false;
    prev = c;
  }
  return true;
}

// Exactly `n` digits at s[pos..], as a number; nullopt otherwise.
std::optional<int> Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int value = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

struct ParsedDate {
  TimePoint time;
  bool date_only = false;
};

// The guide's registeredAt forms: 2018-06-18T22:28:28+00:00, ...Z, ...(UTC), 2018-06-18; a
// fraction of seconds is also taken.
std::optional<ParsedDate> ParseDate(std::string_view s) {
  using namespace std::chrono;
  auto y = Digits(s, 0, 4), m = Digits(s, 5, 2), d = Digits(s, 8, 2);
  if (!y || !m || !d || s[4] != '-' || s[7] != '-') return std::nullopt;
  year_month_day ymd{year{*y}, month{static_cast<unsigned>(*m)}, day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return std::nullopt;
  if (s.size() == 10) return ParsedDate{sys_days{ymd}, true};
  auto hh = Digits(s, 11, 2), mm = Digits(s, 14, 2), ss = Digits(s, 17, 2);
  if (s[10] != 'T' || !hh || !mm || !ss || s[13] != ':' || s[16] != ':' || *hh > 23 || *mm > 59 ||
      *ss > 60) {
    return std::nullopt;
  }
  TimePoint t = sys_days{ymd} + hours{*hh} + minutes{*mm} + seconds{*ss};
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    size_t start = ++pos;
    int64_t nanos = 0;
    int scale = 9;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale > 0) nanos = nanos * 10 + (s[pos] - '0'), --scale;
      ++pos;
    }
    if (pos == start) return std::nullopt;
    while (scale-- > 0) nanos *= 10;
    t += duration_cast<TimePoint::duration>(nanoseconds{nanos});
  }
  std::string_view zone = s.substr(pos);
  if (zone.empty() || zone == "Z") return ParsedDate{t, false};
  auto zh = Digits(zone, 1, 2), zm = Digits(zone, 4, 2);
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' || !zh || !zm) {
    return std::nullopt;
  }
  minutes offset = hours{*zh} + minutes{*zm};
  return ParsedDate{zone[0] == '+' ? t - offset : t + offset, false};
}

}  // namespace

struct QueryExpression::Node {
  enum class Kind { kAnd, kOr, kNot, kCompare };
  Kind kind = Kind::kCompare;
  std::unique_ptr<Node> left, right;  // kAnd/kOr: both; kNot: left

  Subject subject = Subject::kAttribute;
  std::string attribute;  // kAttribute: the name
  Op op = Op::kEq;
  std::vector<std::string> values;  // the argument (one) or the argument list (in / not_in)
  std::optional<std::regex> regex;  // matches / not_matches
  int64_t number = 0;               // runningTasksCount
  ParsedDate date;                  // registeredAt

  bool Evaluate(const InstanceFacts& facts) const {
    switch (kind) {
      case Kind::kAnd:
        return left->Evaluate(facts) && right->Evaluate(facts);
      case Kind::kOr:
        return left->Evaluate(facts) || right->Evaluate(facts);
      case Kind::kNot:
        return !left->Evaluate(facts);
      case Kind::kCompare:
        return Compare(facts);
    }
    return false;
  }

 private:
  bool Compare(const InstanceFacts& facts) const {
    switch (subject) {
      case Subject::kRunningTasksCount:
        return Holds(facts.running_tasks_count < number ? -1 : facts.running_tasks_count > number);
      case Subject::kRegisteredAt: {
        if (op == Op::kExists) return true;
        if (op == Op::kNotExists) return false;
        TimePoint left = facts.registered_at;
        if (date.date_only) left = std::chrono::floor<std::chrono::days>(left);
        return Holds(left < date.time ? -1 : left > date.time);
      }
      case Subject::kTaskGroup: {
        if (op == Op::kNotExists) return facts.task_groups.empty();
        return std::any_of(facts.task_groups.begin(), facts.task_groups.end(),
                           [&](const auto& group) { return Test(group.first); });
      }
      case Subject::kAgentConnected:
        return Test(facts.agent_connected ? "true" : "false");
      case Subject::kAgentVersion:
        return Present(facts.agent_version);
      case Subject::kEc2InstanceId:
        return Present(facts.ec2_instance_id);
      case Subject::kAttribute: {
        auto it = facts.attributes.find(attribute);
        if (it == facts.attributes.end()) return op == Op::kNotExists;
        return Test(it->second);
      }
    }
    return false;
  }

  // A single-valued string subject that is absent when empty.
  bool Present(std::string_view value) const {
    if (value.empty()) return op == Op::kNotExists;
    return Test(value);
  }

  // The operator applied to one present value.
  bool Test(std::string_view value) const {
    switch (op) {
      case Op::kExists:
        return true;
      case Op::kNotExists:
        return false;
      case Op::kMatches:
        return std::regex_match(value.begin(), value.end(), *regex);
      case Op::kNotMatches:
        return !std::regex_match(value.begin(), value.end(), *regex);
      case Op::kIn:
      case Op::kNotIn: {
        bool found = std::any_of(values.begin(), values.end(),
                                 [&](const std::string& v) { return Equal(value, v); });
        return found == (op == Op::kIn);
      }
      default:
        return Holds(Order(value, values.front()));
    }
  }

  bool Equal(std::string_view value, std::string_view argument) const {
    if (subject == Subject::kAgentVersion) return CompareVersions(value, argument) == 0;
    return value == argument;
  }

  int Order(std::string_view value, std::string_view argument) const {
    if (subject == Subject::kAgentVersion) return CompareVersions(value, argument);
    if (IsOrdering(op)) {  // attributes: numbers as numbers
      auto a = ParseInt(value), b = ParseInt(argument);
      if (a && b) return *a < *b ? -1 : *a > *b;
    }
    int c = value.compare(argument);
    return c < 0 ? -1 : c > 0;
  }

  // The comparison operator applied to a three-way comparison result.
  bool Holds(int cmp) const {
    switch (op) {
      case Op::kEq:
        return cmp == 0;
      case Op::kNe:
        return cmp != 0;
      case Op::kGt:
        return cmp > 0;
      case Op::kGe:
        return cmp >= 0;
      case Op::kLt:
        return cmp < 0;
      case Op::kLe:
        return cmp <= 0;
      case Op::kExists:
        return true;
      case Op::kNotExists:
        return false;
      default:
        return false;
    }
  }
};

namespace {

using Node = QueryExpression::Node;
using NodePtr = std::unique_ptr<Node>;

struct OperatorName {
  std::string_view text;
  Op op;
};
// Symbols longest first so that "!=" is not read as "!" and "=".
constexpr OperatorName kSymbolOperators[] = {
    {"==", Op::kEq},
    {"!=", Op::kNe},
    {">=", Op::kGe},
    {"<=", Op::kLe},
    {"=~", Op::kMatches},
    {"!~", Op::kNotMatches},
    {"!exists", Op::kNotExists},
    {"!in", Op::kNotIn},
    {">", Op::kGt},
    {"<", Op::kLt},
};
constexpr OperatorName kWordOperators[] = {
    {"equals", Op::kEq},       {"not_equals", Op::kNe},
    {"greater_than", Op::kGt}, {"greater_than_equal", Op::kGe},
    {"less_than", Op::kLt},    {"less_than_equal", Op::kLe},
    {"exists", Op::kExists},   {"not_exists", Op::kNotExists},
    {"in", Op::kIn},           {"not_in", Op::kNotIn},
    {"matches", Op::kMatches}, {"not_matches", Op::kNotMatches},
};

struct SubjectName {
  std::string_view text;
  Subject subject;
};
constexpr SubjectName kSubjects[] = {
    {"agentConnected", Subject::kAgentConnected},       {"agentVersion", Subject::kAgentVersion},
    {"ec2InstanceId", Subject::kEc2InstanceId},         {"registeredAt", Subject::kRegisteredAt},
    {"runningTasksCount", Subject::kRunningTasksCount}, {"task:group", Subject::kTaskGroup},
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Characters that end a subject.
bool EndsSubject(char c) {
  return IsSpace(c) || std::string_view("=!<>~()[],'\"&|").find(c) != std::string_view::npos;
}

// Whether `op` may follow `subject` (the guide's "Valid operators"; exists and !exists always).
bool Supports(Subject subject, Op op) {
  if (op == Op::kExists || op == Op::kNotExists) return true;
  bool textual = op == Op::kIn || op == Op::kNotIn || op == Op::kMatches || op == Op::kNotMatches;
  switch (subject) {
    case Subject::kAgentConnected:
    case Subject::kEc2InstanceId:
    case Subject::kTaskGroup:
      return !IsOrdering(op);
    case Subject::kAgentVersion:
    case Subject::kRegisteredAt:
    case Subject::kRunningTasksCount:
      return !textual;
    case Subject::kAttribute:
      return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<NodePtr> ParseAll() {
    NodePtr root = BERTH_TRY(ParseOr(0));
    SkipSpace();
    if (pos_ < text_.size()) return Problem(fmt::format("unexpected '{}'", NextToken()));
    return root;
  }

  bool depends_on_tasks() const { return depends_on_tasks_; }

 private:
  // The binary levels, loosest first: or, then and (which binds tighter).
  struct BinaryLevel {
    std::string_view symbol, word;
    Node::Kind kind;
  };
  static constexpr BinaryLevel kBinaryLevels[] = {{"||", "or", Node::Kind::kOr},
                                                  {"&&", "and", Node::Kind::kAnd}};

  Result<NodePtr> ParseOr(int depth) { return ParseBinary(0, depth); }

  Result<NodePtr> ParseBinary(size_t level, int depth) {
    auto operand = [&]() -> Result<NodePtr> {
      return level + 1 < std::size(kBinaryLevels) ? ParseBinary(level + 1, depth)
                                                  : ParseUnary(depth);
    };
    const BinaryLevel& op = kBinaryLevels[level];
    NodePtr left = BERTH_TRY(operand());
    while (ConsumeSymbol(op.symbol) || ConsumeKeyword(op.word)) {
      NodePtr right = BERTH_TRY(operand());
      left = Combine(op.kind, std::move(left), std::move(right));
    }
    return left;
  }

  Result<NodePtr> ParseUnary(int depth) {
    if (depth >= kMaxDepth) return Problem(fmt::format("nesting deeper than {}", kMaxDepth));
    SkipSpace();
    if (ConsumeSymbol("!") || ConsumeKeyword("not")) {
      auto node = std::make_unique<Node>();
      node->kind = Node::Kind::kNot;
      node->left = BERTH_TRY(ParseUnary(depth + 1));
      return node;
    }
    if (ConsumeSymbol("(")) {
      NodePtr inner = BERTH_TRY(ParseOr(depth + 1));
      SkipSpace();
      if (!ConsumeSymbol(")")) return Problem("missing ')'");
      return inner;
    }
    return ParseComparison();
  }

  Result<NodePtr> ParseComparison() {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < text_.size() && !EndsSubject(text_[pos_])) ++pos_;
    std::string_view name = text_.substr(start, pos_ - start);
    if (name.empty()) {
      pos_ = start;
      return Problem(pos_ < text_.size()
                         ? fmt::format("expected a subject, found '{}'", NextToken())
                         : "expected a subject");
    }
    auto node = std::make_unique<Node>();
    if (name.starts_with("attribute:") && name.size() > 10) {
      node->subject = Subject::kAttribute;
      node->attribute = std::string(name.substr(10));
    } else {
      auto it = std::find_if(std::begin(kSubjects), std::end(kSubjects),
                             [&](const SubjectName& s) { return s.text == name; });
      if (it == std::end(kSubjects)) {
        pos_ = start;
        return Problem(fmt::format("unknown subject '{}'", Utf8Prefix(name, 128)));
      }
      node->subject = it->subject;
    }
    if (node->subject == Subject::kTaskGroup || node->subject == Subject::kRunningTasksCount) {
      depends_on_tasks_ = true;
    }

    SkipSpace();
    size_t op_start = pos_;
    auto op = ParseOperator();
    if (!op) {
      return Problem(pos_ < text_.size()
                         ? fmt::format("expected an operator, found '{}'", NextToken())
                         : fmt::format("expected an operator after '{}'", name));
    }
    node->op = *op;
    std::string_view op_text = text_.substr(op_start, pos_ - op_start);
    if (!Supports(node->subject, node->op)) {
      pos_ = op_start;
      return Problem(fmt::format("operator '{}' is not supported for {}", op_text, name));
    }
    if (node->op == Op::kExists || node->op == Op::kNotExists) return node;

    if (node->op == Op::kIn || node->op == Op::kNotIn) {
      BERTH_CHECK(ParseList(node->values, op_text));
    } else {
      SkipSpace();
      size_t arg_start = pos_;
      auto value = BERTH_TRY(ParseValue(node->op == Op::kMatches || node->op == Op::kNotMatches));
      if (!value) return Problem(fmt::format("missing argument after '{}'", op_text));
      size_t arg_end = pos_;
      pos_ = arg_start;  // errors about the argument point at it
      BERTH_CHECK(CheckArgument(*node, *value));
      pos_ = arg_end;
      node->values.push_back(std::move(*value));
    }
    return node;
  }

  std::optional<Op> ParseOperator() {
    for (const auto& s : kSymbolOperators) {
      if (!text_.substr(pos_).starts_with(s.text)) continue;
      size_t end = pos_ + s.text.size();
      // "!exists" / "!in" are words: "!inx" is not "!in".
      if (std::isalpha(static_cast<unsigned char>(s.text.back())) && end < text_.size() &&
          (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_')) {
        continue;
      }
      pos_ = end;
      return s.op;
    }
    size_t end = pos_;
    while (end < text_.size() &&
           (std::isalpha(static_cast<unsigned char>(text_[end])) || text_[end] == '_')) {
      ++end;
    }
    std::string word = ToLower(text_.substr(pos_, end - pos_));
    for (const auto& w : kWordOperators) {
      if (w.text == word) {
        pos_ = end;
        return w.op;
      }
    }
    return std::nullopt;
  }

  Status ParseList(std::vector<std::string>& values, std::string_view op_text) {
    SkipSpace();
    if (!ConsumeSymbol("[")) {
      return Problem(fmt::format("'{}' expects an argument list [a, b, ...]", op_text));
    }
    while (true) {
      SkipSpace();
      auto value = BERTH_TRY(ParseValue(false));
      if (!value) return Problem("expected a value in the argument list");
      values.push_back(std::move(*value));
      SkipSpace();
      if (ConsumeSymbol("]")) return {};
      if (!ConsumeSymbol(",")) return Problem("expected ',' or ']' in the argument list");
    }
  }

  // A quoted string or a bare token; nullopt when there is none here. In `regex` mode a bare
  // token keeps balanced parentheses and brackets and backslash escapes.
  Result<std::optional<std::string>> ParseValue(bool regex) {
    if (pos_ >= text_.size()) return std::optional<std::string>();
    char quote = text_[pos_];
    if (quote == '\'' || quote == '"') {
      size_t start = pos_++;
      std::string value;
      while (pos_ < text_.size() && text_[pos_] != quote) {
        if (text_[pos_] == '\\' && pos_ + 1 < text_.size() && text_[pos_ + 1] == quote) ++pos_;
        value += text_[pos_++];
      }
      if (pos_ >= text_.size()) {
        pos_ = start;
        return Problem("unterminated quoted string");
      }
      ++pos_;
      return std::optional<std::string>(std::move(value));
    }
    // A bare argument does not start with an operator character ("=== x" is not "== '=' x").
    if (std::string_view("=!<>~").find(text_[pos_]) != std::string_view::npos) {
      return std::optional<std::string>();
    }
    size_t start = pos_;
    int nesting = 0;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (IsSpace(c) || c == ',') break;
      if (text_.substr(pos_).starts_with("&&") || text_.substr(pos_).starts_with("||")) break;
      if (regex && c == '\\' && pos_ + 1 < text_.size()) {
        pos_ += 2;
        continue;
      }
      if (c == '(' || c == '[') {
        if (!regex) break;
        ++nesting;
      } else if (c == ')' || c == ']') {
        if (nesting == 0) break;
        --nesting;
      }
      ++pos_;
    }
    if (pos_ == start) return std::optional<std::string>();
    return std::optional<std::string>(std::string(text_.substr(start, pos_ - start)));
  }

  // Validates (and for typed subjects converts) a single argument.
  Status CheckArgument(Node& node, const std::string& value) {
    switch (node.subject) {
      case Subject::kAgentVersion:
        if (!IsVersion(value)) {
          return Problem(fmt::format("'{}' is not a version like 1.19.0", Utf8Prefix(value, 64)));
        }
        break;
      case Subject::kRunningTasksCount: {
        auto n = ParseInt(value);
        if (!n) return Problem(fmt::format("'{}' is not an integer", Utf8Prefix(value, 64)));
        node.number = *n;
        break;
      }
      case Subject::kRegisteredAt: {
        auto date = ParseDate(value);
        if (!date) {
          return Problem(
              fmt::format("'{}' is not a date (2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z, "
                          "2018-06-18T22:28:28 or 2018-06-18)",
                          Utf8Prefix(value, 64)));
        }
        node.date = *date;
        break;
      }
      default:
        break;
    }
    if (node.op == Op::kMatches || node.op == Op::kNotMatches) {
      if (value.size() > kMaxPatternLength) {
        return Problem(fmt::format("the pattern is longer than {} characters", kMaxPatternLength));
      }
      try {
        // __polynomial (libstdc++): matching runs in polynomial time, so no pattern can make it
        // backtrack exponentially; back-references, which need backtracking, are refused.
        node.regex.emplace(value, std::regex::ECMAScript | std::regex_constants::__polynomial);
      } catch (const std::regex_error& e) {
        return Problem(fmt::format("invalid regular expression '{}': {}", Utf8Prefix(value, 64),
                                   e.code() == std::regex_constants::error_complexity
                                       ? "back-references are not supported"
                                       : e.what()));
      }
    }
    if (node.subject == Subject::kAgentConnected && value != "true" && value != "false" &&
        node.op != Op::kMatches && node.op != Op::kNotMatches) {
      return Problem(
          fmt::format("agentConnected is true or false, not '{}'", Utf8Prefix(value, 64)));
    }
    return {};
  }

  static NodePtr Combine(Node::Kind kind, NodePtr left, NodePtr right) {
    auto node = std::make_unique<Node>();
    node->kind = kind;
    node->left = std::move(left);
    node->right = std::move(right);
    return node;
  }

  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }

  bool ConsumeSymbol(std::string_view symbol) {
    SkipSpace();
    if (!text_.substr(pos_).starts_with(symbol)) return false;
    pos_ += symbol.size();
    return true;
  }

  // A keyword: the word, case-insensitive, followed by the end, white space or '('.
  bool ConsumeKeyword(std::string_view word) {
    SkipSpace();
    if (pos_ + word.size() > text_.size()) return false;
    if (!EqualsIgnoreCase(text_.substr(pos_, word.size()), word)) return false;
    size_t end = pos_ + word.size();
    if (end < text_.size() && !IsSpace(text_[end]) && text_[end] != '(') return false;
    pos_ = end;
    return true;
  }

  std::string_view NextToken() const {
    size_t end = pos_ + 1;
    while (end < text_.size() && !IsSpace(text_[end]) && end - pos_ < 32) ++end;
    return Utf8Prefix(text_.substr(pos_, end - pos_), 32);
  }

  std::unexpected<Error> Problem(std::string what) const {
    return Fail("InvalidParameterException",
                fmt::format("Invalid cluster query expression: {} at position {}.", what, pos_));
  }

  std::string_view text_;
  size_t pos_ = 0;
  bool depends_on_tasks_ = false;
};

}  // namespace

Result<QueryExpression> QueryExpression::Parse(std::string_view text) {
  if (text.size() > kMaxExpressionLength) {
    return Fail("InvalidParameterException",
                fmt::format("Invalid cluster query expression: longer than {} characters.",
                            kMaxExpressionLength));
  }
  if (Trim(text).empty()) {
    return Fail("InvalidParameterException", "Invalid cluster query expression: it is empty.");
  }
  Parser parser(text);
  NodePtr root = BERTH_TRY(parser.ParseAll());
  QueryExpression expression;
  expression.root_ = std::shared_ptr<const Node>(std::move(root));
  expression.depends_on_tasks_ = parser.depends_on_tasks();
  return expression;
}

bool QueryExpression::Matches(const InstanceFacts& instance) const {
  return root_ != nullptr && root_->Evaluate(instance);
}

int CompareVersions(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    auto next = [](std::string_view& s) {
      size_t dot = s.find('.');
      std::string_view part = s.substr(0, dot);
      s = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
      return part;
    };
    std::string_view pa = next(a), pb = next(b);
    auto na = ParseInt(pa.empty() ? "0" : pa), nb = ParseInt(pb.empty() ? "0" : pb);
    int c;
    if (na && nb) {
      c = *na < *nb ? -1 : *na > *nb;
    } else {
      int t = pa.compare(pb);
      c = t < 0 ? -1 : t > 0;
    }
    if (c != 0) return c;
  }
  return 0;
}

}  // namespace berth::ecs
