#include "iam/identity_store.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace berth::iam {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kAccount[] = "123456789012";
constexpr char kOtherAccount[] = "210987654321";

using test_support::TempDir;

// Holds the store's watch dispatcher (one thread per store) inside a
// callback, so no watch event is delivered while it lives: what must take
// effect at once cannot then be leaning on the watch.
class WatchDispatcherBlock {
 public:
  explicit WatchDispatcherBlock(store::Kv& kv) {
    handle_ = kv.Watch("test-block/", [this](const store::WatchEvent&) {
      std::unique_lock lock(mu_);
      entered_ = true;
      cv_.notify_all();
      cv_.wait(lock, [this] { return released_; });
    });
    if (!kv.Put("test-block/now", "1")) std::abort();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return entered_; });
  }
  ~WatchDispatcherBlock() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    handle_.reset();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
  std::unique_ptr<store::WatchHandle> handle_;
};

crypto::RootKey MakeRootKey(char fill) {
  auto key = crypto::RootKey::FromBytes(std::string(32, fill));
  if (!key) std::abort();
  return std::move(*key);
}

TimePoint Start() {
  TimePoint t;
  ParseAmzDate("20261126T165506Z", &t);
  return t;
}

class IdentityStoreTest : public ::testing::Test {
 protected:
  IdentityStoreTest() : root_key_(MakeRootKey('k')), clock_(Start()) {
    auto kv = store::SqliteKv::Open(dir_.File("berth.db"));
    if (!kv) std::abort();
    kv_ = std::move(*kv);
    store_ = std::make_unique<IdentityStore>(*kv_, root_key_, ids_, clock_);
  }

  aws::Credentials MustRootKey(const std::string& account,
                               const std::optional<aws::Credentials>& fixed = std::nullopt) {
    auto creds = store_->EnsureRootAccessKey(account, fixed);
    EXPECT_TRUE(creds.has_value()) << creds.error().code << ": " << creds.error().message;
    return creds.value_or(aws::Credentials{});
  }

  static void ExpectUnrecognized(const Result<aws::SigningSecret>& result) {
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, "UnrecognizedClientException");
    EXPECT_EQ(result.error().message, "The security token included in the request is invalid.");
    EXPECT_EQ(result.error().http_status, 400);
  }

  // The watch that invalidates the cache is asynchronous: wait (up to 2 s)
  // for `key` to stop resolving.
  bool EventuallyUnrecognized(const std::string& key) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = store_->Resolve(key, "");
      if (!r && r.error().code == "UnrecognizedClientException") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  TempDir dir_{"identity_store_test"};
  crypto::RootKey root_key_;
  SequenceIds ids_;
  FakeClock clock_;
  std::unique_ptr<store::SqliteKv> kv_;
  std::unique_ptr<IdentityStore> store_;  // destroyed before kv_
};

TEST(IsValidAccessKeyIdTest, Shape) {
  EXPECT_TRUE(IsValidAccessKeyId("AKIAIOSFODNN7EXAMPLE"));
  EXPECT_TRUE(IsValidAccessKeyId("AKIA000000000000"));  // 16
  EXPECT_TRUE(IsValidAccessKeyId(std::string(128, 'A')));
  EXPECT_FALSE(IsValidAccessKeyId("AKIA00000000000"));  // 15
  EXPECT_FALSE(IsValidAccessKeyId(std::string(129, 'A')));
  EXPECT_FALSE(IsValidAccessKeyId("akiaiosfodnn7example"));
  EXPECT_FALSE(IsValidAccessKeyId("AKIAIOSFODNN7EXAMPL/"));
  EXPECT_FALSE(IsValidAccessKeyId(""));
}

TEST_F(IdentityStoreTest, EnsureAccountCreatesOnce) {
  EXPECT_EQ(store_->AccountExists(kAccount).value_or(true), false);
  EXPECT_EQ(store_->EnsureAccount(kAccount).value_or(false), true);
  EXPECT_EQ(store_->EnsureAccount(kAccount).value_or(true), false);
  EXPECT_EQ(store_->AccountExists(kAccount).value_or(false), true);

  auto record = kv_->Get("accounts/" + std::string(kAccount));
  ASSERT_TRUE(record.has_value() && record->has_value());
  auto json = json::Json::parse((*record)->value);
  EXPECT_EQ(json["id"], kAccount);
  EXPECT_EQ(json["created"], "2026-11-26T16:55:06Z");
}

