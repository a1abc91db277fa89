#include "logs/batch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::logs {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;

std::vector<InputEvent> At(std::initializer_list<int64_t> times) {
  std::vector<InputEvent> out;
  for (int64_t t : times) out.push_back({t, "m"});
  return out;
}

TEST(BatchTest, KeepsEventsInTheWindow) {
  auto v = CheckBatch(At({kNow - kHour, kNow}), kNow, std::nullopt);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->keep_begin, 0u);
  EXPECT_EQ(v->keep_end, 2u);
  EXPECT_FALSE(v->too_new_start || v->too_old_end || v->expired_end);
}

TEST(BatchTest, ReportsTooOldTooNewAndExpired) {
  auto events = At({kNow - 20 * kDay, kNow - 10 * kDay, kNow - kHour, kNow, kNow + 3 * kHour});
  auto v = CheckBatch(events, kNow, 7);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->too_old_end, 1);
  EXPECT_EQ(v->expired_end, 2);
  EXPECT_EQ(v->too_new_start, 4);
  EXPECT_EQ(v->keep_begin, 2u);
  EXPECT_EQ(v->keep_end, 4u);
}

TEST(BatchTest, AllRejectedKeepsNothing) {
  auto v = CheckBatch(At({kNow + 3 * kHour}), kNow, std::nullopt);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->too_new_start, 0);
  EXPECT_EQ(v->keep_begin, v->keep_end);
}

TEST(BatchTest, RefusesOutOfOrder) {
  auto v = CheckBatch(At({kNow, kNow - 1}), kNow, std::nullopt);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, "InvalidParameterException");
  EXPECT_EQ(v.error().message,
            "Log events in a single PutLogEvents request must be in chronological order.");
}

TEST(BatchTest, RefusesSpanOver24Hours) {
  auto v = CheckBatch(At({kNow - 25 * kHour, kNow}), kNow, std::nullopt);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message,
            "The batch of log events in a single PutLogEvents request cannot span more than 24 "
            "hours.");
  // Rejected events do not count toward the span.
  EXPECT_TRUE(CheckBatch(At({kNow - 15 * kDay, kNow - kHour, kNow}), kNow, std::nullopt));
}

TEST(BatchTest, RefusesEmptyAndTooMany) {
  auto none = CheckBatch({}, kNow, std::nullopt);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, "InvalidParameterException");
  EXPECT_EQ(none.error().message,
            "1 validation error detected: Value '[]' at 'logEvents' failed to satisfy "
            "constraint: Member must have length greater than or equal to 1");
  std::vector<InputEvent> many(10'001, InputEvent{kNow, "m"});
  auto too_many = CheckBatch(many, kNow, std::nullopt);
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error().message,
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: "
            "Member must have length less than or equal to 10000");
  many.resize(10'000);
  EXPECT_TRUE(CheckBatch(many, kNow, std::nullopt));
}

TEST(BatchTest, RefusesEmptyMessageAndNegativeTimestamp) {
  std::vector<InputEvent> events = {{kNow, "ok"}, {-1, ""}};
  auto v = CheckBatch(events, kNow, std::nullopt);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message,
            "2 validation errors detected: Value '' at 'logEvents.2.member.message' failed to "
            "satisfy constraint: Member must have length greater than or equal to 1; Value '-1' "
            "at 'logEvents.2.member.timestamp' failed to satisfy constraint: Member must have "
            "value greater than or equal to 0");
}

TEST(BatchTest, RefusesOversizedEventAndBatch) {
  std::vector<InputEvent> one = {{kNow, std::string(1'048'576 - 25, 'x')}};
  auto big = CheckBatch(one, kNow, std::nullopt);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().message, "Log event too large: 1048577 bytes exceeds limit of 1048576");
  one[0].message.pop_back();
  EXPECT_TRUE(CheckBatch(one, kNow, std::nullopt));
  std::vector<InputEvent> two = {{kNow, std::string(600'000, 'x')},
                                 {kNow, std::string(600'000, 'y')}};
  auto batch = CheckBatch(two, kNow, std::nullopt);
  ASSERT_FALSE(batch);
  EXPECT_EQ(batch.error().message, "Upload too large: 1200052 bytes exceeds limit of 1048576");
}

}  // namespace
}  // namespace berth::logs
