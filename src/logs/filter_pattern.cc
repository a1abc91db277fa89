// CloudWatch Logs filter patterns: a parser for the three forms (terms, JSON, space-delimited)
// and a matcher for each. Spec: AWS "Filter pattern syntax for metric filters, subscription
// filters, filter log events, and Live Tail" and "Supported regular expressions (regex) syntax".
//
// Performance: a term pattern is a list of substring searches (SSE2, no allocation a call); a
// regex term runs a Thompson-NFA simulation (linear in the message, no backtracking, no
// recursion); a JSON pattern parses the message once per call.
#include "logs/filter_pattern.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bitset>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <utility>

#include "common/json.h"

namespace berth::logs {
namespace {

constexpr std::string_view kInvalid = "Invalid filter pattern";
constexpr size_t kMaxRegexes = 2;         // AWS: "a limit of 2 regex for each filter pattern"
constexpr size_t kMaxRegexStates = 1000;  // bounds {m,n} expansion (and the per-call work)
constexpr int kMaxNesting = 64;           // parentheses in a JSON pattern

std::unexpected<Error> Invalid(std::string_view message = kInvalid) {
  return Fail("InvalidParameterException", std::string(message));
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsWordChar(char c) { return IsAlnum(c) || c == '_'; }

// Substring search, the hot path of a term pattern. glibc 2.36's memmem takes ~80 ns over a
// 100-byte message; this SSE2 filter (W. Muła's "generic SIMD" search: compare the needle's first
// and last bytes against 16 positions at once, memcmp only the candidates) takes ~15-25 ns.
// Long needles go to memmem, whose two-way algorithm stays linear on repetitive input.
// memcmp for the few bytes between a candidate's first and last: inline, so the loop keeps its
// vectors in registers instead of spilling them around a call.
inline bool EqualBytes(const char* a, const char* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  const size_t k = needle.size();
  if (k == 0) return true;
  if (haystack.size() < k) return false;
  if (k == 1) return memchr(haystack.data(), needle[0], haystack.size()) != nullptr;
#ifdef __SSE2__
  if (k <= 32) {
    const char* h = haystack.data();
    const char* n = needle.data();
    const size_t starts = haystack.size() - k + 1;
    // Broadcast from a register (_mm_set1_epi8 goes through the stack: a store-forward stall).
    const __m128i first = _mm_shuffle_epi32(
        _mm_cvtsi32_si128(static_cast<int>(0x01010101u * static_cast<unsigned char>(n[0]))), 0);
    const __m128i last = _mm_shuffle_epi32(
        _mm_cvtsi32_si128(static_cast<int>(0x01010101u * static_cast<unsigned char>(n[k - 1]))), 0);
    size_t i = 0;
    for (; i + 16 <= starts; i += 16) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i + k - 1));
      unsigned mask = static_cast<unsigned>(
          _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last))));
      while (mask != 0) {
        const unsigned bit = static_cast<unsigned>(__builtin_ctz(mask));
        if (EqualBytes(h + i + bit + 1, n + 1, k - 2)) return true;
        mask &= mask - 1;
      }
    }
    for (; i < starts; ++i) {
      if (h[i] == n[0] && h[i + k - 1] == n[k - 1] && memcmp(h + i + 1, n + 1, k - 2) == 0) {
        return true;
      }
    }
    return false;
  }
#endif
  return memmem(haystack.data(), haystack.size(), needle.data(), k) != nullptr;
}

