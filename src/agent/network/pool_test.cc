#include "agent/network/pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace berth::agent::network {
namespace {

using namespace std::chrono_literals;

// Counts what the pool makes and destroys; entries are named n1, n2, ...
struct Maker {
  std::atomic<int> made{0};
  std::atomic<int> failures_left{0};
  std::mutex mu;
  std::set<std::string> destroyed;

  NetworkPool::Make MakeFn() {
    return [this]() -> Result<PooledNetwork> {
      if (failures_left > 0) {
        --failures_left;
        return Fail("NetworkSetupError", "no namespace today", 500);
      }
      std::string n = "n" + std::to_string(++made);
      return PooledNetwork{n, "v" + n, "10.0.0." + std::to_string(made.load())};
    };
  }
  NetworkPool::Destroy DestroyFn() {
    return [this](const PooledNetwork& entry) {
      std::lock_guard lock(mu);
      destroyed.insert(entry.netns);
    };
  }
};

TEST(NetworkPoolTest, MakesNothingBeforeStart) {
  Maker maker;
  NetworkPool pool(2, maker.MakeFn(), maker.DestroyFn());
  EXPECT_FALSE(pool.Take());
  EXPECT_FALSE(pool.WaitReady(1, 50ms));
  EXPECT_EQ(maker.made, 0);
}

TEST(NetworkPoolTest, FillsToItsSizeHandsOutOldestFirstAndRefills) {
  Maker maker;
  NetworkPool pool(2, maker.MakeFn(), maker.DestroyFn(), 1s, 0ms);
  pool.Start();
  pool.Start();  // idempotent
  ASSERT_TRUE(pool.WaitReady(2, 10s));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(maker.made, 2);  // never more than its size
  auto first = pool.Take();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->netns, "n1");
  EXPECT_EQ(first->veth, "vn1");
  EXPECT_EQ(first->ipv4, "10.0.0.1");
  ASSERT_TRUE(pool.WaitReady(2, 10s));
  EXPECT_EQ(maker.made, 3);
  EXPECT_EQ(pool.Take()->netns, "n2");
}

TEST(NetworkPoolTest, DestroysWhatNoOneTookWhenItGoes) {
  Maker maker;
  {
    NetworkPool pool(3, maker.MakeFn(), maker.DestroyFn(), 1s, 10s);
    pool.Start();
    ASSERT_TRUE(pool.WaitReady(3, 10s));
    EXPECT_EQ(pool.Take()->netns, "n1");
  }
  // n1 is its taker's; the quiet period (10 s) kept the pool from making a fourth.
  EXPECT_EQ(maker.made, 3);
  EXPECT_EQ(maker.destroyed, (std::set<std::string>{"n2", "n3"}));
}

TEST(NetworkPoolTest, WaitsForQuietBeforeRefillingUnlessEmpty) {
  Maker maker;
  NetworkPool pool(2, maker.MakeFn(), maker.DestroyFn(), 1s, 10s);
  pool.Start();
  ASSERT_TRUE(pool.WaitReady(2, 10s));
  ASSERT_TRUE(pool.Take());
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(maker.made, 2);  // a task just started: not now
  ASSERT_TRUE(pool.Take());  // empty: refilled at once
  ASSERT_TRUE(pool.WaitReady(1, 10s));
  EXPECT_GE(maker.made, 3);
}

TEST(NetworkPoolTest, RetriesAFailedMake) {
  Maker maker;
  maker.failures_left = 2;
  NetworkPool pool(1, maker.MakeFn(), maker.DestroyFn(), 10ms, 0ms);
  pool.Start();
  ASSERT_TRUE(pool.WaitReady(1, 10s));
  EXPECT_EQ(maker.failures_left, 0);
  EXPECT_EQ(pool.Take()->netns, "n1");
}

}  // namespace
}  // namespace berth::agent::network
