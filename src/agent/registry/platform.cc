#include "agent/registry/platform.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "common/strings.h"

namespace berth::agent::registry {
namespace {

bool IsComponent(std::string_view s) {
  return !s.empty() && s.size() <= 32 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  });
}

std::string NormalArchitecture(std::string arch) {
  if (arch == "x86_64" || arch == "x86-64") return "amd64";
  if (arch == "aarch64") return "arm64";
  return arch;
}

std::string NormalVariant(const Platform& p) {
  return p.architecture == "arm64" && p.variant == "v8" ? "" : p.variant;
}

}  // namespace

std::string Platform::ToString() const {
  return variant.empty() ? fmt::format("{}/{}", os, architecture)
                         : fmt::format("{}/{}/{}", os, architecture, variant);
}

Platform HostPlatform() {
#if defined(__aarch64__)
  return Platform{"linux", "arm64", ""};
#else
  return Platform{"linux", "amd64", ""};
#endif
}

Result<Platform> ParsePlatform(std::string_view text) {
  std::vector<std::string> parts;
  std::string lower = ToLower(text);
  for (size_t start = 0; start <= lower.size();) {
    size_t end = std::min(lower.find('/', start), lower.size());
    parts.push_back(lower.substr(start, end - start));
    start = end + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 ||
      !std::all_of(parts.begin(), parts.end(), IsComponent)) {
    return Fail("InvalidPlatform",
                fmt::format("invalid platform {:?}: expected os/architecture[/variant], e.g. "
                            "linux/amd64 or linux/arm/v7",
                            text.substr(0, 100)));
  }
  return Platform{parts[0], NormalArchitecture(parts[1]), parts.size() == 3 ? parts[2] : ""};
}

bool PlatformMatches(const Platform& wanted, const Platform& candidate) {
  if (wanted.os != candidate.os || wanted.architecture != candidate.architecture) return false;
  return wanted.variant.empty() || NormalVariant(wanted) == NormalVariant(candidate);
}

}  // namespace berth::agent::registry
