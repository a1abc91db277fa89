#include "agent/registry/transport.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "agent/registry/fake_registry.h"

namespace berth::agent::registry {
namespace {

using testing::ClientConnectionsTo;
using testing::FakeRegistry;
using testing::InheritableAmong;
using namespace std::chrono_literals;

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

// A request cut short by the pull's deadline returns no earlier than the deadline, so
// the puller can tell "the pull timed out" from the time alone. libcurl measures its
// timeout on its own clock (CLOCK_MONOTONIC_RAW where it has it) to the millisecond, and
// can end a request a fraction of a millisecond before the deadline on ours. Deadlines
// at odd fractions of a millisecond, so the rounding falls every way.
TEST(TransportTest, ARequestCutShortByTheDeadlineReturnsNoEarlierThanIt) {
  auto silent = testing::RawHttpServer::Start([](const std::string&) {
    return testing::RawHttpServer::Reply{"", 30s};
  });
  TransportOptions options;
  options.insecure_hosts = {silent->host()};
  for (int i = 0; i < 40; ++i) {
    options.deadline = std::chrono::steady_clock::now() + 5ms + i * 97us;
    Transport transport(options);
    auto got =
        transport.Send({"GET", "http://" + silent->host() + "/v2/team/app/manifests/v1", {}, ""},
                       1 << 20);
    auto returned = std::chrono::steady_clock::now();
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().http_status, 504) << got.error().message;
    EXPECT_GE(returned, options.deadline)
        << "returned " << std::chrono::duration<double, std::micro>(options.deadline - returned)
        << " early: " << got.error().message;
  }
}

// A timeout that is not the deadline's (here the speed floor, 1 s, with 6 s of the pull left)
// returns when it happens, not at the deadline: the request can still be retried.
TEST(TransportTest, AnEarlierTimeoutIsNotStretchedToTheDeadline) {
  auto silent = testing::RawHttpServer::Start([](const std::string&) {
    return testing::RawHttpServer::Reply{"", 30s};
  });
  TransportOptions options;
  options.insecure_hosts = {silent->host()};
  options.low_speed_bytes = 1;
  options.low_speed_time = 1s;
  options.deadline = std::chrono::steady_clock::now() + 6s;
  Transport transport(options);
  auto got = transport.Send(
      {"GET", "http://" + silent->host() + "/v2/team/app/manifests/v1", {}, ""}, 1 << 20);
  auto returned = std::chrono::steady_clock::now();
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().http_status, 504) << got.error().message;
  EXPECT_LT(returned, options.deadline - 3s) << got.error().message;
}

}  // namespace
}  // namespace berth::agent::registry
