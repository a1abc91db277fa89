#include "logs/event_store.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <map>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <unordered_map>

#include "common/log.h"
#include "common/strings.h"
#include "logs/segment.h"

namespace berth::logs {

namespace {

constexpr std::string_view kSegPrefix = "logevents/seg/";
constexpr std::string_view kIdxPrefix = "logevents/idx/";
constexpr size_t kRangePage = 4096;
constexpr size_t kDeletesPerTxn = 256;

std::string GroupPath(const std::string& account, const std::string& region,
                      const std::string& group) {
  return account + "/" + region + "/" + group;
}
std::string GroupPath(const GroupRef& g) { return GroupPath(g.account, g.region, g.group); }
std::string GroupPath(const StreamRef& s) { return GroupPath(s.account, s.region, s.group); }
std::string StreamPath(const StreamRef& s) { return GroupPath(s) + ":" + s.stream; }

std::string SegKey(const std::string& stream_path, const std::string& id) {
  return std::string(kSegPrefix) + stream_path + ":" + id;
}
std::string IdxKey(const std::string& stream_path, const std::string& id) {
  return std::string(kIdxPrefix) + stream_path + ":" + id;
}

// "A/R/<group>:<stream>:<id>" (an idx key after its prefix) into its group path, stream and id:
// group, stream and id hold no ':'.
bool SplitIndexKey(std::string_view rest, std::string& group_path, std::string& stream,
                   std::string& id) {
  size_t first = rest.find(':');
  size_t last = rest.rfind(':');
  if (first == std::string_view::npos || first == last) return false;
  group_path = rest.substr(0, first);
  stream = rest.substr(first + 1, last - first - 1);
  id = rest.substr(last + 1);
  return true;
}

Error StreamGone() {
  return Error{"ResourceNotFoundException", "The specified log stream does not exist.", 400};
}

using SegmentMap = std::map<std::string, segment::Summary>;  // by segment id

// A segment chosen for a read: whose it is and what the index says of it.
struct Candidate {
  std::string stream;
  std::string stream_path;
  segment::Summary summary;
};

// One decoded segment being merged: `i` is the event it stands at.
struct Cursor {
  std::shared_ptr<segment::Events> events;
  const Candidate* candidate = nullptr;
  ptrdiff_t i = 0;

