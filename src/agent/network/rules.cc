#include "agent/network/rules.h"

namespace berth::agent::network {
namespace {

constexpr std::string_view kCommentPrefix = "berth:";

std::string ChainName(const std::string& bridge, std::string_view suffix) {
  return "BERTH-" + bridge + "-" + std::string(suffix);
}

// Splits on spaces; a word in double quotes may hold spaces (iptables -S quoting).
std::vector<std::string> Words(std::string_view line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i >= line.size()) break;
    std::string word;
    if (line[i] == '"') {
      ++i;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < line.size()) ++i;
        word += line[i++];
      }
      ++i;
    } else {
      while (i < line.size() && line[i] != ' ') word += line[i++];
    }
    words.push_back(std::move(word));
  }
  return words;
}

}  // namespace

std::vector<Chain> BridgeChains(const std::string& bridge) {
  return {{"nat", ChainName(bridge, "PORTS"), true},
          {"nat", ChainName(bridge, "PRE"), false},
          {"nat", ChainName(bridge, "POST"), false},
          {"filter", ChainName(bridge, "IN"), false},
          {"filter", ChainName(bridge, "FWD"), false}};
}

std::vector<Rule> BridgeRules(const BridgeConfig& config) {
  const std::string& br = config.bridge;
  std::string pre = ChainName(br, "PRE");
  std::string post = ChainName(br, "POST");
  std::vector<Rule> rules;
  if (!config.metadata_address.empty()) {
    rules.push_back({"nat",
                     pre,
                     {"-i", br, "-d", std::string(kMetadataIp) + "/32", "-p", "tcp", "-m", "tcp",
                      "--dport", "80", "-j", "DNAT", "--to-destination", config.metadata_address}});
  }
  rules.push_back(
      {"nat", pre, {"-m", "addrtype", "--dst-type", "LOCAL", "-j", ChainName(br, "PORTS")}});
  rules.push_back({"nat", post, {"-s", config.subnet, "!", "-o", br, "-j", "MASQUERADE"}});
  rules.push_back({"nat", post, {"-s", "127.0.0.0/8", "-o", br, "-j", "MASQUERADE"}});
  rules.push_back({"nat",
                   post,
                   {"-s", config.subnet, "-o", br, "-m", "conntrack", "--ctstate", "DNAT", "-j",
                    "MASQUERADE"}});
  rules.push_back({"filter",
                   ChainName(br, "IN"),
                   {"-i", br, "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m", "conntrack", "!",
                    "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP"}});
  rules.push_back({"filter", ChainName(br, "FWD"), {"-i", br, "-j", "ACCEPT"}});
  rules.push_back(
      {"filter",
       ChainName(br, "FWD"),
       {"-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "ACCEPT"}});
  return rules;
}

std::vector<Rule> BridgeJumps(const std::string& bridge) {
  return {{"nat", "PREROUTING", {"-j", ChainName(bridge, "PRE")}},
          {"nat",
           "OUTPUT",
           {"-m", "addrtype", "--dst-type", "LOCAL", "-j", ChainName(bridge, "PORTS")}},
          {"nat", "POSTROUTING", {"-j", ChainName(bridge, "POST")}},
          {"filter", "INPUT", {"-j", ChainName(bridge, "IN")}},
          {"filter", "FORWARD", {"-j", ChainName(bridge, "FWD")}}};
}

std::vector<Rule> PortRules(const std::string& bridge, const std::string& task_id,
                            const std::string& ipv4,
                            const std::vector<spec::NetworkBinding>& bindings) {
  std::vector<Rule> rules;
  for (const auto& binding : bindings) {
    rules.push_back({"nat",
                     ChainName(bridge, "PORTS"),
                     {"-p", binding.protocol, "-m", binding.protocol, "--dport",
                      std::to_string(binding.host_port), "-m", "comment", "--comment",
                      std::string(kCommentPrefix) + task_id, "-j", "DNAT", "--to-destination",
                      ipv4 + ":" + std::to_string(binding.container_port)}});
  }
  return rules;
}

std::vector<std::string> IptablesArgv(std::string_view op, const Rule& rule) {
  std::vector<std::string> argv = {"iptables", "-w", "-t", rule.table, std::string(op), rule.chain};
  argv.insert(argv.end(), rule.spec.begin(), rule.spec.end());
  return argv;
}

bool ParseRuleLine(std::string_view table, std::string_view line, Rule* rule,
                   std::string* task_id) {
  auto words = Words(line);
  if (words.size() < 2 || words[0] != "-A") return false;
  rule->table = std::string(table);
  rule->chain = words[1];
  rule->spec.assign(words.begin() + 2, words.end());
  task_id->clear();
  for (size_t i = 0; i + 1 < rule->spec.size(); ++i) {
    if (rule->spec[i] == "--comment" && rule->spec[i + 1].starts_with(kCommentPrefix)) {
      *task_id = rule->spec[i + 1].substr(kCommentPrefix.size());
    }
  }
  return true;
}

}  // namespace berth::agent::network
