// The transactional key-value store every service keeps its state in.
//
// Modelled on etcd v3 so that the SQLite (embedded) and etcd (distributed)
// backends have the same semantics: one store-wide revision that grows by one
// with every committed write transaction; each key remembers the revision that
// created it and the one that last modified it. Keys and values are bytes.
// Implementations are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace berth::store {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // revision of the transaction that created the key
  int64_t mod_revision = 0;     // revision of the last transaction that wrote it
  int64_t lease = 0;            // the lease the key is attached to (0: none)
};

struct RangeResult {
  std::vector<KeyValue> kvs;  // ascending by key (byte order)
  bool more = false;          // true when `limit` cut the result short
  int64_t revision = 0;       // store revision the read saw
};

// A condition of a transaction on one key's mod_revision. `mod_revision == 0`
// means "the key must not exist".
struct Compare {
  std::string key;
  int64_t mod_revision = 0;
};

struct Op {
  enum class Type { kPut, kDelete, kDeletePrefix };
  Type type = Type::kPut;
  std::string key;    // for kDeletePrefix: the prefix
  std::string value;  // kPut only
  int64_t lease = 0;  // kPut only: attach the key to this live lease (0: to none)

  static Op Put(std::string key, std::string value, int64_t lease = 0) {
    return Op{Type::kPut, std::move(key), std::move(value), lease};
  }
  static Op Delete(std::string key) { return Op{Type::kDelete, std::move(key), {}}; }
  static Op DeletePrefix(std::string prefix) {
    return Op{Type::kDeletePrefix, std::move(prefix), {}};
  }
};

// All compares are checked and, only if every one holds, all ops are applied
// atomically and durably (the commit is on disk before Txn returns).
struct Txn {
  std::vector<Compare> compares;
  std::vector<Op> ops;
};

struct TxnResult {
  bool succeeded = false;  // false: a compare failed and nothing was written
  int64_t revision = 0;    // the new revision on success, the current one otherwise
};

struct WatchEvent {
  enum class Type {
    kPut,
    kDelete,
    // The watcher may have missed changes: the history it asked to replay was
    // compacted, or the backend lost its watch and regained it (an etcd
    // reconnect). Whatever it derived from the store is to be forgotten and
    // read again. kv.mod_revision is the revision the watch resumes after:
    // every change of a later revision is delivered, none of an earlier one.
    kReset,
  };
  Type type = Type::kPut;
  KeyValue kv;  // kDelete: key and mod_revision (the deleting revision); kReset: mod_revision
};

// Watch's `after_revision` that means "changes committed from now on": no
// replay, and so no reset for compaction.
inline constexpr int64_t kWatchFromNow = -1;

// The error of a lease operation, or of a Commit that puts a key on a lease,
// when the lease does not exist (never granted, expired or revoked). 404.
inline constexpr std::string_view kLeaseNotFoundCode = "LeaseNotFound";
Error LeaseNotFound(int64_t lease);

// Keeps a watch alive; destroying it cancels the watch (no callback runs after
// the destructor returns).
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
};

class Kv {
 public:
  virtual ~Kv() = default;

  // The key's current value, or nullopt when absent.
  virtual Result<std::optional<KeyValue>> Get(std::string_view key) = 0;

  // Keys starting with `prefix` and greater than `start_after` (empty: from
  // the first), at most `limit` (0: no limit). Paginate by passing the last
  // key of one page as `start_after` of the next.
  virtual Result<RangeResult> Range(std::string_view prefix, std::string_view start_after = {},
                                    size_t limit = 0) = 0;

  virtual Result<TxnResult> Commit(const Txn& txn) = 0;

  // Calls `on_event` for every change to a key under `prefix` of a revision
  // greater than `after_revision`, in revision order (op order within one
  // revision), on a thread of the store's. The callback must not call back
  // into the store synchronously.
  //
  // History (the contract every backend meets, as etcd's compaction does):
  // the store keeps the changes of its most recent revisions, a bounded
  // number. Changes after `after_revision` that it still holds are replayed
  // first, then live ones follow with nothing missed or repeated. When it no
  // longer holds them all (after_revision is below the compacted revision),
  // the first event is a kReset naming the current revision, and live
  // changes follow it. A backend that loses its watch and regains it (etcd:
  // a broken stream, a compaction it could not follow) also delivers kReset
  // and goes on from the revision it names. So a watcher that reloads what
  // it derived on kReset never stays stale. kWatchFromNow: only changes
  // committed after the watch was created. An `after_revision` at or above
  // the current revision replays nothing.
  virtual std::unique_ptr<WatchHandle> Watch(std::string_view prefix, int64_t after_revision,
                                             std::function<void(const WatchEvent&)> on_event) = 0;
  // Watch(prefix, kWatchFromNow, on_event).
  std::unique_ptr<WatchHandle> Watch(std::string_view prefix,
                                     std::function<void(const WatchEvent&)> on_event) {
    return Watch(prefix, kWatchFromNow, std::move(on_event));
  }

  // Leases, as etcd v3's: for liveness (an agent's presence) and leader
  // election. A lease lives `ttl` from its grant or its last KeepAlive. A Put
  // attaches its key to a live lease (Op::Put's `lease`; a Commit naming a
  // lease that is not live fails with LeaseNotFound and writes nothing); a
  // later Put without one detaches it. When the lease expires or is revoked,
  // the keys still attached to it are deleted in one revision, one
  // transaction, and watchers see the deletes. Granting and keeping alive
  // take no revision. The backend checks expiry at its own pace: a key may
  // outlive its lease's TTL by a short while (SqliteKv: its sweep interval),
  // never by less. Lease ids are positive and never reused.

  // A new lease of `ttl` (at least 1 s: else InvalidParameterException); its id.
  virtual Result<int64_t> GrantLease(std::chrono::seconds ttl) = 0;
  // Restarts the lease's TTL; returns the TTL. LeaseNotFound when it expired
  // or was revoked: the holder has lost what it held (re-grant and re-put).
  virtual Result<std::chrono::seconds> KeepAlive(int64_t lease) = 0;
  // Ends the lease now, deleting its keys. LeaseNotFound when it is not live.
  virtual Status Revoke(int64_t lease) = 0;

  // Convenience: an unconditional single put / delete.
  Result<int64_t> Put(std::string key, std::string value);
  Result<int64_t> Delete(std::string key);
};

}  // namespace berth::store
