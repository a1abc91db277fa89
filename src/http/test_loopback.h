// Test support: raw TCP connections to a server on the loopback interface, for
// what a well-behaved client cannot send (half requests, pipelines, upgrades).
// Header-only; for tests.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace berth::http::test_support {

// A connected socket to 127.0.0.1:`port`, or -1.
inline int ConnectLoopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Everything read from `fd` until the peer closes it (or `until` is seen, when given).
inline std::string ReadAll(int fd, std::string_view until = {}) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((until.empty() || out.find(until) == std::string::npos) &&
         (n = read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, n);
  }
  return out;
}

}  // namespace berth::http::test_support
