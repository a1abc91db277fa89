// Amazon ECS's wire shapes (JSON 1.1, target prefix
// AmazonEC2ContainerServiceV20141113, signing name "ecs"), as the botocore
// model ecs/2014-11-13 defines them. Timestamps are epoch seconds; task and
// container cpu/memory are strings, as ECS returns them.
#include <fmt/format.h>
#include <string.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

#include "aws/json_reader.h"
#include "common/json.h"
#include "ecs/records.h"
#include "ecs/service.h"
#include "ecs/task_definition_codec.h"
#include "server/acs.h"
#include "server/tcs.h"
#include "store/election.h"
#include "server/module.h"
#include "server/routes.h"

namespace berth::server {

namespace {

using aws::JsonReader;
using json::Json;

// Milliseconds, as ECS answers and as the records keep them: a time reads the same before and
// after a restart.
double Epoch(TimePoint t) {
  return ToEpochSeconds(TimePoint(std::chrono::floor<std::chrono::milliseconds>(t)));
}

void PutTime(Json& j, const char* key, const std::optional<TimePoint>& t) {
  if (t) j[key] = Epoch(*t);
}

Json TagsJson(const std::vector<ecs::Tag>& tags) {
  Json out = Json::array();
  for (const auto& t : tags) out.push_back({{"key", t.key}, {"value", t.value}});
  return out;
}

Json FailuresJson(const std::vector<ecs::Failure>& failures) {
  Json out = Json::array();
  for (const auto& f : failures) {
    Json j = {{"arn", f.arn}, {"reason", f.reason}};
    if (!f.detail.empty()) j["detail"] = f.detail;
    out.push_back(std::move(j));
  }
  return out;
}

Result<std::vector<ecs::Tag>> ReadTags(const JsonReader& in, std::string_view name = "tags") {
  std::vector<ecs::Tag> tags;
  for (const auto& t : BERTH_TRY(in.ObjectsOr(name))) {
    tags.push_back({BERTH_TRY(t.StringOr("key")), BERTH_TRY(t.StringOr("value"))});
  }
  return tags;
}

Result<ecs::PageRequest> ReadPage(const JsonReader& in) {
  ecs::PageRequest page;
  page.next_token = BERTH_TRY(in.StringOr("nextToken"));
  auto max = BERTH_TRY(in.OptionalInt("maxResults"));
  if (max) page.max_results = static_cast<int>(std::clamp<int64_t>(*max, -1, 1'000'000));
  return page;
}

Json PageJson(const ecs::Page<std::string>& page, const char* key) {
  Json out = {{key, page.items}};
  if (!page.next_token.empty()) out["nextToken"] = page.next_token;
  return out;
}

bool Includes(const std::vector<std::string>& include, std::string_view what) {
  return std::find(include.begin(), include.end(), what) != include.end();
}

Json ClusterJson(const ecs::ClusterView& v, const std::vector<std::string>& include) {
  const ecs::Cluster& c = v.cluster;
  Json settings = Json::array();
  for (const auto& s : c.settings) settings.push_back({{"name", s.name}, {"value", s.value}});
  Json j = {{"clusterArn", c.arn},
            {"clusterName", c.name},
            {"status", c.status},
            {"registeredContainerInstancesCount", v.registered_container_instances_count},
            {"runningTasksCount", v.running_tasks_count},
            {"pendingTasksCount", v.pending_tasks_count},
            {"activeServicesCount", v.active_services_count},
            {"statistics", Json::array()},
            {"tags", Json::array()},
            {"settings", std::move(settings)},
            {"capacityProviders", Json::array()},
            {"defaultCapacityProviderStrategy", Json::array()}};
  if (Includes(include, "TAGS")) j["tags"] = TagsJson(c.tags);
  if (Includes(include, "STATISTICS")) {
    j["statistics"] = Json::array({
        {{"name", "runningEC2TasksCount"}, {"value", std::to_string(v.running_tasks_count)}},
        {{"name", "pendingEC2TasksCount"}, {"value", std::to_string(v.pending_tasks_count)}},
    });
  }
  return j;
}

Json ResourcesJson(const std::vector<ecs::Resource>& resources) {
  Json out = Json::array();
  for (const auto& r : resources) {
    Json j = {{"name", r.name}, {"type", r.type}, {"doubleValue", r.double_value},
              {"longValue", r.type == "LONG" ? r.integer_value : 0},
              {"integerValue", r.type == "INTEGER" ? r.integer_value : 0}};
    if (r.type == "STRINGSET") j["stringSetValue"] = r.string_set;
    out.push_back(std::move(j));
  }
  return out;
}

Json AttributesJson(const std::vector<ecs::Attribute>& attributes) {
  Json out = Json::array();
  for (const auto& a : attributes) {
    Json j = {{"name", a.name}};
    if (a.value) j["value"] = *a.value;
    out.push_back(std::move(j));
  }
  return out;
}

Json TargetAttributesJson(const std::vector<ecs::TargetAttribute>& attributes) {
  Json out = Json::array();
  for (const auto& a : attributes) {
    Json j = {{"name", a.attribute.name}};
    if (a.attribute.value) j["value"] = *a.attribute.value;
    if (!a.target_type.empty()) j["targetType"] = a.target_type;
    if (!a.target_id.empty()) j["targetId"] = a.target_id;
    out.push_back(std::move(j));
  }
  return out;
}

Result<std::vector<ecs::TargetAttribute>> ReadTargetAttributes(const JsonReader& in) {
  std::vector<ecs::TargetAttribute> out;
  for (const auto& a : BERTH_TRY(in.Objects("attributes"))) {
    out.push_back({{BERTH_TRY(a.String("name")), BERTH_TRY(a.OptionalString("value"))},
                   BERTH_TRY(a.StringOr("targetType")),
                   BERTH_TRY(a.StringOr("targetId"))});
  }
  return out;
}

Json InstanceJson(const ecs::InstanceView& v, bool with_tags) {
  const ecs::ContainerInstance& i = v.instance;
  Json j = {{"containerInstanceArn", i.arn},
            {"ec2InstanceId", i.ec2_instance_id},
            {"version", i.version},
            {"versionInfo",
             {{"agentVersion", i.version_info.agent_version},
              {"agentHash", i.version_info.agent_hash},
              {"dockerVersion", i.version_info.docker_version}}},
            {"remainingResources", ResourcesJson(v.remaining_resources)},
            {"registeredResources", ResourcesJson(i.registered_resources)},
            {"status", i.status},
            {"agentConnected", v.agent_connected},
            {"runningTasksCount", v.running_tasks_count},
            {"pendingTasksCount", v.pending_tasks_count},
            {"attributes", AttributesJson(i.attributes)},
            {"registeredAt", Epoch(i.registered_at)},
            {"attachments", Json::array()}};
  if (!i.status_reason.empty()) j["statusReason"] = i.status_reason;
  if (with_tags) j["tags"] = TagsJson(i.tags);
  return j;
}

// TaskOverride as DescribeTasks shows it: the record's encoding (one writer
// of the shape) plus the member ECS always answers.
Json OverridesJson(const ecs::TaskOverride& o) {
  Json out = Json::parse(ecs::EncodeOverrides(o));
  out["inferenceAcceleratorOverrides"] = Json::array();
  return out;
}

// An awsvpc task's network interface as ECS shows it: an ElasticNetworkInterface attachment
// (its id a UUID made from the task id) with the address berth's agent reported.
std::string AttachmentId(const std::string& task_id) {
  if (task_id.size() != 32) return task_id;
  return fmt::format("{}-{}-{}-{}-{}", task_id.substr(0, 8), task_id.substr(8, 4),
                     task_id.substr(12, 4), task_id.substr(16, 4), task_id.substr(20));
}

Json AttachmentsJson(const ecs::Task& t) {
  Json out = Json::array();
  if (t.private_ipv4.empty()) return out;
  out.push_back({{"id", AttachmentId(t.id)},
                 {"type", "ElasticNetworkInterface"},
                 {"status", t.last_status == "STOPPED" ? "DELETED" : "ATTACHED"},
                 {"details",
                  {{{"name", "networkInterfaceId"},
                    {"value", "eni-" + t.id.substr(t.id.size() - 17)}},
                   {{"name", "privateIPv4Address"}, {"value", t.private_ipv4}}}}});
  return out;
}

Json TaskJson(const ecs::Task& t, const std::string& cluster_arn, const std::string& instance_arn,
              bool with_tags) {
  Json containers = Json::array();
  Json interfaces = Json::array();
  if (!t.private_ipv4.empty()) {
    interfaces.push_back({{"attachmentId", AttachmentId(t.id)},
                          {"privateIpv4Address", t.private_ipv4}});
  }
  for (const auto& c : t.containers) {
    Json bindings = Json::array();
    for (const auto& b : c.network_bindings) {
      bindings.push_back({{"bindIP", b.bind_ip},
                          {"containerPort", b.container_port},
                          {"hostPort", b.host_port},
                          {"protocol", b.protocol}});
    }
    Json cj = {{"containerArn", c.arn},
               {"taskArn", t.arn},
               {"name", c.name},
               {"image", c.image},
               {"lastStatus", c.last_status},
               {"networkBindings", std::move(bindings)},
               {"networkInterfaces", interfaces},
               {"cpu", std::to_string(c.cpu)}};
    if (!c.image_digest.empty()) cj["imageDigest"] = c.image_digest;
    if (!c.runtime_id.empty()) cj["runtimeId"] = c.runtime_id;
    if (c.exit_code) cj["exitCode"] = *c.exit_code;
    if (!c.reason.empty()) cj["reason"] = c.reason;
    if (!c.health_status.empty()) cj["healthStatus"] = c.health_status;
    if (c.memory) cj["memory"] = std::to_string(*c.memory);
    if (c.memory_reservation) cj["memoryReservation"] = std::to_string(*c.memory_reservation);
    containers.push_back(std::move(cj));
  }
  Json j = {{"taskArn", t.arn},
            {"clusterArn", cluster_arn},
            {"taskDefinitionArn", t.task_definition_arn},
            {"overrides", OverridesJson(t.overrides)},
            {"lastStatus", t.last_status},
            {"desiredStatus", t.desired_status},
            {"containers", std::move(containers)},
            {"version", t.version},
            {"createdAt", Epoch(t.created_at)},
            {"group", t.group},
            {"launchType", t.launch_type},
            {"healthStatus", t.health_status},
            {"enableExecuteCommand", false},
            {"attachments", AttachmentsJson(t)},
            {"tags", Json::array()}};
  if (!instance_arn.empty()) j["containerInstanceArn"] = instance_arn;
  if (!t.cpu.empty()) j["cpu"] = t.cpu;
  if (!t.memory.empty()) j["memory"] = t.memory;
  if (!t.started_by.empty()) j["startedBy"] = t.started_by;
  if (!t.platform_version.empty()) {
    j["platformVersion"] = t.platform_version;
    j["platformFamily"] = "Linux";
  }
  if (!t.stop_code.empty()) j["stopCode"] = t.stop_code;
  if (!t.stopped_reason.empty()) j["stoppedReason"] = t.stopped_reason;
  if (t.connectivity_at) j["connectivity"] = "CONNECTED";
  PutTime(j, "connectivityAt", t.connectivity_at);
  PutTime(j, "pullStartedAt", t.pull_started_at);
  PutTime(j, "pullStoppedAt", t.pull_stopped_at);
  PutTime(j, "startedAt", t.started_at);
  PutTime(j, "stoppingAt", t.stopping_at);
  PutTime(j, "stoppedAt", t.stopped_at);
  PutTime(j, "executionStoppedAt", t.execution_stopped_at);
  if (with_tags) j["tags"] = TagsJson(t.tags);
  return j;
}

// The ARN prefix "arn:aws:ecs:<region>:<account>:" of a task's ARN.
std::string ArnPrefix(const std::string& task_arn) {
  size_t colon = 0;
  for (int i = 0; i < 5 && colon != std::string::npos; ++i) colon = task_arn.find(':', colon + 1);
  return colon == std::string::npos ? std::string() : task_arn.substr(0, colon + 1);
}

Json TaskJson(const ecs::Task& t, bool with_tags) {
  std::string prefix = ArnPrefix(t.arn);
  // A task on the platform's Fargate pool shows no instance, as FARGATE tasks in ECS.
  std::string instance_arn =
      t.container_instance_id.empty() || t.pool
          ? std::string()
          : fmt::format("{}container-instance/{}/{}", prefix, t.cluster, t.container_instance_id);
  return TaskJson(t, prefix + "cluster/" + t.cluster, instance_arn, with_tags);
}

Json TaskDefinitionJson(const ecs::TaskDefinition& td) {
  return Json::parse(ecs::TaskDefinitionToJson(td));
}

Result<ecs::TaskOverride> ReadOverrides(const JsonReader& in) {
  ecs::TaskOverride o;
  auto obj = BERTH_TRY(in.OptionalObject("overrides"));
  if (!obj) return o;
  for (const auto& c : BERTH_TRY(obj->ObjectsOr("containerOverrides"))) {
    ecs::ContainerOverride co;
    co.name = BERTH_TRY(c.StringOr("name"));
    co.command = BERTH_TRY(c.OptionalStrings("command"));
    for (const auto& e : BERTH_TRY(c.ObjectsOr("environment"))) {
      co.environment.push_back({BERTH_TRY(e.StringOr("name")), BERTH_TRY(e.StringOr("value"))});
    }
    if (auto v = BERTH_TRY(c.OptionalInt("cpu"))) co.cpu = static_cast<int>(*v);
    if (auto v = BERTH_TRY(c.OptionalInt("memory"))) co.memory = static_cast<int>(*v);
    if (auto v = BERTH_TRY(c.OptionalInt("memoryReservation"))) {
      co.memory_reservation = static_cast<int>(*v);
    }
    o.container_overrides.push_back(std::move(co));
  }
  o.cpu = BERTH_TRY(obj->StringOr("cpu"));
  o.memory = BERTH_TRY(obj->StringOr("memory"));
  o.execution_role_arn = BERTH_TRY(obj->StringOr("executionRoleArn"));
  o.task_role_arn = BERTH_TRY(obj->StringOr("taskRoleArn"));
  return o;
}

Status ReadPlacement(const JsonReader& in, std::vector<ecs::PlacementConstraint>& constraints,
                     std::vector<ecs::PlacementStrategy>& strategies) {
  for (const auto& c : BERTH_TRY(in.ObjectsOr("placementConstraints"))) {
    constraints.push_back({BERTH_TRY(c.StringOr("type")), BERTH_TRY(c.StringOr("expression"))});
  }
  for (const auto& s : BERTH_TRY(in.ObjectsOr("placementStrategy"))) {
    strategies.push_back({BERTH_TRY(s.StringOr("type")), BERTH_TRY(s.StringOr("field"))});
  }
  return {};
}

Result<ecs::RunTaskRequest> ReadRunTask(const JsonReader& in) {
  ecs::RunTaskRequest r;
  r.cluster = BERTH_TRY(in.StringOr("cluster"));
  r.task_definition = BERTH_TRY(in.String("taskDefinition"));
  r.count = static_cast<int>(
      std::clamp<int64_t>(BERTH_TRY(in.OptionalInt("count")).value_or(1), -1, 1000));
  r.launch_type = BERTH_TRY(in.StringOr("launchType"));
  r.platform_version = BERTH_TRY(in.StringOr("platformVersion"));
  r.group = BERTH_TRY(in.StringOr("group"));
  r.started_by = BERTH_TRY(in.StringOr("startedBy"));
  r.overrides = BERTH_TRY(ReadOverrides(in));
  BERTH_CHECK(ReadPlacement(in, r.placement_constraints, r.placement_strategy));
  r.has_network_configuration = in.Has("networkConfiguration");
  r.tags = BERTH_TRY(ReadTags(in));
  r.client_token = BERTH_TRY(in.StringOr("clientToken"));
  r.container_instances = BERTH_TRY(in.StringsOr("containerInstances"));
  return r;
}

Json RunTaskJson(const ecs::RunTaskResult& result) {
  Json tasks = Json::array();
  for (const auto& t : result.tasks) tasks.push_back(TaskJson(t, true));
  return {{"tasks", std::move(tasks)}, {"failures", FailuresJson(result.failures)}};
}

Result<std::optional<TimePoint>> ReadTime(const JsonReader& in, std::string_view name) {
  auto v = BERTH_TRY(in.OptionalDouble(name));
  if (!v) return std::optional<TimePoint>();
  return std::optional<TimePoint>(
      TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::duration<double>(*v))));
}

