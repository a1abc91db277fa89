#include "ecs/cluster_index.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include "ecs/records.h"
#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace berth::ecs {
namespace {

constexpr char kAccount[] = "123456789012";
constexpr char kRegion[] = "us-east-1";
constexpr char kCluster[] = "c";

std::shared_ptr<const ContainerInstance> Instance(const std::string& id) {
  auto i = std::make_shared<ContainerInstance>();
  i->id = id;
  i->cluster = kCluster;
  i->registered_resources = {{"CPU", "INTEGER", 4096}, {"MEMORY", "INTEGER", 16384}};
  return i;
}

Task MakeTask(const std::string& id, const std::string& instance, const std::string& group,
              const std::string& last_status = "PENDING") {
  Task t;
  t.id = id;
  t.cluster = kCluster;
  t.container_instance_id = instance;
  t.group = group;
  t.last_status = last_status;
  t.reserved_memory = 64;
  return t;
}

class ClusterIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::SqliteKv::Open(dir_.File("store.db"));
    ASSERT_TRUE(opened) << opened.error().message;
    kv_ = std::move(*opened);
    index_ = std::make_unique<ClusterIndex>(*kv_, InstancesPrefix(kAccount, kRegion, kCluster),
                                            TasksPrefix(kAccount, kRegion, kCluster));
    std::lock_guard lock(index_->mu);
    ASSERT_TRUE(index_->Sync());
    index_->ApplyInstance(Instance("i1"), 1);
    index_->ApplyInstance(Instance("i2"), 1);
  }

  void Apply(const Task& t) { index_->ApplyTask(std::make_shared<const Task>(t), 2); }

  test_support::TempDir dir_{"cluster_index_test"};
  std::unique_ptr<store::SqliteKv> kv_;
  std::unique_ptr<ClusterIndex> index_;
};

TEST_F(ClusterIndexTest, TasksOnListsAnInstancesTasksInIdOrder) {
  std::lock_guard lock(index_->mu);
  Apply(MakeTask("t3", "i1", "g"));
  Apply(MakeTask("t1", "i1", "g"));
  Apply(MakeTask("t2", "i2", "g"));
  Apply(MakeTask("t4", "", "g"));  // FARGATE: on no instance
  EXPECT_EQ(index_->TasksOn("i1"), (std::set<std::string>{"t1", "t3"}));
  EXPECT_EQ(index_->TasksOn("i2"), (std::set<std::string>{"t2"}));
  EXPECT_TRUE(index_->TasksOn("").empty());
  EXPECT_TRUE(index_->TasksOn("nope").empty());
  // A stopped task is still the instance's (describable, in the manifest's input).
  Apply(MakeTask("t1", "i1", "g", "STOPPED"));
  EXPECT_EQ(index_->TasksOn("i1"), (std::set<std::string>{"t1", "t3"}));
  index_->RemoveTask("t1");
  index_->RemoveTask("t3");
  EXPECT_TRUE(index_->TasksOn("i1").empty());
}

TEST_F(ClusterIndexTest, TasksOnIsRebuiltWhenLoadedFromTheStore) {
  ASSERT_TRUE(kv_->Put(InstanceKey(kAccount, kRegion, kCluster, "i1"),
                       EncodeInstance(*Instance("i1"))));
  ASSERT_TRUE(kv_->Put(TaskKey(kAccount, kRegion, kCluster, "t1"),
                       EncodeTask(MakeTask("t1", "i1", "g"))));
  ASSERT_TRUE(kv_->Put(TaskKey(kAccount, kRegion, kCluster, "t2"),
                       EncodeTask(MakeTask("t2", "i2", "g"))));
  ClusterIndex fresh(*kv_, InstancesPrefix(kAccount, kRegion, kCluster),
                     TasksPrefix(kAccount, kRegion, kCluster));
  std::lock_guard lock(fresh.mu);
  ASSERT_TRUE(fresh.Sync());
  EXPECT_EQ(fresh.TasksOn("i1"), (std::set<std::string>{"t1"}));
  EXPECT_EQ(fresh.TasksOn("i2"), (std::set<std::string>{"t2"}));
}

