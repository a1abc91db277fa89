// The embedded backend of store::Kv: one SQLite database file.
//
// Layout: table kv(key BLOB PRIMARY KEY, value, create_rev, mod_rev) WITHOUT
// ROWID; table history, the changes of the last `history_revisions` revisions
// (written in the transaction that makes them, trimmed as later ones commit);
// table meta holding the store revision and the compacted one (history holds
// every change above it). A store written by an older berth is migrated on
// Open; it has no history of the revisions before. The file runs in WAL mode
// with synchronous=FULL, so a Commit that returned is on disk and survives a
// crash of the process or the machine.
//
// Connections: one write connection behind a mutex serializes transactions;
// reads (Get, Range) take a connection from a small pool, so they run in
// parallel with each other and never wait for a commit's fsync (WAL readers
// see the last committed snapshot).
//
// Group commit (LevelDB's write batching): concurrent Commits queue; the
// first in the queue leads: it takes what is queued (up to kMaxGroupTxns
// transactions or kMaxGroupValueBytes of put values) and runs it as one
// SQLite transaction, one SAVEPOINT per Txn, and one COMMIT: one fsync for
// the group. Each Txn keeps its own semantics: its compares see the state the
// Txns before it in the group left; a failed compare or LeaseNotFound rolls
// back its savepoint only and is its caller's result alone; each Txn that
// changes a key takes its own revision, in queue order. When the COMMIT
// fails, every Txn of the group fails with its error. A Commit that finds the
// queue empty leads at once: nobody waits for company.
//
// History values: a put's value is copied into history only up to
// kMaxHistoryValueBytes. A larger one is not (log segments would double the
// bytes written): a replay reads it from the key's live row while that row's
// mod_revision is still the event's, and otherwise the watcher gets kReset
// naming the current revision instead of the replay (kv.h allows a reset
// when history is not held). Live events always carry the value.
//
// The file belongs to one process: the store holds a process-wide exclusive
// lock on it while open (SQLite's "unix-excl" VFS), so Open in a second
// process fails with InternalFailure ("database is locked") after a 5 s busy
// timeout. Open a file once per process: a second SqliteKv on it would work
// but not see the first one's commits in Watch.
//
// Revisions follow etcd v3 exactly: a transaction whose compares hold and
// that changes at least one key gets the next revision; one that changes
// nothing (no ops, or only deletes of absent keys) succeeds without taking a
// revision and reports the current one, as does one whose compares fail.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "store/kv.h"

struct sqlite3;  // SQLite's connection (sqlite3.h stays in the .cc)

namespace berth::store {

// Group commit's bounds on one group: transactions, and bytes of put values
// (a single larger Txn still commits, alone).
inline constexpr size_t kMaxGroupTxns = 256;
inline constexpr size_t kMaxGroupValueBytes = 8 << 20;
// The largest put value history keeps a copy of (see History values above).
inline constexpr size_t kMaxHistoryValueBytes = 64 << 10;

struct SqliteKvOptions {
  // How many of the latest revisions Watch can replay (at least 1). Older
  // history is compacted: a watch from before it starts with kReset.
  int64_t history_revisions = 10000;
  // The clock lease TTLs run on (null: the system clock); must outlive the store.
  const Clock* clock = nullptr;
  // How often the sweeper thread revokes expired leases.
  std::chrono::milliseconds sweep_interval{500};
  // Checkpoints (copying the WAL into the database file, with its fsync) run on a thread of
  // their own once the WAL holds this many pages, never inside a Commit.
  int checkpoint_pages = 1000;
  // Test hook: runs on the leader, holding the write lock, before each group
  // (of `txns` transactions) is written. Tests block in it to make a group.
  std::function<void(size_t txns)> before_group_for_test;
};

class SqliteKv final : public Kv {
 public:
  // Opens (creating if absent) the database at `path`; its directory must
  // exist. Fails with InternalFailure (500) naming the SQLite error when the
  // file cannot be opened or is not a berth store.
  static Result<std::unique_ptr<SqliteKv>> Open(const std::string& path,
                                                SqliteKvOptions options = {});

  // Stops the watch dispatcher after it has delivered the events already
  // committed. Must not run on the dispatcher thread (i.e. from a callback).
  ~SqliteKv() override;

  SqliteKv(const SqliteKv&) = delete;
  SqliteKv& operator=(const SqliteKv&) = delete;

  Result<std::optional<KeyValue>> Get(std::string_view key) override;
  Result<RangeResult> Range(std::string_view prefix, std::string_view start_after = {},
                            size_t limit = 0) override;
  Result<TxnResult> Commit(const Txn& txn) override;

