#include "store/retry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace berth::store {
namespace {

// Reads `key` as a number, adds one and commits on the revision read;
// `interfere` runs between the read and the commit.
Result<std::optional<int>> Increment(Kv& kv, const std::string& key,
                                     const std::function<void()>& interfere = nullptr) {
  auto current = BERTH_TRY(kv.Get(key));
  int value = current ? std::stoi(current->value) : 0;
  if (interfere) interfere();
  Txn txn;
  txn.compares.push_back({key, current ? current->mod_revision : 0});
  txn.ops.push_back(Op::Put(key, std::to_string(value + 1)));
  if (!BERTH_TRY(kv.Commit(txn)).succeeded) return std::nullopt;
  return value + 1;
}

class RetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kv = SqliteKv::Open(dir_.File("store.db"));
    ASSERT_TRUE(kv.has_value()) << kv.error().message;
    kv_ = std::move(*kv);
  }
  test_support::TempDir dir_{"retry_test"};
  std::unique_ptr<SqliteKv> kv_;
};

TEST_F(RetryTest, LoserRereadsAndCommitsOnTopOfTheWinner) {
  int attempts = 0;
  auto result = UntilCommitted<int>([&] {
    ++attempts;
    // Twice another writer commits between our read and our commit.
    return Increment(*kv_, "n", [&] {
      if (attempts <= 2) ASSERT_TRUE(kv_->Put("n", std::to_string(10 * attempts)));
    });
  });
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(*result, 21);  // on top of the second interfering write, not lost under it
  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(kv_->Get("n")->value().value, "21");
}

TEST_F(RetryTest, ConcurrentWritersNeverLoseAnUpdate) {
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto result = UntilCommitted<int>([&] { return Increment(*kv_, "n"); },
                                          {.deadline = std::chrono::seconds(30)});
        EXPECT_TRUE(result.has_value()) << result.error().message;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(kv_->Get("n")->value().value, std::to_string(kThreads * kEach));
}

TEST_F(RetryTest, GivesUpWithThrottlingOnceTheDeadlinePasses) {
  int attempts = 0;
  auto result = UntilCommitted<int>(
      [&]() -> Result<std::optional<int>> {
        ++attempts;
        return std::nullopt;  // always loses
      },
      {.deadline = std::chrono::milliseconds(30), .what = "widget"});
  ASSERT_FALSE(result.has_value());
  EXPECT_TRUE(IsContention(result.error()));
  // A retryable client error, never InternalFailure: the request was fine.
  EXPECT_EQ(result.error().code, "ThrottlingException");
  EXPECT_EQ(result.error().http_status, 400);
  EXPECT_EQ(result.error().message, "Rate exceeded: too many concurrent writes of this widget");
  EXPECT_GT(attempts, 1);
}

TEST_F(RetryTest, AnErrorStopsAtOnce) {
  int attempts = 0;
  auto result = UntilCommitted<int>([&]() -> Result<std::optional<int>> {
    ++attempts;
    return Fail("ResourceNotFoundException", "gone");
  });
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, "ResourceNotFoundException");
  EXPECT_FALSE(IsContention(result.error()));
  EXPECT_EQ(attempts, 1);
}

TEST_F(RetryTest, AtLeastOneAttemptRunsEvenWithoutTime) {
  int attempts = 0;
  auto result = UntilCommitted<int>([&]() -> Result<std::optional<int>> { return ++attempts; },
                                    {.deadline = std::chrono::milliseconds(0)});
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(attempts, 1);
}

TEST_F(RetryTest, LockedWritersOfOneKeyNeverLoseToEachOther) {
  KeyLocks locks;
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> lost = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto result = UntilCommitted<int>(locks, "n", [&]() -> Result<std::optional<int>> {
          auto r = BERTH_TRY(Increment(*kv_, "n"));
          if (!r) ++lost;
          return r;
        });
        EXPECT_TRUE(result.has_value()) << result.error().message;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(kv_->Get("n")->value().value, std::to_string(kThreads * kEach));
  EXPECT_EQ(lost, 0);  // serialized: no attempt ever lost its compare
}

TEST_F(RetryTest, LockedWriterStillRetriesAWriteFromElsewhere) {
  KeyLocks locks;
  int attempts = 0;
  auto result = UntilCommitted<int>(locks, "n", [&] {
    ++attempts;
    // Another process (no lock of ours) commits between our read and our commit.
    return Increment(*kv_, "n", [&] {
      if (attempts == 1) {
        ASSERT_TRUE(kv_->Put("n", "5"));
      }
    });
  });
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(*result, 6);
  EXPECT_EQ(attempts, 2);
}

TEST_F(RetryTest, WaitingForTheLockPastTheDeadlineIsThrottling) {
  KeyLocks locks;
  auto held = locks.Lock("n", std::chrono::steady_clock::now() + std::chrono::seconds(1));
  ASSERT_TRUE(held);
  int attempts = 0;
  auto start = std::chrono::steady_clock::now();
  Result<int> result;
  std::thread other([&] {  // another thread: this one's nested lock would not wait
    result = UntilCommitted<int>(locks, "n",
                                 [&]() -> Result<std::optional<int>> {
                                   ++attempts;
                                   return 1;
                                 },
                                 {.deadline = std::chrono::milliseconds(50), .what = "secret"});
  });
  other.join();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, "ThrottlingException");
  EXPECT_EQ(result.error().http_status, 400);
  EXPECT_EQ(result.error().message, "Rate exceeded: too many concurrent writes of this secret");
  EXPECT_EQ(attempts, 0);
}

TEST_F(RetryTest, ANestedLockedWriteOfTheSameLocksRunsUnderTheOuterLock) {
  KeyLocks locks;
  auto result = UntilCommitted<int>(locks, "outer", [&]() -> Result<std::optional<int>> {
    // Any key, even one on another stripe: it must not wait (and so never deadlock).
    return UntilCommitted<int>(locks, "inner", [&] { return Increment(*kv_, "inner"); },
                               {.deadline = std::chrono::milliseconds(0)});
  });
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(*result, 1);
}

}  // namespace
}  // namespace berth::store
