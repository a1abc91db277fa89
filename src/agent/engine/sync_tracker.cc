#include "agent/engine/sync_tracker.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/fd.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"

namespace berth::agent::engine {

namespace {

std::string KernelBootId() {
  auto text = ReadSmallFile("/proc/sys/kernel/random/boot_id", 256);
  if (!text || !*text) return "unknown";
  return std::string(Trim(**text));
}

std::string MarkerOf(const std::string& dir) { return dir + "/" + kUnsyncedMarker; }

}  // namespace

SyncTracker::SyncTracker(SyncTrackerOptions options)
    : options_(std::move(options)),
      boot_id_(options_.boot_id.empty() ? KernelBootId() : options_.boot_id),
      thread_([this] { Run(); }) {}

SyncTracker::~SyncTracker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Status SyncTracker::Mark(const std::string& dir) {
  // Unsynced on purpose: ordered after the content's writes by the journal is enough (above).
  auto written = WriteFileAtomically(MarkerOf(dir), boot_id_ + "\n", 0644, Existing::kReplace,
                                     Durability::kUnsynced);
  if (!written) return Fail(written.error());
  {
    std::lock_guard lock(mu_);
    queued_.push_back(dir);
  }
  cv_.notify_all();
  return {};
}

bool SyncTracker::Lost(const std::string& dir) {
  auto text = ReadSmallFile(MarkerOf(dir), 256);
  if (text && !*text) return false;                      // no marker: synced
  if (!text || Trim(**text) != boot_id_) return true;   // unreadable, empty or another boot
  std::lock_guard lock(mu_);
  queued_.push_back(dir);
  cv_.notify_all();
  return false;
}

Status SyncTracker::Flush() {
  std::vector<std::string> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(queued_);
  }
  return SyncBatch(std::move(batch));
}

void SyncTracker::Run() {
  constexpr std::chrono::milliseconds kMaxRetryDelay{60'000};
  std::chrono::milliseconds delay = options_.delay;
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queued_.empty(); });
    if (stop_) return;
    // Marks arriving meanwhile (a burst of first pulls) share the sync.
    if (cv_.wait_for(lock, delay, [&] { return stop_; })) return;
    std::vector<std::string> batch;
    batch.swap(queued_);
    lock.unlock();
    Status synced = SyncBatch(std::move(batch));
    if (!synced) {
      log::Warn("cannot sync unpacked images", {{"error", synced.error().message}});
    }
    // A failing sync (the images' directory gone) is tried again less and less often.
    delay = synced ? options_.delay : std::min(delay * 2, std::max(kMaxRetryDelay, options_.delay));
    lock.lock();
  }
}

Status SyncTracker::SyncBatch(std::vector<std::string> batch) {
  if (batch.empty()) return {};
  std::lock_guard lock(sync_mu_);
  Fd root(::open(options_.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid() || ::syncfs(root.get()) != 0) {
    std::string why = std::strerror(errno);
    std::lock_guard requeue(mu_);  // tried again with the next batch
    queued_.insert(queued_.end(), batch.begin(), batch.end());
    return InternalFailure(fmt::format("syncfs {}: {}", options_.root, why));
  }
  // A removal lost to a crash leaves a marker of this boot: the next boot discards content
  // that was in fact whole, which costs a pull, never a torn image.
  for (const auto& dir : batch) ::unlink(MarkerOf(dir).c_str());
  return {};
}

}  // namespace berth::agent::engine
