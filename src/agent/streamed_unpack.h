// A first pull's layers applied to a rootfs while they download (image_pull.cc): each layer's
// bytes come from the fetcher's BlobTap as the store's writer takes them and go through the
// decompressor and extractor at once, so the image is unpacked about when its last byte
// arrives, and layers are never read back from the store.
//
// Layers are applied in order, bottom first, on a thread of this class. The bytes of a layer
// that is not yet its turn are kept in memory (kMaxBuffered in all, beyond which that layer is
// read from the store once committed instead). Nothing streamed is trusted until the fetcher
// commits the blob (the store verified its size and digest): a layer counts as applied only
// after its commit, and Finish waits for every one. When bytes already applied are discarded
// by the fetcher (a digest mismatch refetched, a server ignoring Range), the rootfs is
// unusable: Finish reports it as tainted and the caller discards it and unpacks the committed
// blobs instead. An extraction error of bytes that are later discarded is not an error.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/content/store.h"
#include "agent/registry/fetcher.h"
#include "agent/unpack/unpack.h"
#include "common/error.h"

namespace berth::agent {

// Applies layer `i` of `layers` (bottom first, committed blobs of `store`) to `rootfs`. Errors
// are CannotPullContainerError "<image>: layer i of n (<digest>): <why>".
Status ApplyImageLayer(const content::Store& store, const std::string& rootfs,
                       const std::string& image, const std::vector<content::Descriptor>& layers,
                       size_t i, const unpack::UnpackOptions& options);

class StreamedUnpack final : public registry::BlobTap {
 public:
  // Bytes of layers not yet applied kept in memory at most, all layers together.
  static constexpr int64_t kMaxBuffered = int64_t{64} << 20;
  // Bytes of the layer being applied queued at most; its download then waits for the extractor.
  static constexpr int64_t kMaxQueued = int64_t{8} << 20;
  // Buffers of read chunks kept for reuse (the fetcher's blocks are 1 MiB).
  static constexpr size_t kSpareChunks = 12;

  // Layers go into `rootfs` (an existing directory); errors name `image`. `store` and
  // `options` outlive this.
  StreamedUnpack(content::Store& store, std::string rootfs, std::string image,
                 const unpack::UnpackOptions& options);
  ~StreamedUnpack() override;  // Cancel()

  // PullOptions::on_resolved: the layers, bottom first; starts the thread.
  void Start(const std::vector<content::Descriptor>& layers);
  // FetchOptions::on_committed: `blob` is verified and in the store.
  void Committed(const content::Descriptor& blob);
  // registry::BlobTap.
  // True when the bytes were queued for the layer's streamed apply; false when the layer
  // will be read from the store once committed (not streamed, or dropped now).
  bool Written(const content::Descriptor& blob, int64_t offset, std::string_view bytes) override;
  void Discarded(const content::Descriptor& blob) override;

  // Stops applying (the pull failed); the rootfs is left half-written.
  void Cancel();
  // Waits until every layer is applied and committed. Errors: the first layer that cannot be
  // applied, as CannotPullContainerError "<image>: layer i of n (<digest>): <why>". OK with
  // tainted() true: bytes applied were discarded; the rootfs must be rebuilt from the store.
  Status Finish();
  bool tainted() const;

 private:
  struct Feed;  // one layer's bytes as they arrive
  class FeedSource;
  void Run();
  Status ApplyStreamed(size_t i, Feed& feed);
  void Recycle(std::string chunk);  // a read chunk's buffer, for the next Written (mu_ held)

  content::Store& store_;
  const std::string rootfs_;
  const std::string image_;
  const unpack::UnpackOptions& options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<content::Descriptor> layers_;  // not written once the thread runs
  std::map<std::string, Feed> feeds_;        // by digest
  std::vector<std::string> spare_;           // buffers of chunks read, reused
  int64_t buffered_ = 0;                     // bytes in every feed's chunks
  Feed* consuming_ = nullptr;                // the feed being applied
  bool cancelled_ = false;
  bool tainted_ = false;
  bool done_ = false;  // the thread returned
  bool applied_all_ = false;
  Status status_;
  std::thread thread_;
};

}  // namespace berth::agent
