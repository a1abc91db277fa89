#include "store/sqlite/sqlite_kv.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "testing/temp_dir.h"

namespace berth::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr const char* kOtherProcessEnv = "BERTH_SQLITE_KV_TEST_OTHER_PROCESS";

using test_support::TempDir;

class SqliteKvTest : public ::testing::Test {
 protected:
  void SetUp() override { kv_ = OpenStore(); }

  std::unique_ptr<SqliteKv> OpenStore() {
    auto kv = SqliteKv::Open(path_);
    EXPECT_TRUE(kv.has_value()) << kv.error().message;
    return kv ? std::move(*kv) : nullptr;
  }

  int64_t MustPut(const std::string& key, const std::string& value) {
    auto revision = kv_->Put(key, value);
    EXPECT_TRUE(revision.has_value()) << revision.error().message;
    return revision.value_or(-1);
  }

  std::optional<KeyValue> MustGet(std::string_view key) {
    auto kv = kv_->Get(key);
    EXPECT_TRUE(kv.has_value()) << kv.error().message;
    return kv.value_or(std::nullopt);
  }

  RangeResult MustRange(std::string_view prefix, std::string_view start_after = {},
                        size_t limit = 0) {
    auto range = kv_->Range(prefix, start_after, limit);
    EXPECT_TRUE(range.has_value()) << range.error().message;
    return range.value_or(RangeResult{});
  }

  TxnResult MustCommit(const Txn& txn) {
    auto result = kv_->Commit(txn);
    EXPECT_TRUE(result.has_value()) << result.error().message;
    return result.value_or(TxnResult{});
  }

  static std::vector<std::string> Keys(const RangeResult& range) {
    std::vector<std::string> keys;
    for (const KeyValue& kv : range.kvs) keys.push_back(kv.key);
    return keys;
  }

  TempDir dir_{"sqlite_kv_test"};
  std::string path_ = dir_.File("store.db");
  std::unique_ptr<SqliteKv> kv_;
};

// Collects watch events; Wait blocks until `n` arrived (or a generous timeout).
class EventLog {
 public:
  std::function<void(const WatchEvent&)> Callback() {
    return [this](const WatchEvent& event) {
      std::lock_guard lock(mu_);
      events_.push_back(event);
      cv_.notify_all();
    };
  }
  bool Wait(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return events_.size() >= n; });
  }
  std::vector<WatchEvent> Events() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<WatchEvent> events_;
};

TEST_F(SqliteKvTest, GetPutDelete) {
  EXPECT_EQ(MustGet("a"), std::nullopt);
  MustPut("a", "1");
  auto got = MustGet("a");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->key, "a");
  EXPECT_EQ(got->value, "1");
  MustPut("a", "2");
  EXPECT_EQ(MustGet("a")->value, "2");
  ASSERT_TRUE(kv_->Delete("a").has_value());
  EXPECT_EQ(MustGet("a"), std::nullopt);
}

TEST_F(SqliteKvTest, EmptyAndBinaryValuesRoundTrip) {
  MustPut("empty", "");
  std::string binary("\0\x01\xff\x00z", 5);
  MustPut("binary", binary);
  ASSERT_TRUE(MustGet("empty").has_value());
  EXPECT_EQ(MustGet("empty")->value, "");
  EXPECT_EQ(MustGet("binary")->value, binary);
}

TEST_F(SqliteKvTest, RevisionsTrackCreateAndModify) {
  EXPECT_EQ(MustRange("").revision, 0);
  int64_t r1 = MustPut("a", "1");
  EXPECT_EQ(r1, 1);
  int64_t r2 = MustPut("b", "1");
  EXPECT_EQ(r2, 2);
  int64_t r3 = MustPut("a", "2");
  EXPECT_EQ(r3, 3);
  auto a = MustGet("a");
  EXPECT_EQ(a->create_revision, 1);
  EXPECT_EQ(a->mod_revision, 3);
  auto b = MustGet("b");
  EXPECT_EQ(b->create_revision, 2);
  EXPECT_EQ(b->mod_revision, 2);

  // One revision for the whole transaction, shared by all its writes.
  Txn txn;
  txn.ops = {Op::Put("a", "3"), Op::Put("c", "1"), Op::Delete("b")};
  TxnResult result = MustCommit(txn);
  EXPECT_TRUE(result.succeeded);
  EXPECT_EQ(result.revision, 4);
  EXPECT_EQ(MustGet("a")->mod_revision, 4);
  EXPECT_EQ(MustGet("c")->create_revision, 4);
  EXPECT_EQ(MustGet("c")->mod_revision, 4);
  EXPECT_EQ(MustRange("").revision, 4);

  // A key deleted and put again is created anew.
  ASSERT_TRUE(kv_->Delete("a").has_value());
  int64_t r6 = MustPut("a", "4");
  EXPECT_EQ(r6, 6);
  EXPECT_EQ(MustGet("a")->create_revision, 6);
}

TEST_F(SqliteKvTest, TxnThatChangesNothingTakesNoRevision) {
  MustPut("a", "1");
  auto deleted = kv_->Delete("absent");
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(*deleted, 1);
  TxnResult empty = MustCommit(Txn{});
  EXPECT_TRUE(empty.succeeded);
  EXPECT_EQ(empty.revision, 1);
  EXPECT_EQ(MustPut("b", "1"), 2);
}

TEST_F(SqliteKvTest, RangeByPrefixInKeyOrder) {
  for (const char* key : {"app/b", "app/a", "apq", "ap", "app/c/d", "b"}) MustPut(key, "v");
  RangeResult range = MustRange("app/");
  EXPECT_THAT(Keys(range), ElementsAre("app/a", "app/b", "app/c/d"));
  EXPECT_FALSE(range.more);
  EXPECT_EQ(range.revision, 6);
  EXPECT_EQ(range.kvs[0].value, "v");
  EXPECT_EQ(range.kvs[0].create_revision, 2);
  EXPECT_THAT(Keys(MustRange("")), ElementsAre("ap", "app/a", "app/b", "app/c/d", "apq", "b"));
  EXPECT_THAT(Keys(MustRange("zzz")), IsEmpty());
}

