#include "store/key_locks.h"

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

namespace berth::store {

namespace {
// The KeyLocks of which this thread holds a stripe (one stripe of each at most).
thread_local std::vector<const KeyLocks*> t_holding;

bool Holding(const KeyLocks* locks) {
  return std::find(t_holding.begin(), t_holding.end(), locks) != t_holding.end();
}
}  // namespace

KeyLocks::Guard::Guard(Guard&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      mutex_(std::exchange(other.mutex_, nullptr)),
      acquired_(std::exchange(other.acquired_, false)) {}

KeyLocks::Guard::~Guard() {
  if (owner_ == nullptr) return;
  std::erase(t_holding, owner_);
  mutex_->unlock();
}

size_t KeyLocks::StripeOf(std::string_view key) {
  return std::hash<std::string_view>{}(key) % kStripes;
}

KeyLocks::Guard KeyLocks::Lock(std::string_view key,
                               std::chrono::steady_clock::time_point deadline) {
  if (Holding(this)) return Guard(nullptr, nullptr, true);  // nested: the outer one holds
  std::timed_mutex& mutex = stripes_[StripeOf(key)];
  if (!mutex.try_lock_until(deadline)) return Guard(nullptr, nullptr, false);
  t_holding.push_back(this);
  return Guard(this, &mutex, true);
}

}  // namespace berth::store
