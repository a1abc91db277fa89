#pragma once
#include <functional>
#include <set>
#include "ecs/query_language.h"
// src/ecs/placement.h
namespace berth::ecs {

struct PortNeed {
  int port = 0;
  bool udp = false;
  auto operator<=>(const PortNeed&) const = default;
};

// What one task needs from an instance.
struct TaskNeeds {
  int64_t cpu = 0;        // CPU units
  int64_t memory = 0;     // MiB (memoryReservation where given, else memory; task-level when set)
  std::vector<PortNeed> host_ports;  // fixed host ports only (bridge hostPort 0 = ephemeral: not listed)
  std::vector<std::string> required_attributes;  // requiresAttributes names (all must be present)
  std::string group;      // the task's group, for distinctInstance / spread / task:group
};

struct PlacementConstraint { std::string type; std::string expression; };  // distinctInstance | memberOf
struct PlacementStrategy { std::string type; std::string field; };        // random | spread | binpack

// One container instance as placement sees it. Place() updates remaining_* / used_ports /
// facts.task_groups / facts.running_tasks_count of chosen candidates as it places tasks.
struct Candidate {
  InstanceFacts facts;
  int64_t remaining_cpu = 0;
  int64_t remaining_memory = 0;
  std::set<PortNeed> used_ports;  // reserved ports of the instance + ports of its running tasks
  bool active = true;             // false: DRAINING (never chosen, no failure entry)
};

struct PlacementFailure { std::string arn; std::string reason; };  // reason: RESOURCE:CPU, RESOURCE:MEMORY, RESOURCE:PORTS, ATTRIBUTE, AGENT

struct PlacementResult {
  std::vector<size_t> chosen;                 // candidate index for each task placed, in order
  std::vector<PlacementFailure> failures;     // for tasks that could not be placed (deduplicated)
};

// Validates constraints/strategies (types, fields, expression syntax, limits) -> InvalidParameterException.
Status ValidatePlacement(const std::vector<PlacementConstraint>& constraints,
                         const std::vector<PlacementStrategy>& strategies);

// Places up to `count` tasks. `random` returns uniformly distributed 64-bit values (tests inject a
// deterministic one).
Result<PlacementResult> Place(std::vector<Candidate>& candidates, const TaskNeeds& needs, int count,
                              const std::vector<PlacementConstraint>& constraints,
                              const std::vector<PlacementStrategy>& strategies,
                              const std::function<uint64_t()>& random);

}  // namespace berth::ecs
