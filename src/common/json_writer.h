// A JSON object writer for the responses on hot request paths: appends to one
// string, no document tree (nlohmann/json builds a std::map per object, which
// cost a GetSecretValue more than its AES-GCM). Output is compact JSON; keys
// are written in the order given. Strings are escaped as json::Dump escapes
// them: '"', '\\' and control characters; invalid UTF-8 becomes U+FFFD.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace berth::json {

// Appends `text` as a JSON string literal, quotes included.
void AppendQuoted(std::string& out, std::string_view text);

class ObjectWriter {
 public:
  ObjectWriter() {
    out_.reserve(256);
    out_.push_back('{');
  }

  ObjectWriter& String(std::string_view key, std::string_view value);
  ObjectWriter& Number(std::string_view key, double value);
  ObjectWriter& Strings(std::string_view key, const std::vector<std::string>& values);

  // The object, closed. Call once, last.
  std::string Finish();

 private:
  void Key(std::string_view key);
  std::string out_;
  bool first_ = true;
};

}  // namespace berth::json
