#include "agent/network/pool.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "common/log.h"

namespace berth::agent::network {

NetworkPool::NetworkPool(size_t size, Make make, Destroy destroy, std::chrono::milliseconds retry,
                         std::chrono::milliseconds quiet)
    : size_(size),
      make_(std::move(make)),
      destroy_(std::move(destroy)),
      retry_(retry),
      quiet_(quiet) {}

NetworkPool::~NetworkPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  for (const auto& entry : ready_) destroy_(entry);
}

void NetworkPool::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_ || size_ == 0) return;
  thread_ = std::thread([this] { Fill(); });
}

std::optional<PooledNetwork> NetworkPool::Take() {
  std::lock_guard lock(mu_);
  if (ready_.empty()) return std::nullopt;
  PooledNetwork entry = std::move(ready_.front());
  ready_.pop_front();
  last_take_ = std::chrono::steady_clock::now();
  cv_.notify_all();
  return entry;
}

bool NetworkPool::WaitReady(size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return ready_.size() >= count; });
}

void NetworkPool::Fill() {
  // Linux's nice value is the thread's, and the processes it starts inherit it.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
  auto wait = retry_;
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || ready_.size() < size_; });
    if (stopping_) return;
    // Tasks are starting: wait until they are done (or the pool ran dry).
    while (!stopping_ && !ready_.empty() &&
           std::chrono::steady_clock::now() - last_take_ < quiet_) {
      cv_.wait_until(lock, last_take_ + quiet_);
    }
    if (stopping_) return;
    lock.unlock();
    Result<PooledNetwork> made = make_();
    lock.lock();
    if (made && stopping_) {
      lock.unlock();
      destroy_(*made);
      return;
    }
    if (made) {
      ready_.push_back(std::move(*made));
      wait = retry_;
      cv_.notify_all();
      continue;
    }
    log::Warn("cannot make a pooled task network", {{"error", made.error().message}});
    cv_.wait_for(lock, wait, [&] { return stopping_; });
    wait = std::min<std::chrono::milliseconds>(wait * 2, std::chrono::seconds(30));
  }
}

}  // namespace berth::agent::network