  int64_t timestamp() const { return events->timestamps[static_cast<size_t>(i)]; }
  Position position() const {
    return Position{timestamp(), candidate->summary.id,
                    events->base + static_cast<uint32_t>(i)};
  }
};

// What a merge returns and when it stops: the part of ReadRequest and ScanRequest they share.
struct MergeSpec {
  int64_t start = kNoStart, end = kNoEnd;
  bool forward = true;
  std::optional<Position> from;  // exclusive
  size_t limit = 10000;
  size_t max_bytes = 1u << 20;
  size_t max_open_bytes = kMaxOpenBytes;
  const std::function<bool(std::string_view)>* match = nullptr;
  const std::vector<std::string>* required = nullptr;
};

bool ContainsAll(std::string_view text, const std::vector<std::string>* required) {
  if (required == nullptr) return true;
  for (const std::string& r : *required) {
    if (!r.empty() && text.find(r) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

DataKey::DataKey(std::string bytes) : bytes_(std::move(bytes)) {}
DataKey::~DataKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

std::string EventId(const Position& p) {
  // The segment id is "<13 digits>-<16 hex>": both halves as decimal.
  std::string_view id = p.segment;
  std::string_view millis = id.substr(0, std::min<size_t>(13, id.size()));
  uint64_t random = 0;
  if (id.size() > 14) {
    std::string_view hex = id.substr(14);
    std::from_chars(hex.data(), hex.data() + hex.size(), random, 16);
  }
  return fmt::format("{:020}{:0>13}{:020}{:010}", static_cast<uint64_t>(p.timestamp), millis,
                     random, p.index);
}

struct EventStore::Impl {
  store::Kv& kv;
  Ids& ids;
  const Clock& clock;

  mutable std::shared_mutex mu;
  // Loaded groups (by group path): their streams' segments (by stream name).
  std::unordered_map<std::string, std::map<std::string, SegmentMap>> groups;
  std::atomic<uint64_t> generation{0};  // bumped by every watch event
  std::mutex expire_mu;                 // one retention pass at a time
  std::unique_ptr<store::WatchHandle> watch;

  Impl(store::Kv& kv, Ids& ids, const Clock& clock) : kv(kv), ids(ids), clock(clock) {
    watch = kv.Watch(kIdxPrefix, [this](const store::WatchEvent& e) { OnWatch(e); });
  }

  void OnWatch(const store::WatchEvent& event) {
    std::unique_lock lock(mu);
    generation.fetch_add(1);
    if (event.type == store::WatchEvent::Type::kReset) {
      groups.clear();
      return;
    }
    std::string group_path, stream, id;
    if (!SplitIndexKey(std::string_view(event.kv.key).substr(kIdxPrefix.size()), group_path,
                       stream, id)) {
      return;
    }
    auto g = groups.find(group_path);
    if (g == groups.end()) return;
    if (event.type == store::WatchEvent::Type::kDelete) {
      auto s = g->second.find(stream);
      if (s == g->second.end()) return;
      s->second.erase(id);
      if (s->second.empty()) g->second.erase(s);
      return;
    }
    segment::Summary summary;
    if (!segment::DecodeSummary(event.kv.value, summary)) return;
    summary.id = id;
    g->second[stream][id] = std::move(summary);
  }

  // Reads the group's index from the store unless it is loaded.
  Status EnsureLoaded(const std::string& group_path) {
    {
      std::shared_lock lock(mu);
      if (groups.contains(group_path)) return {};
    }
    const std::string prefix = std::string(kIdxPrefix) + group_path + ":";
    for (int attempt = 0;; ++attempt) {
      uint64_t seen = generation.load();
      std::map<std::string, SegmentMap> loaded;
      std::string after;
      for (;;) {
        store::RangeResult page = BERTH_TRY(kv.Range(prefix, after, kRangePage));
        for (const store::KeyValue& kv_pair : page.kvs) {
          std::string gp, stream, id;
          segment::Summary summary;
          if (!SplitIndexKey(std::string_view(kv_pair.key).substr(kIdxPrefix.size()), gp, stream,
                             id) ||
              !segment::DecodeSummary(kv_pair.value, summary)) {
            continue;
          }
          summary.id = id;
          loaded[stream][id] = std::move(summary);
        }
        if (!page.more || page.kvs.empty()) break;
        after = page.kvs.back().key;
      }
      std::unique_lock lock(mu);
      if (groups.contains(group_path)) return {};
      // A change that raced the read may be missing from it: read again (a few times).
      if (generation.load() != seen && attempt < 3) continue;
      groups.emplace(group_path, std::move(loaded));
      return {};
    }
  }

  void Remember(const std::string& group_path, const std::string& stream,
                const segment::Summary& summary) {
    std::unique_lock lock(mu);
    auto g = groups.find(group_path);
    if (g != groups.end()) g->second[stream][summary.id] = summary;
  }

  void Forget(const std::string& group_path, const std::string& stream, const std::string& id) {
    std::unique_lock lock(mu);
    auto g = groups.find(group_path);
    if (g == groups.end()) return;
    auto s = g->second.find(stream);
    if (s == g->second.end()) return;
    s->second.erase(id);
    if (s->second.empty()) g->second.erase(s);
  }

  // The segments of the group's streams chosen by `wanted` whose time span meets the merge's.
  std::vector<Candidate> Candidates(const std::string& group_path,
                                    const std::function<bool(const std::string&)>& wanted,
                                    const MergeSpec& spec) const {
    std::vector<Candidate> out;
    std::shared_lock lock(mu);
    auto g = groups.find(group_path);
    if (g == groups.end()) return out;
    for (const auto& [stream, segments] : g->second) {
      if (!wanted(stream)) continue;
      for (const auto& [id, s] : segments) {
        if (s.count == 0 || s.last < spec.start || s.first >= spec.end) continue;
        if (spec.from && spec.forward && s.last < spec.from->timestamp) continue;
        if (spec.from && !spec.forward && s.first > spec.from->timestamp) continue;
        out.push_back(Candidate{stream, group_path + ":" + stream, s});
      }
    }
    if (spec.forward) {
      std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
        return std::tie(a.summary.first, a.summary.id) < std::tie(b.summary.first, b.summary.id);
      });
    } else {
      std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
        return std::tie(a.summary.last, a.summary.id) > std::tie(b.summary.last, b.summary.id);
      });
    }
    return out;
  }

