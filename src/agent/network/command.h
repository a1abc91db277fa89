// Runs a program (ip, iptables) as a child process with an argv, never through a shell, and
// captures what it prints: the network module's one way to change the host's network.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"

namespace berth::agent::network {

struct CommandResult {
  int exit_code = 0;  // 128 + signal when killed by one
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up in /usr/sbin, /sbin, /usr/bin, /bin, then PATH) with argv, stdin
// /dev/null, and waits for it. Fails (InternalFailure) only when it cannot be started; a
// non-zero exit is a result. Safe to call from several threads.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv);

// RunCommand that fails with NetworkSetupError "<argv>: <stderr>" unless the exit code is 0.
Result<std::string> RunChecked(const std::vector<std::string>& argv);

}  // namespace berth::agent::network
