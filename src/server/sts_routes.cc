#include "aws/xml.h"
#include "server/routes.h"

namespace berth::server {

aws::QueryService StsRoutes(const sts::Service& sts) {
  aws::QueryService svc;
  svc.signing_name = "sts";
  svc.version = "2011-06-15";
  svc.xmlns = "https://sts.amazonaws.com/doc/2011-06-15/";
  svc.operations["GetCallerIdentity"] = [&sts](const aws::RequestContext& ctx,
                                               const aws::QueryParams&) -> Result<std::string> {
    auto id = BERTH_TRY(sts.GetCallerIdentity(ctx.caller));
    aws::Xml xml;
    xml.Text("Arn", id.arn).Text("UserId", id.user_id).Text("Account", id.account);
    return xml.Take();
  };
  return svc;
}

}  // namespace berth::server
