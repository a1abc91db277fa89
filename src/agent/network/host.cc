#include "agent/network/host.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "agent/network/command.h"
#include "agent/network/subnet.h"

namespace berth::agent::network {
namespace {

bool Succeeds(const std::vector<std::string>& argv) {
  auto result = RunCommand(argv);
  return result && result->exit_code == 0;
}

bool ChainExists(const std::string& table, const std::string& chain) {
  return Succeeds({"iptables", "-w", "-t", table, "-S", chain});
}

Status WriteProc(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  if (!out) return Fail("NetworkSetupError", "cannot write " + path, 500);
  return {};
}

std::vector<std::string> DirNames(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename());
  }
  return names;
}

// The bridge's chains, rules and jumps with two processes, where one iptables call each took
// ~25 (0.5-1 s on a busy host, which the first task of a new agent waited for): iptables-save
// says what is there, one iptables-restore --noflush makes the rest. Declaring a chain there
// creates it, or flushes it when it exists: so only missing task chains are declared.
Status ApplyBridgeRules(const NetworkOptions& options, const Subnet& subnet) {
  const std::string& br = options.bridge;
  std::string saved = BERTH_TRY(RunChecked({"iptables-save"}));
  std::set<std::pair<std::string, std::string>> chains;  // (table, chain)
  std::vector<Rule> rules;
  std::string table;
  for (size_t start = 0; start < saved.size();) {
    size_t end = saved.find('\n', start);
    if (end == std::string::npos) end = saved.size();
    std::string_view line(saved.data() + start, end - start);
    start = end + 1;
    if (line.starts_with("*")) {
      table = std::string(line.substr(1));
    } else if (line.starts_with(":")) {
      chains.insert({table, std::string(line.substr(1, line.find(' ') - 1))});
    } else if (line.starts_with("-A ")) {
      Rule rule;
      std::string task_id;
      if (ParseRuleLine(table, line, &rule, &task_id)) rules.push_back(std::move(rule));
    }
  }
  auto words = [](const Rule& rule) {
    std::string out = rule.chain;
    for (const auto& word : rule.spec) out += " " + word;
    return out;
  };
  std::string input;
  for (const char* t : {"nat", "filter"}) {
    input += fmt::format("*{}\n", t);
    for (const auto& chain : BridgeChains(br)) {
      if (chain.table == t && (!chain.holds_tasks || !chains.contains({t, chain.name}))) {
        input += ":" + chain.name + " - [0:0]\n";
      }
    }
    for (const auto& rule : BridgeRules({br, subnet.Cidr(), options.metadata_address})) {
      if (rule.table == t) input += "-A " + words(rule) + "\n";
    }
    for (const auto& jump : BridgeJumps(br)) {
      if (jump.table != t || std::find(rules.begin(), rules.end(), jump) != rules.end()) continue;
      Rule first = jump;
      first.spec.insert(first.spec.begin(), "1");  // first in the built-in chain
      input += "-I " + words(first) + "\n";
    }
    input += "COMMIT\n";
  }
  std::error_code ec;
  std::filesystem::create_directories(options.state_dir, ec);
  std::string file = options.state_dir + "/.bridge.rules";
  {
    std::ofstream out(file, std::ios::trunc);  // a scratch file: no fsync needed
    out << input;
    if (!out.flush()) return Fail("NetworkSetupError", "cannot write " + file, 500);
  }
  auto restored = RunChecked({"iptables-restore", "-w", "--noflush", file});
  std::filesystem::remove(file, ec);
  BERTH_TRY(std::move(restored));
  return {};
}

}  // namespace

bool LinkExists(const std::string& name) { return ::if_nametoindex(name.c_str()) != 0; }

bool NetnsExists(const std::string& name) {
  struct stat st {};
  return ::stat((std::string(kNetnsDir) + "/" + name).c_str(), &st) == 0;
}

std::vector<std::string> ListNetns() { return DirNames(std::string(kNetnsDir)); }

std::vector<std::string> BridgePorts(const std::string& bridge) {
  return DirNames("/sys/class/net/" + bridge + "/brif");
}

