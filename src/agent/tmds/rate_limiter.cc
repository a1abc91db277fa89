#include "agent/tmds/rate_limiter.h"

#include <algorithm>

namespace berth::agent::tmds {

double RateLimiter::Refilled(const Bucket& bucket, Clock::time_point now) const {
  double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
  return std::min(burst_, bucket.tokens + std::max(0.0, elapsed) * rate_);
}

bool RateLimiter::Allow(std::string_view source, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(std::string(source));
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxSources) {
      std::erase_if(buckets_,
                    [&](const auto& entry) { return Refilled(entry.second, now) >= burst_; });
    }
    it = buckets_.emplace(std::string(source), Bucket{burst_, now}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens = Refilled(bucket, now);
  bucket.updated = std::max(bucket.updated, now);
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

}  // namespace berth::agent::tmds
