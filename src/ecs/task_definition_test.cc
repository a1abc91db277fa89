#include "ecs/task_definition.h"

#include <gtest/gtest.h>

#include "ecs/task_definition_codec.h"

namespace berth::ecs {
namespace {

constexpr char kExecRole[] = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole";
constexpr char kTaskRole[] = "arn:aws:iam::123456789012:role/app";

ContainerDefinition Container(std::string name, std::optional<int> memory = 128) {
  ContainerDefinition c;
  c.name = std::move(name);
  c.image = "nginx:latest";
  c.memory = memory;
  return c;
}

TaskDefinition Bridge() {
  TaskDefinition td;
  td.family = "web";
  td.containers.push_back(Container("app"));
  return td;
}

TaskDefinition Fargate() {
  TaskDefinition td;
  td.family = "web";
  td.network_mode = "awsvpc";
  td.requires_compatibilities = {"FARGATE"};
  td.cpu = "256";
  td.memory = "512";
  td.containers.push_back(Container("app", std::nullopt));
  return td;
}

void ExpectError(TaskDefinition td, const std::string& code, const std::string& message) {
  Status s = ValidateAndComplete(td);
  ASSERT_FALSE(s) << "expected " << message;
  EXPECT_EQ(s.error().code, code);
  EXPECT_EQ(s.error().message, message);
}

void ExpectClient(TaskDefinition td, const std::string& message) {
  ExpectError(std::move(td), "ClientException", message);
}

TEST(ValidateAndComplete, PlainBridgeDefinitionIsExternalAndEc2WithNoAttributes) {
  // Observed DescribeTaskDefinition of a bridge definition: compatibilities ["EXTERNAL","EC2"],
  // requiresAttributes [].
  TaskDefinition td = Bridge();
  ASSERT_TRUE(ValidateAndComplete(td));
  EXPECT_EQ(td.compatibilities, (std::vector<std::string>{"EXTERNAL", "EC2"}));
  EXPECT_TRUE(td.requires_attributes.empty());
  EXPECT_TRUE(td.containers[0].essential);
  EXPECT_EQ(EffectiveNetworkMode(td), "bridge");
}

TEST(ValidateAndComplete, FamilyAndContainerNames) {
  TaskDefinition td = Bridge();
  td.family = "web app";
  ExpectClient(td, "Family contains invalid characters.");
  td.family = std::string(256, 'a');
  ExpectClient(td, "Family contains invalid characters.");
  td.family = std::string(255, 'a');
  EXPECT_TRUE(ValidateAndComplete(td));

  td = Bridge();
  td.containers[0].name = "";
  ExpectClient(td, "Container.name should not be null or empty.");
  td.containers[0].name = "my app";
  ExpectClient(td, "Container.name contains invalid characters.");
  td = Bridge();
  td.containers.push_back(Container("app"));
  ExpectClient(td, "Container names must be unique within a Task Definition.");
}

TEST(ValidateAndComplete, ContainerListBounds) {
  TaskDefinition td = Bridge();
  td.containers.clear();
  ExpectClient(td, "Container list cannot be empty.");
  for (int i = 0; i < 11; ++i) td.containers.push_back(Container("c" + std::to_string(i)));
  ExpectClient(td, "Too many containers.");
  td.containers.pop_back();
  EXPECT_TRUE(ValidateAndComplete(td));
}

TEST(ValidateAndComplete, ImageRequiredAndItsCharacters) {
  TaskDefinition td = Bridge();
  td.containers[0].image = "";
  ExpectClient(td, "Container.image should not be null or empty.");
  td.containers[0].image = "nginx latest";
  ExpectClient(td, "Container.image contains invalid characters.");
  td.containers[0].image = std::string(256, 'a');
  ExpectClient(td, "Container.image contains invalid characters.");
  td.containers[0].image =
      "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:"
      "94afd1f2e64d908bc90dbca0035a5b567a2b8c3d4e5f60718293a4b5c6d7e8f9";
  EXPECT_TRUE(ValidateAndComplete(td));
}

TEST(ValidateAndComplete, Ec2MemoryRules) {
  TaskDefinition td = Bridge();
  td.containers[0].memory.reset();
  ExpectClient(td,
               "Invalid setting for container 'app'. At least one of 'memory' or "
               "'memoryReservation' must be specified.");
  td.containers[0].memory_reservation = 64;
  EXPECT_TRUE(ValidateAndComplete(td));

  td = Bridge();
  td.containers[0].memory.reset();
  td.memory = "512";
  EXPECT_TRUE(ValidateAndComplete(td)) << "task memory is enough";

  td = Bridge();
  td.containers[0].memory = 5;
  ExpectClient(td, "Invalid 'memory' setting for container 'app'.");
  td.containers[0].memory = 6;
  EXPECT_TRUE(ValidateAndComplete(td));

  td = Bridge();
  td.containers[0].memory = 128;
  td.containers[0].memory_reservation = 256;
  ExpectClient(td,
               "The 'memoryReservation' setting for container 'app' is greater than its "
               "'memory' setting.");
  td.containers[0].memory_reservation = 128;
  EXPECT_TRUE(ValidateAndComplete(td)) << "equal is allowed";

  td = Bridge();
  td.memory = "512";
  td.containers[0].memory = 1024;
  ExpectClient(td, "The 'memory' setting for container 'app' is greater than for the task.");

  td = Bridge();
  td.memory = "512";
  td.containers[0].memory.reset();
  td.containers[0].memory_reservation = 300;
  td.containers.push_back(Container("b", std::nullopt));
  td.containers[1].memory_reservation = 300;
  ExpectClient(td,
               "The sum of all container 'memoryReservation' values cannot be greater than "
               "the value of the task 'memory'.");
}

TEST(ValidateAndComplete, CpuSumAgainstTaskCpu) {
  TaskDefinition td = Bridge();
  td.cpu = "256";
  td.containers[0].cpu = 200;
  td.containers.push_back(Container("b"));
  td.containers[1].cpu = 100;
  ExpectClient(td,
               "The sum of all container 'cpu' values cannot be greater than the value of the "
               "task 'cpu'.");
}

TEST(ValidateAndComplete, TaskCpuAndMemoryAreNormalized) {
  TaskDefinition td = Bridge();
  td.cpu = "1 vCPU";
  td.memory = "1GB";
  ASSERT_TRUE(ValidateAndComplete(td));
  EXPECT_EQ(td.cpu, "1024");
  EXPECT_EQ(td.memory, "1024");

  EXPECT_EQ(NormalizeTaskCpu("0.5 vcpu").value(), "512");
  EXPECT_EQ(NormalizeTaskCpu("0.25vCPU").value(), "256");
  EXPECT_EQ(NormalizeTaskCpu("512").value(), "512");
  EXPECT_EQ(NormalizeTaskMemory("512").value(), "512");
  EXPECT_EQ(NormalizeTaskMemory("0.5 GB").value(), "512");
  EXPECT_EQ(NormalizeTaskMemory("2gb").value(), "2048");
  EXPECT_EQ(NormalizeTaskMemory("300 MiB").value(), "300");

  td = Bridge();
  td.cpu = "lots";
  ExpectClient(td, "Invalid 'cpu' setting for task.");
  td = Bridge();
  td.memory = "1 vCPU";
  ExpectClient(td, "Invalid 'memory' setting for task.");
  EXPECT_FALSE(NormalizeTaskCpu("0.1 vcpu"));  // 102.4 units is not an integer
  EXPECT_FALSE(NormalizeTaskCpu("-1"));
  EXPECT_FALSE(NormalizeTaskMemory(""));
}

TEST(ValidateAndComplete, FargateRequirements) {
  TaskDefinition td = Fargate();
  ASSERT_TRUE(ValidateAndComplete(td));
  EXPECT_EQ(td.compatibilities, (std::vector<std::string>{"EC2", "FARGATE"}));

  td = Fargate();
  td.network_mode = "";
  ExpectClient(td, "Fargate only supports network mode \u2018awsvpc\u2019.");
  td.network_mode = "bridge";
  ExpectClient(td, "Fargate only supports network mode \u2018awsvpc\u2019.");

  td = Fargate();
  td.cpu = "";
  ExpectClient(td, "Fargate requires that 'cpu' be defined at the task level.");
  td = Fargate();
  td.memory = "";
  td.containers[0].memory = 512;
  ExpectClient(td, "Fargate requires that 'memory' be defined at the task level.");

  td = Fargate();
  td.cpu = "1024";
  td.memory = "1024";
  ExpectClient(td,
               "No Fargate configuration exists for given values: 1024 CPU, 1024 memory. See "
               "the Amazon ECS documentation for the valid values.");
  td.cpu = "1 vCPU";
  td.memory = "2 GB";
  EXPECT_TRUE(ValidateAndComplete(td));
  EXPECT_EQ(td.cpu, "1024");
  EXPECT_EQ(td.memory, "2048");

  td = Fargate();
  td.containers[0].log_configuration =
      LogConfiguration{"awslogs", {{"awslogs-group", "g"}, {"awslogs-region", "us-east-1"}}, {}};
  ExpectClient(td,
               "Fargate requires task definition to have execution role ARN to support log "
               "driver awslogs.");
  td.execution_role_arn = kExecRole;
  EXPECT_TRUE(ValidateAndComplete(td));

  td = Fargate();
  td.ipc_mode = "host";
  ExpectClient(td, "Tasks using the Fargate launch type do not support ipcMode.");

  td = Fargate();
  td.containers[0].stop_timeout = 121;
  ExpectClient(td,
               "Invalid 'stopTimeout' setting for container 'app'. Fargate allows at most 120 "
               "seconds.");
  td.containers[0].stop_timeout = 120;
  EXPECT_TRUE(ValidateAndComplete(td));

  td = Fargate();
  td.containers[0].privileged = true;
  ExpectClient(td, "Tasks using the Fargate launch type do not support privileged containers.");
}

TEST(ValidateAndComplete, FargateLeftOutOfCompatibilitiesWhenNotRequested) {
  TaskDefinition td = Fargate();
  td.requires_compatibilities = {"EC2"};
  td.cpu = "1024";
  td.memory = "1024";  // not a Fargate size
  ASSERT_TRUE(ValidateAndComplete(td));
  EXPECT_EQ(td.compatibilities, (std::vector<std::string>{"EC2"}));

  td = Fargate();
  td.requires_compatibilities.clear();
  ASSERT_TRUE(ValidateAndComplete(td));
  EXPECT_EQ(td.compatibilities, (std::vector<std::string>{"EC2", "FARGATE"}));
}

TEST(ValidateAndComplete, ExternalRefusesAwsvpc) {
  TaskDefinition td = Bridge();
  td.network_mode = "awsvpc";
  td.requires_compatibilities = {"EXTERNAL"};
  ExpectClient(td, "The EXTERNAL launch type does not support network mode 'awsvpc'.");
  td.network_mode = "host";
  ASSERT_TRUE(ValidateAndComplete(td));
  EXPECT_EQ(td.compatibilities, (std::vector<std::string>{"EXTERNAL", "EC2"}));
}

TEST(ValidateAndComplete, EnumsAreChecked) {
  TaskDefinition td = Bridge();
  td.network_mode = "overlay";
  ExpectError(td, "InvalidParameterException",
              "Invalid value 'overlay' for networkMode. Valid values: bridge, host, awsvpc, none.");
  td = Bridge();
  td.requires_compatibilities = {"LAMBDA"};
  ExpectError(td, "InvalidParameterException",
              "Invalid value 'LAMBDA' for requiresCompatibilities. Valid values: EC2, FARGATE, "
              "EXTERNAL.");
  td = Bridge();
  td.containers[0].port_mappings.push_back({80, std::nullopt, "sctp", "", ""});
  ExpectError(td, "InvalidParameterException",
              "Invalid value 'sctp' for protocol. Valid values: tcp, udp.");
}

TEST(ValidateAndComplete, PortMappingsPerNetworkMode) {
  TaskDefinition td = Bridge();
  td.containers[0].port_mappings.push_back({0, std::nullopt, "tcp", "", ""});
  ExpectClient(td, "Invalid 'containerPort' setting for container 'app'.");

  td = Bridge();
  td.containers[0].port_mappings.push_back({80, 8080, "tcp", "", ""});
  ASSERT_TRUE(ValidateAndComplete(td)) << "bridge maps any host port";

  td.network_mode = "awsvpc";
  ExpectClient(td,
               "When networkMode=awsvpc, the host ports and container ports in port mappings "
               "must match.");
  td.network_mode = "host";
  ExpectClient(td,
               "When networkMode=host, the host ports and container ports in port mappings "
               "must match.");
  td.network_mode = "none";
  ExpectClient(td, "When networkMode=none, containers can't have port mappings.");

  td = Bridge();
  td.network_mode = "awsvpc";
  td.containers[0].port_mappings.push_back({80, std::nullopt, "tcp", "", ""});
  ASSERT_TRUE(ValidateAndComplete(td));
  EXPECT_EQ(td.containers[0].port_mappings[0].host_port, 80) << "ECS fills hostPort";
}

TEST(ValidateAndComplete, HostnameAndLinksDependOnNetworkMode) {
  TaskDefinition td = Bridge();
  td.network_mode = "awsvpc";
  td.containers[0].hostname = "web";
  ExpectClient(td, "hostname is not supported on container when networkMode=awsvpc.");
  td = Bridge();
  td.network_mode = "host";
  td.containers[0].links = {"db"};
  ExpectClient(td, "links are not supported on container when networkMode=host.");
}

TEST(ValidateAndComplete, EssentialContainers) {
  TaskDefinition td = Bridge();
  td.containers[0].essential = false;
  ExpectClient(td, "Task definition doesn't have any essential container.");
  td.containers.push_back(Container("b"));
  EXPECT_TRUE(ValidateAndComplete(td));
}

TEST(ValidateAndComplete, DependsOn) {
  TaskDefinition td = Bridge();
  td.containers.push_back(Container("init"));
  td.containers[0].depends_on = {{"missing", "START"}};
  ExpectClient(td, "Cannot depend on container + 'missing' because it does not exist");
  td.containers[0].depends_on = {{"init", "SOMETIME"}};
  ExpectError(td, "InvalidParameterException",
              "Invalid value 'SOMETIME' for dependsOn.condition. Valid values: START, COMPLETE, "
              "SUCCESS, HEALTHY.");
  td.containers[0].depends_on = {{"init", "SUCCESS"}};
  ExpectClient(td,
               "A dependency container with SUCCESS or COMPLETE condition cannot be an "
               "essential container");
  td.containers[1].essential = false;
  ASSERT_TRUE(ValidateAndComplete(td));
  EXPECT_NE(std::find(td.requires_attributes.begin(), td.requires_attributes.end(),
                      "ecs.capability.container-ordering"),
            td.requires_attributes.end());
}

TEST(ValidateAndComplete, ExecutionRoleRequirements) {
  TaskDefinition td = Bridge();
  td.containers[0].credentials_parameter = "dockerhub";
  ExpectClient(td,
               "Private repository authentication requires that the task definition specify "
               "a value for executionRoleArn.");
  td.execution_role_arn = kExecRole;
  EXPECT_TRUE(ValidateAndComplete(td));

  td = Bridge();
  td.containers[0].secrets = {{"DB_PASSWORD", "/app/db"}};
  ExpectClient(td,
               "When you are specifying container secrets, you must also specify a value for "
               "'executionRoleArn'.");
}

TEST(ValidateAndComplete, AwslogsNeedsGroupAndRegion) {
  TaskDefinition td = Bridge();
  td.containers[0].log_configuration = LogConfiguration{"awslogs", {}, {}};
  ExpectClient(td, "Log driver awslogs requires options: awslogs-region, awslogs-group");
  td.containers[0].log_configuration->options = {{"awslogs-region", "us-east-1"}};
  ExpectClient(td, "Log driver awslogs requires options: awslogs-group");
  td.containers[0].log_configuration = LogConfiguration{"syslog2", {}, {}};
  ExpectError(td, "InvalidParameterException",
              "Invalid value 'syslog2' for logDriver. Valid values: json-file, syslog, journald, "
              "gelf, fluentd, awslogs, splunk, awsfirelens.");
}

TEST(ValidateAndComplete, RoleArnsMustLookLikeRoles) {
  TaskDefinition td = Bridge();
  td.task_role_arn = "arn:aws:iam::123456789012:user/alice";
  ExpectClient(td, "Role is not valid");
  td.task_role_arn = "arn:aws:iam::12345:role/app";
  ExpectClient(td, "Role is not valid");
  td.task_role_arn = "app";
  ExpectClient(td, "Role is not valid");
  td.task_role_arn = "arn:aws:iam::123456789012:role/service-role/app";
  EXPECT_TRUE(ValidateAndComplete(td));
  td.execution_role_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/default";
  ExpectClient(td, "Role is not valid");
}

TEST(ValidateAndComplete, Tags) {
  TaskDefinition td = Bridge();
  td.tags = {{"aws:owner", "x"}};
  ExpectError(td, "InvalidParameterException",
              "Tag keys beginning with 'aws:' are reserved for AWS use.");
  td.tags = {{std::string(129, 'k'), "x"}};
  ExpectError(td, "InvalidParameterException", "Tag keys must be between 1 and 128 characters.");
  td.tags = {{"k", std::string(257, 'v')}};
  ExpectError(td, "InvalidParameterException", "Tag values must be at most 256 characters.");
  td.tags.clear();
  for (int i = 0; i < 51; ++i) td.tags.push_back({"k" + std::to_string(i), "v"});
  ExpectError(td, "InvalidParameterException", "A resource can have at most 50 tags.");
  td.tags.pop_back();
  EXPECT_TRUE(ValidateAndComplete(td));
}

TEST(ValidateAndComplete, RequiresAttributesOfTheSeedDefinition) {
  // The observed real output for awslogs + execution role + privileged + repositoryCredentials +
  // memoryReservation + task role + SSM secret on bridge (ECS-FACTS §1.1).
  TaskDefinition td = Bridge();
  td.execution_role_arn = kExecRole;
  td.task_role_arn = kTaskRole;
  ContainerDefinition& c = td.containers[0];
  c.memory.reset();
  c.memory_reservation = 500;
  c.privileged = true;
  c.credentials_parameter = "msyea/docker-hub";
  c.secrets = {{"ACCESS_TOKEN", "/msyea/gha-pat"}};
  c.log_configuration = LogConfiguration{"awslogs",
                                         {{"awslogs-group", "/ecs/gha"},
                                          {"awslogs-region", "eu-west-2"},
                                          {"awslogs-stream-prefix", "ecs"}},
                                         {}};
  ASSERT_TRUE(ValidateAndComplete(td));
  std::vector<std::string> expected = {
      "com.amazonaws.ecs.capability.logging-driver.awslogs",
      "ecs.capability.execution-role-awslogs",
      "com.amazonaws.ecs.capability.docker-remote-api.1.19",
      "com.amazonaws.ecs.capability.privileged-container",
      "ecs.capability.private-registry-authentication.secretsmanager",
      "ecs.capability.secrets.ssm.environment-variables",
      "com.amazonaws.ecs.capability.docker-remote-api.1.21",
      "com.amazonaws.ecs.capability.task-iam-role",
  };
  EXPECT_EQ(td.requires_attributes, expected);
  EXPECT_EQ(td.compatibilities, (std::vector<std::string>{"EXTERNAL", "EC2"}));
}

TEST(ValidateAndComplete, RequiresAttributesOfAFargateEcrDefinition) {
  // Observed: ECR image, awslogs with awslogs-create-group, ASM secrets, memoryReservation,
  // awsvpc -> this set (order aside).
  TaskDefinition td = Fargate();
  td.execution_role_arn = kExecRole;
  ContainerDefinition& c = td.containers[0];
  c.image = "225934246878.dkr.ecr.us-east-1.amazonaws.com/code-along:latest";
  c.memory_reservation = 256;
  c.secrets = {{"JWT", "arn:aws:secretsmanager:us-east-1:225934246878:secret:prod/api-W3kDvu:JWT"}};
  c.log_configuration = LogConfiguration{"awslogs",
                                         {{"awslogs-create-group", "true"},
                                          {"awslogs-group", "/ecs/api"},
                                          {"awslogs-region", "us-east-1"},
                                          {"awslogs-stream-prefix", "ecs"}},
                                         {}};
  ASSERT_TRUE(ValidateAndComplete(td));
  std::vector<std::string> got = td.requires_attributes;
  std::sort(got.begin(), got.end());
  std::vector<std::string> expected = {
      "com.amazonaws.ecs.capability.docker-remote-api.1.18",
      "com.amazonaws.ecs.capability.docker-remote-api.1.19",
      "com.amazonaws.ecs.capability.docker-remote-api.1.21",
      "com.amazonaws.ecs.capability.docker-remote-api.1.29",
      "com.amazonaws.ecs.capability.ecr-auth",
      "com.amazonaws.ecs.capability.logging-driver.awslogs",
      "ecs.capability.execution-role-awslogs",
      "ecs.capability.execution-role-ecr-pull",
      "ecs.capability.secrets.asm.environment-variables",
      "ecs.capability.task-eni",
  };
  EXPECT_EQ(got, expected);
}

TEST(ValidateAndComplete, MountPointsNameDefinedVolumes) {
  TaskDefinition td = Bridge();
  td.containers[0].mount_points = {{"data", "/data", std::nullopt}};
  ExpectClient(td, "Invalid 'mountPoints' setting for container 'app'. Unknown volume 'data'.");
  Volume v;
  v.name = "data";
  td.volumes.push_back(v);
  EXPECT_TRUE(ValidateAndComplete(td));
}

TEST(ResourcesOf, UsesTaskLevelValuesOrContainerSums) {
  TaskDefinition td = Bridge();
  td.containers[0].cpu = 100;
  td.containers[0].memory = 256;
  td.containers.push_back(Container("b", 512));
  td.containers[1].memory_reservation = 128;
  td.containers[1].cpu = 50;
  TaskResources r = ResourcesOf(td);
  EXPECT_EQ(r.cpu, 150);
  EXPECT_EQ(r.memory, 256 + 128) << "memoryReservation where given, else memory";
  td.cpu = "1024";
  td.memory = "2048";
  r = ResourcesOf(td);
  EXPECT_EQ(r.cpu, 1024);
  EXPECT_EQ(r.memory, 2048);
}

TEST(ResourcesOf, HostPortsPerNetworkMode) {
  TaskDefinition td = Bridge();
  td.containers[0].port_mappings = {
      {80, std::nullopt, "tcp", "", ""}, {53, 5353, "udp", "", ""}, {443, 0, "tcp", "", ""}};
  EXPECT_EQ(ResourcesOf(td).host_ports, (std::vector<std::pair<int, bool>>{{5353, true}}))
      << "bridge: only fixed host ports; 0/absent is ephemeral";
  td.network_mode = "host";
  EXPECT_EQ(ResourcesOf(td).host_ports,
            (std::vector<std::pair<int, bool>>{{80, false}, {5353, true}, {443, false}}));
  td.network_mode = "awsvpc";
  EXPECT_TRUE(ResourcesOf(td).host_ports.empty()) << "awsvpc tasks have their own ENI";
}

}  // namespace
}  // namespace berth::ecs
