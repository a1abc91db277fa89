#include "store/sqlite/sqlite_kv.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <thread>
#include <utility>

#include "common/log.h"

namespace berth::store {
namespace {

constexpr int kBusyTimeoutMs = 5000;
constexpr size_t kMaxIdleReaders = 8;
// Page cache of each read connection, in KiB (SQLite's default is 2 MiB). A
// commit invalidates it, but between commits hot pages are served from memory.
constexpr int kReaderCacheKib = 8192;
// The unix VFS that takes a process-wide exclusive lock on the file and keeps
// the WAL index in heap memory: connections of this process share it without
// the two fcntl() calls every read transaction costs with the default VFS
// (measured: ~1.5-2 us per Get instead of ~3-3.5 us), and another process
// cannot open the store and bypass this process's revision and watch state.
constexpr const char* kVfs = "unix-excl";
constexpr int kSchemaVersion = 1;

// Every statement a connection runs, prepared on first use and kept.
enum Sql : size_t {
  kBegin,
  kBeginImmediate,
  kCommit,
  kGetRevision,
  kSetRevision,
  kGet,
  kGetModRevision,
  kUpsert,
  kDeleteKey,
  kRangeFrom,
  kRangeFromBelow,
  kRangeAfter,
  kRangeAfterBelow,
  kDeleteFrom,
  kDeleteFromBelow,
  kSqlCount,
};

// Range statements bind the lower bound to ?1, the upper bound (when the
// prefix has one) to ?2 and the row limit to ?3.
const char* SqlText(Sql which) {
  switch (which) {
    case kBegin:
      return "BEGIN";
    case kBeginImmediate:
      return "BEGIN IMMEDIATE";
    case kCommit:
      return "COMMIT";
    case kGetRevision:
      return "SELECT value FROM meta WHERE name = 'revision'";
    case kSetRevision:
      return "UPDATE meta SET value = ?1 WHERE name = 'revision'";
    case kGet:
      return "SELECT value, create_rev, mod_rev FROM kv WHERE key = ?1";
    case kGetModRevision:
      return "SELECT mod_rev FROM kv WHERE key = ?1";
    case kUpsert:
      return "INSERT INTO kv(key, value, create_rev, mod_rev) VALUES(?1, ?2, ?3, ?3) "
             "ON CONFLICT(key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev "
             "RETURNING create_rev";
    case kDeleteKey:
      return "DELETE FROM kv WHERE key = ?1";
    case kRangeFrom:
      return "SELECT key, value, create_rev, mod_rev FROM kv "
             "WHERE key >= ?1 ORDER BY key LIMIT ?3";
    case kRangeFromBelow:
      return "SELECT key, value, create_rev, mod_rev FROM kv "
             "WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3";
    case kRangeAfter:
      return "SELECT key, value, create_rev, mod_rev FROM kv "
             "WHERE key > ?1 ORDER BY key LIMIT ?3";
    case kRangeAfterBelow:
      return "SELECT key, value, create_rev, mod_rev FROM kv "
             "WHERE key > ?1 AND key < ?2 ORDER BY key LIMIT ?3";
    case kDeleteFrom:
      return "DELETE FROM kv WHERE key >= ?1 RETURNING key";
    case kDeleteFromBelow:
      return "DELETE FROM kv WHERE key >= ?1 AND key < ?2 RETURNING key";
    case kSqlCount:
      break;
  }
  std::abort();  // not a statement
}

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS kv("
    "  key BLOB NOT NULL PRIMARY KEY,"
    "  value BLOB NOT NULL,"
    "  create_rev INTEGER NOT NULL,"
    "  mod_rev INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS meta("
    "  name TEXT NOT NULL PRIMARY KEY,"
    "  value INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT OR IGNORE INTO meta(name, value) VALUES('revision', 0);";

// The error every SQLite failure becomes. SQLite's messages name the failing
// operation and constraint, never bound values.
std::unexpected<Error> SqliteError(sqlite3* db, std::string_view what, int rc) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return InternalFailure(fmt::format("sqlite {}: {} (code {})", what, message, rc));
}

// The least key greater than every key starting with `prefix`, or nullopt when
// there is none (empty prefix, or all 0xff bytes).
std::optional<std::string> PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last != 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::nullopt;
}

// Bytes are always bound as BLOBs: BLOBs compare with memcmp, which is the
// byte order the interface promises. A null pointer would bind SQL NULL, so an
// empty string binds a zero-length blob from a static.
int BindBytes(sqlite3_stmt* stmt, int index, std::string_view bytes) {
  return sqlite3_bind_blob64(stmt, index, bytes.empty() ? "" : bytes.data(), bytes.size(),
                             SQLITE_STATIC);
}

std::string ColumnBytes(sqlite3_stmt* stmt, int column) {
  const void* data = sqlite3_column_blob(stmt, column);
  int size = sqlite3_column_bytes(stmt, column);
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

// Resets a cached statement when the scope that used it ends, so it holds no
// read snapshot and no dangling bindings.
class StmtScope {
 public:
  explicit StmtScope(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StmtScope() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StmtScope(const StmtScope&) = delete;
  StmtScope& operator=(const StmtScope&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

}  // namespace

// One SQLite connection and its prepared statements; used by one thread at a
// time (opened with SQLITE_OPEN_NOMUTEX).
struct SqliteKv::Conn {
  sqlite3* db = nullptr;
  std::array<sqlite3_stmt*, kSqlCount> stmts{};

  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() {
    for (sqlite3_stmt* stmt : stmts) sqlite3_finalize(stmt);
    sqlite3_close_v2(db);
  }

  static Result<std::unique_ptr<Conn>> Open(const std::string& path, bool writer) {
    auto conn = std::make_unique<Conn>();
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (writer) flags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path.c_str(), &conn->db, flags, kVfs);
    if (rc != SQLITE_OK) return SqliteError(conn->db, "open", rc);
    sqlite3_extended_result_codes(conn->db, 1);
    sqlite3_busy_timeout(conn->db, kBusyTimeoutMs);
    if (writer) {
      // journal_mode answers with the mode it ended in; anything but WAL (an
      // in-memory database, say) would make readers and the writer block each other.
      auto mode = BERTH_TRY(conn->QueryText("PRAGMA journal_mode=WAL"));
      if (mode != "wal") {
        return InternalFailure(fmt::format("sqlite open: cannot enable WAL (mode {})", mode));
      }
      BERTH_CHECK(conn->Exec("PRAGMA synchronous=FULL"));
    } else {
      BERTH_CHECK(conn->Exec("PRAGMA query_only=1"));
      BERTH_CHECK(conn->Exec(fmt::format("PRAGMA cache_size=-{}", kReaderCacheKib).c_str()));
    }
    return conn;
  }

  Status Exec(const char* sql) {
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db, "exec", rc);
    return {};
  }

  // The first column of the first row of a one-off statement, as text.
  Result<std::string> QueryText(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db, "prepare", rc);
    std::string text;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      const unsigned char* value = sqlite3_column_text(stmt, 0);
      if (value != nullptr) text = reinterpret_cast<const char*>(value);
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      rc = SQLITE_OK;
    }
    auto error = rc == SQLITE_OK ? std::nullopt : std::optional(SqliteError(db, "query", rc));
    sqlite3_finalize(stmt);
    if (error) return *error;
    return text;
  }

