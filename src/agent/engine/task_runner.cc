#include "agent/engine/task_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <future>

#include "agent/engine/container_config.h"
#include "common/file.h"
#include "common/log.h"

namespace berth::agent::engine {

namespace {

using namespace std::chrono_literals;

constexpr size_t kMaxReason = 1024;          // ECS trims reasons to this (ECS-FACTS §1.6)
constexpr auto kMonitorWait = 500ms;         // a monitor's Wait slice (how soon it sees Shutdown)
constexpr auto kKillWait = 10s;              // after SIGKILL
constexpr std::string_view kLostReason = "the runtime no longer has the container";
constexpr std::string_view kLogsState = "awslogs.offset";  // in the container's task state dir

std::string Reason(const Error& error) {
  return error.code.empty() ? error.message : fmt::format("{}: {}", error.code, error.message);
}

std::string Trimmed(std::string text) {
  if (text.size() > kMaxReason) text.resize(kMaxReason);
  return text;
}

std::string BackendStatus(std::string_view known) {
  if (known == kRunning || known == kStopped) return std::string(known);
  return "PENDING";
}

Result<std::unique_ptr<credentials::CredentialSource>> DefaultAsmFetch(
    const credentials::SecretsManagerOptions& options, TimePoint now) {
  auto fetched = credentials::SecretsManagerCredentials::Fetch(options, now);
  if (!fetched) return Fail(fetched.error());
  return std::unique_ptr<credentials::CredentialSource>(std::move(*fetched));
}

}  // namespace

TaskRunner::TaskRunner(EngineContext& context, TaskRecord record, std::string refused)
    : ctx_(context),
      record_(std::move(record)),
      arn_(record_.spec.arn),
      refused_(std::move(refused)) {
  stop_requested_ = record_.stop_requested;
  stopped_ = record_.known_status == kStopped;
}

TaskRunner::~TaskRunner() { Shutdown(); }

void TaskRunner::Start() {
  thread_ = std::thread([this] { Run(); });
}

void TaskRunner::RequestStop() {
  std::lock_guard lock(mu_);
  stop_requested_ = true;
  cv_.notify_all();
}

void TaskRunner::SetCredentials(const spec::RoleCredentials& credentials) {
  std::lock_guard lock(mu_);
  if (credentials.role_type == "TaskExecution") {
    execution_role_ = credentials;
  } else {
    task_role_credentials_id_ = credentials.credentials_id;
  }
}

std::optional<spec::TaskHealth> TaskRunner::Health() const {
  std::lock_guard lock(mu_);
  return health_;
}

std::string TaskRunner::ExecutionCredentialsId() const {
  std::lock_guard lock(mu_);
  return execution_role_ ? execution_role_->credentials_id : "";
}

void TaskRunner::Shutdown() {
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
    cv_.notify_all();
  }
  monitors_stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool TaskRunner::StopRequested() {
  std::lock_guard lock(mu_);
  return stop_requested_;
}

bool TaskRunner::ShuttingDown() {
  std::lock_guard lock(mu_);
  return shutdown_;
}

void TaskRunner::Run() {
  if (record_.known_status != kStopped) {
    if (Drive() == Outcome::kShutdown) {
      JoinMonitors();
      shippers_.clear();  // stopped; a restarted agent resumes them from their offsets
      return;
    }
    StopContainers();
    FinishShippers();
    record_.known_status = kStopped;
    record_.execution_stopped_at = ctx_.clock.Now();
    Commit();
  }
  CleanUp();
  stopped_ = true;
}

TaskRunner::Outcome TaskRunner::Drive() {
  if (!refused_.empty()) {
    FailTask(refused_, {});
    return Outcome::kStop;
  }
  // Adopted containers (a restart): their monitors learn whether they still run.
  for (size_t i = 0; i < record_.containers.size(); ++i) {
    if (record_.containers[i].started && record_.containers[i].known_status == kRunning) {
      StartMonitor(i);
      StartHealthMonitor(i);
      auto logs = LogsConfig(i);
      if (logs && *logs) {
        StartShipper(i, **logs);
      } else if (!logs) {
        log::Warn("an adopted container's output is not shipped",
                  {{"runtime_id", record_.containers[i].runtime_id},
                   {"error", logs.error().message}});
      }
    }
  }
  Commit();
  if (!Prepare()) return ShuttingDown() ? Outcome::kShutdown : Outcome::kStop;
  return Loop();
}

void TaskRunner::FailTask(const std::string& reason, const std::vector<size_t>& containers) {
  record_.stopped_reason = Trimmed(reason);
  for (size_t i : containers) record_.containers[i].reason = Trimmed(reason);
  log::Warn("task failed", {{"task", arn_}, {"reason", reason}});
}

bool TaskRunner::FetchAsm(
    const std::vector<size_t>& pending,
    std::map<std::string, std::unique_ptr<credentials::CredentialSource>>& sources) {
  std::optional<spec::RoleCredentials> role;
  {
    std::lock_guard lock(mu_);
    role = execution_role_;
  }
  auto users_of = [&](const std::string& secret) {
    std::vector<size_t> users;
    for (size_t i : pending) {
      if (record_.containers[i].spec.asm_credentials_parameter == secret) users.push_back(i);
    }
    return users;
  };
  const EngineOptions::AsmFetch& fetch =
      ctx_.options.fetch_asm ? ctx_.options.fetch_asm : EngineOptions::AsmFetch(DefaultAsmFetch);
  for (size_t i : pending) {
    const spec::ContainerSpec& c = record_.containers[i].spec;
    if (c.asm_credentials_parameter.empty() || sources.contains(c.asm_credentials_parameter)) {
      continue;
    }
    if (!role) {
      std::vector<size_t> users;
      for (size_t j : pending) {
        if (!record_.containers[j].spec.asm_credentials_parameter.empty()) users.push_back(j);
      }
      FailTask(std::string(kNoExecutionRoleReason), users);
      return false;
    }
    credentials::SecretsManagerOptions options;
    options.endpoint = ctx_.options.endpoint;
    options.region = c.asm_region.empty() ? ctx_.options.region : c.asm_region;
    options.credentials = {role->access_key_id, role->secret_access_key, role->session_token};
    options.secret_id = c.asm_credentials_parameter;
    options.ca_file = ctx_.options.ca_file;
    auto source = fetch(options, ctx_.clock.Now());
    if (!source) {
      FailTask(Reason(source.error()), users_of(c.asm_credentials_parameter));
      return false;
    }
    sources[c.asm_credentials_parameter] = std::move(*source);
  }
  return true;
}

bool TaskRunner::Prepare() {
  std::vector<size_t> pending;
  for (size_t i = 0; i < record_.containers.size(); ++i) {
    if (!record_.containers[i].started && record_.containers[i].known_status != kStopped) {
      pending.push_back(i);
    }
  }
  if (pending.empty()) return true;

  // 3 starts first: the task's network is made while its secrets are read and its images
  // pulled (neither needs the other), and joined before any container starts.
  std::future<Result<network::TaskNetwork>> network;
  if (!record_.network_up) {
    network::TaskNetworkRequest request;
    request.task_id = record_.spec.Id();
    request.mode = record_.spec.network_mode.empty() ? "bridge" : record_.spec.network_mode;
    for (const auto& c : record_.containers) {
      request.ports.insert(request.ports.end(), c.spec.port_mappings.begin(),
                           c.spec.port_mappings.end());
    }
    network = std::async(std::launch::async,
                         [this, request] { return ctx_.network.Setup(request); });
  }
  // Whatever happens to the pull, a network that was made is recorded (CleanUp removes it).
  auto settle_network = [&]() -> Status {
    if (!network.valid()) return {};
    auto made = network.get();
    if (!made) return Fail(made.error());
    record_.network = std::move(*made);
    record_.network_up = true;
    for (auto& c : record_.containers) {
      c.bindings.clear();
      for (const auto& binding : record_.network.bindings) {
        for (const auto& port : c.spec.port_mappings) {
          if (port.container_port == binding.container_port && port.protocol == binding.protocol) {
            c.bindings.push_back(binding);
            break;
          }
        }
      }
    }
    Commit();
    return {};
  };
  bool pulled = PullAll(pending);
  Status network_made = settle_network();
  if (!pulled) return false;
  if (!network_made) {
    FailTask(Reason(network_made.error()), {});
    return false;
  }
  return true;
}

// 1. asm-auth, 2. images, for the containers not started yet.
bool TaskRunner::PullAll(const std::vector<size_t>& pending) {
  // 1. asm-auth: each secret once, for this task only (dropped when Prepare returns).
  std::map<std::string, std::unique_ptr<credentials::CredentialSource>> asm_sources;
  if (!FetchAsm(pending, asm_sources)) return false;
  if (StopRequested() || ShuttingDown()) return false;

  // 2. Images.
  record_.pull_started_at = ctx_.clock.Now();
  for (size_t i : pending) {
    ContainerRecord& c = record_.containers[i];
    if (ctx_.images == nullptr) {
      FailTask(fmt::format("CannotPullContainerError: {}", ctx_.images_error), {i});
      return false;
    }
    credentials::CredentialSource* source = ctx_.options.instance_auth;
    if (!c.spec.asm_credentials_parameter.empty()) {
      source = asm_sources[c.spec.asm_credentials_parameter].get();
    }
    auto ready = ctx_.images->Get(c.spec.image, source);
    if (!ready) {
      record_.pull_stopped_at = ctx_.clock.Now();
      FailTask(Reason(ready.error()), {i});
      return false;
    }
    c.image_digest = ready->digest;
    c.known_status = kPulled;
    images_[i] = std::move(*ready);
    if (StopRequested() || ShuttingDown()) return false;
  }
  record_.pull_stopped_at = ctx_.clock.Now();
  Commit();

  return true;
}

TaskRunner::Outcome TaskRunner::Loop() {
  while (true) {
    bool changed = false;
    for (const Exit& exit : TakeExits()) {
      ApplyExit(exit);
      changed = true;
      const ContainerRecord& c = record_.containers[exit.index];
      log::Info("container exited", {{"task", arn_}, {"container", c.spec.name},
                                     {"exit_code", c.exit_code.value_or(-1)}});
      if (c.spec.essential && record_.stopped_reason.empty()) {
        record_.stopped_reason = std::string(kEssentialExited);
      }
    }
    if (!record_.stopped_reason.empty()) return Outcome::kStop;
    // A health change is saved before anything it lets start (dependsOn HEALTHY).
    if (ApplyHealthChanges()) Commit();
    if (ShuttingDown()) return Outcome::kShutdown;
    if (StopRequested()) {
      record_.stop_requested = true;
      return Outcome::kStop;
    }
    if (!StartReady(changed)) return Outcome::kStop;
    bool any_running = false, all_stopped = true;
    for (const auto& c : record_.containers) {
      any_running = any_running || c.known_status == kRunning;
      all_stopped = all_stopped && c.known_status == kStopped;
    }
    if (all_stopped) return Outcome::kStop;
    if (changed) Commit();
    if (any_running && !record_.running_reported) {
      record_.known_status = kRunning;
      record_.running_reported = true;
      Commit();
      Report(kRunning);
    } else if (changed && record_.running_reported) {
      Report(kRunning);  // a non-essential container stopped, or a dependent one started
    }
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] {
      return !exits_.empty() || !health_changes_.empty() || stop_requested_ || shutdown_;
    });
  }
}

