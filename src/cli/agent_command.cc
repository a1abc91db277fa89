#include "cli/agent_command.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>

#include "agent/acs/ecs_client.h"
#include "agent/acs/session.h"
#include "agent/credentials/engine_auth_credentials.h"
#include "agent/engine/engine.h"
#include "agent/host/host.h"
#include "agent/network/host.h"
#include "agent/network/memory_network.h"
#include "agent/network/network.h"
#include "agent/runtime/memory_runtime.h"
#include "agent/runtime/runtime.h"
#include "agent/tcs/session.h"
#include "agent/tmds/server.h"
#include "aws/credentials_file.h"
#include "common/fd.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

namespace berth::cli {
namespace {

namespace fs = std::filesystem;
using agent::spec::RoleCredentials;
using agent::spec::TaskSpec;

// Where the bridges' locks live (a tmpfs: gone with a reboot, as the bridges are).
constexpr char kBridgeLockDir[] = "/run/berth/bridges";

std::string BridgeLockPath(const std::string& bridge) {
  return fmt::format("{}/{}.lock", kBridgeLockDir, bridge);
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Where the agent remembers which instance it registered as, so a restart re-registers the
// same instance (and keeps its tasks).
struct Identity {
  std::string cluster;
  std::string container_instance_arn;
};

std::optional<Identity> LoadIdentity(const std::string& path) {
  auto text = ReadSmallFile(path);
  if (!text || !*text) return std::nullopt;
  auto j = json::Json::parse(**text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  return Identity{j.value("cluster", ""), j.value("containerInstanceArn", "")};
}

Status SaveIdentity(const std::string& path, const Identity& id) {
  json::Json j = {{"cluster", id.cluster}, {"containerInstanceArn", id.container_instance_arn}};
  BERTH_TRY(WriteFileAtomically(path, json::Dump(j), 0600));
  return {};
}

class EcsReporter final : public agent::engine::Reporter {
 public:
  explicit EcsReporter(agent::acs::EcsClient& client) : client_(client) {}
  Status Submit(const agent::spec::TaskStateChange& change) override {
    return client_.SubmitTaskStateChange(change);
  }

 private:
  agent::acs::EcsClient& client_;
};

// The ACS session's tasks go to the engine.
class EngineHandler final : public agent::acs::AcsHandler {
 public:
  EngineHandler(agent::engine::Engine& engine, agent::engine::Reporter& reporter,
                std::string cluster_arn)
      : engine_(engine), reporter_(reporter), cluster_arn_(std::move(cluster_arn)) {}
  bool OnTasks(const std::vector<TaskSpec>& tasks) override {
    for (const auto& t : tasks) engine_.Apply(t);
    return true;
  }
  void OnCredentials(const std::string& task_arn, const RoleCredentials& creds) override {
    engine_.UpdateCredentials(task_arn, creds);
  }
  std::vector<std::string> ActiveTaskArns() override { return engine_.ActiveTaskArns(); }
  // As the ECS agent does: a task it cannot read is reported STOPPED with the reason.
  void OnUnrecognizedTask(const std::string& task_arn, const Error& error) override {
    agent::spec::TaskStateChange change;
    // The task's own cluster: on the Fargate pool, another account's than this instance's.
    change.cluster = agent::acs::ClusterArnOf(task_arn, cluster_arn_);
    change.task_arn = task_arn;
    change.status = "STOPPED";
    change.reason = "UnrecognizedTaskError: " + error.message;
    if (auto sent = reporter_.Submit(change); !sent) {
      log::Warn("cannot report an unrecognized task", {{"task", task_arn}, {"error", sent.error().message}});
    }
  }
  void OnStopTasks(const std::vector<std::string>& task_arns) override {
    for (const auto& arn : task_arns) {
      TaskSpec stop;
      stop.arn = arn;
      stop.desired_status = "STOPPED";
      engine_.Apply(stop);
    }
  }

 private:
  agent::engine::Engine& engine_;
  agent::engine::Reporter& reporter_;
  std::string cluster_arn_;
};

int Failed(std::string_view what, const Error& e) {
  log::Error(std::string(what), {{"code", e.code}, {"error", e.message}});
  fmt::print(stderr, "berth agent: {}: {}: {}\n", what, e.code, e.message);
  return 1;
}

// Holds `flock` on `path` for the process's life (kill -9 too: the next start is not refused),
// with the pid inside to say whose it is; close-on-exec, so nothing the agent starts holds it.
// Held elsewhere: AgentLockError "another berth agent (pid N) <what>".
Result<Fd> LockFor(const std::string& path, std::string_view what) {
  // O_NOFOLLOW: a symlink planted at the path cannot make root truncate what it names.
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    return Fail("AgentLockError", fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  }
  int locked = ::flock(fd.get(), LOCK_EX | LOCK_NB);
  // A clean-up unlinks a bridge's lock file while it holds it: a lock taken on the unlinked
  // file is no lock; take the new file's.
  struct stat held {}, named {};
  if (locked == 0 && ::fstat(fd.get(), &held) == 0 &&
      (::stat(path.c_str(), &named) != 0 || named.st_ino != held.st_ino ||
       named.st_dev != held.st_dev)) {
    return LockFor(path, what);
  }
  if (locked != 0) {
    if (errno != EWOULDBLOCK) {
      return Fail("AgentLockError", fmt::format("cannot lock {}: {}", path, std::strerror(errno)));
    }
    char buf[32] = {};
    ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return Fail("AgentLockError",
                fmt::format("another berth agent{} {}",
                            holder.empty() ? "" : fmt::format(" (pid {})", holder), what));
  }
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd.get(), 0) != 0 ||
      ::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    log::Warn("cannot write the agent's pid into its lock file", {{"path", path}});
  }
  return fd;
}

// One agent per data dir and per bridge: its tasks, containers, images and networks are that
// agent's alone (another on the same bridge would take its addresses, and tear down its
// namespaces and rules as orphans). Both locks, or an error saying who holds which.
Result<Fd> LockBridge(const std::string& bridge) {
  std::error_code ec;
  fs::create_directories(kBridgeLockDir, ec);
  if (ec) {
    return Fail("AgentLockError",
                fmt::format("cannot create {}: {}", kBridgeLockDir, ec.message()));
  }
  return LockFor(BridgeLockPath(bridge), "is using bridge " + bridge);
}

// `bridge` "": none (a hollow agent makes no network).
Result<std::pair<Fd, Fd>> LockAgent(const std::string& data_dir, const std::string& bridge) {
  Fd dir = BERTH_TRY(LockFor(data_dir + "/agent.lock", "is using " + data_dir));
  if (bridge.empty()) return std::pair{std::move(dir), Fd()};
  Fd net = BERTH_TRY(LockBridge(bridge));
  return std::pair{std::move(dir), std::move(net)};
}

// The data dir, made if missing, as an absolute path; nullopt (said on stderr) when it cannot be.
std::optional<std::string> MakeDataDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    fmt::print(stderr, "berth agent: cannot create {}: {}\n", dir, ec.message());
    return std::nullopt;
  }
  return fs::absolute(dir).lexically_normal().string();
}

