#include "agent/engine/engine.h"

#include <fmt/format.h>

#include <csignal>
#include <map>
#include <mutex>
#include <set>

#include "agent/engine/image_cache.h"
#include "agent/engine/report_queue.h"
#include "agent/engine/task_record.h"
#include "agent/engine/task_runner.h"
#include "common/log.h"
#include "crypto/random.h"

namespace berth::agent::engine {

namespace {

using namespace std::chrono_literals;

ImageCacheOptions CacheOptions(const EngineOptions& o) {
  ImageCacheOptions c;
  c.images_dir = o.data_dir + "/images";
  c.pull = o.pull;
  c.policy = o.pull_policy;
  c.trust_cached_images = o.trust_cached_images;
  c.reauthorization_ttl = o.reauthorization_ttl;
  return c;
}

}  // namespace

struct Engine::Impl {
  Impl(EngineOptions opts, runtime::Runtime& runtime, network::Network& network,
       tmds::MetadataServer& metadata, Reporter& reporter, const Clock& clock)
      : options(std::move(opts)),
        reports(reporter, options.report_attempts, options.report_backoff),
        context{options, runtime, network, metadata, reports, nullptr, "", clock,
                options.data_dir + "/tasks"} {
    context.health_changed = [this] {
      std::function<void()> callback;
      {
        std::lock_guard lock(callback_mu);
        callback = on_health_change;
      }
      if (callback) callback();
    };
    if (options.hollow) {
      images = NewHollowImages();
      context.images = images.get();
      return;
    }
    // Layers reach the rootfs from the download itself (StreamedUnpack): their blobs are
    // written around the page cache, and read again only to rebuild an image.
    auto opened = content::Store::Open(options.data_dir + "/content", {.write_around_cache = true});
    if (opened) {
      store = std::move(*opened);
      images = std::make_unique<ImageCache>(CacheOptions(options), *store, clock);
      context.images = images.get();
    } else {
      context.images_error =
          fmt::format("the content store cannot be opened: {}", opened.error().message);
      log::Error("the engine cannot pull images", {{"error", context.images_error}});
    }
  }

  // Requires mu. Starts a runner for `record` (credentials set before its thread starts).
  void Launch(TaskRecord record, const spec::TaskSpec* from_acs, std::string refused) {
    std::string arn = record.spec.arn;
    auto runner = std::make_unique<TaskRunner>(context, std::move(record), std::move(refused));
    if (from_acs != nullptr) Credentials(*runner, *from_acs);
    runner->Start();
    tasks[arn] = std::move(runner);
  }

  // The task role's credentials go to the metadata endpoint, never the execution role's.
  void Credentials(TaskRunner& runner, const spec::TaskSpec& task) {
    if (task.task_role) {
      spec::RoleCredentials role = *task.task_role;
      role.role_type = "TaskApplication";
      context.metadata.PutCredentials(task.arn, role);
      runner.SetCredentials(role);
    }
    if (task.execution_role) {
      spec::RoleCredentials role = *task.execution_role;
      role.role_type = "TaskExecution";
      runner.SetCredentials(role);
    }
  }

  EngineOptions options;
  std::mutex callback_mu;
  std::function<void()> on_health_change;  // guarded by callback_mu
  std::unique_ptr<content::Store> store;
  std::unique_ptr<Images> images;
  ReportQueue reports;
  EngineContext context;
  mutable std::mutex mu;
  std::map<std::string, std::unique_ptr<TaskRunner>> tasks;  // by ARN
  // ARNs of tasks this engine ran to STOPPED (their runners are gone): a late or repeated
  // payload naming one never starts it again.
  std::set<std::string> finished;

  // Requires mu. Drops the runners whose task stopped (their threads have ended).
  void Prune() {
    for (auto it = tasks.begin(); it != tasks.end();) {
      if (!it->second->stopped()) {
        ++it;
        continue;
      }
      it->second->Shutdown();  // joins the finished thread
      finished.insert(it->first);
      it = tasks.erase(it);
    }
  }
  bool shut_down = false;
};

Engine::Engine(EngineOptions options, runtime::Runtime& runtime, network::Network& network,
               tmds::MetadataServer& metadata, Reporter& reporter, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), runtime, network, metadata, reporter,
                                   clock)) {}

Engine::~Engine() { Shutdown(); }

