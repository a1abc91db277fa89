// ECS: services (CreateService, UpdateService, DeleteService,
// DescribeServices, ListServices). The scheduler that keeps their tasks is in
// service_scheduler.cc.
#include <fmt/format.h>

#include <algorithm>

#include "common/arn.h"
#include "ecs/run_token.h"
#include "ecs/service_impl.h"
#include "store/retry.h"

namespace berth::ecs {

namespace {

std::unexpected<Error> ServiceNotFound() {
  return Fail("ServiceNotFoundException", "Service not found.");
}

std::unexpected<Error> ServiceNotActive() {
  return Fail("ServiceNotActiveException", "Service was not ACTIVE.");
}

// "ecs-svc/" and 19 digits, as ECS names deployments.
std::string NewDeploymentId(Service::Impl& impl) {
  uint64_t v = 0;
  impl.ids.Fill(reinterpret_cast<uint8_t*>(&v), sizeof v);
  return fmt::format("ecs-svc/{:019d}", v % 10'000'000'000'000'000'000ULL);
}

Status AuthorizeService(Service::Impl& impl, const aws::RequestContext& ctx,
                        const std::string& action, const std::string& service_arn,
                        const std::string& cluster_arn, const std::string& td_arn = {}) {
  iam::ResourceContext res;
  res.condition_keys["ecs:cluster"] = {cluster_arn};
  if (!td_arn.empty()) res.condition_keys["ecs:task-definition"] = {td_arn};
  return impl.access.Authorize(ctx, action, service_arn, res);
}

// iam:PassRole for the roles a definition's tasks will get, as RunTask asks.
Status AuthorizeRoles(Service::Impl& impl, const aws::RequestContext& ctx,
                      const TaskDefinition& td) {
  BERTH_CHECK(impl.AuthorizePassRole(ctx, td.execution_role_arn));
  if (td.task_role_arn != td.execution_role_arn) {
    BERTH_CHECK(impl.AuthorizePassRole(ctx, td.task_role_arn));
  }
  return {};
}

// `given` over `into` (the service's current configuration, or the
// strategy's defaults), checked.
Status ApplyDeploymentConfiguration(const DeploymentConfigurationRequest& given,
                                    DeploymentConfiguration& into) {
  if (given.maximum_percent) into.maximum_percent = *given.maximum_percent;
  if (given.minimum_healthy_percent) into.minimum_healthy_percent = *given.minimum_healthy_percent;
  if (given.circuit_breaker_enable) into.circuit_breaker_enable = *given.circuit_breaker_enable;
  if (given.circuit_breaker_rollback) {
    into.circuit_breaker_rollback = *given.circuit_breaker_rollback;
  }
  if (into.minimum_healthy_percent < 0 || into.minimum_healthy_percent > 100) {
    return Fail("InvalidParameterException", "minimumHealthyPercent must be between 0 and 100.");
  }
  if (into.maximum_percent < 1 || into.maximum_percent < into.minimum_healthy_percent) {
    return Fail("InvalidParameterException",
                "maximumPercent must be greater than or equal to minimumHealthyPercent.");
  }
  return {};
}

Deployment NewDeployment(Service::Impl& impl, const EcsService& s, TimePoint now) {
  Deployment d;
  d.id = NewDeploymentId(impl);
  d.status = "PRIMARY";
  d.task_definition = s.task_definition;
  d.desired_count = s.desired_count;
  d.launch_type = s.launch_type;
  d.platform_version = s.platform_version;
  d.network_configuration = s.network_configuration;
  d.rollout_state = "IN_PROGRESS";
  d.rollout_state_reason = fmt::format("ECS deployment {} in progress.", d.id);
  d.created_at = d.updated_at = now;
  return d;
}

// What a request names: its cluster (or why not) and a service in it.
struct Named {
  Result<std::string> cluster;
  std::string cluster_arn;
  std::string name;  // "" : the reference names no service of this cluster
  std::string arn;   // the service's ARN, or the reference as given
};

Named NameOf(Service::Impl& impl, const Scope& scope, const std::string& cluster_ref,
             const std::string& service_ref) {
  Named out{ClusterName(scope, cluster_ref), "", "", ""};
  std::string cluster = out.cluster ? *out.cluster : cluster_ref;
  out.cluster_arn = impl.Arn(scope, "cluster/" + cluster);
  out.name = ServiceNameOf(scope, cluster, service_ref);
  out.arn = out.name.empty() ? service_ref
                             : impl.Arn(scope, fmt::format("service/{}/{}", cluster, out.name));
  return out;
}

bool SameNetwork(const std::optional<AwsvpcConfiguration>& a,
                 const std::optional<AwsvpcConfiguration>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->subnets == b->subnets && a->security_groups == b->security_groups &&
                a->assign_public_ip == b->assign_public_ip);
}

}  // namespace

