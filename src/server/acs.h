// The ECS agent communication service (ACS): the websocket an agent holds
// open to learn what to run, in ECS's own protocol (reference/acs-api-2.json,
// ECS-FACTS §3.1), so that berth's agent and amazon-ecs-agent both work.
//
// An agent connects to GET /ws?clusterArn=..&containerInstanceArn=..&...,
// SigV4-signed with signing name "ecs"; the upgrade is authorized as
// ecs:Poll on the container instance (with ecs:cluster). Then, over the
// session:
//  - PayloadMessage: the instance's tasks when it connects, and each task
//    again whenever it is started or stopped (a stop is the task with
//    desiredStatus STOPPED), with the execution role's and the task role's
//    credentials minted for that dispatch (as ecs-tasks.amazonaws.com, the
//    role's trust policy deciding) and the container definitions rendered as
//    ECS's backend renders them (dockerConfig, registryAuthentication asm);
//  - HeartbeatMessage every heartbeat interval, TaskManifestMessage with it
//    (the agent asks TaskStopVerificationMessage about tasks it runs that the
//    manifest lacks; the answer lists those to stop);
//  - IAMRoleCredentialsMessage before the credentials handed out expire.
// The agent acks payloads (AckRequest), heartbeats and credentials.
// `agentConnected` is "this instance has a session" (Connected below).
//
// Credentials are held only in the messages; what is kept in memory per
// session is which credentials went out, when they expire, and for which
// task and role: never the keys.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "aws/gateway.h"
#include "common/clock.h"
#include "common/ids.h"
#include "ecs/service.h"
#include "http/websocket.h"
#include "iam/access_control.h"
#include "sts/service.h"

namespace berth::server {

struct AcsOptions {
  std::chrono::seconds heartbeat_interval{30};
  // Credentials are refreshed when they expire within this.
  std::chrono::seconds refresh_before{15 * 60};
  int credentials_seconds = 3600;
};

class AcsSessions {
 public:
  // Everything passed must outlive this object. SetService before serving.
  AcsSessions(aws::Gateway& gateway, iam::AccessControl& access, sts::Service& sts, Ids& ids,
              const Clock& clock, AcsOptions options = {});
  ~AcsSessions();

  // The service whose tasks the sessions carry; told when an instance's session opens and
  // when its last one closes (ecs::Service::SetAgentConnected).
  void SetService(ecs::Service* ecs);

  // The websocket route's upgrade decision.
  http::UpgradeDecision Upgrade(const http::Request& request);

  // ecs::TaskListener: sends a started or stopped task to its agent.
  void OnTaskChange(const ecs::Task* previous, const ecs::Task& task);

  // Heartbeats, manifests and credential refresh for every session; a
  // background thread calls it every heartbeat interval (Start/Stop).
  void Tick();
  void Start();
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::server
