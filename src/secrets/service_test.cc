// Secrets Manager over the real stack: SQLite store, IAM policies evaluated by
// AccessControl, KMS envelope encryption; only ids and the clock are fakes.
#include "secrets/service.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "common/strings.h"
#include "crypto/root_key.h"
#include "iam/identity_store.h"
#include "iam/service.h"
#include "kms/test_world.h"
#include "secrets/public_policy.h"
#include "secrets/record.h"
#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace berth::secrets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kA[] = "111122223333";
constexpr char kB[] = "444455556666";
constexpr char kEast[] = "us-east-1";
constexpr char kWest[] = "us-west-2";
constexpr char kCreds[] = R"({"username":"registry-user","password":"hunter2-Zq9"})";

std::string Token(char c) { return std::string(36, c); }

using test_support::TempDir;

std::string Allow(const std::string& actions, const std::string& resources) {
  return fmt::format(R"({{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{},
                     "Resource":{}}}]}})",
                     actions, resources);
}

class SecretsTest : public kms::testing::WorldTest {
 protected:
  SecretsTest() : kms::testing::WorldTest("secrets_test") {}

  void SetUp() override {
    BuildWorld({kA, kB});
    sm_ = std::make_unique<Service>(*kv_, *kms_, *access_, ids_, clock_);
  }

  aws::RequestContext Root(const std::string& account = kA, const std::string& region = kEast) {
    return RootContext(account, region);
  }

  // The session of a role (trusting its account) with `policy` inline.
  aws::RequestContext Role(const std::string& account, const std::string& name,
                           const std::string& policy, const std::string& region = kEast) {
    auto role = iam_->GetRole(account, name);
    if (!role) {
      role = iam_->CreateRole(
          account, name, "/",
          fmt::format(
              R"({{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",)"
              R"("Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sts:AssumeRole"}}]}})",
              account),
          "", std::nullopt);
    }
    EXPECT_TRUE(role) << role.error().message;
    if (!policy.empty()) {
      auto put = iam_->PutInlinePolicy(account, iam::PrincipalType::kRole, name, "p", policy);
      EXPECT_TRUE(put) << put.error().message;
    }
    aws::RequestContext ctx = Root(account, region);
    ctx.caller.kind = aws::Principal::Kind::kAssumedRole;
    ctx.caller.arn = fmt::format("arn:aws:sts::{}:assumed-role/{}/task", account, name);
    ctx.caller.user_id = role->id + ":task";
    ctx.caller.name = name;
    ctx.caller.session_name = "task";
    ctx.caller.access_key_id = "ASIATESTSESSION0001";
    return ctx;
  }

  kms::KeyMetadata CreateKey(const std::string& account, const std::string& policy = "") {
    auto ctx = Root(account);
    auto key = kms_->CreateKey(kms::Caller{ctx, ""}, "test key", policy, {});
    EXPECT_TRUE(key) << key.error().message;
    return *key;
  }

  WriteResult Create(const std::string& name, const std::string& value,
                     const std::string& kms_key_id = "", const aws::RequestContext* ctx = nullptr) {
    CreateSecretRequest req;
    req.name = name;
    req.kms_key_id = kms_key_id;
    req.value.secret_string = value;
    auto out = sm_->CreateSecret(ctx ? *ctx : Root(), req);
    EXPECT_TRUE(out) << out.error().code << ": " << out.error().message;
    return out ? *out : WriteResult{};
  }

  Result<SecretVersionValue> Get(const aws::RequestContext& ctx, const std::string& id,
                                 const std::string& stage = "", const std::string& version = "") {
    return sm_->GetSecretValue(ctx, GetSecretValueRequest{id, version, stage});
  }

  Result<WriteResult> Put(const std::string& id, const std::string& value,
                          const std::string& token = "",
                          std::optional<std::vector<std::string>> stages = std::nullopt) {
    PutSecretValueRequest req;
    req.secret_id = id;
    req.client_request_token = token;
    req.value.secret_string = value;
    req.version_stages = std::move(stages);
    return sm_->PutSecretValue(Root(), req);
  }

  // Every key and value in the store, concatenated.
  std::string Dump() {
    auto all = kv_->Range("");
    EXPECT_TRUE(all);
    std::string out;
    for (const auto& kv : all->kvs) out += kv.key + "=" + kv.value + "\n";
    return out;
  }

  std::unique_ptr<Service> sm_;
};

#define EXPECT_ERROR(expr, code_)                            \
  do {                                                       \
    auto&& r_ = (expr);                                      \
    ASSERT_FALSE(r_) << "expected " << code_;                \
    EXPECT_EQ(r_.error().code, code_) << r_.error().message; \
  } while (0)

TEST_F(SecretsTest, CreatedSecretReadsBackByNameFullArnAndPartialArn) {
  WriteResult created = Create("registry/creds", kCreds);
  EXPECT_TRUE(std::regex_match(
      created.arn,
      std::regex(
          R"(arn:aws:secretsmanager:us-east-1:111122223333:secret:registry/creds-[A-Za-z]{6})")))
      << created.arn;
  EXPECT_EQ(created.name, "registry/creds");
  EXPECT_EQ(created.version_id.size(), 36u);
  std::string partial = "arn:aws:secretsmanager:us-east-1:111122223333:secret:registry/creds";
  for (const std::string& id : {std::string("registry/creds"), created.arn, partial}) {
    auto got = Get(Root(), id);
    ASSERT_TRUE(got) << id << ": " << got.error().message;
    EXPECT_EQ(got->value.data, kCreds);
    EXPECT_EQ(got->value.type, SecretValue::Type::kString);
    EXPECT_EQ(got->arn, created.arn);
    EXPECT_EQ(got->version_id, created.version_id);
    EXPECT_THAT(got->version_stages, ElementsAre(kCurrent));
  }
  // A stale suffix, another name, a name in an ARN of the wrong service.
  EXPECT_ERROR(Get(Root(), partial + "-AbCdEf"), "ResourceNotFoundException");
  EXPECT_ERROR(Get(Root(), "registry/other"), "ResourceNotFoundException");
  auto missing = Get(Root(), "nope");
  EXPECT_EQ(missing.error().message, "Secrets Manager can't find the specified secret.");
}

