#include "agent/content/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/fd.h"
#include "common/strings.h"
#include "crypto/sha256.h"

namespace berth::agent::content {

namespace {

constexpr std::string_view kSha256Prefix = "sha256:";
constexpr size_t kReadChunk = 1 << 20;
// Written data is handed to the kernel's writeback in chunks of this size.
constexpr int64_t kWritebackChunk = 8 << 20;

std::unexpected<BlobError> IoError(std::string_view what, const std::string& path,
                                   int err = errno) {
  return BlobFailure(BlobFault::kIo, fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

std::unexpected<BlobError> InvalidDigest(std::string_view digest) {
  return BlobFailure(BlobFault::kInvalidDigest,
                     fmt::format("invalid digest \"{}\": want sha256:<64 lower-case hex>", digest));
}

Status MkdirAll(const std::string& path, mode_t mode) {
  std::string prefix;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    prefix = path.substr(0, pos);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return IoError("mkdir", prefix);
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return IoError("stat", path);
  if (!S_ISDIR(st.st_mode)) return IoError("open store directory", path, ENOTDIR);
  return {};
}

BlobStatus FsyncDir(const std::string& path) {
  Fd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return IoError("open", path);
  if (::fsync(dir.get()) != 0) return IoError("fsync", path);
  return {};
}

// Writes `bytes` at *offset (pwrite: the buffered and the O_DIRECT
// descriptor of a file share no file position), hashing what was written.
BlobStatus WriteAll(int fd, std::string_view bytes, const std::string& path, crypto::Sha256* hasher,
                    int64_t* offset) {
  while (!bytes.empty()) {
    ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), *offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("write", path);
    }
    hasher->Update(bytes.data(), static_cast<size_t>(n));
    *offset += n;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

// Hashes the whole file from its start; leaves the file offset at its end.
BlobResult<int64_t> HashFile(int fd, const std::string& path, crypto::Sha256* hasher) {
  std::string buf(kReadChunk, '\0');
  int64_t total = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), total);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("read", path);
    }
    if (n == 0) break;
    hasher->Update(buf.data(), static_cast<size_t>(n));
    total += n;
  }
  if (::lseek(fd, total, SEEK_SET) < 0) return IoError("seek", path);
  return total;
}

std::string DigestOf(crypto::Sha256* hasher) {
  return std::string(kSha256Prefix) + HexEncode(crypto::AsBytes(hasher->Final()));
}

// True when `fd` is the file currently named `path` (not one renamed or
// unlinked away by a writer that held the lock before us).
bool StillNamed(int fd, const std::string& path) {
  struct stat by_fd, by_path;
  if (::fstat(fd, &by_fd) != 0 || ::lstat(path.c_str(), &by_path) != 0) return false;
  return by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino;
}

class FileWriter final : public Writer {
 public:
  FileWriter(Fd fd, Fd direct_fd, std::string partial_path, std::string blob_path,
             std::string blobs_dir, Descriptor expected, crypto::Sha256 hasher, int64_t offset)
      : fd_(std::move(fd)),
        direct_fd_(std::move(direct_fd)),
        partial_path_(std::move(partial_path)),
        blob_path_(std::move(blob_path)),
        blobs_dir_(std::move(blobs_dir)),
        expected_(std::move(expected)),
        hasher_(std::move(hasher)),
        offset_(offset) {}

  int64_t Offset() const override { return offset_; }

  void KeepCached(bool keep) override { keep_cached_ = keep; }

  BlobStatus Write(std::string_view bytes) override {
    if (!fd_.valid()) return Finished();
    if (expected_.size >= 0 && offset_ + static_cast<int64_t>(bytes.size()) > expected_.size) {
      int64_t got = offset_ + static_cast<int64_t>(bytes.size());
      Discard();
      return SizeMismatch(got, "at least ");
    }
    if (direct_fd_.valid() && !keep_cached_ && Aligned(bytes)) {
      int64_t before = offset_;
      auto direct = WriteAll(direct_fd_.get(), bytes, partial_path_, &hasher_, &offset_);
      if (direct) {
        writeback_from_ = offset_;  // nothing of it waits in the cache
        return {};
      }
      // Nothing written (EINVAL: the filesystem takes no O_DIRECT for this
      // file after all): write it, and the rest, the ordinary way.
      if (offset_ != before) return direct;
      direct_fd_.Reset();
    }
    if (auto written = WriteAll(fd_.get(), bytes, partial_path_, &hasher_, &offset_); !written) {
      return written;
    }
    // Start writing back what is written so far, without waiting for it, so
    // the fsync in Commit finds most of the blob already on disk instead of
    // writing all of it then. Only a head start: Commit's fsync is what makes
    // the blob durable, so a failure here is ignored.
    if (offset_ - writeback_from_ >= kWritebackChunk) {
      ::sync_file_range(fd_.get(), writeback_from_, offset_ - writeback_from_,
                        SYNC_FILE_RANGE_WRITE);
      writeback_from_ = offset_;
    }
    return {};
  }

