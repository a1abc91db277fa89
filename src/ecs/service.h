// Amazon ECS's control plane: clusters, task definitions, container
// instances, tasks and services. Pure domain logic: typed requests in, Result out; the
// JSON wire shapes live in server/ecs_routes.cc.
//
// Namespaces. Everything lives in one account and one region (the request's);
// ARNs are ECS's long format: cluster/<name>, container-instance/<cluster>/<id>,
// task/<cluster>/<id>, task-definition/<family>:<revision>. A request without
// `cluster` means "default". A cluster, instance or task is named by its name
// or id or by its full ARN (an ARN of another region or account is not found).
//
// Authorization. Every operation calls iam::AccessControl::Authorize with
// "ecs:<Operation>", the resource ECS's authorization reference names
// (ECS-FACTS §2: the cluster for cluster-scoped writes, the task definition
// for RunTask, the task for StopTask/DescribeTasks, "*" where none is listed),
// and `ecs:cluster` where it applies. Roles a definition or an override
// passes need iam:PassRole with iam:PassedToService ecs-tasks.amazonaws.com.
//
// State. Every record is its own key in store::Kv (records.h). Nothing is a
// shared counter: a cluster's task and instance counts and an instance's
// remaining resources are derived from the records of its tasks, which a
// per-cluster index (cluster_index.h) keeps in memory; writes to one cluster
// are serialized in this process by that index's lock and each commit is
// conditioned on the revisions it read. Stopped tasks stay describable for an
// hour after they stop, then are deleted.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/request_context.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "ecs/model.h"
#include "ecs/task_definition.h"
#include "iam/access_control.h"
#include "store/kv.h"

