#include "logs/tokens.h"

#include <gtest/gtest.h>

namespace berth::logs {
namespace {

TEST(TokensTest, EventsTokensRoundTrip) {
  Position p{1'700'000'000'123, "1700000000123-00ff00ff00ff00ff", 42};
  std::string f = EncodeEventsToken({true, p});
  std::string b = EncodeEventsToken({false, p});
  EXPECT_TRUE(f.starts_with("f/"));
  EXPECT_TRUE(b.starts_with("b/"));
  auto back = DecodeEventsToken(f);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->forward);
  EXPECT_EQ(back->position, p);
  EXPECT_FALSE(DecodeEventsToken(b)->forward);
  EXPECT_EQ(DecodeEventsToken(EncodeEventsToken({true, HeadPosition()}))->position, HeadPosition());
}

TEST(TokensTest, RefusesForeignTokens) {
  for (const char* bad : {"", "x/00", "f/zz", "f/3132", "b/"}) {
    auto t = DecodeEventsToken(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().code, "InvalidParameterException");
    EXPECT_EQ(t.error().message, "The specified nextToken is invalid.");
  }
  EXPECT_FALSE(DecodePositionToken("not base64!"));
  EXPECT_FALSE(DecodeKeyToken("@@"));
}

TEST(TokensTest, JustAfterOrders) {
  Position p{5, "s", 3};
  EXPECT_LT(p, JustAfter(p));
  EXPECT_LT(JustAfter(p), (Position{5, "t", 0}));
  EXPECT_LT(HeadPosition(), p);
  EXPECT_LT(p, TailPosition());
}

}  // namespace
}  // namespace berth::logs
