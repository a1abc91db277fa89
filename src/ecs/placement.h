// Task placement for RunTask: which container instance each of `count` tasks goes to.
//
// For each task, in order, every candidate is checked (developer guide, "task placement": the
// task's requirements first, then the constraints); the first check an instance fails is its
// reason:
//   not active (DRAINING)            skipped, no failure entry
//   agent disconnected               AGENT
//   lacks a requiresAttributes name  ATTRIBUTE
//   remaining CPU < task's           RESOURCE:CPU
//   remaining memory < task's        RESOURCE:MEMORY
//   a fixed host port in use         RESOURCE:PORTS
//   a memberOf expression is false   "MemberOf placement constraint unsatisfied."
//   distinctInstance, group present  "DistinctInstance placement constraint unsatisfied."
// (the last two are the strings real RunTask puts in failures[].reason). Of the instances that
// pass, the strategies choose, each breaking the ties of the one before:
//   binpack cpu|memory     least remaining CPU / memory (so the fullest instance that fits)
//   spread instanceId|host fewest tasks of the task's group on the instance
//   spread attribute:<x>   fewest tasks of the group on instances with the same value of x
//                          (instances without x share one value)
//   random                 a uniform choice; strategies after it have nothing left to decide
// and ties that remain are broken by a uniform choice. With no strategy the choice is random, as
// for RunTask in ECS (services pass spread attribute:ecs.availability-zone, then instanceId).
// Tasks already on an instance count through facts.task_groups; tasks placed by this call count
// as they are placed, as do their CPU, memory and ports.
//
// A task no instance takes ends the placement (later tasks would meet the same instances): each
// active candidate's reason for it becomes a failure entry, one per (arn, reason).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "ecs/query_language.h"

namespace berth::ecs {

// failures[].reason values.
inline constexpr std::string_view kReasonAgent = "AGENT";
inline constexpr std::string_view kReasonAttribute = "ATTRIBUTE";
inline constexpr std::string_view kReasonCpu = "RESOURCE:CPU";
inline constexpr std::string_view kReasonMemory = "RESOURCE:MEMORY";
inline constexpr std::string_view kReasonPorts = "RESOURCE:PORTS";
inline constexpr std::string_view kReasonMemberOf = "MemberOf placement constraint unsatisfied.";
inline constexpr std::string_view kReasonDistinctInstance =
    "DistinctInstance placement constraint unsatisfied.";

// RunTask's limits (placementConstraints including the task definition's, placementStrategy).
inline constexpr size_t kMaxPlacementConstraints = 10;
inline constexpr size_t kMaxPlacementStrategies = 5;

struct PortNeed {
  int port = 0;
  bool udp = false;
  auto operator<=>(const PortNeed&) const = default;
};

// What one task needs from an instance.
struct TaskNeeds {
  int64_t cpu = 0;     // CPU units
  int64_t memory = 0;  // MiB (memoryReservation where given, else memory; task-level when set)
  // Fixed host ports only (bridge hostPort 0 = ephemeral: not listed).
  std::vector<PortNeed> host_ports;
  std::vector<std::string> required_attributes;  // requiresAttributes names (all must be present)
  std::string group;  // the task's group, for distinctInstance / spread / task:group
};

struct PlacementConstraint {
  std::string type;  // distinctInstance | memberOf
  std::string expression;
};
struct PlacementStrategy {
  std::string type;  // random | spread | binpack
  std::string field;
};

// One container instance as placement sees it. Place() updates remaining_* / used_ports of chosen
// candidates as it places tasks; `facts` are shared with their owner (the cluster index keeps
// them current, so building a candidate copies nothing) and never changed by Place(): the tasks it
// places count toward memberOf expressions through copies of its own.
struct Candidate {
  std::shared_ptr<const InstanceFacts> facts;  // never null
  int64_t remaining_cpu = 0;
  int64_t remaining_memory = 0;
  std::set<PortNeed> used_ports;  // reserved ports of the instance + ports of its running tasks
  bool active = true;             // false: DRAINING (never chosen, no failure entry)
};

struct PlacementFailure {
  std::string arn;
  std::string reason;  // one of the kReason* values
  bool operator==(const PlacementFailure&) const = default;
};

struct PlacementResult {
  std::vector<size_t> chosen;              // candidate index for each task placed, in order
  std::vector<PlacementFailure> failures;  // for the task that could not be placed (deduplicated)
};

// InvalidParameterException for more than kMaxPlacementConstraints constraints or
// kMaxPlacementStrategies strategies, an unknown type, a distinctInstance with an expression, a
// memberOf without one or with bad syntax, binpack on anything but cpu or memory, spread without
// instanceId, host or attribute:<name>.
Status ValidatePlacement(const std::vector<PlacementConstraint>& constraints,
                         const std::vector<PlacementStrategy>& strategies);

// Places up to `count` tasks (validating first, as ValidatePlacement). `random` returns uniformly
// distributed 64-bit values (tests inject a deterministic one). Cost: O(candidates + tasks on
// them) to prepare, then O(candidates x strategies) per task.
Result<PlacementResult> Place(std::vector<Candidate>& candidates, const TaskNeeds& needs, int count,
                              const std::vector<PlacementConstraint>& constraints,
                              const std::vector<PlacementStrategy>& strategies,
                              const std::function<uint64_t()>& random);

}  // namespace berth::ecs