RunTaskRequest DeploymentTasksRequest(const EcsService& s, const Deployment& d,
                                      const std::vector<Tag>& td_tags) {
  RunTaskRequest r;
  r.cluster = s.cluster;
  r.task_definition = d.task_definition;
  r.launch_type = d.launch_type;
  r.platform_version = d.platform_version;
  r.group = ServiceGroup(s.name);
  r.started_by = d.id;
  r.placement_constraints = s.placement_constraints;
  r.placement_strategy = s.placement_strategy;
  r.has_network_configuration = d.network_configuration.has_value();
  if (s.propagate_tags == "SERVICE") r.tags = s.tags;
  if (s.propagate_tags == "TASK_DEFINITION") r.tags = td_tags;
  return r;
}

std::string ServiceGroup(std::string_view service_name) {
  return fmt::format("service:{}", service_name);
}

std::string ServiceNameOf(const Scope& scope, const std::string& cluster,
                          const std::string& reference) {
  if (!LooksLikeArn(reference)) return IsEcsName(reference) ? reference : "";
  auto arn = ParseArn(reference);
  if (!arn || arn->service != "ecs" || arn->account != scope.account ||
      arn->region != scope.region) {
    return "";
  }
  std::string want = fmt::format("service/{}/", cluster);
  if (!arn->resource.starts_with(want)) return "";
  std::string name = arn->resource.substr(want.size());
  return IsEcsName(name) ? name : "";
}

Result<int> CountServices(Service::Impl& impl, const Scope& scope, const std::string& cluster,
                          bool draining) {
  auto range = BERTH_TRY(impl.kv.Range(ServicesPrefix(scope.account, scope.region, cluster)));
  int count = 0;
  for (const auto& kv : range.kvs) {
    auto s = BERTH_TRY(DecodeService(kv.value));
    count += s.status == "ACTIVE" || (draining && s.status == "DRAINING");
  }
  return count;
}

Result<std::optional<std::pair<EcsService, int64_t>>> Service::Impl::ReadService(
    const Scope& scope, const std::string& cluster, const std::string& name) {
  auto kv_value = BERTH_TRY(kv.Get(ServiceKey(scope.account, scope.region, cluster, name)));
  if (!kv_value) return std::optional<std::pair<EcsService, int64_t>>();
  auto service = BERTH_TRY(DecodeService(kv_value->value));
  return std::optional(std::pair(std::move(service), kv_value->mod_revision));
}

Result<EcsService> Service::Impl::MutateService(
    const Scope& scope, const std::string& cluster, const std::string& name,
    const std::function<Result<bool>(EcsService&)>& change) {
  std::string key = ServiceKey(scope.account, scope.region, cluster, name);
  return store::UntilCommitted<EcsService>(
      [&]() -> Result<std::optional<EcsService>> {
        auto found = BERTH_TRY(ReadService(scope, cluster, name));
        if (!found) return ServiceNotFound();
        EcsService s = std::move(found->first);
        if (!BERTH_TRY(change(s))) return std::optional(std::move(s));
        store::Txn txn;
        txn.compares.push_back({key, found->second});
        txn.ops.push_back(store::Op::Put(key, EncodeService(s)));
        auto result = BERTH_TRY(kv.Commit(txn));
        if (!result.succeeded) return std::optional<EcsService>();
        return std::optional(std::move(s));
      },
      {.what = "service"});
}

Result<ServiceView> Service::Impl::ViewOfService(const Scope& scope, EcsService service) {
  ServiceView view;
  std::erase_if(service.deployments, [](const Deployment& d) { return d.status == "INACTIVE"; });
  view.deployment_counts.resize(service.deployments.size());
  auto index = Index(scope, service.cluster);
  {
    std::lock_guard lock(index->mu);
    BERTH_CHECK(index->Sync());
    for (const auto& id : index->TasksInGroup(ServiceGroup(service.name))) {
      const Task& t = *index->FindTask(id)->record;
      bool running = t.last_status == "RUNNING";
      bool pending = IsPendingStatus(t.last_status);
      if (!running && !pending) continue;
      view.running_count += running;
      view.pending_count += pending;
      for (size_t i = 0; i < service.deployments.size(); ++i) {
        if (service.deployments[i].id != t.started_by) continue;
        view.deployment_counts[i].running += running;
        view.deployment_counts[i].pending += pending;
      }
    }
  }
  view.service = std::move(service);
  return view;
}

