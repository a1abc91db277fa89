#include "agent/engine/task_record.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "agent/engine/container_config.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"

namespace berth::agent::engine {

namespace {

using json::Json;

Json TimeJson(const std::optional<TimePoint>& t) {
  if (!t) return nullptr;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t->time_since_epoch()).count();
}

std::optional<TimePoint> TimeFrom(const Json& j) {
  if (!j.is_number_integer()) return std::nullopt;
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::nanoseconds(j.get<int64_t>())));
}

Json BindingsJson(const std::vector<spec::NetworkBinding>& bindings) {
  Json out = Json::array();
  for (const auto& b : bindings) {
    out.push_back({{"bindIP", b.bind_ip},
                   {"containerPort", b.container_port},
                   {"hostPort", b.host_port},
                   {"protocol", b.protocol}});
  }
  return out;
}

std::vector<spec::NetworkBinding> BindingsFrom(const Json& j) {
  std::vector<spec::NetworkBinding> out;
  if (!j.is_array()) return out;
  for (const auto& b : j) {
    out.push_back({b.value("bindIP", ""), b.value("containerPort", 0), b.value("hostPort", 0),
                   b.value("protocol", "tcp")});
  }
  return out;
}

Json SpecJson(const spec::ContainerSpec& c) {
  Json ports = Json::array();
  for (const auto& p : c.port_mappings) {
    ports.push_back({{"containerPort", p.container_port},
                     {"hostPort", p.host_port},
                     {"protocol", p.protocol}});
  }
  Json deps = Json::array();
  for (const auto& d : c.depends_on) {
    deps.push_back({{"containerName", d.container_name}, {"condition", d.condition}});
  }
  Json ulimits = Json::array();
  for (const auto& u : c.ulimits) {
    ulimits.push_back({{"name", u.name}, {"soft", u.soft}, {"hard", u.hard}});
  }
  Json extra = Json::array();
  for (const auto& [host, ip] : c.extra_hosts) extra.push_back({host, ip});
  Json j = {{"name", c.name},
            {"image", c.image},
            {"containerArn", c.container_arn},
            {"entryPoint", c.entry_point},
            {"command", c.command},
            {"environment", c.environment},
            {"cpu", c.cpu},
            {"memory", c.memory_mib},
            {"memoryReservation", c.memory_reservation_mib},
            {"essential", c.essential},
            {"portMappings", ports},
            {"asmCredentialsParameter", c.asm_credentials_parameter},
            {"asmRegion", c.asm_region},
            {"dependsOn", deps},
            {"startTimeout", c.start_timeout_seconds},
            {"stopTimeout", c.stop_timeout_seconds},
            {"user", c.user},
            {"workingDirectory", c.working_directory},
            {"hostname", c.hostname},
            {"labels", c.labels},
            {"ulimits", ulimits},
            {"privileged", c.privileged},
            {"readonlyRootFilesystem", c.readonly_root_filesystem},
            {"initProcessEnabled", c.init_process_enabled},
            {"dnsServers", c.dns_servers},
            {"dnsSearchDomains", c.dns_search_domains},
            {"extraHosts", extra}};
  if (c.log_config) {
    j["logConfiguration"] = {{"logDriver", c.log_config->driver},
                             {"options", c.log_config->options}};
  }
  if (c.health_check) {
    j["healthCheck"] = {{"command", c.health_check->test},
                        {"interval", c.health_check->interval_ns},
                        {"timeout", c.health_check->timeout_ns},
                        {"retries", c.health_check->retries},
                        {"startPeriod", c.health_check->start_period_ns}};
  }
  return j;
}

template <class T>
T Get(const Json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->get<T>();
}

