// KMS key policies: the key policy must always allow; naming the account delegates to IAM
// (identity policies must allow too); naming the caller grants directly; across accounts
// both sides must allow; the root user is not special; the AWS managed key
// aws/secretsmanager lets its own account in through Secrets Manager only.
#include "iam/authorizer_cases.h"

namespace berth::iam::testing {

namespace {
constexpr char kDecrypt[] = "kms:Decrypt";
constexpr char kVia[] = "kms:ViaService";
constexpr char kViaSm[] = "secretsmanager.us-east-1.amazonaws.com";
constexpr char kCaller[] = "kms:CallerAccount";
using R = Decision::Reason;

// The policy AWS gives the managed key alias/aws/secretsmanager of account A (Sids
// shortened: AWS repeats one long Sid).
std::string ManagedKeyPolicy() {
  const std::string actions =
      R"(["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:CreateGrant","kms:DescribeKey"])";
  return Doc({St("ViaSM", "Allow", actions, "*",
                 P(R"({"AWS":"*"})") + "," +
                     Cond(R"({"StringEquals":{"kms:CallerAccount":"111122223333",)"
                          R"("kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}})")),
              St("ViaSMGen", "Allow", "kms:GenerateDataKey*", "*",
                 P(R"({"AWS":"*"})") + "," +
                     Cond(R"({"StringEquals":{"kms:CallerAccount":"111122223333"},)"
                          R"("StringLike":{"kms:ViaService":"secretsmanager.*.amazonaws.com"}})")),
              St("Meta", "Allow", R"(["kms:Describe*","kms:Get*","kms:List*","kms:RevokeGrant"])",
                 "*", P("arn:aws:iam::111122223333:root"))});
}
}  // namespace