// The bridge with its chains and jumps, then its lock file, which the caller holds (LockFor
// retakes a lock that lands on the unlinked file).
Status RemoveLockedBridge(const std::string& bridge) {
  BERTH_CHECK(agent::network::RemoveBridge(bridge));
  (void)::unlink(BridgeLockPath(bridge).c_str());
  return {};
}

// `berth agent --clean-up`: what a stopped agent left on the host goes: its containers (killed),
// their overlay mounts and bundles, every task network (namespaces, veths, rules, pooled ones),
// then the bridge with its chains and jumps. Images, task records and the instance identity
// stay: a later agent on the dir reports the tasks whose containers are gone as stopped.
// With no data dir (no agent ever ran with it: a typo, or `berth up --no-agents`) there is
// nothing recorded and none is made; only the bridge goes, if it is there.
int CleanUp(const AgentFlags& f) {
  std::error_code ec;
  if (!fs::is_directory(f.data_dir, ec)) {
    auto lock = LockBridge(f.bridge);
    if (!lock) return Failed("--clean-up", lock.error());
    if (auto removed = RemoveLockedBridge(f.bridge); !removed) {
      return Failed("removing bridge " + f.bridge, removed.error());
    }
    fmt::print("berth agent: no agent data in {}; removed bridge {}\n", f.data_dir, f.bridge);
    return 0;
  }
  std::string data_dir = fs::absolute(f.data_dir).lexically_normal().string();
  auto lock = LockAgent(data_dir, f.bridge);
  if (!lock) return Failed("--clean-up", lock.error());
  int failures = 0;
  size_t containers = 0;
  agent::runtime::RuncOptions rt;
  rt.state_dir = data_dir + "/runtime";
  {
    auto runtime = agent::runtime::NewRuncRuntime(rt);
    auto listed = runtime->List();
    if (!listed) {
      failures += Failed("listing containers", listed.error());
    } else {
      for (const auto& container : *listed) {
        if (auto removed = runtime->Remove(container.id); !removed) {
          failures += Failed("removing container " + container.id, removed.error());
        } else {
          ++containers;
        }
      }
    }
  }
  agent::network::NetworkOptions net;
  net.state_dir = data_dir + "/network";
  net.bridge = f.bridge;
  net.subnet = f.subnet;
  net.pool_size = 0;
  auto recovered = agent::network::NewLinuxNetwork(net)->Recover({});
  if (!recovered) failures += Failed("removing task networks", recovered.error());
  if (auto removed = RemoveLockedBridge(f.bridge); !removed) {
    failures += Failed("removing bridge " + f.bridge, removed.error());
  }
  if (failures > 0) return 1;
  fmt::print("berth agent: removed {} container(s), the task networks and bridge {} of {}\n",
             containers, f.bridge, data_dir);
  return 0;
}

}  // namespace

