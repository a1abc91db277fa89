#include "agent/engine/engine.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "agent/awslogs/fake_logs_client.h"
#include "agent/credentials/static_credentials.h"
#include "agent/engine/fake_metadata.h"
#include "agent/network/memory_network.h"
#include "agent/engine/fake_reporter.h"
#include "agent/runtime/memory_runtime.h"
#include "crypto/sha256.h"
#include "agent/engine/task_runner.h"
#include "agent/registry/fake_registry.h"
#include "agent/unpack/test_layer.h"
#include "common/log.h"
#include "common/strings.h"
#include "testing/page_cache.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace berth::agent::engine {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using registry::testing::FakeRegistry;
using testing::FakeMetadata;
using network::MemoryNetwork;
using runtime::MemoryRuntime;
using testing::RecordingReporter;

constexpr char kTaskId[] = "0123456789abcdef0123456789abcdef";
constexpr char kCluster[] = "arn:aws:ecs:us-west-2:123456789012:cluster/default";

using test_support::WaitFor;

spec::RoleCredentials Role(const std::string& id, const std::string& type) {
  return {id, "arn:aws:iam::123456789012:role/" + type, "AKIA" + id, "SECRET-" + id,
          "TOKEN-" + id, "2030-01-01T00:00:00Z", type};
}

// Serves a secret's registry credentials: "good" the registry's, anything else wrong ones.
class FakeAsm {
 public:
  Result<std::unique_ptr<credentials::CredentialSource>> operator()(
      const credentials::SecretsManagerOptions& options, TimePoint) {
    seen.push_back(options);
    if (options.secret_id == "denied") {
      return Fail("ResourceInitializationError",
                  "unable to pull secrets or registry auth: asm fetching secret from the service "
                  "for denied: AccessDeniedException: not allowed");
    }
    std::string password = options.secret_id == "good" ? "pa55:word" : "wrong-password";
    return std::unique_ptr<credentials::CredentialSource>(
        new credentials::StaticCredentials({"alice", password, ""}));
  }
  std::vector<credentials::SecretsManagerOptions> seen;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { StartRegistry(FakeRegistry::Options{}); }

  void StartRegistry(FakeRegistry::Options registry_options) {
    registry_ = FakeRegistry::Start(registry_options);
    image_ = registry_->AddImage(
        "team/app", "v1",
        {unpack::testing::LayerBytes({unpack::testing::File("hello", "hi")},
                                     unpack::testing::Format::kGzip)});
    options_.data_dir = dir_.path().string();
    options_.endpoint = "http://127.0.0.1:1";
    options_.region = "us-west-2";
    options_.pull.transport.insecure_hosts = {registry_->host()};
    options_.pull.retry = registry::RetryPolicy{2, 1ms, 1ms};
    options_.pull.fetch.retry = registry::RetryPolicy{2, 1ms, 1ms};
    options_.default_stop_timeout = 1s;
    options_.cluster_arn = kCluster;
    options_.metadata_address = "127.0.0.1:51679";
    options_.report_backoff = 5ms;
    options_.fetch_asm = [this](const credentials::SecretsManagerOptions& o, TimePoint now) {
      return asm_(o, now);
    };
  }

  Engine& MakeEngine() {
    engine_ = std::make_unique<Engine>(options_, runtime_, network_, metadata_, reporter_);
    return *engine_;
  }

  std::string Image(const std::string& tag = "v1") const {
    return registry_->host() + "/team/app:" + tag;
  }

  spec::ContainerSpec Container(const std::string& name, bool essential = true) const {
    spec::ContainerSpec c;
    c.name = name;
    c.image = Image();
    c.essential = essential;
    c.memory_mib = 64;
    return c;
  }

  static std::string Arn(const std::string& id = kTaskId) {
    return "arn:aws:ecs:us-west-2:123456789012:task/default/" + id;
  }

  static spec::TaskSpec Task(std::vector<spec::ContainerSpec> containers,
                             const std::string& id = kTaskId) {
    spec::TaskSpec task;
    task.arn = Arn(id);
    task.cluster_arn = kCluster;
    task.family = "web";
    task.version = "3";
    task.desired_status = "RUNNING";
    task.launch_type = "EC2";
    task.network_mode = "bridge";
    task.containers = std::move(containers);
    return task;
  }

  static std::string Rid(const std::string& name, const std::string& id = kTaskId) {
    return id + "-" + name;
  }

  std::optional<spec::TaskStateChange> WaitForChange(const std::string& arn,
                                                     const std::string& status) {
    std::optional<spec::TaskStateChange> found;
    WaitFor([&] { return (found = reporter_.Find(arn, status)).has_value(); });
    return found;
  }

  static const spec::ContainerStateChange* Named(const spec::TaskStateChange& change,
                                                 const std::string& name) {
    for (const auto& c : change.containers) {
      if (c.container_name == name) return &c;
    }
    return nullptr;
  }

  // Every byte under <data_dir>/tasks.
  std::string TaskFiles() const {
    std::string all;
    std::error_code ec;
    for (const auto& entry : fs::recursive_directory_iterator(dir_.File("tasks"), ec)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      all += text.str();
    }
    return all;
  }

