// The platform's Fargate capacity pool: Fargate agents register into cluster kFargatePoolCluster
// of the platform account (ServiceOptions::platform_account), and FARGATE tasks of every account's
// clusters are placed on its instances, their records staying in their own clusters.
#include "ecs/test_service_fixture.h"

namespace berth::ecs {
namespace {

using namespace testing_support;

class FargatePoolTest : public EcsServiceTest {
 protected:
  // The platform's agent reporting `task` (of `cluster_arn`, another account's) as `status`.
  Result<std::string> PoolReport(const std::string& cluster_arn, const std::string& task,
                                 const std::string& status) {
    TaskStateChange c;
    c.cluster = cluster_arn;
    c.task = task;
    c.status = status;
    return ecs_->SubmitTaskStateChange(Root(kPlatform), c);
  }

  std::vector<std::string> OnPoolInstance(const std::string& id) {
    auto tasks = ecs_->TasksOfInstance(kPlatform, kEast, std::string(kFargatePoolCluster), id);
    EXPECT_TRUE(tasks) << tasks.error().message;
    std::vector<std::string> out;
    if (tasks) {
      for (const auto& t : *tasks) out.push_back(t->arn);
    }
    return out;
  }

  int64_t PoolRemainingMemory(const std::string& instance) {
    auto out = ecs_->DescribeContainerInstances(Root(kPlatform), std::string(kFargatePoolCluster),
                                                {instance});
    EXPECT_TRUE(out && out->first.size() == 1);
    if (!out || out->first.empty()) return -1;
    const Resource* r = FindResource(out->first[0].remaining_resources, "MEMORY");
    return r ? r->integer_value : -1;
  }

  static std::string ClusterArnOf(const std::string& account, const std::string& name) {
    return fmt::format("arn:aws:ecs:{}:{}:cluster/{}", kEast, account, name);
  }
};

TEST_F(FargatePoolTest, FargateTasksOfAnyAccountRunOnThePoolOfTheirPlatformVersion) {
  Cluster();
  InstanceView ec2 = Instance();
  InstanceView pool = PoolInstance("1.3.0");
  FargateTd("fg");
  Register(Td("web"));

  auto placed = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("fg", "1.3.0")));
  for (const auto& f : placed.failures) ADD_FAILURE() << f.arn << " " << f.reason;
  ASSERT_THAT(placed.tasks, SizeIs(1));
  const Task& t = placed.tasks[0];
  EXPECT_TRUE(t.pool);
  EXPECT_EQ(t.container_instance_id, pool.instance.id);
  EXPECT_EQ(t.arn, std::string(kPrefix) + "task/default/" + t.id);  // the task's own cluster
  EXPECT_EQ(t.platform_version, "1.3.0");
  InstanceLocation at = ecs_->InstanceLocationOf(t);
  EXPECT_EQ(at.account, kPlatform);
  EXPECT_EQ(at.cluster, kFargatePoolCluster);
  EXPECT_EQ(at.region, kEast);
  // The pool's agent reads it among its instance's tasks; its cluster lists it as its own. The
  // pool's operator lists no task of the pool: the task is its account's.
  EXPECT_THAT(OnPoolInstance(pool.instance.id), ElementsAre(t.arn));
  EXPECT_THAT(List({}), ElementsAre(t.arn));
  ListTasksRequest in_pool;
  in_pool.cluster = std::string(kFargatePoolCluster);
  EXPECT_THAT(ASSERT_OK(ecs_->ListTasks(Root(kPlatform), in_pool)).items, IsEmpty());
  in_pool.container_instance = pool.instance.arn;
  EXPECT_THAT(ASSERT_OK(ecs_->ListTasks(Root(kPlatform), in_pool)).items, IsEmpty());
  EXPECT_EQ(PoolRemainingMemory(pool.instance.arn), 4096 - 512);

