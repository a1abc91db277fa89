#include "kms/service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "common/strings.h"
#include "crypto/aes_gcm.h"
#include "iam/identity_store.h"
#include "iam/service.h"
#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace berth::kms {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kAccount[] = "111122223333";
constexpr char kOther[] = "444455556666";
constexpr char kRegion[] = "us-east-1";
constexpr char kVia[] = "secretsmanager.us-east-1.amazonaws.com";

using test_support::TempDir;

crypto::RootKey TestRootKey() { return *crypto::RootKey::FromBytes(std::string(32, '\x5a')); }

std::string Allow(const std::string& actions, const std::string& resource = "*") {
  return R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":)" + actions +
         R"(,"Resource":")" + resource + R"("}]})";
}

// A key policy with one statement allowing `principal` kms:*.
std::string KeyPolicyFor(const std::string& principal) {
  return R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":")" +
         principal + R"("},"Action":"kms:*","Resource":"*"}]})";
}

class KmsTest : public ::testing::Test {
 protected:
  aws::Principal Root(const std::string& account = kAccount) {
    aws::Principal p;
    p.kind = aws::Principal::Kind::kRoot;
    p.account = account;
    p.arn = "arn:aws:iam::" + account + ":root";
    p.user_id = account;
    p.access_key_id = "AKIAROOT";
    return p;
  }

  // An IAM user with an optional inline policy.
  aws::Principal User(const std::string& name, const std::string& policy = "",
                      const std::string& account = kAccount) {
    auto user = iam_.CreateUser(account, name, "/");
    EXPECT_TRUE(user.has_value()) << user.error().message;
    if (!policy.empty()) {
      auto put = iam_.PutInlinePolicy(account, iam::PrincipalType::kUser, name, "p", policy);
      EXPECT_TRUE(put.has_value()) << put.error().message;
    }
    aws::Principal p;
    p.kind = aws::Principal::Kind::kUser;
    p.account = account;
    p.arn = user->arn;
    p.user_id = user->id;
    p.name = name;
    p.access_key_id = "AKIAUSER";
    return p;
  }

  aws::RequestContext Ctx(const aws::Principal& p, const std::string& region = kRegion) {
    return aws::RequestContext{p, region, "request-id", "127.0.0.1", clock_.Now()};
  }

  KeyMetadata NewKey(const aws::RequestContext& ctx, const std::string& policy = "") {
    Service::CreateKeyRequest request;
    request.policy = policy;
    request.bypass_policy_lockout_safety_check = !policy.empty();
    auto key = kms_.CreateKey(Caller{ctx, ""}, request);
    EXPECT_TRUE(key.has_value()) << key.error().code << ": " << key.error().message;
    return *key;
  }

  TempDir dir_{"kms_test"};
  std::unique_ptr<store::SqliteKv> kv_ = *store::SqliteKv::Open(dir_.File("berth.db"));
  crypto::RootKey root_ = TestRootKey();
  SequenceIds ids_;
  FakeClock clock_{TimePoint(std::chrono::seconds(1'800'000'000))};
  iam::IdentityStore identities_{*kv_, root_, ids_, clock_};
  iam::Service iam_{*kv_, ids_, clock_, iam::ValidatePolicyDocument};
  iam::AccessControl access_{iam_, identities_, clock_};
  Service kms_{*kv_, root_, access_, ids_, clock_};
};

// Expects `result` to have failed with `code` (and a message containing `message`).
#define EXPECT_FAILS(result, expected_code, message_part)            \
  do {                                                               \
    auto&& r_ = (result);                                            \
    ASSERT_FALSE(r_.has_value()) << "expected " << expected_code;    \
    EXPECT_EQ(r_.error().code, expected_code) << r_.error().message; \
    EXPECT_THAT(r_.error().message, HasSubstr(message_part));        \
  } while (0)

// Expects `result` to have failed with exactly `expected_code` and `expected_message`.
#define EXPECT_FAILS_EXACTLY(result, expected_code, expected_message) \
  do {                                                                \
    auto&& r_ = (result);                                             \
    ASSERT_FALSE(r_.has_value()) << "expected " << expected_code;     \
    EXPECT_EQ(r_.error().code, expected_code);                        \
    EXPECT_EQ(r_.error().message, expected_message);                  \
  } while (0)

TEST_F(KmsTest, EncryptDecryptRoundTripBindsTheContext) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  EXPECT_EQ(key.arn, "arn:aws:kms:us-east-1:111122223333:key/" + key.key_id);
  EXPECT_EQ(key.key_state, "Enabled");
  EXPECT_EQ(key.key_manager, "CUSTOMER");

  EncryptionContext context{{"purpose", "test"}, {"app", "berth"}};
  auto blob = kms_.Encrypt(c, key.key_id, "attack at dawn", context);
  ASSERT_TRUE(blob.has_value()) << blob.error().message;
  EXPECT_EQ(Service::BlobKeyArn(*blob), key.arn);
  EXPECT_EQ(blob->find("attack at dawn"), std::string::npos);

  auto opened = kms_.Decrypt(c, *blob, context, "");
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  EXPECT_EQ(opened->plaintext, "attack at dawn");
  EXPECT_EQ(opened->key_arn, key.arn);

  EXPECT_FAILS(kms_.Decrypt(c, *blob, {}, ""), "InvalidCiphertextException", "");
  EXPECT_FAILS(kms_.Decrypt(c, *blob, {{"purpose", "test"}}, ""), "InvalidCiphertextException", "");
  EXPECT_FAILS(kms_.Decrypt(c, *blob, {{"purpose", "test"}, {"app", "other"}}, ""),
               "InvalidCiphertextException", "");
  // Pairs that concatenate alike are still different contexts.
  auto ab = kms_.Encrypt(c, key.key_id, "x", {{"a", "bc"}});
  ASSERT_TRUE(ab.has_value());
  EXPECT_FAILS(kms_.Decrypt(c, *ab, {{"ab", "c"}}, ""), "InvalidCiphertextException", "");

  // KeyId on Decrypt must name the blob's key.
  EXPECT_TRUE(kms_.Decrypt(c, *blob, context, key.arn).has_value());
  auto other = NewKey(ctx);
  EXPECT_FAILS(kms_.Decrypt(c, *blob, context, other.key_id), "IncorrectKeyException", "");
}

TEST_F(KmsTest, TamperedCiphertextIsInvalid) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  auto other = NewKey(ctx);
  auto blob = *kms_.Encrypt(c, key.key_id, "secret value", {});

  for (size_t i : {size_t{0}, size_t{1}, blob.size() - 30, blob.size() - 20, blob.size() - 1}) {
    std::string bad = blob;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto r = kms_.Decrypt(c, bad, {}, "");
    ASSERT_FALSE(r.has_value()) << "byte " << i;
    EXPECT_EQ(r.error().code, "InvalidCiphertextException") << "byte " << i;
  }
  EXPECT_FAILS(kms_.Decrypt(c, blob.substr(0, blob.size() - 1), {}, ""),
               "InvalidCiphertextException", "");
  EXPECT_FAILS(kms_.Decrypt(c, "not a blob at all", {}, ""), "InvalidCiphertextException", "");
  EXPECT_FAILS(kms_.Decrypt(c, "", {}, ""), "ValidationException", "");

  // The same ciphertext relabelled as another key's does not open.
  std::string relabelled = blob;
  size_t at = relabelled.find(key.arn);
  ASSERT_NE(at, std::string::npos);
  relabelled.replace(at, key.arn.size(), other.arn);
  EXPECT_FAILS(kms_.Decrypt(c, relabelled, {}, ""), "InvalidCiphertextException", "");

  // The error never carries the plaintext.
  auto r = kms_.Decrypt(c, blob, {{"k", "v"}}, "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message.find("secret value"), std::string::npos);
}

TEST_F(KmsTest, KeyIdForms) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  ASSERT_TRUE(kms_.CreateAlias(c, "alias/app", key.key_id).has_value());
  const std::string alias_arn = "arn:aws:kms:us-east-1:111122223333:alias/app";
  for (const std::string& form : {key.key_id, key.arn, std::string("alias/app"), alias_arn}) {
    auto described = kms_.DescribeKey(c, form);
    ASSERT_TRUE(described.has_value()) << form << ": " << described.error().message;
    EXPECT_EQ(described->arn, key.arn);
    auto blob = kms_.Encrypt(c, form, "p", {});
    ASSERT_TRUE(blob.has_value()) << form;
    EXPECT_EQ(kms_.Decrypt(c, *blob, {}, form)->plaintext, "p");
  }

  const std::string missing = "00000000-0000-4000-8000-000000000000";
  EXPECT_FAILS(kms_.DescribeKey(c, missing), "NotFoundException",
               "Key 'arn:aws:kms:us-east-1:111122223333:key/" + missing + "' does not exist");
  EXPECT_FAILS(kms_.DescribeKey(c, "alias/nope"), "NotFoundException",
               "Alias arn:aws:kms:us-east-1:111122223333:alias/nope is not found.");
  EXPECT_FAILS(kms_.DescribeKey(c, "not-a-key"), "NotFoundException", "Invalid keyId");
  // Keys are regional: the us-east-1 key does not resolve from us-west-2.
  auto west = Ctx(Root(), "us-west-2");
  EXPECT_FAILS(kms_.DescribeKey(Caller{west, ""}, key.key_id), "NotFoundException",
               "does not exist");
  EXPECT_FAILS(kms_.DescribeKey(Caller{west, ""}, key.arn), "NotFoundException", "does not exist");
  EXPECT_FAILS(kms_.DescribeKey(Caller{west, ""}, "alias/app"), "NotFoundException",
               "is not found");
  // Management operations take a key id or key ARN only.
  EXPECT_FAILS(kms_.DisableKey(c, "alias/app"), "NotFoundException", "Invalid keyId");
  EXPECT_FAILS(kms_.GetKeyPolicy(c, alias_arn, "default"), "NotFoundException", "Invalid keyId");
  EXPECT_TRUE(kms_.DisableKey(c, key.arn).has_value());
}

TEST_F(KmsTest, Aliases) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto first = NewKey(ctx);
  auto second = NewKey(ctx);
  ASSERT_TRUE(kms_.CreateAlias(c, "alias/app", first.key_id).has_value());
  ASSERT_TRUE(kms_.CreateAlias(c, "alias/team/db", second.arn).has_value());
  EXPECT_FAILS(
      kms_.CreateAlias(c, "alias/app", second.key_id), "AlreadyExistsException",
      "An alias with the name arn:aws:kms:us-east-1:111122223333:alias/app already exists");
  EXPECT_FAILS(kms_.CreateAlias(c, "app", first.key_id), "ValidationException",
               "Alias must start with the prefix \"alias/\"");
  EXPECT_FAILS(kms_.CreateAlias(c, "alias/bad name", first.key_id), "ValidationException",
               "regular expression");
  EXPECT_FAILS(kms_.CreateAlias(c, "alias/aws/mine", first.key_id), "NotAuthorizedException", "");
  EXPECT_FAILS(kms_.CreateAlias(c, "alias/other", "alias/app"), "ValidationException",
               "Aliases must refer to keys");
  EXPECT_FAILS(kms_.CreateAlias(c, "alias/other", "00000000-0000-4000-8000-000000000000"),
               "NotFoundException", "does not exist");

