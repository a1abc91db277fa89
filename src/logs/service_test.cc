// CloudWatch Logs over the real stack: SQLite store, IAM policies evaluated by AccessControl,
// KMS; only ids and the clock are fakes.
#include "logs/service.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "crypto/root_key.h"
#include "iam/identity_store.h"
#include "iam/service.h"
#include "kms/test_world.h"
#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace berth::logs {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kA[] = "111122223333";
constexpr char kB[] = "444455556666";
constexpr char kEast[] = "us-east-1";
constexpr int64_t kStartMs = 1'795'000'000'000;
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;

std::string Allow(const std::string& actions, const std::string& resources) {
  return fmt::format(R"({{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{},
                     "Resource":{}}}]}})",
                     actions, resources);
}

std::vector<std::string> Messages(const std::vector<OutputEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.message);
  return out;
}

class LogsTest : public kms::testing::WorldTest {
 protected:
  LogsTest() : kms::testing::WorldTest("logs_test", TimePoint(std::chrono::milliseconds(kStartMs))) {}

  void SetUp() override {
    BuildWorld({kA, kB});
    logs_ = std::make_unique<Service>(*kv_, *root_key_, *access_, *kms_, ids_, clock_);
  }

  aws::RequestContext Root(const std::string& account = kA) {
    return RootContext(account, kEast);
  }

  aws::RequestContext Role(const std::string& account, const std::string& name,
                           const std::string& policy) {
    auto role = iam_->CreateRole(
        account, name, "/",
        fmt::format(
            R"({{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",)"
            R"("Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sts:AssumeRole"}}]}})",
            account),
        "", std::nullopt);
    EXPECT_TRUE(role) << role.error().message;
    auto put = iam_->PutInlinePolicy(account, iam::PrincipalType::kRole, name, "p", policy);
    EXPECT_TRUE(put) << put.error().message;
    aws::RequestContext ctx = Root(account);
    ctx.caller.kind = aws::Principal::Kind::kAssumedRole;
    ctx.caller.arn = fmt::format("arn:aws:sts::{}:assumed-role/{}/task", account, name);
    ctx.caller.user_id = role->id + ":task";
    ctx.caller.name = name;
    ctx.caller.session_name = "task";
    ctx.caller.access_key_id = "ASIATESTSESSION0001";
    return ctx;
  }

  void Group(const std::string& name, const std::string& kms_key = "",
             const std::string& account = kA) {
    CreateLogGroupRequest req;
    req.name = name;
    req.kms_key_id = kms_key;
    auto out = logs_->CreateLogGroup(Root(account), req);
    ASSERT_TRUE(out) << out.error().code << ": " << out.error().message;
  }

  void Stream(const std::string& group, const std::string& stream,
              const std::string& account = kA) {
    auto out = logs_->CreateLogStream(Root(account), group, stream);
    ASSERT_TRUE(out) << out.error().code << ": " << out.error().message;
  }

  Result<PutLogEventsResult> Put(const std::string& group, const std::string& stream,
                                 std::vector<InputEvent> events,
                                 const aws::RequestContext* ctx = nullptr) {
    return logs_->PutLogEvents(ctx ? *ctx : Root(), {group, stream, std::move(events)});
  }

  Result<GetLogEventsResult> Get(const std::string& group, const std::string& stream,
                                 std::optional<bool> head = true, const std::string& token = "",
                                 std::optional<int> limit = std::nullopt,
                                 const aws::RequestContext* ctx = nullptr) {
    GetLogEventsRequest req;
    req.group.name = group;
    req.stream = stream;
    req.start_from_head = head;
    req.next_token = token;
    req.limit = limit;
    return logs_->GetLogEvents(ctx ? *ctx : Root(), req);
  }

  Result<FilterLogEventsResult> Filter(const std::string& group, const std::string& pattern,
                                       std::optional<int> limit = std::nullopt,
                                       const std::string& token = "") {
    FilterLogEventsRequest req;
    req.group.name = group;
    req.filter_pattern = pattern;
    req.limit = limit;
    req.next_token = token;
    return logs_->FilterLogEvents(Root(), req);
  }

  static void ExpectError(const Error& e, const std::string& code, const std::string& message) {
    EXPECT_EQ(e.code, code);
    EXPECT_EQ(e.message, message);
  }

  std::unique_ptr<Service> logs_;
};