  // LATEST is 1.4.0: the 1.3.0 pool cannot run it, so the task waits for capacity.
  auto waiting = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("fg", "LATEST")));
  ASSERT_THAT(waiting.tasks, SizeIs(1));
  EXPECT_EQ(waiting.tasks[0].container_instance_id, "");
  EXPECT_TRUE(waiting.tasks[0].pool);  // listed in the pool, which places it when it can
  EXPECT_EQ(waiting.tasks[0].last_status, "PROVISIONING");

  // EC2 tasks never land on the pool.
  auto web = ASSERT_OK(ecs_->RunTask(Root(), Run("web", 3)));
  for (const auto& w : web.tasks) EXPECT_EQ(w.container_instance_id, ec2.instance.id);
}

TEST_F(FargatePoolTest, ThePoolAccountsForTasksOfEveryAccountAndReleasesThemWhenStopped) {
  InstanceView pool = PoolInstance("1.4.0", 1024);
  Cluster();
  FargateTd("fg");
  ASSERT_TRUE(ecs_->CreateCluster(Root(kPlatform), "own", {}, {}));
  FargateTd("fg", kPlatform);

  auto a = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("fg")));
  auto b = ASSERT_OK(
      ecs_->RunTask(Root(kPlatform), RunFargate("fg", "LATEST", 1, "own")));
  ASSERT_THAT(a.tasks, SizeIs(1));
  ASSERT_THAT(b.tasks, SizeIs(1));
  EXPECT_EQ(PoolRemainingMemory(pool.instance.arn), 0);
  // Full: the next waits for capacity (no failure names the platform's instances).
  auto full = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("fg")));
  EXPECT_THAT(full.failures, IsEmpty());
  ASSERT_THAT(full.tasks, SizeIs(1));
  EXPECT_EQ(full.tasks[0].container_instance_id, "");
  EXPECT_EQ(full.tasks[0].last_status, "PROVISIONING");
  ASSERT_OK(ecs_->StopTask(Root(), "", full.tasks[0].arn, ""));

  // Stopped through the agent: the pool forgets it and its memory is free again; the task's
  // cluster keeps it, STOPPED.
  const Task& task = a.tasks[0];
  ASSERT_OK(PoolReport(ClusterArnOf(kA, "default"), task.arn, "RUNNING"));
  ASSERT_OK(ecs_->StopTask(Root(), "", task.arn, ""));
  EXPECT_THAT(OnPoolInstance(pool.instance.id), SizeIs(2));  // told to stop, still running
  ASSERT_OK(PoolReport(ClusterArnOf(kA, "default"), task.arn, "STOPPED"));
  EXPECT_THAT(OnPoolInstance(pool.instance.id), ElementsAre(b.tasks[0].arn));
  EXPECT_EQ(PoolRemainingMemory(pool.instance.arn), 512);
  Task stopped = ASSERT_OK(Describe(task.arn));
  EXPECT_EQ(stopped.last_status, "STOPPED");
  EXPECT_EQ(stopped.stop_code, kUserInitiated);

  // A new server over the same store sees the same pool.
  Service fresh(*kv_, *access_, *iam_, ids_, clock_,
                ServiceOptions{.platform_account = kPlatform});
  auto tasks = ASSERT_OK(
      fresh.TasksOfInstance(kPlatform, kEast, std::string(kFargatePoolCluster), pool.instance.id));
  ASSERT_THAT(tasks, SizeIs(1));
  EXPECT_EQ(tasks[0]->arn, b.tasks[0].arn);
  auto again = ASSERT_OK(fresh.RunTask(Root(), RunFargate("fg")));
  ASSERT_THAT(again.tasks, SizeIs(1));
  EXPECT_EQ(again.tasks[0].container_instance_id, pool.instance.id);
  auto later = ASSERT_OK(fresh.RunTask(Root(), RunFargate("fg")));
  ASSERT_THAT(later.tasks, SizeIs(1));
  EXPECT_EQ(later.tasks[0].container_instance_id, "");
}

