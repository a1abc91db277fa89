// Host ports for a bridge-mode task's port mappings: fixed ones checked, ephemeral ones picked.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/spec/task_spec.h"
#include "common/error.h"

namespace berth::agent::network {

using HostPort = std::pair<std::string, int>;  // (protocol, port)

struct PortPolicy {
  int ephemeral_low = 49153;
  int ephemeral_high = 65535;
  std::set<int> reserved;   // never handed out, whatever the protocol
  std::set<HostPort> held;  // published for other tasks
  // True when something on the host already has the port (BoundOnHost in production).
  std::function<bool(const std::string& protocol, int port)> bound_on_host;
};

// One binding a mapping, in the mappings' order, with bind_ip "0.0.0.0". A fixed host port that
// is reserved, held, bound on the host or asked twice fails with "HostPortInUse"; a bad
// protocol or port with "NetworkSetupError", as does an ephemeral range with no free port.
// Ephemeral ports are tried from `*cursor` (kept between calls so ports are not reused at
// once) upwards, wrapping; `*cursor` is left after the last port picked.
Result<std::vector<spec::NetworkBinding>> AllocatePorts(
    const std::vector<spec::PortMapping>& mappings, const PortPolicy& policy, int* cursor);

// True when a socket of `protocol` ("tcp" | "udp") cannot bind 0.0.0.0:`port` (SO_REUSEADDR,
// so a TIME_WAIT connection does not count).
bool BoundOnHost(const std::string& protocol, int port);

}  // namespace berth::agent::network
