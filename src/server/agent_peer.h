// The agent at the other end of an ACS or TCS session, and the upgrade check
// both make: the upgrade GET verified with SigV4 (signing name "ecs"), then
// `action` authorized on the container instance its query names (with
// ecs:cluster; the caller must own the instance: ecs::Service::AuthorizePoll).
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "aws/gateway.h"
#include "common/ids.h"
#include "ecs/service.h"
#include "http/message.h"

namespace berth::server {

struct AgentPeer {
  std::string account, region, cluster, instance_id, instance_arn, cluster_arn;
};

struct AgentUpgrade {
  std::string_view cluster_key;   // the query parameter naming the cluster
  std::string_view instance_key;  // ... and the container instance
  std::string_view action;        // ecs:Poll (ACS), ecs:StartTelemetrySession (TCS)
};

// The peer, or the reply refusing the upgrade: 403 with the AWS error inside
// (503 while `ecs` is null).
std::variant<AgentPeer, http::Response> AuthorizeAgentUpgrade(aws::Gateway& gateway,
                                                              ecs::Service* ecs, Ids& ids,
                                                              const http::Request& request,
                                                              const AgentUpgrade& what);

}  // namespace berth::server
