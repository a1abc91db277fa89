// Read-modify-write against the store: run a closure that reads, decides and
// commits a transaction conditioned on the revisions it read, until that
// commit succeeds.
//
// A compare that fails means another writer committed first; the loser reads
// again and retries, after a short randomized backoff that doubles up to a
// cap (so writers that collided do not collide again in lockstep). It gives up
// only when the deadline passes, with ContentionError: ThrottlingException,
// 400 (Query: Throttling), which every service answers as is and the SDKs
// retry with backoff; never InternalFailure, since the request was fine.
//
// Writers of a hot record also queue on a KeyLocks (store/key_locks.h): the
// overload taking one holds the record key's lock for the whole loop, so
// writers in this process do not lose to each other and retry only when
// another process wrote; the wait for the lock counts toward the deadline.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "common/error.h"
#include "store/key_locks.h"

namespace berth::store {

inline constexpr std::string_view kContentionCode = "ThrottlingException";

// The error UntilCommitted returns when its deadline passed before a commit
// succeeded: ThrottlingException (400), "Rate exceeded: too many concurrent
// writes of this <what>". `what` names the record's kind (no keys or values:
// it is shown to the caller).
Error ContentionError(std::string_view what);
bool IsContention(const Error& error);

struct RetryOptions {
  // How long a write may keep losing before it fails. Time spent in the
  // closure counts.
  std::chrono::milliseconds deadline{2000};
  // The first backoff; each further one doubles, up to max_backoff, and the
  // actual sleep is uniformly random in [backoff / 2, backoff].
  std::chrono::microseconds initial_backoff{200};
  std::chrono::microseconds max_backoff{20000};
  // Named in the ContentionError.
  std::string_view what = "record";
};

namespace internal {
// Sleeps the jittered `backoff` and returns the next one. False when the
// deadline (steady clock) would pass first; then it does not sleep.
bool Backoff(std::chrono::steady_clock::time_point deadline, std::chrono::microseconds& backoff,
             const RetryOptions& options);
}  // namespace internal

// Calls `attempt` until it commits. `attempt()` returns Result<std::optional<T>>:
// a value when its transaction committed (done), nullopt when a compare
// failed (lost to a concurrent writer: retry), an error to stop with it. The
// first attempt runs at once; the closure must re-read everything it compares
// on each call. Fails with ContentionError once options.deadline has passed
// without a commit (at least one attempt always runs).
template <class T, class F>
Result<T> UntilCommitted(F&& attempt, const RetryOptions& options = {}) {
  const auto deadline = std::chrono::steady_clock::now() + options.deadline;
  std::chrono::microseconds backoff = options.initial_backoff;
  for (;;) {
    Result<std::optional<T>> result = attempt();
    if (!result) return Fail(std::move(result.error()));
    if (*result) return std::move(**result);
    if (!internal::Backoff(deadline, backoff, options)) return Fail(ContentionError(options.what));
  }
}

// The same, holding the lock of `key` in `locks` (the store key of the record
// the attempts read and compare on) while it runs. ContentionError, without a
// single attempt, when the lock is not free before the deadline.
template <class T, class F>
Result<T> UntilCommitted(KeyLocks& locks, std::string_view key, F&& attempt,
                         const RetryOptions& options = {}) {
  const auto start = std::chrono::steady_clock::now();
  KeyLocks::Guard guard = locks.Lock(key, start + options.deadline);
  if (!guard) return Fail(ContentionError(options.what));
  RetryOptions rest = options;
  rest.deadline = std::max(std::chrono::milliseconds(0),
                           std::chrono::duration_cast<std::chrono::milliseconds>(
                               start + options.deadline - std::chrono::steady_clock::now()));
  return UntilCommitted<T>(std::forward<F>(attempt), rest);
}

}  // namespace berth::store
