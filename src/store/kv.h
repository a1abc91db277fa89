// The transactional key-value store every service keeps its state in.
//
// Modelled on etcd v3 so that the SQLite (embedded) and etcd (distributed)
// backends have the same semantics: one store-wide revision that grows by one
// with every committed write transaction; each key remembers the revision that
// created it and the one that last modified it. Keys and values are bytes.
// Implementations are thread-safe.
#pragma once

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

  static Op Put(std::string key, std::string value) {
    return Op{Type::kPut, std::move(key), std::move(value)};
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
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // for kDelete: key and mod_revision (the deleting revision) only
};

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

  // Calls `on_event` for every change to a key under `prefix` committed after
  // the watch was created, in revision order, on a thread of the store's. The
  // callback must not call back into the store synchronously.
  virtual std::unique_ptr<WatchHandle> Watch(std::string_view prefix,
                                             std::function<void(const WatchEvent&)> on_event) = 0;

  // Convenience: an unconditional single put / delete.
  Result<int64_t> Put(std::string key, std::string value);
  Result<int64_t> Delete(std::string key);
};

}  // namespace berth::store