  auto blob = *kms_.Encrypt(c, "alias/app", "p", {});
  EXPECT_EQ(Service::BlobKeyArn(blob), first.arn);
  ASSERT_TRUE(kms_.UpdateAlias(c, "alias/app", second.key_id).has_value());
  EXPECT_EQ(Service::BlobKeyArn(*kms_.Encrypt(c, "alias/app", "p", {})), second.arn);
  EXPECT_EQ(kms_.Decrypt(c, blob, {}, "")->plaintext, "p");  // old blobs still open
  EXPECT_FAILS(kms_.UpdateAlias(c, "alias/none", second.key_id), "NotFoundException",
               "Alias arn:aws:kms:us-east-1:111122223333:alias/none is not found.");

  auto all = kms_.ListAliases(c, "", {});
  ASSERT_TRUE(all.has_value());
  ASSERT_THAT(all->items, SizeIs(2));
  EXPECT_EQ(all->items[0].alias_name, "alias/app");
  EXPECT_EQ(all->items[0].alias_arn, "arn:aws:kms:us-east-1:111122223333:alias/app");
  EXPECT_EQ(all->items[0].target_key_id, second.key_id);
  EXPECT_EQ(all->items[1].alias_name, "alias/team/db");
  EXPECT_TRUE(all->next_marker.empty());

  auto page = kms_.ListAliases(c, "", {"", 1});
  ASSERT_THAT(page->items, SizeIs(1));
  EXPECT_FALSE(page->next_marker.empty());
  auto rest = kms_.ListAliases(c, "", {page->next_marker, 1});
  ASSERT_THAT(rest->items, SizeIs(1));
  EXPECT_EQ(rest->items[0].alias_name, "alias/team/db");
  EXPECT_TRUE(rest->next_marker.empty());
  EXPECT_THAT(kms_.ListAliases(c, first.key_id, {})->items, IsEmpty());

  ASSERT_TRUE(kms_.DeleteAlias(c, "alias/app").has_value());
  EXPECT_FAILS(kms_.DeleteAlias(c, "alias/app"), "NotFoundException", "is not found");
  EXPECT_FAILS(kms_.Encrypt(c, "alias/app", "p", {}), "NotFoundException", "is not found");
  EXPECT_THAT(kms_.ListAliases(c, "", {})->items, SizeIs(1));
}

TEST_F(KmsTest, DisabledKeysRefuseCryptography) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  auto blob = *kms_.Encrypt(c, key.key_id, "p", {});
  ASSERT_TRUE(kms_.DisableKey(c, key.key_id).has_value());
  EXPECT_EQ(kms_.DescribeKey(c, key.key_id)->key_state, "Disabled");
  EXPECT_FAILS(kms_.Encrypt(c, key.key_id, "p", {}), "DisabledException",
               key.arn + " is disabled.");
  EXPECT_FAILS(kms_.Decrypt(c, blob, {}, ""), "DisabledException", "is disabled");
  EXPECT_FAILS(kms_.GenerateDataKey(c, key.key_id, {}), "DisabledException", "is disabled");
  ASSERT_TRUE(kms_.EnableKey(c, key.key_id).has_value());
  EXPECT_EQ(kms_.Decrypt(c, blob, {}, "")->plaintext, "p");
}

TEST_F(KmsTest, DeletionIsScheduledCancelledAndCarriedOut) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  ASSERT_TRUE(kms_.CreateAlias(c, "alias/doomed", key.key_id).has_value());
  EXPECT_FAILS(kms_.ScheduleKeyDeletion(c, key.key_id, 6), "ValidationException",
               "greater than or equal to 7");
  EXPECT_FAILS(kms_.ScheduleKeyDeletion(c, key.key_id, 31), "ValidationException",
               "less than or equal to 30");

  auto scheduled = kms_.ScheduleKeyDeletion(c, key.key_id, std::nullopt);
  ASSERT_TRUE(scheduled.has_value()) << scheduled.error().message;
  EXPECT_EQ(scheduled->key_state, "PendingDeletion");
  EXPECT_EQ(scheduled->pending_window_days, 30);
  EXPECT_EQ(*scheduled->deletion_date, clock_.Now() + std::chrono::hours(24 * 30));
  EXPECT_FAILS(kms_.Encrypt(c, key.key_id, "p", {}), "KMSInvalidStateException",
               key.arn + " is pending deletion.");
  EXPECT_FAILS(kms_.DisableKey(c, key.key_id), "KMSInvalidStateException", "pending deletion");
  EXPECT_FAILS(kms_.ScheduleKeyDeletion(c, key.key_id, 7), "KMSInvalidStateException", "");
  EXPECT_FAILS(kms_.CreateAlias(c, "alias/late", key.key_id), "KMSInvalidStateException", "");

  auto cancelled = kms_.CancelKeyDeletion(c, key.key_id);
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->key_state, "Disabled");
  EXPECT_FALSE(cancelled->deletion_date.has_value());
  EXPECT_FAILS(kms_.CancelKeyDeletion(c, key.key_id), "KMSInvalidStateException",
               "is not pending deletion");

  ASSERT_TRUE(kms_.ScheduleKeyDeletion(c, key.key_id, 7).has_value());
  clock_.Advance(std::chrono::hours(24 * 7) - std::chrono::seconds(1));
  EXPECT_EQ(kms_.DescribeKey(c, key.key_id)->key_state, "PendingDeletion");
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_FAILS(kms_.DescribeKey(c, key.key_id), "NotFoundException", "does not exist");
  EXPECT_THAT(kms_.ListKeys(c, {})->items, IsEmpty());
  EXPECT_THAT(kms_.ListAliases(c, "", {})->items, IsEmpty());
  EXPECT_THAT(kv_->Range("kms/")->kvs, IsEmpty());
}

