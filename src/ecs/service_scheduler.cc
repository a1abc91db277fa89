// ECS: the service scheduler. One pass (ReconcileServices) reads every
// ACTIVE and DRAINING service, compares what its deployments want with the
// tasks they started (from the cluster index: the tasks of group
// "service:<name>", by startedBy), starts and stops tasks, and writes what it
// did to the service: deployment states, counts, events.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/log.h"
#include "ecs/query_language.h"
#include "ecs/service_impl.h"
#include "store/retry.h"

namespace berth::ecs {

namespace {

// ECS's stop code for the tasks a service scheduler stops.
constexpr std::string_view kServiceSchedulerInitiated = "ServiceSchedulerInitiated";

// The tasks of one deployment as the pass sees them.
struct DeploymentTasks {
  std::vector<std::shared_ptr<const Task>> live;  // desired RUNNING, not STOPPED
  int running = 0;
  int healthy = 0;  // RUNNING and, with a health check, HEALTHY (Healthy below)
  int pending = 0;
  int unfinished = 0;  // not STOPPED (live or stopping)
  int failed = 0;      // STOPPED before they ever ran
};

// What one pass does to one service.
struct Plan {
  EcsService service;  // as it is to be written
  int64_t revision = 0;
  std::string original;                          // the record as read (re-encoded)
  std::map<std::string, RunTaskRequest> starts;  // by deployment id
  std::vector<std::pair<std::shared_ptr<const Task>, std::string>> stops;  // task, deployment id
  std::vector<std::shared_ptr<const Task>> unhealthy;  // stopped for failing health checks
  std::vector<std::string> events;                                         // chronological
};

// A task counts toward minimumHealthyPercent and the steady state when it
// runs and, where an essential container has a health check, the agent
// reported it HEALTHY.
bool Healthy(const Task& t) {
  return t.last_status == "RUNNING" && (!HasHealthCheck(t) || t.health_status == "HEALTHY");
}

constexpr std::string_view kFailedHealthChecks = "Task failed container health checks";

// A RUNNING task the agent reported UNHEALTHY: the service replaces it.
bool FailedHealthChecks(const Task& t) {
  return t.last_status == "RUNNING" && t.health_status == "UNHEALTHY" && HasHealthCheck(t);
}

// A task this scheduler stopped for failing its health checks after deployment
// `id` of `s` was last updated (made PRIMARY, rolled back to).
bool FailedHealthChecksSince(const Task& t, const EcsService& s, const std::string& id) {
  if (t.stop_code != kServiceSchedulerInitiated || t.stopped_reason != kFailedHealthChecks ||
      !t.stopped_at) {
    return false;
  }
  auto d = std::find_if(s.deployments.begin(), s.deployments.end(),
                        [&](const Deployment& x) { return x.id == id; });
  return d != s.deployments.end() && *t.stopped_at >= d->updated_at;
}

// The circuit breaker's threshold: half the desired count, 3 to 200.
int FailureThreshold(int desired) { return std::clamp((desired + 1) / 2, 3, 200); }

std::string TaskIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += fmt::format("{}(task {})", out.empty() ? "" : " ", id);
  return out;
}

// ECS's words for why a task could not be placed.
std::string PlacementReason(const Failure& f) {
  std::string id = f.arn.substr(f.arn.rfind('/') + 1);
  if (f.reason == "RESOURCE:MEMORY") {
    return fmt::format(
        "The closest matching (container-instance {}) has insufficient memory "
        "available.",
        id);
  }
  if (f.reason == "RESOURCE:CPU") {
    return fmt::format(
        "The closest matching (container-instance {}) has insufficient CPU units "
        "available.",
        id);
  }
  if (f.reason.starts_with("RESOURCE:PORTS")) {
    return fmt::format(
        "The closest matching (container-instance {}) is already using a port "
        "required by your task.",
        id);
  }
  if (f.reason == "ATTRIBUTE") {
    return fmt::format(
        "The closest matching (container-instance {}) is missing an attribute "
        "required by your task.",
        id);
  }
  return fmt::format("Reason: {} (container-instance {}).", f.reason, id);
}

class Scheduler {
 public:
  Scheduler(Service::Impl& impl, const Scope& scope, TimePoint now)
      : impl_(impl), scope_(scope), now_(now) {
    ctx_.caller.kind = aws::Principal::Kind::kAssumedRole;
    ctx_.caller.account = scope.account;
    ctx_.caller.arn = fmt::format(
        "arn:aws:sts::{}:assumed-role/AWSServiceRoleForECS/ecs-service-scheduler", scope.account);
    ctx_.region = scope.region;
    ctx_.request_id = "ecs-service-scheduler";
    ctx_.now = now;
  }

