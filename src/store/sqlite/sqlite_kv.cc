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
#include <unordered_set>
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

// Every statement a connection runs, prepared on first use and kept.
enum Sql : size_t {
  kBegin,
  kBeginImmediate,
  kCommit,
  kSavepoint,
  kRollbackToSavepoint,
  kReleaseSavepoint,
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
  kAppendHistory,
  kCompactHistory,
  kGetCompacted,
  kSetCompacted,
  kReadHistory,
  kReadHistoryBelow,
  kGetLiveValue,
  kLeaseExists,
  kNextLeaseId,
  kInsertLease,
  kKeepAlive,
  kDeleteLease,
  kDeleteLeaseKeys,
  kExpiredLeases,
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
    case kSavepoint:
      return "SAVEPOINT txn";
    case kRollbackToSavepoint:
      return "ROLLBACK TO txn";
    case kReleaseSavepoint:
      return "RELEASE txn";
    case kGetRevision:
      return "SELECT value FROM meta WHERE name = 'revision'";
    case kSetRevision:
      return "UPDATE meta SET value = ?1 WHERE name = 'revision'";
    case kGet:
      return "SELECT value, create_rev, mod_rev, lease FROM kv WHERE key = ?1";
    case kGetModRevision:
      return "SELECT mod_rev FROM kv WHERE key = ?1";
    case kUpsert:
      return "INSERT INTO kv(key, value, create_rev, mod_rev, lease) VALUES(?1, ?2, ?3, ?3, ?4) "
             "ON CONFLICT(key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev, "
             "lease = excluded.lease RETURNING create_rev";
    case kDeleteKey:
      return "DELETE FROM kv WHERE key = ?1";
    case kRangeFrom:
      return "SELECT key, value, create_rev, mod_rev, lease FROM kv "
             "WHERE key >= ?1 ORDER BY key LIMIT ?3";
    case kRangeFromBelow:
      return "SELECT key, value, create_rev, mod_rev, lease FROM kv "
             "WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3";
    case kRangeAfter:
      return "SELECT key, value, create_rev, mod_rev, lease FROM kv "
             "WHERE key > ?1 ORDER BY key LIMIT ?3";
    case kRangeAfterBelow:
      return "SELECT key, value, create_rev, mod_rev, lease FROM kv "
             "WHERE key > ?1 AND key < ?2 ORDER BY key LIMIT ?3";
    case kDeleteFrom:
      return "DELETE FROM kv WHERE key >= ?1 RETURNING key";
    case kDeleteFromBelow:
      return "DELETE FROM kv WHERE key >= ?1 AND key < ?2 RETURNING key";
    case kAppendHistory:
      return "INSERT INTO history(rev, seq, type, key, value, create_rev, lease, value_in_kv) "
             "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    case kCompactHistory:
      return "DELETE FROM history WHERE rev <= ?1";
    case kGetCompacted:
      return "SELECT value FROM meta WHERE name = 'compacted'";
    case kSetCompacted:
      return "UPDATE meta SET value = ?1 WHERE name = 'compacted'";
    case kReadHistory:
      return "SELECT rev, type, key, value, create_rev, lease, value_in_kv FROM history "
             "WHERE rev > ?3 AND key >= ?1 ORDER BY rev, seq";
    case kReadHistoryBelow:
      return "SELECT rev, type, key, value, create_rev, lease, value_in_kv FROM history "
             "WHERE rev > ?3 AND key >= ?1 AND key < ?2 ORDER BY rev, seq";
    case kGetLiveValue:
      return "SELECT value FROM kv WHERE key = ?1 AND mod_rev = ?2";
    case kLeaseExists:
      return "SELECT 1 FROM leases WHERE id = ?1";
    case kNextLeaseId:
      return "UPDATE meta SET value = value + 1 WHERE name = 'lease_seq' RETURNING value";
    case kInsertLease:
      return "INSERT INTO leases(id, ttl_ms, expires_ms) VALUES(?1, ?2, ?3)";
    case kKeepAlive:
      return "UPDATE leases SET expires_ms = ?2 + ttl_ms WHERE id = ?1 RETURNING ttl_ms";
    case kDeleteLease:
      return "DELETE FROM leases WHERE id = ?1";
    case kDeleteLeaseKeys:
      // The second term lets SQLite use the partial index kv_by_lease.
      return "DELETE FROM kv WHERE lease = ?1 AND lease != 0 RETURNING key";
    case kExpiredLeases:
      return "SELECT id FROM leases WHERE expires_ms <= ?1 ORDER BY expires_ms";
    case kSqlCount:
      break;
  }
  std::abort();  // not a statement
}