TEST_F(LogsTest, GroupNamesAreValidated) {
  CreateLogGroupRequest req;
  req.name = "bad name!";
  auto bad = logs_->CreateLogGroup(Root(), req);
  ASSERT_FALSE(bad);
  ExpectError(bad.error(), "InvalidParameterException",
              "1 validation error detected: Value 'bad name!' at 'logGroupName' failed to "
              "satisfy constraint: Member must satisfy regular expression pattern: "
              "[\\.\\-_/#A-Za-z0-9]+");
  req.name = std::string(513, 'a');
  EXPECT_THAT(logs_->CreateLogGroup(Root(), req).error().message,
              HasSubstr("Member must have length less than or equal to 512"));
  req.name = "aws/mine";
  ExpectError(logs_->CreateLogGroup(Root(), req).error(), "InvalidParameterException",
              "Log groups starting with AWS/ are reserved for AWS.");
  req.name = "/aws/ecs/mine";  // only a leading "aws/" is reserved
  EXPECT_TRUE(logs_->CreateLogGroup(Root(), req));
  req.name = "app";
  req.log_group_class = "CHEAP";
  EXPECT_THAT(logs_->CreateLogGroup(Root(), req).error().message,
              HasSubstr("Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, "
                        "DELIVERY]"));
}

TEST_F(LogsTest, GroupAlreadyExistsAndNotFound) {
  Group("app");
  CreateLogGroupRequest req;
  req.name = "app";
  ExpectError(logs_->CreateLogGroup(Root(), req).error(), "ResourceAlreadyExistsException",
              "The specified log group already exists");
  ExpectError(logs_->DeleteLogGroup(Root(), "nope").error(), "ResourceNotFoundException",
              "The specified log group does not exist.");
  ExpectError(logs_->CreateLogStream(Root(), "nope", "s").error(), "ResourceNotFoundException",
              "The specified log group does not exist.");
  ASSERT_TRUE(logs_->DeleteLogGroup(Root(), "app"));
  EXPECT_TRUE(logs_->CreateLogGroup(Root(), req));  // the name is free again
}

TEST_F(LogsTest, StreamsCreateDeleteAndValidate) {
  Group("app");
  Stream("app", "web/1");
  ExpectError(logs_->CreateLogStream(Root(), "app", "web/1").error(),
              "ResourceAlreadyExistsException", "The specified log stream already exists");
  ExpectError(logs_->CreateLogStream(Root(), "app", "a:b").error(), "InvalidParameterException",
              "1 validation error detected: Value 'a:b' at 'logStreamName' failed to satisfy "
              "constraint: Member must satisfy regular expression pattern: [^:*]*");
  ExpectError(logs_->DeleteLogStream(Root(), "app", "other").error(), "ResourceNotFoundException",
              "The specified log stream does not exist.");
  ASSERT_TRUE(Put("app", "web/1", {{kStartMs, "hello"}}));
  ASSERT_TRUE(logs_->DeleteLogStream(Root(), "app", "web/1"));
  ExpectError(Put("app", "web/1", {{kStartMs, "again"}}).error(), "ResourceNotFoundException",
              "The specified log stream does not exist.");
  // Created again: empty, and writable at once (the cached revision is not trusted).
  Stream("app", "web/1");
  auto got = Get("app", "web/1");
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->events.empty());
  ASSERT_TRUE(Put("app", "web/1", {{kStartMs, "new"}}));
  EXPECT_THAT(Messages(Get("app", "web/1")->events), ElementsAre("new"));
}

TEST_F(LogsTest, PutLogEventsKeepsTheValidEventsAndReportsTheRest) {
  Group("app");
  Stream("app", "s");
  auto out = Put("app", "s",
                 {{kStartMs - 15 * kDay, "too old"},
                  {kStartMs - kHour, "one"},
                  {kStartMs, "two"},
                  {kStartMs + 3 * kHour, "too new"}});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->too_old_end_index, 1);
  EXPECT_EQ(out->too_new_start_index, 3);
  EXPECT_FALSE(out->expired_end_index);
  EXPECT_FALSE(out->next_sequence_token.empty());
  EXPECT_THAT(Messages(Get("app", "s")->events), ElementsAre("one", "two"));

  auto unordered = Put("app", "s", {{kStartMs, "b"}, {kStartMs - 1, "a"}});
  ExpectError(unordered.error(), "InvalidParameterException",
              "Log events in a single PutLogEvents request must be in chronological order.");
  ExpectError(Put("app", "nope", {{kStartMs, "x"}}).error(), "ResourceNotFoundException",
              "The specified log stream does not exist.");
  ExpectError(Put("nope", "s", {{kStartMs, "x"}}).error(), "ResourceNotFoundException",
              "The specified log group does not exist.");
}

