#include "common/json_writer.h"

#include <fmt/format.h>

#include <cmath>

#include "common/strings.h"

namespace berth::json {

namespace {
constexpr char kHex[] = "0123456789abcdef";
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
      size_t n = Utf8SequenceLength(text, i, &bad);
      if (n == 0) {
        out.append(kUtf8Replacement);
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
