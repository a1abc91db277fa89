// ECS: tasks (RunTask, StartTask, StopTask, what reads them, and what the
// agent reports).
#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/arn.h"
#include "common/strings.h"
#include "ecs/run_token.h"
#include "ecs/service_impl.h"

namespace berth::ecs {

namespace {

const std::set<std::string, std::less<>> kPlatformVersions = {"LATEST", "1.4.0", "1.3.0",
                                                              "1.2.0",  "1.1.0", "1.0.0"};

std::string PlatformVersionOf(const std::string& requested) {
  return requested.empty() || requested == "LATEST" ? "1.4.0" : requested;
}

bool IsStartedBy(std::string_view s) {
  return s.size() <= 36 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

bool HasAttribute(const ClusterIndex::InstanceState& state, std::string_view name) {
  return state.facts->attributes.contains(name);
}

// Agents started with `berth agent --fargate` are the platform's Fargate capacity
// (agent/host/host.h names these attributes).
bool IsFargateCapacity(const ClusterIndex::InstanceState& state) {
  return HasAttribute(state, kFargateAttribute);
}

// Whether platform version `have` is at least `wanted` ("1.4.0" >= "1.3.0"), compared
// numerically part by part, without allocating (placement asks it of every pool instance).
bool VersionAtLeast(std::string_view have, std::string_view wanted) {
  auto next = [](std::string_view& v) {
    int n = 0;
    size_t i = 0;
    for (; i < v.size() && v[i] != '.'; ++i) {
      if (v[i] >= '0' && v[i] <= '9') n = n * 10 + (v[i] - '0');
    }
    v.remove_prefix(std::min(v.size(), i + 1));
    return n;
  };
  while (!have.empty() || !wanted.empty()) {
    int a = next(have), b = next(wanted);
    if (a != b) return a > b;
  }
  return true;
}

// Whether an instance of the Fargate pool runs platform version `wanted` or later.
bool RunsPlatformVersion(const ClusterIndex::InstanceState& state, std::string_view wanted) {
  auto it = state.facts->attributes.find(kFargatePlatformAttribute);
  return it != state.facts->attributes.end() && VersionAtLeast(it->second, wanted);
}

// An instance as placement sees it: what its tasks leave of it.
// Placement reads the ports in use only for a task that needs fixed host ports, so they are
// copied only then (`with_ports`).
Candidate CandidateOf(const ClusterIndex::InstanceState& state, bool with_ports) {
  Candidate c;
  c.facts = state.facts;
  c.remaining_cpu = state.total_cpu - state.used_cpu;
  c.remaining_memory = state.total_memory - state.used_memory;
  if (with_ports) {
    c.used_ports = state.reserved_ports;
    c.used_ports.insert(state.used_ports.begin(), state.used_ports.end());
  }
  c.active = state.record->status == "ACTIVE";
  return c;
}

// A container definition with RunTask's container override applied.
void ApplyOverride(const TaskOverride& overrides, ContainerDefinition& c) {
  for (const auto& o : overrides.container_overrides) {
    if (o.name != c.name) continue;
    if (o.cpu) c.cpu = *o.cpu;
    if (o.memory) c.memory = *o.memory;
    if (o.memory_reservation) c.memory_reservation = *o.memory_reservation;
  }
}


}  // namespace

namespace {

// Validation shared by RunTask and StartTask, before anything is placed.
struct Prepared {
  std::string cluster;
  std::string cluster_arn;
  TaskDefinition td;
  std::string launch_type;
  std::string platform_version;
  TaskNeeds needs;
  // Non-empty: the preflight found the execution role cannot read a registry
  // secret; the tasks are created STOPPED with this reason, never dispatched.
  std::string preflight_failure;
};

// `action` empty: a service's scheduler starts the tasks; CreateService and
// UpdateService authorized them (and iam:PassRole) for the caller, and the
// deployment id is its startedBy.
Result<Prepared> Prepare(Service::Impl& impl, const aws::RequestContext& ctx,
                         RunTaskRequest& request, std::string_view action) {
  bool internal = action.empty();
  Scope scope = ScopeOf(ctx);
  Prepared p;
  auto name = ClusterName(scope, request.cluster);
  p.cluster_arn = impl.Arn(scope, "cluster/" + (name ? *name : request.cluster));
  if (request.task_definition.empty()) {
    return Fail("InvalidParameterException", "taskDefinition can not be blank.");
  }
  // The definition's revision is resolved before authorization, as ECS does.
  auto td = impl.ResolveTaskDefinition(scope, request.task_definition);
  if (!td) return Fail("ClientException", "TaskDefinition not found.");
  p.td = std::move(*td);
  if (!internal) BERTH_CHECK(impl.Authorize(ctx, std::string(action), p.td.arn, p.cluster_arn));
  if (!internal && !request.tags.empty()) {
    BERTH_CHECK(impl.Authorize(ctx, "ecs:TagResource", p.td.arn, p.cluster_arn));
  }
  std::string execution_role = request.overrides.execution_role_arn.empty()
                                   ? p.td.execution_role_arn
                                   : request.overrides.execution_role_arn;
  std::string task_role = request.overrides.task_role_arn.empty() ? p.td.task_role_arn
                                                                  : request.overrides.task_role_arn;
  if (!internal) {
    BERTH_CHECK(impl.AuthorizePassRole(ctx, execution_role));
    if (task_role != execution_role) BERTH_CHECK(impl.AuthorizePassRole(ctx, task_role));
  }
  if (!name) return Fail(name.error());
  p.cluster = *name;
  if (impl.IsPool(scope, p.cluster)) {
    return Fail("InvalidParameterException",
                fmt::format("Cluster {} is the platform's Fargate capacity pool, which runs FARGATE "
                            "tasks of other clusters and none of its own.",
                            p.cluster));
  }
  BERTH_CHECK(impl.CheckAssumable(execution_role));
  if (task_role != execution_role) BERTH_CHECK(impl.CheckAssumable(task_role));
  // A service keeps running the revision it deploys after deregistration.
  if (!internal && p.td.status != "ACTIVE") {
    return Fail("InvalidParameterException", "TaskDefinition is inactive");
  }
  if (!internal && (request.count < 1 || request.count > 10)) {
    return Fail("InvalidParameterException", "Count must be between 1 and 10.");
  }
  if (!internal && !IsStartedBy(request.started_by)) {
    return Fail("InvalidParameterException",
                "startedBy may contain up to 36 letters, numbers, hyphens, and underscores.");
  }
  if (request.group.size() > 255) {
    return Fail("InvalidParameterException", "group must be at most 255 characters.");
  }
  BERTH_CHECK(ValidateTags(request.tags));
  p.launch_type = request.launch_type.empty() ? "EC2" : request.launch_type;
  if (p.launch_type != "EC2" && p.launch_type != "EXTERNAL" && p.launch_type != "FARGATE") {
    return Fail("InvalidParameterException",
                fmt::format("launchType should be one of [EC2,FARGATE,EXTERNAL]: {}", p.launch_type));
  }
  if (std::find(p.td.compatibilities.begin(), p.td.compatibilities.end(), p.launch_type) ==
      p.td.compatibilities.end()) {
    return Fail("InvalidParameterException",
                fmt::format("Task definition does not support launch_type {}.", p.launch_type));
  }
  if (p.launch_type == "FARGATE") {
    std::string requested = request.platform_version.empty() ? "LATEST" : request.platform_version;
    if (!kPlatformVersions.contains(requested)) {
      return Fail("PlatformUnknownException", "The specified platform does not exist.");
    }
    p.platform_version = PlatformVersionOf(requested);
    bool private_registry = std::any_of(
        p.td.containers.begin(), p.td.containers.end(),
        [](const ContainerDefinition& c) { return c.credentials_parameter.has_value(); });
    if (private_registry && (p.platform_version == "1.0.0" || p.platform_version == "1.1.0")) {
      return Fail("PlatformTaskDefinitionIncompatibilityException",
                  fmt::format("The specified platform does not satisfy the task definition's "
                              "required capabilities: private registry authentication "
                              "(repositoryCredentials) requires platform version 1.2.0 or later; "
                              "{} was requested.",
                              p.platform_version));
    }
  } else if (!request.platform_version.empty()) {
    return Fail("InvalidParameterException",
                fmt::format("The platform version must be null when specifying a {} launch type.",
                            p.launch_type));
  }
  if (EffectiveNetworkMode(p.td) == "awsvpc" && !request.has_network_configuration) {
    return Fail("InvalidParameterException",
                "Network Configuration must be provided when networkMode 'awsvpc' is specified.");
  }
  for (const auto& o : request.overrides.container_overrides) {
    bool known = std::any_of(p.td.containers.begin(), p.td.containers.end(),
                             [&](const ContainerDefinition& c) { return c.name == o.name; });
    if (!known) {
      return Fail("InvalidParameterException",
                  fmt::format("Override for container named {} is not a container in the "
                              "TaskDefinition.",
                              o.name));
    }
  }
  // The definition's constraints hold for every task of it, with the request's.
  request.placement_constraints.insert(request.placement_constraints.begin(),
                                       p.td.placement_constraints.begin(),
                                       p.td.placement_constraints.end());
  BERTH_CHECK(ValidatePlacement(request.placement_constraints, request.placement_strategy));
  if (request.group.empty()) request.group = "family:" + p.td.family;
  p.preflight_failure = impl.PreflightRegistryAuth(ctx, p.td, execution_role);

  // What one task holds on its instance, overrides applied.
  TaskDefinition effective = p.td;
  for (auto& c : effective.containers) ApplyOverride(request.overrides, c);
  if (!request.overrides.cpu.empty()) effective.cpu = request.overrides.cpu;
  if (!request.overrides.memory.empty()) effective.memory = request.overrides.memory;
  TaskResources resources = ResourcesOf(effective);
  p.needs.cpu = resources.cpu;
  p.needs.memory = resources.memory;
  for (const auto& [port, udp] : resources.host_ports) p.needs.host_ports.push_back({port, udp});
  p.needs.required_attributes = p.td.requires_attributes;
  p.needs.group = request.group;
  return p;
}

}  // namespace

// A new task record for `p` on `instance_id` ("" for FARGATE).
static Task NewTask(Service::Impl& impl, const Scope& scope, const aws::RequestContext& ctx,
                    const Prepared& p, const RunTaskRequest& request,
                    const std::string& instance_id) {
  Task t;
  t.id = impl.NewTaskId();
  t.arn = impl.Arn(scope, fmt::format("task/{}/{}", p.cluster, t.id));
  t.cluster = p.cluster;
  t.container_instance_id = instance_id;
  t.task_definition_arn = p.td.arn;
  t.family = p.td.family;
  t.revision = p.td.revision;
  t.launch_type = p.launch_type;
  t.platform_version = p.platform_version;
  t.network_mode = EffectiveNetworkMode(p.td);
  t.last_status = (p.launch_type == "FARGATE" || t.network_mode == "awsvpc") ? "PROVISIONING"
                                                                               : "PENDING";
  t.desired_status = "RUNNING";
  t.cpu = request.overrides.cpu.empty() ? p.td.cpu : request.overrides.cpu;
  t.memory = request.overrides.memory.empty() ? p.td.memory : request.overrides.memory;
  t.group = request.group;
  t.started_by = request.started_by;
  t.execution_role_arn = request.overrides.execution_role_arn.empty()
                             ? p.td.execution_role_arn
                             : request.overrides.execution_role_arn;
  t.task_role_arn = request.overrides.task_role_arn.empty() ? p.td.task_role_arn
                                                            : request.overrides.task_role_arn;
  t.overrides = request.overrides;
  t.tags = request.tags;
  t.created_at = ctx.now;
  t.client_token = request.client_token;
  for (const auto& def : p.td.containers) {
    ContainerDefinition c = def;
    ApplyOverride(request.overrides, c);
    Container out;
    out.arn = impl.Arn(scope, fmt::format("container/{}/{}/{}", p.cluster, t.id, impl.ids.Uuid()));
    out.name = c.name;
    out.image = c.image;
    out.cpu = c.cpu;
    out.memory = c.memory;
    out.memory_reservation = c.memory_reservation;
    if (c.health_check) out.health_status = "UNKNOWN";
    out.essential = c.essential;
    t.containers.push_back(std::move(out));
  }
  if (!p.preflight_failure.empty()) {
    // Created and stopped at once: the agent would fail to read the secret.
    t.last_status = "STOPPED";
    t.desired_status = "STOPPED";
    t.stop_code = "TaskFailedToStart";
    t.stopped_reason = p.preflight_failure;
    t.stopped_at = ctx.now;
    t.execution_stopped_at = ctx.now;
    for (auto& c : t.containers) c.last_status = "STOPPED";
    return t;
  }
  if (!instance_id.empty()) {
    t.reserved_cpu = p.needs.cpu;
    t.reserved_memory = p.needs.memory;
    t.reserved_ports = p.needs.host_ports;
  }
  return t;
}

namespace {

// The key of a pool task's copy in the Fargate pool's key space (ServiceOptions::platform_account).
std::string PoolTaskKey(const Service::Impl& impl, const Scope& scope, const std::string& id) {
  return TaskKey(impl.options.platform_account, scope.region, kFargatePoolCluster, id);
}

// The transaction that creates `tasks` (each key new, and the pool's copy of a pool task), with
// `also` (RunTask's clientToken record).
store::Txn NewTasksTxn(const Service::Impl& impl, const Scope& scope,
                       const std::vector<Task>& tasks, store::Txn also = {}) {
  store::Txn txn = std::move(also);
  for (const auto& t : tasks) {
    std::string record = EncodeTask(t);
    std::string key = TaskKey(scope.account, scope.region, t.cluster, t.id);
    txn.compares.push_back({key, 0});
    if (t.pool) {
      std::string copy = PoolTaskKey(impl, scope, t.id);
      txn.compares.push_back({copy, 0});
      txn.ops.push_back(store::Op::Put(std::move(copy), record));
    }
    txn.ops.push_back(store::Op::Put(key, std::move(record)));
  }
  return txn;
}

// The pool's side of a commit of new tasks: the pool tasks among `tasks`, reserved in the pool's
// index by placement, are committed at `revision` (0: the commit failed; they are unreserved).
void SettlePoolTasks(Service::Impl& impl, const Scope& scope, const std::vector<Task>& tasks,
                     int64_t revision) {
  if (std::none_of(tasks.begin(), tasks.end(), [](const Task& t) { return t.pool; })) return;
  auto pool = impl.PoolIndex(scope.region);
  std::lock_guard lock(pool->mu);
  for (const auto& t : tasks) {
    if (!t.pool) continue;
    if (revision == 0) {
      pool->Unreserve(t.id);
    } else {
      pool->Committed(t.id, revision);
    }
  }
}

// Commits new tasks in one transaction, with `also` (RunTask's clientToken
// record), and applies them to the index (held).
Result<std::vector<Task>> CommitNewTasks(Service::Impl& impl, const Scope& scope,
                                         ClusterIndex& index, std::vector<Task> tasks,
                                         store::Txn also = {}) {
  if (tasks.empty()) return tasks;
  auto result = impl.kv.Commit(NewTasksTxn(impl, scope, tasks, std::move(also)));
  bool committed = result && result->succeeded;
  SettlePoolTasks(impl, scope, tasks, committed ? result->revision : 0);
  if (!result) return Fail(result.error());
  if (!committed) return InternalFailure("task id collision");
  for (const auto& t : tasks) index.ApplyTask(std::make_shared<const Task>(t), result->revision);
  return tasks;
}

// Commits RunTask's tasks (no clientToken) after they were reserved in `index` (ClusterIndex::
// Reserve) and its lock released, so that the placements of concurrent RunTasks proceed during
// the commit and their commits share one fsync (the store's group commit). Then marks them
// committed, or unreserves them when the commit failed.
Result<std::vector<Task>> CommitReserved(Service::Impl& impl, const Scope& scope,
                                         ClusterIndex& index, std::vector<Task> tasks) {
  if (tasks.empty()) return tasks;
  auto result = impl.kv.Commit(NewTasksTxn(impl, scope, tasks));
  bool committed = result && result->succeeded;
  std::lock_guard lock(index.mu);
  SettlePoolTasks(impl, scope, tasks, committed ? result->revision : 0);
  if (!committed) {
    for (const auto& t : tasks) index.Unreserve(t.id);
    if (!result) return Fail(result.error());
    return InternalFailure("task id collision");
  }
  for (const auto& t : tasks) index.Committed(t.id, result->revision);
  return tasks;
}

}  // namespace

Result<std::shared_ptr<const Task>> CommitTask(Service::Impl& impl, const Scope& scope,
                                               ClusterIndex& index, Task task, int64_t revision) {
  std::string key = TaskKey(scope.account, scope.region, task.cluster, task.id);
  std::string record = EncodeTask(task);
  store::Txn txn;
  txn.compares.push_back({key, revision});
  // A pool task's copy in the pool follows it until it is STOPPED, then goes: the pool keeps
  // only what its instances run (and no other account's stopped tasks).
  bool stopped = task.last_status == "STOPPED";
  if (task.pool) {
    std::string copy = PoolTaskKey(impl, scope, task.id);
    txn.ops.push_back(stopped ? store::Op::Delete(std::move(copy))
                              : store::Op::Put(std::move(copy), record));
  }
  txn.ops.push_back(store::Op::Put(key, std::move(record)));
  auto result = BERTH_TRY(impl.kv.Commit(txn));
  if (!result.succeeded) {
    // Another process changed it; the index catches up on the next Sync.
    return Fail("ThrottlingException", "The task changed while it was being updated; retry.");
  }
  auto stored = std::make_shared<const Task>(std::move(task));
  index.ApplyTask(stored, result.revision);
  if (stored->pool) {
    auto pool = impl.PoolIndex(scope.region);
    std::lock_guard lock(pool->mu);
    // The commit stands; a pool index that cannot catch up now is read again whole.
    if (!pool->Sync()) pool->Invalidate();
    if (stopped) {
      pool->RemoveTask(stored->id);
    } else {
      pool->ApplyTask(stored, result.revision);
    }
  }
  return stored;
}

namespace {

// Placement's choice among `candidates` (whose instance ids are `ids`, in `instances`, held):
// new tasks on the chosen instances; what could not be placed in `failures`.
Result<std::vector<Task>> PlaceAmong(Service::Impl& impl, const Scope& scope,
                                     const aws::RequestContext& ctx, const Prepared& p,
                                     const RunTaskRequest& request,
                                     std::vector<Candidate>& candidates,
                                     const std::vector<const std::string*>& ids,
                                     std::vector<Failure>& failures) {
  std::vector<Task> created;
  auto placed = BERTH_TRY(Place(candidates, p.needs, request.count, request.placement_constraints,
                                request.placement_strategy, [&impl] {
                                  uint64_t v = 0;
                                  impl.ids.Fill(reinterpret_cast<uint8_t*>(&v), sizeof v);
                                  return v;
                                }));
  for (size_t chosen : placed.chosen) {
    created.push_back(NewTask(impl, scope, ctx, p, request, *ids[chosen]));
  }
  for (auto& f : placed.failures) failures.push_back({f.arn, f.reason, ""});
  return created;
}

// The Fargate pool's instances (`pool` held) that can run a task of platform `version`, as
// placement's candidates, and their ids.
void PoolCandidates(const ClusterIndex& pool, const std::string& version, bool with_ports,
                    std::vector<Candidate>& candidates, std::vector<const std::string*>& ids) {
  for (const auto& [id, state] : pool.instances()) {
    const std::string& status = state.record->status;
    if (status != "ACTIVE" && status != "DRAINING") continue;
    // (Every instance of the pool is Fargate capacity: only such register into it.)
    if (!RunsPlatformVersion(state, version)) continue;
    candidates.push_back(CandidateOf(state, with_ports));
    ids.push_back(&id);
  }
}

// RunTask's placement of FARGATE tasks on the platform's Fargate pool, whose index it locks
// (after the task's cluster's): on its instances of a platform version at least the task's. The
// tasks are reserved in the pool's index until their commit settles (SettlePoolTasks). Those no
// instance can take now (none of that version, full, its agent away) wait in PROVISIONING on no
// instance, listed in the pool, which places them when capacity comes
// (Service::PlaceWaitingFargateTasks); no failure is reported.
Result<std::vector<Task>> PlaceOnPool(Service::Impl& impl, const Scope& scope,
                                      const aws::RequestContext& ctx, const Prepared& p,
                                      const RunTaskRequest& request) {
  std::vector<Task> created;
  if (impl.options.platform_account.empty()) {
    for (int i = 0; i < request.count; ++i) {
      created.push_back(NewTask(impl, scope, ctx, p, request, ""));
    }
    return created;
  }
  auto pool = impl.PoolIndex(scope.region);
  std::lock_guard lock(pool->mu);
  BERTH_CHECK(pool->Sync());
  std::vector<Candidate> candidates;
  std::vector<const std::string*> ids;
  PoolCandidates(*pool, p.platform_version, !p.needs.host_ports.empty(), candidates, ids);
  if (!candidates.empty()) {
    // What the pool cannot take now is not a failure (which would name one of its instances,
    // which FARGATE tasks never show): it waits for capacity.
    std::vector<Failure> unplaced;
    created = BERTH_TRY(PlaceAmong(impl, scope, ctx, p, request, candidates, ids, unplaced));
  }
  while (static_cast<int>(created.size()) < request.count) {
    Task t = NewTask(impl, scope, ctx, p, request, "");
    if (t.last_status != "STOPPED") {
      // What it will hold once placed.
      t.reserved_cpu = p.needs.cpu;
      t.reserved_memory = p.needs.memory;
    }
    created.push_back(std::move(t));
  }
  for (auto& t : created) {
    if (t.last_status == "STOPPED") continue;  // the preflight stopped it: never dispatched
    t.pool = true;
    pool->Reserve(std::make_shared<const Task>(t));
  }
  return created;
}

// What PlaceWaiting did with a task: placed it (`stored`, and the record before), found no
// instance that could take it (`no_room`), or found it no longer waiting (neither).
struct WaitingOutcome {
  std::shared_ptr<const Task> previous, stored;
  bool no_room = false;
};

// Places one FARGATE task waiting for capacity (read from the pool's index) on the pool of
// `region`, if it still waits and an instance can take it now.
Result<WaitingOutcome> PlaceWaiting(Service::Impl& impl, const std::string& region,
                                    ClusterIndex& pool, const Task& waiting) {
  using Placed = WaitingOutcome;
  auto arn = ParseArn(waiting.arn);
  if (!arn) return Placed();
  Scope home{arn->account, region};
  auto index = impl.Index(home, waiting.cluster);
  std::lock_guard lock(index->mu);
  BERTH_CHECK(index->Sync());
  const auto* state = index->FindTask(waiting.id);
  if (!state) return Placed();
  std::shared_ptr<const Task> previous = state->record;
  if (!previous->pool || !previous->container_instance_id.empty() ||
      previous->desired_status != "RUNNING" || previous->last_status != "PROVISIONING") {
    return Placed();
  }
  TaskNeeds needs{.cpu = previous->reserved_cpu,
                  .memory = previous->reserved_memory,
                  .group = previous->group};
  if (auto td = BERTH_TRY(impl.ReadTaskDefinition(home, previous->family, previous->revision))) {
    needs.required_attributes = td->first.requires_attributes;
  }
  Task placed = *previous;
  std::shared_ptr<const Task> copy;  // the pool's record of it, until the commit
  int64_t copy_revision = 0;
  {
    std::lock_guard pool_lock(pool.mu);
    BERTH_CHECK(pool.Sync());
    std::vector<Candidate> candidates;
    std::vector<const std::string*> ids;
    PoolCandidates(pool, previous->platform_version, false, candidates, ids);
    if (candidates.empty()) return Placed{.no_room = true};
    auto chosen = BERTH_TRY(Place(candidates, needs, 1, {}, {}, [&impl] {
      uint64_t v = 0;
      impl.ids.Fill(reinterpret_cast<uint8_t*>(&v), sizeof v);
      return v;
    }));
    if (chosen.chosen.empty()) return Placed{.no_room = true};
    placed.container_instance_id = *ids[chosen.chosen[0]];
    placed.version += 1;
    if (const auto* in_pool = pool.FindTask(placed.id)) {
      copy = in_pool->record;
      copy_revision = in_pool->mod_revision;
    }
    pool.Reserve(std::make_shared<const Task>(placed));  // holds the instance's resources now
  }
  auto stored = CommitTask(impl, home, *index, std::move(placed), state->mod_revision);
  if (!stored) {
    std::lock_guard pool_lock(pool.mu);
    if (copy) {
      pool.ApplyTask(copy, copy_revision);
    } else {
      pool.RemoveTask(waiting.id);
    }
    return Fail(stored.error());
  }
  return Placed{.previous = std::move(previous), .stored = std::move(*stored)};
}

// RunTask's placement of `request.count` tasks (`index` held): the tasks to
// commit, and what could not be placed in `failures`.
Result<std::vector<Task>> PlaceTasks(Service::Impl& impl, const Scope& scope,
                                   const aws::RequestContext& ctx, const Prepared& p,
                                   const RunTaskRequest& request, ClusterIndex& index,
                                   std::vector<Failure>& failures) {
  if (p.launch_type == "FARGATE") return PlaceOnPool(impl, scope, ctx, p, request);
  bool external = p.launch_type == "EXTERNAL";
  std::vector<Candidate> candidates;
  std::vector<const std::string*> ids;  // of the candidates, in the index (held)
  candidates.reserve(index.instances().size());
  ids.reserve(index.instances().size());
  for (const auto& [id, state] : index.instances()) {
    const std::string& status = state.record->status;
    if (status != "ACTIVE" && status != "DRAINING") continue;
    // EXTERNAL tasks only on external instances; EC2 tasks on neither those nor the platform's
    // Fargate capacity (which registers only into the pool).
    if (IsFargateCapacity(state)) continue;
    if (HasAttribute(state, "ecs.capability.external") != external) continue;
    candidates.push_back(CandidateOf(state, !p.needs.host_ports.empty()));
    ids.push_back(&id);
  }
  if (candidates.empty()) {
    return Fail("InvalidParameterException", "No Container Instances were found in your cluster.");
  }
  return PlaceAmong(impl, scope, ctx, p, request, candidates, ids, failures);
}

}  // namespace

Result<RunTaskResult> Service::RunTask(const aws::RequestContext& ctx, RunTaskRequest request) {
  Scope scope = ScopeOf(ctx);
  BERTH_CHECK(ValidateClientToken(request.client_token));
  Prepared p = BERTH_TRY(Prepare(*impl_, ctx, request, "ecs:RunTask"));
  BERTH_CHECK(impl_->ActiveCluster(scope, p.cluster));
  auto index = impl_->Index(scope, p.cluster);
  RunTaskResult out;
  std::vector<Task> created;
  {
    std::lock_guard lock(index->mu);
    BERTH_CHECK(index->Sync());
    RunTokenLookup token;
    if (!request.client_token.empty()) {
      token = BERTH_TRY(LookUpRunToken(*impl_, scope, *index, p.cluster, request.client_token,
                                       RunTaskDigest(request)));
      if (token.replay) {
        out.tasks = std::move(*token.replay);  // a retry: what the first call created
        return out;
      }
    }
    created = BERTH_TRY(PlaceTasks(*impl_, scope, ctx, p, request, *index, out.failures));
    if (!request.client_token.empty()) {
      // The token's record commits with the tasks, under the lock: a retry waits for it.
      store::Txn also = token.RecordTasks(created);
      out.tasks =
          BERTH_TRY(CommitNewTasks(*impl_, scope, *index, std::move(created), std::move(also)));
    } else {
      for (const auto& t : created) index->Reserve(std::make_shared<const Task>(t));
    }
  }
  if (request.client_token.empty()) {
    out.tasks = BERTH_TRY(CommitReserved(*impl_, scope, *index, std::move(created)));
  }
  for (const auto& t : out.tasks) impl_->Notify(nullptr, t);
  return out;
}


namespace {

// StartTask's placement: one task on each named instance that can take it
// (`index` held); the others are named in `failures`.
Result<std::vector<Task>> PlaceOnInstances(Service::Impl& impl, const Scope& scope,
                                           const aws::RequestContext& ctx, const Prepared& p,
                                           const RunTaskRequest& request, ClusterIndex& index,
                                           std::vector<Failure>& failures) {
  std::vector<Task> created;
  for (const auto& ref : request.container_instances) {
    std::string id = ResourceId(scope, p.cluster, "container-instance", ref);
    const auto* state = id.empty() ? nullptr : index.FindInstance(id);
    if (!state) {
      failures.push_back({ref, "MISSING", ""});
      continue;
    }
    if (state->record->status != "ACTIVE") {
      failures.push_back({state->record->arn, "INACTIVE", ""});
      continue;
    }
    // No placement: the named instance, if it can take the task.
    std::vector<Candidate> one{CandidateOf(*state, true)};
    // Resources already placed in this call count too.
    for (const auto& t : created) {
      if (t.container_instance_id != id) continue;
      one[0].remaining_cpu -= t.reserved_cpu;
      one[0].remaining_memory -= t.reserved_memory;
      one[0].used_ports.insert(t.reserved_ports.begin(), t.reserved_ports.end());
    }
    auto placed = BERTH_TRY(Place(one, p.needs, 1, {}, {}, [] { return uint64_t{0}; }));
    if (placed.chosen.empty()) {
      for (auto& f : placed.failures) failures.push_back({f.arn, f.reason, ""});
      continue;
    }
    created.push_back(NewTask(impl, scope, ctx, p, request, id));
  }
  return created;
}

}  // namespace

Result<RunTaskResult> Service::StartTask(const aws::RequestContext& ctx, RunTaskRequest request) {
  Scope scope = ScopeOf(ctx);
  request.count = 1;
  if (request.container_instances.empty() || request.container_instances.size() > 10) {
    return Fail("InvalidParameterException",
                "containerInstances must list between 1 and 10 container instances.");
  }
  Prepared p = BERTH_TRY(Prepare(*impl_, ctx, request, "ecs:StartTask"));
  BERTH_CHECK(impl_->ActiveCluster(scope, p.cluster));
  auto index = impl_->Index(scope, p.cluster);
  RunTaskResult out;
  std::vector<Task> created;
  {
    std::lock_guard lock(index->mu);
    BERTH_CHECK(index->Sync());
    created = BERTH_TRY(PlaceOnInstances(*impl_, scope, ctx, p, request, *index, out.failures));
    out.tasks = BERTH_TRY(CommitNewTasks(*impl_, scope, *index, std::move(created)));
  }
  for (const auto& t : out.tasks) impl_->Notify(nullptr, t);
  return out;
}

// At most this many waiting FARGATE tasks are tried in one of the scheduler's passes.
constexpr size_t kMaxWaitingPlacementsPerPass = 2000;

Status Service::PlaceWaitingFargateTasks(TimePoint now) {
  if (impl_->options.platform_account.empty()) return {};
  std::vector<std::pair<std::string, std::shared_ptr<ClusterIndex>>> pools;  // by region
  {
    std::lock_guard lock(impl_->indexes_mu);
    std::string prefix = impl_->options.platform_account + "/";
    std::string suffix = "/" + std::string(kFargatePoolCluster);
    for (const auto& [key, index] : impl_->indexes) {
      if (!key.starts_with(prefix) || !key.ends_with(suffix)) continue;
      std::string region = key.substr(prefix.size(), key.size() - prefix.size() - suffix.size());
      if (region.find('/') == std::string::npos) pools.emplace_back(region, index);
    }
  }
  for (const auto& [region, pool] : pools) {
    std::vector<std::shared_ptr<const Task>> waiting;  // oldest first (ids begin with the time)
    {
      std::lock_guard lock(pool->mu);
      BERTH_CHECK(pool->Sync());
      for (const auto& [_, state] : pool->tasks()) {
        if (state.record->container_instance_id.empty()) waiting.push_back(state.record);
      }
    }
    // A task no instance can take now makes every later one needing the same (version,
    // definition, size) skipped in this pass, so a backlog costs a placement per kind, not per
    // task; and a pass tries at most kMaxWaitingPlacementsPerPass, holding each task's cluster
    // only for its own attempt.
    std::set<std::string> no_room;
    size_t attempts = 0;
    for (const auto& task : waiting) {
      if (now - task->created_at > impl_->options.fargate_capacity_wait) {
        // Waited too long: stopped, as ECS stops a Fargate task it has no capacity for.
        auto arn = ParseArn(task->arn);
        if (!arn) continue;
        auto stopped = StopTaskOf(*impl_, Scope{arn->account, region}, task->cluster, task->id,
                                  std::string(kFargateCapacityUnavailable), "TaskFailedToStart",
                                  now);
        if (!stopped) return Fail(stopped.error());
        continue;
      }
      std::string kind = fmt::format("{}/{}/{}/{}", task->platform_version,
                                     task->task_definition_arn, task->reserved_cpu,
                                     task->reserved_memory);
      if (no_room.contains(kind)) continue;
      if (++attempts > kMaxWaitingPlacementsPerPass) break;
      auto placed = PlaceWaiting(*impl_, region, *pool, *task);
      if (!placed) return Fail(placed.error());
      if (placed->no_room) no_room.insert(std::move(kind));
      if (placed->stored) impl_->Notify(placed->previous.get(), *placed->stored);
    }
  }
  return {};
}

Result<Task> Service::StopTask(const aws::RequestContext& ctx, const std::string& cluster,
                               const std::string& reference, const std::string& reason) {
  Scope scope = ScopeOf(ctx);
  auto name = ClusterName(scope, cluster);
  std::string cluster_arn = impl_->Arn(scope, "cluster/" + (name ? *name : cluster));
  std::string id = name ? ResourceId(scope, *name, "task", reference) : "";
  std::string task_arn =
      id.empty() ? reference : impl_->Arn(scope, fmt::format("task/{}/{}", *name, id));
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:StopTask", task_arn, cluster_arn));
  if (!name) return Fail(name.error());
  if (reason.size() > 255) {
    return Fail("InvalidParameterException", "reason must be at most 255 characters.");
  }
  BERTH_CHECK(impl_->ActiveCluster(scope, *name));
  return StopTaskOf(*impl_, scope, *name, id, reason.empty() ? "Task stopped by user" : reason,
                    kUserInitiated, ctx.now);
}

Result<Task> StopTaskOf(Service::Impl& impl, const Scope& scope, const std::string& cluster,
                        const std::string& id, const std::string& reason,
                        std::string_view stop_code, TimePoint now) {
  auto index = impl.Index(scope, cluster);
  std::shared_ptr<const Task> previous, stored;
  {
    std::lock_guard lock(index->mu);
    BERTH_CHECK(index->Sync());
    const auto* state = id.empty() ? nullptr : index->FindTask(id);
    if (!state) return Fail("InvalidParameterException", "The referenced task was not found.");
    previous = state->record;
    if (previous->desired_status == "STOPPED") return *previous;
    Task t = *previous;
    t.desired_status = "STOPPED";
    t.stop_code = std::string(stop_code);
    t.stopped_reason = reason;
    t.tags.clear();  // "Any tags associated with the task will be deleted."
    t.version += 1;
    if (t.container_instance_id.empty()) {
      // Placed nowhere (waiting for Fargate capacity): nothing runs, it is stopped now. A
      // placed task, even PROVISIONING, was sent to its agent, which may be starting it: it
      // is told to stop and keeps its resources until the agent reports it STOPPED.
      t.last_status = "STOPPED";
      t.stopped_at = now;
      t.execution_stopped_at = now;
      for (auto& c : t.containers) c.last_status = "STOPPED";
    } else if (t.last_status == "RUNNING") {
      t.last_status = "DEACTIVATING";
      t.stopping_at = now;
    }
    stored = BERTH_TRY(CommitTask(impl, scope, *index, std::move(t), state->mod_revision));
  }
  impl.Notify(previous.get(), *stored);
  return *stored;
}

Status CheckServiceTasks(Service::Impl& impl, const aws::RequestContext& ctx,
                         RunTaskRequest request) {
  BERTH_CHECK(Prepare(impl, ctx, request, ""));
  return {};
}

Result<RunTaskResult> RunServiceTasks(Service::Impl& impl, const aws::RequestContext& ctx,
                                      RunTaskRequest request) {
  Scope scope = ScopeOf(ctx);
  Prepared p = BERTH_TRY(Prepare(impl, ctx, request, ""));
  BERTH_CHECK(impl.ActiveCluster(scope, p.cluster));
  auto index = impl.Index(scope, p.cluster);
  RunTaskResult out;
  {
    std::lock_guard lock(index->mu);
    BERTH_CHECK(index->Sync());
    auto created = request.container_instances.empty()
                       ? PlaceTasks(impl, scope, ctx, p, request, *index, out.failures)
                       : PlaceOnInstances(impl, scope, ctx, p, request, *index, out.failures);
    if (!created) return Fail(created.error());
    out.tasks = BERTH_TRY(CommitNewTasks(impl, scope, *index, std::move(*created)));
  }
  for (const auto& t : out.tasks) impl.Notify(nullptr, t);
  return out;
}

Result<std::pair<std::vector<Task>, std::vector<Failure>>> Service::DescribeTasks(
    const aws::RequestContext& ctx, const std::string& cluster,
    const std::vector<std::string>& references) {
  Scope scope = ScopeOf(ctx);
  auto name = ClusterName(scope, cluster);
  std::string cluster_arn = impl_->Arn(scope, "cluster/" + (name ? *name : cluster));
  if (references.empty() || references.size() > 100) {
    return Fail("InvalidParameterException", "tasks must list between 1 and 100 tasks.");
  }
  std::vector<std::pair<std::string, std::string>> wanted;  // (id, arn)
  for (const auto& ref : references) {
    std::string id = name ? ResourceId(scope, *name, "task", ref) : "";
    std::string arn = id.empty() ? ref : impl_->Arn(scope, fmt::format("task/{}/{}", *name, id));
    BERTH_CHECK(impl_->Authorize(ctx, "ecs:DescribeTasks", arn, cluster_arn));
    wanted.emplace_back(id, arn);
  }
  if (!name) return Fail(name.error());
  BERTH_CHECK(impl_->ActiveCluster(scope, *name));
  auto index = impl_->Index(scope, *name);
  std::pair<std::vector<Task>, std::vector<Failure>> out;
  std::lock_guard lock(index->mu);
  BERTH_CHECK(index->Sync());
  for (const auto& [id, arn] : wanted) {
    const auto* state = id.empty() ? nullptr : index->FindTask(id);
    if (!state) {
      out.second.push_back({arn, "MISSING", ""});
      continue;
    }
    out.first.push_back(*state->record);
  }
  return out;
}

Result<Page<std::string>> Service::ListTasks(const aws::RequestContext& ctx,
                                             const ListTasksRequest& request) {
  Scope scope = ScopeOf(ctx);
  auto name = ClusterName(scope, request.cluster);
  std::string cluster_arn = impl_->Arn(scope, "cluster/" + (name ? *name : request.cluster));
  std::string instance_id;
  std::string resource = "*";
  if (name && !request.container_instance.empty()) {
    instance_id = ResourceId(scope, *name, "container-instance", request.container_instance);
    if (!instance_id.empty()) {
      resource = impl_->Arn(scope, fmt::format("container-instance/{}/{}", *name, instance_id));
    }
  }
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:ListTasks", resource, cluster_arn));
  if (!name) return Fail(name.error());
  if (!request.started_by.empty() &&
      (!request.container_instance.empty() || !request.family.empty() ||
       !request.service_name.empty())) {
    return Fail("InvalidParameterException",
                "startedBy must be the only filter when it is specified.");
  }
  std::string desired = request.desired_status.empty() ? "RUNNING" : request.desired_status;
  if (desired != "RUNNING" && desired != "PENDING" && desired != "STOPPED") {
    return Fail("InvalidParameterException",
                fmt::format("desiredStatus should be one of [RUNNING,PENDING,STOPPED]: {}", desired));
  }
  size_t limit = 0;
  std::string start = BERTH_TRY(PageStart(request.page, limit));
  BERTH_CHECK(impl_->ActiveCluster(scope, *name));
  std::string group;  // serviceName: the tasks its scheduler started
  if (!request.service_name.empty()) {
    std::string service = ServiceNameOf(scope, *name, request.service_name);
    auto found = service.empty() ? std::nullopt
                                 : BERTH_TRY(impl_->ReadService(scope, *name, service));
    if (!found) return Fail("ServiceNotFoundException", "Service not found.");
    group = ServiceGroup(service);
  }
  if (!request.container_instance.empty() && instance_id.empty()) {
    return Fail("InvalidParameterException", "The referenced container instance was not found.");
  }
  auto index = impl_->Index(scope, *name);
  std::lock_guard lock(index->mu);
  BERTH_CHECK(index->Sync());
  Page<std::string> out;
  // ECS never sets a desired status of PENDING: that filter lists nothing.
  if (desired == "PENDING") return out;
  // A Fargate pool's index also holds copies of other clusters' tasks it runs: they are their
  // own clusters' (and accounts'), listed and described there, not here.
  std::string own = impl_->Arn(scope, fmt::format("task/{}/", *name));
  for (auto it = index->tasks().upper_bound(start); it != index->tasks().end(); ++it) {
    const Task& t = *it->second.record;
    if (t.desired_status != desired || !t.arn.starts_with(own)) continue;
    if (!instance_id.empty() && t.container_instance_id != instance_id) continue;
    if (!request.family.empty() && t.family != request.family) continue;
    if (!group.empty() && t.group != group) continue;
    if (!request.started_by.empty() && t.started_by != request.started_by) continue;
    if (!request.launch_type.empty() && t.launch_type != request.launch_type) continue;
    if (out.items.size() == limit) {
      out.next_token = PageToken(std::prev(it)->first);
      break;
    }
    out.items.push_back(t.arn);
  }
  return out;
}

Result<std::string> Service::SubmitTaskStateChange(const aws::RequestContext& ctx,
                                                   const TaskStateChange& change,
                                                   std::string_view action) {
  ReportTarget target = ReportTargetOf(*impl_, ctx, change.cluster);
  BERTH_CHECK(impl_->Authorize(ctx, std::string(action), target.authorize_arn,
                               target.authorize_arn));
  if (!target.cluster) return Fail(target.cluster.error());
  const Scope& scope = target.scope;
  const std::string* name = &*target.cluster;
  if (!change.status.empty() && change.status != "PENDING" && change.status != "RUNNING" &&
      change.status != "STOPPED") {
    return Fail("InvalidParameterException",
                fmt::format("Invalid task status: {}", change.status));
  }
  BERTH_CHECK(impl_->ActiveCluster(scope, *name));
  std::string id = ResourceId(scope, *name, "task", change.task);
  auto index = impl_->Index(scope, *name);
  std::shared_ptr<const Task> previous, stored;
  {
    std::lock_guard lock(index->mu);
    BERTH_CHECK(index->Sync());
    const auto* state = id.empty() ? nullptr : index->FindTask(id);
    if (!state) return Fail("InvalidParameterException", "The referenced task was not found.");
    previous = state->record;
    BERTH_CHECK(CheckReporterOf(*impl_, ctx, target, *index, *previous, action));
    if (previous->last_status == "STOPPED") return std::string("ACK");  // terminal
    Task t = *previous;
    bool changed = false;
    for (const auto& cc : change.containers) {
      auto it = std::find_if(t.containers.begin(), t.containers.end(),
                             [&](const Container& c) { return c.name == cc.container_name; });
      if (it == t.containers.end()) continue;
      if (it->last_status == "STOPPED") continue;
      if (!cc.status.empty() && cc.status != "PENDING" && cc.status != "RUNNING" &&
          cc.status != "STOPPED") {
        return Fail("InvalidParameterException",
                    fmt::format("Invalid container status: {}", cc.status));
      }
      if (!cc.status.empty()) it->last_status = cc.status;
      if (cc.exit_code) it->exit_code = cc.exit_code;
      if (!cc.reason.empty()) it->reason = std::string(Utf8Prefix(cc.reason, 1024));
      if (!cc.runtime_id.empty()) it->runtime_id = std::string(Utf8Prefix(cc.runtime_id, 255));
      if (!cc.image_digest.empty()) it->image_digest = std::string(Utf8Prefix(cc.image_digest, 255));
      if (!cc.network_bindings.empty()) it->network_bindings = cc.network_bindings;
      changed = true;
    }
    if (change.pull_started_at && !t.pull_started_at) t.pull_started_at = change.pull_started_at;
    if (change.pull_stopped_at && !t.pull_stopped_at) t.pull_stopped_at = change.pull_stopped_at;
    if (change.pull_started_at || change.pull_stopped_at) changed = true;
    if (!change.private_ipv4.empty() && t.network_mode == "awsvpc" &&
        change.private_ipv4 != t.private_ipv4) {
      in_addr parsed{};
      if (change.private_ipv4.size() > 15 ||
          inet_pton(AF_INET, change.private_ipv4.c_str(), &parsed) != 1) {
        return Fail("InvalidParameterException",
                    fmt::format("Invalid privateIpv4Address: {}", change.private_ipv4));
      }
      t.private_ipv4 = change.private_ipv4;
      changed = true;
    }
    const std::string& s = change.status;
    if (s == "PENDING" && t.last_status == "PROVISIONING") {
      t.last_status = "PENDING";
      changed = true;
    } else if (s == "RUNNING" && (IsPendingStatus(t.last_status))) {
      t.last_status = "RUNNING";
      t.started_at = ctx.now;
      t.connectivity_at = ctx.now;
      changed = true;
    } else if (s == "STOPPED") {
      bool started = t.started_at.has_value();
      t.last_status = "STOPPED";
      t.desired_status = "STOPPED";
      if (!t.stopping_at && started) t.stopping_at = ctx.now;
      t.stopped_at = ctx.now;
      t.execution_stopped_at = change.execution_stopped_at.value_or(ctx.now);
      if (t.stop_code.empty()) {
        t.stop_code = started ? "EssentialContainerExited" : "TaskFailedToStart";
        if (!change.reason.empty()) {
          t.stopped_reason = std::string(Utf8Prefix(change.reason, 1024));
        } else if (started) {
          t.stopped_reason = "Essential container in task exited";
        }
      }
      for (auto& c : t.containers) {
        if (c.last_status != "STOPPED") c.last_status = "STOPPED";
      }
      changed = true;
    }
    if (!changed) return std::string("ACK");
    t.version += 1;
    stored = BERTH_TRY(CommitTask(*impl_, scope, *index, std::move(t), state->mod_revision));
  }
  impl_->Notify(previous.get(), *stored);
  return std::string("ACK");
}

std::string TaskHealthOf(const Task& task) {
  bool checked = false, all_healthy = true;
  for (const auto& c : task.containers) {
    if (!c.essential || c.health_status.empty()) continue;
    checked = true;
    if (c.health_status == "UNHEALTHY") return "UNHEALTHY";
    all_healthy = all_healthy && c.health_status == "HEALTHY";
  }
  return checked && all_healthy ? "HEALTHY" : "UNKNOWN";
}

bool HasHealthCheck(const Task& task) {
  return std::any_of(task.containers.begin(), task.containers.end(),
                     [](const Container& c) { return c.essential && !c.health_status.empty(); });
}

Status Service::PublishHealth(const std::string& account, const std::string& region,
                              const std::string& cluster, const std::string& instance_id,
                              const std::vector<TaskHealthReport>& tasks) {
  for (const auto& t : tasks) {
    for (const auto& c : t.containers) {
      if (c.status != "HEALTHY" && c.status != "UNHEALTHY" && c.status != "UNKNOWN") {
        return Fail("InvalidParameterException",
                    fmt::format("Invalid health status: {}", Utf8Prefix(c.status, 64)));
      }
    }
  }
  // The reports by the cluster of their tasks: the session's, or for an agent of the platform's
  // Fargate pool, each task's own, found through the pool's copies of the tasks on its instance
  // (a report naming any other task is skipped before any cluster is looked at).
  Scope session{account, region};
  bool pool = impl_->IsPool(session, cluster);
  std::map<std::pair<std::string, std::string>, std::vector<const TaskHealthReport*>> by_cluster;
  if (!pool) {
    for (const auto& report : tasks) by_cluster[{account, cluster}].push_back(&report);
  } else {
    std::map<std::string, std::pair<std::string, std::string>, std::less<>> homes;  // by ARN
    {
      auto index = impl_->Index(session, cluster);
      std::lock_guard lock(index->mu);
      BERTH_CHECK(index->Sync());
      for (const auto& id : index->TasksOn(instance_id)) {
        const Task& t = *index->FindTask(id)->record;
        if (auto arn = ParseArn(t.arn)) homes[t.arn] = {arn->account, t.cluster};
      }
    }
    for (const auto& report : tasks) {
      if (auto it = homes.find(report.task); it != homes.end()) {
        by_cluster[it->second].push_back(&report);
      }
    }
  }
  std::vector<std::pair<std::shared_ptr<const Task>, std::shared_ptr<const Task>>> changed;
  std::optional<Error> failed;
  for (const auto& [where, reports] : by_cluster) {
    Scope scope{where.first, region};
    auto index = impl_->Index(scope, where.second);
    std::lock_guard lock(index->mu);
    BERTH_CHECK(index->Sync());
    for (const TaskHealthReport* report : reports) {
      std::string id = ResourceId(scope, where.second, "task", report->task);
      const auto* state = id.empty() ? nullptr : index->FindTask(id);
      if (!state || state->record->container_instance_id != instance_id ||
          state->record->pool != pool || state->record->last_status == "STOPPED") {
        continue;
      }
      Task t = *state->record;
      bool same = true;
      for (const auto& c : report->containers) {
        for (auto& mine : t.containers) {
          if (mine.name == c.container_name && !mine.health_status.empty() &&
              mine.health_status != c.status) {
            mine.health_status = c.status;
            same = false;
          }
        }
      }
      t.health_status = TaskHealthOf(t);
      if (same && t.health_status == state->record->health_status) continue;
      t.version += 1;
      auto previous = state->record;
      auto stored = CommitTask(*impl_, scope, *index, std::move(t), state->mod_revision);
      if (!stored) {
        failed = stored.error();
        break;  // what was committed is still told below
      }
      changed.emplace_back(std::move(previous), std::move(*stored));
    }
    if (failed) break;
  }
  for (const auto& [previous, stored] : changed) impl_->Notify(previous.get(), *stored);
  if (failed) return Fail(*failed);
  return {};
}

Result<Service::TaskRecords> Service::TasksOfInstance(const std::string& account,
                                                      const std::string& region,
                                                      const std::string& cluster,
                                                      const std::string& instance_id) {
  Scope scope{account, region};
  auto index = impl_->Index(scope, cluster);
  std::lock_guard lock(index->mu);
  BERTH_CHECK(index->Sync());
  TaskRecords out;
  out.reserve(index->TasksOn(instance_id).size());
  for (const auto& id : index->TasksOn(instance_id)) out.push_back(index->FindTask(id)->record);
  return out;
}

Status Service::SweepStoppedTasks(TimePoint now) {
  BERTH_CHECK(LoadClusterToSweep(*impl_, now));
  std::vector<std::shared_ptr<ClusterIndex>> indexes;
  {
    std::lock_guard lock(impl_->indexes_mu);
    for (auto& [_, index] : impl_->indexes) indexes.push_back(index);
  }
  for (auto& index : indexes) {
    std::lock_guard lock(index->mu);
    BERTH_CHECK(index->Sync());
    std::vector<std::pair<std::string, std::shared_ptr<const Task>>> expired;
    for (const auto& [id, state] : index->tasks()) {
      const Task& t = *state.record;
      if (PastRetention(t, impl_->options.stopped_task_retention, now)) {
        expired.emplace_back(id, state.record);
      }
    }
    std::vector<std::shared_ptr<const Task>> swept;
    for (const auto& [id, task] : expired) {
      const auto* state = index->FindTask(id);
      // The key's scope is in the task's ARN: arn:aws:ecs:<region>:<account>:task/...
      auto arn = ParseArn(task->arn);
      if (!arn) continue;
      std::string key = TaskKey(arn->account, arn->region, task->cluster, id);
      store::Txn txn;
      txn.compares.push_back({key, state->mod_revision});
      txn.ops.push_back(store::Op::Delete(key));
      auto result = BERTH_TRY(impl_->kv.Commit(txn));
      if (!result.succeeded) continue;
      index->RemoveTask(id);
      swept.push_back(task);
    }
    BERTH_CHECK(ForgetRunTokens(*impl_, *index, swept));
  }
  indexes.clear();  // ours released: an idle one is held by the map alone
  impl_->EvictIdleIndexes(now);
  return {};
}

}  // namespace berth::ecs
