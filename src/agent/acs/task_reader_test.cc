// ParseTask on ACS Task objects shaped as src/server/acs.cc sends them.
#include <gtest/gtest.h>

#include "agent/acs/session.h"
#include "common/json.h"

namespace berth::agent::acs {
namespace {

using json::Json;

Json Credentials(const std::string& id, const std::string& role) {
  return {{"credentialsId", id},          {"roleArn", role},
          {"accessKeyId", "ASIAEXAMPLE"}, {"secretAccessKey", "secret"},
          {"sessionToken", "token"},      {"expiration", "2026-11-26T17:55:06Z"}};
}

// A task as berth's ACS renders it: dockerConfig strings, asm registry auth, credentials.
Json BerthTask() {
  Json config = {{"User", "1000:1000"},
                 {"WorkingDir", "/srv"},
                 {"Hostname", "web-1"},
                 {"Labels", {{"team", "a"}}},
                 {"Healthcheck",
                  {{"Test", {"CMD-SHELL", "curl -f localhost"}},
                   {"Interval", 10'000'000'000},
                   {"Timeout", 2'000'000'000},
                   {"Retries", 5},
                   {"StartPeriod", 1'000'000'000}}}};
  Json host = {{"LogConfig",
                {{"Type", "awslogs"},
                 {"Config", {{"awslogs-group", "g"}, {"awslogs-stream", "p/web/abc"}}}}},
               {"Memory", 512LL * 1024 * 1024},
               {"MemoryReservation", 256LL * 1024 * 1024},
               {"CpuShares", 256},
               {"Ulimits", {{{"Name", "nofile"}, {"Soft", 1024}, {"Hard", 4096}}}},
               {"Privileged", true},
               {"ReadonlyRootfs", true},
               {"Dns", {"10.0.0.2"}},
               {"DnsSearch", {"example.com"}},
               {"ExtraHosts", {"db:10.0.0.5", "v6:fe80::1"}},
               {"Init", true}};
  Json web = {
      {"name", "web"},
      {"image", "registry.example/web:1"},
      {"cpu", 256},
      {"memory", 512},
      {"essential", true},
      {"command", {"serve", "--port", "8080"}},  // the override, already applied
      {"entryPoint", {"/bin/app"}},
      {"environment", {{"A", "1"}, {"B", "2"}}},
      {"portMappings",
       {{{"containerPort", 8080}, {"hostPort", 0}, {"protocol", "tcp"}},
        {{"containerPort", 53}, {"hostPort", 5353}, {"protocol", "udp"}}}},
      {"mountPoints", Json::array()},
      {"overrides", "{}"},
      {"containerArn", "arn:aws:ecs:us-east-1:123456789012:container/c/abc/1"},
      {"registryAuthentication",
       {{"type", "asm"},
        {"asmAuthData",
         {{"credentialsParameter", "arn:aws:secretsmanager:eu-west-1:1:secret:reg"},
          {"region", "eu-west-1"}}}}},
      {"dependsOn", {{{"containerName", "init"}, {"condition", "SUCCESS"}}}},
      {"startTimeout", 30},
      {"stopTimeout", 10},
      {"healthCheckType", "docker"},
      {"dockerConfig",
       {{"version", "1.17"}, {"config", json::Dump(config)}, {"hostConfig", json::Dump(host)}}}};
  Json init = {{"name", "init"},
               {"image", "busybox"},
               {"essential", false},
               {"overrides", "{\"command\":[\"true\"]}"},
               {"command", {"false"}}};
  return {{"arn", "arn:aws:ecs:us-east-1:123456789012:task/c/abc"},
          {"taskClusterArn", "arn:aws:ecs:us-east-1:123456789012:cluster/c"},
          {"family", "web"},
          {"version", "3"},
          {"desiredStatus", "RUNNING"},
          {"launchType", "EXTERNAL"},
          {"networkMode", "bridge"},
          {"group", "family:web"},
          {"overrides", "{\"containerOverrides\":[{\"name\":\"web\",\"command\":[\"serve\"]}]}"},
          {"cpu", 0.5},
          {"memory", 1024},
          {"volumes", Json::array()},
          {"roleCredentials", Credentials("task-creds", "arn:aws:iam::1:role/app")},
          {"executionRoleCredentials", Credentials("exec-creds", "arn:aws:iam::1:role/exec")},
          {"containers", {web, init}}};
}

TEST(ParseTask, ReadsABerthPayloadTaskWithItsDockerConfigUnpacked) {
  auto parsed = ParseTask(json::Dump(BerthTask()));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  const spec::TaskSpec& t = *parsed;
  EXPECT_EQ(t.arn, "arn:aws:ecs:us-east-1:123456789012:task/c/abc");
  EXPECT_EQ(t.Id(), "abc");
  EXPECT_EQ(t.cluster_arn, "arn:aws:ecs:us-east-1:123456789012:cluster/c");
  EXPECT_EQ(t.family, "web");
  EXPECT_EQ(t.version, "3");
  EXPECT_EQ(t.desired_status, "RUNNING");
  EXPECT_EQ(t.launch_type, "EXTERNAL");
  EXPECT_EQ(t.network_mode, "bridge");
  EXPECT_EQ(t.group, "family:web");
  EXPECT_DOUBLE_EQ(t.cpu, 0.5);
  EXPECT_EQ(t.memory_mib, 1024);
  ASSERT_TRUE(t.task_role.has_value());
  EXPECT_EQ(t.task_role->credentials_id, "task-creds");
  EXPECT_EQ(t.task_role->role_arn, "arn:aws:iam::1:role/app");
  EXPECT_EQ(t.task_role->access_key_id, "ASIAEXAMPLE");
  EXPECT_EQ(t.task_role->secret_access_key, "secret");
  EXPECT_EQ(t.task_role->session_token, "token");
  EXPECT_EQ(t.task_role->expiration, "2026-11-26T17:55:06Z");
  EXPECT_EQ(t.task_role->role_type, "TaskApplication");
  ASSERT_TRUE(t.execution_role.has_value());
  EXPECT_EQ(t.execution_role->credentials_id, "exec-creds");
  EXPECT_EQ(t.execution_role->role_type, "TaskExecution");

  ASSERT_EQ(t.containers.size(), 2u);
  const spec::ContainerSpec& c = t.containers[0];
  EXPECT_EQ(c.name, "web");
  EXPECT_EQ(c.image, "registry.example/web:1");
  EXPECT_EQ(c.container_arn, "arn:aws:ecs:us-east-1:123456789012:container/c/abc/1");
  EXPECT_EQ(c.command, (std::vector<std::string>{"serve", "--port", "8080"}));
  EXPECT_EQ(c.entry_point, (std::vector<std::string>{"/bin/app"}));
  EXPECT_EQ(c.environment, (std::map<std::string, std::string>{{"A", "1"}, {"B", "2"}}));
  EXPECT_EQ(c.cpu, 256);
  EXPECT_EQ(c.memory_mib, 512);
  EXPECT_EQ(c.memory_reservation_mib, 256);
  EXPECT_TRUE(c.essential);
  ASSERT_EQ(c.port_mappings.size(), 2u);
  EXPECT_EQ(c.port_mappings[0].container_port, 8080);
  EXPECT_EQ(c.port_mappings[0].host_port, 0);
  EXPECT_EQ(c.port_mappings[0].protocol, "tcp");
  EXPECT_EQ(c.port_mappings[1].container_port, 53);
  EXPECT_EQ(c.port_mappings[1].host_port, 5353);
  EXPECT_EQ(c.port_mappings[1].protocol, "udp");
  EXPECT_EQ(c.asm_credentials_parameter, "arn:aws:secretsmanager:eu-west-1:1:secret:reg");
  EXPECT_EQ(c.asm_region, "eu-west-1");
  ASSERT_EQ(c.depends_on.size(), 1u);
  EXPECT_EQ(c.depends_on[0].container_name, "init");
  EXPECT_EQ(c.depends_on[0].condition, "SUCCESS");
  EXPECT_EQ(c.start_timeout_seconds, 30);
  EXPECT_EQ(c.stop_timeout_seconds, 10);
  EXPECT_EQ(c.user, "1000:1000");
  EXPECT_EQ(c.working_directory, "/srv");
  EXPECT_EQ(c.hostname, "web-1");
  EXPECT_EQ(c.labels, (std::map<std::string, std::string>{{"team", "a"}}));
  ASSERT_TRUE(c.health_check.has_value());
  EXPECT_EQ(c.health_check->test, (std::vector<std::string>{"CMD-SHELL", "curl -f localhost"}));
  EXPECT_EQ(c.health_check->interval_ns, 10'000'000'000);
  EXPECT_EQ(c.health_check->timeout_ns, 2'000'000'000);
  EXPECT_EQ(c.health_check->retries, 5);
  EXPECT_EQ(c.health_check->start_period_ns, 1'000'000'000);
  ASSERT_TRUE(c.log_config.has_value());
  EXPECT_EQ(c.log_config->driver, "awslogs");
  EXPECT_EQ(c.log_config->options, (std::map<std::string, std::string>{
                                       {"awslogs-group", "g"}, {"awslogs-stream", "p/web/abc"}}));
  ASSERT_EQ(c.ulimits.size(), 1u);
  EXPECT_EQ(c.ulimits[0].name, "nofile");
  EXPECT_EQ(c.ulimits[0].soft, 1024);
  EXPECT_EQ(c.ulimits[0].hard, 4096);
  EXPECT_TRUE(c.privileged);
  EXPECT_TRUE(c.readonly_root_filesystem);
  EXPECT_TRUE(c.init_process_enabled);
  EXPECT_EQ(c.dns_servers, (std::vector<std::string>{"10.0.0.2"}));
  EXPECT_EQ(c.dns_search_domains, (std::vector<std::string>{"example.com"}));
  EXPECT_EQ(c.extra_hosts, (std::vector<std::pair<std::string, std::string>>{{"db", "10.0.0.5"},
                                                                             {"v6", "fe80::1"}}));

  // Container.overrides {"command": [...]} replaces the command, as the ECS agent applies it.
  const spec::ContainerSpec& init = t.containers[1];
  EXPECT_EQ(init.command, (std::vector<std::string>{"true"}));
  EXPECT_FALSE(init.essential);
  EXPECT_FALSE(init.log_config.has_value());
  EXPECT_FALSE(init.health_check.has_value());
  EXPECT_EQ(init.memory_mib, 0);
}

TEST(ParseTask, AStopTaskHasNoContainersAndDefaultsApply) {
  auto parsed = ParseTask(R"({"arn": "arn:aws:ecs:r:1:task/c/x", "desiredStatus": "STOPPED",
                              "containers": []})");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->desired_status, "STOPPED");
  EXPECT_EQ(parsed->network_mode, "bridge");
  EXPECT_TRUE(parsed->containers.empty());
  EXPECT_FALSE(parsed->task_role.has_value());
}

void ExpectUnrecognized(const Json& task, const std::string& message) {
  auto parsed = ParseTask(json::Dump(task));
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code, "UnrecognizedTaskError");
  EXPECT_EQ(parsed.error().message, message);
}

TEST(ParseTask, MalformedTasksAreUnrecognizedTaskErrorsSayingWhy) {
  auto bad = ParseTask("not json");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, "UnrecognizedTaskError");
  EXPECT_EQ(bad.error().message, "the task is not a JSON object");
  EXPECT_EQ(ParseTask("").error().message, "the task is not a JSON object");
  EXPECT_EQ(ParseTask("[1]").error().message, "the task is not a JSON object");

  Json task = BerthTask();
  task.erase("arn");
  ExpectUnrecognized(task, "a task has no arn");

  const std::string arn = "arn:aws:ecs:us-east-1:123456789012:task/c/abc";
  task = BerthTask();
  task["containers"][1].erase("name");
  ExpectUnrecognized(task, "task " + arn + ": container 2 has no name");

  task = BerthTask();
  task["containers"][0]["image"] = "";
  ExpectUnrecognized(task, "task " + arn + ": container web has no image");

  task = BerthTask();
  task["containers"][0]["dockerConfig"]["config"] = "{not json";
  ExpectUnrecognized(task,
                     "task " + arn + ": container web: dockerConfig.config is not a JSON object");

  task = BerthTask();
  task["containers"][0]["dockerConfig"]["hostConfig"] = R"({"Memory": "lots"})";
  ExpectUnrecognized(
      task, "task " + arn + ": container web: STRING_VALUE can not be converted to an Integer");

  task = BerthTask();
  task["containers"][0]["dockerConfig"]["hostConfig"] = R"({"ExtraHosts": ["nocolon"]})";
  ExpectUnrecognized(task,
                     "task " + arn + ": container web: ExtraHosts entry 'nocolon' is not host:ip");

  task = BerthTask();
  task["containers"][1]["overrides"] = "[]";
  ExpectUnrecognized(task, "task " + arn + ": container init: overrides is not a JSON object");

  task = BerthTask();
  task["containers"] = "web";
  ExpectUnrecognized(task, "task " + arn + ": containers: Expected list or null");

  task = BerthTask();
  task["cpu"] = "half";
  ExpectUnrecognized(task, "task " + arn + ": STRING_VALUE can not be converted to a Double");
}

}  // namespace
}  // namespace berth::agent::acs
