#include "agent/tmds/documents.h"

#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "common/json.h"
#include "common/json_writer.h"

namespace berth::agent::tmds {
namespace {

// Members in the agent's struct order, as its Go encoder writes them.
using Json = nlohmann::ordered_json;

std::string Dump(const Json& doc) {
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void PutTime(Json& doc, const char* key, const std::optional<TimePoint>& t) {
  if (t) doc[key] = FormatRfc3339Nano(*t);
}

void PutIfSet(Json& doc, const char* key, const std::string& value) {
  if (!value.empty()) doc[key] = value;
}

// Go writes a float64 without a fraction when it has none ("2", not "2.0").
Json Number(double value) {
  if (std::floor(value) == value && std::fabs(value) < 1e15) {
    return static_cast<int64_t>(value);
  }
  return value;
}

Json ContainerJson(const TaskMetadata& task, const ContainerMetadata& c) {
  Json doc = Json::object();
  doc["DockerId"] = c.runtime_id;
  doc["Name"] = c.name;
  doc["DockerName"] = c.runtime_id;
  doc["Image"] = c.image;
  doc["ImageID"] = c.image_digest;
  if (!c.ports.empty()) {
    Json ports = Json::array();
    for (const spec::NetworkBinding& p : c.ports) {
      Json port = Json::object();
      if (p.container_port != 0) port["ContainerPort"] = p.container_port;
      PutIfSet(port, "Protocol", p.protocol);
      if (p.host_port != 0) port["HostPort"] = p.host_port;
      PutIfSet(port, "HostIp", p.bind_ip);
      ports.push_back(std::move(port));
    }
    doc["Ports"] = std::move(ports);
  }
  if (!c.labels.empty()) doc["Labels"] = c.labels;
  doc["DesiredStatus"] = c.desired_status;
  doc["KnownStatus"] = c.known_status;
  if (c.exit_code) doc["ExitCode"] = *c.exit_code;
  doc["Limits"] = {{"CPU", c.cpu}, {"Memory", c.memory_mib}};
  PutTime(doc, "CreatedAt", c.created_at);
  PutTime(doc, "StartedAt", c.started_at);
  PutTime(doc, "FinishedAt", c.finished_at);
  doc["Type"] = "NORMAL";
  PutIfSet(doc, "ContainerARN", c.container_arn);
  if (!task.network_mode.empty()) {
    Json network = {{"NetworkMode", task.network_mode}};
    if (!task.ipv4.empty()) network["IPv4Addresses"] = Json::array({task.ipv4});
    doc["Networks"] = Json::array({std::move(network)});
  }
  return doc;
}

}  // namespace

std::string CredentialsDocument(const spec::RoleCredentials& creds) {
  return json::ObjectWriter()
      .String("RoleArn", creds.role_arn)
      .String("AccessKeyId", creds.access_key_id)
      .String("SecretAccessKey", creds.secret_access_key)
      .String("Token", creds.session_token)
      .String("Expiration", creds.expiration)
      .Finish();
}

std::string CredentialsError(std::string_view code, std::string_view message) {
  return json::ObjectWriter().String("code", code).String("message", message).Finish();
}

std::string ContainerDocument(const TaskMetadata& task, const ContainerMetadata& container) {
  return Dump(ContainerJson(task, container));
}

std::string TaskDocument(const TaskMetadata& task) {
  Json doc = Json::object();
  doc["Cluster"] = task.cluster;
  doc["TaskARN"] = task.task_arn;
  doc["Family"] = task.family;
  doc["Revision"] = task.revision;
  doc["DesiredStatus"] = task.desired_status;
  doc["KnownStatus"] = task.known_status;
  if (!task.containers.empty()) {
    Json containers = Json::array();
    for (const ContainerMetadata& c : task.containers) {
      containers.push_back(ContainerJson(task, c));
    }
    doc["Containers"] = std::move(containers);
  }
  if (task.cpu != 0 || task.memory_mib != 0) {
    Json limits = Json::object();
    if (task.cpu != 0) limits["CPU"] = Number(task.cpu);
    if (task.memory_mib != 0) limits["Memory"] = task.memory_mib;
    doc["Limits"] = std::move(limits);
  }
  PutTime(doc, "PullStartedAt", task.pull_started_at);
  PutTime(doc, "PullStoppedAt", task.pull_stopped_at);
  PutTime(doc, "ExecutionStoppedAt", task.execution_stopped_at);
  PutIfSet(doc, "AvailabilityZone", task.availability_zone);
  PutIfSet(doc, "LaunchType", task.launch_type);
  return Dump(doc);
}

std::string JsonString(std::string_view text) {
  std::string out;
  json::AppendQuoted(out, text);
  return out;
}

std::string FormatRfc3339Nano(TimePoint t) {
  auto since = t.time_since_epoch();
  auto secs = std::chrono::floor<std::chrono::seconds>(since);
  int64_t nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since - secs).count();
  time_t whole = static_cast<time_t>(secs.count());
  struct tm tm {};
  gmtime_r(&whole, &tm);
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out(buf, static_cast<size_t>(n));
  if (nanos != 0) {
    std::snprintf(buf, sizeof(buf), ".%09lld", static_cast<long long>(nanos));
    std::string fraction(buf);
    while (fraction.back() == '0') fraction.pop_back();
    out += fraction;
  }
  out += 'Z';
  return out;
}

}  // namespace berth::agent::tmds
