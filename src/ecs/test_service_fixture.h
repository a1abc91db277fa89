// The fixture of the ECS service's tests (service_test.cc, services_test.cc):
// the real stack (SQLite store, IAM policies evaluated by AccessControl); only
// ids and the clock are fakes.
#pragma once

#include "ecs/service.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "crypto/root_key.h"
#include "ecs/records.h"
#include "iam/identity_store.h"
#include "iam/service.h"
#include "iam/test_world.h"
#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace berth::ecs::testing_support {


using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

constexpr char kA[] = "111122223333";
constexpr char kB[] = "444455556666";
constexpr char kEast[] = "us-east-1";
// The platform's account (ServiceOptions::platform_account): its cluster kFargatePoolCluster is
// the Fargate capacity pool.
constexpr char kPlatform[] = "444455556666";
constexpr char kPrefix[] = "arn:aws:ecs:us-east-1:111122223333:";
constexpr char kSecretsCapability[] =
    "ecs.capability.private-registry-authentication.secretsmanager";

using test_support::TempDir;

#define EXPECT_ERROR(expr, code_, message_)                  \
  do {                                                       \
    auto&& r_ = (expr);                                      \
    ASSERT_FALSE(r_) << "expected " << code_;                \
    EXPECT_EQ(r_.error().code, code_) << r_.error().message; \
    EXPECT_THAT(r_.error().message, HasSubstr(message_));    \
  } while (0)

#define ASSERT_OK(expr)                                                                   \
  ({                                                                                      \
    auto&& ok_ = (expr);                                                                  \
    ASSERT_TRUE(ok_) << #expr << ": " << ok_.error().code << ": " << ok_.error().message; \
    std::move(ok_).value();                                                               \
  })

inline std::vector<std::string> Keys(const std::vector<Tag>& tags) {
  std::vector<std::string> out;
  for (const auto& t : tags) out.push_back(t.key + "=" + t.value);
  return out;
}

inline std::vector<std::string> Arns(const std::vector<Task>& tasks) {
  std::vector<std::string> out;
  for (const auto& t : tasks) out.push_back(t.arn);
  return out;
}