TEST_F(SqliteKvTest, RangePaginates) {
  for (const char* key : {"p/1", "p/2", "p/3", "p/4", "p/5", "q"}) MustPut(key, "v");
  RangeResult page1 = MustRange("p/", {}, 2);
  EXPECT_THAT(Keys(page1), ElementsAre("p/1", "p/2"));
  EXPECT_TRUE(page1.more);
  RangeResult page2 = MustRange("p/", page1.kvs.back().key, 2);
  EXPECT_THAT(Keys(page2), ElementsAre("p/3", "p/4"));
  EXPECT_TRUE(page2.more);
  RangeResult page3 = MustRange("p/", page2.kvs.back().key, 2);
  EXPECT_THAT(Keys(page3), ElementsAre("p/5"));
  EXPECT_FALSE(page3.more);

  // A page that ends exactly at the last key has no more.
  RangeResult exact = MustRange("p/", "p/3", 2);
  EXPECT_THAT(Keys(exact), ElementsAre("p/4", "p/5"));
  EXPECT_FALSE(exact.more);
  // start_after before the prefix starts from the first key under it.
  EXPECT_THAT(Keys(MustRange("p/", "a", 1)), ElementsAre("p/1"));
  // start_after past the prefix's keys finds nothing.
  EXPECT_THAT(Keys(MustRange("p/", "p0")), IsEmpty());
}

TEST_F(SqliteKvTest, RangeHandlesArbitraryBytesInKeys) {
  const std::string ff("\xff", 1);
  const std::string keys[] = {
      std::string("a\0b", 3),
      std::string("a\0", 2),
      "a" + ff,
      "a" + ff + ff,
      "a" + ff + "x",
      "b",
      ff,
      ff + ff,
      ff + std::string("\0", 1),
      "a%",
      "a_",
  };
  for (const std::string& key : keys) MustPut(key, "v");

  // "a" + 0xff: the upper bound cannot be formed by incrementing 0xff.
  EXPECT_THAT(Keys(MustRange("a" + ff)), ElementsAre("a" + ff, "a" + ff + "x", "a" + ff + ff));
  EXPECT_THAT(Keys(MustRange(ff)), ElementsAre(ff, ff + std::string("\0", 1), ff + ff));
  // NUL bytes are ordinary bytes; % and _ are not wildcards.
  EXPECT_THAT(Keys(MustRange(std::string("a\0", 2))),
              ElementsAre(std::string("a\0", 2), std::string("a\0b", 3)));
  EXPECT_THAT(Keys(MustRange("a%")), ElementsAre("a%"));
  EXPECT_THAT(Keys(MustRange("a_")), ElementsAre("a_"));
  // Byte order is unsigned: 0xff sorts after every ASCII byte.
  RangeResult all = MustRange("a");
  EXPECT_THAT(Keys(all), ElementsAre(std::string("a\0", 2), std::string("a\0b", 3), "a%", "a_",
                                     "a" + ff, "a" + ff + "x", "a" + ff + ff));
  EXPECT_EQ(MustGet(std::string("a\0b", 3))->key, std::string("a\0b", 3));
}

TEST_F(SqliteKvTest, FailedCompareWritesNothing) {
  int64_t rev = MustPut("a", "1");
  MustPut("b", "1");
  Txn txn;
  txn.compares = {{"a", rev}, {"b", 999}};  // the second one is wrong
  txn.ops = {Op::Put("a", "2"), Op::Put("new", "x"), Op::Delete("b")};
  TxnResult result = MustCommit(txn);
  EXPECT_FALSE(result.succeeded);
  EXPECT_EQ(result.revision, 2);  // the current one
  EXPECT_EQ(MustGet("a")->value, "1");
  EXPECT_EQ(MustGet("new"), std::nullopt);
  EXPECT_TRUE(MustGet("b").has_value());
  EXPECT_EQ(MustPut("c", "1"), 3);  // the failed txn took no revision
}

TEST_F(SqliteKvTest, SucceededTxnAppliesEveryOp) {
  int64_t rev = MustPut("a", "1");
  MustPut("b", "1");
  Txn txn;
  txn.compares = {{"a", rev}, {"absent", 0}};
  txn.ops = {Op::Put("a", "2"), Op::Put("new", "x"), Op::Delete("b")};
  TxnResult result = MustCommit(txn);
  EXPECT_TRUE(result.succeeded);
  EXPECT_EQ(result.revision, 3);
  EXPECT_EQ(MustGet("a")->value, "2");
  EXPECT_EQ(MustGet("new")->value, "x");
  EXPECT_EQ(MustGet("b"), std::nullopt);
}

TEST_F(SqliteKvTest, CompareOnStaleRevisionFails) {
  int64_t first = MustPut("a", "1");
  MustPut("a", "2");
  Txn txn;
  txn.compares = {{"a", first}};
  txn.ops = {Op::Put("a", "lost update")};
  EXPECT_FALSE(MustCommit(txn).succeeded);
  EXPECT_EQ(MustGet("a")->value, "2");
}

TEST_F(SqliteKvTest, CompareZeroMeansKeyMustNotExist) {
  Txn create;
  create.compares = {{"a", 0}};
  create.ops = {Op::Put("a", "first")};
  EXPECT_TRUE(MustCommit(create).succeeded);
  Txn again = create;
  again.ops = {Op::Put("a", "second")};
  EXPECT_FALSE(MustCommit(again).succeeded);
  EXPECT_EQ(MustGet("a")->value, "first");

  // Deleted keys no longer exist.
  ASSERT_TRUE(kv_->Delete("a").has_value());
  EXPECT_TRUE(MustCommit(again).succeeded);
  EXPECT_EQ(MustGet("a")->value, "second");
}