spec::ContainerSpec SpecFrom(const Json& j) {
  spec::ContainerSpec c;
  c.name = Get<std::string>(j, "name", "");
  c.image = Get<std::string>(j, "image", "");
  c.container_arn = Get<std::string>(j, "containerArn", "");
  c.entry_point = Get<std::vector<std::string>>(j, "entryPoint", {});
  c.command = Get<std::vector<std::string>>(j, "command", {});
  c.environment = Get<std::map<std::string, std::string>>(j, "environment", {});
  c.cpu = Get<int>(j, "cpu", 0);
  c.memory_mib = Get<int64_t>(j, "memory", 0);
  c.memory_reservation_mib = Get<int64_t>(j, "memoryReservation", 0);
  c.essential = Get<bool>(j, "essential", true);
  for (const auto& p : j.value("portMappings", Json::array())) {
    c.port_mappings.push_back(
        {p.value("containerPort", 0), p.value("hostPort", 0), p.value("protocol", "tcp")});
  }
  c.asm_credentials_parameter = Get<std::string>(j, "asmCredentialsParameter", "");
  c.asm_region = Get<std::string>(j, "asmRegion", "");
  for (const auto& d : j.value("dependsOn", Json::array())) {
    c.depends_on.push_back({d.value("containerName", ""), d.value("condition", "")});
  }
  c.start_timeout_seconds = Get<int>(j, "startTimeout", 0);
  c.stop_timeout_seconds = Get<int>(j, "stopTimeout", 0);
  c.user = Get<std::string>(j, "user", "");
  c.working_directory = Get<std::string>(j, "workingDirectory", "");
  c.hostname = Get<std::string>(j, "hostname", "");
  c.labels = Get<std::map<std::string, std::string>>(j, "labels", {});
  for (const auto& u : j.value("ulimits", Json::array())) {
    c.ulimits.push_back({u.value("name", ""), u.value("soft", int64_t{0}),
                         u.value("hard", int64_t{0})});
  }
  c.privileged = Get<bool>(j, "privileged", false);
  c.readonly_root_filesystem = Get<bool>(j, "readonlyRootFilesystem", false);
  c.init_process_enabled = Get<bool>(j, "initProcessEnabled", false);
  c.dns_servers = Get<std::vector<std::string>>(j, "dnsServers", {});
  c.dns_search_domains = Get<std::vector<std::string>>(j, "dnsSearchDomains", {});
  for (const auto& e : j.value("extraHosts", Json::array())) {
    if (e.is_array() && e.size() == 2) c.extra_hosts.emplace_back(e[0], e[1]);
  }
  if (auto it = j.find("logConfiguration"); it != j.end() && it->is_object()) {
    c.log_config = spec::LogConfig{
        it->value("logDriver", ""),
        it->value("options", std::map<std::string, std::string>{})};
  }
  if (auto it = j.find("healthCheck"); it != j.end() && it->is_object()) {
    spec::HealthCheck h;
    h.test = it->value("command", std::vector<std::string>{});
    h.interval_ns = it->value("interval", h.interval_ns);
    h.timeout_ns = it->value("timeout", h.timeout_ns);
    h.retries = it->value("retries", h.retries);
    h.start_period_ns = it->value("startPeriod", h.start_period_ns);
    c.health_check = h;
  }
  return c;
}

}  // namespace

TaskRecord NewTaskRecord(const spec::TaskSpec& task, const std::vector<std::string>& endpoint_ids) {
  TaskRecord record;
  record.spec = task;
  record.spec.task_role.reset();
  record.spec.execution_role.reset();
  for (size_t i = 0; i < task.containers.size(); ++i) {
    ContainerRecord c;
    c.spec = task.containers[i];
    c.runtime_id = RuntimeId(task.Id(), c.spec.name);
    if (i < endpoint_ids.size()) c.endpoint_id = endpoint_ids[i];
    record.containers.push_back(std::move(c));
  }
  return record;
}

std::string EncodeTaskRecord(const TaskRecord& r) {
  const spec::TaskSpec& t = r.spec;
  Json containers = Json::array();
  for (const auto& c : r.containers) {
    Json exit_code = c.exit_code ? Json(*c.exit_code) : Json(nullptr);
    containers.push_back({{"spec", SpecJson(c.spec)},
                          {"runtimeId", c.runtime_id},
                          {"endpointId", c.endpoint_id},
                          {"imageDigest", c.image_digest},
                          {"knownStatus", c.known_status},
                          {"started", c.started},
                          {"exitCode", exit_code},
                          {"reason", c.reason},
                          {"healthStatus", c.health_status},
                          {"healthSince", TimeJson(c.health_since)},
                          {"networkBindings", BindingsJson(c.bindings)},
                          {"startedAt", TimeJson(c.started_at)},
                          {"finishedAt", TimeJson(c.finished_at)}});
  }
  // Only the fields listed here are written: task_role and execution_role never are.
  Json task = {{"arn", t.arn},
               {"clusterArn", t.cluster_arn},
               {"family", t.family},
               {"version", t.version},
               {"desiredStatus", t.desired_status},
               {"launchType", t.launch_type},
               {"networkMode", t.network_mode},
               {"group", t.group},
               {"cpu", t.cpu},
               {"memory", t.memory_mib}};
  Json network = {{"mode", r.network.mode},
                  {"netnsPath", r.network.netns_path},
                  {"ipv4", r.network.ipv4},
                  {"gateway", r.network.gateway},
                  {"bindings", BindingsJson(r.network.bindings)}};
  Json j = {{"task", task},
            {"knownStatus", r.known_status},
            {"stoppedReason", r.stopped_reason},
            {"stopRequested", r.stop_requested},
            {"networkUp", r.network_up},
            {"network", network},
            {"pullStartedAt", TimeJson(r.pull_started_at)},
            {"pullStoppedAt", TimeJson(r.pull_stopped_at)},
            {"executionStoppedAt", TimeJson(r.execution_stopped_at)},
            {"runningReported", r.running_reported},
            {"containers", containers}};
  return json::Dump(j);
}