Result<ServiceView> Service::CreateService(const aws::RequestContext& ctx,
                                           CreateServiceRequest request) {
  Scope scope = ScopeOf(ctx);
  auto cluster = ClusterName(scope, request.cluster);
  std::string cluster_name = cluster ? *cluster : request.cluster;
  std::string cluster_arn = impl_->Arn(scope, "cluster/" + cluster_name);
  std::string arn =
      impl_->Arn(scope, fmt::format("service/{}/{}", cluster_name, request.service_name));
  if (!IsEcsName(request.service_name)) {
    return Fail("InvalidParameterException",
                "Service name must be 1-255 characters: letters (uppercase and lowercase), "
                "numbers, hyphens, and underscores.");
  }
  if (request.task_definition.empty()) {
    return Fail("InvalidParameterException", "taskDefinition can not be blank.");
  }
  auto td = impl_->ResolveTaskDefinition(scope, request.task_definition);
  if (!td) return Fail("ClientException", "TaskDefinition not found.");
  BERTH_CHECK(AuthorizeService(*impl_, ctx, "ecs:CreateService", arn, cluster_arn, td->arn));
  if (!request.tags.empty()) {
    BERTH_CHECK(AuthorizeService(*impl_, ctx, "ecs:TagResource", arn, cluster_arn));
  }
  BERTH_CHECK(AuthorizeRoles(*impl_, ctx, *td));
  if (!cluster) return Fail(cluster.error());
  BERTH_CHECK(ValidateClientToken(request.client_token));
  if (td->status != "ACTIVE") {
    return Fail("InvalidParameterException", "TaskDefinition is inactive");
  }

  EcsService s;
  s.name = request.service_name;
  s.arn = arn;
  s.cluster = *cluster;
  s.scheduling_strategy =
      request.scheduling_strategy.empty() ? "REPLICA" : request.scheduling_strategy;
  bool daemon = s.scheduling_strategy == "DAEMON";
  if (!daemon && s.scheduling_strategy != "REPLICA") {
    return Fail("InvalidParameterException",
                fmt::format("schedulingStrategy should be one of [REPLICA,DAEMON]: {}",
                            s.scheduling_strategy));
  }
  if (daemon) {
    if (request.desired_count) {
      return Fail("InvalidParameterException",
                  "The daemon scheduling strategy does not support a desired count for services.");
    }
    if (!request.placement_strategy.empty()) {
      return Fail("InvalidParameterException",
                  "The daemon scheduling strategy does not support placement strategies.");
    }
    if (request.launch_type == "FARGATE") {
      return Fail("InvalidParameterException",
                  "The daemon scheduling strategy does not support the FARGATE launch type.");
    }
    s.deployment_configuration.maximum_percent = 100;
    s.deployment_configuration.minimum_healthy_percent = 0;
  } else {
    if (!request.desired_count) {
      return Fail("InvalidParameterException",
                  "desiredCount is required for services with the REPLICA scheduling strategy.");
    }
    if (*request.desired_count < 0) {
      return Fail("InvalidParameterException", "desiredCount must be at least 0.");
    }
    s.desired_count = *request.desired_count;
  }
  BERTH_CHECK(
      ApplyDeploymentConfiguration(request.deployment_configuration, s.deployment_configuration));
  s.propagate_tags = request.propagate_tags.empty() ? "NONE" : request.propagate_tags;
  if (s.propagate_tags != "NONE" && s.propagate_tags != "SERVICE" &&
      s.propagate_tags != "TASK_DEFINITION") {
    return Fail("InvalidParameterException",
                fmt::format("propagateTags should be one of [TASK_DEFINITION,SERVICE,NONE]: {}",
                            s.propagate_tags));
  }
  BERTH_CHECK(ValidateTags(request.tags));
  s.task_definition = td->arn;
  s.launch_type = request.launch_type.empty() ? "EC2" : request.launch_type;
  s.platform_version = request.platform_version;
  if (s.launch_type == "FARGATE" && s.platform_version.empty()) s.platform_version = "LATEST";
  s.placement_constraints = std::move(request.placement_constraints);
  s.placement_strategy = std::move(request.placement_strategy);
  s.network_configuration = std::move(request.network_configuration);
  s.tags = std::move(request.tags);
  s.enable_ecs_managed_tags = request.enable_ecs_managed_tags;
  s.client_token = request.client_token;
  s.created_by = ctx.caller.arn;
  s.created_at = ctx.now;
  s.deployments.push_back(NewDeployment(*impl_, s, ctx.now));
  BERTH_CHECK(CheckServiceTasks(*impl_, ctx, DeploymentTasksRequest(s, s.deployments[0], {})));

  // The cluster index's lock orders this against DeleteCluster in this
  // process; the commit is conditioned on the cluster and service records.
  auto index = impl_->Index(scope, s.cluster);
  std::string key = ServiceKey(scope.account, scope.region, s.cluster, s.name);
  std::string cluster_key = ClusterKey(scope.account, scope.region, s.cluster);
  std::unique_lock lock(index->mu);
  auto created = BERTH_TRY(store::UntilCommitted<EcsService>(
      [&]() -> Result<std::optional<EcsService>> {
        auto found_cluster = BERTH_TRY(impl_->ReadCluster(scope, s.cluster));
        if (!found_cluster || found_cluster->first.status != "ACTIVE") {
          return Fail("ClusterNotFoundException", "Cluster not found.");
        }
        auto existing = BERTH_TRY(impl_->ReadService(scope, s.cluster, s.name));
        if (existing && existing->first.status != "INACTIVE") {
          if (!s.client_token.empty() && existing->first.client_token == s.client_token) {
            return std::optional(std::move(existing->first));  // a retry
          }
          return Fail("InvalidParameterException", "Creation of service was not idempotent.");
        }
        store::Txn txn;
        txn.compares.push_back({cluster_key, found_cluster->second});
        txn.compares.push_back({key, existing ? existing->second : 0});
        txn.ops.push_back(store::Op::Put(key, EncodeService(s)));
        auto result = BERTH_TRY(impl_->kv.Commit(txn));
        if (!result.succeeded) return std::optional<EcsService>();
        return std::optional(s);
      },
      {.what = "service"}));
  lock.unlock();  // the view takes it again
  return impl_->ViewOfService(scope, std::move(created));
}

