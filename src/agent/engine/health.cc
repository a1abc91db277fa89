#include "agent/engine/health.h"

#include <fmt/format.h>

#include "common/log.h"
#include "common/strings.h"

namespace berth::agent::engine {

namespace {

constexpr int kDefaultRetries = 3;
constexpr std::chrono::nanoseconds kDefaultInterval = std::chrono::seconds(30);
constexpr std::chrono::nanoseconds kDefaultTimeout = std::chrono::seconds(30);
constexpr size_t kMaxStatusMessage = 255;  // bytes

std::chrono::milliseconds Millis(int64_t ns, std::chrono::nanoseconds otherwise) {
  auto d = ns > 0 ? std::chrono::nanoseconds(ns) : otherwise;
  return std::chrono::ceil<std::chrono::milliseconds>(d);
}

}  // namespace

std::optional<std::vector<std::string>> HealthCommand(const spec::HealthCheck& check) {
  const auto& test = check.test;
  if (test.empty()) return std::nullopt;
  if (test[0] == "CMD" && test.size() > 1) {
    return std::vector<std::string>(test.begin() + 1, test.end());
  }
  if (test[0] == "CMD-SHELL" && test.size() > 1) {
    std::string command = test[1];
    for (size_t i = 2; i < test.size(); ++i) command += " " + test[i];
    return std::vector<std::string>{"/bin/sh", "-c", command};
  }
  return std::nullopt;
}

std::string ProbeStatusMessage(std::string_view output) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!output.empty() && blank(output.back())) output.remove_suffix(1);
  if (auto newline = output.rfind('\n'); newline != std::string_view::npos) {
    output.remove_prefix(newline + 1);
  }
  return std::string(Utf8Prefix(output, kMaxStatusMessage));
}

HealthTracker::HealthTracker(int retries, std::chrono::nanoseconds start_period,
                             TimePoint started_at)
    : retries_(retries > 0 ? retries : kDefaultRetries),
      start_period_ends_(started_at +
                         std::chrono::duration_cast<TimePoint::duration>(start_period)) {}

bool HealthTracker::Record(bool passed, TimePoint now) {
  std::string_view before = status_;
  if (passed) {
    failures_ = 0;
    status_ = kHealthy;
  } else if (status_ == kHealthUnknown && now < start_period_ends_) {
    // Still starting: Docker does not count it.
  } else if (++failures_ >= retries_) {
    status_ = kUnhealthy;
  }
  return status_ != before;
}

HealthMonitor::HealthMonitor(runtime::Runtime& runtime, std::string runtime_id,
                             std::vector<std::string> command, const spec::HealthCheck& check,
                             TimePoint started_at, const Clock& clock, OnChange on_change)
    : runtime_(runtime),
      id_(std::move(runtime_id)),
      command_(std::move(command)),
      interval_(Millis(check.interval_ns, kDefaultInterval)),
      timeout_(Millis(check.timeout_ns, kDefaultTimeout)),
      clock_(clock),
      on_change_(std::move(on_change)) {
  HealthTracker tracker(check.retries, std::chrono::nanoseconds(check.start_period_ns),
                        started_at);
  thread_ = std::thread([this, tracker] { Run(tracker); });
}

HealthMonitor::~HealthMonitor() {
  Stop();
  Join();
}

void HealthMonitor::Stop() {
  std::lock_guard lock(mu_);
  stop_ = true;
  cv_.notify_all();
}

void HealthMonitor::Join() {
  if (thread_.joinable()) thread_.join();
}

void HealthMonitor::Run(HealthTracker tracker) {
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, interval_, [&] { return stop_; })) return;
    }
    auto ran = runtime_.Exec(id_, command_, timeout_);
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    if (!ran && (ran.error().code == "NotFound" || ran.error().code == "InvalidState")) {
      continue;  // the container is going: its exit ends this monitor
    }
    bool passed = ran && ran->exit_code == 0;
    std::string output = ran ? ran->output
                             : fmt::format("{}: {}", ran.error().code, ran.error().message);
    if (tracker.Record(passed, clock_.Now())) {
      // Not the output: the container writes it, and it may hold what it should not.
      log::Debug("container health changed", {{"runtime_id", id_},
                                              {"health", std::string(tracker.status())}});
      on_change_(tracker.status(), output);
    }
  }
}

}  // namespace berth::agent::engine