namespace berth::ecs {

class ClusterIndex;

struct Failure {
  std::string arn;
  std::string reason;  // MISSING, RESOURCE:CPU, ATTRIBUTE, AGENT, ...
  std::string detail;
};

template <class T>
struct Page {
  std::vector<T> items;
  std::string next_token;  // empty: last page
};

struct PageRequest {
  std::string next_token;
  std::optional<int> max_results;  // 1..100
};

// A container instance as DescribeContainerInstances shows it: the record
// with what is derived from the tasks on it and the agent's session.
struct InstanceView {
  ContainerInstance instance;
  std::vector<Resource> remaining_resources;
  bool agent_connected = false;
  int running_tasks_count = 0;
  int pending_tasks_count = 0;
};

struct ClusterView {
  Cluster cluster;
  int registered_container_instances_count = 0;
  int running_tasks_count = 0;
  int pending_tasks_count = 0;
  int active_services_count = 0;
};

struct RegisterInstanceRequest {
  std::string cluster;  // empty: default
  std::string container_instance_arn;  // re-registration
  std::vector<Resource> total_resources;
  std::vector<Attribute> attributes;
  VersionInfo version_info;
  std::string instance_identity_document;
  std::vector<Tag> tags;
  std::string client_token;
};

struct RunTaskRequest {
  std::string cluster;
  std::string task_definition;  // family, family:revision or ARN
  int count = 1;
  std::string launch_type;      // "" -> EC2
  std::string platform_version; // FARGATE
  std::string group;
  std::string started_by;
  TaskOverride overrides;
  std::vector<PlacementConstraint> placement_constraints;
  std::vector<PlacementStrategy> placement_strategy;
  bool has_network_configuration = false;
  std::vector<Tag> tags;
  std::string client_token;
  // StartTask: the instances to start on (no placement).
  std::vector<std::string> container_instances;
};

struct RunTaskResult {
  std::vector<Task> tasks;
  std::vector<Failure> failures;
};

struct ListTasksRequest {
  std::string cluster;
  std::string container_instance;
  std::string family;
  std::string started_by;
  std::string service_name;
  std::string desired_status;  // "" -> RUNNING
  std::string launch_type;
  PageRequest page;
};

struct ContainerStateChange {
  std::string container_name;
  std::string image_digest;
  std::string runtime_id;
  std::optional<int> exit_code;
  std::vector<NetworkBinding> network_bindings;
  std::string reason;
  std::string status;  // PENDING | RUNNING | STOPPED
};

// One task's container health, as the agent's TCS PublishHealthRequest reports it.
struct ContainerHealthReport {
  std::string container_name;
  std::string status;  // HEALTHY | UNHEALTHY | UNKNOWN
};
struct TaskHealthReport {
  std::string task;  // ARN or id
  std::vector<ContainerHealthReport> containers;
};

struct TaskStateChange {
  std::string cluster;
  std::string task;
  std::string status;  // PENDING | RUNNING | STOPPED ("" : containers only)
  std::string reason;
  std::vector<ContainerStateChange> containers;
  std::optional<TimePoint> pull_started_at, pull_stopped_at, execution_stopped_at;
  // berth's agent: an awsvpc task's address (shown as its ENI attachment).
  std::string private_ipv4;
};

// An attribute of a resource, as PutAttributes, DeleteAttributes and
// ListAttributes name it.
struct TargetAttribute {
  Attribute attribute;
  std::string target_type;  // "container-instance" ("" when target_id is an ARN)
  std::string target_id;    // an instance id or ARN (ListAttributes: the ARN)
};

struct ListAttributesRequest {
  std::string cluster;
  std::string target_type;  // required: "container-instance"
  std::string attribute_name;
  std::optional<std::string> attribute_value;  // only with attribute_name
  PageRequest page;
};

struct ListTaskDefinitionsRequest {
  std::string family_prefix;  // the exact family
  std::string status = "ACTIVE";
  bool descending = false;
  PageRequest page;
};

struct ListFamiliesRequest {
  std::string family_prefix;
  std::string status = "ALL";  // ACTIVE | INACTIVE | ALL
  PageRequest page;
};

// CreateService's and UpdateService's deploymentConfiguration: what is given.
struct DeploymentConfigurationRequest {
  std::optional<int> maximum_percent;
  std::optional<int> minimum_healthy_percent;
  std::optional<bool> circuit_breaker_enable;
  std::optional<bool> circuit_breaker_rollback;
};

struct CreateServiceRequest {
  std::string cluster;
  std::string service_name;
  std::string task_definition;  // family, family:revision or ARN
  std::optional<int> desired_count;  // required for REPLICA
  std::string scheduling_strategy;   // "" -> REPLICA
  std::string launch_type;           // "" -> EC2
  std::string platform_version;
  DeploymentConfigurationRequest deployment_configuration;
  std::vector<PlacementConstraint> placement_constraints;
  std::vector<PlacementStrategy> placement_strategy;
  std::optional<AwsvpcConfiguration> network_configuration;
  std::vector<Tag> tags;
  std::string propagate_tags;  // "" -> NONE
  bool enable_ecs_managed_tags = false;
  std::string client_token;
};

struct UpdateServiceRequest {
  std::string cluster;
  std::string service;  // name or ARN
  std::optional<int> desired_count;
  std::string task_definition;  // "" : unchanged
  std::optional<DeploymentConfigurationRequest> deployment_configuration;
  std::optional<AwsvpcConfiguration> network_configuration;
  bool force_new_deployment = false;
};

// Running and pending tasks of one deployment, counted from its tasks.
struct DeploymentCounts {
  int running = 0;
  int pending = 0;
};

// A service as DescribeServices shows it: the record (INACTIVE deployments
// left out) with counts derived from the tasks its deployments started.
struct ServiceView {
  EcsService service;
  std::vector<DeploymentCounts> deployment_counts;  // one per service.deployments
  int running_count = 0;
  int pending_count = 0;
};

struct ListServicesRequest {
  std::string cluster;
  std::string launch_type;
  std::string scheduling_strategy;
  PageRequest page;  // maxResults 1..100, 10 by default
};

// Called after every committed task change (dispatch to agents, ...).
// `previous` is null for a new task.
using TaskListener = std::function<void(const Task* previous, const Task& task)>;

// Reads a registry secret as the task's execution role would: `as_role` is a
// session of that role (its policies decide, with the secret's resource
// policy and its key's key policy). OK when the read would succeed. The
// server wires it to Secrets Manager's GetSecretValue; the value read is
// discarded.
using RegistrySecretCheck = std::function<Status(const aws::RequestContext& as_role,
                                                 const std::string& credentials_parameter)>;

struct ServiceOptions {
  // How long a STOPPED task stays describable.
  std::chrono::seconds stopped_task_retention{3600};
  // true: an instance's agent counts as connected only while it has a session, as the ACS
  // session registry (server/acs.h) reports through SetAgentConnected; false: every agent
  // counts as connected.
  bool agent_sessions = false;
  // RunTask's preflight for definitions with repositoryCredentials (null: none).
  RegistrySecretCheck registry_secret_check;
  // SweepStoppedTasks sweeps every cluster: those in memory, and the stored ones nobody has
  // touched since the server started, whose task records it walks at most this many a pass,
  // resuming where the last pass stopped (a cluster found holding a task past the retention is
  // loaded, at most one a pass, and swept as the others).
  size_t sweep_reads_per_pass = 5000;
  // The platform's account (the server's operator account): its cluster kFargatePoolCluster in
  // each region is the Fargate capacity pool serving FARGATE tasks of every account's clusters.
  // "": no pool (FARGATE tasks wait in PROVISIONING).
  std::string platform_account;
  // A FARGATE task still waiting for capacity this long after it was created is stopped
  // (TaskFailedToStart, kFargateCapacityUnavailable) by PlaceWaitingFargateTasks.
  std::chrono::seconds fargate_capacity_wait{600};
  // A cluster's in-memory index nobody has asked for this long, and none holds, is dropped by
  // SweepStoppedTasks (and loaded again from the store when next needed), so memory follows the
  // clusters in use, not every cluster ever touched. The Fargate pools' are kept.
  std::chrono::seconds index_idle{600};
};

// The cluster of the platform account where Fargate capacity (`berth agent --fargate`:
// instances with the attribute berth.fargate) registers, and only there. It runs no tasks of its
// own: RunTask places FARGATE tasks of any account and cluster on its instances, the task's
// record staying in its own cluster (with a copy in the pool's key space while it is not STOPPED,
// which the pool's agents' sessions and resource accounting read).
inline constexpr std::string_view kFargatePoolCluster = "berth-fargate";
// The stoppedReason of a FARGATE task that found no capacity in time (ECS's words for Fargate).
inline constexpr std::string_view kFargateCapacityUnavailable =
    "Capacity is unavailable at this time. Please try again later or in a different availability "
    "zone";
// The attribute that marks Fargate capacity, and the one naming its platform version
// (agent/host/host.h registers them).
inline constexpr std::string_view kFargateAttribute = "berth.fargate";
inline constexpr std::string_view kFargatePlatformAttribute = "berth.fargate.platform-version";

// Where the instance a task runs on is registered: the task's own account, region and cluster, or
// the platform's Fargate pool for a task placed there (Task::pool).
struct InstanceLocation {
  std::string account;
  std::string region;
  std::string cluster;
};

class Service {
 public:
  // Everything passed must outlive the Service.
  Service(store::Kv& kv, iam::AccessControl& access, iam::Service& iam, Ids& ids,
          const Clock& clock, ServiceOptions options = {});
  ~Service();

