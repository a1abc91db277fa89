// What was made for a task, one JSON file a task in the state directory: written before
// anything is made (so a crash mid-setup leaves a record naming what may exist) and removed
// once all of it is gone.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/network/network.h"
#include "agent/network/rules.h"
#include "agent/spec/task_spec.h"
#include "common/error.h"

namespace berth::agent::network {

struct TaskRecord {
  std::string task_id;
  std::string mode;     // none | bridge | awsvpc
  std::string bridge;   // "" for none
  std::string netns;    // name under /run/netns
  std::string veth;     // host side; "" for none
  std::string ipv4;     // "" for none
  std::string gateway;  // "" for none
  std::vector<spec::NetworkBinding> bindings;
  std::vector<Rule> rules;  // iptables rules made for the task
};

std::string EncodeRecord(const TaskRecord& record);
// InternalFailure when `text` is not a record.
Result<TaskRecord> DecodeRecord(std::string_view text);

// The network a record describes, as Setup returns it.
TaskNetwork NetworkOf(const TaskRecord& record);

// The records of a state directory, as files "<task_id>.json".
class RecordStore {
 public:
  explicit RecordStore(std::string dir) : dir_(std::move(dir)) {}

  Status Write(const TaskRecord& record);  // creates the directory if needed
  Result<std::optional<TaskRecord>> Read(const std::string& task_id);
  // Every record; unreadable files are skipped with a warning in the log.
  Result<std::vector<TaskRecord>> List();
  Status Remove(const std::string& task_id);  // OK when there is none

 private:
  std::string Path(const std::string& task_id) const;
  std::string dir_;
};

}  // namespace berth::agent::network
