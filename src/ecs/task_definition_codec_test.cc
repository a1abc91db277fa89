#include "ecs/task_definition_codec.h"

#include <gtest/gtest.h>

#include <chrono>

#include "common/json.h"

namespace berth::ecs {
namespace {

using json = berth::json::Json;

TaskDefinition Parse(const std::string& text) {
  auto td = TaskDefinitionFromRequest(text);
  EXPECT_TRUE(td) << (td ? "" : td.error().message);
  return td ? *td : TaskDefinition{};
}

TaskDefinition Registered(const std::string& request) {
  TaskDefinition td = Parse(request);
  Status s = ValidateAndComplete(td);
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  td.revision = 1;
  td.arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/" + td.family + ":1";
  td.registered_at = TimePoint(std::chrono::milliseconds(1700000000123));
  td.registered_by = "arn:aws:iam::123456789012:user/alice";
  return td;
}

TEST(TaskDefinitionCodec, MinimalBridgeDefinitionDescribesAsEcsDoes) {
  // Request and DescribeTaskDefinition output as in terraform-provider-aws's equivalence test
  // of the real API representation.
  TaskDefinition td = Registered(R"({"family":"wordpress","containerDefinitions":[
      {"name":"wordpress","image":"wordpress","essential":true,
       "portMappings":[{"containerPort":80}],"memory":500,"cpu":10}]})");
  json out = json::parse(TaskDefinitionToJson(td));
  json expected_container = json::parse(R"({
      "name":"wordpress","image":"wordpress","cpu":10,"memory":500,
      "portMappings":[{"containerPort":80,"hostPort":0,"protocol":"tcp"}],
      "essential":true,"environment":[],"mountPoints":[],"volumesFrom":[]})");
  EXPECT_EQ(out["containerDefinitions"][0], expected_container);
  EXPECT_EQ(out["taskDefinitionArn"],
            "arn:aws:ecs:us-east-1:123456789012:task-definition/wordpress:1");
  EXPECT_EQ(out["family"], "wordpress");
  EXPECT_EQ(out["revision"], 1);
  EXPECT_EQ(out["status"], "ACTIVE");
  EXPECT_EQ(out["volumes"], json::array());
  EXPECT_EQ(out["placementConstraints"], json::array());
  EXPECT_EQ(out["requiresAttributes"], json::array());
  EXPECT_EQ(out["compatibilities"], json::parse(R"(["EXTERNAL","EC2"])"));
  EXPECT_DOUBLE_EQ(out["registeredAt"].get<double>(), 1700000000.123);
  EXPECT_EQ(out["registeredBy"], "arn:aws:iam::123456789012:user/alice");
  for (const char* absent :
       {"networkMode", "requiresCompatibilities", "cpu", "memory", "taskRoleArn",
        "executionRoleArn", "deregisteredAt", "pidMode", "ipcMode", "tags"}) {
    EXPECT_FALSE(out.contains(absent)) << absent;
  }
}

TEST(TaskDefinitionCodec, MembersComeOutInTheModelsOrder) {
  TaskDefinition td = Registered(R"({"family":"f","containerDefinitions":[
      {"memory":128,"image":"i","name":"n"}]})");
  std::string text = TaskDefinitionToJson(td);
  EXPECT_EQ(text.rfind(R"({"taskDefinitionArn":)", 0), 0u) << text;
  EXPECT_NE(text.find(R"({"name":"n","image":"i","cpu":0,"memory":128,"portMappings":[],)"
                      R"("essential":true,"environment":[],"mountPoints":[],"volumesFrom":[]})"),
            std::string::npos)
      << text;
}

