// A minimal XML writer for Query protocol replies (IAM, STS).
#pragma once

#include <string>
#include <string_view>

namespace berth::aws {

// Appends `text` escaped for element text or an attribute value, such that the
// result is always well-formed XML 1.0 whatever the bytes: &, <, >, " and '
// become entity references and CR a character reference; ill-formed UTF-8 and
// the characters XML 1.0 cannot carry at all (C0 controls other than tab, LF
// and CR; U+FFFE, U+FFFF) become U+FFFD. Client input echoed in errors goes
// through here.
void AppendXmlEscaped(std::string& out, std::string_view text);
std::string XmlEscape(std::string_view text);

// Appends elements to a string: Xml x; x.Open("User").Text("UserName", n).Close("User");
class Xml {
 public:
  Xml& Open(std::string_view name);
  Xml& Close(std::string_view name);
  // <name>escaped text</name>
  Xml& Text(std::string_view name, std::string_view text);
  // Appends already-formed XML.
  Xml& Raw(std::string_view xml);
  // <name>, what `body(*this)` appends, </name>:
  //   x.Element("member", [&](Xml& x) { x.Text("Key", k).Text("Value", v); });
  template <class Body>
  Xml& Element(std::string_view name, Body&& body) {
    Open(name);
    body(*this);
    return Close(name);
  }

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace berth::aws
