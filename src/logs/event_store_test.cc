#include "logs/event_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "crypto/random.h"
#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace berth::logs {
namespace {

using std::chrono::milliseconds;

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kv_ = std::move(*store::SqliteKv::Open(dir_.File("store.db")));
    events_ = std::make_unique<EventStore>(*kv_, ids_, clock_);
    stream_revision_ = *kv_->Put(StreamKey("s"), "stream record");
  }

  static std::string StreamKey(const std::string& s) { return "logs/1/us-east-1/stream/g:" + s; }
  static StreamRef Stream(const std::string& s) { return {"1", "us-east-1", "g", s}; }
  static GroupRef Group() { return {"1", "us-east-1", "g"}; }

  Status Append(const std::string& stream, std::vector<InputEvent> events, int64_t ingestion = 1) {
    int64_t revision = stream == "s" ? stream_revision_ : *kv_->Put(StreamKey(stream), "record");
    if (stream == "s") revision = stream_revision_;
    return events_->Append(Stream(stream), StreamKey(stream), revision, key_, events, ingestion);
  }

  std::vector<std::string> Messages(const std::vector<StoredEvent>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.message);
    return out;
  }

  std::vector<StoredEvent> ReadAll(ReadRequest r) {
    r.stream = Stream("s");
    auto got = events_->Read(r, key_);
    EXPECT_TRUE(got.has_value()) << (got ? "" : got.error().message);
    return got ? *got : std::vector<StoredEvent>{};
  }

  size_t KeysUnder(const std::string& prefix) { return kv_->Range(prefix)->kvs.size(); }

  test_support::TempDir dir_;
  Ids& ids_ = crypto::SecureIds();
  FakeClock clock_{TimePoint(std::chrono::seconds(1'700'000'000))};
  std::unique_ptr<store::SqliteKv> kv_;
  std::unique_ptr<EventStore> events_;
  DataKey key_{std::string(32, 'k')};
  int64_t stream_revision_ = 0;
};

TEST_F(EventStoreTest, ReadsForwardAndBackwardInTimestampOrderAcrossOverlappingSegments) {
  ASSERT_TRUE(Append("s", {{10, "a10"}, {30, "a30"}, {50, "a50"}}, 100));
  ASSERT_TRUE(Append("s", {{20, "b20"}, {30, "b30"}, {40, "b40"}}, 200));
  EXPECT_EQ(Messages(ReadAll({})),
            (std::vector<std::string>{"a10", "b20", "a30", "b30", "b40", "a50"}));
  ReadRequest back;
  back.forward = false;
  EXPECT_EQ(Messages(ReadAll(back)),
            (std::vector<std::string>{"a50", "b40", "b30", "a30", "b20", "a10"}));
}

TEST_F(EventStoreTest, PagesResumeStrictlyAfterOrBeforeAPosition) {
  ASSERT_TRUE(Append("s", {{10, "a10"}, {30, "a30"}, {50, "a50"}}, 100));
  ASSERT_TRUE(Append("s", {{20, "b20"}, {30, "b30"}, {40, "b40"}}, 200));
  ReadRequest r;
  r.limit = 2;
  std::vector<std::string> all;
  for (int page = 0; page < 5; ++page) {
    auto got = ReadAll(r);
    if (got.empty()) break;
    for (auto& m : Messages(got)) all.push_back(m);
    r.from = got.back().position;
  }
  EXPECT_EQ(all, (std::vector<std::string>{"a10", "b20", "a30", "b30", "b40", "a50"}));

  ReadRequest b;
  b.forward = false;
  b.limit = 4;
  auto first = ReadAll(b);
  ASSERT_EQ(first.size(), 4u);
  b.from = first.back().position;
  EXPECT_EQ(Messages(ReadAll(b)), (std::vector<std::string>{"b20", "a10"}));
}

TEST_F(EventStoreTest, TimeBoundsAreStartInclusiveEndExclusive) {
  ASSERT_TRUE(Append("s", {{10, "a"}, {20, "b"}, {30, "c"}, {40, "d"}}));
  ReadRequest r;
  r.start = 20;
  r.end = 40;
  EXPECT_EQ(Messages(ReadAll(r)), (std::vector<std::string>{"b", "c"}));
  r.forward = false;
  EXPECT_EQ(Messages(ReadAll(r)), (std::vector<std::string>{"c", "b"}));
}

TEST_F(EventStoreTest, PageStopsAtTheByteBudgetButReturnsAtLeastOneEvent) {
  ASSERT_TRUE(Append("s", {{1, std::string(600, 'x')}, {2, std::string(600, 'y')}}));
  ReadRequest r;
  r.max_bytes = 1000;
  EXPECT_EQ(ReadAll(r).size(), 1u);
  r.max_bytes = 10;
  EXPECT_EQ(ReadAll(r).size(), 1u);
}

TEST_F(EventStoreTest, AppendToADeletedStreamIsRefusedAndWritesNothing) {
  ASSERT_TRUE(kv_->Delete(StreamKey("s")));
  auto appended = events_->Append(Stream("s"), StreamKey("s"), stream_revision_, key_,
                                  std::vector<InputEvent>{{1, "m"}}, 1);
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().code, "ResourceNotFoundException");
  EXPECT_EQ(appended.error().message, "The specified log stream does not exist.");
  EXPECT_EQ(KeysUnder("logevents/"), 0u);
}

TEST_F(EventStoreTest, AppendRefusesEventsOutOfOrder) {
  auto appended = Append("s", {{2, "b"}, {1, "a"}});
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().code, "InvalidParameterException");
  EXPECT_EQ(KeysUnder("logevents/"), 0u);
}

