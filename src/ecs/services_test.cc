// ECS services: the API's rules and errors, and the scheduler driven by hand
// (a fake clock, registered instances, the agent's reports made by the test).
#include <regex>
#include <set>
#include <tuple>

#include "ecs/test_service_fixture.h"

namespace berth::ecs {
namespace {

using namespace testing_support;  // NOLINT
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using namespace std::chrono_literals;

class EcsServicesTest : public EcsServiceTest {
 protected:
  static CreateServiceRequest Svc(const std::string& name, const std::string& td,
                                  std::optional<int> desired = 1) {
    CreateServiceRequest r;
    r.service_name = name;
    r.task_definition = td;
    r.desired_count = desired;
    return r;
  }

  ServiceView Describe1(const std::string& name) {
    auto out = ecs_->DescribeServices(Root(), "", {name});
    EXPECT_TRUE(out) << out.error().message;
    if (!out || out->first.empty()) return ServiceView{};
    return out->first[0];
  }

  void Reconcile() {
    auto done = ecs_->ReconcileServices(clock_.Now());
    ASSERT_TRUE(done) << done.error().message;
  }

  // The service's tasks with `desired` status ("RUNNING" or "STOPPED").
  std::vector<Task> TasksOf(const std::string& service, const std::string& desired = "RUNNING") {
    ListTasksRequest r;
    r.service_name = service;
    r.desired_status = desired;
    auto arns = List(r);
    if (arns.empty()) return {};
    auto out = ecs_->DescribeTasks(Root(), "", arns);
    EXPECT_TRUE(out) << out.error().message;
    return out ? out->first : std::vector<Task>{};
  }

  // What the agent would report: pending tasks are RUNNING, stopping ones STOPPED.
  void Agent(const std::string& service) {
    for (const auto& t : TasksOf(service)) {
      if (t.last_status == "PENDING") {
        ASSERT_TRUE(Report(t.id, "RUNNING"));
      }
    }
    for (const auto& t : TasksOf(service, "STOPPED")) {
      if (t.last_status != "STOPPED") {
        ASSERT_TRUE(Report(t.id, "STOPPED"));
      }
    }
  }

  // Scheduler passes, each followed by the agent's reports.
  void Settle(const std::string& service, int passes = 3) {
    for (int i = 0; i < passes; ++i) {
      Reconcile();
      Agent(service);
    }
  }

  std::vector<std::string> Events(const std::string& service) {
    std::vector<std::string> out;
    for (const auto& e : Describe1(service).service.events) out.push_back(e.message);
    return out;
  }

  // Scheduler passes in which every task of deployment `deployment` that is
  // not RUNNING stops before it ran (as a failed pull would), until `count`
  // have; returns how many did.
  int FailToStart(const std::string& service, const std::string& deployment, int count) {
    int failures = 0;
    for (int i = 0; i < 10 && failures < count; ++i) {
      Reconcile();
      for (const auto& t : TasksOf(service)) {
        if (t.started_by == deployment && t.last_status != "RUNNING") {
          EXPECT_TRUE(Report(t.id, "STOPPED", "CannotPullContainerError: pull access denied"));
          ++failures;
        }
      }
    }
    return failures;
  }

