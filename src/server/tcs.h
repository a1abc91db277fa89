// The ECS telemetry service (TCS): the second websocket an agent holds, for
// what the agent reports rather than what it is told (ECS-FACTS §3.2; the
// model is amazon-ecs-agent's ecs-agent/tcs/model/api/api-2.json, target
// prefix AmazonEC2ContainerServiceTelemetryV20150310).
//
// DiscoverPollEndpoint answers telemetryEndpoint = <endpoint>/tcs, so an agent
// connects to GET /tcs/ws?cluster=..&containerInstance=..&agentVersion=..,
// SigV4-signed with signing name "ecs"; the upgrade is authorized as
// ecs:StartTelemetrySession on the container instance (with ecs:cluster), and
// the caller must own the instance, as for ACS. Every frame is
// {"type": <shape>, "message": {...}}:
//  - PublishHealthRequest{metadata{cluster, containerInstance, messageId,
//    fin}, tasks[{taskArn, containers[{containerName, healthStatus,
//    statusSince, statusMessage}]}], timestamp}: the containers' health
//    (ecs::Service::PublishHealth: only this instance's tasks), answered
//    with AckPublishHealth{message};
//  - PublishMetricsRequest / PublishInstanceStatusRequest: acknowledged
//    (AckPublishMetric / AckPublishInstanceStatus) and not kept: berth has no
//    CloudWatch metrics;
//  - HeartbeatMessage: nothing.
// A request berth cannot take is answered with {"type": <error code>,
// "message": {"message": ...}} (BadRequestException, InvalidParameterException,
// ServerException) and the session stays open.
#pragma once

#include <memory>

#include "aws/gateway.h"
#include "common/ids.h"
#include "ecs/service.h"
#include "http/websocket.h"

namespace berth::server {

class TcsSessions {
 public:
  // `gateway` and `ids` outlive this object; SetService before serving.
  TcsSessions(aws::Gateway& gateway, Ids& ids);
  ~TcsSessions();

  void SetService(ecs::Service* ecs);

  // The websocket route's upgrade decision.
  http::UpgradeDecision Upgrade(const http::Request& request);

  // Closes every session (1001).
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::server
