#include "http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace berth::http {
namespace {

using namespace std::chrono_literals;

TEST(WorkerPool, RunsJobsPostedFromAnyThread) {
  WorkerPool pool(2);
  std::atomic<int> ran{0};
  std::promise<void> all;
  for (int i = 0; i < 100; ++i) {
    pool.Post([&] {
      if (++ran == 100) all.set_value();
    });
  }
  ASSERT_EQ(all.get_future().wait_for(5s), std::future_status::ready);
}

TEST(WorkerPool, AJobBehindASlowOneStartsWithoutWaitingForIt) {
  WorkerPool pool(2);
  std::atomic<bool> slow_done{false};
  std::promise<void> slow_started;
  pool.Post([&] {
    slow_started.set_value();
    std::this_thread::sleep_for(2s);
    slow_done = true;
  });
  slow_started.get_future().wait();
  std::promise<bool> fast;
  pool.Post([&] { fast.set_value(slow_done.load()); });
  auto result = fast.get_future();
  ASSERT_EQ(result.wait_for(1s), std::future_status::ready);
  EXPECT_FALSE(result.get());
}

TEST(WorkerPool, StopDropsQueuedJobsAndWaitsForRunningOnes) {
  WorkerPool pool(1);
  std::atomic<bool> first_done{false};
  std::atomic<bool> second_ran{false};
  std::promise<void> started;
  pool.Post([&] {
    started.set_value();
    std::this_thread::sleep_for(200ms);
    first_done = true;
  });
  pool.Post([&] { second_ran = true; });
  started.get_future().wait();
  pool.Stop();
  EXPECT_TRUE(first_done);
  EXPECT_FALSE(second_ran);
  pool.Post([&] { second_ran = true; });  // after Stop: dropped
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(second_ran);
}

}  // namespace
}  // namespace berth::http