Status Engine::Recover() {
  EngineContext& ctx = impl_->context;
  std::vector<TaskRecord> records = LoadTaskRecords(ctx.tasks_dir);
  std::set<std::string> ours;  // runtime ids of every recorded container
  std::set<std::string> keep;  // task ids whose network stays
  for (TaskRecord& record : records) {
    for (ContainerRecord& c : record.containers) {
      ours.insert(c.runtime_id);
      if (record.known_status == kStopped || c.known_status == kStopped) continue;
      auto status = ctx.runtime.Status(c.runtime_id);
      if (status) {
        // Running or stopped while away: adopted either way, its monitor learns which.
        c.started = true;
        c.known_status = kRunning;
        if (!c.started_at && status->started_at != TimePoint{}) c.started_at = status->started_at;
      } else if (c.started) {
        c.known_status = kStopped;
        c.finished_at = ctx.clock.Now();
        c.reason = "the runtime no longer has the container";
      } else {
        c.known_status = kNone;  // never started: started again
      }
    }
    if (record.network_up && record.known_status != kStopped) keep.insert(record.spec.Id());
  }
  auto networks = ctx.network.Recover(keep);
  if (!networks) {
    log::Warn("cannot recover task networks", {{"error", networks.error().message}});
  }
  for (TaskRecord& record : records) {
    if (!networks || !record.network_up) continue;
    auto it = networks->find(record.spec.Id());
    if (it != networks->end()) {
      record.network = it->second;
    } else if (record.known_status != kStopped) {
      record.network_up = false;
    }
  }
  // Containers no recorded task owns.
  if (auto listed = ctx.runtime.List(); listed) {
    for (const auto& status : *listed) {
      if (ours.contains(status.id)) continue;
      log::Info("removing a container no task owns", {{"runtime_id", status.id}});
      if (status.state == runtime::State::kRunning) {
        (void)ctx.runtime.Signal(status.id, SIGKILL);
        (void)ctx.runtime.Wait(status.id, 10s);
      }
      if (Status removed = ctx.runtime.Remove(status.id); !removed) {
        log::Warn("cannot remove a container", {{"runtime_id", status.id},
                                                {"error", removed.error().message}});
      }
    }
  } else {
    log::Warn("cannot list the runtime's containers", {{"error", listed.error().message}});
  }
  std::lock_guard lock(impl_->mu);
  for (TaskRecord& record : records) {
    if (impl_->tasks.contains(record.spec.arn)) continue;
    log::Info("recovering a task", {{"task", record.spec.arn}, {"status", record.known_status}});
    impl_->Launch(std::move(record), nullptr, "");
  }
  return {};
}

void Engine::Apply(const spec::TaskSpec& task) {
  std::lock_guard lock(impl_->mu);
  if (impl_->shut_down) return;
  impl_->Prune();
  if (impl_->finished.contains(task.arn)) return;
  auto it = impl_->tasks.find(task.arn);
  if (it != impl_->tasks.end()) {
    impl_->Credentials(*it->second, task);
    if (task.desired_status == kStopped) it->second->RequestStop();
    return;
  }
  if (task.desired_status == kStopped) {
    // Stopped before it ever started here (StopTask while it was being placed or
    // provisioned): nothing of it runs, and the server waits for this agent to say so.
    spec::TaskStateChange change;
    change.cluster = task.cluster_arn.empty() ? impl_->options.cluster_arn : task.cluster_arn;
    change.task_arn = task.arn;
    change.status = std::string(kStopped);
    log::Info("task stopped before it started", {{"task", task.arn}});
    impl_->reports.Submit(std::move(change), {});
    return;
  }
  std::vector<std::string> endpoint_ids;
  for (size_t i = 0; i < task.containers.size(); ++i) {
    endpoint_ids.push_back(crypto::SecureIds().Uuid());
  }
  std::string refused;
  if (impl_->options.fargate && task.launch_type != "FARGATE") {
    refused = fmt::format(
        "ResourceInitializationError: this container instance runs only FARGATE tasks, not {}",
        task.launch_type.empty() ? "EC2" : task.launch_type);
  }
  log::Info("task received", {{"task", task.arn}, {"containers", int64_t(task.containers.size())}});
  impl_->Launch(NewTaskRecord(task, endpoint_ids), &task, std::move(refused));
}

void Engine::UpdateCredentials(const std::string& task_arn,
                               const spec::RoleCredentials& credentials) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->tasks.find(task_arn);
  if (it == impl_->tasks.end()) return;
  spec::RoleCredentials role = credentials;
  if (role.role_type.empty() && !role.credentials_id.empty() &&
      role.credentials_id == it->second->ExecutionCredentialsId()) {
    role.role_type = "TaskExecution";
  }
  if (role.role_type != "TaskExecution") {
    role.role_type = "TaskApplication";
    impl_->context.metadata.PutCredentials(task_arn, role);
  }
  it->second->SetCredentials(role);
}

std::vector<std::string> Engine::ActiveTaskArns() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> arns;
  for (const auto& [arn, runner] : impl_->tasks) {
    if (!runner->stopped()) arns.push_back(arn);
  }
  return arns;
}

std::vector<spec::TaskHealth> Engine::Health() const {
  std::lock_guard lock(impl_->mu);
  std::vector<spec::TaskHealth> out;
  for (const auto& [arn, runner] : impl_->tasks) {
    if (runner->stopped()) continue;
    if (auto health = runner->Health()) out.push_back(std::move(*health));
  }
  return out;
}

void Engine::OnHealthChange(std::function<void()> callback) {
  std::lock_guard lock(impl_->callback_mu);
  impl_->on_health_change = std::move(callback);
}

void Engine::Shutdown() {
  if (!impl_) return;
  std::map<std::string, std::unique_ptr<TaskRunner>> tasks;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->shut_down) return;
    impl_->shut_down = true;
    tasks.swap(impl_->tasks);
  }
  for (auto& [arn, runner] : tasks) runner->Shutdown();
  impl_->reports.Stop();
}

}  // namespace berth::agent::engine
