// NewLinuxNetwork: task networks made with ip and iptables (network.h), recorded in the state
// directory (record.h) before they are made, so a crash at any point leaves a record that
// Teardown and Recover can finish.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>

#include <unistd.h>

#include "agent/network/command.h"
#include "agent/network/host.h"
#include "agent/network/network.h"
#include "agent/network/pool.h"
#include "agent/network/ports.h"
#include "agent/network/record.h"
#include "agent/network/subnet.h"
#include "common/log.h"

namespace berth::agent::network {
namespace {

constexpr std::string_view kVethPrefix = "bv";

bool IsTaskId(std::string_view id) {
  return id.size() >= 12 && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string NetnsPrefix(const std::string& bridge) { return "berth-" + bridge + "-"; }
constexpr std::string_view kPoolTag = "pool-";  // after NetnsPrefix: a pooled namespace
constexpr std::string_view kPoolVethPrefix = "bvp";  // 'p' is no hex digit: never a task's

class LinuxNetwork : public Network {
 public:
  explicit LinuxNetwork(const NetworkOptions& options)
      : options_(options), records_(options.state_dir), cursor_(options.ephemeral_low) {
    if (options_.pool_size > 0) {
      pool_ = std::make_unique<NetworkPool>(
          options_.pool_size, [this] { return MakePooled(); },
          [this](const PooledNetwork& entry) { DestroyPooled(entry); });
    }
  }

  ~LinuxNetwork() override { pool_.reset(); }  // its entries go while the rest is here

  Result<TaskNetwork> Setup(const TaskNetworkRequest& request) override {
    if (request.mode == "host") return TaskNetwork{"host", "", "", "", {}};
    if (request.mode != "none" && request.mode != "bridge" && request.mode != "awsvpc") {
      return Fail("NetworkSetupError", "unknown network mode '" + request.mode + "'", 500);
    }
    if (!IsTaskId(request.task_id)) {
      return Fail("NetworkSetupError", "task id '" + request.task_id + "' is not hex", 500);
    }
    std::unique_lock lock(mu_);
    auto existing = BERTH_TRY(records_.Read(request.task_id));
    if (existing) {
      if (Alive(*existing)) return NetworkOf(*existing);
      BERTH_CHECK(Destroy(*existing));
    }
    if (pool_) pool_->Start();
    TaskRecord record = BERTH_TRY(Plan(request));
    // Never take over (nor, undoing, remove) what berth did not make for this task.
    for (const auto& [name, exists] : {std::pair{record.netns, NetnsExists(record.netns)},
                                       std::pair{record.veth, LinkExists(record.veth)}}) {
      if (!name.empty() && exists) {
        return Fail("NetworkSetupError", name + " already exists", 500);
      }
    }
    std::optional<PooledNetwork> pooled;
    if (pool_ && record.mode != "none") pooled = pool_->Take();
    if (pooled) {
      record.veth = pooled->veth;
      record.ipv4 = pooled->ipv4;
      if (request.mode == "bridge") {
        record.rules = PortRules(record.bridge, record.task_id, record.ipv4, record.bindings);
      }
      Status written = records_.Write(record);  // then the record holds the address
      if (!written) {
        lock.unlock();
        DestroyPooled(*pooled);
        return Fail(written.error());
      }
      pooled_.erase(pooled->netns);
      lock.unlock();
      Status adopted = Adopt(record, *pooled);
      if (!adopted) {
        Warn(DeleteNetns(pooled->netns), pooled->netns);
        if (auto undone = Destroy(record); !undone) {
          log::Warn("network setup not undone",
                    {{"task", record.task_id}, {"error", undone.error().message}});
        }
        return Fail(adopted.error());
      }
      return NetworkOf(record);
    }
    if (record.mode != "none" && !bridge_ready_) {
      BERTH_CHECK(EnsureBridge(options_));
      bridge_ready_ = true;
    }
    BERTH_CHECK(records_.Write(record));
    // The record holds the task's names, address and ports, so the lock is not needed while
    // the host is changed: tasks start side by side.
    lock.unlock();
    Status made = Make(record);
    if (!made) {
      if (auto undone = Destroy(record); !undone) {
        log::Warn("network setup not undone",
                  {{"task", record.task_id}, {"error", undone.error().message}});
      }
      return Fail(made.error());
    }
    return NetworkOf(record);
  }

  Status Teardown(const std::string& task_id) override {
    if (!IsTaskId(task_id)) return {};  // Setup made nothing for it
    std::optional<TaskRecord> record;
    {
      std::lock_guard lock(mu_);
      record = BERTH_TRY(records_.Read(task_id));
    }
    if (!record) return {};
    // Outside the lock: the record (and with it the address and ports) goes last.
    return Destroy(*record);
  }

  Result<std::map<std::string, TaskNetwork>> Recover(const std::set<std::string>& keep) override {
    std::lock_guard lock(mu_);
    // Rewrites the bridge's rules: the metadata address may have changed with the restart.
    if (LinkExists(options_.bridge)) {
      Status ensured = EnsureBridge(options_);
      bridge_ready_ = ensured.has_value();
      Warn(ensured, options_.bridge);
    }
    std::map<std::string, TaskNetwork> kept;
    std::set<std::string> kept_veths;
    for (const auto& record : BERTH_TRY(records_.List())) {
      if (keep.contains(record.task_id) && Alive(record)) {
        kept.emplace(record.task_id, NetworkOf(record));
        kept_veths.insert(record.veth);
        continue;
      }
      Warn(Destroy(record), record.task_id);
    }
    // What berth's naming says was made for this bridge but no record names (a record lost).
    // Pooled networks of an agent that did not stop cleanly go too; this one's stay.
    std::set<std::string> pooled_names;
    for (const auto& [netns, entry] : pooled_) {
      pooled_names.insert(netns);
      pooled_names.insert(entry.veth);
    }
    std::string prefix = NetnsPrefix(options_.bridge);
    for (const auto& name : ListNetns()) {
      if (!name.starts_with(prefix) || pooled_names.contains(name)) continue;
      std::string task_id = name.substr(prefix.size());
      if ((IsTaskId(task_id) && !kept.contains(task_id)) || task_id.starts_with(kPoolTag)) {
        Warn(DeleteNetns(name), task_id);
      }
    }
    for (const auto& name : BridgePorts(options_.bridge)) {
      if (name.starts_with(kVethPrefix) && !kept_veths.contains(name) &&
          !pooled_names.contains(name)) {
        Warn(DeleteLink(name), name);
      }
    }
    for (const auto& chain : BridgeChains(options_.bridge)) {
      if (!chain.holds_tasks) continue;
      for (const auto& line : ChainRuleLines(chain.table, chain.name)) {
        Rule rule;
        std::string task_id;
        if (ParseRuleLine(chain.table, line, &rule, &task_id) && !task_id.empty() &&
            !kept.contains(task_id)) {
          Warn(DeleteRule(rule), task_id);
        }
      }
    }
    if (pool_) pool_->Start();
    return kept;
  }

 private:
  static void Warn(const Status& status, const std::string& what) {
    if (!status) {
      log::Warn("network recovery left something",
                {{"of", what}, {"error", status.error().message}});
    }
  }

  // The bridge's addresses held by `records` or by pooled networks (mu_ held).
  std::set<uint32_t> UsedAddresses(const std::vector<TaskRecord>& records) const {
    std::set<uint32_t> used;
    for (const auto& [netns, entry] : pooled_) {
      if (auto address = ParseIpv4(entry.ipv4)) used.insert(*address);
    }
    for (const auto& record : records) {
      if (record.bridge != options_.bridge) continue;
      if (auto address = ParseIpv4(record.ipv4)) used.insert(*address);
    }
    return used;
  }

  // Names, address and host ports for a new task network, from what the records hold.
  Result<TaskRecord> Plan(const TaskNetworkRequest& request) {
    TaskRecord record;
    record.task_id = request.task_id;
    record.mode = request.mode;
    record.netns = NetnsPrefix(options_.bridge) + request.task_id;
    if (request.mode == "none") return record;
    if (options_.bridge.empty() || options_.bridge.size() > 15) {
      return Fail("NetworkSetupError",
                  "bridge name '" + options_.bridge + "' must have 1 to 15 characters", 500);
    }
    Subnet subnet = BERTH_TRY(ParseSubnet(options_.subnet));
    auto records = BERTH_TRY(records_.List());
    std::set<uint32_t> used = UsedAddresses(records);
    PortPolicy policy{
        options_.ephemeral_low, options_.ephemeral_high, options_.reserved_ports, {}, BoundOnHost};
    for (const auto& other : records) {
      for (const auto& binding : other.bindings) {
        policy.held.insert({binding.protocol, binding.host_port});
      }
    }
    uint32_t address = BERTH_TRY(AllocateAddress(subnet, used));
    record.bridge = options_.bridge;
    record.veth = VethName(request.task_id);
    record.ipv4 = FormatIpv4(address);
    record.gateway = FormatIpv4(subnet.Gateway());
    if (request.mode == "bridge") {
      record.bindings = BERTH_TRY(AllocatePorts(request.ports, policy, &cursor_));
      record.rules = PortRules(record.bridge, record.task_id, record.ipv4, record.bindings);
    }
    return record;
  }

  Status Make(const TaskRecord& record) {
    const std::string& ns = record.netns;
    if (record.mode == "none") {
      BERTH_TRY(RunChecked({"ip", "netns", "add", ns}));
      BERTH_TRY(RunChecked({"ip", "-n", ns, "link", "set", "lo", "up"}));
      return {};
    }
    BERTH_CHECK(MakeJoined(ns, record.veth, record.ipv4, record.task_id));
    for (const auto& rule : record.rules) BERTH_CHECK(AppendRule(rule));
    return {};
  }

  // The namespace `ns` (made unless it exists), joined to the bridge by `veth` with eth0 at
  // `ipv4`: two `ip -batch` processes, one on the host and one inside.
  Status MakeJoined(const std::string& ns, const std::string& veth, const std::string& ipv4,
                    const std::string& scratch) {
    // The peer is made inside the namespace: no half-moved pair is ever left on the host.
    std::string lines = NetnsExists(ns) ? "" : fmt::format("netns add {}\n", ns);
    lines += fmt::format("link add {0} type veth peer name eth0 netns {1}\n"
                         "link set {0} master {2} up\n",
                         veth, ns, options_.bridge);
    BERTH_CHECK(RunBatch("", scratch, lines));
    return ConfigureInside(ns, ipv4, scratch);
  }

  // eth0 (address, up), lo (up) and the default route inside `ns`: one `ip -batch` instead of
  // four processes (each costs a fork/exec). `scratch` names the batch file.
  Status ConfigureInside(const std::string& ns, const std::string& ipv4,
                         const std::string& scratch) {
    Subnet subnet = BERTH_TRY(ParseSubnet(options_.subnet));
    return RunBatch(ns, scratch,
                    fmt::format("addr add {}/{} dev eth0\nlink set eth0 up\nlink set lo up\n"
                                "route add default via {}\n",
                                ipv4, subnet.prefix, FormatIpv4(subnet.Gateway())));
  }

  // `ip [-n ns] -batch` of `lines` (each ending in '\n'), through a scratch file in the state
  // directory. A failure names the line that failed as RunChecked would name it run alone
  // ("ip [-n ns] <line>: <what ip said>"), or all of them when ip does not say which.
  Status RunBatch(const std::string& ns, const std::string& scratch, const std::string& lines) {
    std::error_code ec;
    std::filesystem::create_directories(options_.state_dir, ec);
    std::string batch_file = options_.state_dir + "/." + scratch + ".ip";
    {
      std::ofstream out(batch_file, std::ios::trunc);  // a scratch file: no fsync needed
      out << lines;
      if (!out.flush()) return Fail("NetworkSetupError", "cannot write " + batch_file, 500);
    }
    std::vector<std::string> argv = {"ip"};
    if (!ns.empty()) argv.insert(argv.end(), {"-n", ns});
    argv.insert(argv.end(), {"-batch", batch_file});
    auto ran = RunCommand(argv);
    std::filesystem::remove(batch_file, ec);
    if (ran && ran->exit_code == 0) return {};
    if (!ran) return Fail("NetworkSetupError", "ip -batch: " + ran.error().message, 500);
    return Fail("NetworkSetupError", BatchError(argv, lines, batch_file, ran->err), 500);
  }

  // "ip [-n ns] <failed line>: <error>" from ip -batch's stderr, which ends with "Command
  // failed <file>:<line number>".
  static std::string BatchError(const std::vector<std::string>& argv, const std::string& lines,
                                const std::string& batch_file, std::string err) {
    std::string prefix = argv.size() > 3 ? "ip -n " + argv[2] + " " : "ip ";
    std::string failed;
    std::string marker = "Command failed " + batch_file + ":";
    if (size_t at = err.find(marker); at != std::string::npos) {
      int number = std::atoi(err.c_str() + at + marker.size());
      err.erase(at);
      size_t start = 0;
      for (int i = 1; i < number && start != std::string::npos; ++i) {
        start = lines.find('\n', start);
        if (start != std::string::npos) ++start;
      }
      if (number > 0 && start != std::string::npos) {
        failed = lines.substr(start, lines.find('\n', start) - start);
      }
    }
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    if (err.empty()) err = "failed";
    if (failed.empty()) {  // ip exited at once (a bad argument): name the whole batch
      failed = "-batch [" + lines.substr(0, lines.size() - 1) + "]";
      std::replace(failed.begin(), failed.end(), '\n', ';');
    }
    return prefix + failed + ": " + err;
  }

  // A pooled network for the pool's thread: an address reserved in pooled_ first (so Plan
  // never hands it out), then namespace, veth pair and eth0 in two `ip -batch` processes.
  Result<PooledNetwork> MakePooled() {
    PooledNetwork entry;
    {
      std::lock_guard lock(mu_);
      if (!bridge_ready_) {
        BERTH_CHECK(EnsureBridge(options_));
        bridge_ready_ = true;
      }
      Subnet subnet = BERTH_TRY(ParseSubnet(options_.subnet));
      std::set<uint32_t> used = UsedAddresses(BERTH_TRY(records_.List()));
      std::string tag = fmt::format("{:06x}{:06x}", static_cast<unsigned>(::getpid()) & 0xffffff,
                                    ++pool_counter_ & 0xffffff);
      entry.netns = NetnsPrefix(options_.bridge) + std::string(kPoolTag) + tag;
      entry.veth = std::string(kPoolVethPrefix) + tag;
      entry.ipv4 = FormatIpv4(BERTH_TRY(AllocateAddress(subnet, used)));
      pooled_[entry.netns] = entry;
    }
    Status made = MakeJoined(entry.netns, entry.veth, entry.ipv4, "pool-" + entry.veth);
    if (!made) {
      DestroyPooled(entry);
      return Fail(made.error());
    }
    return entry;
  }

  void DestroyPooled(const PooledNetwork& entry) {
    Warn(DeleteLink(entry.veth), entry.veth);
    Warn(DeleteNetns(entry.netns), entry.netns);
    std::lock_guard lock(mu_);
    pooled_.erase(entry.netns);
  }

  // A pooled network becomes the task's: its namespace takes the task's name (no process),
  // then the task's port rules.
  Status Adopt(const TaskRecord& record, const PooledNetwork& entry) {
    BERTH_CHECK(RenameNetns(entry.netns, record.netns));
    for (const auto& rule : record.rules) BERTH_CHECK(AppendRule(rule));
    return {};
  }

  // Removes what `record` names, then the record; the record stays when something could not be
  // removed, so a later Teardown or Recover tries again.
  Status Destroy(const TaskRecord& record) {
    Status first = {};
    auto note = [&first](Status status) {
      if (!status && first) first = Fail("NetworkTeardownError", status.error().message, 500);
    };
    for (const auto& rule : record.rules) note(DeleteRule(rule));
    // The veth first: a namespace a process still holds outlives its name, and its veth with it.
    if (!record.veth.empty()) note(DeleteLink(record.veth));
    note(DeleteNetns(record.netns));
    if (first) note(records_.Remove(record.task_id));
    return first;
  }

  bool Alive(const TaskRecord& record) const {
    return NetnsExists(record.netns) && (record.veth.empty() || LinkExists(record.veth));
  }

  const NetworkOptions options_;
  std::mutex mu_;
  RecordStore records_;
  bool bridge_ready_ = false;
  int cursor_;  // where the next ephemeral host port is looked for
  // Pooled networks being made or ready, by namespace name (their addresses are taken).
  std::map<std::string, PooledNetwork> pooled_;
  unsigned pool_counter_ = 0;
  std::unique_ptr<NetworkPool> pool_;  // last: destroyed first (its Destroy uses the rest)
};

}  // namespace

std::unique_ptr<Network> NewLinuxNetwork(const NetworkOptions& options) {
  return std::make_unique<LinuxNetwork>(options);
}

std::string VethName(std::string_view task_id) {
  return std::string(kVethPrefix) +
         std::string(task_id.substr(task_id.size() > 12 ? task_id.size() - 12 : 0));
}

}  // namespace berth::agent::network
