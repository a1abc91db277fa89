// A task's network: the agent gives each task that is not on the host's network a network
// namespace of its own, joined to a berth bridge by a veth pair, with an address from the
// bridge's subnet, outbound NAT, and (bridge mode) its port mappings published on the host.
//
//   host    no namespace; the container shares the host's (its ports are the host's)
//   none    a namespace with loopback only
//   bridge  namespace + veth on the bridge; portMappings published on the host: a fixed
//           hostPort, or an ephemeral one (hostPort 0) picked from the ephemeral range;
//           reported as networkBindings {bindIP "0.0.0.0", containerPort, hostPort, protocol}
//   awsvpc  namespace + veth on the bridge: the task has its own address, reachable from the
//           host at <ipv4>:<containerPort>; nothing published, no networkBindings
//
// In every namespace the task can reach the agent's credentials and metadata endpoint at
// 169.254.170.2:80: as ecs-init does, a DNAT of packets from the bridge to
// NetworkOptions.metadata_address (the agent's loopback listener), route_localnet on the bridge,
// and a rule dropping any other off-host traffic to 127.0.0.0/8. The packets keep the task's
// address as their source, so the endpoint knows which task asks.
// Everything is made with iproute2 and iptables and recorded in the state directory, so a
// restarted agent finds what it made (Recover) and removes what no task needs.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/spec/task_spec.h"
#include "common/error.h"

namespace berth::agent::network {

struct TaskNetworkRequest {
  std::string task_id;  // 32 hex: names the namespace, the veth and the rules
  std::string mode;     // host | none | bridge | awsvpc
  std::vector<spec::PortMapping> ports;  // of every container of the task
};

struct TaskNetwork {
  std::string mode;
  std::string netns_path;  // "/run/netns/<name>"; "" for host
  std::string ipv4;        // the task's address (bridge, awsvpc); "" otherwise
  std::string gateway;     // the bridge's address (bridge, awsvpc)
  std::vector<spec::NetworkBinding> bindings;  // published ports (bridge)
};

struct NetworkOptions {
  std::string state_dir;                  // what was made for each task
  std::string bridge = "berth0";          // at most 15 chars
  std::string subnet = "10.213.0.0/24";   // the bridge takes .1
  int ephemeral_low = 49153;              // ephemeral host ports (Docker's range)
  int ephemeral_high = 65535;
  std::set<int> reserved_ports;           // never handed out (the instance's reserved ports)
  // "127.0.0.1:port" where the agent serves credentials and metadata; packets from task
  // namespaces to 169.254.170.2:80 are DNATed there. "": none.
  std::string metadata_address;
  // Bridge and awsvpc networks made ahead of need (pool.h), named berth-<bridge>-pool-<hex>
  // (veth bvp<hex>) until a task takes one and its namespace is renamed for the task. The pool
  // fills once Recover has run (or at the first Setup); the Network's destructor and Recover
  // remove pooled networks no task took. 0: none.
  size_t pool_size = 0;
};

class Network {
 public:
  virtual ~Network() = default;

  // Creates the task's network. A fixed host port in use (by another task, or bound on the
  // host) fails with "HostPortInUse"; other failures with "NetworkSetupError" saying what.
  // Nothing is left behind on failure.
  virtual Result<TaskNetwork> Setup(const TaskNetworkRequest& request) = 0;

  // Removes everything made for the task (namespace, veth, rules, port reservations). OK when
  // nothing is left of it.
  virtual Status Teardown(const std::string& task_id) = 0;

  // After a restart: the networks of `keep` as recorded; everything recorded for any other
  // task is torn down.
  virtual Result<std::map<std::string, TaskNetwork>> Recover(const std::set<std::string>& keep) = 0;
};

// The Linux implementation (ip, iptables; root).
std::unique_ptr<Network> NewLinuxNetwork(const NetworkOptions& options);

// The host side of a task's veth pair: "bv" and the task id's last 12 characters (interface
// names hold 15). The last ones: berth's task ids begin with their creation time, so tasks
// started together share their first characters; the end is random (ECS's ids are random
// throughout).
std::string VethName(std::string_view task_id);

}  // namespace berth::agent::network