  int Running(const std::string& service) {
    int n = 0;
    for (const auto& t : TasksOf(service)) n += t.last_status == "RUNNING";
    return n;
  }
};

// ---- The API ------------------------------------------------------------------

TEST_F(EcsServicesTest, CreateServiceStartsAPrimaryDeploymentOfTheRevision) {
  Cluster();
  Register(Td("web"));
  auto v = ASSERT_OK(ecs_->CreateService(Root(), Svc("web", "web", 2)));
  const EcsService& s = v.service;
  EXPECT_EQ(s.arn, std::string(kPrefix) + "service/default/web");
  EXPECT_EQ(s.status, "ACTIVE");
  EXPECT_EQ(s.task_definition, std::string(kPrefix) + "task-definition/web:1");
  EXPECT_EQ(s.launch_type, "EC2");
  EXPECT_EQ(s.scheduling_strategy, "REPLICA");
  EXPECT_EQ(s.desired_count, 2);
  EXPECT_EQ(s.deployment_configuration.maximum_percent, 200);
  EXPECT_EQ(s.deployment_configuration.minimum_healthy_percent, 100);
  ASSERT_THAT(s.deployments, SizeIs(1));
  const Deployment& d = s.deployments[0];
  EXPECT_TRUE(std::regex_match(d.id, std::regex("ecs-svc/[0-9]{19}"))) << d.id;
  EXPECT_EQ(d.status, "PRIMARY");
  EXPECT_EQ(d.rollout_state, "IN_PROGRESS");
  EXPECT_EQ(d.rollout_state_reason, fmt::format("ECS deployment {} in progress.", d.id));
  EXPECT_EQ(d.desired_count, 2);
  EXPECT_EQ(v.running_count, 0);
  EXPECT_EQ(v.pending_count, 0);
  EXPECT_THAT(s.events, IsEmpty());

  auto listed = ASSERT_OK(ecs_->ListServices(Root(), {}));
  EXPECT_THAT(listed.items, ElementsAre(s.arn));
  auto clusters = ASSERT_OK(ecs_->DescribeClusters(Root(), {}));
  EXPECT_EQ(clusters.first[0].active_services_count, 1);
  // By ARN too.
  EXPECT_EQ(Describe1(s.arn).service.name, "web");
}

TEST_F(EcsServicesTest, CreateServiceRefusesWhatEcsRefuses) {
  Register(Td("web"));
  EXPECT_ERROR(ecs_->CreateService(Root(), Svc("web", "web")), "ClusterNotFoundException",
               "Cluster not found.");
  Cluster();
  EXPECT_ERROR(ecs_->CreateService(Root(), Svc("web", "web", std::nullopt)),
               "InvalidParameterException", "desiredCount is required");
  EXPECT_ERROR(ecs_->CreateService(Root(), Svc("web", "nope")), "ClientException",
               "TaskDefinition not found.");
  EXPECT_ERROR(ecs_->CreateService(Root(), Svc("a/b", "web")), "InvalidParameterException",
               "Service name");
  auto daemon = Svc("d", "web", 1);
  daemon.scheduling_strategy = "DAEMON";
  EXPECT_ERROR(ecs_->CreateService(Root(), daemon), "InvalidParameterException",
               "does not support a desired count");
  auto bad = Svc("web", "web");
  bad.deployment_configuration.minimum_healthy_percent = 101;
  EXPECT_ERROR(ecs_->CreateService(Root(), bad), "InvalidParameterException",
               "minimumHealthyPercent");
  TaskDefinition vpc = Td("vpc");
  vpc.network_mode = "awsvpc";
  Register(vpc);
  EXPECT_ERROR(ecs_->CreateService(Root(), Svc("vpc", "vpc")), "InvalidParameterException",
               "Network Configuration must be provided");
  auto with_network = Svc("vpc", "vpc");
  with_network.network_configuration = AwsvpcConfiguration{{"subnet-1"}, {"sg-1"}, "DISABLED"};
  auto created = ASSERT_OK(ecs_->CreateService(Root(), with_network));
  ASSERT_TRUE(created.service.deployments[0].network_configuration);
  EXPECT_THAT(created.service.deployments[0].network_configuration->subnets,
              ElementsAre("subnet-1"));
  // A name in use.
  EXPECT_ERROR(ecs_->CreateService(Root(), Svc("vpc", "web")), "InvalidParameterException",
               "Creation of service was not idempotent.");
}

TEST_F(EcsServicesTest, ClientTokenRetriesReturnTheServiceCreated) {
  Cluster();
  Register(Td("web"));
  auto r = Svc("web", "web");
  r.client_token = "token-1";
  auto first = ASSERT_OK(ecs_->CreateService(Root(), r));
  auto again = ASSERT_OK(ecs_->CreateService(Root(), r));
  EXPECT_EQ(again.service.deployments[0].id, first.service.deployments[0].id);
  r.client_token = "token-2";
  EXPECT_ERROR(ecs_->CreateService(Root(), r), "InvalidParameterException",
               "Creation of service was not idempotent.");
}

TEST_F(EcsServicesTest, DeleteServiceDrainsThenFreesTheName) {
  Cluster();
  Instance();  // services are named first when a cluster is not empty
  Register(Td("web"));
  ASSERT_OK(ecs_->CreateService(Root(), Svc("web", "web", 1)));
  EXPECT_ERROR(ecs_->DeleteService(Root(), "", "web", false), "InvalidParameterException",
               "The service cannot be stopped while it is scaled above 0.");
  EXPECT_ERROR(ecs_->DeleteCluster(Root(), "default"), "ClusterContainsServicesException",
               "The Cluster cannot be deleted while Services are active.");
  auto deleted = ASSERT_OK(ecs_->DeleteService(Root(), "", "web", true));
  EXPECT_EQ(deleted.service.status, "DRAINING");
  EXPECT_EQ(deleted.service.desired_count, 0);
  EXPECT_ERROR(ecs_->DeleteService(Root(), "", "web", true), "ServiceNotActiveException",
               "Service was not ACTIVE.");
  UpdateServiceRequest u;
  u.service = "web";
  u.desired_count = 2;
  EXPECT_ERROR(ecs_->UpdateService(Root(), u), "ServiceNotActiveException",
               "Service was not ACTIVE.");
  EXPECT_ERROR(ecs_->CreateService(Root(), Svc("web", "web")), "InvalidParameterException",
               "Creation of service was not idempotent.");
  EXPECT_ERROR(ecs_->DeleteCluster(Root(), "default"), "ClusterContainsServicesException", "");
  // No tasks left: the scheduler finishes it.
  Reconcile();
  EXPECT_EQ(Describe1("web").service.status, "INACTIVE");
  EXPECT_THAT(ASSERT_OK(ecs_->ListServices(Root(), {})).items, IsEmpty());
  EXPECT_EQ(ASSERT_OK(ecs_->DescribeClusters(Root(), {})).first[0].active_services_count, 0);
  auto again = ASSERT_OK(ecs_->CreateService(Root(), Svc("web", "web", 0)));
  EXPECT_EQ(again.service.status, "ACTIVE");
  // Scaled to 0: deleted without force.
  EXPECT_EQ(ASSERT_OK(ecs_->DeleteService(Root(), "", "web", false)).service.status, "DRAINING");
}

TEST_F(EcsServicesTest, UnknownServicesAreNotFoundOrMissing) {
  Cluster();
  UpdateServiceRequest u;
  u.service = "nope";
  u.desired_count = 1;
  EXPECT_ERROR(ecs_->UpdateService(Root(), u), "ServiceNotFoundException", "Service not found.");
  EXPECT_ERROR(ecs_->DeleteService(Root(), "", "nope", true), "ServiceNotFoundException",
               "Service not found.");
  auto described = ASSERT_OK(ecs_->DescribeServices(Root(), "", {"nope"}));
  EXPECT_THAT(described.first, IsEmpty());
  ASSERT_THAT(described.second, SizeIs(1));
  EXPECT_EQ(described.second[0].arn, std::string(kPrefix) + "service/default/nope");
  EXPECT_EQ(described.second[0].reason, "MISSING");
  ListTasksRequest r;
  r.service_name = "nope";
  EXPECT_ERROR(ecs_->ListTasks(Root(), r), "ServiceNotFoundException", "Service not found.");
}

TEST_F(EcsServicesTest, ListServicesPagesAndFilters) {
  Cluster();
  Register(Td("web"));
  for (const char* name : {"a", "b", "c"}) ASSERT_OK(ecs_->CreateService(Root(), Svc(name, "web")));
  auto daemon = Svc("d", "web", std::nullopt);
  daemon.scheduling_strategy = "DAEMON";
  ASSERT_OK(ecs_->CreateService(Root(), daemon));
  ListServicesRequest r;
  r.page.max_results = 2;
  auto first = ASSERT_OK(ecs_->ListServices(Root(), r));
  EXPECT_THAT(first.items, ElementsAre(std::string(kPrefix) + "service/default/a",
                                       std::string(kPrefix) + "service/default/b"));
  ASSERT_FALSE(first.next_token.empty());
  r.page.next_token = first.next_token;
  auto second = ASSERT_OK(ecs_->ListServices(Root(), r));
  EXPECT_THAT(second.items, ElementsAre(std::string(kPrefix) + "service/default/c",
                                        std::string(kPrefix) + "service/default/d"));
  EXPECT_TRUE(second.next_token.empty());
  ListServicesRequest daemons;
  daemons.scheduling_strategy = "DAEMON";
  EXPECT_THAT(ASSERT_OK(ecs_->ListServices(Root(), daemons)).items,
              ElementsAre(std::string(kPrefix) + "service/default/d"));
}

TEST_F(EcsServicesTest, ServiceOperationsAreAuthorizedOnTheServiceWithTheCluster) {
  Cluster();
  Register(Td("web"));
  auto ctx = Role("deployer", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Action":["ecs:CreateService","ecs:UpdateService","ecs:DescribeServices"],
      "Resource":"arn:aws:ecs:us-east-1:111122223333:service/default/web",
      "Condition":{"ArnEquals":{"ecs:cluster":"arn:aws:ecs:us-east-1:111122223333:cluster/default"}}}]})");
  ASSERT_OK(ecs_->CreateService(ctx, Svc("web", "web")));
  EXPECT_ERROR(ecs_->CreateService(ctx, Svc("other", "web")), "AccessDeniedException",
               "ecs:CreateService");
  EXPECT_ERROR(ecs_->DeleteService(ctx, "", "web", true), "AccessDeniedException",
               "ecs:DeleteService");
  EXPECT_ERROR(ecs_->ListServices(ctx, {}), "AccessDeniedException", "ecs:ListServices");
  EXPECT_EQ(ASSERT_OK(ecs_->DescribeServices(ctx, "", {"web"})).first.size(), 1u);
}

