// Leader election over a store::Kv, as etcd's concurrency package does it: the
// leader is whoever holds `key`, a key attached to the holder's own lease. The
// holder keeps its lease alive with each Campaign; when it stops (a crash, a
// hang longer than the TTL) the lease expires, the store deletes the key, and
// the next Campaign of another holder takes it. A clean stop resigns, so a
// successor takes over at once instead of after the TTL.
//
// What it guarantees is the store's: at most one holder's key exists at a
// time. A leader that stalls past its TTL learns it lost on its next
// Campaign, so work done between two Campaigns may overlap a successor's by
// up to one round. (The ECS scheduler: its service writes are
// revision-checked, but a task it starts in such a round may be started twice;
// the next pass scales the extra one in.)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "store/kv.h"

namespace berth::store {

struct ElectionOptions {
  std::string key;     // e.g. "leader/ecs-scheduler"
  std::string holder;  // this process's identity, written as the key's value
  std::chrono::seconds ttl{10};
};

// Not thread-safe: one thread campaigns (leading() may be read from any).
class Election {
 public:
  // `kv` outlives the election.
  Election(Kv& kv, ElectionOptions options);
  ~Election();  // Resign()s; errors are ignored (the lease then just expires)
  Election(const Election&) = delete;
  Election& operator=(const Election&) = delete;

  // One round; call it well within the TTL (the ECS scheduler: every second).
  // The leader keeps its lease alive and checks the key is still its own; a
  // follower takes the key when no one holds it. Returns whether this holder
  // leads after the round. A store error is returned as is, and then this
  // holder does not lead.
  Result<bool> Campaign();

  // What the last Campaign found.
  bool leading() const { return leading_.load(std::memory_order_acquire); }

  // Gives leadership up now: revokes the lease, which deletes the key.
  // OK when not leading.
  Status Resign();

  // The current leader's holder identity; "" when no one leads.
  Result<std::string> Leader();

 private:
  Result<bool> Round();

  Kv& kv_;
  const ElectionOptions options_;
  int64_t lease_ = 0;  // this holder's live lease (0: none)
  std::atomic<bool> leading_{false};
};

}  // namespace berth::store
