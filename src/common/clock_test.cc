#include "common/clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace berth {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// 2015-08-30T12:36:00Z, the date of the SigV4 test suite.
constexpr int64_t kSigV4SuiteEpoch = 1440938160;

TimePoint At(int64_t epoch_seconds) { return TimePoint(seconds(epoch_seconds)); }

TEST(ClockTest, FormatAmzDate) {
  EXPECT_EQ(FormatAmzDate(At(kSigV4SuiteEpoch)), "20150830T123600Z");
  EXPECT_EQ(FormatAmzDate(At(0)), "19700101T000000Z");
  EXPECT_EQ(FormatAmzDate(At(2147483648)), "20380119T031408Z");
}

TEST(ClockTest, FormatIso8601) {
  EXPECT_EQ(FormatIso8601(At(kSigV4SuiteEpoch)), "2015-08-30T12:36:00Z");
  EXPECT_EQ(FormatIso8601(At(951782400)), "2000-02-29T00:00:00Z");
}

TEST(ClockTest, FormatTruncatesSubSeconds) {
  TimePoint t = At(kSigV4SuiteEpoch) + milliseconds(999);
  EXPECT_EQ(FormatAmzDate(t), "20150830T123600Z");
  EXPECT_EQ(FormatIso8601(t), "2015-08-30T12:36:00Z");
}

TEST(ClockTest, ParseAmzDate) {
  TimePoint t;
  ASSERT_TRUE(ParseAmzDate("20150830T123600Z", &t));
  EXPECT_EQ(t, At(kSigV4SuiteEpoch));
  ASSERT_TRUE(ParseAmzDate("20000229T000000Z", &t));
  EXPECT_EQ(t, At(951782400));
  ASSERT_TRUE(ParseAmzDate("19700101T000000Z", &t));
  EXPECT_EQ(t, At(0));
}

TEST(ClockTest, ParseFormatRoundTrip) {
  for (int64_t epoch :
       {int64_t{0}, int64_t{86399}, kSigV4SuiteEpoch, int64_t{1798761599}, int64_t{2147483648}}) {
    std::string text = FormatAmzDate(At(epoch));
    TimePoint parsed;
    ASSERT_TRUE(ParseAmzDate(text, &parsed)) << text;
    EXPECT_EQ(parsed, At(epoch)) << text;
  }
}

TEST(ClockTest, ParseAmzDateRejectsMalformed) {
  const TimePoint sentinel = At(42);
  for (const char* text : {
           "",
           "20150830T123600",       // no Z
           "20150830T123600Zx",     // too long
           "2015-08-30T12:36:00Z",  // ISO 8601, not the amz form
           "20150830t123600Z",      // lower-case t
           "20150830T123600z",      // lower-case z
           "20150830 123600Z",      // space for T
           "2015083XT123600Z",      // non-digit
           "+0150830T123600Z",      // sign
           "20151330T123600Z",      // month 13
           "20150030T123600Z",      // month 0
           "20150800T123600Z",      // day 0
           "20150832T123600Z",      // day 32
           "20150230T123600Z",      // February 30
           "20150431T123600Z",      // April 31
           "20150229T000000Z",      // not a leap year
           "20150830T243600Z",      // hour 24
           "20150830T126000Z",      // minute 60
           "20150830T123661Z",      // second 61
       }) {
    TimePoint t = sentinel;
    EXPECT_FALSE(ParseAmzDate(text, &t)) << text;
    EXPECT_EQ(t, sentinel) << "output written for rejected " << text;
  }
}

TEST(ClockTest, ToEpochSeconds) {
  EXPECT_DOUBLE_EQ(ToEpochSeconds(At(kSigV4SuiteEpoch)), 1440938160.0);
  EXPECT_DOUBLE_EQ(ToEpochSeconds(At(kSigV4SuiteEpoch) + milliseconds(250)), 1440938160.25);
  EXPECT_DOUBLE_EQ(ToEpochSeconds(At(0)), 0.0);
}

TEST(ClockTest, FakeClockStartsWhereToldAndAdvances) {
  FakeClock clock(At(kSigV4SuiteEpoch));
  EXPECT_EQ(clock.Now(), At(kSigV4SuiteEpoch));
  EXPECT_EQ(clock.Now(), At(kSigV4SuiteEpoch));  // does not move by itself

  clock.Advance(seconds(90));
  EXPECT_EQ(clock.Now(), At(kSigV4SuiteEpoch + 90));
  EXPECT_EQ(FormatAmzDate(clock.Now()), "20150830T123730Z");

  clock.Advance(std::chrono::hours(24));
  EXPECT_EQ(FormatIso8601(clock.Now()), "2015-08-31T12:37:30Z");

  clock.Advance(seconds(-30));
  EXPECT_EQ(FormatIso8601(clock.Now()), "2015-08-31T12:37:00Z");

  clock.Set(At(0));
  EXPECT_EQ(clock.Now(), At(0));
}

TEST(ClockTest, FakeClockKeepsSubSecondPrecision) {
  TimePoint start = At(kSigV4SuiteEpoch) + milliseconds(123);
  FakeClock clock(start);
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(seconds(1));
  EXPECT_EQ(clock.Now(), start + seconds(1));
}

TEST(ClockTest, FakeClockWorksThroughTheInterface) {
  FakeClock fake(At(kSigV4SuiteEpoch));
  const Clock& clock = fake;
  fake.Advance(seconds(5));
  EXPECT_EQ(clock.Now(), At(kSigV4SuiteEpoch + 5));
}

TEST(ClockTest, SystemClockIsNearNow) {
  auto before = std::chrono::system_clock::now();
  TimePoint now = SystemClock::Instance().Now();
  auto after = std::chrono::system_clock::now();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
  EXPECT_EQ(&SystemClock::Instance(), &SystemClock::Instance());
}

}  // namespace
}  // namespace berth