// kMigrations[v] takes a store from schema version v (PRAGMA user_version;
// 0: a new file) to v + 1. Each runs in the transaction that sets the version.
constexpr const char* kMigrations[] = {
    // 1: keys and the store revision.
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
    "INSERT OR IGNORE INTO meta(name, value) VALUES('revision', 0);",
    // 2: the change history that Watch replays: the changes of revisions
    // above meta 'compacted', one row an event, `seq` its place in the revision.
    // A store created before it has no history of its past revisions.
    "CREATE TABLE history("
    "  rev INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  type INTEGER NOT NULL,"  // WatchEvent::Type
    "  key BLOB NOT NULL,"
    "  value BLOB NOT NULL,"
    "  create_rev INTEGER NOT NULL,"
    "  PRIMARY KEY(rev, seq)"
    ") WITHOUT ROWID;"
    "INSERT INTO meta(name, value) SELECT 'compacted', value FROM meta WHERE name = 'revision';",
    // 3: leases. Times are the store clock's, in ms since the epoch; ids
    // come from meta 'lease_seq', so none is ever reused.
    "ALTER TABLE kv ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX kv_by_lease ON kv(lease) WHERE lease != 0;"
    "ALTER TABLE history ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE leases("
    "  id INTEGER NOT NULL PRIMARY KEY,"
    "  ttl_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL"
    ");"
    "CREATE INDEX leases_by_expiry ON leases(expires_ms);"
    "INSERT INTO meta(name, value) VALUES('lease_seq', 0);",
    // 4: history rows of large puts without their value (it is the live kv
    // row's while that row's mod_rev is the event's rev).
    "ALTER TABLE history ADD COLUMN value_in_kv INTEGER NOT NULL DEFAULT 0;",
};
constexpr int kSchemaVersion = std::size(kMigrations);

// The error every SQLite failure becomes. SQLite's messages name the failing
// operation and constraint, never bound values.
std::unexpected<Error> SqliteError(sqlite3* db, std::string_view what, int rc) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return InternalFailure(fmt::format("sqlite {}: {} (code {})", what, message, rc));
}

