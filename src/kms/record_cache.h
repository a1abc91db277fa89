// Records parsed from the store, kept by store key with the mod_revision they
// were parsed from, so that read paths read, parse (and unseal, decode)
// nothing per request. Used by KMS (key records with their unsealed material)
// and Secrets Manager (secret records with their versions' sealed values).
// Thread-safe.
//
// Watched: the cache watches a prefix of the store, and any change under it
// drops the record it concerns (a record that keeps other keys' data with it,
// as a secret its versions' values, maps those keys to itself: KeyOf). A
// writer of this process holds a Writing guard on the key around its Commit:
// meanwhile the key bypasses the cache, and the guard drops it before the
// writer goes on. So a write made through this process is seen by every read
// that starts after the write returns; a write by anyone else (another writer
// of the store, a future shared backend) once its watch event arrives, as
// AWS's own eventual consistency. A fill passes the generation taken before
// its store read, and is not kept when anything changed meanwhile
// (iam::IdentityStore does the same).
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

namespace berth::kms {

template <class T>
class RecordCache {
 public:
  // Which cached record a change to `store_key` concerns (empty: none).
  using KeyOf = std::function<std::string(std::string_view store_key)>;

  // Watches `prefix` of `kv`, which must outlive the cache. Without `key_of`
  // a change concerns the record of its own key. At most `capacity` records;
  // beyond it an arbitrary one is dropped (parsed again when next read).
  RecordCache(store::Kv& kv, std::string_view prefix, KeyOf key_of = nullptr,
              size_t capacity = 4096)
      : capacity_(capacity) {
    watch_ = kv.Watch(prefix, [this, key_of = std::move(key_of)](const store::WatchEvent& event) {
      Drop(key_of ? key_of(event.kv.key) : event.kv.key);
    });
  }

  // Stops watching before anything else goes.
  ~RecordCache() { watch_.reset(); }

  RecordCache(const RecordCache&) = delete;
  RecordCache& operator=(const RecordCache&) = delete;

  // The record cached for `key` and the mod_revision it was parsed from, or
  // null (also while this process is writing the key).
  std::shared_ptr<const T> Find(std::string_view key, int64_t& mod_revision) const {
    std::shared_lock lock(mu_);
    if (!writing_.empty() && writing_.contains(key)) return nullptr;
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    mod_revision = it->second.mod_revision;
    return it->second.value;
  }

  // The record parsed from `key` at `mod_revision` (which a Get just
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
  // Generation() returned `generation`; not when anything changed since, the
  // key is being written, or a newer revision is kept.
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

  // Drops the record of `key` (e.g. once it is gone from the store).
  void Drop(std::string_view key) {
    std::shared_ptr<const T> dropped;  // released outside the lock
    std::unique_lock lock(mu_);
    dropped = DropLocked(key);
  }

  // Held by a writer of this process around its Commit of `key`: meanwhile
  // the key bypasses the cache; on destruction its record is dropped, so what
  // anyone reads next is the store's.
  class [[nodiscard]] Writing {
   public:
    Writing(RecordCache& cache, std::string key) : cache_(&cache), key_(std::move(key)) {
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
    RecordCache* cache_;
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

  // mu_ held; returns the dropped record, for the caller to release unlocked.
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
  uint64_t generation_ = 0;  // bumped by every change seen or made
  std::unique_ptr<store::WatchHandle> watch_;
};

}  // namespace berth::kms
