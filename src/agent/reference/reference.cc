#include "agent/reference/reference.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>

#include "common/strings.h"

namespace berth::agent::reference {
namespace {

constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;
constexpr size_t kSha256HexLength = 64;
// References come from task definitions: quote at most this much of one in a
// message so a hostile one cannot flood a log or a stoppedReason.
constexpr size_t kMaxQuotedLength = 300;

std::unexpected<Error> Invalid(std::string_view text, std::string_view problem) {
  std::string_view quoted = text.substr(0, kMaxQuotedLength);
  return Fail("InvalidImageReference",
              fmt::format("invalid reference format: {} (in {:?}{})", problem, quoted,
                          quoted.size() < text.size() ? "..." : ""));
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsLowerHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }
bool IsWordChar(char c) { return IsAlnum(c) || c == '_'; }

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*
// separator      := "." | "_" | "__" | "-"+
bool IsPathComponent(std::string_view c) {
  size_t i = 0;
  while (true) {
    size_t start = i;
    while (i < c.size() && IsLowerAlnum(c[i])) ++i;
    if (i == start) return false;  // empty, or a separator at the start or end
    if (i == c.size()) return true;
    std::string_view separator = c.substr(i, c.find_first_not_of("._-", i) - i);
    bool valid = separator == "." || separator == "_" || separator == "__" ||
                 separator.find_first_not_of('-') == std::string_view::npos;
    if (!valid) return false;
    i += separator.size();
  }
}

// domain-component := [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]
bool IsDomainName(std::string_view name) {
  size_t start = 0;
  while (true) {
    size_t end = std::min(name.find('.', start), name.size());
    std::string_view label = name.substr(start, end - start);
    if (label.empty() || !IsAlnum(label.front()) || !IsAlnum(label.back())) return false;
    if (!std::all_of(label.begin(), label.end(), [](char c) { return IsAlnum(c) || c == '-'; })) {
      return false;
    }
    if (end == name.size()) return true;
    start = end + 1;
  }
}

bool IsPort(std::string_view port) {
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), IsDigit)) {
    return false;
  }
  return std::stoul(std::string(port)) <= 65535;
}

// host := domain-name | IPv4 | "[" IPv6 "]", then an optional ":" port.
bool IsHost(std::string_view host) {
  std::string_view name = host;
  std::string_view port;
  bool has_port = false;
  if (host.starts_with('[')) {
    size_t close = host.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    std::string_view address = host.substr(1, close - 1);
    if (!std::all_of(address.begin(), address.end(), [](char c) { return IsHex(c) || c == ':'; })) {
      return false;
    }
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      has_port = true;
      port = rest.substr(1);
    }
    return !has_port || IsPort(port);
  }
  if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
    has_port = true;
  }
  return IsDomainName(name) && (!has_port || IsPort(port));
}

bool IsTag(std::string_view tag) {
  return !tag.empty() && tag.size() <= kMaxTagLength && IsWordChar(tag.front()) &&
         std::all_of(tag.begin(), tag.end(),
                     [](char c) { return IsWordChar(c) || c == '.' || c == '-'; });
}

// Docker refuses a bare 64-hex name: it is an image id, not a repository.
bool IsImageId(std::string_view text) {
  return text.size() == kSha256HexLength && std::all_of(text.begin(), text.end(), IsLowerHex);
}

// Empty when `digest` is acceptable, otherwise what is wrong with it.
std::string DigestProblem(std::string_view digest) {
  size_t colon = digest.find(':');
  if (colon == std::string_view::npos || colon == 0) return "invalid digest format";
  std::string_view algorithm = digest.substr(0, colon);
  std::string_view hex = digest.substr(colon + 1);
  if (algorithm != "sha256") {
    return fmt::format("unsupported digest algorithm {:?} (only sha256 is supported)",
                       algorithm.substr(0, 32));
  }
  if (hex.size() != kSha256HexLength || !std::all_of(hex.begin(), hex.end(), IsLowerHex)) {
    return "a sha256 digest must be 64 lower-case hex digits";
  }
  return "";
}

}  // namespace

bool IsDockerHubHost(std::string_view host) {
  return host == kDockerHubRegistry || host == "docker.io" || host == "index.docker.io";
}

std::string Reference::ToString() const {
  std::string out = registry + "/" + repository;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string Reference::Locator() const { return digest.empty() ? tag : digest; }

Result<Reference> ParseReference(std::string_view text) {
  if (IsImageId(text)) {
    return Invalid(text, "a 64-digit hexadecimal string is an image id, not a repository name");
  }

  // Split from the right: "@digest", then the host, then ":tag". Path
  // components cannot contain ':' or '@', so the first of each is the separator.
  std::string_view rest = text;
  std::string_view digest;
  bool has_digest = false;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    has_digest = true;
  }

  std::string_view host;
  std::string_view remainder = rest;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, slash);
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost") {
      host = first;
      remainder = rest.substr(slash + 1);
    }
  }

  std::string_view path = remainder;
  std::string_view tag;
  bool has_tag = false;
  if (size_t colon = remainder.find(':'); colon != std::string_view::npos) {
    path = remainder.substr(0, colon);
    tag = remainder.substr(colon + 1);
    has_tag = true;
  }

  if (!host.empty() && !IsHost(host)) {
    return Invalid(text, fmt::format("invalid registry host {:?}", host.substr(0, 64)));
  }
  if (path.empty()) return Invalid(text, "repository name must have at least one component");
  if (std::any_of(path.begin(), path.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return Invalid(text, "repository name must be lowercase");
  }
  for (size_t start = 0; start <= path.size();) {
    size_t end = std::min(path.find('/', start), path.size());
    if (!IsPathComponent(path.substr(start, end - start))) {
      return Invalid(text,
                     "repository name components must be lower-case letters and digits joined "
                     "by '.', '_', '__' or '-'");
    }
    start = end + 1;
  }
  if (has_tag && !IsTag(tag)) {
    return Invalid(text,
                   "invalid tag format (tags are up to 128 of [A-Za-z0-9_.-], not starting "
                   "with '.' or '-')");
  }
  if (has_digest) {
    if (std::string problem = DigestProblem(digest); !problem.empty()) {
      return Invalid(text, problem);
    }
  }

  Reference ref;
  ref.registry = host.empty() ? std::string(kDockerHubRegistry) : ToLower(host);
  bool docker_hub = IsDockerHubHost(ref.registry);
  if (docker_hub) {
    ref.registry = kDockerHubRegistry;
    ref.repository = path.find('/') == std::string_view::npos ? "library/" : "";
  }
  ref.repository += path;
  // Docker measures the name with Docker Hub spelled "docker.io".
  size_t name_length = (docker_hub ? std::string_view("docker.io").size() : ref.registry.size()) +
                       1 + ref.repository.size();
  if (name_length > kMaxNameLength) {
    return Invalid(text, "repository name must not be more than 255 characters");
  }
  ref.tag = has_tag ? std::string(tag) : has_digest ? "" : "latest";
  ref.digest = digest;
  return ref;
}

}  // namespace berth::agent::reference
