// The ECS service over the real stack: SQLite store, IAM policies evaluated by
// AccessControl; only ids and the clock are fakes.
#include "ecs/service.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include "ecs/test_service_fixture.h"

namespace berth::ecs {
namespace {

using namespace testing_support;  // NOLINT
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

// ---- Tags -------------------------------------------------------------------

TEST_F(EcsServiceTest, EveryResourceKindIsTaggedUntaggedAndListed) {
  Cluster();
  TaskDefinition td = Register(Td("web"));
  InstanceView instance = Instance();
  auto run = ASSERT_OK(ecs_->RunTask(Root(), Run("web")));
  ASSERT_THAT(run.tasks, SizeIs(1));
  for (const std::string& arn : {std::string(kPrefix) + "cluster/default", td.arn,
                                 instance.instance.arn, run.tasks[0].arn}) {
    SCOPED_TRACE(arn);
    EXPECT_THAT(ASSERT_OK(ecs_->ListTagsForResource(Root(), arn)), IsEmpty());
    ASSERT_OK(ecs_->TagResource(Root(), arn, {{"team", "blue"}, {"tier", "web"}}));
    // A key given again replaces its value; others are kept.
    ASSERT_OK(ecs_->TagResource(Root(), arn, {{"team", "red"}, {"cost", ""}}));
    EXPECT_THAT(Keys(ASSERT_OK(ecs_->ListTagsForResource(Root(), arn))),
                ElementsAre("team=red", "tier=web", "cost="));
    ASSERT_OK(ecs_->UntagResource(Root(), arn, {"tier", "absent"}));
    EXPECT_THAT(Keys(ASSERT_OK(ecs_->ListTagsForResource(Root(), arn))),
                ElementsAre("team=red", "cost="));
  }
  // The records carry them: Describe shows them too.
  auto described = ASSERT_OK(ecs_->DescribeTaskDefinition(Root(), "web:1"));
  EXPECT_THAT(Keys(described.tags), ElementsAre("team=red", "cost="));
  EXPECT_THAT(Keys(ASSERT_OK(Describe(run.tasks[0].arn)).tags), ElementsAre("team=red", "cost="));
  auto instances = ASSERT_OK(ecs_->DescribeContainerInstances(Root(), "", {instance.instance.id}));
  EXPECT_THAT(Keys(instances.first[0].instance.tags), ElementsAre("team=red", "cost="));
  EXPECT_EQ(instances.first[0].instance.version, instance.instance.version + 3);
  auto clusters = ASSERT_OK(ecs_->DescribeClusters(Root(), {}));
  EXPECT_THAT(Keys(clusters.first[0].cluster.tags), ElementsAre("team=red", "cost="));
}

TEST_F(EcsServiceTest, TagsAreLimitedTo50PerResourceWithEcsKeyRules) {
  Cluster();
  std::string arn = std::string(kPrefix) + "cluster/default";
  std::vector<Tag> fifty;
  for (int i = 0; i < 50; ++i) fifty.push_back({fmt::format("k{}", i), "v"});
  ASSERT_OK(ecs_->TagResource(Root(), arn, fifty));
  ASSERT_OK(ecs_->TagResource(Root(), arn, {{"k0", "replaced"}}));  // still 50
  EXPECT_ERROR(ecs_->TagResource(Root(), arn, {{"k50", "v"}}), "InvalidParameterException",
               "at most 50 tags");
  EXPECT_THAT(ASSERT_OK(ecs_->ListTagsForResource(Root(), arn)), SizeIs(50));
  EXPECT_ERROR(ecs_->TagResource(Root(), arn, {{"aws:owner", "x"}}), "InvalidParameterException",
               "reserved");
  EXPECT_ERROR(ecs_->TagResource(Root(), arn, {{std::string(129, 'k'), "x"}}),
               "InvalidParameterException", "between 1 and 128");
  EXPECT_ERROR(ecs_->TagResource(Root(), arn, {{"a", std::string(257, 'v')}}),
               "InvalidParameterException", "at most 256");
  EXPECT_ERROR(ecs_->UntagResource(Root(), arn, {""}), "InvalidParameterException",
               "between 1 and 128");
}

TEST_F(EcsServiceTest, TaggingNamesWhatIsWrongWithTheArn) {
  Cluster();
  Register(Td("web"));
  InstanceView instance = Instance();
  std::string p = kPrefix;
  for (const std::string& bad :
       {std::string("default"), std::string("arn:aws:ecr:us-east-1:111122223333:repository/x"),
        std::string("arn:aws:ecs:us-west-2:111122223333:cluster/default"),
        std::string("arn:aws:ecs:us-east-1:444455556666:cluster/default"),
        p + "capacity-provider/x", p + "task-definition/web", p + "task-definition/web:0",
        p + "cluster/bad name"}) {
    SCOPED_TRACE(bad);
    EXPECT_ERROR(ecs_->TagResource(Root(), bad, {{"a", "b"}}), "InvalidParameterException",
                 "The ARN provided is invalid.");
    EXPECT_ERROR(ecs_->ListTagsForResource(Root(), bad), "InvalidParameterException",
                 "The ARN provided is invalid.");
  }
  for (const std::string& old :
       {p + "task/0123456789abcdef0123456789abcdef",
        p + "container-instance/" + instance.instance.id, p + "service/web"}) {
    EXPECT_ERROR(ecs_->TagResource(Root(), old, {{"a", "b"}}), "InvalidParameterException",
                 "Long arn format must be used for tagging operations");
  }
  EXPECT_ERROR(ecs_->TagResource(Root(), p + "service/default/web", {{"a", "b"}}),
               "ResourceNotFoundException", "The specified resource wasn't found.");
  // Missing: the cluster's own error, then the resource's.
  EXPECT_ERROR(ecs_->TagResource(Root(), p + "cluster/nope", {{"a", "b"}}),
               "ClusterNotFoundException", "Cluster not found.");
  EXPECT_ERROR(ecs_->ListTagsForResource(Root(), p + "task/nope/0123456789abcdef0123456789abcdef"),
               "ClusterNotFoundException", "Cluster not found.");
  for (const std::string& missing :
       {p + "task-definition/web:2", p + "task/default/0123456789abcdef0123456789abcdef",
        p + "container-instance/default/0123456789abcdef0123456789abcdef"}) {
    SCOPED_TRACE(missing);
    EXPECT_ERROR(ecs_->TagResource(Root(), missing, {{"a", "b"}}), "ResourceNotFoundException",
                 "The specified resource wasn't found.");
    EXPECT_ERROR(ecs_->UntagResource(Root(), missing, {"a"}), "ResourceNotFoundException",
                 "The specified resource wasn't found.");
    EXPECT_ERROR(ecs_->ListTagsForResource(Root(), missing), "ResourceNotFoundException",
                 "The specified resource wasn't found.");
  }
  // A deleted cluster is not found either.
  ASSERT_OK(ecs_->DeregisterContainerInstance(Root(), "", instance.instance.id, false));
  ASSERT_OK(ecs_->DeleteCluster(Root(), "default"));
  EXPECT_ERROR(ecs_->ListTagsForResource(Root(), p + "cluster/default"), "ClusterNotFoundException",
               "Cluster not found.");
}

TEST_F(EcsServiceTest, TaggingIsAuthorizedWithRequestAndResourceTagKeys) {
  Cluster();
  std::string arn = std::string(kPrefix) + "cluster/default";
  ASSERT_OK(ecs_->TagResource(Root(), arn, {{"protected", "yes"}}));
  auto tagger = Role("tagger", R"({"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"ecs:TagResource","Resource":"*",
       "Condition":{"StringEquals":{"aws:RequestTag/team":"blue"},
                    "ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}},
      {"Effect":"Allow","Action":["ecs:UntagResource","ecs:ListTagsForResource"],"Resource":"*",
       "Condition":{"StringEquals":
          {"ecs:cluster":"arn:aws:ecs:us-east-1:111122223333:cluster/default"}}},
      {"Effect":"Deny","Action":"ecs:UntagResource","Resource":"*",
       "Condition":{"StringEquals":{"aws:ResourceTag/protected":"yes"},
                    "ForAnyValue:StringEquals":{"aws:TagKeys":["protected"]}}}]})");
  ASSERT_OK(ecs_->TagResource(tagger, arn, {{"team", "blue"}}));
  EXPECT_ERROR(ecs_->TagResource(tagger, arn, {{"team", "red"}}), "AccessDeniedException",
               "ecs:TagResource");
  EXPECT_ERROR(ecs_->TagResource(tagger, arn, {{"team", "blue"}, {"owner", "me"}}),
               "AccessDeniedException", "ecs:TagResource");
  EXPECT_ERROR(ecs_->UntagResource(tagger, arn, {"protected"}), "AccessDeniedException",
               "ecs:UntagResource");
  ASSERT_OK(ecs_->UntagResource(tagger, arn, {"team"}));
  EXPECT_THAT(Keys(ASSERT_OK(ecs_->ListTagsForResource(tagger, arn))),
              ElementsAre("protected=yes"));
  // No statement allows listing another cluster's tags; the denial comes
  // before "not found", so nothing leaks.
  EXPECT_ERROR(ecs_->ListTagsForResource(tagger, std::string(kPrefix) + "cluster/other"),
               "AccessDeniedException", "ecs:ListTagsForResource");
}

TEST_F(EcsServiceTest, RunTaskTagsTheTasksAndStopTaskDeletesThem) {
  Cluster();
  Register(Td("web"));
  Instance();
  RunTaskRequest r = Run("web");
  r.tags = {{"job", "nightly"}};
  auto run = ASSERT_OK(ecs_->RunTask(Root(), r));
  std::string arn = run.tasks[0].arn;
  EXPECT_THAT(Keys(ASSERT_OK(ecs_->ListTagsForResource(Root(), arn))), ElementsAre("job=nightly"));
  ASSERT_OK(ecs_->StopTask(Root(), "", arn, ""));
  EXPECT_THAT(ASSERT_OK(ecs_->ListTagsForResource(Root(), arn)), IsEmpty());
  EXPECT_THAT(ASSERT_OK(Describe(arn)).tags, IsEmpty());
}

// ---- Attributes -------------------------------------------------------------

std::vector<std::string> Names(const std::vector<TargetAttribute>& attributes) {
  std::vector<std::string> out;
  for (const auto& a : attributes) {
    out.push_back(a.attribute.name + "=" + a.attribute.value.value_or("") + "@" + a.target_id);
  }
  return out;
}

TEST_F(EcsServiceTest, CustomAttributesArePutListedDeletedAndSteerPlacement) {
  Cluster();
  InstanceView one = Instance();
  InstanceView two = Instance();
  const std::string& arn1 = one.instance.arn;
  const std::string& arn2 = two.instance.arn;
  auto put =
      ASSERT_OK(ecs_->PutAttributes(Root(), "",
                                    {{{"stack", "prod"}, "container-instance", one.instance.id},
                                     {{"gpu", std::nullopt}, "", arn2}}));
  EXPECT_THAT(Names(put), ElementsAre("stack=prod@" + one.instance.id, "gpu=@" + arn2));
  // A value is replaced in place.
  ASSERT_OK(ecs_->PutAttributes(Root(), "", {{{"stack", "staging"}, "", arn1}}));
  auto described = ASSERT_OK(ecs_->DescribeContainerInstances(Root(), "", {arn1}));
  EXPECT_EQ(described.first[0].instance.attributes.back().value, "staging");
  EXPECT_EQ(described.first[0].instance.version, one.instance.version + 2);

  ListAttributesRequest list{.target_type = "container-instance"};
  auto all = ASSERT_OK(ecs_->ListAttributes(Root(), list));
  EXPECT_THAT(all.items, SizeIs(6));  // 2 agent attributes each, and the two custom ones
  list.attribute_name = "stack";
  EXPECT_THAT(Names(ASSERT_OK(ecs_->ListAttributes(Root(), list)).items),
              ElementsAre("stack=staging@" + arn1));
  list.attribute_value = "prod";
  EXPECT_THAT(ASSERT_OK(ecs_->ListAttributes(Root(), list)).items, IsEmpty());

  // Placement reads them at once.
  Register(Td("web"));
  RunTaskRequest r = Run("web", 3);
  r.placement_constraints = {{"memberOf", "attribute:stack == staging"}};
  auto run = ASSERT_OK(ecs_->RunTask(Root(), r));
  ASSERT_THAT(run.tasks, SizeIs(3));
  for (const auto& t : run.tasks) EXPECT_EQ(t.container_instance_id, one.instance.id);

  auto deleted = ASSERT_OK(ecs_->DeleteAttributes(
      Root(), "", {{{"stack", std::nullopt}, "", arn1}, {{"never-set", std::nullopt}, "", arn1}}));
  EXPECT_THAT(deleted, SizeIs(2));
  list.attribute_value.reset();
  EXPECT_THAT(ASSERT_OK(ecs_->ListAttributes(Root(), list)).items, IsEmpty());
  r.count = 1;
  auto none = ASSERT_OK(ecs_->RunTask(Root(), r));
  EXPECT_THAT(none.tasks, IsEmpty());
  ASSERT_THAT(none.failures, SizeIs(2));
  EXPECT_EQ(none.failures[0].reason, "MemberOf placement constraint unsatisfied.");
}

TEST_F(EcsServiceTest, AttributesRefuseBadTargetsAndMoreThanTenCustom) {
  Cluster();
  InstanceView one = Instance();
  const std::string& arn = one.instance.arn;
  EXPECT_ERROR(ecs_->PutAttributes(Root(), "", {{{"a", "b"}, "", one.instance.id}}),
               "InvalidParameterException", "targetType is required");
  EXPECT_ERROR(ecs_->PutAttributes(Root(), "", {{{"a", "b"}, "task", arn}}),
               "InvalidParameterException", "targetType should be one of [container-instance]");
  EXPECT_ERROR(ecs_->PutAttributes(Root(), "", {{{"a", "b"}, "", ""}}), "InvalidParameterException",
               "targetId can not be blank");
  EXPECT_ERROR(ecs_->PutAttributes(Root(), "", {}), "InvalidParameterException",
               "between 1 and 10");
  EXPECT_ERROR(ecs_->PutAttributes(Root(), "", {{{"a b", "c"}, "", arn}}),
               "InvalidParameterException", "Attribute name 'a b' is not valid");
  EXPECT_ERROR(ecs_->PutAttributes(Root(), "", {{{"a", " c"}, "", arn}}),
               "InvalidParameterException", "Attribute value for 'a' is not valid");
  // The agent's attributes are the agent's: the seed's gate cannot be faked.
  EXPECT_ERROR(ecs_->PutAttributes(Root(), "", {{{kSecretsCapability, std::nullopt}, "", arn}}),
               "InvalidParameterException", "managed by the container agent");
  EXPECT_ERROR(ecs_->DeleteAttributes(Root(), "", {{{"ecs.os-type", std::nullopt}, "", arn}}),
               "InvalidParameterException", "managed by the container agent");
  EXPECT_ERROR(
      ecs_->PutAttributes(Root(), "",
                          {{{"a", "b"}, "container-instance", "0123456789abcdef0123456789abcdef"}}),
      "TargetNotFoundException", "0123456789abcdef0123456789abcdef");
  EXPECT_ERROR(ecs_->PutAttributes(Root(), "other", {{{"a", "b"}, "", arn}}),
               "ClusterNotFoundException", "Cluster not found.");

  std::vector<TargetAttribute> ten;
  for (int i = 0; i < 10; ++i) ten.push_back({{fmt::format("c{}", i), "v"}, "", arn});
  ASSERT_OK(ecs_->PutAttributes(Root(), "", ten));
  std::vector<TargetAttribute> eleven = ten;
  eleven.push_back({{"c10", "v"}, "", arn});
  EXPECT_ERROR(ecs_->PutAttributes(Root(), "", eleven), "InvalidParameterException",
               "between 1 and 10");
  // An update of all ten and one new: refused as a whole, nothing changed.
  std::vector<TargetAttribute> update(ten.begin() + 1, ten.end());
  for (auto& a : update) a.attribute.value = "changed";
  update.push_back({{"c10", "v"}, "", arn});
  EXPECT_ERROR(ecs_->PutAttributes(Root(), "", update), "AttributeLimitExceededException",
               "at most 10 custom attributes");
  ListAttributesRequest list{.target_type = "container-instance", .attribute_name = "c1"};
  EXPECT_THAT(Names(ASSERT_OK(ecs_->ListAttributes(Root(), list)).items),
              ElementsAre("c1=v@" + arn));
  // Replacing values is no new attribute.
  update.pop_back();
  ASSERT_OK(ecs_->PutAttributes(Root(), "", update));
  EXPECT_THAT(Names(ASSERT_OK(ecs_->ListAttributes(Root(), list)).items),
              ElementsAre("c1=changed@" + arn));

  EXPECT_ERROR(ecs_->ListAttributes(Root(), {.target_type = "task"}), "InvalidParameterException",
               "targetType");
  EXPECT_ERROR(
      ecs_->ListAttributes(Root(), {.target_type = "container-instance", .attribute_value = "v"}),
      "InvalidParameterException", "attributeName must be specified");
}

TEST_F(EcsServiceTest, ListAttributesPagesInInstanceThenNameOrder) {
  Cluster();
  InstanceView one = Instance("", 1024, {{"z", "1"}, {"a", "1"}});
  InstanceView two = Instance("", 1024, {{"m", "1"}});
  ListAttributesRequest list{.target_type = "container-instance"};
  list.page.max_results = 2;
  std::vector<std::string> seen;
  for (int pages = 0; pages < 5; ++pages) {
    auto page = ASSERT_OK(ecs_->ListAttributes(Root(), list));
    for (const auto& a : page.items) seen.push_back(a.attribute.name);
    if (page.next_token.empty()) break;
    list.page.next_token = page.next_token;
  }
  // Instance ids are sequential here: `one` sorts first.
  ASSERT_LT(one.instance.id, two.instance.id);
  EXPECT_THAT(seen, ElementsAre("a", "z", "m"));
}

TEST_F(EcsServiceTest, ReRegistrationKeepsCustomAttributesAndReplacesTheAgents) {
  Cluster();
  InstanceView first = Instance("", 1024, {{"ecs.os-type", "linux"}, {"purpose", "batch"}});
  ASSERT_OK(ecs_->PutAttributes(Root(), "", {{{"stack", "prod"}, "", first.instance.arn}}));
  RegisterInstanceRequest again;
  again.container_instance_arn = first.instance.arn;
  again.total_resources = {{.name = "CPU", .integer_value = 2048},
                           {.name = "MEMORY", .integer_value = 4096}};
  again.attributes = {{"ecs.os-type", "linux"}, {kSecretsCapability, std::nullopt}};
  auto view = ASSERT_OK(ecs_->RegisterContainerInstance(Root(), again));
  EXPECT_EQ(view.instance.arn, first.instance.arn);
  std::vector<std::string> names;
  for (const auto& a : view.instance.attributes) names.push_back(a.name);
  // What the agent sent first, exactly as sent, then the custom ones kept.
  EXPECT_THAT(names, ElementsAre("ecs.os-type", kSecretsCapability, "purpose", "stack"));
}

// ---- RunTask clientToken ----------------------------------------------------

TEST_F(EcsServiceTest, RunTaskClientTokenReplaysTheSameRequestAndRefusesAnother) {
  Cluster();
  Register(Td("web"));
  Instance();
  RunTaskRequest r = Run("web", 2);
  r.client_token = "retry-7f3a!~";
  auto first = ASSERT_OK(ecs_->RunTask(Root(), r));
  ASSERT_THAT(first.tasks, SizeIs(2));
  EXPECT_EQ(first.tasks[0].client_token, r.client_token);
  auto again = ASSERT_OK(ecs_->RunTask(Root(), r));
  EXPECT_EQ(Arns(again.tasks), Arns(first.tasks));
  EXPECT_THAT(List({}), SizeIs(2));

  // The same token with other parameters: ConflictException naming the tasks.
  RunTaskRequest other = r;
  other.count = 1;
  auto conflict = ecs_->RunTask(Root(), other);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code, "ConflictException");
  auto ids = json::ParseObject("{" + conflict.error().extra_json + "}");
  ASSERT_TRUE(ids) << conflict.error().extra_json;
  EXPECT_EQ((*ids)["resourceIds"], json::Json(Arns(first.tasks)));
  other = r;
  other.started_by = "someone";
  EXPECT_ERROR(ecs_->RunTask(Root(), other), "ConflictException", "clientToken");
  // Tokens are case sensitive; another token is another request.
  other = r;
  other.client_token = "RETRY-7f3a!~";
  EXPECT_THAT(ASSERT_OK(ecs_->RunTask(Root(), other)).tasks, SizeIs(2));
  EXPECT_THAT(List({}), SizeIs(4));