// Placed is sent: a PROVISIONING task on capacity may be starting there, so StopTask tells its
// agent and the task keeps its resources until the agent reports it STOPPED (a task waiting
// for capacity, on no instance, is stopped at once).
TEST_F(FargatePoolTest, APlacedProvisioningTaskStoppedByItsUserIsStoppedThroughItsAgent) {
  InstanceView pool = PoolInstance("1.4.0", 1024);
  Cluster();
  FargateTd("fg");
  std::vector<std::string> told;  // desired status changes dispatched
  ecs_->AddTaskListener([&](const Task* previous, const Task& t) {
    if (previous && previous->desired_status != t.desired_status) told.push_back(t.arn);
  });
  auto placed = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("fg")));
  ASSERT_THAT(placed.tasks, SizeIs(1));
  const Task& task = placed.tasks[0];
  ASSERT_EQ(task.container_instance_id, pool.instance.id);
  ASSERT_EQ(task.last_status, "PROVISIONING");

  Task stopping = ASSERT_OK(ecs_->StopTask(Root(), "", task.arn, ""));
  EXPECT_EQ(stopping.desired_status, "STOPPED");
  EXPECT_EQ(stopping.last_status, "PROVISIONING");
  EXPECT_EQ(stopping.stop_code, kUserInitiated);
  EXPECT_THAT(told, ElementsAre(task.arn));
  EXPECT_THAT(OnPoolInstance(pool.instance.id), ElementsAre(task.arn));
  EXPECT_EQ(PoolRemainingMemory(pool.instance.arn), 1024 - 512);  // it may run there yet

  ASSERT_OK(PoolReport(ClusterArnOf(kA, "default"), task.arn, "STOPPED"));
  Task stopped = ASSERT_OK(Describe(task.arn));
  EXPECT_EQ(stopped.last_status, "STOPPED");
  EXPECT_EQ(stopped.stop_code, kUserInitiated);
  EXPECT_EQ(stopped.stopped_reason, "Task stopped by user");
  EXPECT_THAT(OnPoolInstance(pool.instance.id), IsEmpty());
  EXPECT_EQ(PoolRemainingMemory(pool.instance.arn), 1024);
}

TEST_F(FargatePoolTest, TasksWaitingForCapacityArePlacedOldestFirstWhenItComes) {
  Cluster();
  PoolInstance("1.3.0");
  FargateTd("fg");
  std::vector<std::pair<std::string, std::string>> told;  // (task, instance) dispatched
  ecs_->AddTaskListener([&](const Task* previous, const Task& t) {
    if (previous && previous->container_instance_id != t.container_instance_id) {
      told.emplace_back(t.arn, t.container_instance_id);
    }
  });
  auto first = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("fg", "LATEST")));
  clock_.Advance(1s);
  auto second = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("fg", "LATEST")));
  clock_.Advance(1s);
  auto stopped = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("fg", "LATEST")));
  ASSERT_OK(ecs_->StopTask(Root(), "", stopped.tasks.at(0).arn, ""));
  ASSERT_OK(ecs_->PlaceWaitingFargateTasks(clock_.Now()));  // no 1.4.0 capacity: they keep waiting
  EXPECT_THAT(told, IsEmpty());

  // Capacity of 1.4.0 for one task (512 MiB): the oldest goes there.
  InstanceView pool = PoolInstance("1.4.0", 512);
  ASSERT_OK(ecs_->PlaceWaitingFargateTasks(clock_.Now()));
  const std::string a = first.tasks.at(0).arn, b = second.tasks.at(0).arn;
  ASSERT_THAT(told, ElementsAre(std::pair(a, pool.instance.id)));
  Task placed = ASSERT_OK(Describe(a));
  EXPECT_EQ(placed.container_instance_id, pool.instance.id);
  EXPECT_EQ(placed.version, first.tasks[0].version + 1);
  EXPECT_THAT(OnPoolInstance(pool.instance.id), ElementsAre(a));
  EXPECT_EQ(PoolRemainingMemory(pool.instance.arn), 0);
  EXPECT_EQ(ASSERT_OK(Describe(b)).container_instance_id, "");
  // When it stops, the next takes its place; the stopped one never runs.
  ASSERT_OK(PoolReport(ClusterArnOf(kA, "default"), a, "STOPPED"));
  ASSERT_OK(ecs_->PlaceWaitingFargateTasks(clock_.Now()));
  EXPECT_THAT(told, ElementsAre(std::pair(a, pool.instance.id), std::pair(b, pool.instance.id)));
  EXPECT_THAT(OnPoolInstance(pool.instance.id), ElementsAre(b));
  EXPECT_EQ(ASSERT_OK(Describe(stopped.tasks[0].arn)).last_status, "STOPPED");
}