TEST_F(IdentityStoreTest, EnsureAccountRefusesABadId) {
  for (std::string bad : {"12345678901", "1234567890123", "12345678901a", "", "../123456789"}) {
    auto result = store_->EnsureAccount(bad);
    ASSERT_FALSE(result.has_value()) << bad;
    EXPECT_EQ(result.error().code, "InvalidParameterException") << bad;
    EXPECT_EQ(result.error().http_status, 400);
  }
  auto all = kv_->Range("");
  ASSERT_TRUE(all.has_value());
  EXPECT_THAT(all->kvs, IsEmpty());
}

TEST_F(IdentityStoreTest, ListAccounts) {
  EXPECT_THAT(store_->ListAccounts().value_or(std::vector<std::string>{"<error>"}), IsEmpty());
  ASSERT_TRUE(store_->EnsureAccount(kOtherAccount).has_value());
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  ASSERT_TRUE(store_->EnsureAccount("000000000001").has_value());
  EXPECT_THAT(store_->ListAccounts().value_or(std::vector<std::string>{}),
              ElementsAre("000000000001", kAccount, kOtherAccount));
}

TEST_F(IdentityStoreTest, ListAccountsPagesThroughMany) {
  // More than one page (500) of accounts, written in one transaction.
  store::Txn txn;
  std::vector<std::string> expected;
  for (int i = 0; i < 1001; ++i) {
    std::string id = fmt::format("{:012d}", i);
    expected.push_back(id);
    txn.ops.push_back(store::Op::Put("accounts/" + id, fmt::format(R"({{"id":"{}"}})", id)));
  }
  ASSERT_TRUE(kv_->Commit(txn).has_value());
  auto listed = store_->ListAccounts();
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  EXPECT_EQ(*listed, expected);
}

TEST_F(IdentityStoreTest, EnsureRootAccessKeyNeedsTheAccount) {
  auto result = store_->EnsureRootAccessKey(kAccount, std::nullopt);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, "NoSuchEntity");
  EXPECT_EQ(result.error().http_status, 404);
}

TEST_F(IdentityStoreTest, RandomRootKeyIsCreatedOnceThenReused) {
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  aws::Credentials first = MustRootKey(kAccount);
  EXPECT_THAT(first.access_key_id, StartsWith("AKIA"));
  EXPECT_EQ(first.access_key_id.size(), 20u);
  EXPECT_TRUE(IsValidAccessKeyId(first.access_key_id));
  EXPECT_EQ(first.secret_access_key.size(), 40u);
  EXPECT_EQ(first.session_token, "");

  aws::Credentials second = MustRootKey(kAccount);
  EXPECT_EQ(second.access_key_id, first.access_key_id);
  EXPECT_EQ(second.secret_access_key, first.secret_access_key);

  // A restart (a new store over the same data) sees the same key.
  store_ = std::make_unique<IdentityStore>(*kv_, root_key_, ids_, clock_);
  aws::Credentials third = MustRootKey(kAccount);
  EXPECT_EQ(third.access_key_id, first.access_key_id);
  EXPECT_EQ(third.secret_access_key, first.secret_access_key);
}

TEST_F(IdentityStoreTest, ResolveRoot) {
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  aws::Credentials creds = MustRootKey(kAccount);
  for (int i = 0; i < 2; ++i) {  // from the store, then from the cache
    auto secret = store_->Resolve(creds.access_key_id, "");
    ASSERT_TRUE(secret.has_value()) << secret.error().message;
    EXPECT_EQ(secret->secret_access_key, creds.secret_access_key);
    const aws::Principal& p = secret->principal;
    EXPECT_EQ(p.kind, aws::Principal::Kind::kRoot);
    EXPECT_EQ(p.account, kAccount);
    EXPECT_EQ(p.arn, "arn:aws:iam::123456789012:root");
    EXPECT_EQ(p.user_id, kAccount);
    EXPECT_EQ(p.name, "");
    EXPECT_EQ(p.access_key_id, creds.access_key_id);
    EXPECT_EQ(p.session_name, "");
    EXPECT_FALSE(p.expiration.has_value());
  }
}

TEST_F(IdentityStoreTest, ResolveUnknownKey) {
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  MustRootKey(kAccount);
  ExpectUnrecognized(store_->Resolve("AKIAIOSFODNN7EXAMPLE", ""));
  ExpectUnrecognized(store_->Resolve("akia-not-a-key", ""));
  ExpectUnrecognized(store_->Resolve("", ""));
}