  // Clusters.
  Result<ClusterView> CreateCluster(const aws::RequestContext& ctx, std::string name,
                                    std::vector<Tag> tags, std::vector<KeyValue> settings);
  Result<ClusterView> DeleteCluster(const aws::RequestContext& ctx, const std::string& cluster);
  // `names` empty: the default cluster.
  Result<std::pair<std::vector<ClusterView>, std::vector<Failure>>> DescribeClusters(
      const aws::RequestContext& ctx, const std::vector<std::string>& names);
  Result<Page<std::string>> ListClusters(const aws::RequestContext& ctx, const PageRequest& page);

  // Task definitions.
  Result<TaskDefinition> RegisterTaskDefinition(const aws::RequestContext& ctx, TaskDefinition td);
  Result<TaskDefinition> DeregisterTaskDefinition(const aws::RequestContext& ctx,
                                                  const std::string& task_definition);
  Result<TaskDefinition> DescribeTaskDefinition(const aws::RequestContext& ctx,
                                                const std::string& task_definition);
  Result<Page<std::string>> ListTaskDefinitions(const aws::RequestContext& ctx,
                                                const ListTaskDefinitionsRequest& request);
  Result<Page<std::string>> ListTaskDefinitionFamilies(const aws::RequestContext& ctx,
                                                       const ListFamiliesRequest& request);

