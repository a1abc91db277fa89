#include "agent/registry/fake_store.h"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crypto/sha256.h"

namespace berth::agent::registry::testing {

class FakeStore::FakeWriter final : public content::Writer {
 public:
  FakeWriter(FakeStore* store, content::Descriptor expected)
      : store_(store), expected_(std::move(expected)) {}
  ~FakeWriter() override {
    std::lock_guard lock(store_->mu_);
    store_->writing_.erase(expected_.digest);
  }

  int64_t Offset() const override {
    std::lock_guard lock(store_->mu_);
    return static_cast<int64_t>(store_->partials_[expected_.digest].size());
  }

  content::BlobStatus Write(std::string_view bytes) override {
    std::lock_guard lock(store_->mu_);
    std::string& partial = store_->partials_[expected_.digest];
    if (expected_.size >= 0 &&
        static_cast<int64_t>(partial.size() + bytes.size()) > expected_.size) {
      store_->partials_.erase(expected_.digest);
      return content::BlobFailure(content::BlobFault::kSizeMismatch,
                                  fmt::format("expected {} bytes, got at least {}", expected_.size,
                                              partial.size() + bytes.size()));
    }
    partial.append(bytes);
    if (keep_cached_) store_->kept_cached_[expected_.digest] += static_cast<int64_t>(bytes.size());
    return {};
  }

  void KeepCached(bool keep) override { keep_cached_ = keep; }

  content::BlobStatus Commit() override {
    std::lock_guard lock(store_->mu_);
    std::string data = std::move(store_->partials_[expected_.digest]);
    store_->partials_.erase(expected_.digest);
    if (expected_.size >= 0 && static_cast<int64_t>(data.size()) != expected_.size) {
      return content::BlobFailure(
          content::BlobFault::kSizeMismatch,
          fmt::format("expected {} bytes, got {}", expected_.size, data.size()));
    }
    std::string actual = "sha256:" + crypto::Sha256Hex(data);
    if (actual != expected_.digest) {
      return content::BlobFailure(content::BlobFault::kDigestMismatch,
                                  fmt::format("expected {}, got {}", expected_.digest, actual));
    }
    store_->blobs_[expected_.digest] = std::move(data);
    ++store_->commits_;
    return {};
  }

  void Discard() override {
    std::lock_guard lock(store_->mu_);
    store_->partials_.erase(expected_.digest);
    ++store_->discards_;
  }

 private:
  FakeStore* store_;
  content::Descriptor expected_;
  bool keep_cached_ = false;
};

bool FakeStore::Has(std::string_view digest) const {
  std::lock_guard lock(mu_);
  return blobs_.contains(digest);
}

std::string FakeStore::Root() const { return "/fake"; }

content::BlobResult<content::BlobReader> FakeStore::OpenBlob(std::string_view digest) const {
  auto bytes = ReadBlob(digest);
  if (!bytes) return std::unexpected(std::move(bytes.error()));
  Fd fd(::memfd_create("fake-blob", MFD_CLOEXEC));
  std::string_view left = *bytes;
  while (fd.valid() && !left.empty()) {
    ssize_t n = ::write(fd.get(), left.data(), left.size());
    if (n <= 0) fd.Reset();
    if (n > 0) left.remove_prefix(static_cast<size_t>(n));
  }
  if (!fd.valid() || ::lseek(fd.get(), 0, SEEK_SET) != 0) {
    return content::BlobFailure(content::BlobFault::kIo, "memfd for a fake blob");
  }
  return content::BlobReader(std::move(fd), std::string(digest),
                             static_cast<int64_t>(bytes->size()));
}

content::BlobResult<std::string> FakeStore::ReadBlob(std::string_view digest) const {
  std::lock_guard lock(mu_);
  auto it = blobs_.find(digest);
  if (it == blobs_.end()) {
    return content::BlobFailure(content::BlobFault::kNotFound, fmt::format("no blob {}", digest));
  }
  return it->second;
}

content::BlobStatus FakeStore::WriteBlob(const content::Descriptor& expected,
                                         std::string_view bytes) {
  if ("sha256:" + crypto::Sha256Hex(bytes) != expected.digest) {
    return content::BlobFailure(content::BlobFault::kDigestMismatch, "WriteBlob: digest mismatch");
  }
  std::lock_guard lock(mu_);
  blobs_[expected.digest] = std::string(bytes);
  return {};
}

content::BlobResult<std::unique_ptr<content::Writer>> FakeStore::Begin(
    const content::Descriptor& expected) {
  std::lock_guard lock(mu_);
  if (blobs_.contains(expected.digest)) {
    return content::BlobFailure(content::BlobFault::kExists,
                                fmt::format("{} is already committed", expected.digest));
  }
  if (!writing_.insert(expected.digest).second) {
    return content::BlobFailure(content::BlobFault::kBusy,
                                fmt::format("{} is being written", expected.digest));
  }
  auto partial = partials_.find(expected.digest);
  if (partial != partials_.end() && expected.size >= 0 &&
      static_cast<int64_t>(partial->second.size()) > expected.size) {
    partial->second.clear();  // longer than the blob: restarted from zero
  }
  return std::unique_ptr<content::Writer>(new FakeWriter(this, expected));
}

Result<int64_t> FakeStore::GarbageCollect(const std::set<std::string>& keep) {
  std::lock_guard lock(mu_);
  int64_t freed = 0;
  for (auto it = blobs_.begin(); it != blobs_.end();) {
    if (keep.contains(it->first)) {
      ++it;
    } else {
      freed += static_cast<int64_t>(it->second.size());
      it = blobs_.erase(it);
    }
  }
  return freed;
}

Result<std::vector<std::string>> FakeStore::List() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> digests;
  for (const auto& [digest, data] : blobs_) digests.push_back(digest);
  return digests;
}

void FakeStore::SetPartial(const std::string& digest, std::string bytes) {
  std::lock_guard lock(mu_);
  partials_[digest] = std::move(bytes);
}

std::string FakeStore::Partial(const std::string& digest) const {
  std::lock_guard lock(mu_);
  auto it = partials_.find(digest);
  return it == partials_.end() ? "" : it->second;
}

int FakeStore::commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

int FakeStore::discards() const {
  std::lock_guard lock(mu_);
  return discards_;
}

int64_t FakeStore::kept_cached(const std::string& digest) const {
  std::lock_guard lock(mu_);
  auto it = kept_cached_.find(digest);
  return it == kept_cached_.end() ? 0 : it->second;
}

}  // namespace berth::agent::registry::testing
