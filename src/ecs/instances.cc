// ECS: container instances (RegisterContainerInstance and what reads them).
#include <fmt/format.h>

#include <algorithm>

#include "common/arn.h"
#include "common/json.h"
#include "ecs/query_language.h"
#include "ecs/service_impl.h"

namespace berth::ecs {

// The principal a container instance belongs to: an IAM user or root by unique id (a user
// deleted and re-created is another), a role's sessions by the role's unique id (an agent's
// credentials are renewed under new session names), a federated user by its IAM user.
std::string InstanceOwner(const aws::Principal& p) {
  switch (p.kind) {
    case aws::Principal::Kind::kAssumedRole:
      return p.user_id.substr(0, p.user_id.find(':'));
    case aws::Principal::Kind::kFederatedUser:
      return p.parent_id;
    default:
      return p.user_id;
  }
}

// Only the principal that registered an instance may register it again or poll for its tasks:
// ecs:Poll on "*" (what the ECS agent's managed policy grants) must not let one agent take over
// another's session and receive its tasks' credentials. Instances registered before berth kept
// the owner have none and are not bound.
static Status CheckInstanceOwner(const aws::RequestContext& ctx,
                                 const ContainerInstance& instance) {
  if (instance.registered_by.empty() || instance.registered_by == InstanceOwner(ctx.caller)) {
    return {};
  }
  return Fail("AccessDeniedException",
              fmt::format("{} is not the principal that registered container instance {}: only it "
                          "may register the instance again or poll for its tasks.",
                          ctx.caller.arn, instance.arn));
}

namespace {

constexpr size_t kMaxAttributes = 500;  // registration sends ~40 capability attributes

bool IsAttributeNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '/' || c == '\\' || c == '.';
}

}  // namespace

Status ValidateAttribute(const Attribute& a) {
  if (a.name.empty() || a.name.size() > 128 ||
      !std::all_of(a.name.begin(), a.name.end(), IsAttributeNameChar)) {
    return Fail("InvalidParameterException",
                fmt::format("Attribute name '{}' is not valid: 1-128 letters, numbers, hyphens, "
                            "underscores, periods, and forward or back slashes.",
                            a.name.substr(0, 128)));
  }
  if (a.value) {
    const std::string& v = *a.value;
    bool chars_ok = std::all_of(v.begin(), v.end(), [](char c) {
      return IsAttributeNameChar(c) || c == '@' || c == ':' || c == ' ';
    });
    if (v.empty() || v.size() > 128 || !chars_ok || v.front() == ' ' || v.back() == ' ') {
      return Fail("InvalidParameterException",
                  fmt::format("Attribute value for '{}' is not valid: 1-128 letters, numbers, "
                              "hyphens, underscores, periods, at signs, colons, slashes and "
                              "inner spaces.",
                              a.name));
    }
  }
  return {};
}

namespace {

Status ValidateResources(const std::vector<Resource>& resources) {
  for (const auto& r : resources) {
    if (r.type != "INTEGER" && r.type != "DOUBLE" && r.type != "LONG" && r.type != "STRINGSET") {
      return Fail("InvalidParameterException",
                  fmt::format("Resource '{}' has an invalid type '{}'.", r.name, r.type));
    }
    if ((r.name == "CPU" || r.name == "MEMORY") && (r.type != "INTEGER" || r.integer_value < 0)) {
      return Fail("InvalidParameterException",
                  fmt::format("Resource '{}' must be a non-negative INTEGER.", r.name));
    }
    if ((r.name == "PORTS" || r.name == "PORTS_UDP") && r.type != "STRINGSET") {
      return Fail("InvalidParameterException",
                  fmt::format("Resource '{}' must be a STRINGSET.", r.name));
    }
  }
  return {};
}

std::string Ec2InstanceId(const std::string& document, const std::string& id) {
  if (!document.empty()) {
    auto parsed = json::ParseObject(document);
    if (parsed) {
      auto it = parsed->find("instanceId");
      if (it != parsed->end() && it->is_string()) return it->get<std::string>();
    }
  }
  return "i-" + id.substr(0, 17);
}

std::vector<std::string> PortStrings(const std::set<PortNeed>& reserved,
                                     const std::multiset<PortNeed>& used, bool udp) {
  std::set<int> ports;
  for (const auto& p : reserved) {
    if (p.udp == udp) ports.insert(p.port);
  }
  for (const auto& p : used) {
    if (p.udp == udp) ports.insert(p.port);
  }
  std::vector<std::string> out;
  for (int p : ports) out.push_back(std::to_string(p));
  return out;
}

}  // namespace

