// TcsSession against an in-process TCS fake (wsclient/fake_server.h) at /tcs/ws, as
// src/server answers: the signed upgrade, PublishHealthRequest's exact shape, when it is
// sent (connect, change, period), heartbeats, and what is never logged.
#include "agent/tcs/session.h"

#include <gtest/gtest.h>

#include <thread>

#include <mutex>

#include "agent/wsclient/fake_server.h"
#include "common/json.h"
#include "common/log.h"

namespace berth::agent::tcs {
namespace {

using namespace std::chrono_literals;
using json::Json;
using wsclient::Eventually;

const std::string kCluster = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
const std::string kInstance = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/i1";
const std::string kTask = "arn:aws:ecs:us-east-1:123456789012:task/prod/t1";

// Now, to the second (so SigV4 still verifies and timestamps are exact).
TimePoint WholeSecondNow() {
  return TimePoint(std::chrono::duration_cast<std::chrono::seconds>(
      SystemClock::Instance().Now().time_since_epoch()));
}

class TcsSessionTest : public ::testing::Test {
 protected:
  TcsSessionTest() : clock_(WholeSecondNow()) {
    web_.container_name = "web";
    web_.health_status = "HEALTHY";
    web_.status_since = clock_.Now() - 90s + 250ms;
    web_.status_message = "ok";
    task_.task_arn = kTask;
    task_.cluster_arn = kCluster;
    task_.family = "shop";
    task_.version = "3";
    task_.containers = {web_};
    tasks_ = {task_};
  }

  TcsOptions Options() const {
    TcsOptions o;
    static_cast<wsclient::SessionOptions&>(o) = tcs_.Session(kCluster, kInstance);
    o.publish_interval = 1h;
    o.heartbeat_interval = 1h;
    return o;
  }

  TcsSession& Start(TcsOptions options) {
    session_ = std::make_unique<TcsSession>(
        std::move(options),
        [this] {
          std::lock_guard lock(mu_);
          ++health_calls_;
          return tasks_;
        },
        clock_);
    session_->Start();
    return *session_;
  }

  void SetHealth(std::vector<spec::TaskHealth> tasks) {
    std::lock_guard lock(mu_);
    tasks_ = std::move(tasks);
  }

  // The types of the messages the agent sent so far.
  std::vector<std::string> Types() {
    std::vector<std::string> types;
    for (size_t i = 0, n = tcs_.ReceivedCount(); i < n; ++i) {
      types.push_back(tcs_.Received(i).first);
    }
    return types;
  }

  // A PublishHealthRequest of `tasks_` with messageId `id`, sent at the clock's time.
  Json Expected(const std::string& id) const {
    return {{"metadata",
             {{"cluster", kCluster},
              {"containerInstance", kInstance},
              {"messageId", id},
              {"fin", true}}},
            {"tasks",
             {{{"taskArn", kTask},
               {"clusterArn", kCluster},
               {"taskDefinitionFamily", "shop"},
               {"taskDefinitionVersion", "3"},
               {"containers",
                {{{"containerName", "web"},
                  {"healthStatus", "HEALTHY"},
                  {"statusSince", ToEpochSeconds(web_.status_since)},
                  {"statusMessage", "ok"}}}}}}},
            {"timestamp", ToEpochSeconds(clock_.Now())}};
  }

