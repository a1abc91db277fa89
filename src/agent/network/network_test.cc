// The pure parts (addresses, ports, rules, records, the command runner) always; real namespaces,
// a real bridge and real iptables rules only as root, on a bridge and subnet of the test run's
// own, removed at the end whatever happened.
#include "agent/network/network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "agent/network/command.h"
#include "agent/network/host.h"
#include "agent/network/ports.h"
#include "agent/network/record.h"
#include "agent/network/rules.h"
#include "agent/network/subnet.h"
#include "common/fd.h"

namespace berth::agent::spec {

bool operator==(const NetworkBinding& a, const NetworkBinding& b) {
  return a.bind_ip == b.bind_ip && a.container_port == b.container_port &&
         a.host_port == b.host_port && a.protocol == b.protocol;
}

}  // namespace berth::agent::spec

namespace berth::agent::network {
namespace {

using spec::NetworkBinding;

// A TCP socket listening on 127.0.0.1 at a port the kernel picks (set in *port); invalid on
// failure.
Fd LoopbackListener(int* port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd.get(), 4) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Fd();
  }
  *port = ntohs(address.sin_port);
  return fd;
}

// --- Addresses ---

TEST(VethNameTest, TasksStartedTogetherGetDifferentVeths) {
  // berth's task ids begin with their creation time in ms: tasks of one RunTask share it.
  EXPECT_EQ(VethName("01a24ac9dbf75eaa9680d9e977aa5b87"), "bvd9e977aa5b87");
  EXPECT_NE(VethName("01a24ac9dbf75eaa9680d9e977aa5b87"),
            VethName("01a24ac9dbf7aa11223344556677889a"));
  EXPECT_LE(VethName("01a24ac9dbf75eaa9680d9e977aa5b87").size(), 15u);  // IFNAMSIZ - 1
  EXPECT_EQ(VethName("short"), "bvshort");
}

TEST(SubnetTest, ParsesCidrAndNamesGatewayAndBroadcast) {
  auto subnet = ParseSubnet("10.213.0.0/24");
  ASSERT_TRUE(subnet) << subnet.error().message;
  EXPECT_EQ(FormatIpv4(subnet->network), "10.213.0.0");
  EXPECT_EQ(subnet->prefix, 24);
  EXPECT_EQ(FormatIpv4(subnet->Gateway()), "10.213.0.1");
  EXPECT_EQ(FormatIpv4(subnet->Broadcast()), "10.213.0.255");
  EXPECT_EQ(subnet->Cidr(), "10.213.0.0/24");
}

TEST(SubnetTest, RefusesMalformedSubnets) {
  auto no_prefix = ParseSubnet("10.213.0.0");
  ASSERT_FALSE(no_prefix);
  EXPECT_EQ(no_prefix.error().code, "NetworkSetupError");
  EXPECT_EQ(no_prefix.error().message, "subnet '10.213.0.0' is not a.b.c.d/prefix");
  EXPECT_EQ(ParseSubnet("10.213.0.0/31").error().message,
            "subnet '10.213.0.0/31' must have a prefix of 8 to 30 bits");
  EXPECT_EQ(ParseSubnet("10.213.0.5/24").error().message,
            "subnet '10.213.0.5/24' has host bits set");
  EXPECT_FALSE(ParseSubnet("10.213.0.0/2x"));
  EXPECT_FALSE(ParseSubnet("300.1.1.0/24"));
}

TEST(SubnetTest, AllocatesTheLowestFreeAddressAfterTheGateway) {
  Subnet subnet = *ParseSubnet("10.9.8.0/24");
  EXPECT_EQ(FormatIpv4(*AllocateAddress(subnet, {})), "10.9.8.2");
  std::set<uint32_t> used = {*ParseIpv4("10.9.8.2"), *ParseIpv4("10.9.8.3"),
                             *ParseIpv4("10.9.8.5")};
  EXPECT_EQ(FormatIpv4(*AllocateAddress(subnet, used)), "10.9.8.4");
}

TEST(SubnetTest, FullSubnetFails) {
  Subnet subnet = *ParseSubnet("10.9.8.0/30");  // .0 network, .1 gateway, .2, .3 broadcast
  EXPECT_EQ(FormatIpv4(*AllocateAddress(subnet, {})), "10.9.8.2");
  auto full = AllocateAddress(subnet, {*ParseIpv4("10.9.8.2")});
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, "NetworkSetupError");
  EXPECT_EQ(full.error().message, "no free address in subnet 10.9.8.0/30");
}

// --- Host ports ---

PortPolicy Policy(int low = 50000, int high = 50009) {
  return PortPolicy{low, high, {}, {}, [](const std::string&, int) { return false; }};
}

TEST(PortsTest, FixedPortHeldByAnotherTaskIsInUse) {
  PortPolicy policy = Policy();
  policy.held = {{"tcp", 8080}};
  int cursor = 0;
  auto result = AllocatePorts({{80, 8080, "tcp"}}, policy, &cursor);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "HostPortInUse");
  EXPECT_EQ(result.error().message, "host port 8080/tcp is already in use");
  // The same number over udp is another port.
  EXPECT_TRUE(AllocatePorts({{80, 8080, "udp"}}, policy, &cursor));
}