  test_support::TempDir dir_;
  std::unique_ptr<FakeRegistry> registry_;
  FakeRegistry::Image image_;
  EngineOptions options_;
  FakeAsm asm_;
  runtime::MemoryRuntime runtime_;
  network::MemoryNetwork network_;
  FakeMetadata metadata_;
  RecordingReporter reporter_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, RunsATaskAndReportsRunningWithRuntimeIdsDigestsAndBindings) {
  Engine& engine = MakeEngine();
  reporter_.RefuseNext(2);  // the report is retried until accepted
  spec::ContainerSpec web = Container("web");
  web.port_mappings = {{80, 0, "tcp"}};
  spec::TaskSpec task = Task({web, Container("side", false)});
  task.task_role = Role("task-cred", "TaskApplication");
  task.execution_role = Role("exec-cred", "TaskExecution");
  engine.Apply(task);

  auto running = WaitForChange(Arn(), "RUNNING");
  ASSERT_TRUE(running);
  EXPECT_GE(reporter_.attempts(), 3);
  EXPECT_EQ(running->cluster, kCluster);
  EXPECT_TRUE(running->pull_started_at && running->pull_stopped_at);
  ASSERT_EQ(running->containers.size(), 2u);
  const auto* w = Named(*running, "web");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->status, "RUNNING");
  EXPECT_EQ(w->runtime_id, Rid("web"));
  EXPECT_EQ(w->image_digest, image_.manifest.digest);
  ASSERT_EQ(w->network_bindings.size(), 1u);
  EXPECT_EQ(w->network_bindings[0].container_port, 80);
  EXPECT_EQ(w->network_bindings[0].host_port, 49153);
  EXPECT_EQ(engine.ActiveTaskArns(), std::vector<std::string>{Arn()});

  // What the runtime was given.
  auto config = runtime_.config(Rid("web"));
  ASSERT_TRUE(config);
  EXPECT_TRUE(fs::exists(config->image_rootfs + "/hello"));
  EXPECT_EQ(config->image_rootfs,
            dir_.File("images/sha256/" + image_.manifest.digest.substr(7) + "/rootfs"));
  EXPECT_EQ(config->memory_limit_bytes, 64 << 20);
  EXPECT_EQ(config->netns_path, "/run/netns/berth-" + std::string(kTaskId));
  EXPECT_EQ(config->hostname, "456789abcdef");  // the task id's last 12
  EXPECT_EQ(config->environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"],
            "/v2/credentials/task-cred");
  EXPECT_EQ(config->environment["AWS_DEFAULT_REGION"], "us-west-2");
  EXPECT_TRUE(config->environment["ECS_CONTAINER_METADATA_URI_V4"].starts_with(
      "http://169.254.170.2/v4/"));
  EXPECT_EQ(config->annotations["com.amazonaws.ecs.container-name"], "web");
  ASSERT_EQ(config->mounts.size(), 2u);
  std::ifstream hosts(config->mounts[0].source);
  std::stringstream hosts_text;
  hosts_text << hosts.rdbuf();
  EXPECT_NE(hosts_text.str().find("10.213.0.2\t456789abcdef"), std::string::npos);

  // The metadata endpoint: the task, and only the task role's credentials.
  auto meta = metadata_.task(Arn());
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->known_status, "RUNNING");
  EXPECT_EQ(meta->ipv4, "10.213.0.2");
  ASSERT_EQ(meta->containers.size(), 2u);
  EXPECT_EQ(config->environment["ECS_CONTAINER_METADATA_URI_V4"],
            "http://169.254.170.2/v4/" + meta->containers[0].endpoint_id);
  auto creds = metadata_.credentials(Arn());
  ASSERT_TRUE(creds);
  EXPECT_EQ(creds->credentials_id, "task-cred");
}

TEST_F(EngineTest, AHollowEngineRunsTasksWithoutPullingAndStillReadsTheirSecrets) {
  options_.hollow = true;
  Engine& engine = MakeEngine();
  spec::ContainerSpec web = Container("web");
  web.asm_credentials_parameter = "good";
  spec::TaskSpec task = Task({web});
  task.execution_role = Role("exec-cred", "TaskExecution");
  engine.Apply(task);

  auto running = WaitForChange(Arn(), "RUNNING");
  ASSERT_TRUE(running);
  const auto* w = Named(*running, "web");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->image_digest, "sha256:" + crypto::Sha256Hex(Image()));
  EXPECT_TRUE(registry_->requests().empty());  // nothing pulled
  ASSERT_EQ(asm_.seen.size(), 1u);             // asm-auth as for a real task
  EXPECT_FALSE(fs::exists(dir_.File("content")));
  EXPECT_TRUE(runtime_.Has(Rid("web")));

  engine.Apply([&] {
    spec::TaskSpec stop = task;
    stop.desired_status = "STOPPED";
    return stop;
  }());
  EXPECT_TRUE(WaitForChange(Arn(), "STOPPED"));
}

// Image files are written without fsync, then synced in the background; an image a host
// crash caught before that sync is unpacked again from the store, never run as it is.
TEST_F(EngineTest, AnImageIsSyncedAfterItsTaskStartsAndOneTornByACrashIsUnpackedAgain) {
  Engine& engine = MakeEngine();
  fs::path image = dir_.path() / "images" / "sha256" / image_.manifest.digest.substr(7);
  engine.Apply(Task({Container("web")}));
  ASSERT_TRUE(WaitForChange(Arn(), "RUNNING"));
  EXPECT_TRUE(fs::exists(image / "rootfs" / "hello"));
  EXPECT_TRUE(fs::exists(image / ".unsynced-boot"));  // the sync waits a second
  EXPECT_TRUE(WaitFor([&] { return !fs::exists(image / ".unsynced-boot"); }));

  engine_.reset();  // the host crashed before the sync: a marker of an earlier boot
  std::ofstream(image / ".unsynced-boot") << "boot-before-the-crash\n";
  std::ofstream(image / "rootfs" / "hello", std::ios::trunc);  // torn
  Engine& restarted = MakeEngine();
  EXPECT_FALSE(fs::exists(image));
  const std::string second = "0123456789abcdef0123456789abcdee";
  restarted.Apply(Task({Container("web")}, second));
  ASSERT_TRUE(WaitForChange(Arn(second), "RUNNING"));
  std::ifstream hello(image / "rootfs" / "hello");
  std::string text((std::istreambuf_iterator<char>(hello)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "hi");
}

// A layer's blob is written around the page cache: the unpack took its bytes from the download,
// and the blob is read again only to rebuild the image (each page of it in the cache was memory
// the host lost for nothing, and on VMs that hand freed pages back, slow to fill).
TEST_F(EngineTest, APulledLayersBlobStaysOutOfThePageCache) {
  if (!test_support::TakesODirect(dir_.path().string())) {
    GTEST_SKIP() << "the test directory's filesystem takes no O_DIRECT";
  }
  std::string big(3 << 20, '\0');
  std::mt19937_64 random(7);
  for (char& c : big) c = static_cast<char>(random());
  FakeRegistry::Image image = registry_->AddImage(
      "team/app", "big",
      {unpack::testing::LayerBytes({unpack::testing::File("big", big)},
                                   unpack::testing::Format::kGzip)});
  Engine& engine = MakeEngine();
  spec::ContainerSpec web = Container("web");
  web.image = Image("big");
  engine.Apply(Task({web}));
  ASSERT_TRUE(WaitForChange(Arn(), "RUNNING"));
  fs::path blob = dir_.path() / "content" / "blobs" / "sha256" / image.layers[0].digest.substr(7);
  ASSERT_GE(fs::file_size(blob), size_t{2} << 20);
  EXPECT_EQ(test_support::ResidentPagesPerBlock(blob.string(), 1 << 20, 2),
            (std::vector<size_t>{0, 0}));
  fs::path rootfs = dir_.path() / "images" / "sha256" / image.manifest.digest.substr(7) / "rootfs";
  EXPECT_EQ(fs::file_size(rootfs / "big"), big.size());
}

// A task stopped while it was being placed reaches the agent with desiredStatus STOPPED: the
// agent starts nothing and says it is STOPPED, so the server can let its resources go.
TEST_F(EngineTest, ATaskStoppedBeforeItStartedIsReportedStoppedAndNothingRuns) {
  Engine& engine = MakeEngine();
  spec::TaskSpec task = Task({Container("web")});
  task.desired_status = "STOPPED";
  engine.Apply(task);
  auto stopped = WaitForChange(Arn(), "STOPPED");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->cluster, kCluster);
  EXPECT_TRUE(runtime_.started().empty());
  EXPECT_TRUE(engine.ActiveTaskArns().empty());
  EXPECT_FALSE(fs::exists(dir_.File(std::string("tasks/") + kTaskId + ".json")));
}

