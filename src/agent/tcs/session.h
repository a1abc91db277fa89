// The agent's TCS session (ECS-FACTS §3.2, the ECS agent's ecs-agent/tcs/model/api/api-2.json):
// a websocket to DiscoverPollEndpoint's telemetryEndpoint + "/ws?cluster=..&containerInstance=..
// &agentVersion=..&agentHash=..&dockerVersion=..", the upgrade GET signed with SigV4 for service
// "ecs" as the ACS session's (wsclient/reconnecting.h: every drop reconnects with backoff).
// Every frame is {"type": "<ShapeName>", "message": {...}}. The agent sends
//   PublishHealthRequest{metadata{cluster, containerInstance, messageId (a fresh UUID),
//     fin: true}, tasks[{taskArn, clusterArn, taskDefinitionFamily, taskDefinitionVersion,
//     containers[{containerName, healthStatus, statusSince (epoch seconds), statusMessage
//     (<= 255 bytes, omitted when empty)}]}], timestamp}
// with the full state the health source gives: right after each connect, within `coalesce` of
// a Notify() (a burst of them makes one), and every publish_interval; never with no task (the
// source gives only tasks not STOPPED that have a container with a health check). And
// HeartbeatMessage{healthy: true} every heartbeat_interval. The server's AckPublishHealth is
// not waited for. Status messages (a container's probe output) and credentials are never
// logged.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/spec/task_spec.h"
#include "agent/wsclient/reconnecting.h"
#include "common/clock.h"

namespace berth::agent::tcs {

// endpoint: DiscoverPollEndpoint's telemetryEndpoint ("https://host:port/tcs").
struct TcsOptions : wsclient::SessionOptions {
  std::chrono::milliseconds publish_interval{20'000};
  std::chrono::milliseconds heartbeat_interval{30'000};
  std::chrono::milliseconds coalesce{500};  // Notify() -> publish
  // A publish followed by no word from the server (AckPublishHealth, or a refusal) for this
  // long means a connection that still takes writes but leads nowhere (a half-open TCP
  // connection, a stuck server): the session reconnects.
  std::chrono::milliseconds ack_timeout{60'000};
};

// The health to publish now (engine::Engine::Health). Called on the session's thread.
using HealthSource = std::function<std::vector<spec::TaskHealth>()>;

class TcsSession {
 public:
  TcsSession(TcsOptions options, HealthSource health,
             const Clock& clock = SystemClock::Instance());
  ~TcsSession();  // Stop()s and joins

  // Connects and publishes on a thread of its own until Stop(), reconnecting after every drop.
  void Start();
  void Stop();
  bool Connected() const;
  int Connections() const;
  // Health changed: publish within `coalesce` (when connected; a connect publishes anyway).
  // Cheap and thread-safe.
  void Notify();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::agent::tcs
