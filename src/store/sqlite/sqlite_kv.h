// The embedded backend of store::Kv: one SQLite database file.
//
// Layout: table kv(key BLOB PRIMARY KEY, value, create_rev, mod_rev) WITHOUT
// ROWID, and table meta holding the store revision. The file runs in WAL mode
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

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "store/kv.h"

namespace berth::store {

class SqliteKv final : public Kv {
 public:
  // Opens (creating if absent) the database at `path`; its directory must
  // exist. Fails with InternalFailure (500) naming the SQLite error when the
  // file cannot be opened or is not a berth store.
  static Result<std::unique_ptr<SqliteKv>> Open(const std::string& path);

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
  // in progress.
  std::unique_ptr<WatchHandle> Watch(std::string_view prefix,
                                     std::function<void(const WatchEvent&)> on_event) override;

 private:
  struct Conn;
  class ReadLease;
  class Hub;

  SqliteKv(std::string path, std::unique_ptr<Conn> writer, int64_t revision);

  // A read connection from the pool (opening one when none is idle); the lease
  // gives it back.
  Result<ReadLease> LeaseReader();
  // Runs a transaction on the write connection; write_mu_ must be held. Appends
  // the changes to `events` when it is not null.
  Result<TxnResult> CommitLocked(const Txn& txn, std::vector<WatchEvent>* events);

  const std::string path_;

  std::mutex write_mu_;  // guards writer_, revision_ and watch registration
  std::unique_ptr<Conn> writer_;
  int64_t revision_ = 0;  // last committed revision

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Conn>> idle_readers_;

  std::shared_ptr<Hub> hub_;
};

}  // namespace berth::store