TEST_F(SqliteKvTest, DeletePrefixRemovesOnlyKeysUnderIt) {
  const std::string ff("\xff", 1);
  for (const std::string& key : {std::string("t/1"), std::string("t/2"), "t/" + ff,
                                 std::string("t"), std::string("t0"), std::string("u")}) {
    MustPut(key, "v");
  }
  Txn txn;
  txn.ops = {Op::DeletePrefix("t/")};
  TxnResult result = MustCommit(txn);
  EXPECT_TRUE(result.succeeded);
  EXPECT_EQ(result.revision, 7);  // one revision for all the deletes
  EXPECT_THAT(Keys(MustRange("")), ElementsAre("t", "t0", "u"));

  // An all-0xff prefix has no upper bound to compute.
  MustPut(ff + ff, "v");
  MustPut(ff + ff + "x", "v");
  MustPut(ff, "v");
  txn.ops = {Op::DeletePrefix(ff + ff)};
  EXPECT_TRUE(MustCommit(txn).succeeded);
  EXPECT_THAT(Keys(MustRange("")), ElementsAre("t", "t0", "u", ff));

  // The empty prefix is every key.
  txn.ops = {Op::DeletePrefix("")};
  EXPECT_TRUE(MustCommit(txn).succeeded);
  EXPECT_THAT(Keys(MustRange("")), IsEmpty());
}

TEST_F(SqliteKvTest, WatchDeliversChangesUnderPrefixInOrder) {
  MustPut("w/before", "v");  // committed before the watch: not delivered
  EventLog log;
  auto handle = kv_->Watch("w/", log.Callback());
  MustPut("w/a", "1");
  MustPut("other", "1");
  MustPut("w/a", "2");
  Txn txn;
  txn.ops = {Op::Put("w/b", "1"), Op::Delete("w/a"), Op::Delete("w/absent")};
  MustCommit(txn);
  txn.ops = {Op::DeletePrefix("w/")};
  MustCommit(txn);

  ASSERT_TRUE(log.Wait(6));
  std::vector<WatchEvent> events = log.Events();
  ASSERT_EQ(events.size(), 6u);
  struct Expected {
    WatchEvent::Type type;
    std::string key, value;
    int64_t create, mod;
  };
  const Expected expected[] = {
      {WatchEvent::Type::kPut, "w/a", "1", 2, 2},
      {WatchEvent::Type::kPut, "w/a", "2", 2, 4},
      {WatchEvent::Type::kPut, "w/b", "1", 5, 5},
      {WatchEvent::Type::kDelete, "w/a", "", 0, 5},
      {WatchEvent::Type::kDelete, "w/b", "", 0, 6},
      {WatchEvent::Type::kDelete, "w/before", "", 0, 6},
  };
  for (size_t i = 0; i < events.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(events[i].type, expected[i].type);
    EXPECT_EQ(events[i].kv.key, expected[i].key);
    EXPECT_EQ(events[i].kv.value, expected[i].value);
    EXPECT_EQ(events[i].kv.create_revision, expected[i].create);
    EXPECT_EQ(events[i].kv.mod_revision, expected[i].mod);
  }
}

// "type key value create mod" of each event, for compact comparisons.
std::vector<std::string> Describe(const std::vector<WatchEvent>& events) {
  std::vector<std::string> out;
  for (const WatchEvent& e : events) {
    const char* type = e.type == WatchEvent::Type::kPut      ? "put"
                       : e.type == WatchEvent::Type::kDelete ? "delete"
                                                             : "reset";
    out.push_back(fmt::format("{} {} {} {} {}", type, e.kv.key, e.kv.value, e.kv.create_revision,
                              e.kv.mod_revision));
  }
  return out;
}

TEST_F(SqliteKvTest, WatchFromRevisionReplaysHistoryThenLiveChanges) {
  MustPut("w/a", "1");  // 1
  MustPut("x", "1");    // 2
  MustPut("w/b", "1");  // 3
  Txn txn;
  txn.ops = {Op::Delete("w/a"), Op::Put("w/b", "2")};
  MustCommit(txn);  // 4
  EventLog log;
  auto handle = kv_->Watch("w/", 1, log.Callback());
  MustPut("w/c", "1");  // 5: live
  ASSERT_TRUE(log.Wait(4));
  EXPECT_THAT(Describe(log.Events()),
              ElementsAre("put w/b 1 3 3", "delete w/a  0 4", "put w/b 2 3 4", "put w/c 1 5 5"));
}

TEST_F(SqliteKvTest, WatchFromZeroReplaysEverythingAfterReopen) {
  MustPut("w/a", "1");
  MustPut("w/a", "2");
  kv_.reset();
  kv_ = OpenStore();
  EventLog log;
  auto handle = kv_->Watch("w/", 0, log.Callback());
  MustPut("w/a", "3");
  ASSERT_TRUE(log.Wait(3));
  EXPECT_THAT(Describe(log.Events()),
              ElementsAre("put w/a 1 1 1", "put w/a 2 1 2", "put w/a 3 1 3"));
}

