// Image references: the first stage of the agent's pull pipeline (DESIGN.md).
//
// ParseReference turns what a task definition or `berth pull` names
// ("busybox", "registry.example.com:5000/team/api:1.4", "host/x@sha256:...")
// into the registry to contact and the repository and manifest to ask for,
// following the docker/distribution reference grammar and Docker's defaults.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace berth::agent::reference {

// The host that serves Docker Hub's registry API. References to Docker Hub,
// however spelled, carry this as their registry.
inline constexpr std::string_view kDockerHubRegistry = "registry-1.docker.io";

// True for the names Docker Hub goes by: "docker.io", "index.docker.io" and
// "registry-1.docker.io". `host` must already be lower case.
bool IsDockerHubHost(std::string_view host);

// A parsed, normalised image reference. Every field is valid by construction
// when it comes from ParseReference.
struct Reference {
  // host[:port] in lower case, e.g. "registry-1.docker.io", "127.0.0.1:5000",
  // "[::1]:5000". Never empty.
  std::string registry;
  // Slash-separated path, e.g. "library/busybox". Never empty.
  std::string repository;
  // "latest" when the reference named neither a tag nor a digest; empty when it
  // named only a digest.
  std::string tag;
  // "sha256:<64 lower-case hex>", or empty.
  std::string digest;

  // registry/repository[:tag][@digest]; ParseReference(ToString()) yields *this.
  std::string ToString() const;
  // What to ask for in GET /v2/<repository>/manifests/<Locator()>: the digest
  // when there is one (it pins the content; a tag beside it is informational),
  // otherwise the tag.
  std::string Locator() const;

  bool operator==(const Reference&) const = default;
};

// Parses `[host[:port]/]path[:tag][@digest]`.
//
// - The first path component is a host when it contains '.' or ':' or is
//   "localhost"; IPv6 hosts are written in brackets ("[::1]:5000"). Otherwise the
//   registry is Docker Hub. Hosts are lower-cased (DNS names are case-insensitive).
// - Docker Hub ("docker.io", "index.docker.io", "registry-1.docker.io") becomes
//   kDockerHubRegistry, and a single-component Docker Hub path gets "library/".
// - Path components are lower-case [a-z0-9]+ joined by '.', '_', "__" or runs
//   of '-'; the name ("docker.io" for Docker Hub, then "/" and the path) is at
//   most 255 characters.
// - Tags match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
// - Digests must be sha256 with 64 lower-case hex digits; other algorithms are
//   refused as unsupported.
//
// Errors: "InvalidImageReference" (400), with a message that starts with
// "invalid reference format: ", says what is wrong and quotes the reference.
Result<Reference> ParseReference(std::string_view text);

}  // namespace berth::agent::reference
