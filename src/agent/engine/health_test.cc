#include "agent/engine/health.h"

#include <gtest/gtest.h>

namespace berth::agent::engine {
namespace {

using namespace std::chrono_literals;

spec::HealthCheck Check(std::vector<std::string> test) {
  spec::HealthCheck check;
  check.test = std::move(test);
  return check;
}

TEST(HealthCommandTest, CmdShellRunsUnderShAndCmdAsGiven) {
  EXPECT_EQ(HealthCommand(Check({"CMD-SHELL", "curl -f localhost || exit 1"})),
            (std::vector<std::string>{"/bin/sh", "-c", "curl -f localhost || exit 1"}));
  EXPECT_EQ(HealthCommand(Check({"CMD", "/bin/check", "--fast"})),
            (std::vector<std::string>{"/bin/check", "--fast"}));
  EXPECT_FALSE(HealthCommand(Check({"NONE"})));
  EXPECT_FALSE(HealthCommand(Check({})));
  EXPECT_FALSE(HealthCommand(Check({"CMD"})));
  EXPECT_FALSE(HealthCommand(Check({"curl", "localhost"})));
}

TEST(HealthTrackerTest, UnknownUntilAResultThenHealthyAfterASuccess) {
  TimePoint t0{};
  HealthTracker tracker(3, 0s, t0);
  EXPECT_EQ(tracker.status(), kHealthUnknown);
  EXPECT_TRUE(tracker.Record(true, t0 + 1s));
  EXPECT_EQ(tracker.status(), kHealthy);
  EXPECT_FALSE(tracker.Record(true, t0 + 2s));
}

TEST(HealthTrackerTest, UnhealthyAfterRetriesConsecutiveFailures) {
  TimePoint t0{};
  HealthTracker tracker(3, 0s, t0);
  EXPECT_TRUE(tracker.Record(true, t0 + 1s));
  EXPECT_FALSE(tracker.Record(false, t0 + 2s));
  EXPECT_FALSE(tracker.Record(false, t0 + 3s));
  EXPECT_FALSE(tracker.Record(true, t0 + 4s));  // the run is broken
  EXPECT_FALSE(tracker.Record(false, t0 + 5s));
  EXPECT_FALSE(tracker.Record(false, t0 + 6s));
  EXPECT_TRUE(tracker.Record(false, t0 + 7s));
  EXPECT_EQ(tracker.status(), kUnhealthy);
  EXPECT_TRUE(tracker.Record(true, t0 + 8s));  // and back
  EXPECT_EQ(tracker.status(), kHealthy);
}

TEST(HealthTrackerTest, FailuresInTheStartPeriodDoNotCount) {
  TimePoint t0{};
  HealthTracker tracker(1, 10s, t0);
  EXPECT_FALSE(tracker.Record(false, t0 + 5s));
  EXPECT_FALSE(tracker.Record(false, t0 + 9s));
  EXPECT_EQ(tracker.status(), kHealthUnknown);
  EXPECT_TRUE(tracker.Record(false, t0 + 11s));
  EXPECT_EQ(tracker.status(), kUnhealthy);
}

TEST(HealthTrackerTest, ASuccessEndsTheStartPeriod) {
  TimePoint t0{};
  HealthTracker tracker(1, 10s, t0);
  EXPECT_TRUE(tracker.Record(true, t0 + 1s));
  EXPECT_TRUE(tracker.Record(false, t0 + 2s));
  EXPECT_EQ(tracker.status(), kUnhealthy);
}

TEST(HealthTrackerTest, RetriesZeroMeansThree) {
  TimePoint t0{};
  HealthTracker tracker(0, 0s, t0);
  EXPECT_FALSE(tracker.Record(false, t0 + 1s));
  EXPECT_FALSE(tracker.Record(false, t0 + 2s));
  EXPECT_TRUE(tracker.Record(false, t0 + 3s));
}

}  // namespace
}  // namespace berth::agent::engine
