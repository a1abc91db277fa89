#include "agent/registry/transport.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "agent/registry/fake_registry.h"

namespace berth::agent::registry {
namespace {

using testing::ClientConnectionsTo;
using testing::FakeRegistry;
using testing::InheritableAmong;

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
  std::set<std::string> kept = ClientConnectionsTo(registry->port());
  EXPECT_EQ(kept.size(), 1u);
  EXPECT_EQ(InheritableAmong(kept), 0);
}

}  // namespace
}  // namespace berth::agent::registry