TaskRunner::Dependencies TaskRunner::DependenciesOf(size_t index, std::string& why) const {
  const spec::ContainerSpec& target = record_.containers[index].spec;
  Dependencies result = Dependencies::kReady;
  for (const auto& dep : target.depends_on) {
    auto it = std::find_if(record_.containers.begin(), record_.containers.end(),
                           [&](const ContainerRecord& c) { return c.spec.name == dep.container_name; });
    if (it == record_.containers.end()) continue;  // validated at registration
    bool exited = it->known_status == kStopped;
    bool never = exited && !it->started;
    if (dep.condition == "COMPLETE" || dep.condition == "SUCCESS") {
      if (exited && it->started && dep.condition == "SUCCESS" && it->exit_code != 0) never = true;
      if (!exited) result = Dependencies::kWait;
    } else if (dep.condition == "HEALTHY") {
      // Never when it has no check to pass, failed it, or stopped before passing it.
      bool checked = it->spec.health_check && HealthCommand(*it->spec.health_check);
      if (!checked || exited || it->health_status == kUnhealthy) {
        why = fmt::format(
            "dependency graph: failed to resolve the container ordering dependency [{}] for "
            "target [{}] as dependency did not become healthy.",
            dep.container_name, target.name);
        return Dependencies::kNever;
      }
      if (it->health_status != kHealthy) result = Dependencies::kWait;
    } else if (!it->started && !exited) {  // START
      result = Dependencies::kWait;
    }
    if (never) {
      why = fmt::format(
          "dependency graph: failed to resolve the container ordering dependency [{}] for "
          "target [{}] as dependency did not exit successfully.",
          dep.container_name, target.name);
      return Dependencies::kNever;
    }
  }
  return result;
}