TEST_F(LogsTest, PutLogEventsReportsExpiredUnderRetention) {
  Group("app");
  Stream("app", "s");
  ASSERT_TRUE(logs_->PutRetentionPolicy(Root(), "app", 1));
  auto out = Put("app", "s", {{kStartMs - 2 * kDay, "expired"}, {kStartMs, "kept"}});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->expired_end_index, 1);
  EXPECT_THAT(Messages(Get("app", "s")->events), ElementsAre("kept"));
}

TEST_F(LogsTest, GetLogEventsPagesBothWaysAndRepeatsTheTokenAtTheEnd) {
  Group("app");
  Stream("app", "s");
  std::vector<InputEvent> batch;
  for (int i = 0; i < 5; ++i) batch.push_back({kStartMs + i, fmt::format("e{}", i)});
  ASSERT_TRUE(Put("app", "s", batch));

  // From the head, two at a time.
  auto p1 = Get("app", "s", true, "", 2);
  ASSERT_TRUE(p1);
  EXPECT_THAT(Messages(p1->events), ElementsAre("e0", "e1"));
  EXPECT_TRUE(p1->next_forward_token.starts_with("f/"));
  EXPECT_TRUE(p1->next_backward_token.starts_with("b/"));
  auto p2 = Get("app", "s", true, p1->next_forward_token, 2);
  EXPECT_THAT(Messages(p2->events), ElementsAre("e2", "e3"));
  auto p3 = Get("app", "s", true, p2->next_forward_token, 2);
  EXPECT_THAT(Messages(p3->events), ElementsAre("e4"));
  auto end = Get("app", "s", true, p3->next_forward_token, 2);
  EXPECT_TRUE(end->events.empty());
  EXPECT_EQ(end->next_forward_token, p3->next_forward_token);
  // New events show up behind the repeated token.
  ASSERT_TRUE(Put("app", "s", {{kStartMs + 10, "e5"}}));
  EXPECT_THAT(Messages(Get("app", "s", true, end->next_forward_token)->events), ElementsAre("e5"));

  // Default: the newest, ascending within the page; then backwards.
  auto last = Get("app", "s", std::nullopt, "", 2);
  EXPECT_THAT(Messages(last->events), ElementsAre("e4", "e5"));
  auto before = Get("app", "s", std::nullopt, last->next_backward_token, 2);
  EXPECT_THAT(Messages(before->events), ElementsAre("e2", "e3"));
  auto first = Get("app", "s", std::nullopt, before->next_backward_token, 10);
  EXPECT_THAT(Messages(first->events), ElementsAre("e0", "e1"));
  auto head = Get("app", "s", std::nullopt, first->next_backward_token, 10);
  EXPECT_TRUE(head->events.empty());
  EXPECT_EQ(head->next_backward_token, first->next_backward_token);

  // Time bounds: start inclusive, end exclusive.
  GetLogEventsRequest req;
  req.group.name = "app";
  req.stream = "s";
  req.start_time = kStartMs + 1;
  req.end_time = kStartMs + 3;
  req.start_from_head = true;
  EXPECT_THAT(Messages(logs_->GetLogEvents(Root(), req)->events), ElementsAre("e1", "e2"));

  ExpectError(Get("app", "s", true, "f/zz").error(), "InvalidParameterException",
              "The specified nextToken is invalid.");
  ExpectError(Get("app", "s", true, "", 10001).error(), "InvalidParameterException",
              "1 validation error detected: Value '10001' at 'limit' failed to satisfy "
              "constraint: Member must have value less than or equal to 10000");
  ExpectError(Get("app", "missing").error(), "ResourceNotFoundException",
              "The specified log stream does not exist.");
}