TEST_F(IdentityStoreTest, ResolveWithSessionTokenIsRefused) {
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  aws::Credentials creds = MustRootKey(kAccount);
  ExpectUnrecognized(store_->Resolve(creds.access_key_id, "FwoGZXIvYXdzEJr//////////token"));
  // Once cached, still refused with a token.
  ASSERT_TRUE(store_->Resolve(creds.access_key_id, "").has_value());
  ExpectUnrecognized(store_->Resolve(creds.access_key_id, "FwoGZXIvYXdzEJr//////////token"));
}

TEST_F(IdentityStoreTest, FixedCredentialsReplaceTheOldKey) {
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  aws::Credentials random = MustRootKey(kAccount);
  // Earlier watch events have been delivered and later ones wait, so the key
  // is surely cached and only the store itself can drop it from its cache.
  WatchDispatcherBlock no_watch_events(*kv_);
  ASSERT_TRUE(store_->Resolve(random.access_key_id, "").has_value());  // now cached

  aws::Credentials fixed{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  aws::Credentials got = MustRootKey(kAccount, fixed);
  EXPECT_EQ(got.access_key_id, fixed.access_key_id);
  EXPECT_EQ(got.secret_access_key, fixed.secret_access_key);

  // The old key stops working at once on this server, cache or not.
  ExpectUnrecognized(store_->Resolve(random.access_key_id, ""));
  auto resolved = store_->Resolve(fixed.access_key_id, "");
  ASSERT_TRUE(resolved.has_value()) << resolved.error().message;
  EXPECT_EQ(resolved->secret_access_key, fixed.secret_access_key);
  EXPECT_EQ(resolved->principal.arn, "arn:aws:iam::123456789012:root");

  auto old_record = kv_->Get("accesskeys/" + random.access_key_id);
  ASSERT_TRUE(old_record.has_value());
  EXPECT_FALSE(old_record->has_value());

  // Without `fixed`, the fixed key is now the one returned.
  aws::Credentials again = MustRootKey(kAccount);
  EXPECT_EQ(again.access_key_id, fixed.access_key_id);
  EXPECT_EQ(again.secret_access_key, fixed.secret_access_key);
}

TEST_F(IdentityStoreTest, SameFixedCredentialsWriteNothing) {
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  aws::Credentials fixed{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  MustRootKey(kAccount, fixed);
  int64_t revision = kv_->Range("").value().revision;
  MustRootKey(kAccount, fixed);
  EXPECT_EQ(kv_->Range("").value().revision, revision);

  // A new secret for the same key id replaces the secret, at once.
  WatchDispatcherBlock no_watch_events(*kv_);  // as in FixedCredentialsReplaceTheOldKey
  ASSERT_TRUE(store_->Resolve(fixed.access_key_id, "").has_value());  // cached
  aws::Credentials rotated{fixed.access_key_id, "AnotherSecretAnotherSecretAnotherSecret0", ""};
  MustRootKey(kAccount, rotated);
  EXPECT_GT(kv_->Range("").value().revision, revision);
  auto resolved = store_->Resolve(fixed.access_key_id, "");
  ASSERT_TRUE(resolved.has_value()) << resolved.error().message;
  EXPECT_EQ(resolved->secret_access_key, rotated.secret_access_key);
}

TEST_F(IdentityStoreTest, FixedCredentialsAreValidated) {
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  for (aws::Credentials bad : {
           aws::Credentials{"akiaiosfodnn7example", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""},
           aws::Credentials{"AKIASHORT", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""},
           aws::Credentials{"AKIAIOSFODNN7EXAMPLE", "short", ""},
       }) {
    auto result = store_->EnsureRootAccessKey(kAccount, bad);
    ASSERT_FALSE(result.has_value()) << bad.access_key_id;
    EXPECT_EQ(result.error().code, "InvalidParameterException");
  }
  auto keys = kv_->Range("accesskeys/");
  ASSERT_TRUE(keys.has_value());
  EXPECT_THAT(keys->kvs, IsEmpty());
}

TEST_F(IdentityStoreTest, AKeyCannotBeTakenFromAnotherAccount) {
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  ASSERT_TRUE(store_->EnsureAccount(kOtherAccount).has_value());
  aws::Credentials fixed{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  MustRootKey(kAccount, fixed);
  auto result = store_->EnsureRootAccessKey(kOtherAccount, fixed);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, "EntityAlreadyExists");
  EXPECT_EQ(result.error().http_status, 409);
  auto resolved = store_->Resolve(fixed.access_key_id, "");
  ASSERT_TRUE(resolved.has_value());
  EXPECT_EQ(resolved->principal.account, kAccount);
}

TEST_F(IdentityStoreTest, SecretIsNotStoredInPlaintext) {
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  aws::Credentials random = MustRootKey(kAccount);
  ASSERT_TRUE(store_->EnsureAccount(kOtherAccount).has_value());
  aws::Credentials fixed{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  MustRootKey(kOtherAccount, fixed);

  auto all = kv_->Range("");
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->kvs.size(), 4u);  // two accounts, two keys
  bool saw_key_record = false;
  for (const auto& kv : all->kvs) {
    EXPECT_THAT(kv.value, Not(HasSubstr(random.secret_access_key))) << kv.key;
    EXPECT_THAT(kv.value, Not(HasSubstr(fixed.secret_access_key))) << kv.key;
    EXPECT_THAT(kv.key, Not(HasSubstr(random.secret_access_key)));
    if (kv.key == "accesskeys/" + random.access_key_id) {
      saw_key_record = true;
      auto record = json::Json::parse(kv.value);
      EXPECT_EQ(record["account"], kAccount);
      EXPECT_EQ(record["kind"], "root");
      EXPECT_EQ(record["status"], "Active");
      EXPECT_TRUE(record["secret"].is_string());
    }
  }
  EXPECT_TRUE(saw_key_record);
}

TEST_F(IdentityStoreTest, AnotherRootKeyCannotOpenTheSecret) {
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  aws::Credentials creds = MustRootKey(kAccount);

  crypto::RootKey other_key = MakeRootKey('o');
  IdentityStore other(*kv_, other_key, ids_, clock_);
  auto result = other.Resolve(creds.access_key_id, "");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, "InternalFailure");
  EXPECT_EQ(result.error().http_status, 500);
  EXPECT_THAT(result.error().message, Not(HasSubstr(creds.secret_access_key)));

  // The right key still opens it.
  EXPECT_TRUE(store_->Resolve(creds.access_key_id, "").has_value());
}

TEST_F(IdentityStoreTest, SealedSecretIsBoundToItsKeyRecord) {
  // A sealed secret copied under another access key id does not open.
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  aws::Credentials creds = MustRootKey(kAccount);
  auto record = kv_->Get("accesskeys/" + creds.access_key_id);
  ASSERT_TRUE(record.has_value() && record->has_value());
  ASSERT_TRUE(kv_->Put("accesskeys/AKIACOPIEDCOPIED0000", (*record)->value).has_value());
  auto result = store_->Resolve("AKIACOPIEDCOPIED0000", "");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, "InternalFailure");
}