  for (const std::string& bad : {std::string(65, 'a'), std::string("has space"),
                                 std::string("tab\t"), std::string("caf\xC3\xA9")}) {
    r.client_token = bad;
    EXPECT_ERROR(ecs_->RunTask(Root(), r), "InvalidParameterException", "clientToken");
  }
  r.client_token = std::string(64, '~');
  EXPECT_TRUE(ecs_->RunTask(Root(), r));
}

TEST_F(EcsServiceTest, RunTaskClientTokenIsFreeAgainOnceItsTasksAreSwept) {
  Cluster();
  Register(Td("web"));
  Instance();
  RunTaskRequest r = Run("web");
  r.client_token = "nightly";
  auto first = ASSERT_OK(ecs_->RunTask(Root(), r));
  ASSERT_OK(Report(first.tasks[0].arn, "STOPPED"));
  clock_.Advance(3601s);
  std::string key = RunTokenKey(kA, kEast, "default", "nightly");
  EXPECT_TRUE(ASSERT_OK(kv_->Get(key)));
  ASSERT_OK(ecs_->SweepStoppedTasks(clock_.Now()));
  EXPECT_FALSE(ASSERT_OK(kv_->Get(key)));  // the sweep forgets the token with its tasks
  auto second = ASSERT_OK(ecs_->RunTask(Root(), r));
  ASSERT_THAT(second.tasks, SizeIs(1));
  EXPECT_NE(second.tasks[0].arn, first.tasks[0].arn);
  EXPECT_EQ(ASSERT_OK(ecs_->RunTask(Root(), r)).tasks[0].arn, second.tasks[0].arn);
}