TEST(TaskDefinitionCodec, FargateDefinitionWithEverySupportedMember) {
  const std::string request = R"({
    "family":"api","taskRoleArn":"arn:aws:iam::123456789012:role/app",
    "executionRoleArn":"arn:aws:iam::123456789012:role/exec","networkMode":"awsvpc",
    "requiresCompatibilities":["FARGATE"],"cpu":"0.5 vCPU","memory":"1GB",
    "runtimePlatform":{"cpuArchitecture":"ARM64","operatingSystemFamily":"LINUX"},
    "volumes":[{"name":"scratch"}],
    "placementConstraints":[],
    "tags":[{"key":"team","value":"core"}],
    "containerDefinitions":[{
      "name":"app","image":"registry.example.com/app:1","cpu":256,"memoryReservation":256,
      "repositoryCredentials":{
        "credentialsParameter":"arn:aws:secretsmanager:us-east-1:123456789012:secret:hub-AbCdEf"},
      "portMappings":[{"name":"http","containerPort":8080,"appProtocol":"http"}],
      "essential":true,"entryPoint":["sh","-c"],"command":["run"],
      "environment":[{"name":"A","value":"1"}],
      "environmentFiles":[{"value":"arn:aws:s3:::b/e.env","type":"s3"}],
      "mountPoints":[{"sourceVolume":"scratch","containerPath":"/tmp","readOnly":false}],
      "linuxParameters":{"initProcessEnabled":true},
      "secrets":[{"name":"DB","valueFrom":"arn:aws:ssm:us-east-1:123456789012:parameter/db"}],
      "startTimeout":60,"stopTimeout":30,"user":"1000","workingDirectory":"/app",
      "readonlyRootFilesystem":true,"dockerLabels":{"tier":"web"},
      "ulimits":[{"name":"nofile","softLimit":1024,"hardLimit":4096}],
      "logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/api",
        "awslogs-region":"us-east-1","awslogs-stream-prefix":"ecs"}},
      "healthCheck":{"command":["CMD-SHELL","curl -f localhost:8080"],"startPeriod":10},
      "systemControls":[{"namespace":"net.core.somaxconn","value":"1024"}]
    }]})";
  TaskDefinition td = Registered(request);
  EXPECT_EQ(td.cpu, "512");
  EXPECT_EQ(td.memory, "1024");
  ASSERT_EQ(td.tags.size(), 1u);
  EXPECT_EQ(td.tags[0].key, "team");
  json out = json::parse(TaskDefinitionToJson(td));
  EXPECT_EQ(out["cpu"], "512");
  EXPECT_EQ(out["memory"], "1024");
  EXPECT_EQ(out["networkMode"], "awsvpc");
  EXPECT_EQ(out["requiresCompatibilities"], json::parse(R"(["FARGATE"])"));
  EXPECT_EQ(out["compatibilities"], json::parse(R"(["EC2","FARGATE"])"));
  EXPECT_EQ(out["runtimePlatform"]["cpuArchitecture"], "ARM64");
  EXPECT_EQ(out["volumes"], json::parse(R"([{"name":"scratch"}])"));
  EXPECT_FALSE(out.contains("tags"));
  const json& c = out["containerDefinitions"][0];
  EXPECT_EQ(c["repositoryCredentials"]["credentialsParameter"],
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:hub-AbCdEf");
  EXPECT_EQ(c["portMappings"], json::parse(R"([{"name":"http","containerPort":8080,
      "hostPort":8080,"protocol":"tcp","appProtocol":"http"}])"));
  EXPECT_EQ(c["mountPoints"],
            json::parse(R"([{"sourceVolume":"scratch","containerPath":"/tmp","readOnly":false}])"));
  EXPECT_EQ(c["environmentFiles"][0]["type"], "s3");
  EXPECT_EQ(c["linuxParameters"], json::parse(R"({"initProcessEnabled":true})"));
  EXPECT_EQ(c["systemControls"][0]["namespace"], "net.core.somaxconn");
  EXPECT_EQ(c["healthCheck"], json::parse(R"({"command":["CMD-SHELL","curl -f localhost:8080"],
      "interval":30,"timeout":5,"retries":3,"startPeriod":10})"));
  EXPECT_EQ(c["readonlyRootFilesystem"], true);
  EXPECT_FALSE(c.contains("privileged"));
  EXPECT_EQ(c["ulimits"][0]["hardLimit"], 4096);
  EXPECT_EQ(c["logConfiguration"]["options"]["awslogs-stream-prefix"], "ecs");
  std::vector<std::string> attrs = td.requires_attributes;
  for (const char* name :
       {"com.amazonaws.ecs.capability.docker-remote-api.1.25",
        "ecs.capability.container-health-check", "ecs.capability.secrets.ssm.environment-variables",
        "ecs.capability.private-registry-authentication.secretsmanager",
        "ecs.capability.task-eni"}) {
    EXPECT_NE(std::find(attrs.begin(), attrs.end(), name), attrs.end()) << name;
  }
}