Result<const ClusterIndex::InstanceState*> Service::Impl::CommitInstance(
    const Scope& scope, ClusterIndex& index, ContainerInstance instance, int64_t revision) {
  if (revision != 0) instance.version += 1;
  std::string key = InstanceKey(scope.account, scope.region, instance.cluster, instance.id);
  store::Txn txn;
  txn.compares.push_back({key, revision});
  txn.ops.push_back(store::Op::Put(key, EncodeInstance(instance)));
  auto result = BERTH_TRY(kv.Commit(txn));
  if (!result.succeeded) {
    // Another process changed it; the index catches up on its next Sync.
    return Fail("ThrottlingException", "The container instance changed; retry.");
  }
  std::string id = instance.id;
  index.ApplyInstance(std::make_shared<const ContainerInstance>(std::move(instance)),
                      result.revision);
  return index.FindInstance(id);
}

InstanceView Service::Impl::ViewOf(const ClusterIndex::InstanceState& state) const {
  InstanceView view;
  view.instance = *state.record;
  view.agent_connected = state.record->status != "INACTIVE" && state.facts->agent_connected;
  view.running_tasks_count = state.facts->running_tasks_count;
  view.pending_tasks_count = state.pending;
  for (const auto& r : state.record->registered_resources) {
    Resource remaining = r;
    if (r.name == "CPU") remaining.integer_value = r.integer_value - state.used_cpu;
    if (r.name == "MEMORY") remaining.integer_value = r.integer_value - state.used_memory;
    if (r.name == "PORTS") remaining.string_set = PortStrings(state.reserved_ports, state.used_ports, false);
    if (r.name == "PORTS_UDP") {
      remaining.string_set = PortStrings(state.reserved_ports, state.used_ports, true);
    }
    view.remaining_resources.push_back(std::move(remaining));
  }
  return view;
}