// '*' matches any run of characters; everything else is literal. The whole text must match.
bool Glob(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// AWS's number: an integer or decimal with an optional sign, optionally followed by e and an
// integer exponent. nullopt for anything else (including "inf" and "nan").
std::optional<double> ParseNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  if (s[0] == '+') s.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// ---------------------------------------------------------------------------------------------
// Regular expressions, AWS's subset: literals (alphanumerics, ':' '_' '#' '=' '@' '/' ';' ','
// '-' and space), '.', classes [...] with ranges and ^, escapes \d \w \s (and \D \W \S \t \n \r
// \xHH, and '\' before an operator character), quantifiers * + ? {m} {m,} {m,n}, alternation |,
// anchors ^ and $. No groups: '(' and ')' are rejected, escaped or not, as AWS rejects them.
class Regex {
 public:
  static std::optional<Regex> Compile(std::string_view source);
  // Whether the expression matches somewhere in `text` (anchors permitting).
  bool Search(std::string_view text) const;

 private:
  using CharSet = std::bitset<256>;
  enum class Rep : uint8_t { kOne, kOptional, kStar };
  struct State {
    CharSet set;
    Rep rep;
  };
  struct Alternative {
    bool anchor_start = false, anchor_end = false;
    std::vector<State> states;
    // Bit-parallel form when there are fewer than 64 states (almost always): bit s of
    // by_byte[c] when state s accepts byte c; `star` and `skippable` (optional or starred) bits.
    std::vector<uint64_t> by_byte;
    uint64_t star = 0, skippable = 0;
  };
  static void PrepareBits(Alternative& alt);
  static bool SearchBits(const Alternative& alt, std::string_view text);
  static bool SearchStates(const Alternative& alt, std::string_view text);

  std::vector<Alternative> alternatives_;
};

bool IsRegexLiteral(char c) {
  return IsAlnum(c) || c == ':' || c == '_' || c == '#' || c == '=' || c == '@' || c == '/' ||
         c == ';' || c == ',' || c == '-' || c == ' ';
}
bool IsRegexOperator(char c) { return strchr("^$?[]{}|\\*+.", c) != nullptr && c != '\0'; }

class RegexParser {
 public:
  using CharSet = std::bitset<256>;
  explicit RegexParser(std::string_view s) : s_(s) {}
  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return s_[i_]; }
  void Next() { ++i_; }

  // One escape after the backslash (already consumed) into `set`.
  bool Escape(CharSet& set) {
    if (AtEnd()) return false;
    char c = s_[i_++];
    // \d digit, \w word character, \s white space; the upper-case letter negates.
    if (c != '\0' && strchr("dDwWsS", c) != nullptr) {
      const char kind = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const bool negate = c != kind;
      for (int b = 0; b < 256; ++b) {
        const char x = static_cast<char>(b);
        const bool in = kind == 'd'   ? x >= '0' && x <= '9'
                        : kind == 'w' ? IsWordChar(x)
                                      : x == ' ' || (x >= '\t' && x <= '\r');
        if (in != negate) set.set(b);
      }
      return true;
    }
    switch (c) {
      case 't':
        set.set('\t');
        return true;
      case 'n':
        set.set('\n');
        return true;
      case 'r':
        set.set('\r');
        return true;
      case 'x': {
        if (i_ + 2 > s_.size()) return false;
        unsigned value = 0;
        auto [end, ec] = std::from_chars(s_.data() + i_, s_.data() + i_ + 2, value, 16);
        if (ec != std::errc() || end != s_.data() + i_ + 2) return false;
        i_ += 2;
        set.set(value);
        return true;
      }
      default:
        if (IsRegexOperator(c) || (IsRegexLiteral(c) && !IsAlnum(c))) {
          set.set(static_cast<unsigned char>(c));
          return true;
        }
        return false;
    }
  }

  // A class after its '[' (already consumed), through its ']'.
  bool Class(CharSet& set) {
    bool negate = !AtEnd() && Peek() == '^';
    if (negate) Next();
    bool any = false;
    while (!AtEnd() && Peek() != ']') {
      CharSet item;
      int low = -1;
      char c = s_[i_++];
      if (c == '\\') {
        if (!Escape(item)) return false;
        if (item.count() == 1) low = static_cast<int>(item._Find_first());
      } else if (IsRegexLiteral(c) || (IsRegexOperator(c) && c != '[')) {
        low = static_cast<unsigned char>(c);
        item.set(low);
      } else {
        return false;
      }
      if (low >= 0 && i_ + 1 < s_.size() && Peek() == '-' && s_[i_ + 1] != ']') {
        Next();
        char hi_char = s_[i_++];
        int high = static_cast<unsigned char>(hi_char);
        if (hi_char == '\\') {
          CharSet hi_set;
          if (!Escape(hi_set) || hi_set.count() != 1) return false;
          high = static_cast<int>(hi_set._Find_first());
        } else if (!IsRegexLiteral(hi_char)) {
          return false;
        }
        if (high < low) return false;
        for (int b = low; b <= high; ++b) item.set(b);
      }
      set |= item;
      any = true;
    }
    if (AtEnd() || !any) return false;
    Next();  // ']'
    if (negate) set.flip();
    return true;
  }

  // A quantifier at the cursor, if any: {min, max} with max -1 for unbounded. false when
  // malformed.
  bool Quantifier(int& min, int& max) {
    min = max = 1;
    if (AtEnd()) return true;
    switch (Peek()) {
      case '*':
        Next();
        min = 0;
        max = -1;
        return true;
      case '+':
        Next();
        min = 1;
        max = -1;
        return true;
      case '?':
        Next();
        min = 0;
        max = 1;
        return true;
      case '{':
        break;
      default:
        return true;
    }
    Next();
    auto number = [&](int& out) {
      size_t start = i_;
      while (!AtEnd() && std::isdigit(static_cast<unsigned char>(Peek()))) Next();
      if (i_ == start || i_ - start > 4) return false;
      std::from_chars(s_.data() + start, s_.data() + i_, out);
      return true;
    };
    if (!number(min)) return false;
    max = min;
    if (!AtEnd() && Peek() == ',') {
      Next();
      if (!AtEnd() && Peek() == '}') {
        max = -1;
      } else if (!number(max)) {
        return false;
      }
    }
    if (AtEnd() || Peek() != '}') return false;
    Next();
    return max == -1 || max >= min;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

std::optional<Regex> Regex::Compile(std::string_view source) {
  Regex regex;
  RegexParser p(source);
  size_t total_states = 0;
  while (true) {
    Alternative alt;
    if (!p.AtEnd() && p.Peek() == '^') {
      alt.anchor_start = true;
      p.Next();
    }
    bool any_atom = false;
    while (!p.AtEnd() && p.Peek() != '|') {
      char c = p.Peek();
      p.Next();
      CharSet set;
      if (c == '$' && (p.AtEnd() || p.Peek() == '|')) {
        alt.anchor_end = true;
        break;
      } else if (c == '.') {
        set.set();
      } else if (c == '\\') {
        if (!p.Escape(set)) return std::nullopt;
      } else if (c == '[') {
        if (!p.Class(set)) return std::nullopt;
      } else if (IsRegexLiteral(c)) {
        set.set(static_cast<unsigned char>(c));
      } else {
        return std::nullopt;  // '(' ')', a stray operator, a multi-byte or other character
      }
      int min = 1, max = 1;
      if (!p.Quantifier(min, max)) return std::nullopt;
      size_t added = static_cast<size_t>(min) + (max < 0 ? 1 : static_cast<size_t>(max - min));
      total_states += added;
      if (total_states > kMaxRegexStates) return std::nullopt;
      for (int k = 0; k < min; ++k) alt.states.push_back({set, Rep::kOne});
      if (max < 0) {
        alt.states.push_back({set, Rep::kStar});
      } else {
        for (int k = min; k < max; ++k) alt.states.push_back({set, Rep::kOptional});
      }
      any_atom = true;
    }
    if (!any_atom && !alt.anchor_start && !alt.anchor_end) return std::nullopt;  // "a||b", "%|%"
    PrepareBits(alt);
    regex.alternatives_.push_back(std::move(alt));
    if (p.AtEnd()) break;
    p.Next();  // '|'
    if (p.AtEnd()) return std::nullopt;
  }
  return regex;
}

bool Regex::Search(std::string_view text) const {
  for (const Alternative& alt : alternatives_) {
    if (alt.by_byte.empty() ? SearchStates(alt, text) : SearchBits(alt, text)) return true;
  }
  return false;
}

void Regex::PrepareBits(Alternative& alt) {
  if (alt.states.size() >= 64) return;
  alt.by_byte.assign(256, 0);
  for (size_t s = 0; s < alt.states.size(); ++s) {
    const uint64_t bit = uint64_t{1} << s;
    for (int c = 0; c < 256; ++c) {
      if (alt.states[s].set[c]) alt.by_byte[c] |= bit;
    }
    if (alt.states[s].rep == Rep::kStar) alt.star |= bit;
    if (alt.states[s].rep != Rep::kOne) alt.skippable |= bit;
  }
}

// Shift-and over the state bits: the same automaton as SearchStates, a few instructions a byte.
bool Regex::SearchBits(const Alternative& alt, std::string_view text) {
  auto closure = [&](uint64_t set) {
    while (true) {
      const uint64_t more = set | ((set & alt.skippable) << 1);
      if (more == set) return set;
      set = more;
    }
  };
  const uint64_t start = closure(1);
  const uint64_t accept = uint64_t{1} << alt.states.size();
  uint64_t current = start;
  for (size_t i = 0;; ++i) {
    if ((current & accept) != 0 && (!alt.anchor_end || i == text.size())) return true;
    if (i == text.size()) return false;
    const uint64_t hit = current & alt.by_byte[static_cast<unsigned char>(text[i])];
    current = closure(((hit & ~alt.star) << 1) | (hit & alt.star));
    if (!alt.anchor_start) {
      current |= start;
    } else if (current == 0) {
      return false;
    }
  }
}

bool Regex::SearchStates(const Alternative& alt, std::string_view text) {
  const size_t n = alt.states.size();
  std::vector<uint8_t> current(n + 1), next(n + 1);
  // Adds state s and what it reaches without consuming (skipping optional and starred atoms).
  auto add = [&](std::vector<uint8_t>& set, size_t s) {
    while (!set[s]) {
      set[s] = 1;
      if (s == n || alt.states[s].rep == Rep::kOne) return;
      ++s;
    }
  };
  for (size_t i = 0;; ++i) {
    if (i == 0 || !alt.anchor_start) add(current, 0);
    if (current[n] && (!alt.anchor_end || i == text.size())) return true;
    if (i == text.size()) return false;
    const auto c = static_cast<unsigned char>(text[i]);
    std::fill(next.begin(), next.end(), 0);
    bool alive = false;
    for (size_t s = 0; s < n; ++s) {
      if (!current[s] || !alt.states[s].set[c]) continue;
      add(next, alt.states[s].rep == Rep::kStar ? s : s + 1);
      alive = true;
    }
    current.swap(next);
    if (!alive && alt.anchor_start) return false;
  }
}

// ---------------------------------------------------------------------------------------------
// A value a JSON selector or a space-delimited field is compared with.
struct Comparison {
  enum class Op : uint8_t { kEq, kNe, kLt, kGt, kLe, kGe };
  enum class Kind : uint8_t { kNumber, kString, kRegex };
  Op op = Op::kEq;
  Kind kind = Kind::kString;
  std::string text;  // the literal (number text, or a string with '*' wildcards)
  double number = 0;
  int regex = -1;  // index into Impl::regexes
};

// What a comparison looks at: the value's text, and its number when it is one.
struct Scalar {
  std::string_view text;
  std::optional<double> number;
};

bool Compare(const Comparison& c, const Scalar& value, const std::vector<Regex>& regexes) {
  using Op = Comparison::Op;
  switch (c.kind) {
    case Comparison::Kind::kRegex: {
      bool found = regexes[c.regex].Search(value.text);
      return c.op == Op::kEq ? found : !found;
    }
    case Comparison::Kind::kString: {
      bool equal = Glob(c.text, value.text);
      return c.op == Op::kEq ? equal : !equal;
    }
    case Comparison::Kind::kNumber:
      if (!value.number) {
        if (c.op == Op::kEq) return value.text == c.text;
        if (c.op == Op::kNe) return value.text != c.text;
        return false;
      }
      double v = *value.number;
      switch (c.op) {
        case Op::kEq:
          return v == c.number;
        case Op::kNe:
          return v != c.number;
        case Op::kLt:
          return v < c.number;
        case Op::kGt:
          return v > c.number;
        case Op::kLe:
          return v <= c.number;
        case Op::kGe:
          return v >= c.number;
      }
  }
  return false;
}

// A JSON condition: selector, then a comparison or a test.
struct JsonCondition {
  struct Step {
    std::string key;  // member name, or empty for an array index
    size_t index = 0;
  };
  enum class Test : uint8_t { kCompare, kIsTrue, kIsFalse, kIsNull, kNotExists };
  std::vector<Step> path;
  Test test = Test::kCompare;
  Comparison comparison;
  // Text the raw message must contain for the condition to hold, when it has no backslash (no
  // JSON escapes): the selector's last member name in quotes, and for = on a string, the longest
  // run of the value between wildcards. Lets most non-matching events skip the JSON parse.
  std::string key_needle, value_needle;

  void SetNeedles() {
    if (test == Test::kNotExists) return;
    for (const Step& step : path) {
      if (!step.key.empty()) key_needle = "\"" + step.key + "\"";
    }
    if (test != Test::kCompare || comparison.op != Comparison::Op::kEq ||
        comparison.kind != Comparison::Kind::kString) {
      return;
    }
    // An integer compares as its decimal ("-0" as "0"), which the raw message need not contain:
    // only a run with a character no number has is required.
    std::string_view text = comparison.text;
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = std::min(text.find('*', start), text.size());
      std::string_view run = text.substr(start, end - start);
      if (run.size() > value_needle.size() &&
          run.find_first_not_of("0123456789.eE+-") != std::string_view::npos) {
        value_needle = std::string(run);
      }
      start = end + 1;
    }
  }
  bool MayHold(std::string_view message) const {
    return Contains(message, key_needle) && Contains(message, value_needle);
  }
};

// What a JSON condition's selector found in a message.
struct JsonFound {
  enum class Type : uint8_t { kMissing, kNull, kBool, kNumber, kString, kContainer };
  Type type = Type::kMissing;
  bool boolean = false;
  double number = 0;
  std::string text;  // a string's value, or a number's text as written
};

// A SAX handler (nlohmann's sax_parse): validates the message and records the values the
// conditions select, without building the document (no allocation per member or value; ~25%
// faster than a parse into json::Json, whose lexer is the rest of the cost). When a selected
// value occurs more than once (a repeated member), the last one found wins.
class JsonCollector {
 public:
  using Json = json::Json;
  JsonCollector(const std::vector<JsonCondition>& conditions, std::vector<JsonFound>& found)
      : conditions_(conditions), found_(found) {}

  bool null() {
    for (JsonFound* f : Values()) f->type = JsonFound::Type::kNull;
    return true;
  }
  bool boolean(bool value) {
    for (JsonFound* f : Values()) {
      f->type = JsonFound::Type::kBool;
      f->boolean = value;
    }
    return true;
  }
  bool number_integer(Json::number_integer_t value) { return Integer(value); }
  bool number_unsigned(Json::number_unsigned_t value) { return Integer(value); }
  bool number_float(Json::number_float_t value, const Json::string_t& raw) {
    for (JsonFound* f : Values()) {
      f->type = JsonFound::Type::kNumber;
      f->number = value;
      f->text.assign(raw);
    }
    return true;
  }
  bool string(Json::string_t& value) {
    for (JsonFound* f : Values()) {
      f->type = JsonFound::Type::kString;
      f->text.assign(value);
    }
    return true;
  }
  bool binary(Json::binary_t&) { return true; }
  bool start_object(std::size_t) { return Open(/*array=*/false); }
  bool key(Json::string_t& key) {
    frames_[depth_ - 1].key.assign(key);
    return true;
  }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) { return Open(/*array=*/true); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  struct Frame {
    bool array = false;
    size_t index = 0;  // of the current element, in an array
    std::string key;   // of the current member, in an object
  };

  template <class Int>
  bool Integer(Int value) {
    for (JsonFound* f : Values()) {
      char buffer[24];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
      f->type = JsonFound::Type::kNumber;
      f->number = static_cast<double>(value);
      f->text.assign(buffer, end);
    }
    return true;
  }

  bool Open(bool array) {
    for (JsonFound* f : Values()) f->type = JsonFound::Type::kContainer;
    if (frames_.size() == depth_) frames_.emplace_back();
    Frame& frame = frames_[depth_++];
    frame.array = array;
    frame.index = SIZE_MAX;
    frame.key.clear();
    return true;
  }
  bool Close() {
    --depth_;
    return true;
  }

  // A value starts at the current position: the conditions whose selector names it.
  const std::vector<JsonFound*>& Values() {
    matched_.clear();
    if (depth_ == 0) return matched_;
    Frame& parent = frames_[depth_ - 1];
    if (parent.array) ++parent.index;  // SIZE_MAX + 1 == 0 for the first element
    for (size_t c = 0; c < conditions_.size(); ++c) {
      const std::vector<JsonCondition::Step>& path = conditions_[c].path;
      if (path.size() != depth_) continue;
      bool same = true;
      for (size_t d = 0; d < depth_ && same; ++d) {
        const Frame& frame = frames_[d];
        same = frame.array ? path[d].key.empty() && path[d].index == frame.index
                           : !path[d].key.empty() && path[d].key == frame.key;
      }
      if (same) matched_.push_back(&found_[c]);
    }
    return matched_;
  }

  const std::vector<JsonCondition>& conditions_;
  std::vector<JsonFound>& found_;
  std::vector<Frame> frames_;
  size_t depth_ = 0;
  std::vector<JsonFound*> matched_;
};

// && / || over leaves (JSON conditions, or a delimited field's comparisons).
struct BoolNode {
  enum class Kind : uint8_t { kLeaf, kAnd, kOr };
  Kind kind = Kind::kLeaf;
  int left = -1, right = -1, leaf = -1;
};

template <class Leaf>
bool Evaluate(const std::vector<BoolNode>& nodes, int root, const Leaf& leaf) {
  const BoolNode& node = nodes[root];
  switch (node.kind) {
    case BoolNode::Kind::kLeaf:
      return leaf(node.leaf);
    case BoolNode::Kind::kAnd:
      return Evaluate(nodes, node.left, leaf) && Evaluate(nodes, node.right, leaf);
    case BoolNode::Kind::kOr:
      return Evaluate(nodes, node.left, leaf) || Evaluate(nodes, node.right, leaf);
  }
  return false;
}

struct DelimitedField {
  bool ellipsis = false;
  std::string name;
  int root = -1;  // into Impl::nodes; -1 when the field has no condition
};

struct Term {
  enum class Role : uint8_t { kAnd, kOr, kNot };
  Role role = Role::kAnd;
  std::string literal;
  int regex = -1;  // a %regex% term when >= 0
};

// The parsed pattern (FilterPattern::Impl).
struct Compiled {
  enum class Kind : uint8_t { kAll, kTerms, kJson, kDelimited };
  Kind kind = Kind::kAll;
  std::vector<std::string> required;  // RequiredSubstrings
  std::vector<Term> terms;            // kTerms
  bool has_or = false;
  std::vector<Regex> regexes;
  std::vector<BoolNode> nodes;  // kJson and kDelimited conditions
  std::vector<JsonCondition> json_conditions;
  int json_root = -1;
  std::vector<DelimitedField> fields;
  std::vector<Comparison> field_comparisons;

  bool TermMatches(const Term& term, std::string_view message) const {
    return term.regex >= 0 ? regexes[term.regex].Search(message) : Contains(message, term.literal);
  }
  bool MatchTerms(std::string_view message) const;
  bool MatchJson(std::string_view message) const;
  bool MatchDelimited(std::string_view message) const;
};

// The parser for every form: a cursor over the pattern and the Impl it fills.
class Parser {
 public:
  Parser(std::string_view s, Compiled& impl) : s_(s), impl_(impl) {}

  Status Terms();
  Status Json();
  Status Delimited();

 private:
  bool AtEnd() const { return i_ >= s_.size(); }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(s_[i_])) ++i_;
  }
  bool Consume(std::string_view token) {
    if (s_.substr(i_, token.size()) != token) return false;
    i_ += token.size();
    return true;
  }
  // A keyword (IS, TRUE, NOT ...): case-insensitive, not followed by a word character.
  bool ConsumeKeyword(std::string_view word) {
    if (s_.size() - i_ < word.size()) return false;
    for (size_t k = 0; k < word.size(); ++k) {
      if (std::toupper(static_cast<unsigned char>(s_[i_ + k])) != word[k]) return false;
    }
    if (i_ + word.size() < s_.size() && IsWordChar(s_[i_ + word.size()])) return false;
    i_ += word.size();
    return true;
  }

  // "..." at the cursor, unescaping \" and \\.
  Result<std::string> Quoted() {
    ++i_;  // '"'
    std::string out;
    while (!AtEnd() && s_[i_] != '"') {
      if (s_[i_] == '\\' && i_ + 1 < s_.size() && (s_[i_ + 1] == '"' || s_[i_ + 1] == '\\')) ++i_;
      out += s_[i_++];
    }
    if (AtEnd()) return Invalid();
    ++i_;
    return out;
  }

  // %regex% at the cursor, compiled into impl_.regexes; returns its index.
  Result<int> RegexTerm() {
    size_t end = s_.find('%', i_ + 1);
    if (end == std::string_view::npos) return Invalid();
    std::optional<Regex> regex = Regex::Compile(s_.substr(i_ + 1, end - i_ - 1));
    if (!regex || impl_.regexes.size() >= kMaxRegexes) return Invalid();
    i_ = end + 1;
    impl_.regexes.push_back(std::move(*regex));
    return static_cast<int>(impl_.regexes.size() - 1);
  }

  Result<Comparison::Op> Operator() {
    using Op = Comparison::Op;
    if (Consume("!=")) return Op::kNe;
    if (Consume("<=")) return Op::kLe;
    if (Consume(">=")) return Op::kGe;
    if (Consume("=")) return Op::kEq;
    if (Consume("<")) return Op::kLt;
    if (Consume(">")) return Op::kGt;
    return Invalid();
  }

  // The value after an operator: "quoted", %regex%, or a bare word or number.
  Result<Comparison> Value(Comparison::Op op) {
    SkipSpace();
    if (AtEnd()) return Invalid();
    Comparison c;
    c.op = op;
    bool ordering = op != Comparison::Op::kEq && op != Comparison::Op::kNe;
    if (s_[i_] == '"') {
      c.text = BERTH_TRY(Quoted());
    } else if (s_[i_] == '%') {
      c.kind = Comparison::Kind::kRegex;
      c.regex = BERTH_TRY(RegexTerm());
    } else {
      size_t start = i_;
      while (!AtEnd() && !IsSpace(s_[i_]) && strchr("(){}[],&|\"=!<>%", s_[i_]) == nullptr) ++i_;
      c.text = std::string(s_.substr(start, i_ - start));
      if (c.text.empty()) return Invalid();
      for (char ch : c.text) {
        // AWS: strings with characters such as '@', '$' or '\' must be quoted.
        if (ch == '@' || ch == '$' || ch == '\\' || static_cast<unsigned char>(ch) >= 0x80) {
          return Invalid();
        }
      }
      if (std::optional<double> number = ParseNumber(c.text)) {
        c.kind = Comparison::Kind::kNumber;
        c.number = *number;
      }
    }
    if (ordering && c.kind != Comparison::Kind::kNumber) return Invalid();
    return c;
  }

  int AddNode(BoolNode node) {
    impl_.nodes.push_back(node);
    return static_cast<int>(impl_.nodes.size() - 1);
  }
  int Join(BoolNode::Kind kind, int left, int right) {
    return AddNode(BoolNode{.kind = kind, .left = left, .right = right});
  }

  Result<int> JsonExpression(int level, int depth);
  Result<int> JsonPrimary(int depth);
  Result<JsonCondition> JsonConditionAt();
  Status DelimitedFieldAt();

  std::string_view s_;
  size_t i_ = 0;
  Compiled& impl_;
};

