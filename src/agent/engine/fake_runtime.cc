#include "agent/engine/fake_runtime.h"

#include <algorithm>
#include <csignal>

namespace berth::agent::engine::testing {

Result<runtime::ContainerStatus> FakeRuntime::Start(const runtime::ContainerConfig& config) {
  std::lock_guard lock(mu_);
  if (fail_next_start_) {
    Error error = *fail_next_start_;
    fail_next_start_.reset();
    return Fail(error);
  }
  if (containers_.contains(config.id)) {
    return Fail("CannotCreateContainerError", "container " + config.id + " exists");
  }
  runtime::ContainerStatus status;
  status.id = config.id;
  status.state = runtime::State::kRunning;
  status.pid = next_pid_++;
  status.started_at = SystemClock::Instance().Now();
  status.annotations = config.annotations;
  containers_[config.id] = status;
  configs_[config.id] = config;
  started_.push_back(config.id);
  return status;
}

Result<runtime::ContainerStatus> FakeRuntime::Status(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return Fail("NotFound", "no container " + id, 404);
  return it->second;
}

Result<runtime::ContainerStatus> FakeRuntime::Wait(const std::string& id,
                                                   std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  auto stopped = [&] {
    auto it = containers_.find(id);
    return it == containers_.end() || it->second.state == runtime::State::kStopped;
  };
  cv_.wait_for(lock, timeout, stopped);
  auto it = containers_.find(id);
  if (it == containers_.end()) return Fail("NotFound", "no container " + id, 404);
  return it->second;
}

Result<runtime::ExecResult> FakeRuntime::Exec(const std::string& id,
                                              const std::vector<std::string>& argv,
                                              std::chrono::milliseconds timeout) {
  std::lock_guard lock(mu_);
  execs_.push_back({id, argv, timeout});
  auto it = containers_.find(id);
  if (it == containers_.end()) return Fail("NotFound", "no container " + id, 404);
  if (it->second.state != runtime::State::kRunning) {
    return Fail("InvalidState", "container " + id + " is not running", 409);
  }
  auto script = exec_scripts_.find(id);
  if (script == exec_scripts_.end() || script->second.empty()) return runtime::ExecResult{};
  size_t& next = exec_next_[id];
  size_t at = std::min(next, script->second.size() - 1);
  ++next;
  return script->second[at];
}

berth::Status FakeRuntime::Signal(const std::string& id, int signal) {
  std::lock_guard lock(mu_);
  signals_.emplace_back(id, signal);
  auto it = containers_.find(id);
  if (it == containers_.end()) return Fail("NotFound", "no container " + id, 404);
  if (it->second.state == runtime::State::kStopped) return {};
  if (signal == SIGKILL || (signal == SIGTERM && !ignore_term_)) ExitLocked(it->second, 128 + signal);
  return {};
}

berth::Status FakeRuntime::Remove(const std::string& id) {
  std::lock_guard lock(mu_);
  if (containers_.erase(id) > 0) removed_.insert(id);
  cv_.notify_all();
  return {};
}

Result<std::vector<runtime::ContainerStatus>> FakeRuntime::List() {
  std::lock_guard lock(mu_);
  std::vector<runtime::ContainerStatus> out;
  for (const auto& [id, status] : containers_) out.push_back(status);
  return out;
}

void FakeRuntime::ExitLocked(runtime::ContainerStatus& c, int code) {
  c.state = runtime::State::kStopped;
  c.exit_code = code;
  c.finished_at = SystemClock::Instance().Now();
  cv_.notify_all();
}

void FakeRuntime::Exit(const std::string& id, int code) {
  std::lock_guard lock(mu_);
  auto it = containers_.find(id);
  if (it != containers_.end() && it->second.state == runtime::State::kRunning) {
    ExitLocked(it->second, code);
  }
}

void FakeRuntime::IgnoreTerm(bool ignore) {
  std::lock_guard lock(mu_);
  ignore_term_ = ignore;
}

void FakeRuntime::FailNextStart(Error error) {
  std::lock_guard lock(mu_);
  fail_next_start_ = std::move(error);
}

void FakeRuntime::ScriptExec(const std::string& id,
                             std::vector<Result<runtime::ExecResult>> results) {
  std::lock_guard lock(mu_);
  exec_scripts_[id] = std::move(results);
  exec_next_[id] = 0;
}

std::vector<FakeRuntime::ExecCall> FakeRuntime::execs() const {
  std::lock_guard lock(mu_);
  return execs_;
}

void FakeRuntime::Add(runtime::ContainerStatus status) {
  std::lock_guard lock(mu_);
  containers_[status.id] = std::move(status);
}

std::vector<std::string> FakeRuntime::started() const {
  std::lock_guard lock(mu_);
  return started_;
}

std::optional<runtime::ContainerConfig> FakeRuntime::config(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = configs_.find(id);
  if (it == configs_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, int>> FakeRuntime::signals() const {
  std::lock_guard lock(mu_);
  return signals_;
}

std::set<std::string> FakeRuntime::removed() const {
  std::lock_guard lock(mu_);
  return removed_;
}

bool FakeRuntime::Has(const std::string& id) const {
  std::lock_guard lock(mu_);
  return containers_.contains(id);
}

}  // namespace berth::agent::engine::testing
