// The OCI runtime spec (config.json) of one container: the image's config overlaid with the
// container definition the way Docker overlays them, as runc 1.1 (runtime spec 1.0.2) reads it.
// Pure functions but one (MakeSpec reads the image's /etc/passwd and /etc/group).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/runtime/runtime.h"
#include "common/error.h"

namespace berth::agent::runtime {

// What of an OCI image config a container uses. Missing members are empty.
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "NAME=value"
  std::string working_dir;
  std::string user;
};

// Reads the image config blob ({"config": {...}}) or its "config" object alone; "" is an
// empty config. Error CannotCreateContainerError when it is not such JSON.
Result<ImageConfig> ParseImageConfig(std::string_view json);

// Docker's rule: an entry point given replaces the image's Entrypoint and its Cmd (the command
// is then only what is given); a command alone replaces the image's Cmd. Entrypoint + Cmd.
std::vector<std::string> ProcessArgs(const ImageConfig& image,
                                     const std::vector<std::string>& entry_point,
                                     const std::vector<std::string>& command);

// The image's Env with `overrides` applied by name (a variable keeps its place; new ones are
// appended in name order), and PATH set to kDefaultPath when neither has one.
inline constexpr std::string_view kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
std::vector<std::string> MergeEnvironment(const std::vector<std::string>& image_env,
                                          const std::map<std::string, std::string>& overrides);

struct UserIds {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;  // the groups of /etc/group listing the user's name
};

// Resolves "uid", "uid:gid", "name", "name:group" (and mixes) against the image's passwd and
// group files' contents, as Docker does: a numeric uid needs no entry (gid then 0 unless the
// entry says otherwise); a name must have one. "" is root. Error CannotCreateContainerError
// "unable to find user NAME: no matching entries in passwd file" (or group).
Result<UserIds> ResolveUser(std::string_view user, std::string_view passwd, std::string_view group);

struct SpecOptions {
  bool allow_privileged = false;
  // The static init bound at /.berth-init when config.init; "" refuses init.
  std::string init_binary;
};

inline constexpr std::string_view kInitPath = "/.berth-init";

// config.json for `config` with the image config and user already resolved. The rootfs is the
// bundle's "rootfs" directory. config.hostname must be set (the caller picks the default).
// Errors CannotCreateContainerError: privileged without allow_privileged, an unknown ulimit
// name, no command, init without init_binary.
Result<std::string> BuildSpec(const ContainerConfig& config, const ImageConfig& image,
                              const UserIds& user, const SpecOptions& options);

// ParseImageConfig + ResolveUser (reading etc/passwd and etc/group inside config.image_rootfs,
// symlinks resolved within it) + BuildSpec.
Result<std::string> MakeSpec(const ContainerConfig& config, const SpecOptions& options);

}  // namespace berth::agent::runtime