TEST_F(ClusterIndexTest, GroupsCountTheTasksThatHoldResources) {
  std::lock_guard lock(index_->mu);
  Apply(MakeTask("t1", "i1", "family:web"));
  Apply(MakeTask("t2", "i1", "family:web", "RUNNING"));
  Apply(MakeTask("t3", "i1", "other"));
  auto facts = [&] { return index_->FindInstance("i1")->facts; };
  using Groups = decltype(facts()->task_groups);
  EXPECT_EQ(facts()->task_groups, (Groups{{"family:web", 2}, {"other", 1}}));
  EXPECT_EQ(facts()->running_tasks_count, 1);
  Apply(MakeTask("t1", "i1", "family:web", "STOPPED"));
  EXPECT_EQ(facts()->task_groups, (Groups{{"family:web", 1}, {"other", 1}}));
  index_->RemoveTask("t3");  // a group with no task left is gone, not 0
  EXPECT_EQ(facts()->task_groups, (Groups{{"family:web", 1}}));
  Apply(MakeTask("t2", "i1", "family:web", "STOPPED"));
  EXPECT_EQ(facts()->running_tasks_count, 0);
  EXPECT_EQ(index_->FindInstance("i1")->used_memory, 0);
}

TEST_F(ClusterIndexTest, AReservedTaskHoldsItsResourcesUntilCommittedOrUnreserved) {
  std::lock_guard lock(index_->mu);
  index_->Reserve(std::make_shared<const Task>(MakeTask("t1", "i1", "g")));
  index_->Reserve(std::make_shared<const Task>(MakeTask("t2", "i1", "g")));
  EXPECT_EQ(index_->FindInstance("i1")->used_memory, 128);
  EXPECT_EQ(index_->FindTask("t1")->mod_revision, 0);
  index_->Committed("t1", 7);
  EXPECT_EQ(index_->FindTask("t1")->mod_revision, 7);
  index_->Unreserve("t2");  // its commit failed
  EXPECT_EQ(index_->FindTask("t2"), nullptr);
  EXPECT_EQ(index_->FindInstance("i1")->used_memory, 64);
  // A committed task is no reservation any more; nor is one a Sync re-read at a newer revision.
  index_->Unreserve("t1");
  EXPECT_NE(index_->FindTask("t1"), nullptr);
  index_->Reserve(std::make_shared<const Task>(MakeTask("t3", "i2", "g")));
  Apply(MakeTask("t3", "i2", "g", "RUNNING"));  // at revision 2
  index_->Committed("t3", 1);
  EXPECT_EQ(index_->FindTask("t3")->mod_revision, 2);
  EXPECT_EQ(index_->FindInstance("i2")->facts->running_tasks_count, 1);
}

TEST_F(ClusterIndexTest, FactsFollowTheRecordAndTheAgentsSession) {
  std::set<std::string> sessions = {"i2"};
  ClusterIndex index(*kv_, InstancesPrefix(kAccount, kRegion, kCluster),
                     TasksPrefix(kAccount, kRegion, kCluster),
                     [&](const std::string& id) { return sessions.contains(id); });
  std::lock_guard lock(index.mu);
  ASSERT_TRUE(index.Sync());
  index.ApplyInstance(Instance("i1"), 1);
  index.ApplyInstance(Instance("i2"), 1);
  // Read when the instance is first seen...
  EXPECT_FALSE(index.FindInstance("i1")->facts->agent_connected);
  EXPECT_TRUE(index.FindInstance("i2")->facts->agent_connected);
  // ...then told.
  index.SetAgentConnected("i1", true);
  index.SetAgentConnected("i2", false);
  index.SetAgentConnected("gone", true);  // an instance it does not hold: nothing
  EXPECT_TRUE(index.FindInstance("i1")->facts->agent_connected);
  EXPECT_FALSE(index.FindInstance("i2")->facts->agent_connected);
  // A new record of the instance keeps the session's state and shares the same facts.
  auto before = index.FindInstance("i1")->facts;
  auto changed = std::make_shared<ContainerInstance>(*Instance("i1"));
  changed->attributes.push_back({"stack", std::string("prod")});
  changed->version_info.agent_version = "1.80.0";
  changed->arn = "arn:aws:ecs:us-east-1:123456789012:container-instance/c/i1";
  index.ApplyInstance(changed, 2);
  EXPECT_EQ(index.FindInstance("i1")->facts, before);
  EXPECT_TRUE(before->agent_connected);
  EXPECT_EQ(before->attributes.at("stack"), "prod");
  EXPECT_EQ(before->agent_version, "1.80.0");
  EXPECT_EQ(before->container_instance_arn, changed->arn);
}

}  // namespace
}  // namespace berth::ecs
