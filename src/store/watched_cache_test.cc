#include "store/watched_cache.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace berth::store {
namespace {

// Forwards to a real store but keeps watches to itself: changes reach them only
// when the test says, as a backend whose watch broke and missed them (etcd
// reconnecting) would; Reconnect delivers kReset.
class DisconnectedKv final : public Kv {
 public:
  explicit DisconnectedKv(Kv& inner) : inner_(inner) {}
  Result<std::optional<KeyValue>> Get(std::string_view key) override { return inner_.Get(key); }
  Result<RangeResult> Range(std::string_view prefix, std::string_view start_after,
                            size_t limit) override {
    return inner_.Range(prefix, start_after, limit);
  }
  Result<TxnResult> Commit(const Txn& txn) override { return inner_.Commit(txn); }
  Result<int64_t> GrantLease(std::chrono::seconds ttl) override { return inner_.GrantLease(ttl); }
  Result<std::chrono::seconds> KeepAlive(int64_t lease) override { return inner_.KeepAlive(lease); }
  Status Revoke(int64_t lease) override { return inner_.Revoke(lease); }
  using Kv::Watch;
  std::unique_ptr<WatchHandle> Watch(std::string_view, int64_t,
                                     std::function<void(const WatchEvent&)> on_event) override {
    callbacks_.push_back(std::move(on_event));
    return std::make_unique<WatchHandle>();
  }
  void Reconnect(int64_t revision) {
    WatchEvent reset;
    reset.type = WatchEvent::Type::kReset;
    reset.kv.mod_revision = revision;
    for (auto& callback : callbacks_) callback(reset);
  }

 private:
  Kv& inner_;
  std::vector<std::function<void(const WatchEvent&)>> callbacks_;
};

class WatchedCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kv = SqliteKv::Open(dir_.File("store.db"));
    ASSERT_TRUE(kv.has_value()) << kv.error().message;
    kv_ = std::move(*kv);
  }

  // Reads `key` through `cache` as a loader does: a hit, or the store's value
  // (kept unless something was invalidated meanwhile).
  static std::string Read(WatchedCache<std::string>& cache, Kv& kv, const std::string& key) {
    if (auto hit = cache.Find(key)) return *hit;
    uint64_t generation = cache.Generation();
    auto stored = kv.Get(key);
    EXPECT_TRUE(stored.has_value());
    if (!stored || !*stored) return "<absent>";
    auto value = std::make_shared<const std::string>((*stored)->value);
    cache.Put(key, (*stored)->mod_revision, generation, value);
    return *value;
  }

  // Blocks until the store's dispatcher delivered everything committed so far
  // to watchers registered before this call (they are called in order).
  void Settle() {
    std::mutex mu;
    std::condition_variable cv;
    bool seen = false;
    auto handle = kv_->Watch("settle/", [&](const WatchEvent&) {
      std::lock_guard lock(mu);
      seen = true;
      cv.notify_all();
    });
    ASSERT_TRUE(kv_->Put("settle/x", "1"));
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return seen; }));
  }

  test_support::TempDir dir_{"watched_cache_test"};
  std::unique_ptr<SqliteKv> kv_;
};

TEST_F(WatchedCacheTest, LoadsOnDemandAndDropsOnWatchEvent) {
  WatchedCache<std::string> cache(*kv_, "k/");
  ASSERT_TRUE(kv_->Put("k/a", "1"));
  Settle();  // else the put's own event may drop what Read kept
  EXPECT_EQ(Read(cache, *kv_, "k/a"), "1");
  int64_t revision = 0;
  ASSERT_NE(cache.Find("k/a", revision), nullptr);
  EXPECT_EQ(revision, 1);
  auto second = kv_->Put("k/a", "2");
  ASSERT_TRUE(second);
  Settle();
  EXPECT_EQ(cache.Find("k/a"), nullptr);
  EXPECT_EQ(Read(cache, *kv_, "k/a"), "2");
  EXPECT_NE(cache.FindAt("k/a", *second), nullptr);
  EXPECT_EQ(cache.FindAt("k/a", 1), nullptr);
}