Result<std::vector<ecs::NetworkBinding>> ReadBindings(const JsonReader& in) {
  std::vector<ecs::NetworkBinding> out;
  for (const auto& b : BERTH_TRY(in.ObjectsOr("networkBindings"))) {
    ecs::NetworkBinding nb;
    nb.bind_ip = BERTH_TRY(b.StringOr("bindIP", "0.0.0.0"));
    nb.container_port = static_cast<int>(BERTH_TRY(b.OptionalInt("containerPort")).value_or(0));
    nb.host_port = static_cast<int>(BERTH_TRY(b.OptionalInt("hostPort")).value_or(0));
    nb.protocol = BERTH_TRY(b.StringOr("protocol", "tcp"));
    out.push_back(std::move(nb));
  }
  return out;
}

Result<ecs::ContainerStateChange> ReadContainerChange(const JsonReader& c) {
  ecs::ContainerStateChange cc;
  cc.container_name = BERTH_TRY(c.StringOr("containerName"));
  cc.image_digest = BERTH_TRY(c.StringOr("imageDigest"));
  cc.runtime_id = BERTH_TRY(c.StringOr("runtimeId"));
  if (auto v = BERTH_TRY(c.OptionalInt("exitCode"))) cc.exit_code = static_cast<int>(*v);
  cc.network_bindings = BERTH_TRY(ReadBindings(c));
  cc.reason = BERTH_TRY(c.StringOr("reason"));
  cc.status = BERTH_TRY(c.StringOr("status"));
  return cc;
}

