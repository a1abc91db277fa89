// `berth agent`: the host agent. Registers this host as a container instance of a cluster,
// holds the ACS session, and runs the tasks it is given under runc (engine/).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace berth::cli {

struct AgentFlags {
  std::string endpoint = "http://127.0.0.1:4566";
  std::string cluster;  // "": default, or with --fargate the platform's pool (berth-fargate)
  bool external = false;  // ECS Anywhere: EXTERNAL tasks; ECS_ENGINE_AUTH_* ignored
  bool fargate = false;   // the platform's Fargate capacity: FARGATE tasks only
  std::string platform_version = "1.4.0";
  std::string data_dir = "./berth-data/agent";
  std::string ca_file;  // CA bundle for the endpoint (default $AWS_CA_BUNDLE)
  std::string region;   // default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1
  std::string profile;
  std::string credentials_file;
  std::vector<std::string> insecure_registries;
  std::string registry_ca_file;
  bool trust_cached_images = false;
  bool allow_privileged = false;
  std::string bridge = "berth0";
  std::string subnet = "10.213.0.0/24";
  int network_pool = 4;  // task networks made ahead of need (agent/network/pool.h)
  int64_t reserved_memory_mib = -1;  // -1: $ECS_RESERVED_MEMORY, else 0
  std::string pull_behavior;         // "": $ECS_IMAGE_PULL_BEHAVIOR, else default
  int stop_timeout_seconds = 0;      // 0: $ECS_CONTAINER_STOP_TIMEOUT, else 30
  std::string log_format = "text";
  std::string log_level = "info";
  // Control-plane benchmarks (as Kubernetes' kubemark hollow nodes): the real agent and
  // protocol, with containers and task networks kept in memory (no process, namespace or
  // rule) and images not pulled. Needs no root.
  bool hollow = false;
  // Instead of running: remove what a stopped agent left on the host (its containers, their
  // mounts, task networks, the bridge and its iptables rules). Images and state stay.
  bool clean_up = false;
};

// Runs until SIGINT/SIGTERM (containers keep running; the next start adopts them). The
// runtime finds its shim and init (berth-shim, berth-init) beside the running binary. One
// agent per data dir: a second one on it exits at once (1), saying whose it is. With
// clean_up, cleans up after a stopped agent instead (refused while one runs on the dir).
// Returns the process exit code: 0 stopped (or cleaned up), 1 failed, 2 bad flags.
int RunAgent(const AgentFlags& flags);

}  // namespace berth::cli