bool TaskRunner::StartReady(bool& changed) {
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t i = 0; i < record_.containers.size(); ++i) {
      ContainerRecord& c = record_.containers[i];
      if (c.started || c.known_status == kStopped) continue;
      std::string why;
      switch (DependenciesOf(i, why)) {
        case Dependencies::kWait:
          break;
        case Dependencies::kNever:
          c.known_status = kStopped;
          c.reason = Trimmed(why);
          changed = progress = true;
          if (c.spec.essential) {
            FailTask(why, {});
            return false;
          }
          break;
        case Dependencies::kReady:
          if (!StartContainer(i)) return false;
          changed = progress = true;
          break;
      }
    }
  }
  return true;
}

bool TaskRunner::StartContainer(size_t index) {
  ContainerRecord& c = record_.containers[index];
  const ReadyImage& image = images_[index];
  namespace fs = std::filesystem;
  const std::string& mode = record_.spec.network_mode;
  std::string dir = fmt::format("{}/{}/{}", ctx_.tasks_dir, record_.spec.Id(), c.runtime_id);
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::string hostname = ContainerHostname(c.spec, record_.spec.Id(), mode);
  std::string host_resolv =
      ReadSmallFile("/etc/resolv.conf").value_or(std::nullopt).value_or("");
  ConfigInputs in;
  in.task = &record_.spec;
  in.container = &c.spec;
  in.network = &record_.network;
  in.image_rootfs = image.rootfs;
  in.image_config_json = image.config_json;
  in.hosts_path = dir + "/hosts";
  in.resolv_conf_path = dir + "/resolv.conf";
  in.fargate = ctx_.options.fargate;
  in.endpoint.metadata_address = ctx_.options.metadata_address;
  in.endpoint.metadata_task_address = ctx_.options.metadata_task_address;
  in.endpoint.endpoint_id = c.endpoint_id;
  {
    std::lock_guard lock(mu_);
    in.endpoint.task_role_credentials_id = task_role_credentials_id_;
  }
  Status written = [&]() -> Status {
    std::string hosts = HostsFile(hostname, record_.network.ipv4, c.spec.extra_hosts);
    // Files of the container: a host crash ends it, so no fsync (common/file.h).
    BERTH_TRY(WriteFileAtomically(in.hosts_path, hosts, 0644, Existing::kReplace,
                                  Durability::kUnsynced));
    std::string resolv = ResolvConf(c.spec.dns_servers, c.spec.dns_search_domains, host_resolv,
                                    mode != "host");
    BERTH_TRY(WriteFileAtomically(in.resolv_conf_path, resolv, 0644, Existing::kReplace,
                                  Durability::kUnsynced));
    return {};
  }();
  // Docker refuses a bad log configuration when it creates the container.
  auto logs = LogsConfig(index);
  if (written && !logs) written = Fail(logs.error());
  Result<runtime::ContainerStatus> started =
      written ? ctx_.runtime.Start(MakeContainerConfig(in))
              : Result<runtime::ContainerStatus>(
                    Fail("CannotCreateContainerError", written.error().message));
  if (!started) {
    Error error = started.error();
    if (error.code != "CannotCreateContainerError" && error.code != "CannotStartContainerError") {
      error.code = "CannotCreateContainerError";
    }
    c.known_status = kStopped;
    FailTask(Reason(error), {index});
    return false;
  }
  c.started = true;
  c.known_status = kRunning;
  c.started_at = started->started_at == TimePoint{} ? ctx_.clock.Now() : started->started_at;
  images_.erase(index);
  log::Info("container started", {{"task", arn_}, {"container", c.spec.name},
                                  {"runtime_id", c.runtime_id}});
  if (*logs) StartShipper(index, **logs);
  StartHealthMonitor(index);
  Commit();
  StartMonitor(index);
  return true;
}

