#include "ecs/task_definition.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "common/strings.h"

namespace berth::ecs {

namespace {

constexpr size_t kMaxContainers = 10;
constexpr size_t kMaxNameLength = 255;
constexpr int kMinContainerMemoryMiB = 6;  // Docker >= 20.10 reserves 6 MiB a container
constexpr int kFargateMaxStopTimeout = 120;
constexpr size_t kMaxTags = 50;
constexpr size_t kMaxPlacementConstraints = 10;

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// ^[A-Za-z0-9_-]{1,255}$: families, container names, volume names.
bool IsEcsName(std::string_view s) {
  return !s.empty() && s.size() <= kMaxNameLength && std::all_of(s.begin(), s.end(), IsNameChar);
}

// Letters, digits, '-', '_', ':', '.', '/', '#' (the documented set) and '@' (digest references,
// which the same documentation shows as valid: repository-url/image@digest).
bool IsImageReference(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return IsNameChar(c) || c == ':' || c == '.' || c == '/' || c == '#' || c == '@';
  });
}

bool Contains(const std::vector<std::string>& values, std::string_view v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

bool OneOf(std::string_view v, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}

std::unexpected<Error> Client(std::string message) {
  return Fail("ClientException", std::move(message));
}

std::unexpected<Error> InvalidEnum(std::string_view member, std::string_view value,
                                   std::string_view allowed) {
  return Fail("InvalidParameterException",
              fmt::format("Invalid value '{}' for {}. Valid values: {}.", value, member, allowed));
}

// Parses "<number>[ ]<unit>" where unit is matched case-insensitively against `units`
// (first = multiplier). Returns the integral result or nullopt.
std::optional<int64_t> ParseQuantity(
    std::string_view text, std::initializer_list<std::pair<std::string_view, double>> units) {
  std::string lower = ToLower(Trim(text));
  std::string_view s = lower;
  double multiplier = 1;
  bool unit_found = false;
  for (const auto& [unit, mult] : units) {
    if (s.size() > unit.size() && s.ends_with(unit)) {
      s.remove_suffix(unit.size());
      multiplier = mult;
      unit_found = true;
      break;
    }
  }
  s = Trim(s);
  if (s.empty()) return std::nullopt;
  if (!unit_found) {
    int64_t whole = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), whole);
    if (ec != std::errc() || p != s.data() + s.size() || whole < 0) return std::nullopt;
    return whole;
  }
  double value = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || p != s.data() + s.size() || !(value >= 0)) return std::nullopt;
  double scaled = value * multiplier;
  if (scaled != std::floor(scaled) || scaled > 1e12) return std::nullopt;
  return static_cast<int64_t>(scaled);
}