  // Container instances.
  Result<InstanceView> RegisterContainerInstance(const aws::RequestContext& ctx,
                                                 RegisterInstanceRequest request);
  Result<InstanceView> DeregisterContainerInstance(const aws::RequestContext& ctx,
                                                   const std::string& cluster,
                                                   const std::string& instance, bool force);
  Result<std::pair<std::vector<InstanceView>, std::vector<Failure>>> DescribeContainerInstances(
      const aws::RequestContext& ctx, const std::string& cluster,
      const std::vector<std::string>& instances);
  Result<Page<std::string>> ListContainerInstances(const aws::RequestContext& ctx,
                                                   const std::string& cluster,
                                                   const std::string& filter,
                                                   const std::string& status,
                                                   const PageRequest& page);
  Result<std::pair<std::vector<InstanceView>, std::vector<Failure>>> UpdateContainerInstancesState(
      const aws::RequestContext& ctx, const std::string& cluster,
      const std::vector<std::string>& instances, const std::string& status);

  // Custom attributes of container instances (at most 10 on an instance
  // beside the agent's own "ecs.*" / "com.amazonaws.ecs.*" ones, which these
  // may not change). Up to 10 attributes a call; a target is an instance id
  // (with target_type "container-instance") or ARN in `cluster`:
  // TargetNotFoundException when it is not registered there,
  // AttributeLimitExceededException past 10. Put replaces a value; Delete
  // ignores names the instance does not have. Both are applied only when
  // every attribute is valid, and return the attributes as given.
  // ecs:PutAttributes / ecs:DeleteAttributes on each instance (ecs:cluster);
  // ecs:ListAttributes on the cluster. The agent's re-registration keeps them.
  Result<std::vector<TargetAttribute>> PutAttributes(
      const aws::RequestContext& ctx, const std::string& cluster,
      const std::vector<TargetAttribute>& attributes);
  Result<std::vector<TargetAttribute>> DeleteAttributes(
      const aws::RequestContext& ctx, const std::string& cluster,
      const std::vector<TargetAttribute>& attributes);
  // Every attribute of every registered instance, ordered by instance id then
  // name, filtered by name (and value).
  Result<Page<TargetAttribute>> ListAttributes(const aws::RequestContext& ctx,
                                               const ListAttributesRequest& request);

  // Tags of clusters, task definitions (family:revision), container
  // instances, tasks and services, named by their long-format ARNs. ecs:TagResource / ecs:UntagResource /
  // ecs:ListTagsForResource on the ARN, with ecs:cluster, aws:ResourceTag/<k>
  // of the resource's tags, and aws:RequestTag/<k> and aws:TagKeys. Tag adds
  // or replaces (at most 50 on a resource, ValidateTags' rules); Untag ignores
  // keys the resource lacks. An ARN that is not ECS's, of another account or
  // region, or of an unknown kind: InvalidParameterException "The ARN provided
  // is invalid."; a missing or INACTIVE cluster: ClusterNotFoundException; a
  // missing definition, instance, task or service (INACTIVE: missing):
  // ResourceNotFoundException.
  Status TagResource(const aws::RequestContext& ctx, const std::string& resource_arn,
                     const std::vector<Tag>& tags);
  Status UntagResource(const aws::RequestContext& ctx, const std::string& resource_arn,
                       const std::vector<std::string>& tag_keys);
  Result<std::vector<Tag>> ListTagsForResource(const aws::RequestContext& ctx,
                                               const std::string& resource_arn);

