// The task engine: runs the tasks ACS hands this host, each through ECS's task state machine
// (ECS-FACTS §3.6, §3.7), and reports every step with SubmitTaskStateChange.
//
// Per task, on a thread of its own (tasks never wait for each other):
//   1. asm-auth: for containers with repositoryCredentials, GetSecretValue of the secret with
//      the task's execution-role credentials in asmAuthData.region (credentials/
//      SecretsManagerCredentials), once per secret per task, held in memory for the task's
//      life only. Containers without it use the instance-level auth (EngineOptions.instance_auth).
//   2. Pull (agent::PullImage under EngineOptions.pull_policy) into the content store; unpack
//      once per manifest digest into <data_dir>/images/<digest>/rootfs (the read-only lower
//      layer of every container of that image). A cached image pulled with other credentials is
//      used only after the registry accepts this task's credentials for it (a manifest HEAD,
//      remembered briefly per credentials and digest) unless trust_cached_images.
//   3. Network (network::Network::Setup) for the task's mode.
//   4. Containers started in dependsOn order (START: after the dependency started; COMPLETE:
//      after it exited; SUCCESS: after it exited 0; HEALTHY: after its health check passed),
//      each with /etc/hosts, /etc/resolv.conf, hostname, and the env ECS gives containers:
//      ECS_CONTAINER_METADATA_URI_V4 (and ..._URI), AWS_CONTAINER_CREDENTIALS_RELATIVE_URI when
//      the task has a task role (AWS_CONTAINER_CREDENTIALS_FULL_URI on host networking), and
//      AWS_DEFAULT_REGION/AWS_REGION.
//      A container with a healthCheck is probed from its start (health.h, Runtime::Exec); its
//      status (UNKNOWN, HEALTHY, UNHEALTHY), since when, and the last line of the probe that
//      set it are kept in the task record and published over TCS (Health(), OnHealthChange;
//      tcs/session.h): ECS's SubmitTaskStateChange has no field for it, and an UNHEALTHY
//      essential container does not stop the task (ECS's service scheduler replaces such
//      tasks). A HEALTHY dependency
//      that turns UNHEALTHY, stops first or has no check fails its dependents as a SUCCESS
//      dependency that exited non-zero does.
//   5. RUNNING reported once every container that is not waiting on a COMPLETE/SUCCESS
//      dependency runs (containers: runtimeId, imageDigest, networkBindings; pullStartedAt,
//      pullStoppedAt).
//   6. Stop, when ACS says STOPPED or an essential container exits ("Essential container in
//      task exited"): SIGTERM to every container, SIGKILL after its stopTimeout (default
//      EngineOptions.default_stop_timeout); then STOPPED with exit codes, each container's
//      reason, the task's stoppedReason and executionStoppedAt; then the network is torn down
//      and the containers removed.
//   7. Output: a container whose logConfiguration driver is "awslogs" gets an
//      awslogs::Shipper once it starts (again after Recover, from its saved offset), tailing
//      Runtime::LogPath into CloudWatch Logs at EngineOptions.endpoint (or awslogs-endpoint),
//      signed with the task's execution-role credentials of the moment; when the task stops,
//      every shipper is finished (up to logs_finish_timeout) before STOPPED is reported and
//      before the output file is moved. A bad awslogs configuration fails the container as
//      Docker's refusal does for the ECS agent: "CannotCreateContainerError: <message>".
// Failures read as ECS's: "CannotPullContainerError: ...", "CannotPullContainerAuthError: ...",
// "CannotCreateContainerError: ...", asm failures as the credentials source words them; the
// task is reported STOPPED with that reason.
//
// Task state (never a credential) is kept under <data_dir>/tasks/<task id>.json, so Recover()
// after a restart adopts running containers instead of starting them again, learns how the
// others exited (the runtime's shim recorded it) and reports what changed.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/awslogs/shipper.h"
#include "agent/credentials/credential_source.h"
#include "agent/credentials/secrets_manager_credentials.h"
#include "agent/image_pull.h"
#include "agent/network/network.h"
#include "agent/runtime/runtime.h"
#include "agent/spec/task_spec.h"
#include "agent/tmds/server.h"
#include "common/clock.h"
#include "common/error.h"