  BlobStatus Commit() override {
    if (!fd_.valid()) return Finished();
    if (expected_.size >= 0 && offset_ != expected_.size) {
      int64_t got = offset_;
      Discard();
      return SizeMismatch(got, "");
    }
    std::string actual = DigestOf(&hasher_);
    if (actual != expected_.digest) {
      Discard();
      return BlobFailure(
          BlobFault::kDigestMismatch,
          fmt::format("blob digest mismatch: expected {}, got {}", expected_.digest, actual));
    }
    // Read-only before it becomes visible, durable before it is renamed, and
    // the rename itself durable before success is reported.
    if (::fchmod(fd_.get(), 0444) != 0) return Abandon("chmod");
    if (::fsync(fd_.get()) != 0) return Abandon("fsync");
    if (::rename(partial_path_.c_str(), blob_path_.c_str()) != 0) return Abandon("rename");
    direct_fd_.Reset();
    fd_.Reset();  // releases the lock; a waiting Begin sees the name gone and retries
    return FsyncDir(blobs_dir_);
  }

  void Discard() override {
    if (!fd_.valid()) return;
    ::unlink(partial_path_.c_str());  // while still holding the lock
    direct_fd_.Reset();
    fd_.Reset();
  }

 private:
  std::unexpected<BlobError> Finished() const {
    return BlobFailure(BlobFault::kIo, fmt::format("writer for {} is finished", expected_.digest));
  }

  std::unexpected<BlobError> SizeMismatch(int64_t got, std::string_view qualifier) const {
    return BlobFailure(BlobFault::kSizeMismatch,
                       fmt::format("blob size mismatch for {}: expected {} bytes, got {}{}",
                                   expected_.digest, expected_.size, qualifier, got));
  }

  // An I/O failure while committing: the data cannot be trusted to be on
  // disk, so the partial goes too.
  std::unexpected<BlobError> Abandon(std::string_view what) {
    int err = errno;
    Discard();
    return IoError(what, partial_path_, err);
  }

  bool Aligned(std::string_view bytes) const {
    return reinterpret_cast<uintptr_t>(bytes.data()) % kDirectAlignment == 0 &&
           bytes.size() % kDirectAlignment == 0 && offset_ % kDirectAlignment == 0;
  }

  Fd fd_;
  Fd direct_fd_;  // the same file opened with O_DIRECT; invalid: none
  bool keep_cached_ = false;  // KeepCached: write through the page cache for now
  std::string partial_path_;
  std::string blob_path_;
  std::string blobs_dir_;
  Descriptor expected_;
  crypto::Sha256 hasher_;
  int64_t offset_;
  int64_t writeback_from_ = 0;  // bytes before this have been handed to writeback
};

class FsStore final : public Store {
 public:
  FsStore(std::string root, StoreOptions options)
      : root_(std::move(root)),
        blobs_dir_(root_ + "/blobs/sha256"),
        ingest_dir_(root_ + "/ingest"),
        options_(options) {}

  Status Init() {
    BERTH_CHECK(MkdirAll(blobs_dir_, 0755));
    BERTH_CHECK(MkdirAll(ingest_dir_, 0700));
    return {};
  }