// ---- Services

Result<std::optional<ecs::AwsvpcConfiguration>> ReadNetwork(const JsonReader& in) {
  auto network = BERTH_TRY(in.OptionalObject("networkConfiguration"));
  if (!network) return std::optional<ecs::AwsvpcConfiguration>();
  auto vpc = BERTH_TRY(network->OptionalObject("awsvpcConfiguration"));
  if (!vpc) return std::optional<ecs::AwsvpcConfiguration>();
  return std::optional(ecs::AwsvpcConfiguration{BERTH_TRY(vpc->Strings("subnets")),
                                                BERTH_TRY(vpc->StringsOr("securityGroups")),
                                                BERTH_TRY(vpc->StringOr("assignPublicIp"))});
}

Result<std::optional<ecs::DeploymentConfigurationRequest>> ReadDeploymentConfiguration(
    const JsonReader& in) {
  auto dc = BERTH_TRY(in.OptionalObject("deploymentConfiguration"));
  if (!dc) return std::optional<ecs::DeploymentConfigurationRequest>();
  ecs::DeploymentConfigurationRequest out;
  auto clamp = [](std::optional<int64_t> v) -> std::optional<int> {
    if (!v) return std::nullopt;
    return static_cast<int>(std::clamp<int64_t>(*v, -1, 1'000'000));
  };
  out.maximum_percent = clamp(BERTH_TRY(dc->OptionalInt("maximumPercent")));
  out.minimum_healthy_percent = clamp(BERTH_TRY(dc->OptionalInt("minimumHealthyPercent")));
  if (auto cb = BERTH_TRY(dc->OptionalObject("deploymentCircuitBreaker"))) {
    out.circuit_breaker_enable = BERTH_TRY(cb->Bool("enable"));
    out.circuit_breaker_rollback = BERTH_TRY(cb->Bool("rollback"));
  }
  return std::optional(out);
}

