#include "server/logs_put_parser.h"

#include <gtest/gtest.h>

namespace berth::server {
namespace {

TEST(LogsPutParserTest, ReadsTheUsualShape) {
  auto req = ParsePutLogEvents(
      R"( {"logGroupName":"/ecs/app","logStreamName":"web/1","sequenceToken":"49",)"
      R"("logEvents":[{"timestamp":1700000000000,"message":"a \"quoted\" \\ line\n"},)"
      R"( { "message" : "caf\u00e9 \ud83d\ude00 €", "timestamp" : 1700000000001 }]} )");
  ASSERT_TRUE(req);
  EXPECT_EQ(req->group, "/ecs/app");
  EXPECT_EQ(req->stream, "web/1");
  ASSERT_EQ(req->events.size(), 2u);
  EXPECT_EQ(req->events[0].timestamp, 1700000000000);
  EXPECT_EQ(req->events[0].message, "a \"quoted\" \\ line\n");
  EXPECT_EQ(req->events[1].message, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac");
  auto empty = ParsePutLogEvents(R"({"logGroupName":"g","logStreamName":"s","logEvents":[]})");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->events.empty());  // the service refuses it, with AWS's words
}

TEST(LogsPutParserTest, LeavesEverythingElseToTheGeneralReader) {
  for (
      const char* body : {
          "",
          "[]",
          R"({"logGroupName":"g","logStreamName":"s"})",  // no events
          R"({"logGroupName":"g","logStreamName":"s","logEvents":[{"message":"m"}]})",
          R"({"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1.5,"message":"m"}]})",
          R"({"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":"1","message":"m"}]})",
          R"({"logGroupName":null,"logStreamName":"s","logEvents":[]})",
          R"({"logGroupName":"g","logGroupName":"h","logStreamName":"s","logEvents":[]})",
          R"({"logGroupName":"g","logStreamName":"s","logEvents":[],"entity":{}})",
          R"({"logGroupName":"g","logStreamName":"s","logEvents":[]} trailing)",
          "{\"logGroupName\":\"g\xff\",\"logStreamName\":\"s\",\"logEvents\":[]}",
          "{\"logGroupName\":\"g\n\",\"logStreamName\":\"s\",\"logEvents\":[]}",
          R"({"logGroupName":"\ud800","logStreamName":"s","logEvents":[]})",
      }) {
    EXPECT_FALSE(ParsePutLogEvents(body)) << body;
  }
}

}  // namespace
}  // namespace berth::server