  bool Has(std::string_view digest) const override {
    if (!IsValidDigest(digest)) return false;
    struct stat st;
    return ::stat(BlobPath(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }

  std::string Root() const override { return root_; }

  BlobResult<BlobReader> OpenBlob(std::string_view digest) const override {
    if (!IsValidDigest(digest)) return InvalidDigest(digest);
    std::string path = BlobPath(digest);
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
      if (errno == ENOENT) {
        return BlobFailure(BlobFault::kNotFound, fmt::format("blob {} not found", digest));
      }
      return IoError("open", path);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return IoError("stat", path);
    if (!S_ISREG(st.st_mode)) {
      return BlobFailure(BlobFault::kIo, fmt::format("blob {} is not a regular file", path));
    }
    // Layers are read once, front to back: a larger readahead window.
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    return BlobReader(std::move(fd), std::string(digest), st.st_size);
  }

  BlobResult<std::string> ReadBlob(std::string_view digest) const override {
    auto reader = OpenBlob(digest);
    if (!reader) return std::unexpected(std::move(reader.error()));
    std::string out;
    out.reserve(static_cast<size_t>(reader->size()));
    char buf[64 * 1024];
    for (;;) {
      auto n = reader->Read(buf, sizeof buf);
      if (!n) return std::unexpected(std::move(n.error()));
      if (*n == 0) break;
      out.append(buf, *n);
    }
    std::string actual = std::string(kSha256Prefix) + crypto::Sha256Hex(out);
    if (actual != digest) {
      ::unlink(BlobPath(digest).c_str());
      return BlobFailure(
          BlobFault::kDigestMismatch,
          fmt::format("stored blob {} is corrupt (hashes to {}); removed", digest, actual));
    }
    return out;
  }

  BlobStatus WriteBlob(const Descriptor& expected, std::string_view bytes) override {
    if (!IsValidDigest(expected.digest)) return InvalidDigest(expected.digest);
    if (Has(expected.digest)) return {};
    auto writer = Begin(expected);
    if (!writer) {
      if (writer.error().fault == BlobFault::kExists) return {};
      return std::unexpected(std::move(writer.error()));
    }
    if ((*writer)->Offset() != 0) {
      // A stale partial of the same digest: start over from the bytes given.
      (*writer)->Discard();
      writer = Begin(expected);
      if (!writer) return std::unexpected(std::move(writer.error()));
    }
    if (BlobStatus written = (*writer)->Write(bytes); !written) return written;
    return (*writer)->Commit();
  }

  BlobResult<std::unique_ptr<Writer>> Begin(const Descriptor& expected) override {
    if (!IsValidDigest(expected.digest)) return InvalidDigest(expected.digest);
    if (Has(expected.digest)) return Exists(expected.digest);
    std::string hex(Hex(expected.digest));
    std::string partial = ingest_dir_ + "/" + hex + ".partial";
    Fd fd;
    // A writer that held the lock before us may have renamed or unlinked the
    // file we opened; then we open the name afresh.
    for (int attempt = 0;; ++attempt) {
      fd = Fd(::open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
      if (!fd.valid()) return IoError("open", partial);
      if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
          return BlobFailure(BlobFault::kBusy,
                             fmt::format("blob {} is already being written", expected.digest));
        }
        return IoError("lock", partial);
      }
      if (StillNamed(fd.get(), partial)) break;
      if (attempt == 8) return IoError("lock", partial, EAGAIN);
    }
    if (Has(expected.digest)) {  // committed by the writer we raced with
      ::unlink(partial.c_str());
      return Exists(expected.digest);
    }
    crypto::Sha256 hasher;
    BlobResult<int64_t> hashed = HashFile(fd.get(), partial, &hasher);
    if (!hashed) return std::unexpected(std::move(hashed.error()));
    int64_t offset = *hashed;
    if (expected.size >= 0 && offset > expected.size) {
      if (::ftruncate(fd.get(), 0) != 0 || ::lseek(fd.get(), 0, SEEK_SET) != 0) {
        return IoError("truncate", partial);
      }
      hasher.Reset();
      offset = 0;
    }
    Fd direct;
    if (options_.write_around_cache) {
      direct = Fd(::open(partial.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_DIRECT));
      // The same file as the locked one, or none: data written elsewhere would
      // be hashed all the same and commit an incomplete blob.
      struct stat locked, opened;
      if (direct.valid() &&
          (::fstat(fd.get(), &locked) != 0 || ::fstat(direct.get(), &opened) != 0 ||
           locked.st_dev != opened.st_dev || locked.st_ino != opened.st_ino)) {
        direct.Reset();
      }
    }
    return std::make_unique<FileWriter>(std::move(fd), std::move(direct), partial,
                                        BlobPath(expected.digest), blobs_dir_, expected,
                                        std::move(hasher), offset);
  }

  bool WritesAroundCache() const override { return options_.write_around_cache; }

  Result<int64_t> GarbageCollect(const std::set<std::string>& keep) override {
    int64_t freed = 0;
    BERTH_CHECK(ForEachName(blobs_dir_, [&](const std::string& name) -> Status {
      std::string digest = std::string(kSha256Prefix) + name;
      if (!IsValidDigest(digest) || keep.contains(digest)) return {};
      std::string path = blobs_dir_ + "/" + name;
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0) return {};  // gone meanwhile
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) return IoError("unlink", path);
      freed += st.st_size;
      return {};
    }));
    BERTH_CHECK(ForEachName(ingest_dir_, [&](const std::string& name) -> Status {
      if (!name.ends_with(".partial")) return {};
      std::string path = ingest_dir_ + "/" + name;
      Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
      if (!fd.valid()) return {};
      if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return {};  // a live writer
      struct stat st;
      if (!StillNamed(fd.get(), path) || ::fstat(fd.get(), &st) != 0) return {};
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) return IoError("unlink", path);
      freed += st.st_size;
      return {};
    }));
    return freed;
  }

  Result<std::vector<std::string>> List() const override {
    std::vector<std::string> out;
    BERTH_CHECK(ForEachName(blobs_dir_, [&](const std::string& name) -> Status {
      std::string digest = std::string(kSha256Prefix) + name;
      if (IsValidDigest(digest)) out.push_back(std::move(digest));
      return {};
    }));
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  // Where a committed blob is (or would be); `digest` must be valid.
  std::string BlobPath(std::string_view digest) const {
    return blobs_dir_ + "/" + std::string(Hex(digest));
  }

  static std::string_view Hex(std::string_view digest) {
    return digest.substr(kSha256Prefix.size());
  }

  static std::unexpected<BlobError> Exists(std::string_view digest) {
    return BlobFailure(BlobFault::kExists, fmt::format("blob {} is already committed", digest));
  }

  template <class F>
  static Status ForEachName(const std::string& dir_path, F&& f) {
    DIR* dir = ::opendir(dir_path.c_str());
    if (!dir) return IoError("opendir", dir_path);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(dir)) {
      std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    int err = errno;
    ::closedir(dir);
    if (err != 0) return IoError("readdir", dir_path, err);
    for (const std::string& name : names) BERTH_CHECK(f(name));
    return {};
  }

  std::string root_;
  std::string blobs_dir_;
  std::string ingest_dir_;
  StoreOptions options_;
};

}  // namespace