TEST(PortsTest, FixedPortReservedBoundOnHostOrAskedTwiceIsInUse) {
  PortPolicy policy = Policy();
  policy.reserved = {22};
  int cursor = 0;
  EXPECT_EQ(AllocatePorts({{22, 22, "udp"}}, policy, &cursor).error().code, "HostPortInUse");
  policy.bound_on_host = [](const std::string& protocol, int port) {
    return protocol == "tcp" && port == 9000;
  };
  EXPECT_EQ(AllocatePorts({{1, 9000, "tcp"}}, policy, &cursor).error().message,
            "host port 9000/tcp is already in use");
  EXPECT_EQ(AllocatePorts({{1, 7000, "tcp"}, {2, 7000, "tcp"}}, policy, &cursor).error().code,
            "HostPortInUse");
}

TEST(PortsTest, EphemeralPortsSkipWhatIsTakenAndAdvance) {
  PortPolicy policy = Policy();
  policy.held = {{"tcp", 50000}};
  policy.reserved = {50001};
  policy.bound_on_host = [](const std::string&, int port) { return port == 50002; };
  int cursor = 0;
  auto result =
      AllocatePorts({{80, 0, "tcp"}, {81, 50003, "tcp"}, {82, 0, "tcp"}}, policy, &cursor);
  ASSERT_TRUE(result) << result.error().message;
  std::vector<NetworkBinding> expected = {
      {"0.0.0.0", 80, 50004, "tcp"}, {"0.0.0.0", 81, 50003, "tcp"}, {"0.0.0.0", 82, 50005, "tcp"}};
  EXPECT_EQ(*result, expected);
  EXPECT_EQ(cursor, 50006);
  // The next task starts after the last pick, and wraps around to the low end.
  cursor = 50009;
  auto wrapped = AllocatePorts({{80, 0, "udp"}, {80, 0, "udp"}}, Policy(), &cursor);
  ASSERT_TRUE(wrapped);
  EXPECT_EQ((*wrapped)[0].host_port, 50009);
  EXPECT_EQ((*wrapped)[1].host_port, 50000);
}

TEST(PortsTest, NoFreeEphemeralPortFails) {
  PortPolicy policy = Policy(50000, 50001);
  policy.held = {{"tcp", 50000}, {"tcp", 50001}};
  int cursor = 0;
  auto result = AllocatePorts({{80, 0, "tcp"}}, policy, &cursor);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "NetworkSetupError");
  EXPECT_EQ(result.error().message, "no free tcp host port in 50000-50001");
}

TEST(PortsTest, BadMappingsFail) {
  int cursor = 0;
  EXPECT_EQ(AllocatePorts({{80, 0, "sctp"}}, Policy(), &cursor).error().message,
            "port mapping protocol 'sctp' is not tcp or udp");
  EXPECT_EQ(AllocatePorts({{0, 80, "tcp"}}, Policy(), &cursor).error().message,
            "port mapping 80:0 is out of range");
}

TEST(PortsTest, BoundOnHostSeesAListener) {
  int port = 0;
  Fd fd = LoopbackListener(&port);
  ASSERT_TRUE(fd.valid());
  EXPECT_TRUE(BoundOnHost("tcp", port));
  fd.Reset();
  EXPECT_FALSE(BoundOnHost("tcp", port));
}

// --- Rules ---

TEST(RulesTest, BridgeRulesWithMetadata) {
  auto rules = BridgeRules({"br9", "10.1.2.0/24", "127.0.0.1:51679"});
  std::vector<Rule> expected = {
      {"nat",
       "BERTH-br9-PRE",
       {"-i", "br9", "-d", "169.254.170.2/32", "-p", "tcp", "-m", "tcp", "--dport", "80", "-j",
        "DNAT", "--to-destination", "127.0.0.1:51679"}},
      {"nat", "BERTH-br9-PRE", {"-m", "addrtype", "--dst-type", "LOCAL", "-j", "BERTH-br9-PORTS"}},
      {"nat", "BERTH-br9-POST", {"-s", "10.1.2.0/24", "!", "-o", "br9", "-j", "MASQUERADE"}},
      {"nat", "BERTH-br9-POST", {"-s", "127.0.0.0/8", "-o", "br9", "-j", "MASQUERADE"}},
      {"nat",
       "BERTH-br9-POST",
       {"-s", "10.1.2.0/24", "-o", "br9", "-m", "conntrack", "--ctstate", "DNAT", "-j",
        "MASQUERADE"}},
      {"filter",
       "BERTH-br9-IN",
       {"-i", "br9", "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m", "conntrack", "!",
        "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP"}},
      {"filter", "BERTH-br9-FWD", {"-i", "br9", "-j", "ACCEPT"}},
      {"filter",
       "BERTH-br9-FWD",
       {"-o", "br9", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "ACCEPT"}}};
  EXPECT_EQ(rules, expected);
  // Without a metadata address there is no DNAT of 169.254.170.2, the rest is the same.
  auto without = BridgeRules({"br9", "10.1.2.0/24", ""});
  EXPECT_EQ(without, std::vector<Rule>(expected.begin() + 1, expected.end()));
}

