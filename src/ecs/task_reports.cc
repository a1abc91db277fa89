// ECS: who may report a task's state (the agent of the instance it runs on).
#include <fmt/format.h>

#include "ecs/service_impl.h"

namespace berth::ecs {

Status CheckTaskReporter(const aws::RequestContext& ctx, const ClusterIndex& index,
                         const Task& task, std::string_view action) {
  auto refuse = [&](std::string_view why) {
    return Fail("AccessDeniedException",
                fmt::format("User: {} is not authorized to perform: {} on resource: {} because {}",
                            ctx.caller.arn, action, task.arn, why));
  };
  if (task.container_instance_id.empty()) {
    return refuse("the task is not placed on a container instance: only the agent of the "
                  "instance a task runs on may report its state");
  }
  const auto* instance = index.FindInstance(task.container_instance_id);
  if (!instance) return refuse("the container instance the task ran on no longer exists");
  const ContainerInstance& record = *instance->record;
  if (record.registered_by.empty() || record.registered_by == InstanceOwner(ctx.caller)) return {};
  return refuse(fmt::format("it is not the principal that registered container instance {}: only "
                            "that instance's agent may report the state of its tasks",
                            record.arn));
}

}  // namespace berth::ecs