// ---- Clusters ---------------------------------------------------------------

TEST_F(EcsServiceTest, CreateClusterIsIdempotentAndNamesDefault) {
  auto first = ASSERT_OK(ecs_->CreateCluster(Root(), "", {{"a", "1"}}, {}));
  EXPECT_EQ(first.cluster.name, "default");
  EXPECT_EQ(first.cluster.arn, std::string(kPrefix) + "cluster/default");
  clock_.Advance(10s);
  auto second = ASSERT_OK(ecs_->CreateCluster(Root(), "default", {{"b", "2"}}, {}));
  EXPECT_EQ(second.cluster.arn, first.cluster.arn);
  EXPECT_EQ(second.cluster.created_at, first.cluster.created_at);
  EXPECT_THAT(Keys(second.cluster.tags), ElementsAre("a=1"));  // the existing cluster, as it is
  EXPECT_THAT(ASSERT_OK(ecs_->ListClusters(Root(), {})).items, ElementsAre(first.cluster.arn));
  EXPECT_ERROR(ecs_->CreateCluster(Root(), "bad name", {}, {}), "InvalidParameterException",
               "Cluster name");
  EXPECT_ERROR(ecs_->CreateCluster(Root(), "c", {}, {{"containerInsights", "sometimes"}}),
               "InvalidParameterException", "Invalid cluster setting");
}