TEST(TaskDefinitionCodec, RecordRoundTripsEverything) {
  TaskDefinition td = Registered(R"({"family":"f","cpu":"1024","memory":"2GB",
      "requiresCompatibilities":[],"pidMode":"task",
      "volumes":[{"name":"h","host":{"sourcePath":"/var/run/docker.sock"}},
                 {"name":"d","dockerVolumeConfiguration":{"scope":"shared","autoprovision":true}}],
      "placementConstraints":[
        {"type":"memberOf","expression":"attribute:ecs.instance-type =~ t3.*"}],
      "tags":[{"key":"a","value":"b"}],
      "containerDefinitions":[{"name":"n","image":"i","memory":128,"privileged":true,
        "links":["db"],"hostname":"h","dnsServers":["10.0.0.2"],
        "extraHosts":[{"hostname":"x","ipAddress":"10.0.0.9"}],"interactive":true,
        "dependsOn":[{"containerName":"db","condition":"START"}],
        "volumesFrom":[{"sourceContainer":"db","readOnly":true}]},
        {"name":"db","image":"postgres","memory":256,"essential":false}]})");
  td.status = "INACTIVE";
  td.deregistered_at = TimePoint(std::chrono::seconds(1700000500));
  std::string record = EncodeTaskDefinitionRecord(td);
  auto back = DecodeTaskDefinitionRecord(record);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->status, "INACTIVE");
  EXPECT_EQ(back->revision, 1);
  EXPECT_EQ(back->registered_at, td.registered_at);
  EXPECT_EQ(back->deregistered_at, td.deregistered_at);
  EXPECT_EQ(back->registered_by, td.registered_by);
  EXPECT_EQ(back->requires_attributes, td.requires_attributes);
  EXPECT_EQ(back->compatibilities, td.compatibilities);
  ASSERT_EQ(back->tags.size(), 1u);
  EXPECT_EQ(back->tags[0].value, "b");
  EXPECT_TRUE(back->requires_compatibilities_given);
  EXPECT_EQ(back->containers[1].essential, false);
  EXPECT_EQ(back->containers[0].depends_on[0].container_name, "db");
  EXPECT_EQ(TaskDefinitionToJson(*back), TaskDefinitionToJson(td));
  json out = json::parse(TaskDefinitionToJson(td));
  EXPECT_EQ(out["requiresCompatibilities"], json::array()) << "given empty, echoed empty";
  EXPECT_EQ(out["deregisteredAt"], 1700000500);
  EXPECT_EQ(out["volumes"][1]["dockerVolumeConfiguration"]["scope"], "shared");
  EXPECT_EQ(out["placementConstraints"][0]["expression"], "attribute:ecs.instance-type =~ t3.*");
}

TEST(TaskDefinitionCodec, WrongMemberTypesNameTheMember) {
  auto td = TaskDefinitionFromRequest(
      R"({"family":"f","containerDefinitions":[{"name":"a","image":"i","memory":"lots"}]})");
  ASSERT_FALSE(td);
  EXPECT_EQ(td.error().code, "SerializationException");
  EXPECT_EQ(td.error().message, "'containerDefinitions[0].memory' must be an integer.");

  td = TaskDefinitionFromRequest(R"({"family":"f","containerDefinitions":{}})");
  ASSERT_FALSE(td);
  EXPECT_EQ(td.error().message, "'containerDefinitions' must be a list.");

  td = TaskDefinitionFromRequest(
      R"({"family":"f","containerDefinitions":[{"portMappings":[{"containerPort":"80"}]}]})");
  ASSERT_FALSE(td);
  EXPECT_EQ(td.error().message,
            "'containerDefinitions[0].portMappings[0].containerPort' must be an integer.");

  td = TaskDefinitionFromRequest("[1]");
  ASSERT_FALSE(td);
  EXPECT_EQ(td.error().code, "SerializationException");
}

TEST(TaskDefinitionCodec, TaskCpuAndMemoryMayBeNumbers) {
  TaskDefinition td = Parse(R"({"family":"f","cpu":256,"memory":512,"unknownMember":1,
      "containerDefinitions":[{"name":"a","image":"i"}]})");
  EXPECT_EQ(td.cpu, "256");
  EXPECT_EQ(td.memory, "512");
}

