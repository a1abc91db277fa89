// The Shipper against a FakeLogsClient and real files; ConfigFromOptions; NewLogsClient
// against an in-process endpoint that checks the SigV4 signature.
#include "agent/awslogs/shipper.h"

#include "agent/awslogs/multiline.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <thread>

#include "agent/awslogs/fake_logs_client.h"
#include "aws/fake_json_endpoint.h"
#include "common/json.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace berth::agent::awslogs {
namespace {

using namespace std::chrono_literals;
using testing::FakeLogsClient;

using test_support::WaitFor;

Error Err(const std::string& code, int status = 400) { return Error{code, code + " says no", status}; }

class ShipperTest : public ::testing::Test {
 protected:
  ShipperTest() {
    config_.group = "/ecs/web";
    config_.region = "us-west-2";
    config_.stream = "web/app/0123";
    config_.flush_interval = 1h;  // batches go out when full or at Finish unless a test says
  }

  void Append(const std::string& text) {
    std::ofstream out(log_path_, std::ios::app | std::ios::binary);
    out << text;
  }
  // "line-0000000\n" ... : `count` lines from `first`, each 12 bytes + newline.
  void AppendLines(int first, int count) {
    std::string text;
    for (int i = first; i < first + count; ++i) text += fmt::format("line-{:07d}\n", i);
    Append(text);
  }
  static std::vector<std::string> Lines(int first, int count) {
    std::vector<std::string> lines;
    for (int i = first; i < first + count; ++i) lines.push_back(fmt::format("line-{:07d}", i));
    return lines;
  }

  std::unique_ptr<Shipper> Start() {
    return std::make_unique<Shipper>(config_, client_, log_path_, state_path_);
  }