TEST_F(SecretsTest, NoValueOrDataKeyIsStoredInPlaintext) {
  CreateKey(kA);
  Create("plain", kCreds);
  ASSERT_TRUE(Put("plain", "second-value-Xy7"));
  std::string dump = Dump();
  EXPECT_THAT(dump, Not(HasSubstr("hunter2")));
  EXPECT_THAT(dump, Not(HasSubstr("registry-user")));
  EXPECT_THAT(dump, Not(HasSubstr("second-value")));
  EXPECT_THAT(dump, Not(HasSubstr(Base64Encode(kCreds).substr(0, 24))));
}

TEST_F(SecretsTest, BinarySecretsRoundTrip) {
  CreateSecretRequest req;
  req.name = "bin";
  req.value.secret_binary = std::string("\x00\x01\xff\xfe", 4);
  ASSERT_TRUE(sm_->CreateSecret(Root(), req));
  auto got = Get(Root(), "bin");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->value.type, SecretValue::Type::kBinary);
  EXPECT_EQ(got->value.data, std::string("\x00\x01\xff\xfe", 4));
}

TEST_F(SecretsTest, ValueInputIsCheckedAsAwsDoes) {
  CreateSecretRequest both;
  both.name = "both";
  both.value.secret_string = "a";
  both.value.secret_binary = "b";
  EXPECT_ERROR(sm_->CreateSecret(Root(), both), "InvalidParameterException");

  CreateSecretRequest big;
  big.name = "big";
  big.value.secret_string = std::string(kMaxValueBytes + 1, 'x');
  auto too_big = sm_->CreateSecret(Root(), big);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code, "ValidationException");
  EXPECT_THAT(too_big.error().message, HasSubstr("'secretString'"));
  EXPECT_THAT(too_big.error().message, Not(HasSubstr("xxxx")));  // values are never echoed
  big.value.secret_string = std::string(kMaxValueBytes, 'x');
  EXPECT_TRUE(sm_->CreateSecret(Root(), big));

  CreateSecretRequest bad_name;
  bad_name.name = "no spaces";
  EXPECT_ERROR(sm_->CreateSecret(Root(), bad_name), "InvalidParameterException");
  bad_name.name = std::string(513, 'a');
  EXPECT_ERROR(sm_->CreateSecret(Root(), bad_name), "ValidationException");

  CreateSecretRequest short_token;
  short_token.name = "t";
  short_token.client_request_token = "too-short";
  EXPECT_ERROR(sm_->CreateSecret(Root(), short_token), "ValidationException");

  Create("empty-ok", "");
  PutSecretValueRequest neither;
  neither.secret_id = "empty-ok";
  EXPECT_ERROR(sm_->PutSecretValue(Root(), neither), "InvalidParameterException");
  PutSecretValueRequest both_put;
  both_put.secret_id = "empty-ok";
  both_put.value.secret_string = "a";
  both_put.value.secret_binary = "b";
  EXPECT_ERROR(sm_->PutSecretValue(Root(), both_put), "InvalidParameterException");
  // None of the refused requests left anything behind.
  auto listed = sm_->ListSecrets(Root(), {});
  ASSERT_TRUE(listed);
  std::vector<std::string> names;
  for (const auto& s : listed->secrets) names.push_back(s.name);
  EXPECT_THAT(names, UnorderedElementsAre("big", "empty-ok"));
}

TEST_F(SecretsTest, DuplicateNamesAndIdempotentRetries) {
  CreateSecretRequest req;
  req.name = "dup";
  req.client_request_token = Token('a');
  req.value.secret_string = "v1";
  auto first = sm_->CreateSecret(Root(), req);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->version_id, Token('a'));
  auto retry = sm_->CreateSecret(Root(), req);  // same token, same value
  ASSERT_TRUE(retry) << retry.error().message;
  EXPECT_EQ(retry->arn, first->arn);
  // The token of a version with another value: AWS's message, the value never in it.
  auto expect_in_use = [&](const Result<WriteResult>& result, const std::string& token) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, "ResourceExistsException");
    EXPECT_EQ(result.error().message,
              "You can't use ClientRequestToken " + token +
                  " because that value is already in use for a version of secret " + first->arn +
                  ".");
  };
  req.value.secret_string = "v1-changed";
  expect_in_use(sm_->CreateSecret(Root(), req), Token('a'));
  expect_in_use(Put("dup", "v1-changed", Token('a')), Token('a'));
  UpdateSecretRequest update;
  update.secret_id = "dup";
  update.client_request_token = Token('a');
  update.value.secret_string = "v1-changed";
  expect_in_use(sm_->UpdateSecret(Root(), update), Token('a'));
  EXPECT_EQ(Get(Root(), "dup")->value.data, "v1");
  req.client_request_token = Token('b');
  auto dup = sm_->CreateSecret(Root(), req);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, "ResourceExistsException");
  EXPECT_EQ(dup.error().message, "The operation failed because the secret dup already exists.");

  auto v2 = Put("dup", "v2", Token('c'));
  ASSERT_TRUE(v2);
  auto again = Put("dup", "v2", Token('c'));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->version_id, Token('c'));
  expect_in_use(Put("dup", "v2-other", Token('c')), Token('c'));
  auto versions = sm_->ListSecretVersionIds(Root(), {"dup", true, std::nullopt, ""});
  ASSERT_TRUE(versions);
  EXPECT_EQ(versions->versions.size(), 2u);
  EXPECT_EQ(Get(Root(), "dup")->value.data, "v2");
}