TEST_F(SqliteKvTest, WatchFromCompactedRevisionStartsWithReset) {
  kv_.reset();
  auto small = SqliteKv::Open(path_, {.history_revisions = 2});
  ASSERT_TRUE(small.has_value());
  kv_ = std::move(*small);
  for (int i = 1; i <= 5; ++i) MustPut("w/a", std::to_string(i));  // history: 4 and 5

  EventLog compacted;
  auto reset_handle = kv_->Watch("w/", 2, compacted.Callback());
  EventLog held;
  auto held_handle = kv_->Watch("w/", 3, held.Callback());
  MustPut("w/a", "6");
  ASSERT_TRUE(compacted.Wait(2));
  EXPECT_THAT(Describe(compacted.Events()), ElementsAre("reset   0 5", "put w/a 6 1 6"));
  ASSERT_TRUE(held.Wait(3));
  EXPECT_THAT(Describe(held.Events()),
              ElementsAre("put w/a 4 1 4", "put w/a 5 1 5", "put w/a 6 1 6"));
}

TEST_F(SqliteKvTest, WatchFromTheFutureSkipsChangesUpToIt) {
  EventLog log;
  auto handle = kv_->Watch("w/", 2, log.Callback());
  MustPut("w/a", "1");
  MustPut("w/a", "2");
  MustPut("w/a", "3");
  ASSERT_TRUE(log.Wait(1));
  EXPECT_THAT(Describe(log.Events()), ElementsAre("put w/a 3 1 3"));
}

TEST_F(SqliteKvTest, WatchStopsWhenHandleDestroyed) {
  EventLog stopped;
  EventLog sentinel;
  auto handle = kv_->Watch("k", stopped.Callback());
  auto sentinel_handle = kv_->Watch("k", sentinel.Callback());
  MustPut("k1", "v");
  ASSERT_TRUE(stopped.Wait(1));
  handle.reset();
  MustPut("k2", "v");
  // Events reach watchers in order, so once the sentinel has k2 the destroyed
  // watch would have had it too.
  ASSERT_TRUE(sentinel.Wait(2));
  EXPECT_EQ(stopped.Events().size(), 1u);
}

TEST_F(SqliteKvTest, NoCallbackRunsAfterHandleDestructorReturns) {
  std::atomic<bool> entered{false};
  std::atomic<bool> destroyed{false};
  std::atomic<int> late_calls{0};
  std::atomic<int> calls{0};
  auto handle = kv_->Watch("k", [&](const WatchEvent&) {
    calls++;
    if (destroyed.load()) late_calls++;
    entered = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (destroyed.load()) late_calls++;  // still running after the destructor returned
  });
  for (int i = 0; i < 5; ++i) MustPut("k" + std::to_string(i), "v");
  while (!entered.load()) std::this_thread::yield();
  handle.reset();  // a callback is in progress: this waits for it
  destroyed = true;
  EventLog sentinel;
  auto sentinel_handle = kv_->Watch("k", sentinel.Callback());
  MustPut("k9", "v");
  ASSERT_TRUE(sentinel.Wait(1));
  EXPECT_EQ(late_calls.load(), 0);
  EXPECT_LT(calls.load(), 5);
}

TEST_F(SqliteKvTest, HandleMayBeDestroyedInsideItsCallback) {
  std::unique_ptr<WatchHandle> handle;
  std::mutex mu;
  int calls = 0;
  handle = kv_->Watch("k", [&](const WatchEvent&) {
    std::lock_guard lock(mu);
    ++calls;
    handle.reset();
  });
  EventLog sentinel;
  auto sentinel_handle = kv_->Watch("k", sentinel.Callback());
  MustPut("k1", "v");
  MustPut("k2", "v");
  ASSERT_TRUE(sentinel.Wait(2));
  std::lock_guard lock(mu);
  EXPECT_EQ(calls, 1);
}

TEST_F(SqliteKvTest, ThrowingCallbackDoesNotStopDelivery) {
  EventLog log;
  auto thrower = kv_->Watch("k", [](const WatchEvent&) { throw std::runtime_error("boom"); });
  auto handle = kv_->Watch("k", log.Callback());
  MustPut("k1", "v");
  MustPut("k2", "v");
  ASSERT_TRUE(log.Wait(2));
  EXPECT_EQ(log.Events()[1].kv.key, "k2");
}

TEST_F(SqliteKvTest, HandleMayOutliveStore) {
  EventLog log;
  auto handle = kv_->Watch("k", log.Callback());
  MustPut("k", "v");
  kv_.reset();  // delivers what was committed, then stops
  EXPECT_EQ(log.Events().size(), 1u);
  handle.reset();
}

TEST_F(SqliteKvTest, ConcurrentCompareAndSwapNeverLosesAnUpdate) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 25;
  MustPut("counter", "0");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        for (;;) {
          auto current = kv_->Get("counter");
          if (!current || !current->has_value()) {
            failures++;
            return;
          }
          Txn txn;
          txn.compares = {{"counter", (*current)->mod_revision}};
          txn.ops = {Op::Put("counter", std::to_string(std::stoi((*current)->value) + 1))};
          auto result = kv_->Commit(txn);
          if (!result) {
            failures++;
            return;
          }
          if (result->succeeded) break;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  auto counter = MustGet("counter");
  EXPECT_EQ(counter->value, std::to_string(kThreads * kIncrements));
  EXPECT_EQ(counter->mod_revision, 1 + kThreads * kIncrements);  // one revision per success
}

TEST_F(SqliteKvTest, ReopenKeepsDataAndRevision) {
  MustPut("a", "1");
  MustPut("b", "2");
  ASSERT_TRUE(kv_->Delete("b").has_value());
  kv_.reset();
  kv_ = OpenStore();
  ASSERT_NE(kv_, nullptr);
  EXPECT_EQ(MustGet("a")->value, "1");
  EXPECT_EQ(MustGet("b"), std::nullopt);
  EXPECT_EQ(MustRange("").revision, 3);
  EXPECT_EQ(MustPut("c", "3"), 4);
}

