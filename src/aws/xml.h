// A minimal XML writer for Query protocol replies (IAM, STS).
#pragma once

#include <string>
#include <string_view>

namespace berth::aws {

// Escapes &, <, >, " and ' for element text and attribute values.
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

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace berth::aws