Result<std::optional<awslogs::Config>> TaskRunner::LogsConfig(size_t index) const {
  const ContainerRecord& c = record_.containers[index];
  if (!c.spec.log_config || c.spec.log_config->driver != "awslogs") {
    return std::optional<awslogs::Config>();
  }
  return awslogs::ConfigFromOptions(c.spec.log_config->options, c.spec.name, record_.spec.Id(),
                                    c.runtime_id, ctx_.options.endpoint, ctx_.options.ca_file);
}

void TaskRunner::StartShipper(size_t index, const awslogs::Config& config) {
  const ContainerRecord& c = record_.containers[index];
  std::string dir = fmt::format("{}/{}/{}", ctx_.tasks_dir, record_.spec.Id(), c.runtime_id);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // The execution role's credentials as they are at each call (ACS refreshes them).
  awslogs::CredentialsProvider credentials = [this]() -> std::optional<aws::Credentials> {
    std::lock_guard lock(mu_);
    if (!execution_role_) return std::nullopt;
    return aws::Credentials{execution_role_->access_key_id, execution_role_->secret_access_key,
                            execution_role_->session_token};
  };
  LogShipper& s = shippers_[index];
  s.shipper.reset();
  s.client = ctx_.options.logs_client ? ctx_.options.logs_client(config, std::move(credentials))
                                      : awslogs::NewLogsClient(config, std::move(credentials));
  s.shipper = std::make_unique<awslogs::Shipper>(config, *s.client,
                                                 ctx_.runtime.LogPath(c.runtime_id),
                                                 fmt::format("{}/{}", dir, kLogsState));
  log::Info("shipping a container's output",
            {{"task", arn_}, {"container", c.spec.name}, {"group", config.group},
             {"stream", config.stream}});
}

