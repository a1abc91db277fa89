// Container health checks as Docker runs them for ECS (task definition healthCheck, unpacked
// into spec::HealthCheck): every `interval` the test runs in the container (Runtime::Exec)
// with `timeout`; the status is UNKNOWN until a result counts, HEALTHY after a success,
// UNHEALTHY after `retries` consecutive failures. Failures while the container is still in
// its `startPeriod` and not yet HEALTHY do not count; a success ends the start period. A
// timeout is a failure. The agent never stops a task for an UNHEALTHY container (ECS leaves
// that to the service scheduler); dependsOn HEALTHY waits for HEALTHY (task_runner.cc).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/runtime/runtime.h"
#include "agent/spec/task_spec.h"
#include "common/clock.h"

namespace berth::agent::engine {

// ECS's healthStatus words.
inline constexpr std::string_view kHealthUnknown = "UNKNOWN";
inline constexpr std::string_view kHealthy = "HEALTHY";
inline constexpr std::string_view kUnhealthy = "UNHEALTHY";

// The argv the check runs: ["CMD", args...] -> args; ["CMD-SHELL", cmd] -> /bin/sh -c cmd.
// nullopt when there is no check to run: ["NONE"], an empty test, or another first word.
std::optional<std::vector<std::string>> HealthCommand(const spec::HealthCheck& check);

// What TCS shows of a probe's output (statusMessage): its last non-empty line, trailing
// whitespace dropped, cut to 255 bytes on a UTF-8 character boundary.
std::string ProbeStatusMessage(std::string_view output);

// The status as probes come in (no threads, no clock of its own).
class HealthTracker {
 public:
  // `retries` <= 0 means Docker's default, 3.
  HealthTracker(int retries, std::chrono::nanoseconds start_period, TimePoint started_at);
  // One probe's outcome, finished at `now`. True when the status changed.
  bool Record(bool passed, TimePoint now);
  std::string_view status() const { return status_; }

 private:
  int retries_;
  TimePoint start_period_ends_;
  int failures_ = 0;
  std::string_view status_ = kHealthUnknown;
};

// One container's checks on a thread of its own, from construction until Stop().
class HealthMonitor {
 public:
  // Called on the monitor's thread when the status changes, with the probe's output (or why
  // it failed to run).
  using OnChange = std::function<void(std::string_view status, const std::string& output)>;

  // `command` from HealthCommand. Probes that find the container gone or stopped do not count.
  HealthMonitor(runtime::Runtime& runtime, std::string runtime_id,
                std::vector<std::string> command, const spec::HealthCheck& check,
                TimePoint started_at, const Clock& clock, OnChange on_change);
  ~HealthMonitor();  // Stop() and Join()

  // Asks the thread to end; returns at once (a probe under way finishes first).
  void Stop();
  void Join();

 private:
  void Run(HealthTracker tracker);

  runtime::Runtime& runtime_;
  const std::string id_;
  const std::vector<std::string> command_;
  const std::chrono::milliseconds interval_, timeout_;
  const Clock& clock_;
  OnChange on_change_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace berth::agent::engine