Result<InstanceView> Service::RegisterContainerInstance(const aws::RequestContext& ctx,
                                                        RegisterInstanceRequest request) {
  Scope scope = ScopeOf(ctx);
  auto name = ClusterName(scope, request.cluster);
  std::string cluster_arn = impl_->Arn(scope, "cluster/" + (name ? *name : request.cluster));
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:RegisterContainerInstance", cluster_arn, cluster_arn));
  if (!name) return Fail(name.error());
  BERTH_CHECK(impl_->ActiveCluster(scope, *name));
  if (request.attributes.size() > kMaxAttributes) {
    return Fail("AttributeLimitExceededException",
                fmt::format("At most {} attributes can be registered.", kMaxAttributes));
  }
  for (const auto& a : request.attributes) BERTH_CHECK(ValidateAttribute(a));
  // Fargate capacity belongs to the platform: it registers into the pool, and only it does.
  bool fargate = std::any_of(request.attributes.begin(), request.attributes.end(),
                             [](const Attribute& a) { return a.name == kFargateAttribute; });
  if (fargate != impl_->IsPool(scope, *name)) {
    return Fail("InvalidParameterException",
                fargate ? fmt::format("Fargate capacity ({}) registers only into the platform's "
                                      "pool: cluster {} of the platform's account.",
                                      kFargateAttribute, kFargatePoolCluster)
                        : fmt::format("Cluster {} is the platform's Fargate capacity pool: only "
                                      "instances with the attribute {} (berth agent --fargate) "
                                      "register into it.",
                                      *name, kFargateAttribute));
  }
  BERTH_CHECK(ValidateResources(request.total_resources));
  BERTH_CHECK(ValidateTags(request.tags));
  if (!request.tags.empty()) {
    BERTH_CHECK(impl_->Authorize(ctx, "ecs:TagResource", cluster_arn, cluster_arn));
  }

  auto index = impl_->Index(scope, *name);
  std::lock_guard lock(index->mu);
  BERTH_CHECK(index->Sync());
  std::shared_ptr<const ContainerInstance> existing;
  int64_t existing_revision = 0;
  if (!request.container_instance_arn.empty()) {
    std::string id = ResourceId(scope, *name, "container-instance", request.container_instance_arn);
    const auto* state = id.empty() ? nullptr : index->FindInstance(id);
    if (!state) {
      return Fail("InvalidParameterException",
                  "The referenced container instance was not found in this cluster.");
    }
    if (state->record->status == "INACTIVE") {
      return Fail("ClientException", "The referenced container instance is inactive.");
    }
    BERTH_CHECK(CheckInstanceOwner(ctx, *state->record));
    existing = state->record;
    existing_revision = state->mod_revision;
  } else if (!request.client_token.empty()) {
    for (const auto& [_, state] : index->instances()) {
      if (state.record->client_token == request.client_token &&
          state.record->status != "INACTIVE") {
        return impl_->ViewOf(state);  // a retried registration
      }
    }
  }

  ContainerInstance instance;
  if (existing) {
    instance = *existing;
  } else {
    instance.id = impl_->NewId();
    instance.arn = impl_->Arn(scope, fmt::format("container-instance/{}/{}", *name, instance.id));
    instance.cluster = *name;
    instance.ec2_instance_id = Ec2InstanceId(request.instance_identity_document, instance.id);
    instance.registered_at = ctx.now;
    instance.tags = request.tags;
    instance.client_token = request.client_token;
    instance.registered_by = InstanceOwner(ctx.caller);
  }
  instance.status = "ACTIVE";
  instance.status_reason.clear();
  instance.registered_resources = std::move(request.total_resources);
  // The agent sends its custom attributes (ECS_INSTANCE_ATTRIBUTES) only when it
  // first registers: those and PutAttributes' survive a re-registration.
  std::vector<Attribute> kept;
  for (const auto& a : instance.attributes) {
    bool sent = std::any_of(request.attributes.begin(), request.attributes.end(),
                            [&](const Attribute& r) { return r.name == a.name; });
    if (!sent && !IsAgentAttribute(a.name)) kept.push_back(a);
  }
  instance.attributes = std::move(request.attributes);
  instance.attributes.insert(instance.attributes.end(), kept.begin(), kept.end());
  instance.version_info = std::move(request.version_info);
  const auto* state =
      BERTH_TRY(impl_->CommitInstance(scope, *index, std::move(instance), existing_revision));
  return impl_->ViewOf(*state);
}


Result<InstanceView> Service::DeregisterContainerInstance(const aws::RequestContext& ctx,
                                                          const std::string& cluster,
                                                          const std::string& reference,
                                                          bool force) {
  Scope scope = ScopeOf(ctx);
  auto name = ClusterName(scope, cluster);
  std::string cluster_arn = impl_->Arn(scope, "cluster/" + (name ? *name : cluster));
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:DeregisterContainerInstance", cluster_arn, cluster_arn));
  if (!name) return Fail(name.error());
  BERTH_CHECK(impl_->ActiveCluster(scope, *name));
  auto index = impl_->Index(scope, *name);
  std::lock_guard lock(index->mu);
  BERTH_CHECK(index->Sync());
  std::string id = ResourceId(scope, *name, "container-instance", reference);
  const auto* state = id.empty() ? nullptr : index->FindInstance(id);
  if (!state || state->record->status == "INACTIVE") {
    return Fail("InvalidParameterException", "The referenced container instance was not found.");
  }
  if (!force && (state->facts->running_tasks_count + state->pending) > 0) {
    return Fail("InvalidParameterException",
                "Found running tasks on the instance; deregister with force to leave them running "
                "without a container instance.");
  }
  ContainerInstance instance = *state->record;
  instance.status = "INACTIVE";
  state = BERTH_TRY(impl_->CommitInstance(scope, *index, std::move(instance), state->mod_revision));
  return impl_->ViewOf(*state);
}

