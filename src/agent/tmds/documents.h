// The JSON bodies the endpoint answers with, shaped as the ECS agent writes them
// (ECS-FACTS §3.4, §3.5; the agent's Go structs with their omitempty rules).
#pragma once

#include <string>
#include <string_view>

#include "agent/spec/task_spec.h"
#include "agent/tmds/server.h"
#include "common/clock.h"

namespace berth::agent::tmds {

// {"RoleArn","AccessKeyId","SecretAccessKey","Token","Expiration"}, Expiration verbatim.
// SECRET: the result holds live credentials; it goes to the one caller, never to a log.
std::string CredentialsDocument(const spec::RoleCredentials& creds);

// {"code","message"}: the credentials handler's errors.
std::string CredentialsError(std::string_view code, std::string_view message);

// The v4 container document of `container`, a member of `task`: DockerId, Name, DockerName
// (the runtime id: berth has no separate engine name), Image, ImageID, Ports (when any),
// Labels (when any), DesiredStatus, KnownStatus, ExitCode (when set), Limits{CPU, Memory},
// CreatedAt/StartedAt/FinishedAt (when set), Type "NORMAL", ContainerARN (when set),
// Networks[{NetworkMode, IPv4Addresses (when the task has its own address)}].
std::string ContainerDocument(const TaskMetadata& task, const ContainerMetadata& container);

// The v4 task document: Cluster, TaskARN, Family, Revision, DesiredStatus, KnownStatus,
// Containers[] (when any), Limits (the members set; absent when neither is),
// PullStartedAt/PullStoppedAt/ExecutionStoppedAt, AvailabilityZone, LaunchType (when set).
std::string TaskDocument(const TaskMetadata& task);

// `text` as a JSON string literal: the body of the agent's v4 errors (a bare JSON string).
std::string JsonString(std::string_view text);

// RFC 3339 in UTC with nanoseconds, trailing zeros dropped (Go's time.RFC3339Nano, as the
// agent's JSON writes times): "2026-11-26T16:55:06.12Z", "2026-11-26T16:55:06Z".
std::string FormatRfc3339Nano(TimePoint t);

}  // namespace berth::agent::tmds
