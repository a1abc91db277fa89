// A test fixture with IAM's whole core over a fresh SQLite store: Service,
// IdentityStore and AccessControl, account kTestAccount, and request contexts
// signed by its users.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "crypto/root_key.h"
#include "iam/access_control.h"
#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace berth::iam {

inline constexpr char kTestAccount[] = "123456789012";

class IamTest : public ::testing::Test {
 protected:
  explicit IamTest(std::string_view dir = "iam_test")
      : dir_(dir),
        root_key_(std::move(*crypto::RootKey::FromBytes(std::string(32, 'k')))),
        clock_(TimePoint(std::chrono::seconds(1'800'000'000))) {
    kv_ = std::move(*store::SqliteKv::Open(dir_.File("berth.db")));
    identities_ = std::make_unique<IdentityStore>(*kv_, root_key_, ids_, clock_);
    iam_ = std::make_unique<Service>(*kv_, ids_, clock_, ValidatePolicyDocument);
    access_ = std::make_unique<AccessControl>(*iam_, *identities_, clock_);
    EXPECT_TRUE(identities_->EnsureAccount(kTestAccount));
  }

  // A request signed by `u` now.
  aws::RequestContext As(const User& u) {
    aws::RequestContext ctx;
    ctx.caller.kind = aws::Principal::Kind::kUser;
    ctx.caller.account = kTestAccount;
    ctx.caller.name = u.name;
    ctx.caller.arn = u.arn;
    ctx.caller.user_id = u.id;
    ctx.region = "us-east-1";
    ctx.now = clock_.Now();
    return ctx;
  }

  test_support::TempDir dir_;
  crypto::RootKey root_key_;
  SequenceIds ids_;
  FakeClock clock_;
  std::unique_ptr<store::SqliteKv> kv_;
  std::unique_ptr<IdentityStore> identities_;
  std::unique_ptr<Service> iam_;
  std::unique_ptr<AccessControl> access_;  // destroyed first
};

}  // namespace berth::iam