  Result<sqlite3_stmt*> Stmt(Sql which) {
    sqlite3_stmt*& stmt = stmts[which];
    if (stmt == nullptr) {
      int rc =
          sqlite3_prepare_v3(db, SqlText(which), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return SqliteError(db, "prepare", rc);
    }
    return stmt;
  }

  // Steps `stmt`: true on a row, false when done.
  Result<bool> Step(sqlite3_stmt* stmt, std::string_view what) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(db, what, rc);
  }

  // Runs a statement without parameters or rows (BEGIN, COMMIT, ...).
  Status Run(Sql which, std::string_view what) {
    sqlite3_stmt* stmt = BERTH_TRY(Stmt(which));
    StmtScope scope(stmt);
    BERTH_TRY(Step(stmt, what));
    return {};
  }

  Result<int64_t> ReadRevision() {
    sqlite3_stmt* stmt = BERTH_TRY(Stmt(kGetRevision));
    StmtScope scope(stmt);
    if (!BERTH_TRY(Step(stmt, "read revision"))) {
      return InternalFailure("sqlite read revision: meta row missing");
    }
    return sqlite3_column_int64(stmt, 0);
  }

  // Ends an open transaction left by a failed operation; a no-op otherwise
  // (SQLite may already have rolled back on I/O errors).
  void RollbackIfOpen() {
    if (sqlite3_get_autocommit(db) == 0) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
};

// A pooled read connection; returns it to the pool when destroyed.
class SqliteKv::ReadLease {
 public:
  ReadLease(SqliteKv* owner, std::unique_ptr<Conn> conn) : owner_(owner), conn_(std::move(conn)) {}
  ReadLease(ReadLease&& other) noexcept = default;
  ReadLease& operator=(ReadLease&&) = delete;
  ~ReadLease() {
    if (conn_ == nullptr) return;
    conn_->RollbackIfOpen();
    std::lock_guard lock(owner_->pool_mu_);
    if (owner_->idle_readers_.size() < kMaxIdleReaders) {
      owner_->idle_readers_.push_back(std::move(conn_));
    }
  }