TEST_F(SecretsTest, ForceDeletingAnAbsentSecretSucceedsAsInAws) {
  auto by_name = sm_->DeleteSecret(Root(), "never-was", std::nullopt, true);
  ASSERT_TRUE(by_name) << by_name.error().message;
  EXPECT_EQ(by_name->name, "never-was");
  EXPECT_THAT(by_name->arn,
              MatchesRegex("arn:aws:secretsmanager:us-east-1:111122223333:secret:never-was-.{6}"));
  EXPECT_EQ(by_name->deletion_date, clock_.Now());

  const std::string arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:gone-AbCdEf";
  auto by_arn = sm_->DeleteSecret(Root(), arn, std::nullopt, true);
  ASSERT_TRUE(by_arn) << by_arn.error().message;
  EXPECT_EQ(by_arn->arn, arn);
  EXPECT_EQ(by_arn->name, "gone");
  EXPECT_THAT(Dump(), Not(HasSubstr("never-was")));

  // Without force it is still not found; and the caller still needs the permission.
  EXPECT_ERROR(sm_->DeleteSecret(Root(), "never-was", std::nullopt, false),
               "ResourceNotFoundException");
  auto reader = Role(kA, "reader",
                     R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",)"
                     R"("Action":"secretsmanager:GetSecretValue","Resource":"*"}]})");
  auto denied = sm_->DeleteSecret(reader, "never-was", std::nullopt, true);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, "AccessDeniedException");
  EXPECT_THAT(denied.error().message, HasSubstr("secretsmanager:DeleteSecret"));
}

TEST_F(SecretsTest, StagesMoveAsAwsMovesThem) {
  Create("rot", "one");
  std::string v1 = Get(Root(), "rot")->version_id;
  auto v2 = Put("rot", "two", Token('2'));
  ASSERT_TRUE(v2);
  EXPECT_THAT(v2->version_stages, ElementsAre(kCurrent));
  EXPECT_EQ(Get(Root(), "rot")->value.data, "two");
  auto previous = Get(Root(), "rot", kPrevious);
  ASSERT_TRUE(previous);
  EXPECT_EQ(previous->value.data, "one");
  EXPECT_EQ(previous->version_id, v1);
  EXPECT_EQ(Get(Root(), "rot", "", v1)->value.data, "one");

  ASSERT_TRUE(Put("rot", "three", Token('3')));
  EXPECT_EQ(Get(Root(), "rot", kPrevious)->value.data, "two");
  auto described = sm_->DescribeSecret(Root(), "rot");
  ASSERT_TRUE(described);
  EXPECT_THAT(described->FindVersion(v1)->stages, IsEmpty());  // deprecated
  auto staged = sm_->ListSecretVersionIds(Root(), {"rot", false, std::nullopt, ""});
  EXPECT_EQ(staged->versions.size(), 2u);
  auto all = sm_->ListSecretVersionIds(Root(), {"rot", true, std::nullopt, ""});
  EXPECT_EQ(all->versions.size(), 3u);
  EXPECT_EQ(all->versions.front().id, Token('3'));  // newest first

  // A pending version does not disturb AWSCURRENT; promoting it must name
  // the version AWSCURRENT leaves.
  auto pending = Put("rot", "four", Token('4'), std::vector<std::string>{kPending});
  ASSERT_TRUE(pending);
  EXPECT_THAT(pending->version_stages, ElementsAre(kPending));
  EXPECT_EQ(Get(Root(), "rot")->value.data, "three");
  EXPECT_EQ(Get(Root(), "rot", kPending)->value.data, "four");
  EXPECT_ERROR(sm_->UpdateSecretVersionStage(Root(), "rot", kCurrent, "", Token('4')),
               "InvalidParameterException");
  ASSERT_TRUE(sm_->UpdateSecretVersionStage(Root(), "rot", kCurrent, Token('3'), Token('4')));
  auto now = Get(Root(), "rot");
  EXPECT_EQ(now->value.data, "four");
  EXPECT_THAT(now->version_stages, UnorderedElementsAre(kCurrent, kPending));
  EXPECT_EQ(Get(Root(), "rot", kPrevious)->value.data, "three");
  EXPECT_ERROR(sm_->UpdateSecretVersionStage(Root(), "rot", kCurrent, Token('4'), ""),
               "InvalidParameterException");
  ASSERT_TRUE(sm_->UpdateSecretVersionStage(Root(), "rot", kPending, Token('4'), ""));
  EXPECT_ERROR(Get(Root(), "rot", kPending), "ResourceNotFoundException");
  EXPECT_ERROR(Get(Root(), "rot", kCurrent, Token('2')), "InvalidRequestException");
  EXPECT_ERROR(Get(Root(), "rot", "", Token('9')), "ResourceNotFoundException");
}

TEST_F(SecretsTest, FirstValueOfAnEmptySecretBecomesCurrent) {
  CreateSecretRequest req;
  req.name = "later";
  auto created = sm_->CreateSecret(Root(), req);
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->version_id.empty());
  auto none = Get(Root(), "later");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message,
            "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT");
  auto put = Put("later", "v", Token('p'), std::vector<std::string>{kPending});
  ASSERT_TRUE(put);
  EXPECT_THAT(put->version_stages, UnorderedElementsAre(kPending, kCurrent));
}