TEST_F(LogsTest, GroupByNameXorIdentifier) {
  Group("app");
  Stream("app", "s");
  ASSERT_TRUE(Put("app", "s", {{kStartMs, "x"}}));
  GetLogEventsRequest req;
  req.stream = "s";
  req.group.identifier = fmt::format("arn:aws:logs:{}:{}:log-group:app:*", kEast, kA);
  EXPECT_THAT(Messages(logs_->GetLogEvents(Root(), req)->events), ElementsAre("x"));
  req.group.identifier = "app";
  EXPECT_THAT(Messages(logs_->GetLogEvents(Root(), req)->events), ElementsAre("x"));
  req.group.name = "app";
  EXPECT_EQ(logs_->GetLogEvents(Root(), req).error().code, "InvalidParameterException");
  req.group = {};
  EXPECT_EQ(logs_->GetLogEvents(Root(), req).error().code, "InvalidParameterException");
}

TEST_F(LogsTest, FilterLogEventsMatchesPagesAndKeepsEventIds) {
  Group("app");
  Stream("app", "a");
  Stream("app", "b");
  ASSERT_TRUE(Put("app", "a", {{kStartMs, "ERROR one"}, {kStartMs + 2, "INFO two"}}));
  ASSERT_TRUE(Put("app", "b", {{kStartMs + 1, "ERROR three"}, {kStartMs + 3, "ERROR four"}}));

  auto all = Filter("app", "ERROR");
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_THAT(Messages(all->events), ElementsAre("ERROR one", "ERROR three", "ERROR four"));
  EXPECT_EQ(all->events[1].stream, "b");
  EXPECT_TRUE(all->next_token.empty());
  std::set<std::string> ids;
  for (const auto& e : all->events) {
    EXPECT_FALSE(e.event_id.empty());
    ids.insert(e.event_id);
  }
  EXPECT_EQ(ids.size(), 3u);

  auto p1 = Filter("app", "ERROR", 2);
  EXPECT_THAT(Messages(p1->events), ElementsAre("ERROR one", "ERROR three"));
  ASSERT_FALSE(p1->next_token.empty());
  auto p2 = Filter("app", "ERROR", 2, p1->next_token);
  EXPECT_THAT(Messages(p2->events), ElementsAre("ERROR four"));
  EXPECT_EQ(p2->events[0].event_id, all->events[2].event_id);  // stable across reads

  EXPECT_THAT(Messages(Filter("app", "?INFO ?four")->events),
              ElementsAre("INFO two", "ERROR four"));
  EXPECT_THAT(Messages(Filter("app", "ERROR -three")->events),
              ElementsAre("ERROR one", "ERROR four"));
  EXPECT_EQ(Filter("app", "", 10)->events.size(), 4u);
  ASSERT_TRUE(Put("app", "a", {{kStartMs + 4, R"({"level":"error","ms":250})"},
                               {kStartMs + 5, R"({"level":"info","ms":900})"}}));
  EXPECT_THAT(Messages(Filter("app", R"({ $.level = "error" })")->events),
              ElementsAre(R"({"level":"error","ms":250})"));
  EXPECT_THAT(Messages(Filter("app", "{ $.ms > 500 }")->events),
              ElementsAre(R"({"level":"info","ms":900})"));
  EXPECT_EQ(Filter("app", "{ $.level = ").error().code, "InvalidParameterException");

  FilterLogEventsRequest both;
  both.group.name = "app";
  both.stream_names = {"a"};
  both.stream_prefix = "a";
  EXPECT_EQ(logs_->FilterLogEvents(Root(), both).error().code, "InvalidParameterException");
  FilterLogEventsRequest one;
  one.group.name = "app";
  one.stream_names = {"b"};
  EXPECT_THAT(Messages(logs_->FilterLogEvents(Root(), one)->events),
              ElementsAre("ERROR three", "ERROR four"));
  EXPECT_THAT(Filter("app", std::string(1025, 'x')).error().message,
              HasSubstr("Member must have length less than or equal to 1024"));
  ExpectError(Filter("app", "x", std::nullopt, "%%%").error(), "InvalidParameterException",
              "The specified nextToken is invalid.");
}

