#include "cli/up_agents.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "aws/credentials_file.h"
#include "aws/json_client.h"
#include "cli/agent_command.h"
#include "common/clock.h"
#include "common/json.h"

extern char** environ;

namespace berth::cli {
namespace {

constexpr char kAgentProfile[] = "berth-agent";

// The two agents: their names, data dirs, bridges and subnets.
struct Kind {
  std::string name;
  std::string data_dir;
  std::string bridge;
  std::string subnet;
};

std::vector<Kind> Kinds(const UpAgentOptions& o) {
  std::string agents_dir = o.data_dir + "/agents";
  return {{"ec2", agents_dir + "/ec2", o.bridges.at(0), o.subnets.at(0)},
          {"fargate", agents_dir + "/fargate", o.bridges.at(1), o.subnets.at(1)}};
}

Result<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // The server blocks SIGINT/SIGTERM for sigwait(); the agent must start with them unblocked
  // and in its own process group (Ctrl-C reaches the server, which stops the agents).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Fail("SpawnFailed", fmt::format("cannot start {}: {}", argv[0], strerror(rc)));
  return pid;
}

}  // namespace

std::string AgentsUnavailableReason() {
  if (geteuid() != 0) return "the agent needs root (mounts, network namespaces, cgroups)";
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"}) {
    if (access(fmt::format("{}/runc", dir).c_str(), X_OK) == 0) return "";
  }
  return "runc is not installed";
}

Result<std::vector<UpAgent>> StartUpAgents(const UpAgentOptions& o) {
  auto root = BERTH_TRY(aws::ReadProfile(o.credentials_file, "default"));
  std::string reply = BERTH_TRY(aws::CallJson(
      {o.endpoint, "BerthAdmin_20261126.CreateAgentCredentials", "us-east-1", "berth",
       json::Dump(json::Json{{"UserName", kAgentProfile}})},
      root, SystemClock::Instance().Now(), o.ca_file));
  auto body = json::Json::parse(reply, nullptr, false);
  if (!body.is_object()) return Fail("InvalidResponse", "CreateAgentCredentials: not JSON");
  BERTH_CHECK(aws::WriteProfile(
      o.credentials_file, kAgentProfile,
      aws::Credentials{body.value("AccessKeyId", ""), body.value("SecretAccessKey", ""), ""}));

  std::string agents_dir = o.data_dir + "/agents";
  std::filesystem::create_directories(agents_dir);
  std::vector<UpAgent> started;
  for (const auto& kind : Kinds(o)) {
    std::vector<std::string> argv = {o.berth_binary, "agent",
                                     "--endpoint", o.endpoint,
                                     "--data-dir", kind.data_dir,
                                     "--credentials-file", o.credentials_file,
                                     "--profile", kAgentProfile,
                                     "--bridge", kind.bridge,
                                     "--subnet", kind.subnet};
    if (!o.ca_file.empty()) argv.insert(argv.end(), {"--ca-file", o.ca_file});
    for (const auto& r : o.insecure_registries) argv.insert(argv.end(), {"--insecure-registry", r});
    if (!o.registry_ca_file.empty()) argv.insert(argv.end(), {"--registry-ca-file", o.registry_ca_file});
    if (kind.name == "fargate") argv.insert(argv.end(), {"--fargate", "--platform-version", "1.4.0"});
    std::string log_file = agents_dir + "/" + kind.name + ".log";
    auto pid = Spawn(argv, log_file);
    if (!pid) {
      StopUpAgents(started);
      return Fail(pid.error());
    }
    started.push_back({kind.name, *pid, log_file});
  }
  return started;
}

void StopUpAgents(const std::vector<UpAgent>& agents) {
  for (const auto& a : agents) kill(a.pid, SIGTERM);
  for (const auto& a : agents) {
    int status = 0;
    waitpid(a.pid, &status, 0);
  }
}

int CleanUpUpAgents(const UpAgentOptions& options) {
  int code = 0;
  for (const auto& kind : Kinds(options)) {
    AgentFlags flags;
    flags.data_dir = kind.data_dir;
    flags.bridge = kind.bridge;
    flags.subnet = kind.subnet;
    flags.clean_up = true;
    code = std::max(code, RunAgent(flags));
  }
  return code;
}

}  // namespace berth::cli