int RunAgent(const AgentFlags& flags) {
  AgentFlags f = flags;
  log::Format format;
  log::Level level;
  log::ParseFormat(f.log_format, &format);
  log::ParseLevel(f.log_level, &level);
  log::Init(format, level);

  if (f.fargate && f.external) {
    fmt::print(stderr, "berth agent: --fargate and --external exclude each other\n");
    return 2;
  }
  if (f.clean_up) return CleanUp(f);
  if (f.cluster.empty()) {
    f.cluster = f.fargate ? std::string(agent::host::kFargatePoolCluster) : "default";
  }
  std::string region = f.region;
  if (region.empty()) region = Env("AWS_REGION");
  if (region.empty()) region = Env("AWS_DEFAULT_REGION");
  if (region.empty()) region = "us-east-1";
  std::string ca_file = f.ca_file.empty() ? Env("AWS_CA_BUNDLE") : f.ca_file;
  auto creds = aws::CredentialsFromChain(f.profile, f.credentials_file, "./berth-data/credentials");
  if (!creds) return Failed("no credentials", creds.error());

  int64_t reserved_memory = f.reserved_memory_mib;
  if (reserved_memory < 0) reserved_memory = std::atoll(Env("ECS_RESERVED_MEMORY").c_str());
  std::string pull_behavior = f.pull_behavior.empty() ? Env("ECS_IMAGE_PULL_BEHAVIOR") : f.pull_behavior;
  if (pull_behavior.empty()) pull_behavior = "default";
  auto policy = agent::ParsePullPolicy(pull_behavior);
  if (!policy) {
    fmt::print(stderr, "berth agent: {}\n", policy.error().message);
    return 2;
  }
  int stop_timeout = f.stop_timeout_seconds;
  if (stop_timeout <= 0) stop_timeout = std::atoi(Env("ECS_CONTAINER_STOP_TIMEOUT").c_str());
  if (stop_timeout <= 0) stop_timeout = 30;

  // Instance-level registry auth: EC2 only (the seed: not on EXTERNAL or Fargate capacity).
  std::unique_ptr<agent::credentials::EngineAuthCredentials> instance_auth;
  std::string auth_type = Env("ECS_ENGINE_AUTH_TYPE");
  if (!auth_type.empty()) {
    if (f.external || f.fargate) {
      log::Warn("ECS_ENGINE_AUTH_TYPE/ECS_ENGINE_AUTH_DATA are ignored: instance-level registry "
                "auth is only for EC2 instances",
                {{"instance", f.external ? "EXTERNAL" : "FARGATE"}});
    } else {
      auto parsed =
          agent::credentials::EngineAuthCredentials::FromEnv(auth_type, Env("ECS_ENGINE_AUTH_DATA"));
      if (!parsed) return Failed("ECS_ENGINE_AUTH_DATA", parsed.error());
      instance_auth = std::move(*parsed);
    }
  }

  auto made = MakeDataDir(f.data_dir);
  if (!made) return 1;
  const std::string& data_dir = *made;
  auto lock = LockAgent(data_dir, f.hollow ? "" : f.bridge);
  if (!lock) return Failed("cannot start", lock.error());

  auto resources = agent::host::ThisHost(reserved_memory);
  if (!resources) return Failed("host resources", resources.error());

  auto metadata = agent::tmds::MetadataServer::Start("127.0.0.1:0");
  if (!metadata) return Failed("metadata endpoint", metadata.error());

  agent::network::NetworkOptions net;
  net.state_dir = data_dir + "/network";
  net.bridge = f.bridge;
  net.subnet = f.subnet;
  net.pool_size = static_cast<size_t>(f.network_pool);
  net.reserved_ports = {resources->reserved_ports.begin(), resources->reserved_ports.end()};
  net.metadata_address = (*metadata)->Address();
  agent::runtime::RuncOptions rt;
  rt.state_dir = data_dir + "/runtime";
  rt.allow_privileged = f.allow_privileged;
  std::unique_ptr<agent::network::Network> network;
  std::unique_ptr<agent::runtime::Runtime> runtime;
  if (f.hollow) {
    log::Warn("hollow agent: containers and networks are kept in memory, images are not pulled");
    network = std::make_unique<agent::network::MemoryNetwork>();
    runtime = std::make_unique<agent::runtime::MemoryRuntime>();
  } else {
    network = agent::network::NewLinuxNetwork(net);
    runtime = agent::runtime::NewRuncRuntime(rt);
  }

  agent::acs::EcsClient ecs({f.endpoint, region, *creds, ca_file});
  auto cluster_arn = ecs.CreateCluster(f.cluster);
  if (!cluster_arn) return Failed("CreateCluster", cluster_arn.error());

  const std::string identity_file = data_dir + "/instance.json";
  agent::acs::Registration reg;
  reg.cluster = f.cluster;
  if (auto saved = LoadIdentity(identity_file); saved && saved->cluster == f.cluster) {
    reg.container_instance_arn = saved->container_instance_arn;
  }
  reg.cpu_units = resources->cpu_units;
  reg.memory_mib = resources->memory_mib;
  reg.reserved_ports = resources->reserved_ports;
  reg.reserved_udp_ports = resources->reserved_udp_ports;
  reg.agent_version = std::string(agent::host::kEcsAgentVersion);
  reg.agent_hash = fmt::format("berth-{}", BERTH_VERSION);
  reg.docker_version = fmt::format("berth {} (runc)", BERTH_VERSION);
  reg.attributes = agent::host::CapabilityAttributes({.external = f.external,
                                                      .fargate = f.fargate,
                                                      .platform_version = f.platform_version,
                                                      .allow_privileged = f.allow_privileged,
                                                      .health_checks = true});
  auto registered = ecs.RegisterContainerInstance(reg);
  if (!registered && !reg.container_instance_arn.empty()) {
    // The saved instance is gone (deregistered): register as a new one.
    log::Warn("re-registration refused; registering a new instance",
              {{"instance", reg.container_instance_arn}, {"error", registered.error().message}});
    reg.container_instance_arn.clear();
    registered = ecs.RegisterContainerInstance(reg);
  }
  if (!registered) return Failed("RegisterContainerInstance", registered.error());
  if (auto saved = SaveIdentity(identity_file, {f.cluster, registered->container_instance_arn});
      !saved) {
    return Failed("saving the instance identity", saved.error());
  }

  agent::engine::EngineOptions eo;
  eo.data_dir = data_dir;
  eo.endpoint = f.endpoint;
  eo.ca_file = ca_file;
  eo.region = region;
  eo.pull.transport.insecure_hosts = f.insecure_registries;
  eo.pull.transport.ca_file = f.registry_ca_file;
  eo.pull_policy = *policy;
  eo.instance_auth = instance_auth.get();
  eo.trust_cached_images = f.trust_cached_images;
  eo.default_stop_timeout = std::chrono::seconds(stop_timeout);
  eo.cluster_arn = registered->cluster_arn;
  eo.container_instance_arn = registered->container_instance_arn;
  eo.metadata_address = (*metadata)->Address();
  eo.fargate = f.fargate;
  eo.hollow = f.hollow;
  EcsReporter reporter(ecs);
  agent::engine::Engine engine(eo, *runtime, *network, **metadata, reporter);
  if (auto recovered = engine.Recover(); !recovered) return Failed("recovering tasks", recovered.error());

  auto poll = ecs.DiscoverPollEndpoint(f.cluster, registered->container_instance_arn);
  if (!poll) return Failed("DiscoverPollEndpoint", poll.error());

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  EngineHandler handler(engine, reporter, registered->cluster_arn);
  agent::acs::AcsOptions ao;
  ao.endpoint = poll->endpoint;
  ao.cluster_arn = registered->cluster_arn;
  ao.container_instance_arn = registered->container_instance_arn;
  ao.region = region;
  ao.credentials = *creds;
  ao.ca_file = ca_file;
  ao.agent_version = reg.agent_version;
  ao.agent_hash = reg.agent_hash;
  ao.docker_version = "DockerVersion: " + reg.docker_version;
  agent::acs::AcsSession session(ao, handler);
  session.Start();

  // Container health over TCS (the ECS agent only logs a session it cannot make).
  std::unique_ptr<agent::tcs::TcsSession> telemetry;
  if (poll->telemetry_endpoint.empty()) {
    log::Warn("DiscoverPollEndpoint named no telemetryEndpoint; container health is not "
              "published");
  } else {
    agent::tcs::TcsOptions to;
    static_cast<agent::wsclient::SessionOptions&>(to) = ao;  // the same agent, the same key
    to.endpoint = poll->telemetry_endpoint;
    telemetry = std::make_unique<agent::tcs::TcsSession>(to, [&engine] { return engine.Health(); });
    engine.OnHealthChange([t = telemetry.get()] { t->Notify(); });
    telemetry->Start();
  }
  fmt::print("berth agent registered {} in {} ({} CPU units, {} MiB{})\n",
             registered->container_instance_arn, registered->cluster_arn, reg.cpu_units,
             reg.memory_mib, f.fargate ? ", Fargate" : f.external ? ", EXTERNAL" : "");
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::Info("agent stopping; containers keep running", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  session.Stop();
  engine.OnHealthChange(nullptr);
  if (telemetry) telemetry->Stop();
  engine.Shutdown();
  return 0;
}

}  // namespace berth::cli