TEST_F(EcsServiceTest, DeleteClusterRefusesWhileInstancesOrTasksRemain) {
  Cluster("work");
  Register(Td("web"));
  InstanceView instance = Instance("work");
  auto run = ASSERT_OK(ecs_->RunTask(Root(), Run("web", 1, "work")));
  EXPECT_ERROR(ecs_->DeleteCluster(Root(), "work"), "ClusterContainsContainerInstancesException",
               "Container Instances are active or draining");
  EXPECT_ERROR(ecs_->DeregisterContainerInstance(Root(), "work", instance.instance.arn, false),
               "InvalidParameterException", "Found running tasks");
  ASSERT_OK(ecs_->DeregisterContainerInstance(Root(), "work", instance.instance.arn, true));
  EXPECT_ERROR(ecs_->DeleteCluster(Root(), "work"), "ClusterContainsTasksException",
               "Tasks are active");
  // The user's stop reaches no agent now; the task stays until it is STOPPED.
  ASSERT_OK(ecs_->StopTask(Root(), "work", run.tasks[0].arn, ""));
  EXPECT_ERROR(ecs_->DeleteCluster(Root(), "work"), "ClusterContainsTasksException",
               "Tasks are active");
  TaskStateChange stopped;
  stopped.cluster = "work";
  stopped.task = run.tasks[0].arn;
  stopped.status = "STOPPED";
  ASSERT_OK(ecs_->SubmitTaskStateChange(Root(), stopped));
  auto deleted = ASSERT_OK(ecs_->DeleteCluster(Root(), std::string(kPrefix) + "cluster/work"));
  EXPECT_EQ(deleted.cluster.status, "INACTIVE");
  // Still described (INACTIVE), no longer listed or usable; created again ACTIVE.
  auto described = ASSERT_OK(ecs_->DescribeClusters(Root(), {"work"}));
  ASSERT_THAT(described.first, SizeIs(1));
  EXPECT_EQ(described.first[0].cluster.status, "INACTIVE");
  EXPECT_THAT(ASSERT_OK(ecs_->ListClusters(Root(), {})).items, IsEmpty());
  EXPECT_ERROR(ecs_->RunTask(Root(), Run("web", 1, "work")), "ClusterNotFoundException",
               "Cluster not found.");
  EXPECT_ERROR(ecs_->DeleteCluster(Root(), "work"), "ClusterNotFoundException",
               "Cluster not found.");
  EXPECT_EQ(ASSERT_OK(ecs_->CreateCluster(Root(), "work", {}, {})).cluster.status, "ACTIVE");
  auto missing = ASSERT_OK(ecs_->DescribeClusters(Root(), {"nope"}));
  ASSERT_THAT(missing.second, SizeIs(1));
  EXPECT_EQ(missing.second[0].reason, "MISSING");
  EXPECT_EQ(missing.second[0].arn, std::string(kPrefix) + "cluster/nope");
}

// ---- Task definitions -------------------------------------------------------

