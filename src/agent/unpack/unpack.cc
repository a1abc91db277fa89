#include "agent/unpack/unpack.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "agent/unpack/decompress.h"
#include "agent/unpack/extractor.h"
#include "agent/unpack/root_dir.h"

namespace berth::agent::unpack {

namespace {

constexpr size_t kMaxQueuedBytes = 8 << 20;

std::unexpected<Error> UnpackError(std::string message) {
  return Fail("LayerUnpackError", std::move(message), 500);
}

std::unexpected<Error> Prefixed(std::string_view prefix, const Error& error) {
  return UnpackError(fmt::format("{}: {}", prefix, error.message));
}

// A committed blob as a Source, read straight from its file.
class BlobSource final : public Source {
 public:
  explicit BlobSource(content::BlobReader& blob) : blob_(blob) {}
  Result<size_t> Read(char* buffer, size_t size) override {
    auto n = blob_.Read(buffer, size);
    if (!n) return UnpackError(n.error().message);
    return *n;
  }

 private:
  content::BlobReader& blob_;
};

// Runs `inner` (the decompressor) on its own thread, a few MiB ahead of the
// reader (the extractor), so inflating and writing files use both cores.
class PrefetchSource final : public Source {
 public:
  explicit PrefetchSource(Source& inner) : inner_(inner), worker_([this] { Run(); }) {}
  ~PrefetchSource() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    worker_.join();
  }

  Result<size_t> Read(char* buffer, size_t size) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !chunks_.empty() || finished_; });
    if (chunks_.empty()) {
      if (!result_) return Fail(result_.error());
      return 0;
    }
    std::string& front = chunks_.front();
    size_t n = std::min(size, front.size() - front_offset_);
    std::memcpy(buffer, front.data() + front_offset_, n);
    front_offset_ += n;
    if (front_offset_ == front.size()) {
      chunks_.pop_front();
      front_offset_ = 0;
      cv_.notify_all();
    }
    return n;
  }

 private:
  static constexpr size_t kChunk = 1 << 20;
  static constexpr size_t kMaxChunks = 4;

  void Run() {
    Status status;
    for (;;) {
      std::string chunk(kChunk, '\0');
      auto n = inner_.Read(chunk.data(), chunk.size());
      if (!n) {
        status = Fail(n.error());
        break;
      }
      if (*n == 0) break;
      chunk.resize(*n);
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || chunks_.size() < kMaxChunks; });
      if (stop_) return;
      chunks_.push_back(std::move(chunk));
      cv_.notify_all();
    }
    std::lock_guard lock(mu_);
    result_ = std::move(status);
    finished_ = true;
    cv_.notify_all();
  }

  Source& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> chunks_;
  size_t front_offset_ = 0;
  bool stop_ = false;
  bool finished_ = false;
  Status result_;
  std::thread worker_;  // last: starts once the members above exist
};

// Counts a layer's uncompressed bytes; fails once they pass the limit, so a
// layer built to expand without end stops being inflated there.
class LimitedSource final : public Source {
 public:
  LimitedSource(Source& inner, int64_t max_bytes) : inner_(inner), max_bytes_(max_bytes) {}
  Result<size_t> Read(char* buffer, size_t size) override {
    size_t n = BERTH_TRY(inner_.Read(buffer, size));
    total_ += static_cast<int64_t>(n);
    if (max_bytes_ > 0 && total_ > max_bytes_) {
      return UnpackError(fmt::format(
          "the layer expands to more than {} bytes uncompressed, the limit for one layer",
          max_bytes_));
    }
    return n;
  }

 private:
  Source& inner_;
  const int64_t max_bytes_;
  int64_t total_ = 0;
};

Status CheckMediaType(std::string_view media_type) {
  if (IsSupportedLayerMediaType(media_type)) return {};
  return UnpackError(fmt::format("unsupported layer media type \"{}\"", media_type));
}

}  // namespace