  Status Reconcile(EcsService service, int64_t revision) {
    Plan plan;
    plan.original = EncodeService(service);
    plan.service = std::move(service);
    plan.revision = revision;
    BERTH_CHECK(Decide(plan));
    Act(plan);
    return Write(plan);
  }

 private:
  // Reads the service's tasks and decides (no writes).
  Status Decide(Plan& plan) {
    EcsService& s = plan.service;
    std::map<std::string, DeploymentTasks> by_deployment;
    std::vector<std::shared_ptr<const Task>> orphans;  // live, of no known deployment
    std::map<std::string, std::vector<std::shared_ptr<const Task>>> unfinished_on;  // instance
    std::vector<std::string> eligible;  // DAEMON: ACTIVE instances of the launch type
    auto index = impl_.Index(scope_, s.cluster);
    {
      std::lock_guard lock(index->mu);
      BERTH_CHECK(index->Sync());
      for (const auto& id : index->TasksInGroup(ServiceGroup(s.name))) {
        auto t = index->FindTask(id)->record;
        bool known = std::any_of(s.deployments.begin(), s.deployments.end(),
                                 [&](const Deployment& d) { return d.id == t->started_by; });
        bool stopped = t->last_status == "STOPPED";
        bool live = !stopped && t->desired_status == "RUNNING";
        if (!known) {
          if (live) orphans.push_back(t);
          continue;
        }
        DeploymentTasks& dt = by_deployment[t->started_by];
        // Failed: stopped before it ever ran, or stopped by this scheduler for
        // failing its health checks since the deployment last became PRIMARY
        // (a deployment rolled back to starts afresh).
        if (stopped && (!t->started_at || FailedHealthChecksSince(*t, s, t->started_by))) {
          ++dt.failed;
        }
        if (stopped) continue;
        ++dt.unfinished;
        unfinished_on[t->container_instance_id].push_back(t);
        if (!live) continue;
        if (FailedHealthChecks(*t) && s.status == "ACTIVE") {
          plan.unhealthy.push_back(t);
          continue;
        }
        dt.live.push_back(t);
        dt.running += t->last_status == "RUNNING";
        dt.healthy += Healthy(*t);
        dt.pending += IsPendingStatus(t->last_status);
      }
      if (s.scheduling_strategy == "DAEMON") {
        bool external = s.launch_type == "EXTERNAL";
        // The service's memberOf expressions choose its instances (validated
        // when the service was written).
        std::vector<QueryExpression> member_of;
        for (const auto& c : s.placement_constraints) {
          if (c.type != "memberOf") continue;
          if (auto parsed = QueryExpression::Parse(c.expression)) member_of.push_back(*parsed);
        }
        for (const auto& [id, state] : index->instances()) {
          if (state.record->status != "ACTIVE") continue;
          if (state.facts->attributes.contains(kFargateAttribute)) continue;
          if (state.facts->attributes.contains("ecs.capability.external") != external) continue;
          if (!member_of.empty()) {
            // Connectivity is placement's to judge: a daemon's instances do
            // not change while their agents reconnect (after a restart).
            InstanceFacts facts = *state.facts;
            facts.agent_connected = true;
            if (!std::all_of(member_of.begin(), member_of.end(),
                             [&](const QueryExpression& e) { return e.Matches(facts); })) {
              continue;
            }
          }
          eligible.push_back(id);
        }
      }
    }
    if (s.scheduling_strategy == "DAEMON" && s.status == "ACTIVE" &&
        s.desired_count != static_cast<int>(eligible.size())) {
      s.desired_count = static_cast<int>(eligible.size());
      for (auto& d : s.deployments) {
        if (d.status == "PRIMARY") d.desired_count = s.desired_count;
      }
    }
    for (const auto& t : orphans) plan.stops.emplace_back(t, t->started_by);

    if (s.status == "DRAINING") {
      bool unfinished = !orphans.empty();
      for (auto& [id, dt] : by_deployment) {
        for (const auto& t : dt.live) plan.stops.emplace_back(t, id);
        unfinished = unfinished || dt.unfinished > 0;
      }
      if (!unfinished) {
        s.status = "INACTIVE";
        for (auto& d : s.deployments) d.status = "INACTIVE";
      }
      return {};
    }
    if (s.deployments.empty()) return {};
    BreakCircuit(plan, by_deployment);
    if (s.scheduling_strategy == "DAEMON") {
      DecideDaemon(plan, by_deployment, unfinished_on, eligible);
    } else {
      DecideReplica(plan, by_deployment);
    }
    Settle(plan, by_deployment);
    return {};
  }