  // The segment, decoded; null when it is gone (deleted since the index saw it) or holds no
  // wanted message.
  Result<std::shared_ptr<segment::Events>> Load(const Candidate& c, const DataKey& key,
                                                const MergeSpec& spec) {
    std::string seg_key = SegKey(c.stream_path, c.summary.id);
    std::optional<store::KeyValue> stored = BERTH_TRY(kv.Get(seg_key));
    if (!stored) return std::shared_ptr<segment::Events>();
    auto events = std::make_shared<segment::Events>();
    Status opened = segment::Open(key, stored->value, seg_key, *events);
    OPENSSL_cleanse(stored->value.data(), stored->value.size());
    if (!opened) {
      log::Error("a log segment does not open", {{"key", seg_key}});
      return Fail(opened.error());
    }
    if (!ContainsAll(events->plaintext, spec.required)) return std::shared_ptr<segment::Events>();
    return events;
  }

  // Moves the cursor to its next wanted event in the merge's direction (starting at its
  // current one when `include_current`); false when it has none left.
  static bool Settle(Cursor& c, const MergeSpec& spec, bool include_current) {
    const auto n = static_cast<ptrdiff_t>(c.events->timestamps.size());
    if (!include_current) c.i += spec.forward ? 1 : -1;
    for (; c.i >= 0 && c.i < n; c.i += spec.forward ? 1 : -1) {
      int64_t ts = c.timestamp();
      if (spec.forward ? ts >= spec.end : ts < spec.start) return false;  // sorted: none later
      if (spec.forward ? ts < spec.start : ts >= spec.end) continue;
      if (spec.from) {
        Position p = c.position();
        if (spec.forward ? !(p > *spec.from) : !(p < *spec.from)) continue;
      }
      if (spec.match != nullptr && *spec.match &&
          !(*spec.match)(c.events->messages[static_cast<size_t>(c.i)])) {
        continue;
      }
      return true;
    }
    return false;
  }

  // The k-way merge of the candidates' events in Position order (descending when backward),
  // loading a segment only once an event of it could come next.
  Result<ScanResult> Merge(const std::vector<Candidate>& candidates, const DataKey& key,
                           const MergeSpec& spec) {
    auto after = [&spec](const Cursor& a, const Cursor& b) {
      return spec.forward ? a.position() > b.position() : a.position() < b.position();
    };
    std::priority_queue<Cursor, std::vector<Cursor>, decltype(after)> heap(after);
    size_t next = 0;
    ScanResult result;
    size_t bytes = 0;
    size_t open_bytes = 0;  // plaintext of the segments in the heap
    for (;;) {
      while (next < candidates.size() &&
             (heap.empty() || (spec.forward ? candidates[next].summary.first <= heap.top().timestamp()
                                            : candidates[next].summary.last >= heap.top().timestamp()))) {
        const Candidate& c = candidates[next++];
        std::shared_ptr<segment::Events> events = BERTH_TRY(Load(c, key, spec));
        if (!events || events->timestamps.empty()) continue;
        Cursor cursor{std::move(events), &c, 0};
        if (!spec.forward) cursor.i = static_cast<ptrdiff_t>(cursor.events->timestamps.size()) - 1;
        if (!Settle(cursor, spec, true)) continue;
        open_bytes += cursor.events->plaintext.size();
        if (open_bytes > spec.max_open_bytes && !heap.empty()) {
          return Fail("LimitExceededException",
                      "Too many log event batches overlap in the time range asked for; narrow it "
                      "with startTime and endTime.");
        }
        heap.push(std::move(cursor));
      }
      if (heap.empty()) break;
      if (result.events.size() >= spec.limit || (bytes >= spec.max_bytes && !result.events.empty())) {
        result.more = true;
        break;
      }
      Cursor top = heap.top();
      heap.pop();
      std::string_view message = top.events->messages[static_cast<size_t>(top.i)];
      if (!result.events.empty() && bytes + message.size() > spec.max_bytes) {
        result.more = true;
        break;
      }
      bytes += message.size();
      result.events.push_back(StoredEvent{top.candidate->stream, top.timestamp(),
                                          top.candidate->summary.ingestion, std::string(message),
                                          top.position()});
      if (Settle(top, spec, false)) {
        heap.push(std::move(top));
      } else {
        open_bytes -= top.events->plaintext.size();
      }
    }
    return result;
  }
};

EventStore::EventStore(store::Kv& kv, Ids& ids, const Clock& clock)
    : impl_(std::make_unique<Impl>(kv, ids, clock)) {}

EventStore::~EventStore() { impl_->watch.reset(); }

Status EventStore::Append(const StreamRef& stream, std::string_view stream_key,
                          int64_t stream_revision, const DataKey& key,
                          std::span<const InputEvent> events, int64_t ingestion_ms) {
  if (events.empty()) return Fail("InvalidParameterException", "no log events to store");
  segment::Summary summary;
  summary.first = events.front().timestamp;
  summary.last = events.back().timestamp;
  summary.ingestion = ingestion_ms;
  summary.count = static_cast<uint32_t>(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0 && events[i].timestamp < events[i - 1].timestamp) {
      return Fail("InvalidParameterException",
                  "Log events in a single PutLogEvents request must be in chronological order.");
    }
    summary.bytes += static_cast<int64_t>(events[i].message.size());
  }
  const std::string stream_path = StreamPath(stream);
  std::string plaintext = segment::Encode(0, events);
  // A segment id drawn twice (it never is with real randomness; a test's sequence ids may
  // wrap) must not overwrite a segment: the put requires the key to be new, and a refused
  // commit whose stream is still there draws another id.
  Status committed = Fail(StreamGone());
  for (int attempt = 0; attempt < 4; ++attempt) {
    uint8_t random[8];
    impl_->ids.Fill(random, sizeof random);
    summary.id = fmt::format("{:013}-{}", ingestion_ms,
                             HexEncode(std::string_view(reinterpret_cast<char*>(random), 8)));
    const std::string seg_key = SegKey(stream_path, summary.id);
    Result<std::string> sealed = segment::Seal(key, plaintext, seg_key);
    if (!sealed) {
      committed = Fail(sealed.error());
      break;
    }
    store::Txn txn;
    txn.compares.push_back(store::Compare{std::string(stream_key), stream_revision});
    txn.compares.push_back(store::Compare{seg_key, 0});
    txn.ops.push_back(store::Op::Put(seg_key, std::move(*sealed)));
    txn.ops.push_back(
        store::Op::Put(IdxKey(stream_path, summary.id), segment::EncodeSummary(summary)));
    Result<store::TxnResult> result = impl_->kv.Commit(txn);
    if (!result) {
      committed = Fail(result.error());
      break;
    }
    if (result->succeeded) {
      committed = {};
      break;
    }
    Result<std::optional<store::KeyValue>> record = impl_->kv.Get(stream_key);
    if (!record || !*record || (*record)->mod_revision != stream_revision) break;
  }
  OPENSSL_cleanse(plaintext.data(), plaintext.size());
  BERTH_CHECK(committed);
  impl_->Remember(GroupPath(stream), stream.stream, summary);
  return {};
}