// ---- The scheduler --------------------------------------------------------------

TEST_F(EcsServicesTest, TheSchedulerStartsTheDesiredTasksAndSaysWhenSteady) {
  Cluster();
  Instance();
  Register(Td("web"));
  auto created = ASSERT_OK(ecs_->CreateService(Root(), Svc("web", "web", 3)));
  std::string deployment = created.service.deployments[0].id;
  Reconcile();
  auto tasks = TasksOf("web");
  ASSERT_THAT(tasks, SizeIs(3));
  std::vector<std::string> ids;
  for (const auto& t : tasks) {
    EXPECT_EQ(t.group, "service:web");
    EXPECT_EQ(t.started_by, deployment);
    EXPECT_EQ(t.task_definition_arn, std::string(kPrefix) + "task-definition/web:1");
    ids.push_back(t.id);
  }
  auto v = Describe1("web");
  EXPECT_EQ(v.pending_count, 3);
  EXPECT_EQ(v.running_count, 0);
  ASSERT_THAT(v.service.events, SizeIs(1));
  EXPECT_THAT(v.service.events[0].message, HasSubstr("(service web) has started 3 tasks: (task "));
  for (const auto& id : ids) EXPECT_THAT(v.service.events[0].message, HasSubstr(id));
  // Nothing to do while they start.
  Reconcile();
  EXPECT_THAT(TasksOf("web"), SizeIs(3));
  Agent("web");
  Reconcile();
  v = Describe1("web");
  EXPECT_EQ(v.running_count, 3);
  EXPECT_EQ(v.deployment_counts[0].running, 3);
  EXPECT_EQ(v.service.deployments[0].rollout_state, "COMPLETED");
  EXPECT_EQ(v.service.deployments[0].rollout_state_reason,
            fmt::format("ECS deployment {} completed.", deployment));
  EXPECT_EQ(v.service.events[0].message, "(service web) has reached a steady state.");
  EXPECT_EQ(v.service.events[1].message,
            fmt::format("(service web) (deployment {}) deployment completed.", deployment));
  // Said once.
  Reconcile();
  EXPECT_THAT(Events("web"), SizeIs(3));
}

TEST_F(EcsServicesTest, ATaskThatStopsIsReplaced) {
  Cluster();
  Instance();
  Register(Td("web"));
  ASSERT_OK(ecs_->CreateService(Root(), Svc("web", "web", 2)));
  Reconcile();
  Agent("web");
  Reconcile();
  auto before = TasksOf("web");
  ASSERT_THAT(before, SizeIs(2));
  ASSERT_TRUE(Report(before[0].id, "STOPPED", "Essential container in task exited"));
  Reconcile();
  auto after = TasksOf("web");
  ASSERT_THAT(after, SizeIs(2));
  EXPECT_FALSE(Describe1("web").service.steady);
  EXPECT_THAT(Events("web")[0], HasSubstr("(service web) has started 1 tasks: (task "));
  Agent("web");
  Reconcile();
  EXPECT_EQ(Events("web")[0], "(service web) has reached a steady state.");
  EXPECT_EQ(Running("web"), 2);
}

