// EvaluateTrust (role assumption) and the seed's scenario: an ECS task execution role that
// trusts ecs-tasks.amazonaws.com and reads a registry secret (and its key) with the inline
// policy from AWS's "private registry authentication" page.
#include "iam/authorizer_cases.h"

namespace berth::iam::testing {

namespace {
constexpr char kAssume[] = "sts:AssumeRole";
constexpr char kDecrypt[] = "kms:Decrypt";
constexpr char kEcsTasks[] = "ecs-tasks.amazonaws.com";
constexpr char kWebRole[] = "arn:aws:iam::111122223333:role/web";
using R = Decision::Reason;

// The seed's inline policy for the execution role, naming the secret as `secret`.
std::string SeedPolicy(std::string_view secret, std::string_view key = kKey) {
  return Doc({St("Seed", "Allow", R"(["kms:Decrypt","secretsmanager:GetSecretValue"])",
                 "[\"" + std::string(secret) + "\",\"" + std::string(key) + "\"]")});
}
}  // namespace

std::vector<AuthzCase> TrustCases() {
  const std::string ecs = Doc({St("Ecs", "Allow", kAssume, "", Svc(kEcsTasks))});
  const std::string trust_alice = Doc({St("T", "Allow", kAssume, "", P(kAliceArn))});
  const std::string trust_acct = Doc({St("T", "Allow", kAssume, "", P(kAcctA))});
  const std::string trust_acct_b = Doc({St("T", "Allow", kAssume, "", P(kAcctB))});
  const std::string id_assume = Doc({St("I", "Allow", kAssume, kExecRole)});
  const std::string ext =
      Doc({St("T", "Allow", kAssume, "",
              P(kAcctB) + "," + Cond(R"({"StringEquals":{"sts:ExternalId":"berth-7"}})"))});
  auto t = [](std::string name) { return Case(std::move(name)).Do(kAssume, kExecRole).In(kAcctA); };
  auto tb = [](std::string name) {
    return Case(std::move(name)).As(Bob()).Do(kAssume, kExecRole).In(kAcctA);
  };
  const std::string seed_suffixed =
      SeedPolicy("arn:aws:secretsmanager:us-east-1:111122223333:secret:registry-creds-??????");
  const std::string enable_iam =
      Doc({St("EnableIAM", "Allow", "kms:*", "*", P("arn:aws:iam::111122223333:root"))});
  const std::string managed_via_sm = Doc({St(
      "ViaSM", "Allow",
      R"(["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:CreateGrant","kms:DescribeKey"])", "*",
      P("*") + "," +
          Cond(R"({"StringEquals":{"kms:CallerAccount":"111122223333",)"
               R"("kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}})"))});
  auto task = [](std::string name) { return Case(std::move(name)).As(Session()); };
  return {
      // --- AWS service principals
      t("TrustEcsTasksService").AsService(kEcsTasks).Trust(ecs).Allow({"Ecs"}),
      t("TrustOtherServiceNotNamed")
          .AsService("lambda.amazonaws.com")
          .Trust(ecs)
          .Implicit(R::kNone),
      t("TrustServiceIgnoresIdentityPolicies")
          .AsService(kEcsTasks)
          .Trust(ecs)
          .Identity(Doc({St("ID", "Deny", "*", "*")}))
          .Allow({"Ecs"}),
      t("TrustServiceSourceAccountHolds")
          .AsService(kEcsTasks)
          .Ctx("aws:SourceAccount", {kAcctA})
          .Trust(Doc({St("Ecs", "Allow", kAssume, "",
                         Svc(kEcsTasks) + "," +
                             Cond(R"({"StringEquals":{"aws:SourceAccount":"111122223333"}})"))}))
          .Allow({"Ecs"}),
      t("TrustServiceSourceAccountFails")
          .AsService(kEcsTasks)
          .Ctx("aws:SourceAccount", {kAcctB})
          .Trust(Doc({St("Ecs", "Allow", kAssume, "",
                         Svc(kEcsTasks) + "," +
                             Cond(R"({"StringEquals":{"aws:SourceAccount":"111122223333"}})"))}))
          .Implicit(R::kNone),
      t("TrustServiceAmongAwsPrincipals")
          .AsService(kEcsTasks)
          .Trust(Doc({St("T", "Allow", kAssume, "",
                         P(std::string(R"({"AWS":")") + kAliceArn +
                           R"(","Service":["ecs-tasks.amazonaws.com","ec2.amazonaws.com"]})"))}))
          .Allow({"T"}),
      t("TrustUserNotMatchedByService").Trust(ecs).Identity(id_assume).Implicit(R::kNone),

      // --- AWS principals in the role's own account
      t("TrustNamesUserArnNoIdentityNeeded").Trust(trust_alice).Allow({"T"}),
      t("TrustNamesUserArnIdentityAlsoAllows").Trust(trust_alice).Identity(id_assume).Allow({"T"}),
      t("TrustNamesAccountNeedsIdentity").Trust(trust_acct).Implicit(R::kNone),
      t("TrustNamesAccountWithIdentity").Trust(trust_acct).Identity(id_assume).Allow({"I", "T"}),
      t("TrustNamesAccountIdentityForOtherRole")
          .Trust(trust_acct)
          .Identity(Doc({St("I", "Allow", kAssume, kWebRole)}))
          .Implicit(R::kNone),
      t("TrustNamesAccountLimitedByBoundary")
          .Trust(trust_acct)
          .Identity(id_assume)
          .Boundary(Doc({St("B", "Allow", "secretsmanager:*", "*")}))
          .Implicit(R::kNone),
      t("TrustNamesOtherUserIdentityAllows")
          .Trust(Doc({St("T", "Allow", kAssume, "", P("arn:aws:iam::111122223333:user/carol"))}))
          .Identity(id_assume)
          .Implicit(R::kNone),
      t("TrustNamesUserUniqueId")
          .Trust(Doc({St("T", "Allow", kAssume, "", P("AIDAALICEEXAMPLE00001"))}))
          .Allow({"T"}),
      t("TrustStarSameAccount").Trust(Doc({St("T", "Allow", kAssume, "", P("*"))})).Allow({"T"}),
      t("TrustStsWildcardAction")
          .Trust(Doc({St("T", "Allow", "sts:*", "", P(kAliceArn))}))
          .Allow({"T"}),
      t("TrustOnlyTagSessionDoesNotAllowAssume")
          .Trust(Doc({St("T", "Allow", "sts:TagSession", "", P(kAliceArn))}))
          .Implicit(R::kNone),
      t("TrustDenyStatementWins")
          .Trust(Doc({St("T", "Allow", kAssume, "", P(kAcctA)),
                      St("TD", "Deny", kAssume, "", P(kAliceArn))}))
          .Identity(id_assume)
          .Deny(R::kNone, {"TD"}),
      t("TrustIdentityDenyWins")
          .Trust(trust_alice)
          .Identity(Doc({St("ID", "Deny", "sts:*", "*")}))
          .Deny(R::kNone, {"ID"}),
      t("TrustMfaConditionOnAbsentKey")
          .Trust(Doc(
              {St("T", "Allow", kAssume, "",
                  P(kAliceArn) + "," + Cond(R"({"Bool":{"aws:MultiFactorAuthPresent":"true"}})"))}))
          .Implicit(R::kNone),
      Case("TrustRoleChainingNamesCallerRole")
          .As(Session())
          .Do(kAssume, kWebRole)
          .In(kAcctA)
          .Trust(Doc({St("T", "Allow", kAssume, "", P(kExecRole))}))
          .Allow({"T"}),
      Case("TrustRoleChainingLimitedBySessionPolicy")
          .As(Session())
          .Do(kAssume, kWebRole)
          .In(kAcctA)
          .Trust(Doc({St("T", "Allow", kAssume, "", P(kExecRole))}))
          .SessionPolicy(Doc({St("S", "Allow", "secretsmanager:*", "*")}))
          .Implicit(R::kNone),

      // --- the root user never assumes roles
      t("TrustRootCannotAssume").As(Root()).Trust(trust_acct).Implicit(R::kRootAssumeRole),
      t("TrustRootCannotAssumeEvenStar")
          .As(Root())
          .Trust(Doc({St("T", "Allow", kAssume, "", P("*"))}))
          .Implicit(R::kRootAssumeRole),
      t("TrustRootOfOtherAccountCannotAssume")
          .As(Root(kAcctB))
          .Trust(trust_acct_b)
          .Implicit(R::kRootAssumeRole),

      // --- across accounts: the caller's identity policies must allow too
      tb("TrustCrossAccountWithIdentity").Trust(trust_acct_b).Identity(id_assume).Allow({"I", "T"}),
      tb("TrustCrossAccountWithoutIdentity").Trust(trust_acct_b).Implicit(R::kNone),
      tb("TrustCrossAccountUserArnWithoutIdentity")
          .Trust(Doc({St("T", "Allow", kAssume, "", P(kBobArn))}))
          .Implicit(R::kNone),
      tb("TrustCrossAccountUserArnWithIdentity")
          .Identity(id_assume)
          .Trust(Doc({St("T", "Allow", kAssume, "", P(kBobArn))}))
          .Allow({"I", "T"}),
      tb("TrustCrossAccountNotTrusted").Trust(trust_acct).Identity(id_assume).Implicit(R::kNone),
      tb("TrustCrossAccountStarNeedsIdentity")
          .Trust(Doc({St("T", "Allow", kAssume, "", P("*"))}))
          .Implicit(R::kNone),
      tb("TrustExternalIdMatches")
          .Trust(ext)
          .Identity(id_assume)
          .Ctx("sts:ExternalId", {"berth-7"})
          .Allow({"I", "T"}),
      tb("TrustExternalIdWrong")
          .Trust(ext)
          .Identity(id_assume)
          .Ctx("sts:ExternalId", {"berth-8"})
          .Implicit(R::kNone),
      tb("TrustExternalIdMissing").Trust(ext).Identity(id_assume).Implicit(R::kNone),

      // --- the seed: execution role "exec" reading the registry secret
      task("SeedBareSecretArnDoesNotMatch")
          .Do(kGet, kSecret)
          .Identity(
              SeedPolicy("arn:aws:secretsmanager:us-east-1:111122223333:secret:registry-creds"))
          .Implicit(R::kIdentity),
      task("SeedSuffixedSecretArnAllows").Do(kGet, kSecret).Identity(seed_suffixed).Allow({"Seed"}),
      task("SeedOtherSecretDenied")
          .Do(kGet, "arn:aws:secretsmanager:us-east-1:111122223333:secret:registry-other-AbCdEf")
          .Identity(seed_suffixed)
          .Implicit(R::kIdentity),
      task("SeedCustomKeyDecryptAllowed")
          .Do(kDecrypt, kKey)
          .Ctx("kms:ViaService", {"secretsmanager.us-east-1.amazonaws.com"})
          .Identity(seed_suffixed)
          .KeyPolicy(enable_iam)
          .Allow({"Seed", "EnableIAM"}),
      task("SeedCustomKeyWithoutKmsDecrypt")
          .Do(kDecrypt, kKey)
          .Identity(Doc({St("Seed", "Allow", kGet, "*")}))
          .KeyPolicy(enable_iam)
          .Implicit(R::kIdentity),
      task("SeedManagedKeyNeedsNoKmsDecrypt")
          .Do(kDecrypt, kKey)
          .Ctx("kms:ViaService", {"secretsmanager.us-east-1.amazonaws.com"})
          .Ctx("kms:CallerAccount", {kAcctA})
          .Identity(Doc({St("Seed", "Allow", kGet, "*")}))
          .KeyPolicy(managed_via_sm)
          .Allow({"ViaSM"}),
      task("SeedCrossAccountSecretNeedsResourcePolicy")
          .Do(kGet, kSecretB)
          .In(kAcctB)
          .Identity(
              SeedPolicy("arn:aws:secretsmanager:us-east-1:444455556666:secret:shared-creds-*"))
          .Implicit(R::kResource),
      task("SeedCrossAccountSecretAllowed")
          .Do(kGet, kSecretB)
          .In(kAcctB)
          .Identity(
              SeedPolicy("arn:aws:secretsmanager:us-east-1:444455556666:secret:shared-creds-*"))
          .Resource(Doc({St("R", "Allow", kGet, "*", P(kExecRole))}))
          .Allow({"Seed", "R"}),
      task("SeedCrossAccountKeyAllowed")
          .Do(kDecrypt, kKeyB)
          .In(kAcctB)
          .Identity(SeedPolicy(kSecretB, kKeyB))
          .KeyPolicy(Doc({St("K", "Allow", kDecrypt, "*", P(kAcctA))}))
          .Allow({"Seed", "K"}),
      task("SeedCrossAccountManagedKeyDenied")
          .Do(kDecrypt, kKey)
          .In(kAcctA)
          .As(Session(kAcctB))
          .Ctx("kms:ViaService", {"secretsmanager.us-east-1.amazonaws.com"})
          .Ctx("kms:CallerAccount", {kAcctB})
          .Identity(SeedPolicy(kSecret))
          .KeyPolicy(managed_via_sm)
          .Implicit(R::kResource),
  };
}

}  // namespace berth::iam::testing