Status Parser::Terms() {
  impl_.kind = Compiled::Kind::kTerms;
  while (true) {
    SkipSpace();
    if (AtEnd()) break;
    Term term;
    if (s_[i_] == '?' || s_[i_] == '-') {
      term.role = s_[i_] == '?' ? Term::Role::kOr : Term::Role::kNot;
      ++i_;
      SkipSpace();  // AWS's own example: "ERROR" - "Exiting"
      if (AtEnd()) return Invalid();
    }
    if (s_[i_] == '"') {
      term.literal = BERTH_TRY(Quoted());
      if (term.literal.empty()) return Invalid();
    } else if (s_[i_] == '%') {
      term.regex = BERTH_TRY(RegexTerm());
    } else {
      size_t start = i_;
      while (!AtEnd() && !IsSpace(s_[i_])) ++i_;
      term.literal = std::string(s_.substr(start, i_ - start));
      for (char c : term.literal) {
        if (!IsWordChar(c)) return Invalid();  // other characters only inside quotes
      }
    }
    if (!AtEnd() && !IsSpace(s_[i_])) return Invalid();  // "a"b
    if (term.role == Term::Role::kOr) impl_.has_or = true;
    if (term.role == Term::Role::kAnd && term.regex < 0) impl_.required.push_back(term.literal);
    impl_.terms.push_back(std::move(term));
  }
  // AND literals first: the cheapest way to reject most events.
  std::stable_partition(impl_.terms.begin(), impl_.terms.end(),
                        [](const Term& t) { return t.role == Term::Role::kAnd && t.regex < 0; });
  return {};
}

