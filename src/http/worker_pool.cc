#include "http/worker_pool.h"

#include <algorithm>

namespace berth::http {

size_t DefaultWorkers() { return std::max(4u, 2 * std::thread::hardware_concurrency()); }

WorkerPool::WorkerPool(size_t threads) {
  threads = std::max<size_t>(threads, 1);
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Post(Job job) {
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    return;  // `job` is destroyed here, outside the lock
  }
  queue_.push_back(std::move(job));
  // A running thread takes the job when it finishes its own, or the watcher
  // within kWakeDelay: a wake-up per job would cost more than most jobs.
  bool wake = running_ == 0 && idle_ > 0;
  lock.unlock();
  if (wake) cv_.notify_one();
}

void WorkerPool::Stop() {
  std::deque<Job> dropped;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  dropped.clear();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void WorkerPool::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (stopping_) return;
    if (!queue_.empty()) {
      Job job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
      // Jobs posted while this one runs need a watcher.
      bool wake_watcher = idle_ > 0 && !watching_;
      lock.unlock();
      if (wake_watcher) cv_.notify_one();
      job();
      job = nullptr;  // what it holds goes before the next job
      lock.lock();
      --running_;
      continue;
    }
    ++idle_;
    if (running_ > 0 && !watching_) {
      // Jobs may wait behind a slow one: look again shortly.
      watching_ = true;
      cv_.wait_for(lock, kWakeDelay);
      watching_ = false;
    } else {
      cv_.wait(lock);
    }
    --idle_;
  }
}

}  // namespace berth::http