  // Counts the PRIMARY's failures; past the threshold (with the breaker on)
  // the deployment FAILED and, with rollback, the last COMPLETED one is
  // PRIMARY again.
  void BreakCircuit(Plan& plan, std::map<std::string, DeploymentTasks>& by_deployment) {
    EcsService& s = plan.service;
    Deployment& primary = s.deployments.front();
    int failed = by_deployment[primary.id].failed;
    if (failed > primary.failed_tasks) primary.failed_tasks = failed;
    const DeploymentConfiguration& dc = s.deployment_configuration;
    if (!dc.circuit_breaker_enable || primary.rollout_state != "IN_PROGRESS") return;
    if (primary.failed_tasks < FailureThreshold(s.desired_count)) return;
    primary.rollout_state = "FAILED";
    primary.rollout_state_reason = "ECS deployment circuit breaker: tasks failed to start.";
    primary.updated_at = now_;
    plan.events.push_back(
        fmt::format("(service {}) (deployment {}) deployment failed: tasks "
                    "failed to start.",
                    s.name, primary.id));
    if (!dc.circuit_breaker_rollback) return;
    auto target = std::find_if(s.deployments.begin() + 1, s.deployments.end(),
                               [](const Deployment& d) { return d.rollout_state == "COMPLETED"; });
    if (target == s.deployments.end()) return;
    Deployment back = *target;
    s.deployments.erase(target);
    s.deployments.front().status = "ACTIVE";
    back.status = "PRIMARY";
    back.desired_count = s.desired_count;
    back.rollout_state = "IN_PROGRESS";
    back.failed_tasks = 0;  // its breaker starts afresh (earlier failures are before updated_at)
    back.rollout_state_reason =
        fmt::format("ECS deployment circuit breaker: rolling back to deploymentId {}.", back.id);
    back.updated_at = now_;
    s.task_definition = back.task_definition;
    s.launch_type = back.launch_type;
    s.platform_version = back.platform_version;
    s.network_configuration = back.network_configuration;
    plan.events.push_back(
        fmt::format("(service {}) rolling back to deployment {}.", s.name, back.id));
    s.deployments.insert(s.deployments.begin(), std::move(back));
  }

