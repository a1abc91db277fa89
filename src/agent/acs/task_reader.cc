#include "agent/acs/task_reader.h"

#include <fmt/format.h>

#include <algorithm>

#include "agent/acs/session.h"

namespace berth::agent::acs {

namespace {

using aws::JsonReader;

constexpr int64_t kMiB = 1024 * 1024;

std::unexpected<Error> Unrecognized(std::string message) {
  return Fail("UnrecognizedTaskError", std::move(message));
}

// dockerConfig.config: Docker's container config as ECS's backend renders it.
Status ReadConfig(const JsonReader& config, spec::ContainerSpec& c) {
  c.user = BERTH_TRY(config.StringOr("User"));
  c.working_directory = BERTH_TRY(config.StringOr("WorkingDir"));
  c.hostname = BERTH_TRY(config.StringOr("Hostname"));
  c.labels = BERTH_TRY(config.StringMapOr("Labels"));
  if (auto hc = BERTH_TRY(config.OptionalObject("Healthcheck"))) {
    spec::HealthCheck h;
    h.test = BERTH_TRY(hc->StringsOr("Test"));
    h.interval_ns = BERTH_TRY(hc->OptionalInt("Interval")).value_or(h.interval_ns);
    h.timeout_ns = BERTH_TRY(hc->OptionalInt("Timeout")).value_or(h.timeout_ns);
    h.retries = static_cast<int>(BERTH_TRY(hc->OptionalInt("Retries")).value_or(h.retries));
    h.start_period_ns = BERTH_TRY(hc->OptionalInt("StartPeriod")).value_or(h.start_period_ns);
    c.health_check = std::move(h);
  }
  return {};
}

// dockerConfig.hostConfig: Docker's host config; what it sets wins over the
// container's own fields (the ECS agent merges it last).
Status ReadHostConfig(const JsonReader& host, spec::ContainerSpec& c) {
  if (auto log = BERTH_TRY(host.OptionalObject("LogConfig"))) {
    c.log_config =
        spec::LogConfig{BERTH_TRY(log->StringOr("Type")), BERTH_TRY(log->StringMapOr("Config"))};
  }
  if (int64_t bytes = BERTH_TRY(host.OptionalInt("Memory")).value_or(0); bytes > 0) {
    c.memory_mib = bytes / kMiB;
  }
  if (int64_t bytes = BERTH_TRY(host.OptionalInt("MemoryReservation")).value_or(0); bytes > 0) {
    c.memory_reservation_mib = bytes / kMiB;
  }
  if (int64_t shares = BERTH_TRY(host.OptionalInt("CpuShares")).value_or(0); shares > 0) {
    c.cpu = static_cast<int>(shares);
  }
  for (const JsonReader& u : BERTH_TRY(host.ObjectsOr("Ulimits"))) {
    c.ulimits.push_back(
        {BERTH_TRY(u.String("Name")), BERTH_TRY(u.Int("Soft")), BERTH_TRY(u.Int("Hard"))});
  }
  c.privileged = BERTH_TRY(host.BoolOr("Privileged", c.privileged));
  c.readonly_root_filesystem = BERTH_TRY(host.BoolOr("ReadonlyRootfs", false));
  c.init_process_enabled = BERTH_TRY(host.BoolOr("Init", false));
  c.dns_servers = BERTH_TRY(host.StringsOr("Dns"));
  c.dns_search_domains = BERTH_TRY(host.StringsOr("DnsSearch"));
  for (const std::string& entry : BERTH_TRY(host.StringsOr("ExtraHosts"))) {
    size_t colon = entry.find(':');  // "host:ip"; an IPv6 address has colons of its own
    if (colon == std::string::npos || colon == 0) {
      return Fail("SerializationException",
                  fmt::format("ExtraHosts entry '{}' is not host:ip", entry));
    }
    c.extra_hosts.emplace_back(entry.substr(0, colon), entry.substr(colon + 1));
  }
  return {};
}

// A JSON document carried as a string (dockerConfig.config, overrides); "" is {}.
Result<JsonReader> Embedded(const std::string& text, std::string_view what) {
  auto parsed = JsonReader::Parse(text);
  if (!parsed) return Fail("SerializationException", fmt::format("{} is not a JSON object", what));
  return parsed;
}

Status ReadDockerConfig(const JsonReader& docker, spec::ContainerSpec& c) {
  auto config = BERTH_TRY(Embedded(BERTH_TRY(docker.StringOr("config")), "dockerConfig.config"));
  BERTH_CHECK(ReadConfig(config, c));
  auto host =
      BERTH_TRY(Embedded(BERTH_TRY(docker.StringOr("hostConfig")), "dockerConfig.hostConfig"));
  return ReadHostConfig(host, c);
}

// The container's fields; `c.name` and `c.image` are already set.
Status ReadContainer(const JsonReader& in, spec::ContainerSpec& c) {
  c.container_arn = BERTH_TRY(in.StringOr("containerArn"));
  c.entry_point = BERTH_TRY(in.StringsOr("entryPoint"));
  c.command = BERTH_TRY(in.StringsOr("command"));
  c.environment = BERTH_TRY(in.StringMapOr("environment"));
  c.cpu = static_cast<int>(BERTH_TRY(in.OptionalInt("cpu")).value_or(0));
  c.memory_mib = BERTH_TRY(in.OptionalInt("memory")).value_or(0);
  c.essential = BERTH_TRY(in.BoolOr("essential", true));
  c.privileged = BERTH_TRY(in.BoolOr("privileged", false));
  for (const JsonReader& p : BERTH_TRY(in.ObjectsOr("portMappings"))) {
    spec::PortMapping m;
    m.container_port = static_cast<int>(BERTH_TRY(p.OptionalInt("containerPort")).value_or(0));
    m.host_port = static_cast<int>(BERTH_TRY(p.OptionalInt("hostPort")).value_or(0));
    m.protocol = BERTH_TRY(p.StringOr("protocol", "tcp"));
    c.port_mappings.push_back(std::move(m));
  }
  if (auto auth = BERTH_TRY(in.OptionalObject("registryAuthentication"))) {
    if (BERTH_TRY(auth->StringOr("type")) == "asm") {
      if (auto data = BERTH_TRY(auth->OptionalObject("asmAuthData"))) {
        c.asm_credentials_parameter = BERTH_TRY(data->StringOr("credentialsParameter"));
        c.asm_region = BERTH_TRY(data->StringOr("region"));
      }
    }
  }
  for (const JsonReader& d : BERTH_TRY(in.ObjectsOr("dependsOn"))) {
    c.depends_on.push_back(
        {BERTH_TRY(d.StringOr("containerName")), BERTH_TRY(d.StringOr("condition"))});
  }
  c.start_timeout_seconds = static_cast<int>(BERTH_TRY(in.OptionalInt("startTimeout")).value_or(0));
  c.stop_timeout_seconds = static_cast<int>(BERTH_TRY(in.OptionalInt("stopTimeout")).value_or(0));
  // Container.overrides: {"command": [...]} replaces the command, as the ECS agent applies it.
  auto overrides = BERTH_TRY(Embedded(BERTH_TRY(in.StringOr("overrides")), "overrides"));
  if (auto command = BERTH_TRY(overrides.OptionalStrings("command"))) c.command = *command;
  if (auto docker = BERTH_TRY(in.OptionalObject("dockerConfig"))) {
    BERTH_CHECK(ReadDockerConfig(*docker, c));
  }
  return {};
}

Status ReadTaskFields(const JsonReader& in, spec::TaskSpec& t) {
  t.cluster_arn = BERTH_TRY(in.StringOr("taskClusterArn"));
  t.family = BERTH_TRY(in.StringOr("family"));
  t.version = BERTH_TRY(in.StringOr("version"));
  t.desired_status = BERTH_TRY(in.StringOr("desiredStatus", "RUNNING"));
  t.launch_type = BERTH_TRY(in.StringOr("launchType"));
  t.network_mode = BERTH_TRY(in.StringOr("networkMode"));
  if (t.network_mode.empty()) t.network_mode = "bridge";
  t.group = BERTH_TRY(in.StringOr("group"));
  t.cpu = BERTH_TRY(in.OptionalDouble("cpu")).value_or(0);
  t.memory_mib = BERTH_TRY(in.OptionalInt("memory")).value_or(0);
  if (auto creds = BERTH_TRY(in.OptionalObject("roleCredentials"))) {
    t.task_role = BERTH_TRY(ReadRoleCredentials(*creds, "TaskApplication"));
  }
  if (auto creds = BERTH_TRY(in.OptionalObject("executionRoleCredentials"))) {
    t.execution_role = BERTH_TRY(ReadRoleCredentials(*creds, "TaskExecution"));
  }
  return {};
}

}  // namespace

Result<spec::RoleCredentials> ReadRoleCredentials(const JsonReader& in, std::string role_type) {
  spec::RoleCredentials c;
  c.credentials_id = BERTH_TRY(in.StringOr("credentialsId"));
  c.role_arn = BERTH_TRY(in.StringOr("roleArn"));
  c.access_key_id = BERTH_TRY(in.StringOr("accessKeyId"));
  c.secret_access_key = BERTH_TRY(in.StringOr("secretAccessKey"));
  c.session_token = BERTH_TRY(in.StringOr("sessionToken"));
  c.expiration = BERTH_TRY(in.StringOr("expiration"));
  c.role_type = std::move(role_type);
  return c;
}

Result<spec::TaskSpec> ReadTask(const JsonReader& in) {
  spec::TaskSpec t;
  auto arn = in.StringOr("arn");
  if (!arn) return Unrecognized("the task's arn is not a string");
  t.arn = std::move(*arn);
  if (t.arn.empty()) return Unrecognized("a task has no arn");
  if (auto fields = ReadTaskFields(in, t); !fields) {
    return Unrecognized(fmt::format("task {}: {}", t.arn, fields.error().message));
  }
  auto containers = in.ObjectsOr("containers");
  if (!containers) {
    return Unrecognized(fmt::format("task {}: containers: {}", t.arn, containers.error().message));
  }
  for (size_t i = 0; i < containers->size(); ++i) {
    const JsonReader& c = (*containers)[i];
    spec::ContainerSpec container;
    auto name = c.StringOr("name");
    auto image = c.StringOr("image");
    if (!name || name->empty()) {
      return Unrecognized(fmt::format("task {}: container {} has no name", t.arn, i + 1));
    }
    if (!image || image->empty()) {
      return Unrecognized(fmt::format("task {}: container {} has no image", t.arn, *name));
    }
    container.name = std::move(*name);
    container.image = std::move(*image);
    if (auto read = ReadContainer(c, container); !read) {
      return Unrecognized(
          fmt::format("task {}: container {}: {}", t.arn, container.name, read.error().message));
    }
    t.containers.push_back(std::move(container));
  }
  return t;
}

Result<spec::TaskSpec> ParseTask(std::string_view task_json) {
  auto in = JsonReader::Parse(task_json);
  if (!in || task_json.empty()) return Unrecognized("the task is not a JSON object");
  return ReadTask(*in);
}

}  // namespace berth::agent::acs
