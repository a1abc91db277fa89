// berth: one binary for the control plane (server), the host agent (agent),
// both together on one machine (up), and the pull pipeline (pull).
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/runtime/runtime.h"
#include "aws/credentials_file.h"
#include "aws/json_client.h"
#include "cli/agent_command.h"
#include "cli/pull_command.h"
#include "cli/up_agents.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "server/app.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

namespace {

// A bridge name: a Linux interface name (1 to 15 characters) that also names berth's iptables
// chains and the bridge's lock file, so letters, digits, '_', '-' and '.' only, not "." or "..".
const CLI::Validator kBridgeName(
    [](std::string& name) -> std::string {
      bool ok = !name.empty() && name.size() <= 15 && name != "." && name != "..";
      for (char c : name) {
        ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
      }
      return ok ? "" : "a bridge name has 1 to 15 letters, digits, '_', '-' or '.': " + name;
    },
    "BRIDGE");

using berth::server::App;
using berth::server::AppOptions;

struct CommonServerFlags {
  std::string data_dir;
  std::string listen;
  std::string account_id = "123456789012";
  std::string root_credentials;
  std::string root_key_file;
  std::string log_format = "text";
  std::string log_level = "info";
  int threads = 0;
  size_t body_limit = 8 << 20;
  int header_timeout_ms = 10'000;
  size_t max_connections = 0;
  size_t body_memory_limit = 256 << 20;
  std::string tls_cert;
  std::string tls_key;
  bool insecure_http = false;
  int acs_heartbeat_seconds = 30;
  int acs_credentials_refresh_seconds = 15 * 60;
  // berth up: the agents it starts, and the registry flags it passes them.
  bool no_agents = false;
  bool clean_up = false;  // instead of starting: clean up after the agents
  std::vector<std::string> insecure_registries;
  std::string registry_ca_file;
  std::vector<std::string> agent_bridges = {"berth0", "berth1"};
  std::vector<std::string> agent_subnets = {"10.213.0.0/24", "10.213.1.0/24"};
};

// What `berth up` prints when its agents run: the seed, step by step, with the AWS CLI.
std::string SeedWalkthrough(const std::string& endpoint, const std::string& account) {
  return fmt::format(
      "Run a task whose image is in your private registry (the seed):\n\n"
      "  alias aws='aws --endpoint-url {0}'\n"
      "  aws secretsmanager create-secret --name team/registry \\\n"
      "      --secret-string '{{\"username\":\"USER\",\"password\":\"PASS\"}}'\n"
      "  aws iam create-role --role-name ecsTaskExecutionRole --assume-role-policy-document \\\n"
      "      '{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":"
      "{{\"Service\":\"ecs-tasks.amazonaws.com\"}},\"Action\":\"sts:AssumeRole\"}}]}}'\n"
      "  aws iam put-role-policy --role-name ecsTaskExecutionRole --policy-name registry \\\n"
      "      --policy-document '{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\","
      "\"Action\":[\"secretsmanager:GetSecretValue\",\"kms:Decrypt\",\"logs:CreateLogGroup\","
      "\"logs:CreateLogStream\",\"logs:PutLogEvents\"],\"Resource\":\"*\"}}]}}'\n"
      "  aws ecs register-task-definition --family api \\\n"
      "      --execution-role-arn arn:aws:iam::{1}:role/ecsTaskExecutionRole \\\n"
      "      --container-definitions '[{{\"name\":\"api\",\"image\":\"REGISTRY/team/api:1.4\","
      "\"memory\":128,\"repositoryCredentials\":{{\"credentialsParameter\":\"team/registry\"}},"
      "\"logConfiguration\":{{\"logDriver\":\"awslogs\",\"options\":{{\"awslogs-group\":\"/ecs/api\","
      "\"awslogs-region\":\"us-east-1\",\"awslogs-stream-prefix\":\"api\","
      "\"awslogs-create-group\":\"true\"}}}}}}]'\n"
      "  aws ecs run-task --task-definition api     # then: aws ecs wait tasks-running --tasks ARN\n"
      "  aws logs tail /ecs/api --follow            # what the container prints\n"
      "  aws ecs create-service --service-name api --task-definition api --desired-count 2\n"
      "  # FARGATE, on the platform's Fargate pool (cluster berth-fargate): register the\n"
      "  # definition with --requires-compatibilities FARGATE --network-mode awsvpc --cpu 256\n"
      "  # --memory 512, then\n"
      "  aws ecs run-task --task-definition api --launch-type FARGATE \\\n"
      "      --network-configuration 'awsvpcConfiguration={{subnets=[subnet-1]}}'\n"
      "  (a registry on plain HTTP: start berth up with --insecure-registry HOST:PORT)\n\n",
      endpoint, account);
}

// The running berth binary (agents and container shims are started from it).
std::string SelfBinary() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("berth") : path.string();
}

