// Values parsed from the store, kept in memory by key with the mod_revision
// they were parsed from, so that read paths read, parse (and unseal, decode)
// nothing per request. KMS keeps its key records (unsealed material and
// all), Secrets Manager its secret records, iam::IdentityStore resolved
// access keys and sessions, iam::AccessControl compiled principal policies.
// Thread-safe; a hit takes a shared lock and copies a shared_ptr, nothing else.
//
// Invalidation. A watched cache watches a prefix of the store: a change under
// it drops the value it concerns (a value that keeps other keys' data with
// it, as a secret its versions' values, maps those keys to itself: KeyOf), and
// a WatchEvent::kReset (missed history, a backend that lost its watch) drops
// everything. An unwatched cache is invalidated by its owner (Drop, Clear).
// A writer of this process holds a Writing guard on the key around its
// Commit: meanwhile the key bypasses the cache, and the guard drops it before
// the writer goes on. So a write made through this process is seen by every
// read that starts after the write returns; a write by anyone else (another
// replica on a shared store) once its watch event arrives, as AWS's own
// eventual consistency.
//
// Races. A filler takes Generation() before its store read and passes it to
// Put; every invalidation bumps the generation, so a value read before a
// change that raced it is not kept.
//
// Writers that condition a commit on the revision they read should read the
// store (FindAt with what Get returned saves the parsing, not the read): in
// the store a (key, mod_revision) pair names one value for good, so such a
// hit is exactly what parsing the bytes just read would give.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "store/kv.h"

namespace berth::store {

template <class T>
class WatchedCache {
 public:
  // Which cached value a change to `store_key` concerns (empty: none).
  using KeyOf = std::function<std::string(std::string_view store_key)>;

  // Watches `prefix` of `kv`, which must outlive the cache. Without `key_of`
  // a change concerns the value of its own key. At most `capacity` values;
  // beyond it an arbitrary one is dropped (loaded again when next read).
  WatchedCache(Kv& kv, std::string_view prefix, KeyOf key_of = nullptr, size_t capacity = 4096)
      : capacity_(capacity) {
    watch_ = kv.Watch(prefix, [this, key_of = std::move(key_of)](const WatchEvent& event) {
      if (event.type == WatchEvent::Type::kReset) {
        Clear();
      } else {
        Drop(key_of ? key_of(event.kv.key) : event.kv.key);
      }
    });
  }

  // Unwatched: the owner calls Drop or Clear on every change that concerns it.
  explicit WatchedCache(size_t capacity = 4096) : capacity_(capacity) {}

  // Stops watching before anything else goes.
  ~WatchedCache() { watch_.reset(); }

  WatchedCache(const WatchedCache&) = delete;
  WatchedCache& operator=(const WatchedCache&) = delete;

  // The value cached for `key`, or null (also while this process is writing
  // the key); `mod_revision` is set to the revision it was parsed from.
  std::shared_ptr<const T> Find(std::string_view key, int64_t& mod_revision) const {
    std::shared_lock lock(mu_);
    if (!writing_.empty() && writing_.contains(key)) return nullptr;
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    mod_revision = it->second.mod_revision;
    return it->second.value;
  }
  std::shared_ptr<const T> Find(std::string_view key) const {
    int64_t unused;
    return Find(key, unused);
  }

  // The value parsed from `key` at `mod_revision` (which a Get just
  // returned), or null.
  std::shared_ptr<const T> FindAt(std::string_view key, int64_t mod_revision) const {
    std::shared_lock lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.mod_revision != mod_revision) return nullptr;
    return it->second.value;
  }

  // Taken before the store read whose result is then Put.
  uint64_t Generation() const {
    std::shared_lock lock(mu_);
    return generation_;
  }

  // Keeps `value`, parsed from `key` at `mod_revision` as read after
  // Generation() returned `generation`; not when anything was invalidated
  // since, the key is being written, or a newer revision is kept.
  void Put(std::string key, int64_t mod_revision, uint64_t generation,
           std::shared_ptr<const T> value) {
    std::shared_ptr<const T> dropped;  // released outside the lock
    std::unique_lock lock(mu_);
    if (generation != generation_ || writing_.contains(key)) return;
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      if (it->second.mod_revision > mod_revision) return;
      dropped = std::exchange(it->second.value, std::move(value));
      it->second.mod_revision = mod_revision;
      return;
    }
    if (entries_.size() >= capacity_) {
      dropped = std::move(entries_.begin()->second.value);
      entries_.erase(entries_.begin());
    }
    entries_.emplace(std::move(key), Entry{mod_revision, std::move(value)});
  }

  // Drops the value of `key` (e.g. once it changed or is gone from the store).
  void Drop(std::string_view key) {
    std::shared_ptr<const T> dropped;  // released outside the lock
    std::unique_lock lock(mu_);
    dropped = DropLocked(key);
  }

  // Drops every value (e.g. on a change whose reach is unknown).
  void Clear() {
    Map<Entry> dropped;  // released outside the lock
    std::unique_lock lock(mu_);
    ++generation_;
    dropped.swap(entries_);
  }

  // Held by a writer of this process around its Commit of `key`: meanwhile
  // the key bypasses the cache; on destruction its value is dropped, so what
  // anyone reads next is the store's.
  class [[nodiscard]] Writing {
   public:
    Writing(WatchedCache& cache, std::string key) : cache_(&cache), key_(std::move(key)) {
      std::unique_lock lock(cache_->mu_);
      ++cache_->writing_[key_];
    }
    ~Writing() {
      if (cache_ == nullptr) return;
      std::shared_ptr<const T> dropped;  // released outside the lock
      std::unique_lock lock(cache_->mu_);
      dropped = cache_->DropLocked(key_);
      auto it = cache_->writing_.find(key_);
      if (--it->second == 0) cache_->writing_.erase(it);
    }
    Writing(Writing&& other) noexcept
        : cache_(std::exchange(other.cache_, nullptr)), key_(std::move(other.key_)) {}
    Writing(const Writing&) = delete;
    Writing& operator=(const Writing&) = delete;
    Writing& operator=(Writing&&) = delete;

   private:
    WatchedCache* cache_;
    std::string key_;
  };

  Writing Write(std::string key) { return Writing(*this, std::move(key)); }

 private:
  struct Entry {
    int64_t mod_revision = 0;
    std::shared_ptr<const T> value;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  template <class V>
  using Map = std::unordered_map<std::string, V, Hash, std::equal_to<>>;

  // mu_ held; returns the dropped value, for the caller to release unlocked.
  std::shared_ptr<const T> DropLocked(std::string_view key) {
    ++generation_;
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    std::shared_ptr<const T> dropped = std::move(it->second.value);
    entries_.erase(it);
    return dropped;
  }

  const size_t capacity_;
  mutable std::shared_mutex mu_;
  Map<Entry> entries_;
  Map<int> writing_;         // keys being written by this process, with their writers
  uint64_t generation_ = 0;  // bumped by every invalidation
  std::unique_ptr<WatchHandle> watch_;
};

}  // namespace berth::store