Result<ServiceView> Service::UpdateService(const aws::RequestContext& ctx,
                                           UpdateServiceRequest request) {
  Scope scope = ScopeOf(ctx);
  auto [cluster, cluster_arn, name, arn] = NameOf(*impl_, scope, request.cluster, request.service);
  std::optional<TaskDefinition> td;
  if (!request.task_definition.empty()) {
    auto resolved = impl_->ResolveTaskDefinition(scope, request.task_definition);
    if (!resolved) return Fail("ClientException", "TaskDefinition not found.");
    td = std::move(*resolved);
  }
  BERTH_CHECK(AuthorizeService(*impl_, ctx, "ecs:UpdateService", arn, cluster_arn,
                               td ? td->arn : std::string()));
  if (td) BERTH_CHECK(AuthorizeRoles(*impl_, ctx, *td));
  if (!cluster) return Fail(cluster.error());
  BERTH_CHECK(impl_->ActiveCluster(scope, *cluster));
  if (name.empty()) return ServiceNotFound();
  if (request.desired_count && *request.desired_count < 0) {
    return Fail("InvalidParameterException", "desiredCount must be at least 0.");
  }
  if (td && td->status != "ACTIVE") {
    return Fail("InvalidParameterException", "TaskDefinition is inactive");
  }
  auto updated =
      BERTH_TRY(impl_->MutateService(scope, *cluster, name, [&](EcsService& s) -> Result<bool> {
        if (s.status != "ACTIVE") return ServiceNotActive();
        bool daemon = s.scheduling_strategy == "DAEMON";
        if (request.desired_count) {
          if (daemon) {
            return Fail("InvalidParameterException",
                        "The daemon scheduling strategy does not support a desired count for "
                        "services.");
          }
          s.desired_count = *request.desired_count;
        }
        if (request.deployment_configuration) {
          BERTH_CHECK(ApplyDeploymentConfiguration(*request.deployment_configuration,
                                                   s.deployment_configuration));
        }
        bool redeploy = request.force_new_deployment;
        if (td && td->arn != s.task_definition) {
          s.task_definition = td->arn;
          redeploy = true;
        }
        if (request.network_configuration &&
            !SameNetwork(request.network_configuration, s.network_configuration)) {
          s.network_configuration = request.network_configuration;
          redeploy = true;
        }
        s.steady = false;
        if (!redeploy) {
          for (auto& d : s.deployments) {
            if (d.status == "PRIMARY" && !daemon) d.desired_count = s.desired_count;
          }
          return true;
        }
        Deployment next = NewDeployment(*impl_, s, ctx.now);
        BERTH_CHECK(CheckServiceTasks(*impl_, ctx, DeploymentTasksRequest(s, next, {})));
        // The previous deployments drain (the last PRIMARY is now the rollback target).
        for (auto& d : s.deployments) {
          if (d.status == "PRIMARY") d.status = "ACTIVE";
        }
        std::erase_if(s.deployments, [](const Deployment& d) { return d.status == "INACTIVE"; });
        s.deployments.insert(s.deployments.begin(), std::move(next));
        return true;
      }));
  return impl_->ViewOfService(scope, std::move(updated));
}

