#include <fmt/format.h>

#include <charconv>

#include "aws/xml.h"
#include "iam/access_control.h"
#include "server/module.h"
#include "server/routes.h"

namespace berth::server {

namespace {

// DurationSeconds, when given: an integer (the service checks its range).
Result<std::optional<int>> DurationOf(const aws::QueryParams& p) {
  const std::string* d = p.Find("DurationSeconds");
  if (!d) return std::optional<int>();
  int n = 0;
  auto [end, err] = std::from_chars(d->data(), d->data() + d->size(), n);
  if (err != std::errc() || end != d->data() + d->size()) {
    return Fail("ValidationError", "DurationSeconds must be an integer.");
  }
  return std::optional<int>(n);
}

// <Credentials> of temporary credentials.
void CredentialsXml(aws::Xml& xml, const sts::AssumedRole& issued) {
  xml.Open("Credentials")
      .Text("AccessKeyId", issued.credentials.access_key_id)
      .Text("SecretAccessKey", issued.credentials.secret_access_key)
      .Text("SessionToken", issued.credentials.session_token)
      .Text("Expiration", FormatIso8601(issued.expiration))
      .Close("Credentials");
}

}  // namespace

aws::QueryService StsRoutes(sts::Service& sts, Authorize authorize) {
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
  svc.operations["AssumeRole"] = [&sts](const aws::RequestContext& ctx,
                                        const aws::QueryParams& p) -> Result<std::string> {
    sts::AssumeRoleRequest req;
    req.role_arn = BERTH_TRY(p.Required("RoleArn"));
    req.session_name = BERTH_TRY(p.Required("RoleSessionName"));
    req.duration_seconds = BERTH_TRY(DurationOf(p));
    if (const std::string* e = p.Find("ExternalId")) req.external_id = *e;
    if (const std::string* pol = p.Find("Policy")) req.session_policy = *pol;
    req.source_ip = ctx.source_ip;
    req.secure_transport = ctx.secure_transport;
    auto assumed = BERTH_TRY(sts.AssumeRole(ctx.caller, req));
    aws::Xml xml;
    CredentialsXml(xml, assumed);
    xml.Open("AssumedRoleUser")
        .Text("AssumedRoleId", assumed.assumed_role_id)
        .Text("Arn", assumed.assumed_role_arn)
        .Close("AssumedRoleUser");
    return xml.Take();
  };
  svc.operations["GetSessionToken"] = [&sts](const aws::RequestContext& ctx,
                                             const aws::QueryParams& p) -> Result<std::string> {
    auto session = BERTH_TRY(sts.GetSessionToken(ctx.caller, BERTH_TRY(DurationOf(p))));
    aws::Xml xml;
    CredentialsXml(xml, session);
    return xml.Take();
  };
  svc.operations["GetFederationToken"] = [&sts, authorize](
                                            const aws::RequestContext& ctx,
                                            const aws::QueryParams& p) -> Result<std::string> {
    auto name = BERTH_TRY(p.Required("Name"));
    BERTH_CHECK(authorize(ctx, "sts:GetFederationToken",
                          fmt::format("arn:aws:sts::{}:federated-user/{}", ctx.caller.account, name),
                          {}));
    std::optional<int> duration = BERTH_TRY(DurationOf(p));
    std::string policy;
    if (const std::string* pol = p.Find("Policy")) policy = *pol;
    auto token = BERTH_TRY(sts.GetFederationToken(ctx.caller, name, policy, duration));
    aws::Xml xml;
    CredentialsXml(xml, token);
    xml.Open("FederatedUser")
        .Text("FederatedUserId", token.assumed_role_id)
        .Text("Arn", token.assumed_role_arn)
        .Close("FederatedUser")
        .Text("PackedPolicySize", std::to_string(policy.size() * 100 / 2048));
    return xml.Take();
  };
  svc.operations["GetAccessKeyInfo"] = [&sts, authorize](
                                          const aws::RequestContext& ctx,
                                          const aws::QueryParams& p) -> Result<std::string> {
    BERTH_CHECK(authorize(ctx, "sts:GetAccessKeyInfo", "*", {}));
    auto account = BERTH_TRY(sts.GetAccessKeyInfo(BERTH_TRY(p.Required("AccessKeyId"))));
    aws::Xml xml;
    xml.Text("Account", account);
    return xml.Take();
  };
  return svc;
}

Result<std::unique_ptr<Module>> StsModule(Environment& env) {
  iam::AccessControl& access = env.access;
  auto sts = std::make_shared<sts::Service>(
      env.iam, env.identities, env.clock,
      [&access](const aws::Principal* caller, const std::string& service, const iam::Role& role,
                const sts::AssumeRoleRequest& request) {
        return access.CheckTrust(caller, service, role, request.external_id, request.source_ip,
                                 request.secure_transport);
      });
  env.services.Provide(*sts);
  return std::make_unique<RoutesModule>(
      "sts",
      [svc = sts.get(), authorize = AuthorizeWith(access)](aws::Gateway& gateway) {
        gateway.Add(StsRoutes(*svc, authorize));
      },
      sts);
}

}  // namespace berth::server