TEST_F(SecretsTest, DeletionRecoveryAndPurge) {
  Create("doomed", "v");
  EXPECT_ERROR(sm_->DeleteSecret(Root(), "doomed", 7, true), "InvalidParameterException");
  EXPECT_ERROR(sm_->DeleteSecret(Root(), "doomed", 6, false), "InvalidParameterException");
  EXPECT_ERROR(sm_->DeleteSecret(Root(), "doomed", 31, false), "InvalidParameterException");
  auto deleted = sm_->DeleteSecret(Root(), "doomed", std::nullopt, false);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(*deleted->deletion_date, clock_.Now() + std::chrono::days(30));
  auto read = Get(Root(), "doomed");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, "InvalidRequestException");
  EXPECT_EQ(read.error().message,
            "You can't perform this operation on the secret because it was marked for deletion.");
  EXPECT_ERROR(Put("doomed", "w"), "InvalidRequestException");
  EXPECT_TRUE(sm_->DescribeSecret(Root(), "doomed")->deleted.has_value());
  EXPECT_ERROR(sm_->CreateSecret(Root(), CreateSecretRequest{.name = "doomed"}),
               "InvalidRequestException");
  EXPECT_TRUE(sm_->ListSecrets(Root(), {})->secrets.empty());
  EXPECT_EQ(sm_->ListSecrets(Root(), {.include_planned_deletion = true})->secrets.size(), 1u);

  ASSERT_TRUE(sm_->RestoreSecret(Root(), "doomed"));
  EXPECT_EQ(Get(Root(), "doomed")->value.data, "v");

  // The recovery window passes: the secret and its values are gone.
  ASSERT_TRUE(sm_->DeleteSecret(Root(), "doomed", 7, false));
  clock_.Advance(std::chrono::days(8));
  EXPECT_ERROR(sm_->DescribeSecret(Root(), "doomed"), "ResourceNotFoundException");
  EXPECT_THAT(Dump(), Not(HasSubstr("/value/doomed:")));
  Create("doomed", "again");

  auto forced = sm_->DeleteSecret(Root(), "doomed", std::nullopt, true);
  ASSERT_TRUE(forced);
  EXPECT_ERROR(sm_->DescribeSecret(Root(), "doomed"), "ResourceNotFoundException");
  EXPECT_THAT(Dump(), Not(HasSubstr("doomed")));
}

TEST_F(SecretsTest, RoleNeedsKmsDecryptOnlyForACustomerManagedKey) {
  kms::KeyMetadata cmk = CreateKey(kA);
  WriteResult by_default = Create("default-key", kCreds);
  WriteResult by_cmk = Create("cmk", kCreds, cmk.key_id);
  auto role = Role(kA, "exec",
                   Allow(R"("secretsmanager:GetSecretValue")",
                         fmt::format(R"(["{}","{}"])", by_default.arn, by_cmk.arn)));
  auto ok = Get(role, by_default.arn);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->value.data, kCreds);

  auto denied = Get(role, "cmk");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, "AccessDeniedException");
  EXPECT_THAT(denied.error().message, HasSubstr("kms:Decrypt"));
  EXPECT_THAT(denied.error().message, HasSubstr("Access to KMS is not allowed"));

  role = Role(kA, "exec",
              Allow(R"(["secretsmanager:GetSecretValue","kms:Decrypt"])",
                    fmt::format(R"(["{}","{}"])", by_cmk.arn, cmk.arn)));
  auto allowed = Get(role, "cmk");
  ASSERT_TRUE(allowed) << allowed.error().message;
  EXPECT_EQ(allowed->value.data, kCreds);

  // Without secretsmanager:GetSecretValue on the secret, nothing is read.
  auto other = Role(kA, "other", Allow(R"("kms:Decrypt")", R"("*")"));
  auto refused = Get(other, "cmk");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "AccessDeniedException");
  EXPECT_THAT(refused.error().message, HasSubstr("secretsmanager:GetSecretValue"));
}

TEST_F(SecretsTest, PoliciesMatchTheSuffixedArn) {
  WriteResult s = Create("db", "v");
  std::string bare = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db";
  auto role = Role(kA, "bare", Allow(R"("secretsmanager:GetSecretValue")", "\"" + bare + "\""));
  EXPECT_ERROR(Get(role, "db"), "AccessDeniedException");
  role = Role(kA, "bare", Allow(R"("secretsmanager:GetSecretValue")", "\"" + bare + "-??????\""));
  EXPECT_TRUE(Get(role, "db"));
  role = Role(kA, "bare", Allow(R"("secretsmanager:GetSecretValue")", "\"" + bare + "-*\""));
  EXPECT_TRUE(Get(role, s.arn));
}

TEST_F(SecretsTest, CrossAccountNeedsResourcePolicyKeyPolicyAndIdentity) {
  std::string key_policy = fmt::format(
      R"({{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{0}:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{1}:root"}},"Action":"kms:Decrypt","Resource":"*"}}]}})",
      kA, kB);
  kms::KeyMetadata cmk = CreateKey(kA, key_policy);
  WriteResult shared = Create("shared", kCreds, cmk.arn);
  WriteResult by_default = Create("default", kCreds);
  auto reader =
      Role(kB, "reader",
           Allow(R"(["secretsmanager:GetSecretValue","kms:Decrypt"])",
                 fmt::format(R"(["{}","{}","{}"])", shared.arn, by_default.arn, cmk.arn)));

  // No resource policy yet.
  EXPECT_ERROR(Get(reader, shared.arn), "AccessDeniedException");
  std::string resource_policy = fmt::format(
      R"({{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
        "Principal":{{"AWS":"arn:aws:iam::{}:role/reader"}},
        "Action":"secretsmanager:GetSecretValue","Resource":"*"}}]}})",
      kB);
  ASSERT_TRUE(sm_->PutResourcePolicy(Root(), "shared", resource_policy, true));
  ASSERT_TRUE(sm_->PutResourcePolicy(Root(), "default", resource_policy, true));
  auto got = Get(reader, shared.arn);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->value.data, kCreds);

  // By name B looks in its own account; a partial ARN works.
  EXPECT_ERROR(Get(reader, "shared"), "ResourceNotFoundException");
  std::string partial = shared.arn.substr(0, shared.arn.size() - 7);
  EXPECT_TRUE(Get(reader, partial));
  // A's default key never serves another account.
  auto managed = Get(reader, by_default.arn);
  ASSERT_FALSE(managed);
  EXPECT_EQ(managed.error().code, "AccessDeniedException");
  EXPECT_THAT(managed.error().message, HasSubstr("kms:Decrypt"));
  // Without its own identity permission B is refused, policy or not.
  auto bare = Role(kB, "bare", Allow(R"("kms:Decrypt")", R"("*")"));
  EXPECT_ERROR(Get(bare, shared.arn), "AccessDeniedException");
  // A missing secret of another account looks like a refusal, not a miss.
  EXPECT_ERROR(Get(reader, "arn:aws:secretsmanager:us-east-1:111122223333:secret:none-AbCdEf"),
               "AccessDeniedException");
}

