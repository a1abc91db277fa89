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

constexpr std::string_view U = kHealthUnknown, H = kHealthy, X = kUnhealthy;

// The status after each probe ('+' passed, '-' failed), the probes one second apart from t0 + 1s.
std::vector<std::string_view> Statuses(HealthTracker tracker, std::string_view probes) {
  std::vector<std::string_view> out;
  TimePoint t0{};
  for (size_t i = 0; i < probes.size(); ++i) {
    std::string_view before = tracker.status();
    bool changed = tracker.Record(probes[i] == '+', t0 + std::chrono::seconds(i + 1));
    EXPECT_EQ(changed, tracker.status() != before) << i;
    out.push_back(tracker.status());
  }
  return out;
}

using Seq = std::vector<std::string_view>;

TEST(ProbeStatusMessageTest, TheLastNonEmptyLineCutTo255Bytes) {
  EXPECT_EQ(ProbeStatusMessage(""), "");
  EXPECT_EQ(ProbeStatusMessage("ok"), "ok");
  EXPECT_EQ(ProbeStatusMessage("  GET / 200\r\nall good  \n\n"), "all good");
  EXPECT_EQ(ProbeStatusMessage("a\n" + std::string(300, 'y')), std::string(255, 'y'));
  // A cut mid-character drops the character.
  EXPECT_EQ(ProbeStatusMessage(std::string(254, 'z') + "\u00e9"), std::string(254, 'z'));
}

TEST(HealthTrackerTest, UnknownUntilAResultThenHealthyAfterASuccess) {
  EXPECT_EQ(HealthTracker(3, 0s, TimePoint{}).status(), kHealthUnknown);
  EXPECT_EQ(Statuses(HealthTracker(3, 0s, TimePoint{}), "-+"), (Seq{U, H}));
}

TEST(HealthTrackerTest, UnhealthyAfterRetriesConsecutiveFailuresAndBack) {
  EXPECT_EQ(Statuses(HealthTracker(3, 0s, TimePoint{}), "+--+---+"),
            (Seq{H, H, H, H, H, H, X, H}));
}

TEST(HealthTrackerTest, FailuresInTheStartPeriodDoNotCount) {
  // The period ends at t0 + 10s: the probes at 1..9 s do not count.
  EXPECT_EQ(Statuses(HealthTracker(1, 10s, TimePoint{}), "----------"),
            (Seq{U, U, U, U, U, U, U, U, U, X}));
}

TEST(HealthTrackerTest, ASuccessEndsTheStartPeriod) {
  EXPECT_EQ(Statuses(HealthTracker(1, 10s, TimePoint{}), "+-"), (Seq{H, X}));
}

TEST(HealthTrackerTest, RetriesZeroMeansThree) {
  EXPECT_EQ(Statuses(HealthTracker(0, 0s, TimePoint{}), "---"), (Seq{U, U, X}));
}

}  // namespace
}  // namespace berth::agent::engine