TEST_F(KmsTest, ListKeysPerAccountAndRegionWithPages) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  NewKey(ctx);
  NewKey(ctx);
  NewKey(ctx);
  auto west_ctx = Ctx(Root(), "us-west-2");
  auto west = NewKey(west_ctx);
  auto other_ctx = Ctx(Root(kOther));
  NewKey(other_ctx);

  auto first = kms_.ListKeys(c, {"", 2});
  ASSERT_TRUE(first.has_value());
  ASSERT_THAT(first->items, SizeIs(2));
  ASSERT_FALSE(first->next_marker.empty());
  auto second = kms_.ListKeys(c, {first->next_marker, 2});
  ASSERT_THAT(second->items, SizeIs(1));
  EXPECT_TRUE(second->next_marker.empty());
  EXPECT_NE(second->items[0].key_id, first->items[0].key_id);

  auto listed_west = kms_.ListKeys(Caller{west_ctx, ""}, {});
  ASSERT_THAT(listed_west->items, SizeIs(1));
  EXPECT_EQ(listed_west->items[0].key_arn, west.arn);
  EXPECT_FAILS(kms_.ListKeys(c, {"", 0}), "ValidationException", "limit");
}

TEST_F(KmsTest, KeyPolicyMustAllowEvenWhenIamAllows) {
  auto root_ctx = Ctx(Root());
  Caller root{root_ctx, ""};
  auto admin = User("admin");
  auto alice = User("alice", Allow(R"("kms:*")"));
  auto bob = User("bob");

  // The default key policy delegates to IAM: alice's policy decides.
  auto delegated = NewKey(root_ctx);
  auto alice_ctx = Ctx(alice);
  auto bob_ctx = Ctx(bob);
  auto blob = kms_.Encrypt(Caller{alice_ctx, ""}, delegated.key_id, "p", {});
  ASSERT_TRUE(blob.has_value()) << blob.error().message;
  EXPECT_FAILS(kms_.Decrypt(Caller{bob_ctx, ""}, *blob, {}, ""), "AccessDeniedException",
               "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Decrypt "
               "on resource: " +
                   delegated.arn);

  // A key policy that names only admin: no delegation, so alice's IAM allow is not enough.
  std::string admin_only = KeyPolicyFor(admin.arn);
  Service::CreateKeyRequest request;
  request.policy = admin_only;
  EXPECT_FAILS(kms_.CreateKey(root, request), "MalformedPolicyDocumentException",
               "will not allow you to update the key policy");
  auto locked = NewKey(root_ctx, admin_only);  // bypassing the lockout check
  EXPECT_FAILS(kms_.Encrypt(Caller{alice_ctx, ""}, locked.key_id, "p", {}), "AccessDeniedException",
               "kms:Encrypt");
  EXPECT_FAILS(kms_.DescribeKey(root, locked.key_id), "AccessDeniedException", "kms:DescribeKey");
  auto admin_ctx = Ctx(admin);
  auto admin_blob = kms_.Encrypt(Caller{admin_ctx, ""}, locked.key_id, "p", {});
  ASSERT_TRUE(admin_blob.has_value()) << admin_blob.error().message;  // no IAM policy needed
  EXPECT_EQ(kms_.Decrypt(Caller{admin_ctx, ""}, *admin_blob, {}, "")->plaintext, "p");

  // An explicit deny in IAM wins over the key policy's allow.
  ASSERT_TRUE(iam_.PutInlinePolicy(kAccount, iam::PrincipalType::kUser, "admin", "deny",
                                   R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny",)"
                                   R"("Action":"kms:Decrypt","Resource":"*"}]})")
                  .has_value());
  EXPECT_FAILS(kms_.Decrypt(Caller{admin_ctx, ""}, *admin_blob, {}, ""), "AccessDeniedException",
               "explicit deny");
}

TEST_F(KmsTest, EncryptionContextConditionKeys) {
  auto root_ctx = Ctx(Root());
  auto carol = User("carol");
  std::string policy = R"({"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*",
     "Resource":"*"},
    {"Effect":"Allow","Principal":{"AWS":")" +
                       carol.arn + R"("},"Action":"kms:Encrypt","Resource":"*",
     "Condition":{"StringEquals":{"kms:EncryptionContext:purpose":"ok"}}}]})";
  auto key = NewKey(root_ctx, policy);
  auto carol_ctx = Ctx(carol);
  Caller c{carol_ctx, ""};
  EXPECT_TRUE(kms_.Encrypt(c, key.key_id, "p", {{"purpose", "ok"}}).has_value());
  EXPECT_FAILS(kms_.Encrypt(c, key.key_id, "p", {{"purpose", "other"}}), "AccessDeniedException",
               "");
  EXPECT_FAILS(kms_.Encrypt(c, key.key_id, "p", {}), "AccessDeniedException", "");
}

TEST_F(KmsTest, AnotherAccountsKeyOnlyByArnAndOnlyWhenBothSidesAllow) {
  auto a_ctx = Ctx(Root());
  Caller a{a_ctx, ""};
  std::string shared_policy = R"({"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*",
     "Resource":"*"},
    {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},
     "Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]})";
  auto shared = NewKey(a_ctx, shared_policy);
  auto private_key = NewKey(a_ctx);
  ASSERT_TRUE(kms_.CreateAlias(a, "alias/shared", shared.key_id).has_value());
  auto blob = *kms_.Encrypt(a, shared.key_id, "for b", {{"k", "v"}});

  auto b_user = User(
      "bee", Allow(R"(["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:DisableKey"])"), kOther);
  auto b_ctx = Ctx(b_user);
  Caller b{b_ctx, ""};
  auto opened = kms_.Decrypt(b, blob, {{"k", "v"}}, "");
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  EXPECT_EQ(opened->plaintext, "for b");
  EXPECT_TRUE(kms_.Encrypt(b, shared.arn, "p", {}).has_value());
  EXPECT_TRUE(
      kms_.Encrypt(b, "arn:aws:kms:us-east-1:111122223333:alias/shared", "p", {}).has_value());
  // By id or alias name, B looks in its own account.
  EXPECT_FAILS(kms_.Encrypt(b, shared.key_id, "p", {}), "NotFoundException",
               "arn:aws:kms:us-east-1:444455556666:key/" + shared.key_id);
  EXPECT_FAILS(kms_.Encrypt(b, "alias/shared", "p", {}), "NotFoundException", "is not found");
  // Management operations do not work across accounts.
  EXPECT_FAILS(kms_.DisableKey(b, shared.arn), "AccessDeniedException", "kms:DisableKey");
  // A key whose policy does not name B, and a B principal without IAM permission.
  EXPECT_FAILS(kms_.Encrypt(b, private_key.arn, "p", {}), "AccessDeniedException", "");
  auto b_nobody_ctx = Ctx(User("nobody", "", kOther));
  EXPECT_FAILS(kms_.Decrypt(Caller{b_nobody_ctx, ""}, blob, {{"k", "v"}}, ""),
               "AccessDeniedException", "");
  // B's root, too, needs A's key policy: allowed here, denied for the private key.
  auto b_root_ctx = Ctx(Root(kOther));
  EXPECT_TRUE(kms_.Decrypt(Caller{b_root_ctx, ""}, blob, {{"k", "v"}}, "").has_value());
  auto private_blob = *kms_.Encrypt(a, private_key.key_id, "p", {});
  EXPECT_FAILS(kms_.Decrypt(Caller{b_root_ctx, ""}, private_blob, {}, ""), "AccessDeniedException",
               "");
}

