// SweepStoppedTasks after a restart: the stored clusters nobody has touched are swept too
// (sweep.cc), a bounded number of task records read a pass.
#include "ecs/records.h"
#include "ecs/test_service_fixture.h"

namespace berth::ecs {
namespace {

using namespace testing_support;

class SweepTest : public EcsServiceTest {
 protected:
  // A task of "web" in `cluster` of `account`, stopped now.
  std::string StoppedTask(const std::string& cluster, const std::string& account = kA) {
    aws::RequestContext root = Root(account);
    EXPECT_TRUE(ecs_->CreateCluster(root, cluster, {}, {}));
    TaskDefinition td = Td("web");
    EXPECT_TRUE(ecs_->RegisterTaskDefinition(root, td));
    RegisterInstanceRequest r;
    r.cluster = cluster;
    r.total_resources = {{.name = "CPU", .integer_value = 1024},
                         {.name = "MEMORY", .integer_value = 1024}};
    r.attributes = {{"ecs.os-type", "linux"}};
    EXPECT_TRUE(ecs_->RegisterContainerInstance(root, r));
    auto run = ecs_->RunTask(root, Run("web", 1, cluster));
    EXPECT_TRUE(run && run->tasks.size() == 1);
    if (!run || run->tasks.empty()) return "";
    TaskStateChange stop;
    stop.cluster = cluster;
    stop.task = run->tasks[0].arn;
    stop.status = "STOPPED";
    EXPECT_TRUE(ecs_->SubmitTaskStateChange(root, stop));
    return run->tasks[0].arn;
  }

  bool Stored(const std::string& arn, const std::string& cluster,
              const std::string& account = kA) {
    auto got = kv_->Get(TaskKey(account, kEast, cluster, arn.substr(arn.rfind('/') + 1)));
    EXPECT_TRUE(got) << got.error().message;
    return got && got->has_value();
  }

  // The server restarted: a new service over the same store, nothing in memory.
  void Restart(size_t reads_per_pass) {
    ecs_.reset();
    ecs_ = std::make_unique<Service>(*kv_, *access_, *iam_, ids_, clock_,
                                     ServiceOptions{.stopped_task_retention = 3600s,
                                                    .sweep_reads_per_pass = reads_per_pass});
  }
};

TEST_F(SweepTest, ClustersNotInMemoryAreSweptAfterARestart) {
  std::string old = StoppedTask("old");
  std::string other = StoppedTask("elsewhere", kB);
  std::string kept = StoppedTask("kept");
  TimePoint stopped = clock_.Now();
  Restart(5000);
  ASSERT_OK(ecs_->SweepStoppedTasks(stopped + 3600s));  // exactly the retention: kept
  EXPECT_TRUE(Stored(old, "old"));
  // Each pass loads one cluster found holding an expired task and sweeps it.
  for (int pass = 0; pass < 3; ++pass) ASSERT_OK(ecs_->SweepStoppedTasks(stopped + 3601s));
  EXPECT_FALSE(Stored(old, "old"));
  EXPECT_FALSE(Stored(other, "elsewhere", kB));
  EXPECT_FALSE(Stored(kept, "kept"));
  EXPECT_ERROR(Describe(old, "old"), "MISSING", old);
}

TEST_F(SweepTest, APassReadsABoundedNumberOfRecordsAndTheNextGoesOn) {
  std::string old = StoppedTask("old");
  TimePoint stopped = clock_.Now();
  Restart(1);
  // One record a pass: the walk finds the task over several passes, then sweeps it.
  ASSERT_OK(ecs_->SweepStoppedTasks(stopped + 3601s));
  EXPECT_TRUE(Stored(old, "old"));
  int passes = 1;
  while (Stored(old, "old") && passes < 100) {
    ASSERT_OK(ecs_->SweepStoppedTasks(stopped + 3601s));
    ++passes;
  }
  EXPECT_FALSE(Stored(old, "old"));
  EXPECT_GE(passes, 2);
}

}  // namespace
}  // namespace berth::ecs

namespace berth::ecs {
namespace {

using namespace testing_support;

TEST_F(EcsServiceTest, IndexesIdleForTenMinutesAreDroppedAndReloadedWhenNeeded) {
  Cluster();
  Cluster("other");
  Register(Td("web"));
  InstanceView instance = Instance();
  Task task = ASSERT_OK(ecs_->RunTask(Root(), Run("web"))).tasks.at(0);
  ASSERT_TRUE(ecs_->CreateCluster(Root(kPlatform), std::string(kFargatePoolCluster), {}, {}));
  PoolInstance();
  ASSERT_OK(ecs_->DescribeTasks(Root(), "other", {"x"}));  // loads "other"
  size_t loaded = ecs_->LoadedClusters();
  ASSERT_GE(loaded, 3u);

  // Nine minutes on, "default" is used again; "other" is not.
  clock_.Advance(540s);
  ASSERT_OK(Describe(task.arn));
  clock_.Advance(61s);
  ASSERT_OK(ecs_->SweepStoppedTasks(clock_.Now()));
  EXPECT_EQ(ecs_->LoadedClusters(), loaded - 1);
  // Ten more minutes: "default" goes too; the Fargate pool stays.
  clock_.Advance(600s);
  ASSERT_OK(ecs_->SweepStoppedTasks(clock_.Now()));
  EXPECT_EQ(ecs_->LoadedClusters(), 1u);

  // Read again from the store when next needed: the task, its instance's accounting.
  Task again = ASSERT_OK(Describe(task.arn));
  EXPECT_EQ(again.container_instance_id, instance.instance.id);
  EXPECT_EQ(RemainingMemory(instance.instance.arn), 1024 - 256);
}

}  // namespace
}  // namespace berth::ecs
