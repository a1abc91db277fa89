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

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "store/kv.h"

namespace berth::store {

struct SqliteKvOptions {
  // How many of the latest revisions Watch can replay (at least 1). Older
  // history is compacted: a watch from before it starts with kReset.
  int64_t history_revisions = 10000;
  // The clock lease TTLs run on (null: the system clock); must outlive the store.
  const Clock* clock = nullptr;
  // How often the sweeper thread revokes expired leases.
  std::chrono::milliseconds sweep_interval{500};
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
  // sweep_interval, each in its own revision; the destructor stops it.
  Result<int64_t> GrantLease(std::chrono::seconds ttl) override;
  Result<std::chrono::seconds> KeepAlive(int64_t lease) override;
  Status Revoke(int64_t lease) override;

  // Revokes every lease whose TTL ran out by the clock's Now(). The sweeper
  // calls it; tests with a FakeClock call it to expire leases without waiting.
  Status SweepExpiredLeases();

 private:
  struct Conn;
  class ReadLease;
  class Hub;

  SqliteKv(std::string path, SqliteKvOptions options, std::unique_ptr<Conn> writer);

  // A read connection from the pool (opening one when none is idle); the lease
  // gives it back.
  Result<ReadLease> LeaseReader();
  // Runs a transaction on the write connection; write_mu_ must be held. Appends
  // the changes to `events`.
  // With `revoke_lease`, the transaction also ends that lease (LeaseNotFound
  // when it is not live) and deletes its keys.
  Result<TxnResult> CommitLocked(const Txn& txn, std::vector<WatchEvent>& events,
                                 int64_t revoke_lease);
  // CommitLocked, then the new revision is taken and its events published.
  Result<TxnResult> CommitAndPublishLocked(const Txn& txn, int64_t revoke_lease);
  void RunSweeper();
  // In CommitLocked's transaction: records `events` of `revision` in history
  // and compacts what falls out of it.
  Status AppendHistoryLocked(int64_t revision, const std::vector<WatchEvent>& events);
  // The recorded changes under `prefix` above `after_revision`; write_mu_ held.
  Result<std::vector<WatchEvent>> ReadHistoryLocked(std::string_view prefix,
                                                    int64_t after_revision);

  const std::string path_;
  const SqliteKvOptions options_;

  std::mutex write_mu_;  // guards writer_, revision_ and watch registration
  std::unique_ptr<Conn> writer_;
  int64_t revision_ = 0;   // last committed revision
  int64_t compacted_ = 0;  // history holds the changes of every revision above it

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Conn>> idle_readers_;

  std::shared_ptr<Hub> hub_;

  const Clock& clock_;
  std::mutex sweep_mu_;  // guards stopping_
  std::condition_variable sweep_cv_;
  bool stopping_ = false;
  std::thread sweeper_;
};

}  // namespace berth::store