TEST_F(SecretsTest, RegionsAreSeparateNamespaces) {
  auto west = Root(kA, kWest);
  WriteResult created = Create("regional", "west-value", "", &west);
  EXPECT_THAT(created.arn, HasSubstr(":us-west-2:"));
  EXPECT_EQ(Get(west, "regional")->value.data, "west-value");
  EXPECT_EQ(Get(west, created.arn)->value.data, "west-value");
  EXPECT_ERROR(Get(Root(kA, kEast), "regional"), "ResourceNotFoundException");
  // The same name in another region is another secret.
  Create("regional", "east-value");
  EXPECT_EQ(Get(Root(), "regional")->value.data, "east-value");
  EXPECT_EQ(Get(west, "regional")->value.data, "west-value");
  // A full ARN says where to look.
  EXPECT_EQ(Get(Root(kA, kEast), created.arn)->value.data, "west-value");
}

TEST_F(SecretsTest, TamperedOrMovedValuesFailToDecrypt) {
  Create("t", "value-one");
  ASSERT_TRUE(Put("t", "value-two", Token('2')));
  std::string v1 = Get(Root(), "t", kPrevious)->version_id;
  std::string k1 = ValueKey(kA, kEast, "t", v1);
  std::string k2 = ValueKey(kA, kEast, "t", Token('2'));
  auto r1 = kv_->Get(k1);
  auto r2 = kv_->Get(k2);
  ASSERT_TRUE(r1 && *r1 && r2 && *r2);
  // Version two's record under version one's key: bound to the other version.
  ASSERT_TRUE(kv_->Put(k1, (*r2)->value));
  auto moved = Get(Root(), "t", "", v1);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code, "DecryptionFailure");
  // A flipped ciphertext byte.
  auto sealed = DecodeSealedValue((*r1)->value);
  ASSERT_TRUE(sealed);
  sealed->sealed[sealed->sealed.size() / 2] ^= 1;
  ASSERT_TRUE(kv_->Put(k1, EncodeSealedValue(*sealed)));
  EXPECT_ERROR(Get(Root(), "t", "", v1), "DecryptionFailure");
  EXPECT_EQ(Get(Root(), "t")->value.data, "value-two");
}

TEST_F(SecretsTest, DisabledKeyFailsReadsAndWritesWithoutPartialState) {
  kms::KeyMetadata cmk = CreateKey(kA);
  Create("k", "v", cmk.key_id);
  auto root = Root();
  ASSERT_TRUE(kms_->DisableKey(kms::Caller{root, ""}, cmk.key_id));
  EXPECT_ERROR(Get(Root(), "k"), "DecryptionFailure");
  std::string before = Dump();
  EXPECT_ERROR(Put("k", "w"), "EncryptionFailure");
  EXPECT_EQ(Dump(), before);
  ASSERT_TRUE(kms_->EnableKey(kms::Caller{root, ""}, cmk.key_id));
  EXPECT_EQ(Get(Root(), "k")->value.data, "v");
}

TEST_F(SecretsTest, WriterWithoutKeyAccessLeavesNothingBehind) {
  kms::KeyMetadata cmk = CreateKey(kA);
  WriteResult s = Create("guarded", "v", cmk.arn);
  auto writer = Role(kA, "writer", Allow(R"("secretsmanager:PutSecretValue")", "\"*\""));
  std::string before = Dump();
  PutSecretValueRequest req;
  req.secret_id = "guarded";
  req.value.secret_string = "new";
  auto put = sm_->PutSecretValue(writer, req);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, "AccessDeniedException");
  EXPECT_THAT(put.error().message, HasSubstr("kms:GenerateDataKey"));
  EXPECT_EQ(Dump(), before);
  EXPECT_EQ(Get(Root(), s.arn)->value.data, "v");
}

TEST_F(SecretsTest, UpdateSecretChangesMetadataKeyAndValue) {
  WriteResult s = Create("upd", "v1");
  kms::KeyMetadata cmk = CreateKey(kA);
  UpdateSecretRequest meta;
  meta.secret_id = "upd";
  meta.description = "registry credentials";
  meta.kms_key_id = cmk.arn;
  auto updated = sm_->UpdateSecret(Root(), meta);
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_TRUE(updated->version_id.empty());
  auto d = sm_->DescribeSecret(Root(), "upd");
  EXPECT_EQ(d->description, "registry credentials");
  EXPECT_EQ(d->kms_key_id, cmk.arn);
  // AWSCURRENT was re-encrypted under the new key.
  EXPECT_EQ(d->versions.front().key_arn, cmk.arn);
  EXPECT_EQ(Get(Root(), "upd")->value.data, "v1");

  UpdateSecretRequest value;
  value.secret_id = s.arn;
  value.value.secret_string = "v2";
  auto v2 = sm_->UpdateSecret(Root(), value);
  ASSERT_TRUE(v2);
  EXPECT_FALSE(v2->version_id.empty());
  EXPECT_EQ(Get(Root(), "upd")->value.data, "v2");
  EXPECT_EQ(Get(Root(), "upd", kPrevious)->value.data, "v1");
}