void TaskRunner::FinishShippers() {
  auto deadline = std::chrono::steady_clock::now() + ctx_.options.logs_finish_timeout;
  for (auto& [index, s] : shippers_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    Status finished = s.shipper->Finish(std::max(left, std::chrono::milliseconds(0)));
    if (!finished) {
      log::Warn("a container's output was not all shipped",
                {{"task", arn_}, {"container", record_.containers[index].spec.name},
                 {"error", finished.error().message}});
    }
  }
  shippers_.clear();
}

void TaskRunner::StartHealthMonitor(size_t index) {
  ContainerRecord& c = record_.containers[index];
  if (!c.spec.health_check) return;
  auto command = HealthCommand(*c.spec.health_check);
  if (!command) return;
  TimePoint started_at = c.started_at.value_or(ctx_.clock.Now());
  if (c.health_status.empty()) c.health_status = std::string(kHealthUnknown);
  if (!c.health_since) c.health_since = started_at;
  health_monitors_[index] = std::make_unique<HealthMonitor>(
      ctx_.runtime, c.runtime_id, std::move(*command), *c.spec.health_check, started_at,
      ctx_.clock, [this, index](std::string_view status, const std::string& output) {
        HealthChange change{index, status, ctx_.clock.Now(), ProbeStatusMessage(output)};
        std::lock_guard lock(mu_);
        health_changes_.push_back(std::move(change));
        cv_.notify_all();
      });
}