  // REPLICA: the PRIMARY grows to desiredCount within maximumPercent of it
  // (all deployments' live tasks together); older deployments shrink while
  // at least minimumHealthyPercent of it stays RUNNING.
  void DecideReplica(Plan& plan, std::map<std::string, DeploymentTasks>& by_deployment) {
    EcsService& s = plan.service;
    const Deployment& primary = s.deployments.front();
    const DeploymentConfiguration& dc = s.deployment_configuration;
    int desired = s.desired_count;
    int max_total = desired * dc.maximum_percent / 100;
    int min_healthy = (desired * dc.minimum_healthy_percent + 99) / 100;
    int total_live = 0;
    int healthy = 0;
    for (const auto& d : s.deployments) {
      total_live += static_cast<int>(by_deployment[d.id].live.size());
      healthy += by_deployment[d.id].healthy;
    }
    DeploymentTasks& p = by_deployment[primary.id];
    int primary_live = static_cast<int>(p.live.size());
    bool failed = primary.rollout_state == "FAILED";
    if (!failed) {
      int start = std::min(desired - primary_live, max_total - total_live);
      if (start > 0) plan.starts[primary.id].count = start;
    }
    // Scale in: the PRIMARY's extra tasks, the ones not healthy first.
    auto by_health = [](std::vector<std::shared_ptr<const Task>> tasks) {
      std::stable_partition(tasks.begin(), tasks.end(),
                            [](const auto& t) { return !Healthy(*t); });
      return tasks;
    };
    auto primary_tasks = by_health(p.live);
    for (int i = 0, extra = primary_live - desired; i < extra; ++i) {
      const auto& t = primary_tasks[i];
      plan.stops.emplace_back(t, primary.id);
      healthy -= Healthy(*t);
    }
    if (failed) return;  // the older deployments keep serving
    for (size_t k = 1; k < s.deployments.size(); ++k) {
      Deployment& old = s.deployments[k];
      if (old.status == "INACTIVE") continue;
      DeploymentTasks& o = by_deployment[old.id];
      int kept = 0;
      for (const auto& t : by_health(o.live)) {
        bool counts = Healthy(*t);
        if (counts && healthy - 1 < min_healthy) {
          ++kept;
          continue;
        }
        plan.stops.emplace_back(t, old.id);
        healthy -= counts;
      }
      old.desired_count = kept;
    }
  }

  // DAEMON: one PRIMARY task on each eligible instance; an instance with an
  // older deployment's task gets the new one once that task has stopped.
  void DecideDaemon(Plan& plan, std::map<std::string, DeploymentTasks>& by_deployment,
                    std::map<std::string, std::vector<std::shared_ptr<const Task>>>& unfinished_on,
                    const std::vector<std::string>& eligible) {
    EcsService& s = plan.service;
    const Deployment& primary = s.deployments.front();
    bool failed = primary.rollout_state == "FAILED";
    std::set<std::string> wanted(eligible.begin(), eligible.end());
    int min_healthy =
        (s.desired_count * s.deployment_configuration.minimum_healthy_percent + 99) / 100;
    int healthy = 0;
    for (const auto& [_, dt] : by_deployment) healthy += dt.healthy;
    for (auto& [id, dt] : by_deployment) {
      std::set<std::string> seen;
      for (const auto& t : dt.live) {
        bool extra = !wanted.contains(t->container_instance_id) ||
                     (id == primary.id && !seen.insert(t->container_instance_id).second);
        bool replaced = id != primary.id && !failed;
        if (!extra && !replaced) continue;
        bool counts = Healthy(*t);
        if (!extra && counts && healthy - 1 < min_healthy) continue;
        plan.stops.emplace_back(t, id);
        healthy -= counts;
      }
    }
    if (failed) return;
    RunTaskRequest& start = plan.starts[primary.id];
    for (const auto& id : eligible) {
      if (unfinished_on.contains(id)) continue;  // its task runs or is still stopping
      start.container_instances.push_back(id);
    }
    if (start.container_instances.empty()) plan.starts.erase(primary.id);
  }

