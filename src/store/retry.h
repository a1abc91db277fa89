// Read-modify-write against the store: run a closure that reads, decides and
// commits a transaction conditioned on the revisions it read, until that
// commit succeeds.
//
// A compare that fails means another writer committed first; the loser reads
// again and retries, after a short randomized backoff that doubles up to a
// cap (so writers that collided do not collide again in lockstep). It gives up
// only when the deadline passes, with the store's ContentionError: services
// map it to their own error (berth's services answer InternalFailure, 500, as
// AWS does for a request it could not complete; the SDKs retry those).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "common/error.h"

namespace berth::store {

inline constexpr std::string_view kContentionCode = "StoreContention";

// The error UntilCommitted returns when its deadline passed before a commit
// succeeded. `what` names what kept changing (no keys or values: it may be shown).
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

}  // namespace berth::store