bool TaskRunner::ApplyHealthChanges() {
  std::deque<HealthChange> changes;
  {
    std::lock_guard lock(mu_);
    changes.swap(health_changes_);
  }
  bool changed = false;
  for (const HealthChange& change : changes) {
    ContainerRecord& c = record_.containers[change.index];
    if (c.known_status == kStopped || c.health_status == change.status) continue;
    c.health_status = std::string(change.status);
    c.health_since = change.at;
    c.health_message = change.message;
    changed = true;
    // An essential container's UNHEALTHY does not stop the task: ECS's service scheduler
    // replaces the task, the agent only reports.
    log::Info("container health", {{"task", arn_}, {"container", c.spec.name},
                                   {"health", c.health_status}});
  }
  return changed;
}

void TaskRunner::StartMonitor(size_t index) {
  std::string id = record_.containers[index].runtime_id;
  monitors_.emplace_back([this, index, id] {
    while (!monitors_stop_) {
      auto waited = ctx_.runtime.Wait(id, kMonitorWait);
      std::optional<Exit> exit;
      if (!waited) {
        if (waited.error().code != "NotFound") {
          log::Warn("cannot wait for a container", {{"runtime_id", id},
                                                    {"error", waited.error().message}});
          std::unique_lock lock(mu_);
          cv_.wait_for(lock, kMonitorWait, [&] { return shutdown_; });
          continue;
        }
        exit = Exit{index, std::nullopt};
      } else if (waited->state == runtime::State::kStopped) {
        exit = Exit{index, *waited};
      } else {
        continue;
      }
      std::lock_guard lock(mu_);
      exits_.push_back(std::move(*exit));
      cv_.notify_all();
      return;
    }
  });
}

void TaskRunner::JoinMonitors() {
  monitors_stop_ = true;
  for (auto& [index, monitor] : health_monitors_) monitor->Stop();
  health_monitors_.clear();  // joins them
  for (auto& monitor : monitors_) {
    if (monitor.joinable()) monitor.join();
  }
  monitors_.clear();
}

std::vector<TaskRunner::Exit> TaskRunner::TakeExits() {
  std::lock_guard lock(mu_);
  std::vector<Exit> exits(exits_.begin(), exits_.end());
  exits_.clear();
  return exits;
}

void TaskRunner::ApplyExit(const Exit& exit) {
  ContainerRecord& c = record_.containers[exit.index];
  if (auto it = health_monitors_.find(exit.index); it != health_monitors_.end()) {
    it->second->Stop();  // joined with the others (a probe may still be under way)
  }
  if (c.known_status == kStopped) return;
  c.known_status = kStopped;
  if (exit.status) {
    c.exit_code = exit.status->exit_code;
    c.finished_at =
        exit.status->finished_at == TimePoint{} ? ctx_.clock.Now() : exit.status->finished_at;
  } else {
    c.finished_at = ctx_.clock.Now();
    if (c.reason.empty()) c.reason = std::string(kLostReason);
  }
}