  // Tasks.
  // RunTask's client_token (up to 64 ASCII 33-126): a retry with the same
  // token and parameters returns the tasks the first call created;
  // different parameters are ConflictException with `resourceIds` (the
  // error's extra_json) naming those tasks. StopTask deletes the task's tags.
  Result<RunTaskResult> RunTask(const aws::RequestContext& ctx, RunTaskRequest request);
  Result<RunTaskResult> StartTask(const aws::RequestContext& ctx, RunTaskRequest request);
  Result<Task> StopTask(const aws::RequestContext& ctx, const std::string& cluster,
                        const std::string& task, const std::string& reason);
  Result<std::pair<std::vector<Task>, std::vector<Failure>>> DescribeTasks(
      const aws::RequestContext& ctx, const std::string& cluster,
      const std::vector<std::string>& tasks);
  Result<Page<std::string>> ListTasks(const aws::RequestContext& ctx,
                                      const ListTasksRequest& request);

  // Services (ECS-FACTS §1.8). ARNs service/<cluster>/<name>; a service is
  // named by name or ARN. Each operation authorizes ecs:<Operation> on the
  // service ARN with ecs:cluster (Create/Update also ecs:task-definition,
  // ecs:TagResource for tags, and iam:PassRole for the definition's roles as
  // RunTask does); ListServices on "*". The tasks are the scheduler's
  // (ReconcileServices): Create and Update only write the service.
  //
  // CreateService: desiredCount is required for REPLICA (DAEMON: one task per
  // eligible instance); the definition resolves to a revision and is checked
  // as RunTask checks it (launch type, platform version, awsvpc needs
  // networkConfiguration, placement); the first deployment is PRIMARY,
  // IN_PROGRESS. A name that is ACTIVE or DRAINING: InvalidParameterException
  // "Creation of service was not idempotent." unless the same clientToken
  // retries (the service is returned); an INACTIVE name is reused.
  Result<ServiceView> CreateService(const aws::RequestContext& ctx, CreateServiceRequest request);
  // A new definition, networkConfiguration or forceNewDeployment starts a new
  // PRIMARY deployment (the previous ones become ACTIVE and drain);
  // desiredCount and deploymentConfiguration change the service in place.
  // ServiceNotFoundException / ServiceNotActiveException.
  Result<ServiceView> UpdateService(const aws::RequestContext& ctx, UpdateServiceRequest request);
  // ACTIVE -> DRAINING (the scheduler stops its tasks, then INACTIVE).
  // Without `force`, refused while desiredCount > 0 (InvalidParameterException
  // "The service cannot be stopped while it is scaled above 0."); with it,
  // desiredCount becomes 0.
  Result<ServiceView> DeleteService(const aws::RequestContext& ctx, const std::string& cluster,
                                    const std::string& service, bool force);
  // 1..10 services; unknown ones are failures with reason MISSING.
  Result<std::pair<std::vector<ServiceView>, std::vector<Failure>>> DescribeServices(
      const aws::RequestContext& ctx, const std::string& cluster,
      const std::vector<std::string>& services);
  // ACTIVE and DRAINING services, by name.
  Result<Page<std::string>> ListServices(const aws::RequestContext& ctx,
                                         const ListServicesRequest& request);

  // The service scheduler's pass over every ACTIVE and DRAINING service of
  // every account and region: starts tasks (RunTask's placement, as the
  // service: group service:<name>, startedBy its deployment id) and stops
  // extra ones, rolls deployments within minimumHealthyPercent and
  // maximumPercent, applies the circuit breaker, writes the service events
  // and finishes DRAINING services. Idempotent: call it every second and
  // after task changes, from one thread at a time (calls are serialized).
  Status ReconcileServices(TimePoint now);