TEST_F(FargatePoolTest, ATaskWaitingForCapacityTooLongIsStoppedAsECSStopsIt) {
  Cluster();
  FargateTd("fg");
  Task early = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("fg"))).tasks.at(0);
  clock_.Advance(300s);
  Task late = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("fg"))).tasks.at(0);
  clock_.Advance(301s);  // the first has waited 601 s, past the 600 s allowed
  ASSERT_OK(ecs_->PlaceWaitingFargateTasks(clock_.Now()));
  Task stopped = ASSERT_OK(Describe(early.arn));
  EXPECT_EQ(stopped.last_status, "STOPPED");
  EXPECT_EQ(stopped.stop_code, "TaskFailedToStart");
  EXPECT_EQ(stopped.stopped_reason, kFargateCapacityUnavailable);
  EXPECT_EQ(ASSERT_OK(Describe(late.arn)).last_status, "PROVISIONING");
  // Capacity now: the one still waiting runs; the stopped one does not.
  InstanceView pool = PoolInstance();
  ASSERT_OK(ecs_->PlaceWaitingFargateTasks(clock_.Now()));
  EXPECT_THAT(OnPoolInstance(pool.instance.id), ElementsAre(late.arn));
}

TEST_F(FargatePoolTest, ATaskThatCannotBePlacedDoesNotHoldUpSmallerOnesWaitingBehindIt) {
  Cluster();
  PoolInstance("1.3.0", 1024);
  FargateTd("small");
  TaskDefinition big = Td("big", 2048);
  big.requires_compatibilities = {"FARGATE"};
  big.network_mode = "awsvpc";
  big.cpu = "512";
  big.memory = "2048";
  Register(big);
  // Both wait for 1.4.0 capacity: the big ones first.
  std::vector<std::string> bigs;
  for (int i = 0; i < 3; ++i) {
    bigs.push_back(ASSERT_OK(ecs_->RunTask(Root(), RunFargate("big"))).tasks.at(0).arn);
    clock_.Advance(1s);
  }
  std::string small = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("small"))).tasks.at(0).arn;
  // 1.4.0 capacity too small for the big ones (2048 MiB): the small one runs; the big wait.
  InstanceView pool = PoolInstance("1.4.0", 1024);
  ASSERT_OK(ecs_->PlaceWaitingFargateTasks(clock_.Now()));
  EXPECT_EQ(ASSERT_OK(Describe(small)).container_instance_id, pool.instance.id);
  for (const auto& b : bigs) EXPECT_EQ(ASSERT_OK(Describe(b)).container_instance_id, "");
}

