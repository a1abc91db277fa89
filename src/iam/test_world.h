// Test support: the world services are tested in: a fresh SQLite store and
// IAM's core (IdentityStore, Service, AccessControl) on a fake clock, with the
// accounts a test names. ECS's fixture derives from it; kms/test_world.h adds
// KMS for Secrets Manager's and CloudWatch Logs'.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aws/request_context.h"
#include "common/clock.h"
#include "common/ids.h"
#include "crypto/root_key.h"
#include "iam/access_control.h"
#include "iam/identity_store.h"
#include "iam/service.h"
#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace berth::iam::testing {

class WorldTest : public ::testing::Test {
 protected:
  explicit WorldTest(std::string_view dir = "world_test",
                     TimePoint start = TimePoint(std::chrono::seconds(1'795'000'000)))
      : dir_(dir), clock_(start) {}

  // Opens the store and builds IAM's core; each of `accounts` exists.
  void BuildWorld(std::initializer_list<const char*> accounts) {
    auto kv = store::SqliteKv::Open(dir_.File("berth.db"));
    ASSERT_TRUE(kv) << kv.error().message;
    kv_ = std::move(*kv);
    auto root = crypto::RootKey::FromBytes(std::string(32, 'r'));
    ASSERT_TRUE(root);
    root_key_.emplace(std::move(*root));
    identities_ = std::make_unique<iam::IdentityStore>(*kv_, *root_key_, ids_, clock_);
    iam_ = std::make_unique<iam::Service>(*kv_, ids_, clock_, iam::ValidatePolicyDocument);
    access_ = std::make_unique<iam::AccessControl>(*iam_, *identities_, clock_);
    for (const char* account : accounts) ASSERT_TRUE(identities_->EnsureAccount(account));
  }

  // A request of `account`'s root in `region`, now.
  aws::RequestContext RootContext(const std::string& account, const std::string& region) const {
    aws::RequestContext ctx;
    ctx.caller.kind = aws::Principal::Kind::kRoot;
    ctx.caller.account = account;
    ctx.caller.arn = "arn:aws:iam::" + account + ":root";
    ctx.caller.user_id = account;
    ctx.caller.access_key_id = "AKIAROOT" + account;
    ctx.region = region;
    ctx.request_id = "req";
    ctx.source_ip = "127.0.0.1";
    ctx.now = clock_.Now();
    return ctx;
  }

  test_support::TempDir dir_;
  FakeClock clock_;
  SequenceIds ids_;
  std::unique_ptr<store::SqliteKv> kv_;
  std::optional<crypto::RootKey> root_key_;
  std::unique_ptr<iam::IdentityStore> identities_;
  std::unique_ptr<iam::Service> iam_;
  std::unique_ptr<iam::AccessControl> access_;
};

}  // namespace berth::iam::testing