// The least key greater than every key starting with `prefix`, or nullopt when
// there is none (empty prefix, or all 0xff bytes).
int64_t EpochMs(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

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

// Which of one revision's events history records without their value: puts
// larger than kMaxHistoryValueBytes whose key the revision changes no more, so
// the live row holds that value while its mod_rev is the revision.
std::vector<bool> ValuesLeftInKv(const std::vector<WatchEvent>& events) {
  std::vector<bool> in_kv(events.size(), false);
  std::unordered_set<std::string_view> changed_later;
  for (size_t i = events.size(); i-- > 0;) {
    const WatchEvent& event = events[i];
    in_kv[i] = event.type == WatchEvent::Type::kPut &&
               event.kv.value.size() > kMaxHistoryValueBytes &&
               !changed_later.contains(event.kv.key);
    changed_later.insert(event.kv.key);
  }
  return in_kv;
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
      // Checkpoints run on the checkpointer thread (RunCheckpointer), not in a Commit.
      BERTH_CHECK(conn->Exec("PRAGMA wal_autocheckpoint=0"));
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

  Result<int64_t> ReadRevision() { return ReadMeta(kGetRevision, "read revision"); }

  // A meta row's value; `which` selects it.
  Result<int64_t> ReadMeta(Sql which, std::string_view what) {
    sqlite3_stmt* stmt = BERTH_TRY(Stmt(which));
    StmtScope scope(stmt);
    if (!BERTH_TRY(Step(stmt, what))) {
      return InternalFailure(fmt::format("sqlite {}: meta row missing", what));
    }
    return sqlite3_column_int64(stmt, 0);
  }

  // Runs a statement whose parameters are all integers, ignoring its rows.
  Status RunInts(Sql which, std::string_view what, std::initializer_list<int64_t> params) {
    sqlite3_stmt* stmt = BERTH_TRY(Stmt(which));
    StmtScope scope(stmt);
    int index = 0;
    for (int64_t param : params) sqlite3_bind_int64(stmt, ++index, param);
    while (BERTH_TRY(Step(stmt, what))) {
    }
    return {};
  }

  // Ends an open transaction left by a failed operation; a no-op otherwise
  // (SQLite may already have rolled back on I/O errors).
  void RollbackIfOpen() {
    if (sqlite3_get_autocommit(db) == 0) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  // Ends the transaction a scope began unless it committed (a failure, or a
  // compare that did not hold).
  struct RollbackOnExit {
    Conn& conn;
    ~RollbackOnExit() { conn.RollbackIfOpen(); }
  };
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

  // Adds a watcher of the changes of `min_revision` on; `replay` (events it
  // alone gets, already filtered) goes to it first, before any later change.
  std::shared_ptr<Watcher> Add(std::string prefix, std::function<void(const WatchEvent&)> on_event,
                               int64_t min_revision, std::vector<WatchEvent> replay) {
    auto watcher = std::make_shared<Watcher>();
    watcher->prefix = std::move(prefix);
    watcher->on_event = std::move(on_event);
    watcher->min_revision = min_revision;
    std::lock_guard lock(mu_);
    if (!replay.empty()) {
      queue_.push_back(Batch{watcher, std::move(replay)});
      cv_.notify_one();
    }
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
      queue_.push_back(Batch{nullptr, std::move(events)});
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
      Batch batch;
      std::vector<std::shared_ptr<Watcher>> watchers;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        batch = std::move(queue_.front());
        queue_.pop_front();
        if (batch.only) {
          watchers = {batch.only};
        } else {
          watchers = watchers_;
        }
      }
      // A replay was read for its watcher: its revisions predate min_revision.
      const bool replay = batch.only != nullptr;
      for (const WatchEvent& event : batch.events) {
        for (const auto& watcher : watchers) {
          if (!replay) {
            if (event.kv.mod_revision < watcher->min_revision) continue;
            if (!std::string_view(event.kv.key).starts_with(watcher->prefix)) continue;
          }
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
  // One committed transaction's changes for every watcher, or (`only` set) a
  // replay for one.
  struct Batch {
    std::shared_ptr<Watcher> only;
    std::vector<WatchEvent> events;
  };
  std::deque<Batch> queue_;
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

// A Commit in the group-commit queue and, once its group is written, its result.
struct SqliteKv::PendingTxn {
  PendingTxn(const Txn& txn, int64_t revoke_lease) : txn(txn), revoke_lease(revoke_lease) {}

  const Txn& txn;
  const int64_t revoke_lease;  // a lease the Txn also ends (0: none)
  Result<TxnResult> result;    // set by the group's writer
  bool done = false;           // under queue_mu_: `result` is final
  std::condition_variable cv;  // signalled when done, or when it heads the queue
};

// What one Txn of a group did.
enum class SqliteKv::Applied { kCompareFailed, kUnchanged, kChanged };

Result<std::unique_ptr<SqliteKv>> SqliteKv::Open(const std::string& path, SqliteKvOptions options) {
  options.history_revisions = std::max<int64_t>(1, options.history_revisions);
  auto writer = BERTH_TRY(Conn::Open(path, /*writer=*/true));
  // Not BERTH_TRY: GCC 12 warns falsely about the moved-out string.
  Result<std::string> version_text = writer->QueryText("PRAGMA user_version");
  if (!version_text) return Fail(version_text.error());
  int version = std::atoi(version_text->c_str());
  if (std::to_string(version) != *version_text || version < 0 || version > kSchemaVersion) {
    return InternalFailure(
        fmt::format("sqlite open: unsupported schema version {}", *version_text));
  }
  if (version < kSchemaVersion) {
    BERTH_CHECK(writer->Exec("BEGIN IMMEDIATE"));
    Status migrated;
    for (int v = version; migrated && v < kSchemaVersion; ++v) {
      migrated = writer->Exec(kMigrations[v]);
    }
    if (migrated) {
      migrated = writer->Exec(fmt::format("PRAGMA user_version={}", kSchemaVersion).c_str());
    }
    if (migrated) migrated = writer->Exec("COMMIT");
    if (!migrated) {
      writer->RollbackIfOpen();
      return Fail(migrated.error());
    }
  }
  int64_t revision = BERTH_TRY(writer->ReadRevision());
  int64_t compacted = BERTH_TRY(writer->ReadMeta(kGetCompacted, "read compacted"));
  // As etcd after a restart: every lease gets its full TTL again, counted
  // from now (the store was not there to be kept alive).
  const Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::Instance();
  BERTH_CHECK(writer->Exec(
      fmt::format("UPDATE leases SET expires_ms = {} + ttl_ms", EpochMs(clock.Now())).c_str()));
  auto kv = std::unique_ptr<SqliteKv>(new SqliteKv(path, options, std::move(writer)));
  kv->revision_ = revision;
  kv->compacted_ = compacted;
  kv->checkpointer_conn_ = BERTH_TRY(Conn::Open(path, /*writer=*/false));
  BERTH_CHECK(kv->checkpointer_conn_->Exec("PRAGMA query_only=0"));
  BERTH_CHECK(kv->checkpointer_conn_->Exec("PRAGMA synchronous=FULL"));
  sqlite3_wal_hook(kv->writer_->db, &SqliteKv::OnWalCommit, kv.get());
  kv->sweeper_ = std::thread([raw = kv.get()] { raw->RunSweeper(); });
  kv->checkpointer_ = std::thread([raw = kv.get()] { raw->RunCheckpointer(); });
  return kv;
}

SqliteKv::SqliteKv(std::string path, SqliteKvOptions options, std::unique_ptr<Conn> writer)
    : path_(std::move(path)),
      options_(options),
      writer_(std::move(writer)),
      hub_(std::make_shared<Hub>()),
      clock_(options.clock != nullptr ? *options.clock : SystemClock::Instance()) {}

SqliteKv::~SqliteKv() {
  {
    std::lock_guard lock(sweep_mu_);
    stopping_ = true;
  }
  sweep_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  if (checkpointer_.joinable()) checkpointer_.join();
  hub_->Stop();
}

int SqliteKv::OnWalCommit(void* self, sqlite3* /*db*/, const char* /*name*/, int pages) {
  auto* kv = static_cast<SqliteKv*>(self);
  if (pages >= kv->options_.checkpoint_pages) {
    {
      std::lock_guard lock(kv->sweep_mu_);
      kv->checkpoint_due_ = true;
    }
    kv->sweep_cv_.notify_all();
  }
  return SQLITE_OK;
}

void SqliteKv::RunCheckpointer() {
  std::unique_lock lock(sweep_mu_);
  for (;;) {
    sweep_cv_.wait(lock, [this] { return stopping_ || checkpoint_due_; });
    if (stopping_) return;
    checkpoint_due_ = false;
    lock.unlock();
    int wal_pages = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(checkpointer_conn_->db, nullptr,
                                       SQLITE_CHECKPOINT_PASSIVE, &wal_pages, &copied);
    if (rc == SQLITE_OK && wal_pages > 64 * options_.checkpoint_pages) {
      // Readers kept the WAL from being reused: wait for them once, so it starts over.
      rc = sqlite3_wal_checkpoint_v2(checkpointer_conn_->db, nullptr, SQLITE_CHECKPOINT_RESTART,
                                     &wal_pages, &copied);
    }
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      log::Warn("store checkpoint failed", {{"error", sqlite3_errmsg(checkpointer_conn_->db)}});
    }
    lock.lock();
  }
}

void SqliteKv::RunSweeper() {
  std::unique_lock lock(sweep_mu_);
  while (!sweep_cv_.wait_for(lock, options_.sweep_interval, [this] { return stopping_; })) {
    lock.unlock();
    Status swept = SweepExpiredLeases();
    if (!swept) log::Error("store lease sweep failed", {{"error", swept.error().message}});
    lock.lock();
  }
}

Status SqliteKv::SweepExpiredLeases() {
  std::lock_guard lock(write_mu_);
  // Under write_mu_ no KeepAlive runs between the query and the revokes.
  std::vector<int64_t> expired;
  {
    sqlite3_stmt* stmt = BERTH_TRY(writer_->Stmt(kExpiredLeases));
    StmtScope scope(stmt);
    sqlite3_bind_int64(stmt, 1, EpochMs(clock_.Now()));
    while (BERTH_TRY(writer_->Step(stmt, "find expired leases"))) {
      expired.push_back(sqlite3_column_int64(stmt, 0));
    }
  }
  if (expired.empty()) return {};
  // One group: a revision per lease, one fsync for the sweep.
  const Txn none;
  std::deque<PendingTxn> revokes;
  std::vector<PendingTxn*> group;
  for (int64_t lease : expired) group.push_back(&revokes.emplace_back(none, lease));
  CommitGroupLocked(group);
  for (PendingTxn& revoke : revokes) BERTH_TRY(revoke.result);
  return {};
}

Result<int64_t> SqliteKv::GrantLease(std::chrono::seconds ttl) {
  if (ttl < std::chrono::seconds(1)) {
    return Fail("InvalidParameterException", "A lease's TTL must be at least 1 second.");
  }
  int64_t ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
  std::lock_guard lock(write_mu_);
  Conn& w = *writer_;
  BERTH_CHECK(w.Run(kBeginImmediate, "begin"));
  Conn::RollbackOnExit rollback{w};
  int64_t id = BERTH_TRY(w.ReadMeta(kNextLeaseId, "grant lease"));
  BERTH_CHECK(w.RunInts(kInsertLease, "grant lease", {id, ttl_ms, EpochMs(clock_.Now()) + ttl_ms}));
  BERTH_CHECK(w.Run(kCommit, "commit"));
  return id;
}

Result<std::chrono::seconds> SqliteKv::KeepAlive(int64_t lease) {
  std::lock_guard lock(write_mu_);
  sqlite3_stmt* stmt = BERTH_TRY(writer_->Stmt(kKeepAlive));
  StmtScope scope(stmt);
  sqlite3_bind_int64(stmt, 1, lease);
  sqlite3_bind_int64(stmt, 2, EpochMs(clock_.Now()));
  if (!BERTH_TRY(writer_->Step(stmt, "keep lease alive"))) return Fail(LeaseNotFound(lease));
  auto ttl = std::chrono::milliseconds(sqlite3_column_int64(stmt, 0));
  while (BERTH_TRY(writer_->Step(stmt, "keep lease alive"))) {
  }
  return std::chrono::duration_cast<std::chrono::seconds>(ttl);
}

Status SqliteKv::Revoke(int64_t lease) {
  std::lock_guard lock(write_mu_);
  BERTH_TRY(CommitAndPublishLocked(Txn{}, lease));
  return {};
}

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
  kv.lease = sqlite3_column_int64(stmt, 3);
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
      kv.lease = sqlite3_column_int64(stmt, 4);
    }
  }
  BERTH_CHECK(conn->Run(kCommit, "end read"));
  return result;
}

Result<TxnResult> SqliteKv::Commit(const Txn& txn) {
  PendingTxn self(txn, 0);
  std::unique_lock lock(queue_mu_);
  queue_.push_back(&self);
  self.cv.wait(lock, [&] { return self.done || queue_.front() == &self; });
  if (self.done) return std::move(self.result);
  // The leader: writes the group it heads, then hands the queue on.
  std::vector<PendingTxn*> group = TakeGroupLocked();
  lock.unlock();
  {
    std::lock_guard write_lock(write_mu_);
    CommitGroupLocked(group);
  }
  lock.lock();
  for (PendingTxn* member : group) {
    queue_.pop_front();  // the group is the queue's head, in order
    member->done = true;
    member->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();
  return std::move(self.result);
}

size_t SqliteKv::QueuedCommits() {
  std::lock_guard lock(queue_mu_);
  return queue_.size();
}

std::vector<SqliteKv::PendingTxn*> SqliteKv::TakeGroupLocked() {
  std::vector<PendingTxn*> group;
  size_t value_bytes = 0;
  for (PendingTxn* pending : queue_) {
    size_t bytes = 0;
    for (const Op& op : pending->txn.ops) bytes += op.value.size();
    bool full = group.size() == kMaxGroupTxns || value_bytes + bytes > kMaxGroupValueBytes;
    if (!group.empty() && full) break;
    group.push_back(pending);
    value_bytes += bytes;
  }
  return group;
}

Result<TxnResult> SqliteKv::CommitAndPublishLocked(const Txn& txn, int64_t revoke_lease) {
  PendingTxn self(txn, revoke_lease);
  PendingTxn* group[] = {&self};
  CommitGroupLocked(group);
  return std::move(self.result);
}

void SqliteKv::CommitGroupLocked(std::span<PendingTxn* const> group) {
  if (options_.before_group_for_test) options_.before_group_for_test(group.size());
  // Watch registration holds write_mu_ too, so this answer stays true for the
  // whole group; without watchers no event is published.
  bool watched = hub_->HasWatchers();
  std::vector<std::vector<WatchEvent>> events(group.size());
  Result<int64_t> last = WriteGroupLocked(group, events);
  if (!last) {
    for (PendingTxn* member : group) member->result = Fail(last.error());
    return;
  }
  if (*last == revision_) return;
  revision_ = *last;
  compacted_ = std::max(compacted_, revision_ - options_.history_revisions);
  if (!watched) return;
  // Members are in revision order; one batch a revision.
  for (std::vector<WatchEvent>& txn_events : events) {
    if (!txn_events.empty()) hub_->Publish(std::move(txn_events));
  }
}

Result<int64_t> SqliteKv::WriteGroupLocked(std::span<PendingTxn* const> group,
                                           std::vector<std::vector<WatchEvent>>& events) {
  Conn& w = *writer_;
  BERTH_CHECK(w.Run(kBeginImmediate, "begin"));
  Conn::RollbackOnExit rollback{w};
  const int64_t first = BERTH_TRY(w.ReadRevision());
  int64_t revision = first;
  bool wrote = false;  // a key changed or a lease ended: there is something to commit
  for (size_t i = 0; i < group.size(); ++i) {
    PendingTxn& member = *group[i];
    BERTH_CHECK(w.Run(kSavepoint, "savepoint"));
    Result<Applied> applied = ApplyLocked(member.txn, member.revoke_lease, revision + 1, events[i]);
    if (applied && *applied == Applied::kChanged) {
      Status recorded = AppendHistoryLocked(revision + 1, events[i]);
      if (!recorded) applied = Fail(recorded.error());
    }
    if (!applied || *applied == Applied::kCompareFailed) {
      // Undoes this member alone; fails the group if SQLite ended the transaction.
      events[i].clear();
      BERTH_CHECK(w.Run(kRollbackToSavepoint, "roll back txn"));
    }
    BERTH_CHECK(w.Run(kReleaseSavepoint, "release txn"));
    if (!applied) {
      member.result = Fail(applied.error());
      continue;
    }
    if (*applied == Applied::kChanged) ++revision;
    wrote = wrote || *applied == Applied::kChanged ||
            (*applied == Applied::kUnchanged && member.revoke_lease != 0);
    member.result = TxnResult{*applied != Applied::kCompareFailed, revision};
  }
  if (!wrote) return revision;  // rolled back on exit
  if (revision != first) {
    BERTH_CHECK(w.RunInts(kSetRevision, "set revision", {revision}));
    BERTH_CHECK(CompactHistoryLocked(revision));
  }
  BERTH_CHECK(w.Run(kCommit, "commit"));
  durable_commits_.fetch_add(1, std::memory_order_relaxed);
  return revision;
}

Result<SqliteKv::Applied> SqliteKv::ApplyLocked(const Txn& txn, int64_t revoke_lease,
                                                int64_t revision, std::vector<WatchEvent>& events) {
  Conn& w = *writer_;
  for (const Compare& compare : txn.compares) {
    sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(kGetModRevision));
    StmtScope scope(stmt);
    BindBytes(stmt, 1, compare.key);
    int64_t current = BERTH_TRY(w.Step(stmt, "compare")) ? sqlite3_column_int64(stmt, 0) : 0;
    if (current != compare.mod_revision) return Applied::kCompareFailed;
  }

  bool changed = false;
  auto add_event = [&](WatchEvent::Type type, std::string key, std::string value,
                       int64_t create_revision, int64_t lease) {
    WatchEvent& event = events.emplace_back();
    event.type = type;
    event.kv.key = std::move(key);
    event.kv.value = std::move(value);
    event.kv.create_revision = create_revision;
    event.kv.mod_revision = revision;
    event.kv.lease = lease;
  };
  auto lease_is_live = [&](int64_t lease) -> Result<bool> {
    sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(kLeaseExists));
    StmtScope scope(stmt);
    sqlite3_bind_int64(stmt, 1, lease);
    return w.Step(stmt, "find lease");
  };
  // Deleted keys' events, in key order (RETURNING promises no row order).
  auto add_deletes = [&](std::vector<std::string> deleted) {
    std::sort(deleted.begin(), deleted.end());
    for (std::string& key : deleted) add_event(WatchEvent::Type::kDelete, std::move(key), {}, 0, 0);
  };

  for (const Op& op : txn.ops) {
    switch (op.type) {
      case Op::Type::kPut: {
        sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(kUpsert));
        StmtScope scope(stmt);
        BindBytes(stmt, 1, op.key);
        BindBytes(stmt, 2, op.value);
        sqlite3_bind_int64(stmt, 3, revision);
        sqlite3_bind_int64(stmt, 4, op.lease);
        if (op.lease != 0 && !BERTH_TRY(lease_is_live(op.lease))) {
          return Fail(LeaseNotFound(op.lease));  // rolled back on exit
        }
        if (!BERTH_TRY(w.Step(stmt, "put"))) return InternalFailure("sqlite put: no row returned");
        int64_t create_revision = sqlite3_column_int64(stmt, 0);
        while (BERTH_TRY(w.Step(stmt, "put"))) {
        }
        changed = true;
        add_event(WatchEvent::Type::kPut, op.key, op.value, create_revision, op.lease);
        break;
      }
      case Op::Type::kDelete: {
        sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(kDeleteKey));
        StmtScope scope(stmt);
        BindBytes(stmt, 1, op.key);
        BERTH_TRY(w.Step(stmt, "delete"));
        if (sqlite3_changes(w.db) > 0) {
          changed = true;
          add_event(WatchEvent::Type::kDelete, op.key, {}, 0, 0);
        }
        break;
      }
      case Op::Type::kDeletePrefix: {
        std::optional<std::string> end = PrefixEnd(op.key);
        sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(end ? kDeleteFromBelow : kDeleteFrom));
        StmtScope scope(stmt);
        BindBytes(stmt, 1, op.key);
        if (end) BindBytes(stmt, 2, *end);
        std::vector<std::string> deleted;
        while (BERTH_TRY(w.Step(stmt, "delete prefix"))) {
          changed = true;
          deleted.push_back(ColumnBytes(stmt, 0));
        }
        add_deletes(std::move(deleted));
        break;
      }
    }
  }

  if (revoke_lease != 0) {
    if (!BERTH_TRY(lease_is_live(revoke_lease))) return Fail(LeaseNotFound(revoke_lease));
    BERTH_CHECK(w.RunInts(kDeleteLease, "revoke lease", {revoke_lease}));
    sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(kDeleteLeaseKeys));
    StmtScope scope(stmt);
    sqlite3_bind_int64(stmt, 1, revoke_lease);
    std::vector<std::string> deleted;
    while (BERTH_TRY(w.Step(stmt, "revoke lease"))) {
      changed = true;
      deleted.push_back(ColumnBytes(stmt, 0));
    }
    add_deletes(std::move(deleted));
  }

  // etcd: a txn that changes nothing takes no revision (a revoke of a lease
  // without keys still ends the lease).
  return changed ? Applied::kChanged : Applied::kUnchanged;
}

