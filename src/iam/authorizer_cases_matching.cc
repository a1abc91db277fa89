// Matching the request against statements: Action/NotAction (case-insensitive wildcards),
// Resource/NotResource (case-sensitive wildcards, '*' spans ':', the Secrets Manager ARN
// suffix), Principal/NotPrincipal, and AWS services as callers.
#include "iam/authorizer_cases.h"

namespace berth::iam::testing {

namespace {
constexpr char kSecretPrefix[] = "arn:aws:secretsmanager:us-east-1:111122223333:secret:";
constexpr char kOther[] = "arn:aws:secretsmanager:us-east-1:111122223333:secret:other-QwErTy";
constexpr char kEcsTasks[] = "ecs-tasks.amazonaws.com";
using R = Decision::Reason;

// Alice asks for `action` on `resource`; one identity statement "S" with `p_action`,
// `p_resource` decides.
AuthzCase Id(std::string name, std::string_view action, std::string_view resource,
             std::string_view p_action, std::string_view p_resource, bool allowed) {
  AuthzCase c = Case(std::move(name))
                    .Do(std::string(action), std::string(resource))
                    .Identity(Doc({St("S", "Allow", p_action, p_resource)}));
  return allowed ? c.Allow({"S"}) : c.Implicit(R::kIdentity);
}

std::string Secret(std::string_view name) { return kSecretPrefix + std::string(name); }
}  // namespace

std::vector<AuthzCase> MatchingCases() {
  const std::string alice_and_account =
      std::string("[\"") + kAliceArn + "\",\"arn:aws:iam::111122223333:root\"]";
  const std::string allow_all = Doc({St("All", "Allow", "*", "*")});
  return {
      // --- Action
      Id("ActionPolicyCaseInsensitive", kGet, kSecret, "SecretsManager:getsecretvalue", "*", true),
      Id("ActionRequestCaseInsensitive", "SECRETSMANAGER:GETSECRETVALUE", kSecret, kGet, "*", true),
      Id("ActionStarSuffix", kGet, kSecret, "secretsmanager:Get*", "*", true),
      Id("ActionStarSuffixOtherCase", kGet, kSecret, "secretsmanager:get*", "*", true),
      Id("ActionStarInMiddle", kGet, kSecret, "secretsmanager:*Secret*", "*", true),
      Id("ActionStarService", kGet, kSecret, "*:GetSecretValue", "*", true),
      Id("ActionQuestionMark", kGet, kSecret, "secretsmanager:GetSecretValu?", "*", true),
      Id("ActionQuestionMarkIsOneChar", kGet, kSecret, "secretsmanager:GetSecret?", "*", false),
      Id("ActionOtherService", kGet, kSecret, "kms:GetSecretValue", "*", false),
      Id("ActionPrefixIsNotAMatch", kGet, kSecret, "secretsmanager:Get", "*", false),
      Id("ActionServiceStarDoesNotCrossColon", "kms:Decrypt", kKey, "secretsmanager:*", "*", false),
      Id("NotActionAllowsOtherActions", kGet, kSecret, "!iam:*", "*", true),
      Id("NotActionExcludesListedAction", kGet, kSecret, "!secretsmanager:*", "*", false),
      Id("NotActionWildcardCaseInsensitive", kGet, kSecret, "!SECRETSMANAGER:Get*", "*", false),
      Id("NotActionListExcludesAny", "kms:Decrypt", kKey, R"(!["secretsmanager:*","kms:Decrypt"])",
         "*", false),
      Case("DenyNotActionDeniesEverythingElse")
          .Do(kPut, kSecret)
          .Identity(Doc(
              {St("All", "Allow", "*", "*"),
               St("OnlyRead", "Deny", R"(!["secretsmanager:GetSecretValue","kms:Decrypt"])", "*")}))
          .Deny(R::kIdentity, {"OnlyRead"}),
      Case("DenyNotActionSparesListedAction")
          .Do(kGet, kSecret)
          .Identity(Doc(
              {St("All", "Allow", "*", "*"),
               St("OnlyRead", "Deny", R"(!["secretsmanager:GetSecretValue","kms:Decrypt"])", "*")}))
          .Allow({"All"}),

      // --- Resource
      Id("ResourceStarSpansColons", kGet, kSecret, kGet, "arn:aws:secretsmanager:*", true),
      Id("ResourceStarForAccountAndPrefix", kGet, kSecret, kGet,
         "arn:aws:secretsmanager:us-east-1:*:secret:registry-*", true),
      Id("ResourceStarSpansWholeMiddle", kGet, kSecret, kGet, "arn:aws:*:registry-creds-AbCdEf",
         true),
      Id("ResourceIsCaseSensitive", kGet, kSecret, kGet, Secret("Registry-creds-AbCdEf"), false),
      Id("ResourceWildcardIsCaseSensitive", kGet, kSecret, kGet, Secret("REGISTRY-*"), false),
      Id("ResourceServiceIsCaseSensitive", kGet, kSecret, kGet,
         "arn:aws:SecretsManager:us-east-1:111122223333:secret:registry-creds-AbCdEf", false),
      Id("SecretSuffixQuestionMarks", kGet, kSecret, kGet, Secret("registry-creds-??????"), true),
      Id("SecretSuffixStar", kGet, kSecret, kGet, Secret("registry-creds-*"), true),
      Id("SecretBareNameDoesNotMatch", kGet, kSecret, kGet, Secret("registry-creds"), false),
      Id("SecretFiveQuestionMarksDoNotMatch", kGet, kSecret, kGet, Secret("registry-creds-?????"),
         false),
      Id("SecretQuestionMarksDoNotMatchLongerName", kGet, Secret("registry-creds-old-AbCdEf"), kGet,
         Secret("registry-creds-??????"), false),
      Id("SecretFullArnMatches", kGet, kSecret, kGet, kSecret, true),
      Id("ResourceInOtherRegionDoesNotMatch", kGet, kSecret, kGet,
         "arn:aws:secretsmanager:eu-west-1:111122223333:secret:registry-creds-AbCdEf", false),
      Id("ResourceStarMatchesStarRequest", "secretsmanager:ListSecrets", "*",
         "secretsmanager:ListSecrets", "*", true),
      Id("ResourceArnDoesNotMatchStarRequest", "secretsmanager:ListSecrets", "*",
         "secretsmanager:ListSecrets", kSecret, false),
      Id("NotResourceAllowsOtherResources", kGet, kSecret, kGet, std::string("!") + kOther, true),
      Id("NotResourceExcludesListedResource", kGet, kSecret, kGet, std::string("!") + kSecret,
         false),
      Id("NotResourceWildcardExcludes", kGet, kSecret, kGet, "!arn:aws:secretsmanager:*", false),
      Case("DenyNotResourceDeniesOutsideResources")
          .Do(kGet, kOther)
          .Identity(Doc({St("All", "Allow", "*", "*"),
                         St("OnlyRegistry", "Deny", "*", std::string("!") + Secret("registry-*"))}))
          .Deny(R::kIdentity, {"OnlyRegistry"}),
      Case("DenyNotResourceSparesListedResource")
          .Do(kGet, kSecret)
          .Identity(Doc({St("All", "Allow", "*", "*"),
                         St("OnlyRegistry", "Deny", "*", std::string("!") + Secret("registry-*"))}))
          .Allow({"All"}),

      // --- Principal / NotPrincipal in resource policies
      Case("PrincipalListOneEntryMatches")
          .Do(kGet, kSecret)
          .Resource(Doc({St(
              "R", "Allow", kGet, "*",
              P(std::string("[\"arn:aws:iam::111122223333:user/carol\",\"") + kAliceArn + "\"]"))}))
          .Allow({"R"}),
      Case("PrincipalSameUserNameOtherAccount")
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P("arn:aws:iam::444455556666:user/alice"))}))
          .Implicit(R::kIdentity),
      Case("NotPrincipalDenySparesUserAndAccountListed")
          .Do(kGet, kSecret)
          .Identity(allow_all)
          .Resource(Doc({St("RD", "Deny", "*", "*", NotP(alice_and_account))}))
          .Allow({"All"}),
      Case("NotPrincipalDenyWithoutAccountDeniesUser")
          .Do(kGet, kSecret)
          .Identity(allow_all)
          .Resource(Doc({St("RD", "Deny", "*", "*", NotP(kAliceArn))}))
          .Deny(R::kResource, {"RD"}),
      Case("NotPrincipalDenyDeniesOtherUser")
          .As(Carol())
          .Do(kGet, kSecret)
          .Identity(allow_all)
          .Resource(Doc({St("RD", "Deny", "*", "*", NotP(alice_and_account))}))
          .Deny(R::kResource, {"RD"}),
      Case("NotPrincipalDenySessionNeedsRoleToo")
          .As(Session())
          .Do(kGet, kSecret)
          .Identity(allow_all)
          .Resource(Doc({St("RD", "Deny", "*", "*",
                            NotP(std::string("[\"") + kSessionArn + "\",\"" + kAcctA + "\"]"))}))
          .Deny(R::kResource, {"RD"}),
      Case("NotPrincipalDenySparesSessionRoleAndAccount")
          .As(Session())
          .Do(kGet, kSecret)
          .Identity(allow_all)
          .Resource(Doc({St("RD", "Deny", "*", "*",
                            NotP(std::string("[\"") + kSessionArn + "\",\"" + kExecRole + "\",\"" +
                                 kAcctA + "\"]"))}))
          .Allow({"All"}),
      Case("NotPrincipalAllowGrantsEveryoneElse")
          .Do(kGet, kSecret)
          .Resource(
              Doc({St("R", "Allow", kGet, "*", NotP("arn:aws:iam::111122223333:user/carol"))}))
          .Allow({"R"}),
      Case("NotPrincipalAllowExcludesListed")
          .As(Carol())
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*",
                            NotP("[\"arn:aws:iam::111122223333:user/carol\",\"111122223333\"]"))}))
          .Implicit(R::kIdentity),

      // --- an AWS service as caller: only a resource policy naming it (or "*") lets it in
      Case("ServiceCallerNamedByResourcePolicy")
          .AsService(kEcsTasks)
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", Svc(kEcsTasks))}))
          .Allow({"R"}),
      Case("ServiceCallerInServiceList")
          .AsService(kEcsTasks)
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*",
                            Svc(R"(["lambda.amazonaws.com","ecs-tasks.amazonaws.com"])"))}))
          .Allow({"R"}),
      Case("ServiceCallerOtherServiceNamed")
          .AsService(kEcsTasks)
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", Svc("lambda.amazonaws.com"))}))
          .Implicit(R::kResource),
      Case("ServiceCallerWithoutResourcePolicy")
          .AsService(kEcsTasks)
          .Do(kGet, kSecret)
          .Implicit(R::kResource),
      Case("ServiceCallerMatchedByStar")
          .AsService(kEcsTasks)
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P("*"))}))
          .Allow({"R"}),
      Case("ServiceCallerNotMatchedByAccount")
          .AsService(kEcsTasks)
          .Do(kGet, kSecret)
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kAcctA))}))
          .Implicit(R::kResource),
      Case("ServiceCallerResourceDeny")
          .AsService(kEcsTasks)
          .Do(kGet, kSecret)
          .Resource(Doc(
              {St("R", "Allow", kGet, "*", Svc(kEcsTasks)), St("RD", "Deny", "*", "*", P("*"))}))
          .Deny(R::kResource, {"RD"}),
  };
}

}  // namespace berth::iam::testing