TEST_F(EngineTest, EssentialExitStopsTheTask) {
  Engine& engine = MakeEngine();
  engine.Apply(Task({Container("web"), Container("side", false)}));
  ASSERT_TRUE(WaitForChange(Arn(), "RUNNING"));
  runtime_.Exit(Rid("web"), 3);

  auto stopped = WaitForChange(Arn(), "STOPPED");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->reason, "Essential container in task exited");
  EXPECT_TRUE(stopped->execution_stopped_at);
  const auto* web = Named(*stopped, "web");
  const auto* side = Named(*stopped, "side");
  ASSERT_TRUE(web && side);
  EXPECT_EQ(web->status, "STOPPED");
  EXPECT_EQ(web->exit_code, 3);
  EXPECT_EQ(side->exit_code, 128 + SIGTERM);
  EXPECT_TRUE(WaitFor([&] { return engine.ActiveTaskArns().empty(); }));
  EXPECT_EQ(runtime_.removed(), (std::set<std::string>{Rid("web"), Rid("side")}));
  EXPECT_TRUE(network_.torn_down().contains(kTaskId));
  EXPECT_TRUE(metadata_.removed(Arn()));
  EXPECT_TRUE(WaitFor([&] { return !fs::exists(dir_.File(std::string("tasks/") + kTaskId + ".json")); }));
  // A repeated payload naming the stopped task does not start it again.
  engine.Apply(Task({Container("web"), Container("side", false)}));
  EXPECT_TRUE(engine.ActiveTaskArns().empty());
  EXPECT_EQ(runtime_.started().size(), 2u);
}

TEST_F(EngineTest, NonEssentialExitKeepsTheTaskRunning) {
  Engine& engine = MakeEngine();
  engine.Apply(Task({Container("web"), Container("side", false)}));
  ASSERT_TRUE(WaitForChange(Arn(), "RUNNING"));
  runtime_.Exit(Rid("side"), 0);
  // A RUNNING change that carries the stopped container.
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& change : reporter_.changes()) {
      const auto* side = Named(change, "side");
      if (change.status == "RUNNING" && side && side->status == "STOPPED") {
        return side->exit_code == 0;
      }
    }
    return false;
  }));
  EXPECT_FALSE(reporter_.Find(Arn(), "STOPPED"));
  EXPECT_EQ(engine.ActiveTaskArns(), std::vector<std::string>{Arn()});
  EXPECT_TRUE(runtime_.Status(Rid("web")).has_value());
}

TEST_F(EngineTest, AcsStopSendsSigtermThenSigkillAfterTheStopTimeout) {
  Engine& engine = MakeEngine();
  spec::ContainerSpec web = Container("web");
  web.stop_timeout_seconds = 1;
  spec::TaskSpec task = Task({web});
  engine.Apply(task);
  ASSERT_TRUE(WaitForChange(Arn(), "RUNNING"));
  runtime_.IgnoreTerm(true);
  task.desired_status = "STOPPED";
  task.containers.clear();
  engine.Apply(task);

  auto stopped = WaitForChange(Arn(), "STOPPED");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->reason, "");  // the server has the user's reason
  ASSERT_EQ(stopped->containers.size(), 1u);
  EXPECT_EQ(stopped->containers[0].exit_code, 128 + SIGKILL);
  auto signals = runtime_.signals();
  ASSERT_GE(signals.size(), 2u);
  EXPECT_EQ(signals[0], std::make_pair(Rid("web"), int(SIGTERM)));
  EXPECT_EQ(signals[1], std::make_pair(Rid("web"), int(SIGKILL)));
}

TEST_F(EngineTest, DependsOnStartAndSuccessOrderTheStarts) {
  Engine& engine = MakeEngine();
  spec::ContainerSpec init = Container("init", false);
  spec::ContainerSpec db = Container("db", false);
  spec::ContainerSpec app = Container("app");
  app.depends_on = {{"init", "SUCCESS"}, {"db", "START"}};
  engine.Apply(Task({app, db, init}));
  // RUNNING once everything not waiting for init's exit runs.
  auto running = WaitForChange(Arn(), "RUNNING");
  ASSERT_TRUE(running);
  EXPECT_EQ(Named(*running, "app"), nullptr);
  EXPECT_EQ(runtime_.started(), (std::vector<std::string>{Rid("db"), Rid("init")}));
  runtime_.Exit(Rid("init"), 0);
  ASSERT_TRUE(WaitFor([&] { return runtime_.started().size() == 3; }));
  EXPECT_EQ(runtime_.started()[2], Rid("app"));
  EXPECT_FALSE(reporter_.Find(Arn(), "STOPPED"));
}