Result<ServiceView> Service::DeleteService(const aws::RequestContext& ctx,
                                           const std::string& cluster_ref,
                                           const std::string& service, bool force) {
  Scope scope = ScopeOf(ctx);
  auto [cluster, cluster_arn, name, arn] = NameOf(*impl_, scope, cluster_ref, service);
  BERTH_CHECK(AuthorizeService(*impl_, ctx, "ecs:DeleteService", arn, cluster_arn));
  if (!cluster) return Fail(cluster.error());
  BERTH_CHECK(impl_->ActiveCluster(scope, *cluster));
  if (name.empty()) return ServiceNotFound();
  auto deleted =
      BERTH_TRY(impl_->MutateService(scope, *cluster, name, [&](EcsService& s) -> Result<bool> {
        if (s.status != "ACTIVE") return ServiceNotActive();
        // A DAEMON service's count is the scheduler's, not the user's to scale.
        if (s.scheduling_strategy == "REPLICA" && s.desired_count > 0 && !force) {
          return Fail("InvalidParameterException",
                      "The service cannot be stopped while it is scaled above 0.");
        }
        s.status = "DRAINING";
        s.desired_count = 0;
        s.steady = false;
        for (auto& d : s.deployments) {
          if (d.status == "PRIMARY") d.desired_count = 0;
        }
        return true;
      }));
  return impl_->ViewOfService(scope, std::move(deleted));
}

Result<std::pair<std::vector<ServiceView>, std::vector<Failure>>> Service::DescribeServices(
    const aws::RequestContext& ctx, const std::string& cluster_ref,
    const std::vector<std::string>& services) {
  Scope scope = ScopeOf(ctx);
  if (services.empty() || services.size() > 10) {
    return Fail("InvalidParameterException", "services must list between 1 and 10 services.");
  }
  std::vector<std::pair<std::string, std::string>> wanted;  // (name, arn)
  Result<std::string> cluster = ClusterName(scope, cluster_ref);
  for (const auto& ref : services) {
    Named named = NameOf(*impl_, scope, cluster_ref, ref);
    BERTH_CHECK(
        AuthorizeService(*impl_, ctx, "ecs:DescribeServices", named.arn, named.cluster_arn));
    wanted.emplace_back(std::move(named.name), std::move(named.arn));
  }
  if (!cluster) return Fail(cluster.error());
  BERTH_CHECK(impl_->ActiveCluster(scope, *cluster));
  std::pair<std::vector<ServiceView>, std::vector<Failure>> out;
  for (const auto& [name, arn] : wanted) {
    auto found = name.empty() ? std::nullopt : BERTH_TRY(impl_->ReadService(scope, *cluster, name));
    if (!found) {
      out.second.push_back({arn, "MISSING", ""});
      continue;
    }
    out.first.push_back(BERTH_TRY(impl_->ViewOfService(scope, std::move(found->first))));
  }
  return out;
}

Result<Page<std::string>> Service::ListServices(const aws::RequestContext& ctx,
                                                const ListServicesRequest& request) {
  Scope scope = ScopeOf(ctx);
  auto cluster = ClusterName(scope, request.cluster);
  std::string cluster_arn = impl_->Arn(scope, "cluster/" + (cluster ? *cluster : request.cluster));
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:ListServices", "*", cluster_arn));
  if (!cluster) return Fail(cluster.error());
  PageRequest page = request.page;
  if (!page.max_results) page.max_results = 10;
  size_t limit = 0;
  std::string start = BERTH_TRY(PageStart(page, limit));
  BERTH_CHECK(impl_->ActiveCluster(scope, *cluster));
  std::string prefix = ServicesPrefix(scope.account, scope.region, *cluster);
  auto range = BERTH_TRY(impl_->kv.Range(prefix, start.empty() ? "" : prefix + start));
  Page<std::string> out;
  for (const auto& kv : range.kvs) {
    auto s = BERTH_TRY(DecodeService(kv.value));
    if (s.status == "INACTIVE") continue;
    if (!request.launch_type.empty() && s.launch_type != request.launch_type) continue;
    if (!request.scheduling_strategy.empty() &&
        s.scheduling_strategy != request.scheduling_strategy) {
      continue;
    }
    if (out.items.size() == limit) {
      out.next_token = PageToken(out.items.back().substr(out.items.back().rfind('/') + 1));
      break;
    }
    out.items.push_back(s.arn);
  }
  return out;
}

}  // namespace berth::ecs
