// EcsClient against an in-process fake ECS endpoint (http::Server) that checks
// each call's SigV4 signature (service "ecs") and records its target and body.
#include "agent/acs/ecs_client.h"

#include <gtest/gtest.h>

#include <mutex>

#include "aws/fake_json_endpoint.h"
#include "common/json.h"

namespace berth::agent::acs {
namespace {

using json::Json;

struct Call {
  std::string target;
  Json body;
};

class FakeEcs {
 public:
  FakeEcs()
      : endpoint_("ecs", "us-east-1", "AKIDAGENT", "agent-secret",
                  [this](const std::string& op, const std::string&) { return Reply(op); }) {
    EXPECT_TRUE(endpoint_.started());
  }

  EcsClientOptions Options() const {
    return {.endpoint = endpoint_.endpoint(),
            .region = "us-east-1",
            .credentials = {.access_key_id = "AKIDAGENT", .secret_access_key = "agent-secret"}};
  }

  // The reply to the next call of `op` (the JSON body; status 200).
  void Answer(const std::string& op, Json body, int status = 200) {
    std::lock_guard lock(mu_);
    answers_[op] = {status, json::Dump(body)};
  }
  std::vector<Call> calls() {
    std::vector<Call> calls;
    for (const auto& c : endpoint_.calls()) calls.push_back({c.target, Json::parse(c.body)});
    return calls;
  }

 private:
  std::pair<int, std::string> Reply(const std::string& op) {
    std::lock_guard lock(mu_);
    auto it = answers_.find(op);
    if (it == answers_.end()) return {400, R"({"__type":"ClientException","message":"?"})"};
    return it->second;
  }

  std::mutex mu_;
  std::map<std::string, std::pair<int, std::string>> answers_;
  aws::testing::FakeJsonEndpoint endpoint_;  // last: its thread calls Reply
};

const std::string kInstanceArn = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/abc";
const std::string kClusterArn = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

Registration Host() {
  Registration r;
  r.cluster = "prod";
  r.cpu_units = 4096;
  r.memory_mib = 7680;
  r.reserved_ports = {22, 2375};
  r.reserved_udp_ports = {};
  r.agent_version = "1.89.0";
  r.agent_hash = "abcdef";
  r.docker_version = "berth 0.1";
  r.attributes = {{"ecs.os-type", "linux"},
                  {"ecs.capability.private-registry-authentication.secretsmanager", ""}};
  return r;
}

Json Instance(Json attributes) {
  return {{"containerInstance",
           {{"containerInstanceArn", kInstanceArn},
            {"status", "ACTIVE"},
            {"attributes", std::move(attributes)}}}};
}

Json EchoedAttributes() {
  return Json::array({{{"name", "ecs.os-type"}, {"value", "linux"}},
                      {{"name", "ecs.capability.private-registry-authentication.secretsmanager"}},
                      {{"name", "ecs.availability-zone"}, {"value", "local"}}});
}

TEST(EcsClient, RegisterSendsResourcesVersionsAndAttributesAsTheAgentDoes) {
  FakeEcs ecs;
  ecs.Answer("RegisterContainerInstance", Instance(EchoedAttributes()));
  EcsClient client(ecs.Options());
  auto registered = client.RegisterContainerInstance(Host());
  ASSERT_TRUE(registered.has_value()) << registered.error().message;
  EXPECT_EQ(registered->container_instance_arn, kInstanceArn);
  EXPECT_EQ(registered->cluster_arn, kClusterArn);

  auto calls = ecs.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].target, "AmazonEC2ContainerServiceV20141113.RegisterContainerInstance");
  Json expected = {
      {"cluster", "prod"},
      {"totalResources",
       {{{"name", "CPU"}, {"type", "INTEGER"}, {"integerValue", 4096}},
        {{"name", "MEMORY"}, {"type", "INTEGER"}, {"integerValue", 7680}},
        {{"name", "PORTS"}, {"type", "STRINGSET"}, {"stringSetValue", {"22", "2375"}}},
        {{"name", "PORTS_UDP"}, {"type", "STRINGSET"}, {"stringSetValue", Json::array()}}}},
      {"versionInfo",
       {{"agentVersion", "1.89.0"}, {"agentHash", "abcdef"}, {"dockerVersion", "berth 0.1"}}},
      {"attributes",
       {{{"name", "ecs.os-type"}, {"value", "linux"}},
        {{"name", "ecs.capability.private-registry-authentication.secretsmanager"}}}}};
  EXPECT_EQ(calls[0].body, expected) << calls[0].body.dump();
}

