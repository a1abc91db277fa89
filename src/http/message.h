// Plain HTTP messages, free of any HTTP library's types, so that the layers
// above (aws/, server/) never include Boost.Beast or libcurl.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace berth::http {

struct Header {
  std::string name;  // as received; compare case-insensitively
  std::string value;
};

struct Request {
  std::string method;           // "POST"
  std::string target;           // path and query as received: "/?Action=..."
  std::vector<Header> headers;  // in the order received, duplicates kept
  std::string body;
  std::string remote_ip;        // peer address ("127.0.0.1"); empty when unknown
  bool secure = false;          // arrived over TLS (aws:SecureTransport)

  // The first header named `name` (case-insensitive), or nullptr.
  const std::string* FindHeader(std::string_view name) const;
  // Its value or "" when absent.
  std::string_view HeaderOr(std::string_view name, std::string_view fallback = {}) const;
  // The path part of `target` (before '?').
  std::string_view Path() const;
  // The query part of `target` (after '?', without it); "" when none.
  std::string_view Query() const;
};

struct Response {
  int status = 200;
  std::vector<Header> headers;
  std::string body;

  void SetHeader(std::string name, std::string value);
};

}  // namespace berth::http
