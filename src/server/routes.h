// The wire tables: one function per service maps its operations (names,
// request parsing, reply shapes) to the service's domain calls. Each
// *_routes.cc file also defines its service's module factory (module.h).
#pragma once

#include <functional>
#include <string>

#include "aws/gateway.h"
#include "ecs/service.h"
#include "iam/access_control.h"
#include "iam/api.h"
#include "iam/identity_store.h"
#include "iam/service.h"
#include "kms/service.h"
#include "logs/service.h"
#include "secrets/service.h"
#include "sts/service.h"

namespace berth::server {

// The authorization check every operation makes before acting: may the
// caller perform `action` on `resource` (an ARN), with the resource's and the
// operation's condition keys in `res`? AccessDenied otherwise.
using Authorize = std::function<Status(const aws::RequestContext& ctx, const std::string& action,
                                       const std::string& resource,
                                       const iam::ResourceContext& res)>;

// Authorize through `access` (which must outlive the function).
inline Authorize AuthorizeWith(iam::AccessControl& access) {
  return [&access](const aws::RequestContext& ctx, const std::string& action,
                   const std::string& resource, const iam::ResourceContext& res) {
    return access.Authorize(ctx, action, resource, res);
  };
}

// IAM's API over `api`, which authorizes every operation (iam/api.h).
aws::QueryService IamRoutes(iam::Api& api);

// `authorize` decides the operations that need a permission (GetFederationToken,
// GetAccessKeyInfo); GetCallerIdentity and AssumeRole need none of it.
aws::QueryService StsRoutes(sts::Service& sts, Authorize authorize);
aws::JsonService KmsRoutes(kms::Service& kms);
aws::JsonService SecretsRoutes(secrets::Service& secrets);
aws::JsonService LogsRoutes(logs::Service& logs);
// Where agents reach the server (DiscoverPollEndpoint's answer): the
// server's own URL, known once it listens.
struct EcsEndpoints {
  std::function<std::string()> base;
  // Called after CreateService/UpdateService/DeleteService: the scheduler
  // runs soon rather than at its next tick (null: nothing).
  std::function<void()> services_changed;
};
aws::JsonService EcsRoutes(ecs::Service& ecs, EcsEndpoints endpoints);
// berth's operator API (accounts, agent identities); `operator_account` is the default
// account, whose root alone may call it (AccessControl::AuthorizeOperator).
aws::JsonService AdminRoutes(iam::Service& iam, iam::IdentityStore& identities,
                             sts::Service& sts, iam::AccessControl& access,
                             std::string operator_account);

// The permissions of an agent's IAM user (CreateAgentCredentials): what
// AmazonEC2ContainerServiceforEC2Role grants the ECS agent, as an inline policy.
inline constexpr std::string_view kAgentPolicyName = "berth-ecs-agent";
std::string AgentPolicyDocument();

}  // namespace berth::server