Status AppendRule(const Rule& rule) {
  BERTH_TRY(RunChecked(IptablesArgv("-A", rule)));
  return {};
}

Status DeleteRule(const Rule& rule) {
  // -C fails when the rule or its chain is not there: then there is nothing to delete.
  for (int copies = 0; copies < 100 && Succeeds(IptablesArgv("-C", rule)); ++copies) {
    BERTH_TRY(RunChecked(IptablesArgv("-D", rule)));
  }
  return {};
}

Status DeleteLink(const std::string& name) {
  if (!LinkExists(name)) return {};
  auto deleted = RunChecked({"ip", "link", "del", name});
  if (!deleted && LinkExists(name)) return Fail(deleted.error());
  return {};
}

Status DeleteNetns(const std::string& name) {
  if (!NetnsExists(name)) return {};
  auto deleted = RunChecked({"ip", "netns", "del", name});
  if (!deleted && NetnsExists(name)) return Fail(deleted.error());
  return {};
}

Status RenameNetns(const std::string& from, const std::string& to) {
  std::string source = std::string(kNetnsDir) + "/" + from;
  std::string target = std::string(kNetnsDir) + "/" + to;
  auto failed = [&](const char* what) {
    return Fail("NetworkSetupError", fmt::format("renaming namespace {} to {}: {}: {}", from, to,
                                                 what, std::strerror(errno)), 500);
  };
  int fd = ::open(target.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) return failed("create");
  ::close(fd);
  if (::mount(source.c_str(), target.c_str(), "none", MS_BIND, nullptr) != 0) {
    auto error = failed("bind mount");
    ::unlink(target.c_str());
    return error;
  }
  // The namespace lives on under its new name; the old name goes.
  ::umount2(source.c_str(), MNT_DETACH);
  ::unlink(source.c_str());
  return {};
}

std::vector<std::string> ChainRuleLines(const std::string& table, const std::string& chain) {
  std::vector<std::string> lines;
  auto result = RunCommand({"iptables", "-w", "-t", table, "-S", chain});
  if (!result || result->exit_code != 0) return lines;
  size_t start = 0;
  const std::string& out = result->out;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    if (end > start) lines.push_back(out.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

Status EnsureBridge(const NetworkOptions& options) {
  const std::string& br = options.bridge;
  Subnet subnet = BERTH_TRY(ParseSubnet(options.subnet));
  if (!LinkExists(br)) {
    auto added = RunChecked({"ip", "link", "add", "name", br, "type", "bridge"});
    if (!added && !LinkExists(br)) return Fail(added.error());
  }
  BERTH_TRY(
      RunChecked({"ip", "addr", "replace",
                  FormatIpv4(subnet.Gateway()) + "/" + std::to_string(subnet.prefix), "dev", br}));
  BERTH_TRY(RunChecked({"ip", "link", "set", br, "up"}));
  BERTH_CHECK(WriteProc("/proc/sys/net/ipv4/ip_forward", "1"));
  BERTH_CHECK(WriteProc("/proc/sys/net/ipv4/conf/" + br + "/route_localnet", "1"));
  return ApplyBridgeRules(options, subnet);
}

Status RemoveBridge(const std::string& bridge) {
  Status first = {};
  auto note = [&first](Status status) {
    if (!status && first) first = status;
  };
  for (const auto& jump : BridgeJumps(bridge)) note(DeleteRule(jump));
  for (const auto& chain : BridgeChains(bridge)) {
    if (!ChainExists(chain.table, chain.name)) continue;
    auto flushed = RunChecked({"iptables", "-w", "-t", chain.table, "-F", chain.name});
    if (!flushed) note(Fail(flushed.error()));
  }
  // Chains jump to each other (PRE -> PORTS): delete them once all are empty.
  for (const auto& chain : BridgeChains(bridge)) {
    if (!ChainExists(chain.table, chain.name)) continue;
    auto deleted = RunChecked({"iptables", "-w", "-t", chain.table, "-X", chain.name});
    if (!deleted) note(Fail(deleted.error()));
  }
  note(DeleteLink(bridge));
  return first;
}

}  // namespace berth::agent::network
