// Test support: an in-memory content::Store with the contract of store.h
// (resumable partial data, size checked on write, size and digest on commit,
// BlobBusy for a second writer, BlobExists for a committed blob), so most
// registry tests need no disk; puller_test also runs against the disk store.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/content/store.h"

namespace berth::agent::registry::testing {

class FakeStore final : public content::Store {
 public:
  bool Has(std::string_view digest) const override;
  std::string Root() const override;
  // A reader over a memfd holding a copy of the blob.
  content::BlobResult<content::BlobReader> OpenBlob(std::string_view digest) const override;
  content::BlobResult<std::string> ReadBlob(std::string_view digest) const override;
  content::BlobStatus WriteBlob(const content::Descriptor& expected,
                                std::string_view bytes) override;
  content::BlobResult<std::unique_ptr<content::Writer>> Begin(
      const content::Descriptor& expected) override;
  Result<int64_t> GarbageCollect(const std::set<std::string>& keep) override;
  Result<std::vector<std::string>> List() const override;

  // Test controls.
  void SetPartial(const std::string& digest, std::string bytes);
  std::string Partial(const std::string& digest) const;
  int commits() const;
  int discards() const;
  // Bytes of `digest` written while its writer was told to keep them cached (KeepCached).
  int64_t kept_cached(const std::string& digest) const;

 private:
  class FakeWriter;
  friend class FakeWriter;

  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> blobs_;
  std::map<std::string, std::string, std::less<>> partials_;
  std::set<std::string, std::less<>> writing_;
  std::map<std::string, int64_t, std::less<>> kept_cached_;
  int commits_ = 0;
  int discards_ = 0;
};

}  // namespace berth::agent::registry::testing