TEST_F(EventStoreTest, MessagesAreSealedAndOpenOnlyWithTheGroupKeyUnderTheirOwnStoreKey) {
  ASSERT_TRUE(Append("s", {{1, "the-distinctive-message"}}));
  auto seg = kv_->Range("logevents/seg/");
  ASSERT_EQ(seg->kvs.size(), 1u);
  EXPECT_EQ(seg->kvs[0].value.find("the-distinctive-message"), std::string::npos);
  auto idx = kv_->Range("logevents/idx/");
  ASSERT_EQ(idx->kvs.size(), 1u);
  EXPECT_EQ(idx->kvs[0].value.find("distinctive"), std::string::npos);

  ReadRequest r;
  r.stream = Stream("s");
  auto wrong = events_->Read(r, DataKey(std::string(32, 'z')));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, "InternalFailure");

  // The same sealed bytes moved under another stream do not open there.
  ASSERT_TRUE(Append("t", {{5, "t"}}));
  auto t_seg = kv_->Range("logevents/seg/1/us-east-1/g:t:");
  ASSERT_EQ(t_seg->kvs.size(), 1u);
  ASSERT_TRUE(kv_->Put(t_seg->kvs[0].key, seg->kvs[0].value));
  r.stream = Stream("t");
  EXPECT_FALSE(events_->Read(r, key_));
}

TEST_F(EventStoreTest, ScanMergesStreamsAppliesTheMatchAndPaginates) {
  ASSERT_TRUE(Append("s", {{10, "ERROR one"}, {30, "ok"}, {50, "ERROR three"}}));
  ASSERT_TRUE(Append("t", {{20, "ERROR two"}, {40, "fine"}}));
  ASSERT_TRUE(Append("u", {{25, "ERROR other stream"}}));
  ScanRequest scan;
  scan.group = Group();
  scan.streams = {"s", "t"};
  scan.match = [](std::string_view m) { return m.find("ERROR") != std::string_view::npos; };
  scan.required = {"ERROR"};
  auto got = events_->Scan(scan, key_);
  ASSERT_TRUE(got);
  EXPECT_EQ(Messages(got->events), (std::vector<std::string>{"ERROR one", "ERROR two", "ERROR three"}));
  EXPECT_EQ(got->events[1].stream, "t");
  EXPECT_FALSE(got->more);

  scan.limit = 2;
  auto first = events_->Scan(scan, key_);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->events.size(), 2u);
  EXPECT_TRUE(first->more);
  scan.after = first->events.back().position;
  auto second = events_->Scan(scan, key_);
  EXPECT_EQ(Messages(second->events), (std::vector<std::string>{"ERROR three"}));

  ScanRequest prefix;
  prefix.group = Group();
  prefix.stream_prefix = "u";
  EXPECT_EQ(Messages(events_->Scan(prefix, key_)->events),
            (std::vector<std::string>{"ERROR other stream"}));
}