TEST(RulesTest, JumpsAndChainsAreTheBridgesOwn) {
  std::vector<Rule> jumps = {
      {"nat", "PREROUTING", {"-j", "BERTH-br9-PRE"}},
      {"nat", "OUTPUT", {"-m", "addrtype", "--dst-type", "LOCAL", "-j", "BERTH-br9-PORTS"}},
      {"nat", "POSTROUTING", {"-j", "BERTH-br9-POST"}},
      {"filter", "INPUT", {"-j", "BERTH-br9-IN"}},
      {"filter", "FORWARD", {"-j", "BERTH-br9-FWD"}}};
  EXPECT_EQ(BridgeJumps("br9"), jumps);
  auto chains = BridgeChains("abcdefghijklmno");  // 15 characters: the longest bridge name
  ASSERT_EQ(chains.size(), 5u);
  for (const auto& chain : chains) EXPECT_LE(chain.name.size(), 28u) << chain.name;
  EXPECT_TRUE(chains[0].holds_tasks);
  EXPECT_EQ(chains[0].name, "BERTH-abcdefghijklmno-PORTS");
}

TEST(RulesTest, PortRulesAndTheirArgv) {
  auto rules = PortRules("br9", "0123456789abcdef", "10.1.2.7",
                         {{"0.0.0.0", 80, 49153, "tcp"}, {"0.0.0.0", 53, 5353, "udp"}});
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(IptablesArgv("-A", rules[0]), (std::vector<std::string>{"iptables",
                                                                    "-w",
                                                                    "-t",
                                                                    "nat",
                                                                    "-A",
                                                                    "BERTH-br9-PORTS",
                                                                    "-p",
                                                                    "tcp",
                                                                    "-m",
                                                                    "tcp",
                                                                    "--dport",
                                                                    "49153",
                                                                    "-m",
                                                                    "comment",
                                                                    "--comment",
                                                                    "berth:0123456789abcdef",
                                                                    "-j",
                                                                    "DNAT",
                                                                    "--to-destination",
                                                                    "10.1.2.7:80"}));
  EXPECT_EQ(rules[1].spec[1], "udp");
  EXPECT_EQ(rules[1].spec.back(), "10.1.2.7:53");
}

TEST(RulesTest, ParsesIptablesSaveLines) {
  Rule rule;
  std::string task;
  ASSERT_TRUE(ParseRuleLine(
      "nat",
      "-A BERTH-br9-PORTS -p tcp -m tcp --dport 49153 -m comment --comment \"berth:abc123\" "
      "-j DNAT --to-destination 10.1.2.7:80",
      &rule, &task));
  EXPECT_EQ(task, "abc123");
  EXPECT_EQ(rule, PortRules("br9", "abc123", "10.1.2.7", {{"0.0.0.0", 80, 49153, "tcp"}})[0]);
  ASSERT_TRUE(ParseRuleLine("nat", "-A X -m comment --comment \"a b\" -j RETURN", &rule, &task));
  EXPECT_EQ(task, "");
  EXPECT_EQ(rule.spec[3], "a b");
  EXPECT_FALSE(ParseRuleLine("nat", "-N BERTH-br9-PORTS", &rule, &task));
}

// --- Records ---

TEST(RecordTest, RoundTripsAndDescribesTheNetwork) {
  TaskRecord record{"abcdef012345",
                    "bridge",
                    "br9",
                    "berth-br9-abcdef012345",
                    "bvabcdef012345",
                    "10.1.2.7",
                    "10.1.2.1",
                    {{"0.0.0.0", 80, 49153, "tcp"}},
                    {}};
  record.rules = PortRules("br9", record.task_id, record.ipv4, record.bindings);
  auto decoded = DecodeRecord(EncodeRecord(record));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(EncodeRecord(*decoded), EncodeRecord(record));
  EXPECT_EQ(decoded->rules, record.rules);
  TaskNetwork network = NetworkOf(record);
  EXPECT_EQ(network.mode, "bridge");
  EXPECT_EQ(network.netns_path, "/run/netns/berth-br9-abcdef012345");
  EXPECT_EQ(network.ipv4, "10.1.2.7");
  EXPECT_EQ(network.gateway, "10.1.2.1");
  EXPECT_EQ(network.bindings, record.bindings);
  EXPECT_EQ(DecodeRecord("{\"mode\":1}").error().code, "InternalFailure");
}

TEST(RecordTest, StoreWritesListsAndRemoves) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("berth-netrec-" + std::to_string(::getpid()));
  RecordStore store(dir + "/state");
  EXPECT_EQ(store.List()->size(), 0u);
  TaskRecord record{"abcdef012345", "none", "", "berth-x-abcdef012345", "", "", "", {}, {}};
  ASSERT_TRUE(store.Write(record));
  EXPECT_EQ(EncodeRecord(**store.Read("abcdef012345")), EncodeRecord(record));
  EXPECT_EQ(store.List()->size(), 1u);
  ASSERT_TRUE(store.Remove("abcdef012345"));
  EXPECT_FALSE(*store.Read("abcdef012345"));
  EXPECT_TRUE(store.Remove("abcdef012345"));
  std::filesystem::remove_all(dir);
}