TEST_F(SecretsTest, ResourcePolicies) {
  Create("p", "v");
  EXPECT_ERROR(sm_->PutResourcePolicy(Root(), "p", "{not json", false),
               "MalformedPolicyDocumentException");
  std::string no_principal =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}]})";
  EXPECT_ERROR(sm_->PutResourcePolicy(Root(), "p", no_principal, false),
               "MalformedPolicyDocumentException");
  std::string everyone =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]})";
  EXPECT_ERROR(sm_->PutResourcePolicy(Root(), "p", everyone, true), "PublicPolicyException");
  EXPECT_TRUE(sm_->GetResourcePolicy(Root(), "p")->policy.empty());
  std::string pinned =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"444455556666"}}}]})";
  ASSERT_TRUE(sm_->PutResourcePolicy(Root(), "p", pinned, true));
  EXPECT_EQ(sm_->GetResourcePolicy(Root(), "p")->policy, pinned);
  ASSERT_TRUE(sm_->PutResourcePolicy(Root(), "p", everyone, false));  // not blocked
  auto validation = sm_->ValidateResourcePolicy(Root(), std::string("p"), everyone);
  ASSERT_TRUE(validation);
  EXPECT_FALSE(validation->passed);
  EXPECT_EQ(validation->errors.at(0).check_name, "PUBLIC_POLICY");
  EXPECT_TRUE(sm_->ValidateResourcePolicy(Root(), std::nullopt, pinned)->passed);
  ASSERT_TRUE(sm_->DeleteResourcePolicy(Root(), "p"));
  EXPECT_TRUE(sm_->GetResourcePolicy(Root(), "p")->policy.empty());

  EXPECT_TRUE(IsPublicPolicy(
      R"({"Statement":{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"*","Resource":"*","Condition":{"StringLike":{"aws:PrincipalAccount":"*"}}}})"));
  EXPECT_TRUE(IsPublicPolicy(
      R"({"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"*","Resource":"*"}})"));
  EXPECT_FALSE(IsPublicPolicy(
      R"({"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}}})"));
  EXPECT_TRUE(IsPublicPolicy(
      R"({"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/x"}}}})"));
  EXPECT_FALSE(IsPublicPolicy(
      R"({"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}})"));
}

TEST_F(SecretsTest, ResourcePolicyGrantsWithinTheAccount) {
  WriteResult s = Create("granted", "v");
  auto role = Role(kA, "nobody", "");
  EXPECT_ERROR(Get(role, "granted"), "AccessDeniedException");
  std::string policy = fmt::format(
      R"({{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
        "Principal":{{"AWS":"arn:aws:iam::{}:role/nobody"}},
        "Action":"secretsmanager:GetSecretValue","Resource":"*"}}]}})",
      kA);
  ASSERT_TRUE(sm_->PutResourcePolicy(Root(), s.arn, policy, true));
  auto got = Get(role, "granted");
  ASSERT_TRUE(got) << got.error().message;
}

TEST_F(SecretsTest, TagsConditionsAndListFilters) {
  CreateSecretRequest a;
  a.name = "prod/db";
  a.description = "Database credentials for prod";
  a.tags = {{"env", "prod"}, {"team", "payments"}};
  ASSERT_TRUE(sm_->CreateSecret(Root(), a));
  clock_.Advance(std::chrono::seconds(1));
  CreateSecretRequest b;
  b.name = "dev/registry";
  b.description = "registry login";
  ASSERT_TRUE(sm_->CreateSecret(Root(), b));
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(sm_->TagResource(Root(), "dev/registry", {{"env", "dev"}}));
  ASSERT_TRUE(sm_->CreateSecret(Root(), CreateSecretRequest{.name = "prod/api"}));

  auto names = [&](ListSecretsRequest req) {
    std::vector<std::string> out;
    auto page = sm_->ListSecrets(Root(), req);
    EXPECT_TRUE(page) << page.error().message;
    if (page) {
      for (const auto& s : page->secrets) out.push_back(s.name);
    }
    return out;
  };
  EXPECT_THAT(names({}), ElementsAre("prod/db", "dev/registry", "prod/api"));
  EXPECT_THAT(names({.sort_order = "desc"}), ElementsAre("prod/api", "dev/registry", "prod/db"));
  EXPECT_THAT(names({.filters = {{"name", {"prod/"}}}}), ElementsAre("prod/db", "prod/api"));
  EXPECT_THAT(names({.filters = {{"name", {"Prod/"}}}}), IsEmpty());
  EXPECT_THAT(names({.filters = {{"tag-key", {"env"}}, {"tag-value", {"dev"}}}}),
              ElementsAre("dev/registry"));
  EXPECT_THAT(names({.filters = {{"tag-value", {"!prod"}}}}),
              ElementsAre("dev/registry", "prod/api"));
  EXPECT_THAT(names({.filters = {{"description", {"CREDENTIALS prod"}}}}), ElementsAre("prod/db"));
  EXPECT_THAT(names({.filters = {{"all", {"payments"}}}}), ElementsAre("prod/db"));
  EXPECT_THAT(names({.filters = {{"all", {"registry"}}}}), ElementsAre("dev/registry"));
  EXPECT_ERROR(sm_->ListSecrets(Root(), {.filters = {{"colour", {"x"}}}}), "ValidationException");
  EXPECT_ERROR(sm_->ListSecrets(Root(), {.max_results = 101}), "ValidationException");
  EXPECT_ERROR(sm_->ListSecrets(Root(), {.next_token = "***"}), "InvalidNextTokenException");

  // Pagination.
  auto first = sm_->ListSecrets(Root(), {.max_results = 2});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->secrets.size(), 2u);
  ASSERT_FALSE(first->next_token.empty());
  auto second = sm_->ListSecrets(Root(), {.max_results = 2, .next_token = first->next_token});
  ASSERT_TRUE(second);
  ASSERT_EQ(second->secrets.size(), 1u);
  EXPECT_EQ(second->secrets[0].name, "prod/api");
  EXPECT_TRUE(second->next_token.empty());

  // Tags are condition keys.
  auto role = Role(kA, "tagged",
                   R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                       "Action":"secretsmanager:DescribeSecret","Resource":"*",
                       "Condition":{"StringEquals":{"secretsmanager:ResourceTag/env":"dev"}}}]})");
  EXPECT_TRUE(sm_->DescribeSecret(role, "dev/registry"));
  EXPECT_ERROR(sm_->DescribeSecret(role, "prod/db"), "AccessDeniedException");
  ASSERT_TRUE(sm_->UntagResource(Root(), "prod/db", {"env"}));
  EXPECT_THAT(sm_->DescribeSecret(Root(), "prod/db")->tags, ElementsAre(Tag{"team", "payments"}));
  EXPECT_ERROR(sm_->TagResource(Root(), "prod/db", {{"aws:x", "y"}}), "InvalidParameterException");
}