  Conn& operator*() { return *conn_; }
  Conn* operator->() { return conn_.get(); }

 private:
  SqliteKv* owner_;
  std::unique_ptr<Conn> conn_;
};

// The watch side: watchers and the dispatcher thread that feeds them the
// committed changes, in commit order. Shared with the handles, so a handle may
// outlive the store.
class SqliteKv::Hub {
 public:
  struct Watcher {
    std::string prefix;
    std::function<void(const WatchEvent&)> on_event;
    int64_t min_revision = 0;  // events of earlier revisions predate the watch
    std::atomic<bool> cancelled{false};
  };

  ~Hub() { Stop(); }

  bool HasWatchers() const { return watcher_count_.load(std::memory_order_acquire) > 0; }

  std::shared_ptr<Watcher> Add(std::string prefix, std::function<void(const WatchEvent&)> on_event,
                               int64_t min_revision) {
    auto watcher = std::make_shared<Watcher>();
    watcher->prefix = std::move(prefix);
    watcher->on_event = std::move(on_event);
    watcher->min_revision = min_revision;
    std::lock_guard lock(mu_);
    watchers_.push_back(watcher);
    watcher_count_.store(watchers_.size(), std::memory_order_release);
    if (!thread_.joinable() && !stopping_) {
      thread_ = std::thread([this] { Run(); });
      thread_id_ = thread_.get_id();
    }
    return watcher;
  }

  // Cancels `watcher`; once this returns its callback never runs again.
  void Remove(const std::shared_ptr<Watcher>& watcher) {
    watcher->cancelled.store(true);
    bool on_dispatcher;
    {
      std::lock_guard lock(mu_);
      std::erase(watchers_, watcher);
      watcher_count_.store(watchers_.size(), std::memory_order_release);
      on_dispatcher = std::this_thread::get_id() == thread_id_;
    }
    // The dispatcher calls back only under callback_mu_ and checks `cancelled`
    // first, so passing through the mutex waits out a callback in progress.
    // On the dispatcher thread we are inside a callback already: the flag suffices.
    // Off it, the callback is dropped too, so what it captured is released
    // before we return (outside the mutex: that may destroy other handles).
    if (!on_dispatcher) {
      std::function<void(const WatchEvent&)> dropped;
      std::lock_guard wait(callback_mu_);
      dropped = std::move(watcher->on_event);
    }
  }

  // Queues one committed transaction's changes. Called under the store's
  // write lock, hence in revision order.
  void Publish(std::vector<WatchEvent> events) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(events));
    }
    cv_.notify_one();
  }

  // Delivers what is queued, then stops the dispatcher.
  void Stop() {
    std::thread thread;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      thread = std::move(thread_);
    }
    cv_.notify_one();
    if (!thread.joinable()) return;
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();  // destroyed from a callback: cannot join ourselves
    } else {
      thread.join();
    }
  }

 private:
  void Run() {
    for (;;) {
      std::vector<WatchEvent> batch;
      std::vector<std::shared_ptr<Watcher>> watchers;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        batch = std::move(queue_.front());
        queue_.pop_front();
        watchers = watchers_;
      }
      for (const WatchEvent& event : batch) {
        for (const auto& watcher : watchers) {
          if (event.kv.mod_revision < watcher->min_revision) continue;
          if (!std::string_view(event.kv.key).starts_with(watcher->prefix)) continue;
          std::lock_guard lock(callback_mu_);
          if (watcher->cancelled.load()) continue;
          try {
            watcher->on_event(event);
          } catch (...) {
            // A callback's exception must not end the dispatcher (and the process).
            log::Error("store watch callback threw; event dropped",
                       {{"revision", event.kv.mod_revision}});
          }
        }
      }
    }
  }

  std::mutex mu_;  // guards everything below but callback_mu_
  std::condition_variable cv_;
  std::deque<std::vector<WatchEvent>> queue_;
  std::vector<std::shared_ptr<Watcher>> watchers_;
  std::atomic<size_t> watcher_count_{0};
  bool stopping_ = false;
  std::thread thread_;
  std::thread::id thread_id_;
  std::mutex callback_mu_;  // held while a callback runs
};

