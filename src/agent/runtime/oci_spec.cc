#include "agent/runtime/oci_spec.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "common/fd.h"
#include "common/json.h"

namespace berth::agent::runtime {

namespace {

using json::Json;

std::unexpected<Error> CreateError(std::string message) {
  return Fail("CannotCreateContainerError", std::move(message), 500);
}

Result<std::vector<std::string>> StringList(const Json& object, const char* key) {
  std::vector<std::string> out;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return out;
  if (!it->is_array()) return CreateError(fmt::format("image config {} is not a list", key));
  for (const auto& v : *it) {
    if (!v.is_string()) return CreateError(fmt::format("image config {} is not a list", key));
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<std::string> StringMember(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return CreateError(fmt::format("image config {} is not a string", key));
  return it->get<std::string>();
}

std::optional<uint32_t> ParseId(std::string_view text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The colon-separated fields of each line of a passwd/group file (comments and blanks skipped).
std::vector<std::vector<std::string_view>> Records(std::string_view text) {
  std::vector<std::vector<std::string_view>> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string_view> fields;
    for (;;) {
      size_t colon = line.find(':');
      fields.push_back(line.substr(0, colon));
      if (colon == std::string_view::npos) break;
      line.remove_prefix(colon + 1);
    }
    out.push_back(std::move(fields));
  }
  return out;
}

bool Contains(std::string_view list, std::string_view name) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (list.substr(0, comma) == name) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

const std::vector<std::string>& DefaultCapabilities() {
  static const std::vector<std::string> kCaps = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE"};
  return kCaps;
}

const std::vector<std::string>& AllCapabilities() {
  static const std::vector<std::string> kCaps = {"CAP_CHOWN",
                                                 "CAP_DAC_OVERRIDE",
                                                 "CAP_DAC_READ_SEARCH",
                                                 "CAP_FOWNER",
                                                 "CAP_FSETID",
                                                 "CAP_KILL",
                                                 "CAP_SETGID",
                                                 "CAP_SETUID",
                                                 "CAP_SETPCAP",
                                                 "CAP_LINUX_IMMUTABLE",
                                                 "CAP_NET_BIND_SERVICE",
                                                 "CAP_NET_BROADCAST",
                                                 "CAP_NET_ADMIN",
                                                 "CAP_NET_RAW",
                                                 "CAP_IPC_LOCK",
                                                 "CAP_IPC_OWNER",
                                                 "CAP_SYS_MODULE",
                                                 "CAP_SYS_RAWIO",
                                                 "CAP_SYS_CHROOT",
                                                 "CAP_SYS_PTRACE",
                                                 "CAP_SYS_PACCT",
                                                 "CAP_SYS_ADMIN",
                                                 "CAP_SYS_BOOT",
                                                 "CAP_SYS_NICE",
                                                 "CAP_SYS_RESOURCE",
                                                 "CAP_SYS_TIME",
                                                 "CAP_SYS_TTY_CONFIG",
                                                 "CAP_MKNOD",
                                                 "CAP_LEASE",
                                                 "CAP_AUDIT_WRITE",
                                                 "CAP_AUDIT_CONTROL",
                                                 "CAP_SETFCAP",
                                                 "CAP_MAC_OVERRIDE",
                                                 "CAP_MAC_ADMIN",
                                                 "CAP_SYSLOG",
                                                 "CAP_WAKE_ALARM",
                                                 "CAP_BLOCK_SUSPEND",
                                                 "CAP_AUDIT_READ",
                                                 "CAP_PERFMON",
                                                 "CAP_BPF",
                                                 "CAP_CHECKPOINT_RESTORE"};
  return kCaps;
}

// Docker's ulimit names (docker run --ulimit, ECS ulimits[].name).
std::optional<std::string> RlimitType(std::string_view name) {
  static const char* const kNames[] = {
      "as",   "core",   "cpu",   "data", "fsize",  "locks",  "memlock",    "msgqueue",
      "nice", "nofile", "nproc", "rss",  "rtprio", "rttime", "sigpending", "stack"};
  for (const char* n : kNames) {
    if (name == n) {
      std::string upper(n);
      for (char& c : upper) c = static_cast<char>(c - 'a' + 'A');
      return "RLIMIT_" + upper;
    }
  }
  return std::nullopt;
}

Json MountEntry(std::string destination, std::string type, std::string source,
                std::vector<std::string> options) {
  return Json{{"destination", std::move(destination)},
              {"type", std::move(type)},
              {"source", std::move(source)},
              {"options", std::move(options)}};
}

Json StandardMounts(bool privileged) {
  const char* sys_mode = privileged ? "rw" : "ro";
  Json mounts = Json::array();
  mounts.push_back(MountEntry("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}));
  mounts.push_back(
      MountEntry("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  mounts.push_back(
      MountEntry("/dev/pts", "devpts", "devpts",
                 {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
  mounts.push_back(MountEntry("/dev/shm", "tmpfs", "shm",
                              {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
  mounts.push_back(MountEntry("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  mounts.push_back(MountEntry("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", sys_mode}));
  mounts.push_back(MountEntry("/sys/fs/cgroup", "cgroup", "cgroup",
                              {"nosuid", "noexec", "nodev", "relatime", sys_mode}));
  return mounts;
}

// Reads `path` (relative, e.g. "etc/passwd") inside `root`, symlinks resolved as if `root`
// were "/": an image cannot make the agent read a host file. "" when absent.
std::string ReadInRoot(const std::string& root, const char* path) {
  Fd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return "";
  struct open_how how = {};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  Fd fd(static_cast<int>(::syscall(SYS_openat2, dir.get(), path, &how, sizeof how)));
  if (!fd.valid()) return "";
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0 && out.size() < (4 << 20)) {
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

Result<ImageConfig> ParseImageConfig(std::string_view text) {
  ImageConfig out;
  if (text.empty()) return out;
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return CreateError("the image config is not a JSON object");
  const Json* config = &doc;
  if (auto it = doc.find("config"); it != doc.end()) {
    if (it->is_null()) return out;
    if (!it->is_object()) return CreateError("the image config's config is not an object");
    config = &*it;
  }
  out.entrypoint = BERTH_TRY(StringList(*config, "Entrypoint"));
  out.cmd = BERTH_TRY(StringList(*config, "Cmd"));
  out.env = BERTH_TRY(StringList(*config, "Env"));
  out.working_dir = BERTH_TRY(StringMember(*config, "WorkingDir"));
  out.user = BERTH_TRY(StringMember(*config, "User"));
  return out;
}

std::vector<std::string> ProcessArgs(const ImageConfig& image,
                                     const std::vector<std::string>& entry_point,
                                     const std::vector<std::string>& command) {
  std::vector<std::string> args = entry_point.empty() ? image.entrypoint : entry_point;
  const auto& cmd = !command.empty() || !entry_point.empty() ? command : image.cmd;
  args.insert(args.end(), cmd.begin(), cmd.end());
  return args;
}

std::vector<std::string> MergeEnvironment(const std::vector<std::string>& image_env,
                                          const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> out;
  std::map<std::string, std::string> pending = overrides;
  bool has_path = false;
  for (const auto& entry : image_env) {
    std::string name = entry.substr(0, entry.find('='));
    has_path = has_path || name == "PATH";
    if (auto it = pending.find(name); it != pending.end()) {
      out.push_back(name + "=" + it->second);
      pending.erase(it);
    } else {
      out.push_back(entry);
    }
  }
  for (const auto& [name, value] : pending) {
    has_path = has_path || name == "PATH";
    out.push_back(name + "=" + value);
  }
  if (!has_path) out.push_back(fmt::format("PATH={}", kDefaultPath));
  return out;
}

Result<UserIds> ResolveUser(std::string_view user, std::string_view passwd,
                            std::string_view group) {
  UserIds ids;
  if (user.empty()) return ids;
  size_t colon = user.find(':');
  std::string_view user_part = user.substr(0, colon);
  std::optional<std::string_view> group_part;
  if (colon != std::string_view::npos) group_part = user.substr(colon + 1);

  std::optional<uint32_t> numeric_uid = ParseId(user_part);
  std::string_view name;
  bool found = false;
  for (const auto& f : Records(passwd)) {
    if (f.size() < 4) continue;
    bool match = numeric_uid ? ParseId(f[2]) == numeric_uid : f[0] == user_part;
    if (!match) continue;
    auto uid = ParseId(f[2]);
    auto gid = ParseId(f[3]);
    if (!uid || !gid) continue;
    ids.uid = *uid;
    ids.gid = *gid;
    name = f[0];
    found = true;
    break;
  }
  if (!found) {
    if (!numeric_uid) {
      return CreateError(
          fmt::format("unable to find user {}: no matching entries in passwd file", user_part));
    }
    ids.uid = *numeric_uid;
  }

  auto groups = Records(group);
  if (group_part) {
    std::optional<uint32_t> numeric_gid = ParseId(*group_part);
    bool group_found = false;
    for (const auto& f : groups) {
      if (f.size() < 3) continue;
      bool match = numeric_gid ? ParseId(f[2]) == numeric_gid : f[0] == *group_part;
      auto gid = ParseId(f[2]);
      if (!match || !gid) continue;
      ids.gid = *gid;
      group_found = true;
      break;
    }
    if (!group_found) {
      if (!numeric_gid) {
        return CreateError(
            fmt::format("unable to find group {}: no matching entries in group file", *group_part));
      }
      ids.gid = *numeric_gid;
    }
  }
  if (!name.empty()) {
    for (const auto& f : groups) {
      if (f.size() < 4 || !Contains(f[3], name)) continue;
      auto gid = ParseId(f[2]);
      if (gid && *gid != ids.gid &&
          std::find(ids.additional_gids.begin(), ids.additional_gids.end(), *gid) ==
              ids.additional_gids.end()) {
        ids.additional_gids.push_back(*gid);
      }
    }
  }
  return ids;
}

Result<std::string> BuildSpec(const ContainerConfig& config, const ImageConfig& image,
                              const UserIds& user, const SpecOptions& options) {
  if (config.privileged && !options.allow_privileged) {
    return CreateError("privileged containers are not allowed on this instance");
  }
  std::vector<std::string> args = ProcessArgs(image, config.entry_point, config.command);
  if (args.empty()) return CreateError("no command specified");
  Json mounts = StandardMounts(config.privileged);
  if (config.init) {
    if (options.init_binary.empty()) return CreateError("no init process is available");
    args.insert(args.begin(), {std::string(kInitPath), "--"});
    mounts.push_back(
        MountEntry(std::string(kInitPath), "bind", options.init_binary, {"bind", "ro", "nosuid"}));
  }
  for (const auto& m : config.mounts) {
    mounts.push_back(MountEntry(m.destination, m.type, m.source, m.options));
  }

  Json rlimits = Json::array();
  for (const auto& u : config.ulimits) {
    auto type = RlimitType(u.name);
    if (!type) return CreateError(fmt::format("invalid ulimit name: {}", u.name));
    rlimits.push_back({{"type", *type}, {"soft", u.soft}, {"hard", u.hard}});
  }

  const auto& caps = config.privileged ? AllCapabilities() : DefaultCapabilities();
  Json process = {
      {"terminal", false},
      {"user", {{"uid", user.uid}, {"gid", user.gid}}},
      {"args", args},
      {"env", MergeEnvironment(image.env, config.environment)},
      {"cwd", !config.working_directory.empty() ? config.working_directory
              : !image.working_dir.empty()      ? image.working_dir
                                                : "/"},
      {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
      {"noNewPrivileges", false},
  };
  if (!user.additional_gids.empty()) process["user"]["additionalGids"] = user.additional_gids;
  if (!rlimits.empty()) process["rlimits"] = rlimits;

  Json resources = {{"devices", Json::array({{{"allow", config.privileged}, {"access", "rwm"}}})}};
  if (config.memory_limit_bytes > 0) resources["memory"]["limit"] = config.memory_limit_bytes;
  if (config.memory_reservation_bytes > 0) {
    resources["memory"]["reservation"] = config.memory_reservation_bytes;
  }
  if (config.cpu_shares > 0) resources["cpu"]["shares"] = config.cpu_shares;
  if (config.cpu_limit > 0) {
    resources["cpu"]["quota"] = static_cast<int64_t>(std::llround(config.cpu_limit * 100000));
    resources["cpu"]["period"] = 100000;
  }
  if (config.pids_limit > 0) resources["pids"]["limit"] = config.pids_limit;

  Json namespaces =
      Json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
  if (!config.netns_path.empty()) {
    namespaces.push_back({{"type", "network"}, {"path", config.netns_path}});
  }

  Json linux_section = {
      {"resources", resources},
      {"cgroupsPath", "/berth/" + config.id},
      {"namespaces", namespaces},
  };
  if (!config.privileged) {
    linux_section["maskedPaths"] = {"/proc/asound",      "/proc/acpi",          "/proc/kcore",
                                    "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                                    "/proc/timer_stats", "/proc/sched_debug",   "/proc/scsi",
                                    "/sys/firmware"};
    linux_section["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                      "/proc/sysrq-trigger"};
  }

  Json spec = {
      {"ociVersion", "1.0.2"},
      {"process", process},
      {"root", {{"path", "rootfs"}, {"readonly", config.readonly_rootfs}}},
      {"hostname", config.hostname},
      {"mounts", mounts},
      {"linux", linux_section},
  };
  if (!config.annotations.empty()) spec["annotations"] = config.annotations;
  return json::Dump(spec);
}

Result<std::string> MakeSpec(const ContainerConfig& config, const SpecOptions& options) {
  ImageConfig image = BERTH_TRY(ParseImageConfig(config.image_config_json));
  const std::string& user_spec = config.user.empty() ? image.user : config.user;
  UserIds user;
  if (!user_spec.empty()) {
    user = BERTH_TRY(ResolveUser(user_spec, ReadInRoot(config.image_rootfs, "etc/passwd"),
                                 ReadInRoot(config.image_rootfs, "etc/group")));
  }
  return BuildSpec(config, image, user, options);
}

}  // namespace berth::agent::runtime
