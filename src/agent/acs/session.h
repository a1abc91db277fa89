// The agent's ACS session (ECS-FACTS §3.1, reference/acs-api-2.json): a websocket to
// DiscoverPollEndpoint's endpoint + "/ws?clusterArn=..&containerInstanceArn=..&agentVersion=..
// &agentHash=..&seqNum=1&protocolVersion=2&dockerVersion=..&sendCredentials=true|false", the
// upgrade GET signed with SigV4 for service "ecs". It answers HeartbeatMessage with
// HeartbeatAckRequest, hands PayloadMessage tasks to the handler and acks them (AckRequest, and
// one IAMRoleCredentialsAckRequest per credentials received), passes IAMRoleCredentialsMessage
// refreshes on, acks TaskManifestMessage and asks TaskStopVerificationMessage for tasks it runs
// that the manifest lacks, stopping those TaskStopVerificationAck names. A connection that
// hears nothing for heartbeat_timeout is closed; every drop reconnects with backoff
// (250 ms x1.5 up to 2 min, 20 % jitter). sendCredentials is true on the first connection.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "agent/spec/task_spec.h"
#include "agent/wsclient/reconnecting.h"
#include "common/clock.h"
#include "common/error.h"

namespace berth::agent::acs {

// Parses one ACS Task object (PayloadMessage.tasks[i]) into a TaskSpec, unpacking each
// Container.dockerConfig (config: User, WorkingDir, Hostname, Labels, Healthcheck;
// hostConfig: LogConfig, Memory/MemoryReservation bytes -> MiB, CpuShares, Ulimits,
// Privileged, ReadonlyRootfs, Dns, DnsSearch, ExtraHosts, Init). Error "UnrecognizedTaskError"
// saying what is wrong (no arn, a container without name or image, malformed dockerConfig).
Result<spec::TaskSpec> ParseTask(std::string_view task_json);

class AcsHandler {
 public:
  virtual ~AcsHandler() = default;
  // Tasks of one PayloadMessage: new ones, and known ones whose desired status changed
  // (a STOPPED desired status stops the task). Called on the session's thread; must not block
  // on running the tasks. False: not all were taken (the payload is then not acked).
  virtual bool OnTasks(const std::vector<spec::TaskSpec>& tasks) = 0;
  // Refreshed credentials of a task's role (role_type says which).
  virtual void OnCredentials(const std::string& task_arn,
                             const spec::RoleCredentials& credentials) = 0;
  // ARNs of the tasks the agent has that are not STOPPED (for stop verification).
  virtual std::vector<std::string> ActiveTaskArns() = 0;
  // Tasks the server confirmed should stop (TaskStopVerificationAck.stopTasks).
  virtual void OnStopTasks(const std::vector<std::string>& task_arns) = 0;
  // A task of a PayloadMessage that ParseTask refused ("UnrecognizedTaskError"); `task_arn` is
  // "" when it had none. The ECS agent reports such a task STOPPED with the error as reason.
  // The rest of the payload is handed on (and acked) as usual.
  virtual void OnUnrecognizedTask(const std::string& task_arn, const Error& error) {
    (void)task_arn;
    (void)error;
  }
};

// endpoint: DiscoverPollEndpoint's `endpoint`.
struct AcsOptions : wsclient::SessionOptions {
  std::chrono::milliseconds heartbeat_timeout{60'000};
};

class AcsSession {
 public:
  AcsSession(AcsOptions options, AcsHandler& handler,
             const Clock& clock = SystemClock::Instance());
  ~AcsSession();  // Stop()s and joins

  // Connects and serves on a thread of its own until Stop(), reconnecting after every drop.
  void Start();
  void Stop();
  bool Connected() const;
  // Connections made so far (tests: a reconnect happened).
  int Connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::agent::acs