// --- Commands ---

TEST(CommandTest, CapturesOutputAndExitCode) {
  auto result = RunCommand({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->out, "out\n");
  EXPECT_EQ(result->err, "err\n");
  auto checked = RunChecked({"sh", "-c", "echo bad thing >&2; exit 1"});
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, "NetworkSetupError");
  EXPECT_EQ(checked.error().message, "sh -c echo bad thing >&2; exit 1: bad thing");
  EXPECT_EQ(*RunChecked({"echo", "a b"}), "a b\n");
  auto missing = RunCommand({"berth-no-such-program"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "cannot run berth-no-such-program");
}

// --- Setup checks made before anything is touched (no root needed) ---

// Task ids unique to this process in their last 12 characters, which name veths
// (VethName): veth names are global to the host, and ctest runs test processes side by side.
std::string TaskId(char tag) {
  return fmt::format("{}{:07x}", std::string(25, tag),
                     static_cast<unsigned>(getpid()) & 0xfffffff);
}
const std::string kTaskA = TaskId('a');
const std::string kTaskB = TaskId('b');
const std::string kTaskC = TaskId('c');

TEST(NetworkTest, RefusesBadRequestsAndTakesHostAsIs) {
  auto network = NewLinuxNetwork({.state_dir = "/nonexistent/berth", .bridge = "btx"});
  auto host = network->Setup({kTaskA, "host", {{80, 80, "tcp"}}});
  ASSERT_TRUE(host);
  EXPECT_EQ(host->mode, "host");
  EXPECT_EQ(host->netns_path, "");
  EXPECT_TRUE(host->bindings.empty());
  EXPECT_EQ(network->Setup({kTaskA, "nat", {}}).error().message, "unknown network mode 'nat'");
  EXPECT_EQ(network->Setup({"TASK-1", "bridge", {}}).error().message,
            "task id 'TASK-1' is not hex");
  EXPECT_TRUE(network->Teardown(kTaskA));
}

TEST(NetworkTest, FixedHostPortReservedOrBoundOnTheHostIsInUse) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("berth-netports-" + std::to_string(::getpid()));
  NetworkOptions options{.state_dir = dir, .bridge = "btx", .subnet = "10.254.254.0/24"};
  options.reserved_ports = {2375};
  auto network = NewLinuxNetwork(options);
  auto reserved = network->Setup({kTaskA, "bridge", {{80, 2375, "tcp"}}});
  ASSERT_FALSE(reserved);
  EXPECT_EQ(reserved.error().code, "HostPortInUse");
  EXPECT_EQ(reserved.error().message, "host port 2375/tcp is already in use");

  int port = 0;
  Fd listener = LoopbackListener(&port);
  ASSERT_TRUE(listener.valid());
  auto bound = network->Setup({kTaskA, "bridge", {{80, port, "tcp"}}});
  ASSERT_FALSE(bound);
  EXPECT_EQ(bound.error().code, "HostPortInUse");
  EXPECT_EQ(bound.error().message, "host port " + std::to_string(port) + "/tcp is already in use");
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + kTaskA + ".json"));
  std::filesystem::remove_all(dir);
}

// --- Real networks (root) ---

std::string Output(const std::vector<std::string>& argv) {
  auto result = RunCommand(argv);
  return result ? result->out : "";
}

// A free TCP port of the host (bound to port 0 then released).
int FreePort() {
  int port = 0;
  LoopbackListener(&port);
  return port;
}

sockaddr_in Address(const std::string& ip, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &address.sin_addr);
  return address;
}

bool WaitReadable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// A child process in the namespace at `netns_path` serving `count` connections or datagrams on
// `port`: it answers "hello <peer address>". Started once it is listening.
class NetnsServer {
 public:
  NetnsServer(const std::string& netns_path, const std::string& protocol, int port, int count) {
    int ready[2];
    if (::pipe(ready) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      int ns = ::open(netns_path.c_str(), O_RDONLY);
      if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(2);
      bool udp = protocol == "udp";
      int fd = ::socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in address = Address("0.0.0.0", port);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) ::_exit(3);
      if (!udp && ::listen(fd, 8) != 0) ::_exit(4);
      [[maybe_unused]] auto n = ::write(ready[1], "r", 1);
      for (int i = 0; i < count; ++i) {
        if (!WaitReadable(fd, 10000)) ::_exit(5);
        sockaddr_in peer{};
        socklen_t length = sizeof peer;
        char buffer[64];
        char ip[INET_ADDRSTRLEN] = {};
        if (udp) {
          ::recvfrom(fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&peer), &length);
          ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
          std::string reply = std::string("hello ") + ip;
          ::sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), length);
        } else {
          int connection = ::accept(fd, reinterpret_cast<sockaddr*>(&peer), &length);
          ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
          std::string reply = std::string("hello ") + ip;
          [[maybe_unused]] auto w = ::write(connection, reply.data(), reply.size());
          ::close(connection);
        }
      }
      ::_exit(0);
    }
    ::close(ready[1]);
    char byte;
    ready_ = WaitReadable(ready[0], 5000) && ::read(ready[0], &byte, 1) == 1;
    ::close(ready[0]);
  }
  ~NetnsServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return ready_; }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
};