Result<std::pair<std::vector<InstanceView>, std::vector<Failure>>>
Service::DescribeContainerInstances(const aws::RequestContext& ctx, const std::string& cluster,
                                    const std::vector<std::string>& references) {
  Scope scope = ScopeOf(ctx);
  auto name = ClusterName(scope, cluster);
  std::string cluster_arn = impl_->Arn(scope, "cluster/" + (name ? *name : cluster));
  if (references.empty() || references.size() > 100) {
    return Fail("InvalidParameterException",
                "containerInstances must list between 1 and 100 container instances.");
  }
  if (!name) return Fail(name.error());
  std::pair<std::vector<InstanceView>, std::vector<Failure>> out;
  auto index = impl_->Index(scope, *name);
  for (const auto& ref : references) {
    std::string id = ResourceId(scope, *name, "container-instance", ref);
    std::string arn =
        id.empty() ? ref : impl_->Arn(scope, fmt::format("container-instance/{}/{}", *name, id));
    BERTH_CHECK(impl_->Authorize(ctx, "ecs:DescribeContainerInstances", arn, cluster_arn));
  }
  BERTH_CHECK(impl_->ActiveCluster(scope, *name));
  std::lock_guard lock(index->mu);
  BERTH_CHECK(index->Sync());
  for (const auto& ref : references) {
    std::string id = ResourceId(scope, *name, "container-instance", ref);
    const auto* state = id.empty() ? nullptr : index->FindInstance(id);
    if (!state) {
      out.second.push_back({id.empty() ? ref
                                       : impl_->Arn(scope, fmt::format("container-instance/{}/{}",
                                                                       *name, id)),
                            "MISSING", ""});
      continue;
    }
    out.first.push_back(impl_->ViewOf(*state));
  }
  return out;
}

Result<Page<std::string>> Service::ListContainerInstances(const aws::RequestContext& ctx,
                                                          const std::string& cluster,
                                                          const std::string& filter,
                                                          const std::string& status,
                                                          const PageRequest& page) {
  Scope scope = ScopeOf(ctx);
  auto name = ClusterName(scope, cluster);
  std::string cluster_arn = impl_->Arn(scope, "cluster/" + (name ? *name : cluster));
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:ListContainerInstances", cluster_arn, cluster_arn));
  if (!name) return Fail(name.error());
  static const std::set<std::string, std::less<>> kStatuses = {
      "ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED"};
  if (!status.empty() && !kStatuses.contains(status)) {
    return Fail("InvalidParameterException", fmt::format("Invalid status: {}", status));
  }
  std::optional<QueryExpression> expression;
  if (!filter.empty()) expression = BERTH_TRY(QueryExpression::Parse(filter));
  size_t limit = 0;
  std::string start = BERTH_TRY(PageStart(page, limit));
  BERTH_CHECK(impl_->ActiveCluster(scope, *name));
  auto index = impl_->Index(scope, *name);
  std::lock_guard lock(index->mu);
  BERTH_CHECK(index->Sync());
  Page<std::string> out;
  for (auto it = index->instances().upper_bound(start); it != index->instances().end(); ++it) {
    const auto& state = it->second;
    const std::string& s = state.record->status;
    if (status.empty() ? s == "INACTIVE" : s != status) continue;
    if (expression &&
        !expression->Matches(*state.facts)) {
      continue;
    }
    if (out.items.size() == limit) {
      out.next_token = PageToken(std::prev(it)->first);
      break;
    }
    out.items.push_back(state.record->arn);
  }
  return out;
}