Status SqliteKv::AppendHistoryLocked(int64_t revision, const std::vector<WatchEvent>& events) {
  Conn& w = *writer_;
  const std::vector<bool> in_kv = ValuesLeftInKv(events);
  int64_t seq = 0;
  for (const WatchEvent& event : events) {
    sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(kAppendHistory));
    StmtScope scope(stmt);
    sqlite3_bind_int64(stmt, 1, revision);
    sqlite3_bind_int64(stmt, 3, static_cast<int64_t>(event.type));
    BindBytes(stmt, 4, event.kv.key);
    BindBytes(stmt, 5, in_kv[seq] ? std::string_view() : std::string_view(event.kv.value));
    sqlite3_bind_int64(stmt, 6, event.kv.create_revision);
    sqlite3_bind_int64(stmt, 7, event.kv.lease);
    sqlite3_bind_int64(stmt, 8, in_kv[seq] ? 1 : 0);
    sqlite3_bind_int64(stmt, 2, seq++);
    BERTH_TRY(w.Step(stmt, "append history"));
  }
  return {};
}

Status SqliteKv::CompactHistoryLocked(int64_t revision) {
  int64_t compact_to = revision - options_.history_revisions;
  if (compact_to <= compacted_) return {};
  BERTH_CHECK(writer_->RunInts(kCompactHistory, "compact history", {compact_to}));
  BERTH_CHECK(writer_->RunInts(kSetCompacted, "compact history", {compact_to}));
  return {};
}