// What a server at ip:port says to a new TCP connection (or a datagram, for udp); "" on failure.
std::string Ask(const std::string& ip, int port, const std::string& protocol = "tcp") {
  bool udp = protocol == "udp";
  Fd fd(::socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0));
  sockaddr_in address = Address(ip, port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return "";
  if (udp && ::send(fd.get(), "x", 1, 0) != 1) return "";
  std::string reply;
  char buffer[64];
  while (WaitReadable(fd.get(), 5000)) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n <= 0) break;
    reply.append(buffer, static_cast<size_t>(n));
    if (udp) break;
  }
  return reply;
}

class RealNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, bridge, iptables)";
    if (!RunCommand({"ip", "-V"}) || !RunCommand({"iptables", "-V"})) {
      GTEST_SKIP() << "needs ip and iptables";
    }
    static int counter = 0;
    int pid = ::getpid();
    do {
      options_.bridge = "bt" + std::to_string(pid % 10000) + "n" + std::to_string(counter++);
      // Host ports are global too: each test process takes ephemeral ports from its own range.
      options_.ephemeral_low = 50000 + static_cast<int>(pid % 150) * 100;
      options_.ephemeral_high = options_.ephemeral_low + 99;
    } while (LinkExists(options_.bridge));
    // A /24 no route of the host overlaps (only the default route may cover it); not the
    // default 10.213.0.0/24, which a test process beside this one would share.
    options_.subnet.clear();
    for (int i = 0; i < 50 * 256 && options_.subnet.empty(); ++i) {
      int a = 200 + (pid / 256 + counter + i / 256) % 50;
      int b = (pid + counter * 7 + i) % 256;
      std::string cidr = "10." + std::to_string(a) + "." + std::to_string(b) + ".0/24";
      std::string overlapping = Output({"ip", "-4", "-o", "route", "show", "root", cidr}) +
                                Output({"ip", "-4", "-o", "route", "show", "match", cidr});
      bool clear = true;
      for (size_t start = 0; start < overlapping.size();) {
        size_t end = overlapping.find('\n', start);
        if (end == std::string::npos) end = overlapping.size();
        if (!overlapping.substr(start, end - start).starts_with("default")) clear = false;
        start = end + 1;
      }
      if (clear) options_.subnet = cidr;
    }
    ASSERT_FALSE(options_.subnet.empty());
    options_.state_dir = std::filesystem::temp_directory_path() /
                         ("berth-net-" + std::to_string(pid) + "-" + options_.bridge);
    prefix_ = options_.subnet.substr(0, options_.subnet.rfind('.') + 1);  // "10.a.b."
  }

  void TearDown() override {
    if (options_.bridge.empty() || ::geteuid() != 0) return;
    (void)NewLinuxNetwork(options_)->Recover({});
    EXPECT_TRUE(RemoveBridge(options_.bridge));
    std::filesystem::remove_all(options_.state_dir);
    EXPECT_FALSE(LinkExists(options_.bridge));
    EXPECT_EQ(Output({"iptables-save"}).find("BERTH-" + options_.bridge + "-"), std::string::npos);
    EXPECT_EQ(Output({"ip", "netns", "list"}).find("berth-" + options_.bridge + "-"),
              std::string::npos);
  }

  // Nothing of the task is left on the host.
  void ExpectGone(const std::string& task_id) {
    std::string ns = "berth-" + options_.bridge + "-" + task_id;
    std::string veth = VethName(task_id);
    EXPECT_EQ(Output({"ip", "netns", "list"}).find(ns), std::string::npos);
    EXPECT_EQ(Output({"ip", "-o", "link"}).find(veth), std::string::npos);
    EXPECT_EQ(Output({"iptables-save"}).find("berth:" + task_id), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(options_.state_dir + "/" + task_id + ".json"));
  }

  NetworkOptions options_;
  std::string prefix_;
};

