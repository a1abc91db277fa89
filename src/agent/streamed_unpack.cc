#include "agent/streamed_unpack.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "agent/registry/errors.h"

namespace berth::agent {

struct StreamedUnpack::Feed {
  std::deque<std::string> chunks;
  size_t front_offset = 0;   // bytes of chunks.front() already read
  int64_t received = 0;      // bytes seen from offset 0 on, in order
  int64_t queued = 0;        // bytes in chunks not yet read
  bool streamable = true;    // every byte from 0 to `received` was seen and kept
  bool started = false;      // the thread began applying these bytes
  bool committed = false;
};

// The feed being applied as an unpack::Source: blocks until bytes arrive; the end is the
// descriptor's size. Fails when the stream cannot go on: cancelled, discarded (tainted_), or
// never started for this layer (a resumed download, or a blob another writer committed):
// fell_back() then says the layer must be read from the store, nothing of it having been read.
class StreamedUnpack::FeedSource final : public unpack::Source {
 public:
  FeedSource(StreamedUnpack& owner, Feed& feed, int64_t size)
      : owner_(owner), feed_(feed), size_(size) {}
  Result<size_t> Read(char* buffer, size_t size) override {
    std::unique_lock lock(owner_.mu_);
    owner_.cv_.wait(lock, [&] {
      return owner_.cancelled_ || owner_.tainted_ || !feed_.streamable || !feed_.chunks.empty() ||
             feed_.received >= size_ || feed_.committed;
    });
    if (owner_.cancelled_ || owner_.tainted_) {
      return Fail("Cancelled", "the layer's download was abandoned or discarded");
    }
    // Committed without all its bytes coming through here (another writer's): never whole.
    bool ended = feed_.committed && feed_.chunks.empty() && feed_.received < size_;
    if (!feed_.streamable || ended) {
      if (read_ == 0) {
        fell_back_ = true;
      } else {
        owner_.tainted_ = true;  // part of it is applied: only a rebuild is safe
        owner_.cv_.notify_all();
      }
      return Fail("Cancelled", "the layer's bytes do not all come through the download");
    }
    if (feed_.chunks.empty()) return size_t{0};
    const std::string& front = feed_.chunks.front();
    size_t n = std::min(size, front.size() - feed_.front_offset);
    std::memcpy(buffer, front.data() + feed_.front_offset, n);
    feed_.front_offset += n;
    feed_.queued -= static_cast<int64_t>(n);
    owner_.buffered_ -= static_cast<int64_t>(n);
    read_ += static_cast<int64_t>(n);
    if (feed_.front_offset == front.size()) {
      owner_.Recycle(std::move(feed_.chunks.front()));
      feed_.chunks.pop_front();
      feed_.front_offset = 0;
    }
    owner_.cv_.notify_all();  // room for the download
    return n;
  }
  bool fell_back() const { return fell_back_; }

