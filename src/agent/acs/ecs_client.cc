#include "agent/acs/ecs_client.h"

#include <fmt/format.h>

#include <map>
#include <mutex>

#include "aws/json_client.h"
#include "aws/json_reader.h"
#include "common/json.h"
#include "common/strings.h"
#include "http/client.h"

namespace berth::agent::acs {

namespace {

using json::Json;

constexpr std::string_view kTargetPrefix = "AmazonEC2ContainerServiceV20141113.";
// The ECS agent's cuts (ecs_client.go: ecsMaxContainerReasonLength, ...).
constexpr size_t kMaxReasonLength = 1024;
constexpr size_t kMaxRuntimeIdLength = 255;
constexpr size_t kMaxImageDigestLength = 255;

// `s` cut to `max` bytes as the agent cuts it, without splitting a UTF-8 character.
std::string Trim(const std::string& s, size_t max) { return std::string(Utf8Prefix(s, max)); }

void PutIfNonEmpty(Json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

Json StringSet(const std::vector<int>& ports) {
  Json out = Json::array();
  for (int p : ports) out.push_back(std::to_string(p));
  return out;
}

// The ECS agent's validateRegisteredAttributes: every attribute sent must come back with its value.
Status CheckAttributes(const std::vector<std::pair<std::string, std::string>>& sent,
                       const std::map<std::string, std::string>& registered) {
  for (const auto& [name, value] : sent) {
    auto it = registered.find(name);
    if (it == registered.end()) {
      return Fail(
          "AttributeError",
          fmt::format("Attribute '{}' is missing from the registered container instance", name));
    }
    if (it->second != value) {
      return Fail("AttributeError",
                  fmt::format("Attribute '{}' was registered as '{}', expected '{}'", name,
                              it->second, value));
    }
  }
  return {};
}

// A reply that is not what ECS answers.
std::unexpected<Error> Invalid(std::string_view op, const Error& error) {
  return Fail("InvalidResponse", fmt::format("{} answered: {}", op, error.message), 0);
}

}  // namespace

std::string ClusterArnOf(const std::string& arn, const std::string& cluster) {
  if (cluster.starts_with("arn:")) return cluster;
  for (std::string_view marker : {":container-instance/", ":task/"}) {
    size_t at = arn.find(marker);
    if (at == std::string::npos) continue;
    std::string rest = arn.substr(at + marker.size());
    size_t slash = rest.find('/');
    if (slash == std::string::npos) return cluster;  // the old form, without the cluster
    return arn.substr(0, at) + ":cluster/" + rest.substr(0, slash);
  }
  return cluster;
}

struct EcsClient::Impl {
  Impl(EcsClientOptions o, const Clock& c) : options(std::move(o)), clock(c) {}

  EcsClientOptions options;
  const Clock& clock;
  std::mutex mu;
  std::vector<std::unique_ptr<http::Client>> idle;  // a connection each, between calls

  Result<std::string> Call(std::string_view op, const Json& body) {
    std::unique_ptr<http::Client> client;
    {
      std::lock_guard lock(mu);
      if (!idle.empty()) {
        client = std::move(idle.back());
        idle.pop_back();
      }
    }
    if (!client)
      client = std::make_unique<http::Client>(http::ClientOptions{.ca_file = options.ca_file});
    aws::JsonCall call{.endpoint = options.endpoint,
                       .target = std::string(kTargetPrefix) + std::string(op),
                       .region = options.region,
                       .signing_name = "ecs",
                       .body = json::Dump(body)};
    auto reply = aws::CallJson(*client, call, options.credentials, clock.Now());
    std::lock_guard lock(mu);
    idle.push_back(std::move(client));
    return reply;
  }
};

EcsClient::EcsClient(EcsClientOptions options, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), clock)) {}

EcsClient::~EcsClient() = default;

Result<std::string> EcsClient::CreateCluster(const std::string& name) {
  std::string reply = BERTH_TRY(impl_->Call("CreateCluster", {{"clusterName", name}}));
  auto read = [&]() -> Result<std::string> {
    auto out = BERTH_TRY(aws::JsonReader::Parse(reply));
    auto cluster = BERTH_TRY(out.Object("cluster"));
    return cluster.String("clusterArn");
  };
  auto arn = read();
  if (!arn) return Invalid("CreateCluster", arn.error());
  return arn;
}