TEST(EcsClient, ReRegisteringSendsTheInstanceArn) {
  FakeEcs ecs;
  ecs.Answer("RegisterContainerInstance", Instance(EchoedAttributes()));
  EcsClient client(ecs.Options());
  Registration again = Host();
  again.container_instance_arn = kInstanceArn;
  ASSERT_TRUE(client.RegisterContainerInstance(again).has_value());
  EXPECT_EQ(ecs.calls()[0].body["containerInstanceArn"], kInstanceArn);
}

TEST(EcsClient, AnAttributeNotEchoedBackIsAnAttributeError) {
  FakeEcs ecs;
  EcsClient client(ecs.Options());
  ecs.Answer(
      "RegisterContainerInstance",
      Instance({{{"name", "ecs.os-type"}, {"value", "windows"}},
                {{"name", "ecs.capability.private-registry-authentication.secretsmanager"}}}));
  auto changed = client.RegisterContainerInstance(Host());
  ASSERT_FALSE(changed.has_value());
  EXPECT_EQ(changed.error().code, "AttributeError");
  EXPECT_EQ(changed.error().message,
            "Attribute 'ecs.os-type' was registered as 'windows', expected 'linux'");

  ecs.Answer("RegisterContainerInstance",
             Instance({{{"name", "ecs.os-type"}, {"value", "linux"}}}));
  auto missing = client.RegisterContainerInstance(Host());
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, "AttributeError");
  EXPECT_EQ(missing.error().message,
            "Attribute 'ecs.capability.private-registry-authentication.secretsmanager' is missing "
            "from the registered container instance");
}

TEST(EcsClient, ServiceErrorsKeepTheirCode) {
  FakeEcs ecs;
  ecs.Answer("RegisterContainerInstance",
             {{"__type", "ClusterNotFoundException"}, {"message", "Cluster not found."}}, 400);
  EcsClient client(ecs.Options());
  auto failed = client.RegisterContainerInstance(Host());
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, "ClusterNotFoundException");
  EXPECT_EQ(failed.error().message, "Cluster not found.");
  EXPECT_EQ(failed.error().http_status, 400);

  EcsClientOptions wrong = ecs.Options();
  wrong.credentials.secret_access_key = "not-it";
  auto unsigned_call = EcsClient(wrong).CreateCluster("prod");
  ASSERT_FALSE(unsigned_call.has_value());
  EXPECT_EQ(unsigned_call.error().code, "InvalidSignatureException");
}

