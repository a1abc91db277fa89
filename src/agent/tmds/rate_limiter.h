// A token bucket per source address, as the ECS agent limits its metadata and credentials
// endpoint (ECS_TASK_METADATA_RPS_LIMIT, default "40,60": 40 requests a second steady, bursts
// of 60). Time is passed in, so tests need no sleeps. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace berth::agent::tmds {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `steady_rps` tokens are added a second, up to `burst`; a source starts with a full bucket.
  RateLimiter(double steady_rps, double burst) : rate_(steady_rps), burst_(burst) {}

  // Takes a token of `source`'s bucket; false when it is empty (the request is refused).
  bool Allow(std::string_view source, Clock::time_point now);

  // Buckets kept at most before full ones are dropped (a full bucket is as good as none).
  static constexpr size_t kMaxSources = 4096;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  double Refilled(const Bucket& bucket, Clock::time_point now) const;

  const double rate_;
  const double burst_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace berth::agent::tmds