TEST_F(SqliteKvTest, OpenFailsWithInternalFailure) {
  auto missing_dir = SqliteKv::Open(dir_.File("no/such/dir/store.db"));
  ASSERT_FALSE(missing_dir.has_value());
  EXPECT_EQ(missing_dir.error().code, "InternalFailure");
  EXPECT_EQ(missing_dir.error().http_status, 500);
  EXPECT_THAT(missing_dir.error().message, ::testing::HasSubstr("sqlite"));

  std::string garbage_path = dir_.File("garbage.db");
  {
    std::ofstream out(garbage_path, std::ios::binary);
    out << std::string(4096, 'S');
  }
  auto garbage = SqliteKv::Open(garbage_path);
  ASSERT_FALSE(garbage.has_value());
  EXPECT_EQ(garbage.error().code, "InternalFailure");
  EXPECT_EQ(garbage.error().http_status, 500);
  EXPECT_THAT(garbage.error().message, ::testing::HasSubstr("not a database"));
  EXPECT_THAT(garbage.error().message, ::testing::Not(::testing::HasSubstr("SSSS")));
}

// The store owns its file: another process cannot open it meanwhile (after
// the 5 s busy timeout, its Open fails). The other process must be a fresh
// one: a forked child inherits SQLite's in-process lock state, so this test
// re-runs the test binary for OtherProcessOpen below.
TEST_F(SqliteKvTest, SecondProcessCannotOpenStore) {
  MustPut("a", "1");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setenv(kOtherProcessEnv, path_.c_str(), 1);
    int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, STDOUT_FILENO);  // keep its gtest report out of ours
    execl("/proc/self/exe", "store_test", "--gtest_filter=SqliteKvOtherProcess.Open",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  std::ifstream in(path_ + ".verdict");
  std::string verdict((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(verdict, "InternalFailure 500 locked");
  EXPECT_EQ(MustGet("a")->value, "1");  // this process's store is unaffected
}

// Runs only in the process SecondProcessCannotOpenStore starts.
TEST(SqliteKvOtherProcess, Open) {
  const char* path = getenv(kOtherProcessEnv);
  if (path == nullptr) GTEST_SKIP() << "helper of SqliteKvTest.SecondProcessCannotOpenStore";
  auto kv = SqliteKv::Open(path);
  std::ofstream out(std::string(path) + ".verdict");
  if (kv) {
    out << "opened";
  } else {
    bool locked = kv.error().message.find("locked") != std::string::npos;
    out << kv.error().code << " " << kv.error().http_status << " "
        << (locked ? "locked" : kv.error().message);
  }
}

// A commit that returned survives the process being killed right after.
TEST_F(SqliteKvTest, AcknowledgedCommitsSurviveSigkill) {
  kv_.reset();
  constexpr int64_t kWrites = 100000;  // far more than get done before the kill
  constexpr int64_t kAcksBeforeKill = 40;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    auto kv = SqliteKv::Open(path_);
    if (!kv) _exit(2);
    for (int64_t i = 0; i < kWrites; ++i) {
      if (!(*kv)->Put("durable/" + std::to_string(i), std::to_string(i))) _exit(3);
      if (write(fds[1], &i, sizeof(i)) != sizeof(i)) _exit(4);
    }
    _exit(0);
  }
  close(fds[1]);
  std::vector<int64_t> acked;
  auto read_ack = [&] {
    int64_t index;
    size_t got = 0;
    while (got < sizeof(index)) {
      ssize_t n = read(fds[0], reinterpret_cast<char*>(&index) + got, sizeof(index) - got);
      if (n <= 0) return false;
      got += static_cast<size_t>(n);
    }
    acked.push_back(index);
    return true;
  };
  while (acked.size() < kAcksBeforeKill && read_ack()) {
  }
  ASSERT_EQ(acked.size(), static_cast<size_t>(kAcksBeforeKill));
  ASSERT_EQ(kill(child, SIGKILL), 0);
  while (read_ack()) {  // acks written before the kill count too
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child finished before it was killed";

  kv_ = OpenStore();
  ASSERT_NE(kv_, nullptr);
  for (int64_t i : acked) {
    auto kv = MustGet("durable/" + std::to_string(i));
    ASSERT_TRUE(kv.has_value()) << "acknowledged write " << i << " lost";
    EXPECT_EQ(kv->value, std::to_string(i));
  }
  // Writes are sequential, so the acks are exactly 0..n-1.
  EXPECT_EQ(acked.back(), static_cast<int64_t>(acked.size()) - 1);
}

}  // namespace
}  // namespace berth::store

namespace berth::store {
namespace {

// Group commit. Free-running threads: what holds however the queue groups them.
TEST_F(SqliteKvTest, ConcurrentCommitsAllSucceedWithConsecutiveRevisionsAndShareCommits) {
  constexpr int kThreads = 16;
  constexpr int kPuts = 25;
  const int64_t commits_before = kv_->DurableCommits();
  std::vector<std::vector<int64_t>> revisions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPuts; ++i) {
        auto revision = kv_->Put(fmt::format("c/{}/{}", t, i), fmt::format("v{}.{}", t, i));
        revisions[t].push_back(revision.value_or(-1));
      }
    });
  }
  for (auto& thread : threads) thread.join();

  std::vector<int64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPuts; ++i) {
      SCOPED_TRACE(fmt::format("c/{}/{}", t, i));
      auto kv = MustGet(fmt::format("c/{}/{}", t, i));
      ASSERT_TRUE(kv.has_value());
      EXPECT_EQ(kv->value, fmt::format("v{}.{}", t, i));
      EXPECT_EQ(kv->mod_revision, revisions[t][i]);
      all.push_back(revisions[t][i]);
    }
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], static_cast<int64_t>(i) + 1);
  EXPECT_EQ(MustRange("").revision, kThreads * kPuts);
  // 400 commits on a real disk from 16 threads: groups form, so fewer fsyncs.
  EXPECT_LT(kv_->DurableCommits() - commits_before, kThreads * kPuts);
}

