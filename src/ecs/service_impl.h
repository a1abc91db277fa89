// The ECS service's private state and helpers, shared by its .cc files
// (service.cc: clusters and task definitions; instances.cc; tasks.cc;
// services.cc: the Service API; service_scheduler.cc: its scheduler).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "ecs/cluster_index.h"
#include "ecs/records.h"
#include "ecs/service.h"
#include "iam/service.h"

namespace berth::ecs {

// Where a request's resources live.
struct Scope {
  std::string account;
  std::string region;
};

struct Service::Impl {
  Impl(store::Kv& kv, iam::AccessControl& access, iam::Service& iam, Ids& ids, const Clock& clock,
       ServiceOptions options);

  store::Kv& kv;
  iam::AccessControl& access;
  iam::Service& iam;
  Ids& ids;
  const Clock& clock;
  ServiceOptions options;

  std::mutex indexes_mu;
  // "<account>/<region>/<cluster>/<instance id>" of the instances whose agents have a session
  // (options.agent_sessions). Lock order: an index's mu, then agents_mu.
  std::mutex agents_mu;
  std::set<std::string, std::less<>> agents;
  std::map<std::string, std::shared_ptr<ClusterIndex>, std::less<>> indexes;  // by scope+cluster
  std::map<std::string, TimePoint, std::less<>> index_used;  // when Index() last gave each
  std::unique_ptr<store::WatchHandle> watch;

  // Where SweepStoppedTasks' walk of the stored tasks resumes ("": the start). (sweep.cc)
  std::mutex sweep_mu;
  std::string sweep_after;

  std::mutex listeners_mu;
  std::vector<TaskListener> listeners;

  // The index of `cluster` in `scope` (created empty; Sync loads it).
  std::shared_ptr<ClusterIndex> Index(const Scope& scope, const std::string& cluster);
  // Drops the indexes (not the Fargate pools') unused for options.index_idle at `now` that no
  // one holds. (sweep.cc)
  void EvictIdleIndexes(TimePoint now);
  void OnWatch(const store::WatchEvent& event);
  void Notify(const Task* previous, const Task& task);

  // The platform's Fargate pool (ServiceOptions::platform_account, kFargatePoolCluster): whether
  // `cluster` of `scope` is it, and its index in `region`. Lock order: a task's own cluster's
  // index, then the pool's.
  bool IsPool(const Scope& scope, std::string_view cluster) const;
  std::shared_ptr<ClusterIndex> PoolIndex(const std::string& region);

  // The cluster record, or ClusterNotFoundException (INACTIVE counts as not
  // found for everything but Describe).
  Result<Cluster> ActiveCluster(const Scope& scope, const std::string& name);
  Result<std::optional<std::pair<Cluster, int64_t>>> ReadCluster(const Scope& scope,
                                                                 const std::string& name);
  Result<std::optional<std::pair<TaskDefinition, int64_t>>> ReadTaskDefinition(
      const Scope& scope, const std::string& family, int revision);
  // family -> latest ACTIVE, family:revision, or the ARN.
  Result<TaskDefinition> ResolveTaskDefinition(const Scope& scope, const std::string& reference);

  Status Authorize(const aws::RequestContext& ctx, const std::string& action,
                   const std::string& resource, const std::string& cluster_arn = {});
  Status AuthorizePassRole(const aws::RequestContext& ctx, const std::string& role_arn);

  // RunTask's check that the platform can assume a role the task passes:
  // the role exists and its trust policy lets ecs-tasks.amazonaws.com in.
  // InvalidParameterException with ECS's message otherwise.
  Status CheckAssumable(const std::string& role_arn);

  // A session of `role_arn` named `session` as the platform would hold it
  // (the role's current unique id), for evaluating what the role may do.
  Result<aws::Principal> RoleSession(const std::string& role_arn, const std::string& session);

  // RunTask's preflight: "" when the execution role may read every registry
  // secret of `td`, else the stoppedReason the tasks stop with.
  std::string PreflightRegistryAuth(const aws::RequestContext& ctx, const TaskDefinition& td,
                                    const std::string& execution_role_arn);