 private:
  StreamedUnpack& owner_;
  Feed& feed_;
  const int64_t size_;
  int64_t read_ = 0;  // bytes handed to the extractor
  bool fell_back_ = false;
};

StreamedUnpack::StreamedUnpack(content::Store& store, std::string rootfs, std::string image,
                               const unpack::UnpackOptions& options)
    : store_(store), rootfs_(std::move(rootfs)), image_(std::move(image)), options_(options) {}

StreamedUnpack::~StreamedUnpack() { Cancel(); }

void StreamedUnpack::Start(const std::vector<content::Descriptor>& layers) {
  std::lock_guard lock(mu_);
  layers_ = layers;
  for (const auto& layer : layers_) feeds_.try_emplace(layer.digest);
  thread_ = std::thread([this] { Run(); });
}

void StreamedUnpack::Committed(const content::Descriptor& blob) {
  std::lock_guard lock(mu_);
  auto it = feeds_.find(blob.digest);
  if (it == feeds_.end()) return;
  it->second.committed = true;
  cv_.notify_all();
}

bool StreamedUnpack::Written(const content::Descriptor& blob, int64_t offset,
                             std::string_view bytes) {
  std::unique_lock lock(mu_);
  auto it = feeds_.find(blob.digest);
  if (it == feeds_.end() || done_ || tainted_) return false;
  Feed& feed = it->second;
  if (!feed.streamable) return false;
  auto drop = [&] {
    feed.streamable = false;
    buffered_ -= feed.queued;
    feed.chunks.clear();
    feed.queued = 0;
    cv_.notify_all();
  };
  // A resumed download (its start was in a .partial) or a gap: read it from the store.
  if (offset != feed.received) {
    drop();
    return false;
  }
  int64_t size = static_cast<int64_t>(bytes.size());
  if (&feed == consuming_) {
    cv_.wait(lock, [&] {
      return feed.queued < kMaxQueued || &feed != consuming_ || cancelled_ || done_;
    });
    if (&feed != consuming_ || cancelled_ || done_) {
      drop();
      return false;
    }
  } else if (feed.started || buffered_ + size > kMaxBuffered) {
    drop();
    return false;
  }
  std::string chunk;
  if (!spare_.empty()) {  // a buffer already faulted in: fresh pages cost more than the copy
    chunk = std::move(spare_.back());
    spare_.pop_back();
  }
  chunk.assign(bytes);
  feed.chunks.push_back(std::move(chunk));
  feed.queued += size;
  feed.received += size;
  buffered_ += size;
  cv_.notify_all();
  return true;
}

void StreamedUnpack::Recycle(std::string chunk) {
  if (spare_.size() < kSpareChunks) spare_.push_back(std::move(chunk));
}

void StreamedUnpack::Discarded(const content::Descriptor& blob) {
  std::lock_guard lock(mu_);
  auto it = feeds_.find(blob.digest);
  if (it == feeds_.end()) return;
  Feed& feed = it->second;
  // Bytes of it are in the rootfs already: only a rebuild from the store is safe.
  if (feed.started) tainted_ = true;
  buffered_ -= feed.queued;
  feed.chunks.clear();
  feed.front_offset = 0;
  feed.queued = 0;
  feed.received = 0;
  feed.streamable = !feed.started;  // the next attempt streams from 0 if nothing was applied
  cv_.notify_all();
}

void StreamedUnpack::Cancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

Status StreamedUnpack::Finish() {
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  if (tainted_) return {};
  if (!status_) return status_;
  if (!applied_all_) return InternalFailure("the layers were never resolved");
  return {};
}

bool StreamedUnpack::tainted() const {
  std::lock_guard lock(mu_);
  return tainted_;
}

namespace {

Error LayerPullError(const std::string& image, const std::vector<content::Descriptor>& layers,
                     size_t i, const Error& why) {
  return registry::PullError(image,
                             fmt::format("layer {} of {} ({}): {}", i + 1, layers.size(),
                                         layers[i].digest, why.message),
                             why.http_status);
}

}  // namespace

Status ApplyImageLayer(const content::Store& store, const std::string& rootfs,
                       const std::string& image, const std::vector<content::Descriptor>& layers,
                       size_t i, const unpack::UnpackOptions& options) {
  Status applied = unpack::ApplyLayer(rootfs, store, layers[i], options);
  if (!applied) return Fail(LayerPullError(image, layers, i, applied.error()));
  return {};
}

// Applies layer i from its feed, then waits for the blob's commit: only then does the outcome
// count (an error of bytes the fetcher then discards is no error: tainted_ says so).
Status StreamedUnpack::ApplyStreamed(size_t i, Feed& feed) {
  FeedSource source(*this, feed, layers_[i].size);
  Status applied = unpack::ApplyLayerFrom(rootfs_, source, layers_[i].media_type, options_);
  std::unique_lock lock(mu_);
  consuming_ = nullptr;
  buffered_ -= feed.queued;  // what the extractor left unread (an error, or past the tar's end)
  feed.chunks.clear();
  feed.queued = 0;
  cv_.notify_all();
  cv_.wait(lock, [&] { return cancelled_ || tainted_ || feed.committed; });
  if (cancelled_) return Fail("Cancelled", "the pull was abandoned");
  if (tainted_) return {};
  if (source.fell_back()) {
    lock.unlock();
    return ApplyImageLayer(store_, rootfs_, image_, layers_, i, options_);
  }
  if (!applied) return Fail(LayerPullError(image_, layers_, i, applied.error()));
  return {};
}



void StreamedUnpack::Run() {
  Status status;
  for (size_t i = 0; i < layers_.size() && status; ++i) {
    Feed* feed = nullptr;
    bool stream = false;
    {
      std::unique_lock lock(mu_);
      feed = &feeds_[layers_[i].digest];
      // A layer the store has is read from it; one arriving now (or kept in memory) streams;
      // another (a repeated digest, a dropped stream) waits for its commit.
      if (!feed->committed && !feed->started && store_.Has(layers_[i].digest)) {
        feed->committed = true;
      }
      cv_.wait(lock, [&] {
        return cancelled_ || tainted_ || feed->committed || (feed->streamable && !feed->started);
      });
      if (cancelled_) {
        status = Fail("Cancelled", "the pull was abandoned");
        break;
      }
      if (tainted_) break;
      stream = feed->streamable && !feed->started &&
               (!feed->committed || feed->received == layers_[i].size);
      feed->started = true;
      if (stream) consuming_ = feed;
    }
    status = stream ? ApplyStreamed(i, *feed)
                    : ApplyImageLayer(store_, rootfs_, image_, layers_, i, options_);
  }
  std::lock_guard lock(mu_);
  status_ = std::move(status);
  applied_all_ = status_.has_value() && !cancelled_ && !tainted_;
  done_ = true;
  cv_.notify_all();
}

}  // namespace berth::agent