TEST_F(SqliteKvTest, WatchersSeeEveryConcurrentCommitOnceInRevisionOrder) {
  constexpr int kThreads = 8;
  constexpr int kPuts = 25;
  EventLog log;
  auto handle = kv_->Watch("c/", log.Callback());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPuts; ++i) EXPECT_TRUE(kv_->Put(fmt::format("c/{}/{}", t, i), "v"));
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(log.Wait(kThreads * kPuts));
  std::vector<WatchEvent> events = log.Events();
  ASSERT_EQ(events.size(), static_cast<size_t>(kThreads * kPuts));
  std::set<std::string> keys;
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].kv.mod_revision, static_cast<int64_t>(i) + 1);
    keys.insert(events[i].kv.key);
  }
  EXPECT_EQ(keys.size(), events.size());
}

// Makes groups on purpose: the hook holds a first commit's leader while the
// Txns under test queue behind it, in order; they then form one group.
class SqliteGroupCommitTest : public SqliteKvTest {
 protected:
  void SetUp() override {
    SqliteKvOptions options;
    options.before_group_for_test = [this](size_t txns) { OnGroup(txns); };
    auto kv = SqliteKv::Open(path_, options);
    ASSERT_TRUE(kv.has_value()) << kv.error().message;
    kv_ = std::move(*kv);
  }

  // Commits `txns` as one group, in order, each from a thread of its own;
  // their results. The revision before them is `leader_revision_`.
  std::vector<Result<TxnResult>> CommitAsOneGroup(const std::vector<Txn>& txns) {
    {
      std::lock_guard lock(mu_);
      holding_ = true;
    }
    std::thread leader([&] { leader_revision_ = kv_->Put("leader", "v").value_or(-1); });
    WaitFor([&] { return groups_.size() == 1; });
    std::vector<Result<TxnResult>> results(txns.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < txns.size(); ++i) {
      threads.emplace_back([&, i] { results[i] = kv_->Commit(txns[i]); });
      WaitFor([&] { return kv_->QueuedCommits() == i + 2; });
    }
    {
      std::lock_guard lock(mu_);
      holding_ = false;
    }
    cv_.notify_all();
    leader.join();
    for (auto& thread : threads) thread.join();
    EXPECT_THAT(Groups(), ElementsAre(size_t{1}, txns.size()));
    return results;
  }

  std::vector<size_t> Groups() {
    std::lock_guard lock(mu_);
    return groups_;
  }

  static Txn PutTxn(std::string key, int64_t compare_revision = -1, int64_t lease = 0) {
    Txn txn;
    if (compare_revision >= 0) txn.compares = {{key, compare_revision}};
    txn.ops = {Op::Put(key, "v", lease)};
    return txn;
  }

  int64_t leader_revision_ = 0;

 private:
  void OnGroup(size_t txns) {
    std::unique_lock lock(mu_);
    groups_.push_back(txns);
    cv_.notify_all();
    cv_.wait(lock, [&] { return !holding_; });
  }

  void WaitFor(const std::function<bool()>& condition) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!condition()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "group never formed";
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool holding_ = false;
  std::vector<size_t> groups_;  // each group's size, in order
};

TEST_F(SqliteGroupCommitTest, GroupSharesOneCommitAndGivesEachTxnItsRevision) {
  EventLog log;
  auto handle = kv_->Watch("g/", log.Callback());
  const int64_t commits_before = kv_->DurableCommits();
  auto results = CommitAsOneGroup({PutTxn("g/a"), PutTxn("g/b"), PutTxn("g/c")});
  EXPECT_EQ(kv_->DurableCommits() - commits_before, 2);  // the leader's, then the group's
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].has_value()) << results[i].error().message;
    EXPECT_TRUE(results[i]->succeeded);
    EXPECT_EQ(results[i]->revision, leader_revision_ + 1 + static_cast<int64_t>(i));
  }
  ASSERT_TRUE(log.Wait(3));
  EXPECT_THAT(Describe(log.Events()),
              ElementsAre("put g/a v 2 2", "put g/b v 3 3", "put g/c v 4 4"));
}

TEST_F(SqliteGroupCommitTest, FailedCompareRollsBackOnlyItsTxn) {
  auto results = CommitAsOneGroup({PutTxn("g/a"), PutTxn("g/b", 999), PutTxn("g/c")});
  ASSERT_TRUE(results[0] && results[1] && results[2]);
  EXPECT_TRUE(results[0]->succeeded);
  EXPECT_EQ(results[0]->revision, leader_revision_ + 1);
  EXPECT_FALSE(results[1]->succeeded);
  EXPECT_EQ(results[1]->revision, leader_revision_ + 1);  // the current one, as it saw it
  EXPECT_TRUE(results[2]->succeeded);
  EXPECT_EQ(results[2]->revision, leader_revision_ + 2);
  EXPECT_EQ(MustGet("g/a")->mod_revision, leader_revision_ + 1);
  EXPECT_FALSE(MustGet("g/b").has_value());
  EXPECT_EQ(MustGet("g/c")->mod_revision, leader_revision_ + 2);
  EXPECT_EQ(MustRange("").revision, leader_revision_ + 2);
}