namespace {

class SqliteWatchHandle final : public WatchHandle {
 public:
  explicit SqliteWatchHandle(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  ~SqliteWatchHandle() override { cancel_(); }

 private:
  std::function<void()> cancel_;
};

}  // namespace

Result<std::unique_ptr<SqliteKv>> SqliteKv::Open(const std::string& path) {
  auto writer = BERTH_TRY(Conn::Open(path, /*writer=*/true));
  // Not BERTH_TRY: GCC 12 warns falsely about the moved-out string.
  Result<std::string> version = writer->QueryText("PRAGMA user_version");
  if (!version) return Fail(version.error());
  if (*version != "0" && *version != std::to_string(kSchemaVersion)) {
    return InternalFailure(fmt::format("sqlite open: unsupported schema version {}", *version));
  }
  BERTH_CHECK(writer->Exec("BEGIN IMMEDIATE"));
  Status created = writer->Exec(kSchema);
  if (created) {
    created = writer->Exec(fmt::format("PRAGMA user_version={}", kSchemaVersion).c_str());
  }
  if (created) created = writer->Exec("COMMIT");
  if (!created) {
    writer->RollbackIfOpen();
    return Fail(created.error());
  }
  int64_t revision = BERTH_TRY(writer->ReadRevision());
  return std::unique_ptr<SqliteKv>(new SqliteKv(path, std::move(writer), revision));
}

SqliteKv::SqliteKv(std::string path, std::unique_ptr<Conn> writer, int64_t revision)
    : path_(std::move(path)),
      writer_(std::move(writer)),
      revision_(revision),
      hub_(std::make_shared<Hub>()) {}

SqliteKv::~SqliteKv() { hub_->Stop(); }

Result<SqliteKv::ReadLease> SqliteKv::LeaseReader() {
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Conn> conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReadLease(this, std::move(conn));
    }
  }
  auto conn = BERTH_TRY(Conn::Open(path_, /*writer=*/false));
  return ReadLease(this, std::move(conn));
}

Result<std::optional<KeyValue>> SqliteKv::Get(std::string_view key) {
  ReadLease conn = BERTH_TRY(LeaseReader());
  sqlite3_stmt* stmt = BERTH_TRY(conn->Stmt(kGet));
  StmtScope scope(stmt);
  BindBytes(stmt, 1, key);
  if (!BERTH_TRY(conn->Step(stmt, "get"))) return std::optional<KeyValue>();
  KeyValue kv;
  kv.key = std::string(key);
  kv.value = ColumnBytes(stmt, 0);
  kv.create_revision = sqlite3_column_int64(stmt, 1);
  kv.mod_revision = sqlite3_column_int64(stmt, 2);
  return std::optional<KeyValue>(std::move(kv));
}

Result<RangeResult> SqliteKv::Range(std::string_view prefix, std::string_view start_after,
                                    size_t limit) {
  // The lower bound is the prefix itself unless the caller resumes past it.
  bool resume = !start_after.empty() && start_after >= prefix;
  std::optional<std::string> end = PrefixEnd(prefix);
  Sql which =
      resume ? (end ? kRangeAfterBelow : kRangeAfter) : (end ? kRangeFromBelow : kRangeFrom);

  ReadLease conn = BERTH_TRY(LeaseReader());
  // One read transaction, so the revision and the rows are the same snapshot.
  BERTH_CHECK(conn->Run(kBegin, "begin"));
  RangeResult result;
  result.revision = BERTH_TRY(conn->ReadRevision());
  {
    sqlite3_stmt* stmt = BERTH_TRY(conn->Stmt(which));
    StmtScope scope(stmt);
    BindBytes(stmt, 1, resume ? start_after : prefix);
    if (end) BindBytes(stmt, 2, *end);
    // One row past the limit tells whether there is more.
    bool limited = limit != 0 && limit < static_cast<size_t>(INT64_MAX);
    sqlite3_bind_int64(stmt, 3, limited ? static_cast<int64_t>(limit) + 1 : -1);
    while (BERTH_TRY(conn->Step(stmt, "range"))) {
      if (limited && result.kvs.size() == limit) {
        result.more = true;
        break;
      }
      KeyValue& kv = result.kvs.emplace_back();
      kv.key = ColumnBytes(stmt, 0);
      kv.value = ColumnBytes(stmt, 1);
      kv.create_revision = sqlite3_column_int64(stmt, 2);
      kv.mod_revision = sqlite3_column_int64(stmt, 3);
    }
  }
  BERTH_CHECK(conn->Run(kCommit, "end read"));
  return result;
}

Result<TxnResult> SqliteKv::Commit(const Txn& txn) {
  std::lock_guard lock(write_mu_);
  // Watch registration holds write_mu_ too, so this answer stays true for the
  // whole transaction; without watchers no event is built.
  bool watched = hub_->HasWatchers();
  std::vector<WatchEvent> events;
  Result<TxnResult> result = CommitLocked(txn, watched ? &events : nullptr);
  if (result && result->succeeded && result->revision != revision_) {
    revision_ = result->revision;
    if (!events.empty()) hub_->Publish(std::move(events));
  }
  return result;
}

