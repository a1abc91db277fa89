// A Runtime in memory: containers "run" (no process) until a signal ends them (SIGTERM exits
// 143 unless IgnoreTerm, SIGKILL exits 137) or a test makes them exit (Exit). The engine's
// tests drive it through its controls; `berth agent --hollow` (benchmarks of the control
// plane, as Kubernetes' kubemark hollow nodes) runs every container on it.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/runtime/runtime.h"
#include "common/clock.h"

namespace berth::agent::runtime {

class MemoryRuntime final : public Runtime {
 public:
  Result<ContainerStatus> Start(const ContainerConfig& config) override;
  Result<ContainerStatus> Status(const std::string& id) override;
  Result<ContainerStatus> Wait(const std::string& id,
                                        std::chrono::milliseconds timeout) override;
  berth::Status Signal(const std::string& id, int signal) override;
  berth::Status Remove(const std::string& id) override;
  Result<std::vector<ContainerStatus>> List() override;
  // A running container's next scripted result (ScriptExec); exit 0 when none was scripted.
  Result<ExecResult> Exec(const std::string& id, const std::vector<std::string>& argv,
                                   std::chrono::milliseconds timeout) override;
  std::string LogPath(const std::string& id) const override { return log_dir_ + "/" + id; }

  // Test controls.
  // LogPath answers <dir>/<id> (a test writes a container's output there); set before use.
  void SetLogDir(std::string dir) { log_dir_ = std::move(dir); }
  void Exit(const std::string& id, int code);
  void IgnoreTerm(bool ignore);
  // The next Start fails with `error`.
  void FailNextStart(Error error);
  // What Exec in container `id` returns, in turn; the last one again once they are used up.
  void ScriptExec(const std::string& id, std::vector<Result<ExecResult>> results);
  // A container the runtime has without anyone starting it (adoption tests).
  void Add(ContainerStatus status);

  // What happened.
  std::vector<std::string> started() const;  // ids, in start order
  std::optional<ContainerConfig> config(const std::string& id) const;
  std::vector<std::pair<std::string, int>> signals() const;
  std::set<std::string> removed() const;
  bool Has(const std::string& id) const;
  struct ExecCall {
    std::string id;
    std::vector<std::string> argv;
    std::chrono::milliseconds timeout;
  };
  std::vector<ExecCall> execs() const;

 private:
  void ExitLocked(ContainerStatus& c, int code);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, ContainerStatus> containers_;
  std::map<std::string, ContainerConfig> configs_;
  std::vector<std::string> started_;
  std::vector<std::pair<std::string, int>> signals_;
  std::set<std::string> removed_;
  std::map<std::string, std::vector<Result<ExecResult>>> exec_scripts_;
  std::map<std::string, size_t> exec_next_;
  std::vector<ExecCall> execs_;
  std::optional<Error> fail_next_start_;
  bool ignore_term_ = false;
  std::string log_dir_ = "/dev/null";
  int next_pid_ = 1000;
};

}  // namespace berth::agent::runtime
