// ECS task definitions: the model RegisterTaskDefinition fills, ECS's registration rules, and
// what one task of a definition needs from a container instance.
//
// Messages are ECS's where a public source quotes them; docs/ecs names the rest. Nothing here
// touches the store or the network: the service layer resolves revisions, ARNs and IAM.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "ecs/placement.h"  // PlacementConstraint

namespace berth::ecs {

struct KeyValue {
  std::string name;
  std::string value;
};
struct Tag {
  std::string key;
  std::string value;
};

struct PortMapping {
  int container_port = 0;
  std::optional<int> host_port;  // absent: bridge -> ephemeral; host/awsvpc -> container_port
  std::string protocol = "tcp";  // tcp | udp
  std::string name;
  std::string app_protocol;  // http | http2 | grpc, "" when not given
};

struct LogConfiguration {
  std::string log_driver;  // awslogs, json-file, ...
  std::map<std::string, std::string> options;
  std::vector<KeyValue> secret_options;  // name, valueFrom
};

struct ContainerDependency {
  std::string container_name;
  std::string condition;
};  // START|COMPLETE|SUCCESS|HEALTHY

struct HealthCheck {
  std::vector<std::string> command;
  std::optional<int> interval, timeout, retries, start_period;
};

struct MountPoint {
  std::string source_volume;
  std::string container_path;
  std::optional<bool> read_only;
};

struct VolumeFrom {
  std::string source_container;
  std::optional<bool> read_only;
};

struct HostEntry {
  std::string hostname;
  std::string ip_address;
};

struct Ulimit {
  std::string name;
  int soft_limit = 0;
  int hard_limit = 0;
};

struct ContainerDefinition {
  std::string name;
  std::string image;
  int cpu = 0;
  std::optional<int> memory;
  std::optional<int> memory_reservation;
  bool essential = true;
  std::vector<PortMapping> port_mappings;
  std::vector<std::string> command;
  std::vector<std::string> entry_point;
  std::vector<KeyValue> environment;
  std::vector<KeyValue> secrets;  // name, valueFrom
  std::string working_directory;
  std::string user;
  std::optional<std::string> credentials_parameter;  // repositoryCredentials.credentialsParameter
  std::optional<LogConfiguration> log_configuration;
  std::vector<ContainerDependency> depends_on;
  std::optional<HealthCheck> health_check;
  std::optional<int> start_timeout, stop_timeout;
  std::map<std::string, std::string> docker_labels;
  bool privileged = false;                // written out only when true
  bool readonly_root_filesystem = false;  // written out only when true
  // Further ECS members.
  std::vector<std::string> links;
  std::vector<MountPoint> mount_points;
  std::vector<VolumeFrom> volumes_from;
  std::string hostname;
  std::optional<bool> disable_networking;
  std::vector<std::string> dns_servers;
  std::vector<std::string> dns_search_domains;
  std::vector<HostEntry> extra_hosts;
  std::vector<std::string> docker_security_options;
  std::optional<bool> interactive;
  std::optional<bool> pseudo_terminal;
  std::vector<Ulimit> ulimits;
  // Members kept verbatim and echoed back but not interpreted beyond what is noted here:
  // linuxParameters (initProcessEnabled is read), environmentFiles, systemControls,
  // resourceRequirements, firelensConfiguration, credentialSpecs, restartPolicy. JSON object
  // text with those members, "" when none was given.
  std::string passthrough_json;
  bool init_process_enabled = false;  // linuxParameters.initProcessEnabled
};

struct Volume {
  std::string name;
  std::optional<std::string> host_source_path;  // host.sourcePath ("" = host {} given)
  bool host_given = false;
  std::string docker_volume_configuration_json;  // verbatim object text, "" when absent
  std::string efs_volume_configuration_json;     // verbatim object text, "" when absent
};

struct TaskDefinition {
  std::string family;
  int revision = 0;
  std::string arn;                // arn:aws:ecs:<region>:<account>:task-definition/<family>:<rev>
  std::string status = "ACTIVE";  // ACTIVE | INACTIVE
  std::string task_role_arn;
  std::string execution_role_arn;
  std::string network_mode;  // as given ("" = not given: bridge semantics on EC2)
  std::vector<std::string> requires_compatibilities;  // as given
  std::vector<std::string> compatibilities;           // computed: launch types it validated against
  std::string cpu;     // normalized units string ("1024"), "" when absent
  std::string memory;  // normalized MiB string ("2048"), "" when absent
  std::string pid_mode, ipc_mode;
  std::vector<ContainerDefinition> containers;
  std::vector<std::string> requires_attributes;  // computed names (see ECS-FACTS §1.1)
  std::vector<Volume> volumes;
  std::vector<PlacementConstraint> placement_constraints;
  // runtimePlatform, ephemeralStorage, proxyConfiguration, inferenceAccelerators: kept verbatim
  // (JSON object text of those members, "" when none) and echoed back.
  std::string passthrough_json;
  bool requires_compatibilities_given = false;  // an empty list given is echoed as []
  std::vector<Tag> tags;  // not part of the stored revision's JSON; kept with it
  TimePoint registered_at{};
  std::optional<TimePoint> deregistered_at;
  std::string registered_by;  // caller ARN
};

// The effective network mode ("bridge" when not given).
std::string EffectiveNetworkMode(const TaskDefinition& td);

// Validates a definition as RegisterTaskDefinition does and fills the computed members
// (essential default, compatibilities, requires_attributes, cpu/memory normalization: "1 vCPU" ->
// "1024", "1GB" -> "1024", host ports of host/awsvpc port mappings). Errors: ClientException /
// InvalidParameterException with ECS's messages. Tags are checked too (ValidateTags).
Status ValidateAndComplete(TaskDefinition& td);

// Task-level cpu as ECS stores it: "1024", "1 vCPU", "0.25 vcpu" -> units as a decimal string.
// Errors: ClientException "Invalid 'cpu' setting for task."
Result<std::string> NormalizeTaskCpu(std::string_view text);
// Task-level memory: "2048", "2GB", "0.5 GB", "512 MiB" -> MiB as a decimal string.
// Errors: ClientException "Invalid 'memory' setting for task."
Result<std::string> NormalizeTaskMemory(std::string_view text);

// True when (cpu units, MiB) is one of Fargate's task sizes (Linux table, ECS-FACTS §1.1).
bool IsFargateSize(int64_t cpu, int64_t memory);

// True for arn:<partition>:iam::<12 digits>:role/<path/name>, the shape ECS accepts before it
// asks IAM whether the role exists.
bool LooksLikeRoleArn(std::string_view arn);

// ECS resource tags: at most 50, keys 1..128 and values 0..256 characters, `aws:` reserved.
// Errors: InvalidParameterException.
Status ValidateTags(const std::vector<Tag>& tags);

// Resources one task of `td` needs: task-level cpu/memory when set, else the containers' sums
// (memoryReservation where given, else memory), and its fixed host ports (per network mode).
struct TaskResources {
  int64_t cpu = 0;
  int64_t memory = 0;
  std::vector<std::pair<int, bool>> host_ports;
};  // (port, udp)
TaskResources ResourcesOf(const TaskDefinition& td);

}  // namespace berth::ecs