TEST_F(LogsTest, DescribeLogStreamsOrdersAndShowsTimestamps) {
  Group("app");
  for (const char* s : {"c", "a", "b"}) Stream("app", s);
  ASSERT_TRUE(Put("app", "a", {{kStartMs - 5, "x"}, {kStartMs - 3, "y"}}));
  ASSERT_TRUE(Put("app", "b", {{kStartMs - 1, "z"}}));
  ASSERT_TRUE(Put("app", "c", {{kStartMs - 4, "z"}}));

  DescribeLogStreamsRequest req;
  req.group.name = "app";
  auto by_name = logs_->DescribeLogStreams(Root(), req);
  ASSERT_TRUE(by_name) << by_name.error().message;
  ASSERT_EQ(by_name->streams.size(), 3u);
  EXPECT_EQ(by_name->streams[0].name, "a");
  EXPECT_EQ(by_name->streams[0].summary.first_event_timestamp, kStartMs - 5);
  EXPECT_EQ(by_name->streams[0].summary.last_event_timestamp, kStartMs - 3);
  EXPECT_EQ(by_name->streams[0].arn,
            fmt::format("arn:aws:logs:{}:{}:log-group:app:log-stream:a", kEast, kA));
  EXPECT_EQ(by_name->streams[0].creation_time, kStartMs);

  req.order_by = "LastEventTime";
  req.descending = true;
  req.limit = 2;
  auto by_time = logs_->DescribeLogStreams(Root(), req);
  ASSERT_TRUE(by_time);
  ASSERT_EQ(by_time->streams.size(), 2u);
  EXPECT_EQ(by_time->streams[0].name, "b");
  EXPECT_EQ(by_time->streams[1].name, "a");
  ASSERT_FALSE(by_time->next_token.empty());
  req.next_token = by_time->next_token;
  auto rest = logs_->DescribeLogStreams(Root(), req);
  ASSERT_EQ(rest->streams.size(), 1u);
  EXPECT_EQ(rest->streams[0].name, "c");
  EXPECT_TRUE(rest->next_token.empty());

  req.next_token.clear();
  req.prefix = "a";
  ExpectError(logs_->DescribeLogStreams(Root(), req).error(), "InvalidParameterException",
              "Cannot order by LastEventTime with a logStreamNamePrefix.");
  req.order_by = "LogStreamName";
  req.descending = false;
  auto prefixed = logs_->DescribeLogStreams(Root(), req);
  ASSERT_EQ(prefixed->streams.size(), 1u);
  req.limit = 51;
  EXPECT_THAT(logs_->DescribeLogStreams(Root(), req).error().message,
              HasSubstr("Member must have value less than or equal to 50"));
}

TEST_F(LogsTest, DescribeLogGroupsPrefixPatternAndPages) {
  for (const char* g : {"/ecs/web", "/ecs/api", "/other/Web"}) Group(g);
  DescribeLogGroupsRequest req;
  req.prefix = "/ecs/";
  auto ecs = logs_->DescribeLogGroups(Root(), req);
  ASSERT_TRUE(ecs) << ecs.error().message;
  ASSERT_EQ(ecs->groups.size(), 2u);
  EXPECT_EQ(ecs->groups[0].name, "/ecs/api");
  EXPECT_EQ(ecs->groups[0].arn, fmt::format("arn:aws:logs:{}:{}:log-group:/ecs/api:*", kEast, kA));
  EXPECT_EQ(ecs->groups[0].log_group_arn,
            fmt::format("arn:aws:logs:{}:{}:log-group:/ecs/api", kEast, kA));
  req.prefix.clear();
  req.pattern = "web";
  auto web = logs_->DescribeLogGroups(Root(), req);
  ASSERT_EQ(web->groups.size(), 2u);  // case-insensitive
  req.prefix = "/ecs";
  ExpectError(logs_->DescribeLogGroups(Root(), req).error(), "InvalidParameterException",
              "LogGroup name prefix and LogGroup name pattern are mutually exclusive "
              "parameters.");
  DescribeLogGroupsRequest paged;
  paged.limit = 2;
  auto p1 = logs_->DescribeLogGroups(Root(), paged);
  ASSERT_EQ(p1->groups.size(), 2u);
  ASSERT_FALSE(p1->next_token.empty());
  paged.next_token = p1->next_token;
  auto p2 = logs_->DescribeLogGroups(Root(), paged);
  ASSERT_EQ(p2->groups.size(), 1u);
  EXPECT_EQ(p2->groups[0].name, "/other/Web");
  EXPECT_TRUE(p2->next_token.empty());
  // Another account sees none of them.
  EXPECT_TRUE(logs_->DescribeLogGroups(Root(kB), {})->groups.empty());
}

