#include "agent/engine/container_config.h"

#include <fmt/format.h>

#include <sstream>

namespace berth::agent::engine {

namespace {

constexpr std::string_view kMetadataPrefix = "http://";

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

std::string RuntimeId(std::string_view task_id, std::string_view container_name) {
  std::string id = fmt::format("{}-{}", task_id, container_name);
  for (char& c : id) {
    if (!IsIdChar(c)) c = '-';
  }
  if (id.size() > 128) id.resize(128);
  return id;
}

std::string RegionOfArn(std::string_view arn) {
  // arn:partition:service:region:...
  size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    pos = arn.find(':', pos);
    if (pos == std::string_view::npos) return "";
    ++pos;
  }
  size_t end = arn.find(':', pos);
  if (end == std::string_view::npos) return "";
  return std::string(arn.substr(pos, end - pos));
}

std::string ContainerHostname(const spec::ContainerSpec& container, std::string_view task_id,
                              std::string_view network_mode) {
  if (!container.hostname.empty()) return container.hostname;
  if (network_mode == "host") return "";
  // Docker's short id is 12 characters; a berth task id's last 12 are its random part (its
  // first are the creation time, shared by tasks started together).
  return std::string(task_id.substr(task_id.size() > 12 ? task_id.size() - 12 : 0));
}

std::string HostsFile(std::string_view hostname, std::string_view ipv4,
                      const std::vector<std::pair<std::string, std::string>>& extra_hosts) {
  std::string out =
      "127.0.0.1\tlocalhost localhost.localdomain\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n";
  if (!hostname.empty() && !ipv4.empty()) out += fmt::format("{}\t{}\n", ipv4, hostname);
  for (const auto& [host, ip] : extra_hosts) out += fmt::format("{}\t{}\n", ip, host);
  return out;
}

std::string ResolvConf(const std::vector<std::string>& dns_servers,
                       const std::vector<std::string>& search_domains,
                       std::string_view host_resolv_conf, bool drop_loopback) {
  std::string out;
  if (!dns_servers.empty() || !search_domains.empty()) {
    for (const auto& server : dns_servers) out += fmt::format("nameserver {}\n", server);
    if (!search_domains.empty()) {
      out += "search";
      for (const auto& domain : search_domains) out += " " + domain;
      out += "\n";
    }
    if (!dns_servers.empty()) return out;
  }
  bool has_nameserver = false;
  std::istringstream lines{std::string(host_resolv_conf)};
  for (std::string line; std::getline(lines, line);) {
    std::string trimmed = Trim(line);
    if (trimmed.starts_with("nameserver")) {
      std::string address = Trim(std::string_view(trimmed).substr(10));
      if (drop_loopback && (address.starts_with("127.") || address == "::1")) continue;
      has_nameserver = true;
    } else if (!search_domains.empty() &&
               (trimmed.starts_with("search") || trimmed.starts_with("domain"))) {
      continue;  // the definition's search domains replace the host's
    }
    out += line + "\n";
  }
  // Docker's fallback when the host only has a local resolver.
  if (!has_nameserver) out += "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
  return out;
}

std::map<std::string, std::string> ContainerEnvironment(const spec::TaskSpec& task,
                                                        const spec::ContainerSpec& container,
                                                        const EndpointFacts& facts) {
  std::map<std::string, std::string> env;
  std::string region = RegionOfArn(task.arn);
  if (!region.empty()) {
    env["AWS_DEFAULT_REGION"] = region;
    env["AWS_REGION"] = region;
  }
  for (const auto& [name, value] : container.environment) env[name] = value;
  bool host = task.network_mode == "host";
  std::string base = fmt::format(
      "{}{}", kMetadataPrefix, host ? facts.metadata_address : facts.metadata_task_address);
  env["ECS_CONTAINER_METADATA_URI_V4"] = fmt::format("{}/v4/{}", base, facts.endpoint_id);
  env["ECS_CONTAINER_METADATA_URI"] = fmt::format("{}/v3/{}", base, facts.endpoint_id);
  if (!facts.task_role_credentials_id.empty()) {
    std::string path = fmt::format("/v2/credentials/{}", facts.task_role_credentials_id);
    if (host) {
      env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = base + path;
    } else {
      env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = path;
    }
  }
  return env;
}

std::map<std::string, std::string> ContainerLabels(const spec::TaskSpec& task,
                                                   const spec::ContainerSpec& container) {
  std::map<std::string, std::string> labels = container.labels;
  labels["com.amazonaws.ecs.cluster"] = task.cluster_arn;
  labels["com.amazonaws.ecs.task-arn"] = task.arn;
  labels["com.amazonaws.ecs.container-name"] = container.name;
  labels["com.amazonaws.ecs.task-definition-family"] = task.family;
  labels["com.amazonaws.ecs.task-definition-version"] = task.version;
  return labels;
}

runtime::ContainerConfig MakeContainerConfig(const ConfigInputs& in) {
  const spec::TaskSpec& task = *in.task;
  const spec::ContainerSpec& c = *in.container;
  runtime::ContainerConfig config;
  config.id = RuntimeId(task.Id(), c.name);
  config.image_rootfs = in.image_rootfs;
  config.image_config_json = in.image_config_json;
  config.entry_point = c.entry_point;
  config.command = c.command;
  config.environment = ContainerEnvironment(task, c, in.endpoint);
  config.user = c.user;
  config.working_directory = c.working_directory;
  config.hostname = ContainerHostname(c, task.Id(), task.network_mode);
  config.memory_limit_bytes = c.memory_mib << 20;
  config.memory_reservation_bytes = c.memory_reservation_mib << 20;
  config.cpu_shares = c.cpu;
  if (in.fargate) {
    config.cpu_limit = task.cpu;
    if (config.memory_limit_bytes == 0) config.memory_limit_bytes = task.memory_mib << 20;
  }
  config.ulimits = c.ulimits;
  config.readonly_rootfs = c.readonly_root_filesystem;
  config.privileged = c.privileged;
  config.init = c.init_process_enabled;
  if (in.network != nullptr) config.netns_path = in.network->netns_path;
  if (!in.hosts_path.empty()) {
    config.mounts.push_back(runtime::Mount{.source = in.hosts_path, .destination = "/etc/hosts"});
  }
  if (!in.resolv_conf_path.empty()) {
    config.mounts.push_back(
        runtime::Mount{.source = in.resolv_conf_path, .destination = "/etc/resolv.conf"});
  }
  config.annotations = ContainerLabels(task, c);
  return config;
}

}  // namespace berth::agent::engine