Result<TaskRecord> DecodeTaskRecord(std::string_view text) {
  Json j = Json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("task") || !j["task"].is_object()) {
    return Fail("InvalidTaskRecord", "not a task record (a JSON object with a task)");
  }
  try {
    TaskRecord r;
    const Json& t = j["task"];
    r.spec.arn = Get<std::string>(t, "arn", "");
    r.spec.cluster_arn = Get<std::string>(t, "clusterArn", "");
    r.spec.family = Get<std::string>(t, "family", "");
    r.spec.version = Get<std::string>(t, "version", "");
    r.spec.desired_status = Get<std::string>(t, "desiredStatus", "RUNNING");
    r.spec.launch_type = Get<std::string>(t, "launchType", "");
    r.spec.network_mode = Get<std::string>(t, "networkMode", "");
    r.spec.group = Get<std::string>(t, "group", "");
    r.spec.cpu = Get<double>(t, "cpu", 0);
    r.spec.memory_mib = Get<int64_t>(t, "memory", 0);
    if (r.spec.arn.empty()) return Fail("InvalidTaskRecord", "the record names no task ARN");
    r.known_status = Get<std::string>(j, "knownStatus", std::string(kNone));
    r.stopped_reason = Get<std::string>(j, "stoppedReason", "");
    r.stop_requested = Get<bool>(j, "stopRequested", false);
    r.network_up = Get<bool>(j, "networkUp", false);
    const Json& n = j.value("network", Json::object());
    r.network.mode = n.value("mode", "");
    r.network.netns_path = n.value("netnsPath", "");
    r.network.ipv4 = n.value("ipv4", "");
    r.network.gateway = n.value("gateway", "");
    r.network.bindings = BindingsFrom(n.value("bindings", Json::array()));
    r.pull_started_at = TimeFrom(j.value("pullStartedAt", Json()));
    r.pull_stopped_at = TimeFrom(j.value("pullStoppedAt", Json()));
    r.execution_stopped_at = TimeFrom(j.value("executionStoppedAt", Json()));
    r.running_reported = Get<bool>(j, "runningReported", false);
    for (const auto& cj : j.value("containers", Json::array())) {
      ContainerRecord c;
      c.spec = SpecFrom(cj.value("spec", Json::object()));
      c.runtime_id = Get<std::string>(cj, "runtimeId", "");
      c.endpoint_id = Get<std::string>(cj, "endpointId", "");
      c.image_digest = Get<std::string>(cj, "imageDigest", "");
      c.known_status = Get<std::string>(cj, "knownStatus", std::string(kNone));
      c.started = Get<bool>(cj, "started", false);
      if (auto it = cj.find("exitCode"); it != cj.end() && it->is_number_integer()) {
        c.exit_code = it->get<int>();
      }
      c.reason = Get<std::string>(cj, "reason", "");
      c.health_status = Get<std::string>(cj, "healthStatus", "");
      c.health_since = TimeFrom(cj.value("healthSince", Json()));
      c.bindings = BindingsFrom(cj.value("networkBindings", Json::array()));
      c.started_at = TimeFrom(cj.value("startedAt", Json()));
      c.finished_at = TimeFrom(cj.value("finishedAt", Json()));
      r.spec.containers.push_back(c.spec);
      r.containers.push_back(std::move(c));
    }
    return r;
  } catch (const Json::exception& e) {
    return Fail("InvalidTaskRecord", fmt::format("malformed task record: {}", e.what()));
  }
}

std::optional<spec::TaskHealth> TaskHealthOf(const TaskRecord& record,
                                             const std::string& cluster_arn) {
  if (record.known_status == kStopped) return std::nullopt;
  spec::TaskHealth health;
  health.task_arn = record.spec.arn;
  health.cluster_arn = record.spec.cluster_arn.empty() ? cluster_arn : record.spec.cluster_arn;
  health.family = record.spec.family;
  health.version = record.spec.version;
  for (const ContainerRecord& c : record.containers) {
    if (c.health_status.empty()) continue;
    health.containers.push_back(
        {.container_name = c.spec.name,
         .health_status = c.health_status,
         .status_since = c.health_since.value_or(c.started_at.value_or(TimePoint{})),
         .status_message = c.health_message});
  }
  if (health.containers.empty()) return std::nullopt;
  return health;
}

Status SaveTaskRecord(const std::string& dir, const TaskRecord& record, Durability durability) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string path = fmt::format("{}/{}.json", dir, record.spec.Id());
  BERTH_TRY(WriteFileAtomically(path, EncodeTaskRecord(record), 0600, Existing::kReplace,
                                durability));
  return {};
}

std::vector<TaskRecord> LoadTaskRecords(const std::string& dir) {
  std::vector<std::string> paths;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      paths.push_back(entry.path().string());
    }
  }
  std::sort(paths.begin(), paths.end());
  std::vector<TaskRecord> records;
  for (const auto& path : paths) {
    auto text = ReadSmallFile(path, 16 << 20);
    if (!text || !*text) continue;
    auto record = DecodeTaskRecord(**text);
    if (!record) {
      log::Warn("skipping an unreadable task record",
                {{"path", path}, {"error", record.error().message}});
      continue;
    }
    records.push_back(std::move(*record));
  }
  return records;
}

void RemoveTaskRecord(const std::string& dir, std::string_view task_id) {
  std::error_code ec;
  std::filesystem::remove(fmt::format("{}/{}.json", dir, task_id), ec);
}

}  // namespace berth::agent::engine
