// The files of one container's bundle directory (<state_dir>/<id>/), written by the runtime
// (Start) and the shim, read by any Runtime on the same state directory (adoption):
//   config.json   the OCI spec            rootfs/ upper/ work/   the overlay
//   meta.json     annotations (Start)     started.json           pid, started_at (shim)
//   exit.json     how it ended (shim)     shim.lock              flock'ed while the shim lives
//   container.log stdout+stderr           runc.log               runc's own log (--log)
//   init.pid      runc --pid-file         shim.log               the shim's own errors
#pragma once

#include <optional>
#include <string>

#include "common/clock.h"
#include "common/error.h"

namespace berth::agent::runtime::bundle {

inline constexpr char kConfig[] = "config.json";
inline constexpr char kRootfs[] = "rootfs";
inline constexpr char kUpper[] = "upper";
inline constexpr char kWork[] = "work";
inline constexpr char kMeta[] = "meta.json";
inline constexpr char kStarted[] = "started.json";
inline constexpr char kExit[] = "exit.json";
inline constexpr char kShimLock[] = "shim.lock";
inline constexpr char kContainerLog[] = "container.log";
inline constexpr char kRuncLog[] = "runc.log";
inline constexpr char kPidFile[] = "init.pid";
inline constexpr char kShimLog[] = "shim.log";

// started.json: written once the container's process runs.
struct Started {
  int pid = 0;
  TimePoint started_at{};
};

// exit.json: written once, when the process ended or could not start.
struct Exit {
  std::optional<int> exit_code;  // none when it never ran or was lost
  TimePoint started_at{};
  TimePoint finished_at{};
  std::string error;  // why it did not start, or why the code is unknown
};

// Writes `bytes` as the file at `path` through "<path>.tmp" and rename, without fsync: a reader
// sees the whole file or none, and a host crash, which would lose it, also ends the container
// it describes (keeps fsync off the start path). InternalFailure naming the path.
Status WriteWhole(const std::string& path, const std::string& bytes);

Status WriteStarted(const std::string& dir, const Started& started);
std::optional<Started> ReadStarted(const std::string& dir);
Status WriteExit(const std::string& dir, const Exit& exit);
std::optional<Exit> ReadExit(const std::string& dir);

// True while the shim of the bundle at `dir` runs (it holds the lock on kShimLock).
bool ShimAlive(const std::string& dir);

// The last error runc wrote to its log (kRuncLog), its `msg` unquoted; "" when none.
std::string LastRuncError(const std::string& dir);

}  // namespace berth::agent::runtime::bundle
