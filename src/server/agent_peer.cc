#include "server/agent_peer.h"

#include "common/strings.h"

namespace berth::server {

std::variant<AgentPeer, http::Response> AuthorizeAgentUpgrade(aws::Gateway& gateway,
                                                              ecs::Service* ecs, Ids& ids,
                                                              const http::Request& request,
                                                              const AgentUpgrade& what) {
  // Every refusal is a 403 before the upgrade, with the AWS error inside.
  auto refuse = [](Error error, const std::string& request_id) {
    error.http_status = 403;
    return aws::JsonError(error, request_id);
  };
  auto ctx = gateway.Authenticate(request, "ecs");
  if (!ctx) return refuse(ctx.error(), ids.Uuid());
  std::string cluster, instance;
  for (const auto& [k, v] : ParseForm(request.Query())) {
    if (k == what.cluster_key) cluster = v;
    if (k == what.instance_key) instance = v;
  }
  if (!ecs) return aws::JsonError(Error{"ServerException", "ECS is not ready", 503}, "");
  auto view = ecs->AuthorizePoll(*ctx, cluster, instance, what.action);
  if (!view) return refuse(view.error(), ctx->request_id);
  AgentPeer peer;
  peer.account = ctx->caller.account;
  peer.region = ctx->region;
  peer.cluster = view->instance.cluster;
  peer.instance_id = view->instance.id;
  peer.instance_arn = view->instance.arn;
  // arn:aws:ecs:<region>:<account>:container-instance/... -> ...:cluster/<name>
  peer.cluster_arn = view->instance.arn.substr(0, view->instance.arn.find("container-instance/")) +
                     "cluster/" + view->instance.cluster;
  return peer;
}

}  // namespace berth::server
