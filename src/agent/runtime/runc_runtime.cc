// NewRuncRuntime: bundles under <state_dir>/<id>/ (bundle.h), each container run by a shim.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

#include "agent/runtime/bundle.h"
#include "agent/runtime/oci_spec.h"
#include "agent/runtime/runtime.h"
#include "agent/runtime/shim_launch.h"
#include "common/fd.h"
#include "common/file.h"
#include "common/json.h"

extern char** environ;

namespace berth::agent::runtime {

namespace {

namespace fs = std::filesystem;
using json::Json;
using Clock = std::chrono::steady_clock;

constexpr auto kStartTimeout = std::chrono::minutes(2);
constexpr auto kShimExitTimeout = std::chrono::seconds(10);
// How often Wait re-checks a container whose shim may have died (an exit file wakes it at once).
constexpr auto kWaitRecheck = std::chrono::milliseconds(500);

std::unexpected<Error> CreateError(std::string message) {
  return Fail("CannotCreateContainerError", std::move(message), 500);
}

std::string Errno(std::string_view what, const std::string& path) {
  return fmt::format("{} {}: {}", what, path, std::strerror(errno));
}

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

// Starts args[0] (PATH searched) with stdin /dev/null, stdout on `out` and stderr on `err`.
// Returns posix_spawnp's result (0, or an errno value).
int Spawn(const std::vector<std::string>& args, int out, int err, pid_t& pid) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  posix_spawn_file_actions_adddup2(&actions, err, 2);
  int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc;
}

// Runs argv[0] (PATH searched) with stdin /dev/null and collects its stdout and stderr.
CommandResult RunCommand(const std::vector<std::string>& args) {
  CommandResult result;
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return result;
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return result;
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);
  pid_t pid = 0;
  int rc = Spawn(args, out_w.get(), err_w.get(), pid);
  out_w.Reset();
  err_w.Reset();
  if (rc != 0) {
    result.err = fmt::format("cannot run {}: {}", args[0], std::strerror(rc));
    return result;
  }
  struct pollfd fds[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// Runs args[0] with stdin /dev/null, stdout and stderr into one pipe (the first kMaxExecOutput
// bytes kept), for at most `timeout`. On timeout `on_timeout` runs (it should end the
// process) and the result's exit code is -1. Returns once the process exited; output that
// children left holding the pipe write after that is not waited for.
struct TimedResult {
  int exit_code = -1;
  std::string output;
  bool timed_out = false;
  std::string spawn_error;
};

TimedResult RunWithTimeout(const std::vector<std::string>& args, Clock::duration timeout,
                           const std::function<void(pid_t)>& on_timeout) {
  TimedResult result;
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    result.spawn_error = std::strerror(errno);
    return result;
  }
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  pid_t pid = 0;
  int rc = Spawn(args, out_w.get(), out_w.get(), pid);
  out_w.Reset();
  if (rc != 0) {
    result.spawn_error = fmt::format("cannot run {}: {}", args[0], std::strerror(rc));
    return result;
  }
  auto drain = [&] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out_r.get(), buf, sizeof buf)) > 0) {
      size_t room = kMaxExecOutput - std::min(kMaxExecOutput, result.output.size());
      result.output.append(buf, std::min(room, static_cast<size_t>(n)));
    }
    return n == 0;  // EOF
  };
  auto deadline = Clock::now() + timeout;
  constexpr auto kSlice = std::chrono::milliseconds(20);
  int status = 0;
  bool exited = false, eof = false;
  while (!exited) {
    pid_t waited = ::waitpid(pid, &status, WNOHANG);
    if (waited == pid || (waited < 0 && errno != EINTR)) {
      exited = true;
      break;
    }
    if (!result.timed_out && Clock::now() >= deadline) {
      result.timed_out = true;
      on_timeout(pid);
      deadline = Clock::now() + std::chrono::seconds(5);  // then the process itself goes
    } else if (result.timed_out && Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
    }
    struct pollfd pfd = {out_r.get(), POLLIN, 0};
    if (eof) {
      std::this_thread::sleep_for(kSlice);
    } else if (::poll(&pfd, 1, static_cast<int>(kSlice.count())) > 0) {
      eof = drain();
    }
  }
  if (!eof) drain();
  result.exit_code = result.timed_out         ? -1
                     : WIFEXITED(status)      ? WEXITSTATUS(status)
                     : WIFSIGNALED(status)    ? 128 + WTERMSIG(status)
                                              : -1;
  return result;
}

