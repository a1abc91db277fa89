// berth's own operator API (JSON 1.1, signing name "berth", target prefix
// "BerthAdmin_20261126"): what AWS does through its console and
// Organizations, berth's operator does here. Only the root of the server's
// default (operator) account may call it.
#include <fmt/format.h>

#include "aws/json_protocol.h"
#include "server/routes.h"

namespace berth::server {

aws::JsonService AdminRoutes(iam::IdentityStore& identities, std::string operator_account) {
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
  return svc;
}

}  // namespace berth::server