TEST_F(EcsServicesTest, ScalingInStopsTasksInEcsWords) {
  Cluster();
  Instance();
  Register(Td("web"));
  auto created = ASSERT_OK(ecs_->CreateService(Root(), Svc("web", "web", 3)));
  std::string deployment = created.service.deployments[0].id;
  Reconcile();
  Agent("web");
  Reconcile();
  UpdateServiceRequest u;
  u.service = "web";
  u.desired_count = 1;
  auto updated = ASSERT_OK(ecs_->UpdateService(Root(), u));
  EXPECT_THAT(updated.service.deployments, SizeIs(1));  // no new deployment for a count
  Reconcile();
  EXPECT_THAT(TasksOf("web"), SizeIs(1));
  auto stopped = TasksOf("web", "STOPPED");
  ASSERT_THAT(stopped, SizeIs(2));
  EXPECT_EQ(stopped[0].stopped_reason,
            fmt::format("Scaling activity initiated by (deployment {})", deployment));
  EXPECT_EQ(stopped[0].stop_code, "ServiceSchedulerInitiated");
  EXPECT_THAT(Events("web")[0], HasSubstr("(service web) has stopped 2 running tasks: (task "));
  Agent("web");
  Reconcile();
  EXPECT_EQ(Events("web")[0], "(service web) has reached a steady state.");
}

TEST_F(EcsServicesTest, AServiceWithNoInstanceSaysSoOnce) {
  Cluster();
  Register(Td("web"));
  ASSERT_OK(ecs_->CreateService(Root(), Svc("web", "web", 1)));
  Reconcile();
  Reconcile();
  EXPECT_THAT(Events("web"),
              ElementsAre("(service web) was unable to place a task because no container "
                          "instance met all of its requirements. Reason: No Container Instances "
                          "were found in your cluster."));
  Instance();
  Reconcile();
  EXPECT_THAT(TasksOf("web"), SizeIs(1));
}

TEST_F(EcsServicesTest, AnInstanceTooSmallIsNamedInTheEvent) {
  Cluster();
  auto small = Instance("", 128);
  Register(Td("web", 256));
  ASSERT_OK(ecs_->CreateService(Root(), Svc("web", "web", 1)));
  Reconcile();
  EXPECT_THAT(Events("web"),
              ElementsAre(fmt::format("(service web) was unable to place a task because no "
                                      "container instance met all of its requirements. The "
                                      "closest matching (container-instance {}) has insufficient "
                                      "memory available.",
                                      small.instance.id)));
}

TEST_F(EcsServicesTest, ADaemonRunsOneTaskOnEveryInstanceAlsoOnesThatJoinLater) {
  Cluster();
  auto one = Instance();
  auto two = Instance();
  Register(Td("agent"));
  auto r = Svc("agent", "agent", std::nullopt);
  r.scheduling_strategy = "DAEMON";
  auto created = ASSERT_OK(ecs_->CreateService(Root(), r));
  EXPECT_EQ(created.service.deployment_configuration.maximum_percent, 100);
  EXPECT_EQ(created.service.deployment_configuration.minimum_healthy_percent, 0);
  Reconcile();
  auto tasks = TasksOf("agent");
  ASSERT_THAT(tasks, SizeIs(2));
  std::set<std::string> on;
  for (const auto& t : tasks) on.insert(t.container_instance_id);
  EXPECT_EQ(on, (std::set<std::string>{one.instance.id, two.instance.id}));
  EXPECT_EQ(Describe1("agent").service.desired_count, 2);
  Agent("agent");
  Reconcile();
  EXPECT_EQ(Events("agent")[0], "(service agent) has reached a steady state.");
  auto three = Instance();
  Reconcile();
  tasks = TasksOf("agent");
  ASSERT_THAT(tasks, SizeIs(3));
  on.clear();
  for (const auto& t : tasks) on.insert(t.container_instance_id);
  EXPECT_TRUE(on.contains(three.instance.id));
  EXPECT_EQ(Describe1("agent").service.desired_count, 3);
  // Nothing more on the next pass.
  Agent("agent");
  Reconcile();
  EXPECT_THAT(TasksOf("agent"), SizeIs(3));
  // A DAEMON is deleted without scaling to 0 first.
  ASSERT_OK(ecs_->DeleteService(Root(), "", "agent", false));
  Reconcile();
  EXPECT_THAT(TasksOf("agent"), IsEmpty());
  Agent("agent");
  Reconcile();
  EXPECT_EQ(Describe1("agent").service.status, "INACTIVE");
}