TEST_F(EngineTest, FailedSuccessDependencyStopsTheTask) {
  Engine& engine = MakeEngine();
  spec::ContainerSpec init = Container("init", false);
  spec::ContainerSpec app = Container("app");
  app.depends_on = {{"init", "SUCCESS"}};
  engine.Apply(Task({init, app}));
  ASSERT_TRUE(WaitFor([&] { return runtime_.started().size() == 1; }));
  runtime_.Exit(Rid("init"), 2);
  auto stopped = WaitForChange(Arn(), "STOPPED");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->reason,
            "dependency graph: failed to resolve the container ordering dependency [init] for "
            "target [app] as dependency did not exit successfully.");
  EXPECT_EQ(runtime_.started().size(), 1u);
  const auto* app_change = Named(*stopped, "app");
  ASSERT_NE(app_change, nullptr);
  EXPECT_FALSE(app_change->exit_code);
  EXPECT_EQ(app_change->runtime_id, "");
}

TEST_F(EngineTest, AsmFailureStopsTheTaskWithTheSourcesWords) {
  Engine& engine = MakeEngine();
  spec::ContainerSpec web = Container("web");
  web.asm_credentials_parameter = "denied";
  web.asm_region = "eu-central-1";
  spec::TaskSpec task = Task({web});
  task.execution_role = Role("exec-cred", "TaskExecution");
  engine.Apply(task);
  auto stopped = WaitForChange(Arn(), "STOPPED");
  ASSERT_TRUE(stopped);
  std::string reason =
      "ResourceInitializationError: unable to pull secrets or registry auth: asm fetching secret "
      "from the service for denied: AccessDeniedException: not allowed";
  EXPECT_EQ(stopped->reason, reason);
  ASSERT_EQ(stopped->containers.size(), 1u);
  EXPECT_EQ(stopped->containers[0].reason, reason);
  ASSERT_EQ(asm_.seen.size(), 1u);
  EXPECT_EQ(asm_.seen[0].region, "eu-central-1");
  EXPECT_EQ(asm_.seen[0].endpoint, "http://127.0.0.1:1");
  EXPECT_EQ(asm_.seen[0].credentials.access_key_id, "AKIAexec-cred");
  EXPECT_EQ(asm_.seen[0].credentials.session_token, "TOKEN-exec-cred");
  EXPECT_TRUE(runtime_.started().empty());
}

TEST_F(EngineTest, AsmWithoutExecutionRoleCredentials) {
  Engine& engine = MakeEngine();
  spec::ContainerSpec web = Container("web");
  web.asm_credentials_parameter = "good";
  engine.Apply(Task({web}));
  auto stopped = WaitForChange(Arn(), "STOPPED");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->reason,
            "ResourceInitializationError: unable to pull secrets or registry auth: asm resource: "
            "unable to find execution role credentials");
  EXPECT_EQ(stopped->containers[0].reason, stopped->reason);
  EXPECT_TRUE(asm_.seen.empty());
}

TEST_F(EngineTest, PullOfAnUnknownTagStopsTheTask) {
  Engine& engine = MakeEngine();
  spec::ContainerSpec web = Container("web");
  web.image = Image("nope");
  engine.Apply(Task({web}));
  auto stopped = WaitForChange(Arn(), "STOPPED");
  ASSERT_TRUE(stopped);
  EXPECT_TRUE(stopped->reason.starts_with("CannotPullContainerError: " + Image("nope")))
      << stopped->reason;
  EXPECT_NE(stopped->reason.find("MANIFEST_UNKNOWN"), std::string::npos) << stopped->reason;
  EXPECT_EQ(stopped->containers[0].reason, stopped->reason);
  EXPECT_TRUE(runtime_.started().empty());
  // The network is made while the image is pulled; a failed pull still leaves none behind.
  EXPECT_EQ(network_.requests().size(), 1u);
  EXPECT_TRUE(network_.torn_down().contains(kTaskId));
}

TEST_F(EngineTest, CreateFailureIsTheContainersAndTheTasksReason) {
  Engine& engine = MakeEngine();
  runtime_.FailNextStart(Error{"CannotCreateContainerError", "overlay: no space left", 500});
  engine.Apply(Task({Container("web")}));
  auto stopped = WaitForChange(Arn(), "STOPPED");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->reason, "CannotCreateContainerError: overlay: no space left");
  EXPECT_EQ(stopped->containers[0].reason, stopped->reason);
}

class ReauthorizationTest : public EngineTest {
 protected:
  void SetUp() override {
    StartRegistry({.auth = FakeRegistry::Auth::kBasic});
    options_.pull_policy = PullPolicy::kDefault;
  }
  // A task whose container's registry credentials come from asm secret `secret`.
  spec::TaskSpec SecretTask(const std::string& id, const std::string& secret) {
    spec::ContainerSpec web = Container("web");
    web.asm_credentials_parameter = secret;
    spec::TaskSpec task = Task({web}, id);
    task.execution_role = Role("exec-" + id.substr(0, 4), "TaskExecution");
    return task;
  }
  const std::string good_ = "11111111111111111111111111111111";
  const std::string bad_ = "22222222222222222222222222222222";
};

// The registry's Basic challenge is remembered by the agent's image cache: the next task's pull
// sends its own credentials with its first request instead of after a 401.
TEST_F(ReauthorizationTest, AWarmStartAsksTheRegistryOnceWithItsOwnCredentials) {
  Engine& engine = MakeEngine();
  engine.Apply(SecretTask(good_, "good"));
  ASSERT_TRUE(WaitForChange(Arn(good_), "RUNNING"));
  size_t before = registry_->requests().size();
  const std::string third = "33333333333333333333333333333333";
  engine.Apply(SecretTask(third, "good"));
  ASSERT_TRUE(WaitForChange(Arn(third), "RUNNING"));
  auto requests = registry_->requests();
  ASSERT_GT(requests.size(), before);
  for (size_t i = before; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].authorization, "Basic " + Base64Encode("alice:pa55:word"))
        << requests[i].method << " " << requests[i].target;
  }
}