  // Older deployments without tasks are INACTIVE; the PRIMARY is COMPLETED
  // once it alone runs desiredCount tasks; a steady state is said once.
  void Settle(Plan& plan, std::map<std::string, DeploymentTasks>& by_deployment) {
    EcsService& s = plan.service;
    Deployment& primary = s.deployments.front();
    bool others = false;
    for (size_t k = 1; k < s.deployments.size(); ++k) {
      Deployment& old = s.deployments[k];
      if (old.status == "INACTIVE") continue;
      if (by_deployment[old.id].unfinished == 0) {
        old.status = "INACTIVE";
        old.desired_count = 0;
        old.updated_at = now_;
      } else {
        others = true;
      }
    }
    const DeploymentTasks& p = by_deployment[primary.id];
    bool acting = !plan.starts.empty() || !plan.stops.empty() || !plan.unhealthy.empty();
    bool settled = !acting && !others && p.healthy == s.desired_count && p.pending == 0 &&
                   p.unfinished == p.running;
    if (settled && primary.rollout_state == "IN_PROGRESS") {
      primary.rollout_state = "COMPLETED";
      primary.rollout_state_reason = fmt::format("ECS deployment {} completed.", primary.id);
      primary.updated_at = now_;
      plan.events.push_back(
          fmt::format("(service {}) (deployment {}) deployment completed.", s.name, primary.id));
    }
    bool steady = settled && primary.rollout_state == "COMPLETED";
    if (steady && !s.steady) {
      plan.events.push_back(fmt::format("(service {}) has reached a steady state.", s.name));
    }
    s.steady = steady;
  }

  // Stops and starts what the plan says; records what happened as events.
  void Act(Plan& plan) {
    EcsService& s = plan.service;
    for (const auto& task : plan.unhealthy) {
      auto done = StopTaskOf(impl_, scope_, s.cluster, task->id,
                             std::string(kFailedHealthChecks), kServiceSchedulerInitiated,
                             now_);
      if (done) {
        plan.events.push_back(fmt::format("(service {}) (task {}) failed container health checks.",
                                          s.name, task->id));
      } else {
        log::Warn("ecs: the service scheduler could not stop a task",
                  {{"service", s.arn}, {"task", task->id}, {"message", done.error().message}});
      }
    }
    std::vector<std::string> stopped;
    for (const auto& [task, deployment] : plan.stops) {
      auto done =
          StopTaskOf(impl_, scope_, s.cluster, task->id,
                     fmt::format("Scaling activity initiated by (deployment {})", deployment),
                     kServiceSchedulerInitiated, now_);
      if (done) {
        stopped.push_back(task->id);
      } else {
        log::Warn("ecs: the service scheduler could not stop a task",
                  {{"service", s.arn}, {"task", task->id}, {"message", done.error().message}});
      }
    }
    if (!stopped.empty()) {
      plan.events.push_back(fmt::format("(service {}) has stopped {} running tasks: {}.", s.name,
                                        stopped.size(), TaskIds(stopped)));
    }
    for (auto& [id, request] : plan.starts) {
      auto d = std::find_if(s.deployments.begin(), s.deployments.end(),
                            [&](const Deployment& x) { return x.id == id; });
      if (d == s.deployments.end()) continue;
      std::vector<Tag> td_tags;
      if (s.propagate_tags == "TASK_DEFINITION") {
        auto td = impl_.ResolveTaskDefinition(scope_, d->task_definition);
        if (td) td_tags = td->tags;
      }
      RunTaskRequest r = DeploymentTasksRequest(s, *d, td_tags);
      r.count = std::max(request.count, 1);
      r.container_instances = std::move(request.container_instances);
      auto started = RunServiceTasks(impl_, ctx_, std::move(r));
      if (!started) {
        Unplaceable(plan, started.error().message ==
                                  "No Container Instances were found in "
                                  "your cluster."
                              ? "Reason: No Container Instances were found in your cluster."
                              : "Reason: " + started.error().message);
        continue;
      }
      std::vector<std::string> ids;
      for (const auto& t : started->tasks) ids.push_back(t.id);
      if (!ids.empty()) {
        plan.events.push_back(fmt::format("(service {}) has started {} tasks: {}.", s.name,
                                          ids.size(), TaskIds(ids)));
      }
      // A task the preflight refused (its execution role cannot read the registry secret) is
      // created STOPPED: ECS tells the service's events why, once per distinct reason.
      std::set<std::string> reasons;
      for (const auto& t : started->tasks) {
        if (t.last_status == "STOPPED" && !t.stopped_reason.empty()) reasons.insert(t.stopped_reason);
      }
      for (const std::string& reason : reasons) {
        plan.events.push_back(
            fmt::format("(service {}) failed to launch a task with (error {}).", s.name, reason));
      }
      if (!started->failures.empty()) Unplaceable(plan, PlacementReason(started->failures[0]));
    }
    if (!plan.stops.empty() || !plan.starts.empty() || !plan.unhealthy.empty()) s.steady = false;
  }