TEST_F(EcsServiceTest, RevisionsGrowAcrossDeregistrationAndFamilyMeansLatestActive) {
  EXPECT_EQ(Register(Td("web")).revision, 1);
  EXPECT_EQ(Register(Td("web")).revision, 2);
  auto deregistered = ASSERT_OK(ecs_->DeregisterTaskDefinition(Root(), "web:2"));
  EXPECT_EQ(deregistered.status, "INACTIVE");
  EXPECT_EQ(deregistered.deregistered_at, clock_.Now());
  EXPECT_EQ(Register(Td("web")).revision, 3);
  EXPECT_EQ(ASSERT_OK(ecs_->DescribeTaskDefinition(Root(), "web")).revision, 3);
  ASSERT_OK(ecs_->DeregisterTaskDefinition(Root(), std::string(kPrefix) + "task-definition/web:3"));
  EXPECT_EQ(ASSERT_OK(ecs_->DescribeTaskDefinition(Root(), "web")).revision, 1);
  // INACTIVE revisions stay describable by revision, and cannot run.
  EXPECT_EQ(ASSERT_OK(ecs_->DescribeTaskDefinition(Root(), "web:2")).status, "INACTIVE");
  Cluster();
  Instance();
  EXPECT_ERROR(ecs_->RunTask(Root(), Run("web:2")), "InvalidParameterException",
               "TaskDefinition is inactive");
  EXPECT_ERROR(ecs_->DeregisterTaskDefinition(Root(), "web"), "ClientException",
               "Revision is missing.");
  EXPECT_ERROR(ecs_->DescribeTaskDefinition(Root(), "web:9"), "ClientException",
               "Unable to describe task definition.");
  ListTaskDefinitionsRequest list;
  list.family_prefix = "web";
  EXPECT_THAT(ASSERT_OK(ecs_->ListTaskDefinitions(Root(), list)).items,
              ElementsAre(std::string(kPrefix) + "task-definition/web:1"));
  list.status = "INACTIVE";
  EXPECT_THAT(ASSERT_OK(ecs_->ListTaskDefinitions(Root(), list)).items, SizeIs(2));
}

// ---- Container instances ----------------------------------------------------

TEST_F(EcsServiceTest, ReRegistrationKeepsTheInstanceAndGrowsItsVersion) {
  Cluster();
  InstanceView first = Instance();
  clock_.Advance(60s);
  RegisterInstanceRequest again;
  again.container_instance_arn = first.instance.arn;
  again.total_resources = {{.name = "CPU", .integer_value = 2048},
                           {.name = "MEMORY", .integer_value = 4096}};
  again.attributes = {{"ecs.os-type", "linux"}};
  auto view = ASSERT_OK(ecs_->RegisterContainerInstance(Root(), again));
  EXPECT_EQ(view.instance.id, first.instance.id);
  EXPECT_EQ(view.instance.version, first.instance.version + 1);
  EXPECT_EQ(view.instance.registered_at, first.instance.registered_at);
  EXPECT_EQ(FindResource(view.remaining_resources, "MEMORY")->integer_value, 4096);
  EXPECT_THAT(ASSERT_OK(ecs_->ListContainerInstances(Root(), "", "", "", {})).items,
              ElementsAre(first.instance.arn));
  again.container_instance_arn = std::string(kPrefix) + "container-instance/default/ffff";
  EXPECT_ERROR(ecs_->RegisterContainerInstance(Root(), again), "InvalidParameterException",
               "not found");
  // A retried first registration (same clientToken) is the same instance.
  RegisterInstanceRequest fresh;
  fresh.client_token = "boot-1";
  fresh.total_resources = again.total_resources;
  auto a = ASSERT_OK(ecs_->RegisterContainerInstance(Root(), fresh));
  auto b = ASSERT_OK(ecs_->RegisterContainerInstance(Root(), fresh));
  EXPECT_EQ(a.instance.arn, b.instance.arn);
  EXPECT_THAT(ASSERT_OK(ecs_->ListContainerInstances(Root(), "", "", "", {})).items, SizeIs(2));
}

// ---- RunTask placement and resources ----------------------------------------

TEST_F(EcsServiceTest, RunTaskFailuresNameTheMissingResource) {
  Cluster();
  Register(Td("web", 600, 8080));
  EXPECT_ERROR(ecs_->RunTask(Root(), Run("web")), "InvalidParameterException",
               "No Container Instances were found in your cluster.");
  InstanceView instance = Instance("", 1024);
  auto run = ASSERT_OK(ecs_->RunTask(Root(), Run("web", 3)));
  // One fits; the second needs port 8080 again and memory the instance no longer has.
  ASSERT_THAT(run.tasks, SizeIs(1));
  ASSERT_THAT(run.failures, SizeIs(1));
  EXPECT_EQ(run.failures[0].arn, instance.instance.arn);
  EXPECT_THAT(run.failures[0].reason, ::testing::StartsWith("RESOURCE:"));
  EXPECT_EQ(RemainingMemory(instance.instance.arn), 1024 - 600);

  Register(Td("small", 100, 8080));
  auto ports = ASSERT_OK(ecs_->RunTask(Root(), Run("small")));
  ASSERT_THAT(ports.failures, SizeIs(1));
  EXPECT_EQ(ports.failures[0].reason, "RESOURCE:PORTS");
  Register(Td("big", 500));
  auto memory = ASSERT_OK(ecs_->RunTask(Root(), Run("big")));
  ASSERT_THAT(memory.failures, SizeIs(1));
  EXPECT_EQ(memory.failures[0].reason, "RESOURCE:MEMORY");

  // An agent older than the Secrets Manager capability never gets a private-registry task.
  Cluster("old");
  Instance("old", 4096, {{"ecs.os-type", "linux"}});
  TaskDefinition priv = Td("private");
  priv.containers[0].credentials_parameter =
      "arn:aws:secretsmanager:us-east-1:111122223333:secret:registry-AbCdEf";
  priv.execution_role_arn = "arn:aws:iam::111122223333:role/exec";
  ASSERT_TRUE(iam_->CreateRole(kA, "exec", "/",
                               R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",)"
                               R"("Principal":{"Service":"ecs-tasks.amazonaws.com"},)"
                               R"("Action":"sts:AssumeRole"}]})",
                               "", std::nullopt));
  Register(priv);
  auto gated = ASSERT_OK(ecs_->RunTask(Root(), Run("private", 1, "old")));
  EXPECT_THAT(gated.tasks, IsEmpty());
  ASSERT_THAT(gated.failures, SizeIs(1));
  EXPECT_EQ(gated.failures[0].reason, "ATTRIBUTE");
}

