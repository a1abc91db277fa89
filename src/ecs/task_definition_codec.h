// JSON forms of a task definition: RegisterTaskDefinition's request, DescribeTaskDefinition's
// `taskDefinition` object, the store record, and RunTask's container overrides.
// nlohmann/json stays in the .cc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "ecs/task_definition.h"

namespace berth::ecs {

// RegisterTaskDefinition's request body (a JSON object text, ECS member names) -> TaskDefinition
// (not yet validated). Wrong member types: SerializationException with a message naming the
// member ("'containerDefinitions[0].memory' must be an integer."). Unknown members ignored.
// Task `cpu`/`memory` may be strings or integers (kept as given; ValidateAndComplete
// normalizes them).
Result<TaskDefinition> TaskDefinitionFromRequest(std::string_view json_object_text);

// The `taskDefinition` object exactly as DescribeTaskDefinition returns it (ECS member names in
// the model's order, omitted members left out, the defaults ECS shows filled in: container cpu 0,
// essential, portMappings/environment/mountPoints/volumesFrom [], port protocol and hostPort;
// timestamps epoch seconds), as JSON text. No tags (they are returned beside it).
std::string TaskDefinitionToJson(const TaskDefinition& td);

// Store record: full round trip including tags/status/registered_by and exact timestamps.
std::string EncodeTaskDefinitionRecord(const TaskDefinition& td);
Result<TaskDefinition> DecodeTaskDefinitionRecord(std::string_view record);

// Container overrides for RunTask (TaskOverride.containerOverrides: name, command, environment,
// cpu, memory, memoryReservation) applied to a copy of the definition's containers.
// `task_override_json` is the TaskOverride object text ("" = no overrides). `command` replaces
// the container's, `environment` entries replace same-named variables and add the rest.
// Errors: SerializationException for wrong types, InvalidParameterException for a name that is
// not a container of `td`.
Result<std::vector<ContainerDefinition>> ApplyContainerOverrides(
    const TaskDefinition& td, std::string_view task_override_json);

// ACS Container.dockerConfig for one container of `td` in task `task_id` (32 hex): the Docker
// Engine API create-config and host-config JSON texts the ECS backend pre-renders for what ACS's
// Container shape has no member for (ECS-FACTS §3.1); the agent unmarshals them over its own.
//   config:      User, WorkingDir, Hostname, Labels, Healthcheck (durations in ns), OpenStdin,
//                Tty, NetworkDisabled
//   host_config: LogConfig {Type, Config} (awslogs: `awslogs-stream-prefix` becomes
//                `awslogs-stream` = prefix/container/task_id), Memory and MemoryReservation in
//                bytes, CpuShares, Ulimits, Privileged, ReadonlyRootfs, Dns, DnsSearch,
//                ExtraHosts ("host:ip"), SecurityOpt, Init
// Members with nothing to say are left out; "{}" when empty.
struct DockerConfig {
  std::string config;
  std::string host_config;
};
DockerConfig RenderDockerConfig(const TaskDefinition& td, const ContainerDefinition& container,
                                std::string_view task_id);

}  // namespace berth::ecs
