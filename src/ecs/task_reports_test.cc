// SubmitTaskStateChange is the agent's report of its tasks: only the principal that registered
// the container instance a task runs on may make it, whatever IAM allows (task_reports.cc).
#include "ecs/test_service_fixture.h"

namespace berth::ecs {
namespace {

using namespace testing_support;

constexpr char kAgentPolicy[] =
    R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]})";

class TaskReportsTest : public EcsServiceTest {
 protected:
  // A request of IAM user `name` of account A (created if missing) allowed ecs:*.
  aws::RequestContext User(const std::string& name) {
    auto user = iam_->GetUser(kA, name);
    if (!user) user = iam_->CreateUser(kA, name, "/");
    EXPECT_TRUE(user) << user.error().message;
    auto put = iam_->PutInlinePolicy(kA, iam::PrincipalType::kUser, name, "agent", kAgentPolicy);
    EXPECT_TRUE(put) << put.error().message;
    aws::RequestContext ctx = Root();
    ctx.caller.kind = aws::Principal::Kind::kUser;
    ctx.caller.arn = user->arn;
    ctx.caller.user_id = user->id;
    ctx.caller.name = name;
    ctx.caller.access_key_id = "AKIATESTUSER" + name;
    return ctx;
  }

  void DeleteUser(const std::string& name) {
    ASSERT_TRUE(iam_->DeleteInlinePolicy(kA, iam::PrincipalType::kUser, name, "agent"));
    ASSERT_TRUE(iam_->DeleteUser(kA, name, false));
  }

  // An instance `as` registers, and a task of "web" placed on it.
  std::string TaskOnInstanceOf(const aws::RequestContext& as) {
    RegisterInstanceRequest r;
    r.total_resources = {{.name = "CPU", .integer_value = 1024},
                         {.name = "MEMORY", .integer_value = 1024}};
    r.attributes = {{"ecs.os-type", "linux"}};
    auto registered = ecs_->RegisterContainerInstance(as, r);
    EXPECT_TRUE(registered) << registered.error().message;
    auto run = ecs_->RunTask(Root(), Run("web"));
    EXPECT_TRUE(run && run->tasks.size() == 1);
    return run && !run->tasks.empty() ? run->tasks[0].arn : "";
  }

  static TaskStateChange Change(const std::string& task, const std::string& status) {
    TaskStateChange c;
    c.task = task;
    c.status = status;
    return c;
  }

  void SetUp() override {
    EcsServiceTest::SetUp();
    Cluster();
    Register(Td("web"));
  }
};

TEST_F(TaskReportsTest, OnlyTheInstancesOwnerMayReportItsTasks) {
  aws::RequestContext agent = User("agent");
  aws::RequestContext other = User("other-agent");
  std::string task = TaskOnInstanceOf(agent);

  // Another identity of the account with ecs:* on "*" may not, nor may the root.
  EXPECT_ERROR(ecs_->SubmitTaskStateChange(other, Change(task, "STOPPED")), "AccessDeniedException",
               "User: " + other.caller.arn +
                   " is not authorized to perform: ecs:SubmitTaskStateChange on resource: " + task +
                   " because it is not the principal that registered container instance");
  EXPECT_ERROR(ecs_->SubmitTaskStateChange(Root(), Change(task, "RUNNING")),
               "AccessDeniedException", "arn:aws:iam::111122223333:root is not authorized");
  TaskStateChange container;  // SubmitContainerStateChange's form
  container.task = task;
  container.containers.push_back({.container_name = "app", .status = "RUNNING"});
  EXPECT_ERROR(ecs_->SubmitTaskStateChange(other, container), "AccessDeniedException",
               "is not the principal that registered");
  EXPECT_EQ(ASSERT_OK(Describe(task)).last_status, "PENDING");

  ASSERT_OK(ecs_->SubmitTaskStateChange(agent, Change(task, "RUNNING")));
  EXPECT_EQ(ASSERT_OK(Describe(task)).last_status, "RUNNING");
  // Once stopped, a stranger's report is still refused, not acknowledged.
  ASSERT_OK(ecs_->SubmitTaskStateChange(agent, Change(task, "STOPPED")));
  EXPECT_ERROR(ecs_->SubmitTaskStateChange(other, Change(task, "STOPPED")), "AccessDeniedException",
               "is not the principal that registered");
}