  test_support::TempDir dir_;
  std::string log_path_ = dir_.File("container.log");
  std::string state_path_ = dir_.File("awslogs.offset");
  Config config_;
  FakeLogsClient client_;
};

TEST_F(ShipperTest, FinishShipsEveryLineInOrderWithTheStreamCreatedFirst) {
  AppendLines(0, 3);
  Append("no newline yet");
  auto shipper = Start();
  ASSERT_TRUE(shipper->Finish(10s));
  std::vector<std::string> want = Lines(0, 3);
  want.push_back("no newline yet");
  EXPECT_EQ(client_.messages(), want);
  EXPECT_EQ(client_.calls(), (std::vector<std::string>{"CreateLogStream /ecs/web web/app/0123",
                                                       "PutLogEvents /ecs/web web/app/0123"}));
  auto batch = client_.batches().at(0);
  for (size_t i = 1; i < batch.size(); ++i) EXPECT_LE(batch[i - 1].timestamp, batch[i].timestamp);
  EXPECT_GT(batch[0].timestamp, 1'600'000'000'000);  // ms since the epoch
}

TEST_F(ShipperTest, BatchesHoldAtMostTenThousandEvents) {
  AppendLines(0, 25'000);
  auto shipper = Start();
  ASSERT_TRUE(shipper->Finish(30s));
  auto batches = client_.batches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), 10'000u);
  EXPECT_EQ(batches[1].size(), 10'000u);
  EXPECT_EQ(batches[2].size(), 5'000u);
  EXPECT_EQ(client_.messages(), Lines(0, 25'000));
}

TEST_F(ShipperTest, BatchesHoldAtMostOneMebibyteCountingTwentySixBytesAnEvent) {
  std::string text;
  for (int i = 0; i < 3000; ++i) text += std::string(1000, char('a' + i % 26)) + "\n";
  Append(text);
  auto shipper = Start();
  ASSERT_TRUE(shipper->Finish(30s));
  auto batches = client_.batches();
  // 1022 * (1000 + 26) = 1,048,572 <= 1,048,576 < 1023 * 1026.
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), 1022u);
  EXPECT_EQ(batches[1].size(), 1022u);
  EXPECT_EQ(batches[2].size(), 956u);
}

TEST_F(ShipperTest, ALineOverTheEventLimitIsSplit) {
  std::string line;
  for (int i = 0; i < 600'000; ++i) line += char('a' + i % 26);
  Append(line + "\nafter\n");
  auto shipper = Start();
  ASSERT_TRUE(shipper->Finish(30s));
  auto messages = client_.messages();
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[0].size(), kMaxEventBytes);
  EXPECT_EQ(messages[1].size(), kMaxEventBytes);
  EXPECT_EQ(messages[2].size(), 600'000 - 2 * kMaxEventBytes);
  EXPECT_EQ(messages[0] + messages[1] + messages[2], line);
  EXPECT_EQ(messages[3], "after");
}

TEST_F(ShipperTest, IllFormedUtf8BecomesReplacementCharacters) {
  Append("ok \xff\xfe end\n\n");  // the empty line is no event
  auto shipper = Start();
  ASSERT_TRUE(shipper->Finish(10s));
  EXPECT_EQ(client_.messages(), std::vector<std::string>{"ok \xEF\xBF\xBD\xEF\xBF\xBD end"});
}

TEST_F(ShipperTest, ABatchGoesOutOnceTheFlushIntervalPasses) {
  config_.flush_interval = 300ms;
  auto shipper = Start();
  AppendLines(0, 3);
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(client_.batches().empty());  // not before the interval
  ASSERT_TRUE(WaitFor([&] { return client_.batches().size() == 1; }));
  EXPECT_EQ(client_.messages(), Lines(0, 3));
  shipper->Stop();
}

TEST_F(ShipperTest, APartialLineIsSentAfterTheFlushIntervalWithoutItsNewline) {
  config_.flush_interval = 200ms;
  auto shipper = Start();
  Append("prompt> ");
  ASSERT_TRUE(WaitFor([&] { return client_.messages().size() == 1; }));
  EXPECT_EQ(client_.messages()[0], "prompt> ");
  Append("typed\n");
  ASSERT_TRUE(shipper->Finish(10s));
  EXPECT_EQ(client_.messages(), (std::vector<std::string>{"prompt> ", "typed"}));
}

// awslogs-multiline-pattern: a matching line starts an event; the lines after it that do not
// match join it, each with its newline, as Docker's driver gathers them (a stack trace is one
// event).
TEST_F(ShipperTest, AMultilinePatternGathersTheLinesOfAnEvent) {
  config_.multiline_pattern = "^INFO";
  Append("not a start: its own event\n");
  Append("INFO A message was logged\n");
  Append("INFO Another multiline message was logged\n     Some random message\n\n  after a "
         "blank line\n");
  Append("INFO Another message was logged\n");
  Append("INFO and a last one without its newline");
  auto shipper = Start();
  ASSERT_TRUE(shipper->Finish(10s));
  EXPECT_EQ(client_.messages(),
            (std::vector<std::string>{
                "not a start: its own event\n", "INFO A message was logged\n",
                "INFO Another multiline message was logged\n     Some random message\n\n  after "
                "a blank line\n",
                "INFO Another message was logged\n", "INFO and a last one without its newline\n"}));
}

TEST_F(ShipperTest, AGatheredEventGoesOnceItIsAFlushIntervalOld) {
  config_.multiline_pattern = "^Exception";
  config_.flush_interval = 300ms;
  auto shipper = Start();
  Append("Exception in thread main\n\tat Main.run(Main.java:3)\n");
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(client_.messages().empty());  // more lines may join it
  ASSERT_TRUE(WaitFor([&] { return client_.messages().size() == 1; }));
  EXPECT_EQ(client_.messages()[0], "Exception in thread main\n\tat Main.run(Main.java:3)\n");
  shipper->Stop();
}

TEST_F(ShipperTest, AGatheredEventNeverPassesTheEventLimit) {
  config_.multiline_pattern = "^START";
  std::string line(100'000, 'x');
  Append("START\n" + line + "\n" + line + "\n" + line + "\n");
  auto shipper = Start();
  ASSERT_TRUE(shipper->Finish(10s));
  auto messages = client_.messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0], "START\n" + line + "\n" + line + "\n");
  EXPECT_EQ(messages[1], line + "\n");
  for (const auto& m : messages) EXPECT_LE(m.size(), kMaxEventBytes);
}

TEST_F(ShipperTest, ADatetimeFormatStartsAnEventAtEachTimestamp) {
  auto config = ConfigFromOptions({{"awslogs-group", "g"},
                                   {"awslogs-region", "r"},
                                   {"awslogs-datetime-format", R"(\[%b %d, %Y %H:%M:%S\])"}},
                                  "app", "0123", "0123-app", "https://berth:4566", "");
  ASSERT_TRUE(config) << config.error().message;
  config_.multiline_pattern = config->multiline_pattern;
  Append("[May 01, 2017 19:00:01] A message was logged\n"
         "[May 01, 2017 19:00:04] Another multiline message was logged\n"
         "Some random message\nwith some random words\n"
         "[May 01, 2017 19:01:32] Another message was logged\n"
         "  searched for anywhere in a line, as Docker does: [May 01, 2017 19:02:00]\n");
  auto shipper = Start();
  ASSERT_TRUE(shipper->Finish(10s));
  EXPECT_EQ(client_.messages(),
            (std::vector<std::string>{
                "[May 01, 2017 19:00:01] A message was logged\n",
                "[May 01, 2017 19:00:04] Another multiline message was logged\nSome random "
                "message\nwith some random words\n",
                "[May 01, 2017 19:01:32] Another message was logged\n",
                "  searched for anywhere in a line, as Docker does: [May 01, 2017 19:02:00]\n"}));
}

// The container writes the lines: a pattern that backtracks exponentially must not stall its
// shipper (the executor does not backtrack).
TEST(MultilinePatternTest, MatchingTakesTimeLinearInTheLine) {
  auto pattern = MultilinePattern::Compile("^(a+)+$");
  ASSERT_TRUE(pattern) << pattern.error().message;
  std::string line(5'000, 'a');
  line += 'b';
  auto began = std::chrono::steady_clock::now();
  EXPECT_FALSE(pattern->StartsEvent(line));
  EXPECT_TRUE(pattern->StartsEvent("aaaa"));
  EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);  // backtracking: longer than a life
}

TEST_F(ShipperTest, NonBlockingDropsLinesWhenTheBufferIsFullAndSaysHowMany) {
  config_.flush_interval = 200ms;
  config_.max_buffer_bytes = 100;  // 8 lines of 12 bytes
  AppendLines(0, 5);  // these fit, however slowly the sender takes them
  client_.Hold(true);
  auto shipper = Start();
  ASSERT_TRUE(client_.WaitForHeldPut(10s));  // the first lines are in flight
  int in_flight = int(client_.held_events());
  AppendLines(5, 1000);
  // While the batch is held, 8 more lines fit in the buffer; the rest are dropped.
  int expected_drops = 1005 - in_flight - 8;
  bool dropped = WaitFor([&] { return shipper->dropped_lines() == expected_drops; });
  client_.Hold(false);
  ASSERT_TRUE(dropped) << shipper->dropped_lines() << " dropped, " << in_flight << " in flight";
  ASSERT_TRUE(shipper->Finish(10s));
  EXPECT_EQ(shipper->dropped_lines(), expected_drops);
  std::vector<std::string> want = Lines(0, in_flight + 8);
  want.push_back(fmt::format(
      "[berth awslogs] dropped {} log lines: the buffer (max-buffer-size 100) was full",
      expected_drops));
  EXPECT_EQ(client_.messages(), want);
}

TEST_F(ShipperTest, BlockingLosesNothing) {
  config_.blocking = true;
  config_.max_buffer_bytes = 4096;
  AppendLines(0, 100'000);
  auto shipper = Start();
  ASSERT_TRUE(shipper->Finish(60s));
  EXPECT_EQ(shipper->dropped_lines(), 0);
  EXPECT_EQ(client_.messages(), Lines(0, 100'000));
}

TEST_F(ShipperTest, ANewShipperResumesFromTheSavedOffset) {
  AppendLines(0, 3);
  ASSERT_TRUE(Start()->Finish(10s));
  AppendLines(3, 2);
  ASSERT_TRUE(Start()->Finish(10s));
  auto batches = client_.batches();
  ASSERT_EQ(batches.size(), 2u);
  ASSERT_EQ(batches[1].size(), 2u);
  EXPECT_EQ(batches[1][0].message, "line-0000003");
  EXPECT_EQ(client_.messages(), Lines(0, 5));
}

TEST_F(ShipperTest, StopLeavesTheUnsentForTheNextShipper) {
  config_.flush_interval = 50ms;
  auto first = Start();
  AppendLines(0, 2);
  ASSERT_TRUE(WaitFor([&] { return client_.messages().size() == 2; }));
  client_.Hold(true);
  AppendLines(2, 2);
  bool held = client_.WaitForHeldPut(10s);
  client_.FailAlways("PutLogEvents", Err("ServiceUnavailableException", 503));
  client_.Hold(false);
  ASSERT_TRUE(held);
  first->Stop();  // the batch in flight is not acknowledged
  FakeLogsClient second;
  ASSERT_TRUE(Shipper(config_, second, log_path_, state_path_).Finish(10s));
  EXPECT_EQ(second.messages(), Lines(2, 2));
}

TEST_F(ShipperTest, TheGroupIsCreatedWhenMissingAndAllowed) {
  config_.create_group = true;
  client_.FailNext("CreateLogStream", {Err("ResourceNotFoundException")});
  AppendLines(0, 1);
  ASSERT_TRUE(Start()->Finish(10s));
  EXPECT_EQ(client_.calls(), (std::vector<std::string>{"CreateLogStream /ecs/web web/app/0123",
                                                       "CreateLogGroup /ecs/web",
                                                       "CreateLogStream /ecs/web web/app/0123",
                                                       "PutLogEvents /ecs/web web/app/0123"}));
  EXPECT_EQ(client_.messages(), Lines(0, 1));
}

TEST_F(ShipperTest, TheGroupIsNotCreatedWithoutCreateGroup) {
  client_.FailAlways("CreateLogStream", Err("ResourceNotFoundException"));
  client_.FailAlways("PutLogEvents", Err("ResourceNotFoundException"));
  AppendLines(0, 1);
  ASSERT_TRUE(Start()->Finish(10s));  // the batch is dropped after recreating the stream once
  EXPECT_EQ(client_.calls(), (std::vector<std::string>{"CreateLogStream /ecs/web web/app/0123",
                                                       "PutLogEvents /ecs/web web/app/0123",
                                                       "CreateLogStream /ecs/web web/app/0123",
                                                       "PutLogEvents /ecs/web web/app/0123"}));
}

TEST_F(ShipperTest, ResourceAlreadyExistsIsSuccess) {
  config_.create_group = true;
  client_.FailNext("CreateLogStream",
                   {Err("ResourceNotFoundException"), Err("ResourceAlreadyExistsException")});
  client_.FailNext("CreateLogGroup", {Err("ResourceAlreadyExistsException")});
  AppendLines(0, 1);
  ASSERT_TRUE(Start()->Finish(10s));
  EXPECT_EQ(client_.calls().size(), 4u);
  EXPECT_EQ(client_.messages(), Lines(0, 1));
}

TEST_F(ShipperTest, ThrottlingIsRetriedAndARefusedBatchDropped) {
  client_.FailNext("PutLogEvents", {Err("ThrottlingException"), Err("InternalFailure", 500)});
  AppendLines(0, 2);
  auto shipper = Start();
  ASSERT_TRUE(shipper->Finish(20s));  // 0.5 s + 1 s of backoff
  EXPECT_EQ(client_.calls().size(), 4u);  // create + three puts
  EXPECT_EQ(client_.messages(), Lines(0, 2));

  client_.FailNext("PutLogEvents", {Err("InvalidParameterException")});
  AppendLines(2, 1);
  ASSERT_TRUE(Start()->Finish(10s));  // refused for good: dropped, not retried
  EXPECT_EQ(client_.messages(), Lines(0, 2));
  AppendLines(3, 1);
  ASSERT_TRUE(Start()->Finish(10s));  // and not sent again
  std::vector<std::string> want = Lines(0, 2);
  want.push_back("line-0000003");
  EXPECT_EQ(client_.messages(), want);
}

TEST_F(ShipperTest, FinishGivesUpAtItsTimeout) {
  client_.FailAlways("PutLogEvents", Err("ServiceUnavailableException", 503));
  AppendLines(0, 1);
  auto shipper = Start();
  auto begun = std::chrono::steady_clock::now();
  Status finished = shipper->Finish(300ms);
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code, "DeadlineExceeded");
  EXPECT_LT(std::chrono::steady_clock::now() - begun, 5s);
}

// ---- ConfigFromOptions

Result<Config> FromOptions(std::map<std::string, std::string> options) {
  return ConfigFromOptions(options, "app", "0123abcd", "0123abcd-app", "https://berth:4566",
                           "/ca.pem");
}

TEST(ConfigFromOptionsTest, NamesTheStreamAsEcsDoes) {
  auto config = FromOptions({{"awslogs-group", "/ecs/web"},
                             {"awslogs-region", "eu-west-1"},
                             {"awslogs-stream-prefix", "web"},
                             {"awslogs-create-group", "true"}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->stream, "web/app/0123abcd");
  EXPECT_EQ(config->group, "/ecs/web");
  EXPECT_EQ(config->region, "eu-west-1");
  EXPECT_TRUE(config->create_group);
  EXPECT_FALSE(config->blocking);
  EXPECT_EQ(config->max_buffer_bytes, kDefaultMaxBufferBytes);
  EXPECT_EQ(config->flush_interval, 5s);
  EXPECT_EQ(config->endpoint, "https://berth:4566");
  EXPECT_EQ(config->ca_file, "/ca.pem");

  config = FromOptions({{"awslogs-group", "g"}, {"awslogs-region", "r"}});
  EXPECT_EQ(config->stream, "0123abcd-app");  // the container id without a prefix
  config = FromOptions({{"awslogs-group", "g"},
                        {"awslogs-region", "r"},
                        {"awslogs-stream", "mine"},
                        {"awslogs-stream-prefix", "p"},
                        {"awslogs-endpoint", "http://logs:1"},
                        {"awslogs-force-flush-interval-seconds", "2"},
                        {"mode", "blocking"}});
  EXPECT_EQ(config->stream, "mine");
  EXPECT_EQ(config->endpoint, "http://logs:1");
  EXPECT_EQ(config->flush_interval, 2s);
  EXPECT_TRUE(config->blocking);
  EXPECT_EQ(config->multiline_pattern, "");

  config = FromOptions({{"awslogs-group", "g"}, {"awslogs-region", "r"},
                        {"awslogs-multiline-pattern", "^INFO"}});
  EXPECT_EQ(config->multiline_pattern, "^INFO");
  config = FromOptions({{"awslogs-group", "g"}, {"awslogs-region", "r"},
                        {"awslogs-datetime-format", "%Y-%m-%dT%H:%M:%S%L%z %a"}});
  EXPECT_EQ(config->multiline_pattern,
            R"(\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[1,2][0-9]|3[0,1])T(?:[0,1][0-9]|2[0-3]):)"
            R"([0-5][0-9]:[0-5][0-9]\.\d{3}[+-]\d{4} (?:Mon|Tue|Wed|Thu|Fri|Sat|Sun))");
}

TEST(ConfigFromOptionsTest, ReadsBufferSizesAsDockerDoes) {
  for (auto [text, bytes] : std::vector<std::pair<std::string, size_t>>{
           {"10m", 10u << 20}, {"512k", 512u << 10}, {"1g", 1u << 30}, {"4096", 4096},
           {"64KiB", 64u << 10}, {"2MB", 2u << 20}}) {
    auto config = FromOptions({{"awslogs-group", "g"},
                               {"awslogs-region", "r"},
                               {"mode", "non-blocking"},
                               {"max-buffer-size", text}});
    ASSERT_TRUE(config) << text;
    EXPECT_EQ(config->max_buffer_bytes, bytes) << text;
  }
}

TEST(ConfigFromOptionsTest, RefusesWhatDockerRefuses) {
  auto error = [](std::map<std::string, std::string> options) {
    options.try_emplace("awslogs-group", "g");
    options.try_emplace("awslogs-region", "r");
    for (auto it = options.begin(); it != options.end();) {
      it = it->second == "<unset>" ? options.erase(it) : std::next(it);
    }
    auto config = FromOptions(options);
    EXPECT_FALSE(config);
    if (config) return std::string();
    EXPECT_EQ(config.error().code, "InvalidParameterException");
    return config.error().message;
  };
  EXPECT_EQ(error({{"awslogs-group", "<unset>"}}),
            "must specify a value for log opt 'awslogs-group'");
  EXPECT_EQ(error({{"awslogs-region", "<unset>"}}),
            "must specify a value for log opt 'awslogs-region'");
  EXPECT_EQ(error({{"awslogs-colour", "x"}}),
            "unknown log opt 'awslogs-colour' for awslogs log driver");
  EXPECT_EQ(error({{"mode", "fast"}}),
            "invalid value for log opt 'mode': 'fast' (blocking or non-blocking)");
  EXPECT_EQ(error({{"max-buffer-size", "lots"}}),
            "invalid value for log opt 'max-buffer-size': 'lots'");
  EXPECT_EQ(error({{"max-buffer-size", "1m"}, {"mode", "blocking"}}),
            "max-buffer-size option is only supported with 'mode=non-blocking'");
  EXPECT_EQ(error({{"awslogs-create-group", "yes"}}),
            "invalid value for log opt 'awslogs-create-group': 'yes'");
  EXPECT_EQ(error({{"awslogs-force-flush-interval-seconds", "0"}}),
            "must specify a positive integer for log opt "
            "'awslogs-force-flush-interval-seconds': 0");
  EXPECT_EQ(error({{"awslogs-datetime-format", "%Y"}, {"awslogs-multiline-pattern", "^x"}}),
            "you cannot configure log opt 'awslogs-datetime-format' and "
            "'awslogs-multiline-pattern' at the same time");
  EXPECT_TRUE(error({{"awslogs-multiline-pattern", "^(INFO"}})
                  .starts_with("awslogs could not parse multiline pattern key \"^(INFO\": "));
  EXPECT_TRUE(error({{"awslogs-datetime-format", "[%Y"}})
                  .starts_with("awslogs could not parse multiline pattern key \"[\\d{4}\": "));
}

// ---- NewLogsClient

TEST(NewLogsClientTest, SignsForLogsWithTheCredentialsOfTheMoment) {
  aws::testing::FakeJsonEndpoint endpoint(
      "logs", "eu-west-1", "AKIDEXEC", "exec-secret",
      [](const std::string& op, const std::string&) -> std::pair<int, std::string> {
        if (op == "CreateLogGroup") {
          return {400, R"({"__type":"ResourceAlreadyExistsException","message":"exists"})"};
        }
        return {200, "{}"};
      });
  ASSERT_TRUE(endpoint.started());
  Config config;
  config.endpoint = endpoint.endpoint();
  config.region = "eu-west-1";
  std::optional<aws::Credentials> current;
  auto client = NewLogsClient(config, [&] { return current; });

  Status none = client->CreateLogStream("g", "s");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, "NoCredentials");
  EXPECT_TRUE(endpoint.calls().empty());

  current = aws::Credentials{"AKIDEXEC", "wrong", ""};
  Status wrong = client->CreateLogStream("g", "s");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, "InvalidSignatureException");

  current = aws::Credentials{"AKIDEXEC", "exec-secret", ""};  // refreshed
  ASSERT_TRUE(client->CreateLogStream("g", "s"));
  Status group = client->CreateLogGroup("g");
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().code, "ResourceAlreadyExistsException");
  std::vector<Event> events = {{1000, "one"}, {1001, "two"}};
  ASSERT_TRUE(client->PutLogEvents("g", "s", events));

  auto calls = endpoint.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].target, "Logs_20140328.CreateLogStream");
  EXPECT_EQ(json::Json::parse(calls[0].body),
            (json::Json{{"logGroupName", "g"}, {"logStreamName", "s"}}));
  EXPECT_EQ(calls[2].target, "Logs_20140328.PutLogEvents");
  EXPECT_EQ(json::Json::parse(calls[2].body),
            (json::Json{{"logGroupName", "g"},
                        {"logStreamName", "s"},
                        {"logEvents",
                         {{{"timestamp", 1000}, {"message", "one"}},
                          {{"timestamp", 1001}, {"message", "two"}}}}}));
}

}  // namespace
}  // namespace berth::agent::awslogs