TEST_F(LogsTest, TagsAndTagConditions) {
  Group("app");
  std::string arn = fmt::format("arn:aws:logs:{}:{}:log-group:app", kEast, kA);
  ASSERT_TRUE(logs_->TagResource(Root(), arn + ":*", {{"team", "red"}, {"env", "dev"}}));
  ASSERT_TRUE(logs_->UntagResource(Root(), arn, {"env"}));
  auto tags = logs_->ListTagsForResource(Root(), arn);
  ASSERT_TRUE(tags);
  EXPECT_EQ(*tags, (std::map<std::string, std::string>{{"team", "red"}}));
  EXPECT_EQ(logs_->TagResource(Root(), "arn:aws:s3:::bucket", {{"a", "b"}}).error().code,
            "InvalidParameterException");
  ExpectError(logs_->ListTagsForResource(Root(), arn + "x").error(), "ResourceNotFoundException",
              "The specified log group does not exist.");

  // aws:ResourceTag decides.
  auto ctx = Role(kA, "reader",
                  R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                      "Action":"logs:DescribeLogStreams","Resource":"*",
                      "Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}}]})");
  DescribeLogStreamsRequest req;
  req.group.name = "app";
  EXPECT_EQ(logs_->DescribeLogStreams(ctx, req).error().code, "AccessDeniedException");
  ASSERT_TRUE(logs_->TagResource(Root(), arn, {{"team", "blue"}}));
  EXPECT_TRUE(logs_->DescribeLogStreams(ctx, req));
}

TEST_F(LogsTest, RetentionDeletesEventsFromTheStore) {
  Group("app");
  Stream("app", "s");
  ASSERT_TRUE(Put("app", "s", {{kStartMs - 6 * kDay, "old"}}));
  ASSERT_TRUE(Put("app", "s", {{kStartMs - kHour, "new"}}));
  auto segments = [&] { return kv_->Range("logevents/seg/")->kvs.size(); };
  EXPECT_EQ(segments(), 2u);

  ExpectError(logs_->PutRetentionPolicy(Root(), "app", 2).error(), "InvalidParameterException",
              "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy "
              "constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, "
              "150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]");
  ASSERT_TRUE(logs_->PutRetentionPolicy(Root(), "app", 5));
  EXPECT_EQ(segments(), 1u);  // gone from the store at once
  EXPECT_THAT(Messages(Get("app", "s")->events), ElementsAre("new"));
  auto groups = logs_->DescribeLogGroups(Root(), {});
  EXPECT_EQ(groups->groups[0].retention_in_days, 5);

  // The sweep deletes what expires later.
  clock_.Advance(std::chrono::hours(24 * 5));
  auto swept = logs_->SweepRetention();
  ASSERT_TRUE(swept);
  EXPECT_EQ(*swept, 1);
  EXPECT_EQ(segments(), 0u);

  ASSERT_TRUE(logs_->DeleteRetentionPolicy(Root(), "app"));
  EXPECT_FALSE(logs_->DescribeLogGroups(Root(), {})->groups[0].retention_in_days);
  ExpectError(logs_->PutRetentionPolicy(Root(), "nope", 1).error(), "ResourceNotFoundException",
              "The specified log group does not exist.");
}

TEST_F(LogsTest, DeleteLogGroupDeletesItsStreamsAndEvents) {
  Group("app");
  Stream("app", "s");
  ASSERT_TRUE(Put("app", "s", {{kStartMs, "x"}}));
  ASSERT_TRUE(logs_->DeleteLogGroup(Root(), "app"));
  EXPECT_TRUE(kv_->Range("logevents/")->kvs.empty());
  EXPECT_TRUE(kv_->Range("logs/")->kvs.empty());
}

TEST_F(LogsTest, NothingOfAMessageIsStoredInPlaintext) {
  Group("app");
  Stream("app", "s");
  ASSERT_TRUE(Put("app", "s", {{kStartMs, "the-secret-line-xyzzy"}}));
  for (const char* prefix : {"logs/", "logevents/"}) {
    for (const auto& kv : kv_->Range(prefix)->kvs) {
      EXPECT_EQ(kv.value.find("xyzzy"), std::string::npos) << kv.key;
    }
  }
}

