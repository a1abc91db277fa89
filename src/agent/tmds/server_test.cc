#include "agent/tmds/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "agent/tmds/documents.h"
#include "http/client.h"

namespace berth::agent::tmds {
namespace {

using namespace std::chrono_literals;

constexpr char kTaskArn[] =
    "arn:aws:ecs:us-east-1:000000000000:task/c1/0123456789abcdef0123456789abcdef";
constexpr char kCredsBody[] =
    R"({"RoleArn":"arn:aws:iam::000000000000:role/app","AccessKeyId":"ASIAEXAMPLE",)"
    R"("SecretAccessKey":"s3cr3t","Token":"tok","Expiration":"2026-11-26T17:55:06Z"})";

spec::RoleCredentials Creds(std::string id = "creds-1") {
  spec::RoleCredentials c;
  c.credentials_id = std::move(id);
  c.role_arn = "arn:aws:iam::000000000000:role/app";
  c.access_key_id = "ASIAEXAMPLE";
  c.secret_access_key = "s3cr3t";
  c.session_token = "tok";
  c.expiration = "2026-11-26T17:55:06Z";
  c.role_type = "TaskApplication";
  return c;
}

TimePoint At(int64_t unix_seconds, int64_t nanos = 0) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::seconds(unix_seconds) + std::chrono::nanoseconds(nanos)));
}