TEST_F(EcsServicesTest, ADaemonsMemberOfChoosesItsInstancesAlsoAsAttributesChange) {
  Cluster();
  std::vector<Attribute> agent = {{"ecs.os-type", "linux"}, {kSecretsCapability, {}}};
  auto prod = agent;
  prod.push_back({"stack", "prod"});
  auto one = Instance("", 1024, prod);
  Instance("", 1024, agent);
  Register(Td("agent"));
  auto r = Svc("agent", "agent", std::nullopt);
  r.scheduling_strategy = "DAEMON";
  r.placement_constraints.push_back({"memberOf", "attribute:stack == prod"});
  ASSERT_OK(ecs_->CreateService(Root(), r));
  Settle("agent");
  auto tasks = TasksOf("agent");
  ASSERT_THAT(tasks, SizeIs(1));
  EXPECT_EQ(tasks[0].container_instance_id, one.instance.id);
  EXPECT_EQ(Describe1("agent").service.desired_count, 1);
  EXPECT_EQ(Events("agent")[0], "(service agent) has reached a steady state.");
  // The other instance is given the attribute: the daemon follows.
  auto other = Instance("", 1024, agent);
  Settle("agent");
  EXPECT_THAT(TasksOf("agent"), SizeIs(1));
  ASSERT_OK(ecs_->PutAttributes(Root(), "", {{{"stack", "prod"}, "container-instance",
                                               other.instance.id}}));
  Settle("agent");
  tasks = TasksOf("agent");
  ASSERT_THAT(tasks, SizeIs(2));
  std::set<std::string> on;
  for (const auto& t : tasks) on.insert(t.container_instance_id);
  EXPECT_EQ(on, (std::set<std::string>{one.instance.id, other.instance.id}));
  EXPECT_EQ(Describe1("agent").service.desired_count, 2);
}

// Rolls `web` from revision 1 to 2 with the given percents, as the agent
// reports, checking the bounds at every step; returns the steps taken.
struct Bounds {
  int min_running;
  int max_live;
};

class RollingTest : public EcsServicesTest,
                    public ::testing::WithParamInterface<std::tuple<int, int, Bounds>> {};

TEST_P(RollingTest, ARollingDeploymentKeepsWithinItsPercents) {
  auto [min_pct, max_pct, bounds] = GetParam();
  Cluster();
  Instance("", 4096);
  Instance("", 4096);
  Register(Td("web"));
  auto r = Svc("web", "web", 4);
  r.deployment_configuration.minimum_healthy_percent = min_pct;
  r.deployment_configuration.maximum_percent = max_pct;
  auto created = ASSERT_OK(ecs_->CreateService(Root(), r));
  std::string first = created.service.deployments[0].id;
  Settle("web");
  ASSERT_EQ(Running("web"), 4);
  Register(Td("web", 300));
  UpdateServiceRequest u;
  u.service = "web";
  u.task_definition = "web";
  auto updated = ASSERT_OK(ecs_->UpdateService(Root(), u));
  ASSERT_THAT(updated.service.deployments, SizeIs(2));
  std::string second = updated.service.deployments[0].id;
  EXPECT_EQ(updated.service.deployments[0].status, "PRIMARY");
  EXPECT_EQ(updated.service.deployments[0].task_definition,
            std::string(kPrefix) + "task-definition/web:2");
  EXPECT_EQ(updated.service.deployments[1].id, first);
  EXPECT_EQ(updated.service.deployments[1].status, "ACTIVE");
  int steps = 0;
  for (; steps < 20; ++steps) {
    Reconcile();
    auto live = TasksOf("web");
    int running = 0;
    for (const auto& t : live) running += t.last_status == "RUNNING";
    EXPECT_GE(running, bounds.min_running) << "step " << steps;
    EXPECT_LE(static_cast<int>(live.size()), bounds.max_live) << "step " << steps;
    auto v = Describe1("web");
    if (v.service.deployments.size() == 1 && v.service.steady) break;
    Agent("web");
  }
  EXPECT_LT(steps, 20);
  auto v = Describe1("web");
  ASSERT_THAT(v.service.deployments, SizeIs(1));
  EXPECT_EQ(v.service.deployments[0].id, second);
  EXPECT_EQ(v.service.deployments[0].rollout_state, "COMPLETED");
  auto tasks = TasksOf("web");
  ASSERT_THAT(tasks, SizeIs(4));
  for (const auto& t : tasks) {
    EXPECT_EQ(t.task_definition_arn, std::string(kPrefix) + "task-definition/web:2");
    EXPECT_EQ(t.last_status, "RUNNING");
  }
}

INSTANTIATE_TEST_SUITE_P(Percents, RollingTest,
                         ::testing::Values(std::tuple(100, 200, Bounds{4, 8}),
                                           std::tuple(50, 100, Bounds{2, 4}),
                                           std::tuple(0, 100, Bounds{0, 4}),
                                           std::tuple(75, 125, Bounds{3, 5})));

TEST_F(EcsServicesTest, ForceNewDeploymentReplacesTheTasksWithTheSameRevision) {
  Cluster();
  Instance();
  Register(Td("web"));
  ASSERT_OK(ecs_->CreateService(Root(), Svc("web", "web", 1)));
  Reconcile();
  Agent("web");
  Reconcile();
  std::string old_task = TasksOf("web")[0].id;
  UpdateServiceRequest u;
  u.service = "web";
  u.force_new_deployment = true;
  auto updated = ASSERT_OK(ecs_->UpdateService(Root(), u));
  ASSERT_THAT(updated.service.deployments, SizeIs(2));
  Settle("web", 5);
  auto tasks = TasksOf("web");
  ASSERT_THAT(tasks, SizeIs(1));
  EXPECT_NE(tasks[0].id, old_task);
  EXPECT_EQ(tasks[0].started_by, updated.service.deployments[0].id);
}

