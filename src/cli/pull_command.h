// `berth pull`: the agent's pull pipeline as a command, with docker-style
// progress bars on a terminal and one line per event otherwise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/registry/puller.h"
#include "agent/registry/transport.h"
#include "agent/unpack/unpack.h"

namespace berth::cli {

struct PullFlags {
  std::string image;
  // "user:pass". Any user of the host can read it in /proc/<pid>/cmdline
  // while the pull runs: `username` with `password_stdin` keeps it out.
  std::string creds;
  // With password_stdin: the password is the first line of standard input
  // (as `docker login --password-stdin`), the trailing newline dropped.
  std::string username;
  bool password_stdin = false;
  std::string docker_config;  // path to a Docker config.json
  // A Secrets Manager secret {"username","password"} read from berth as the
  // caller (credentials chosen as the AWS CLI chooses them: `profile`, else
  // AWS_ACCESS_KEY_ID/..., else AWS_PROFILE, else "default", from
  // `credentials_file`, else AWS_SHARED_CREDENTIALS_FILE, else
  // ./berth-data/credentials), as the ECS agent reads a task's repositoryCredentials.
  std::string repository_credentials;
  std::string endpoint = "http://127.0.0.1:4566";
  std::string region;            // default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1
  std::string credentials_file;  // default: AWS_SHARED_CREDENTIALS_FILE, ./berth-data/credentials
  std::string profile;           // default: AWS_PROFILE, "default"
  std::string dest;           // rootfs to create
  std::string store = "./berth-data/content";
  std::string platform;       // "os/arch[/variant]"
  std::vector<std::string> insecure_registries;
  std::string ca_file;
  std::string policy = "default";
  int parallel = 4;
  // Limits; zero turns one off. Layers: uncompressed bytes and entries of
  // one layer. The pull: a deadline for all its transfers (seconds), and a
  // floor on transfer speed (bytes a second over low_speed_time seconds).
  int64_t max_layer_bytes = agent::unpack::kDefaultMaxLayerBytes;
  int64_t max_layer_files = agent::unpack::kDefaultMaxLayerEntries;
  double timeout_seconds =
      std::chrono::duration<double>(agent::registry::kDefaultPullTimeout).count();
  int64_t low_speed_limit = agent::registry::kDefaultLowSpeedBytes;
  int64_t low_speed_time = agent::registry::kDefaultLowSpeedTime.count();
};

// Runs the pull; returns the process exit code (0 ok, 1 pull failed, 2 bad flags).
int RunPull(const PullFlags& flags);

// `berth image rm REF...` (forget images) and `berth image prune` (collect
// unreferenced blobs) on a content store.
int RunImageRemove(const std::string& store, const std::vector<std::string>& images);
int RunImagePrune(const std::string& store);

}  // namespace berth::cli
