// How the runc runtime starts the shims (shim.cc) that run its containers: at once, as
// `runtime-shim run`, or ahead of need, as a `runtime-shim standby` that waits for its job, so
// the shim's exec, dynamic loading and fork-away are off the container's start path.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"

namespace berth::agent::runtime {

// Starts `args` (args[0] a path) in a new session with default signal dispositions and nothing
// blocked: stdin /dev/null, stdout and stderr on `out` (-1: /dev/null), pass[i] as fd 3 + i,
// no other fd. Returns posix_spawn's result (0, or an errno value) and sets `pid`.
int SpawnShim(const std::vector<std::string>& args, int out, std::initializer_list<int> pass,
              pid_t& pid);

// What a shim wrote on its ready pipe `ready_fd`, read to EOF ("ok\n" once its container runs);
// nullopt when it gave no EOF within `timeout`.
std::optional<std::string> ReadReady(int ready_fd, std::chrono::milliseconds timeout);

// Keeps one standby shim waiting for its job: spawned on a thread of its own at construction
// and after each Refill, already exec'd and forked away (no child of ours) when Take hands it
// out. Thread-safe.
class StandbyShims {
 public:
  // The standby runs `shim_binary runtime-shim standby --runc RUNC --root ROOT --ready-fd 3
  // --control-fd 4`.
  StandbyShims(std::string shim_binary, std::string runc, std::string runc_root);
  // Closes the control socket of an unused standby (it exits) and waits up to a second for it.
  ~StandbyShims();
  StandbyShims(const StandbyShims&) = delete;
  StandbyShims& operator=(const StandbyShims&) = delete;

  // Hands the waiting standby its job, the container `id` of the bundle at `dir`: returns the
  // read end of that shim's ready pipe, to read to EOF ("ok\n" once the container runs, as
  // from `run`). An invalid Fd when no standby is waiting or it had died (start a shim the
  // old way then). A shim that dies between the hand-over and its first step leaves no
  // shim.log in `dir` and an empty ready pipe. Call Refill once the start has its answer.
  Fd Take(const std::string& dir, const std::string& id);

  // Asks for a new standby when none waits or is being spawned (one try a call), spawned
  // 30 ms later so that it does not compete with the end of the start that asked.
  void Refill();

  // The pid of the standby waiting for its job, once there is one within `timeout`; 0: none.
  pid_t WaitingPid(std::chrono::milliseconds timeout);

 private:
  struct Standby {
    Fd control;  // our end of the socket pair
    Fd ready;    // the read end of its ready pipe
    pid_t pid = 0;
  };

  std::optional<Standby> Spawn() const;
  void Loop();

  const std::vector<std::string> args_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Standby> waiting_;  // guarded by mu_
  bool wanted_ = true;              // guarded by mu_
  bool stop_ = false;               // guarded by mu_
  std::thread thread_;              // last: it uses the members above
};

}  // namespace berth::agent::runtime