Json NetworkJson(const ecs::AwsvpcConfiguration& c) {
  Json vpc = {{"subnets", c.subnets}, {"securityGroups", c.security_groups}};
  if (!c.assign_public_ip.empty()) vpc["assignPublicIp"] = c.assign_public_ip;
  return {{"awsvpcConfiguration", std::move(vpc)}};
}

Json ServiceJson(const ecs::ServiceView& v, bool with_tags) {
  const ecs::EcsService& s = v.service;
  std::string prefix = s.arn.substr(0, s.arn.find(":service/") + 1);
  Json deployments = Json::array();
  for (size_t i = 0; i < s.deployments.size(); ++i) {
    const ecs::Deployment& d = s.deployments[i];
    Json j = {{"id", d.id},
              {"status", d.status},
              {"taskDefinition", d.task_definition},
              {"desiredCount", d.desired_count},
              {"pendingCount", v.deployment_counts[i].pending},
              {"runningCount", v.deployment_counts[i].running},
              {"failedTasks", d.failed_tasks},
              {"createdAt", Epoch(d.created_at)},
              {"updatedAt", Epoch(d.updated_at)},
              {"launchType", d.launch_type},
              {"rolloutState", d.rollout_state},
              {"rolloutStateReason", d.rollout_state_reason}};
    if (!d.platform_version.empty()) j["platformVersion"] = d.platform_version;
    if (d.network_configuration) j["networkConfiguration"] = NetworkJson(*d.network_configuration);
    deployments.push_back(std::move(j));
  }
  Json events = Json::array();
  for (const auto& e : s.events) {
    events.push_back({{"id", e.id}, {"createdAt", Epoch(e.created_at)}, {"message", e.message}});
  }
  Json constraints = Json::array();
  for (const auto& c : s.placement_constraints) {
    Json j = {{"type", c.type}};
    if (!c.expression.empty()) j["expression"] = c.expression;
    constraints.push_back(std::move(j));
  }
  Json strategy = Json::array();
  for (const auto& p : s.placement_strategy) {
    Json j = {{"type", p.type}};
    if (!p.field.empty()) j["field"] = p.field;
    strategy.push_back(std::move(j));
  }
  const ecs::DeploymentConfiguration& dc = s.deployment_configuration;
  Json j = {{"serviceArn", s.arn},
            {"serviceName", s.name},
            {"clusterArn", prefix + "cluster/" + s.cluster},
            {"loadBalancers", Json::array()},
            {"serviceRegistries", Json::array()},
            {"status", s.status},
            {"desiredCount", s.desired_count},
            {"runningCount", v.running_count},
            {"pendingCount", v.pending_count},
            {"launchType", s.launch_type},
            {"taskDefinition", s.task_definition},
            {"deploymentConfiguration",
             {{"deploymentCircuitBreaker",
               {{"enable", dc.circuit_breaker_enable}, {"rollback", dc.circuit_breaker_rollback}}},
              {"maximumPercent", dc.maximum_percent},
              {"minimumHealthyPercent", dc.minimum_healthy_percent}}},
            {"deployments", std::move(deployments)},
            {"events", std::move(events)},
            {"createdAt", Epoch(s.created_at)},
            {"placementConstraints", std::move(constraints)},
            {"placementStrategy", std::move(strategy)},
            {"schedulingStrategy", s.scheduling_strategy},
            {"deploymentController", {{"type", "ECS"}}},
            {"createdBy", s.created_by},
            {"enableECSManagedTags", s.enable_ecs_managed_tags},
            {"propagateTags", s.propagate_tags},
            {"enableExecuteCommand", false}};
  if (!s.platform_version.empty()) j["platformVersion"] = s.platform_version;
  if (s.network_configuration) j["networkConfiguration"] = NetworkJson(*s.network_configuration);
  if (with_tags) j["tags"] = TagsJson(s.tags);
  return j;
}

using Handler = std::function<Result<Json>(ecs::Service&, const aws::RequestContext&,
                                           const JsonReader&)>;

}  // namespace

