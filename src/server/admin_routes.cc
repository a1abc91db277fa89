// berth's own operator API (JSON 1.1, signing name "berth", target prefix
// "BerthAdmin_20261126"): what AWS does through its console and
// Organizations, berth's operator does here. Only the root of the server's
// default (operator) account may call it.
#include <fmt/format.h>

#include "aws/json_protocol.h"
#include "server/routes.h"

namespace berth::server {

aws::JsonService AdminRoutes(iam::IdentityStore& identities, sts::Service& sts,
                             std::string operator_account) {
  aws::JsonService svc;
  svc.signing_name = "berth";
  svc.target_prefix = "BerthAdmin_20261126";
  auto require_operator = [operator_account](const aws::RequestContext& ctx,
                                             std::string_view action) -> Status {
    if (ctx.caller.kind == aws::Principal::Kind::kRoot && ctx.caller.account == operator_account) {
      return {};
    }
    return Fail("AccessDeniedException",
                fmt::format("User: {} is not authorized to perform: berth:{} on resource: "
                            "arn:aws:berth:::account because only the operator account's root may "
                            "manage accounts",
                            ctx.caller.arn, action),
                403);
  };
  svc.operations["CreateAccount"] = aws::JsonOp(
      [&identities, require_operator](const aws::RequestContext& ctx,
                                      const json::Json& in) -> Result<json::Json> {
        BERTH_CHECK(require_operator(ctx, "CreateAccount"));
        auto id = BERTH_TRY(json::RequiredString(in, "AccountId"));
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
  svc.operations["ListAccounts"] = aws::JsonOp(
      [&identities, require_operator](const aws::RequestContext& ctx,
                                      const json::Json&) -> Result<json::Json> {
        BERTH_CHECK(require_operator(ctx, "ListAccounts"));
        auto ids = BERTH_TRY(identities.ListAccounts());
        json::Json list = json::Json::array();
        for (const auto& id : ids) list.push_back({{"AccountId", id}});
        return json::Json{{"Accounts", list}};
      });
  // The platform's own role assumption as an AWS service (what ECS does with
  // a task's execution role), exposed to the operator so the trust policy and
  // the role's permissions can be exercised before ECS runs a task.
  svc.operations["AssumeRoleAsService"] = aws::JsonOp(
      [&sts, require_operator](const aws::RequestContext& ctx,
                               const json::Json& in) -> Result<json::Json> {
        BERTH_CHECK(require_operator(ctx, "AssumeRoleAsService"));
        sts::AssumeRoleRequest req;
        req.role_arn = BERTH_TRY(json::RequiredString(in, "RoleArn"));
        req.session_name = BERTH_TRY(json::RequiredString(in, "RoleSessionName"));
        auto service = BERTH_TRY(json::RequiredString(in, "ServicePrincipal"));
        if (auto it = in.find("DurationSeconds"); it != in.end() && it->is_number_integer()) {
          req.duration_seconds = it->get<int>();
        }
        auto assumed = BERTH_TRY(sts.AssumeRoleAsService(service, req));
        return json::Json{
            {"Credentials",
             {{"AccessKeyId", assumed.credentials.access_key_id},
              {"SecretAccessKey", assumed.credentials.secret_access_key},
              {"SessionToken", assumed.credentials.session_token},
              {"Expiration", std::chrono::duration_cast<std::chrono::seconds>(
                                 assumed.expiration.time_since_epoch()).count()}}},
            {"AssumedRoleUser", {{"Arn", assumed.assumed_role_arn},
                                 {"AssumedRoleId", assumed.assumed_role_id}}}};
      });
  return svc;
}

}  // namespace berth::server
