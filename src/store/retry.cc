#include "store/retry.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <thread>

namespace berth::store {

Error ContentionError(std::string_view what) {
  return Error{std::string(kContentionCode),
               fmt::format("Rate exceeded: too many concurrent writes of this {}", what), 400};
}

bool IsContention(const Error& error) { return error.code == kContentionCode; }

namespace internal {

bool Backoff(std::chrono::steady_clock::time_point deadline, std::chrono::microseconds& backoff,
             const RetryOptions& options) {
  thread_local std::minstd_rand random(std::random_device{}());
  auto half = backoff / 2;
  std::uniform_int_distribution<int64_t> jitter(half.count(), std::max(backoff, half).count());
  auto sleep = std::chrono::microseconds(jitter(random));
  if (std::chrono::steady_clock::now() + sleep >= deadline) return false;
  std::this_thread::sleep_for(sleep);
  backoff = std::min(backoff * 2, options.max_backoff);
  return true;
}

}  // namespace internal
}  // namespace berth::store
