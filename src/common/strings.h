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

// U+FFFD REPLACEMENT CHARACTER in UTF-8: what stands in for ill-formed input.
inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";

// The length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF; ASCII is length 1).
// 0 when the bytes there are ill-formed, with *bad set to the length of their
// maximal ill-formed prefix (at least 1): the bytes one U+FFFD replaces
// (Unicode's "substitution of maximal subparts"). Requires i < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t i, size_t* bad);

// `s` cut to at most `max_bytes` without splitting a UTF-8 sequence, for
// echoing client input in messages: a cut mid-character would turn a valid
// character into a U+FFFD.
std::string_view Utf8Prefix(std::string_view s, size_t max_bytes);

std::string HexEncode(std::string_view bytes);
std::optional<std::string> HexDecode(std::string_view hex);
std::string Base64Encode(std::string_view bytes);
// Strict standard base64 (padding required); nullopt when malformed.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace berth