  FakeClock clock_;
  wsclient::FakeSocketServer tcs_{"/tcs"};
  spec::ContainerHealth web_;
  spec::TaskHealth task_;
  std::mutex mu_;
  std::vector<spec::TaskHealth> tasks_;
  int health_calls_ = 0;
  std::unique_ptr<TcsSession> session_;  // stopped before the server goes
};

TEST_F(TcsSessionTest, SignsTheUpgradeAndPublishesTheFullStateOnConnect) {
  TcsSession& session = Start(Options());
  ASSERT_TRUE(tcs_.WaitOpen(1));
  EXPECT_EQ(tcs_.paths(), std::vector<std::string>{"/tcs/ws"});
  EXPECT_EQ(tcs_.queries()[0],
            "cluster=arn%3Aaws%3Aecs%3Aus-east-1%3A123456789012%3Acluster%2Fprod"
            "&containerInstance=arn%3Aaws%3Aecs%3Aus-east-1%3A123456789012%3Acontainer-instance"
            "%2Fprod%2Fi1&agentVersion=1.89.0&agentHash=abc123"
            "&dockerVersion=DockerVersion%3A%20berth%200.1");
  auto [type, message] = tcs_.Received(0);
  ASSERT_EQ(type, "PublishHealthRequest");
  std::string id = message["metadata"]["messageId"].get<std::string>();
  EXPECT_EQ(id.size(), 36u) << id;  // a UUID
  EXPECT_EQ(message, Expected(id));
  EXPECT_TRUE(Eventually([&] { return session.Connected() && session.Connections() == 1; }));

  // Each publish has a fresh messageId.
  session.Notify();
  auto [type2, message2] = tcs_.Received(1);
  ASSERT_EQ(type2, "PublishHealthRequest");
  EXPECT_NE(message2["metadata"]["messageId"], id);
}

TEST_F(TcsSessionTest, AChangeIsPublishedWithinASecondAndABurstMakesOnePublish) {
  TcsSession& session = Start(Options());
  ASSERT_EQ(tcs_.Received(0).first, "PublishHealthRequest");
  tcs_.Send("AckPublishHealth", {{"message", ""}});

  web_.health_status = "UNHEALTHY";
  web_.status_since = clock_.Now();
  web_.status_message = "connection refused";
  task_.containers = {web_};
  SetHealth({task_});
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) session.Notify();
  auto [type, message] = tcs_.Received(1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  ASSERT_EQ(type, "PublishHealthRequest");
  EXPECT_EQ(message["tasks"][0]["containers"][0],
            (Json{{"containerName", "web"},
                  {"healthStatus", "UNHEALTHY"},
                  {"statusSince", ToEpochSeconds(clock_.Now())},
                  {"statusMessage", "connection refused"}}));
  std::this_thread::sleep_for(700ms);  // longer than the coalescing window
  EXPECT_EQ(tcs_.ReceivedCount(), 2u);
}

TEST_F(TcsSessionTest, PublishesPeriodicallyAndSendsHeartbeats) {
  TcsOptions options = Options();
  options.publish_interval = 100ms;
  options.heartbeat_interval = 150ms;
  Start(options);
  ASSERT_TRUE(Eventually([&] {
    auto types = Types();
    return std::count(types.begin(), types.end(), "PublishHealthRequest") >= 4 &&
           std::count(types.begin(), types.end(), "HeartbeatMessage") >= 2;
  }));
  for (size_t i = 0; i < tcs_.ReceivedCount(); ++i) {
    auto [type, message] = tcs_.Received(i);
    if (type == "HeartbeatMessage") {
      EXPECT_EQ(message, (Json{{"healthy", true}}));
    }
  }
}

TEST_F(TcsSessionTest, NothingIsPublishedWithoutTasksToReportButHeartbeatsGoOn) {
  SetHealth({});
  TcsOptions options = Options();
  options.publish_interval = 50ms;
  options.heartbeat_interval = 100ms;
  TcsSession& session = Start(options);
  ASSERT_TRUE(tcs_.WaitOpen(1));
  session.Notify();
  ASSERT_TRUE(Eventually([&] { return tcs_.ReceivedCount() >= 3; }));
  for (const std::string& type : Types()) EXPECT_EQ(type, "HeartbeatMessage");
  EXPECT_TRUE(Eventually([&] {
    std::lock_guard lock(mu_);
    return health_calls_ >= 3;  // it asked each period
  }));
}

TEST_F(TcsSessionTest, AReconnectPublishesTheFullStateAgain) {
  TcsSession& session = Start(Options());
  ASSERT_EQ(tcs_.Received(0).first, "PublishHealthRequest");
  tcs_.CloseNewest();
  ASSERT_TRUE(tcs_.WaitOpen(2));
  auto [type, message] = tcs_.Received(1);
  ASSERT_EQ(type, "PublishHealthRequest");
  EXPECT_EQ(message, Expected(message["metadata"]["messageId"].get<std::string>()));
  EXPECT_TRUE(Eventually([&] { return session.Connections() == 2; }));
  EXPECT_EQ(tcs_.paths().size(), 2u);
}

// A connection that takes the publishes and never answers (half-open, or a stuck server) is
// given up: health must reach the server, not the kernel's send buffer.
TEST_F(TcsSessionTest, APublishNeverAcknowledgedMakesTheSessionReconnect) {
  TcsOptions options = Options();
  options.ack_timeout = 200ms;
  TcsSession& session = Start(options);
  ASSERT_EQ(tcs_.Received(0).first, "PublishHealthRequest");
  ASSERT_TRUE(tcs_.WaitOpen(2));
  EXPECT_EQ(tcs_.Received(1).first, "PublishHealthRequest");  // the full state again
  EXPECT_TRUE(Eventually([&] { return session.Connections() >= 2; }));
}

TEST_F(TcsSessionTest, AcknowledgedPublishesKeepTheConnection) {
  TcsOptions options = Options();
  options.publish_interval = 50ms;
  options.ack_timeout = 300ms;
  TcsSession& session = Start(options);
  size_t acked = 0;
  auto until = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < until) {
    size_t n = tcs_.ReceivedCount();
    for (; acked < n; ++acked) tcs_.Send("AckPublishHealth", Json::object());
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GE(acked, 10u);
  EXPECT_EQ(session.Connections(), 1);
}

TEST_F(TcsSessionTest, AStatusMessageIsCutTo255BytesAndOmittedWhenEmpty) {
  spec::ContainerHealth quiet = web_;
  quiet.container_name = "quiet";
  quiet.status_message = "";
  web_.status_message = std::string(254, 'x') + "\u00e9";  // a cut mid-character drops it
  task_.containers = {web_, quiet};
  SetHealth({task_});
  Start(Options());
  auto [type, message] = tcs_.Received(0);
  ASSERT_EQ(type, "PublishHealthRequest");
  Json containers = message["tasks"][0]["containers"];
  ASSERT_EQ(containers.size(), 2u);
  EXPECT_EQ(containers[0]["statusMessage"], std::string(254, 'x'));
  EXPECT_FALSE(containers[1].contains("statusMessage"));
}

TEST_F(TcsSessionTest, NeverLogsCredentialsOrProbeOutput) {
  log::Init(log::Format::kText, log::Level::kDebug);
  web_.status_message = "token=probe-s3cr3t";
  task_.containers = {web_};
  SetHealth({task_});
  ::testing::internal::CaptureStderr();
  {
    TcsOptions refused = Options();
    refused.credentials.secret_access_key = "wrong-secret";
    TcsSession session(refused, [this] { return tasks_; }, clock_);
    session.Start();
    EXPECT_GE(tcs_.WaitRefused(1), 1);
    session.Stop();
  }
  TcsSession& session = Start(Options());
  ASSERT_EQ(tcs_.Received(0).first, "PublishHealthRequest");
  tcs_.Send("AckPublishHealth", {{"message", ""}});
  tcs_.Send("ServerException", {{"message", "boom"}});
  tcs_.CloseNewest();
  ASSERT_TRUE(tcs_.WaitOpen(2));
  ASSERT_EQ(tcs_.Received(1).first, "PublishHealthRequest");
  session.Stop();
  std::string logged = ::testing::internal::GetCapturedStderr();
  log::Init(log::Format::kText, log::Level::kInfo);
  EXPECT_NE(logged.find("tcs: connected"), std::string::npos) << logged;
  EXPECT_NE(logged.find("tcs: health published"), std::string::npos) << logged;
  EXPECT_NE(
      logged.find("tcs: the server refused a message type=ServerException message=boom"),
      std::string::npos)
      << logged;
  for (const char* secret : {"agent-secret", "wrong-secret", "probe-s3cr3t"}) {
    EXPECT_EQ(logged.find(secret), std::string::npos) << secret << " in " << logged;
  }
}

TEST(TcsSession, AnEndpointThatIsNotHttpNeverConnects) {
  TcsOptions options;
  options.endpoint = "ftp://127.0.0.1:1/tcs";
  options.backoff_min = 10ms;
  TcsSession session(options, [] { return std::vector<spec::TaskHealth>{}; });
  session.Start();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(session.Connections(), 0);
  session.Stop();
}

}  // namespace
}  // namespace berth::agent::tcs