TEST_F(SecretsTest, BatchGetReportsPerSecretErrors) {
  WriteResult a = Create("batch/a", "va");
  Create("batch/b", "vb");
  BatchGetRequest req;
  req.secret_ids = {a.arn, "batch/b", "batch/missing"};
  auto out = sm_->BatchGetSecretValue(Root(), req);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(out->values.size(), 2u);
  EXPECT_EQ(out->values[0].value.data, "va");
  EXPECT_EQ(out->values[1].value.data, "vb");
  ASSERT_EQ(out->errors.size(), 1u);
  EXPECT_EQ(out->errors[0].secret_id, "batch/missing");
  EXPECT_EQ(out->errors[0].error_code, "ResourceNotFoundException");

  BatchGetRequest filtered;
  filtered.filters = {{"name", {"batch/"}}};
  filtered.max_results = 1;
  auto page = sm_->BatchGetSecretValue(Root(), filtered);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->values.size(), 1u);
  EXPECT_FALSE(page->next_token.empty());
  req.filters = filtered.filters;
  EXPECT_ERROR(sm_->BatchGetSecretValue(Root(), req), "InvalidParameterException");

  auto role = Role(kA, "batcher", Allow(R"("secretsmanager:GetSecretValue")", "\"*\""));
  EXPECT_ERROR(sm_->BatchGetSecretValue(role, BatchGetRequest{.secret_ids = {"batch/a"}}),
               "AccessDeniedException");
}

TEST_F(SecretsTest, RandomPasswords) {
  auto pw = sm_->GetRandomPassword(Root(), {});
  ASSERT_TRUE(pw);
  EXPECT_EQ(pw->size(), 32u);
  PasswordOptions digits;
  digits.length = 12;
  digits.exclude_lowercase = digits.exclude_uppercase = digits.exclude_punctuation = true;
  digits.exclude_characters = "0";
  auto d = sm_->GetRandomPassword(Root(), digits);
  ASSERT_TRUE(d);
  EXPECT_TRUE(std::regex_match(*d, std::regex("[1-9]{12}"))) << *d;
  PasswordOptions each;
  each.length = 4;
  each.include_space = true;
  EXPECT_ERROR(sm_->GetRandomPassword(Root(), each), "InvalidParameterException");
  each.length = 5;
  auto five = sm_->GetRandomPassword(Root(), each);
  ASSERT_TRUE(five);
  EXPECT_NE(five->find(' '), std::string::npos);
  EXPECT_ERROR(sm_->GetRandomPassword(Root(), {.length = 4097}), "ValidationException");
  EXPECT_ERROR(sm_->GetRandomPassword(Root(), {.length = 0}), "ValidationException");
  PasswordOptions nothing;
  nothing.exclude_lowercase = nothing.exclude_uppercase = nothing.exclude_numbers =
      nothing.exclude_punctuation = true;
  EXPECT_ERROR(sm_->GetRandomPassword(Root(), nothing), "InvalidParameterException");
  auto role = Role(kA, "nopw", "");
  EXPECT_ERROR(sm_->GetRandomPassword(role, {}), "AccessDeniedException");
}

TEST_F(SecretsTest, LastAccessedDateIsKeptPerDay) {
  Create("seen", "v");
  EXPECT_FALSE(sm_->DescribeSecret(Root(), "seen")->last_accessed);
  ASSERT_TRUE(Get(Root(), "seen"));
  auto d = sm_->DescribeSecret(Root(), "seen");
  ASSERT_TRUE(d->last_accessed);
  EXPECT_EQ(*d->last_accessed, std::chrono::floor<std::chrono::days>(clock_.Now()));
}