TEST_F(KmsTest, ManagedKeyIsUsableOnlyThroughItsServiceByItsAccount) {
  auto alice = User("alice");  // no KMS permissions at all
  auto alice_ctx = Ctx(alice);
  Caller via{alice_ctx, kVia};
  Caller direct{alice_ctx, ""};

  auto managed = kms_.ManagedKey(via, "secretsmanager");
  ASSERT_TRUE(managed.has_value()) << managed.error().message;
  EXPECT_EQ(managed->key_manager, "AWS");
  EXPECT_EQ(kms_.ManagedKey(via, "secretsmanager")->key_id, managed->key_id);  // created once
  auto west_ctx = Ctx(alice, "us-west-2");
  EXPECT_NE(
      kms_.ManagedKey(Caller{west_ctx, "secretsmanager.us-west-2.amazonaws.com"}, "secretsmanager")
          ->key_id,
      managed->key_id);

  EncryptionContext context{
      {"SecretARN", "arn:aws:secretsmanager:us-east-1:111122223333:secret:x"}};
  auto data_key = kms_.GenerateDataKey(via, "alias/aws/secretsmanager", context);
  ASSERT_TRUE(data_key.has_value()) << data_key.error().message;
  EXPECT_EQ(data_key->key_arn, managed->arn);
  EXPECT_THAT(data_key->plaintext, SizeIs(32));
  auto opened = kms_.Decrypt(via, data_key->ciphertext_blob, context, "");
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  EXPECT_EQ(opened->plaintext, data_key->plaintext);

  // Directly, or via another service, it is denied; even an IAM allow does not help.
  EXPECT_FAILS(kms_.Decrypt(direct, data_key->ciphertext_blob, context, ""),
               "AccessDeniedException", "kms:Decrypt");
  Caller other_service{alice_ctx, "ssm.us-east-1.amazonaws.com"};
  EXPECT_FAILS(kms_.Decrypt(other_service, data_key->ciphertext_blob, context, ""),
               "AccessDeniedException", "");
  auto root_ctx = Ctx(Root());
  Caller root{root_ctx, ""};
  EXPECT_FAILS(kms_.Decrypt(root, data_key->ciphertext_blob, context, ""), "AccessDeniedException",
               "");
  // Another account's principal, even via the service, is refused.
  auto b_ctx = Ctx(User("bee", Allow(R"("kms:*")"), kOther));
  EXPECT_FAILS(kms_.Decrypt(Caller{b_ctx, kVia}, data_key->ciphertext_blob, context, ""),
               "AccessDeniedException", "");

  // Its account may read its metadata and policy, not change or retire it.
  EXPECT_EQ(kms_.DescribeKey(root, "alias/aws/secretsmanager")->key_id, managed->key_id);
  auto policy = kms_.GetKeyPolicy(root, managed->key_id, "default");
  ASSERT_TRUE(policy.has_value()) << policy.error().message;
  EXPECT_THAT(*policy, HasSubstr(R"("kms:ViaService": "secretsmanager.us-east-1.amazonaws.com")"));
  EXPECT_THAT(*policy, HasSubstr(R"("kms:CallerAccount": "111122223333")"));
  EXPECT_FAILS(kms_.PutKeyPolicy(root, managed->key_id, "default", KeyPolicyFor("*"), true),
               "AccessDeniedException", "kms:PutKeyPolicy");
  EXPECT_FAILS(kms_.DisableKey(root, managed->key_id), "AccessDeniedException", "");
  EXPECT_FAILS(kms_.ScheduleKeyDeletion(root, managed->key_id, 7), "AccessDeniedException", "");
  EXPECT_FAILS(kms_.DeleteAlias(root, "alias/aws/secretsmanager"), "NotAuthorizedException", "");
  EXPECT_FAILS(kms_.UpdateAlias(root, "alias/aws/secretsmanager", managed->key_id),
               "NotAuthorizedException", "");
}

TEST_F(KmsTest, DescribingThePredefinedAliasCreatesTheManagedKey) {
  auto root_ctx = Ctx(Root());
  Caller root{root_ctx, ""};
  auto described = kms_.DescribeKey(root, "alias/aws/secretsmanager");
  ASSERT_TRUE(described.has_value()) << described.error().message;
  EXPECT_EQ(described->key_manager, "AWS");
  auto listed = kms_.ListAliases(root, "", {});
  ASSERT_THAT(listed->items, SizeIs(1));
  EXPECT_EQ(listed->items[0].alias_name, "alias/aws/secretsmanager");
  EXPECT_FAILS(kms_.DescribeKey(root, "alias/aws/unknown"), "NotFoundException", "is not found");
}

TEST_F(KmsTest, KeyPolicies) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  auto policy = kms_.GetKeyPolicy(c, key.key_id, "default");
  ASSERT_TRUE(policy.has_value());
  auto doc = json::Json::parse(*policy);
  EXPECT_EQ(doc["Statement"][0]["Sid"], "Enable IAM User Permissions");
  EXPECT_EQ(doc["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::111122223333:root");
  EXPECT_EQ(doc["Statement"][0]["Action"], "kms:*");
  EXPECT_THAT(kms_.ListKeyPolicies(c, key.key_id, {})->items, ElementsAre("default"));
  EXPECT_FAILS(kms_.GetKeyPolicy(c, key.key_id, "other"), "NotFoundException", "");

  EXPECT_FAILS(kms_.PutKeyPolicy(c, key.key_id, "default", "{not json", false),
               "MalformedPolicyDocumentException", "");
  EXPECT_FAILS(kms_.PutKeyPolicy(c, key.key_id, "default",
                                 R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",)"
                                 R"("Action":"kms:*","Resource":"*"}]})",
                                 false),
               "MalformedPolicyDocumentException", "Principal");
  // The lockout check: a policy that would shut the caller out is refused unless bypassed.
  auto admin = User("admin");
  EXPECT_FAILS(kms_.PutKeyPolicy(c, key.key_id, "default", KeyPolicyFor(admin.arn), false),
               "MalformedPolicyDocumentException", "will not allow you to update");
  EXPECT_EQ(*kms_.GetKeyPolicy(c, key.key_id, ""), *policy);  // nothing changed
  ASSERT_TRUE(
      kms_.PutKeyPolicy(c, key.key_id, "default", KeyPolicyFor(admin.arn), true).has_value());
  EXPECT_FAILS(kms_.GetKeyPolicy(c, key.key_id, "default"), "AccessDeniedException", "");
  auto admin_ctx = Ctx(admin);
  EXPECT_EQ(*kms_.GetKeyPolicy(Caller{admin_ctx, ""}, key.key_id, "default"),
            KeyPolicyFor(admin.arn));
}

TEST_F(KmsTest, Tags) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  Service::CreateKeyRequest request;
  request.tags = {{"env", "prod"}, {"team", "infra"}};
  auto key = *kms_.CreateKey(c, request);
  ASSERT_TRUE(kms_.TagResource(c, key.key_id, {{"env", "dev"}, {"cost", "7"}}).has_value());
  ASSERT_TRUE(kms_.UntagResource(c, key.key_id, {"team", "absent"}).has_value());
  auto tags = kms_.ListResourceTags(c, key.key_id, {});
  ASSERT_TRUE(tags.has_value());
  EXPECT_THAT(tags->items, ElementsAre(std::pair<std::string, std::string>{"cost", "7"},
                                       std::pair<std::string, std::string>{"env", "dev"}));
  auto page = kms_.ListResourceTags(c, key.key_id, {"", 1});
  ASSERT_THAT(page->items, SizeIs(1));
  EXPECT_EQ(page->next_marker, "cost");
  EXPECT_EQ(kms_.ListResourceTags(c, key.key_id, {"cost", 1})->items[0].first, "env");
  EXPECT_FAILS(kms_.TagResource(c, key.key_id, {{"aws:x", "y"}}), "TagException", "aws:");
  EXPECT_FAILS(kms_.TagResource(c, key.key_id, {{"k", std::string(257, 'v')}}), "TagException", "");
  request.tags = {{"", "x"}};
  EXPECT_FAILS(kms_.CreateKey(c, request), "TagException", "");
}