Result<std::vector<StoredEvent>> EventStore::Read(const ReadRequest& request, const DataKey& key) {
  const std::string group_path = GroupPath(request.stream);
  BERTH_CHECK(impl_->EnsureLoaded(group_path));
  MergeSpec spec{request.start,     request.end,       request.forward,
                 request.from,      request.limit,     request.max_bytes,
                 request.max_open_bytes, nullptr,      nullptr};
  std::vector<Candidate> candidates = impl_->Candidates(
      group_path, [&](const std::string& s) { return s == request.stream.stream; }, spec);
  ScanResult merged = BERTH_TRY(impl_->Merge(candidates, key, spec));
  return std::move(merged.events);
}

Result<ScanResult> EventStore::Scan(const ScanRequest& request, const DataKey& key) {
  const std::string group_path = GroupPath(request.group);
  BERTH_CHECK(impl_->EnsureLoaded(group_path));
  MergeSpec spec{request.start,          request.end,       true,
                 request.after,          request.limit,     request.max_bytes,
                 request.max_open_bytes, &request.match,    &request.required};
  auto wanted = [&](const std::string& s) {
    if (!request.streams.empty()) {
      return std::find(request.streams.begin(), request.streams.end(), s) != request.streams.end();
    }
    return s.starts_with(request.stream_prefix);
  };
  std::vector<Candidate> candidates = impl_->Candidates(group_path, wanted, spec);
  return impl_->Merge(candidates, key, spec);
}

Result<StreamSummary> EventStore::Summary(const StreamRef& stream) {
  const std::string group_path = GroupPath(stream);
  BERTH_CHECK(impl_->EnsureLoaded(group_path));
  StreamSummary out;
  std::shared_lock lock(impl_->mu);
  auto g = impl_->groups.find(group_path);
  if (g == impl_->groups.end()) return out;
  auto s = g->second.find(stream.stream);
  if (s == g->second.end()) return out;
  for (const auto& [id, seg] : s->second) {
    if (seg.count == 0) continue;
    out.first_event_timestamp = std::min(out.first_event_timestamp.value_or(seg.first), seg.first);
    out.last_event_timestamp = std::max(out.last_event_timestamp.value_or(seg.last), seg.last);
    out.last_ingestion_time =
        std::max(out.last_ingestion_time.value_or(seg.ingestion), seg.ingestion);
    out.events += seg.count;
    out.stored_bytes += seg.bytes;
  }
  return out;
}