BlobResult<size_t> BlobReader::Read(char* buffer, size_t size) {
  for (;;) {
    ssize_t n = ::read(fd_.get(), buffer, size);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) {
      return BlobFailure(BlobFault::kIo,
                         fmt::format("read blob {}: {}", digest_, std::strerror(errno)));
    }
  }
}

std::unexpected<BlobError> BlobFailure(BlobFault fault, std::string message) {
  auto [code, http_status] = [&]() -> std::pair<const char*, int> {
    switch (fault) {
      case BlobFault::kInvalidDigest:
        return {"InvalidDigest", 400};
      case BlobFault::kNotFound:
        return {"NotFound", 404};
      case BlobFault::kBusy:
        return {"BlobBusy", 409};
      case BlobFault::kExists:
        return {"BlobExists", 409};
      case BlobFault::kDigestMismatch:
        return {"BlobDigestMismatch", 400};
      case BlobFault::kSizeMismatch:
        return {"BlobSizeMismatch", 400};
      case BlobFault::kIo:
        break;
    }
    return {"BlobStoreError", 500};
  }();
  return std::unexpected(BlobError{{code, std::move(message), http_status}, fault});
}

bool IsValidDigest(std::string_view digest) {
  if (digest.size() != kSha256Prefix.size() + 64 || !digest.starts_with(kSha256Prefix)) {
    return false;
  }
  return std::all_of(digest.begin() + kSha256Prefix.size(), digest.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& root, StoreOptions options) {
  if (root.empty()) return Fail("BlobStoreError", "empty content store root", 500);
  auto store = std::make_unique<FsStore>(root, options);
  BERTH_CHECK(store->Init());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace berth::agent::content