TEST_F(KmsTest, DataKeysAndReEncrypt) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto first = NewKey(ctx);
  auto second = NewKey(ctx);
  auto data_key = kms_.GenerateDataKey(c, first.key_id, {{"a", "1"}}, 16);
  ASSERT_TRUE(data_key.has_value());
  EXPECT_THAT(data_key->plaintext, SizeIs(16));
  EXPECT_EQ(kms_.Decrypt(c, data_key->ciphertext_blob, {{"a", "1"}}, "")->plaintext,
            data_key->plaintext);
  EXPECT_FAILS(kms_.GenerateDataKey(c, first.key_id, {}, 0), "ValidationException", "");
  EXPECT_FAILS(kms_.GenerateDataKey(c, first.key_id, {}, 1025), "ValidationException", "");

  auto hidden = kms_.GenerateDataKeyWithoutPlaintext(c, first.key_id, {});
  ASSERT_TRUE(hidden.has_value());
  EXPECT_TRUE(hidden->plaintext.empty());
  EXPECT_THAT(kms_.Decrypt(c, hidden->ciphertext_blob, {}, "")->plaintext, SizeIs(32));

  auto moved =
      kms_.ReEncrypt(c, data_key->ciphertext_blob, {{"a", "1"}}, "", second.key_id, {{"b", "2"}});
  ASSERT_TRUE(moved.has_value()) << moved.error().message;
  EXPECT_EQ(moved->source_key_arn, first.arn);
  EXPECT_EQ(moved->key_arn, second.arn);
  EXPECT_EQ(kms_.Decrypt(c, moved->ciphertext_blob, {{"b", "2"}}, "")->plaintext,
            data_key->plaintext);
  EXPECT_FAILS(kms_.ReEncrypt(c, data_key->ciphertext_blob, {}, "", second.key_id, {}),
               "InvalidCiphertextException", "");

  // ReEncrypt needs its own permissions, not kms:Decrypt/Encrypt.
  auto dora_ctx = Ctx(User("dora", Allow(R"(["kms:Decrypt","kms:Encrypt"])")));
  Caller dora{dora_ctx, ""};
  EXPECT_TRUE(kms_.Decrypt(dora, data_key->ciphertext_blob, {{"a", "1"}}, "").has_value());
  EXPECT_FAILS(kms_.ReEncrypt(dora, data_key->ciphertext_blob, {{"a", "1"}}, "", second.key_id, {}),
               "AccessDeniedException", "kms:ReEncryptFrom");
}

TEST_F(KmsTest, InputLimitsAndIdentityOnlyActions) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  EXPECT_FAILS(kms_.Encrypt(c, key.key_id, "", {}), "ValidationException", "plaintext");
  EXPECT_FAILS(kms_.Encrypt(c, key.key_id, std::string(4097, 'x'), {}), "ValidationException",
               "plaintext");
  EXPECT_TRUE(kms_.Encrypt(c, key.key_id, std::string(4096, 'x'), {}).has_value());
  EXPECT_THAT(*kms_.GenerateRandom(c, 64), SizeIs(64));

  auto eve_ctx = Ctx(User("eve"));
  Caller eve{eve_ctx, ""};
  EXPECT_FAILS(kms_.GenerateRandom(eve, 16), "AccessDeniedException", "kms:GenerateRandom");
  EXPECT_FAILS(kms_.CreateKey(eve, "", "", {}), "AccessDeniedException", "kms:CreateKey");
  EXPECT_FAILS(kms_.ListKeys(eve, {}), "AccessDeniedException", "kms:ListKeys");
  EXPECT_FAILS(kms_.ListAliases(eve, "", {}), "AccessDeniedException", "kms:ListAliases");
  Service::CreateKeyRequest request;
  request.key_spec = "RSA_2048";
  EXPECT_FAILS(kms_.CreateKey(c, request), "UnsupportedOperationException", "");
  request.key_spec = "SYMMETRIC_DEFAULT";
  request.policy = "{not json";
  EXPECT_FAILS(kms_.CreateKey(c, request), "MalformedPolicyDocumentException", "");
  EXPECT_FAILS(kms_.CreateAlias(c, "alias/x", "00000000-0000-4000-8000-000000000000"),
               "NotFoundException", "");
  // Failed requests left nothing behind: the one key of this test, no alias.
  EXPECT_THAT(kv_->Range("kms/")->kvs, SizeIs(1));
}