void AddServerFlags(CLI::App* cmd, CommonServerFlags& f, bool up) {
  cmd->add_option("--data-dir", f.data_dir, "Directory for the store, root key and credentials");
  cmd->add_option("--listen", f.listen, "Address to serve the AWS APIs on, HOST:PORT");
  cmd->add_option("--account-id", f.account_id, "The default account's 12-digit id");
  cmd->add_option("--root-credentials", f.root_credentials,
                  "KEY_ID:SECRET for the default account's root (else "
                  "$BERTH_ROOT_ACCESS_KEY_ID/$BERTH_ROOT_SECRET_ACCESS_KEY, else random)");
  cmd->add_option("--root-key-file", f.root_key_file,
                  "File holding the root key that wraps secrets at rest (default DATA_DIR/root.key)");
  cmd->add_option("--log-format", f.log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--log-level", f.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  cmd->add_option("--threads", f.threads,
                  "I/O threads reading and writing connections (0: one per core); handlers run "
                  "on a separate worker pool");
  cmd->add_option("--body-limit", f.body_limit, "Largest request body accepted, in bytes");
  cmd->add_option("--header-timeout-ms", f.header_timeout_ms,
                  "Drop a connection that sends no complete request header in this time");
  cmd->add_option("--max-connections", f.max_connections,
                  "Connections served at once; more wait to be accepted (0: from the open-file "
                  "limit, at most 10000)");
  cmd->add_option("--body-memory-limit", f.body_memory_limit,
                  "Bytes all request bodies in flight may hold; a large body past it gets 503");
  auto* cert = cmd->add_option("--tls-cert", f.tls_cert,
                               "Serve HTTPS with this PEM certificate chain (server certificate "
                               "first); needs --tls-key");
  auto* key = cmd->add_option("--tls-key", f.tls_key, "The PEM private key of --tls-cert");
  cert->needs(key);
  key->needs(cert);
  cmd->add_flag("--insecure-http", f.insecure_http,
                up ? "Serve plain HTTP instead of HTTPS with the certificate berth makes in "
                     "DATA_DIR/tls"
                   : "Serve plain HTTP on an address that is not loopback (without TLS, only "
                     "loopback addresses are served)")
      ->excludes(cert)
      ->excludes(key);
  // For tests: the ECS agent sessions' timing, shortened.
  cmd->add_option("--acs-heartbeat-seconds", f.acs_heartbeat_seconds,
                  "Seconds between the HeartbeatMessages (and task manifests) sent to each "
                  "connected ECS agent")
      ->check(CLI::Range(1, 30))
      ->group("Testing");
  cmd->add_option("--acs-credentials-refresh-seconds", f.acs_credentials_refresh_seconds,
                  "Send agents a task's role credentials again once they expire within this "
                  "many seconds (they last 3600)")
      ->check(CLI::Range(1, 3599))
      ->group("Testing");
  if (up) {
    cmd->add_flag("--no-agents", f.no_agents,
                  "Start no agents (by default an EC2 agent and a Fargate agent run here)");
    cmd->add_flag("--clean-up", f.clean_up,
                  "Instead of starting: remove what the stopped agents left on this host (their "
                  "containers, mounts, task networks, bridges and iptables rules); state and "
                  "images stay");
    cmd->add_option("--insecure-registry", f.insecure_registries,
                    "Registry HOST[:PORT] the agents may reach over plain HTTP (repeatable)");
    cmd->add_option("--registry-ca-file", f.registry_ca_file,
                    "Extra PEM CA bundle the agents trust for registries");
    cmd->add_option("--agent-bridges", f.agent_bridges,
                    "Bridges of the EC2 and the Fargate agent's task networks")
        ->delimiter(',')
        ->expected(2)
        ->check(kBridgeName);
    cmd->add_option("--agent-subnets", f.agent_subnets,
                    "IPv4 /24 subnets of those bridges")
        ->delimiter(',')
        ->expected(2);
  }
}