TEST_F(FargatePoolTest, WhatThePoolCannotTakeWaitsWithoutAFailure) {
  Cluster();
  InstanceView pool = PoolInstance("1.4.0", 1024);  // room for two
  FargateTd("fg");
  auto run = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("fg", "LATEST", 3)));
  EXPECT_THAT(run.failures, IsEmpty());
  ASSERT_THAT(run.tasks, SizeIs(3));
  int placed = 0;
  for (const auto& t : run.tasks) {
    EXPECT_TRUE(t.pool);
    if (t.container_instance_id == pool.instance.id) ++placed;
    else EXPECT_EQ(t.container_instance_id, "");
  }
  EXPECT_EQ(placed, 2);
  EXPECT_THAT(OnPoolInstance(pool.instance.id), SizeIs(2));
}

TEST_F(FargatePoolTest, AFargateServiceKeepsItsTasksOnThePool) {
  Cluster();
  InstanceView pool = PoolInstance();
  FargateTd("fg");
  CreateServiceRequest r;
  r.service_name = "api";
  r.task_definition = "fg";
  r.desired_count = 2;
  r.launch_type = "FARGATE";
  r.network_configuration = AwsvpcConfiguration{.subnets = {"subnet-1"}};
  ASSERT_OK(ecs_->CreateService(Root(), r));
  ASSERT_OK(ecs_->ReconcileServices(clock_.Now()));
  auto tasks = List({.service_name = "api"});
  ASSERT_THAT(tasks, SizeIs(2));
  for (const auto& arn : tasks) {
    Task t = ASSERT_OK(Describe(arn));
    EXPECT_TRUE(t.pool);
    EXPECT_EQ(t.container_instance_id, pool.instance.id);
    EXPECT_EQ(t.platform_version, "1.4.0");
  }
  EXPECT_THAT(OnPoolInstance(pool.instance.id), SizeIs(2));
}

TEST_F(FargatePoolTest, OnlyThePoolInstancesAgentReportsItsTasksAndOnlyThose) {
  Cluster();
  InstanceView pool = PoolInstance();
  FargateTd("fg");
  Register(Td("web"));
  Instance();
  Task fargate = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("fg"))).tasks.at(0);
  Task ec2 = ASSERT_OK(ecs_->RunTask(Root(), Run("web"))).tasks.at(0);
  const std::string cluster = ClusterArnOf(kA, "default");

  // The task's own account (even its root) is not the agent that runs it.
  EXPECT_ERROR(Report(fargate.arn, "RUNNING"), "AccessDeniedException",
               "is not the principal that registered container instance " + pool.instance.arn);
  // The platform's agent reports it by its cluster's ARN.
  ASSERT_OK(PoolReport(cluster, fargate.arn, "RUNNING"));
  EXPECT_EQ(ASSERT_OK(Describe(fargate.arn)).last_status, "RUNNING");
  // but no task of that account that is not on the pool.
  EXPECT_ERROR(PoolReport(cluster, ec2.arn, "STOPPED"), "AccessDeniedException",
               "the task does not run on the platform's Fargate capacity pool");
  EXPECT_EQ(ASSERT_OK(Describe(ec2.arn)).last_status, "PENDING");
  // Another account's principal cannot reach account A's clusters at all.
  TaskStateChange c;
  c.cluster = cluster;
  c.task = fargate.arn;
  c.status = "STOPPED";
  EXPECT_ERROR(ecs_->SubmitTaskStateChange(Root("999988887777"), c), "ClusterNotFoundException",
               "");
  // A cluster ARN of another region is not the pool's either.
  EXPECT_ERROR(PoolReport("arn:aws:ecs:eu-west-1:111122223333:cluster/default", fargate.arn,
                          "STOPPED"),
               "ClusterNotFoundException", "");

  // Health over the pool instance's telemetry session reaches the task in its cluster; over
  // another instance's session it does not.
  TaskDefinition td = Td("checked");
  td.requires_compatibilities = {"FARGATE"};
  td.network_mode = "awsvpc";
  td.cpu = "256";
  td.memory = "512";
  td.containers[0].health_check = HealthCheck{.command = {"CMD", "true"}};
  Register(td);
  auto run = ASSERT_OK(ecs_->RunTask(Root(), RunFargate("checked")));
  for (const auto& f : run.failures) ADD_FAILURE() << f.arn << " " << f.reason;
  ASSERT_THAT(run.tasks, SizeIs(1));
  Task checked = run.tasks[0];
  ASSERT_OK(PoolReport(cluster, checked.arn, "RUNNING"));
  std::vector<TaskHealthReport> unhealthy = {
      {.task = checked.arn, .containers = {{.container_name = "app", .status = "UNHEALTHY"}}}};
  ASSERT_OK(ecs_->PublishHealth(kA, kEast, "default", ec2.container_instance_id, unhealthy));
  EXPECT_EQ(ASSERT_OK(Describe(checked.arn)).health_status, "UNKNOWN");
  ASSERT_OK(ecs_->PublishHealth(kPlatform, kEast, std::string(kFargatePoolCluster),
                                pool.instance.id, unhealthy));
  EXPECT_EQ(ASSERT_OK(Describe(checked.arn)).health_status, "UNHEALTHY");
}