Result<std::optional<std::vector<WatchEvent>>> SqliteKv::ReadHistoryLocked(std::string_view prefix,
                                                                           int64_t after_revision) {
  Conn& w = *writer_;
  // A value history left in the live row: there while the row is still at that revision.
  auto read_live_value = [&](KeyValue& kv) -> Result<bool> {
    sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(kGetLiveValue));
    StmtScope scope(stmt);
    BindBytes(stmt, 1, kv.key);
    sqlite3_bind_int64(stmt, 2, kv.mod_revision);
    if (!BERTH_TRY(w.Step(stmt, "read history value"))) return false;
    kv.value = ColumnBytes(stmt, 0);
    return true;
  };
  std::optional<std::string> end = PrefixEnd(prefix);
  sqlite3_stmt* stmt = BERTH_TRY(w.Stmt(end ? kReadHistoryBelow : kReadHistory));
  StmtScope scope(stmt);
  BindBytes(stmt, 1, prefix);
  if (end) BindBytes(stmt, 2, *end);
  sqlite3_bind_int64(stmt, 3, after_revision);
  std::vector<WatchEvent> events;
  while (BERTH_TRY(w.Step(stmt, "read history"))) {
    WatchEvent& event = events.emplace_back();
    event.kv.mod_revision = sqlite3_column_int64(stmt, 0);
    event.type = static_cast<WatchEvent::Type>(sqlite3_column_int64(stmt, 1));
    event.kv.key = ColumnBytes(stmt, 2);
    event.kv.value = ColumnBytes(stmt, 3);
    event.kv.create_revision = sqlite3_column_int64(stmt, 4);
    event.kv.lease = sqlite3_column_int64(stmt, 5);
    bool in_kv = sqlite3_column_int64(stmt, 6) != 0;
    if (in_kv && !BERTH_TRY(read_live_value(event.kv))) {
      return std::optional<std::vector<WatchEvent>>();
    }
  }
  return std::optional(std::move(events));
}

