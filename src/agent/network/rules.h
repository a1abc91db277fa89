// The iptables rules of a berth bridge and of its tasks, as plain data: what the bridge needs
// (in chains of its own, jumped to from the built-in chains) and what publishes a task's ports.
// Building them is pure; host.h applies them.
//
//   nat    PREROUTING  -> BERTH-<br>-PRE    metadata DNAT (-i <br> -d 169.254.170.2:80), then
//                                           addrtype LOCAL -> BERTH-<br>-PORTS
//          OUTPUT      -> BERTH-<br>-PORTS  (addrtype LOCAL: the host's own connections,
//                                           127.0.0.1 included)
//          BERTH-<br>-PORTS                 one DNAT a published port, commented berth:<task>
//          POSTROUTING -> BERTH-<br>-POST   MASQUERADE: the subnet leaving by another
//                                           interface; 127.0.0.0/8 sources going to the bridge;
//                                           DNATed task-to-task traffic (hairpin)
//   filter INPUT       -> BERTH-<br>-IN     drop off-host traffic to 127.0.0.0/8 from the bridge
//                                           unless DNATed or established (as ecs-init does)
//          FORWARD     -> BERTH-<br>-FWD    accept from the bridge, and to it when DNATed or
//                                           established
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/spec/task_spec.h"

namespace berth::agent::network {

inline constexpr std::string_view kMetadataIp = "169.254.170.2";

struct Rule {
  std::string table;  // "nat" | "filter"
  std::string chain;
  std::vector<std::string> spec;  // the matches and target, as iptables takes them

  bool operator==(const Rule&) const = default;
};

struct Chain {
  std::string table;
  std::string name;
  bool holds_tasks = false;  // BERTH-<br>-PORTS: never flushed while the bridge lives
};

struct BridgeConfig {
  std::string bridge;
  std::string subnet;            // cidr
  std::string metadata_address;  // "127.0.0.1:port", "" for none
};

// The chains of `bridge`, in the order they are made.
std::vector<Chain> BridgeChains(const std::string& bridge);
// The rules of the bridge's chains that hold no task rules, in order.
std::vector<Rule> BridgeRules(const BridgeConfig& config);
// The jumps from the built-in chains to the bridge's chains.
std::vector<Rule> BridgeJumps(const std::string& bridge);
// The DNAT rules publishing a task's bindings to ipv4:container_port.
std::vector<Rule> PortRules(const std::string& bridge, const std::string& task_id,
                            const std::string& ipv4,
                            const std::vector<spec::NetworkBinding>& bindings);

// {"iptables", "-w", "-t", table, op, chain, spec...}; op is "-A", "-C", "-D" or "-I".
std::vector<std::string> IptablesArgv(std::string_view op, const Rule& rule);

// A line of `iptables -t <table> -S <chain>` ("-A <chain> <spec...>", double quotes around
// words with spaces) as a rule; `task_id` is set to <id> when it carries the comment
// "berth:<id>". False for lines that are not rules ("-N", "-P").
bool ParseRuleLine(std::string_view table, std::string_view line, Rule* rule, std::string* task_id);

}  // namespace berth::agent::network
