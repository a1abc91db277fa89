#include "ecs/records.h"

#include <fmt/format.h>

#include <chrono>

#include "common/json.h"

namespace berth::ecs {

namespace {

using json::Json;

std::string Scoped(std::string_view account, std::string_view region, std::string_view kind) {
  return fmt::format("ecs/{}/{}/{}/", account, region, kind);
}

int64_t Millis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
TimePoint FromMillis(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

void PutTime(Json& j, const char* key, const std::optional<TimePoint>& t) {
  if (t) j[key] = Millis(*t);
}
std::optional<TimePoint> GetTime(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return FromMillis(it->get<int64_t>());
}

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t Int(const Json& j, const char* key, int64_t fallback = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}
std::optional<int> OptInt(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int>();
}
std::vector<std::string> Strings(const Json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}
const Json& Array(const Json& j, const char* key) {
  static const Json kEmpty = Json::array();
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

Json TagsJson(const std::vector<Tag>& tags) {
  Json out = Json::array();
  for (const auto& t : tags) out.push_back({{"key", t.key}, {"value", t.value}});
  return out;
}
std::vector<Tag> TagsOf(const Json& j) {
  std::vector<Tag> out;
  for (const auto& t : Array(j, "tags")) out.push_back({Str(t, "key"), Str(t, "value")});
  return out;
}
Json PairsJson(const std::vector<KeyValue>& pairs) {
  Json out = Json::array();
  for (const auto& p : pairs) out.push_back({{"name", p.name}, {"value", p.value}});
  return out;
}
std::vector<KeyValue> PairsOf(const Json& j, const char* key) {
  std::vector<KeyValue> out;
  for (const auto& p : Array(j, key)) out.push_back({Str(p, "name"), Str(p, "value")});
  return out;
}

template <class F>
auto Parse(std::string_view record, const char* what, F&& fn) -> decltype(fn(Json())) {
  try {
    Json j = Json::parse(record);
    if (!j.is_object()) return InternalFailure(fmt::format("{} record is not an object", what));
    return fn(j);
  } catch (const std::exception& e) {
    return InternalFailure(fmt::format("{} record does not parse: {}", what, e.what()));
  }
}

Json ResourcesJson(const std::vector<Resource>& resources) {
  Json out = Json::array();
  for (const auto& r : resources) {
    Json j = {{"name", r.name}, {"type", r.type}};
    if (r.type == "STRINGSET") {
      j["stringSetValue"] = r.string_set;
    } else if (r.type == "DOUBLE") {
      j["doubleValue"] = r.double_value;
    } else {
      j["integerValue"] = r.integer_value;
    }
    out.push_back(std::move(j));
  }
  return out;
}
std::vector<Resource> ResourcesOf(const Json& j, const char* key) {
  std::vector<Resource> out;
  for (const auto& r : Array(j, key)) {
    Resource res;
    res.name = Str(r, "name");
    res.type = Str(r, "type");
    res.integer_value = Int(r, "integerValue");
    if (auto it = r.find("doubleValue"); it != r.end() && it->is_number()) {
      res.double_value = it->get<double>();
    }
    res.string_set = Strings(r, "stringSetValue");
    out.push_back(std::move(res));
  }
  return out;
}

Json BindingsJson(const std::vector<NetworkBinding>& bindings) {
  Json out = Json::array();
  for (const auto& b : bindings) {
    out.push_back({{"bindIP", b.bind_ip},
                   {"containerPort", b.container_port},
                   {"hostPort", b.host_port},
                   {"protocol", b.protocol}});
  }
  return out;
}
std::vector<NetworkBinding> BindingsOf(const Json& j) {
  std::vector<NetworkBinding> out;
  for (const auto& b : Array(j, "networkBindings")) {
    out.push_back({Str(b, "bindIP"), static_cast<int>(Int(b, "containerPort")),
                   static_cast<int>(Int(b, "hostPort")), Str(b, "protocol")});
  }
  return out;
}

void PutOptInt(Json& j, const char* key, const std::optional<int>& v) {
  if (v) j[key] = *v;
}

Json OverridesJson(const TaskOverride& o) {
  Json j = Json::object();
  Json containers = Json::array();
  for (const auto& c : o.container_overrides) {
    Json cj = {{"name", c.name}};
    if (c.command) cj["command"] = *c.command;
    if (!c.environment.empty()) cj["environment"] = PairsJson(c.environment);
    PutOptInt(cj, "cpu", c.cpu);
    PutOptInt(cj, "memory", c.memory);
    PutOptInt(cj, "memoryReservation", c.memory_reservation);
    containers.push_back(std::move(cj));
  }
  j["containerOverrides"] = std::move(containers);
  if (!o.cpu.empty()) j["cpu"] = o.cpu;
  if (!o.memory.empty()) j["memory"] = o.memory;
  if (!o.execution_role_arn.empty()) j["executionRoleArn"] = o.execution_role_arn;
  if (!o.task_role_arn.empty()) j["taskRoleArn"] = o.task_role_arn;
  return j;
}
TaskOverride OverridesOf(const Json& j) {
  TaskOverride o;
  for (const auto& cj : Array(j, "containerOverrides")) {
    ContainerOverride c;
    c.name = Str(cj, "name");
    if (cj.contains("command")) c.command = Strings(cj, "command");
    c.environment = PairsOf(cj, "environment");
    c.cpu = OptInt(cj, "cpu");
    c.memory = OptInt(cj, "memory");
    c.memory_reservation = OptInt(cj, "memoryReservation");
    o.container_overrides.push_back(std::move(c));
  }
  o.cpu = Str(j, "cpu");
  o.memory = Str(j, "memory");
  o.execution_role_arn = Str(j, "executionRoleArn");
  o.task_role_arn = Str(j, "taskRoleArn");
  return o;
}

}  // namespace

std::string ScopePrefix(std::string_view account, std::string_view region) {
  return fmt::format("ecs/{}/{}/", account, region);
}
std::string ClusterKey(std::string_view account, std::string_view region, std::string_view cluster) {
  return Scoped(account, region, "c") + std::string(cluster);
}
std::string ClustersPrefix(std::string_view account, std::string_view region) {
  return Scoped(account, region, "c");
}
std::string FamilyKey(std::string_view account, std::string_view region, std::string_view family) {
  return Scoped(account, region, "tdf") + std::string(family);
}
std::string FamiliesPrefix(std::string_view account, std::string_view region) {
  return Scoped(account, region, "tdf");
}
std::string TaskDefinitionKey(std::string_view account, std::string_view region,
                              std::string_view family, int revision) {
  return fmt::format("{}{}/{:010d}", Scoped(account, region, "td"), family, revision);
}
std::string TaskDefinitionsPrefix(std::string_view account, std::string_view region,
                                  std::string_view family) {
  if (family.empty()) return Scoped(account, region, "td");
  return fmt::format("{}{}/", Scoped(account, region, "td"), family);
}
std::string InstanceKey(std::string_view account, std::string_view region, std::string_view cluster,
                        std::string_view id) {
  return fmt::format("{}{}/{}", Scoped(account, region, "i"), cluster, id);
}
std::string InstancesPrefix(std::string_view account, std::string_view region,
                            std::string_view cluster) {
  return fmt::format("{}{}/", Scoped(account, region, "i"), cluster);
}
std::string TaskKey(std::string_view account, std::string_view region, std::string_view cluster,
                    std::string_view id) {
  return fmt::format("{}{}/{}", Scoped(account, region, "t"), cluster, id);
}
std::string TasksPrefix(std::string_view account, std::string_view region, std::string_view cluster) {
  return fmt::format("{}{}/", Scoped(account, region, "t"), cluster);
}
std::string RunTokenKey(std::string_view account, std::string_view region, std::string_view cluster,
                        std::string_view token) {
  return fmt::format("{}{}/{}", Scoped(account, region, "rt"), cluster, token);
}
std::string ServiceKey(std::string_view account, std::string_view region, std::string_view cluster,
                       std::string_view name) {
  return fmt::format("{}{}/{}", Scoped(account, region, "s"), cluster, name);
}
std::string ServicesPrefix(std::string_view account, std::string_view region,
                           std::string_view cluster) {
  if (cluster.empty()) return Scoped(account, region, "s");
  return fmt::format("{}{}/", Scoped(account, region, "s"), cluster);
}

std::string EncodeCluster(const Cluster& c) {
  Json j = {{"clusterName", c.name},         {"clusterArn", c.arn},
            {"status", c.status},            {"tags", TagsJson(c.tags)},
            {"settings", PairsJson(c.settings)}, {"createdAt", Millis(c.created_at)}};
  return json::Dump(j);
}

Result<Cluster> DecodeCluster(std::string_view record) {
  return Parse(record, "cluster", [](const Json& j) -> Result<Cluster> {
    Cluster c;
    c.name = Str(j, "clusterName");
    c.arn = Str(j, "clusterArn");
    c.status = Str(j, "status");
    c.tags = TagsOf(j);
    c.settings = PairsOf(j, "settings");
    c.created_at = FromMillis(Int(j, "createdAt"));
    return c;
  });
}

std::string EncodeInstance(const ContainerInstance& i) {
  Json attributes = Json::array();
  for (const auto& a : i.attributes) {
    Json aj = {{"name", a.name}};
    if (a.value) aj["value"] = *a.value;
    attributes.push_back(std::move(aj));
  }
  Json j = {{"id", i.id},
            {"containerInstanceArn", i.arn},
            {"cluster", i.cluster},
            {"ec2InstanceId", i.ec2_instance_id},
            {"status", i.status},
            {"statusReason", i.status_reason},
            {"registeredResources", ResourcesJson(i.registered_resources)},
            {"attributes", std::move(attributes)},
            {"versionInfo",
             {{"agentVersion", i.version_info.agent_version},
              {"agentHash", i.version_info.agent_hash},
              {"dockerVersion", i.version_info.docker_version}}},
            {"registeredAt", Millis(i.registered_at)},
            {"tags", TagsJson(i.tags)},
            {"version", i.version},
            {"clientToken", i.client_token},
            {"registeredBy", i.registered_by}};
  return json::Dump(j);
}

Result<ContainerInstance> DecodeInstance(std::string_view record) {
  return Parse(record, "container instance", [](const Json& j) -> Result<ContainerInstance> {
    ContainerInstance i;
    i.id = Str(j, "id");
    i.arn = Str(j, "containerInstanceArn");
    i.cluster = Str(j, "cluster");
    i.ec2_instance_id = Str(j, "ec2InstanceId");
    i.status = Str(j, "status");
    i.status_reason = Str(j, "statusReason");
    i.registered_resources = ResourcesOf(j, "registeredResources");
    for (const auto& aj : Array(j, "attributes")) {
      Attribute a{Str(aj, "name"), std::nullopt};
      if (aj.contains("value")) a.value = Str(aj, "value");
      i.attributes.push_back(std::move(a));
    }
    if (auto it = j.find("versionInfo"); it != j.end() && it->is_object()) {
      i.version_info = {Str(*it, "agentVersion"), Str(*it, "agentHash"), Str(*it, "dockerVersion")};
    }
    i.registered_at = FromMillis(Int(j, "registeredAt"));
    i.tags = TagsOf(j);
    i.version = Int(j, "version", 1);
    i.client_token = Str(j, "clientToken");
    i.registered_by = Str(j, "registeredBy");
    return i;
  });
}

std::string EncodeTask(const Task& t) {
  Json containers = Json::array();
  for (const auto& c : t.containers) {
    Json cj = {{"containerArn", c.arn},
               {"name", c.name},
               {"image", c.image},
               {"imageDigest", c.image_digest},
               {"runtimeId", c.runtime_id},
               {"lastStatus", c.last_status},
               {"reason", c.reason},
               {"networkBindings", BindingsJson(c.network_bindings)},
               {"healthStatus", c.health_status},
               {"essential", c.essential},
               {"cpu", c.cpu}};
    PutOptInt(cj, "exitCode", c.exit_code);
    PutOptInt(cj, "memory", c.memory);
    PutOptInt(cj, "memoryReservation", c.memory_reservation);
    containers.push_back(std::move(cj));
  }
  Json ports = Json::array();
  for (const auto& p : t.reserved_ports) ports.push_back({p.port, p.udp});
  Json j = {{"id", t.id},
            {"taskArn", t.arn},
            {"cluster", t.cluster},
            {"containerInstanceId", t.container_instance_id},
            {"pool", t.pool},
            {"taskDefinitionArn", t.task_definition_arn},
            {"family", t.family},
            {"revision", t.revision},
            {"launchType", t.launch_type},
            {"platformVersion", t.platform_version},
            {"lastStatus", t.last_status},
            {"desiredStatus", t.desired_status},
            {"cpu", t.cpu},
            {"memory", t.memory},
            {"group", t.group},
            {"startedBy", t.started_by},
            {"networkMode", t.network_mode},
            {"executionRoleArn", t.execution_role_arn},
            {"taskRoleArn", t.task_role_arn},
            {"overrides", OverridesJson(t.overrides)},
            {"containers", std::move(containers)},
            {"tags", TagsJson(t.tags)},
            {"version", t.version},
            {"createdAt", Millis(t.created_at)},
            {"stopCode", t.stop_code},
            {"stoppedReason", t.stopped_reason},
            {"privateIpv4Address", t.private_ipv4},
            {"healthStatus", t.health_status},
            {"reservedCpu", t.reserved_cpu},
            {"reservedMemory", t.reserved_memory},
            {"reservedPorts", std::move(ports)},
            {"clientToken", t.client_token}};
  PutTime(j, "pullStartedAt", t.pull_started_at);
  PutTime(j, "pullStoppedAt", t.pull_stopped_at);
  PutTime(j, "startedAt", t.started_at);
  PutTime(j, "stoppingAt", t.stopping_at);
  PutTime(j, "stoppedAt", t.stopped_at);
  PutTime(j, "executionStoppedAt", t.execution_stopped_at);
  PutTime(j, "connectivityAt", t.connectivity_at);
  return json::Dump(j);
}

Result<Task> DecodeTask(std::string_view record) {
  return Parse(record, "task", [](const Json& j) -> Result<Task> {
    Task t;
    t.id = Str(j, "id");
    t.arn = Str(j, "taskArn");
    t.cluster = Str(j, "cluster");
    t.container_instance_id = Str(j, "containerInstanceId");
    t.pool = j.value("pool", false);
    t.task_definition_arn = Str(j, "taskDefinitionArn");
    t.family = Str(j, "family");
    t.revision = static_cast<int>(Int(j, "revision"));
    t.launch_type = Str(j, "launchType");
    t.platform_version = Str(j, "platformVersion");
    t.last_status = Str(j, "lastStatus");
    t.desired_status = Str(j, "desiredStatus");
    t.cpu = Str(j, "cpu");
    t.memory = Str(j, "memory");
    t.group = Str(j, "group");
    t.started_by = Str(j, "startedBy");
    t.network_mode = Str(j, "networkMode");
    t.execution_role_arn = Str(j, "executionRoleArn");
    t.task_role_arn = Str(j, "taskRoleArn");
    if (auto it = j.find("overrides"); it != j.end() && it->is_object()) {
      t.overrides = OverridesOf(*it);
    }
    for (const auto& cj : Array(j, "containers")) {
      Container c;
      c.arn = Str(cj, "containerArn");
      c.name = Str(cj, "name");
      c.image = Str(cj, "image");
      c.image_digest = Str(cj, "imageDigest");
      c.runtime_id = Str(cj, "runtimeId");
      c.last_status = Str(cj, "lastStatus");
      c.exit_code = OptInt(cj, "exitCode");
      c.reason = Str(cj, "reason");
      c.network_bindings = BindingsOf(cj);
      c.health_status = Str(cj, "healthStatus");
      c.essential = cj.value("essential", true);
      c.cpu = static_cast<int>(Int(cj, "cpu"));
      c.memory = OptInt(cj, "memory");
      c.memory_reservation = OptInt(cj, "memoryReservation");
      t.containers.push_back(std::move(c));
    }
    t.tags = TagsOf(j);
    t.version = Int(j, "version", 1);
    t.created_at = FromMillis(Int(j, "createdAt"));
    t.pull_started_at = GetTime(j, "pullStartedAt");
    t.pull_stopped_at = GetTime(j, "pullStoppedAt");
    t.started_at = GetTime(j, "startedAt");
    t.stopping_at = GetTime(j, "stoppingAt");
    t.stopped_at = GetTime(j, "stoppedAt");
    t.execution_stopped_at = GetTime(j, "executionStoppedAt");
    t.connectivity_at = GetTime(j, "connectivityAt");
    t.stop_code = Str(j, "stopCode");
    t.stopped_reason = Str(j, "stoppedReason");
    t.private_ipv4 = Str(j, "privateIpv4Address");
    t.health_status = Str(j, "healthStatus");
    t.reserved_cpu = Int(j, "reservedCpu");
    t.reserved_memory = Int(j, "reservedMemory");
    for (const auto& p : Array(j, "reservedPorts")) {
      if (p.is_array() && p.size() == 2 && p[0].is_number_integer() && p[1].is_boolean()) {
        t.reserved_ports.push_back({p[0].get<int>(), p[1].get<bool>()});
      }
    }
    t.client_token = Str(j, "clientToken");
    return t;
  });
}

namespace {

Json AwsvpcJson(const std::optional<AwsvpcConfiguration>& c) {
  if (!c) return nullptr;
  return {{"subnets", c->subnets},
          {"securityGroups", c->security_groups},
          {"assignPublicIp", c->assign_public_ip}};
}
std::optional<AwsvpcConfiguration> AwsvpcOf(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return std::nullopt;
  return AwsvpcConfiguration{Strings(*it, "subnets"), Strings(*it, "securityGroups"),
                             Str(*it, "assignPublicIp")};
}

}  // namespace

std::string EncodeService(const EcsService& s) {
  Json deployments = Json::array();
  for (const auto& d : s.deployments) {
    deployments.push_back({{"id", d.id},
                           {"status", d.status},
                           {"taskDefinition", d.task_definition},
                           {"desiredCount", d.desired_count},
                           {"failedTasks", d.failed_tasks},
                           {"launchType", d.launch_type},
                           {"platformVersion", d.platform_version},
                           {"networkConfiguration", AwsvpcJson(d.network_configuration)},
                           {"rolloutState", d.rollout_state},
                           {"rolloutStateReason", d.rollout_state_reason},
                           {"createdAt", Millis(d.created_at)},
                           {"updatedAt", Millis(d.updated_at)}});
  }
  Json events = Json::array();
  for (const auto& e : s.events) {
    events.push_back({{"id", e.id}, {"createdAt", Millis(e.created_at)}, {"message", e.message}});
  }
  Json constraints = Json::array();
  for (const auto& c : s.placement_constraints) {
    constraints.push_back({{"type", c.type}, {"expression", c.expression}});
  }
  Json strategy = Json::array();
  for (const auto& p : s.placement_strategy) strategy.push_back({{"type", p.type}, {"field", p.field}});
  const DeploymentConfiguration& dc = s.deployment_configuration;
  Json j = {{"serviceName", s.name},
            {"serviceArn", s.arn},
            {"cluster", s.cluster},
            {"status", s.status},
            {"schedulingStrategy", s.scheduling_strategy},
            {"desiredCount", s.desired_count},
            {"taskDefinition", s.task_definition},
            {"launchType", s.launch_type},
            {"platformVersion", s.platform_version},
            {"deploymentConfiguration",
             {{"maximumPercent", dc.maximum_percent},
              {"minimumHealthyPercent", dc.minimum_healthy_percent},
              {"deploymentCircuitBreaker",
               {{"enable", dc.circuit_breaker_enable}, {"rollback", dc.circuit_breaker_rollback}}}}},
            {"placementConstraints", std::move(constraints)},
            {"placementStrategy", std::move(strategy)},
            {"networkConfiguration", AwsvpcJson(s.network_configuration)},
            {"deployments", std::move(deployments)},
            {"events", std::move(events)},
            {"tags", TagsJson(s.tags)},
            {"propagateTags", s.propagate_tags},
            {"enableECSManagedTags", s.enable_ecs_managed_tags},
            {"clientToken", s.client_token},
            {"createdBy", s.created_by},
            {"createdAt", Millis(s.created_at)},
            {"steady", s.steady}};
  return json::Dump(j);
}

Result<EcsService> DecodeService(std::string_view record) {
  return Parse(record, "service", [](const Json& j) -> Result<EcsService> {
    auto flag = [](const Json& o, const char* key) {
      auto it = o.find(key);
      return it != o.end() && it->is_boolean() && it->get<bool>();
    };
    EcsService s;
    s.name = Str(j, "serviceName");
    s.arn = Str(j, "serviceArn");
    s.cluster = Str(j, "cluster");
    s.status = Str(j, "status");
    s.scheduling_strategy = Str(j, "schedulingStrategy");
    s.desired_count = static_cast<int>(Int(j, "desiredCount"));
    s.task_definition = Str(j, "taskDefinition");
    s.launch_type = Str(j, "launchType");
    s.platform_version = Str(j, "platformVersion");
    if (auto it = j.find("deploymentConfiguration"); it != j.end() && it->is_object()) {
      DeploymentConfiguration& dc = s.deployment_configuration;
      dc.maximum_percent = static_cast<int>(Int(*it, "maximumPercent", 200));
      dc.minimum_healthy_percent = static_cast<int>(Int(*it, "minimumHealthyPercent", 100));
      if (auto cb = it->find("deploymentCircuitBreaker"); cb != it->end() && cb->is_object()) {
        dc.circuit_breaker_enable = flag(*cb, "enable");
        dc.circuit_breaker_rollback = flag(*cb, "rollback");
      }
    }
    for (const auto& c : Array(j, "placementConstraints")) {
      s.placement_constraints.push_back({Str(c, "type"), Str(c, "expression")});
    }
    for (const auto& p : Array(j, "placementStrategy")) {
      s.placement_strategy.push_back({Str(p, "type"), Str(p, "field")});
    }
    s.network_configuration = AwsvpcOf(j, "networkConfiguration");
    for (const auto& d : Array(j, "deployments")) {
      Deployment out;
      out.id = Str(d, "id");
      out.status = Str(d, "status");
      out.task_definition = Str(d, "taskDefinition");
      out.desired_count = static_cast<int>(Int(d, "desiredCount"));
      out.failed_tasks = static_cast<int>(Int(d, "failedTasks"));
      out.launch_type = Str(d, "launchType");
      out.platform_version = Str(d, "platformVersion");
      out.network_configuration = AwsvpcOf(d, "networkConfiguration");
      out.rollout_state = Str(d, "rolloutState");
      out.rollout_state_reason = Str(d, "rolloutStateReason");
      out.created_at = FromMillis(Int(d, "createdAt"));
      out.updated_at = FromMillis(Int(d, "updatedAt"));
      s.deployments.push_back(std::move(out));
    }
    for (const auto& e : Array(j, "events")) {
      s.events.push_back({Str(e, "id"), FromMillis(Int(e, "createdAt")), Str(e, "message")});
    }
    s.tags = TagsOf(j);
    s.propagate_tags = Str(j, "propagateTags");
    s.enable_ecs_managed_tags = flag(j, "enableECSManagedTags");
    s.client_token = Str(j, "clientToken");
    s.created_by = Str(j, "createdBy");
    s.created_at = FromMillis(Int(j, "createdAt"));
    s.steady = flag(j, "steady");
    return s;
  });
}

std::string EncodeOverrides(const TaskOverride& overrides) {
  return json::Dump(OverridesJson(overrides));
}

std::string EncodeRunToken(const RunTokenRecord& record) {
  return json::Dump(Json{{"digest", record.digest}, {"tasks", record.task_ids}});
}

Result<RunTokenRecord> DecodeRunToken(std::string_view record) {
  return Parse(record, "run token", [](const Json& j) -> Result<RunTokenRecord> {
    return RunTokenRecord{Str(j, "digest"), Strings(j, "tasks")};
  });
}

}  // namespace berth::ecs
