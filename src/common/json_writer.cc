#include "common/json_writer.h"

#include <fmt/format.h>

#include <cmath>

namespace berth::json {

namespace {
constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The UTF-8 sequence starting at s[i] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF): its length when well formed; otherwise
// 0, with *bad set to the length of its maximal ill-formed prefix (at least 1),
// which is replaced by one U+FFFD, as nlohmann/json's replace mode does.
size_t Utf8Length(std::string_view s, size_t i, size_t* bad) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    *bad = 1;
    return 0;
  }
  for (size_t k = 1; k < n; ++k) {
    unsigned char min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
    if (i + k >= s.size() || byte(i + k) < min || byte(i + k) > max) {
      *bad = k;
      return 0;
    }
  }
  return n;
}
}  // namespace

void AppendQuoted(std::string& out, std::string_view text) {
  out.push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    // Copy the run of bytes that need no escaping in one go.
    size_t run = i;
    while (run < text.size()) {
      auto c = static_cast<unsigned char>(text[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out.append(text.data() + i, run - i);
    i = run;
    if (i == text.size()) break;
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t bad = 0;
      size_t n = Utf8Length(text, i, &bad);
      if (n == 0) {
        out.append(kReplacement);
        i += bad;
      } else {
        out.append(text.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
    ++i;
  }
  out.push_back('"');
}

void ObjectWriter::Key(std::string_view key) {
  if (!first_) out_.push_back(',');
  first_ = false;
  AppendQuoted(out_, key);
  out_.push_back(':');
}

ObjectWriter& ObjectWriter::String(std::string_view key, std::string_view value) {
  Key(key);
  AppendQuoted(out_, value);
  return *this;
}

ObjectWriter& ObjectWriter::Number(std::string_view key, double value) {
  Key(key);
  if (std::isfinite(value)) {
    fmt::format_to(std::back_inserter(out_), "{}", value);
  } else {
    out_.append("null");  // as nlohmann/json writes NaN and infinities
  }
  return *this;
}

ObjectWriter& ObjectWriter::Strings(std::string_view key, const std::vector<std::string>& values) {
  Key(key);
  out_.push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out_.push_back(',');
    AppendQuoted(out_, values[i]);
  }
  out_.push_back(']');
  return *this;
}

std::string ObjectWriter::Finish() {
  out_.push_back('}');
  return std::move(out_);
}

}  // namespace berth::json
