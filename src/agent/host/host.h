// What `berth agent` tells ECS about its host when it registers: the resources it offers
// (RegisterContainerInstance.totalResources) and the attributes an ECS agent of the version
// berth reports would register (ECS-FACTS §1.4), so task definitions' requiresAttributes place
// on berth agents exactly as they would on ECS agents.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace berth::agent::host {

// The ECS agent version berth reports (>= 1.19.0: it has private-registry authentication
// through Secrets Manager) and the one it is compatible with.
inline constexpr std::string_view kEcsAgentVersion = "1.87.0";

struct Resources {
  int cpu_units = 0;        // cores x 1024
  int64_t memory_mib = 0;   // MemTotal minus the reserve
  std::vector<int> reserved_ports;      // ECS_RESERVED_PORTS: 22, 2375, 2376, 51678, 51679
  std::vector<int> reserved_udp_ports;  // ECS_RESERVED_PORTS_UDP: none
};

// `cores` CPUs and /proc/meminfo's MemTotal (`meminfo` is the file's text) less
// `reserved_memory_mib` (ECS_RESERVED_MEMORY). Error "InvalidHost" when MemTotal is missing
// or the reserve leaves nothing.
Result<Resources> ResourcesOf(int cores, std::string_view meminfo, int64_t reserved_memory_mib);
// The same for this machine.
Result<Resources> ThisHost(int64_t reserved_memory_mib);

struct CapabilityOptions {
  bool external = false;          // ECS Anywhere: ecs.capability.external, no task-eni
  bool fargate = false;           // the platform's Fargate capacity
  std::string platform_version;   // with fargate: the platform version it runs ("1.4.0")
  bool allow_privileged = false;  // privileged-container
  bool health_checks = false;     // container-health-check
  std::string cpu_architecture = "x86_64";
};

// The attributes (name, value; value "" for a name-only capability) in registration order.
std::vector<std::pair<std::string, std::string>> CapabilityAttributes(
    const CapabilityOptions& options);

// Fargate agents carry these and register into the platform's pool cluster (in the server's
// operator account; ecs/service.h names the same three): RunTask with launchType FARGATE, in any
// account's cluster, places only on the pool's instances that have kFargateAttribute, honouring
// kFargatePlatformAttribute; EC2/EXTERNAL never place there.
inline constexpr std::string_view kFargateAttribute = "berth.fargate";
inline constexpr std::string_view kFargatePlatformAttribute = "berth.fargate.platform-version";
inline constexpr std::string_view kFargatePoolCluster = "berth-fargate";

}  // namespace berth::agent::host