TEST_F(ReauthorizationTest, CachedImageRefusedToCredentialsTheRegistryRefuses) {
  Engine& engine = MakeEngine();
  engine.Apply(SecretTask(good_, "good"));
  ASSERT_TRUE(WaitForChange(Arn(good_), "RUNNING"));
  // The default policy falls back to the cached image when the registry refuses the
  // password; the re-authorisation does not let the task have it.
  engine.Apply(SecretTask(bad_, "bad"));
  auto stopped = WaitForChange(Arn(bad_), "STOPPED");
  ASSERT_TRUE(stopped);
  EXPECT_TRUE(stopped->reason.starts_with("CannotPullContainerError: ")) << stopped->reason;
  EXPECT_NE(stopped->reason.find("registry accepts the task's credentials"), std::string::npos)
      << stopped->reason;
  EXPECT_EQ(runtime_.started(), std::vector<std::string>{Rid("web", good_)});
  EXPECT_EQ(stopped->reason.find("wrong-password"), std::string::npos);
}

TEST_F(ReauthorizationTest, TrustCachedImagesLetsTheTaskUseIt) {
  options_.trust_cached_images = true;
  Engine& engine = MakeEngine();
  engine.Apply(SecretTask(good_, "good"));
  ASSERT_TRUE(WaitForChange(Arn(good_), "RUNNING"));
  engine.Apply(SecretTask(bad_, "bad"));
  ASSERT_TRUE(WaitForChange(Arn(bad_), "RUNNING"));
}

TEST_F(ReauthorizationTest, SameCredentialsAreAcceptedFromMemory) {
  options_.pull_policy = PullPolicy::kPreferCached;
  Engine& engine = MakeEngine();
  engine.Apply(SecretTask(good_, "good"));
  ASSERT_TRUE(WaitForChange(Arn(good_), "RUNNING"));
  int manifests = registry_->Count("/manifests/");
  engine.Apply(SecretTask(bad_, "good"));  // another task, the same credentials
  ASSERT_TRUE(WaitForChange(Arn(bad_), "RUNNING"));
  EXPECT_EQ(registry_->Count("/manifests/"), manifests);  // neither pulled nor checked again
}

TEST_F(EngineTest, TasksPullingTheSameImageAtOnceShareOnePull) {
  // The first pull is held inside the fetch until the other tasks wait for the image.
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, released = false;
  options_.pull.fetch.on_committed = [&](const content::Descriptor&) {
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
  };
  Engine& engine = MakeEngine();
  const std::vector<std::string> ids = {"a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
                                        "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2",
                                        "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"};
  engine.Apply(Task({Container("web")}, ids[0]));
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return entered; }));
  }
  engine.Apply(Task({Container("web")}, ids[1]));
  engine.Apply(Task({Container("web")}, ids[2]));
  // Both have published their task (the step before asking for the image).
  ASSERT_TRUE(WaitFor([&] { return metadata_.task(Arn(ids[1])) && metadata_.task(Arn(ids[2])); }));
  std::this_thread::sleep_for(100ms);  // let them reach the image's lock
  {
    std::lock_guard lock(mu);
    released = true;
    cv.notify_all();
  }
  for (const auto& id : ids) ASSERT_TRUE(WaitForChange(Arn(id), "RUNNING")) << id;
  EXPECT_EQ(registry_->Count("/manifests/v1"), 1);
  EXPECT_EQ(registry_->Count("/blobs/"), 2);  // config and layer, once
}

TEST_F(EngineTest, RecoverAdoptsRunningContainersAndReportsThoseThatStopped) {
  const std::string a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const std::string b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  {
    Engine& engine = MakeEngine();
    engine.Apply(Task({Container("web")}, a));
    engine.Apply(Task({Container("web")}, b));
    ASSERT_TRUE(WaitForChange(Arn(a), "RUNNING"));
    ASSERT_TRUE(WaitForChange(Arn(b), "RUNNING"));
    engine.Shutdown();
  }
  engine_.reset();
  // While the agent is away: b's container exits; a stray container appears.
  runtime_.Exit(Rid("web", b), 7);
  runtime::ContainerStatus stray;
  stray.id = "stray";
  stray.state = runtime::State::kRunning;
  runtime_.Add(stray);
  ASSERT_EQ(runtime_.started().size(), 2u);

  Engine& engine = MakeEngine();
  ASSERT_TRUE(engine.Recover().has_value());
  auto stopped = WaitForChange(Arn(b), "STOPPED");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->reason, "Essential container in task exited");
  EXPECT_EQ(stopped->containers[0].exit_code, 7);
  EXPECT_EQ(stopped->containers[0].runtime_id, Rid("web", b));
  EXPECT_TRUE(runtime_.removed().contains("stray"));
  EXPECT_TRUE(network_.kept().contains(a));
  EXPECT_TRUE(WaitFor([&] { return engine.ActiveTaskArns() == std::vector<std::string>{Arn(a)}; }));
  EXPECT_EQ(runtime_.started().size(), 2u);  // adopted, not started again
  EXPECT_FALSE(reporter_.Find(Arn(a), "STOPPED"));

  // The adopted container is watched.
  runtime_.Exit(Rid("web", a), 0);
  auto a_stopped = WaitForChange(Arn(a), "STOPPED");
  ASSERT_TRUE(a_stopped);
  EXPECT_EQ(a_stopped->containers[0].exit_code, 0);
}

TEST_F(EngineTest, TaskRecordsHoldNoCredentialOrSecret) {
  StartRegistry({.auth = FakeRegistry::Auth::kBasic});
  Engine& engine = MakeEngine();
  spec::ContainerSpec web = Container("web");
  web.asm_credentials_parameter = "good";
  spec::TaskSpec task = Task({web});
  task.task_role = Role("task-cred", "TaskApplication");
  task.execution_role = Role("exec-cred", "TaskExecution");
  engine.Apply(task);
  ASSERT_TRUE(WaitForChange(Arn(), "RUNNING"));
  engine.UpdateCredentials(Arn(), Role("task-cred2", "TaskApplication"));
  std::string files = TaskFiles();
  ASSERT_NE(files.find(Rid("web")), std::string::npos);  // the record is there
  for (const std::string secret :
       {"SECRET-task-cred", "TOKEN-task-cred", "AKIAtask-cred", "SECRET-exec-cred",
        "TOKEN-exec-cred", "AKIAexec-cred", "pa55:word", "SECRET-task-cred2", "task-cred"}) {
    EXPECT_EQ(files.find(secret), std::string::npos) << secret;
  }
  EXPECT_EQ(metadata_.credentials(Arn())->credentials_id, "task-cred2");
}