std::unique_ptr<WatchHandle> SqliteKv::Watch(std::string_view prefix, int64_t after_revision,
                                             std::function<void(const WatchEvent&)> on_event) {
  std::shared_ptr<Hub::Watcher> watcher;
  {
    // Under the write lock no commit is in flight: every later commit has a
    // revision above revision_, every earlier one is excluded by min_revision
    // even if its events are still queued; the history read here holds them.
    std::lock_guard lock(write_mu_);
    int64_t live_after = std::max(revision_, after_revision);
    std::vector<WatchEvent> replay;
    if (after_revision >= 0 && after_revision < revision_) {
      // Compacted (or unreadable) history, or a large value since overwritten:
      // the watcher must reload instead.
      bool held = after_revision >= compacted_;
      if (held) {
        auto history = ReadHistoryLocked(prefix, after_revision);
        if (history && *history) {
          replay = std::move(**history);
        } else {
          held = false;
          if (!history) {
            log::Error("store watch: history unreadable; resetting the watcher",
                       {{"error", history.error().message}});
          }
        }
      }
      if (!held) {
        WatchEvent& reset = replay.emplace_back();
        reset.type = WatchEvent::Type::kReset;
        reset.kv.mod_revision = revision_;
      }
    }
    watcher =
        hub_->Add(std::string(prefix), std::move(on_event), live_after + 1, std::move(replay));
  }
  return std::make_unique<SqliteWatchHandle>(
      [hub = hub_, watcher = std::move(watcher)] { hub->Remove(watcher); });
}

}  // namespace berth::store
