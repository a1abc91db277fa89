// Manifests and indexes of the OCI image spec and Docker's image manifest v2
// schema 2: media types, parsing into descriptors, and platform selection.
// Pure functions over bytes; the resolver fetches and verifies the bytes.
//
// Everything here is registry content, hence hostile: a malformed or unknown
// document is an error ("CannotPullContainerError", with a message that says what
// is wrong, meant to follow a context such as "manifest sha256:...: "), never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/content/store.h"
#include "agent/registry/platform.h"
#include "common/error.h"

namespace berth::agent::registry {

inline constexpr std::string_view kOciIndexType = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifestType = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kDockerManifestListType =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifestType =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kOciConfigType = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kDockerConfigType =
    "application/vnd.docker.container.image.v1+json";

// The Accept header of a manifest request: the four types above that a
// reference may resolve to.
inline constexpr std::string_view kManifestAccept =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

// Manifests larger than this are refused (containerd's limit).
inline constexpr size_t kMaxManifestSize = 4 << 20;
// Image configs are read whole into memory: a manifest naming a larger one is
// refused before it is fetched. Real configs are KBs; their history and
// labels for hundreds of layers stay far below this.
inline constexpr int64_t kMaxConfigSize = 8 << 20;

bool IsIndexMediaType(std::string_view media_type);     // OCI index, Docker manifest list
bool IsManifestMediaType(std::string_view media_type);  // OCI manifest, Docker v2 manifest
// Layer types the unpack stage understands: OCI tar, tar+gzip, tar+zstd and
// Docker's tar.gzip (and plain tar). Non-distributable ("foreign") layers are not.
bool IsLayerMediaType(std::string_view media_type);

// What a manifest reply is: the document's own "mediaType" when it has one
// (it must then agree with a manifest Content-Type), else the Content-Type
// (parameters dropped), else, for a schemaVersion 2 document without either, the
// OCI type its shape shows. Errors for Docker schema 1, for any other type, and
// for a body that is not a JSON object.
Result<std::string> ManifestMediaType(std::string_view content_type, std::string_view body);

// An image manifest: the config blob and the layers, bottom first.
struct ImageManifest {
  content::Descriptor config;
  std::vector<content::Descriptor> layers;
};

// Parses an image manifest of `media_type` (IsManifestMediaType). Requires
// schemaVersion 2, a container image config type of at most kMaxConfigSize
// bytes, sha256 digests, sizes >= 0 and supported layer types.
Result<ImageManifest> ParseImageManifest(std::string_view media_type, std::string_view body);

struct IndexEntry {
  content::Descriptor descriptor;
  Platform platform;  // empty fields when the entry has no platform
};

// Parses an image index / manifest list (IsIndexMediaType).
Result<std::vector<IndexEntry>> ParseIndex(std::string_view body);

// The image manifest in `entries` for `wanted` (PlatformMatches; entries that
// are not image manifests, such as attestations or nested indexes, never
// match): the first whose variant equals the wanted one, else the first that
// matches. Error "no matching manifest for <platform> in the manifest list
// entries (available: ...)".
Result<IndexEntry> SelectPlatform(const std::vector<IndexEntry>& entries, const Platform& wanted);

}  // namespace berth::agent::registry
