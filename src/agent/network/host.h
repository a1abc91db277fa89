// The host's network as berth changes it: links, namespaces, iptables rules and chains, the
// bridge. Each call runs ip/iptables (command.h) and fails with NetworkSetupError saying which
// command failed and what it printed. Removals are idempotent: removing what is not there is OK.
#pragma once

#include <string>
#include <vector>

#include "agent/network/network.h"
#include "agent/network/rules.h"
#include "common/error.h"

namespace berth::agent::network {

inline constexpr std::string_view kNetnsDir = "/run/netns";

bool LinkExists(const std::string& name);
bool NetnsExists(const std::string& name);
// Names in /run/netns.
std::vector<std::string> ListNetns();
// The interfaces enslaved to `bridge` (/sys/class/net/<bridge>/brif).
std::vector<std::string> BridgePorts(const std::string& bridge);

Status AppendRule(const Rule& rule);
Status DeleteRule(const Rule& rule);  // every copy of it
Status DeleteLink(const std::string& name);
Status DeleteNetns(const std::string& name);
// Gives the namespace /run/netns/<from> the name <to> (a bind mount of it at the new name, the
// old one unmounted): no process, no change inside it. <to> must not exist; on failure <from>
// is left as it was.
Status RenameNetns(const std::string& from, const std::string& to);
// The rules of `chain` (iptables -S); empty when the chain does not exist.
std::vector<std::string> ChainRuleLines(const std::string& table, const std::string& chain);

// Makes the bridge (options.bridge, gateway address of the subnet, up) if missing, turns on
// ip_forward and route_localnet on it, makes its chains and jumps (rules.h) and rewrites the
// rules of the chains that hold no task rules. Idempotent.
Status EnsureBridge(const NetworkOptions& options);

// Removes the bridge's jumps, chains (task rules included) and the bridge itself: for tests and
// for uninstalling; tasks on it should be torn down first.
Status RemoveBridge(const std::string& bridge);

}  // namespace berth::agent::network
