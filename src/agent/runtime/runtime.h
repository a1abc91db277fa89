// Running one container under an OCI runtime (runc): the agent's last stage.
//
// A container is an OCI bundle in the runtime's state directory: its root filesystem is an
// overlay whose read-only lower layer is the unpacked image (shared by every container of that
// image, never written) and whose upper layer is the container's own; config.json is made from
// the image's config and the container definition. Each container's process is watched by a
// small shim process (`berth runtime-shim`, RunShim below) that outlives the agent: it holds
// the container's stdout/stderr (written to LogPath) and writes the exit status to the bundle
// when the process ends, so an agent killed and restarted adopts running containers and still
// learns how the others exited.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/spec/task_spec.h"
#include "common/clock.h"
#include "common/error.h"

namespace berth::agent::runtime {

struct Mount {
  std::string source;
  std::string destination;  // absolute path in the container
  std::string type = "bind";
  std::vector<std::string> options = {"rbind", "ro"};
};

struct ContainerConfig {
  std::string id;  // unique on the host, [A-Za-z0-9_.-], at most 128 chars
  std::string image_rootfs;       // the unpacked image: the overlay's read-only lower layer
  std::string image_config_json;  // the OCI image config (Entrypoint, Cmd, Env, WorkingDir, User)
  // The container definition; empty / 0 means "the image's" or "none".
  std::vector<std::string> entry_point;
  std::vector<std::string> command;
  std::map<std::string, std::string> environment;  // added over the image's Env
  std::string user;  // "uid", "uid:gid", "name" or "name:group" (names from the image's /etc/passwd)
  std::string working_directory;
  std::string hostname;
  int64_t memory_limit_bytes = 0;
  int64_t memory_reservation_bytes = 0;
  int cpu_shares = 0;
  double cpu_limit = 0;  // cores as a CFS quota (Fargate task cpu); 0: none
  int64_t pids_limit = 0;
  std::vector<spec::Ulimit> ulimits;
  bool readonly_rootfs = false;
  bool privileged = false;  // the runtime refuses it unless RuncOptions.allow_privileged
  bool init = false;        // linuxParameters.initProcessEnabled: a tiny init as pid 1
  std::string netns_path;   // the network namespace to join; "": the host's
  std::vector<Mount> mounts;  // e.g. /etc/hosts, /etc/resolv.conf prepared by the engine
  std::map<std::string, std::string> annotations;  // OCI annotations (cluster, task ARN, name)
};

enum class State { kRunning, kStopped };

struct ContainerStatus {
  std::string id;
  State state = State::kStopped;
  int pid = 0;
  std::optional<int> exit_code;  // when stopped; 128 + signal for a killed process
  TimePoint started_at{};
  TimePoint finished_at{};
  std::map<std::string, std::string> annotations;  // as given to Start
};

// What a command run in a container (Runtime::Exec) did.
struct ExecResult {
  int exit_code = 0;   // 128 + signal for a killed process
  // stdout and stderr (runc copies each on its own: lines of the two may come in either
  // order), the first kMaxExecOutput bytes.
  std::string output;
};
inline constexpr size_t kMaxExecOutput = 4096;

class Runtime {
 public:
  virtual ~Runtime() = default;

  // Builds the bundle and starts the container's process; returns once it runs.
  // Errors: "CannotCreateContainerError" (bundle, overlay, config, runc create) and
  // "CannotStartContainerError" (the process could not be started), message without the code.
  virtual Result<ContainerStatus> Start(const ContainerConfig& config) = 0;

  // The container's state now. Error "NotFound" when the runtime has no such container.
  virtual Result<ContainerStatus> Status(const std::string& id) = 0;

  // Blocks until the container stopped or `timeout` passed (then returns its running status).
  virtual Result<ContainerStatus> Wait(const std::string& id, std::chrono::milliseconds timeout) = 0;

  // Sends `signal` to the container's process (SIGTERM, SIGKILL); OK when it already stopped.
  virtual berth::Status Signal(const std::string& id, int signal) = 0;

  // Deletes a stopped container: runc state, overlay mount, bundle, log. OK when absent.
  virtual berth::Status Remove(const std::string& id) = 0;

  // Every container this runtime has (running or stopped, not yet removed): for adoption
  // after the agent restarts.
  virtual Result<std::vector<ContainerStatus>> List() = 0;

  // Runs `argv` (argv[0] searched in the container's PATH) in the running container, with the
  // container's environment, user and working directory, stdin /dev/null; returns once it
  // exits. Health checks use it (CMD-SHELL: {"/bin/sh", "-c", command}).
  // Errors: "NotFound" (no such container), "InvalidState" (the container does not run),
  // "Timeout" (still running after `timeout`: it was killed), "InternalFailure" (cannot run).
  virtual Result<ExecResult> Exec(const std::string& id, const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout) = 0;

  // The file holding the container's stdout and stderr.
  virtual std::string LogPath(const std::string& id) const = 0;
};

struct RuncOptions {
  std::string state_dir;        // bundles, logs, exit files: <state_dir>/<id>/
  std::string runc = "runc";    // the runc binary
  std::string runc_root;        // runc --root; "": <state_dir>/runc
  // The binary run as `<shim_binary> runtime-shim ...`: berth, or berth-shim (the same shim,
  // much faster to start). "": berth-shim beside this process's binary, else this binary.
  std::string shim_binary;
  // The static init bound into containers that ask for one (ContainerConfig.init);
  // "": berth-init beside shim_binary.
  std::string init_binary;
  bool allow_privileged = false;
};

// The real runtime. Needs root (mounts, cgroups).
std::unique_ptr<Runtime> NewRuncRuntime(const RuncOptions& options);

// For tests: the pid of the standby shim that `runtime` (from NewRuncRuntime) holds ready for
// its next Start, once it has one, waiting up to `timeout`; 0 when none.
int StandbyShimPid(Runtime& runtime, std::chrono::milliseconds timeout);

// `berth runtime-shim ...` (argv after the subcommand name): the process that runs one
// container under runc and records its exit. Returns the process exit code.
int RunShim(int argc, char** argv);

}  // namespace berth::agent::runtime