TEST_F(SqliteGroupCommitTest, LaterTxnSeesEarlierTxnsPutInTheSameGroup) {
  const int64_t first = 2;  // the leader's put is revision 1
  Txn needs_a = PutTxn("g/b");
  needs_a.compares = {{"g/a", first}};
  auto results = CommitAsOneGroup({PutTxn("g/a", 0), needs_a, PutTxn("g/a", 0)});
  ASSERT_EQ(leader_revision_, 1);
  ASSERT_TRUE(results[0] && results[1] && results[2]);
  EXPECT_TRUE(results[0]->succeeded);
  EXPECT_EQ(results[0]->revision, first);
  EXPECT_TRUE(results[1]->succeeded);  // its compare saw the put before it
  EXPECT_EQ(results[1]->revision, first + 1);
  EXPECT_FALSE(results[2]->succeeded);  // "must not exist": the first one created it
  EXPECT_EQ(MustGet("g/b")->mod_revision, first + 1);
}

TEST_F(SqliteGroupCommitTest, LeaseNotFoundFailsOnlyItsTxn) {
  auto results =
      CommitAsOneGroup({PutTxn("g/a"), PutTxn("g/b", -1, /*lease=*/12345), PutTxn("g/c")});
  ASSERT_TRUE(results[0].has_value());
  EXPECT_EQ(results[0]->revision, leader_revision_ + 1);
  ASSERT_FALSE(results[1].has_value());
  EXPECT_EQ(results[1].error().code, kLeaseNotFoundCode);
  ASSERT_TRUE(results[2].has_value());
  EXPECT_EQ(results[2]->revision, leader_revision_ + 2);
  EXPECT_TRUE(MustGet("g/a").has_value());
  EXPECT_FALSE(MustGet("g/b").has_value());
  EXPECT_TRUE(MustGet("g/c").has_value());
}

// History keeps no copy of a value above kMaxHistoryValueBytes.
TEST_F(SqliteKvTest, LargeValueIsNotCopiedIntoHistoryAndReplaysFromTheLiveRow) {
  const std::string large(kMaxHistoryValueBytes + 1, 'L');
  const std::string small(kMaxHistoryValueBytes, 's');
  MustPut("h/small", small);  // 1
  MustPut("h/large", large);  // 2
  kv_.reset();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT sum(length(value)) FROM history", -1, &stmt, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(stmt, 0), static_cast<int64_t>(small.size()));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
  kv_ = OpenStore();
  EventLog log;
  auto handle = kv_->Watch("h/", 0, log.Callback());
  ASSERT_TRUE(log.Wait(2));
  std::vector<WatchEvent> events = log.Events();
  EXPECT_EQ(events[0].kv.value, small);
  EXPECT_EQ(events[1].type, WatchEvent::Type::kPut);
  EXPECT_EQ(events[1].kv.key, "h/large");
  EXPECT_EQ(events[1].kv.value, large);
  EXPECT_EQ(events[1].kv.mod_revision, 2);
}

TEST_F(SqliteKvTest, ReplayOfALargeValueSinceChangedIsAReset) {
  MustPut("h/large", std::string(kMaxHistoryValueBytes + 1, 'L'));  // 1
  MustPut("h/large", "now small");                                  // 2
  EventLog log;
  auto handle = kv_->Watch("h/", 0, log.Callback());
  MustPut("h/next", "v");  // 3: live
  ASSERT_TRUE(log.Wait(2));
  EXPECT_THAT(Describe(log.Events()), ElementsAre("reset   0 2", "put h/next v 3 3"));
}

TEST_F(SqliteKvTest, LargeValuePutTwiceInOneTxnReplaysBothValues) {
  const std::string first(kMaxHistoryValueBytes + 1, '1');
  const std::string second(kMaxHistoryValueBytes + 1, '2');
  Txn txn;
  txn.ops = {Op::Put("h/k", first), Op::Put("h/k", second)};
  MustCommit(txn);
  EventLog log;
  auto handle = kv_->Watch("h/", 0, log.Callback());
  ASSERT_TRUE(log.Wait(2));
  std::vector<WatchEvent> events = log.Events();
  EXPECT_EQ(events[0].kv.value, first);  // copied: the live row holds the second
  EXPECT_EQ(events[1].kv.value, second);
}