Result<TxnResult> SqliteKv::CommitLocked(const Txn& txn, std::vector<WatchEvent>* events) {
  Conn& w = *writer_;
  BERTH_CHECK(w.Run(kBeginImmediate, "begin"));
  struct RollbackOnExit {
    Conn& conn;
    ~RollbackOnExit() { conn.RollbackIfOpen(); }
  } rollback{w};

  TxnResult result;
  result.revision = BERTH_TRY(w.ReadRevision());

  for (const Compare& compare : txn.compares) {
    sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(kGetModRevision));
    StmtScope scope(stmt);
    BindBytes(stmt, 1, compare.key);
    int64_t current = BERTH_TRY(w.Step(stmt, "compare")) ? sqlite3_column_int64(stmt, 0) : 0;
    if (current != compare.mod_revision) return result;  // rolled back on exit
  }

  const int64_t revision = result.revision + 1;
  bool changed = false;
  auto add_event = [&](WatchEvent::Type type, std::string key, std::string value,
                       int64_t create_revision) {
    if (events == nullptr) return;
    WatchEvent& event = events->emplace_back();
    event.type = type;
    event.kv.key = std::move(key);
    event.kv.value = std::move(value);
    event.kv.create_revision = create_revision;
    event.kv.mod_revision = revision;
  };

  for (const Op& op : txn.ops) {
    switch (op.type) {
      case Op::Type::kPut: {
        sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(kUpsert));
        StmtScope scope(stmt);
        BindBytes(stmt, 1, op.key);
        BindBytes(stmt, 2, op.value);
        sqlite3_bind_int64(stmt, 3, revision);
        if (!BERTH_TRY(w.Step(stmt, "put"))) return InternalFailure("sqlite put: no row returned");
        int64_t create_revision = sqlite3_column_int64(stmt, 0);
        while (BERTH_TRY(w.Step(stmt, "put"))) {
        }
        changed = true;
        add_event(WatchEvent::Type::kPut, op.key, op.value, create_revision);
        break;
      }
      case Op::Type::kDelete: {
        sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(kDeleteKey));
        StmtScope scope(stmt);
        BindBytes(stmt, 1, op.key);
        BERTH_TRY(w.Step(stmt, "delete"));
        if (sqlite3_changes(w.db) > 0) {
          changed = true;
          add_event(WatchEvent::Type::kDelete, op.key, {}, 0);
        }
        break;
      }
      case Op::Type::kDeletePrefix: {
        std::optional<std::string> end = PrefixEnd(op.key);
        sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(end ? kDeleteFromBelow : kDeleteFrom));
        StmtScope scope(stmt);
        BindBytes(stmt, 1, op.key);
        if (end) BindBytes(stmt, 2, *end);
        // RETURNING promises no row order; events go out in key order.
        std::vector<std::string> deleted;
        while (BERTH_TRY(w.Step(stmt, "delete prefix"))) {
          changed = true;
          if (events != nullptr) deleted.push_back(ColumnBytes(stmt, 0));
        }
        std::sort(deleted.begin(), deleted.end());
        for (std::string& key : deleted) {
          add_event(WatchEvent::Type::kDelete, std::move(key), {}, 0);
        }
        break;
      }
    }
  }

  result.succeeded = true;
  if (!changed) return result;  // etcd: a txn that changes nothing takes no revision

  {
    sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(kSetRevision));
    StmtScope scope(stmt);
    sqlite3_bind_int64(stmt, 1, revision);
    BERTH_TRY(w.Step(stmt, "set revision"));
  }
  BERTH_CHECK(w.Run(kCommit, "commit"));
  result.revision = revision;
  return result;
}

std::unique_ptr<WatchHandle> SqliteKv::Watch(std::string_view prefix,
                                             std::function<void(const WatchEvent&)> on_event) {
  std::shared_ptr<Hub::Watcher> watcher;
  {
    // Under the write lock no commit is in flight: every later commit has a
    // revision above revision_, every earlier one is excluded by min_revision
    // even if its events are still queued.
    std::lock_guard lock(write_mu_);
    watcher = hub_->Add(std::string(prefix), std::move(on_event), revision_ + 1);
  }
  return std::make_unique<SqliteWatchHandle>(
      [hub = hub_, watcher = std::move(watcher)] { hub->Remove(watcher); });
}

}  // namespace berth::store
