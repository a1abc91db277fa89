#include "iam/condition.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "common/strings.h"

namespace berth::iam {

namespace {

inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline bool CharEq(char pattern, char text, bool ignore_case) {
  return ignore_case ? Lower(pattern) == Lower(text) : pattern == text;
}

// `text` equals `lowered` (already lower-cased when ignoring case).
inline bool EqualsPrepared(std::string_view text, std::string_view lowered, bool ignore_case) {
  if (text.size() != lowered.size()) return false;
  if (!ignore_case) return text == lowered;
  for (size_t i = 0; i < text.size(); ++i) {
    if (Lower(text[i]) != lowered[i]) return false;
  }
  return true;
}

// The value a variable stands for: the key's single value, else the default.
bool ResolveVariable(std::string_view key, const std::string& fallback, bool has_fallback,
                     const ContextMap& context, std::string_view* out) {
  const ContextMap::Values* values = context.Find(key);
  if (values && values->size() == 1) {
    *out = values->front();
    return true;
  }
  if (has_fallback) {
    *out = fallback;
    return true;
  }
  return false;
}

// Parses the inside of "${...}" as `key` or `key, 'default'`. False when malformed.
bool ParseVariable(std::string_view inner, std::string* key, std::string* fallback,
                   bool* has_fallback) {
  size_t comma = inner.find(',');
  std::string_view name = Trim(inner.substr(0, comma));
  if (name.empty()) return false;
  for (char c : name) {
    if (c == ' ' || c == '\t' || c == '$' || c == '{' || c == '\'') return false;
  }
  *key = std::string(name);
  *has_fallback = false;
  if (comma != std::string_view::npos) {
    std::string_view rest = Trim(inner.substr(comma + 1));
    if (rest.size() < 2 || rest.front() != '\'' || rest.back() != '\'') return false;
    *fallback = std::string(rest.substr(1, rest.size() - 2));
    *has_fallback = true;
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads `min` to `max` (at most 9) digits at `*pos`, as many as there are.
bool ReadDigits(std::string_view s, size_t* pos, int min, int max, int* value) {
  int n = 0, v = 0;
  while (n < max && *pos + n < s.size() && IsDigit(s[*pos + n])) {
    v = v * 10 + (s[*pos + n] - '0');
    ++n;
  }
  if (n < min) return false;
  *pos += n;
  *value = v;
  return true;
}

// True when s[*pos] is `c` (either case, for a letter); then steps over it.
bool Accept(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || (s[*pos] != c && Lower(s[*pos]) != Lower(c))) return false;
  ++*pos;
  return true;
}

bool ParseDouble(std::string_view text, double* out) {
  text = Trim(text);
  if (text.empty()) return false;
  if (text.front() == '+') text.remove_prefix(1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && std::isfinite(*out);
}

// Parses an IPv4 or IPv6 address into `bytes`; returns 4, 6 or 0 (malformed).
uint8_t ParseIp(std::string_view text, std::array<uint8_t, 16>* bytes) {
  char buffer[64];
  if (text.empty() || text.size() >= sizeof(buffer)) return 0;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  bytes->fill(0);
  if (text.find(':') != std::string_view::npos) {
    return inet_pton(AF_INET6, buffer, bytes->data()) == 1 ? 6 : 0;
  }
  return inet_pton(AF_INET, buffer, bytes->data()) == 1 ? 4 : 0;
}

struct OperatorName {
  std::string_view name;
  Condition::Operator op;
};

constexpr OperatorName kOperators[] = {
    {"StringEquals", Condition::Operator::kStringEquals},
    {"StringNotEquals", Condition::Operator::kStringNotEquals},
    {"StringEqualsIgnoreCase", Condition::Operator::kStringEqualsIgnoreCase},
    {"StringNotEqualsIgnoreCase", Condition::Operator::kStringNotEqualsIgnoreCase},
    {"StringLike", Condition::Operator::kStringLike},
    {"StringNotLike", Condition::Operator::kStringNotLike},
    {"NumericEquals", Condition::Operator::kNumericEquals},
    {"NumericNotEquals", Condition::Operator::kNumericNotEquals},
    {"NumericLessThan", Condition::Operator::kNumericLessThan},
    {"NumericLessThanEquals", Condition::Operator::kNumericLessThanEquals},
    {"NumericGreaterThan", Condition::Operator::kNumericGreaterThan},
    {"NumericGreaterThanEquals", Condition::Operator::kNumericGreaterThanEquals},
    {"DateEquals", Condition::Operator::kDateEquals},
    {"DateNotEquals", Condition::Operator::kDateNotEquals},
    {"DateLessThan", Condition::Operator::kDateLessThan},
    {"DateLessThanEquals", Condition::Operator::kDateLessThanEquals},
    {"DateGreaterThan", Condition::Operator::kDateGreaterThan},
    {"DateGreaterThanEquals", Condition::Operator::kDateGreaterThanEquals},
    {"Bool", Condition::Operator::kBool},
    {"BinaryEquals", Condition::Operator::kBinaryEquals},
    {"IpAddress", Condition::Operator::kIpAddress},
    {"NotIpAddress", Condition::Operator::kNotIpAddress},
    {"ArnEquals", Condition::Operator::kArnEquals},
    {"ArnLike", Condition::Operator::kArnLike},
    {"ArnNotEquals", Condition::Operator::kArnNotEquals},
    {"ArnNotLike", Condition::Operator::kArnNotLike},
    {"Null", Condition::Operator::kNull},
};

bool IsNegated(Condition::Operator op) {
  using Op = Condition::Operator;
  switch (op) {
    case Op::kStringNotEquals:
    case Op::kStringNotEqualsIgnoreCase:
    case Op::kStringNotLike:
    case Op::kNumericNotEquals:
    case Op::kDateNotEquals:
    case Op::kNotIpAddress:
    case Op::kArnNotEquals:
    case Op::kArnNotLike:
      return true;
    default:
      return false;
  }
}

// Compares per a Numeric*/Date* operator; NaN compares false.
bool Compare(Condition::Operator op, double value, double policy) {
  using Op = Condition::Operator;
  switch (op) {
    case Op::kNumericEquals:
    case Op::kNumericNotEquals:  // negation applied by the caller
    case Op::kDateEquals:
    case Op::kDateNotEquals:
      return value == policy;
    case Op::kNumericLessThan:
    case Op::kDateLessThan:
      return value < policy;
    case Op::kNumericLessThanEquals:
    case Op::kDateLessThanEquals:
      return value <= policy;
    case Op::kNumericGreaterThan:
    case Op::kDateGreaterThan:
      return value > policy;
    case Op::kNumericGreaterThanEquals:
    case Op::kDateGreaterThanEquals:
      return value >= policy;
    default:
      return false;
  }
}

// Splits `text` at its first five ':' (outside "${...}" when `variables`).
bool SplitArn(std::string_view text, bool variables, std::array<std::string_view, 6>* parts) {
  size_t start = 0;
  int found = 0;
  bool in_variable = false;
  for (size_t i = 0; i < text.size() && found < 5; ++i) {
    if (variables && !in_variable && text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      in_variable = true;
    } else if (in_variable && text[i] == '}') {
      in_variable = false;
    } else if (!in_variable && text[i] == ':') {
      (*parts)[found++] = text.substr(start, i - start);
      start = i + 1;
    }
  }
  if (found < 5) return false;
  (*parts)[5] = text.substr(start);
  return true;
}

}  // namespace

namespace {
constexpr std::string_view kGlobalKeyNames[ContextMap::kGlobalKeys] = {"aws:PrincipalArn",
                                                                       "aws:PrincipalAccount",
                                                                       "aws:PrincipalType",
                                                                       "aws:userid",
                                                                       "aws:username",
                                                                       "aws:PrincipalIsAWSService",
                                                                       "aws:PrincipalServiceName",
                                                                       "aws:SourceIp",
                                                                       "aws:SecureTransport",
                                                                       "aws:CurrentTime",
                                                                       "aws:EpochTime"};

// The value of global key `index` for `g`, or nullopt when the key does not apply.
std::optional<std::string> GlobalValue(size_t index, const ContextMap::Globals& g) {
  using C = ContextMap::Globals::Caller;
  const bool service = g.caller == C::kService;
  switch (index) {
    case 0:
      if (service) return std::nullopt;
      if (g.caller == C::kAssumedRole) {
        return fmt::format("arn:aws:iam::{}:role/{}", g.account, g.name);
      }
      return g.arn;
    case 1:
      return service ? std::nullopt : std::optional<std::string>(g.account);
    case 2:
      switch (g.caller) {
        case C::kRoot:
          return "Account";
        case C::kUser:
          return "User";
        case C::kAssumedRole:
          return "AssumedRole";
        case C::kFederatedUser:
          return "FederatedUser";
        case C::kService:
          return std::nullopt;
      }
      return std::nullopt;
    case 3:
      return service ? std::nullopt : std::optional<std::string>(g.user_id);
    case 4:
      return g.caller == C::kUser ? std::optional<std::string>(g.name) : std::nullopt;
    case 5:
      return service ? "true" : "false";
    case 6:
      return service ? std::optional<std::string>(g.service) : std::nullopt;
    case 7:
      return g.source_ip.empty() ? std::nullopt : std::optional<std::string>(g.source_ip);
    case 8:
      return g.secure_transport ? "true" : "false";
    case 9:
      return FormatIso8601(g.now);
    case 10:
      return std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(g.now.time_since_epoch()).count());
    default:
      return std::nullopt;
  }
}
}  // namespace

ContextMap::ContextMap(std::initializer_list<Entry> entries) {
  for (const auto& [key, values] : entries) (*this)[key] = values;
}

namespace {
// ASCII case-insensitive equality, inline: lookups run on every condition.
inline bool SameKey(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}
}  // namespace

size_t ContextMap::KeyHash::operator()(std::string_view key) const noexcept {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the lower-cased bytes
  for (char c : key) {
    h ^= static_cast<unsigned char>(Lower(c));
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h);
}

bool ContextMap::KeyEq::operator()(std::string_view a, std::string_view b) const noexcept {
  return SameKey(a, b);
}

const ContextMap::Values* ContextMap::FindOwn(std::string_view key) const {
  if (!index_.empty()) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &entries_[it->second].second;
  }
  for (const auto& entry : entries_) {
    if (SameKey(entry.first, key)) return &entry.second;
  }
  return nullptr;
}

void ContextMap::Reindex() {
  index_.clear();
  if (entries_.size() < kIndexFrom) return;
  index_.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
}

ContextMap::Values& ContextMap::operator[](std::string_view key) {
  if (const Values* found = FindOwn(key)) return const_cast<Values&>(*found);
  entries_.emplace_back(std::string(key), Values{});
  if (!index_.empty()) {
    index_.emplace(entries_.back().first, entries_.size() - 1);
  } else if (entries_.size() >= kIndexFrom) {
    Reindex();
  }
  return entries_.back().second;
}

void ContextMap::Erase(std::string_view key) {
  size_t before = entries_.size();
  std::erase_if(entries_, [&](const Entry& e) { return SameKey(e.first, key); });
  if (entries_.size() != before && !index_.empty()) Reindex();
}

void ContextMap::SetGlobals(Globals globals) {
  globals_ = std::move(globals);
  computed_mask_ = 0;
  present_mask_ = 0;
  for (const auto name : kGlobalKeyNames) Erase(name);
}

const ContextMap::Values* ContextMap::Find(std::string_view key) const {
  if (const Values* own = FindOwn(key)) return own;
  if (base_) {
    if (const Values* v = base_->Find(key)) return v;
  }
  return globals_ ? FindGlobal(key) : nullptr;
}

const ContextMap::Values* ContextMap::FindGlobal(std::string_view key) const {
  if (key.size() < 10 || key.size() > 25 || !SameKey(key.substr(0, 4), "aws:")) return nullptr;
  for (size_t i = 0; i < kGlobalKeys; ++i) {
    if (!SameKey(kGlobalKeyNames[i], key)) continue;
    const uint16_t bit = uint16_t(1u << i);
    if (!(computed_mask_ & bit)) {
      computed_mask_ |= bit;
      if (auto value = GlobalValue(i, *globals_)) {
        computed_[i] = {std::move(*value)};
        present_mask_ |= bit;
      }
    }
    return (present_mask_ & bit) ? &computed_[i] : nullptr;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------
// Pattern

Pattern Pattern::Compile(std::string_view text, Options options) {
  Pattern p;
  p.source_ = std::string(text);
  p.ignore_case_ = options.ignore_case;
  std::vector<Piece> pieces;
  std::string literal;
  bool has_variable = false;
  auto flush = [&] {
    if (!literal.empty()) {
      pieces.push_back(Piece{Piece::Type::kLiteral, std::move(literal), {}, false});
      literal.clear();
    }
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (options.variables && c == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close != std::string_view::npos) {
        std::string_view inner = text.substr(i + 2, close - i - 2);
        if (inner == "*" || inner == "?" || inner == "$") {
          literal.push_back(inner[0]);  // the escapes stand for the literal character
          i = close;
          continue;
        }
        Piece var{Piece::Type::kVariable, {}, {}, false};
        if (ParseVariable(inner, &var.text, &var.fallback, &var.has_fallback)) {
          flush();
          pieces.push_back(std::move(var));
          has_variable = true;
          i = close;
          continue;
        }
      }
    }
    if (options.wildcards && c == '*') {
      flush();
      if (pieces.empty() || pieces.back().type != Piece::Type::kStar) {
        pieces.push_back(Piece{Piece::Type::kStar, {}, {}, false});
      }
      continue;
    }
    if (options.wildcards && c == '?') {
      flush();
      pieces.push_back(Piece{Piece::Type::kOne, {}, {}, false});
      continue;
    }
    literal.push_back(options.ignore_case ? Lower(c) : c);
  }
  flush();

  using T = Piece::Type;
  if (!has_variable && pieces.size() == 1 && pieces[0].type == T::kStar) {
    p.kind_ = Kind::kAnything;
  } else if (!has_variable && pieces.empty()) {
    p.kind_ = Kind::kExact;
  } else if (!has_variable && pieces.size() == 1 && pieces[0].type == T::kLiteral) {
    p.kind_ = Kind::kExact;
    p.literal_ = std::move(pieces[0].text);
  } else if (!has_variable && pieces.size() == 2 && pieces[0].type == T::kLiteral &&
             pieces[1].type == T::kStar) {
    p.kind_ = Kind::kPrefix;
    p.literal_ = std::move(pieces[0].text);
  } else {
    p.kind_ = Kind::kGeneral;
    bool star_only = !has_variable && !options.ignore_case;
    for (const auto& piece : pieces) star_only = star_only && piece.type != T::kOne;
    if (star_only) p.kind_ = Kind::kStars;
    p.pieces_ = std::move(pieces);
  }
  return p;
}

// Literals separated by '*' (case-sensitive, no variables): the head must
// start the text and the tail end it; each literal between is taken at its
// leftmost place after the one before, which is exact for '*' (a later place
// never leaves more room). Linear, with memchr/memcmp speed.
bool Pattern::MatchStars(std::string_view text) const {
  using T = Piece::Type;
  size_t first = 0, last = pieces_.size();
  size_t pos = 0, end = text.size();
  if (pieces_.front().type == T::kLiteral) {
    const std::string& head = pieces_.front().text;
    if (!text.starts_with(head)) return false;
    pos = head.size();
    first = 1;
  }
  if (pieces_.back().type == T::kLiteral && last > first) {
    const std::string& tail = pieces_.back().text;
    if (end - pos < tail.size() || !text.ends_with(tail)) return false;
    end -= tail.size();
    last -= 1;
  }
  std::string_view middle = text.substr(0, end);
  for (size_t i = first; i < last; ++i) {
    if (pieces_[i].type != T::kLiteral) continue;
    size_t at = middle.find(pieces_[i].text, pos);
    if (at == std::string_view::npos) return false;
    pos = at + pieces_[i].text.size();
  }
  return true;
}

bool Pattern::Matches(std::string_view text, const ContextMap& context) const {
  switch (kind_) {
    case Kind::kAnything:
      return true;
    case Kind::kExact:
      return EqualsPrepared(text, literal_, ignore_case_);
    case Kind::kPrefix:
      return text.size() >= literal_.size() &&
             EqualsPrepared(text.substr(0, literal_.size()), literal_, ignore_case_);
    case Kind::kStars:
      return MatchStars(text);
    case Kind::kGeneral:
      return MatchGeneral(text, context);
  }
  return false;
}

bool Pattern::PieceText(const Piece& piece, const ContextMap& context,
                        std::string_view* out) const {
  if (piece.type == Piece::Type::kLiteral) {
    *out = piece.text;
    return true;
  }
  return ResolveVariable(piece.text, piece.fallback, piece.has_fallback, context, out);
}

// Iterative glob over pieces: on a mismatch, the last '*' absorbs one more character and
// matching resumes after it. O(pattern * text), no recursion, no allocation.
bool Pattern::MatchGeneral(std::string_view text, const ContextMap& context) const {
  constexpr size_t kNone = static_cast<size_t>(-1);
  const size_t n = pieces_.size();
  size_t pi = 0, po = 0, ti = 0;  // piece, offset in the piece's text, text position
  size_t star_pi = kNone, star_ti = 0;
  while (true) {
    if (pi < n) {
      const Piece& piece = pieces_[pi];
      if (piece.type == Piece::Type::kStar) {
        star_pi = pi++;
        star_ti = ti;
        po = 0;
        continue;
      }
      if (piece.type == Piece::Type::kOne) {
        if (ti < text.size()) {
          ++ti;
          ++pi;
          continue;
        }
      } else {
        std::string_view lit;
        if (!PieceText(piece, context, &lit)) return false;
        if (po == lit.size()) {
          ++pi;
          po = 0;
          continue;
        }
        if (ti < text.size() && CharEq(lit[po], text[ti], ignore_case_)) {
          ++po;
          ++ti;
          continue;
        }
      }
    } else if (ti == text.size()) {
      return true;
    }
    // Mismatch: let the last '*' take one more character and resume after it.
    if (star_pi == kNone || star_ti >= text.size()) return false;
    ti = ++star_ti;
    pi = star_pi + 1;
    po = 0;
  }
}

// ---------------------------------------------------------------------------------------
// Dates

bool ParseConditionDate(std::string_view s, double* epoch_seconds) {
  if (s.empty()) return false;
  // Evaluation parses context values ("2026-11-26T16:55:06Z") on every check: stop at the
  // first non-digit rather than scan the whole text for the epoch form.
  size_t leading_digits = 0;
  while (leading_digits < s.size() && IsDigit(s[leading_digits])) ++leading_digits;
  if (leading_digits == s.size()) {
    if (s.size() > 19) return false;
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return false;
    }
    *epoch_seconds = static_cast<double>(v);
    return true;
  }
  // The years IAM accepts: Joda-Time's range.
  constexpr int kMinYear = -292275054, kMaxYear = 292278993;
  size_t pos = 0;
  const bool bc = Accept(s, &pos, '-');
  int year, month = 1, day = 1;
  if (!ReadDigits(s, &pos, 1, 9, &year)) return false;
  if (bc) year = -year;
  if (Accept(s, &pos, '-')) {
    if (!ReadDigits(s, &pos, 1, 2, &month)) return false;
    if (Accept(s, &pos, '-') && !ReadDigits(s, &pos, 1, 2, &day)) return false;
  }
  if (year < kMinYear || year > kMaxYear || month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > DaysInMonth(year, month)) {
    return false;
  }
  double seconds = static_cast<double>(DaysFromCivil(year, month, day)) * 86400.0;
  if (pos == s.size()) {
    *epoch_seconds = seconds;
    return true;
  }
  if (!Accept(s, &pos, 'T')) return false;
  int hour = 0, minute = 0, second = 0;
  double fraction = 0;
  if (ReadDigits(s, &pos, 1, 2, &hour) && Accept(s, &pos, ':')) {
    if (!ReadDigits(s, &pos, 1, 2, &minute)) return false;
    if (Accept(s, &pos, ':')) {
      if (!ReadDigits(s, &pos, 1, 2, &second)) return false;
      if (Accept(s, &pos, '.')) {
        constexpr double kScale[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
        size_t start = pos;
        int digits;
        if (!ReadDigits(s, &pos, 1, 9, &digits)) return false;
        fraction = digits / kScale[pos - start];
      }
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return false;
  seconds += hour * 3600.0 + minute * 60.0 + second + fraction;
  if (pos == s.size() || (Accept(s, &pos, 'Z') && pos == s.size())) {  // no zone: UTC
    *epoch_seconds = seconds;
    return true;
  }
  if (s[pos] != '+' && s[pos] != '-') return false;
  int sign = s[pos++] == '+' ? 1 : -1;
  int off_hour, off_minute = 0;
  if (!ReadDigits(s, &pos, 2, 2, &off_hour)) return false;
  if (pos < s.size()) {
    Accept(s, &pos, ':');
    if (!ReadDigits(s, &pos, 2, 2, &off_minute)) return false;
  }
  if (pos != s.size() || off_hour > 23 || off_minute > 59) return false;
  *epoch_seconds = seconds - sign * (off_hour * 3600.0 + off_minute * 60.0);
  return true;
}

// ---------------------------------------------------------------------------------------
// Condition

Result<Condition> Condition::Compile(std::string_view op, std::string_view key,
                                     const std::vector<std::string>& values,
                                     LanguageVersion version) {
  Condition c;
  std::string_view name = op;
  if (name.starts_with("ForAnyValue:")) {
    c.qualifier_ = Qualifier::kForAnyValue;
    name.remove_prefix(12);
  } else if (name.starts_with("ForAllValues:")) {
    c.qualifier_ = Qualifier::kForAllValues;
    name.remove_prefix(13);
  }
  if (name.ends_with("IfExists")) {
    c.if_exists_ = true;
    name.remove_suffix(8);
  }
  bool known = false;
  for (const auto& entry : kOperators) {
    if (entry.name == name) {
      c.op_ = entry.op;
      known = true;
      break;
    }
  }
  if (!known) {
    return Fail("MalformedPolicyDocument", "Syntax errors in policy.");
  }
  c.negated_ = IsNegated(c.op_);
  c.key_ = std::string(key);
  const bool variables = version == LanguageVersion::k2012_10_17;

  using Op = Operator;
  switch (c.op_) {
    case Op::kStringEquals:
    case Op::kStringNotEquals:
    case Op::kStringEqualsIgnoreCase:
    case Op::kStringNotEqualsIgnoreCase:
    case Op::kStringLike:
    case Op::kStringNotLike: {
      Pattern::Options options;
      options.wildcards = c.op_ == Op::kStringLike || c.op_ == Op::kStringNotLike;
      options.variables = variables;
      options.ignore_case =
          c.op_ == Op::kStringEqualsIgnoreCase || c.op_ == Op::kStringNotEqualsIgnoreCase;
      for (const auto& v : values) c.patterns_.push_back(Pattern::Compile(v, options));
      break;
    }
    case Op::kArnEquals:
    case Op::kArnLike:
    case Op::kArnNotEquals:
    case Op::kArnNotLike: {
      Pattern::Options options;
      options.wildcards = true;
      options.variables = variables;
      for (const auto& v : values) {
        ArnPattern arn;
        std::array<std::string_view, 6> parts;
        if (SplitArn(v, variables, &parts)) {
          arn.split = true;
          for (size_t i = 0; i < 6; ++i) arn.parts[i] = Pattern::Compile(parts[i], options);
        } else {
          arn.whole = Pattern::Compile(v, options);
        }
        c.arns_.push_back(std::move(arn));
      }
      break;
    }
    case Op::kNumericEquals:
    case Op::kNumericNotEquals:
    case Op::kNumericLessThan:
    case Op::kNumericLessThanEquals:
    case Op::kNumericGreaterThan:
    case Op::kNumericGreaterThanEquals:
      for (const auto& v : values) {
        double d;
        c.numbers_.push_back(ParseDouble(v, &d) ? d : std::numeric_limits<double>::quiet_NaN());
      }
      break;
    case Op::kDateEquals:
    case Op::kDateNotEquals:
    case Op::kDateLessThan:
    case Op::kDateLessThanEquals:
    case Op::kDateGreaterThan:
    case Op::kDateGreaterThanEquals:
      for (const auto& v : values) {
        double d;
        if (!ParseConditionDate(v, &d)) {
          return Fail("MalformedPolicyDocument", "The policy failed legacy parsing");
        }
        c.numbers_.push_back(d);
      }
      break;
    case Op::kBool:
    case Op::kNull:
      for (const auto& v : values) c.raw_.push_back(ToLower(v));
      break;
    case Op::kBinaryEquals:
      c.raw_ = values;
      break;
    case Op::kIpAddress:
    case Op::kNotIpAddress:
      for (const auto& v : values) {
        Cidr cidr;
        std::string_view text = Trim(v);
        size_t slash = text.find('/');
        cidr.family = ParseIp(text.substr(0, slash), &cidr.bytes);
        int max_bits = cidr.family == 6 ? 128 : 32;
        cidr.prefix_bits = static_cast<uint8_t>(max_bits);
        if (cidr.family != 0 && slash != std::string_view::npos) {
          std::string_view bits = text.substr(slash + 1);
          int n = -1;
          auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
          if (ec != std::errc() || end != bits.data() + bits.size() || n < 0 || n > max_bits) {
            cidr.family = 0;
          } else {
            cidr.prefix_bits = static_cast<uint8_t>(n);
          }
        }
        c.cidrs_.push_back(cidr);
      }
      break;
  }
  return c;
}

bool Condition::MatchesAnyValue(std::string_view value, const ContextMap& context) const {
  using Op = Operator;
  switch (op_) {
    case Op::kStringEquals:
    case Op::kStringNotEquals:
    case Op::kStringEqualsIgnoreCase:
    case Op::kStringNotEqualsIgnoreCase:
    case Op::kStringLike:
    case Op::kStringNotLike:
      for (const auto& p : patterns_) {
        if (p.Matches(value, context)) return true;
      }
      return false;
    case Op::kArnEquals:
    case Op::kArnLike:
    case Op::kArnNotEquals:
    case Op::kArnNotLike: {
      std::array<std::string_view, 6> parts;
      bool split = SplitArn(value, false, &parts);
      for (const auto& arn : arns_) {
        if (!arn.split) {
          if (arn.whole.Matches(value, context)) return true;
          continue;
        }
        if (!split) continue;
        bool all = true;
        for (size_t i = 0; i < 6 && all; ++i) all = arn.parts[i].Matches(parts[i], context);
        if (all) return true;
      }
      return false;
    }
    case Op::kNumericEquals:
    case Op::kNumericNotEquals:
    case Op::kNumericLessThan:
    case Op::kNumericLessThanEquals:
    case Op::kNumericGreaterThan:
    case Op::kNumericGreaterThanEquals: {
      double v;
      if (!ParseDouble(value, &v)) return false;
      for (double n : numbers_) {
        if (Compare(op_, v, n)) return true;
      }
      return false;
    }
    case Op::kDateEquals:
    case Op::kDateNotEquals:
    case Op::kDateLessThan:
    case Op::kDateLessThanEquals:
    case Op::kDateGreaterThan:
    case Op::kDateGreaterThanEquals: {
      double v;
      if (!ParseConditionDate(Trim(value), &v)) return false;
      for (double n : numbers_) {
        if (Compare(op_, v, n)) return true;
      }
      return false;
    }
    case Op::kBool:
      for (const auto& r : raw_) {
        if (EqualsIgnoreCase(value, r)) return true;
      }
      return false;
    case Op::kBinaryEquals:
      for (const auto& r : raw_) {
        if (value == r) return true;
      }
      return false;
    case Op::kIpAddress:
    case Op::kNotIpAddress: {
      std::array<uint8_t, 16> ip;
      uint8_t family = ParseIp(Trim(value), &ip);
      if (family == 0) return false;
      for (const auto& cidr : cidrs_) {
        if (cidr.family != family) continue;
        int full = cidr.prefix_bits / 8, rest = cidr.prefix_bits % 8;
        if (std::memcmp(ip.data(), cidr.bytes.data(), full) != 0) continue;
        if (rest != 0) {
          uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
          if ((ip[full] & mask) != (cidr.bytes[full] & mask)) continue;
        }
        return true;
      }
      return false;
    }
    case Op::kNull:
      return false;  // handled by Evaluate
  }
  return false;
}

bool Condition::Evaluate(const ContextMap& context) const {
  const ContextMap::Values* values = context.Find(key_);
  const bool present = values && !values->empty();
  if (op_ == Operator::kNull) {
    for (const auto& r : raw_) {
      if ((r == "true") != present) return true;
    }
    return false;
  }
  switch (qualifier_) {
    case Qualifier::kNone: {
      if (!present) return if_exists_ || negated_;
      bool any = false;
      for (const auto& v : *values) {
        if (MatchesAnyValue(v, context)) {
          any = true;
          break;
        }
      }
      return negated_ ? !any : any;
    }
    case Qualifier::kForAnyValue:
      if (!present) return if_exists_;
      for (const auto& v : *values) {
        if (MatchesAnyValue(v, context) != negated_) return true;
      }
      return false;
    case Qualifier::kForAllValues:
      if (!present) return true;
      for (const auto& v : *values) {
        if (MatchesAnyValue(v, context) == negated_) return false;
      }
      return true;
  }
  return false;
}

}  // namespace berth::iam
