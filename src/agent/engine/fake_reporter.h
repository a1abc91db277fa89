// Test support: an engine::Reporter that records the state changes it accepts and can refuse
// the next few (to exercise the engine's retries).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/engine/engine.h"

namespace berth::agent::engine::testing {

class RecordingReporter final : public Reporter {
 public:
  Status Submit(const spec::TaskStateChange& change) override {
    std::lock_guard lock(mu_);
    ++attempts_;
    if (refuse_ > 0) {
      --refuse_;
      return Fail("ServerException", "try again", 500);
    }
    changes_.push_back(change);
    return {};
  }

  void RefuseNext(int count) {
    std::lock_guard lock(mu_);
    refuse_ = count;
  }
  std::vector<spec::TaskStateChange> changes() const {
    std::lock_guard lock(mu_);
    return changes_;
  }
  // The first accepted change of `task_arn` with `status`.
  std::optional<spec::TaskStateChange> Find(const std::string& task_arn,
                                            const std::string& status) const {
    std::lock_guard lock(mu_);
    for (const auto& c : changes_) {
      if (c.task_arn == task_arn && c.status == status) return c;
    }
    return std::nullopt;
  }
  int attempts() const {
    std::lock_guard lock(mu_);
    return attempts_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<spec::TaskStateChange> changes_;
  int refuse_ = 0;
  int attempts_ = 0;
};

}  // namespace berth::agent::engine::testing
