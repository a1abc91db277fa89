// AcsSession against an in-process ACS fake (wsclient/fake_server.h), as src/server/acs.cc
// answers. Also wss:// with a certificate from crypto/.
#include "agent/acs/session.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "agent/wsclient/fake_server.h"
#include "common/json.h"
#include "crypto/tls_files.h"
#include "testing/temp_dir.h"

namespace berth::agent::acs {
namespace {

using namespace std::chrono_literals;
using json::Json;
using SteadyClock = std::chrono::steady_clock;

const std::string kCluster = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
const std::string kInstance = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/i1";
const std::string kTask1 = "arn:aws:ecs:us-east-1:123456789012:task/prod/t1";
const std::string kTask2 = "arn:aws:ecs:us-east-1:123456789012:task/prod/t2";

// The ACS fake: the websocket at /ws.
class FakeAcs : public wsclient::FakeSocketServer {
 public:
  explicit FakeAcs(const crypto::TlsFiles* tls = nullptr) : FakeSocketServer("", tls) {}

  AcsOptions Options(std::string scheme = "http") const {
    AcsOptions o;
    static_cast<wsclient::SessionOptions&>(o) = Session(kCluster, kInstance, scheme);
    return o;
  }
};

using wsclient::Eventually;

class RecordingHandler : public AcsHandler {
 public:
  bool OnTasks(const std::vector<spec::TaskSpec>& tasks) override {
    std::lock_guard lock(mu);
    for (const auto& t : tasks) task_order.push_back(t.arn + ":" + t.desired_status);
    return take;
  }
  void OnCredentials(const std::string& task_arn, const spec::RoleCredentials& c) override {
    std::lock_guard lock(mu);
    credentials.emplace_back(task_arn, c);
  }
  std::vector<std::string> ActiveTaskArns() override {
    std::lock_guard lock(mu);
    return active;
  }
  void OnStopTasks(const std::vector<std::string>& arns) override {
    std::lock_guard lock(mu);
    stopped.insert(stopped.end(), arns.begin(), arns.end());
    cv.notify_all();
  }
  void OnUnrecognizedTask(const std::string& arn, const Error& error) override {
    std::lock_guard lock(mu);
    unrecognized.emplace_back(arn, error.code);
  }

  std::mutex mu;
  std::condition_variable cv;
  bool take = true;
  std::vector<std::string> active;
  std::vector<std::string> task_order;
  std::vector<std::pair<std::string, spec::RoleCredentials>> credentials;
  std::vector<std::string> stopped;
  std::vector<std::pair<std::string, std::string>> unrecognized;
};

// A fake ACS, a handler, and the sessions a test starts (stopped first when it ends).
class AcsSessionTest : public ::testing::Test {
 protected:
  AcsSession& Start(AcsOptions options) {
    sessions_.push_back(std::make_unique<AcsSession>(std::move(options), handler));
    sessions_.back()->Start();
    return *sessions_.back();
  }