TEST(EcsClient, CreateClusterAndDiscoverPollEndpoint) {
  FakeEcs ecs;
  ecs.Answer("CreateCluster", {{"cluster", {{"clusterArn", kClusterArn}, {"status", "ACTIVE"}}}});
  ecs.Answer("DiscoverPollEndpoint", {{"endpoint", "https://127.0.0.1:4566"},
                                      {"telemetryEndpoint", "https://127.0.0.1:4566/tcs"}});
  EcsClient client(ecs.Options());
  EXPECT_EQ(*client.CreateCluster("prod"), kClusterArn);
  auto endpoints = client.DiscoverPollEndpoint(kClusterArn, kInstanceArn);
  ASSERT_TRUE(endpoints.has_value()) << endpoints.error().message;
  EXPECT_EQ(endpoints->endpoint, "https://127.0.0.1:4566");
  EXPECT_EQ(endpoints->telemetry_endpoint, "https://127.0.0.1:4566/tcs");
  auto calls = ecs.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].target, "AmazonEC2ContainerServiceV20141113.CreateCluster");
  EXPECT_EQ(calls[0].body, (Json{{"clusterName", "prod"}}));
  EXPECT_EQ(calls[1].target, "AmazonEC2ContainerServiceV20141113.DiscoverPollEndpoint");
  EXPECT_EQ(calls[1].body, (Json{{"cluster", kClusterArn}, {"containerInstance", kInstanceArn}}));

  ecs.Answer("DiscoverPollEndpoint", {{"endpoint", "https://127.0.0.1:4566"}});
  auto acs_only = client.DiscoverPollEndpoint(kClusterArn, kInstanceArn);
  ASSERT_TRUE(acs_only.has_value()) << acs_only.error().message;
  EXPECT_EQ(acs_only->telemetry_endpoint, "");

  ecs.Answer("DiscoverPollEndpoint", Json::object());
  auto none = client.DiscoverPollEndpoint(kClusterArn, kInstanceArn);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, "InvalidResponse");
}

TEST(EcsClient, SubmitTaskStateChangeSendsTheModelsShapeWithTheAgentsCuts) {
  FakeEcs ecs;
  ecs.Answer("SubmitTaskStateChange", {{"acknowledgment", "true"}});
  EcsClient client(ecs.Options());
  spec::TaskStateChange change;
  change.cluster = kClusterArn;
  change.task_arn = "arn:aws:ecs:us-east-1:123456789012:task/prod/t1";
  change.status = "STOPPED";
  change.reason = "Essential container in task exited" + std::string(2000, '.');
  spec::ContainerStateChange web;
  web.container_name = "web";
  web.status = "STOPPED";
  web.image_digest = "sha256:" + std::string(64, 'a');
  web.runtime_id = std::string(300, 'r');
  web.exit_code = 137;
  web.reason = std::string(1023, 'x') + "\u00e9";  // a cut mid-character drops it
  web.network_bindings = {{"0.0.0.0", 8080, 32768, "tcp"}};
  spec::ContainerStateChange sidecar;
  sidecar.container_name = "log";
  sidecar.status = "RUNNING";
  change.containers = {web, sidecar};
  change.pull_started_at = TimePoint(std::chrono::milliseconds(1'700'000'000'250));
  change.pull_stopped_at = TimePoint(std::chrono::seconds(1'700'000'001));
  change.execution_stopped_at = TimePoint(std::chrono::seconds(1'700'000'100));
  ASSERT_TRUE(client.SubmitTaskStateChange(change).has_value());

  auto calls = ecs.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].target, "AmazonEC2ContainerServiceV20141113.SubmitTaskStateChange");
  Json expected = {{"cluster", kClusterArn},
                   {"task", change.task_arn},
                   {"status", "STOPPED"},
                   {"reason", change.reason.substr(0, 1024)},
                   {"containers",
                    {{{"containerName", "web"},
                      {"status", "STOPPED"},
                      {"imageDigest", web.image_digest},
                      {"runtimeId", std::string(255, 'r')},
                      {"exitCode", 137},
                      {"reason", std::string(1023, 'x')},
                      {"networkBindings",
                       {{{"bindIP", "0.0.0.0"},
                         {"containerPort", 8080},
                         {"hostPort", 32768},
                         {"protocol", "tcp"}}}}},
                     {{"containerName", "log"}, {"status", "RUNNING"}}}},
                   {"pullStoppedAt", 1'700'000'001.0},
                   {"executionStoppedAt", 1'700'000'100.0}};
  Json body = calls[0].body;
  ASSERT_TRUE(body["pullStartedAt"].is_number());  // epoch seconds with their fraction
  EXPECT_NEAR(body["pullStartedAt"].get<double>(), 1'700'000'000.25, 1e-3);
  body.erase("pullStartedAt");
  EXPECT_EQ(body, expected) << body.dump();
}

}  // namespace
}  // namespace berth::agent::acs