  std::string Arn(const Scope& scope, std::string_view resource) const;
  std::string NewId();  // 32 lower-case hex
  // A task's id: 32 lower-case hex as NewId's, the first 12 the creation time in ms and the
  // other 20 random (80 bits: unguessable still). Tasks created together have neighbouring keys,
  // so a RunTask's records land in a few store pages instead of one random page each (the
  // commit's pages written and fsynced), and ListTasks lists in creation order.
  std::string NewTaskId();
  // Commits `instance` (read at `revision`; 0: new) to the store and the
  // index (whose lock is held); its version grows unless it is new.
  // ThrottlingException when another process changed it meanwhile.
  Result<const ClusterIndex::InstanceState*> CommitInstance(const Scope& scope,
                                                            ClusterIndex& index,
                                                            ContainerInstance instance,
                                                            int64_t revision);
  // Serializes ReconcileServices.
  std::mutex scheduler_mu;

  // The service record of `name` in `cluster` (any status) and its revision.
  Result<std::optional<std::pair<EcsService, int64_t>>> ReadService(const Scope& scope,
                                                                    const std::string& cluster,
                                                                    const std::string& name);
  // Reads the service, applies `change` (false: nothing to write) and
  // commits conditioned on the revision read, until it commits.
  // ServiceNotFoundException when there is no record.
  Result<EcsService> MutateService(const Scope& scope, const std::string& cluster,
                                   const std::string& name,
                                   const std::function<Result<bool>(EcsService&)>& change);
  // The view of `service` with its counts (takes the cluster index's lock).
  Result<ServiceView> ViewOfService(const Scope& scope, EcsService service);