TEST_F(EventStoreTest, ScanSkipsSegmentsLackingARequiredSubstringWithoutMatchingTheirEvents) {
  ASSERT_TRUE(Append("s", {{1, "nothing here"}, {2, "nor here"}}));
  ASSERT_TRUE(Append("s", {{3, "needle"}}));
  int calls = 0;
  ScanRequest scan;
  scan.group = Group();
  scan.match = [&](std::string_view m) {
    ++calls;
    return m.find("needle") != std::string_view::npos;
  };
  scan.required = {"needle"};
  auto got = events_->Scan(scan, key_);
  EXPECT_EQ(Messages(got->events), (std::vector<std::string>{"needle"}));
  EXPECT_EQ(calls, 1);
}

TEST_F(EventStoreTest, EventIdsAreDigitsAndStableAcrossReadsAndStores) {
  ASSERT_TRUE(Append("s", {{10, "a"}, {20, "b"}}));
  auto once = ReadAll({});
  EventStore fresh(*kv_, ids_, clock_);  // loads the index from the store
  ReadRequest r;
  r.stream = Stream("s");
  auto again = fresh.Read(r, key_);
  ASSERT_TRUE(again);
  ASSERT_EQ(once.size(), 2u);
  ASSERT_EQ(again->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    std::string id = EventId(once[i].position);
    EXPECT_EQ(id, EventId((*again)[i].position));
    EXPECT_EQ(id.find_first_not_of("0123456789"), std::string::npos) << id;
  }
  EXPECT_NE(EventId(once[0].position), EventId(once[1].position));
}

TEST_F(EventStoreTest, SummaryComesFromTheIndex) {
  auto empty = events_->Summary(Stream("s"));
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->first_event_timestamp);
  ASSERT_TRUE(Append("s", {{20, "ab"}, {30, "c"}}, 100));
  ASSERT_TRUE(Append("s", {{10, "d"}}, 200));
  auto s = events_->Summary(Stream("s"));
  EXPECT_EQ(s->first_event_timestamp, 10);
  EXPECT_EQ(s->last_event_timestamp, 30);
  EXPECT_EQ(s->last_ingestion_time, 200);
  EXPECT_EQ(s->events, 3);
  EXPECT_EQ(s->stored_bytes, 4);
}

TEST_F(EventStoreTest, DeleteOpsRemoveEveryKeyOfTheStreamOnlyAndTheIndexForgetsIt) {
  ASSERT_TRUE(Append("s", {{1, "a"}}));
  ASSERT_TRUE(Append("s2", {{1, "b"}}));  // a longer name with the same beginning
  ASSERT_TRUE(events_->Summary(Stream("s")));
  store::Txn txn;
  txn.ops = events_->DeleteStreamOps(Stream("s"));
  ASSERT_TRUE(kv_->Commit(txn));
  EXPECT_EQ(KeysUnder("logevents/seg/1/us-east-1/g:s:"), 0u);
  EXPECT_EQ(KeysUnder("logevents/idx/1/us-east-1/g:s:"), 0u);
  EXPECT_EQ(KeysUnder("logevents/seg/1/us-east-1/g:s2:"), 1u);
  for (int i = 0; i < 200 && events_->Summary(Stream("s"))->events != 0; ++i) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(events_->Summary(Stream("s"))->events, 0);
  EXPECT_TRUE(ReadAll({}).empty());

  txn.ops = events_->DeleteGroupOps(Group());
  ASSERT_TRUE(kv_->Commit(txn));
  EXPECT_EQ(KeysUnder("logevents/"), 0u);
}

