#include "agent/tmds/rate_limiter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace berth::agent::tmds {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiter, AllowsTheBurstThenRefuses) {
  RateLimiter limiter(40, 60);
  auto t = RateLimiter::Clock::time_point() + 1h;
  for (int i = 0; i < 60; ++i) EXPECT_TRUE(limiter.Allow("10.0.0.1", t)) << i;
  EXPECT_FALSE(limiter.Allow("10.0.0.1", t));
}

TEST(RateLimiter, RefillsAtTheSteadyRate) {
  RateLimiter limiter(40, 60);
  auto t = RateLimiter::Clock::time_point() + 1h;
  for (int i = 0; i < 60; ++i) limiter.Allow("10.0.0.1", t);
  EXPECT_FALSE(limiter.Allow("10.0.0.1", t + 20ms));  // 0.8 of a token
  EXPECT_TRUE(limiter.Allow("10.0.0.1", t + 25ms));   // one token
  EXPECT_FALSE(limiter.Allow("10.0.0.1", t + 25ms));
  // A second refills 40, not more than the burst after a long pause.
  int allowed = 0;
  while (limiter.Allow("10.0.0.1", t + 1025ms)) ++allowed;
  EXPECT_EQ(allowed, 40);
  allowed = 0;
  while (limiter.Allow("10.0.0.1", t + 1h)) ++allowed;
  EXPECT_EQ(allowed, 60);
}

TEST(RateLimiter, KeepsABucketPerSource) {
  RateLimiter limiter(40, 60);
  auto t = RateLimiter::Clock::time_point() + 1h;
  for (int i = 0; i < 60; ++i) limiter.Allow("10.0.0.1", t);
  EXPECT_FALSE(limiter.Allow("10.0.0.1", t));
  EXPECT_TRUE(limiter.Allow("10.0.0.2", t));
}

TEST(RateLimiter, KeepsBucketsInUsePastTheSourceLimit) {
  RateLimiter limiter(40, 60);
  auto t = RateLimiter::Clock::time_point() + 1h;
  for (int i = 0; i < 60; ++i) limiter.Allow("busy", t);
  // Past kMaxSources only full buckets are dropped: the busy source stays limited.
  for (size_t i = 0; i < RateLimiter::kMaxSources + 10; ++i) {
    EXPECT_TRUE(limiter.Allow("10.1." + std::to_string(i), t));
  }
  EXPECT_FALSE(limiter.Allow("busy", t));
}

}  // namespace
}  // namespace berth::agent::tmds
