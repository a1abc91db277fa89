// Small string functions the wire protocols share.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth {

// ASCII case folding (protocol tokens); other bytes are left alone.
std::string ToLower(std::string_view s);
std::string_view Trim(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// RFC 3986 percent-encoding of everything but unreserved characters
// (A-Z a-z 0-9 - _ . ~); '/' is kept when `keep_slash` (SigV4 paths).
std::string UriEncode(std::string_view s, bool keep_slash = false);
// Decodes %XX and, when `plus_is_space`, '+' (form bodies). Malformed escapes
// are kept literally.
std::string UriDecode(std::string_view s, bool plus_is_space);

// Splits "a=1&b=2" into decoded pairs, in order (application/x-www-form-urlencoded).
std::vector<std::pair<std::string, std::string>> ParseForm(std::string_view body);

std::string HexEncode(std::string_view bytes);
std::optional<std::string> HexDecode(std::string_view hex);
std::string Base64Encode(std::string_view bytes);
// Strict standard base64 (padding required); nullopt when malformed.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace berth