TEST_F(EcsServicesTest, TheCircuitBreakerFailsADeploymentAndRollsBack) {
  Cluster();
  Instance();
  Register(Td("web"));
  auto r = Svc("web", "web", 2);
  r.deployment_configuration.circuit_breaker_enable = true;
  r.deployment_configuration.circuit_breaker_rollback = true;
  auto created = ASSERT_OK(ecs_->CreateService(Root(), r));
  std::string good = created.service.deployments[0].id;
  Settle("web");
  ASSERT_EQ(Describe1("web").service.deployments[0].rollout_state, "COMPLETED");
  Register(Td("web", 300));
  UpdateServiceRequest u;
  u.service = "web";
  u.task_definition = "web:2";
  std::string bad = ASSERT_OK(ecs_->UpdateService(Root(), u)).service.deployments[0].id;
  // The new revision's tasks never run: threshold max(3, min(200, ceil(0.5 * 2))) = 3.
  ASSERT_GE(FailToStart("web", bad, 3), 3);
  Reconcile();
  // The failed deployment had no task left: it is INACTIVE at once, not shown.
  auto v = Describe1("web");
  ASSERT_THAT(v.service.deployments, SizeIs(1));
  EXPECT_EQ(v.service.deployments[0].id, good);
  EXPECT_EQ(v.service.deployments[0].status, "PRIMARY");
  EXPECT_EQ(v.service.task_definition, std::string(kPrefix) + "task-definition/web:1");
  auto events = Events("web");
  EXPECT_THAT(events,
              Contains(fmt::format(
                  "(service web) (deployment {}) deployment failed: tasks failed to start.", bad)));
  EXPECT_THAT(events, Contains(fmt::format("(service web) rolling back to deployment {}.", good)));
  Settle("web", 5);
  v = Describe1("web");
  ASSERT_THAT(v.service.deployments, SizeIs(1));
  EXPECT_EQ(v.service.deployments[0].rollout_state, "COMPLETED");
  EXPECT_EQ(Running("web"), 2);
  for (const auto& t : TasksOf("web")) EXPECT_EQ(t.started_by, good);
}

TEST_F(EcsServicesTest, WithoutRollbackAFailedDeploymentStopsStartingTasks) {
  Cluster();
  Instance();
  Register(Td("web"));
  auto r = Svc("web", "web", 1);
  r.deployment_configuration.circuit_breaker_enable = true;
  ASSERT_OK(ecs_->CreateService(Root(), r));
  for (int i = 0; i < 3; ++i) {
    Reconcile();
    for (const auto& t : TasksOf("web")) {
      ASSERT_TRUE(Report(t.id, "STOPPED", "boom"));
    }
  }
  Reconcile();
  auto v = Describe1("web");
  EXPECT_EQ(v.service.deployments[0].rollout_state, "FAILED");
  EXPECT_EQ(v.service.deployments[0].rollout_state_reason,
            "ECS deployment circuit breaker: tasks failed to start.");
  EXPECT_EQ(v.service.deployments[0].failed_tasks, 3);
  EXPECT_THAT(TasksOf("web"), IsEmpty());
  Reconcile();
  EXPECT_THAT(TasksOf("web"), IsEmpty());
}

TEST_F(EcsServicesTest, PropagatedTagsReachTheTasks) {
  Cluster();
  Instance();
  Register(Td("web"));
  auto r = Svc("web", "web", 1);
  r.tags = {{"team", "blue"}};
  r.propagate_tags = "SERVICE";
  ASSERT_OK(ecs_->CreateService(Root(), r));
  Reconcile();
  auto tasks = TasksOf("web");
  ASSERT_THAT(tasks, SizeIs(1));
  EXPECT_THAT(Keys(tasks[0].tags), ElementsAre("team=blue"));
}

TEST_F(EcsServicesTest, ServicesAreTaggedByTheirArn) {
  Cluster();
  Register(Td("web"));
  auto r = Svc("web", "web", 0);
  r.tags = {{"team", "blue"}};
  std::string arn = ASSERT_OK(ecs_->CreateService(Root(), r)).service.arn;
  ASSERT_TRUE(ecs_->TagResource(Root(), arn, {{"env", "prod"}, {"team", "red"}}));
  EXPECT_THAT(Keys(ASSERT_OK(ecs_->ListTagsForResource(Root(), arn))),
              ElementsAre("team=red", "env=prod"));
  ASSERT_TRUE(ecs_->UntagResource(Root(), arn, {"team"}));
  EXPECT_THAT(Keys(Describe1("web").service.tags), ElementsAre("env=prod"));
  EXPECT_ERROR(ecs_->ListTagsForResource(Root(), std::string(kPrefix) + "service/default/nope"),
               "ResourceNotFoundException", "The specified resource wasn't found.");
  EXPECT_ERROR(ecs_->ListTagsForResource(Root(), std::string(kPrefix) + "service/web"),
               "InvalidParameterException", "Long arn format must be used");
  ASSERT_OK(ecs_->DeleteService(Root(), "", "web", false));
  Reconcile();
  EXPECT_ERROR(ecs_->TagResource(Root(), arn, {{"a", "b"}}), "ResourceNotFoundException", "");
}

TEST_F(EcsServicesTest, ASchedulerOverTheSameStoreResumesWithoutDuplicates) {
  Cluster();
  Instance();
  Register(Td("web"));
  ASSERT_OK(ecs_->CreateService(Root(), Svc("web", "web", 2)));
  Reconcile();  // started, still PENDING
  auto before = TasksOf("web");
  ASSERT_THAT(before, SizeIs(2));
  size_t events = Events("web").size();
  // A restart: a new control plane over the same store; nothing is kept in memory.
  ecs_.reset();
  ecs_ = std::make_unique<Service>(*kv_, *access_, *iam_, ids_, clock_);
  Reconcile();
  EXPECT_EQ(Arns(TasksOf("web")), Arns(before));
  EXPECT_THAT(Events("web"), SizeIs(events));
  Settle("web");
  EXPECT_EQ(Running("web"), 2);
  EXPECT_EQ(Events("web")[0], "(service web) has reached a steady state.");
}