std::string FirstLine(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  return std::string(text);
}

bool IsMountPoint(const std::string& path, const std::string& parent) {
  struct stat a {
  }, b{};
  if (::stat(path.c_str(), &a) != 0 || ::stat(parent.c_str(), &b) != 0) return false;
  return a.st_dev != b.st_dev;
}

// `name` as a path (spares every runc call a PATH search); `name` itself when not found.
std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (name.find('/') != std::string::npos || path == nullptr) return name;
  for (std::string_view dirs = path; !dirs.empty();) {
    size_t colon = dirs.find(':');
    std::string candidate = fmt::format("{}/{}", dirs.substr(0, colon), name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return name;
}

std::string DefaultShim() {
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  auto small = self.parent_path() / "berth-shim";
  return ::access(small.c_str(), X_OK) == 0 ? small.string() : self.string();
}

class RuncRuntime final : public Runtime {
 public:
  explicit RuncRuntime(const RuncOptions& options)
      : options_(WithDefaults(options)),
        standbys_(options_.shim_binary, options_.runc, options_.runc_root) {}

  Result<ContainerStatus> Start(const ContainerConfig& config) override {
    if (!ValidId(config.id)) {
      return CreateError(fmt::format("invalid container id \"{}\"", config.id));
    }
    std::error_code ec;
    fs::create_directories(options_.state_dir, ec);
    std::string dir = BundleDir(config.id);
    if (::mkdir(dir.c_str(), 0711) != 0) {
      if (errno == EEXIST) {
        return CreateError(fmt::format("a container with id {} already exists", config.id));
      }
      return CreateError(Errno("cannot create", dir));
    }
    auto prepared = Prepare(config, dir);
    if (!prepared) {
      (void)Remove(config.id);
      return Fail(prepared.error());
    }
    auto started = Launch(config.id, dir);
    if (!started) {
      (void)Remove(config.id);
      return Fail(started.error());
    }
    return Status(config.id);
  }

  Result<ContainerStatus> Status(const std::string& id) override {
    std::string dir = BundleDir(id);
    struct stat st {};
    if (!ValidId(id) || ::stat((dir + "/" + bundle::kConfig).c_str(), &st) != 0) {
      return Fail("NotFound", fmt::format("no container {}", id), 404);
    }
    ContainerStatus status;
    status.id = id;
    status.annotations = ReadAnnotations(dir);
    if (auto started = bundle::ReadStarted(dir)) {
      status.pid = started->pid;
      status.started_at = started->started_at;
    }
    auto exit = bundle::ReadExit(dir);
    if (!exit && bundle::ShimAlive(dir)) {
      status.state = State::kRunning;
      return status;
    }
    // The shim has ended: it wrote exit.json first, unless it was killed.
    if (!exit) exit = bundle::ReadExit(dir);
    if (exit) {
      status.state = State::kStopped;
      status.exit_code = exit->exit_code;
      status.finished_at = exit->finished_at;
      return status;
    }
    return OrphanStatus(std::move(status));
  }

  Result<ContainerStatus> Wait(const std::string& id, std::chrono::milliseconds timeout) override {
    auto deadline = Clock::now() + timeout;
    std::string dir = BundleDir(id);
    Fd notify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (notify.valid()) ::inotify_add_watch(notify.get(), dir.c_str(), IN_MOVED_TO | IN_CREATE);
    for (;;) {
      auto status = Status(id);
      if (!status || status->state == State::kStopped) return status;
      auto now = Clock::now();
      if (now >= deadline) return status;
      auto wait = std::min<Clock::duration>(deadline - now, kWaitRecheck);
      int ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
      if (notify.valid()) {
        struct pollfd pfd = {notify.get(), POLLIN, 0};
        if (::poll(&pfd, 1, ms) > 0) {
          char buf[4096];
          while (::read(notify.get(), buf, sizeof buf) > 0) {
          }
        }
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 20)));
      }
    }
  }

  berth::Status Signal(const std::string& id, int signal) override {
    auto status = Status(id);
    if (!status) return Fail(status.error());
    if (status->state == State::kStopped) return {};
    auto kill = Runc({"kill", id, std::to_string(signal)});
    if (kill.exit_code == 0) return {};
    auto again = Status(id);
    if (again && again->state == State::kStopped) return {};
    return InternalFailure(fmt::format("cannot signal container {}: {}", id, FirstLine(kill.err)));
  }

  berth::Status Remove(const std::string& id) override {
    if (!ValidId(id)) return {};
    std::string dir = BundleDir(id);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return {};
    // Kills a process still running; "does not exist" when runc never made it or deleted it.
    (void)Runc({"delete", "--force", id});
    // The shim writes exit.json into the bundle once the process is gone: let it finish.
    auto deadline = Clock::now() + kShimExitTimeout;
    while (bundle::ShimAlive(dir)) {
      if (Clock::now() >= deadline) {
        return InternalFailure(fmt::format("the shim of container {} does not exit", id));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::string rootfs = dir + "/" + bundle::kRootfs;
    if (::umount2(rootfs.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      return InternalFailure(Errno("cannot unmount", rootfs));
    }
    // Never recurse into a mount: it could be the image itself.
    if (IsMountPoint(rootfs, dir)) {
      return InternalFailure(fmt::format("{} is still mounted", rootfs));
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) return InternalFailure(fmt::format("cannot remove {}: {}", dir, ec.message()));
    return {};
  }

  Result<std::vector<ContainerStatus>> List() override {
    std::vector<ContainerStatus> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(options_.state_dir, ec)) {
      std::string id = entry.path().filename().string();
      if (!entry.is_directory() || !fs::exists(entry.path() / bundle::kConfig)) continue;
      if (auto status = Status(id)) out.push_back(std::move(*status));
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return InternalFailure(fmt::format("cannot list {}: {}", options_.state_dir, ec.message()));
    }
    return out;
  }

  Result<ExecResult> Exec(const std::string& id, const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout) override {
    auto status = BERTH_TRY(Status(id));
    if (status.state != State::kRunning) {
      return Fail("InvalidState", fmt::format("container {} is not running", id), 409);
    }
    if (argv.empty()) return Fail("InvalidParameter", "no command to run", 400);
    // runc exec proxies the process's exit; on timeout the process itself is killed (by its
    // host pid, from --pid-file), as killing runc would leave it running in the container.
    std::string pid_file =
        fmt::format("{}/exec-{}.pid", BundleDir(id), exec_counter_.fetch_add(1));
    std::vector<std::string> args = {options_.runc, "--root", options_.runc_root, "exec",
                                     "--pid-file",  pid_file,  id};
    args.insert(args.end(), argv.begin(), argv.end());
    auto ran = RunWithTimeout(args, timeout, [&](pid_t runc) {
      auto text = ReadSmallFile(pid_file);
      int pid = text && *text ? std::atoi((*text)->c_str()) : 0;
      if (pid > 0) ::kill(pid, SIGKILL);
      ::kill(runc, SIGKILL);
    });
    ::unlink(pid_file.c_str());
    if (!ran.spawn_error.empty()) return InternalFailure(ran.spawn_error);
    if (ran.timed_out) {
      return Fail("Timeout",
                  fmt::format("the command did not exit within {} ms", timeout.count()), 504);
    }
    return ExecResult{ran.exit_code, std::move(ran.output)};
  }

  std::string LogPath(const std::string& id) const override {
    return BundleDir(id) + "/" + bundle::kContainerLog;
  }

  pid_t StandbyPid(std::chrono::milliseconds timeout) { return standbys_.WaitingPid(timeout); }

 private:
  std::string BundleDir(const std::string& id) const { return options_.state_dir + "/" + id; }

  CommandResult Runc(std::vector<std::string> args) const {
    args.insert(args.begin(), {options_.runc, "--root", options_.runc_root});
    return RunCommand(args);
  }

  // The overlay, config.json and meta.json.
  berth::Status Prepare(const ContainerConfig& config, const std::string& dir) {
    std::string upper = dir + "/" + bundle::kUpper, work = dir + "/" + bundle::kWork;
    std::string rootfs = dir + "/" + bundle::kRootfs;
    for (const auto& d : {upper, work, rootfs}) {
      if (::mkdir(d.c_str(), 0755) != 0) return CreateError(Errno("cannot create", d));
    }
    struct stat st {};
    if (::stat(config.image_rootfs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return CreateError(
          fmt::format("the image rootfs {} is not a directory", config.image_rootfs));
    }
    for (const std::string* path :
         std::initializer_list<const std::string*>{&config.image_rootfs, &upper}) {
      if (path->find_first_of(",:") != std::string::npos) {
        return CreateError(fmt::format("cannot overlay {}: it holds ',' or ':'", *path));
      }
    }
    std::string data =
        fmt::format("lowerdir={},upperdir={},workdir={}", config.image_rootfs, upper, work);
    if (::mount("overlay", rootfs.c_str(), "overlay", 0, data.c_str()) != 0) {
      return CreateError(Errno("cannot mount the overlay on", rootfs));
    }

    ContainerConfig effective = config;
    if (effective.hostname.empty()) {
      if (config.netns_path.empty()) {
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        effective.hostname = host;
      } else {
        effective.hostname = config.id.substr(0, 12);  // Docker's short id
      }
    }
    SpecOptions spec_options{.allow_privileged = options_.allow_privileged};
    if (config.init) {
      if (::access(options_.init_binary.c_str(), X_OK) != 0) {
        return CreateError(
            fmt::format("the init process {} is not available", options_.init_binary));
      }
      spec_options.init_binary = options_.init_binary;
    }
    std::string spec = BERTH_TRY(MakeSpec(effective, spec_options));
    Json meta = {{"annotations", config.annotations}};
    for (const auto& [name, bytes] :
         {std::pair{bundle::kConfig, spec}, std::pair{bundle::kMeta, json::Dump(meta)}}) {
      if (auto written = bundle::WriteWhole(dir + "/" + name, bytes); !written) {
        return CreateError(written.error().message);
      }
    }
    return {};
  }

  // Has a shim run the container: the standby when one waits, else one started now (a session
  // leader, not our child); waits for its word on the ready pipe.
  berth::Status Launch(const std::string& id, const std::string& dir) {
    auto launched = LaunchShim(id, dir);
    standbys_.Refill();  // once this start has its answer (the spawn waits 30 ms more)
    return launched;
  }

  berth::Status LaunchShim(const std::string& id, const std::string& dir) {
    std::string shim_log = dir + "/" + bundle::kShimLog;
    if (Fd ready = standbys_.Take(dir, id); ready.valid()) {
      auto reply = ReadReady(ready.get(), kStartTimeout);
      // A standby that died before its first step leaves the start to a new shim.
      if (!reply || !reply->empty() || ::access(shim_log.c_str(), F_OK) == 0) {
        return ReadyStatus(reply, dir);
      }
    }
    std::vector<std::string> args = {options_.shim_binary,
                                     "runtime-shim",
                                     "run",
                                     "--bundle",
                                     dir,
                                     "--id",
                                     id,
                                     "--runc",
                                     options_.runc,
                                     "--root",
                                     options_.runc_root,
                                     "--ready-fd",
                                     "3"};
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return StartError(Errno("pipe", dir));
    Fd ready_r(pipe_fds[0]), ready_w(pipe_fds[1]);
    Fd log_fd(::open(shim_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log_fd.valid()) return StartError(Errno("cannot create", shim_log));
    // posix_spawn (no copy of the agent's page tables, unlike fork) in a new session; the shim
    // forks once more and its first process exits, so it is no child of ours.
    pid_t child = 0;
    int rc = SpawnShim(args, log_fd.get(), {ready_w.get()}, child);
    ready_w.Reset();
    if (rc != 0) {
      return StartError(
          fmt::format("cannot execute the shim {}: {}", options_.shim_binary, std::strerror(rc)));
    }
    auto reply = ReadReady(ready_r.get(), kStartTimeout);
    if (!reply) return ReadyStatus(reply, dir);
    int ignored = 0;
    while (::waitpid(child, &ignored, 0) < 0 && errno == EINTR) {
    }
    return ReadyStatus(reply, dir);
  }

  static std::unexpected<Error> StartError(std::string message) {
    return Fail("CannotStartContainerError", std::move(message), 500);
  }

  // OK for the shim's "ok\n"; else why the container did not start.
  static berth::Status ReadyStatus(const std::optional<std::string>& reply,
                                   const std::string& dir) {
    if (!reply) return StartError("runc did not start the container in time");
    if (*reply == "ok\n") return {};
    std::string why = bundle::LastRuncError(dir);
    if (why.empty()) {
      auto exit = bundle::ReadExit(dir);
      why = exit && !exit->error.empty() ? exit->error : "the runtime shim failed";
      auto shim_says = ReadSmallFile(dir + "/" + bundle::kShimLog);
      if (!exit && shim_says && *shim_says && !(*shim_says)->empty()) {
        why += ": " + FirstLine(**shim_says);
      }
    }
    return StartError(why);
  }

  static std::map<std::string, std::string> ReadAnnotations(const std::string& dir) {
    std::map<std::string, std::string> out;
    auto text = ReadSmallFile(dir + "/" + bundle::kMeta);
    if (!text || !*text) return out;
    Json meta = Json::parse(**text, nullptr, /*allow_exceptions=*/false);
    if (!meta.is_object()) return out;
    auto it = meta.find("annotations");
    if (it == meta.end() || !it->is_object()) return out;
    for (const auto& [key, value] : it->items()) {
      if (value.is_string()) out[key] = value.get<std::string>();
    }
    return out;
  }

  // No shim and no exit file (the shim was killed, or Start never finished): runc knows
  // whether the process still runs; how it ended is lost.
  ContainerStatus OrphanStatus(ContainerStatus status) const {
    status.state = State::kStopped;
    auto state = Runc({"state", status.id});
    if (state.exit_code != 0) return status;
    Json doc = Json::parse(state.out, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) return status;
    std::string runc_status = doc.value("status", "");
    if (runc_status == "running" || runc_status == "paused" || runc_status == "created") {
      status.state = State::kRunning;
      status.pid = doc.value("pid", status.pid);
    }
    return status;
  }

  static RuncOptions WithDefaults(RuncOptions options) {
    if (options.runc_root.empty()) options.runc_root = options.state_dir + "/runc";
    options.runc = FindInPath(options.runc);
    if (options.shim_binary.empty()) options.shim_binary = DefaultShim();
    if (options.init_binary.empty() && !options.shim_binary.empty()) {
      options.init_binary = (fs::path(options.shim_binary).parent_path() / "berth-init").string();
    }
    return options;
  }

  const RuncOptions options_;
  StandbyShims standbys_;  // after options_, which it is made from
  std::atomic<uint64_t> exec_counter_{0};
};

}  // namespace

std::unique_ptr<Runtime> NewRuncRuntime(const RuncOptions& options) {
  return std::make_unique<RuncRuntime>(options);
}

int StandbyShimPid(Runtime& runtime, std::chrono::milliseconds timeout) {
  auto* runc = dynamic_cast<RuncRuntime*>(&runtime);
  return runc ? runc->StandbyPid(timeout) : 0;
}

}  // namespace berth::agent::runtime