// Records are cached parsed (secrets/service.h): every change made through the
// service is seen by the very next read, however warm the cache.
TEST_F(SecretsTest, CachedRecordsSeeEveryChangeAtOnce) {
  kms::KeyMetadata cmk = CreateKey(kA);
  auto root = Root();
  Create("cached", "one");
  auto reader =
      Role(kA, "reader",
           R"({"Version":"2012-10-17","Statement":[)"
           R"({"Effect":"Allow","Action":["secretsmanager:GetSecretValue","kms:Decrypt"],)"
           R"("Resource":"*"},)"
           R"({"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"*",)"
           R"("Condition":{"StringEquals":{"secretsmanager:ResourceTag/locked":"yes"}}}]})");
  auto read = [&] { return Get(reader, "cached"); };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(read()->value.data, "one");

  // A new value.
  ASSERT_TRUE(Put("cached", "two"));
  EXPECT_EQ(read()->value.data, "two");
  EXPECT_EQ(Get(reader, "cached", kPrevious)->value.data, "one");

  // A resource policy denying the reader, then none.
  std::string deny = fmt::format(
      R"({{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":{{"AWS":"{}"}},)"
      R"("Action":"secretsmanager:GetSecretValue","Resource":"*"}}]}})",
      fmt::format("arn:aws:iam::{}:root", kA));
  ASSERT_TRUE(sm_->PutResourcePolicy(root, "cached", deny, false));
  EXPECT_ERROR(read(), "AccessDeniedException");
  ASSERT_TRUE(sm_->DeleteResourcePolicy(root, "cached"));
  EXPECT_EQ(read()->value.data, "two");

  // A tag the reader's policy denies on, then without it.
  ASSERT_TRUE(sm_->TagResource(root, "cached", {{"locked", "yes"}}));
  EXPECT_ERROR(read(), "AccessDeniedException");
  ASSERT_TRUE(sm_->UntagResource(root, "cached", {"locked"}));
  EXPECT_EQ(read()->value.data, "two");

  // Another key, re-encrypting the labelled versions; then that key disabled.
  UpdateSecretRequest rekey;
  rekey.secret_id = "cached";
  rekey.kms_key_id = cmk.arn;
  ASSERT_TRUE(sm_->UpdateSecret(root, rekey));
  EXPECT_EQ(read()->value.data, "two");
  ASSERT_TRUE(kms_->DisableKey(kms::Caller{root, ""}, cmk.key_id));
  EXPECT_ERROR(read(), "DecryptionFailure");
  ASSERT_TRUE(kms_->EnableKey(kms::Caller{root, ""}, cmk.key_id));
  EXPECT_EQ(read()->value.data, "two");

  // Scheduled for deletion, restored, deleted for good and created anew.
  ASSERT_TRUE(sm_->DeleteSecret(root, "cached", 7, false));
  EXPECT_ERROR(read(), "InvalidRequestException");
  ASSERT_TRUE(sm_->RestoreSecret(root, "cached"));
  EXPECT_EQ(read()->value.data, "two");
  ASSERT_TRUE(sm_->DeleteSecret(root, "cached", std::nullopt, true));
  EXPECT_ERROR(read(), "ResourceNotFoundException");
  Create("cached", "three");
  EXPECT_EQ(read()->value.data, "three");

  // The recovery window passing needs no write to be seen.
  ASSERT_TRUE(sm_->DeleteSecret(root, "cached", 7, false));
  clock_.Advance(std::chrono::days(7));
  EXPECT_ERROR(read(), "ResourceNotFoundException");
}

// Readers filling the cache while a writer commits never make the writer's
// next read (or anyone's after it) see an older value.
TEST_F(SecretsTest, ConcurrentReadersNeverHideAWrite) {
  Create("busy", "0");
  std::atomic<bool> stop = false;
  std::atomic<int> reads = 0;
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        auto got = Get(Root(), "busy");
        if (got) ++reads;
      }
    });
  }
  for (int i = 1; i <= 150 && !HasFailure(); ++i) {
    auto put = Put("busy", std::to_string(i), fmt::format("{:036d}", i));
    EXPECT_TRUE(put) << put.error().code << ": " << put.error().message;
    auto got = Get(Root(), "busy");
    EXPECT_TRUE(got) << got.error().code << ": " << got.error().message;
    if (got) {
      EXPECT_EQ(got->value.data, std::to_string(i));
    }
  }
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_GT(reads.load(), 0);
}

// A read that writes nothing takes the secret from the cache; a record written
// behind the service's back (another writer of the store) is seen once the
// store's watch reports it.
TEST_F(SecretsTest, RecordsChangedBehindTheServicesBackAreSeenOnceWatched) {
  Create("behind", "one");
  ASSERT_TRUE(Put("behind", "two", Token('2')));
  std::string v1 = Get(Root(), "behind", kPrevious)->version_id;
  EXPECT_EQ(Get(Root(), "behind")->value.data, "two");
  auto eventually = [&](const std::function<bool()>& seen) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!seen() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return seen();
  };

  // The secret record: a description only the store knows.
  auto record = kv_->Get(SecretKey(kA, kEast, "behind"));
  ASSERT_TRUE(record && *record);
  auto secret = DecodeSecret((*record)->value);
  ASSERT_TRUE(secret);
  secret->description = "written behind its back";
  ASSERT_TRUE(kv_->Put(SecretKey(kA, kEast, "behind"), EncodeSecret(*secret)));
  EXPECT_TRUE(eventually([&] {
    auto described = sm_->DescribeSecret(Root(), "behind");
    return described && described->description == "written behind its back";
  }));

  // A value record: AWSCURRENT's ciphertext (just read, so cached) replaced by
  // version one's.
  EXPECT_EQ(Get(Root(), "behind")->value.data, "two");
  auto old = kv_->Get(ValueKey(kA, kEast, "behind", v1));
  ASSERT_TRUE(old && *old);
  ASSERT_TRUE(kv_->Put(ValueKey(kA, kEast, "behind", Token('2')), (*old)->value));
  EXPECT_TRUE(eventually([&] {
    auto got = Get(Root(), "behind");
    return !got && got.error().code == "DecryptionFailure";
  }));
}

TEST(SecretRecordKeys, SecretKeyOfMapsValueRecordsToTheirSecret) {
  EXPECT_EQ(SecretKeyOf(SecretKey(kA, kEast, "a/b")), SecretKey(kA, kEast, "a/b"));
  EXPECT_EQ(SecretKeyOf(ValueKey(kA, kEast, "a/b", Token('1'))), SecretKey(kA, kEast, "a/b"));
  EXPECT_EQ(SecretKeyOf(ValuePrefix(kA, kEast, "a-b")), SecretKey(kA, kEast, "a-b"));
  EXPECT_EQ(SecretKeyOf("kms/111122223333/us-east-1/key/x"), "");
  EXPECT_EQ(SecretKeyOf("secrets/111122223333/us-east-1/other/x"), "");
  EXPECT_EQ(SecretKeyOf("secrets/111122223333/us-east-1/value/no-colon"), "");
}

}  // namespace
}  // namespace berth::secrets