TEST_F(WatchedCacheTest, KeyOfMapsChangesToTheValueTheyConcern) {
  WatchedCache<std::string> cache(*kv_, "k/", [](std::string_view key) {
    return std::string(key.substr(0, key.rfind(':')));  // "k/a:v1" belongs to "k/a"
  });
  ASSERT_TRUE(kv_->Put("k/a", "1"));
  EXPECT_EQ(Read(cache, *kv_, "k/a"), "1");
  ASSERT_TRUE(kv_->Put("k/a:v1", "x"));
  Settle();
  EXPECT_EQ(cache.Find("k/a"), nullptr);
}

TEST_F(WatchedCacheTest, LoadThatRacedAChangeIsNotKept) {
  WatchedCache<std::string> cache(*kv_, "k/");
  uint64_t generation = cache.Generation();
  cache.Drop("k/other");  // a change seen between the read and the Put
  cache.Put("k/a", 1, generation, std::make_shared<const std::string>("stale"));
  EXPECT_EQ(cache.Find("k/a"), nullptr);
}

TEST_F(WatchedCacheTest, WriterBypassesTheKeyAndDropsItAfter) {
  WatchedCache<std::string> cache(*kv_, "k/");
  ASSERT_TRUE(kv_->Put("k/a", "1"));
  EXPECT_EQ(Read(cache, *kv_, "k/a"), "1");
  {
    auto writing = cache.Write("k/a");
    EXPECT_EQ(cache.Find("k/a"), nullptr);
    ASSERT_TRUE(kv_->Put("k/a", "2"));
    cache.Put("k/a", 1, cache.Generation(), std::make_shared<const std::string>("1"));
    EXPECT_EQ(cache.Find("k/a"), nullptr);
  }
  // Seen at once, before any watch event.
  EXPECT_EQ(Read(cache, *kv_, "k/a"), "2");
}

TEST_F(WatchedCacheTest, ResetDropsEverythingAndReadsReloadFromTheStore) {
  DisconnectedKv disconnected(*kv_);
  WatchedCache<std::string> cache(disconnected, "k/");
  ASSERT_TRUE(kv_->Put("k/a", "1"));
  ASSERT_TRUE(kv_->Put("k/b", "1"));
  EXPECT_EQ(Read(cache, disconnected, "k/a"), "1");
  EXPECT_EQ(Read(cache, disconnected, "k/b"), "1");
  // Changed while the watch was broken: the cache cannot know.
  ASSERT_TRUE(kv_->Put("k/a", "2"));
  ASSERT_TRUE(kv_->Delete("k/b"));
  EXPECT_EQ(Read(cache, disconnected, "k/a"), "1");
  uint64_t before_reset = cache.Generation();

  disconnected.Reconnect(4);
  EXPECT_EQ(cache.Find("k/a"), nullptr);
  EXPECT_EQ(cache.Find("k/b"), nullptr);
  EXPECT_EQ(Read(cache, disconnected, "k/a"), "2");
  EXPECT_EQ(Read(cache, disconnected, "k/b"), "<absent>");
  // A load that started before the reset is not kept.
  cache.Put("k/c", 1, before_reset, std::make_shared<const std::string>("stale"));
  EXPECT_EQ(cache.Find("k/c"), nullptr);
}

TEST_F(WatchedCacheTest, UnwatchedCacheIsClearedByItsOwner) {
  WatchedCache<std::string> cache;
  cache.Put("a", 1, cache.Generation(), std::make_shared<const std::string>("1"));
  cache.Put("b", 1, cache.Generation(), std::make_shared<const std::string>("1"));
  ASSERT_NE(cache.Find("a"), nullptr);
  cache.Clear();
  EXPECT_EQ(cache.Find("a"), nullptr);
  EXPECT_EQ(cache.Find("b"), nullptr);
}

TEST_F(WatchedCacheTest, CapacityBoundsTheEntries) {
  WatchedCache<std::string> cache(2);
  for (std::string key : {"a", "b", "c"}) {
    cache.Put(key, 1, cache.Generation(), std::make_shared<const std::string>(key));
  }
  int kept = 0;
  for (std::string key : {"a", "b", "c"}) kept += cache.Find(key) != nullptr;
  EXPECT_EQ(kept, 2);
  EXPECT_NE(cache.Find("c"), nullptr);
}

}  // namespace
}  // namespace berth::store
