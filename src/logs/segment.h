// One segment of log events (event_store.h): how its events and its summary are encoded.
// Internal to the event store.
//
// Plaintext of a segment: varint base index (the index of its first event: a segment rewritten
// by retention keeps its events' indexes), varint count, then per event a zigzag varint
// timestamp delta from the previous event (the first: from 0), a varint message length and the
// message bytes. Stored as 0x01 || AES-256-GCM(nonce || ciphertext || tag) under the group's
// data key with the segment's store key as associated data.
//
// Summary (the idx/ value, plaintext, no message content):
//   "1 <first ts> <last ts> <ingestion ms> <base index> <count> <message bytes>"
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "logs/event_store.h"

namespace berth::logs::segment {

struct Summary {
  std::string id;  // segment id (not part of the encoded value: it is in the key)
  int64_t first = 0, last = 0, ingestion = 0;
  uint32_t base = 0, count = 0;
  int64_t bytes = 0;
};

// A decoded segment: events in timestamp order, the i-th at index base + i.
struct Events {
  uint32_t base = 0;
  std::vector<int64_t> timestamps;
  std::vector<std::string_view> messages;  // views into `plaintext`
  std::string plaintext;                   // secret: wiped on destruction
  Events() = default;
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;
  ~Events();
};

// The plaintext of `events` (already in timestamp order), the first at index `base`.
std::string Encode(uint32_t base, std::span<const InputEvent> events);
// The same for views (a rewrite keeps events of a decoded segment).
std::string Encode(uint32_t base, std::span<const int64_t> timestamps,
                   std::span<const std::string_view> messages);

// Seals / opens a plaintext for the store key `aad`.
Result<std::string> Seal(const DataKey& key, std::string_view plaintext, std::string_view aad);
// Opens and decodes a stored segment into `out`. InternalFailure on a value that does not open
// or decode (tampered, another key).
Status Open(const DataKey& key, std::string_view stored, std::string_view aad, Events& out);

std::string EncodeSummary(const Summary& s);
// `id` is taken from the key. False when `value` is not a summary.
bool DecodeSummary(std::string_view value, Summary& out);

}  // namespace berth::logs::segment