std::vector<store::Op> EventStore::DeleteStreamOps(const StreamRef& stream) const {
  const std::string path = StreamPath(stream) + ":";
  return {store::Op::DeletePrefix(std::string(kSegPrefix) + path),
          store::Op::DeletePrefix(std::string(kIdxPrefix) + path)};
}

std::vector<store::Op> EventStore::DeleteGroupOps(const GroupRef& group) const {
  const std::string path = GroupPath(group) + ":";
  return {store::Op::DeletePrefix(std::string(kSegPrefix) + path),
          store::Op::DeletePrefix(std::string(kIdxPrefix) + path)};
}

Result<int64_t> EventStore::ExpireBefore(const GroupRef& group, int64_t cutoff_ms,
                                         const DataKey& key) {
  std::lock_guard expiring(impl_->expire_mu);
  const std::string group_path = GroupPath(group);
  BERTH_CHECK(impl_->EnsureLoaded(group_path));
  std::vector<Candidate> whole, partial;
  {
    std::shared_lock lock(impl_->mu);
    auto g = impl_->groups.find(group_path);
    if (g == impl_->groups.end()) return int64_t{0};
    for (const auto& [stream, segments] : g->second) {
      for (const auto& [id, s] : segments) {
        if (s.first >= cutoff_ms) continue;
        (s.last < cutoff_ms ? whole : partial)
            .push_back(Candidate{stream, group_path + ":" + stream, s});
      }
    }
  }
  int64_t deleted = 0;
  // Whole segments: both keys, in bulk.
  for (size_t begin = 0; begin < whole.size(); begin += kDeletesPerTxn) {
    store::Txn txn;
    size_t end = std::min(whole.size(), begin + kDeletesPerTxn);
    for (size_t i = begin; i < end; ++i) {
      txn.ops.push_back(store::Op::Delete(SegKey(whole[i].stream_path, whole[i].summary.id)));
      txn.ops.push_back(store::Op::Delete(IdxKey(whole[i].stream_path, whole[i].summary.id)));
    }
    BERTH_TRY(impl_->kv.Commit(txn));
    for (size_t i = begin; i < end; ++i) {
      deleted += whole[i].summary.count;
      impl_->Forget(group_path, whole[i].stream, whole[i].summary.id);
    }
  }
  // Segments partly expired: rewritten with the events kept, conditioned on the segment not
  // having changed (or gone) meanwhile.
  for (const Candidate& c : partial) {
    std::string seg_key = SegKey(c.stream_path, c.summary.id);
    std::optional<store::KeyValue> stored = BERTH_TRY(impl_->kv.Get(seg_key));
    if (!stored) continue;
    segment::Events events;
    BERTH_CHECK(segment::Open(key, stored->value, seg_key, events));
    auto keep = static_cast<size_t>(
        std::lower_bound(events.timestamps.begin(), events.timestamps.end(), cutoff_ms) -
        events.timestamps.begin());
    if (keep == 0) continue;
    std::span<const int64_t> ts(events.timestamps.begin() + static_cast<ptrdiff_t>(keep),
                                events.timestamps.end());
    std::span<const std::string_view> msgs(events.messages.begin() + static_cast<ptrdiff_t>(keep),
                                           events.messages.end());
    segment::Summary summary = c.summary;
    summary.base = events.base + static_cast<uint32_t>(keep);
    summary.count = static_cast<uint32_t>(ts.size());
    summary.first = ts.front();
    summary.bytes = 0;
    for (std::string_view m : msgs) summary.bytes += static_cast<int64_t>(m.size());
    std::string plaintext = segment::Encode(summary.base, ts, msgs);
    Result<std::string> sealed = segment::Seal(key, plaintext, seg_key);
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    if (!sealed) return Fail(sealed.error());
    store::Txn txn;
    txn.compares.push_back(store::Compare{seg_key, stored->mod_revision});
    txn.ops.push_back(store::Op::Put(seg_key, std::move(*sealed)));
    txn.ops.push_back(store::Op::Put(IdxKey(c.stream_path, c.summary.id),
                                     segment::EncodeSummary(summary)));
    store::TxnResult committed = BERTH_TRY(impl_->kv.Commit(txn));
    if (!committed.succeeded) continue;
    deleted += static_cast<int64_t>(keep);
    impl_->Remember(group_path, c.stream, summary);
  }
  return deleted;
}

}  // namespace berth::logs
