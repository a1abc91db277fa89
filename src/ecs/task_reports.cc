// ECS: who may report a task's state (the agent of the instance it runs on).
#include <fmt/format.h>

#include "common/arn.h"
#include "ecs/service_impl.h"

namespace berth::ecs {

namespace {

Error Refuse(const aws::RequestContext& ctx, const Task& task, std::string_view action,
             std::string_view why) {
  return Error{"AccessDeniedException",
               fmt::format("User: {} is not authorized to perform: {} on resource: {} because {}",
                           ctx.caller.arn, action, task.arn, why)};
}

}  // namespace

ReportTarget ReportTargetOf(Service::Impl& impl, const aws::RequestContext& ctx,
                            const std::string& cluster) {
  ReportTarget target{ScopeOf(ctx), ClusterName(ScopeOf(ctx), cluster), {}};
  if (!target.cluster && target.scope.account == impl.options.platform_account &&
      !impl.options.platform_account.empty()) {
    auto arn = ParseArn(cluster);
    if (arn && arn->service == "ecs" && arn->region == target.scope.region &&
        arn->resource.starts_with("cluster/") && IsEcsName(arn->resource.substr(8))) {
      target.authorize_arn = impl.Arn(target.scope, fmt::format("cluster/{}", kFargatePoolCluster));
      target.scope.account = arn->account;
      target.cluster = arn->resource.substr(8);
      target.foreign = true;
      return target;
    }
  }
  target.authorize_arn =
      impl.Arn(target.scope, "cluster/" + (target.cluster ? *target.cluster : cluster));
  return target;
}

Status CheckReporterOf(Service::Impl& impl, const aws::RequestContext& ctx,
                       const ReportTarget& target, const ClusterIndex& index, const Task& task,
                       std::string_view action) {
  if (!task.pool) {
    if (target.foreign) {
      return Fail(Refuse(ctx, task, action,
                         "the task does not run on the platform's Fargate capacity pool"));
    }
    return CheckTaskReporter(ctx, index, task, action);
  }
  auto pool = impl.PoolIndex(target.scope.region);
  std::lock_guard lock(pool->mu);
  BERTH_CHECK(pool->Sync());
  return CheckTaskReporter(ctx, *pool, task, action);
}

Status CheckTaskReporter(const aws::RequestContext& ctx, const ClusterIndex& instances,
                         const Task& task, std::string_view action) {
  auto refuse = [&](std::string_view why) { return Fail(Refuse(ctx, task, action, why)); };
  if (task.container_instance_id.empty()) {
    return refuse("the task is not placed on a container instance: only the agent of the "
                  "instance a task runs on may report its state");
  }
  const auto* instance = instances.FindInstance(task.container_instance_id);
  if (!instance) return refuse("the container instance the task ran on no longer exists");
  const ContainerInstance& record = *instance->record;
  if (record.registered_by.empty() || record.registered_by == InstanceOwner(ctx.caller)) return {};
  return refuse(fmt::format("it is not the principal that registered container instance {}: only "
                            "that instance's agent may report the state of its tasks",
                            record.arn));
}

}  // namespace berth::ecs