inline const Resource* FindResource(const std::vector<Resource>& resources, std::string_view name) {
  for (const auto& r : resources) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

class EcsServiceTest : public iam::testing::WorldTest {
 protected:
  EcsServiceTest() : iam::testing::WorldTest("ecs_service_test") {}

  void SetUp() override {
    BuildWorld({kA, kB});
    ecs_ = std::make_unique<Service>(*kv_, *access_, *iam_, ids_, clock_,
                                     ServiceOptions{.stopped_task_retention = 3600s,
                                                    .platform_account = kPlatform});
  }

  aws::RequestContext Root(const std::string& account = kA) {
    return RootContext(account, kEast);
  }

  // The session of a role of account A with `policy` inline.
  aws::RequestContext Role(const std::string& name, const std::string& policy) {
    auto role = iam_->GetRole(kA, name);
    if (!role) {
      role = iam_->CreateRole(
          kA, name, "/",
          R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",)"
          R"("Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]})",
          "", std::nullopt);
    }
    EXPECT_TRUE(role) << role.error().message;
    auto put = iam_->PutInlinePolicy(kA, iam::PrincipalType::kRole, name, "p", policy);
    EXPECT_TRUE(put) << put.error().message;
    aws::RequestContext ctx = Root();
    ctx.caller.kind = aws::Principal::Kind::kAssumedRole;
    ctx.caller.arn = fmt::format("arn:aws:sts::{}:assumed-role/{}/s", kA, name);
    ctx.caller.user_id = role->id + ":s";
    ctx.caller.name = name;
    ctx.caller.session_name = "s";
    ctx.caller.access_key_id = "ASIATESTSESSION0001";
    return ctx;
  }

  ClusterView Cluster(const std::string& name = "") {
    auto c = ecs_->CreateCluster(Root(), name, {}, {});
    EXPECT_TRUE(c) << c.error().message;
    return c ? *c : ClusterView{};
  }

  static TaskDefinition Td(const std::string& family, int memory = 256,
                           std::optional<int> host_port = std::nullopt) {
    TaskDefinition td;
    td.family = family;
    ContainerDefinition c;
    c.name = "app";
    c.image = "nginx:1.27";
    c.memory = memory;
    c.cpu = 128;
    if (host_port) c.port_mappings.push_back({.container_port = 80, .host_port = *host_port});
    td.containers.push_back(std::move(c));
    return td;
  }

  TaskDefinition Register(TaskDefinition td) {
    auto out = ecs_->RegisterTaskDefinition(Root(), std::move(td));
    EXPECT_TRUE(out) << out.error().code << ": " << out.error().message;
    return out ? *out : TaskDefinition{};
  }

  // A registered instance: 1024 CPU, `memory` MiB, ports 22 reserved, the agent's attributes.
  InstanceView Instance(const std::string& cluster = "", int64_t memory = 1024,
                        std::vector<Attribute> attributes = {}) {
    RegisterInstanceRequest r;
    r.cluster = cluster;
    r.total_resources = {{.name = "CPU", .integer_value = 1024},
                         {.name = "MEMORY", .integer_value = memory},
                         {.name = "PORTS", .type = "STRINGSET", .string_set = {"22"}},
                         {.name = "PORTS_UDP", .type = "STRINGSET"}};
    r.attributes = attributes.empty()
                       ? std::vector<Attribute>{{"ecs.os-type", "linux"}, {kSecretsCapability, {}}}
                       : std::move(attributes);
    r.version_info = {"1.105.1", "abc", "25.0.0"};
    auto out = ecs_->RegisterContainerInstance(Root(), std::move(r));
    EXPECT_TRUE(out) << out.error().code << ": " << out.error().message;
    return out ? *out : InstanceView{};
  }

  // The attributes of a Fargate agent of platform version `version`.
  static std::vector<Attribute> FargateAttributes(const std::string& version = "1.4.0") {
    return {{"ecs.os-type", "linux"},
            {kSecretsCapability, {}},
            {"ecs.capability.task-eni", {}},
            {"ecs.capability.container-health-check", {}},
            {"com.amazonaws.ecs.capability.docker-remote-api.1.18", {}},
            {std::string(kFargateAttribute), "true"},
            {std::string(kFargatePlatformAttribute), version}};
  }

  // An instance of the platform's Fargate pool (its cluster created if missing), registered by
  // the platform account's root: 1024 CPU, `memory` MiB.
  InstanceView PoolInstance(const std::string& version = "1.4.0", int64_t memory = 4096) {
    EXPECT_TRUE(ecs_->CreateCluster(Root(kPlatform), std::string(kFargatePoolCluster), {}, {}));
    RegisterInstanceRequest r;
    r.cluster = kFargatePoolCluster;
    r.total_resources = {{.name = "CPU", .integer_value = 1024},
                         {.name = "MEMORY", .integer_value = memory}};
    r.attributes = FargateAttributes(version);
    r.version_info = {"1.105.1", "abc", "25.0.0"};
    auto out = ecs_->RegisterContainerInstance(Root(kPlatform), std::move(r));
    EXPECT_TRUE(out) << out.error().code << ": " << out.error().message;
    return out ? *out : InstanceView{};
  }

  // A FARGATE definition of `family` (256 CPU, 512 MiB) registered in `account`.
  TaskDefinition FargateTd(const std::string& family, const std::string& account = kA) {
    TaskDefinition td = Td(family);
    td.requires_compatibilities = {"FARGATE"};
    td.network_mode = "awsvpc";
    td.cpu = "256";
    td.memory = "512";
    auto out = ecs_->RegisterTaskDefinition(Root(account), std::move(td));
    EXPECT_TRUE(out) << out.error().code << ": " << out.error().message;
    return out ? *out : TaskDefinition{};
  }

  // RunTask of `td` as FARGATE on `version`.
  static RunTaskRequest RunFargate(const std::string& td, const std::string& version = "LATEST",
                                   int count = 1, const std::string& cluster = "") {
    RunTaskRequest r = Run(td, count, cluster);
    r.launch_type = "FARGATE";
    r.has_network_configuration = true;
    r.platform_version = version;
    return r;
  }

  static RunTaskRequest Run(const std::string& td, int count = 1, const std::string& cluster = "") {
    RunTaskRequest r;
    r.cluster = cluster;
    r.task_definition = td;
    r.count = count;
    return r;
  }

  Result<Task> Describe(const std::string& task, const std::string& cluster = "") {
    auto out = ecs_->DescribeTasks(Root(), cluster, {task});
    if (!out) return Fail(out.error());
    if (out->first.empty()) return Fail("MISSING", task);
    return out->first[0];
  }

  Result<std::string> Report(const std::string& task, const std::string& status,
                             const std::string& reason = "") {
    TaskStateChange c;
    c.task = task;
    c.status = status;
    c.reason = reason;
    return ecs_->SubmitTaskStateChange(Root(), c);
  }

  std::vector<std::string> List(ListTasksRequest r) {
    auto out = ecs_->ListTasks(Root(), r);
    EXPECT_TRUE(out) << out.error().code << ": " << out.error().message;
    return out ? out->items : std::vector<std::string>{};
  }

  int64_t RemainingMemory(const std::string& instance) {
    auto out = ecs_->DescribeContainerInstances(Root(), "", {instance});
    EXPECT_TRUE(out && out->first.size() == 1);
    if (!out || out->first.empty()) return -1;
    const Resource* r = FindResource(out->first[0].remaining_resources, "MEMORY");
    return r ? r->integer_value : -1;
  }

  std::unique_ptr<Service> ecs_;
};

}  // namespace berth::ecs::testing_support