TEST_F(FargatePoolTest, FargateCapacityRegistersOnlyIntoThePoolAndThePoolRunsNoTasksOfItsOwn) {
  Cluster();
  RegisterInstanceRequest r;
  r.total_resources = {{.name = "CPU", .integer_value = 1024},
                       {.name = "MEMORY", .integer_value = 1024}};
  r.attributes = FargateAttributes();
  // Into a user's cluster: refused.
  EXPECT_ERROR(ecs_->RegisterContainerInstance(Root(), r), "InvalidParameterException",
               "Fargate capacity (berth.fargate) registers only into the platform's pool: "
               "cluster berth-fargate of the platform's account.");
  // A cluster of that name in another account is not the pool.
  ASSERT_TRUE(ecs_->CreateCluster(Root(), std::string(kFargatePoolCluster), {}, {}));
  r.cluster = kFargatePoolCluster;
  EXPECT_ERROR(ecs_->RegisterContainerInstance(Root(), r), "InvalidParameterException",
               "registers only into the platform's pool");
  // Into the pool, only Fargate capacity.
  PoolInstance();
  r.attributes = {{"ecs.os-type", "linux"}};
  EXPECT_ERROR(ecs_->RegisterContainerInstance(Root(kPlatform), r), "InvalidParameterException",
               "Cluster berth-fargate is the platform's Fargate capacity pool: only instances "
               "with the attribute berth.fargate");
  // The pool itself runs nothing.
  FargateTd("fg", kPlatform);
  EXPECT_ERROR(ecs_->RunTask(Root(kPlatform),
                             RunFargate("fg", "LATEST", 1, std::string(kFargatePoolCluster))),
               "InvalidParameterException",
               "Cluster berth-fargate is the platform's Fargate capacity pool, which runs "
               "FARGATE tasks of other clusters and none of its own.");
}

TEST_F(FargatePoolTest, WithoutAPlatformAccountFargateTasksWaitForCapacity) {
  Service no_pool(*kv_, *access_, *iam_, ids_, clock_, ServiceOptions{});
  ASSERT_TRUE(no_pool.CreateCluster(Root(), "", {}, {}));
  TaskDefinition td = Td("fg");
  td.requires_compatibilities = {"FARGATE"};
  td.network_mode = "awsvpc";
  td.cpu = "256";
  td.memory = "512";
  ASSERT_TRUE(no_pool.RegisterTaskDefinition(Root(), td));
  auto waiting = ASSERT_OK(no_pool.RunTask(Root(), RunFargate("fg")));
  ASSERT_THAT(waiting.tasks, SizeIs(1));
  EXPECT_EQ(waiting.tasks[0].container_instance_id, "");
  EXPECT_EQ(waiting.tasks[0].last_status, "PROVISIONING");
}

}  // namespace
}  // namespace berth::ecs
