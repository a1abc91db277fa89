// Directories written without fsync (an unpacked image: thousands of files, each fsync on a
// task's start path) made durable later, all at once, and recognised after a host crash.
//
// Before a directory's content is renamed into place, Mark writes the marker file
// `kUnsyncedMarker` in it, naming the kernel's boot (boot_id). A thread of the tracker, `delay`
// after the first Mark of a batch, syncs the filesystem holding `root` (syncfs) and then
// removes the markers of the batch. The marker is created before the rename, and a
// filesystem journals its metadata in order, so after a power loss a renamed content always
// comes with its marker unless the sync had finished. An agent starting later calls
// Lost(dir): a marker of another boot, or an empty one (its creation journaled, its bytes
// lost), means the content may be torn (files of the right names and wrong bytes) and must
// not be used; a marker of this boot means the process died before
// syncing, the page cache still holds everything, and the directory is marked again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"

namespace berth::agent::engine {

inline constexpr char kUnsyncedMarker[] = ".unsynced-boot";

struct SyncTrackerOptions {
  std::string root;  // a directory on the filesystem to sync (syncfs)
  std::chrono::milliseconds delay{1000};
  std::string boot_id;  // "": /proc/sys/kernel/random/boot_id (tests give their own)
};

class SyncTracker {
 public:
  explicit SyncTracker(SyncTrackerOptions options);
  ~SyncTracker();  // stops the thread; markers not yet removed stay for the next process
  SyncTracker(const SyncTracker&) = delete;
  SyncTracker& operator=(const SyncTracker&) = delete;

  // Writes dir/kUnsyncedMarker (an existing directory, on root's filesystem) and queues it
  // for the next sync. Fails when the marker cannot be written: then the caller must not
  // rename unsynced content into place.
  Status Mark(const std::string& dir);
  // At start, for a directory an earlier process finished: true when its marker names
  // another boot (the caller removes the content); with a marker of this boot the directory
  // is queued again. False without a marker.
  bool Lost(const std::string& dir);
  // Syncs now what is queued and removes its markers (for tests and shutdown paths).
  Status Flush();

  const std::string& boot_id() const { return boot_id_; }

 private:
  void Run();
  Status SyncBatch(std::vector<std::string> batch);

  const SyncTrackerOptions options_;
  const std::string boot_id_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> queued_;
  bool stop_ = false;
  std::mutex sync_mu_;  // one sync at a time
  std::thread thread_;
};

}  // namespace berth::agent::engine