TEST_F(KmsTest, ConcurrentFirstUsesCreateOneManagedKey) {
  auto ctx = Ctx(Root());
  std::vector<std::string> ids(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back([&, i] {
      auto key = kms_.ManagedKey(Caller{ctx, kVia}, "secretsmanager");
      ids[i] = key ? key->key_id : key.error().message;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  auto stored = kv_->Range("kms/111122223333/us-east-1/key/");
  EXPECT_THAT(stored->kvs, SizeIs(1));
}

TEST_F(KmsTest, NoKeyMaterialOrPlaintextInTheStore) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  auto data_key = *kms_.GenerateDataKey(c, key.key_id, {});
  const std::string plaintext = "the password is hunter2";
  auto blob = *kms_.Encrypt(c, key.key_id, plaintext, {});
  ASSERT_TRUE(kms_.ManagedKey(Caller{ctx, kVia}, "secretsmanager").has_value());

  auto all = kv_->Range("");
  ASSERT_TRUE(all.has_value());
  std::vector<std::string> secrets = {data_key.plaintext, Base64Encode(data_key.plaintext),
                                      HexEncode(data_key.plaintext), plaintext};
  int key_records = 0;
  for (const auto& item : all->kvs) {
    if (!item.key.starts_with("kms/") || item.key.find("/key/") == std::string::npos) continue;
    ++key_records;
    // The material, unsealed here by the test, is not in the store in any encoding.
    auto record = json::Json::parse(item.value);
    auto sealed = Base64Decode(record["material"].get<std::string>());
    ASSERT_TRUE(sealed.has_value());
    auto material = root_.Open(*sealed, item.key);
    ASSERT_TRUE(material.has_value());
    ASSERT_THAT(*material, SizeIs(32));
    secrets.push_back(*material);
    secrets.push_back(Base64Encode(*material));
    secrets.push_back(HexEncode(*material));
    // Sealed for its own store key only.
    EXPECT_FALSE(root_.Open(*sealed, item.key + "x").has_value());
  }
  EXPECT_EQ(key_records, 2);
  for (const auto& item : all->kvs) {
    for (const auto& secret : secrets) {
      EXPECT_EQ(item.value.find(secret), std::string::npos) << item.key;
      EXPECT_EQ(item.key.find(secret), std::string::npos) << item.key;
    }
  }
}

// Key records are cached parsed with their material (store/watched_cache.h), and
// data keys opened for a service are kept with the material: every change made
// through the service is still seen by the very next call.
TEST_F(KmsTest, CachedKeysSeeEveryChangeAtOnce) {
  auto root_ctx = Ctx(Root());
  Caller root{root_ctx, ""};
  auto admin = User("admin");
  auto alice = User("alice", Allow(R"("kms:*")"));
  auto admin_ctx = Ctx(admin);
  auto alice_ctx = Ctx(alice);
  Caller via{alice_ctx, kVia};  // as Secrets Manager calls it
  std::string delegating = KeyPolicyFor("arn:aws:iam::" + std::string(kAccount) + ":root");
  auto key = NewKey(root_ctx, delegating);
  EncryptionContext context{{"SecretARN", "arn:x"}, {"SecretVersionId", "v1"}};
  auto data_key = kms_.GenerateDataKey(via, key.arn, context);
  ASSERT_TRUE(data_key.has_value()) << data_key.error().message;
  auto decrypt = [&] { return kms_.Decrypt(via, data_key->ciphertext_blob, context, ""); };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(decrypt()->plaintext, data_key->plaintext);
  // Kept by blob and context: another context still does not open it.
  EXPECT_FAILS(kms_.Decrypt(via, data_key->ciphertext_blob, {{"SecretARN", "arn:x"}}, ""),
               "InvalidCiphertextException", "");
  auto tampered = data_key->ciphertext_blob;
  tampered.back() ^= 1;
  EXPECT_FAILS(kms_.Decrypt(via, tampered, context, ""), "InvalidCiphertextException", "");

  // Disabled, enabled.
  ASSERT_TRUE(kms_.DisableKey(root, key.key_id).has_value());
  EXPECT_FAILS(decrypt(), "DisabledException", "is disabled");
  ASSERT_TRUE(kms_.EnableKey(root, key.key_id).has_value());
  EXPECT_EQ(decrypt()->plaintext, data_key->plaintext);

  // A key policy that no longer delegates to IAM, then one that does again.
  ASSERT_TRUE(
      kms_.PutKeyPolicy(root, key.key_id, "default", KeyPolicyFor(admin.arn), true).has_value());
  EXPECT_FAILS(decrypt(), "AccessDeniedException", "kms:Decrypt");
  ASSERT_TRUE(kms_.PutKeyPolicy(Caller{admin_ctx, ""}, key.key_id, "default", delegating, true)
                  .has_value());
  EXPECT_EQ(decrypt()->plaintext, data_key->plaintext);

  // The caller's own permission taken away (an IAM change, not a KMS one).
  ASSERT_TRUE(iam_.PutInlinePolicy(kAccount, iam::PrincipalType::kUser, "alice", "deny",
                                   R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny",)"
                                   R"("Action":"kms:Decrypt","Resource":"*"}]})")
                  .has_value());
  EXPECT_FAILS(decrypt(), "AccessDeniedException", "explicit deny");
  ASSERT_TRUE(
      iam_.DeleteInlinePolicy(kAccount, iam::PrincipalType::kUser, "alice", "deny").has_value());
  EXPECT_EQ(decrypt()->plaintext, data_key->plaintext);

  // Scheduled for deletion, cancelled (Disabled), enabled; then deleted when
  // its waiting period is over, without any write in between.
  ASSERT_TRUE(kms_.ScheduleKeyDeletion(root, key.key_id, 7).has_value());
  EXPECT_FAILS(decrypt(), "KMSInvalidStateException", "pending deletion");
  ASSERT_TRUE(kms_.CancelKeyDeletion(root, key.key_id).has_value());
  EXPECT_FAILS(decrypt(), "DisabledException", "is disabled");
  ASSERT_TRUE(kms_.EnableKey(root, key.key_id).has_value());
  EXPECT_EQ(decrypt()->plaintext, data_key->plaintext);
  ASSERT_TRUE(kms_.ScheduleKeyDeletion(root, key.key_id, 7).has_value());
  clock_.Advance(std::chrono::hours(24 * 7));
  EXPECT_FAILS(decrypt(), "NotFoundException", "does not exist");
  EXPECT_THAT(kv_->Range("kms/")->kvs, IsEmpty());
}

// Read-only operations take a key from the cache; a key record written behind
// the service's back (another writer of the store) is seen once the store's
// watch reports it.
TEST_F(KmsTest, KeysChangedBehindTheServicesBackAreSeenOnceWatched) {
  auto ctx = Ctx(Root());
  Caller c{ctx, kVia};
  auto key = NewKey(ctx);
  auto blob = kms_.Encrypt(c, key.key_id, "p", {});
  ASSERT_TRUE(blob.has_value()) << blob.error().message;
  EXPECT_EQ(kms_.Decrypt(c, *blob, {}, "")->plaintext, "p");

  std::string store_key = "kms/" + std::string(kAccount) + "/" + kRegion + "/key/" + key.key_id;
  auto record = kv_->Get(store_key);
  ASSERT_TRUE(record.has_value() && record->has_value());
  auto doc = json::Json::parse((*record)->value);
  doc["state"] = "Disabled";
  ASSERT_TRUE(kv_->Put(store_key, doc.dump()).has_value());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto disabled = [&] {
    auto opened = kms_.Decrypt(c, *blob, {}, "");
    return !opened.has_value() && opened.error().code == "DisabledException";
  };
  while (!disabled() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(disabled());
  EXPECT_EQ(kms_.DescribeKey(c, key.key_id)->key_state, "Disabled");
}

// ---- validation messages as AWS words them

TEST_F(KmsTest, UnknownKeySpecOrUsageIsAwsEnumValidationError) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  Service::CreateKeyRequest request;
  request.key_spec = "AES_999";
  EXPECT_FAILS_EXACTLY(
      kms_.CreateKey(c, request), "ValidationException",
      "1 validation error detected: Value 'AES_999' at 'keySpec' failed to satisfy "
      "constraint: Member must satisfy enum value set: [RSA_2048, ECC_NIST_P384, "
      "ECC_NIST_P256, ECC_NIST_P521, HMAC_384, RSA_3072, ECC_SECG_P256K1, RSA_4096, "
      "SYMMETRIC_DEFAULT, HMAC_256, HMAC_224, HMAC_512]");
  request.key_spec_member = "customerMasterKeySpec";
  EXPECT_FAILS(kms_.CreateKey(c, request), "ValidationException",
               "Value 'AES_999' at 'customerMasterKeySpec' failed to satisfy constraint");

  request = {};
  request.key_usage = "SIGN";
  EXPECT_FAILS_EXACTLY(
      kms_.CreateKey(c, request), "ValidationException",
      "1 validation error detected: Value 'SIGN' at 'keyUsage' failed to satisfy "
      "constraint: Member must satisfy enum value set: [SIGN_VERIFY, ENCRYPT_DECRYPT, "
      "GENERATE_VERIFY_MAC]");

  // Valid values berth does not implement stay UnsupportedOperationException.
  request = {};
  request.key_spec = "RSA_2048";
  EXPECT_FAILS(kms_.CreateKey(c, request), "UnsupportedOperationException", "RSA_2048");
}

TEST_F(KmsTest, AliasNameMessagesAsAwsWordsThem) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  EXPECT_FAILS_EXACTLY(kms_.CreateAlias(c, "alias/app:prod", key.key_id), "ValidationException",
                       "alias/app:prod contains invalid characters for an alias");
  EXPECT_FAILS_EXACTLY(
      kms_.CreateAlias(c, "alias/app prod", key.key_id), "ValidationException",
      "1 validation error detected: Value 'alias/app prod' at 'aliasName' failed to satisfy "
      "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$");
  EXPECT_FAILS(kms_.DeleteAlias(c, "alias/a:b"), "ValidationException",
               "alias/a:b contains invalid characters for an alias");
}

TEST_F(KmsTest, PlaintextLengthMessagesAsAwsWordsThem) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  EXPECT_FAILS_EXACTLY(
      kms_.Encrypt(c, key.key_id, "", {}), "ValidationException",
      "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
      "Member must have length greater than or equal to 1");
  EXPECT_FAILS_EXACTLY(
      kms_.Encrypt(c, key.key_id, std::string(4097, 'x'), {}), "ValidationException",
      "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
      "Member must have length less than or equal to 4096");
  EXPECT_TRUE(kms_.Encrypt(c, key.key_id, std::string(4096, 'x'), {}).has_value());
}

// ---- key rotation

