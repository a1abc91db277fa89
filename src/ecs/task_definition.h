// src/ecs/task_definition.h
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "common/clock.h"
#include "common/error.h"

namespace berth::ecs {

struct KeyValue { std::string name; std::string value; };
struct Tag { std::string key; std::string value; };

struct PortMapping {
  int container_port = 0;
  std::optional<int> host_port;   // absent: bridge -> ephemeral; host/awsvpc -> container_port
  std::string protocol = "tcp";   // tcp | udp
  std::string name;
};

struct LogConfiguration {
  std::string log_driver;                      // awslogs, json-file, ...
  std::map<std::string, std::string> options;
  std::vector<KeyValue> secret_options;        // name, valueFrom
};

struct ContainerDependency { std::string container_name; std::string condition; };  // START|COMPLETE|SUCCESS|HEALTHY

struct HealthCheck {
  std::vector<std::string> command;
  std::optional<int> interval, timeout, retries, start_period;
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
  std::vector<KeyValue> secrets;               // name, valueFrom
  std::string working_directory;
  std::string user;
  std::optional<std::string> credentials_parameter;   // repositoryCredentials.credentialsParameter
  std::optional<LogConfiguration> log_configuration;
  std::vector<ContainerDependency> depends_on;
  std::optional<HealthCheck> health_check;
  std::optional<int> start_timeout, stop_timeout;
  std::map<std::string, std::string> docker_labels;
  bool privileged = false;
  bool readonly_root_filesystem = false;
  // ... add the rest of the ECS ContainerDefinition members you support (mountPoints, volumesFrom,
  // ulimits, links, hostname, dnsServers, extraHosts, interactive, pseudoTerminal, linuxParameters...)
};

struct TaskDefinition {
  std::string family;
  int revision = 0;
  std::string arn;                   // arn:aws:ecs:<region>:<account>:task-definition/<family>:<rev>
  std::string status = "ACTIVE";     // ACTIVE | INACTIVE
  std::string task_role_arn;
  std::string execution_role_arn;
  std::string network_mode;          // as given ("" = not given: bridge semantics on EC2)
  std::vector<std::string> requires_compatibilities;   // as given
  std::vector<std::string> compatibilities;            // computed: launch types it validated against
  std::string cpu;                   // normalized units string ("1024"), "" when absent
  std::string memory;                // normalized MiB string ("2048"), "" when absent
  std::string pid_mode, ipc_mode;
  std::vector<ContainerDefinition> containers;
  std::vector<std::string> requires_attributes;        // computed names (see ECS-FACTS §1.1)
  // volumes, placementConstraints, runtimePlatform, ephemeralStorage ... as you support them
  std::vector<Tag> tags;             // not part of the stored revision's JSON; kept with it
  TimePoint registered_at{};
  std::optional<TimePoint> deregistered_at;
  std::string registered_by;         // caller ARN
};

// The effective network mode ("bridge" when not given).
std::string EffectiveNetworkMode(const TaskDefinition& td);

// Validates a definition as RegisterTaskDefinition does and fills the computed members
// (essential default, compatibilities, requires_attributes, cpu/memory normalization: "1 vCPU" ->
// "1024", "1GB" -> "1024"). Errors: ClientException / InvalidParameterException with ECS's messages.
Status ValidateAndComplete(TaskDefinition& td);

// Resources one task of `td` needs: task-level cpu/memory when set, else the containers' sums
// (memoryReservation where given, else memory), and its fixed host ports (per network mode).
struct TaskResources { int64_t cpu = 0; int64_t memory = 0; std::vector<std::pair<int, bool>> host_ports; };  // (port, udp)
TaskResources ResourcesOf(const TaskDefinition& td);

}  // namespace berth::ecs