// ---- Container health (the agent's TCS PublishHealth) ------------------------------

class EcsHealthTest : public EcsServicesTest {
 protected:
  static TaskDefinition Checked(const std::string& family) {
  TaskDefinition td = Td(family);
  td.containers[0].health_check = HealthCheck{{"CMD-SHELL", "true"}, 5, 2, 3, 0};
  ContainerDefinition side;
  side.name = "side";
  side.image = "busybox";
  side.memory = 32;
  side.essential = false;
  side.health_check = HealthCheck{{"CMD-SHELL", "true"}, 5, 2, 3, 0};
  td.containers.push_back(side);
  return td;
  }

  // An instance whose agent runs health checks (the definition requires the capability).
  InstanceView Instance(int64_t memory = 1024) {
    return EcsServicesTest::Instance("", memory,
                                     {{"ecs.os-type", "linux"},
                                      {kSecretsCapability, {}},
                                      {"ecs.capability.container-health-check", {}}});
  }

  Status Publish(const std::string& instance_id, const std::string& task, std::string app,
                 std::string side = "") {
    TaskHealthReport r{task, {{"app", std::move(app)}}};
    if (!side.empty()) r.containers.push_back({"side", std::move(side)});
    return ecs_->PublishHealth(kA, "us-east-1", "default", instance_id, {r});
  }
};

TEST_F(EcsHealthTest, ReportsSetContainerAndTaskHealthFromTheEssentialContainers) {
  Cluster();
  auto instance = Instance();
  Register(Checked("web"));
  auto tasks = ASSERT_OK(ecs_->RunTask(Root(), Run("web"))).tasks;
  ASSERT_THAT(tasks, SizeIs(1));
  std::string id = tasks[0].id;
  auto t = ASSERT_OK(Describe(id));
  EXPECT_EQ(t.health_status, "UNKNOWN");
  EXPECT_EQ(t.containers[0].health_status, "UNKNOWN");
  int64_t version = t.version;

  ASSERT_TRUE(Publish(instance.instance.id, tasks[0].arn, "HEALTHY", "UNHEALTHY"));
  t = ASSERT_OK(Describe(id));
  EXPECT_EQ(t.containers[0].health_status, "HEALTHY");
  EXPECT_EQ(t.containers[1].health_status, "UNHEALTHY");
  EXPECT_EQ(t.health_status, "HEALTHY");  // the non-essential one does not count
  EXPECT_EQ(t.version, version + 1);
  // The same report again changes nothing.
  ASSERT_TRUE(Publish(instance.instance.id, id, "HEALTHY", "UNHEALTHY"));
  EXPECT_EQ(ASSERT_OK(Describe(id)).version, version + 1);

  ASSERT_TRUE(Publish(instance.instance.id, id, "UNHEALTHY"));
  EXPECT_EQ(ASSERT_OK(Describe(id)).health_status, "UNHEALTHY");
  ASSERT_TRUE(Publish(instance.instance.id, id, "UNKNOWN"));
  EXPECT_EQ(ASSERT_OK(Describe(id)).health_status, "UNKNOWN");
}

TEST_F(EcsHealthTest, AnAgentCannotSetTheHealthOfAnotherInstancesTasks) {
  Cluster();
  auto mine = Instance();
  Register(Checked("web"));
  auto tasks = ASSERT_OK(ecs_->RunTask(Root(), Run("web"))).tasks;
  auto other = Instance();
  ASSERT_THAT(tasks, SizeIs(1));
  ASSERT_EQ(tasks[0].container_instance_id, mine.instance.id);
  ASSERT_TRUE(Publish(other.instance.id, tasks[0].id, "HEALTHY"));
  EXPECT_EQ(ASSERT_OK(Describe(tasks[0].id)).health_status, "UNKNOWN");
  // A status ECS does not know is refused, and nothing changes.
  auto bad = Publish(mine.instance.id, tasks[0].id, "healthy");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "InvalidParameterException");
  EXPECT_EQ(bad.error().message, "Invalid health status: healthy");
  EXPECT_EQ(ASSERT_OK(Describe(tasks[0].id)).health_status, "UNKNOWN");
  // A task without health checks keeps UNKNOWN and "" containers.
  Register(Td("plain"));
  auto plain = ASSERT_OK(ecs_->RunTask(Root(), Run("plain"))).tasks;
  ASSERT_TRUE(Publish(plain[0].container_instance_id, plain[0].id, "HEALTHY"));
  auto p = ASSERT_OK(Describe(plain[0].id));
  EXPECT_EQ(p.health_status, "UNKNOWN");
  EXPECT_EQ(p.containers[0].health_status, "");
}