  FakeAcs acs;
  RecordingHandler handler;
  std::vector<std::unique_ptr<AcsSession>> sessions_;
};

Json Creds(const std::string& id) {
  return {{"credentialsId", id},   {"roleArn", "arn:aws:iam::123456789012:role/r"},
          {"accessKeyId", "ASIA"}, {"secretAccessKey", "s"},
          {"sessionToken", "t"},   {"expiration", "2030-01-01T00:00:00Z"}};
}

// What the agent answers: an AckRequest, and an IAMRoleCredentialsAckRequest for Creds(id).
std::pair<std::string, Json> Ack(const std::string& message_id) {
  return {"AckRequest",
          {{"cluster", kCluster}, {"containerInstance", kInstance}, {"messageId", message_id}}};
}
std::pair<std::string, Json> CredentialsAck(const std::string& message_id, const std::string& id) {
  return {
      "IAMRoleCredentialsAckRequest",
      {{"messageId", message_id}, {"expiration", "2030-01-01T00:00:00Z"}, {"credentialsId", id}}};
}

Json Payload(Json tasks, const std::string& id = "payload-1") {
  return {{"clusterArn", kCluster},    {"containerInstanceArn", kInstance},
          {"tasks", std::move(tasks)}, {"generatedAt", 1},
          {"messageId", id},           {"seqNum", 1}};
}

Json RunningTask() {
  return {{"arn", kTask1},
          {"desiredStatus", "RUNNING"},
          {"roleCredentials", Creds("app-1")},
          {"executionRoleCredentials", Creds("exec-1")},
          {"containers", {{{"name", "web"}, {"image", "busybox"}}}}};
}

TEST_F(AcsSessionTest, SignsTheUpgradeAndAcksAPayloadAndItsCredentials) {
  AcsSession& session = Start(acs.Options());
  ASSERT_TRUE(acs.WaitOpen(1));
  EXPECT_EQ(acs.queries()[0],
            "clusterArn=arn%3Aaws%3Aecs%3Aus-east-1%3A123456789012%3Acluster%2Fprod"
            "&containerInstanceArn=arn%3Aaws%3Aecs%3Aus-east-1%3A123456789012%3Acontainer-instance"
            "%2Fprod%2Fi1&agentVersion=1.89.0&agentHash=abc123&seqNum=1&protocolVersion=2"
            "&dockerVersion=DockerVersion%3A%20berth%200.1&sendCredentials=true");

  Json stop = {{"arn", kTask2}, {"desiredStatus", "STOPPED"}, {"containers", Json::array()}};
  acs.Send("PayloadMessage", Payload({stop, RunningTask()}));
  EXPECT_EQ(acs.Received(0), Ack("payload-1"));
  EXPECT_EQ(acs.Received(1), CredentialsAck("payload-1", "app-1"));
  EXPECT_EQ(acs.Received(2), CredentialsAck("payload-1", "exec-1"));
  std::lock_guard lock(handler.mu);
  // Tasks to run come before tasks to stop, as the ECS agent orders them.
  EXPECT_EQ(handler.task_order,
            (std::vector<std::string>{kTask1 + ":RUNNING", kTask2 + ":STOPPED"}));
  EXPECT_TRUE(session.Connected());
  EXPECT_EQ(session.Connections(), 1);  // the ack came after the session counted it
}

TEST_F(AcsSessionTest, APayloadNotAllTakenIsNotAckedAndHeartbeatsAreAcked) {
  handler.take = false;
  Start(acs.Options());
  ASSERT_TRUE(acs.WaitOpen(1));
  acs.Send("PayloadMessage", Payload({RunningTask()}));
  acs.Send("HeartbeatMessage", {{"healthy", true}, {"messageId", "hb-1"}});
  auto [type, message] = acs.Received(0);
  EXPECT_EQ(type, "HeartbeatAckRequest");
  EXPECT_EQ(message, (Json{{"messageId", "hb-1"}}));
  EXPECT_EQ(acs.ReceivedCount(), 1u);
}

TEST_F(AcsSessionTest, AnUnrecognizedTaskIsReportedAndTheRestHandedOn) {
  Start(acs.Options());
  ASSERT_TRUE(acs.WaitOpen(1));
  Json bad = {{"arn", kTask2}, {"containers", {{{"name", "web"}}}}};  // no image
  acs.Send("PayloadMessage", Payload({bad, RunningTask()}));
  EXPECT_EQ(acs.Received(0), Ack("payload-1"));
  std::lock_guard lock(handler.mu);
  EXPECT_EQ(handler.unrecognized,
            (std::vector<std::pair<std::string, std::string>>{{kTask2, "UnrecognizedTaskError"}}));
  EXPECT_EQ(handler.task_order, (std::vector<std::string>{kTask1 + ":RUNNING"}));
}

TEST_F(AcsSessionTest, RefreshedCredentialsAreHandedOnAndAcked) {
  Start(acs.Options());
  ASSERT_TRUE(acs.WaitOpen(1));
  acs.Send("IAMRoleCredentialsMessage", {{"taskArn", kTask1},
                                         {"taskClusterArn", kCluster},
                                         {"roleCredentials", Creds("exec-2")},
                                         {"roleType", "TaskExecution"},
                                         {"messageId", "cred-1"}});
  EXPECT_EQ(acs.Received(0), CredentialsAck("cred-1", "exec-2"));
  std::lock_guard lock(handler.mu);
  ASSERT_EQ(handler.credentials.size(), 1u);
  EXPECT_EQ(handler.credentials[0].first, kTask1);
  EXPECT_EQ(handler.credentials[0].second.credentials_id, "exec-2");
  EXPECT_EQ(handler.credentials[0].second.access_key_id, "ASIA");
  EXPECT_EQ(handler.credentials[0].second.role_type, "TaskExecution");
}

TEST_F(AcsSessionTest, AManifestLackingARunningTaskLeadsToStopVerificationAndStop) {
  handler.active = {kTask1, kTask2};
  Start(acs.Options());
  ASSERT_TRUE(acs.WaitOpen(1));
  acs.Send("TaskManifestMessage",
           {{"clusterArn", kCluster},
            {"containerInstanceArn", kInstance},
            {"tasks",
             {{{"taskArn", kTask1}, {"taskClusterArn", kCluster}, {"desiredStatus", "RUNNING"}}}},
            {"generatedAt", 1},
            {"messageId", "manifest-1"},
            {"timeline", 1}});
  EXPECT_EQ(acs.Received(0), Ack("manifest-1"));
  auto [t1, verify] = acs.Received(1);
  EXPECT_EQ(t1, "TaskStopVerificationMessage");
  EXPECT_EQ(
      verify,
      (Json{
          {"messageId", "manifest-1"},
          {"stopCandidates",
           {{{"taskArn", kTask2}, {"taskClusterArn", kCluster}, {"desiredStatus", "STOPPED"}}}}}));
  acs.Send(
      "TaskStopVerificationAck",
      {{"generatedAt", 2}, {"messageId", "manifest-1"}, {"stopTasks", {{{"taskArn", kTask2}}}}});
  std::unique_lock lock(handler.mu);
  handler.cv.wait_for(lock, 5s, [&] { return !handler.stopped.empty(); });
  EXPECT_EQ(handler.stopped, (std::vector<std::string>{kTask2}));
}

TEST_F(AcsSessionTest, ADroppedConnectionIsReopenedWithoutCredentials) {
  AcsSession& session = Start(acs.Options());
  ASSERT_TRUE(acs.WaitOpen(1));
  acs.CloseNewest();
  ASSERT_TRUE(acs.WaitOpen(2));
  EXPECT_TRUE(Eventually([&] { return session.Connections() == 2; })) << session.Connections();
  auto queries = acs.queries();
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_TRUE(queries[0].ends_with("&sendCredentials=true"));
  EXPECT_TRUE(queries[1].ends_with("&sendCredentials=false"));
  // The new connection works.
  acs.Send("HeartbeatMessage", {{"healthy", true}, {"messageId", "hb-2"}});
  EXPECT_EQ(acs.Received(0).second, (Json{{"messageId", "hb-2"}}));
}

TEST_F(AcsSessionTest, ASilentConnectionIsClosedAfterTheHeartbeatTimeout) {
  AcsOptions options = acs.Options();
  options.heartbeat_timeout = 300ms;
  AcsSession& session = Start(options);
  ASSERT_TRUE(acs.WaitOpen(1));
  EXPECT_EQ(acs.WaitClosed(1), 1000);  // the agent closed it cleanly
  ASSERT_TRUE(acs.WaitOpen(2));
  EXPECT_TRUE(Eventually([&] { return session.Connections() >= 2; }));
}

TEST_F(AcsSessionTest, StopReturnsPromptlyWhileWaitingForMessages) {
  AcsSession& session = Start(acs.Options());
  ASSERT_TRUE(acs.WaitOpen(1));
  ASSERT_TRUE(Eventually([&] { return session.Connected(); }));  // blocked in Receive
  auto start = SteadyClock::now();
  session.Stop();
  EXPECT_LT(SteadyClock::now() - start, 1s);
  EXPECT_FALSE(session.Connected());
  EXPECT_EQ(acs.WaitClosed(1), 1000);
}

TEST_F(AcsSessionTest, ARefusedUpgradeIsRetriedAndNeverCountsAsAConnection) {
  AcsOptions options = acs.Options();
  options.credentials.secret_access_key = "wrong";
  AcsSession& session = Start(options);
  EXPECT_GE(acs.WaitRefused(3), 3);
  EXPECT_EQ(session.Connections(), 0);
  EXPECT_FALSE(session.Connected());
  auto start = SteadyClock::now();
  session.Stop();
  EXPECT_LT(SteadyClock::now() - start, 1s);
}

TEST(AcsSession, ConnectsOverTlsTrustingTheCaFileOnly) {
  test_support::TempDir dir;
  auto files = crypto::EnsureTlsFiles(dir.File("tls"), {"127.0.0.1", "localhost"},
                                      SystemClock::Instance().Now());
  ASSERT_TRUE(files.has_value()) << files.error().message;
  FakeAcs acs(&*files);
  RecordingHandler handler;

  AcsOptions untrusted = acs.Options("https");
  AcsSession refused(untrusted, handler);
  refused.Start();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(refused.Connections(), 0);  // the certificate is not trusted without the CA file
  EXPECT_EQ(acs.Upgrades(), 0u);
  refused.Stop();

  AcsOptions trusted = acs.Options("https");
  trusted.ca_file = files->ca_file;
  AcsSession session(trusted, handler);
  session.Start();
  ASSERT_TRUE(acs.WaitOpen(1));
  acs.Send("HeartbeatMessage", {{"healthy", true}, {"messageId", "hb-tls"}});
  EXPECT_EQ(acs.Received(0),
            (std::pair<std::string, Json>{"HeartbeatAckRequest", {{"messageId", "hb-tls"}}}));
}

}  // namespace
}  // namespace berth::agent::acs
