// An owned file descriptor: the one way berth code holds an fd it must close.
#pragma once

#include <unistd.h>

#include <utility>

namespace berth {

// Owns a file descriptor and closes it when destroyed or reset. Move-only: a
// moved-from Fd holds nothing (-1). Constructing from a negative value (a
// failed open(2)) gives an Fd that is not valid(); errno is left as it was.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes the descriptor held, if any, and takes `fd` (default: none).
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Gives up ownership (e.g. to fdopendir, which closes it with closedir):
  // returns the descriptor and holds none.
  [[nodiscard]] int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

}  // namespace berth
