// Platforms (os/architecture[/variant]) for choosing one manifest of a
// multi-platform image, as `--platform` and OCI image indexes spell them.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace berth::agent::registry {

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // GOARCH spelling: "amd64", "arm64", "arm", ...
  std::string variant;       // "v7", "v8", ... or "" for any

  // "os/architecture[/variant]".
  std::string ToString() const;
  bool operator==(const Platform&) const = default;
};

// The platform this binary runs on: linux/amd64 on x86-64, linux/arm64 on
// AArch64 (the default for pulls).
Platform HostPlatform();

// Parses "os/arch[/variant]" (`--platform`), lower-casing it and normalising
// the common aliases (x86_64 and x86-64 -> amd64, aarch64 -> arm64).
// Errors: "InvalidPlatform" (400) naming the input.
Result<Platform> ParsePlatform(std::string_view text);

// True when an index entry for `candidate` may run where `wanted` was asked
// for: same os and architecture, and the same variant when `wanted` names one
// (arm64's "v8" and "" are the same variant).
bool PlatformMatches(const Platform& wanted, const Platform& candidate);

}  // namespace berth::agent::registry
