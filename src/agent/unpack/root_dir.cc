#include "agent/unpack/root_dir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <vector>

namespace berth::agent::unpack {

namespace {

// Set once openat2 turns out to be missing (ENOSYS) or filtered (seccomp's EPERM).
std::atomic<bool> g_manual{false};

constexpr int kMaxSymlinks = 40;  // the kernel's MAXSYMLINKS

void SplitInto(std::string_view path, std::deque<std::string>* out, bool front) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    start = end + 1;
  }
  if (front) {
    out->insert(out->begin(), parts.begin(), parts.end());
  } else {
    out->insert(out->end(), parts.begin(), parts.end());
  }
}

int DupFd(int fd) {
  int out = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return out >= 0 ? out : -errno;
}

// Component-by-component resolution: what RESOLVE_IN_ROOT does, in user space.
int ResolveManually(int root_fd, std::string_view rel) {
  std::vector<Fd> stack;  // stack[0] is the root; ".." never pops it
  int root = DupFd(root_fd);
  if (root < 0) return root;
  stack.emplace_back(root);
  std::deque<std::string> todo;
  SplitInto(rel, &todo, false);
  int links = 0;
  while (!todo.empty()) {
    std::string name = std::move(todo.front());
    todo.pop_front();
    if (name == "..") {
      if (stack.size() > 1) stack.pop_back();
      continue;
    }
    Fd fd(::openat(stack.back().get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return -errno;
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return -errno;
    if (S_ISLNK(st.st_mode)) {
      if (++links > kMaxSymlinks) return -ELOOP;
      char target[PATH_MAX];
      ssize_t n = ::readlinkat(fd.get(), "", target, sizeof target);
      if (n < 0) return -errno;
      if (static_cast<size_t>(n) >= sizeof target) return -ENAMETOOLONG;
      std::string_view link(target, static_cast<size_t>(n));
      if (link.starts_with('/')) stack.resize(1);
      SplitInto(link, &todo, true);
      continue;
    }
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
    stack.push_back(std::move(fd));
  }
  return DupFd(stack.back().get());
}

// Returns the descriptor, -errno, or -ENOSYS when openat2 cannot be used.
int ResolveWithOpenat2(int root_fd, std::string_view rel) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string path = rel.empty() ? std::string(".") : std::string(rel);
  for (int attempt = 0; attempt < 32; ++attempt) {
    long fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    // EAGAIN: a concurrent rename somewhere in the tree; the kernel asks for a retry.
    if (errno == EAGAIN || errno == EINTR) continue;
    if (errno == ENOSYS || errno == EPERM || errno == E2BIG) return -ENOSYS;
    return -errno;
  }
  return -EAGAIN;
}

}  // namespace

void RootDir::ForceManualResolutionForTesting(bool manual) { g_manual = manual; }

Result<RootDir> RootDir::Open(const std::string& path) {
  Fd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return Fail("LayerUnpackError",
                fmt::format("cannot open rootfs {}: {}", path, std::strerror(errno)), 500);
  }
  return RootDir(path, std::move(fd));
}

int RootDir::OpenDir(std::string_view rel) const {
  if (!g_manual.load(std::memory_order_relaxed)) {
    int fd = ResolveWithOpenat2(fd_.get(), rel);
    if (fd != -ENOSYS) return fd;
    g_manual = true;
  }
  return ResolveManually(fd_.get(), rel);
}

int RootDir::OpenOrCreateDir(std::string_view rel) const {
  int fd = OpenDir(rel);
  if (fd != -ENOENT) return fd;
  std::deque<std::string> parts;
  SplitInto(rel, &parts, false);
  Fd current(DupFd(fd_.get()));
  if (!current.valid()) return -EBADF;
  std::string prefix;
  for (const std::string& name : parts) {
    prefix = prefix.empty() ? name : prefix + "/" + name;
    int next = OpenDir(prefix);
    if (next == -ENOENT) {
      // `current` is prefix's parent, resolved in the root: create the missing
      // directory there, and open exactly what was created (no following).
      if (::mkdirat(current.get(), name.c_str(), 0755) != 0 && errno != EEXIST) return -errno;
      next = ::openat(current.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0) return -errno;
    }
    if (next < 0) return next;
    current = Fd(next);
  }
  return DupFd(current.get());
}

}  // namespace berth::agent::unpack