TEST_F(KmsTest, OnDemandRotationEncryptsWithNewMaterialAndOldCiphertextsStillDecrypt) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  EncryptionContext context = {{"app", "billing"}};
  auto before = *kms_.Encrypt(c, key.key_id, "before rotation", context);
  auto data_key = *kms_.GenerateDataKey(c, key.key_id, context);

  auto rotated = kms_.RotateKeyOnDemand(c, key.arn);
  ASSERT_TRUE(rotated.has_value()) << rotated.error().message;
  EXPECT_EQ(*rotated, key.key_id);
  auto after = *kms_.Encrypt(c, key.key_id, "after rotation", context);
  ASSERT_TRUE(kms_.RotateKeyOnDemand(c, key.key_id).has_value());
  auto third = *kms_.Encrypt(c, key.key_id, "third material", context);

  // The blobs name their material version (format 2: the u32 after the ARN).
  const size_t version_at = 4 + key.arn.size();
  EXPECT_EQ(before[1], '\x02');
  EXPECT_EQ(before.substr(version_at, 4), std::string("\0\0\0\0", 4));
  EXPECT_EQ(after.substr(version_at, 4), std::string("\0\0\0\1", 4));
  EXPECT_EQ(third.substr(version_at, 4), std::string("\0\0\0\2", 4));
  EXPECT_EQ(kms_.Decrypt(c, before, context, "")->plaintext, "before rotation");
  EXPECT_EQ(kms_.Decrypt(c, after, context, "")->plaintext, "after rotation");
  EXPECT_EQ(kms_.Decrypt(c, third, context, "")->plaintext, "third material");
  EXPECT_EQ(kms_.Decrypt(c, data_key.ciphertext_blob, context, "")->plaintext, data_key.plaintext);

  // A blob relabelled with another material version does not open.
  std::string relabelled = after;
  relabelled[version_at + 3] = '\0';
  EXPECT_FAILS(kms_.Decrypt(c, relabelled, context, ""), "InvalidCiphertextException", "");
  relabelled[version_at + 3] = '\x07';  // a version the key does not have
  EXPECT_FAILS(kms_.Decrypt(c, relabelled, context, ""), "InvalidCiphertextException", "");

  auto listed = kms_.ListKeyRotations(c, key.key_id, false, {});
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  ASSERT_THAT(listed->items, SizeIs(2));
  EXPECT_EQ(listed->items[0].key_id, key.key_id);
  EXPECT_EQ(listed->items[0].rotation_type, "ON_DEMAND");
  EXPECT_EQ(listed->items[0].rotation_date, clock_.Now());
  EXPECT_FALSE(listed->items[0].current);
  EXPECT_TRUE(listed->items[1].current);
  EXPECT_THAT(listed->items[0].key_material_id, SizeIs(64));
  EXPECT_NE(listed->items[0].key_material_id, listed->items[1].key_material_id);
  auto all = kms_.ListKeyRotations(c, key.key_id, true, {});
  ASSERT_THAT(all->items, SizeIs(3));
  EXPECT_EQ(all->items[0].rotation_type, "");
  EXPECT_FALSE(all->items[0].rotation_date.has_value());
  EXPECT_EQ(all->items[1].key_material_id, listed->items[0].key_material_id);

  // On-demand rotation leaves automatic rotation off.
  auto status = kms_.GetKeyRotationStatus(c, key.key_id);
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->enabled);
  EXPECT_FALSE(status->next_rotation.has_value());
}

TEST_F(KmsTest, BlobsOfTheFormatBeforeRotationDecryptAsMaterialVersionZero) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  // A format-1 blob as berth wrote them before rotation existed, made here from the
  // stored material: 0xB7 0x01 | u16 length | ARN | GCM, header + context as AAD.
  std::string store_key = "kms/111122223333/us-east-1/key/" + key.key_id;
  auto record = json::Json::parse((*kv_->Get(store_key))->value);
  auto material = root_.Open(*Base64Decode(record["material"].get<std::string>()), store_key);
  ASSERT_TRUE(material.has_value());
  std::string legacy = "\xB7\x01";
  legacy.push_back(static_cast<char>(key.arn.size() >> 8));
  legacy.push_back(static_cast<char>(key.arn.size() & 0xff));
  legacy += key.arn;
  std::string context_aad("\0\0\0\0", 4);  // the empty encryption context
  legacy += *crypto::AesGcmSeal(*material, "written by berth 1", legacy + context_aad);

  EXPECT_EQ(Service::BlobKeyArn(legacy), key.arn);
  EXPECT_EQ(kms_.Decrypt(c, legacy, {}, "")->plaintext, "written by berth 1");
  ASSERT_TRUE(kms_.RotateKeyOnDemand(c, key.key_id).has_value());
  EXPECT_EQ(kms_.Decrypt(c, legacy, {}, "")->plaintext, "written by berth 1");
  auto reencrypted = kms_.ReEncrypt(c, legacy, {}, "", key.key_id, {});
  ASSERT_TRUE(reencrypted.has_value()) << reencrypted.error().message;
  EXPECT_EQ(reencrypted->ciphertext_blob[1], '\x02');
  EXPECT_EQ(kms_.Decrypt(c, reencrypted->ciphertext_blob, {}, "")->plaintext, "written by berth 1");
}

TEST_F(KmsTest, AutomaticRotationHappensWhenThePeriodHasPassed) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  const TimePoint enabled_at = clock_.Now();
  ASSERT_TRUE(kms_.EnableKeyRotation(c, key.key_id, 90).has_value());
  auto status = kms_.GetKeyRotationStatus(c, key.arn);
  ASSERT_TRUE(status.has_value()) << status.error().message;
  EXPECT_TRUE(status->enabled);
  EXPECT_EQ(status->key_id, key.key_id);
  EXPECT_EQ(status->period_days, 90);
  EXPECT_EQ(status->next_rotation, enabled_at + std::chrono::days(90));
  auto old_blob = *kms_.Encrypt(c, key.key_id, "year one", {});

  clock_.Advance(std::chrono::days(89));
  EXPECT_THAT(kms_.ListKeyRotations(c, key.key_id, false, {})->items, IsEmpty());
  clock_.Advance(std::chrono::days(2));
  const TimePoint due_seen = clock_.Now();
  auto new_blob = *kms_.Encrypt(c, key.key_id, "year two", {});
  EXPECT_EQ(new_blob.substr(4 + key.arn.size(), 4), std::string("\0\0\0\1", 4));
  auto listed = kms_.ListKeyRotations(c, key.key_id, false, {});
  ASSERT_THAT(listed->items, SizeIs(1));
  EXPECT_EQ(listed->items[0].rotation_type, "AUTOMATIC");
  EXPECT_EQ(listed->items[0].rotation_date, due_seen);
  EXPECT_EQ(kms_.GetKeyRotationStatus(c, key.key_id)->next_rotation,
            due_seen + std::chrono::days(90));
  EXPECT_EQ(kms_.Decrypt(c, old_blob, {}, "")->plaintext, "year one");
  EXPECT_EQ(kms_.Decrypt(c, new_blob, {}, "")->plaintext, "year two");

  // A disabled key does not rotate; disabling rotation stops it.
  ASSERT_TRUE(kms_.DisableKey(c, key.key_id).has_value());
  clock_.Advance(std::chrono::days(100));
  EXPECT_THAT(kms_.ListKeyRotations(c, key.key_id, false, {})->items, SizeIs(1));
  ASSERT_TRUE(kms_.EnableKey(c, key.key_id).has_value());
  ASSERT_TRUE(kms_.DisableKeyRotation(c, key.key_id).has_value());
  clock_.Advance(std::chrono::days(100));
  kms_.Encrypt(c, key.key_id, "x", {});
  EXPECT_THAT(kms_.ListKeyRotations(c, key.key_id, false, {})->items, SizeIs(1));
  status = kms_.GetKeyRotationStatus(c, key.key_id);
  EXPECT_FALSE(status->enabled);
  EXPECT_EQ(status->period_days, 0);
  EXPECT_FALSE(status->next_rotation.has_value());

  // The default period is 365 days.
  ASSERT_TRUE(kms_.EnableKeyRotation(c, key.key_id, std::nullopt).has_value());
  EXPECT_EQ(kms_.GetKeyRotationStatus(c, key.key_id)->period_days, 365);
}