void TaskRunner::StopContainers() {
  std::vector<size_t> running;
  for (size_t i = 0; i < record_.containers.size(); ++i) {
    const ContainerRecord& c = record_.containers[i];
    if (c.started && c.known_status != kStopped) running.push_back(i);
  }
  for (size_t i : running) {
    Status signalled = ctx_.runtime.Signal(record_.containers[i].runtime_id, SIGTERM);
    if (!signalled) {
      log::Warn("cannot signal a container", {{"runtime_id", record_.containers[i].runtime_id},
                                              {"error", signalled.error().message}});
    }
  }
  auto begun = std::chrono::steady_clock::now();
  for (size_t i : running) {
    ContainerRecord& c = record_.containers[i];
    std::chrono::milliseconds timeout =
        c.spec.stop_timeout_seconds > 0 ? std::chrono::seconds(c.spec.stop_timeout_seconds)
                                        : ctx_.options.default_stop_timeout;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        begun + timeout - std::chrono::steady_clock::now());
    auto waited = ctx_.runtime.Wait(c.runtime_id, std::max(left, std::chrono::milliseconds(0)));
    if (waited && waited->state == runtime::State::kRunning) {
      log::Info("container ignored SIGTERM; killing it", {{"runtime_id", c.runtime_id}});
      (void)ctx_.runtime.Signal(c.runtime_id, SIGKILL);
      waited = ctx_.runtime.Wait(c.runtime_id, kKillWait);
    }
    if (waited && waited->state == runtime::State::kStopped) {
      ApplyExit({i, *waited});
    } else if (!waited && waited.error().code == "NotFound") {
      ApplyExit({i, std::nullopt});
    } else {
      log::Error("container did not stop", {{"runtime_id", c.runtime_id}});
    }
  }
  JoinMonitors();
  for (const Exit& exit : TakeExits()) ApplyExit(exit);
  for (auto& c : record_.containers) {
    if (c.known_status != kStopped) {
      c.known_status = kStopped;
      if (c.started && !c.finished_at) c.finished_at = ctx_.clock.Now();
    }
  }
}

