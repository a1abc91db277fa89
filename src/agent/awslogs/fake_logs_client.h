// Test support: an awslogs::LogsClient in memory. Records every call in order, answers with
// scripted errors (per operation, in turn) and can hold PutLogEvents until released.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "agent/awslogs/shipper.h"

namespace berth::agent::awslogs::testing {

class FakeLogsClient final : public LogsClient {
 public:
  Status CreateLogGroup(const std::string& group) override {
    return Answer("CreateLogGroup " + group, "CreateLogGroup");
  }
  Status CreateLogStream(const std::string& group, const std::string& stream) override {
    return Answer("CreateLogStream " + group + " " + stream, "CreateLogStream");
  }
  Status PutLogEvents(const std::string& group, const std::string& stream,
                      std::span<const Event> events) override {
    std::unique_lock lock(mu_);
    ++puts_in_progress_;
    held_events_ = events.size();
    cv_.notify_all();
    cv_.wait(lock, [&] { return !held_; });
    --puts_in_progress_;
    calls_.push_back("PutLogEvents " + group + " " + stream);
    Status answer = Next("PutLogEvents");
    if (answer) batches_.emplace_back(events.begin(), events.end());
    cv_.notify_all();
    return answer;
  }

  // The next calls of `op` ("PutLogEvents", ...) fail with these errors, in turn.
  void FailNext(const std::string& op, std::vector<Error> errors) {
    std::lock_guard lock(mu_);
    for (auto& e : errors) errors_[op].push_back(std::move(e));
  }
  // Every later call of `op` fails with `error`.
  void FailAlways(const std::string& op, Error error) {
    std::lock_guard lock(mu_);
    always_[op] = std::move(error);
  }
  // PutLogEvents waits while held.
  void Hold(bool held) {
    std::lock_guard lock(mu_);
    held_ = held;
    cv_.notify_all();
  }
  // Waits (up to `limit`) until a PutLogEvents call is waiting on Hold.
  bool WaitForHeldPut(std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return puts_in_progress_ > 0; });
  }

  // The number of events of the last PutLogEvents call that waited on Hold.
  size_t held_events() const {
    std::lock_guard lock(mu_);
    return held_events_;
  }

  std::vector<std::string> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  // Accepted batches, in order.
  std::vector<std::vector<Event>> batches() const {
    std::lock_guard lock(mu_);
    return batches_;
  }
  // Every accepted message, in order.
  std::vector<std::string> messages() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> all;
    for (const auto& batch : batches_) {
      for (const auto& e : batch) all.push_back(e.message);
    }
    return all;
  }

 private:
  Status Answer(std::string call, const std::string& op) {
    std::lock_guard lock(mu_);
    calls_.push_back(std::move(call));
    return Next(op);
  }
  // Requires mu_.
  Status Next(const std::string& op) {
    if (auto it = always_.find(op); it != always_.end()) return Fail(it->second);
    auto& queued = errors_[op];
    if (queued.empty()) return {};
    Error error = queued.front();
    queued.pop_front();
    return Fail(error);
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> calls_;
  std::vector<std::vector<Event>> batches_;
  std::map<std::string, std::deque<Error>> errors_;
  std::map<std::string, Error> always_;
  bool held_ = false;
  int puts_in_progress_ = 0;
  size_t held_events_ = 0;
};

}  // namespace berth::agent::awslogs::testing