// Leases on a FakeClock: the test moves time and sweeps; the sweeper thread
// itself runs rarely (an hour) except where a test checks it.
class SqliteLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override { kv_ = Open(std::chrono::hours(1)); }

  std::unique_ptr<SqliteKv> Open(std::chrono::milliseconds sweep_interval) {
    auto kv = SqliteKv::Open(path_, {.clock = &clock_, .sweep_interval = sweep_interval});
    EXPECT_TRUE(kv.has_value()) << kv.error().message;
    return kv ? std::move(*kv) : nullptr;
  }

  int64_t MustGrant(std::chrono::seconds ttl) {
    auto lease = kv_->GrantLease(ttl);
    EXPECT_TRUE(lease.has_value()) << lease.error().message;
    return lease.value_or(0);
  }

  void MustPutOn(int64_t lease, const std::string& key) {
    Txn txn;
    txn.ops.push_back(Op::Put(key, "v", lease));
    auto result = kv_->Commit(txn);
    ASSERT_TRUE(result.has_value()) << result.error().message;
  }

  bool Has(const std::string& key) { return kv_->Get(key).value().has_value(); }

  FakeClock clock_{TimePoint(std::chrono::seconds(1'800'000'000))};
  test_support::TempDir dir_{"sqlite_lease_test"};
  std::string path_ = dir_.File("store.db");
  std::unique_ptr<SqliteKv> kv_;
};

TEST_F(SqliteLeaseTest, ExpiredLeaseDeletesItsKeysInOneRevisionAndWatchersSeeIt) {
  int64_t lease = MustGrant(std::chrono::seconds(10));
  EXPECT_GT(lease, 0);
  MustPutOn(lease, "agents/b");
  MustPutOn(lease, "agents/a");
  ASSERT_TRUE(kv_->Put("agents/static", "v"));  // no lease: stays
  EXPECT_EQ(kv_->Get("agents/a").value()->lease, lease);
  EventLog log;
  auto handle = kv_->Watch("agents/", log.Callback());

  clock_.Advance(std::chrono::seconds(9));
  ASSERT_TRUE(kv_->SweepExpiredLeases());
  EXPECT_TRUE(Has("agents/a"));
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(kv_->SweepExpiredLeases());
  EXPECT_FALSE(Has("agents/a"));
  EXPECT_FALSE(Has("agents/b"));
  EXPECT_TRUE(Has("agents/static"));
  ASSERT_TRUE(log.Wait(2));
  EXPECT_THAT(Describe(log.Events()), ElementsAre("delete agents/a  0 4", "delete agents/b  0 4"));
  EXPECT_EQ(kv_->KeepAlive(lease).error().code, "LeaseNotFound");
}

TEST_F(SqliteLeaseTest, KeepAliveRestartsTheTtl) {
  int64_t lease = MustGrant(std::chrono::seconds(10));
  MustPutOn(lease, "leader");
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(std::chrono::seconds(8));
    auto ttl = kv_->KeepAlive(lease);
    ASSERT_TRUE(ttl.has_value()) << ttl.error().message;
    EXPECT_EQ(*ttl, std::chrono::seconds(10));
    ASSERT_TRUE(kv_->SweepExpiredLeases());
    EXPECT_TRUE(Has("leader"));
  }
  clock_.Advance(std::chrono::seconds(11));
  ASSERT_TRUE(kv_->SweepExpiredLeases());
  EXPECT_FALSE(Has("leader"));
}

TEST_F(SqliteLeaseTest, RevokeDeletesKeysAtOnce) {
  int64_t lease = MustGrant(std::chrono::seconds(60));
  int64_t other = MustGrant(std::chrono::seconds(60));
  EXPECT_NE(lease, other);
  MustPutOn(lease, "a");
  MustPutOn(other, "b");
  EventLog log;
  auto handle = kv_->Watch("", log.Callback());
  ASSERT_TRUE(kv_->Revoke(lease));
  EXPECT_FALSE(Has("a"));
  EXPECT_TRUE(Has("b"));
  ASSERT_TRUE(log.Wait(1));
  EXPECT_THAT(Describe(log.Events()), ElementsAre("delete a  0 3"));
  EXPECT_EQ(kv_->Revoke(lease).error().code, "LeaseNotFound");
  EXPECT_EQ(kv_->Revoke(lease).error().http_status, 404);
}

TEST_F(SqliteLeaseTest, PutOnDeadLeaseFailsAndWritesNothing) {
  int64_t lease = MustGrant(std::chrono::seconds(60));
  ASSERT_TRUE(kv_->Revoke(lease));
  Txn txn;
  txn.ops = {Op::Put("x", "v"), Op::Put("y", "v", lease)};
  auto result = kv_->Commit(txn);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, "LeaseNotFound");
  EXPECT_FALSE(Has("x"));
  EXPECT_EQ(kv_->GrantLease(std::chrono::seconds(0)).error().code, "InvalidParameterException");
}

TEST_F(SqliteLeaseTest, PutWithoutLeaseDetachesTheKey) {
  int64_t lease = MustGrant(std::chrono::seconds(60));
  MustPutOn(lease, "k");
  ASSERT_TRUE(kv_->Put("k", "kept"));
  EXPECT_EQ(kv_->Get("k").value()->lease, 0);
  ASSERT_TRUE(kv_->Revoke(lease));
  EXPECT_TRUE(Has("k"));
}

TEST_F(SqliteLeaseTest, LeasesSurviveReopenWithAFreshTtl) {
  int64_t lease = MustGrant(std::chrono::seconds(10));
  MustPutOn(lease, "k");
  kv_.reset();
  clock_.Advance(std::chrono::seconds(60));  // down longer than the TTL
  kv_ = Open(std::chrono::hours(1));
  ASSERT_TRUE(kv_->SweepExpiredLeases());
  EXPECT_TRUE(Has("k"));
  EXPECT_GT(MustGrant(std::chrono::seconds(10)), lease);  // ids are never reused
  clock_.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(kv_->SweepExpiredLeases());
  EXPECT_FALSE(Has("k"));
}

TEST_F(SqliteLeaseTest, SweeperThreadExpiresLeases) {
  kv_.reset();
  kv_ = Open(std::chrono::milliseconds(5));
  int64_t lease = MustGrant(std::chrono::seconds(1));
  MustPutOn(lease, "k");
  EventLog log;
  auto handle = kv_->Watch("k", log.Callback());
  clock_.Advance(std::chrono::seconds(2));
  ASSERT_TRUE(log.Wait(1));
  EXPECT_EQ(log.Events()[0].type, WatchEvent::Type::kDelete);
  EXPECT_FALSE(Has("k"));
}

}  // namespace
}  // namespace berth::store

namespace berth::store {
namespace {

// Commits never checkpoint: the checkpointer thread copies the WAL into the database file once
// it passes checkpoint_pages, so the file grows while the WAL is reused.
TEST(SqliteCheckpointTest, TheCheckpointerCopiesTheWalIntoTheDatabaseFile) {
  test_support::TempDir dir("sqlite_checkpoint_test");
  SqliteKvOptions options;
  options.checkpoint_pages = 8;
  auto kv = SqliteKv::Open(dir.File("store.db"), options);
  ASSERT_TRUE(kv.has_value());
  auto db_size = [&] { return std::filesystem::file_size(dir.File("store.db")); };
  const auto empty = db_size();
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE((*kv)->Put("key/" + std::to_string(i), std::string(8192, 'v')));
  }
  for (int i = 0; i < 400 && db_size() < empty + 40 * 8192; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(db_size(), empty + 40 * 8192);
  EXPECT_EQ((*kv)->Range("key/")->kvs.size(), 40u);
}

}  // namespace
}  // namespace berth::store
