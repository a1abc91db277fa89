// Log events at rest: sealed segments in store::Kv, built for volume.
//
// Log events are the one high-volume write in berth, so a line is never a transaction of its
// own: one PutLogEvents batch (already validated, in timestamp order) is one segment, written
// in one Kv transaction of two keys (account A, region R):
//   logevents/seg/A/R/<group>:<stream>:<segment id>   the batch's events, sealed
//   logevents/idx/A/R/<group>:<stream>:<segment id>   its summary: first and last timestamp,
//                                                     event count, message bytes, ingestion
//                                                     time (no message content; plaintext)
// (a top-level prefix of their own, so that watchers of the service's records under logs/ never
// receive segments, and the index watches idx/ alone).
// Group names cannot contain ':' and stream names cannot contain ':' or '*', so the prefix
// of one stream or group never takes in another's keys. A segment id is
// "<ingestion ms, 13 digits>-<16 random hex>": unique in the store, and ordering a stream's
// segments by ingestion. A batch is at most 1 MiB of messages (+26 bytes an event), so a
// segment value stays under ~1.3 MiB: within etcd's request limit, for the etcd backend.
// Concurrent Appends (parallel PutLogEvents, even to one stream) never conflict: each writes
// its own new keys; the store's group commit shares one fsync between them.
//
// Sealing: a segment's events are AES-256-GCM under the group's 32-byte data key (DataKey;
// the service keeps it), nonce random, the segment's store key as associated data (a segment
// copied under another stream or group does not open). Nothing of a message is stored in
// plaintext.
//
// Order and identity: an event's Position is (timestamp, segment id, index in the segment);
// every read returns events in Position order, which is timestamp order with ties broken by
// ingestion, as CloudWatch Logs sorts. An eventId is derived from the Position alone, so it is
// the same on every read (`aws logs tail --follow` de-duplicates by it).
//
// Reading uses an in-memory index of each stream's segment summaries: loaded from idx/ (one
// Range of small values) the first time a stream or group is read, kept current by this
// store's own writes and by a watch on logevents/idx/ (writes from another process), reloaded on a
// watch reset. A read decodes only the segments whose [first, last] timestamps meet the range
// asked for, in order, and stops once the page is full.
//
// Thread-safe.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "store/kv.h"

namespace berth::logs {

// A log group's data key: 32 bytes, secret (never logged, wiped on destruction).
class DataKey {
 public:
  explicit DataKey(std::string bytes);
  DataKey(const DataKey&) = default;
  DataKey& operator=(const DataKey&) = default;
  ~DataKey();
  std::string_view bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

struct GroupRef {
  std::string account, region, group;
};

struct StreamRef {
  std::string account, region, group, stream;
};

struct InputEvent {
  int64_t timestamp = 0;  // ms since the epoch
  std::string message;
};

struct Position {
  int64_t timestamp = 0;
  std::string segment;  // segment id
  uint32_t index = 0;
  friend auto operator<=>(const Position&, const Position&) = default;
  friend bool operator==(const Position&, const Position&) = default;
};

struct StoredEvent {
  std::string stream;  // the event's log stream (scans span streams)
  int64_t timestamp = 0;
  int64_t ingestion_time = 0;  // ms
  std::string message;
  Position position;
};

// The eventId of the event at `p`: decimal digits only (AWS's are 56-digit numbers), the same
// for the same position on every call.
std::string EventId(const Position& p);

// What DescribeLogStreams shows of a stream's events (nullopt: no events).
struct StreamSummary {
  std::optional<int64_t> first_event_timestamp;
  std::optional<int64_t> last_event_timestamp;
  std::optional<int64_t> last_ingestion_time;
  int64_t events = 0;
  int64_t stored_bytes = 0;  // message bytes stored
};

inline constexpr int64_t kNoStart = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kNoEnd = std::numeric_limits<int64_t>::max();
inline constexpr size_t kMaxOpenBytes = 256u << 20;

struct ReadRequest {
  StreamRef stream;
  int64_t start = kNoStart;  // inclusive
  int64_t end = kNoEnd;      // exclusive
  bool forward = true;       // ascending Position; false: descending
  // Resume strictly after (forward) or strictly before (backward) this position; nullopt:
  // from the first (forward) or the last (backward) event in range.
  std::optional<Position> from;
  size_t limit = 10000;           // events
  size_t max_bytes = 1u << 20;    // message bytes in the page (at least one event is returned)
  // Decoded segments a read may hold open at once (segments that overlap in time must all be
  // open to merge them: a writer could otherwise make one read hold gigabytes). Past it the read
  // fails with LimitExceededException.
  size_t max_open_bytes = kMaxOpenBytes;
};

struct ScanRequest {
  GroupRef group;
  std::vector<std::string> streams;  // these streams only; empty: every stream of the group
  std::string stream_prefix;         // with `streams` empty: streams starting with it
  int64_t start = kNoStart;          // inclusive
  int64_t end = kNoEnd;              // exclusive
  std::optional<Position> after;     // resume strictly after this position
  size_t limit = 10000;              // events
  size_t max_bytes = 1u << 20;       // message bytes in the page
  size_t max_open_bytes = kMaxOpenBytes;  // as ReadRequest's
  // Whether an event in range is wanted (FilterPattern::Matches); null: every event.
  std::function<bool(std::string_view message)> match;
  // Substrings every wanted message contains (FilterPattern::RequiredSubstrings): a segment
  // whose messages lack one of them is skipped without calling `match` on its events.
  std::vector<std::string> required;
};

struct ScanResult {
  std::vector<StoredEvent> events;  // ascending Position, across streams
  bool more = false;                // events past the last one returned may match
};

class EventStore {
 public:
  // `kv`, `ids` (segment ids' random part, nonces come from the CSPRNG) and `clock` outlive
  // the store.
  EventStore(store::Kv& kv, Ids& ids, const Clock& clock);
  ~EventStore();

  // Appends `events` (non-empty, ascending timestamps, each message non-empty) as one segment
  // of `stream`, ingested at `ingestion_ms`. The transaction is conditioned on the stream
  // record `stream_key` still having `stream_revision` (its mod_revision when the caller read
  // it; stream records are never rewritten), so events never land in a deleted stream:
  // ResourceNotFoundException "The specified log stream does not exist." when it is gone.
  Status Append(const StreamRef& stream, std::string_view stream_key, int64_t stream_revision,
                const DataKey& key, std::span<const InputEvent> events, int64_t ingestion_ms);

  // One stream's events in range, a page (GetLogEvents).
  Result<std::vector<StoredEvent>> Read(const ReadRequest& request, const DataKey& key);

  // A group's events over many streams, matching the pattern, a page (FilterLogEvents).
  Result<ScanResult> Scan(const ScanRequest& request, const DataKey& key);

  // DescribeLogStreams' figures, from the index (no segment is read).
  Result<StreamSummary> Summary(const StreamRef& stream);

  // The ops that delete every event of a stream / of a group, for the caller's own transaction
  // (DeleteLogStream / DeleteLogGroup delete the record and its events in one revision).
  std::vector<store::Op> DeleteStreamOps(const StreamRef& stream) const;
  std::vector<store::Op> DeleteGroupOps(const GroupRef& group) const;

  // Retention: deletes every event of the group with a timestamp before `cutoff_ms` from the
  // store. Segments wholly before it are deleted (both keys) in bulk transactions; a segment
  // only partly before it is rewritten without those events (same segment id, so positions
  // and eventIds of the events kept do not change). Returns the number of events deleted.
  Result<int64_t> ExpireBefore(const GroupRef& group, int64_t cutoff_ms, const DataKey& key);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::logs
