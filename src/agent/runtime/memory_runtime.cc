#include "agent/runtime/memory_runtime.h"

#include <algorithm>
#include <csignal>

namespace berth::agent::runtime {

Result<ContainerStatus> MemoryRuntime::Start(const ContainerConfig& config) {
  std::lock_guard lock(mu_);
  if (fail_next_start_) {
    Error error = *fail_next_start_;
    fail_next_start_.reset();
    return Fail(error);
  }
  if (containers_.contains(config.id)) {
    return Fail("CannotCreateContainerError", "container " + config.id + " exists");
  }
  ContainerStatus status;
  status.id = config.id;
  status.state = State::kRunning;
  status.pid = next_pid_++;
  status.started_at = SystemClock::Instance().Now();
  status.annotations = config.annotations;
  containers_[config.id] = status;
  configs_[config.id] = config;
  started_.push_back(config.id);
  return status;
}

Result<ContainerStatus> MemoryRuntime::Status(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return Fail("NotFound", "no container " + id, 404);
  return it->second;
}

Result<ContainerStatus> MemoryRuntime::Wait(const std::string& id,
                                                   std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  auto stopped = [&] {
    auto it = containers_.find(id);
    return it == containers_.end() || it->second.state == State::kStopped;
  };
  cv_.wait_for(lock, timeout, stopped);
  auto it = containers_.find(id);
  if (it == containers_.end()) return Fail("NotFound", "no container " + id, 404);
  return it->second;
}

Result<ExecResult> MemoryRuntime::Exec(const std::string& id,
                                              const std::vector<std::string>& argv,
                                              std::chrono::milliseconds timeout) {
  std::lock_guard lock(mu_);
  execs_.push_back({id, argv, timeout});
  auto it = containers_.find(id);
  if (it == containers_.end()) return Fail("NotFound", "no container " + id, 404);
  if (it->second.state != State::kRunning) {
    return Fail("InvalidState", "container " + id + " is not running", 409);
  }
  auto script = exec_scripts_.find(id);
  if (script == exec_scripts_.end() || script->second.empty()) return ExecResult{};
  size_t& next = exec_next_[id];
  size_t at = std::min(next, script->second.size() - 1);
  ++next;
  return script->second[at];
}

berth::Status MemoryRuntime::Signal(const std::string& id, int signal) {
  std::lock_guard lock(mu_);
  signals_.emplace_back(id, signal);
  auto it = containers_.find(id);
  if (it == containers_.end()) return Fail("NotFound", "no container " + id, 404);
  if (it->second.state == State::kStopped) return {};
  if (signal == SIGKILL || (signal == SIGTERM && !ignore_term_)) ExitLocked(it->second, 128 + signal);
  return {};
}

berth::Status MemoryRuntime::Remove(const std::string& id) {
  std::lock_guard lock(mu_);
  if (containers_.erase(id) > 0) removed_.insert(id);
  cv_.notify_all();
  return {};
}

Result<std::vector<ContainerStatus>> MemoryRuntime::List() {
  std::lock_guard lock(mu_);
  std::vector<ContainerStatus> out;
  for (const auto& [id, status] : containers_) out.push_back(status);
  return out;
}

void MemoryRuntime::ExitLocked(ContainerStatus& c, int code) {
  c.state = State::kStopped;
  c.exit_code = code;
  c.finished_at = SystemClock::Instance().Now();
  cv_.notify_all();
}

void MemoryRuntime::Exit(const std::string& id, int code) {
  std::lock_guard lock(mu_);
  auto it = containers_.find(id);
  if (it != containers_.end() && it->second.state == State::kRunning) {
    ExitLocked(it->second, code);
  }
}

void MemoryRuntime::IgnoreTerm(bool ignore) {
  std::lock_guard lock(mu_);
  ignore_term_ = ignore;
}

void MemoryRuntime::FailNextStart(Error error) {
  std::lock_guard lock(mu_);
  fail_next_start_ = std::move(error);
}

void MemoryRuntime::ScriptExec(const std::string& id,
                             std::vector<Result<ExecResult>> results) {
  std::lock_guard lock(mu_);
  exec_scripts_[id] = std::move(results);
  exec_next_[id] = 0;
}

std::vector<MemoryRuntime::ExecCall> MemoryRuntime::execs() const {
  std::lock_guard lock(mu_);
  return execs_;
}

void MemoryRuntime::Add(ContainerStatus status) {
  std::lock_guard lock(mu_);
  containers_[status.id] = std::move(status);
}

std::vector<std::string> MemoryRuntime::started() const {
  std::lock_guard lock(mu_);
  return started_;
}

std::optional<ContainerConfig> MemoryRuntime::config(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = configs_.find(id);
  if (it == configs_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, int>> MemoryRuntime::signals() const {
  std::lock_guard lock(mu_);
  return signals_;
}

std::set<std::string> MemoryRuntime::removed() const {
  std::lock_guard lock(mu_);
  return removed_;
}

bool MemoryRuntime::Has(const std::string& id) const {
  std::lock_guard lock(mu_);
  return containers_.contains(id);
}

}  // namespace berth::agent::runtime
