// ECS's resources as berth keeps them: clusters, container instances, tasks
// (task definitions are in task_definition.h). Plain data: the service
// (service.h) decides, records.h stores, the route table renders.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "ecs/placement.h"
#include "ecs/task_definition.h"

namespace berth::ecs {

inline constexpr std::string_view kDefaultCluster = "default";

struct Cluster {
  std::string name;
  std::string arn;
  std::string status = "ACTIVE";  // ACTIVE | INACTIVE (deleted; the name may be created again)
  std::vector<Tag> tags;
  std::vector<KeyValue> settings;  // name, value (containerInsights)
  TimePoint created_at{};
};

// A RegisterContainerInstance resource: CPU, MEMORY (INTEGER), PORTS and
// PORTS_UDP (STRINGSET), or any other the agent sends (echoed back).
struct Resource {
  std::string name;
  std::string type = "INTEGER";  // INTEGER | DOUBLE | LONG | STRINGSET
  int64_t integer_value = 0;     // INTEGER and LONG
  double double_value = 0;
  std::vector<std::string> string_set;
};

struct Attribute {
  std::string name;
  std::optional<std::string> value;
};

struct VersionInfo {
  std::string agent_version;
  std::string agent_hash;
  std::string docker_version;
};

struct ContainerInstance {
  std::string id;  // 32 hex
  std::string arn;  // ...:container-instance/<cluster>/<id>
  std::string cluster;
  std::string ec2_instance_id;
  std::string status = "ACTIVE";  // ACTIVE | DRAINING | INACTIVE (deregistered)
  std::string status_reason;
  std::vector<Resource> registered_resources;
  std::vector<Attribute> attributes;  // as registered (echoed exactly) + PutAttributes
  VersionInfo version_info;
  TimePoint registered_at{};
  std::vector<Tag> tags;
  int64_t version = 1;  // grows with every change of the record
  std::string client_token;  // RegisterContainerInstance's clientToken (idempotent retries)
  // Who registered it (InstanceOwner of the caller): only that principal may register it again
  // or hold its ACS session, which carries its tasks' credentials.
  std::string registered_by;
};

struct NetworkBinding {
  std::string bind_ip = "0.0.0.0";
  int container_port = 0;
  int host_port = 0;
  std::string protocol = "tcp";
};

struct Container {
  std::string arn;  // ...:container/<cluster>/<task id>/<uuid>
  std::string name;
  std::string image;
  std::string image_digest;
  std::string runtime_id;
  std::string last_status = "PENDING";  // PENDING | RUNNING | STOPPED
  std::optional<int> exit_code;
  std::string reason;
  std::vector<NetworkBinding> network_bindings;
  std::string health_status;  // HEALTHY | UNHEALTHY | UNKNOWN ("" when no health check)
  bool essential = true;      // as its definition said: the task's health is its essential ones'
  int cpu = 0;
  std::optional<int> memory;
  std::optional<int> memory_reservation;
};

struct ContainerOverride {
  std::string name;
  std::optional<std::vector<std::string>> command;
  std::vector<KeyValue> environment;
  std::optional<int> cpu;
  std::optional<int> memory;
  std::optional<int> memory_reservation;
};

struct TaskOverride {
  std::vector<ContainerOverride> container_overrides;
  std::string cpu;
  std::string memory;
  std::string execution_role_arn;
  std::string task_role_arn;
};

struct Task {
  std::string id;  // 32 hex
  std::string arn;  // ...:task/<cluster>/<id>
  std::string cluster;
  // The instance it runs on: in its own cluster, or (`pool`) one of the platform's Fargate pool
  // (service.h kFargatePoolCluster), which DescribeTasks does not show. Empty: not placed.
  std::string container_instance_id;
  bool pool = false;
  std::string task_definition_arn;
  std::string family;
  int revision = 0;
  std::string launch_type;  // EC2 | EXTERNAL | FARGATE
  std::string platform_version;  // FARGATE only
  std::string last_status = "PROVISIONING";
  std::string desired_status = "RUNNING";
  std::string cpu;     // task-level, as the definition gives (string)
  std::string memory;
  std::string group;
  std::string started_by;
  std::string network_mode;
  std::string private_ipv4;  // awsvpc: the address berth's agent gave the task ("" until known)
  std::string execution_role_arn;  // effective (overrides applied)
  std::string task_role_arn;
  TaskOverride overrides;
  std::vector<Container> containers;
  std::vector<Tag> tags;
  int64_t version = 1;
  TimePoint created_at{};
  std::optional<TimePoint> pull_started_at, pull_stopped_at, started_at, stopping_at, stopped_at,
      execution_stopped_at, connectivity_at;
  std::string stop_code;  // TaskFailedToStart | EssentialContainerExited | UserInitiated | ...
  std::string stopped_reason;
  std::string health_status = "UNKNOWN";
  // What the task holds on its instance while it is not STOPPED.
  int64_t reserved_cpu = 0;
  int64_t reserved_memory = 0;
  std::vector<PortNeed> reserved_ports;
  std::string client_token;
};

// A service's awsvpc networkConfiguration, given to the tasks it starts.
struct AwsvpcConfiguration {
  std::vector<std::string> subnets;
  std::vector<std::string> security_groups;
  std::string assign_public_ip;  // ENABLED | DISABLED ("" : not given)
};

struct DeploymentConfiguration {
  // Of desiredCount: the most tasks (any state) and the fewest RUNNING ones a
  // deployment keeps. REPLICA: 200 / 100 by default; DAEMON: 100 / 0.
  int maximum_percent = 200;
  int minimum_healthy_percent = 100;
  bool circuit_breaker_enable = false;
  bool circuit_breaker_rollback = false;
};

// One rollout of a service: the tasks it starts have startedBy = id. Its
// running and pending counts are derived from those tasks, never stored.
struct Deployment {
  std::string id;                   // "ecs-svc/" + 19 digits
  std::string status = "PRIMARY";   // PRIMARY | ACTIVE | INACTIVE
  std::string task_definition;      // a revision ARN
  int desired_count = 0;
  int failed_tasks = 0;             // tasks that stopped before they ran
  std::string launch_type;
  std::string platform_version;
  std::optional<AwsvpcConfiguration> network_configuration;
  std::string rollout_state = "IN_PROGRESS";  // IN_PROGRESS | COMPLETED | FAILED
  std::string rollout_state_reason;
  TimePoint created_at{};
  TimePoint updated_at{};
};

struct ServiceEvent {
  std::string id;
  TimePoint created_at{};
  std::string message;
};

// An ECS service (the API's Service): keeps desired_count tasks of its
// PRIMARY deployment running. Named EcsService beside ecs::Service, the
// control plane.
struct EcsService {
  std::string name;
  std::string arn;  // ...:service/<cluster>/<name>
  std::string cluster;
  std::string status = "ACTIVE";  // ACTIVE | DRAINING | INACTIVE (the name may be reused)
  std::string scheduling_strategy = "REPLICA";  // REPLICA | DAEMON
  int desired_count = 0;  // DAEMON: the eligible instances, kept by the scheduler
  std::string task_definition;  // the PRIMARY deployment's revision ARN
  std::string launch_type;      // EC2 | EXTERNAL | FARGATE
  std::string platform_version;
  DeploymentConfiguration deployment_configuration;
  std::vector<PlacementConstraint> placement_constraints;
  std::vector<PlacementStrategy> placement_strategy;
  std::optional<AwsvpcConfiguration> network_configuration;
  std::vector<Deployment> deployments;  // the PRIMARY first, then the newest
  std::vector<ServiceEvent> events;     // newest first, at most kMaxServiceEvents
  std::vector<Tag> tags;
  std::string propagate_tags = "NONE";  // NONE | SERVICE | TASK_DEFINITION
  bool enable_ecs_managed_tags = false;
  std::string client_token;
  std::string created_by;
  TimePoint created_at{};
  // The scheduler wrote "has reached a steady state." and nothing changed since.
  bool steady = false;
};

inline constexpr size_t kMaxServiceEvents = 100;

// A task's stop code ECS uses when the user stops it.
inline constexpr std::string_view kUserInitiated = "UserInitiated";

}  // namespace berth::ecs