TEST_F(EcsServiceTest, AStoppedTaskReleasesItsResources) {
  Cluster();
  Register(Td("web", 512, 8080));
  InstanceView instance = Instance("", 512);
  auto first = ASSERT_OK(ecs_->RunTask(Root(), Run("web")));
  ASSERT_THAT(first.tasks, SizeIs(1));
  EXPECT_EQ(RemainingMemory(instance.instance.arn), 0);
  auto blocked = ASSERT_OK(ecs_->RunTask(Root(), Run("web")));
  EXPECT_THAT(blocked.tasks, IsEmpty());
  auto clusters = ASSERT_OK(ecs_->DescribeClusters(Root(), {}));
  EXPECT_EQ(clusters.first[0].pending_tasks_count, 1);
  ASSERT_OK(Report(first.tasks[0].arn, "RUNNING"));
  EXPECT_EQ(RemainingMemory(instance.instance.arn), 0);
  auto running = ASSERT_OK(ecs_->DescribeContainerInstances(Root(), "", {instance.instance.arn}));
  EXPECT_EQ(running.first[0].running_tasks_count, 1);
  EXPECT_THAT(FindResource(running.first[0].remaining_resources, "PORTS")->string_set,
              ElementsAre("22", "8080"));
  clusters = ASSERT_OK(ecs_->DescribeClusters(Root(), {}));
  EXPECT_EQ(clusters.first[0].running_tasks_count, 1);
  EXPECT_EQ(clusters.first[0].pending_tasks_count, 0);
  ASSERT_OK(Report(first.tasks[0].arn, "STOPPED"));
  EXPECT_EQ(RemainingMemory(instance.instance.arn), 512);
  auto views = ASSERT_OK(ecs_->DescribeContainerInstances(Root(), "", {instance.instance.arn}));
  EXPECT_EQ(views.first[0].running_tasks_count, 0);
  EXPECT_THAT(FindResource(views.first[0].remaining_resources, "PORTS")->string_set,
              ElementsAre("22"));
  EXPECT_THAT(ASSERT_OK(ecs_->RunTask(Root(), Run("web"))).tasks, SizeIs(1));
}

TEST_F(EcsServiceTest, ConcurrentRunTasksNeverOverbookAnInstance) {
  // Each RunTask commits after releasing the cluster's lock: what it placed must hold its
  // resources from placement on, or concurrent calls would book the same memory.
  Cluster();
  Register(Td("web", 64));
  InstanceView instance = Instance("", 64 * 6);  // memory for 6 (CPU would take 8)
  std::atomic<int> placed = 0, refused = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 4; ++k) {
        auto run = ecs_->RunTask(Root(), Run("web", 2));
        if (!run) {
          ADD_FAILURE() << run.error().code << ": " << run.error().message;
          return;
        }
        placed += static_cast<int>(run->tasks.size());
        for (const auto& f : run->failures) refused += f.reason == "RESOURCE:MEMORY";
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(placed, 6);
  EXPECT_GT(refused, 0);
  EXPECT_EQ(RemainingMemory(instance.instance.arn), 0);
  ListTasksRequest all;
  all.desired_status = "RUNNING";
  EXPECT_THAT(List(all), SizeIs(6));
  // Committed: a service reading the store afresh finds all six.
  Service fresh(*kv_, *access_, *iam_, ids_, clock_);
  auto listed = ASSERT_OK(fresh.ListTasks(Root(), all));
  EXPECT_THAT(listed.items, SizeIs(6));
}

TEST_F(EcsServiceTest, TaskIdsBeginWithTheirCreationTimeAndListInThatOrder) {
  Cluster();
  Register(Td("web", 64));
  Instance("", 4096);
  auto first = ASSERT_OK(ecs_->RunTask(Root(), Run("web", 3)));
  clock_.Advance(std::chrono::seconds(1));
  auto second = ASSERT_OK(ecs_->RunTask(Root(), Run("web", 2)));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                first.tasks[0].created_at.time_since_epoch())
                .count();
  std::vector<std::string> ids;
  for (const auto* run : {&first, &second}) {
    for (const auto& t : run->tasks) {
      ASSERT_EQ(t.id.size(), 32u);
      ids.push_back(t.id);
    }
  }
  EXPECT_EQ(ids[0].substr(0, 12), fmt::format("{:012x}", ms));
  EXPECT_EQ(ids[3].substr(0, 12), fmt::format("{:012x}", ms + 1000));
  EXPECT_NE(ids[0].substr(12), ids[1].substr(12));  // the rest is random
  // Every task of the first call sorts before every task of the second: ListTasks lists them so.
  EXPECT_LT(*std::max_element(ids.begin(), ids.begin() + 3),
            *std::min_element(ids.begin() + 3, ids.end()));
}

TEST_F(EcsServiceTest, AnInstanceTakesTasksOnlyWhileItsAgentHasASession) {
  Service tracked(*kv_, *access_, *iam_, ids_, clock_, ServiceOptions{.agent_sessions = true});
  Cluster();
  Register(Td("web", 64));
  InstanceView instance = Instance();
  const std::string& id = instance.instance.id;
  auto connected = [&] {
    auto views = tracked.DescribeContainerInstances(Root(), "", {instance.instance.arn});
    EXPECT_TRUE(views && views->first.size() == 1);
    return views && !views->first.empty() && views->first[0].agent_connected;
  };
  EXPECT_FALSE(connected());
  auto refused = ASSERT_OK(tracked.RunTask(Root(), Run("web")));
  EXPECT_THAT(refused.tasks, IsEmpty());
  ASSERT_THAT(refused.failures, SizeIs(1));
  EXPECT_EQ(refused.failures[0].reason, "AGENT");

  tracked.SetAgentConnected(kA, kEast, "default", id, true);
  EXPECT_TRUE(connected());
  EXPECT_THAT(ASSERT_OK(tracked.RunTask(Root(), Run("web"))).tasks, SizeIs(1));
  // The query language sees it too.
  auto listed = ASSERT_OK(tracked.ListContainerInstances(Root(), "", "agentConnected == true", "",
                                                         {}));
  EXPECT_THAT(listed.items, ElementsAre(instance.instance.arn));

  tracked.SetAgentConnected(kA, kEast, "default", id, false);
  EXPECT_FALSE(connected());
  EXPECT_EQ(ASSERT_OK(tracked.RunTask(Root(), Run("web"))).failures.at(0).reason, "AGENT");
  // Another account's instance of the same id is another instance.
  tracked.SetAgentConnected(kB, kEast, "default", id, true);
  EXPECT_FALSE(connected());
  // Told before the cluster was ever read: a service that loads it later knows.
  Service later(*kv_, *access_, *iam_, ids_, clock_, ServiceOptions{.agent_sessions = true});
  later.SetAgentConnected(kA, kEast, "default", id, true);
  EXPECT_THAT(ASSERT_OK(later.RunTask(Root(), Run("web"))).tasks, SizeIs(1));
}

// ---- Lifecycle --------------------------------------------------------------