Status Parser::Json() {
  impl_.kind = Compiled::Kind::kJson;
  if (s_.back() != '}') return Invalid("If a filter pattern starts with '{' it must end with '}'");
  s_ = s_.substr(0, s_.size() - 1);
  i_ = 1;
  impl_.json_root = BERTH_TRY(JsonExpression(0, 0));
  SkipSpace();
  if (!AtEnd()) return Invalid();
  return {};
}

// Level 0 is a || b, level 1 a && b (binding tighter), level 2 a condition or ( ... ).
Result<int> Parser::JsonExpression(int level, int depth) {
  if (level == 2) return JsonPrimary(depth);
  const std::string_view op = level == 0 ? "||" : "&&";
  const BoolNode::Kind kind = level == 0 ? BoolNode::Kind::kOr : BoolNode::Kind::kAnd;
  int left = BERTH_TRY(JsonExpression(level + 1, depth));
  while (true) {
    SkipSpace();
    if (!Consume(op)) return left;
    int right = BERTH_TRY(JsonExpression(level + 1, depth));
    left = Join(kind, left, right);
  }
}

Result<int> Parser::JsonPrimary(int depth) {
  SkipSpace();
  if (Consume("(")) {
    if (depth >= kMaxNesting) return Invalid();
    int inner = BERTH_TRY(JsonExpression(0, depth + 1));
    SkipSpace();
    if (!Consume(")")) return Invalid();
    return inner;
  }
  JsonCondition condition = BERTH_TRY(JsonConditionAt());
  condition.SetNeedles();
  impl_.json_conditions.push_back(std::move(condition));
  return AddNode(BoolNode{.leaf = static_cast<int>(impl_.json_conditions.size() - 1)});
}