void TaskRunner::CleanUp() {
  JoinMonitors();
  KeepOutput();
  for (const auto& c : record_.containers) {
    Status removed = ctx_.runtime.Remove(c.runtime_id);
    if (!removed) {
      log::Warn("cannot remove a container", {{"runtime_id", c.runtime_id},
                                              {"error", removed.error().message}});
    }
  }
  if (record_.network_up) {
    Status down = ctx_.network.Teardown(record_.spec.Id());
    if (down) {
      record_.network_up = false;
    } else {
      log::Warn("cannot tear down a task network",
                {{"task", arn_}, {"error", down.error().message}});
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(fmt::format("{}/{}", ctx_.tasks_dir, record_.spec.Id()), ec);
  if (Status saved = SaveTaskRecord(ctx_.tasks_dir, record_); !saved) {
    log::Warn("cannot save a task record", {{"task", arn_}, {"error", saved.error().message}});
  }
  ctx_.metadata.RemoveTask(arn_);
  // The record goes once ECS has the STOPPED change; until then a restart sends it again.
  ctx_.reports.Submit(Change(kStopped),
                      [dir = ctx_.tasks_dir, id = record_.spec.Id()] { RemoveTaskRecord(dir, id); });
  log::Info("task stopped", {{"task", arn_}, {"reason", record_.stopped_reason}});
}

// What the containers printed outlives them (until the awslogs driver ships it, this is where
// a stopped task's output is read): moved out of the runtime's bundle before it is removed, to
// <data_dir>/logs/<task id>/<container>.log, kept for options.stopped_output_retention (ECS
// keeps stopped containers ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION, 3 h). Older ones go now.
void TaskRunner::KeepOutput() {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path logs = fs::path(ctx_.options.data_dir) / "logs";
  auto now = fs::file_time_type::clock::now();
  for (const auto& entry : fs::directory_iterator(logs, ec)) {
    std::error_code age_ec;
    auto written = fs::last_write_time(entry.path(), age_ec);
    if (!age_ec && now - written > ctx_.options.stopped_output_retention) {
      fs::remove_all(entry.path(), age_ec);
    }
  }
  fs::path dir = logs / record_.spec.Id();
  for (const auto& c : record_.containers) {
    if (c.runtime_id.empty()) continue;
    std::string from = ctx_.runtime.LogPath(c.runtime_id);
    if (!fs::exists(from, ec)) continue;
    fs::create_directories(dir, ec);
    fs::rename(from, dir / (c.spec.name + ".log"), ec);
    if (ec) {
      log::Warn("cannot keep a container's output",
                {{"runtime_id", c.runtime_id}, {"error", ec.message()}});
    }
  }
}

void TaskRunner::Commit() {
  Durability durability = !synced_once_ || record_.known_status == kStopped
                              ? Durability::kSynced
                              : Durability::kUnsynced;
  if (Status saved = SaveTaskRecord(ctx_.tasks_dir, record_, durability); !saved) {
    log::Warn("cannot save a task record", {{"task", arn_}, {"error", saved.error().message}});
  } else {
    synced_once_ = synced_once_ || durability == Durability::kSynced;
  }
  const spec::TaskSpec& t = record_.spec;
  bool stopping = record_.stop_requested || record_.known_status == kStopped ||
                  !record_.stopped_reason.empty();
  std::string desired = stopping ? std::string(kStopped) : t.desired_status;
  tmds::TaskMetadata m;
  m.cluster = t.cluster_arn.empty() ? ctx_.options.cluster_arn : t.cluster_arn;
  m.task_arn = t.arn;
  m.family = t.family;
  m.revision = t.version;
  m.desired_status = desired;
  m.known_status = record_.known_status;
  m.launch_type = t.launch_type;
  m.network_mode = t.network_mode;
  m.ipv4 = record_.network.ipv4;
  m.cpu = t.cpu;
  m.memory_mib = t.memory_mib;
  m.pull_started_at = record_.pull_started_at;
  m.pull_stopped_at = record_.pull_stopped_at;
  m.execution_stopped_at = record_.execution_stopped_at;
  m.availability_zone = ctx_.options.availability_zone;
  for (const auto& c : record_.containers) {
    tmds::ContainerMetadata cm;
    cm.endpoint_id = c.endpoint_id;
    cm.name = c.spec.name;
    if (c.started) cm.runtime_id = c.runtime_id;
    cm.image = c.spec.image;
    cm.image_digest = c.image_digest;
    cm.desired_status = desired;
    cm.known_status = c.known_status;
    cm.exit_code = c.exit_code;
    cm.cpu = c.spec.cpu;
    cm.memory_mib = c.spec.memory_mib;
    cm.created_at = c.started_at;
    cm.started_at = c.started_at;
    cm.finished_at = c.finished_at;
    cm.labels = ContainerLabels(t, c.spec);
    cm.ports = c.bindings;
    cm.container_arn = c.spec.container_arn;
    m.containers.push_back(std::move(cm));
  }
  ctx_.metadata.PutTask(m);

  std::optional<spec::TaskHealth> health = TaskHealthOf(record_, ctx_.options.cluster_arn);
  {
    std::lock_guard lock(mu_);
    if (health == health_) return;
    health_ = std::move(health);
  }
  if (ctx_.health_changed) ctx_.health_changed();
}

spec::TaskStateChange TaskRunner::Change(std::string_view status) const {
  spec::TaskStateChange change;
  change.cluster =
      record_.spec.cluster_arn.empty() ? ctx_.options.cluster_arn : record_.spec.cluster_arn;
  change.task_arn = arn_;
  change.status = std::string(status);
  if (status == kStopped) {
    change.reason = record_.stopped_reason;
    change.execution_stopped_at = record_.execution_stopped_at;
  }
  change.pull_started_at = record_.pull_started_at;
  change.pull_stopped_at = record_.pull_stopped_at;
  if (record_.network_up && record_.network.mode == "awsvpc") {
    change.private_ipv4 = record_.network.ipv4;
  }
  for (const auto& c : record_.containers) {
    if (status != kStopped && !c.started) continue;  // only steady states are reported
    spec::ContainerStateChange cc;
    cc.container_name = c.spec.name;
    cc.status = BackendStatus(c.known_status);
    cc.image_digest = c.image_digest;
    if (c.started) cc.runtime_id = c.runtime_id;
    cc.exit_code = c.exit_code;
    cc.reason = c.reason;
    cc.network_bindings = c.bindings;
    change.containers.push_back(std::move(cc));
  }
  return change;
}

void TaskRunner::Report(std::string_view status) { ctx_.reports.Submit(Change(status)); }

}  // namespace berth::agent::engine