TaskMetadata Task(std::string arn = kTaskArn, std::string ipv4 = "") {
  TaskMetadata t;
  t.cluster = "arn:aws:ecs:us-east-1:000000000000:cluster/c1";
  t.task_arn = std::move(arn);
  t.family = "web";
  t.revision = "3";
  t.desired_status = "RUNNING";
  t.known_status = "RUNNING";
  t.launch_type = "EC2";
  t.network_mode = ipv4.empty() ? "host" : "bridge";
  t.ipv4 = std::move(ipv4);
  t.cpu = 0.25;
  t.memory_mib = 512;
  t.pull_started_at = At(1'800'000'000, 120'000'000);
  t.pull_stopped_at = At(1'800'000'001);
  t.availability_zone = "us-east-1a";
  ContainerMetadata c;
  c.endpoint_id = "ep-" + t.task_arn.substr(t.task_arn.size() - 4);
  c.name = "app";
  c.runtime_id = "rt-1";
  c.image = "nginx:1";
  c.image_digest = "sha256:abc";
  c.desired_status = "RUNNING";
  c.known_status = "RUNNING";
  c.cpu = 128;
  c.memory_mib = 256;
  c.created_at = At(1'800'000'002, 620'912'337);
  c.started_at = At(1'800'000'003);
  c.labels = {{"com.amazonaws.ecs.container-name", "app"}};
  c.ports = {{"0.0.0.0", 80, 32768, "tcp"}};
  c.container_arn = "arn:aws:ecs:us-east-1:000000000000:container/c1/x/y";
  t.containers.push_back(c);
  return t;
}

class MetadataServerTest : public testing::Test {
 protected:
  void SetUp() override {
    auto started = MetadataServer::Start("127.0.0.1:0");
    ASSERT_TRUE(started.has_value()) << started.error().message;
    server_ = std::move(*started);
  }

  http::ClientResponse Get(const std::string& path, const std::string& method = "GET") {
    http::ClientRequest request;
    request.method = method;
    request.url = "http://" + server_->Address() + path;
    auto res = client_.Send(request);
    EXPECT_TRUE(res.has_value()) << res.error().message;
    return res.value_or(http::ClientResponse{});
  }

  // GETs `path` and expects exactly this status and body.
  void Expect(const std::string& path, int status, std::string_view body) {
    auto res = Get(path);
    EXPECT_EQ(res.status, status) << path;
    EXPECT_EQ(res.body, body) << path;
  }

  std::unique_ptr<MetadataServer> server_;
  http::Client client_;
};

TEST_F(MetadataServerTest, ServesAHostTasksCredentialsOnV2AndV1) {
  server_->PutTask(Task());
  server_->PutCredentials(kTaskArn, Creds());
  Expect("/v2/credentials/creds-1", 200, kCredsBody);
  EXPECT_EQ(Get("/v2/credentials/creds-1").HeaderOr("content-type"), "application/json");
  Expect("/v1/credentials?id=creds-1", 200, kCredsBody);
}

TEST_F(MetadataServerTest, MissingIdIsNoIdInRequest) {
  constexpr char kNoId[] =
      R"({"code":"NoIdInRequest","message":"CredentialsV%cRequest: No Credential ID in the request"})";
  std::string v2 = kNoId, v1 = kNoId;
  v2.replace(v2.find("%c"), 2, "2");
  v1.replace(v1.find("%c"), 2, "1");
  for (const char* path : {"/v2/credentials", "/v2/credentials/"}) Expect(path, 400, v2);
  for (const char* path : {"/v1/credentials", "/v1/credentials?id="}) Expect(path, 400, v1);
}

constexpr char kV2NotFound[] =
    R"({"code":"InvalidIdInRequest","message":"CredentialsV2Request: Credentials not found"})";
constexpr char kV1NotFound[] =
    R"({"code":"InvalidIdInRequest","message":"CredentialsV1Request: Credentials not found"})";

TEST_F(MetadataServerTest, UnknownIdIsInvalidIdInRequest) {
  server_->PutTask(Task());
  server_->PutCredentials(kTaskArn, Creds());
  Expect("/v2/credentials/other", 400, kV2NotFound);
  Expect("/v1/credentials?id=other", 400, kV1NotFound);
}

TEST_F(MetadataServerTest, NeverServesExecutionRoleCredentials) {
  server_->PutTask(Task());
  spec::RoleCredentials exec = Creds("exec-1");
  exec.role_type = "TaskExecution";
  server_->PutCredentials(kTaskArn, exec);
  Expect("/v2/credentials/exec-1", 400, kV2NotFound);
}

TEST_F(MetadataServerTest, CredentialsNeedTheirTaskPut) {
  server_->PutCredentials(kTaskArn, Creds());
  EXPECT_EQ(Get("/v2/credentials/creds-1").body, kV2NotFound);
  server_->PutTask(Task());
  EXPECT_EQ(Get("/v2/credentials/creds-1").body, kCredsBody);
}

TEST_F(MetadataServerTest, RefreshReplacesTheTasksCredentials) {
  server_->PutTask(Task());
  server_->PutCredentials(kTaskArn, Creds("creds-1"));
  server_->PutCredentials(kTaskArn, Creds("creds-2"));
  EXPECT_EQ(Get("/v2/credentials/creds-1").body, kV2NotFound);
  EXPECT_EQ(Get("/v2/credentials/creds-2").body, kCredsBody);
}

constexpr char kContainerNotFound[] =
    "\"V4 container metadata handler: unable to get container ID from request: unable to get "
    "docker ID from v3 endpoint ID: ep-cdef\"";
constexpr char kTaskNotFound[] =
    "\"V4 task metadata handler: unable to get task arn from request: unable to get task Arn "
    "from v3 endpoint ID: ep-cdef\"";

TEST_F(MetadataServerTest, ATaskWithItsOwnAddressIsRefusedToOtherAddresses) {
  server_->PutTask(Task(kTaskArn, "10.9.9.9"));
  server_->PutCredentials(kTaskArn, Creds());
  Expect("/v2/credentials/creds-1", 400, kV2NotFound);
  EXPECT_EQ(Get("/v1/credentials?id=creds-1").body, kV1NotFound);
  Expect("/v4/ep-cdef", 404, kContainerNotFound);
  Expect("/v4/ep-cdef/task", 404, kTaskNotFound);
}

TEST_F(MetadataServerTest, ATaskIsServedToItsOwnAddressAndHostTasksAreNot) {
  // The test's requests come from 127.0.0.1: give a bridge task that address to stand for a
  // task calling from its namespace.
  std::string host_arn = std::string(kTaskArn).replace(std::string(kTaskArn).size() - 4, 4, "aaaa");
  server_->PutTask(Task(kTaskArn, "127.0.0.1"));
  server_->PutCredentials(kTaskArn, Creds("own"));
  server_->PutTask(Task(host_arn));
  server_->PutCredentials(host_arn, Creds("host"));
  EXPECT_EQ(Get("/v2/credentials/own").body, kCredsBody);
  EXPECT_EQ(Get("/v4/ep-cdef").status, 200);
  // Another task's address may not read a host-network task.
  EXPECT_EQ(Get("/v2/credentials/host").body, kV2NotFound);
  EXPECT_EQ(Get("/v4/ep-aaaa").status, 404);
  // Once that task is gone the address is a local one again.
  server_->RemoveTask(kTaskArn);
  EXPECT_EQ(Get("/v2/credentials/host").body, kCredsBody);
}

TEST_F(MetadataServerTest, RemoveTaskForgetsItsMetadataAndCredentials) {
  server_->PutTask(Task());
  server_->PutCredentials(kTaskArn, Creds());
  ASSERT_EQ(Get("/v4/ep-cdef").status, 200);
  server_->RemoveTask(kTaskArn);
  EXPECT_EQ(Get("/v2/credentials/creds-1").body, kV2NotFound);
  EXPECT_EQ(Get("/v4/ep-cdef").body, kContainerNotFound);
  EXPECT_EQ(Get("/v4/ep-cdef/task").body, kTaskNotFound);
  // Put again without credentials: they stay forgotten.
  server_->PutTask(Task());
  EXPECT_EQ(Get("/v2/credentials/creds-1").body, kV2NotFound);
}

constexpr char kContainerDoc[] =
    R"({"DockerId":"rt-1","Name":"app","DockerName":"rt-1","Image":"nginx:1",)"
    R"("ImageID":"sha256:abc","Ports":[{"ContainerPort":80,"Protocol":"tcp","HostPort":32768,)"
    R"("HostIp":"0.0.0.0"}],"Labels":{"com.amazonaws.ecs.container-name":"app"},)"
    R"("DesiredStatus":"RUNNING","KnownStatus":"RUNNING","Limits":{"CPU":128,"Memory":256},)"
    R"("CreatedAt":"2027-01-15T08:00:02.620912337Z","StartedAt":"2027-01-15T08:00:03Z",)"
    R"("Type":"NORMAL","ContainerARN":"arn:aws:ecs:us-east-1:000000000000:container/c1/x/y",)";

TEST_F(MetadataServerTest, V4ContainerDocument) {
  TaskMetadata task = Task(kTaskArn, "127.0.0.1");
  task.containers[0].exit_code = 0;
  task.containers[0].finished_at = At(1'800'000'004, 5);
  server_->PutTask(task);
  auto res = Get("/v4/ep-cdef");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.HeaderOr("content-type"), "application/json");
  std::string expected = kContainerDoc;
  expected.replace(expected.find(R"("Limits")"), 0, R"("ExitCode":0,)");
  expected.replace(expected.find(R"("Type")"), 0,
                   R"("FinishedAt":"2027-01-15T08:00:04.000000005Z",)");
  expected += R"("Networks":[{"NetworkMode":"bridge","IPv4Addresses":["127.0.0.1"]}]})";
  EXPECT_EQ(res.body, expected);
}

TEST_F(MetadataServerTest, V4TaskDocument) {
  server_->PutTask(Task());
  std::string expected =
      R"({"Cluster":"arn:aws:ecs:us-east-1:000000000000:cluster/c1","TaskARN":")" +
      std::string(kTaskArn) +
      R"(","Family":"web","Revision":"3","DesiredStatus":"RUNNING","KnownStatus":"RUNNING",)"
      R"("Containers":[)" +
      std::string(kContainerDoc) +
      R"("Networks":[{"NetworkMode":"host"}]}],)"
      R"("Limits":{"CPU":0.25,"Memory":512},"PullStartedAt":"2027-01-15T08:00:00.12Z",)"
      R"("PullStoppedAt":"2027-01-15T08:00:01Z","AvailabilityZone":"us-east-1a",)"
      R"("LaunchType":"EC2"})";
  Expect("/v4/ep-cdef/task", 200, expected);
  EXPECT_EQ(Get("/v4/ep-cdef/taskWithTags").body, expected);
}

TEST_F(MetadataServerTest, TaskLimitsHoldOnlyTheMembersSet) {
  TaskMetadata task = Task();
  task.cpu = 2;
  task.memory_mib = 0;
  server_->PutTask(task);
  EXPECT_NE(Get("/v4/ep-cdef/task").body.find(R"("Limits":{"CPU":2},"PullStartedAt")"),
            std::string::npos);
  task.cpu = 0;
  server_->PutTask(task);
  EXPECT_EQ(Get("/v4/ep-cdef/task").body.find(R"(},"Limits")"), std::string::npos);
}

TEST_F(MetadataServerTest, UnknownPathsAre404) {
  server_->PutTask(Task());
  auto v4 = Get("/v4/nope");
  EXPECT_EQ(v4.status, 404);
  EXPECT_EQ(v4.body,
            "\"V4 container metadata handler: unable to get container ID from request: unable to "
            "get docker ID from v3 endpoint ID: nope\"");
  EXPECT_EQ(Get("/v4/ep-cdef/stats").status, 404);
  EXPECT_EQ(Get("/v3/ep-cdef").status, 404);
  EXPECT_EQ(Get("/").status, 404);
}

TEST_F(MetadataServerTest, OnlyGetIsAllowed) {
  server_->PutTask(Task());
  server_->PutCredentials(kTaskArn, Creds());
  for (const char* method : {"POST", "PUT", "DELETE", "HEAD"}) {
    auto res = Get("/v2/credentials/creds-1", method);
    EXPECT_EQ(res.status, 405) << method;
    EXPECT_EQ(res.HeaderOr("allow"), "GET") << method;
  }
}

TEST_F(MetadataServerTest, ALargeBodyIsRefusedUnread) {
  http::ClientRequest request;
  request.method = "GET";
  request.url = "http://" + server_->Address() + "/v2/credentials/x";
  request.body = std::string(64 << 10, 'x');
  auto res = client_.Send(request);
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->status, 413);
}

TEST_F(MetadataServerTest, RateLimitedPastTheBurst) {
  server_->PutTask(Task());
  int ok = 0, limited = 0;
  // 60 at once, then 40 a second: 150 requests in well under two seconds meet a 429.
  for (int i = 0; i < 150; ++i) {
    auto res = Get("/v4/ep-cdef");
    if (res.status == 200) ++ok;
    if (res.status == 429) {
      ++limited;
      EXPECT_EQ(res.body, "You have reached maximum request limit.");
    }
    if (i < 60) {
      EXPECT_EQ(res.status, 200) << i;
    }
  }
  EXPECT_GT(limited, 0);
  EXPECT_EQ(ok + limited, 150);
}

TEST_F(MetadataServerTest, PutsAndRemovesWhileServing) {
  std::atomic<bool> stop = false;
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      server_->PutTask(Task());
      server_->PutCredentials(kTaskArn, Creds());
      if (i % 2) server_->RemoveTask(kTaskArn);
    }
  });
  for (int i = 0; i < 50; ++i) {
    auto res = Get("/v2/credentials/creds-1");
    EXPECT_TRUE(res.body == kCredsBody || res.body == kV2NotFound) << res.body;
  }
  stop = true;
  writer.join();
}

TEST(MetadataServerStart, BadAddressIsBindFailed) {
  for (const char* listen : {"127.0.0.1", "127.0.0.1:x", "127.0.0.1:99999", "nohost:80"}) {
    auto started = MetadataServer::Start(listen);
    ASSERT_FALSE(started.has_value()) << listen;
    EXPECT_EQ(started.error().code, "BindFailed") << listen;
  }
}

TEST(MetadataServerStart, AddressIsTheBoundPort) {
  auto started = MetadataServer::Start("127.0.0.1:0");
  ASSERT_TRUE(started.has_value());
  std::string address = (*started)->Address();
  EXPECT_TRUE(address.starts_with("127.0.0.1:")) << address;
  EXPECT_NE(address, "127.0.0.1:0");
}

TEST(Rfc3339Nano, TrimsTrailingZerosLikeGo) {
  EXPECT_EQ(FormatRfc3339Nano(At(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(At(1'800'000'000, 120'000'000)), "2027-01-15T08:00:00.12Z");
  EXPECT_EQ(FormatRfc3339Nano(At(1'800'000'000, 1)), "2027-01-15T08:00:00.000000001Z");
}

}  // namespace
}  // namespace berth::agent::tmds