Result<Registered> EcsClient::RegisterContainerInstance(const Registration& r) {
  Json resources = Json::array({
      {{"name", "CPU"}, {"type", "INTEGER"}, {"integerValue", r.cpu_units}},
      {{"name", "MEMORY"}, {"type", "INTEGER"}, {"integerValue", r.memory_mib}},
      {{"name", "PORTS"}, {"type", "STRINGSET"}, {"stringSetValue", StringSet(r.reserved_ports)}},
      {{"name", "PORTS_UDP"},
       {"type", "STRINGSET"},
       {"stringSetValue", StringSet(r.reserved_udp_ports)}},
  });
  Json attributes = Json::array();
  for (const auto& [name, value] : r.attributes) {
    Json a = {{"name", name}};
    PutIfNonEmpty(a, "value", value);
    attributes.push_back(std::move(a));
  }
  Json body = {{"cluster", r.cluster},
               {"totalResources", std::move(resources)},
               {"versionInfo",
                {{"agentVersion", r.agent_version},
                 {"agentHash", r.agent_hash},
                 {"dockerVersion", r.docker_version}}},
               {"attributes", std::move(attributes)}};
  PutIfNonEmpty(body, "containerInstanceArn", r.container_instance_arn);
  std::string reply = BERTH_TRY(impl_->Call("RegisterContainerInstance", body));

  std::map<std::string, std::string> registered;
  auto read = [&]() -> Result<std::string> {
    auto out = BERTH_TRY(aws::JsonReader::Parse(reply));
    auto instance = BERTH_TRY(out.Object("containerInstance"));
    for (const auto& a : BERTH_TRY(instance.ObjectsOr("attributes"))) {
      registered[BERTH_TRY(a.String("name"))] = BERTH_TRY(a.StringOr("value"));
    }
    return instance.String("containerInstanceArn");
  };
  auto arn = read();
  if (!arn) return Invalid("RegisterContainerInstance", arn.error());
  BERTH_CHECK(CheckAttributes(r.attributes, registered));
  return Registered{*arn, ClusterArnOf(*arn, r.cluster)};
}

Result<PollEndpoints> EcsClient::DiscoverPollEndpoint(const std::string& cluster,
                                                      const std::string& container_instance_arn) {
  std::string reply =
      BERTH_TRY(impl_->Call("DiscoverPollEndpoint",
                            {{"cluster", cluster}, {"containerInstance", container_instance_arn}}));
  auto read = [&]() -> Result<PollEndpoints> {
    auto out = BERTH_TRY(aws::JsonReader::Parse(reply));
    PollEndpoints endpoints;
    endpoints.endpoint = BERTH_TRY(out.String("endpoint"));
    endpoints.telemetry_endpoint = BERTH_TRY(out.StringOr("telemetryEndpoint"));
    return endpoints;
  };
  auto endpoint = read();
  if (!endpoint) return Invalid("DiscoverPollEndpoint", endpoint.error());
  return endpoint;
}

Status EcsClient::SubmitTaskStateChange(const spec::TaskStateChange& change) {
  Json containers = Json::array();
  for (const auto& c : change.containers) {
    Json cj = {{"containerName", c.container_name}, {"status", c.status}};
    PutIfNonEmpty(cj, "imageDigest", Trim(c.image_digest, kMaxImageDigestLength));
    PutIfNonEmpty(cj, "runtimeId", Trim(c.runtime_id, kMaxRuntimeIdLength));
    if (c.exit_code) cj["exitCode"] = *c.exit_code;
    PutIfNonEmpty(cj, "reason", Trim(c.reason, kMaxReasonLength));
    if (!c.network_bindings.empty()) {
      Json bindings = Json::array();
      for (const auto& b : c.network_bindings) {
        bindings.push_back({{"bindIP", b.bind_ip},
                            {"containerPort", b.container_port},
                            {"hostPort", b.host_port},
                            {"protocol", b.protocol}});
      }
      cj["networkBindings"] = std::move(bindings);
    }
    containers.push_back(std::move(cj));
  }
  Json body = {{"cluster", change.cluster},
               {"task", change.task_arn},
               {"status", change.status},
               {"containers", std::move(containers)}};
  PutIfNonEmpty(body, "reason", Trim(change.reason, kMaxReasonLength));
  if (change.pull_started_at) body["pullStartedAt"] = ToEpochSeconds(*change.pull_started_at);
  if (!change.private_ipv4.empty()) body["privateIpv4Address"] = change.private_ipv4;
  if (change.pull_stopped_at) body["pullStoppedAt"] = ToEpochSeconds(*change.pull_stopped_at);
  if (change.execution_stopped_at) {
    body["executionStoppedAt"] = ToEpochSeconds(*change.execution_stopped_at);
  }
  BERTH_CHECK(impl_->Call("SubmitTaskStateChange", body));
  return {};
}

}  // namespace berth::agent::acs
