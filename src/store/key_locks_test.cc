#include "store/key_locks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace berth::store {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

steady_clock::time_point In(milliseconds ms) { return steady_clock::now() + ms; }

TEST(KeyLocksTest, OneHolderOfAKeyAtATime) {
  KeyLocks locks;
  std::atomic<int> inside = 0, most = 0, total = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto guard = locks.Lock("secrets/a/r/secret/hot", In(milliseconds(10000)));
        ASSERT_TRUE(guard);
        int now = ++inside;
        if (now > most) most = now;
        std::this_thread::yield();  // widen the window another holder would show in
        ++total;
        --inside;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(most, 1);
  EXPECT_EQ(total, 1600);
}

TEST(KeyLocksTest, AnotherThreadWaitsUntilTheDeadlineThenGetsNothing) {
  KeyLocks locks;
  auto held = locks.Lock("k", In(milliseconds(1000)));
  ASSERT_TRUE(held);
  std::thread other([&] {
    auto start = steady_clock::now();
    auto guard = locks.Lock("k", In(milliseconds(30)));
    EXPECT_FALSE(guard);
    EXPECT_GE(steady_clock::now() - start, milliseconds(30));
  });
  other.join();
}

TEST(KeyLocksTest, ReleasedOnDestructionSoTheNextWriterGetsIt) {
  KeyLocks locks;
  {
    auto guard = locks.Lock("k", In(milliseconds(1000)));
    ASSERT_TRUE(guard);
  }
  std::thread other([&] { EXPECT_TRUE(locks.Lock("k", In(milliseconds(0)))); });
  other.join();
}

TEST(KeyLocksTest, KeysOnOtherStripesDoNotWait) {
  KeyLocks locks;
  std::string other_key = "b";
  while (KeyLocks::StripeOf(other_key) == KeyLocks::StripeOf("a")) other_key += "b";
  auto held = locks.Lock("a", In(milliseconds(1000)));
  std::thread other([&] { EXPECT_TRUE(locks.Lock(other_key, In(milliseconds(0)))); });
  other.join();
}

TEST(KeyLocksTest, NestedOnOneThreadDoesNotWaitEvenOnItsOwnStripe) {
  KeyLocks locks;
  auto outer = locks.Lock("a", In(milliseconds(1000)));
  ASSERT_TRUE(outer);
  auto nested = locks.Lock("a", In(milliseconds(0)));  // would self-deadlock if it locked
  EXPECT_TRUE(nested);
  // Another KeyLocks is a separate lock: held independently.
  KeyLocks others;
  auto separate = others.Lock("a", In(milliseconds(0)));
  EXPECT_TRUE(separate);
}

TEST(KeyLocksTest, TheStripeIsFreeAgainAfterTheOuterGuardOnly) {
  KeyLocks locks;
  {
    auto outer = locks.Lock("a", In(milliseconds(1000)));
    { auto nested = locks.Lock("a", In(milliseconds(0))); }
    std::thread other([&] { EXPECT_FALSE(locks.Lock("a", In(milliseconds(0)))); });
    other.join();
  }
  std::thread other([&] { EXPECT_TRUE(locks.Lock("a", In(milliseconds(0)))); });
  other.join();
}

TEST(KeyLocksTest, StripesAreFixedInNumber) {
  for (int i = 0; i < 10000; ++i) {
    EXPECT_LT(KeyLocks::StripeOf(std::to_string(i)), KeyLocks::kStripes);
  }
}

}  // namespace
}  // namespace berth::store
