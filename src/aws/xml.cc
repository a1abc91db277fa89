#include "aws/xml.h"

#include "common/strings.h"

namespace berth::aws {

namespace {
// Characters XML 1.0 cannot carry at all, not even as references: C0 controls
// but tab, LF and CR, and U+FFFE/U+FFFF. (Surrogates are ill-formed UTF-8.)
bool IsXmlChar(std::string_view s, size_t i, size_t n) {
  auto c = static_cast<unsigned char>(s[i]);
  if (n == 1) return c >= 0x20 || c == '\t' || c == '\n' || c == '\r';
  if (n == 3 && c == 0xEF && static_cast<unsigned char>(s[i + 1]) == 0xBF) {
    return static_cast<unsigned char>(s[i + 2]) < 0xBE;
  }
  return true;
}

// The reference that stands for `c`, or "" when it stands for itself. A
// literal CR would be read back as LF.
std::string_view Reference(char c) {
  switch (c) {
    case '&':
      return "&amp;";
    case '<':
      return "&lt;";
    case '>':
      return "&gt;";
    case '"':
      return "&quot;";
    case '\'':
      return "&apos;";
    case '\r':
      return "&#13;";
    default:
      return "";
  }
}
}  // namespace

void AppendXmlEscaped(std::string& out, std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    // Copy the run of bytes that need nothing done in one go.
    size_t run = i;
    while (run < text.size()) {
      auto c = static_cast<unsigned char>(text[run]);
      if (c < 0x20 || c >= 0x80 || c == '&' || c == '<' || c == '>' || c == '"' || c == '\'') {
        break;
      }
      ++run;
    }
    out.append(text.data() + i, run - i);
    i = run;
    if (i == text.size()) break;
    if (std::string_view ref = Reference(text[i]); !ref.empty()) {
      out.append(ref);
      ++i;
      continue;
    }
    size_t bad = 0;
    size_t n = Utf8SequenceLength(text, i, &bad);
    if (n == 0 || !IsXmlChar(text, i, n)) {
      out.append(kUtf8Replacement);
      i += n == 0 ? bad : n;
    } else {
      out.append(text.data() + i, n);
      i += n;
    }
  }
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendXmlEscaped(out, text);
  return out;
}

Xml& Xml::Open(std::string_view name) {
  out_.push_back('<');
  out_.append(name);
  out_.push_back('>');
  return *this;
}

Xml& Xml::Close(std::string_view name) {
  out_.append("</");
  out_.append(name);
  out_.push_back('>');
  return *this;
}

Xml& Xml::Text(std::string_view name, std::string_view text) {
  Open(name);
  AppendXmlEscaped(out_, text);
  return Close(name);
}

Xml& Xml::Raw(std::string_view xml) {
  out_.append(xml);
  return *this;
}

}  // namespace berth::aws
