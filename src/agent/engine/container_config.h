// What a container of a task is given when it starts: its runtime id, hostname, /etc/hosts,
// /etc/resolv.conf, the environment ECS gives containers (ECS-FACTS §3.4, §3.5) and the
// runtime::ContainerConfig made of all that. Pure functions: the engine writes the files.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/network/network.h"
#include "agent/runtime/runtime.h"
#include "agent/spec/task_spec.h"

namespace berth::agent::engine {

// "<task id>-<container name>" with every character outside [A-Za-z0-9_.-] replaced by '-',
// at most 128 characters: unique on the host, as the runtime requires.
std::string RuntimeId(std::string_view task_id, std::string_view container_name);

// The region of a task ARN ("arn:aws:ecs:<region>:..."); "" when it has none.
std::string RegionOfArn(std::string_view arn);

// The container's hostname: its own when the definition sets one; on the host's network ""
// (the host's); otherwise the task id's last 12 characters (Docker's short-id form; the
// random part of a berth task id).
std::string ContainerHostname(const spec::ContainerSpec& container, std::string_view task_id,
                              std::string_view network_mode);

// /etc/hosts: localhost (IPv4 and IPv6), `hostname` at `ipv4` (when both are set), then
// `extra_hosts` in order.
std::string HostsFile(std::string_view hostname, std::string_view ipv4,
                      const std::vector<std::pair<std::string, std::string>>& extra_hosts);

// /etc/resolv.conf: `dns_servers` and `search_domains` when any is given; otherwise the host's
// file (`host_resolv_conf`), without its 127.x nameservers when `drop_loopback` (a task's own
// namespace cannot reach the host's loopback resolver), and with Docker's fallback public
// nameservers when none is left.
std::string ResolvConf(const std::vector<std::string>& dns_servers,
                       const std::vector<std::string>& search_domains,
                       std::string_view host_resolv_conf, bool drop_loopback);

// Where a container finds the agent's endpoint and its identity.
struct EndpointFacts {
  std::string metadata_address;       // "127.0.0.1:<port>": host network
  std::string metadata_task_address;  // "169.254.170.2": everyone else
  std::string endpoint_id;            // the container's /v4/<id>
  std::string task_role_credentials_id;  // "" when the task has no task role
};

// The container's environment: its definition's, plus ECS_CONTAINER_METADATA_URI_V4 and
// ECS_CONTAINER_METADATA_URI, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (or, on the host's
// network, AWS_CONTAINER_CREDENTIALS_FULL_URI) with a task role, and AWS_DEFAULT_REGION and
// AWS_REGION from the task ARN unless the definition sets them.
std::map<std::string, std::string> ContainerEnvironment(const spec::TaskSpec& task,
                                                        const spec::ContainerSpec& container,
                                                        const EndpointFacts& facts);

// The labels ECS puts on a container (com.amazonaws.ecs.cluster, .task-arn, .container-name,
// .task-definition-family, .task-definition-version) over the definition's dockerLabels.
std::map<std::string, std::string> ContainerLabels(const spec::TaskSpec& task,
                                                   const spec::ContainerSpec& container);

struct ConfigInputs {
  const spec::TaskSpec* task = nullptr;
  const spec::ContainerSpec* container = nullptr;
  const network::TaskNetwork* network = nullptr;
  std::string image_rootfs;
  std::string image_config_json;
  std::string hosts_path;        // the task's files to bind-mount ("": none)
  std::string resolv_conf_path;
  EndpointFacts endpoint;
  bool fargate = false;  // task cpu/memory as limits
};

// The runtime's config of one container. Memory MiB become bytes, cpu units CPU shares; on
// Fargate the task's cpu is the CFS limit and its memory the limit of a container that sets
// none.
runtime::ContainerConfig MakeContainerConfig(const ConfigInputs& in);

}  // namespace berth::agent::engine