  // Places the FARGATE tasks waiting in PROVISIONING for Fargate capacity (none of the pool's
  // instances could take them when they were run) on the pool's instances that can take them
  // now, oldest first, and dispatches them; stops those waiting longer than
  // ServiceOptions::fargate_capacity_wait at `now` (TaskFailedToStart,
  // kFargateCapacityUnavailable). The server's scheduler calls it on every pass.
  Status PlaceWaitingFargateTasks(TimePoint now);

  // What the agent reports. Returns the acknowledgment ("ACK"). `action`: what IAM authorizes
  // (SubmitContainerStateChange's form is authorized as ecs:SubmitContainerStateChange).
  Result<std::string> SubmitTaskStateChange(
      const aws::RequestContext& ctx, const TaskStateChange& change,
      std::string_view action = "ecs:SubmitTaskStateChange");

  // The agent's health reports over its telemetry session (TCS
  // PublishHealth; the session was authorized when it opened): each named
  // container's status (containers without a health check are left alone),
  // and the task's from its essential containers (TaskHealthOf). Only tasks
  // placed on `instance_id` are changed: an agent cannot set the health of
  // another instance's tasks (those, STOPPED tasks and unknown ones are
  // skipped). InvalidParameterException for a status that is not HEALTHY,
  // UNHEALTHY or UNKNOWN (nothing is changed then).
  Status PublishHealth(const std::string& account, const std::string& region,
                       const std::string& cluster, const std::string& instance_id,
                       const std::vector<TaskHealthReport>& tasks);

  // DiscoverPollEndpoint's permission check (the endpoint is the server's own).
  Status DiscoverPollEndpoint(const aws::RequestContext& ctx, const std::string& cluster,
                              const std::string& instance);

  // The ARN of a cluster named by name or ARN in the caller's account/region.
  std::string ClusterArn(const aws::RequestContext& ctx, const std::string& cluster) const;

  // Tasks of one instance, for the agent session (payloads, manifests): the index's immutable
  // records, shared, not copied (every heartbeat reads every instance's).
  using TaskRecords = std::vector<std::shared_ptr<const Task>>;
  Result<TaskRecords> TasksOfInstance(const std::string& account, const std::string& region,
                                      const std::string& cluster, const std::string& instance_id);

  // Where `task`'s instance is registered (its agent's session is keyed by it).
  InstanceLocation InstanceLocationOf(const Task& task) const;

  // The definition a task runs (no authorization: for the agent session).
  Result<TaskDefinition> TaskDefinitionOf(const std::string& account, const std::string& region,
                                          const std::string& arn);

  // The agent session's upgrade check: ecs:Poll on the container instance
  // (with ecs:cluster), which must be registered (ACTIVE or DRAINING).
  // InvalidInstanceException / InvalidClusterException otherwise, as ACS names them.
  // `action`: the telemetry session's is ecs:StartTelemetrySession.
  Result<InstanceView> AuthorizePoll(const aws::RequestContext& ctx, const std::string& cluster,
                                     const std::string& instance,
                                     std::string_view action = "ecs:Poll");

  void AddTaskListener(TaskListener listener);

  // The ACS session registry (server/acs.h): the agent of an instance opened (true) or lost
  // (false) its session. Placement (AGENT), agentConnected and the query language read it
  // (with ServiceOptions::agent_sessions).
  void SetAgentConnected(const std::string& account, const std::string& region,
                         const std::string& cluster, const std::string& instance_id,
                         bool connected);

  // Deletes STOPPED tasks older than the retention (a background loop calls it), then drops
  // the indexes idle for ServiceOptions::index_idle.
  Status SweepStoppedTasks(TimePoint now);  // (every cluster's: sweep_reads_per_pass)

  // How many clusters' indexes are in memory (tests, metrics).
  size_t LoadedClusters() const;

 // Opaque; defined in service_impl.h for the service's own .cc files.
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::ecs