TEST_F(EngineTest, FargateHostRefusesOtherLaunchTypes) {
  options_.fargate = true;
  Engine& engine = MakeEngine();
  engine.Apply(Task({Container("web")}));
  auto stopped = WaitForChange(Arn(), "STOPPED");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->reason,
            "ResourceInitializationError: this container instance runs only FARGATE tasks, not "
            "EC2");
  EXPECT_TRUE(runtime_.started().empty());
}

// --- Health checks (health.h) ---

class HealthTest : public EngineTest {
 protected:
  // A container checked every 5 ms (the fake runtime's scripted results).
  spec::ContainerSpec Checked(const std::string& name, int retries, bool essential = true,
                              std::chrono::milliseconds start_period = 0ms) const {
    spec::ContainerSpec c = Container(name, essential);
    spec::HealthCheck check;
    check.test = {"CMD-SHELL", "curl -f localhost || exit 1"};
    check.interval_ns = 5'000'000;
    check.timeout_ns = 2'000'000'000;
    check.retries = retries;
    check.start_period_ns = std::chrono::nanoseconds(start_period).count();
    c.health_check = check;
    return c;
  }

  // The container's health status in its task record ("" when none).
  std::string HealthOf(const std::string& name) const {
    for (const auto& record : LoadTaskRecords(dir_.File("tasks"))) {
      for (const auto& c : record.containers) {
        if (c.spec.name == name) return c.health_status;
      }
    }
    return "";
  }

  size_t Execs(const std::string& name) const {
    size_t n = 0;
    for (const auto& call : runtime_.execs()) n += call.id == Rid(name);
    return n;
  }

  // "app" waiting for "db" (non-essential, checked with `db_retries`, failing until the test
  // scripts otherwise) to be HEALTHY.
  void ApplyAppAfterDb(Engine& engine, int db_retries, bool app_essential = true,
                       std::vector<spec::ContainerSpec> more = {}) {
    runtime_.ScriptExec(Rid("db"), {Exited(1)});
    spec::ContainerSpec app = Container("app", app_essential);
    app.depends_on = {{"db", "HEALTHY"}};
    more.insert(more.begin(), {app, Checked("db", db_retries, false)});
    engine.Apply(Task(std::move(more)));
  }

  static constexpr char kNotHealthy[] =
      "dependency graph: failed to resolve the container ordering dependency [db] for target "
      "[app] as dependency did not become healthy.";

  static Result<runtime::ExecResult> Exited(int code) {
    return runtime::ExecResult{code, code == 0 ? "ok" : "connection refused"};
  }
};

TEST_F(HealthTest, HealthyAfterASuccessAndUnknownUntilAResultCounts) {
  Engine& engine = MakeEngine();
  runtime_.ScriptExec(Rid("web"), {Exited(1), Exited(0)});
  runtime_.ScriptExec(Rid("side"), {Exited(1)});
  engine.Apply(Task({Checked("web", 3), Checked("side", 100, false), Container("plain", false)}));
  ASSERT_TRUE(WaitFor([&] { return HealthOf("web") == "HEALTHY"; }));
  ASSERT_TRUE(WaitFor([&] { return Execs("side") >= 3; }));
  EXPECT_EQ(HealthOf("side"), "UNKNOWN");
  EXPECT_EQ(HealthOf("plain"), "");
  auto calls = runtime_.execs();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls[0].argv,
            (std::vector<std::string>{"/bin/sh", "-c", "curl -f localhost || exit 1"}));
  EXPECT_EQ(calls[0].timeout, 2000ms);
}

TEST_F(HealthTest, UnhealthyAfterRetriesFailuresAndTheTaskKeepsRunning) {
  Engine& engine = MakeEngine();
  runtime_.ScriptExec(Rid("web"), {Exited(0), Exited(1), Fail("Timeout", "too slow")});
  engine.Apply(Task({Checked("web", 2)}));
  ASSERT_TRUE(WaitFor([&] { return HealthOf("web") == "UNHEALTHY"; }));
  EXPECT_GE(Execs("web"), 3u);
  // ECS leaves replacing the task to the service scheduler: the agent stops nothing.
  EXPECT_TRUE(runtime_.signals().empty());
  EXPECT_FALSE(reporter_.Find(Arn(), "STOPPED"));
  EXPECT_EQ(engine.ActiveTaskArns(), std::vector<std::string>{Arn()});
}

TEST_F(HealthTest, FailuresInTheStartPeriodDoNotCount) {
  Engine& engine = MakeEngine();
  runtime_.ScriptExec(Rid("web"), {Exited(1)});
  engine.Apply(Task({Checked("web", 1, true, 60s)}));
  ASSERT_TRUE(WaitFor([&] { return Execs("web") >= 5; }));
  EXPECT_EQ(HealthOf("web"), "UNKNOWN");
}

TEST_F(HealthTest, DependsOnHealthyStartsTheDependentOnceTheDependencyIsHealthy) {
  Engine& engine = MakeEngine();
  ApplyAppAfterDb(engine, 100);
  ASSERT_TRUE(WaitFor([&] { return Execs("db") >= 3; }));
  EXPECT_EQ(runtime_.started(), std::vector<std::string>{Rid("db")});
  runtime_.ScriptExec(Rid("db"), {Exited(0)});
  ASSERT_TRUE(WaitFor([&] { return runtime_.started().size() == 2; }));
  EXPECT_EQ(runtime_.started()[1], Rid("app"));
  EXPECT_EQ(HealthOf("db"), "HEALTHY");
  EXPECT_FALSE(reporter_.Find(Arn(), "STOPPED"));
}

