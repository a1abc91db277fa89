// One task's state machine (engine.h steps 1-6) on a thread of its own, with one monitor
// thread per running container waiting for it to exit, and one more per running container
// with a health check running it (health.h). Everything the task does goes through
// the EngineContext: the runtime, the network, the metadata endpoint, the report queue.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/engine/engine.h"
#include "agent/engine/health.h"
#include "agent/engine/image_cache.h"
#include "agent/engine/report_queue.h"
#include "agent/engine/task_record.h"

namespace berth::agent::engine {

// What the task threads share; everything outlives them.
struct EngineContext {
  const EngineOptions& options;
  runtime::Runtime& runtime;
  network::Network& network;
  tmds::MetadataServer& metadata;
  ReportQueue& reports;
  Images* images = nullptr;  // null when the content store could not be opened
  std::string images_error;      // why, then
  const Clock& clock;
  std::string tasks_dir;  // <data_dir>/tasks
  // Called (on a task thread, no lock held) when a task's health as TCS publishes it changed.
  std::function<void()> health_changed;
};

// The reason a task needing asm-auth without execution role credentials stops with.
inline constexpr std::string_view kNoExecutionRoleReason =
    "ResourceInitializationError: unable to pull secrets or registry auth: asm resource: unable "
    "to find execution role credentials";
inline constexpr std::string_view kEssentialExited = "Essential container in task exited";

class TaskRunner {
 public:
  // `record`: a new task's (NewTaskRecord) or one recovered from disk, its containers'
  // statuses as the runtime reported them (started containers are adopted: their monitors
  // learn how they exit). A non-empty `refused` stops the task at once with that reason.
  TaskRunner(EngineContext& context, TaskRecord record, std::string refused = "");
  ~TaskRunner();  // Shutdown()

  void Start();
  // ACS says STOPPED.
  void RequestStop();
  // Refreshed credentials (role_type TaskExecution: asm-auth; otherwise the task role's id,
  // for the containers still to start). Held in memory only.
  void SetCredentials(const spec::RoleCredentials& credentials);
  // Ends the threads without stopping the containers.
  void Shutdown();

  bool stopped() const { return stopped_.load(); }
  const std::string& arn() const { return arn_; }
  // What TCS publishes of the task (TaskHealthOf its record as last committed).
  std::optional<spec::TaskHealth> Health() const;
  // The credentials id of the task's execution role ("" if none).
  std::string ExecutionCredentialsId() const;

 private:
  enum class Outcome { kStop, kShutdown };
  struct Exit {
    size_t index;
    std::optional<runtime::ContainerStatus> status;  // nullopt: the runtime lost it
  };
  struct LogShipper {
    std::unique_ptr<awslogs::LogsClient> client;
    std::unique_ptr<awslogs::Shipper> shipper;  // destroyed (stopped) before its client
  };
  struct HealthChange {
    size_t index;
    std::string_view status;
    TimePoint at;
    std::string message;  // ProbeStatusMessage of the probe's output
  };
  enum class Dependencies { kWait, kReady, kNever };

  void Run();
  Outcome Drive();
  bool Prepare();
  bool PullAll(const std::vector<size_t>& pending);
  bool FetchAsm(const std::vector<size_t>& pending,
                std::map<std::string, std::unique_ptr<credentials::CredentialSource>>& sources);
  Outcome Loop();
  bool StartReady(bool& changed);
  Dependencies DependenciesOf(size_t index, std::string& why) const;
  bool StartContainer(size_t index);
  void StopContainers();
  // The awslogs configuration of container `index` (nullopt: another driver).
  Result<std::optional<awslogs::Config>> LogsConfig(size_t index) const;
  void StartShipper(size_t index, const awslogs::Config& config);
  // Every shipper ships what is left (Finish), before STOPPED is reported.
  void FinishShippers();
  void CleanUp();
  void KeepOutput();

  void StartMonitor(size_t index);
  // A health monitor for a started container with a health check (none otherwise).
  void StartHealthMonitor(size_t index);
  bool ApplyHealthChanges();  // true when a container's health status changed
  void JoinMonitors();
  void ApplyExit(const Exit& exit);
  std::vector<Exit> TakeExits();
  bool StopRequested();
  bool ShuttingDown();
  void FailTask(const std::string& reason, const std::vector<size_t>& containers);

  // Saves the record, updates the metadata endpoint and the health TCS publishes (calling
  // health_changed when that changed). The record's first save and a STOPPED one are fsynced
  // (a host crash then still leaves the task known, to be reported STOPPED after the reboot);
  // the steps between are not: a crash that lost one leaves an older state whose containers
  // are gone too, and each fsync would add ~5-15 ms to the start of a task.
  void Commit();
  void Report(std::string_view status);
  spec::TaskStateChange Change(std::string_view status) const;

  EngineContext& ctx_;
  TaskRecord record_;  // the task thread's
  bool synced_once_ = false;  // the record was saved with fsync by this runner
  const std::string arn_;
  const std::string refused_;
  std::map<size_t, ReadyImage> images_;  // pulled images of containers still to start

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_requested_ = false;
  bool shutdown_ = false;
  std::deque<Exit> exits_;
  std::deque<HealthChange> health_changes_;
  std::optional<spec::RoleCredentials> execution_role_;
  std::string task_role_credentials_id_;
  std::optional<spec::TaskHealth> health_;  // as of the last Commit

  std::atomic<bool> stopped_{false};
  std::atomic<bool> monitors_stop_{false};
  std::vector<std::thread> monitors_;
  std::map<size_t, std::unique_ptr<HealthMonitor>> health_monitors_;  // the task thread's
  std::map<size_t, LogShipper> shippers_;                             // the task thread's
  std::thread thread_;
};

}  // namespace berth::agent::engine
