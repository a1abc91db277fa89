#include "agent/network/ports.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/fd.h"

namespace berth::agent::network {
namespace {

std::string Name(const HostPort& port) { return std::to_string(port.second) + "/" + port.first; }

}  // namespace

Result<std::vector<spec::NetworkBinding>> AllocatePorts(
    const std::vector<spec::PortMapping>& mappings, const PortPolicy& policy, int* cursor) {
  std::vector<spec::NetworkBinding> bindings;
  std::set<HostPort> taken;  // by this task
  for (const auto& mapping : mappings) {
    if (mapping.protocol != "tcp" && mapping.protocol != "udp") {
      return Fail("NetworkSetupError",
                  "port mapping protocol '" + mapping.protocol + "' is not tcp or udp", 500);
    }
    if (mapping.container_port < 1 || mapping.container_port > 65535 || mapping.host_port < 0 ||
        mapping.host_port > 65535) {
      return Fail("NetworkSetupError",
                  "port mapping " + std::to_string(mapping.host_port) + ":" +
                      std::to_string(mapping.container_port) + " is out of range",
                  500);
    }
    bindings.push_back({"0.0.0.0", mapping.container_port, mapping.host_port, mapping.protocol});
  }
  // Fixed ports first, so an ephemeral pick never takes one the task names.
  for (const auto& binding : bindings) {
    if (binding.host_port == 0) continue;
    HostPort port{binding.protocol, binding.host_port};
    if (taken.contains(port) || policy.held.contains(port) ||
        policy.reserved.contains(port.second) ||
        (policy.bound_on_host && policy.bound_on_host(port.first, port.second))) {
      return Fail("HostPortInUse", "host port " + Name(port) + " is already in use", 409);
    }
    taken.insert(port);
  }
  int low = policy.ephemeral_low;
  int high = policy.ephemeral_high;
  for (auto& binding : bindings) {
    if (binding.host_port != 0) continue;
    int span = high - low + 1;
    int start = (*cursor >= low && *cursor <= high) ? *cursor : low;
    for (int i = 0; i < span && binding.host_port == 0; ++i) {
      int candidate = low + (start - low + i) % span;
      HostPort port{binding.protocol, candidate};
      if (taken.contains(port) || policy.held.contains(port) ||
          policy.reserved.contains(candidate) ||
          (policy.bound_on_host && policy.bound_on_host(port.first, candidate))) {
        continue;
      }
      binding.host_port = candidate;
      taken.insert(port);
      *cursor = candidate == high ? low : candidate + 1;
    }
    if (binding.host_port == 0) {
      return Fail("NetworkSetupError",
                  "no free " + binding.protocol + " host port in " + std::to_string(low) + "-" +
                      std::to_string(high),
                  500);
    }
  }
  return bindings;
}

bool BoundOnHost(const std::string& protocol, int port) {
  Fd fd(::socket(AF_INET, (protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return true;  // cannot tell: do not hand it out
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0;
}

}  // namespace berth::agent::network