// Blocks SIGINT/SIGTERM in every thread so the main thread can sigwait().
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int RunServer(const CommonServerFlags& f, bool up) {
  berth::log::Format format;
  berth::log::Level level;
  berth::log::ParseFormat(f.log_format, &format);
  berth::log::ParseLevel(f.log_level, &level);
  berth::log::Init(format, level);
  if (up && f.clean_up) {
    berth::cli::UpAgentOptions ao;
    ao.data_dir = std::filesystem::absolute(f.data_dir).lexically_normal().string();
    ao.bridges = f.agent_bridges;
    ao.subnets = f.agent_subnets;
    return berth::cli::CleanUpUpAgents(ao);
  }

  AppOptions options;
  options.data_dir = f.data_dir;
  auto listen = berth::server::ParseListen(f.listen);
  if (!listen) {
    fmt::print(stderr, "berth: {}\n", listen.error().message);
    return 2;
  }
  options.host = listen->first;
  options.port = listen->second;
  options.account_id = f.account_id;
  std::string root = f.root_credentials;
  const char* env_key = std::getenv("BERTH_ROOT_ACCESS_KEY_ID");
  const char* env_secret = std::getenv("BERTH_ROOT_SECRET_ACCESS_KEY");
  if (root.empty() && env_key && env_secret && *env_key && *env_secret) {
    root = fmt::format("{}:{}", env_key, env_secret);
  }
  if (!root.empty()) {
    auto creds = berth::server::ParseRootCredentials(root);
    if (!creds) {
      fmt::print(stderr, "berth: {}\n", creds.error().message);
      return 2;
    }
    options.root_credentials = *creds;
  }
  options.root_key_file = f.root_key_file;
  options.threads = f.threads;
  options.body_limit = f.body_limit;
  options.header_timeout = std::chrono::milliseconds(f.header_timeout_ms);
  options.max_connections = f.max_connections;
  options.body_memory_limit = f.body_memory_limit;
  options.tls_cert_file = f.tls_cert;
  options.tls_key_file = f.tls_key;
  options.insecure_http = f.insecure_http;
  options.acs_heartbeat_interval = std::chrono::seconds(f.acs_heartbeat_seconds);
  options.acs_refresh_before = std::chrono::seconds(f.acs_credentials_refresh_seconds);
  options.self_signed_tls = up && !f.insecure_http && f.tls_cert.empty();

  sigset_t stop_signals = BlockStopSignals();
  auto app = App::Start(options);
  if (!app) {
    fmt::print(stderr, "berth: cannot start: {}\n", app.error().message);
    return 1;
  }
  auto absolute = [](const std::string& path) {
    return std::filesystem::absolute(path).lexically_normal().string();
  };
  std::string creds_path = absolute((*app)->credentials_file());
  std::vector<berth::cli::UpAgent> agents;
  std::string agents_note;
  if (up && !f.no_agents) {
    if (std::string why = berth::cli::AgentsUnavailableReason(); !why.empty()) {
      agents_note = fmt::format("  agents       none: {}\n", why);
    } else {
      berth::cli::UpAgentOptions ao;
      ao.berth_binary = SelfBinary();
      ao.endpoint = (*app)->endpoint();
      ao.data_dir = absolute(f.data_dir);
      ao.credentials_file = creds_path;
      ao.ca_file = (*app)->ca_bundle().empty() ? "" : absolute((*app)->ca_bundle());
      ao.insecure_registries = f.insecure_registries;
      ao.registry_ca_file = f.registry_ca_file;
      ao.bridges = f.agent_bridges;
      ao.subnets = f.agent_subnets;
      auto started = berth::cli::StartUpAgents(ao);
      if (!started) {
        agents_note = fmt::format("  agents       not started: {}\n", started.error().message);
      } else {
        agents = std::move(*started);
        for (const auto& a : agents) {
          agents_note += fmt::format("  agent        {} (pid {}, log {})\n", a.name, a.pid, a.log_file);
        }
      }
    }
  }
  if (up) {
    std::string ca_line, ca_export;
    if (!(*app)->ca_bundle().empty()) {
      std::string ca = absolute((*app)->ca_bundle());
      ca_line = fmt::format("  CA bundle    {}  (signed the endpoint's certificate)\n", ca);
      ca_export = fmt::format(" AWS_CA_BUNDLE={}", ca);
    }
    fmt::print(
        "\nberth is up.\n\n"
        "  endpoint     {0}\n"
        "  account      {1}\n"
        "  credentials  {2}  (profile default)\n"
        "{3}{5}"
        "  region       us-east-1 (any region shaped like eu-west-1 works: it is taken from each\n"
        "               request's signature)\n\n"
        "Try it with the AWS CLI v2:\n\n"
        "  export AWS_SHARED_CREDENTIALS_FILE={2}{4} AWS_REGION=us-east-1\n"
        "  aws --endpoint-url {0} sts get-caller-identity\n\n"
        "{6}"
        "Stop with Ctrl-C{7}.\n",
        (*app)->endpoint(), (*app)->account_id(), creds_path, ca_line, ca_export, agents_note,
        agents.empty() ? std::string() : SeedWalkthrough((*app)->endpoint(), (*app)->account_id()),
        agents.empty() ? std::string()
                       : fmt::format(" (containers keep running: the next `berth up` adopts them;\n"
                                     "`berth up --clean-up --data-dir {}` then removes them, their "
                                     "networks and the agents' bridges)",
                                     absolute(f.data_dir)));
  } else {
    fmt::print("berth server listening on {} (credentials: {})\n", (*app)->endpoint(), creds_path);
  }
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  berth::log::Info("stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  berth::cli::StopUpAgents(agents);
  (*app)->Stop();
  berth::log::Info("stopped");
  return 0;
}

struct AccountFlags {
  std::string id;
  std::string endpoint = "http://127.0.0.1:4566";
  std::string credentials_file = "./berth-data/credentials";
  std::string operator_profile = "default";
  std::string profile;  // default: the new account's id
  std::string ca_bundle;  // default: $AWS_CA_BUNDLE
};

// `berth account create`: asks a running server (as the operator account's
// root) to create an account, and writes its root key as a profile.
int CreateAccount(const AccountFlags& f) {
  auto op = berth::aws::ReadProfile(f.credentials_file, f.operator_profile);
  if (!op) {
    fmt::print(stderr, "berth: {}\n", op.error().message);
    return 2;
  }
  std::string ca_bundle = f.ca_bundle;
  if (const char* env = std::getenv("AWS_CA_BUNDLE"); ca_bundle.empty() && env) ca_bundle = env;
  auto reply =
      berth::aws::CallJson({f.endpoint, "BerthAdmin_20261126.CreateAccount", "us-east-1", "berth",
                            berth::json::Dump(berth::json::Json{{"AccountId", f.id}})},
                           *op, berth::SystemClock::Instance().Now(), ca_bundle);
  if (!reply) {
    const berth::Error& e = reply.error();
    if (e.code == "ConnectionFailed" || e.code == "RequestTimeout") {
      fmt::print(stderr, "berth: cannot reach {}: {}\n", f.endpoint, e.message);
    } else {
      fmt::print(stderr, "berth: account create failed: {}: {}\n", e.code, e.message);
    }
    return 1;
  }
  auto body = berth::json::Json::parse(*reply, nullptr, false);
  if (!body.is_object()) {
    fmt::print(stderr, "berth: account create failed: the reply is not JSON\n");
    return 1;
  }
  berth::aws::Credentials creds{body.value("AccessKeyId", ""), body.value("SecretAccessKey", ""), ""};
  std::string profile = f.profile.empty() ? f.id : f.profile;
  auto written = berth::aws::WriteProfile(f.credentials_file, profile, creds);
  if (!written) {
    fmt::print(stderr, "berth: {}\n", written.error().message);
    return 1;
  }
  fmt::print("account {} created; its root credentials are profile '{}' in {}\n", f.id, profile,
             f.credentials_file);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Hidden: the per-container shim the agent's runtime starts (agent/runtime/runtime.h).
  if (argc >= 2 && std::string_view(argv[1]) == "runtime-shim") {
    return berth::agent::runtime::RunShim(argc - 2, argv + 2);
  }
  CLI::App cli{"berth: a self-hosted, ECS-compatible container platform"};
  cli.require_subcommand(1);

  CommonServerFlags server_flags;
  server_flags.data_dir = "./berth-data";
  server_flags.listen = "127.0.0.1:4566";
  auto* server = cli.add_subcommand("server", "Run the control plane (the AWS APIs)");
  AddServerFlags(server, server_flags, /*up=*/false);

  CommonServerFlags up_flags;
  up_flags.data_dir = "./berth-data";
  up_flags.listen = "127.0.0.1:4566";
  auto* up = cli.add_subcommand(
      "up", "Run berth on this machine with the embedded store, and print how to reach it");
  AddServerFlags(up, up_flags, /*up=*/true);

  auto* version = cli.add_subcommand("version", "Print the version");

  // Said plainly (CLI11's NonNegativeNumber names the range of a double).
  const CLI::Validator kNotNegative(
      [](std::string& value) -> std::string {
        return value.starts_with('-') ? "must not be negative" : "";
      },
      "NOT NEGATIVE");
  berth::cli::PullFlags pull_flags;
  auto* pull = cli.add_subcommand("pull", "Pull an image into the content store (and unpack it)");
  pull->add_option("image", pull_flags.image, "Image reference, e.g. registry.example.com:5000/team/api:1.4")
      ->required();
  pull->add_option("--creds", pull_flags.creds,
                   "Registry credentials USER:PASSWORD (other users of the host can read them in "
                   "/proc/<pid>/cmdline: prefer --username with --password-stdin)");
  pull->add_option("--username", pull_flags.username, "Registry user name, with --password-stdin");
  pull->add_flag("--password-stdin", pull_flags.password_stdin,
                 "Read the registry password for --username from the first line of stdin");
  pull->add_option("--docker-config", pull_flags.docker_config, "Docker config.json with auths");
  pull->add_option("--repository-credentials", pull_flags.repository_credentials,
                   "Secrets Manager secret (name or ARN) holding {\"username\",\"password\"}, "
                   "read from --endpoint as the caller (AWS_* environment, else --profile)");
  pull->add_option("--endpoint", pull_flags.endpoint,
                   "berth's endpoint URL (for --repository-credentials)");
  pull->add_option("--region", pull_flags.region,
                   "Region of a secret named by name (default: AWS_REGION, us-east-1)");
  pull->add_option(
      "--credentials-file", pull_flags.credentials_file,
      "Credentials file (default: AWS_SHARED_CREDENTIALS_FILE, ./berth-data/credentials)");
  pull->add_option(
      "--profile", pull_flags.profile,
      "Profile in the credentials file (wins over AWS_* keys; default: AWS_PROFILE, default)");
  pull->add_option("--dest", pull_flags.dest, "Unpack a rootfs here (must not exist)");
  pull->add_option("--store", pull_flags.store, "Content store directory");
  pull->add_option("--platform", pull_flags.platform, "os/arch[/variant] (default: this host's)");
  pull->add_option("--insecure-registry", pull_flags.insecure_registries,
                   "Registry host[:port] reachable over plain HTTP (repeatable)");
  pull->add_option("--ca-file", pull_flags.ca_file,
                   "Extra PEM CA bundle for TLS to the registry (and to --endpoint)");
  pull->add_option("--pull-policy", pull_flags.policy,
                   "default, always, once or prefer-cached (ECS_IMAGE_PULL_BEHAVIOR)");
  pull->add_option("--parallel", pull_flags.parallel, "Blobs downloaded at once");
  pull->add_option("--max-layer-bytes", pull_flags.max_layer_bytes,
                   "Largest uncompressed size of one layer, e.g. 16GiB, 500MB (0: no limit)")
      ->check(kNotNegative)
      ->transform(CLI::AsSizeValue(/*kb_is_1000=*/true))
      ->capture_default_str();
  pull->add_option("--max-layer-files", pull_flags.max_layer_files,
                   "Most entries (files, directories, links) in one layer (0: no limit)")
      ->check(kNotNegative)
      ->capture_default_str();
  pull->add_option("--timeout", pull_flags.timeout_seconds,
                   "Deadline for the pull's transfers, e.g. 90s, 30m, 2h (0: none)")
      ->check(kNotNegative)
      ->transform(CLI::AsNumberWithUnit(
          std::map<std::string, double>{{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}}))
      ->capture_default_str();
  pull->add_option("--low-speed-limit", pull_flags.low_speed_limit,
                   "A transfer slower than this many bytes a second for --low-speed-time is "
                   "abandoned and retried, e.g. 1KiB (0: no floor)")
      ->check(kNotNegative)
      ->transform(CLI::AsSizeValue(/*kb_is_1000=*/true))
      ->capture_default_str();
  pull->add_option("--low-speed-time", pull_flags.low_speed_time,
                   "Seconds a transfer may stay under --low-speed-limit")
      ->check(CLI::Range(int64_t{1}, int64_t{24 * 3600}))
      ->capture_default_str();

  std::string image_store = "./berth-data/content";
  std::vector<std::string> image_refs;
  auto* image = cli.add_subcommand("image", "Manage images in a content store");
  image->require_subcommand(1);
  auto* image_rm = image->add_subcommand("rm", "Forget images (their blobs become prunable)");
  image_rm->add_option("images", image_refs, "Image references")->required();
  image_rm->add_option("--store", image_store, "Content store directory");
  auto* image_prune = image->add_subcommand("prune", "Delete blobs no image references");
  image_prune->add_option("--store", image_store, "Content store directory");

  AccountFlags account_flags;
  auto* account = cli.add_subcommand("account", "Manage accounts on a running server");
  account->require_subcommand(1);
  auto* account_create = account->add_subcommand(
      "create", "Create an account and write its root credentials as a profile");
  account_create->add_option("--id", account_flags.id, "The new account's 12-digit id")->required();
  account_create->add_option("--endpoint", account_flags.endpoint, "The server's endpoint URL");
  account_create->add_option("--credentials-file", account_flags.credentials_file,
                             "Shared-credentials file holding the operator's profile; the new "
                             "profile is written there too");
  account_create->add_option("--operator-profile", account_flags.operator_profile,
                             "Profile of the operator account's root");
  account_create->add_option("--profile", account_flags.profile,
                             "Profile name for the new account (default: its id)");
  account_create->add_option("--ca-bundle", account_flags.ca_bundle,
                             "PEM CA bundle to trust for an https endpoint, e.g. berth up's "
                             "DATA_DIR/tls/ca.pem (default: $AWS_CA_BUNDLE)");

  berth::cli::AgentFlags agent_flags;
  auto* agent = cli.add_subcommand(
      "agent", "Run the host agent: register this host with a cluster and run its tasks (root)");
  agent->add_option("--endpoint", agent_flags.endpoint, "berth's endpoint URL");
  agent->add_option("--cluster", agent_flags.cluster,
                    "Cluster to register in (default: default; with --fargate, the platform's "
                    "Fargate pool berth-fargate, in the server's operator account)");
  agent->add_flag("--external", agent_flags.external,
                  "Register as an EXTERNAL (ECS Anywhere) instance: ECS_ENGINE_AUTH_* are ignored");
  agent->add_flag("--fargate", agent_flags.fargate,
                  "Be the platform's Fargate capacity: run FARGATE tasks only");
  agent->add_option("--platform-version", agent_flags.platform_version,
                    "With --fargate: the Fargate platform version this capacity runs");
  agent->add_option("--data-dir", agent_flags.data_dir,
                    "Directory for the agent's state, images and containers");
  agent->add_option("--ca-file", agent_flags.ca_file,
                    "PEM CA bundle to trust for an https endpoint (default: $AWS_CA_BUNDLE)");
  agent->add_option("--region", agent_flags.region,
                    "Region (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)");
  agent->add_option("--profile", agent_flags.profile, "Profile of the agent's IAM credentials");
  agent->add_option("--credentials-file", agent_flags.credentials_file,
                    "Shared-credentials file (default: AWS_SHARED_CREDENTIALS_FILE, "
                    "./berth-data/credentials)");
  agent->add_option("--insecure-registry", agent_flags.insecure_registries,
                    "Registry HOST[:PORT] to reach over plain HTTP (repeatable)");
  agent->add_option("--registry-ca-file", agent_flags.registry_ca_file,
                    "Extra PEM CA bundle to trust for registries");
  agent->add_flag("--trust-cached-images", agent_flags.trust_cached_images,
                  "Run a cached image without asking its registry whether the task's "
                  "credentials may pull it (air-gapped hosts)");
  agent->add_flag("--allow-privileged", agent_flags.allow_privileged,
                  "Run containers whose definition says privileged");
  agent->add_option("--bridge", agent_flags.bridge, "Bridge for task networks (at most 15 chars)")
      ->check(kBridgeName);
  agent->add_option("--subnet", agent_flags.subnet, "IPv4 /24 subnet of the bridge");
  agent->add_option("--network-pool", agent_flags.network_pool,
                    "Task networks (bridge, awsvpc) kept ready ahead of tasks; 0: none")
      ->check(CLI::Range(0, 64));
  agent->add_flag("--hollow", agent_flags.hollow,
                  "Benchmarks only: keep containers and networks in memory and pull nothing "
                  "(the control plane sees a real agent)");
  agent->add_flag("--clean-up", agent_flags.clean_up,
                  "Instead of running: remove what a stopped agent left on this host (its "
                  "containers, their mounts, task networks, --bridge and its iptables rules); "
                  "images and state stay. Refused while an agent runs on --data-dir");
  agent->add_option("--log-format", agent_flags.log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  agent->add_option("--log-level", agent_flags.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));

  CLI11_PARSE(cli, argc, argv);
  if (*version) {
    fmt::print("berth {}\n", BERTH_VERSION);
    return 0;
  }
  if (*server) return RunServer(server_flags, /*up=*/false);
  if (*up) return RunServer(up_flags, /*up=*/true);
  if (*account_create) return CreateAccount(account_flags);
  if (*agent) return berth::cli::RunAgent(agent_flags);
  if (*pull) return berth::cli::RunPull(pull_flags);
  if (*image_rm) return berth::cli::RunImageRemove(image_store, image_refs);
  if (*image_prune) return berth::cli::RunImagePrune(image_store);
  return 0;
}
