#include "logs/tokens.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>

#include "common/strings.h"

namespace berth::logs {

namespace {

std::unexpected<Error> InvalidToken() {
  return Fail("InvalidParameterException", "The specified nextToken is invalid.");
}

// "<timestamp>|<index>|<segment>": the segment id last, so it may hold any byte.
std::string PositionText(const Position& p) {
  return fmt::format("{}|{}|{}", p.timestamp, p.index, p.segment);
}

template <class T>
bool ParseNumber(std::string_view text, T& out) {
  auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), out);
  return err == std::errc() && end == text.data() + text.size();
}

Result<Position> ParsePositionText(std::string_view text) {
  size_t a = text.find('|');
  if (a == std::string_view::npos) return InvalidToken();
  size_t b = text.find('|', a + 1);
  if (b == std::string_view::npos) return InvalidToken();
  Position p;
  if (!ParseNumber(text.substr(0, a), p.timestamp) ||
      !ParseNumber(text.substr(a + 1, b - a - 1), p.index)) {
    return InvalidToken();
  }
  p.segment = std::string(text.substr(b + 1));
  return p;
}

}  // namespace

std::string EncodeEventsToken(const EventsToken& token) {
  return fmt::format("{}/{}", token.forward ? 'f' : 'b', HexEncode(PositionText(token.position)));
}

Result<EventsToken> DecodeEventsToken(std::string_view text) {
  if (text.size() < 2 || (text[0] != 'f' && text[0] != 'b') || text[1] != '/') {
    return InvalidToken();
  }
  auto raw = HexDecode(text.substr(2));
  if (!raw) return InvalidToken();
  return EventsToken{text[0] == 'f', BERTH_TRY(ParsePositionText(*raw))};
}

Position HeadPosition() { return Position{std::numeric_limits<int64_t>::min(), "", 0}; }

Position TailPosition() { return Position{std::numeric_limits<int64_t>::max(), "\xff", 0}; }

Position JustAfter(const Position& p) { return Position{p.timestamp, p.segment, p.index + 1}; }

std::string EncodePositionToken(const Position& p) { return Base64Encode(PositionText(p)); }

Result<Position> DecodePositionToken(std::string_view text) {
  auto raw = Base64Decode(text);
  if (!raw) return InvalidToken();
  return ParsePositionText(*raw);
}

std::string EncodeKeyToken(std::string_view sort_key) { return Base64Encode(sort_key); }

Result<std::string> DecodeKeyToken(std::string_view text) {
  auto raw = Base64Decode(text);
  if (!raw || raw->empty()) return InvalidToken();
  return *raw;
}

}  // namespace berth::logs
