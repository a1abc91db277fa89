// The agent's model of its work: a task as ACS hands it over (PayloadMessage.tasks[i],
// reference/acs-api-2.json, ECS-FACTS §3.1) with Container.dockerConfig already unpacked into
// plain fields, the state changes the agent reports back with SubmitTaskStateChange
// (ECS-FACTS §1.6), and the container health it publishes over TCS (ECS-FACTS §3.2). Plain
// values only: acs/ parses into these, engine/ runs them, tmds/ serves parts of them, tcs/
// publishes the health; none of those folders includes another's headers for them.
//
// SECRETS: RoleCredentials holds live temporary credentials. Never log, persist or format them
// (only `credentials_id`, `role_arn` and `expiration` may appear in a log line).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace berth::agent::spec {

// IAMRoleCredentials of ACS.
struct RoleCredentials {
  std::string credentials_id;  // the credentials endpoint serves them at /v2/credentials/<id>
  std::string role_arn;
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string expiration;  // ISO 8601, as ACS sent it (echoed to containers verbatim)
  std::string role_type;   // "TaskApplication" | "TaskExecution"
};

struct PortMapping {
  int container_port = 0;
  int host_port = 0;  // 0: an ephemeral host port (bridge), or the container port (awsvpc/host)
  std::string protocol = "tcp";  // "tcp" | "udp"
};

struct Dependency {
  std::string container_name;
  std::string condition;  // START | COMPLETE | SUCCESS | HEALTHY
};

struct Ulimit {
  std::string name;  // "nofile", "nproc", ... (Docker's names, no RLIMIT_ prefix)
  int64_t soft = 0;
  int64_t hard = 0;
};

struct LogConfig {
  std::string driver;                          // "awslogs", "json-file", "none", ...
  std::map<std::string, std::string> options;  // awslogs: awslogs-group, awslogs-stream, ...
};

struct HealthCheck {
  std::vector<std::string> test;  // ["CMD-SHELL", "..."] | ["CMD", ...] | ["NONE"]
  int64_t interval_ns = 30'000'000'000;
  int64_t timeout_ns = 5'000'000'000;
  int retries = 3;
  int64_t start_period_ns = 0;
};

struct ContainerSpec {
  std::string name;
  std::string image;          // as the task definition names it
  std::string container_arn;  // may be empty
  std::vector<std::string> entry_point;  // empty: the image's Entrypoint
  std::vector<std::string> command;      // empty: the image's Cmd (overrides already applied)
  std::map<std::string, std::string> environment;  // over the image's Env
  int cpu = 0;                      // CPU units (1024 = one core): cgroup shares; 0: default
  int64_t memory_mib = 0;           // hard limit; 0: none
  int64_t memory_reservation_mib = 0;  // soft limit; 0: none
  bool essential = true;
  std::vector<PortMapping> port_mappings;
  // registryAuthentication {type: "asm"}: the secret to read with the execution role.
  std::string asm_credentials_parameter;  // "" : no repositoryCredentials
  std::string asm_region;
  std::vector<Dependency> depends_on;
  int start_timeout_seconds = 0;  // 0: the agent's default
  int stop_timeout_seconds = 0;   // 0: the agent's default (30 s)
  // Unpacked from dockerConfig.config / dockerConfig.hostConfig:
  std::string user;
  std::string working_directory;
  std::string hostname;
  std::map<std::string, std::string> labels;
  std::vector<Ulimit> ulimits;
  bool privileged = false;
  bool readonly_root_filesystem = false;
  bool init_process_enabled = false;
  std::vector<std::string> dns_servers;
  std::vector<std::string> dns_search_domains;
  std::vector<std::pair<std::string, std::string>> extra_hosts;  // (hostname, ip)
  std::optional<LogConfig> log_config;
  std::optional<HealthCheck> health_check;
};

struct TaskSpec {
  std::string arn;          // arn:aws:ecs:<region>:<account>:task/<cluster>/<32 hex>
  std::string cluster_arn;  // taskClusterArn
  std::string family;
  std::string version;         // the task's version as ACS sent it (a decimal string)
  std::string desired_status;  // "RUNNING" | "STOPPED"
  std::string launch_type;     // "EC2" | "EXTERNAL" | "FARGATE"
  std::string network_mode;    // "bridge" (default) | "host" | "awsvpc" | "none"
  std::string group;
  double cpu = 0;          // task-level vCPUs (ACS sends units / 1024); 0: none
  int64_t memory_mib = 0;  // task-level memory; 0: none
  std::vector<ContainerSpec> containers;  // empty when desired_status is STOPPED
  std::optional<RoleCredentials> task_role;       // roleCredentials
  std::optional<RoleCredentials> execution_role;  // executionRoleCredentials

  // The task id: the ARN's last path segment.
  std::string Id() const {
    auto slash = arn.rfind('/');
    return slash == std::string::npos ? arn : arn.substr(slash + 1);
  }
};

// --- What the agent reports (SubmitTaskStateChange, ECS-FACTS §1.6) ---

struct NetworkBinding {
  std::string bind_ip;  // "0.0.0.0" for published ports
  int container_port = 0;
  int host_port = 0;
  std::string protocol = "tcp";
};

struct ContainerStateChange {
  std::string container_name;
  std::string status;        // "PENDING" | "RUNNING" | "STOPPED"
  std::string image_digest;  // sha256:... of the manifest the container runs
  std::string runtime_id;
  std::optional<int> exit_code;
  std::string reason;  // ECS words: "CannotPullContainerError: ..." (<= 1024 chars)
  std::vector<NetworkBinding> network_bindings;
};

struct TaskStateChange {
  std::string cluster;  // cluster ARN
  std::string task_arn;
  std::string status;  // "PENDING" | "RUNNING" | "STOPPED"
  std::string reason;  // stoppedReason when STOPPED (<= 1024 chars)
  std::vector<ContainerStateChange> containers;
  std::optional<TimePoint> pull_started_at;
  std::optional<TimePoint> pull_stopped_at;
  std::optional<TimePoint> execution_stopped_at;
  // awsvpc: the task's own address. berth's extension of the call (member
  // "privateIpv4Address"): in ECS the control plane allocates the ENI; here the agent's
  // network does, and the control plane shows it as the task's ENI attachment.
  std::string private_ipv4;
};

// --- What the agent publishes over TCS (PublishHealthRequest, ECS-FACTS §3.2) ---

struct ContainerHealth {
  std::string container_name;
  std::string health_status;  // "HEALTHY" | "UNHEALTHY" | "UNKNOWN"
  TimePoint status_since;     // when the status began
  // The last line of the output of the probe that set the status ("" when none). Written by
  // the container's own check: never logged.
  std::string status_message;

  bool operator==(const ContainerHealth&) const = default;
};

// A task that is not STOPPED, with only its containers that have a health check.
struct TaskHealth {
  std::string task_arn;
  std::string cluster_arn;
  std::string family;   // taskDefinitionFamily
  std::string version;  // taskDefinitionVersion
  std::vector<ContainerHealth> containers;

  bool operator==(const TaskHealth&) const = default;
};

}  // namespace berth::agent::spec