TEST_F(RealNetworkTest, AwsvpcTaskIsReachableFromTheHostAndTornDown) {
  auto network = NewLinuxNetwork(options_);
  auto task = network->Setup({kTaskA, "awsvpc", {{8080, 0, "tcp"}}});
  ASSERT_TRUE(task) << task.error().message;
  EXPECT_EQ(task->mode, "awsvpc");
  EXPECT_EQ(task->netns_path, "/run/netns/berth-" + options_.bridge + "-" + kTaskA);
  EXPECT_EQ(task->ipv4, prefix_ + "2");
  EXPECT_EQ(task->gateway, prefix_ + "1");
  EXPECT_TRUE(task->bindings.empty());
  EXPECT_EQ(Output({"iptables-save"}).find(std::string("berth:") + kTaskA), std::string::npos);
  {
    NetnsServer server(task->netns_path, "tcp", 8080, 1);
    ASSERT_TRUE(server.ready());
    EXPECT_EQ(Ask(task->ipv4, 8080), "hello " + task->gateway);
  }
  // A second task gets the next address; a repeated Setup returns the same network.
  auto second = network->Setup({kTaskB, "awsvpc", {}});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->ipv4, prefix_ + "3");
  EXPECT_EQ(network->Setup({kTaskA, "awsvpc", {}})->ipv4, prefix_ + "2");

  ASSERT_TRUE(network->Teardown(kTaskA));
  ExpectGone(kTaskA);
  EXPECT_TRUE(network->Teardown(kTaskA));
  // The freed address is handed out again.
  EXPECT_EQ(network->Setup({kTaskC, "awsvpc", {}})->ipv4, prefix_ + "2");
}

TEST_F(RealNetworkTest, BridgePortsArePublishedOnLoopbackAndTornDown) {
  auto network = NewLinuxNetwork(options_);
  int fixed = FreePort();
  auto task = network->Setup(
      {kTaskA, "bridge", {{8080, fixed, "tcp"}, {8081, 0, "tcp"}, {5353, 0, "udp"}}});
  ASSERT_TRUE(task) << task.error().message;
  ASSERT_EQ(task->bindings.size(), 3u);
  EXPECT_EQ(task->bindings[0], (NetworkBinding{"0.0.0.0", 8080, fixed, "tcp"}));
  int ephemeral = task->bindings[1].host_port;
  EXPECT_GE(ephemeral, options_.ephemeral_low);
  EXPECT_LE(ephemeral, options_.ephemeral_high);
  EXPECT_EQ(task->bindings[1], (NetworkBinding{"0.0.0.0", 8081, ephemeral, "tcp"}));
  EXPECT_EQ(task->bindings[2].container_port, 5353);
  EXPECT_EQ(task->bindings[2].protocol, "udp");
  {
    NetnsServer fixed_server(task->netns_path, "tcp", 8080, 1);
    NetnsServer ephemeral_server(task->netns_path, "tcp", 8081, 1);
    NetnsServer udp_server(task->netns_path, "udp", 5353, 1);
    ASSERT_TRUE(fixed_server.ready() && ephemeral_server.ready() && udp_server.ready());
    // Connections from the host's loopback reach the task, from the bridge's address.
    EXPECT_EQ(Ask("127.0.0.1", fixed), "hello " + task->gateway);
    EXPECT_EQ(Ask("127.0.0.1", ephemeral), "hello " + task->gateway);
    EXPECT_EQ(Ask("127.0.0.1", task->bindings[2].host_port, "udp"), "hello " + task->gateway);
  }
  // The fixed port is now another task's: refused, and nothing is left of the refused task.
  auto taken = network->Setup({kTaskB, "bridge", {{80, fixed, "tcp"}}});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, "HostPortInUse");
  EXPECT_EQ(taken.error().message, "host port " + std::to_string(fixed) + "/tcp is already in use");
  ExpectGone(kTaskB);

  std::string rules = Output({"iptables-save"});
  EXPECT_NE(rules.find("--dport " + std::to_string(fixed)), std::string::npos);
  ASSERT_TRUE(network->Teardown(kTaskA));
  ExpectGone(kTaskA);
  EXPECT_EQ(Ask("127.0.0.1", fixed), "");
  // Once the task is gone its fixed port is free again.
  auto again = network->Setup({kTaskB, "bridge", {{80, fixed, "tcp"}}});
  ASSERT_TRUE(again) << again.error().message;
}

TEST_F(RealNetworkTest, NoneModeHasLoopbackOnly) {
  auto network = NewLinuxNetwork(options_);
  auto task = network->Setup({kTaskA, "none", {}});
  ASSERT_TRUE(task) << task.error().message;
  EXPECT_EQ(task->ipv4, "");
  std::string links = Output({"ip", "-n", "berth-" + options_.bridge + "-" + kTaskA, "-o", "link"});
  EXPECT_NE(links.find("lo:"), std::string::npos);
  EXPECT_NE(links.find("UP"), std::string::npos);
  EXPECT_EQ(links.find("eth0"), std::string::npos);
  ASSERT_TRUE(network->Teardown(kTaskA));
  ExpectGone(kTaskA);
}

