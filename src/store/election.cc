#include "store/election.h"

#include <utility>

namespace berth::store {

Election::Election(Kv& kv, ElectionOptions options) : kv_(kv), options_(std::move(options)) {}

Election::~Election() { (void)Resign(); }

Result<bool> Election::Campaign() {
  auto result = Round();
  leading_.store(result.value_or(false), std::memory_order_release);
  return result;
}

Result<bool> Election::Round() {
  if (lease_ != 0) {
    auto kept = kv_.KeepAlive(lease_);
    if (!kept) {
      if (kept.error().code != kLeaseNotFoundCode) return Fail(kept.error());
      lease_ = 0;  // expired: the store deleted the key with it
    }
  }
  auto held = BERTH_TRY(kv_.Get(options_.key));
  if (held) return lease_ != 0 && held->lease == lease_;
  // No one holds the key: take it, on this holder's lease (a new one when the
  // last expired). Losing the race to another holder is not an error.
  if (lease_ == 0) lease_ = BERTH_TRY(kv_.GrantLease(options_.ttl));
  Txn take;
  take.compares.push_back({options_.key, 0});
  take.ops.push_back(Op::Put(options_.key, options_.holder, lease_));
  auto taken = kv_.Commit(take);
  if (!taken) {
    if (taken.error().code == kLeaseNotFoundCode) lease_ = 0;
    return Fail(taken.error());
  }
  return taken->succeeded;
}

Status Election::Resign() {
  leading_.store(false, std::memory_order_release);
  if (lease_ == 0) return {};
  int64_t lease = std::exchange(lease_, 0);
  auto revoked = kv_.Revoke(lease);
  if (!revoked && revoked.error().code != kLeaseNotFoundCode) return revoked;
  return {};
}

Result<std::string> Election::Leader() {
  auto held = BERTH_TRY(kv_.Get(options_.key));
  return held ? held->value : std::string();
}

}  // namespace berth::store