TEST_F(EcsServiceTest, StateChangesDriveStatusTimestampsVersionAndStopCode) {
  Cluster();
  Register(Td("web"));
  Instance();
  auto run = ASSERT_OK(ecs_->RunTask(Root(), Run("web")));
  Task t = run.tasks[0];
  EXPECT_EQ(t.last_status, "PENDING");
  EXPECT_EQ(t.desired_status, "RUNNING");
  EXPECT_EQ(t.version, 1);
  EXPECT_EQ(t.created_at, clock_.Now());
  TimePoint created = clock_.Now();

  clock_.Advance(5s);
  TaskStateChange pulled;
  pulled.task = t.arn;
  pulled.pull_started_at = created + 1s;
  pulled.pull_stopped_at = created + 4s;
  pulled.containers = {{.container_name = "app",
                        .image_digest = "sha256:abc",
                        .runtime_id = "c0ffee",
                        .status = "RUNNING"}};
  ASSERT_OK(ecs_->SubmitTaskStateChange(Root(), pulled));
  ASSERT_OK(Report(t.arn, "RUNNING"));
  t = ASSERT_OK(Describe(t.arn));
  EXPECT_EQ(t.last_status, "RUNNING");
  EXPECT_EQ(t.version, 3);
  EXPECT_EQ(t.started_at, clock_.Now());
  EXPECT_EQ(t.pull_started_at, created + 1s);
  EXPECT_EQ(t.pull_stopped_at, created + 4s);
  EXPECT_EQ(t.containers[0].image_digest, "sha256:abc");
  EXPECT_EQ(t.containers[0].last_status, "RUNNING");
  // A report that changes nothing is acknowledged and changes no version.
  EXPECT_EQ(ASSERT_OK(Report(t.arn, "RUNNING")), "ACK");
  EXPECT_EQ(ASSERT_OK(Describe(t.arn)).version, 3);

  clock_.Advance(60s);
  TaskStateChange exited;
  exited.task = t.arn;
  exited.status = "STOPPED";
  exited.containers = {{.container_name = "app", .exit_code = 1, .status = "STOPPED"}};
  ASSERT_OK(ecs_->SubmitTaskStateChange(Root(), exited));
  t = ASSERT_OK(Describe(t.arn));
  EXPECT_EQ(t.last_status, "STOPPED");
  EXPECT_EQ(t.desired_status, "STOPPED");
  EXPECT_EQ(t.stop_code, "EssentialContainerExited");
  EXPECT_EQ(t.stopped_reason, "Essential container in task exited");
  EXPECT_EQ(t.stopped_at, clock_.Now());
  EXPECT_EQ(t.stopping_at, clock_.Now());
  EXPECT_EQ(t.execution_stopped_at, clock_.Now());
  EXPECT_EQ(t.containers[0].exit_code, 1);
  EXPECT_EQ(t.version, 4);
  // STOPPED is final.
  ASSERT_OK(Report(t.arn, "RUNNING"));
  EXPECT_EQ(ASSERT_OK(Describe(t.arn)).version, 4);
  EXPECT_ERROR(Report(t.arn, "DANCING"), "InvalidParameterException", "Invalid task status");
}

TEST_F(EcsServiceTest, ATaskThatNeverStartsOrIsStoppedByTheUserSaysSo) {
  Cluster();
  Register(Td("web"));
  Instance();
  auto run = ASSERT_OK(ecs_->RunTask(Root(), Run("web", 2)));
  std::string failed = run.tasks[0].arn;
  std::string stopped = run.tasks[1].arn;
  ASSERT_OK(Report(failed, "STOPPED",
                   "ResourceInitializationError: unable to pull secrets or registry auth"));
  Task t = ASSERT_OK(Describe(failed));
  EXPECT_EQ(t.stop_code, "TaskFailedToStart");
  EXPECT_EQ(t.stopped_reason,
            "ResourceInitializationError: unable to pull secrets or registry auth");
  EXPECT_FALSE(t.started_at);
  EXPECT_FALSE(t.stopping_at);

  ASSERT_OK(Report(stopped, "RUNNING"));
  clock_.Advance(3s);
  Task stopping = ASSERT_OK(ecs_->StopTask(Root(), "", stopped, ""));
  EXPECT_EQ(stopping.desired_status, "STOPPED");
  EXPECT_EQ(stopping.last_status, "DEACTIVATING");
  EXPECT_EQ(stopping.stop_code, "UserInitiated");
  EXPECT_EQ(stopping.stopped_reason, "Task stopped by user");
  EXPECT_EQ(stopping.stopping_at, clock_.Now());
  EXPECT_EQ(ASSERT_OK(ecs_->StopTask(Root(), "", stopped, "again")).version, stopping.version);
  clock_.Advance(3s);
  ASSERT_OK(Report(stopped, "STOPPED", "ignored: the user's reason stays"));
  t = ASSERT_OK(Describe(stopped));
  EXPECT_EQ(t.last_status, "STOPPED");
  EXPECT_EQ(t.stop_code, "UserInitiated");
  EXPECT_EQ(t.stopped_reason, "Task stopped by user");
  EXPECT_EQ(t.stopping_at, clock_.Now() - 3s);
  EXPECT_EQ(t.stopped_at, clock_.Now());
  EXPECT_ERROR(ecs_->StopTask(Root(), "", "0123456789abcdef0123456789abcdef", ""),
               "InvalidParameterException", "not found");
}

// ---- ListTasks and the sweep ------------------------------------------------

TEST_F(EcsServiceTest, ListTasksFilters) {
  Cluster();
  Register(Td("web"));
  Register(Td("batch"));
  InstanceView one = Instance();
  InstanceView two = Instance();
  RunTaskRequest r = Run("web", 2);
  r.placement_strategy = {{"spread", "instanceId"}};
  auto web = ASSERT_OK(ecs_->RunTask(Root(), r));
  RunTaskRequest b = Run("batch");
  b.started_by = "cron";
  auto batch = ASSERT_OK(ecs_->RunTask(Root(), b));
  ASSERT_OK(ecs_->StopTask(Root(), "", web.tasks[1].arn, ""));

  EXPECT_THAT(List({}), UnorderedElementsAre(web.tasks[0].arn, batch.tasks[0].arn));
  EXPECT_THAT(List({.desired_status = "STOPPED"}), ElementsAre(web.tasks[1].arn));
  EXPECT_THAT(List({.desired_status = "PENDING"}), IsEmpty());
  EXPECT_THAT(List({.family = "batch"}), ElementsAre(batch.tasks[0].arn));
  EXPECT_THAT(List({.started_by = "cron"}), ElementsAre(batch.tasks[0].arn));
  EXPECT_THAT(List({.launch_type = "FARGATE"}), IsEmpty());
  EXPECT_NE(web.tasks[0].container_instance_id, web.tasks[1].container_instance_id);  // spread
  for (const InstanceView& i : {one, two}) {
    std::vector<std::string> expected;
    for (const auto& t : {web.tasks[0], batch.tasks[0]}) {
      if (t.container_instance_id == i.instance.id) expected.push_back(t.arn);
    }
    EXPECT_THAT(List({.container_instance = i.instance.arn}),
                ::testing::UnorderedElementsAreArray(expected));
  }
  EXPECT_ERROR(ecs_->ListTasks(Root(), {.family = "web", .started_by = "cron"}),
               "InvalidParameterException", "startedBy must be the only filter");
  EXPECT_ERROR(ecs_->ListTasks(Root(), {.desired_status = "RUNNINGISH"}),
               "InvalidParameterException", "desiredStatus");
  EXPECT_ERROR(ecs_->ListTasks(Root(), {.service_name = "svc"}), "ServiceNotFoundException",
               "Service not found.");
  EXPECT_ERROR(ecs_->ListTasks(Root(), {.container_instance = "arn:aws:ecs:us-west-2:1:x"}),
               "InvalidParameterException", "container instance was not found");
  // Pages.
  ListTasksRequest paged;
  paged.page.max_results = 1;
  std::vector<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    auto page = ASSERT_OK(ecs_->ListTasks(Root(), paged));
    seen.insert(seen.end(), page.items.begin(), page.items.end());
    if (page.next_token.empty()) break;
    paged.page.next_token = page.next_token;
  }
  EXPECT_THAT(seen, UnorderedElementsAre(web.tasks[0].arn, batch.tasks[0].arn));
}