Result<JsonCondition> Parser::JsonConditionAt() {
  JsonCondition condition;
  if (!Consume("$")) return Invalid();
  while (!AtEnd()) {
    if (Consume(".")) {
      size_t start = i_;
      while (!AtEnd() && (IsWordChar(s_[i_]) || s_[i_] == '-')) ++i_;
      if (i_ == start) return Invalid();
      condition.path.push_back({std::string(s_.substr(start, i_ - start))});
    } else if (Consume("[")) {
      size_t start = i_;
      while (!AtEnd() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      size_t index = 0;
      auto [end, ec] = std::from_chars(s_.data() + start, s_.data() + i_, index);
      if (i_ == start || ec != std::errc() || !Consume("]")) return Invalid();
      condition.path.push_back({"", index});
    } else {
      break;
    }
  }
  if (condition.path.empty()) return Invalid();
  SkipSpace();
  using Test = JsonCondition::Test;
  if (ConsumeKeyword("IS")) {
    SkipSpace();
    if (ConsumeKeyword("TRUE")) {
      condition.test = Test::kIsTrue;
    } else if (ConsumeKeyword("FALSE")) {
      condition.test = Test::kIsFalse;
    } else if (ConsumeKeyword("NULL")) {
      condition.test = Test::kIsNull;
    } else {
      return Invalid();
    }
  } else if (ConsumeKeyword("NOT")) {
    SkipSpace();
    if (!ConsumeKeyword("EXISTS")) return Invalid();
    condition.test = Test::kNotExists;
  } else {
    Comparison::Op op = BERTH_TRY(Operator());
    condition.comparison = BERTH_TRY(Value(op));
  }
  return condition;
}

Status Parser::Delimited() {
  impl_.kind = Compiled::Kind::kDelimited;
  if (s_.back() != ']') return Invalid();
  s_ = s_.substr(0, s_.size() - 1);
  i_ = 1;
  SkipSpace();
  if (AtEnd()) return Invalid();
  while (true) {
    BERTH_CHECK(DelimitedFieldAt());
    SkipSpace();
    if (AtEnd()) break;
    if (!Consume(",")) return Invalid();
    SkipSpace();
    if (AtEnd()) {
      // A trailing comma is one more field, unnamed: AWS's example "[..., request=*.html*,
      // status_code=4*,]" extracts 7 fields from a 7-field line.
      impl_.fields.push_back(DelimitedField{});
      break;
    }
  }
  return {};
}

// One field: "...", a name, or a name with comparisons joined by && and || (each naming the
// same field: AWS rejects "status_code = 4* && bytes > 1000").
Status Parser::DelimitedFieldAt() {
  DelimitedField field;
  if (Consume("...")) {
    field.ellipsis = true;
    impl_.fields.push_back(std::move(field));
    return {};
  }
  auto name = [&]() -> std::string_view {
    size_t start = i_;
    while (!AtEnd() && IsWordChar(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  };
  field.name = std::string(name());
  if (field.name.empty()) return Invalid();
  SkipSpace();
  if (!AtEnd() && s_[i_] != ',') {
    // comparison (&& comparison)* (|| ...)*, && binding tighter.
    int or_root = -1, and_root = -1;
    while (true) {
      Comparison::Op op = BERTH_TRY(Operator());
      impl_.field_comparisons.push_back(BERTH_TRY(Value(op)));
      int leaf = AddNode(BoolNode{.leaf = static_cast<int>(impl_.field_comparisons.size() - 1)});
      and_root = and_root < 0 ? leaf : Join(BoolNode::Kind::kAnd, and_root, leaf);
      SkipSpace();
      bool is_or = false;
      if (Consume("||")) {
        is_or = true;
      } else if (!Consume("&&")) {
        break;
      }
      if (is_or) {
        or_root = or_root < 0 ? and_root : Join(BoolNode::Kind::kOr, or_root, and_root);
        and_root = -1;
      }
      SkipSpace();
      if (name() != field.name) return Invalid();
      SkipSpace();
    }
    field.root = or_root < 0 ? and_root : Join(BoolNode::Kind::kOr, or_root, and_root);
  }
  impl_.fields.push_back(std::move(field));
  return {};
}

// The message's fields: split on spaces; a "quoted" or [bracketed] field is one field, without
// its quotes or brackets.
void SplitFields(std::string_view message, std::vector<std::string_view>& out) {
  size_t i = 0;
  while (true) {
    while (i < message.size() && IsSpace(message[i])) ++i;
    if (i == message.size()) return;
    char close = message[i] == '"' ? '"' : message[i] == '[' ? ']' : '\0';
    if (close != '\0') {
      size_t end = message.find(close, i + 1);
      if (end == std::string_view::npos) end = message.size();
      out.push_back(message.substr(i + 1, end - i - 1));
      i = end == message.size() ? end : end + 1;
    } else {
      size_t start = i;
      while (i < message.size() && !IsSpace(message[i])) ++i;
      out.push_back(message.substr(start, i - start));
    }
  }
}

bool Compiled::MatchTerms(std::string_view message) const {
  bool any_or = false;
  for (const Term& term : terms) {
    switch (term.role) {
      case Term::Role::kAnd:
        if (!TermMatches(term, message)) return false;
        break;
      case Term::Role::kNot:
        if (TermMatches(term, message)) return false;
        break;
      case Term::Role::kOr:
        if (!any_or) any_or = TermMatches(term, message);
        break;
    }
  }
  return !has_or || any_or;
}

bool Compiled::MatchJson(std::string_view message) const {
  size_t first = message.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || (message[first] != '{' && message[first] != '[')) {
    return false;
  }
  if (memchr(message.data(), '\\', message.size()) == nullptr &&
      !Evaluate(nodes, json_root,
                [&](int leaf) { return json_conditions[leaf].MayHold(message); })) {
    return false;
  }
  std::vector<JsonFound> found(json_conditions.size());
  JsonCollector collector(json_conditions, found);
  if (!json::Json::sax_parse(message, &collector)) return false;
  return Evaluate(nodes, json_root, [&](int leaf) {
    const JsonCondition& condition = json_conditions[leaf];
    const JsonFound& value = found[leaf];
    using Type = JsonFound::Type;
    switch (condition.test) {
      case JsonCondition::Test::kNotExists:
        return value.type == Type::kMissing;
      case JsonCondition::Test::kIsNull:
        return value.type == Type::kNull;
      case JsonCondition::Test::kIsTrue:
        return value.type == Type::kBool && value.boolean;
      case JsonCondition::Test::kIsFalse:
        return value.type == Type::kBool && !value.boolean;
      case JsonCondition::Test::kCompare:
        break;
    }
    // Only value nodes compare: an object, array or null matches neither = nor !=.
    switch (value.type) {
      case Type::kString:
        return Compare(condition.comparison, Scalar{value.text}, regexes);
      case Type::kNumber:
        return Compare(condition.comparison, Scalar{value.text, value.number}, regexes);
      case Type::kBool:
        return Compare(condition.comparison, Scalar{value.boolean ? "true" : "false"}, regexes);
      default:
        return false;
    }
  });
}

bool Compiled::MatchDelimited(std::string_view message) const {
  std::vector<std::string_view> values;
  values.reserve(16);
  SplitFields(message, values);
  auto field_matches = [&](const DelimitedField& field, std::string_view value) {
    if (field.root < 0) return true;
    Scalar scalar{value, ParseNumber(value)};
    return Evaluate(nodes, field.root,
                    [&](int leaf) { return Compare(field_comparisons[leaf], scalar, regexes); });
  };
  // Wildcard matching with "..." as the star: on a mismatch, let the last "..." take one more
  // value and retry from there.
  size_t f = 0, v = 0, star = SIZE_MAX, resume = 0;
  while (v < values.size()) {
    if (f < fields.size() && fields[f].ellipsis) {
      star = f++;
      resume = v;
    } else if (f < fields.size() && field_matches(fields[f], values[v])) {
      ++f;
      ++v;
    } else if (star != SIZE_MAX) {
      f = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (f < fields.size() && fields[f].ellipsis) ++f;
  return f == fields.size();
}

}  // namespace

struct FilterPattern::Impl : Compiled {};

Result<FilterPattern> FilterPattern::Parse(std::string_view pattern) {
  auto impl = std::make_unique<Impl>();
  size_t first = pattern.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos) {
    size_t last = pattern.find_last_not_of(" \t\r\n");
    std::string_view trimmed = pattern.substr(first, last - first + 1);
    Parser parser(trimmed, *impl);
    if (trimmed.front() == '{') {
      BERTH_CHECK(parser.Json());
    } else if (trimmed.front() == '[') {
      BERTH_CHECK(parser.Delimited());
    } else {
      BERTH_CHECK(parser.Terms());
    }
  }
  return FilterPattern(std::move(impl));
}

FilterPattern::FilterPattern(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FilterPattern::FilterPattern(FilterPattern&&) noexcept = default;
FilterPattern& FilterPattern::operator=(FilterPattern&&) noexcept = default;
FilterPattern::~FilterPattern() = default;

bool FilterPattern::Matches(std::string_view message) const {
  switch (impl_->kind) {
    case Impl::Kind::kAll:
      return true;
    case Impl::Kind::kTerms:
      return impl_->MatchTerms(message);
    case Impl::Kind::kJson:
      return impl_->MatchJson(message);
    case Impl::Kind::kDelimited:
      return impl_->MatchDelimited(message);
  }
  return false;
}

bool FilterPattern::MatchesEverything() const { return impl_->kind == Impl::Kind::kAll; }

const std::vector<std::string>& FilterPattern::RequiredSubstrings() const {
  return impl_->required;
}

}  // namespace berth::logs
