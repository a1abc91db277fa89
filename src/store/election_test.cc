#include "store/election.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/clock.h"
#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace berth::store {
namespace {

using std::chrono::seconds;

// Two holders on one store, its leases on a FakeClock: the test moves time and
// sweeps expired leases itself.
class ElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kv = SqliteKv::Open(dir_.File("store.db"),
                             {.clock = &clock_, .sweep_interval = std::chrono::hours(1)});
    ASSERT_TRUE(kv.has_value()) << kv.error().message;
    kv_ = std::move(*kv);
    a_ = std::make_unique<Election>(*kv_, ElectionOptions{"leader/x", "a", seconds(10)});
    b_ = std::make_unique<Election>(*kv_, ElectionOptions{"leader/x", "b", seconds(10)});
  }

  bool Campaign(Election& e) {
    auto r = e.Campaign();
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r.value_or(false);
  }

  void Pass(seconds s) {
    clock_.Advance(s);
    ASSERT_TRUE(kv_->SweepExpiredLeases());
  }

  std::string Leader() { return a_->Leader().value(); }

  FakeClock clock_{TimePoint(seconds(1'800'000'000))};
  test_support::TempDir dir_{"election_test"};
  std::unique_ptr<SqliteKv> kv_;
  std::unique_ptr<Election> a_, b_;
};

TEST_F(ElectionTest, FirstHolderLeadsAndTheOtherDoesNot) {
  EXPECT_EQ(Leader(), "");
  EXPECT_TRUE(Campaign(*a_));
  EXPECT_FALSE(Campaign(*b_));
  EXPECT_TRUE(a_->leading());
  EXPECT_FALSE(b_->leading());
  EXPECT_EQ(Leader(), "a");
  // The leader's key lives on a lease of its own.
  auto key = kv_->Get("leader/x").value();
  ASSERT_TRUE(key.has_value());
  EXPECT_GT(key->lease, 0);
}

TEST_F(ElectionTest, KeepAliveHoldsLeadershipPastTheTtl) {
  ASSERT_TRUE(Campaign(*a_));
  for (int i = 0; i < 10; ++i) {
    Pass(seconds(5));
    EXPECT_TRUE(Campaign(*a_)) << i;
    EXPECT_FALSE(Campaign(*b_)) << i;
  }
  EXPECT_EQ(Leader(), "a");
}

TEST_F(ElectionTest, ALeaderThatStopsCampaigningLosesToTheNextAfterItsTtl) {
  ASSERT_TRUE(Campaign(*a_));
  Pass(seconds(9));
  EXPECT_FALSE(Campaign(*b_));  // not expired yet
  Pass(seconds(2));
  EXPECT_TRUE(Campaign(*b_));
  EXPECT_EQ(Leader(), "b");
  // The stalled leader learns it lost on its next round, and does not take the key back.
  EXPECT_FALSE(Campaign(*a_));
  EXPECT_FALSE(a_->leading());
  EXPECT_EQ(Leader(), "b");
  // ... and leads again (on a new lease) once b is gone.
  ASSERT_TRUE(b_->Resign());
  EXPECT_TRUE(Campaign(*a_));
  EXPECT_EQ(Leader(), "a");
}

TEST_F(ElectionTest, ResignLetsAnotherLeadAtOnce) {
  ASSERT_TRUE(Campaign(*a_));
  ASSERT_TRUE(a_->Resign());
  EXPECT_FALSE(a_->leading());
  EXPECT_EQ(Leader(), "");
  EXPECT_TRUE(Campaign(*b_));
  EXPECT_TRUE(b_->Resign());
  EXPECT_TRUE(b_->Resign());  // not leading: OK
}

TEST_F(ElectionTest, DestroyingTheLeaderResigns) {
  ASSERT_TRUE(Campaign(*a_));
  a_.reset();
  EXPECT_TRUE(Campaign(*b_));
}

TEST_F(ElectionTest, AKeyDeletedUnderTheLeaderIsTakenAgainOnItsLease) {
  ASSERT_TRUE(Campaign(*a_));
  int64_t lease = kv_->Get("leader/x").value()->lease;
  ASSERT_TRUE(kv_->Delete("leader/x"));
  EXPECT_TRUE(Campaign(*a_));
  EXPECT_EQ(kv_->Get("leader/x").value()->lease, lease);
}

TEST_F(ElectionTest, ALeaderSurvivesAStoreReopenUntilItsLeaseExpires) {
  // A server killed without resigning: its lease is in the store, so a new
  // process waits out the TTL rather than running beside a ghost.
  int64_t ghost = kv_->GrantLease(seconds(10)).value();
  Txn take;
  take.ops.push_back(Op::Put("leader/x", "ghost", ghost));
  ASSERT_TRUE(kv_->Commit(take));
  EXPECT_FALSE(Campaign(*b_));
  EXPECT_EQ(Leader(), "ghost");
  Pass(seconds(11));
  EXPECT_TRUE(Campaign(*b_));
}

}  // namespace
}  // namespace berth::store
