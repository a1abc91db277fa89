// Test support: a tmds::MetadataServer that records what the engine told it.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "agent/tmds/server.h"

namespace berth::agent::engine::testing {

class FakeMetadata final : public tmds::MetadataServer {
 public:
  std::string Address() const override { return "127.0.0.1:51679"; }
  void PutTask(const tmds::TaskMetadata& task) override {
    std::lock_guard lock(mu_);
    tasks_[task.task_arn] = task;
  }
  void PutCredentials(const std::string& task_arn, const spec::RoleCredentials& creds) override {
    std::lock_guard lock(mu_);
    credentials_[task_arn] = creds;
  }
  void RemoveTask(const std::string& task_arn) override {
    std::lock_guard lock(mu_);
    removed_.insert(task_arn);
    tasks_.erase(task_arn);
    credentials_.erase(task_arn);
  }

  std::optional<tmds::TaskMetadata> task(const std::string& arn) const {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(arn);
    if (it == tasks_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<spec::RoleCredentials> credentials(const std::string& arn) const {
    std::lock_guard lock(mu_);
    auto it = credentials_.find(arn);
    if (it == credentials_.end()) return std::nullopt;
    return it->second;
  }
  bool removed(const std::string& arn) const {
    std::lock_guard lock(mu_);
    return removed_.contains(arn);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, tmds::TaskMetadata> tasks_;
  std::map<std::string, spec::RoleCredentials> credentials_;
  std::set<std::string> removed_;
};

}  // namespace berth::agent::engine::testing