aws::JsonService EcsRoutes(ecs::Service& ecs, EcsEndpoints endpoints) {
  aws::JsonService svc;
  svc.signing_name = "ecs";
  svc.target_prefix = "AmazonEC2ContainerServiceV20141113";
  auto add = [&](const char* name, Handler handler) {
    svc.operations[name] = [&ecs, handler = std::move(handler)](
                               const aws::RequestContext& ctx,
                               std::string_view body) -> Result<std::string> {
      auto in = BERTH_TRY(JsonReader::Parse(body));
      auto out = BERTH_TRY(handler(ecs, ctx, in));
      return json::Dump(out);
    };
  };

  // ---- Clusters
  add("CreateCluster", [](ecs::Service& s, const aws::RequestContext& ctx,
                          const JsonReader& in) -> Result<Json> {
    std::vector<ecs::KeyValue> settings;
    for (const auto& st : BERTH_TRY(in.ObjectsOr("settings"))) {
      settings.push_back({BERTH_TRY(st.StringOr("name")), BERTH_TRY(st.StringOr("value"))});
    }
    auto view = BERTH_TRY(s.CreateCluster(ctx, BERTH_TRY(in.StringOr("clusterName")),
                                          BERTH_TRY(ReadTags(in)), std::move(settings)));
    return Json{{"cluster", ClusterJson(view, {"TAGS"})}};
  });
  add("DeleteCluster", [](ecs::Service& s, const aws::RequestContext& ctx,
                          const JsonReader& in) -> Result<Json> {
    auto view = BERTH_TRY(s.DeleteCluster(ctx, BERTH_TRY(in.String("cluster"))));
    return Json{{"cluster", ClusterJson(view, {})}};
  });
  add("DescribeClusters", [](ecs::Service& s, const aws::RequestContext& ctx,
                             const JsonReader& in) -> Result<Json> {
    auto include = BERTH_TRY(in.StringsOr("include"));
    auto [views, failures] = BERTH_TRY(s.DescribeClusters(ctx, BERTH_TRY(in.StringsOr("clusters"))));
    Json clusters = Json::array();
    for (const auto& v : views) clusters.push_back(ClusterJson(v, include));
    return Json{{"clusters", std::move(clusters)}, {"failures", FailuresJson(failures)}};
  });
  add("ListClusters", [](ecs::Service& s, const aws::RequestContext& ctx,
                         const JsonReader& in) -> Result<Json> {
    return PageJson(BERTH_TRY(s.ListClusters(ctx, BERTH_TRY(ReadPage(in)))), "clusterArns");
  });

  // ---- Task definitions
  // The definition is read by its own codec (ecs/task_definition_codec.h):
  // its wire form is also its record.
  svc.operations["RegisterTaskDefinition"] =
      [&ecs](const aws::RequestContext& ctx, std::string_view body) -> Result<std::string> {
    BERTH_CHECK(JsonReader::Parse(body));
    auto td = BERTH_TRY(ecs::TaskDefinitionFromRequest(body));
    auto registered = BERTH_TRY(ecs.RegisterTaskDefinition(ctx, std::move(td)));
    Json out = {{"taskDefinition", TaskDefinitionJson(registered)},
                {"tags", TagsJson(registered.tags)}};
    return json::Dump(out);
  };
  add("DeregisterTaskDefinition", [](ecs::Service& s, const aws::RequestContext& ctx,
                                     const JsonReader& in) -> Result<Json> {
    auto td = BERTH_TRY(s.DeregisterTaskDefinition(ctx, BERTH_TRY(in.String("taskDefinition"))));
    return Json{{"taskDefinition", TaskDefinitionJson(td)}};
  });
  add("DescribeTaskDefinition", [](ecs::Service& s, const aws::RequestContext& ctx,
                                   const JsonReader& in) -> Result<Json> {
    auto include = BERTH_TRY(in.StringsOr("include"));
    auto td = BERTH_TRY(s.DescribeTaskDefinition(ctx, BERTH_TRY(in.String("taskDefinition"))));
    Json out = {{"taskDefinition", TaskDefinitionJson(td)}};
    if (Includes(include, "TAGS")) out["tags"] = TagsJson(td.tags);
    return out;
  });
  add("ListTaskDefinitions", [](ecs::Service& s, const aws::RequestContext& ctx,
                                const JsonReader& in) -> Result<Json> {
    ecs::ListTaskDefinitionsRequest r;
    r.family_prefix = BERTH_TRY(in.StringOr("familyPrefix"));
    r.status = BERTH_TRY(in.StringOr("status", "ACTIVE"));
    std::string sort = BERTH_TRY(in.StringOr("sort", "ASC"));
    if (sort != "ASC" && sort != "DESC") {
      return Fail("InvalidParameterException", "sort must be ASC or DESC.");
    }
    r.descending = sort == "DESC";
    r.page = BERTH_TRY(ReadPage(in));
    return PageJson(BERTH_TRY(s.ListTaskDefinitions(ctx, r)), "taskDefinitionArns");
  });
  add("ListTaskDefinitionFamilies", [](ecs::Service& s, const aws::RequestContext& ctx,
                                       const JsonReader& in) -> Result<Json> {
    ecs::ListFamiliesRequest r;
    r.family_prefix = BERTH_TRY(in.StringOr("familyPrefix"));
    r.status = BERTH_TRY(in.StringOr("status", "ALL"));
    r.page = BERTH_TRY(ReadPage(in));
    return PageJson(BERTH_TRY(s.ListTaskDefinitionFamilies(ctx, r)), "families");
  });

  // ---- Container instances
  add("RegisterContainerInstance", [](ecs::Service& s, const aws::RequestContext& ctx,
                                      const JsonReader& in) -> Result<Json> {
    ecs::RegisterInstanceRequest r;
    r.cluster = BERTH_TRY(in.StringOr("cluster"));
    r.container_instance_arn = BERTH_TRY(in.StringOr("containerInstanceArn"));
    for (const auto& res : BERTH_TRY(in.ObjectsOr("totalResources"))) {
      ecs::Resource out;
      out.name = BERTH_TRY(res.StringOr("name"));
      out.type = BERTH_TRY(res.StringOr("type", "INTEGER"));
      if (out.type == "LONG") {
        out.integer_value = BERTH_TRY(res.OptionalInt("longValue")).value_or(0);
      } else {
        out.integer_value = BERTH_TRY(res.OptionalInt("integerValue")).value_or(0);
      }
      out.double_value = BERTH_TRY(res.OptionalDouble("doubleValue")).value_or(0);
      out.string_set = BERTH_TRY(res.StringsOr("stringSetValue"));
      r.total_resources.push_back(std::move(out));
    }
    for (const auto& a : BERTH_TRY(in.ObjectsOr("attributes"))) {
      r.attributes.push_back({BERTH_TRY(a.StringOr("name")), BERTH_TRY(a.OptionalString("value"))});
    }
    if (auto v = BERTH_TRY(in.OptionalObject("versionInfo"))) {
      r.version_info = {BERTH_TRY(v->StringOr("agentVersion")), BERTH_TRY(v->StringOr("agentHash")),
                        BERTH_TRY(v->StringOr("dockerVersion"))};
    }
    r.instance_identity_document = BERTH_TRY(in.StringOr("instanceIdentityDocument"));
    r.tags = BERTH_TRY(ReadTags(in));
    r.client_token = BERTH_TRY(in.StringOr("clientToken"));
    auto view = BERTH_TRY(s.RegisterContainerInstance(ctx, std::move(r)));
    return Json{{"containerInstance", InstanceJson(view, true)}};
  });
  add("DeregisterContainerInstance", [](ecs::Service& s, const aws::RequestContext& ctx,
                                        const JsonReader& in) -> Result<Json> {
    auto view = BERTH_TRY(s.DeregisterContainerInstance(
        ctx, BERTH_TRY(in.StringOr("cluster")), BERTH_TRY(in.String("containerInstance")),
        BERTH_TRY(in.BoolOr("force", false))));
    return Json{{"containerInstance", InstanceJson(view, false)}};
  });
  add("DescribeContainerInstances", [](ecs::Service& s, const aws::RequestContext& ctx,
                                       const JsonReader& in) -> Result<Json> {
    bool tags = Includes(BERTH_TRY(in.StringsOr("include")), "TAGS");
    auto [views, failures] = BERTH_TRY(s.DescribeContainerInstances(
        ctx, BERTH_TRY(in.StringOr("cluster")), BERTH_TRY(in.Strings("containerInstances"))));
    Json out = Json::array();
    for (const auto& v : views) out.push_back(InstanceJson(v, tags));
    return Json{{"containerInstances", std::move(out)}, {"failures", FailuresJson(failures)}};
  });
  add("ListContainerInstances", [](ecs::Service& s, const aws::RequestContext& ctx,
                                   const JsonReader& in) -> Result<Json> {
    return PageJson(BERTH_TRY(s.ListContainerInstances(
                        ctx, BERTH_TRY(in.StringOr("cluster")), BERTH_TRY(in.StringOr("filter")),
                        BERTH_TRY(in.StringOr("status")), BERTH_TRY(ReadPage(in)))),
                    "containerInstanceArns");
  });
  add("UpdateContainerInstancesState", [](ecs::Service& s, const aws::RequestContext& ctx,
                                          const JsonReader& in) -> Result<Json> {
    auto [views, failures] = BERTH_TRY(s.UpdateContainerInstancesState(
        ctx, BERTH_TRY(in.StringOr("cluster")), BERTH_TRY(in.Strings("containerInstances")),
        BERTH_TRY(in.String("status"))));
    Json out = Json::array();
    for (const auto& v : views) out.push_back(InstanceJson(v, false));
    return Json{{"containerInstances", std::move(out)}, {"failures", FailuresJson(failures)}};
  });

  add("PutAttributes", [](ecs::Service& s, const aws::RequestContext& ctx,
                          const JsonReader& in) -> Result<Json> {
    auto put = BERTH_TRY(s.PutAttributes(ctx, BERTH_TRY(in.StringOr("cluster")),
                                         BERTH_TRY(ReadTargetAttributes(in))));
    return Json{{"attributes", TargetAttributesJson(put)}};
  });
  add("DeleteAttributes", [](ecs::Service& s, const aws::RequestContext& ctx,
                             const JsonReader& in) -> Result<Json> {
    auto deleted = BERTH_TRY(s.DeleteAttributes(ctx, BERTH_TRY(in.StringOr("cluster")),
                                                BERTH_TRY(ReadTargetAttributes(in))));
    return Json{{"attributes", TargetAttributesJson(deleted)}};
  });
  add("ListAttributes", [](ecs::Service& s, const aws::RequestContext& ctx,
                           const JsonReader& in) -> Result<Json> {
    ecs::ListAttributesRequest r;
    r.cluster = BERTH_TRY(in.StringOr("cluster"));
    r.target_type = BERTH_TRY(in.String("targetType"));
    r.attribute_name = BERTH_TRY(in.StringOr("attributeName"));
    r.attribute_value = BERTH_TRY(in.OptionalString("attributeValue"));
    r.page = BERTH_TRY(ReadPage(in));
    auto page = BERTH_TRY(s.ListAttributes(ctx, r));
    Json out = {{"attributes", TargetAttributesJson(page.items)}};
    if (!page.next_token.empty()) out["nextToken"] = page.next_token;
    return out;
  });

  // ---- Tags
  add("TagResource", [](ecs::Service& s, const aws::RequestContext& ctx,
                        const JsonReader& in) -> Result<Json> {
    BERTH_TRY(in.Objects("tags"));  // required
    BERTH_CHECK(s.TagResource(ctx, BERTH_TRY(in.String("resourceArn")), BERTH_TRY(ReadTags(in))));
    return Json::object();
  });
  add("UntagResource", [](ecs::Service& s, const aws::RequestContext& ctx,
                          const JsonReader& in) -> Result<Json> {
    BERTH_CHECK(s.UntagResource(ctx, BERTH_TRY(in.String("resourceArn")),
                                BERTH_TRY(in.Strings("tagKeys"))));
    return Json::object();
  });
  add("ListTagsForResource", [](ecs::Service& s, const aws::RequestContext& ctx,
                                const JsonReader& in) -> Result<Json> {
    auto tags = BERTH_TRY(s.ListTagsForResource(ctx, BERTH_TRY(in.String("resourceArn"))));
    return Json{{"tags", TagsJson(tags)}};
  });

  // ---- Tasks
  add("RunTask", [](ecs::Service& s, const aws::RequestContext& ctx,
                    const JsonReader& in) -> Result<Json> {
    return RunTaskJson(BERTH_TRY(s.RunTask(ctx, BERTH_TRY(ReadRunTask(in)))));
  });
  add("StartTask", [](ecs::Service& s, const aws::RequestContext& ctx,
                      const JsonReader& in) -> Result<Json> {
    auto r = BERTH_TRY(ReadRunTask(in));
    if (r.container_instances.empty()) BERTH_TRY(in.Strings("containerInstances"));
    return RunTaskJson(BERTH_TRY(s.StartTask(ctx, std::move(r))));
  });
  add("StopTask", [](ecs::Service& s, const aws::RequestContext& ctx,
                     const JsonReader& in) -> Result<Json> {
    auto task = BERTH_TRY(s.StopTask(ctx, BERTH_TRY(in.StringOr("cluster")),
                                     BERTH_TRY(in.String("task")), BERTH_TRY(in.StringOr("reason"))));
    return Json{{"task", TaskJson(task, false)}};
  });
  add("DescribeTasks", [](ecs::Service& s, const aws::RequestContext& ctx,
                          const JsonReader& in) -> Result<Json> {
    bool tags = Includes(BERTH_TRY(in.StringsOr("include")), "TAGS");
    auto [tasks, failures] = BERTH_TRY(
        s.DescribeTasks(ctx, BERTH_TRY(in.StringOr("cluster")), BERTH_TRY(in.Strings("tasks"))));
    Json out = Json::array();
    for (const auto& t : tasks) out.push_back(TaskJson(t, tags));
    return Json{{"tasks", std::move(out)}, {"failures", FailuresJson(failures)}};
  });
  add("ListTasks", [](ecs::Service& s, const aws::RequestContext& ctx,
                      const JsonReader& in) -> Result<Json> {
    ecs::ListTasksRequest r;
    r.cluster = BERTH_TRY(in.StringOr("cluster"));
    r.container_instance = BERTH_TRY(in.StringOr("containerInstance"));
    r.family = BERTH_TRY(in.StringOr("family"));
    r.started_by = BERTH_TRY(in.StringOr("startedBy"));
    r.service_name = BERTH_TRY(in.StringOr("serviceName"));
    r.desired_status = BERTH_TRY(in.StringOr("desiredStatus"));
    r.launch_type = BERTH_TRY(in.StringOr("launchType"));
    r.page = BERTH_TRY(ReadPage(in));
    return PageJson(BERTH_TRY(s.ListTasks(ctx, r)), "taskArns");
  });

  // ---- Services
  auto changed = [poke = endpoints.services_changed] {
    if (poke) poke();
  };
  add("CreateService", [changed](ecs::Service& s, const aws::RequestContext& ctx,
                                 const JsonReader& in) -> Result<Json> {
    ecs::CreateServiceRequest r;
    r.cluster = BERTH_TRY(in.StringOr("cluster"));
    r.service_name = BERTH_TRY(in.String("serviceName"));
    r.task_definition = BERTH_TRY(in.StringOr("taskDefinition"));
    if (auto v = BERTH_TRY(in.OptionalInt("desiredCount"))) {
      r.desired_count = static_cast<int>(std::clamp<int64_t>(*v, -1, 1'000'000));
    }
    r.scheduling_strategy = BERTH_TRY(in.StringOr("schedulingStrategy"));
    r.launch_type = BERTH_TRY(in.StringOr("launchType"));
    r.platform_version = BERTH_TRY(in.StringOr("platformVersion"));
    if (auto dc = BERTH_TRY(ReadDeploymentConfiguration(in))) r.deployment_configuration = *dc;
    BERTH_CHECK(ReadPlacement(in, r.placement_constraints, r.placement_strategy));
    r.network_configuration = BERTH_TRY(ReadNetwork(in));
    r.tags = BERTH_TRY(ReadTags(in));
    r.propagate_tags = BERTH_TRY(in.StringOr("propagateTags"));
    r.enable_ecs_managed_tags = BERTH_TRY(in.BoolOr("enableECSManagedTags", false));
    r.client_token = BERTH_TRY(in.StringOr("clientToken"));
    auto view = BERTH_TRY(s.CreateService(ctx, std::move(r)));
    changed();
    return Json{{"service", ServiceJson(view, true)}};
  });
  add("UpdateService", [changed](ecs::Service& s, const aws::RequestContext& ctx,
                                 const JsonReader& in) -> Result<Json> {
    ecs::UpdateServiceRequest r;
    r.cluster = BERTH_TRY(in.StringOr("cluster"));
    r.service = BERTH_TRY(in.String("service"));
    if (auto v = BERTH_TRY(in.OptionalInt("desiredCount"))) {
      r.desired_count = static_cast<int>(std::clamp<int64_t>(*v, -1, 1'000'000));
    }
    r.task_definition = BERTH_TRY(in.StringOr("taskDefinition"));
    r.deployment_configuration = BERTH_TRY(ReadDeploymentConfiguration(in));
    r.network_configuration = BERTH_TRY(ReadNetwork(in));
    r.force_new_deployment = BERTH_TRY(in.BoolOr("forceNewDeployment", false));
    auto view = BERTH_TRY(s.UpdateService(ctx, std::move(r)));
    changed();
    return Json{{"service", ServiceJson(view, false)}};
  });
  add("DeleteService", [changed](ecs::Service& s, const aws::RequestContext& ctx,
                                 const JsonReader& in) -> Result<Json> {
    auto view = BERTH_TRY(s.DeleteService(ctx, BERTH_TRY(in.StringOr("cluster")),
                                          BERTH_TRY(in.String("service")),
                                          BERTH_TRY(in.BoolOr("force", false))));
    changed();
    return Json{{"service", ServiceJson(view, false)}};
  });
  add("DescribeServices", [](ecs::Service& s, const aws::RequestContext& ctx,
                             const JsonReader& in) -> Result<Json> {
    bool tags = Includes(BERTH_TRY(in.StringsOr("include")), "TAGS");
    auto [views, failures] = BERTH_TRY(s.DescribeServices(
        ctx, BERTH_TRY(in.StringOr("cluster")), BERTH_TRY(in.Strings("services"))));
    Json out = Json::array();
    for (const auto& v : views) out.push_back(ServiceJson(v, tags));
    return Json{{"services", std::move(out)}, {"failures", FailuresJson(failures)}};
  });
  add("ListServices", [](ecs::Service& s, const aws::RequestContext& ctx,
                         const JsonReader& in) -> Result<Json> {
    ecs::ListServicesRequest r;
    r.cluster = BERTH_TRY(in.StringOr("cluster"));
    r.launch_type = BERTH_TRY(in.StringOr("launchType"));
    r.scheduling_strategy = BERTH_TRY(in.StringOr("schedulingStrategy"));
    r.page = BERTH_TRY(ReadPage(in));
    return PageJson(BERTH_TRY(s.ListServices(ctx, r)), "serviceArns");
  });

  // ---- What the agent calls
  add("SubmitTaskStateChange", [](ecs::Service& s, const aws::RequestContext& ctx,
                                  const JsonReader& in) -> Result<Json> {
    ecs::TaskStateChange c;
    c.cluster = BERTH_TRY(in.StringOr("cluster"));
    c.task = BERTH_TRY(in.String("task"));
    c.status = BERTH_TRY(in.StringOr("status"));
    c.reason = BERTH_TRY(in.StringOr("reason"));
    for (const auto& cc : BERTH_TRY(in.ObjectsOr("containers"))) {
      c.containers.push_back(BERTH_TRY(ReadContainerChange(cc)));
    }
    c.pull_started_at = BERTH_TRY(ReadTime(in, "pullStartedAt"));
    c.pull_stopped_at = BERTH_TRY(ReadTime(in, "pullStoppedAt"));
    c.execution_stopped_at = BERTH_TRY(ReadTime(in, "executionStoppedAt"));
    c.private_ipv4 = BERTH_TRY(in.StringOr("privateIpv4Address"));
    return Json{{"acknowledgment", BERTH_TRY(s.SubmitTaskStateChange(ctx, c))}};
  });
  add("SubmitContainerStateChange", [](ecs::Service& s, const aws::RequestContext& ctx,
                                       const JsonReader& in) -> Result<Json> {
    ecs::TaskStateChange c;
    c.cluster = BERTH_TRY(in.StringOr("cluster"));
    c.task = BERTH_TRY(in.String("task"));
    c.containers.push_back(BERTH_TRY(ReadContainerChange(in)));
    return Json{{"acknowledgment",
                 BERTH_TRY(s.SubmitTaskStateChange(ctx, c, "ecs:SubmitContainerStateChange"))}};
  });
  add("DiscoverPollEndpoint", [endpoints](ecs::Service& s, const aws::RequestContext& ctx,
                                          const JsonReader& in) -> Result<Json> {
    BERTH_CHECK(s.DiscoverPollEndpoint(ctx, BERTH_TRY(in.StringOr("cluster")),
                                       BERTH_TRY(in.StringOr("containerInstance"))));
    std::string base = endpoints.base ? endpoints.base() : std::string();
    // The agent appends "/ws" to each: ACS at /ws, TCS at /tcs/ws.
    return Json{{"endpoint", base},
                {"telemetryEndpoint", base + "/tcs"},
                {"serviceConnectEndpoint", base}};
  });
  return svc;
}