bool IsSupportedLayerMediaType(std::string_view media_type) {
  static constexpr std::array<std::string_view, 10> kTypes = {
      "",
      "application/vnd.oci.image.layer.v1.tar",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
      "application/vnd.oci.image.layer.nondistributable.v1.tar",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
      "application/vnd.docker.image.rootfs.diff.tar",
      "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  };
  for (std::string_view t : kTypes) {
    if (t == media_type) return true;
  }
  return false;
}

namespace {

Status Apply(const std::string& rootfs, Source& source, std::string_view media_type,
             const UnpackOptions& options, bool prefetch) {
  BERTH_CHECK(CheckMediaType(media_type));
  RootDir root = BERTH_TRY(RootDir::Open(rootfs));
  Compression compression = Compression::kNone;
  std::unique_ptr<Source> tar = BERTH_TRY(Decompress(source, options.gzip, &compression));
  LimitedSource limited(*tar, options.max_bytes);
  if (prefetch && compression != Compression::kNone) {
    PrefetchSource ahead(limited);
    return ExtractTar(root, ahead, options);
  }
  return ExtractTar(root, limited, options);
}

}  // namespace

Status ApplyLayerFrom(const std::string& rootfs, Source& source, std::string_view media_type,
                      const UnpackOptions& options) {
  // No decompression thread: `source` may block on the network, and the
  // caller's thread (LayerStream's worker) already runs beside the download.
  return Apply(rootfs, source, media_type, options, /*prefetch=*/false);
}

Status ApplyLayer(const std::string& rootfs, const content::Store& store,
                  const content::Descriptor& layer, const UnpackOptions& options) {
  auto blob = store.OpenBlob(layer.digest);
  if (!blob) return std::unexpected<Error>(std::move(blob.error()));
  BlobSource source(*blob);
  Status st = Apply(rootfs, source, layer.media_type, options, /*prefetch=*/true);
  if (!st) return UnpackError(st.error().message);
  return {};
}

Status Unpack(const std::string& rootfs, const content::Store& store,
              const std::vector<content::Descriptor>& layers, const UnpackOptions& options) {
  if (::mkdir(rootfs.c_str(), 0755) != 0 && errno != EEXIST) {
    return UnpackError(fmt::format("create rootfs {}: {}", rootfs, std::strerror(errno)));
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    Status st = ApplyLayer(rootfs, store, layers[i], options);
    if (!st) {
      return Prefixed(fmt::format("layer {} of {} ({})", i + 1, layers.size(), layers[i].digest),
                      st.error());
    }
  }
  return {};
}

// The queue between Write() (the downloading thread) and the worker, which
// pulls from it as a Source.
struct LayerStream::Impl final : Source {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> chunks;
  size_t front_offset = 0;
  size_t queued = 0;
  bool closed = false;     // Finish() called: no more bytes
  bool abandoned = false;  // destroyed without Finish()
  bool done = false;       // the worker returned `result`
  Status result;
  std::thread worker;

  Result<size_t> Read(char* buffer, size_t size) override {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return !chunks.empty() || closed || abandoned; });
    if (abandoned) return UnpackError("layer stream abandoned before its end");
    if (chunks.empty()) return 0;
    const std::string& front = chunks.front();
    size_t n = std::min(size, front.size() - front_offset);
    std::memcpy(buffer, front.data() + front_offset, n);
    front_offset += n;
    queued -= n;
    if (front_offset == front.size()) {
      chunks.pop_front();
      front_offset = 0;
    }
    cv.notify_all();
    return n;
  }
};

LayerStream::LayerStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<LayerStream>> LayerStream::Start(const std::string& rootfs,
                                                        std::string_view media_type,
                                                        const UnpackOptions& options) {
  BERTH_CHECK(CheckMediaType(media_type));
  auto impl = std::make_unique<Impl>();
  Impl* raw = impl.get();
  raw->worker = std::thread([raw, rootfs, type = std::string(media_type), options] {
    Status st = ApplyLayerFrom(rootfs, *raw, type, options);
    std::lock_guard lock(raw->mu);
    raw->result = std::move(st);
    raw->done = true;
    raw->cv.notify_all();
  });
  return std::unique_ptr<LayerStream>(new LayerStream(std::move(impl)));
}

LayerStream::~LayerStream() {
  if (!impl_->worker.joinable()) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->abandoned = true;
    impl_->cv.notify_all();
  }
  impl_->worker.join();
}

Status LayerStream::Write(std::string_view bytes) {
  std::unique_lock lock(impl_->mu);
  if (impl_->closed) return UnpackError("layer stream written after Finish");
  impl_->cv.wait(lock, [&] { return impl_->done || impl_->queued < kMaxQueuedBytes; });
  if (impl_->done) {
    if (!impl_->result) return Fail(impl_->result.error());
    return {};  // the worker has read all it needs (it only stops early on errors)
  }
  if (bytes.empty()) return {};
  impl_->chunks.emplace_back(bytes);
  impl_->queued += bytes.size();
  impl_->cv.notify_all();
  return {};
}

Status LayerStream::Finish() {
  if (!impl_->worker.joinable()) return UnpackError("layer stream already finished");
  {
    std::lock_guard lock(impl_->mu);
    impl_->closed = true;
    impl_->cv.notify_all();
  }
  impl_->worker.join();
  return impl_->result;
}

}  // namespace berth::agent::unpack