TEST_F(LogsTest, KmsGroupNeedsDecryptToRead) {
  auto key = kms_->CreateKey(kms::Caller{Root(), ""}, "logs key", "", {});
  ASSERT_TRUE(key);
  Group("secure", key->arn);
  auto groups = logs_->DescribeLogGroups(Root(), {});
  EXPECT_EQ(groups->groups[0].kms_key_id, key->arn);
  Stream("secure", "s");
  auto writer = Role(kA, "writer", Allow(R"(["logs:PutLogEvents","logs:GetLogEvents"])", R"("*")"));
  ASSERT_TRUE(Put("secure", "s", {{kStartMs, "sealed"}}, &writer));  // no KMS permission needed
  auto denied = Get("secure", "s", true, "", std::nullopt, &writer);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, "AccessDeniedException");
  EXPECT_THAT(denied.error().message, HasSubstr("kms:Decrypt"));
  EXPECT_THAT(Messages(Get("secure", "s")->events), ElementsAre("sealed"));  // root may
  // A disabled key: nobody reads.
  ASSERT_TRUE(kms_->DisableKey(kms::Caller{Root(), ""}, key->key_id));
  EXPECT_EQ(Get("secure", "s").error().code, "AccessDeniedException");
  EXPECT_TRUE(Put("secure", "s", {{kStartMs, "still written"}}));
}

TEST_F(LogsTest, WriterRoleCanWriteButNotReadOrDelete) {
  Group("task");
  auto ctx = Role(kA, "exec",
                  Allow(R"(["logs:CreateLogStream","logs:PutLogEvents"])",
                        fmt::format(R"("arn:aws:logs:{}:{}:log-group:task:*")", kEast, kA)));
  ASSERT_TRUE(logs_->CreateLogStream(ctx, "task", "c/1"));
  ASSERT_TRUE(Put("task", "c/1", {{kStartMs, "line"}}, &ctx));
  EXPECT_EQ(Get("task", "c/1", true, "", std::nullopt, &ctx).error().code, "AccessDeniedException");
  FilterLogEventsRequest filter;
  filter.group.name = "task";
  EXPECT_EQ(logs_->FilterLogEvents(ctx, filter).error().code, "AccessDeniedException");
  EXPECT_EQ(logs_->DeleteLogStream(ctx, "task", "c/1").error().code, "AccessDeniedException");
  EXPECT_EQ(logs_->DeleteLogGroup(ctx, "task").error().code, "AccessDeniedException");
  // Another group: not even a stream.
  Group("other");
  EXPECT_EQ(logs_->CreateLogStream(ctx, "other", "s").error().code, "AccessDeniedException");
}

TEST_F(LogsTest, AnotherAccountsGroupOnlyByArnAndWithAResourcePolicy) {
  Group("shared", "", kB);
  Stream("shared", "s", kB);
  auto b = Root(kB);
  ASSERT_TRUE(logs_->PutLogEvents(b, {"shared", "s", {{kStartMs, "from b"}}}));

  auto reader = Role(kA, "reader", Allow(R"("logs:GetLogEvents")", R"("*")"));
  GetLogEventsRequest req;
  req.stream = "s";
  req.group.name = "shared";  // a name means the caller's own account
  EXPECT_EQ(logs_->GetLogEvents(reader, req).error().code, "ResourceNotFoundException");
  req.group.name.clear();
  req.group.identifier = fmt::format("arn:aws:logs:{}:{}:log-group:shared", kEast, kB);
  EXPECT_EQ(logs_->GetLogEvents(reader, req).error().code, "AccessDeniedException");

  std::string policy =
      fmt::format(R"({{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",)"
                  R"("Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"logs:GetLogEvents",)"
                  R"("Resource":"arn:aws:logs:{}:{}:log-group:shared:*"}}]}})",
                  kA, kEast, kB);
  auto put = logs_->PutResourcePolicy(b, "share", policy);
  ASSERT_TRUE(put) << put.error().message;
  EXPECT_EQ(put->last_updated, kStartMs);
  auto got = logs_->GetLogEvents(reader, req);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_THAT(Messages(got->events), ElementsAre("from b"));
  EXPECT_EQ(logs_->DescribeResourcePolicies(b)->size(), 1u);

  ASSERT_TRUE(logs_->DeleteResourcePolicy(b, "share"));
  EXPECT_EQ(logs_->GetLogEvents(reader, req).error().code, "AccessDeniedException");
  ExpectError(logs_->DeleteResourcePolicy(b, "share").error(), "ResourceNotFoundException",
              "Policy with name [share] does not exist");
  EXPECT_EQ(logs_->PutResourcePolicy(b, "bad", "{").error().code, "InvalidParameterException");
}

}  // namespace
}  // namespace berth::logs