namespace {

// Who runs the scheduler, as its election key shows it: host, process, and a
// random part (pids repeat across restarts and hosts).
std::string SchedulerHolder(Environment& env) {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return fmt::format("{}/{}/{}", host, getpid(), env.ids.Letters(8));
}

// ECS's module: the service, its routes, the loop that forgets stopped
// tasks after their retention, and the service scheduler's loop.
class EcsServiceModule final : public Module {
 public:
  explicit EcsServiceModule(Environment& env)
      : env_(env),
        ecs_(env.kv, env.access, env.iam, env.ids, env.clock,
             ecs::ServiceOptions{.agent_sessions = true,
             .registry_secret_check = [&secrets = env.services.Get<secrets::Service>()](
                                          const aws::RequestContext& as_role,
                                          const std::string& parameter) -> Status {
               auto value = secrets.GetSecretValue(as_role, {parameter, "", ""});
               if (!value) return Fail(value.error());
               // Only whether it could be read matters: forget the value now.
               explicit_bzero(value->value.data.data(), value->value.data.size());
               return {};
             },
             .platform_account = env.options.account_id}) {
    ecs_.AddTaskListener([this](const ecs::Task* previous, const ecs::Task& task) {
      if (acs_) acs_->OnTaskChange(previous, task);
      // A service's task changed state or health: its scheduler looks again soon.
      if (task.group.starts_with("service:") &&
          (!previous || previous->last_status != task.last_status ||
           previous->health_status != task.health_status)) {
        PokeScheduler();
      }
    });
  }

