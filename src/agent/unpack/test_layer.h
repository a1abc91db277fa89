// Test support: layers (tar, gzip or zstd) built from a list of entries with
// libarchive, as registry tools write them (pax). For tests only.
#pragma once

#include <archive_entry.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

namespace berth::agent::unpack::testing {

inline constexpr time_t kMtime = 1700000000;

enum class Format { kTar, kGzip, kZstd };

// One tar entry as a test writes it.
struct Entry {
  std::string name;
  unsigned type = AE_IFREG;
  int perm = 0644;
  std::string data;
  std::string symlink;
  std::string hardlink;
  time_t mtime = kMtime;
  int64_t uid = 0, gid = 0;
  unsigned dev_major = 0, dev_minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

Entry File(std::string name, std::string data, int perm = 0644);
Entry Dir(std::string name, int perm = 0755);
Entry Symlink(std::string name, std::string target);
Entry Hardlink(std::string name, std::string target);
Entry Device(std::string name, unsigned type, unsigned major, unsigned minor);

// The layer's bytes: `entries` as a pax tar, compressed as `format` says.
// Failures are reported to the calling test (ADD_FAILURE).
std::string LayerBytes(const std::vector<Entry>& entries, Format format);
// The same, written to `path`.
void WriteLayer(const std::string& path, const std::vector<Entry>& entries, Format format);

}  // namespace berth::agent::unpack::testing