TEST_F(HealthTest, UnhealthyDependencyStopsTheTaskOfAnEssentialDependent) {
  Engine& engine = MakeEngine();
  ApplyAppAfterDb(engine, 2);
  auto stopped = WaitForChange(Arn(), "STOPPED");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->reason, kNotHealthy);
  EXPECT_EQ(runtime_.started(), std::vector<std::string>{Rid("db")});
  const auto* app_change = Named(*stopped, "app");
  ASSERT_NE(app_change, nullptr);
  EXPECT_EQ(app_change->runtime_id, "");
  EXPECT_EQ(app_change->reason, stopped->reason);
}

TEST_F(HealthTest, DependencyStoppingBeforeHealthyNeverStartsANonEssentialDependent) {
  Engine& engine = MakeEngine();
  ApplyAppAfterDb(engine, 100, false, {Container("web")});
  ASSERT_TRUE(WaitForChange(Arn(), "RUNNING"));
  runtime_.Exit(Rid("db"), 0);
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& r : LoadTaskRecords(dir_.File("tasks"))) {
      for (const auto& c : r.containers) {
        if (c.spec.name == "app" && c.known_status == "STOPPED") return true;
      }
    }
    return false;
  }));
  EXPECT_EQ(runtime_.started(), (std::vector<std::string>{Rid("db"), Rid("web")}));
  EXPECT_FALSE(reporter_.Find(Arn(), "STOPPED"));  // web, essential, still runs
}

TEST_F(HealthTest, DependsOnHealthyOfAContainerWithoutACheckNeverStarts) {
  Engine& engine = MakeEngine();
  spec::ContainerSpec app = Container("app");
  app.depends_on = {{"db", "HEALTHY"}};
  engine.Apply(Task({app, Container("db", false)}));
  auto stopped = WaitForChange(Arn(), "STOPPED");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->reason, kNotHealthy);
}

TEST_F(HealthTest, HealthHasTheCheckedContainersOfRunningTasksAndEachChangeIsNotified) {
  Engine& engine = MakeEngine();
  std::atomic<int> notified{0};
  engine.OnHealthChange([&] { ++notified; });
  EXPECT_TRUE(engine.Health().empty());
  runtime_.ScriptExec(Rid("web"), {Exited(1), Exited(0)});
  TimePoint before = SystemClock::Instance().Now();
  engine.Apply(Task({Checked("web", 2), Container("plain", false)}));
  ASSERT_TRUE(WaitFor([&] {
    auto health = engine.Health();
    return health.size() == 1 && health[0].containers.size() == 1 &&
           health[0].containers[0].health_status == "HEALTHY";
  }));
  TimePoint after = SystemClock::Instance().Now();
  spec::TaskHealth health = engine.Health()[0];
  EXPECT_EQ(health.task_arn, Arn());
  EXPECT_EQ(health.cluster_arn, kCluster);
  EXPECT_EQ(health.family, "web");
  EXPECT_EQ(health.version, "3");
  const spec::ContainerHealth& web = health.containers[0];
  EXPECT_EQ(web.container_name, "web");
  EXPECT_EQ(web.status_message, "ok");
  EXPECT_GE(web.status_since, before);
  EXPECT_LE(web.status_since, after);
  EXPECT_GE(notified.load(), 2);  // UNKNOWN once started, then HEALTHY

  int seen = notified.load();
  runtime_.ScriptExec(Rid("web"),
                      {runtime::ExecResult{1, "starting\n" + std::string(300, 'x') + "\n\n"}});
  ASSERT_TRUE(WaitFor([&] {
    auto now = engine.Health();
    return !now.empty() && now[0].containers[0].health_status == "UNHEALTHY";
  }));
  EXPECT_GT(notified.load(), seen);
  spec::ContainerHealth unhealthy = engine.Health()[0].containers[0];
  EXPECT_EQ(unhealthy.status_message, std::string(255, 'x'));
  EXPECT_GT(unhealthy.status_since, web.status_since);

  // A STOPPED task has no health to publish.
  seen = notified.load();
  spec::TaskSpec stop = Task({});
  stop.desired_status = "STOPPED";
  engine.Apply(stop);
  ASSERT_TRUE(WaitForChange(Arn(), "STOPPED"));
  EXPECT_TRUE(WaitFor([&] { return engine.Health().empty(); }));
  EXPECT_TRUE(WaitFor([&] { return notified.load() > seen; }));
}

TEST_F(HealthTest, AProbesOutputIsPublishedButNeverLogged) {
  log::Init(log::Format::kText, log::Level::kDebug);
  ::testing::internal::CaptureStderr();
  Engine& engine = MakeEngine();
  runtime_.ScriptExec(Rid("web"), {runtime::ExecResult{0, "token=probe-s3cr3t\n"}});
  engine.Apply(Task({Checked("web", 2)}));
  bool healthy = WaitFor([&] {
    auto health = engine.Health();
    return !health.empty() && health[0].containers[0].health_status == "HEALTHY";
  });
  std::string logged = ::testing::internal::GetCapturedStderr();
  log::Init(log::Format::kText, log::Level::kInfo);
  ASSERT_TRUE(healthy);
  EXPECT_EQ(engine.Health()[0].containers[0].status_message, "token=probe-s3cr3t");
  EXPECT_NE(logged.find("container health"), std::string::npos) << logged;
  EXPECT_EQ(logged.find("probe-s3cr3t"), std::string::npos) << logged;
}

TEST_F(HealthTest, StatusSinceSurvivesARestart) {
  TimePoint healthy_since;
  {
    Engine& engine = MakeEngine();
    runtime_.ScriptExec(Rid("web"), {Exited(0)});
    engine.Apply(Task({Checked("web", 2)}));
    ASSERT_TRUE(WaitFor([&] {
      auto health = engine.Health();
      return !health.empty() && health[0].containers[0].health_status == "HEALTHY";
    }));
    healthy_since = engine.Health()[0].containers[0].status_since;
    engine.Shutdown();
  }
  engine_.reset();
  runtime_.ScriptExec(Rid("web"), {Exited(0)});
  Engine& engine = MakeEngine();
  ASSERT_TRUE(engine.Recover().has_value());
  ASSERT_TRUE(WaitFor([&] { return !engine.Health().empty(); }));
  spec::ContainerHealth web = engine.Health()[0].containers[0];
  EXPECT_EQ(web.health_status, "HEALTHY");
  EXPECT_EQ(web.status_since, healthy_since);
}