TEST_F(EventStoreTest, ExpireDeletesOldEventsFromTheStoreAndKeepsTheRestWithTheirIds) {
  ASSERT_TRUE(Append("s", {{10, "old1"}, {20, "old2"}}));
  ASSERT_TRUE(Append("s", {{30, "old3"}, {60, "new1"}, {70, "new2"}}));
  ASSERT_TRUE(Append("s", {{80, "new3"}}));
  auto before = ReadAll({});
  std::string new1_id = EventId(before[3].position);
  auto expired = events_->ExpireBefore(Group(), 50, key_);
  ASSERT_TRUE(expired);
  EXPECT_EQ(*expired, 3);
  EXPECT_EQ(KeysUnder("logevents/seg/"), 2u);
  auto after = ReadAll({});
  EXPECT_EQ(Messages(after), (std::vector<std::string>{"new1", "new2", "new3"}));
  EXPECT_EQ(EventId(after[0].position), new1_id);
  EXPECT_EQ(events_->Summary(Stream("s"))->first_event_timestamp, 60);

  // Read from the store alone, the rewritten segment holds only what was kept.
  EventStore fresh(*kv_, ids_, clock_);
  ReadRequest r;
  r.stream = Stream("s");
  EXPECT_EQ(Messages(*fresh.Read(r, key_)), (std::vector<std::string>{"new1", "new2", "new3"}));
  EXPECT_EQ(*events_->ExpireBefore(Group(), 50, key_), 0);
}

TEST_F(EventStoreTest, ConcurrentAppendsToOneStreamAllLand) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        EXPECT_TRUE(Append("s", {{t * 100 + i, "m" + std::to_string(t)}}));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(events_->Summary(Stream("s"))->events, 160);
  ReadRequest r;
  EXPECT_EQ(ReadAll(r).size(), 160u);
}

// Draws the same bytes for the first `repeat` fills, then counts up.
class RepeatingIds final : public Ids {
 public:
  void Fill(uint8_t* out, size_t n) override {
    uint8_t v = fills_++ < 2 ? 7 : static_cast<uint8_t>(fills_);
    for (size_t i = 0; i < n; ++i) out[i] = v;
  }

 private:
  int fills_ = 0;
};

TEST_F(EventStoreTest, ASegmentIdDrawnTwiceNeverOverwritesASegment) {
  RepeatingIds repeating;
  EventStore store(*kv_, repeating, clock_);
  std::vector<InputEvent> first{{1, "first"}}, second{{2, "second"}};
  ASSERT_TRUE(store.Append(Stream("s"), StreamKey("s"), stream_revision_, key_, first, 5));
  ASSERT_TRUE(store.Append(Stream("s"), StreamKey("s"), stream_revision_, key_, second, 5));
  ReadRequest r;
  r.stream = Stream("s");
  EXPECT_EQ(Messages(*store.Read(r, key_)), (std::vector<std::string>{"first", "second"}));
}

}  // namespace
}  // namespace berth::logs

namespace berth::logs {
namespace {

TEST_F(EventStoreTest, AReadThatWouldHoldTooManyOverlappingSegmentsOpenIsRefused) {
  // Ten batches spanning the same hour: merging them needs all ten open at once.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Append("s", {{0, std::string(1000, 'a')}, {3'600'000, "end"}}));
  }
  ReadRequest r;
  r.stream = Stream("s");
  r.max_open_bytes = 5000;
  auto refused = events_->Read(r, key_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "LimitExceededException");
  r.max_open_bytes = kMaxOpenBytes;
  EXPECT_EQ(events_->Read(r, key_)->size(), 20u);

  // Segments read one after another are never open together: no limit is reached.
  ASSERT_TRUE(Append("t", {{0, std::string(1000, 'b')}}));
  for (int i = 1; i < 10; ++i) ASSERT_TRUE(Append("t", {{i * 10, std::string(1000, 'b')}}));
  ScanRequest scan;
  scan.group = Group();
  scan.streams = {"t"};
  scan.max_open_bytes = 5000;
  auto all = events_->Scan(scan, key_);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->events.size(), 10u);
}

}  // namespace
}  // namespace berth::logs