  std::string_view name() const override { return "ecs"; }

  void Register(aws::Gateway& gateway) override {
    gateway.Add(EcsRoutes(ecs_, EcsEndpoints{env_.endpoint, [this] { PokeScheduler(); }}));
    acs_ = std::make_unique<AcsSessions>(
        gateway, env_.access, env_.services.Get<sts::Service>(), env_.ids, env_.clock,
        AcsOptions{.heartbeat_interval = env_.options.acs_heartbeat_interval,
                   .refresh_before = env_.options.acs_refresh_before});
    acs_->SetService(&ecs_);
    tcs_ = std::make_unique<TcsSessions>(gateway, env_.ids);
    tcs_->SetService(&ecs_);
  }

  // ACS: GET /ws, the agents' sessions.
  void RegisterWebSockets(std::vector<http::WebSocketRoute>& routes) override {
    http::WebSocketRoute route;
    route.path = "/ws";
    route.upgrade = [this](const http::Request& request) { return acs_->Upgrade(request); };
    // Liveness both ways: the agent closes a session that hears nothing for a minute or
    // more; the server pings every heartbeat interval and closes a session that has sent
    // nothing (no ack, no pong) for three, so an agent whose host died or whose network went
    // away stops being offered tasks within about 1.5 min (30 s heartbeats).
    auto heartbeat = std::chrono::duration_cast<std::chrono::milliseconds>(
        env_.options.acs_heartbeat_interval);
    route.ping_interval = heartbeat;
    route.idle_timeout = 3 * heartbeat;
    routes.push_back(route);
    // TCS: GET /tcs/ws, what the agents report (container health).
    route.path = "/tcs/ws";
    route.upgrade = [this](const http::Request& request) { return tcs_->Upgrade(request); };
    routes.push_back(std::move(route));
  }