TEST(ApplyContainerOverrides, ReplacesCommandAndMergesEnvironment) {
  TaskDefinition td = Parse(R"({"family":"f","containerDefinitions":[
      {"name":"a","image":"i","command":["serve"],"memory":128,
       "environment":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]})");
  auto containers = ApplyContainerOverrides(td, R"({"containerOverrides":[{"name":"a",
      "command":["migrate"],"environment":[{"name":"B","value":"3"},{"name":"C","value":"4"}],
      "cpu":64,"memory":256,"memoryReservation":200}]})");
  ASSERT_TRUE(containers) << containers.error().message;
  const ContainerDefinition& c = (*containers)[0];
  EXPECT_EQ(c.command, std::vector<std::string>{"migrate"});
  ASSERT_EQ(c.environment.size(), 3u);
  EXPECT_EQ(c.environment[1].value, "3");
  EXPECT_EQ(c.environment[2].name, "C");
  EXPECT_EQ(c.cpu, 64);
  EXPECT_EQ(c.memory, 256);
  EXPECT_EQ(c.memory_reservation, 200);
  EXPECT_EQ(td.containers[0].command, std::vector<std::string>{"serve"}) << "a copy";

  auto unknown = ApplyContainerOverrides(td, R"({"containerOverrides":[{"name":"zzz"}]})");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "InvalidParameterException");
  EXPECT_EQ(unknown.error().message,
            "Override for container named zzz is not a container in the TaskDefinition.");
  EXPECT_TRUE(ApplyContainerOverrides(td, ""));
}

TEST(RenderDockerConfig, AwslogsStreamAndResourcesAsDockerWantsThem) {
  TaskDefinition td =
      Registered(R"({"family":"f","executionRoleArn":"arn:aws:iam::123456789012:role/x",
      "containerDefinitions":[{"name":"curl","image":"curlimages/curl","cpu":128,"memory":256,
        "memoryReservation":128,"user":"1000:1000","workingDirectory":"/w",
        "dockerLabels":{"a":"b"},"privileged":true,"readonlyRootFilesystem":true,
        "ulimits":[{"name":"nofile","softLimit":1024,"hardLimit":2048}],
        "extraHosts":[{"hostname":"db","ipAddress":"10.0.0.5"}],
        "healthCheck":{"command":["CMD","true"],"interval":10},
        "logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/f",
          "awslogs-region":"us-east-1","awslogs-stream-prefix":"ecs"}}}]})");
  DockerConfig d = RenderDockerConfig(td, td.containers[0], "cd189a933e5849daa93386466019ab50");
  json config = json::parse(d.config);
  json host = json::parse(d.host_config);
  EXPECT_EQ(config, json::parse(R"({"User":"1000:1000","WorkingDir":"/w","Labels":{"a":"b"},
      "Healthcheck":{"Test":["CMD","true"],"Interval":10000000000,"Timeout":5000000000,
      "Retries":3}})"));
  // The stream name of AWS's task metadata v4 example: prefix/container/taskId.
  EXPECT_EQ(host["LogConfig"], json::parse(R"({"Type":"awslogs","Config":{
      "awslogs-group":"/ecs/f","awslogs-region":"us-east-1",
      "awslogs-stream":"ecs/curl/cd189a933e5849daa93386466019ab50"}})"));
  EXPECT_EQ(host["Memory"], 256 * 1024 * 1024);
  EXPECT_EQ(host["MemoryReservation"], 128 * 1024 * 1024);
  EXPECT_EQ(host["CpuShares"], 128);
  EXPECT_EQ(host["Ulimits"], json::parse(R"([{"Name":"nofile","Soft":1024,"Hard":2048}])"));
  EXPECT_EQ(host["Privileged"], true);
  EXPECT_EQ(host["ReadonlyRootfs"], true);
  EXPECT_EQ(host["ExtraHosts"], json::parse(R"(["db:10.0.0.5"])"));

  TaskDefinition plain = Registered(R"({"family":"f","containerDefinitions":[
      {"name":"a","image":"i","memory":64}]})");
  DockerConfig p = RenderDockerConfig(plain, plain.containers[0], "0123");
  EXPECT_EQ(p.config, "{}");
  EXPECT_EQ(p.host_config, R"({"Memory":67108864})");
}

}  // namespace
}  // namespace berth::ecs
