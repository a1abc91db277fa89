#include "ecs/task_definition_codec.h"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <limits>

#include "common/json.h"

namespace berth::ecs {

namespace {

using json::Json;
using Ordered = nlohmann::ordered_json;

std::unexpected<Error> TypeError(const std::string& path, std::string_view what) {
  return Fail("SerializationException", fmt::format("'{}' must be {}.", path, what));
}

// Typed access to one JSON object's members; `path` names the object in error messages
// ("containerDefinitions[1]"). Absent and null members read as "not given".
// Members kept verbatim (parsed as JSON, echoed back) rather than modelled.
constexpr std::array<std::string_view, 7> kContainerVerbatim = {
    "linuxParameters",       "environmentFiles", "systemControls", "resourceRequirements",
    "firelensConfiguration", "credentialSpecs",  "restartPolicy"};
constexpr std::array<std::string_view, 4> kTaskVerbatim = {
    "runtimePlatform", "inferenceAccelerators", "proxyConfiguration", "ephemeralStorage"};

class Reader {
 public:
  Reader(const Json& object, std::string path) : object_(object), path_(std::move(path)) {}

  const Json* Find(std::string_view key) const {
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }
  std::string Path(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  }

  Result<std::optional<std::string>> OptString(std::string_view key) const {
    const Json* v = Find(key);
    if (!v) return std::optional<std::string>();
    if (!v->is_string()) return TypeError(Path(key), "a string");
    return std::optional<std::string>(v->get<std::string>());
  }
  Result<std::string> String(std::string_view key) const {
    return BERTH_TRY(OptString(key)).value_or("");
  }
  // A string, or an integer written as its decimal text (task cpu/memory).
  Result<std::string> StringOrInteger(std::string_view key) const {
    const Json* v = Find(key);
    if (v && v->is_number_integer()) return std::to_string(v->get<int64_t>());
    return String(key);
  }
  Result<std::optional<int>> OptInt(std::string_view key) const {
    const Json* v = Find(key);
    if (!v) return std::optional<int>();
    if (!v->is_number_integer()) return TypeError(Path(key), "an integer");
    int64_t n = v->get<int64_t>();
    if (n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max()) {
      return TypeError(Path(key), "a 32-bit integer");
    }
    return std::optional<int>(static_cast<int>(n));
  }
  Result<std::optional<bool>> OptBool(std::string_view key) const {
    const Json* v = Find(key);
    if (!v) return std::optional<bool>();
    if (!v->is_boolean()) return TypeError(Path(key), "a boolean");
    return std::optional<bool>(v->get<bool>());
  }
  Result<std::vector<std::string>> Strings(std::string_view key) const {
    std::vector<std::string> out;
    const Json* v = Find(key);
    if (!v) return out;
    if (!v->is_array()) return TypeError(Path(key), "a list of strings");
    for (const Json& item : *v) {
      if (!item.is_string()) return TypeError(Path(key), "a list of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  Result<std::map<std::string, std::string>> StringMap(std::string_view key) const {
    std::map<std::string, std::string> out;
    const Json* v = Find(key);
    if (!v) return out;
    if (!v->is_object()) return TypeError(Path(key), "a map of strings");
    for (const auto& [k, item] : v->items()) {
      if (!item.is_string()) return TypeError(Path(key), "a map of strings");
      out[k] = item.get<std::string>();
    }
    return out;
  }
  Result<std::optional<Reader>> Object(std::string_view key) const {
    const Json* v = Find(key);
    if (!v) return std::optional<Reader>();
    if (!v->is_object()) return TypeError(Path(key), "an object");
    return std::optional<Reader>(Reader(*v, Path(key)));
  }
  // Calls `each(Reader)` for every element of the list of objects `key`.
  template <class F>
  Status Objects(std::string_view key, F&& each) const {
    const Json* v = Find(key);
    if (!v) return {};
    if (!v->is_array()) return TypeError(Path(key), "a list");
    for (size_t i = 0; i < v->size(); ++i) {
      const Json& item = (*v)[i];
      std::string path = fmt::format("{}[{}]", Path(key), i);
      if (!item.is_object()) return TypeError(path, "an object");
      BERTH_CHECK(each(Reader(item, path)));
    }
    return {};
  }
  // The listed members that are present, as an object text ("" when none).
  template <class Keys>
  std::string Verbatim(const Keys& keys) const {
    Json out = Json::object();
    for (std::string_view key : keys) {
      if (const Json* v = Find(key)) out[std::string(key)] = *v;
    }
    return out.empty() ? std::string() : json::Dump(out);
  }

 private:
  const Json& object_;
  std::string path_;
};

Result<std::vector<KeyValue>> ReadKeyValues(const Reader& r, std::string_view key,
                                            const char* value_member) {
  std::vector<KeyValue> out;
  BERTH_CHECK(r.Objects(key, [&](const Reader& item) -> Status {
    KeyValue kv;
    kv.name = BERTH_TRY(item.String("name"));
    kv.value = BERTH_TRY(item.String(value_member));
    out.push_back(std::move(kv));
    return {};
  }));
  return out;
}

Result<ContainerDefinition> ReadContainer(const Reader& r) {
  ContainerDefinition c;
  c.name = BERTH_TRY(r.String("name"));
  c.image = BERTH_TRY(r.String("image"));
  c.cpu = BERTH_TRY(r.OptInt("cpu")).value_or(0);
  c.memory = BERTH_TRY(r.OptInt("memory"));
  c.memory_reservation = BERTH_TRY(r.OptInt("memoryReservation"));
  c.essential = BERTH_TRY(r.OptBool("essential")).value_or(true);
  c.links = BERTH_TRY(r.Strings("links"));
  BERTH_CHECK(r.Objects("portMappings", [&](const Reader& item) -> Status {
    PortMapping p;
    p.container_port = BERTH_TRY(item.OptInt("containerPort")).value_or(0);
    p.host_port = BERTH_TRY(item.OptInt("hostPort"));
    p.protocol = BERTH_TRY(item.OptString("protocol")).value_or("tcp");
    p.name = BERTH_TRY(item.String("name"));
    p.app_protocol = BERTH_TRY(item.String("appProtocol"));
    c.port_mappings.push_back(std::move(p));
    return {};
  }));
  c.entry_point = BERTH_TRY(r.Strings("entryPoint"));
  c.command = BERTH_TRY(r.Strings("command"));
  c.environment = BERTH_TRY(ReadKeyValues(r, "environment", "value"));
  BERTH_CHECK(r.Objects("mountPoints", [&](const Reader& item) -> Status {
    MountPoint m;
    m.source_volume = BERTH_TRY(item.String("sourceVolume"));
    m.container_path = BERTH_TRY(item.String("containerPath"));
    m.read_only = BERTH_TRY(item.OptBool("readOnly"));
    c.mount_points.push_back(std::move(m));
    return {};
  }));
  BERTH_CHECK(r.Objects("volumesFrom", [&](const Reader& item) -> Status {
    VolumeFrom v;
    v.source_container = BERTH_TRY(item.String("sourceContainer"));
    v.read_only = BERTH_TRY(item.OptBool("readOnly"));
    c.volumes_from.push_back(std::move(v));
    return {};
  }));
  c.secrets = BERTH_TRY(ReadKeyValues(r, "secrets", "valueFrom"));
  BERTH_CHECK(r.Objects("dependsOn", [&](const Reader& item) -> Status {
    ContainerDependency d;
    d.container_name = BERTH_TRY(item.String("containerName"));
    d.condition = BERTH_TRY(item.String("condition"));
    c.depends_on.push_back(std::move(d));
    return {};
  }));
  c.start_timeout = BERTH_TRY(r.OptInt("startTimeout"));
  c.stop_timeout = BERTH_TRY(r.OptInt("stopTimeout"));
  c.hostname = BERTH_TRY(r.String("hostname"));
  c.user = BERTH_TRY(r.String("user"));
  c.working_directory = BERTH_TRY(r.String("workingDirectory"));
  c.disable_networking = BERTH_TRY(r.OptBool("disableNetworking"));
  c.privileged = BERTH_TRY(r.OptBool("privileged")).value_or(false);
  c.readonly_root_filesystem = BERTH_TRY(r.OptBool("readonlyRootFilesystem")).value_or(false);
  c.dns_servers = BERTH_TRY(r.Strings("dnsServers"));
  c.dns_search_domains = BERTH_TRY(r.Strings("dnsSearchDomains"));
  BERTH_CHECK(r.Objects("extraHosts", [&](const Reader& item) -> Status {
    HostEntry h;
    h.hostname = BERTH_TRY(item.String("hostname"));
    h.ip_address = BERTH_TRY(item.String("ipAddress"));
    c.extra_hosts.push_back(std::move(h));
    return {};
  }));
  c.docker_security_options = BERTH_TRY(r.Strings("dockerSecurityOptions"));
  c.interactive = BERTH_TRY(r.OptBool("interactive"));
  c.pseudo_terminal = BERTH_TRY(r.OptBool("pseudoTerminal"));
  c.docker_labels = BERTH_TRY(r.StringMap("dockerLabels"));
  BERTH_CHECK(r.Objects("ulimits", [&](const Reader& item) -> Status {
    Ulimit u;
    u.name = BERTH_TRY(item.String("name"));
    u.soft_limit = BERTH_TRY(item.OptInt("softLimit")).value_or(0);
    u.hard_limit = BERTH_TRY(item.OptInt("hardLimit")).value_or(0);
    c.ulimits.push_back(std::move(u));
    return {};
  }));
  if (auto creds = BERTH_TRY(r.Object("repositoryCredentials"))) {
    c.credentials_parameter = BERTH_TRY(creds->String("credentialsParameter"));
  }
  if (auto log = BERTH_TRY(r.Object("logConfiguration"))) {
    LogConfiguration l;
    l.log_driver = BERTH_TRY(log->String("logDriver"));
    l.options = BERTH_TRY(log->StringMap("options"));
    l.secret_options = BERTH_TRY(ReadKeyValues(*log, "secretOptions", "valueFrom"));
    c.log_configuration = std::move(l);
  }
  if (auto hc = BERTH_TRY(r.Object("healthCheck"))) {
    HealthCheck h;
    h.command = BERTH_TRY(hc->Strings("command"));
    h.interval = BERTH_TRY(hc->OptInt("interval"));
    h.timeout = BERTH_TRY(hc->OptInt("timeout"));
    h.retries = BERTH_TRY(hc->OptInt("retries"));
    h.start_period = BERTH_TRY(hc->OptInt("startPeriod"));
    c.health_check = std::move(h);
  }
  if (auto linux_parameters = BERTH_TRY(r.Object("linuxParameters"))) {
    c.init_process_enabled =
        BERTH_TRY(linux_parameters->OptBool("initProcessEnabled")).value_or(false);
  }
  c.passthrough_json = r.Verbatim(kContainerVerbatim);
  return c;
}

Result<TaskDefinition> ReadTaskDefinition(const Json& body) {
  Reader r(body, "");
  TaskDefinition td;
  td.family = BERTH_TRY(r.String("family"));
  td.task_role_arn = BERTH_TRY(r.String("taskRoleArn"));
  td.execution_role_arn = BERTH_TRY(r.String("executionRoleArn"));
  td.network_mode = BERTH_TRY(r.String("networkMode"));
  td.requires_compatibilities_given = r.Find("requiresCompatibilities") != nullptr;
  td.requires_compatibilities = BERTH_TRY(r.Strings("requiresCompatibilities"));
  td.cpu = BERTH_TRY(r.StringOrInteger("cpu"));
  td.memory = BERTH_TRY(r.StringOrInteger("memory"));
  td.pid_mode = BERTH_TRY(r.String("pidMode"));
  td.ipc_mode = BERTH_TRY(r.String("ipcMode"));
  BERTH_CHECK(r.Objects("containerDefinitions", [&](const Reader& item) -> Status {
    td.containers.push_back(BERTH_TRY(ReadContainer(item)));
    return {};
  }));
  BERTH_CHECK(r.Objects("volumes", [&](const Reader& item) -> Status {
    Volume v;
    v.name = BERTH_TRY(item.String("name"));
    if (auto host = BERTH_TRY(item.Object("host"))) {
      v.host_given = true;
      v.host_source_path = BERTH_TRY(host->OptString("sourcePath"));
    }
    v.docker_volume_configuration_json =
        item.Verbatim(std::array<std::string_view, 1>{"dockerVolumeConfiguration"});
    v.efs_volume_configuration_json =
        item.Verbatim(std::array<std::string_view, 1>{"efsVolumeConfiguration"});
    td.volumes.push_back(std::move(v));
    return {};
  }));
  BERTH_CHECK(r.Objects("placementConstraints", [&](const Reader& item) -> Status {
    PlacementConstraint p;
    p.type = BERTH_TRY(item.String("type"));
    p.expression = BERTH_TRY(item.String("expression"));
    td.placement_constraints.push_back(std::move(p));
    return {};
  }));
  BERTH_CHECK(r.Objects("tags", [&](const Reader& item) -> Status {
    Tag t;
    t.key = BERTH_TRY(item.String("key"));
    t.value = BERTH_TRY(item.String("value"));
    td.tags.push_back(std::move(t));
    return {};
  }));
  td.passthrough_json = r.Verbatim(kTaskVerbatim);
  return td;
}

// ---- Output -------------------------------------------------------------------------------

Ordered KeyValues(const std::vector<KeyValue>& kvs, const char* value_member) {
  Ordered out = Ordered::array();
  for (const KeyValue& kv : kvs) out.push_back({{"name", kv.name}, {value_member, kv.value}});
  return out;
}

// Copies member `key` of the verbatim object text `verbatim` into `out`, when there.
void PutVerbatim(Ordered& out, const Json& verbatim, const char* key) {
  auto it = verbatim.find(key);
  if (it != verbatim.end()) out[key] = Ordered::parse(it->dump());
}

Json ParseVerbatim(const std::string& text) {
  if (text.empty()) return Json::object();
  Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_object() ? parsed : Json::object();
}

template <class T>
void PutIfSet(Ordered& out, const char* key, const std::optional<T>& v) {
  if (v) out[key] = *v;
}

void PutIfNonEmpty(Ordered& out, const char* key, const std::string& v) {
  if (!v.empty()) out[key] = v;
}

void PutIfNonEmpty(Ordered& out, const char* key, const std::vector<std::string>& v) {
  if (!v.empty()) out[key] = v;
}

Ordered ContainerJson(const ContainerDefinition& c, const std::string& network_mode) {
  const Json verbatim = ParseVerbatim(c.passthrough_json);
  Ordered o = Ordered::object();
  o["name"] = c.name;
  o["image"] = c.image;
  if (c.credentials_parameter) {
    o["repositoryCredentials"] = {{"credentialsParameter", *c.credentials_parameter}};
  }
  o["cpu"] = c.cpu;
  PutIfSet(o, "memory", c.memory);
  PutIfSet(o, "memoryReservation", c.memory_reservation);
  PutIfNonEmpty(o, "links", c.links);
  Ordered ports = Ordered::array();
  for (const PortMapping& p : c.port_mappings) {
    Ordered pm = Ordered::object();
    if (!p.name.empty()) pm["name"] = p.name;
    pm["containerPort"] = p.container_port;
    // ECS echoes the host port it will use: bridge without one shows 0 (ephemeral).
    pm["hostPort"] = p.host_port.value_or(network_mode == "bridge" ? 0 : p.container_port);
    pm["protocol"] = p.protocol;
    if (!p.app_protocol.empty()) pm["appProtocol"] = p.app_protocol;
    ports.push_back(std::move(pm));
  }
  o["portMappings"] = std::move(ports);
  o["essential"] = c.essential;
  PutVerbatim(o, verbatim, "restartPolicy");
  PutIfNonEmpty(o, "entryPoint", c.entry_point);
  PutIfNonEmpty(o, "command", c.command);
  o["environment"] = KeyValues(c.environment, "value");
  PutVerbatim(o, verbatim, "environmentFiles");
  Ordered mounts = Ordered::array();
  for (const MountPoint& m : c.mount_points) {
    Ordered mp = {{"sourceVolume", m.source_volume}, {"containerPath", m.container_path}};
    PutIfSet(mp, "readOnly", m.read_only);
    mounts.push_back(std::move(mp));
  }
  o["mountPoints"] = std::move(mounts);
  Ordered volumes_from = Ordered::array();
  for (const VolumeFrom& v : c.volumes_from) {
    Ordered vf = {{"sourceContainer", v.source_container}};
    PutIfSet(vf, "readOnly", v.read_only);
    volumes_from.push_back(std::move(vf));
  }
  o["volumesFrom"] = std::move(volumes_from);
  PutVerbatim(o, verbatim, "linuxParameters");
  if (!c.secrets.empty()) o["secrets"] = KeyValues(c.secrets, "valueFrom");
  if (!c.depends_on.empty()) {
    Ordered deps = Ordered::array();
    for (const ContainerDependency& d : c.depends_on) {
      deps.push_back({{"containerName", d.container_name}, {"condition", d.condition}});
    }
    o["dependsOn"] = std::move(deps);
  }
  PutIfSet(o, "startTimeout", c.start_timeout);
  PutIfSet(o, "stopTimeout", c.stop_timeout);
  PutIfNonEmpty(o, "hostname", c.hostname);
  PutIfNonEmpty(o, "user", c.user);
  PutIfNonEmpty(o, "workingDirectory", c.working_directory);
  PutIfSet(o, "disableNetworking", c.disable_networking);
  if (c.privileged) o["privileged"] = true;
  if (c.readonly_root_filesystem) o["readonlyRootFilesystem"] = true;
  PutIfNonEmpty(o, "dnsServers", c.dns_servers);
  PutIfNonEmpty(o, "dnsSearchDomains", c.dns_search_domains);
  if (!c.extra_hosts.empty()) {
    Ordered hosts = Ordered::array();
    for (const HostEntry& h : c.extra_hosts) {
      hosts.push_back({{"hostname", h.hostname}, {"ipAddress", h.ip_address}});
    }
    o["extraHosts"] = std::move(hosts);
  }
  PutIfNonEmpty(o, "dockerSecurityOptions", c.docker_security_options);
  PutIfSet(o, "interactive", c.interactive);
  PutIfSet(o, "pseudoTerminal", c.pseudo_terminal);
  if (!c.docker_labels.empty()) o["dockerLabels"] = c.docker_labels;
  if (!c.ulimits.empty()) {
    Ordered ulimits = Ordered::array();
    for (const Ulimit& u : c.ulimits) {
      ulimits.push_back(
          {{"name", u.name}, {"softLimit", u.soft_limit}, {"hardLimit", u.hard_limit}});
    }
    o["ulimits"] = std::move(ulimits);
  }
  if (c.log_configuration) {
    const LogConfiguration& l = *c.log_configuration;
    Ordered log = {{"logDriver", l.log_driver}};
    if (!l.options.empty()) log["options"] = l.options;
    if (!l.secret_options.empty()) log["secretOptions"] = KeyValues(l.secret_options, "valueFrom");
    o["logConfiguration"] = std::move(log);
  }
  if (c.health_check) {
    const HealthCheck& h = *c.health_check;
    // ECS shows the documented defaults (30 s interval, 5 s timeout, 3 retries) when omitted.
    Ordered hc = {{"command", h.command},
                  {"interval", h.interval.value_or(30)},
                  {"timeout", h.timeout.value_or(5)},
                  {"retries", h.retries.value_or(3)}};
    PutIfSet(hc, "startPeriod", h.start_period);
    o["healthCheck"] = std::move(hc);
  }
  for (const char* key :
       {"systemControls", "resourceRequirements", "firelensConfiguration", "credentialSpecs"}) {
    PutVerbatim(o, verbatim, key);
  }
  return o;
}

double EpochSeconds(TimePoint t) { return ToEpochSeconds(t); }

Ordered DescribeObject(const TaskDefinition& td) {
  const Json verbatim = ParseVerbatim(td.passthrough_json);
  const std::string mode = EffectiveNetworkMode(td);
  Ordered o = Ordered::object();
  o["taskDefinitionArn"] = td.arn;
  Ordered containers = Ordered::array();
  for (const ContainerDefinition& c : td.containers) containers.push_back(ContainerJson(c, mode));
  o["containerDefinitions"] = std::move(containers);
  o["family"] = td.family;
  PutIfNonEmpty(o, "taskRoleArn", td.task_role_arn);
  PutIfNonEmpty(o, "executionRoleArn", td.execution_role_arn);
  PutIfNonEmpty(o, "networkMode", td.network_mode);
  o["revision"] = td.revision;
  Ordered volumes = Ordered::array();
  for (const Volume& v : td.volumes) {
    Ordered vo = {{"name", v.name}};
    if (v.host_given) {
      Ordered host = Ordered::object();
      if (v.host_source_path) host["sourcePath"] = *v.host_source_path;
      vo["host"] = std::move(host);
    }
    PutVerbatim(vo, ParseVerbatim(v.docker_volume_configuration_json), "dockerVolumeConfiguration");
    PutVerbatim(vo, ParseVerbatim(v.efs_volume_configuration_json), "efsVolumeConfiguration");
    volumes.push_back(std::move(vo));
  }
  o["volumes"] = std::move(volumes);
  o["status"] = td.status;
  Ordered attributes = Ordered::array();
  for (const std::string& name : td.requires_attributes) attributes.push_back({{"name", name}});
  o["requiresAttributes"] = std::move(attributes);
  Ordered constraints = Ordered::array();
  for (const PlacementConstraint& p : td.placement_constraints) {
    Ordered po = {{"type", p.type}};
    if (!p.expression.empty()) po["expression"] = p.expression;
    constraints.push_back(std::move(po));
  }
  o["placementConstraints"] = std::move(constraints);
  o["compatibilities"] = td.compatibilities;
  PutVerbatim(o, verbatim, "runtimePlatform");
  if (td.requires_compatibilities_given || !td.requires_compatibilities.empty()) {
    o["requiresCompatibilities"] = td.requires_compatibilities;
  }
  PutIfNonEmpty(o, "cpu", td.cpu);
  PutIfNonEmpty(o, "memory", td.memory);
  PutVerbatim(o, verbatim, "inferenceAccelerators");
  PutIfNonEmpty(o, "pidMode", td.pid_mode);
  PutIfNonEmpty(o, "ipcMode", td.ipc_mode);
  PutVerbatim(o, verbatim, "proxyConfiguration");
  o["registeredAt"] = EpochSeconds(td.registered_at);
  if (td.deregistered_at) o["deregisteredAt"] = EpochSeconds(*td.deregistered_at);
  PutIfNonEmpty(o, "registeredBy", td.registered_by);
  PutVerbatim(o, verbatim, "ephemeralStorage");
  return o;
}

std::string DumpOrdered(const Ordered& o) {
  return o.dump(-1, ' ', false, Ordered::error_handler_t::replace);
}

int64_t Nanos(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

TimePoint FromNanos(int64_t ns) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace

Result<TaskDefinition> TaskDefinitionFromRequest(std::string_view json_object_text) {
  Json body = BERTH_TRY(json::ParseObject(json_object_text));
  return ReadTaskDefinition(body);
}

std::string TaskDefinitionToJson(const TaskDefinition& td) {
  return DumpOrdered(DescribeObject(td));
}

std::string EncodeTaskDefinitionRecord(const TaskDefinition& td) {
  Ordered o = DescribeObject(td);
  // Exact values beside the rounded wire forms.
  o["registeredAtNs"] = Nanos(td.registered_at);
  if (td.deregistered_at) o["deregisteredAtNs"] = Nanos(*td.deregistered_at);
  o["requiresCompatibilitiesGiven"] = td.requires_compatibilities_given;
  Ordered tags = Ordered::array();
  for (const Tag& t : td.tags) tags.push_back({{"key", t.key}, {"value", t.value}});
  o["tags"] = std::move(tags);
  // Privileged/readonly false-but-given and the hostPort ECS shows are the only lossy bits of
  // the describe form; both read back to the same behaviour.
  return DumpOrdered(o);
}

Result<TaskDefinition> DecodeTaskDefinitionRecord(std::string_view record) {
  Json body = Json::parse(record.begin(), record.end(), nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return InternalFailure("corrupt task definition record");
  auto td = ReadTaskDefinition(body);
  if (!td) return InternalFailure("corrupt task definition record: " + td.error().message);
  Reader r(body, "");
  td->arn = r.String("taskDefinitionArn").value_or("");
  td->revision = r.OptInt("revision").value_or(std::nullopt).value_or(0);
  td->status = r.String("status").value_or("ACTIVE");
  td->registered_by = r.String("registeredBy").value_or("");
  td->compatibilities = r.Strings("compatibilities").value_or(std::vector<std::string>{});
  td->requires_compatibilities_given =
      r.OptBool("requiresCompatibilitiesGiven").value_or(std::nullopt).value_or(false);
  if (const Json* attrs = r.Find("requiresAttributes"); attrs && attrs->is_array()) {
    for (const Json& a : *attrs) {
      if (a.is_object() && a.contains("name") && a["name"].is_string()) {
        td->requires_attributes.push_back(a["name"].get<std::string>());
      }
    }
  }
  if (const Json* t = r.Find("registeredAtNs"); t && t->is_number_integer()) {
    td->registered_at = FromNanos(t->get<int64_t>());
  }
  if (const Json* t = r.Find("deregisteredAtNs"); t && t->is_number_integer()) {
    td->deregistered_at = FromNanos(t->get<int64_t>());
  }
  return td;
}

Result<std::vector<ContainerDefinition>> ApplyContainerOverrides(
    const TaskDefinition& td, std::string_view task_override_json) {
  std::vector<ContainerDefinition> containers = td.containers;
  if (task_override_json.empty()) return containers;
  Json body = BERTH_TRY(json::ParseObject(task_override_json));
  Reader r(body, "overrides");
  BERTH_CHECK(r.Objects("containerOverrides", [&](const Reader& item) -> Status {
    std::string name = BERTH_TRY(item.String("name"));
    auto it = std::find_if(containers.begin(), containers.end(),
                           [&](const ContainerDefinition& c) { return c.name == name; });
    if (it == containers.end()) {
      return Fail("InvalidParameterException",
                  fmt::format("Override for container named {} is not a container in the "
                              "TaskDefinition.",
                              name));
    }
    if (item.Find("command")) it->command = BERTH_TRY(item.Strings("command"));
    for (KeyValue& kv : BERTH_TRY(ReadKeyValues(item, "environment", "value"))) {
      auto existing = std::find_if(it->environment.begin(), it->environment.end(),
                                   [&](const KeyValue& e) { return e.name == kv.name; });
      if (existing != it->environment.end()) {
        existing->value = std::move(kv.value);
      } else {
        it->environment.push_back(std::move(kv));
      }
    }
    if (auto cpu = BERTH_TRY(item.OptInt("cpu"))) it->cpu = *cpu;
    if (auto memory = BERTH_TRY(item.OptInt("memory"))) it->memory = *memory;
    if (auto reservation = BERTH_TRY(item.OptInt("memoryReservation"))) {
      it->memory_reservation = *reservation;
    }
    return {};
  }));
  return containers;
}

// `td` is in the signature for the task-level facts a later rendering may need (network mode,
// pid/ipc mode); nothing task-level goes into these two objects yet.
DockerConfig RenderDockerConfig(const TaskDefinition& /*td*/, const ContainerDefinition& c,
                                std::string_view task_id) {
  constexpr int64_t kMiB = 1024 * 1024;
  constexpr int64_t kSecondNs = 1000 * 1000 * 1000;
  Ordered config = Ordered::object();
  PutIfNonEmpty(config, "User", c.user);
  PutIfNonEmpty(config, "WorkingDir", c.working_directory);
  PutIfNonEmpty(config, "Hostname", c.hostname);
  if (!c.docker_labels.empty()) config["Labels"] = c.docker_labels;
  if (c.health_check) {
    const HealthCheck& h = *c.health_check;
    Ordered hc = {{"Test", h.command},
                  {"Interval", h.interval.value_or(30) * kSecondNs},
                  {"Timeout", h.timeout.value_or(5) * kSecondNs},
                  {"Retries", h.retries.value_or(3)}};
    if (h.start_period) hc["StartPeriod"] = *h.start_period * kSecondNs;
    config["Healthcheck"] = std::move(hc);
  }
  PutIfSet(config, "OpenStdin", c.interactive);
  PutIfSet(config, "Tty", c.pseudo_terminal);
  PutIfSet(config, "NetworkDisabled", c.disable_networking);

  Ordered host = Ordered::object();
  if (c.log_configuration) {
    std::map<std::string, std::string> options = c.log_configuration->options;
    if (c.log_configuration->log_driver == "awslogs") {
      auto prefix = options.find("awslogs-stream-prefix");
      if (prefix != options.end()) {
        // Docker's awslogs driver knows no prefix option; ECS names the stream itself.
        options["awslogs-stream"] = fmt::format("{}/{}/{}", prefix->second, c.name, task_id);
        options.erase("awslogs-stream-prefix");
      }
    }
    host["LogConfig"] = {{"Type", c.log_configuration->log_driver}, {"Config", options}};
  }
  if (c.memory) host["Memory"] = *c.memory * kMiB;
  if (c.memory_reservation) host["MemoryReservation"] = *c.memory_reservation * kMiB;
  if (c.cpu > 0) host["CpuShares"] = c.cpu;
  if (!c.ulimits.empty()) {
    Ordered ulimits = Ordered::array();
    for (const Ulimit& u : c.ulimits) {
      ulimits.push_back({{"Name", u.name}, {"Soft", u.soft_limit}, {"Hard", u.hard_limit}});
    }
    host["Ulimits"] = std::move(ulimits);
  }
  if (c.privileged) host["Privileged"] = true;
  if (c.readonly_root_filesystem) host["ReadonlyRootfs"] = true;
  PutIfNonEmpty(host, "Dns", c.dns_servers);
  PutIfNonEmpty(host, "DnsSearch", c.dns_search_domains);
  if (!c.extra_hosts.empty()) {
    std::vector<std::string> hosts;
    for (const HostEntry& h : c.extra_hosts) hosts.push_back(h.hostname + ":" + h.ip_address);
    host["ExtraHosts"] = hosts;
  }
  PutIfNonEmpty(host, "SecurityOpt", c.docker_security_options);
  if (c.init_process_enabled) host["Init"] = true;
  return DockerConfig{DumpOrdered(config), DumpOrdered(host)};
}

}  // namespace berth::ecs