  Status Start() override {
    acs_->Start();
    sweeper_ = std::jthread([this](std::stop_token stop) {
      std::mutex mu;
      std::condition_variable_any cv;
      std::unique_lock lock(mu);
      while (!stop.stop_requested()) {
        cv.wait_for(lock, stop, std::chrono::seconds(60), [] { return false; });
        if (stop.stop_requested()) break;
        if (auto swept = ecs_.SweepStoppedTasks(env_.clock.Now()); !swept) {
          log::Warn("ecs: sweeping stopped tasks failed", {{"message", swept.error().message}});
        }
      }
    });
    // The service scheduler: a pass every second, or soon after a poke, on
    // the one server that holds the scheduler's lease (servers sharing a
    // store elect one; a server restarted on the same store waits out a dead
    // predecessor's lease, at most the TTL, while a cleanly stopped one
    // resigned).
    scheduler_ = std::jthread([this](std::stop_token stop) {
      std::unique_lock lock(scheduler_mu_);
      while (!stop.stop_requested()) {
        lock.unlock();
        SchedulerPass();
        lock.lock();
        scheduler_cv_.wait_for(lock, stop, std::chrono::seconds(1), [this] { return poked_; });
        poked_ = false;
      }
    });
    return {};
  }

  // One round of the election, then, when this server leads, the scheduler's
  // pass.
  void SchedulerPass() {
    bool was_leading = election_.leading();
    auto leading = election_.Campaign();
    if (!leading) {
      log::Warn("ecs: the service scheduler's election failed",
                {{"message", leading.error().message}});
      return;
    }
    if (*leading != was_leading) {
      if (*leading) {
        log::Info("ecs: this server runs the service scheduler", {{"holder", holder_}});
      } else {
        log::Warn("ecs: another server runs the service scheduler now",
                  {{"leader", election_.Leader().value_or("")}});
      }
    }
    if (!*leading) return;
    if (auto done = ecs_.ReconcileServices(env_.clock.Now()); !done) {
      log::Warn("ecs: the service scheduler failed", {{"message", done.error().message}});
    }
    if (auto placed = ecs_.PlaceWaitingFargateTasks(env_.clock.Now()); !placed) {
      log::Warn("ecs: placing FARGATE tasks waiting for capacity failed",
                {{"message", placed.error().message}});
    }
  }

  void Stop() override {
    if (acs_) acs_->Stop();
    if (tcs_) tcs_->Stop();
    sweeper_.request_stop();
    scheduler_.request_stop();
    if (sweeper_.joinable()) sweeper_.join();
    if (scheduler_.joinable()) scheduler_.join();
    // A successor (this server restarted) takes over at once.
    if (auto resigned = election_.Resign(); !resigned) {
      log::Warn("ecs: resigning the service scheduler's lease failed",
                {{"message", resigned.error().message}});
    }
  }

  void PokeScheduler() {
    {
      std::lock_guard lock(scheduler_mu_);
      poked_ = true;
    }
    scheduler_cv_.notify_one();
  }

  ecs::Service& service() { return ecs_; }

 private:
  Environment& env_;
  std::unique_ptr<AcsSessions> acs_;  // before ecs_: its callbacks read it
  std::unique_ptr<TcsSessions> tcs_;
  ecs::Service ecs_;
  std::jthread sweeper_;
  std::mutex scheduler_mu_;
  std::condition_variable_any scheduler_cv_;
  bool poked_ = false;
  const std::string holder_ = SchedulerHolder(env_);
  store::Election election_{env_.kv, {"leader/ecs-scheduler", holder_, std::chrono::seconds(10)}};
  std::jthread scheduler_;  // last: stopped before what it uses goes away
};

}  // namespace

Result<std::unique_ptr<Module>> EcsModule(Environment& env) {
  auto module = std::make_unique<EcsServiceModule>(env);
  env.services.Provide(module->service());
  return module;
}

}  // namespace berth::server