// --- The awslogs driver ---

// Hands each container's client calls to one FakeLogsClient.
class SharedLogsClient final : public awslogs::LogsClient {
 public:
  explicit SharedLogsClient(awslogs::LogsClient& to) : to_(to) {}
  Status CreateLogGroup(const std::string& group) override { return to_.CreateLogGroup(group); }
  Status CreateLogStream(const std::string& group, const std::string& stream) override {
    return to_.CreateLogStream(group, stream);
  }
  Status PutLogEvents(const std::string& group, const std::string& stream,
                      std::span<const awslogs::Event> events) override {
    return to_.PutLogEvents(group, stream, events);
  }

 private:
  awslogs::LogsClient& to_;
};

class AwslogsTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    fs::create_directories(dir_.File("output"));
    runtime_.SetLogDir(dir_.File("output"));
    options_.logs_finish_timeout = 5s;
    options_.logs_client = [this](const awslogs::Config& config,
                                  awslogs::CredentialsProvider credentials) {
      std::lock_guard lock(mu_);
      configs_.push_back(config);
      providers_.push_back(std::move(credentials));
      return std::unique_ptr<awslogs::LogsClient>(new SharedLogsClient(logs_));
    };
  }

  spec::ContainerSpec Logged(const std::string& name,
                             std::map<std::string, std::string> options) const {
    spec::ContainerSpec c = Container(name);
    c.log_config = spec::LogConfig{"awslogs", std::move(options)};
    return c;
  }
  static std::map<std::string, std::string> Options() {
    return {{"awslogs-group", "/ecs/web"},
            {"awslogs-region", "us-west-2"},
            {"awslogs-stream-prefix", "web"},
            {"awslogs-force-flush-interval-seconds", "1"}};
  }
  spec::TaskSpec LoggedTask(const std::string& id = kTaskId) const {
    spec::TaskSpec task = Task({Logged("app", Options())}, id);
    task.execution_role = Role("exec-cred", "TaskExecution");
    return task;
  }
  // What container `name` of the task prints.
  void Print(const std::string& name, const std::string& text) {
    std::ofstream out(dir_.File("output/" + Rid(name)), std::ios::app);
    out << text;
  }
  awslogs::CredentialsProvider Provider(size_t i) {
    std::lock_guard lock(mu_);
    return providers_.at(i);
  }

  awslogs::testing::FakeLogsClient logs_;
  std::mutex mu_;
  std::vector<awslogs::Config> configs_;
  std::vector<awslogs::CredentialsProvider> providers_;
};

TEST_F(AwslogsTest, OutputIsShippedAndFlushedBeforeStoppedIsReported) {
  options_.endpoint = "https://berth.example:4566";
  options_.ca_file = "/etc/berth/ca.pem";
  Engine& engine = MakeEngine();
  engine.Apply(LoggedTask());
  ASSERT_TRUE(WaitForChange(Arn(), "RUNNING"));
  ASSERT_EQ(configs_.size(), 1u);
  EXPECT_EQ(configs_[0].stream, std::string("web/app/") + kTaskId);
  EXPECT_EQ(configs_[0].endpoint, "https://berth.example:4566");
  EXPECT_EQ(configs_[0].ca_file, "/etc/berth/ca.pem");

  // Signed with the execution role's credentials of the moment.
  auto signing = Provider(0)();
  ASSERT_TRUE(signing);
  EXPECT_EQ(signing->access_key_id, "AKIAexec-cred");
  EXPECT_EQ(signing->session_token, "TOKEN-exec-cred");
  spec::RoleCredentials refreshed = Role("exec-cred", "");
  refreshed.access_key_id = "AKIArefreshed";
  engine.UpdateCredentials(Arn(), refreshed);
  EXPECT_EQ(Provider(0)()->access_key_id, "AKIArefreshed");

  Print("app", "hello\nworld\nno newline");
  runtime_.Exit(Rid("app"), 0);
  auto stopped = WaitForChange(Arn(), "STOPPED");
  ASSERT_TRUE(stopped);
  // Shipped by the time STOPPED is reported (the flush interval is 1 s: only Finish did it).
  EXPECT_EQ(logs_.messages(), (std::vector<std::string>{"hello", "world", "no newline"}));
  EXPECT_EQ(logs_.calls().front(), std::string("CreateLogStream /ecs/web web/app/") + kTaskId);
  // The output is kept after it was shipped.
  EXPECT_TRUE(WaitFor(
      [&] { return fs::exists(dir_.File(std::string("logs/") + kTaskId + "/app.log")); }));
}

TEST_F(AwslogsTest, ABadConfigurationFailsTheContainerBeforeItIsCreated) {
  Engine& engine = MakeEngine();
  auto options = Options();
  options.erase("awslogs-group");
  spec::TaskSpec task = Task({Logged("app", options)});
  engine.Apply(task);
  auto stopped = WaitForChange(Arn(), "STOPPED");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->reason,
            "CannotCreateContainerError: must specify a value for log opt 'awslogs-group'");
  EXPECT_EQ(stopped->containers[0].reason, stopped->reason);
  EXPECT_TRUE(runtime_.started().empty());
}

TEST_F(AwslogsTest, AnAdoptedContainerShipsOnFromTheSavedOffset) {
  {
    Engine& engine = MakeEngine();
    engine.Apply(LoggedTask());
    ASSERT_TRUE(WaitForChange(Arn(), "RUNNING"));
    Print("app", "one\n");
    ASSERT_TRUE(WaitFor([&] { return logs_.messages().size() == 1; }));
    engine.Shutdown();
  }
  engine_.reset();
  Print("app", "two\n");  // while the agent is away

  Engine& engine = MakeEngine();
  ASSERT_TRUE(engine.Recover().has_value());
  engine.Apply(LoggedTask());  // ACS sends the task (and its credentials) again
  runtime_.Exit(Rid("app"), 0);
  ASSERT_TRUE(WaitForChange(Arn(), "STOPPED"));
  EXPECT_EQ(logs_.messages(), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(runtime_.started().size(), 1u);
}

}  // namespace
}  // namespace berth::agent::engine