TEST_F(EcsServiceTest, StoppedTasksAreSweptAfterTheirRetention) {
  Cluster();
  Register(Td("web"));
  Instance();
  auto run = ASSERT_OK(ecs_->RunTask(Root(), Run("web", 2)));
  ASSERT_OK(Report(run.tasks[0].arn, "RUNNING"));
  ASSERT_OK(Report(run.tasks[0].arn, "STOPPED"));
  TimePoint stopped = clock_.Now();
  ASSERT_OK(ecs_->SweepStoppedTasks(stopped + 3600s));  // exactly the retention: kept
  EXPECT_TRUE(Describe(run.tasks[0].arn));
  ASSERT_OK(ecs_->SweepStoppedTasks(stopped + 3601s));
  auto gone = ASSERT_OK(ecs_->DescribeTasks(Root(), "", {run.tasks[0].arn, run.tasks[1].arn}));
  ASSERT_THAT(gone.second, SizeIs(1));
  EXPECT_EQ(gone.second[0].arn, run.tasks[0].arn);
  EXPECT_EQ(gone.second[0].reason, "MISSING");
  ASSERT_THAT(gone.first, SizeIs(1));
  EXPECT_EQ(gone.first[0].last_status, "PENDING");  // running tasks are never swept
  EXPECT_THAT(List({.desired_status = "STOPPED"}), IsEmpty());
  // Gone from the store too: a new service over the same store does not see it.
  Service fresh(*kv_, *access_, *iam_, ids_, clock_);
  auto reread = ASSERT_OK(fresh.DescribeTasks(Root(), "", {run.tasks[0].arn}));
  EXPECT_THAT(reread.first, IsEmpty());
}

}  // namespace
}  // namespace berth::ecs

namespace berth::ecs {
namespace {

TEST_F(EcsServiceTest, AnAwsvpcTasksAddressFromItsAgentIsKeptAndCheckedIsAnAddress) {
  Cluster();
  TaskDefinition td = Td("vpc");
  td.network_mode = "awsvpc";
  Register(td);
  Register(Td("web"));
  Instance("", 4096,
           {{"ecs.os-type", "linux"},
            {kSecretsCapability, {}},
            {"ecs.capability.task-eni", {}},
            {"com.amazonaws.ecs.capability.docker-remote-api.1.18", {}}});
  RunTaskRequest r = Run("vpc");
  r.has_network_configuration = true;
  std::string vpc = ASSERT_OK(ecs_->RunTask(Root(), r)).tasks.at(0).arn;
  std::string web = ASSERT_OK(ecs_->RunTask(Root(), Run("web"))).tasks.at(0).arn;

  TaskStateChange bad;
  bad.task = vpc;
  bad.status = "RUNNING";
  bad.private_ipv4 = "10.0.0.300";
  EXPECT_ERROR(ecs_->SubmitTaskStateChange(Root(), bad), "InvalidParameterException",
               "Invalid privateIpv4Address: 10.0.0.300");
  TaskStateChange good = bad;
  good.private_ipv4 = "10.213.0.7";
  ASSERT_OK(ecs_->SubmitTaskStateChange(Root(), good));
  EXPECT_EQ(ASSERT_OK(Describe(vpc)).private_ipv4, "10.213.0.7");
  // A task that is not awsvpc has no address of its own.
  good.task = web;
  ASSERT_OK(ecs_->SubmitTaskStateChange(Root(), good));
  EXPECT_EQ(ASSERT_OK(Describe(web)).private_ipv4, "");
}

}  // namespace
}  // namespace berth::ecs

namespace berth::ecs {
namespace {

TEST_F(EcsServiceTest, OnlyTheRegisteringPrincipalMayPollOrReRegisterAnInstance) {
  Cluster();
  const std::string agent_policy =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]})";
  aws::RequestContext agent = Role("agent", agent_policy);
  aws::RequestContext other = Role("other-agent", agent_policy);
  RegisterInstanceRequest r;
  r.total_resources = {{.name = "CPU", .integer_value = 1024},
                       {.name = "MEMORY", .integer_value = 1024}};
  r.attributes = {{"ecs.os-type", "linux"}};
  InstanceView mine = ASSERT_OK(ecs_->RegisterContainerInstance(agent, r));
  const std::string arn = mine.instance.arn;

  // The same role under a renewed session is the same owner.
  aws::RequestContext renewed = agent;
  renewed.caller.user_id = agent.caller.user_id.substr(0, agent.caller.user_id.find(':')) + ":s2";
  ASSERT_OK(ecs_->AuthorizePoll(renewed, "", arn));
  // Another agent identity, even with ecs:Poll on "*", may neither poll nor take it over.
  EXPECT_ERROR(ecs_->AuthorizePoll(other, "", arn), "AccessDeniedException",
               "is not the principal that registered container instance " + arn);
  RegisterInstanceRequest again = r;
  again.container_instance_arn = arn;
  EXPECT_ERROR(ecs_->RegisterContainerInstance(other, again), "AccessDeniedException",
               "only it may register the instance again or poll for its tasks");
  ASSERT_OK(ecs_->RegisterContainerInstance(agent, again));
  // Nor may the account's root: the session carries the tasks' credentials.
  EXPECT_ERROR(ecs_->AuthorizePoll(Root(), "", arn), "AccessDeniedException", "root");
}

}  // namespace
}  // namespace berth::ecs
