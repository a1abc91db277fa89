// Sends state changes to the Reporter on a thread of its own, in the order they were queued
// (so a task's changes arrive in order), trying each again with a doubling backoff when the
// submission fails.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "agent/engine/engine.h"
#include "agent/spec/task_spec.h"

namespace berth::agent::engine {

class ReportQueue {
 public:
  // `reporter` outlives the queue. A change is tried `attempts` times; the first retry waits
  // `backoff`, each further one twice as long, at most 30 s.
  ReportQueue(Reporter& reporter, int attempts, std::chrono::milliseconds backoff);
  ~ReportQueue();  // Stop()

  // Queues `change`; `acknowledged` (may be empty) runs on the queue's thread once the
  // Reporter accepted it.
  void Submit(spec::TaskStateChange change, std::function<void()> acknowledged = {});

  // Stops the thread; what is still queued is dropped (task records say what to send again).
  void Stop();

 private:
  struct Item {
    spec::TaskStateChange change;
    std::function<void()> acknowledged;
  };
  void Run();

  Reporter& reporter_;
  const int attempts_;
  const std::chrono::milliseconds backoff_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::agent::engine