TEST_F(RealNetworkTest, SetupFailureLeavesNothing) {
  std::string veth = VethName(kTaskA);
  ASSERT_TRUE(RunChecked({"ip", "link", "add", veth, "type", "bridge"}));
  auto network = NewLinuxNetwork(options_);
  auto task = network->Setup({kTaskA, "bridge", {{80, 0, "tcp"}}});
  ASSERT_FALSE(task);
  EXPECT_EQ(task.error().code, "NetworkSetupError");
  EXPECT_EQ(task.error().message, veth + " already exists");
  // The link is not berth's to remove.
  EXPECT_TRUE(LinkExists(veth));
  ASSERT_TRUE(RunChecked({"ip", "link", "del", veth}));
  ExpectGone(kTaskA);

  // A failure half-way (the bridge vanished under a running agent) undoes what was made.
  ASSERT_TRUE(network->Setup({kTaskB, "awsvpc", {}}));
  ASSERT_TRUE(RunChecked({"ip", "link", "del", options_.bridge}));
  auto half = network->Setup({kTaskC, "bridge", {{80, 0, "tcp"}}});
  ASSERT_FALSE(half);
  EXPECT_EQ(half.error().code, "NetworkSetupError");
  // ip exits at the bad argument without saying which line of its batch it was: all are named.
  std::string veth_c = VethName(kTaskC);
  EXPECT_EQ(half.error().message,
            fmt::format("ip -batch [netns add berth-{0}-{1};link add {2} type veth peer name eth0 "
                        "netns berth-{0}-{1};link set {2} master {0} up]: Error: argument \"{0}\" "
                        "is wrong: Device does not exist",
                        options_.bridge, kTaskC, veth_c));
  ExpectGone(kTaskC);
}

// The names under /run/netns that start with `prefix`.
std::vector<std::string> NetnsStartingWith(const std::string& prefix) {
  std::vector<std::string> found;
  for (const auto& name : ListNetns()) {
    if (name.starts_with(prefix)) found.push_back(name);
  }
  return found;
}

