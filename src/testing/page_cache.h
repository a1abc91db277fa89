// Test support: which pages of a file are in the page cache (mincore), and whether a directory's
// filesystem takes O_DIRECT. Header-only; for tests.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace berth::test_support {

// Pages of `path` in the page cache, counted per `block` bytes for the first `blocks` blocks
// (the file must be that long); empty when the file cannot be opened or mapped.
inline std::vector<size_t> ResidentPagesPerBlock(const std::string& path, size_t block,
                                                 size_t blocks) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  size_t length = block * blocks;
  void* map = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return {};
  size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in((length + page - 1) / page);
  bool ok = ::mincore(map, length, in.data()) == 0;
  ::munmap(map, length);
  if (!ok) return {};
  std::vector<size_t> out(blocks);
  for (size_t i = 0; i < in.size(); ++i) out[i * page / block] += in[i] & 1;
  return out;
}

// True when a file created in `dir` can be opened with O_DIRECT (tmpfs on older kernels and
// some other filesystems refuse it).
inline bool TakesODirect(const std::string& dir) {
  std::string path = dir + "/.o-direct-probe";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_DIRECT, 0600);
  int err = errno;
  ::unlink(path.c_str());
  if (fd < 0) return err != EINVAL;
  ::close(fd);
  return true;
}

}  // namespace berth::test_support
