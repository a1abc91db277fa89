#include "agent/registry/transport.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "agent/registry/fake_registry.h"

namespace berth::agent::registry {
namespace {

using testing::FakeRegistry;

// Socket inodes of this host's established TCP connections to 127.0.0.1:`port`, client side
// (/proc/net/tcp).
std::set<std::string> ConnectionsTo(uint16_t port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // the header
  std::string want = fmt::format("0100007F:{:04X}", port);
  std::set<std::string> inodes;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
        timeout >> inode;
    if (remote == want && state == "01") inodes.insert(inode);  // 01: ESTABLISHED
  }
  return inodes;
}

// The descriptors of this process open on those sockets that are not close-on-exec.
int InheritableAmong(const std::set<std::string>& inodes) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (ec || target.rfind("socket:[", 0) != 0) continue;
    if (!inodes.contains(target.substr(8, target.size() - 9))) continue;
    int flags = ::fcntl(std::stoi(entry.path().filename().string()), F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) ++n;
  }
  return n;
}

// One Transport after another (a task's image re-check after another's) sends on the
// connection the first one opened: no new TCP (or TLS) handshake. The kept connection is
// close-on-exec, so the processes the agent starts do not inherit it.
TEST(TransportTest, ALaterTransportToTheSameRegistryReusesTheConnection) {
  auto registry = FakeRegistry::Start();
  TransportOptions options;
  options.insecure_hosts = {registry->host()};
  for (int i = 0; i < 3; ++i) {
    Transport transport(options);
    auto got = transport.Send({"GET", "http://" + registry->host() + "/v2/", {}, ""}, 1 << 20);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(got->status, 200);
  }
  std::set<std::string> kept = ConnectionsTo(registry->port());
  EXPECT_EQ(kept.size(), 1u);
  EXPECT_EQ(InheritableAmong(kept), 0);
}

}  // namespace
}  // namespace berth::agent::registry