TEST_F(KmsTest, RotationErrorsAsAws) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  EXPECT_FAILS_EXACTLY(
      kms_.EnableKeyRotation(c, key.key_id, 89), "ValidationException",
      "1 validation error detected: Value '89' at 'rotationPeriodInDays' failed to satisfy "
      "constraint: Member must have value greater than or equal to 90");
  EXPECT_FAILS(kms_.EnableKeyRotation(c, key.key_id, 2561), "ValidationException",
               "Value '2561' at 'rotationPeriodInDays' failed to satisfy constraint: Member must "
               "have value less than or equal to 2560");
  EXPECT_TRUE(kms_.EnableKeyRotation(c, key.key_id, 2560).has_value());

  ASSERT_TRUE(kms_.DisableKey(c, key.key_id).has_value());
  auto on_demand = kms_.RotateKeyOnDemand(c, key.key_id);
  auto enable = kms_.EnableKeyRotation(c, key.key_id, 365);
  auto disable = kms_.DisableKeyRotation(c, key.key_id);
  ASSERT_FALSE(on_demand.has_value());
  ASSERT_FALSE(enable.has_value());
  ASSERT_FALSE(disable.has_value());
  for (const Error& e : {enable.error(), disable.error(), on_demand.error()}) {
    EXPECT_EQ(e.code, "DisabledException");
    EXPECT_EQ(e.message, key.arn + " is disabled.");
  }
  EXPECT_TRUE(kms_.GetKeyRotationStatus(c, key.key_id).has_value());
  ASSERT_TRUE(kms_.ScheduleKeyDeletion(c, key.key_id, 7).has_value());
  EXPECT_FAILS(kms_.RotateKeyOnDemand(c, key.key_id), "KMSInvalidStateException",
               key.arn + " is pending deletion.");
  EXPECT_FAILS(kms_.EnableKeyRotation(c, key.key_id, 365), "KMSInvalidStateException",
               key.arn + " is pending deletion.");

  // At most kMaxOnDemandRotations on-demand rotations a key.
  auto busy = NewKey(ctx);
  for (int i = 0; i < kMaxOnDemandRotations; ++i) {
    ASSERT_TRUE(kms_.RotateKeyOnDemand(c, busy.key_id).has_value()) << i;
  }
  EXPECT_FAILS_EXACTLY(
      kms_.RotateKeyOnDemand(c, busy.key_id), "LimitExceededException",
      "The on-demand rotations limit has been reached for the given keyId. No more "
      "on-demand rotations can be performed for this key: " +
          busy.arn);

  // Management forms only: an alias is not a key id here.
  ASSERT_TRUE(kms_.CreateAlias(c, "alias/busy", busy.key_id).has_value());
  EXPECT_FAILS(kms_.RotateKeyOnDemand(c, "alias/busy"), "NotFoundException",
               "Invalid keyId 'alias/busy'");
  EXPECT_FAILS(kms_.GetKeyRotationStatus(c, "0b0b0b0b-0000-4000-8000-000000000000"),
               "NotFoundException", "does not exist");
}

TEST_F(KmsTest, ManagedKeysRotateYearlyAndCannotBeConfigured) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto managed = kms_.ManagedKey(Caller{ctx, kVia}, "secretsmanager");
  ASSERT_TRUE(managed.has_value());
  auto status = kms_.GetKeyRotationStatus(c, managed->key_id);
  ASSERT_TRUE(status.has_value()) << status.error().message;
  EXPECT_TRUE(status->enabled);
  EXPECT_EQ(status->period_days, 365);
  EXPECT_EQ(status->next_rotation, managed->created + std::chrono::days(365));
  // Its key policy gives the account no kms:EnableKeyRotation or kms:RotateKeyOnDemand.
  EXPECT_FAILS(kms_.RotateKeyOnDemand(c, managed->key_id), "AccessDeniedException",
               "kms:RotateKeyOnDemand");
  EXPECT_FAILS(kms_.DisableKeyRotation(c, managed->key_id), "AccessDeniedException",
               "kms:DisableKeyRotation");
}

TEST_F(KmsTest, RotationOperationsAreAuthorizedWithTheirOwnActions) {
  auto root_ctx = Ctx(Root());
  auto key = NewKey(root_ctx);
  auto user = User("rotator", Allow(R"(["kms:GetKeyRotationStatus","kms:ListKeyRotations"])"));
  auto user_ctx = Ctx(user);
  Caller u{user_ctx, ""};
  EXPECT_TRUE(kms_.GetKeyRotationStatus(u, key.key_id).has_value());
  EXPECT_TRUE(kms_.ListKeyRotations(u, key.key_id, false, {}).has_value());
  const std::string denied =
      "User: arn:aws:iam::111122223333:user/rotator is not authorized to perform: ";
  EXPECT_FAILS(kms_.RotateKeyOnDemand(u, key.key_id), "AccessDeniedException",
               denied + "kms:RotateKeyOnDemand on resource: " + key.arn);
  EXPECT_FAILS(kms_.EnableKeyRotation(u, key.key_id, 365), "AccessDeniedException",
               denied + "kms:EnableKeyRotation on resource: " + key.arn);
  EXPECT_FAILS(kms_.DisableKeyRotation(u, key.key_id), "AccessDeniedException",
               denied + "kms:DisableKeyRotation on resource: " + key.arn);
  EXPECT_FAILS(kms_.UpdateKeyDescription(u, key.key_id, "d"), "AccessDeniedException",
               denied + "kms:UpdateKeyDescription on resource: " + key.arn);
  ASSERT_TRUE(iam_.PutInlinePolicy(kAccount, iam::PrincipalType::kUser, "rotator", "more",
                                   Allow(R"(["kms:RotateKeyOnDemand"])"))
                  .has_value());
  EXPECT_TRUE(kms_.RotateKeyOnDemand(u, key.key_id).has_value());

  // Another account: GetKeyRotationStatus by ARN; the writes not at all.
  auto other_ctx = Ctx(Root(kOther));
  EXPECT_FAILS(kms_.RotateKeyOnDemand(Caller{other_ctx, ""}, key.arn), "AccessDeniedException",
               "cannot be used with a KMS key in another account");
}

TEST_F(KmsTest, ListKeyRotationsPages) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(std::chrono::seconds(60));
    ASSERT_TRUE(kms_.RotateKeyOnDemand(c, key.key_id).has_value());
  }
  auto first = kms_.ListKeyRotations(c, key.key_id, false, {"", 2});
  ASSERT_THAT(first->items, SizeIs(2));
  ASSERT_FALSE(first->next_marker.empty());
  auto second = kms_.ListKeyRotations(c, key.key_id, false, {first->next_marker, 2});
  ASSERT_THAT(second->items, SizeIs(1));
  EXPECT_TRUE(second->next_marker.empty());
  EXPECT_TRUE(second->items[0].current);
  EXPECT_LT(*first->items[1].rotation_date, *second->items[0].rotation_date);
  EXPECT_FAILS(kms_.ListKeyRotations(c, key.key_id, false, {"", 1001}), "ValidationException",
               "Value '1001' at 'limit'");
}

TEST_F(KmsTest, UpdateKeyDescription) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  ASSERT_TRUE(kms_.UpdateKeyDescription(c, key.arn, "billing data").has_value());
  EXPECT_EQ(kms_.DescribeKey(c, key.key_id)->description, "billing data");
  EXPECT_FAILS(kms_.UpdateKeyDescription(c, key.key_id, std::string(8193, 'd')),
               "ValidationException",
               "Value at 'description' failed to satisfy constraint: Member must have length less "
               "than or equal to 8192");
  ASSERT_TRUE(kms_.ScheduleKeyDeletion(c, key.key_id, 7).has_value());
  EXPECT_FAILS(kms_.UpdateKeyDescription(c, key.key_id, "x"), "KMSInvalidStateException",
               key.arn + " is pending deletion.");
}

TEST_F(KmsTest, RotatedMaterialIsSealedAndBoundToItsVersion) {
  auto ctx = Ctx(Root());
  Caller c{ctx, ""};
  auto key = NewKey(ctx);
  ASSERT_TRUE(kms_.RotateKeyOnDemand(c, key.key_id).has_value());
  std::string store_key = "kms/111122223333/us-east-1/key/" + key.key_id;
  auto record = json::Json::parse((*kv_->Get(store_key))->value);
  ASSERT_EQ(record["rotations"].size(), 1u);
  auto sealed = *Base64Decode(record["rotations"][0]["material"].get<std::string>());
  EXPECT_TRUE(root_.Open(sealed, store_key + "#material/1").has_value());
  // Not under the record's own key (version 0's binding): versions cannot be swapped.
  EXPECT_FALSE(root_.Open(sealed, store_key).has_value());
}

}  // namespace
}  // namespace berth::kms
