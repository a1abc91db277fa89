// Pagination tokens. Every token is opaque to the caller; they encode where a page ended.
//   GetLogEvents:     "f/<hex>" (read on after a position) and "b/<hex>" (read back before it);
//                     never empty, and at the end of the stream the token passed in comes back.
//   FilterLogEvents:  base64 of the last position returned.
//   Describe*:        base64 of the last item's sort key.
// A token this service did not make: InvalidParameterException "The specified nextToken is
// invalid.".
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "logs/event_store.h"

namespace berth::logs {

struct EventsToken {
  bool forward = true;
  Position position;
};

std::string EncodeEventsToken(const EventsToken& token);
Result<EventsToken> DecodeEventsToken(std::string_view text);

// Positions before and after every event (the head and the tail of a stream).
Position HeadPosition();
Position TailPosition();
// The bound just after `p`: every position <= p is before it, every later one after it.
Position JustAfter(const Position& p);

std::string EncodePositionToken(const Position& p);
Result<Position> DecodePositionToken(std::string_view text);

std::string EncodeKeyToken(std::string_view sort_key);
Result<std::string> DecodeKeyToken(std::string_view text);

}  // namespace berth::logs
