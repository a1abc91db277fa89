#include "agent/network/host.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

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
  for (const auto& chain : BridgeChains(br)) {
    if (!ChainExists(chain.table, chain.name)) {
      auto made = RunChecked({"iptables", "-w", "-t", chain.table, "-N", chain.name});
      if (!made && !ChainExists(chain.table, chain.name)) return Fail(made.error());
    }
    if (!chain.holds_tasks) {
      BERTH_TRY(RunChecked({"iptables", "-w", "-t", chain.table, "-F", chain.name}));
    }
  }
  for (const auto& rule : BridgeRules({br, subnet.Cidr(), options.metadata_address})) {
    BERTH_CHECK(AppendRule(rule));
  }
  for (const auto& jump : BridgeJumps(br)) {
    if (Succeeds(IptablesArgv("-C", jump))) continue;
    std::vector<std::string> argv = IptablesArgv("-I", jump);
    argv.insert(argv.begin() + 6, "1");  // after the chain name: first in the built-in chain
    BERTH_TRY(RunChecked(argv));
  }
  return {};
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
