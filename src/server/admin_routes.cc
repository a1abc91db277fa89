// berth's own operator API (JSON 1.1, signing name "berth", target prefix
// "BerthAdmin_20261126"): what AWS does through its console and
// Organizations, berth's operator does here. Only the root of the server's
// default (operator) account may call it.
#include <fmt/format.h>

#include <algorithm>

#include "aws/json_protocol.h"
#include "server/module.h"
#include "server/routes.h"

namespace berth::server {

namespace {
using aws::JsonReader;
using Ctx = const aws::RequestContext&;
}  // namespace

std::string AgentPolicyDocument() {
  // The ECS agent's actions in AmazonEC2ContainerServiceforEC2Role.
  return R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[)"
         R"("ecs:CreateCluster","ecs:DeregisterContainerInstance","ecs:DiscoverPollEndpoint",)"
         R"("ecs:Poll","ecs:RegisterContainerInstance","ecs:StartTelemetrySession",)"
         R"("ecs:UpdateContainerInstancesState","ecs:Submit*","ecs:ListTagsForResource"],)"
         R"("Resource":"*"}]})";
}

aws::JsonService AdminRoutes(iam::Service& iam, iam::IdentityStore& identities,
                             sts::Service& sts, iam::AccessControl& access,
                             std::string operator_account) {
  aws::JsonService svc;
  svc.signing_name = "berth";
  svc.target_prefix = "BerthAdmin_20261126";
  // Every operation is authorized the same way, before it reads its input.
  auto op = [&access, operator_account](
                std::string name,
                std::function<Result<json::Json>(Ctx, const JsonReader&)> handler) {
    return aws::JsonOp(
        [&access, operator_account, action = "berth:" + name, handler = std::move(handler)](
            Ctx ctx, const JsonReader& in) -> Result<json::Json> {
          BERTH_CHECK(access.AuthorizeOperator(ctx, action, operator_account));
          return handler(ctx, in);
        });
  };
  svc.operations["CreateAccount"] =
      op("CreateAccount", [&identities](Ctx, const JsonReader& in) -> Result<json::Json> {
        auto id = BERTH_TRY(in.String("AccountId"));
        bool created = BERTH_TRY(identities.EnsureAccount(id));
        if (!created) {
          return Fail("AccountAlreadyExistsException",
                      fmt::format("Account {} already exists.", id), 409);
        }
        auto creds = BERTH_TRY(identities.EnsureRootAccessKey(id, std::nullopt));
        return json::Json{{"AccountId", id},
                          {"AccessKeyId", creds.access_key_id},
                          {"SecretAccessKey", creds.secret_access_key}};
      });
  // An IAM user of the operator account for a host agent (`berth agent`), with the ECS
  // agent's permissions, and a new access key for it (its oldest key is deleted when it
  // already has IAM's two). `berth up` calls it for the agents it starts.
  svc.operations["CreateAgentCredentials"] = op(
      "CreateAgentCredentials",
      [&iam, &identities, operator_account](Ctx, const JsonReader& in) -> Result<json::Json> {
        auto name = BERTH_TRY(in.String("UserName"));
        auto user = iam.GetUser(operator_account, name);
        if (!user && user.error().code == "NoSuchEntity") {
          user = iam.CreateUser(operator_account, name, "/berth/");
        }
        if (!user) return Fail(user.error());
        BERTH_CHECK(iam.PutInlinePolicy(operator_account, iam::PrincipalType::kUser, user->name,
                                        std::string(kAgentPolicyName), AgentPolicyDocument()));
        auto keys = BERTH_TRY(identities.ListAccessKeys(operator_account, user->name));
        if (keys.size() >= 2) {
          auto oldest = std::min_element(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
            return a.created < b.created;
          });
          BERTH_CHECK(identities.DeleteAccessKey(operator_account, user->name, oldest->access_key_id));
        }
        auto [key, secret] = BERTH_TRY(identities.CreateAccessKey(operator_account, user->name, user->id));
        return json::Json{{"UserArn", user->arn},
                          {"AccessKeyId", key.access_key_id},
                          {"SecretAccessKey", secret}};
      });
  svc.operations["ListAccounts"] =
      op("ListAccounts", [&identities](Ctx, const JsonReader&) -> Result<json::Json> {
        auto ids = BERTH_TRY(identities.ListAccounts());
        json::Json list = json::Json::array();
        for (const auto& id : ids) list.push_back({{"AccountId", id}});
        return json::Json{{"Accounts", list}};
      });
  // The platform's own role assumption as an AWS service (what ECS does with
  // a task's execution role), exposed to the operator so the trust policy and
  // the role's permissions can be exercised before ECS runs a task.
  svc.operations["AssumeRoleAsService"] =
      op("AssumeRoleAsService", [&sts](Ctx, const JsonReader& in) -> Result<json::Json> {
        sts::AssumeRoleRequest req;
        req.role_arn = BERTH_TRY(in.String("RoleArn"));
        req.session_name = BERTH_TRY(in.String("RoleSessionName"));
        auto service = BERTH_TRY(in.String("ServicePrincipal"));
        if (auto seconds = BERTH_TRY(in.OptionalInt("DurationSeconds"))) {
          req.duration_seconds = static_cast<int>(std::clamp<int64_t>(*seconds, -1, 1'000'000));
        }
        auto assumed = BERTH_TRY(sts.AssumeRoleAsService(service, req));
        return json::Json{
            {"Credentials",
             {{"AccessKeyId", assumed.credentials.access_key_id},
              {"SecretAccessKey", assumed.credentials.secret_access_key},
              {"SessionToken", assumed.credentials.session_token},
              {"Expiration", std::chrono::duration_cast<std::chrono::seconds>(
                                 assumed.expiration.time_since_epoch())
                                 .count()}}},
            {"AssumedRoleUser",
             {{"Arn", assumed.assumed_role_arn}, {"AssumedRoleId", assumed.assumed_role_id}}}};
      });
  return svc;
}

Result<std::unique_ptr<Module>> AdminModule(Environment& env) {
  return std::make_unique<RoutesModule>(
      "admin", [&env, sts = &env.services.Get<sts::Service>()](aws::Gateway& gateway) {
        gateway.Add(
            AdminRoutes(env.iam, env.identities, *sts, env.access, env.options.account_id));
      });
}

}  // namespace berth::server