TEST_F(TaskReportsTest, AUserDeletedAndCreatedAgainUnderItsNameIsAnotherPrincipal) {
  aws::RequestContext agent = User("agent");
  std::string task = TaskOnInstanceOf(agent);
  DeleteUser("agent");
  aws::RequestContext again = User("agent");
  ASSERT_NE(again.caller.user_id, agent.caller.user_id);
  EXPECT_ERROR(ecs_->SubmitTaskStateChange(again, Change(task, "STOPPED")), "AccessDeniedException",
               "is not the principal that registered");
  EXPECT_EQ(ASSERT_OK(Describe(task)).last_status, "PENDING");
}

TEST_F(TaskReportsTest, TheOwningRolesSessionsMayReportWhateverTheirName) {
  aws::RequestContext agent = Role("agent", kAgentPolicy);
  std::string task = TaskOnInstanceOf(agent);
  aws::RequestContext renewed = agent;
  renewed.caller.user_id = agent.caller.user_id.substr(0, agent.caller.user_id.find(':')) + ":s2";
  renewed.caller.session_name = "s2";
  renewed.caller.arn = "arn:aws:sts::111122223333:assumed-role/agent/s2";
  ASSERT_OK(ecs_->SubmitTaskStateChange(renewed, Change(task, "RUNNING")));
  EXPECT_EQ(ASSERT_OK(Describe(task)).last_status, "RUNNING");
  // Another role with the same permissions may not.
  aws::RequestContext other = Role("other-agent", kAgentPolicy);
  EXPECT_ERROR(ecs_->SubmitTaskStateChange(other, Change(task, "STOPPED")), "AccessDeniedException",
               "assumed-role/other-agent/s is not authorized");
}

TEST_F(TaskReportsTest, ContainerReportsAreAuthorizedAsSubmitContainerStateChange) {
  aws::RequestContext agent = User("agent");
  ASSERT_TRUE(iam_->PutInlinePolicy(
      kA, iam::PrincipalType::kUser, "agent", "agent",
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":)"
      R"(["ecs:RegisterContainerInstance","ecs:SubmitContainerStateChange"],"Resource":"*"}]})"));
  std::string task = TaskOnInstanceOf(agent);
  TaskStateChange container;
  container.task = task;
  container.containers.push_back({.container_name = "app", .status = "RUNNING"});
  EXPECT_EQ(ASSERT_OK(ecs_->SubmitTaskStateChange(agent, container,
                                                  "ecs:SubmitContainerStateChange")),
            "ACK");
  // The task's own report needs ecs:SubmitTaskStateChange, which this policy lacks.
  auto refused = ecs_->SubmitTaskStateChange(agent, Change(task, "RUNNING"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "AccessDeniedException");
  EXPECT_THAT(refused.error().message,
              HasSubstr("is not authorized to perform: ecs:SubmitTaskStateChange"));
  EXPECT_THAT(refused.error().message, ::testing::Not(HasSubstr("registered")));
}

TEST_F(TaskReportsTest, ATaskOnNoInstanceCannotBeReported) {
  // Fargate capacity of platform 1.3.0: a task of LATEST (1.4.0) waits for capacity.
  PoolInstance("1.3.0");
  FargateTd("fg");
  RunTaskRequest r = RunFargate("fg", "LATEST");
  auto waiting = ASSERT_OK(ecs_->RunTask(Root(), r));
  ASSERT_THAT(waiting.tasks, SizeIs(1));
  ASSERT_EQ(waiting.tasks[0].container_instance_id, "");
  EXPECT_ERROR(ecs_->SubmitTaskStateChange(Root(), Change(waiting.tasks[0].arn, "STOPPED")),
               "AccessDeniedException", "the task is not placed on a container instance");
}

}  // namespace
}  // namespace berth::ecs
