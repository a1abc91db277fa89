#include "agent/engine/report_queue.h"

#include <algorithm>

#include "common/log.h"

namespace berth::agent::engine {

ReportQueue::ReportQueue(Reporter& reporter, int attempts, std::chrono::milliseconds backoff)
    : reporter_(reporter), attempts_(std::max(1, attempts)), backoff_(backoff) {
  thread_ = std::thread([this] { Run(); });
}

ReportQueue::~ReportQueue() { Stop(); }

void ReportQueue::Submit(spec::TaskStateChange change, std::function<void()> acknowledged) {
  std::lock_guard lock(mu_);
  queue_.push_back({std::move(change), std::move(acknowledged)});
  cv_.notify_all();
}

void ReportQueue::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void ReportQueue::Run() {
  constexpr std::chrono::milliseconds kMaxBackoff{30'000};
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Item item = std::move(queue_.front());
    queue_.pop_front();
    std::chrono::milliseconds wait = backoff_;
    for (int attempt = 1;; ++attempt) {
      lock.unlock();
      Status sent = reporter_.Submit(item.change);
      if (sent && item.acknowledged) item.acknowledged();
      lock.lock();
      if (sent) break;
      if (attempt >= attempts_) {
        log::Error("giving up on a task state change",
                   {{"task", item.change.task_arn},
                    {"status", item.change.status},
                    {"error", sent.error().code + ": " + sent.error().message}});
        break;
      }
      log::Warn("task state change not accepted; trying again",
                {{"task", item.change.task_arn},
                 {"status", item.change.status},
                 {"error", sent.error().code + ": " + sent.error().message}});
      if (cv_.wait_for(lock, wait, [&] { return stopping_; })) return;
      wait = std::min(wait * 2, kMaxBackoff);
    }
  }
}

}  // namespace berth::agent::engine