  // ECS's "unable to place" event, not repeated while it is the newest one.
  void Unplaceable(Plan& plan, const std::string& reason) {
    std::string message = fmt::format(
        "(service {}) was unable to place a task because no container instance met all of its "
        "requirements. {}",
        plan.service.name, reason);
    bool newest = plan.events.empty() && !plan.service.events.empty() &&
                  plan.service.events.front().message == message;
    if (!newest) plan.events.push_back(std::move(message));
  }

  // Writes the plan's service; if the service changed meanwhile (an
  // UpdateService), only the events are added and the next pass decides again.
  Status Write(Plan& plan) {
    const EcsService& s = plan.service;
    std::vector<ServiceEvent> events;
    for (auto it = plan.events.rbegin(); it != plan.events.rend(); ++it) {
      events.push_back({impl_.ids.Uuid(), now_, *it});
    }
    auto prepend = [&](EcsService& into) {
      into.events.insert(into.events.begin(), events.begin(), events.end());
      if (into.events.size() > kMaxServiceEvents) into.events.resize(kMaxServiceEvents);
    };
    std::string key = ServiceKey(scope_.account, scope_.region, s.cluster, s.name);
    EcsService planned = s;
    prepend(planned);
    std::string record = EncodeService(planned);
    if (record == plan.original) return {};  // nothing happened: no write
    store::Txn txn;
    txn.compares.push_back({key, plan.revision});
    txn.ops.push_back(store::Op::Put(key, std::move(record)));
    auto result = BERTH_TRY(impl_.kv.Commit(txn));
    if (result.succeeded || events.empty()) return {};
    BERTH_CHECK(
        impl_.MutateService(scope_, s.cluster, s.name, [&](EcsService& current) -> Result<bool> {
          prepend(current);
          return true;
        }));
    return {};
  }

  Service::Impl& impl_;
  Scope scope_;
  TimePoint now_;
  aws::RequestContext ctx_;
};

}  // namespace

Status Service::ReconcileServices(TimePoint now) {
  std::lock_guard lock(impl_->scheduler_mu);
  // Every scope (ecs/<account>/<region>/) in turn: one key read finds the
  // next scope, then its services are read; tasks are never scanned.
  std::string after;
  for (;;) {
    auto next = BERTH_TRY(impl_->kv.Range("ecs/", after, 1));
    if (next.kvs.empty()) break;
    const std::string& key = next.kvs[0].key;
    auto found = ScopeOfKey(key);
    if (!found) {
      after = key;
      continue;
    }
    Scope scope = std::move(*found);
    after = ScopePrefix(scope.account, scope.region) + "\xff";
    auto services = BERTH_TRY(impl_->kv.Range(ServicesPrefix(scope.account, scope.region, "")));
    for (const auto& kv : services.kvs) {
      auto service = DecodeService(kv.value);
      if (!service || (service->status != "ACTIVE" && service->status != "DRAINING")) continue;
      std::string arn = service->arn;
      auto done = Scheduler(*impl_, scope, now).Reconcile(std::move(*service), kv.mod_revision);
      if (!done) {
        log::Warn("ecs: the service scheduler's pass failed",
                  {{"service", arn}, {"message", done.error().message}});
      }
    }
  }
  return {};
}

}  // namespace berth::ecs