// Waits (10 s at most) until `count` pooled namespaces of `bridge` exist.
bool WaitPooled(const std::string& bridge, size_t count) {
  for (int i = 0; i < 1000; ++i) {
    if (NetnsStartingWith("berth-" + bridge + "-pool-").size() >= count &&
        BridgePorts(bridge).size() >= count) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST_F(RealNetworkTest, PooledNetworkBecomesTheTasksAndNothingOutlivesTheNetwork) {
  options_.pool_size = 2;
  auto network = NewLinuxNetwork(options_);
  ASSERT_TRUE(network->Recover({}));  // starts the pool
  ASSERT_TRUE(WaitPooled(options_.bridge, 2));
  auto task = network->Setup({kTaskA, "bridge", {{8080, 0, "tcp"}}});
  ASSERT_TRUE(task) << task.error().message;
  // The pooled namespace now has the task's name; its old name is gone.
  EXPECT_EQ(task->netns_path, "/run/netns/berth-" + options_.bridge + "-" + kTaskA);
  EXPECT_TRUE(NetnsExists("berth-" + options_.bridge + "-" + kTaskA));
  EXPECT_EQ(task->gateway, prefix_ + "1");
  EXPECT_TRUE(task->ipv4.starts_with(prefix_)) << task->ipv4;
  ASSERT_EQ(task->bindings.size(), 1u);
  {
    NetnsServer server(task->netns_path, "tcp", 8080, 2);
    ASSERT_TRUE(server.ready());
    EXPECT_EQ(Ask(task->ipv4, 8080), "hello " + task->gateway);
    EXPECT_EQ(Ask("127.0.0.1", task->bindings[0].host_port), "hello " + task->gateway);
  }
  // A task without a pooled network (none mode) and a second pooled one: distinct addresses.
  auto second = network->Setup({kTaskB, "awsvpc", {}});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_NE(second->ipv4, task->ipv4);
  ASSERT_TRUE(network->Teardown(kTaskA));
  ExpectGone(kTaskA);
  ASSERT_TRUE(network->Teardown(kTaskB));
  ExpectGone(kTaskB);
  ASSERT_TRUE(WaitPooled(options_.bridge, 1));
  // The pool's networks go with the Network: no namespace, no veth on the bridge.
  network.reset();
  EXPECT_EQ(NetnsStartingWith("berth-" + options_.bridge + "-"), std::vector<std::string>{});
  EXPECT_EQ(BridgePorts(options_.bridge), std::vector<std::string>{});
}

TEST_F(RealNetworkTest, RecoverRemovesThePoolOfAnAgentThatDidNotStop) {
  // What a killed agent's pool leaves: a namespace and a veth on the bridge.
  ASSERT_TRUE(EnsureBridge(options_));
  std::string ns = "berth-" + options_.bridge + "-pool-dead00000001";
  ASSERT_TRUE(RunChecked({"ip", "netns", "add", ns}));
  ASSERT_TRUE(RunChecked({"ip", "link", "add", "bvpdead00000001", "type", "veth", "peer", "name",
                          "eth0", "netns", ns}));
  ASSERT_TRUE(RunChecked({"ip", "link", "set", "bvpdead00000001", "master", options_.bridge}));
  auto recovered = NewLinuxNetwork(options_)->Recover({});
  ASSERT_TRUE(recovered) << recovered.error().message;
  EXPECT_FALSE(NetnsExists(ns));
  EXPECT_FALSE(LinkExists("bvpdead00000001"));
}

TEST_F(RealNetworkTest, RecoverKeepsKeptTasksAndRemovesTheRest) {
  auto first = NewLinuxNetwork(options_);
  auto kept = first->Setup({kTaskA, "bridge", {{8080, 0, "tcp"}}});
  ASSERT_TRUE(kept) << kept.error().message;
  auto dropped = first->Setup({kTaskB, "bridge", {{8080, 0, "tcp"}}});
  ASSERT_TRUE(dropped) << dropped.error().message;
  // An orphan: a namespace named for this bridge that no record names.
  std::string orphan = "berth-" + options_.bridge + "-" + kTaskC;
  ASSERT_TRUE(RunChecked({"ip", "netns", "add", orphan}));

  NetworkOptions restarted = options_;  // as after a restart, with a new metadata listener
  restarted.metadata_address = "127.0.0.1:2222";
  auto second = NewLinuxNetwork(restarted);
  auto recovered = second->Recover({kTaskA, kTaskC});
  ASSERT_TRUE(recovered) << recovered.error().message;
  ASSERT_EQ(recovered->size(), 1u);
  const TaskNetwork& network = recovered->at(kTaskA);
  EXPECT_EQ(network.ipv4, kept->ipv4);
  EXPECT_EQ(network.netns_path, kept->netns_path);
  EXPECT_EQ(network.bindings, kept->bindings);
  ExpectGone(kTaskB);
  EXPECT_FALSE(NetnsExists(orphan));
  EXPECT_NE(Output({"iptables", "-w", "-t", "nat", "-S", "BERTH-" + options_.bridge + "-PRE"})
                .find("--to-destination 127.0.0.1:2222"),
            std::string::npos);
  // The bridge made again: each jump once, each bridge rule once, the task's port rule kept.
  std::string rules = Output({"iptables-save"});
  auto count = [&rules](const std::string& text) {
    size_t n = 0;
    for (size_t at = rules.find(text); at != std::string::npos; at = rules.find(text, at + 1)) ++n;
    return n;
  };
  const std::string& br = options_.bridge;
  EXPECT_EQ(count("-A PREROUTING -j BERTH-" + br + "-PRE\n"), 1u);
  EXPECT_EQ(count("-A OUTPUT -m addrtype --dst-type LOCAL -j BERTH-" + br + "-PORTS\n"), 1u);
  EXPECT_EQ(count("-A FORWARD -j BERTH-" + br + "-FWD\n"), 1u);
  EXPECT_EQ(count("-A BERTH-" + br + "-FWD -i " + br + " -j ACCEPT\n"), 1u);
  EXPECT_EQ(count("-A BERTH-" + br + "-PORTS "), 1u);
  // The kept task still works.
  NetnsServer server(network.netns_path, "tcp", 8080, 1);
  ASSERT_TRUE(server.ready());
  EXPECT_EQ(Ask("127.0.0.1", network.bindings[0].host_port), "hello " + network.gateway);
}

TEST_F(RealNetworkTest, MetadataAddressIsReachedFromTheTaskWithItsOwnSource) {
  int metadata_port = 0;
  Fd listener = LoopbackListener(&metadata_port);
  ASSERT_TRUE(listener.valid());
  options_.metadata_address = "127.0.0.1:" + std::to_string(metadata_port);
  auto network = NewLinuxNetwork(options_);
  auto task = network->Setup({kTaskA, "awsvpc", {}});
  ASSERT_TRUE(task) << task.error().message;

  pid_t child = ::fork();
  if (child == 0) {
    int ns = ::open(task->netns_path.c_str(), O_RDONLY);
    if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(2);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in metadata = Address("169.254.170.2", 80);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&metadata), sizeof metadata) != 0) ::_exit(3);
    char buffer[8];
    if (!WaitReadable(fd, 5000) || ::read(fd, buffer, 2) != 2) ::_exit(4);
    ::_exit(buffer[0] == 'o' && buffer[1] == 'k' ? 0 : 5);
  }
  ASSERT_TRUE(WaitReadable(listener.get(), 5000));
  sockaddr_in peer{};
  socklen_t length = sizeof peer;
  Fd connection(::accept(listener.get(), reinterpret_cast<sockaddr*>(&peer), &length));
  ASSERT_TRUE(connection.valid());
  char ip[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
  EXPECT_EQ(std::string(ip), task->ipv4);
  ASSERT_EQ(::write(connection.get(), "ok", 2), 2);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  // Other traffic from the bridge to the host's loopback is dropped.
  std::string input = Output({"iptables", "-w", "-S", "BERTH-" + options_.bridge + "-IN"});
  EXPECT_NE(input.find("-j DROP"), std::string::npos);
}

TEST_F(RealNetworkTest, ConcurrentSetupsGetDistinctAddresses) {
  auto network = NewLinuxNetwork(options_);
  const std::string ids[] = {kTaskA, kTaskB, kTaskC};
  std::vector<std::string> addresses(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      auto task = network->Setup({ids[i], "awsvpc", {}});
      addresses[i] = task ? task->ipv4 : task.error().message;
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> distinct(addresses.begin(), addresses.end());
  EXPECT_EQ(distinct, (std::set<std::string>{prefix_ + "2", prefix_ + "3", prefix_ + "4"}));
  for (const std::string& id : ids) ASSERT_TRUE(network->Teardown(id));
  for (const std::string& id : ids) ExpectGone(id);
}

}  // namespace
}  // namespace berth::agent::network
