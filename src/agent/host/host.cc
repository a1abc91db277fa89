#include "agent/host/host.h"

#include <fmt/format.h>
#include <unistd.h>

#include <charconv>

#include "common/file.h"

namespace berth::agent::host {

Result<Resources> ResourcesOf(int cores, std::string_view meminfo, int64_t reserved_memory_mib) {
  Resources r;
  r.cpu_units = std::max(cores, 1) * 1024;
  constexpr std::string_view kKey = "MemTotal:";
  size_t at = meminfo.find(kKey);
  if (at == std::string_view::npos) return Fail("InvalidHost", "/proc/meminfo has no MemTotal");
  std::string_view rest = meminfo.substr(at + kKey.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  int64_t kib = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kib);
  if (ec != std::errc() || kib <= 0) return Fail("InvalidHost", "/proc/meminfo's MemTotal is not a number");
  r.memory_mib = kib / 1024 - reserved_memory_mib;
  if (r.memory_mib <= 0) {
    return Fail("InvalidHost", fmt::format("reserving {} MiB leaves no memory for tasks ({} MiB)",
                                           reserved_memory_mib, kib / 1024));
  }
  r.reserved_ports = {22, 2375, 2376, 51678, 51679};
  return r;
}

Result<Resources> ThisHost(int64_t reserved_memory_mib) {
  auto meminfo = BERTH_TRY(ReadSmallFile("/proc/meminfo"));
  if (!meminfo) return Fail("InvalidHost", "no /proc/meminfo");
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return ResourcesOf(static_cast<int>(cores > 0 ? cores : 1), *meminfo, reserved_memory_mib);
}

std::vector<std::pair<std::string, std::string>> CapabilityAttributes(
    const CapabilityOptions& o) {
  std::vector<std::pair<std::string, std::string>> a;
  auto add = [&a](std::string name, std::string value = "") {
    a.emplace_back(std::move(name), std::move(value));
  };
  const std::string legacy = "com.amazonaws.ecs.capability.";
  const std::string cap = "ecs.capability.";
  // Docker remote API versions below 1.33, without 1.26, 1.27 and 1.31, as the ECS agent lists
  // them: task definitions require them for the features they use.
  for (int minor = 17; minor <= 32; ++minor) {
    if (minor == 26 || minor == 27 || minor == 31) continue;
    add(fmt::format("{}docker-remote-api.1.{}", legacy, minor));
  }
  add(legacy + "logging-driver.awslogs");  // agent/awslogs/ ships to CloudWatch Logs
  add(legacy + "logging-driver.json-file");
  add(legacy + "logging-driver.none");
  if (o.allow_privileged) add(legacy + "privileged-container");
  add(legacy + "task-iam-role");
  add(legacy + "task-iam-role-network-host");
  add(cap + "execution-role-awslogs");
  add(cap + "private-registry-authentication.secretsmanager");
  add(cap + "container-ordering");
  add(cap + "task-cpu-mem-limit");
  add(cap + "full-sync");
  if (o.health_checks) add(cap + "container-health-check");
  if (!o.external) add(cap + "task-eni");
  if (o.external) {
    add(cap + "external");
    add("ecs.cpu-architecture", o.cpu_architecture);
  }
  if (o.fargate) {
    add(std::string(kFargateAttribute), "true");
    add(std::string(kFargatePlatformAttribute), o.platform_version);
  }
  add("ecs.os-type", "linux");
  add("ecs.os-family", "LINUX");
  return a;
}

}  // namespace berth::agent::host