  InstanceView ViewOf(const ClusterIndex::InstanceState& state) const;
};

Scope ScopeOf(const aws::RequestContext& ctx);

// A cluster's or service's name: 1-255 letters, digits, hyphens, underscores.
bool IsEcsName(std::string_view name);

// The cluster name a request's `cluster` member names: "" -> default, a name,
// or a cluster ARN of this scope (ClusterNotFoundException for another
// scope's or a malformed one).
Result<std::string> ClusterName(const Scope& scope, const std::string& cluster);

// The id a resource reference names inside `cluster`: an id, or an ARN of
// kind `kind` ("task", "container-instance") in this scope and cluster.
// Returns "" when the ARN belongs elsewhere (the caller reports it missing).
std::string ResourceId(const Scope& scope, const std::string& cluster, std::string_view kind,
                       const std::string& reference);

// Commits a change of one task (read at `revision`) and applies it to
// `index`, whose lock the caller holds. ThrottlingException when another
// process changed the record first. (tasks.cc)
Result<std::shared_ptr<const Task>> CommitTask(Service::Impl& impl, const Scope& scope,
                                               ClusterIndex& index, Task task, int64_t revision);

// A task's health from its essential containers with a health check (tasks.cc):
// UNHEALTHY when one is, HEALTHY when all are, UNKNOWN otherwise (and when none
// has a check).
std::string TaskHealthOf(const Task& task);
// Whether the task's health decides if it counts as healthy (an essential
// container has a health check); otherwise RUNNING is healthy.
bool HasHealthCheck(const Task& task);

// StopTask after authorization (tasks.cc): desired STOPPED with `reason` and
// `stop_code`; a task already stopping is returned as it is.
Result<Task> StopTaskOf(Service::Impl& impl, const Scope& scope, const std::string& cluster,
                        const std::string& id, const std::string& reason,
                        std::string_view stop_code, TimePoint now);

// RunTask's checks of a service's tasks before any is started (tasks.cc):
// launch type, platform version, awsvpc, placement; `request` as
// RunServiceTasks takes it.
Status CheckServiceTasks(Service::Impl& impl, const aws::RequestContext& ctx,
                         RunTaskRequest request);

// RunTask for a service's scheduler (tasks.cc): the same checks and
// placement, no caller to authorize (CreateService/UpdateService did) and no
// limit of 10; with `container_instances`, StartTask's placement on them.
Result<RunTaskResult> RunServiceTasks(Service::Impl& impl, const aws::RequestContext& ctx,
                                      RunTaskRequest request);

// What a service's scheduler asks RunServiceTasks for to start tasks of
// deployment `d` (count 1; the caller sets the count or the instances); the
// tags propagated (`td_tags`: the definition's, for TASK_DEFINITION).
// (services.cc)
RunTaskRequest DeploymentTasksRequest(const EcsService& s, const Deployment& d,
                                      const std::vector<Tag>& td_tags);

// The group of the tasks a service starts: "service:<name>".
std::string ServiceGroup(std::string_view service_name);

// The service name a reference names in `cluster`: a name, or a service ARN
// of this scope and cluster ("" otherwise: the caller reports it missing).
std::string ServiceNameOf(const Scope& scope, const std::string& cluster,
                          const std::string& reference);

// The number of ACTIVE (and, with `draining`, DRAINING) services of a cluster.
Result<int> CountServices(Service::Impl& impl, const Scope& scope, const std::string& cluster,
                          bool draining);

// A container instance attribute's name and value rules (1-128 characters
// each, ECS's character sets): InvalidParameterException. (instances.cc)
Status ValidateAttribute(const Attribute& attribute);

// The owner recorded (ContainerInstance::registered_by) when `p` registers an instance: a
// user's or root's unique id, an assumed role's role id (whatever the session). (instances.cc)
std::string InstanceOwner(const aws::Principal& p);

// Whether the caller may report `task`'s state (SubmitTaskStateChange,
// SubmitContainerStateChange): only the principal that registered the container instance it runs
// on may (an instance without a recorded owner is not bound), whatever IAM allows. A task on no
// instance (FARGATE waiting for capacity) has no agent: nobody may. AccessDeniedException
// otherwise. `instances` is the index where the task's instance is registered (the task's
// cluster's, or the Fargate pool's for a pool task), its lock held. (task_reports.cc)
Status CheckTaskReporter(const aws::RequestContext& ctx, const ClusterIndex& instances,
                         const Task& task, std::string_view action);

// The cluster an agent's report (SubmitTaskStateChange, TCS health) names: `cluster` in the
// caller's scope; or, for a principal of the platform account (the Fargate pool's agents), a
// cluster ARN of another account in the caller's region, whose pool tasks they run. The report is
// authorized (IAM) on `authorize_arn`: the cluster's ARN, or for another account's cluster the
// pool's (the platform's agents act on the platform's resources; the task's binding to the pool
// instance's owner, CheckReporterOf, is what admits them to the task). (task_reports.cc)
struct ReportTarget {
  Scope scope;
  Result<std::string> cluster;  // ClusterNotFoundException when it names none
  std::string authorize_arn;
  bool foreign = false;  // another account's cluster, reached through the pool
};
ReportTarget ReportTargetOf(Service::Impl& impl, const aws::RequestContext& ctx,
                            const std::string& cluster);

// CheckTaskReporter for a report reaching `task` through `target`, `index` (the task's
// cluster's) held: the instance is looked up in the pool's index (locked here) for a pool task,
// and a report through the pool (target.foreign) reaches only pool tasks. (task_reports.cc)
Status CheckReporterOf(Service::Impl& impl, const aws::RequestContext& ctx,
                       const ReportTarget& target, const ClusterIndex& index, const Task& task,
                       std::string_view action);

// SweepStoppedTasks' walk of the stored tasks of clusters not in memory: reads up to
// options.sweep_reads_per_pass keys from where the last walk stopped and loads (Index + Sync) the
// first cluster found holding a STOPPED task past the retention, which the sweep of the
// clusters in memory then covers. (sweep.cc)
Status LoadClusterToSweep(Service::Impl& impl, TimePoint now);

// The scope of a store key ecs/<account>/<region>/... (nullopt for another key). (sweep.cc)
std::optional<Scope> ScopeOfKey(std::string_view key);

// Whether a task is STOPPED for longer than `retention` at `now`: what the sweep deletes.
bool PastRetention(const Task& task, std::chrono::seconds retention, TimePoint now);

// True for the attributes the agent registers and owns ("ecs.*",
// "com.amazonaws.ecs.*": capabilities, os-type, ...), which PutAttributes and
// DeleteAttributes may not change. (attributes.cc)
bool IsAgentAttribute(std::string_view name);

// Opaque page tokens: the last key of a page, base64.
std::string PageToken(std::string_view last);
Result<std::string> PageStart(const PageRequest& page, size_t& limit);

}  // namespace berth::ecs
