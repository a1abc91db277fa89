// What the engine knows of a task, as kept in <data_dir>/tasks/<task id>.json so a restarted
// agent adopts its containers (engine.h). NEVER holds a credential or a secret: the task and
// execution roles' credentials are dropped when a record is encoded (ACS sends them again).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/network/network.h"
#include "agent/spec/task_spec.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"

namespace berth::agent::engine {

// Known statuses (ECS-FACTS §3.6), as the metadata endpoint shows them.
inline constexpr std::string_view kNone = "NONE";
inline constexpr std::string_view kPulled = "PULLED";
inline constexpr std::string_view kRunning = "RUNNING";
inline constexpr std::string_view kStopped = "STOPPED";

struct ContainerRecord {
  spec::ContainerSpec spec;
  std::string runtime_id;
  std::string endpoint_id;   // the container's /v4/<id>
  std::string image_digest;  // what the image reference resolved to
  std::string known_status = std::string(kNone);
  bool started = false;  // the runtime started it (it may have stopped since)
  std::optional<int> exit_code;
  std::string reason;
  // With a health check once started: UNKNOWN | HEALTHY | UNHEALTHY (health.h); "" without.
  std::string health_status;
  std::optional<TimePoint> health_since;  // when health_status began
  // The last line of the output of the probe that set health_status (<= 255 bytes). Written
  // by the container: never logged, and not encoded (a restart starts it afresh).
  std::string health_message;
  std::vector<spec::NetworkBinding> bindings;
  std::optional<TimePoint> started_at, finished_at;
};

struct TaskRecord {
  spec::TaskSpec spec;  // task_role / execution_role are never encoded
  std::string known_status = std::string(kNone);
  std::string stopped_reason;
  bool stop_requested = false;  // ACS said STOPPED
  bool network_up = false;
  network::TaskNetwork network;
  std::optional<TimePoint> pull_started_at, pull_stopped_at, execution_stopped_at;
  bool running_reported = false;
  std::vector<ContainerRecord> containers;
};

// A fresh record of a task from ACS: one ContainerRecord per container, with its runtime id
// and `endpoint_ids[i]` as the endpoint id of container i.
TaskRecord NewTaskRecord(const spec::TaskSpec& task, const std::vector<std::string>& endpoint_ids);

// The health TCS publishes of the task (PublishHealthRequest.tasks[i]): its containers that
// have a health status; nullopt when none has or the task is STOPPED. `cluster_arn` when the
// task has none of its own.
std::optional<spec::TaskHealth> TaskHealthOf(const TaskRecord& record,
                                             const std::string& cluster_arn);

// JSON without credentials. Decode errors: "InvalidTaskRecord" naming what is wrong.
std::string EncodeTaskRecord(const TaskRecord& record);
Result<TaskRecord> DecodeTaskRecord(std::string_view text);

// <dir>/<task id>.json, written atomically (0600); fsynced unless kUnsynced (common/file.h).
Status SaveTaskRecord(const std::string& dir, const TaskRecord& record,
                      Durability durability = Durability::kSynced);
// Every record in `dir` (sorted by file name); records that cannot be read are skipped with a
// warning.
std::vector<TaskRecord> LoadTaskRecords(const std::string& dir);
// Removes <dir>/<task id>.json; OK when absent.
void RemoveTaskRecord(const std::string& dir, std::string_view task_id);

}  // namespace berth::agent::engine
