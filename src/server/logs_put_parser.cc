#include "server/logs_put_parser.h"

#include <charconv>
#include <cstring>

#include "common/strings.h"

namespace berth::server {

namespace {

class Scanner {
 public:
  explicit Scanner(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  void Space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool Eat(char c) {
    Space();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool AtEnd() {
    Space();
    return p_ == end_;
  }
  char Peek() {
    Space();
    return p_ < end_ ? *p_ : '\0';
  }

  // A JSON string into `out` (decoded). False when malformed or not valid UTF-8.
  bool String(std::string& out) {
    if (!Eat('"')) return false;
    out.clear();
    for (;;) {
      const char* run = p_;
      while (p_ < end_) {
        auto c = static_cast<unsigned char>(*p_);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++p_;
      }
      out.append(run, p_ - run);
      if (p_ == end_) return false;
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c >= 0x80) {
        size_t bad = 0;
        std::string_view rest(p_, end_ - p_);
        size_t n = Utf8SequenceLength(rest, 0, &bad);
        if (n == 0) return false;
        out.append(p_, n);
        p_ += n;
        continue;
      }
      if (!Escape(out)) return false;
    }
  }

  bool Integer(int64_t& out) {
    Space();
    auto [next, err] = std::from_chars(p_, end_, out);
    if (err != std::errc() || next == p_) return false;
    if (next < end_ && (*next == '.' || *next == 'e' || *next == 'E')) return false;
    p_ = next;
    return true;
  }

  // Skips a string, number, true or false (not null, objects or arrays: the slow path's).
  bool Scalar() {
    char c = Peek();
    if (c == '"') {
      std::string ignored;
      return String(ignored);
    }
    if (c == 't' || c == 'f') {
      std::string_view word = c == 't' ? "true" : "false";
      if (static_cast<size_t>(end_ - p_) < word.size() ||
          std::memcmp(p_, word.data(), word.size()) != 0) {
        return false;
      }
      p_ += word.size();
      return true;
    }
    int64_t ignored;
    return Integer(ignored);
  }

 private:
  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool Hex4(uint32_t& out) {
    if (end_ - p_ < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      int h = Hex(p_[i]);
      if (h < 0) return false;
      out = out * 16 + static_cast<uint32_t>(h);
    }
    p_ += 4;
    return true;
  }

  static void AppendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // At a backslash.
  bool Escape(std::string& out) {
    ++p_;
    if (p_ == end_) return false;
    char c = *p_++;
    switch (c) {
      case '"':
        out.push_back('"');
        return true;
      case '\\':
        out.push_back('\\');
        return true;
      case '/':
        out.push_back('/');
        return true;
      case 'b':
        out.push_back('\b');
        return true;
      case 'f':
        out.push_back('\f');
        return true;
      case 'n':
        out.push_back('\n');
        return true;
      case 'r':
        out.push_back('\r');
        return true;
      case 't':
        out.push_back('\t');
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    uint32_t cp;
    if (!Hex4(cp)) return false;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low;
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
      p_ += 2;
      if (!Hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return false;
    }
    AppendUtf8(out, cp);
    return true;
  }

  const char* p_;
  const char* end_;
};

bool Event(Scanner& s, logs::InputEvent& event) {
  if (!s.Eat('{')) return false;
  bool has_time = false, has_message = false;
  std::string key;
  if (!s.Eat('}')) {
    do {
      if (!s.String(key) || !s.Eat(':')) return false;
      if (key == "timestamp" && !has_time) {
        if (!s.Integer(event.timestamp)) return false;
        has_time = true;
      } else if (key == "message" && !has_message) {
        if (!s.String(event.message)) return false;
        has_message = true;
      } else {
        return false;
      }
    } while (s.Eat(','));
    if (!s.Eat('}')) return false;
  }
  return has_time && has_message;
}

}  // namespace

std::optional<logs::PutLogEventsRequest> ParsePutLogEvents(std::string_view body) {
  Scanner s(body);
  logs::PutLogEventsRequest req;
  bool group = false, stream = false, events = false;
  std::string key;
  if (!s.Eat('{')) return std::nullopt;
  if (s.Eat('}')) return std::nullopt;
  do {
    if (!s.String(key) || !s.Eat(':')) return std::nullopt;
    if (key == "logGroupName" && !group) {
      if (!s.String(req.group)) return std::nullopt;
      group = true;
    } else if (key == "logStreamName" && !stream) {
      if (!s.String(req.stream)) return std::nullopt;
      stream = true;
    } else if (key == "logEvents" && !events) {
      if (!s.Eat('[')) return std::nullopt;
      // ~130 bytes an event on the wire for 100-byte messages: reserve about right.
      req.events.reserve(body.size() / 128 + 1);
      if (!s.Eat(']')) {
        do {
          req.events.emplace_back();
          if (!Event(s, req.events.back())) return std::nullopt;
        } while (s.Eat(','));
        if (!s.Eat(']')) return std::nullopt;
      }
      events = true;
    } else if (key == "logGroupName" || key == "logStreamName" || key == "logEvents" ||
               !s.Scalar()) {
      return std::nullopt;
    }
  } while (s.Eat(','));
  if (!s.Eat('}') || !s.AtEnd() || !group || !stream || !events) return std::nullopt;
  return req;
}

}  // namespace berth::server