bool IsEcrImage(std::string_view image) {
  // <account>.dkr.ecr.<region>.amazonaws.com/<repo>
  size_t slash = image.find('/');
  std::string_view host = image.substr(0, slash);
  return slash != std::string_view::npos && host.find(".dkr.ecr.") != std::string_view::npos &&
         (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"));
}

bool IsSecretsManagerArn(std::string_view value_from) {
  // arn:<partition>:secretsmanager:... ; everything else is an SSM parameter (name or ARN).
  if (!value_from.starts_with("arn:")) return false;
  size_t p = value_from.find(':', 4);
  return p != std::string_view::npos && value_from.substr(p + 1).starts_with("secretsmanager:");
}

struct Attributes {
  std::vector<std::string> names;
  void Add(std::string name) {
    if (!Contains(names, name)) names.push_back(std::move(name));
  }
};

constexpr std::string_view kLegacyPrefix = "com.amazonaws.ecs.capability.";
constexpr std::string_view kPrefix = "ecs.capability.";

std::string DockerApi(std::string_view version) {
  return fmt::format("{}docker-remote-api.{}", kLegacyPrefix, version);
}

// requiresAttributes as ECS computes them. Sources: DescribeTaskDefinition outputs in public
// repositories (see docs/ecs): the awsvpc, task role, privileged, repository credentials,
// secrets, log driver, ECR and memoryReservation rules each appear in several; 1.29 goes with
// awslogs-create-group and 1.28 with the awslogs `mode` option (observed together with them);
// 1.18 for dockerLabels/ulimits and 1.25 for initProcessEnabled are the developer guide's
// "requires version 1.xx of the Docker Remote API"; container-ordering and
// container-health-check are the agent capabilities those features need.
std::vector<std::string> ComputeRequiresAttributes(const TaskDefinition& td) {
  Attributes a;
  const bool has_execution_role = !td.execution_role_arn.empty();
  for (const ContainerDefinition& c : td.containers) {
    if (c.log_configuration) {
      const LogConfiguration& log = *c.log_configuration;
      a.Add(fmt::format("{}logging-driver.{}", kLegacyPrefix, log.log_driver));
      if (log.log_driver == "awslogs" && has_execution_role) {
        a.Add(fmt::format("{}execution-role-awslogs", kPrefix));
      }
      if (!log.options.empty()) a.Add(DockerApi("1.19"));
      if (log.options.contains("mode")) a.Add(DockerApi("1.28"));
      if (log.options.contains("awslogs-create-group")) a.Add(DockerApi("1.29"));
    }
    if (IsEcrImage(c.image)) {
      a.Add(fmt::format("{}ecr-auth", kLegacyPrefix));
      if (has_execution_role) a.Add(fmt::format("{}execution-role-ecr-pull", kPrefix));
    }
    if (c.privileged) a.Add(fmt::format("{}privileged-container", kLegacyPrefix));
    if (c.credentials_parameter) {
      a.Add(fmt::format("{}private-registry-authentication.secretsmanager", kPrefix));
    }
    for (const KeyValue& s : c.secrets) {
      a.Add(fmt::format("{}secrets.{}.environment-variables", kPrefix,
                        IsSecretsManagerArn(s.value) ? "asm" : "ssm"));
    }
    if (c.memory_reservation) a.Add(DockerApi("1.21"));
    if (!c.docker_labels.empty() || !c.ulimits.empty()) a.Add(DockerApi("1.18"));
    if (c.init_process_enabled) a.Add(DockerApi("1.25"));
    if (c.health_check) a.Add(fmt::format("{}container-health-check", kPrefix));
    if (!c.depends_on.empty()) a.Add(fmt::format("{}container-ordering", kPrefix));
  }
  if (!td.task_role_arn.empty()) a.Add(fmt::format("{}task-iam-role", kLegacyPrefix));
  if (EffectiveNetworkMode(td) == "awsvpc") {
    a.Add(DockerApi("1.18"));
    a.Add(fmt::format("{}task-eni", kPrefix));
  }
  return a.names;
}

Status ValidatePortMappings(const ContainerDefinition& c, const std::string& mode) {
  if (mode == "none" && !c.port_mappings.empty()) {
    return Client("When networkMode=none, containers can't have port mappings.");
  }
  for (const PortMapping& p : c.port_mappings) {
    if (p.container_port < 1 || p.container_port > 65535) {
      return Client(fmt::format("Invalid 'containerPort' setting for container '{}'.", c.name));
    }
    if (p.host_port && (*p.host_port < 0 || *p.host_port > 65535)) {
      return Client(fmt::format("Invalid 'hostPort' setting for container '{}'.", c.name));
    }
    if (!OneOf(p.protocol, {"tcp", "udp"})) return InvalidEnum("protocol", p.protocol, "tcp, udp");
    if ((mode == "host" || mode == "awsvpc") && p.host_port && *p.host_port != 0 &&
        *p.host_port != p.container_port) {
      return Client(fmt::format(
          "When networkMode={}, the host ports and container ports in port mappings must match.",
          mode));
    }
  }
  return {};
}

Status ValidateMemory(const ContainerDefinition& c, std::optional<int64_t> task_memory) {
  if (!task_memory && !c.memory && !c.memory_reservation) {
    return Client(fmt::format(
        "Invalid setting for container '{}'. At least one of 'memory' or 'memoryReservation' must "
        "be specified.",
        c.name));
  }
  if (c.memory && *c.memory < kMinContainerMemoryMiB) {
    return Client(fmt::format("Invalid 'memory' setting for container '{}'.", c.name));
  }
  if (c.memory_reservation && *c.memory_reservation < kMinContainerMemoryMiB) {
    return Client(fmt::format("Invalid 'memoryReservation' setting for container '{}'.", c.name));
  }
  if (c.memory && c.memory_reservation && *c.memory < *c.memory_reservation) {
    return Client(fmt::format(
        "The 'memoryReservation' setting for container '{}' is greater than its 'memory' setting.",
        c.name));
  }
  if (task_memory && c.memory && *c.memory > *task_memory) {
    return Client(fmt::format(
        "The 'memory' setting for container '{}' is greater than for the task.", c.name));
  }
  return {};
}

Status ValidateLogConfiguration(const TaskDefinition& td, const ContainerDefinition& c) {
  if (!c.log_configuration) return {};
  const LogConfiguration& log = *c.log_configuration;
  if (!OneOf(log.log_driver, {"json-file", "syslog", "journald", "gelf", "fluentd", "awslogs",
                              "splunk", "awsfirelens"})) {
    return InvalidEnum("logDriver", log.log_driver,
                       "json-file, syslog, journald, gelf, fluentd, awslogs, splunk, awsfirelens");
  }
  if (log.log_driver == "awslogs") {
    std::vector<std::string> missing;
    for (const char* option : {"awslogs-region", "awslogs-group"}) {
      if (!log.options.contains(option)) missing.push_back(option);
    }
    if (!missing.empty()) {
      return Client(
          fmt::format("Log driver awslogs requires options: {}", fmt::join(missing, ", ")));
    }
  }
  if (!log.secret_options.empty() && td.execution_role_arn.empty()) {
    return Client(
        "When you are specifying container secrets, you must also specify a value for "
        "'executionRoleArn'.");
  }
  return {};
}

Status ValidateContainer(const TaskDefinition& td, const ContainerDefinition& c,
                         std::optional<int64_t> task_memory) {
  if (c.name.empty()) return Client("Container.name should not be null or empty.");
  if (!IsEcsName(c.name)) return Client("Container.name contains invalid characters.");
  if (c.image.empty()) return Client("Container.image should not be null or empty.");
  if (!IsImageReference(c.image)) return Client("Container.image contains invalid characters.");
  if (c.cpu < 0) return Client(fmt::format("Invalid 'cpu' setting for container '{}'.", c.name));
  BERTH_CHECK(ValidateMemory(c, task_memory));
  const std::string mode = EffectiveNetworkMode(td);
  BERTH_CHECK(ValidatePortMappings(c, mode));
  if (mode == "awsvpc" && !c.hostname.empty()) {
    return Client("hostname is not supported on container when networkMode=awsvpc.");
  }
  if (mode != "bridge" && !c.links.empty()) {
    return Client(fmt::format("links are not supported on container when networkMode={}.", mode));
  }
  if (c.credentials_parameter) {
    if (c.credentials_parameter->empty()) {
      return Client(
          fmt::format("Invalid 'repositoryCredentials' setting for container '{}'.", c.name));
    }
    if (td.execution_role_arn.empty()) {
      return Client(
          "Private repository authentication requires that the task definition specify a value "
          "for executionRoleArn.");
    }
  }
  for (const KeyValue& s : c.secrets) {
    if (s.name.empty() || s.value.empty()) {
      return Client(fmt::format("Invalid 'secrets' setting for container '{}'.", c.name));
    }
  }
  if (!c.secrets.empty() && td.execution_role_arn.empty()) {
    return Client(
        "When you are specifying container secrets, you must also specify a value for "
        "'executionRoleArn'.");
  }
  BERTH_CHECK(ValidateLogConfiguration(td, c));
  if (c.health_check && c.health_check->command.empty()) {
    return Client(fmt::format("Invalid 'healthCheck' setting for container '{}'.", c.name));
  }
  for (const Ulimit& u : c.ulimits) {
    if (!OneOf(u.name, {"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
                        "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"})) {
      return InvalidEnum("ulimits.name", u.name,
                         "core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, "
                         "rss, rtprio, rttime, sigpending, stack");
    }
  }
  for (const MountPoint& m : c.mount_points) {
    bool known = std::any_of(td.volumes.begin(), td.volumes.end(),
                             [&](const Volume& v) { return v.name == m.source_volume; });
    if (!known) {
      return Client(
          fmt::format("Invalid 'mountPoints' setting for container '{}'. Unknown volume "
                      "'{}'.",
                      c.name, m.source_volume));
    }
  }
  return {};
}

const ContainerDefinition* FindContainer(const TaskDefinition& td, std::string_view name) {
  for (const ContainerDefinition& c : td.containers) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Status ValidateDependencies(const TaskDefinition& td) {
  for (const ContainerDefinition& c : td.containers) {
    for (const ContainerDependency& d : c.depends_on) {
      const ContainerDefinition* target = FindContainer(td, d.container_name);
      if (!target) {
        // Sic: ECS's message has the stray " + ".
        return Client(fmt::format("Cannot depend on container + '{}' because it does not exist",
                                  d.container_name));
      }
      if (!OneOf(d.condition, {"START", "COMPLETE", "SUCCESS", "HEALTHY"})) {
        return InvalidEnum("dependsOn.condition", d.condition, "START, COMPLETE, SUCCESS, HEALTHY");
      }
      if ((d.condition == "SUCCESS" || d.condition == "COMPLETE") && target->essential) {
        return Client(
            "A dependency container with SUCCESS or COMPLETE condition cannot be an essential "
            "container");
      }
    }
    for (const VolumeFrom& v : c.volumes_from) {
      if (!FindContainer(td, v.source_container)) {
        return Client(
            fmt::format("Invalid 'volumesFrom' setting for container '{}'. Unknown "
                        "container '{}'.",
                        c.name, v.source_container));
      }
    }
  }
  return {};
}

// The reason `td` cannot run on Fargate, as ECS words it, or success. Called for every
// definition: a failure is an error only when FARGATE is in requiresCompatibilities, otherwise
// FARGATE is left out of compatibilities.
Status CheckFargate(const TaskDefinition& td) {
  if (EffectiveNetworkMode(td) != "awsvpc") {
    return Client("Fargate only supports network mode \u2018awsvpc\u2019.");
  }
  if (td.cpu.empty()) return Client("Fargate requires that 'cpu' be defined at the task level.");
  if (td.memory.empty()) {
    return Client("Fargate requires that 'memory' be defined at the task level.");
  }
  int64_t cpu = std::stoll(td.cpu), memory = std::stoll(td.memory);
  if (!IsFargateSize(cpu, memory)) {
    return Client(fmt::format(
        "No Fargate configuration exists for given values: {} CPU, {} memory. See the Amazon ECS "
        "documentation for the valid values.",
        td.cpu, td.memory));
  }
  if (!td.ipc_mode.empty())
    return Client("Tasks using the Fargate launch type do not support ipcMode.");
  if (td.pid_mode == "host") {
    return Client("Tasks using the Fargate launch type do not support pidMode 'host'.");
  }
  for (const Volume& v : td.volumes) {
    if ((v.host_source_path && !v.host_source_path->empty()) ||
        !v.docker_volume_configuration_json.empty()) {
      return Client(fmt::format(
          "Tasks using the Fargate launch type do not support the configuration of volume '{}'.",
          v.name));
    }
  }
  for (const ContainerDefinition& c : td.containers) {
    if (c.log_configuration) {
      const std::string& driver = c.log_configuration->log_driver;
      if (!OneOf(driver, {"awslogs", "splunk", "awsfirelens"})) {
        return Client(fmt::format(
            "Tasks using the Fargate launch type do not support log driver '{}'.", driver));
      }
      if (driver == "awslogs" && td.execution_role_arn.empty()) {
        return Client(
            "Fargate requires task definition to have execution role ARN to support log driver "
            "awslogs.");
      }
    }
    if (c.privileged) {
      return Client("Tasks using the Fargate launch type do not support privileged containers.");
    }
    if (c.stop_timeout && *c.stop_timeout > kFargateMaxStopTimeout) {
      return Client(fmt::format(
          "Invalid 'stopTimeout' setting for container '{}'. Fargate allows at most {} seconds.",
          c.name, kFargateMaxStopTimeout));
    }
  }
  return {};
}

Status ValidateTaskLevel(TaskDefinition& td, std::optional<int64_t>* task_cpu,
                         std::optional<int64_t>* task_memory) {
  if (!IsEcsName(td.family)) return Client("Family contains invalid characters.");
  if (td.containers.empty()) return Client("Container list cannot be empty.");
  if (td.containers.size() > kMaxContainers) return Client("Too many containers.");
  if (!td.network_mode.empty() && !OneOf(td.network_mode, {"bridge", "host", "awsvpc", "none"})) {
    return InvalidEnum("networkMode", td.network_mode, "bridge, host, awsvpc, none");
  }
  for (const std::string& c : td.requires_compatibilities) {
    if (!OneOf(c, {"EC2", "FARGATE", "EXTERNAL"})) {
      return InvalidEnum("requiresCompatibilities", c, "EC2, FARGATE, EXTERNAL");
    }
  }
  if (!td.pid_mode.empty() && !OneOf(td.pid_mode, {"host", "task"})) {
    return InvalidEnum("pidMode", td.pid_mode, "host, task");
  }
  if (!td.ipc_mode.empty() && !OneOf(td.ipc_mode, {"host", "task", "none"})) {
    return InvalidEnum("ipcMode", td.ipc_mode, "host, task, none");
  }
  for (const std::string* role : {&td.task_role_arn, &td.execution_role_arn}) {
    if (!role->empty() && !LooksLikeRoleArn(*role)) return Client("Role is not valid");
  }
  if (!td.cpu.empty()) {
    td.cpu = BERTH_TRY(NormalizeTaskCpu(td.cpu));
    *task_cpu = std::stoll(td.cpu);
  }
  if (!td.memory.empty()) {
    td.memory = BERTH_TRY(NormalizeTaskMemory(td.memory));
    *task_memory = std::stoll(td.memory);
  }
  if (td.placement_constraints.size() > kMaxPlacementConstraints) {
    return Client("Too many placement constraints.");
  }
  for (const PlacementConstraint& p : td.placement_constraints) {
    if (p.type != "memberOf") return InvalidEnum("placementConstraints.type", p.type, "memberOf");
  }
  std::set<std::string_view> volume_names;
  for (const Volume& v : td.volumes) {
    if (!IsEcsName(v.name)) return Client("Volume.name contains invalid characters.");
    if (!volume_names.insert(v.name).second) {
      return Client("Volume names must be unique within a Task Definition.");
    }
  }
  return {};
}

}  // namespace

std::string EffectiveNetworkMode(const TaskDefinition& td) {
  return td.network_mode.empty() ? "bridge" : td.network_mode;
}

Result<std::string> NormalizeTaskCpu(std::string_view text) {
  auto units = ParseQuantity(text, {{"vcpu", 1024.0}});
  if (!units || *units == 0) return Client("Invalid 'cpu' setting for task.");
  return std::to_string(*units);
}

Result<std::string> NormalizeTaskMemory(std::string_view text) {
  auto mib = ParseQuantity(text, {{"gib", 1024.0}, {"gb", 1024.0}, {"mib", 1.0}, {"mb", 1.0}});
  if (!mib || *mib == 0) return Client("Invalid 'memory' setting for task.");
  return std::to_string(*mib);
}

bool IsFargateSize(int64_t cpu, int64_t memory) {
  auto in = [&](int64_t lo, int64_t hi, int64_t step) {
    return memory >= lo && memory <= hi && (memory - lo) % step == 0;
  };
  switch (cpu) {
    case 256:
      return memory == 512 || memory == 1024 || memory == 2048;
    case 512:
      return in(1024, 4096, 1024);
    case 1024:
      return in(2048, 8192, 1024);
    case 2048:
      return in(4096, 16384, 1024);
    case 4096:
      return in(8192, 30720, 1024);
    case 8192:
      return in(16384, 61440, 4096);
    case 16384:
      return in(32768, 122880, 8192);
    default:
      return false;
  }
}

bool LooksLikeRoleArn(std::string_view arn) {
  // arn:<partition>:iam::<account>:role/<name>
  if (!arn.starts_with("arn:")) return false;
  size_t partition_end = arn.find(':', 4);
  if (partition_end == std::string_view::npos || partition_end == 4) return false;
  std::string_view rest = arn.substr(partition_end + 1);
  if (!rest.starts_with("iam::")) return false;
  rest.remove_prefix(5);
  size_t account_end = rest.find(':');
  if (account_end != 12) return false;
  std::string_view account = rest.substr(0, 12);
  if (!std::all_of(account.begin(), account.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  std::string_view resource = rest.substr(13);
  if (!resource.starts_with("role/")) return false;
  std::string_view name = resource.substr(resource.rfind('/') + 1);
  return !name.empty() && name.size() <= 64;
}

Status ValidateTags(const std::vector<Tag>& tags) {
  if (tags.size() > kMaxTags) {
    return Fail("InvalidParameterException",
                fmt::format("A resource can have at most {} tags.", kMaxTags));
  }
  std::set<std::string_view> keys;
  for (const Tag& t : tags) {
    if (t.key.empty() || t.key.size() > 128) {
      return Fail("InvalidParameterException", "Tag keys must be between 1 and 128 characters.");
    }
    if (t.value.size() > 256) {
      return Fail("InvalidParameterException", "Tag values must be at most 256 characters.");
    }
    if (ToLower(t.key).starts_with("aws:")) {
      return Fail("InvalidParameterException",
                  "Tag keys beginning with 'aws:' are reserved for AWS use.");
    }
    if (!keys.insert(t.key).second) {
      return Fail("InvalidParameterException", fmt::format("Duplicate tag key '{}'.", t.key));
    }
  }
  return {};
}

Status ValidateAndComplete(TaskDefinition& td) {
  std::optional<int64_t> task_cpu, task_memory;
  BERTH_CHECK(ValidateTaskLevel(td, &task_cpu, &task_memory));
  std::set<std::string_view> names;
  int64_t cpu_sum = 0, reservation_sum = 0;
  for (const ContainerDefinition& c : td.containers) {
    BERTH_CHECK(ValidateContainer(td, c, task_memory));
    if (!names.insert(c.name).second) {
      return Client("Container names must be unique within a Task Definition.");
    }
    cpu_sum += c.cpu;
    reservation_sum += c.memory_reservation.value_or(0);
  }
  if (std::none_of(td.containers.begin(), td.containers.end(),
                   [](const ContainerDefinition& c) { return c.essential; })) {
    return Client("Task definition doesn't have any essential container.");
  }
  BERTH_CHECK(ValidateDependencies(td));
  if (task_cpu && cpu_sum > *task_cpu) {
    return Client(
        "The sum of all container 'cpu' values cannot be greater than the value of the "
        "task 'cpu'.");
  }
  if (task_memory && reservation_sum > *task_memory) {
    return Client(
        "The sum of all container 'memoryReservation' values cannot be greater than the "
        "value of the task 'memory'.");
  }
  Status fargate = CheckFargate(td);
  if (!fargate && Contains(td.requires_compatibilities, "FARGATE")) return fargate;
  const std::string mode = EffectiveNetworkMode(td);
  if (mode == "awsvpc" && Contains(td.requires_compatibilities, "EXTERNAL")) {
    return Client("The EXTERNAL launch type does not support network mode 'awsvpc'.");
  }
  BERTH_CHECK(ValidateTags(td.tags));

  // Compatibilities in the order ECS lists them (["EXTERNAL","EC2"], ["EC2","FARGATE"]).
  td.compatibilities.clear();
  if (mode != "awsvpc") td.compatibilities.push_back("EXTERNAL");
  td.compatibilities.push_back("EC2");
  if (fargate) td.compatibilities.push_back("FARGATE");

  for (ContainerDefinition& c : td.containers) {
    for (PortMapping& p : c.port_mappings) {
      if ((mode == "host" || mode == "awsvpc") && (!p.host_port || *p.host_port == 0)) {
        p.host_port = p.container_port;
      }
    }
  }
  td.requires_attributes = ComputeRequiresAttributes(td);
  return {};
}

TaskResources ResourcesOf(const TaskDefinition& td) {
  TaskResources r;
  int64_t cpu_sum = 0, memory_sum = 0;
  for (const ContainerDefinition& c : td.containers) {
    cpu_sum += c.cpu;
    memory_sum += c.memory_reservation ? *c.memory_reservation : c.memory.value_or(0);
  }
  r.cpu = td.cpu.empty() ? cpu_sum : std::stoll(td.cpu);
  r.memory = td.memory.empty() ? memory_sum : std::stoll(td.memory);
  // bridge: only explicit host ports are fixed (0/absent is ephemeral); host: the container port
  // is the host port; awsvpc and none use no port of the instance (awsvpc tasks get an ENI).
  const std::string mode = EffectiveNetworkMode(td);
  for (const ContainerDefinition& c : td.containers) {
    for (const PortMapping& p : c.port_mappings) {
      int port = 0;
      if (mode == "bridge") port = p.host_port.value_or(0);
      if (mode == "host") port = p.host_port && *p.host_port ? *p.host_port : p.container_port;
      if (port > 0) r.host_ports.emplace_back(port, p.protocol == "udp");
    }
  }
  return r;
}

}  // namespace berth::ecs