  // Events are delivered on one dispatcher thread per store, in revision order
  // (and op order within a revision); a DeletePrefix yields one delete event
  // per key it removed, in key order. A slow callback delays every watcher of
  // this store. The handle may outlive the store. Destroying the handle from
  // inside a callback is allowed; destroying it elsewhere waits for a callback
  // in progress. The replay is read from history while the watch is
  // registered (commits wait meanwhile); kReset comes only for compacted (or
  // unreadable) history: this backend never loses a live watch.
  using Kv::Watch;
  std::unique_ptr<WatchHandle> Watch(std::string_view prefix, int64_t after_revision,
                                     std::function<void(const WatchEvent&)> on_event) override;

  // Leases live in the file (table leases): they survive a restart, and on
  // Open each gets its full TTL again, counted from then (etcd does the same
  // on a leader change). A sweeper thread revokes expired ones every
  // sweep_interval, each in its own revision, a sweep's in one group commit;
  // the destructor stops it.
  Result<int64_t> GrantLease(std::chrono::seconds ttl) override;
  Result<std::chrono::seconds> KeepAlive(int64_t lease) override;
  Status Revoke(int64_t lease) override;

  // Revokes every lease whose TTL ran out by the clock's Now(). The sweeper
  // calls it; tests with a FakeClock call it to expire leases without waiting.
  Status SweepExpiredLeases();

  // SQLite transactions that Commit, Revoke and the sweeper committed since
  // Open (one fsync each): fewer than the Txns when groups formed.
  int64_t DurableCommits() const { return durable_commits_.load(std::memory_order_relaxed); }
  // Commits in the group-commit queue: waiting, or in the group being written.
  size_t QueuedCommits();

 private:
  struct Conn;
  class ReadLease;
  class Hub;
  struct PendingTxn;
  enum class Applied;

  SqliteKv(std::string path, SqliteKvOptions options, std::unique_ptr<Conn> writer);

  // A read connection from the pool (opening one when none is idle); the lease
  // gives it back.
  Result<ReadLease> LeaseReader();
  // The queue's first Commits within the group bounds; queue_mu_ held.
  std::vector<PendingTxn*> TakeGroupLocked();
  // Writes `group` in one SQLite transaction, sets each member's result, takes
  // the new revisions and publishes their events in revision order; write_mu_
  // held.
  void CommitGroupLocked(std::span<PendingTxn* const> group);
  // CommitGroupLocked for one Txn; with `revoke_lease`, it also ends that lease
  // (LeaseNotFound when it is not live) and deletes its keys.
  Result<TxnResult> CommitAndPublishLocked(const Txn& txn, int64_t revoke_lease);
  // BEGIN, a savepoint per member, COMMIT; appends each member's changes to
  // events[i]. Returns the last revision, or the error that failed the group.
  Result<int64_t> WriteGroupLocked(std::span<PendingTxn* const> group,
                                   std::vector<std::vector<WatchEvent>>& events);
  // In the group's transaction: checks `txn`'s compares, applies its ops as
  // `revision` (and the revoke of `revoke_lease`, when not 0), appending events.
  Result<Applied> ApplyLocked(const Txn& txn, int64_t revoke_lease, int64_t revision,
                              std::vector<WatchEvent>& events);
  void RunSweeper();
  // The checkpointer thread: a PASSIVE checkpoint whenever the writer's WAL hook says the WAL
  // passed options_.checkpoint_pages; RESTART (which waits for readers) when passive ones
  // cannot keep it under 64 times that.
  void RunCheckpointer();
  static int OnWalCommit(void* self, ::sqlite3* db, const char* name, int pages);
  // In the group's transaction: records `events` of `revision` in history.
  Status AppendHistoryLocked(int64_t revision, const std::vector<WatchEvent>& events);
  // In the group's transaction: drops history at or below revision -
  // history_revisions.
  Status CompactHistoryLocked(int64_t revision);
  // The recorded changes under `prefix` above `after_revision`, or nullopt when
  // a large value they need is gone from its live row; write_mu_ held.
  Result<std::optional<std::vector<WatchEvent>>> ReadHistoryLocked(std::string_view prefix,
                                                                   int64_t after_revision);

  const std::string path_;
  const SqliteKvOptions options_;

  std::mutex write_mu_;  // guards writer_, revision_ and watch registration
  std::unique_ptr<Conn> writer_;
  int64_t revision_ = 0;   // last committed revision
  int64_t compacted_ = 0;  // history holds the changes of every revision above it

  std::mutex queue_mu_;            // guards queue_; never held together with write_mu_
  std::deque<PendingTxn*> queue_;  // front: the leader, or the next one
  std::atomic<int64_t> durable_commits_{0};

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Conn>> idle_readers_;

  std::shared_ptr<Hub> hub_;

  const Clock& clock_;
  std::mutex sweep_mu_;  // guards stopping_
  std::condition_variable sweep_cv_;
  bool stopping_ = false;
  std::thread sweeper_;

  std::unique_ptr<Conn> checkpointer_conn_;  // used by the checkpointer thread only
  bool checkpoint_due_ = false;               // under sweep_mu_
  std::thread checkpointer_;
};

}  // namespace berth::store
