// Records parsed from the store, kept by store key with the mod_revision they
// were parsed from, so that read paths parse (and unseal, decode) nothing
// twice. Used by KMS (key records with their unsealed material) and Secrets
// Manager (secret and version records). Thread-safe.
//
// Two ways to trust an entry:
//  * Validated: Find(key, mod_revision) with the mod_revision a fresh
//    store::Kv::Get just returned. In the store a (key, mod_revision) pair
//    names one value for good (every write gives the key a new, larger
//    mod_revision, a deleted and re-created key too), so a hit is exactly what
//    parsing the bytes just read would give: any change by anyone is seen by
//    the next read. Saves the parsing, not the Get.
//  * Watched (a cache constructed with a store and a prefix): Find(key) with
//    no store read at all. An entry is dropped by the store watch on any
//    change under the prefix and, for writers of this process, synchronously:
//    a writer holds a Writing guard on the key around its Commit, during which
//    the key bypasses the cache, and which drops the key before the writer
//    goes on. So this process's writes are seen by every read that starts
//    after the write returns; a write by anyone else (another writer of the
//    store, a future shared backend) once its watch event arrives, as AWS's
//    own eventual consistency. Fills use a generation taken before the store
//    read, so a read that raced with a change is not kept (iam::IdentityStore
//    does the same). A record may keep data of other store keys with it (a
//    secret its versions' values): the watch then maps those keys to it.
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
  // Validated lookups only. At most `capacity` records; beyond it an
  // arbitrary one is dropped (parsed again when next read).
  explicit RecordCache(size_t capacity = 4096) : capacity_(capacity) {}

  // Which cached record a change to a store key invalidates: the key itself
  // by default; a record that keeps other keys' data with it maps those keys
  // to its own (empty: none).
  using KeyOf = std::function<std::string(std::string_view store_key)>;

  // Validated and watched lookups: watches `prefix` of `kv`, which must
  // outlive the cache.
  RecordCache(store::Kv& kv, std::string_view prefix, KeyOf key_of = nullptr,
              size_t capacity = 4096)
      : capacity_(capacity) {
    watch_ = kv.Watch(prefix, [this, key_of = std::move(key_of)](const store::WatchEvent& event) {
      std::string mapped = key_of ? key_of(event.kv.key) : std::string();
      std::string_view key = key_of ? std::string_view(mapped) : std::string_view(event.kv.key);
      std::shared_ptr<const T> dropped;  // released outside the lock
      std::unique_lock lock(mu_);
      ++generation_;
      auto it = entries_.find(key);
      if (it == entries_.end()) return;
      dropped = std::move(it->second.value);
      entries_.erase(it);
    });
  }

  // Stops watching before anything else goes.
  ~RecordCache() { watch_.reset(); }

  RecordCache(const RecordCache&) = delete;
  RecordCache& operator=(const RecordCache&) = delete;

  // Validated: the record parsed from `key` at `mod_revision`, or null.
  std::shared_ptr<const T> Find(std::string_view key, int64_t mod_revision) const {
    std::shared_lock lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.mod_revision != mod_revision) return nullptr;
    return it->second.value;
  }

  // Watched: the record cached for `key` and the mod_revision it was parsed
  // from, or null (always null without a watch, and while this process is
  // writing the key).
  std::shared_ptr<const T> Find(std::string_view key, int64_t* mod_revision) const {
    if (!watch_) return nullptr;
    std::shared_lock lock(mu_);
    if (!writing_.empty() && writing_.contains(key)) return nullptr;
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    *mod_revision = it->second.mod_revision;
    return it->second.value;
  }

  // Taken before the store read whose result is then Put.
  uint64_t Generation() const {
    std::shared_lock lock(mu_);
    return generation_;
  }

  // Keeps `value`, parsed from `key` at `mod_revision` as read after
  // Generation() returned `generation`; not when something under the prefix
  // changed since (with a watch), the key is being written, or a newer
  // revision is kept.
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

  // Drops `key` (e.g. once it is gone from the store).
  void Erase(std::string_view key) {
    std::shared_ptr<const T> dropped;
    std::unique_lock lock(mu_);
    ++generation_;
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    dropped = std::move(it->second.value);
    entries_.erase(it);
  }

  // Held by a writer of this process around its Commit of `key`: meanwhile
  // the key bypasses the cache; on destruction it is dropped, so what the
  // writer (or anyone) reads next is the store's.
  class [[nodiscard]] Writing {
   public:
    Writing(RecordCache& cache, std::string key) : cache_(&cache), key_(std::move(key)) {
      std::unique_lock lock(cache_->mu_);
      ++cache_->writing_[key_];
    }
    ~Writing() {
      if (cache_ == nullptr) return;
      std::shared_ptr<const T> dropped;
      std::unique_lock lock(cache_->mu_);
      ++cache_->generation_;
      if (auto it = cache_->entries_.find(key_); it != cache_->entries_.end()) {
        dropped = std::move(it->second.value);
        cache_->entries_.erase(it);
      }
      auto w = cache_->writing_.find(key_);
      if (--w->second == 0) cache_->writing_.erase(w);
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

  size_t size() const {
    std::shared_lock lock(mu_);
    return entries_.size();
  }

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

  const size_t capacity_;
  mutable std::shared_mutex mu_;
  Map<Entry> entries_;
  Map<int> writing_;  // keys being written by this process, with their writer count
  uint64_t generation_ = 0;  // bumped by every change seen or made
  std::unique_ptr<store::WatchHandle> watch_;
};

}  // namespace berth::kms
