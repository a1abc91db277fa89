// Serializes this process's writers of one record.
//
// Optimistic transactions (a commit conditioned on the revision read, retried
// when it lost: store/retry.h) starve when many requests write one hot record
// at once: each loser re-reads, redoes its work and loses again. KeyLocks
// makes them queue instead: a writer holds the lock of the record's key for
// its whole read-modify-write, so within one process only one writer of a
// record is between its read and its commit, and its compare holds unless
// another process (or a writer that took no lock) wrote meanwhile.
//
// A fixed array of mutexes, picked by a hash of the key: memory does not grow
// with the keys written, and two keys may share a stripe (they then queue
// behind each other, which is only slower). A thread holds at most one stripe
// of a KeyLocks: asking again while holding one (a write nested in another of
// the same service) locks nothing, so a nested write can never deadlock on a
// stripe its caller holds; it relies on the revision compare alone.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string_view>

namespace berth::store {

class KeyLocks {
 public:
  static constexpr size_t kStripes = 256;

  // Holds a stripe (or, nested, nothing) until destroyed. Movable.
  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& other) noexcept;
    Guard& operator=(Guard&&) = delete;
    ~Guard();
    // False when the deadline passed before the stripe was free.
    explicit operator bool() const { return acquired_; }

   private:
    friend class KeyLocks;
    Guard(const KeyLocks* owner, std::timed_mutex* mutex, bool acquired)
        : owner_(owner), mutex_(mutex), acquired_(acquired) {}
    const KeyLocks* owner_ = nullptr;  // set while this guard holds mutex_
    std::timed_mutex* mutex_ = nullptr;
    bool acquired_ = false;
  };

  KeyLocks() = default;
  KeyLocks(const KeyLocks&) = delete;
  KeyLocks& operator=(const KeyLocks&) = delete;

  // Waits until the stripe of `key` is free or `deadline` passes (then the
  // guard is false and holds nothing). Already holding a stripe of this
  // KeyLocks on this thread: a true guard that holds nothing more.
  Guard Lock(std::string_view key, std::chrono::steady_clock::time_point deadline);

  // The stripe `key` maps to (for tests).
  static size_t StripeOf(std::string_view key);

 private:
  std::array<std::timed_mutex, kStripes> stripes_;
};

}  // namespace berth::store