Result<std::pair<std::vector<InstanceView>, std::vector<Failure>>>
Service::UpdateContainerInstancesState(const aws::RequestContext& ctx, const std::string& cluster,
                                       const std::vector<std::string>& references,
                                       const std::string& status) {
  Scope scope = ScopeOf(ctx);
  auto name = ClusterName(scope, cluster);
  std::string cluster_arn = impl_->Arn(scope, "cluster/" + (name ? *name : cluster));
  if (!name) return Fail(name.error());
  for (const auto& ref : references) {
    std::string id = ResourceId(scope, *name, "container-instance", ref);
    std::string arn =
        id.empty() ? ref : impl_->Arn(scope, fmt::format("container-instance/{}/{}", *name, id));
    BERTH_CHECK(impl_->Authorize(ctx, "ecs:UpdateContainerInstancesState", arn, cluster_arn));
  }
  if (status != "ACTIVE" && status != "DRAINING") {
    return Fail("InvalidParameterException",
                "Container instances status should be one of [ACTIVE,DRAINING]");
  }
  if (references.empty() || references.size() > 10) {
    return Fail("InvalidParameterException",
                "containerInstances must list between 1 and 10 container instances.");
  }
  BERTH_CHECK(impl_->ActiveCluster(scope, *name));
  auto index = impl_->Index(scope, *name);
  std::lock_guard lock(index->mu);
  BERTH_CHECK(index->Sync());
  std::pair<std::vector<InstanceView>, std::vector<Failure>> out;
  for (const auto& ref : references) {
    std::string id = ResourceId(scope, *name, "container-instance", ref);
    const auto* state = id.empty() ? nullptr : index->FindInstance(id);
    if (!state || state->record->status == "INACTIVE") {
      out.second.push_back({ref, "MISSING", ""});
      continue;
    }
    if (state->record->status != status) {
      ContainerInstance instance = *state->record;
      instance.status = status;
      state = BERTH_TRY(
          impl_->CommitInstance(scope, *index, std::move(instance), state->mod_revision));
    }
    out.first.push_back(impl_->ViewOf(*state));
  }
  return out;
}

Result<InstanceView> Service::AuthorizePoll(const aws::RequestContext& ctx,
                                            const std::string& cluster,
                                            const std::string& reference,
                                            std::string_view action) {
  Scope scope = ScopeOf(ctx);
  auto name = ClusterName(scope, cluster);
  std::string cluster_arn = impl_->Arn(scope, "cluster/" + (name ? *name : cluster));
  std::string id = name ? ResourceId(scope, *name, "container-instance", reference) : "";
  std::string arn =
      id.empty() ? reference : impl_->Arn(scope, fmt::format("container-instance/{}/{}", *name, id));
  BERTH_CHECK(impl_->Authorize(ctx, std::string(action), arn, cluster_arn));
  if (!name || !impl_->ActiveCluster(scope, *name)) {
    return Fail("InvalidClusterException", "The cluster is not valid.");
  }
  auto index = impl_->Index(scope, *name);
  std::lock_guard lock(index->mu);
  BERTH_CHECK(index->Sync());
  const auto* state = id.empty() ? nullptr : index->FindInstance(id);
  if (!state) return Fail("InvalidInstanceException", "The container instance is not valid.");
  if (state->record->status == "INACTIVE") {
    return Fail("InactiveInstanceException", "The container instance is inactive.");
  }
  BERTH_CHECK(CheckInstanceOwner(ctx, *state->record));
  return impl_->ViewOf(*state);
}

}  // namespace berth::ecs