namespace berth::agent::engine {

// Where state changes go (the ECS client in production). The engine retries a failed
// submission with backoff and keeps a task's changes in order.
class Reporter {
 public:
  virtual ~Reporter() = default;
  virtual Status Submit(const spec::TaskStateChange& change) = 0;
};

struct EngineOptions {
  std::string data_dir;  // tasks/, images/, content/ (the content store)
  std::string endpoint;  // berth's endpoint: Secrets Manager for asm-auth
  std::string ca_file;   // extra CA bundle for the endpoint
  std::string region;    // when asmAuthData has none
  registry::PullOptions pull;  // insecure registries, registry CA, timeouts, platform
  PullPolicy pull_policy = PullPolicy::kDefault;
  // ECS_ENGINE_AUTH_TYPE/DATA credentials for containers without repositoryCredentials; the
  // CLI passes null on EXTERNAL and FARGATE instances. Not owned; outlives the engine.
  credentials::CredentialSource* instance_auth = nullptr;
  bool trust_cached_images = false;
  std::chrono::seconds default_stop_timeout{30};
  std::string cluster_arn;
  std::string container_instance_arn;
  std::string availability_zone;
  // The metadata endpoint as host-network containers reach it ("127.0.0.1:<port>").
  std::string metadata_address;
  // Task namespaces reach it here (network/ DNATs 169.254.170.2:80 to metadata_address).
  std::string metadata_task_address = "169.254.170.2";
  bool fargate = false;
  // A hollow agent's engine (benchmarks; use with runtime::MemoryRuntime and
  // network::MemoryNetwork): images are not pulled (NewHollowImages); asm-auth still reads the
  // task's secret.
  bool hollow = false;
  // How long a stopped task's container output stays in <data_dir>/logs/<task id>/.
  std::chrono::seconds stopped_output_retention{3 * 3600};  // enforce task cpu/memory as limits; refuse non-FARGATE tasks

  // Reads one asm secret (repositoryCredentials) as the execution role. Empty (the default):
  // credentials::SecretsManagerCredentials::Fetch. Tests inject a fake so they need no server.
  using AsmFetch = std::function<Result<std::unique_ptr<credentials::CredentialSource>>(
      const credentials::SecretsManagerOptions& options, TimePoint now)>;
  AsmFetch fetch_asm;
  // How long the registry's acceptance of a set of credentials for a cached image (by digest)
  // is remembered before the next task presenting them is checked again.
  std::chrono::seconds reauthorization_ttl{300};
  // State changes: attempts per change (then it is dropped and logged; a STOPPED change is
  // sent again after a restart) and the first backoff, doubling up to 30 s.
  int report_attempts = 8;
  std::chrono::milliseconds report_backoff{500};
  // The awslogs driver's CloudWatch Logs client for one container: `credentials` gives the
  // task's execution-role credentials as they are when called. Empty (the default):
  // awslogs::NewLogsClient. Tests inject a fake.
  using LogsClientFactory = std::function<std::unique_ptr<awslogs::LogsClient>(
      const awslogs::Config& config, awslogs::CredentialsProvider credentials)>;
  LogsClientFactory logs_client;
  // How long a stopping task waits for its containers' output to be shipped (then STOPPED is
  // reported anyway, the rest unsent).
  std::chrono::milliseconds logs_finish_timeout{20'000};
};

class Engine {
 public:
  // Everything passed by reference outlives the engine.
  Engine(EngineOptions options, runtime::Runtime& runtime, network::Network& network,
         tmds::MetadataServer& metadata, Reporter& reporter,
         const Clock& clock = SystemClock::Instance());
  ~Engine();  // Shutdown()

  // Call once, before tasks arrive: reads <data_dir>/tasks, adopts running containers, reports
  // tasks whose containers stopped while the agent was away, tears down what no task needs.
  Status Recover();

  // A task from ACS: new (started), known with desired STOPPED (stopped), or known and
  // unchanged (nothing). Returns at once; the work runs on the task's own thread.
  void Apply(const spec::TaskSpec& task);

  // Refreshed credentials (IAMRoleCredentialsMessage): the task role's go to the metadata
  // endpoint; the execution role's replace the ones asm-auth and pulls use.
  void UpdateCredentials(const std::string& task_arn, const spec::RoleCredentials& credentials);

  // ARNs of the tasks not yet STOPPED.
  std::vector<std::string> ActiveTaskArns() const;

  // The container health TCS publishes: every task not STOPPED that has a container with a
  // health status (a health check, once started), with those containers only; by task ARN.
  std::vector<spec::TaskHealth> Health() const;
  // `callback` is called (on a task's thread, no engine lock held; it must not block) whenever
  // Health() changes: a status changes, a checked container starts, a task stops. Replaces
  // the previous one; empty: none.
  void OnHealthChange(std::function<void()> callback);

  // Stops the engine's threads without stopping containers (they are adopted on restart).
  void Shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::agent::engine