TEST_F(IdentityStoreTest, DeletedKeyStopsResolving) {
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  aws::Credentials creds = MustRootKey(kAccount);
  ASSERT_TRUE(store_->Resolve(creds.access_key_id, "").has_value());  // cached
  // Deleted behind the store's back, as another replica would.
  ASSERT_TRUE(kv_->Delete("accesskeys/" + creds.access_key_id).has_value());
  EXPECT_TRUE(EventuallyUnrecognized(creds.access_key_id));
}

TEST_F(IdentityStoreTest, DeactivatedKeyStopsResolving) {
  ASSERT_TRUE(store_->EnsureAccount(kAccount).has_value());
  aws::Credentials creds = MustRootKey(kAccount);
  ASSERT_TRUE(store_->Resolve(creds.access_key_id, "").has_value());  // cached
  std::string key = "accesskeys/" + creds.access_key_id;
  auto record = json::Json::parse(kv_->Get(key).value()->value);
  record["status"] = "Inactive";
  ASSERT_TRUE(kv_->Put(key, json::Dump(record)).has_value());
  EXPECT_TRUE(EventuallyUnrecognized(creds.access_key_id));
}

}  // namespace
}  // namespace berth::iam

namespace berth::iam {
namespace {

class SessionTest : public IdentityStoreTest {
 protected:
  aws::Credentials MustSession(std::chrono::seconds lifetime, std::string kind = "role") {
    IdentityStore::Session s;
    s.kind = kind;
    s.account = kAccount;
    s.role_name = "exec";
    s.role_id = "AROAEXAMPLEEXAMPLE123";
    s.role_arn = std::string("arn:aws:iam::") + kAccount + ":role/exec";
    s.session_name = "task";
    s.user_name = "alice";
    s.user_id = "AIDAEXAMPLEEXAMPLE123";
    s.session_policy = R"({"Version":"2012-10-17","Statement":[]})";
    s.expiration = std::chrono::time_point_cast<std::chrono::seconds>(clock_.Now()) + lifetime;
    auto creds = store_->CreateSession(s);
    EXPECT_TRUE(creds.has_value());
    return creds.value_or(aws::Credentials{});
  }
};

TEST_F(SessionTest, ResolvesToTheAssumedRoleUntilItExpires) {
  aws::Credentials c = MustSession(std::chrono::seconds(900));
  EXPECT_TRUE(c.access_key_id.starts_with("ASIA"));
  for (int pass = 0; pass < 2; ++pass) {  // from the store, then from the cache
    auto r = store_->Resolve(c.access_key_id, c.session_token);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->secret_access_key, c.secret_access_key);
    EXPECT_EQ(r->principal.kind, aws::Principal::Kind::kAssumedRole);
    EXPECT_EQ(r->principal.arn, std::string("arn:aws:sts::") + kAccount + ":assumed-role/exec/task");
    EXPECT_EQ(r->principal.user_id, "AROAEXAMPLEEXAMPLE123:task");
    ASSERT_TRUE(r->principal.expiration.has_value());
  }
  auto policy = store_->GetSessionPolicy(c.access_key_id);
  ASSERT_TRUE(policy.has_value());
  EXPECT_EQ(*policy, R"({"Version":"2012-10-17","Statement":[]})");
  EXPECT_EQ(store_->GetSessionPolicy("ASIAUNKNOWNUNKNOWN00").value_or("x"), "");
  clock_.Advance(std::chrono::seconds(899));
  EXPECT_TRUE(store_->Resolve(c.access_key_id, c.session_token).has_value());
  clock_.Advance(std::chrono::seconds(1));
  auto expired = store_->Resolve(c.access_key_id, c.session_token);
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code, "ExpiredTokenException");
}