std::vector<AuthzCase> KmsCases() {
  const std::string enable_iam =
      Doc({St("EnableIAM", "Allow", "kms:*", "*", P("arn:aws:iam::111122223333:root"))});
  const std::string id_decrypt = Doc({St("I", "Allow", kDecrypt, kKey)});
  const std::string key_alice = Doc({St("K", "Allow", kDecrypt, "*", P(kAliceArn))});
  const std::string key_role = Doc({St("K", "Allow", kDecrypt, "*", P(kExecRole))});
  const std::string managed = ManagedKeyPolicy();
  auto k = [](std::string name) { return Case(std::move(name)).Do(kDecrypt, kKey); };
  auto kb = [](std::string name) {
    return Case(std::move(name)).As(Bob()).Do(kDecrypt, kKey).In(kAcctA);
  };
  return {
      k("KmsIdentityAloneIsNotEnough")
          .Identity(id_decrypt)
          .KeyPolicy(
              Doc({St("K", "Allow", kDecrypt, "*", P("arn:aws:iam::111122223333:user/carol"))}))
          .Implicit(R::kResource),
      k("KmsDelegationWithIdentityAllow")
          .Identity(id_decrypt)
          .KeyPolicy(enable_iam)
          .Allow({"I", "EnableIAM"}),
      k("KmsDelegationWithoutIdentity").KeyPolicy(enable_iam).Implicit(R::kIdentity),
      k("KmsDelegationByBareAccountId")
          .Identity(id_decrypt)
          .KeyPolicy(Doc({St("EnableIAM", "Allow", "kms:*", "*", P(kAcctA))}))
          .Allow({"I", "EnableIAM"}),
      k("KmsDelegationIdentityOtherKey")
          .Identity(Doc({St("I", "Allow", kDecrypt, kKeyB)}))
          .KeyPolicy(enable_iam)
          .Implicit(R::kIdentity),
      k("KmsDelegationLimitedByBoundary")
          .Identity(id_decrypt)
          .KeyPolicy(enable_iam)
          .Boundary(Doc({St("B", "Allow", "secretsmanager:*", "*")}))
          .Implicit(R::kBoundary),
      k("KmsDirectGrantNeedsNoIdentity").KeyPolicy(key_alice).Allow({"K"}),
      k("KmsIdentityIgnoredWithoutDelegation")
          .Identity(id_decrypt)
          .KeyPolicy(key_alice)
          .Allow({"K"}),
      k("KmsDirectGrantNotLimitedByBoundary")
          .KeyPolicy(key_alice)
          .Boundary(Doc({St("B", "Allow", "secretsmanager:*", "*")}))
          .Allow({"K"}),
      k("KmsDirectGrantOtherAction")
          .Do("kms:Encrypt", kKey)
          .KeyPolicy(key_alice)
          .Implicit(R::kResource),
      k("KmsNoKeyPolicyStatementMatches")
          .KeyPolicy(Doc({St("K", "Allow", "kms:Encrypt", "*", P("*"))}))
          .Identity(id_decrypt)
          .Implicit(R::kResource),
      k("KmsKeyPolicyDenyWins")
          .Identity(id_decrypt)
          .KeyPolicy(Doc({St("EnableIAM", "Allow", "kms:*", "*", P(kAcctA)),
                          St("KD", "Deny", kDecrypt, "*", P("*"))}))
          .Deny(R::kResource, {"KD"}),
      k("KmsIdentityDenyBeatsDirectGrant")
          .Identity(Doc({St("ID", "Deny", "kms:*", "*")}))
          .KeyPolicy(key_alice)
          .Deny(R::kIdentity, {"ID"}),
      k("KmsEncryptionContextConditionHolds")
          .Ctx("kms:EncryptionContext:SecretARN", {kSecret})
          .KeyPolicy(Doc(
              {St("K", "Allow", kDecrypt, "*",
                  P(kAliceArn) + "," +
                      Cond(std::string(R"({"StringEquals":{"kms:EncryptionContext:SecretARN":")") +
                           kSecret + "\"}}"))}))
          .Allow({"K"}),
      k("KmsEncryptionContextConditionFails")
          .Ctx("kms:EncryptionContext:SecretARN",
               {"arn:aws:secretsmanager:us-east-1:111122223333:secret:x-AbCdEf"})
          .KeyPolicy(Doc(
              {St("K", "Allow", kDecrypt, "*",
                  P(kAliceArn) + "," +
                      Cond(std::string(R"({"StringEquals":{"kms:EncryptionContext:SecretARN":")") +
                           kSecret + "\"}}"))}))
          .Implicit(R::kResource),

      // --- sessions and the root user
      k("KmsGrantToRoleCoversSession").As(Session()).KeyPolicy(key_role).Allow({"K"}),
      k("KmsGrantToRoleLimitedBySessionPolicy")
          .As(Session())
          .KeyPolicy(key_role)
          .SessionPolicy(Doc({St("S", "Allow", "secretsmanager:*", "*")}))
          .Implicit(R::kSession),
      k("KmsGrantToRoleLimitedByBoundary")
          .As(Session())
          .KeyPolicy(key_role)
          .Boundary(Doc({St("B", "Allow", "secretsmanager:*", "*")}))
          .Implicit(R::kBoundary),
      k("KmsGrantToSessionArnNotLimited")
          .As(Session())
          .KeyPolicy(Doc({St("K", "Allow", kDecrypt, "*", P(kSessionArn))}))
          .SessionPolicy(Doc({St("S", "Allow", "secretsmanager:*", "*")}))
          .Allow({"K"}),
      k("KmsRootWithDefaultKeyPolicy").As(Root()).KeyPolicy(enable_iam).Allow({"EnableIAM"}),
      k("KmsRootNotNamedIsLockedOut").As(Root()).KeyPolicy(key_alice).Implicit(R::kResource),
      k("KmsRootOfOtherAccountNamed")
          .As(Root(kAcctB))
          .In(kAcctA)
          .KeyPolicy(Doc({St("K", "Allow", kDecrypt, "*", P(kAcctB))}))
          .Allow({"K"}),
      k("KmsServiceNamedInKeyPolicy")
          .AsService("logs.us-east-1.amazonaws.com")
          .KeyPolicy(Doc({St("K", "Allow", kDecrypt, "*", Svc("logs.us-east-1.amazonaws.com"))}))
          .Allow({"K"}),
      k("KmsServiceNotNamed")
          .AsService("logs.us-east-1.amazonaws.com")
          .KeyPolicy(enable_iam)
          .Implicit(R::kResource),

      // --- across accounts: key policy AND identity
      kb("KmsCrossAccountBothAllow")
          .Identity(id_decrypt)
          .KeyPolicy(Doc({St("K", "Allow", kDecrypt, "*", P(kAcctB))}))
          .Allow({"I", "K"}),
      kb("KmsCrossAccountKeyPolicyOnly")
          .KeyPolicy(Doc({St("K", "Allow", kDecrypt, "*", P(kAcctB))}))
          .Implicit(R::kIdentity),
      kb("KmsCrossAccountDirectGrantStillNeedsIdentity")
          .KeyPolicy(Doc({St("K", "Allow", kDecrypt, "*", P(kBobArn))}))
          .Implicit(R::kIdentity),
      kb("KmsCrossAccountDirectGrantWithIdentity")
          .Identity(id_decrypt)
          .KeyPolicy(Doc({St("K", "Allow", kDecrypt, "*", P(kBobArn))}))
          .Allow({"I", "K"}),
      kb("KmsCrossAccountIdentityOnly")
          .Identity(id_decrypt)
          .KeyPolicy(enable_iam)
          .Implicit(R::kResource),
      kb("KmsCrossAccountKeyDenyWins")
          .Identity(id_decrypt)
          .KeyPolicy(Doc({St("K", "Allow", kDecrypt, "*", P(kAcctB)),
                          St("KD", "Deny", kDecrypt, "*", P(kBobArn))}))
          .Deny(R::kResource, {"KD"}),

      // --- the AWS managed key aws/secretsmanager
      k("ManagedKeyViaSecretsManagerNoIdentity")
          .Ctx(kVia, {kViaSm})
          .Ctx(kCaller, {kAcctA})
          .KeyPolicy(managed)
          .Allow({"ViaSM"}),
      k("ManagedKeySessionViaSecretsManager")
          .As(Session())
          .Ctx(kVia, {kViaSm})
          .Ctx(kCaller, {kAcctA})
          .KeyPolicy(managed)
          .Allow({"ViaSM"}),
      k("ManagedKeyDirectCallDenied")
          .Ctx(kCaller, {kAcctA})
          .Identity(id_decrypt)
          .KeyPolicy(managed)
          .Implicit(R::kResource),
      k("ManagedKeyViaOtherService")
          .Ctx(kVia, {"ssm.us-east-1.amazonaws.com"})
          .Ctx(kCaller, {kAcctA})
          .KeyPolicy(managed)
          .Implicit(R::kResource),
      k("ManagedKeyViaSecretsManagerInOtherRegion")
          .Ctx(kVia, {"secretsmanager.eu-west-1.amazonaws.com"})
          .Ctx(kCaller, {kAcctA})
          .KeyPolicy(managed)
          .Implicit(R::kResource),
      k("ManagedKeyGenerateDataKeyAnyRegion")
          .Do("kms:GenerateDataKey", kKey)
          .Ctx(kVia, {"secretsmanager.eu-west-1.amazonaws.com"})
          .Ctx(kCaller, {kAcctA})
          .KeyPolicy(managed)
          .Allow({"ViaSMGen"}),
      k("ManagedKeyDescribeDelegatedToIam")
          .Do("kms:DescribeKey", kKey)
          .Identity(Doc({St("I", "Allow", "kms:Describe*", "*")}))
          .KeyPolicy(managed)
          .Allow({"I", "Meta"}),
      k("ManagedKeyDescribeWithoutIdentity")
          .Do("kms:DescribeKey", kKey)
          .KeyPolicy(managed)
          .Implicit(R::kIdentity),
      kb("ManagedKeyOtherAccountDenied")
          .Identity(id_decrypt)
          .Ctx(kVia, {kViaSm})
          .Ctx(kCaller, {kAcctB})
          .KeyPolicy(managed)
          .Implicit(R::kResource),
  };
}

}  // namespace berth::iam::testing