TEST_F(EcsHealthTest, AServiceIsSteadyOnlyOnceItsTasksAreHealthyAndReplacesUnhealthyOnes) {
  Cluster();
  auto instance = Instance();
  Register(Checked("web"));
  ASSERT_OK(ecs_->CreateService(Root(), Svc("web", "web", 2)));
  Settle("web");
  auto tasks = TasksOf("web");
  ASSERT_THAT(tasks, SizeIs(2));
  EXPECT_EQ(Running("web"), 2);
  // RUNNING but not yet HEALTHY: no steady state.
  EXPECT_FALSE(Describe1("web").service.steady);
  EXPECT_EQ(Describe1("web").service.deployments[0].rollout_state, "IN_PROGRESS");
  for (const auto& t : tasks) ASSERT_TRUE(Publish(instance.instance.id, t.id, "HEALTHY"));
  Reconcile();
  EXPECT_TRUE(Describe1("web").service.steady);
  EXPECT_EQ(Events("web")[0], "(service web) has reached a steady state.");

  // One turns UNHEALTHY: it is stopped in ECS's words and replaced.
  ASSERT_TRUE(Publish(instance.instance.id, tasks[0].id, "UNHEALTHY"));
  Reconcile();
  auto stopped = ASSERT_OK(Describe(tasks[0].id));
  EXPECT_EQ(stopped.desired_status, "STOPPED");
  EXPECT_EQ(stopped.stopped_reason, "Task failed container health checks");
  EXPECT_THAT(Events("web"), Contains(fmt::format(
                                 "(service web) (task {}) failed container health checks.",
                                 tasks[0].id)));
  EXPECT_THAT(Events("web")[0], HasSubstr("(service web) has started 1 tasks: (task "));
  Agent("web");
  EXPECT_EQ(Describe1("web").service.deployments[0].failed_tasks, 0);
  Reconcile();
  EXPECT_EQ(Describe1("web").service.deployments[0].failed_tasks, 1);
  EXPECT_FALSE(Describe1("web").service.steady);
  for (const auto& t : TasksOf("web")) ASSERT_TRUE(Publish(instance.instance.id, t.id, "HEALTHY"));
  Reconcile();
  EXPECT_TRUE(Describe1("web").service.steady);
  EXPECT_EQ(Running("web"), 2);
}

TEST_F(EcsHealthTest, ARollingUpdateCountsOnlyHealthyTasksTowardTheMinimum) {
  Cluster();
  auto instance = Instance(4096);
  Register(Checked("web"));
  CreateServiceRequest r = Svc("web", "web", 2);
  r.deployment_configuration.minimum_healthy_percent = 100;
  r.deployment_configuration.maximum_percent = 200;
  ASSERT_OK(ecs_->CreateService(Root(), r));
  Settle("web");
  auto old = TasksOf("web");
  for (const auto& t : old) ASSERT_TRUE(Publish(instance.instance.id, t.id, "HEALTHY"));
  Reconcile();
  ASSERT_TRUE(Describe1("web").service.steady);

  Register(Checked("web"));  // web:2
  UpdateServiceRequest u;
  u.service = "web";
  u.task_definition = "web:2";
  ASSERT_OK(ecs_->UpdateService(Root(), u));
  Settle("web");
  // The new tasks RUN but are not HEALTHY: the old ones stay.
  int old_live = 0;
  for (const auto& t : TasksOf("web")) old_live += t.task_definition_arn.ends_with("web:1");
  EXPECT_EQ(old_live, 2);
  for (const auto& t : TasksOf("web")) {
    if (t.task_definition_arn.ends_with("web:2")) {
      ASSERT_TRUE(Publish(instance.instance.id, t.id, "HEALTHY"));
    }
  }
  Settle("web");
  for (const auto& t : TasksOf("web")) {
    EXPECT_TRUE(t.task_definition_arn.ends_with("web:2")) << t.task_definition_arn;
  }
  EXPECT_THAT(TasksOf("web"), SizeIs(2));
}

TEST_F(EcsHealthTest, HealthStopsBeforeARollbackDoNotFailTheDeploymentRolledBackTo) {
  Cluster();
  auto instance = Instance(4096);
  Register(Checked("web"));
  auto r = Svc("web", "web", 1);
  r.deployment_configuration.circuit_breaker_enable = true;
  r.deployment_configuration.circuit_breaker_rollback = true;
  // The new revision replaces the old task first, so the rollback finds none running.
  r.deployment_configuration.minimum_healthy_percent = 0;
  r.deployment_configuration.maximum_percent = 100;
  std::string good = ASSERT_OK(ecs_->CreateService(Root(), r)).service.deployments[0].id;
  auto healthy_all = [&] {
    for (const auto& t : TasksOf("web")) {
      if (t.last_status == "RUNNING") {
        ASSERT_TRUE(Publish(instance.instance.id, t.id, "HEALTHY"));
      }
    }
  };
  Settle("web");
  healthy_all();
  Reconcile();
  ASSERT_EQ(Describe1("web").service.deployments[0].rollout_state, "COMPLETED");
  // Three of its tasks fail their health checks over its life and are replaced.
  for (int i = 0; i < 3; ++i) {
    auto tasks = TasksOf("web");
    ASSERT_THAT(tasks, SizeIs(1));
    ASSERT_TRUE(Publish(instance.instance.id, tasks[0].id, "UNHEALTHY"));
    Settle("web");
    healthy_all();
    Reconcile();
  }
  ASSERT_EQ(Describe1("web").service.deployments[0].failed_tasks, 3);
  clock_.Advance(std::chrono::seconds(10));
  // A new revision whose tasks never run trips the breaker: back to `good`.
  Register(Checked("web"));
  UpdateServiceRequest u;
  u.service = "web";
  u.task_definition = "web:2";
  std::string bad = ASSERT_OK(ecs_->UpdateService(Root(), u)).service.deployments[0].id;
  ASSERT_GE(FailToStart("web", bad, 3), 3);
  Reconcile();
  auto v = Describe1("web");
  ASSERT_EQ(v.service.deployments[0].id, good);
  // The old health stops happened before the rollback: `good` is not failed at once.
  Reconcile();
  v = Describe1("web");
  EXPECT_EQ(v.service.deployments[0].id, good);
  EXPECT_NE(v.service.deployments[0].rollout_state, "FAILED");
  Settle("web");
  healthy_all();
  Settle("web");
  EXPECT_EQ(Describe1("web").service.deployments[0].rollout_state, "COMPLETED");
}

}  // namespace
}  // namespace berth::ecs