// The first token a fresh cache entry sees is a wrong one: it must not become
// the remembered token.
TEST_F(SessionTest, AWrongTokenIsNeverRemembered) {
  aws::Credentials c = MustSession(std::chrono::seconds(900));
  std::string tampered = c.session_token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  for (int i = 0; i < 2; ++i) ExpectUnrecognized(store_->Resolve(c.access_key_id, tampered));
  ASSERT_TRUE(store_->Resolve(c.access_key_id, c.session_token).has_value());
  ExpectUnrecognized(store_->Resolve(c.access_key_id, tampered));
  ExpectUnrecognized(store_->Resolve(c.access_key_id, c.session_token + "x"));
  ASSERT_TRUE(store_->Resolve(c.access_key_id, c.session_token).has_value());
}

TEST_F(SessionTest, TamperedOrMissingTokenIsRefusedEvenWhenCached) {
  aws::Credentials c = MustSession(std::chrono::seconds(900));
  ASSERT_TRUE(store_->Resolve(c.access_key_id, c.session_token).has_value());
  std::string tampered = c.session_token;
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  ExpectUnrecognized(store_->Resolve(c.access_key_id, tampered));
  ExpectUnrecognized(store_->Resolve(c.access_key_id, ""));
  ExpectUnrecognized(store_->Resolve("ASIAUNKNOWNUNKNOWN00", c.session_token));
}

TEST_F(SessionTest, UserSessionsKeepTheUsersIdentityAndNoSecretRestsInPlaintext) {
  aws::Credentials c = MustSession(std::chrono::seconds(900), "user");
  auto r = store_->Resolve(c.access_key_id, c.session_token);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->principal.kind, aws::Principal::Kind::kUser);
  EXPECT_EQ(r->principal.arn, std::string("arn:aws:iam::") + kAccount + ":user/alice");
  auto all = kv_->Range("");
  ASSERT_TRUE(all.has_value());
  for (const auto& kv : all->kvs) {
    EXPECT_EQ(kv.value.find(c.secret_access_key), std::string::npos) << kv.key;
    EXPECT_EQ(kv.value.find(c.session_token), std::string::npos) << kv.key;
  }
}

}  // namespace
}  // namespace berth::iam
