#include "agent/registry/manifest.h"

#include <fmt/format.h>

#include <algorithm>

#include "agent/registry/errors.h"
#include "common/json.h"
#include "common/strings.h"

namespace berth::agent::registry {
namespace {

using json::Json;

constexpr size_t kMaxQuoted = 100;

std::unexpected<Error> Bad(std::string message) {
  return Fail(std::string(kCannotPullContainerError), std::move(message), 502);
}

std::string Quote(std::string_view s) { return fmt::format("{:?}", s.substr(0, kMaxQuoted)); }

std::string StringOr(const Json& object, const char* key) {
  auto it = object.find(key);
  return (it != object.end() && it->is_string()) ? it->get<std::string>() : "";
}

Result<Json> ParseJsonObject(std::string_view body) {
  Json parsed = Json::parse(body.begin(), body.end(), nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return Bad("not a JSON object");
  return parsed;
}

Status CheckSchemaVersion(const Json& doc) {
  auto it = doc.find("schemaVersion");
  if (it == doc.end() || !it->is_number_integer() || it->get<int64_t>() != 2) {
    return Bad("schemaVersion must be 2");
  }
  return {};
}

// `where` names the descriptor in messages ("config", "layer 3").
Result<content::Descriptor> ParseDescriptor(const Json& value, std::string_view where) {
  if (!value.is_object()) return Bad(fmt::format("{} is not a descriptor object", where));
  content::Descriptor d;
  d.media_type = StringOr(value, "mediaType");
  d.digest = StringOr(value, "digest");
  if (!content::IsValidDigest(d.digest)) {
    return Bad(
        fmt::format("{} has digest {}; a sha256 digest is required", where, Quote(d.digest)));
  }
  auto size = value.find("size");
  if (size == value.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return Bad(fmt::format("{} has no valid size", where));
  }
  d.size = size->get<int64_t>();
  if (auto annotations = value.find("annotations");
      annotations != value.end() && annotations->is_object()) {
    for (const auto& [key, v] : annotations->items()) {
      if (v.is_string()) d.annotations[key] = v.get<std::string>();
    }
  }
  return d;
}

bool IsSchema1(std::string_view media_type) {
  return media_type == "application/vnd.docker.distribution.manifest.v1+json" ||
         media_type == "application/vnd.docker.distribution.manifest.v1+prettyjws";
}

bool IsKnownManifestType(std::string_view media_type) {
  return IsIndexMediaType(media_type) || IsManifestMediaType(media_type) || IsSchema1(media_type);
}

}  // namespace

bool IsIndexMediaType(std::string_view media_type) {
  return media_type == kOciIndexType || media_type == kDockerManifestListType;
}

bool IsManifestMediaType(std::string_view media_type) {
  return media_type == kOciManifestType || media_type == kDockerManifestType;
}

bool IsLayerMediaType(std::string_view media_type) {
  return media_type == "application/vnd.oci.image.layer.v1.tar" ||
         media_type == "application/vnd.oci.image.layer.v1.tar+gzip" ||
         media_type == "application/vnd.oci.image.layer.v1.tar+zstd" ||
         media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip" ||
         media_type == "application/vnd.docker.image.rootfs.diff.tar";
}

Result<std::string> ManifestMediaType(std::string_view content_type, std::string_view body) {
  std::string header = ToLower(Trim(content_type.substr(0, content_type.find(';'))));
  Json doc = BERTH_TRY(ParseJsonObject(body));
  std::string declared = StringOr(doc, "mediaType");
  std::string type = declared;
  if (!declared.empty()) {
    if (IsKnownManifestType(header) && header != declared) {
      return Bad(fmt::format("Content-Type {} disagrees with the document's mediaType {}",
                             Quote(header), Quote(declared)));
    }
  } else if (!header.empty() && header != "application/json" &&
             header != "application/octet-stream" && header != "text/plain") {
    type = header;
  } else if (CheckSchemaVersion(doc)) {
    // OCI allows a manifest without mediaType; its shape tells which it is.
    if (doc.contains("manifests")) type = kOciIndexType;
    if (doc.contains("config") && doc.contains("layers")) type = kOciManifestType;
  }
  if (IsSchema1(type)) {
    return Bad(
        "Docker image manifest schema 1 is not supported; push the image again with a "
        "current client (schema 2 or OCI)");
  }
  if (!IsIndexMediaType(type) && !IsManifestMediaType(type)) {
    return Bad(type.empty() ? std::string("the manifest's media type is unknown")
                            : fmt::format("unsupported manifest media type {}", Quote(type)));
  }
  return type;
}

Result<ImageManifest> ParseImageManifest(std::string_view media_type, std::string_view body) {
  if (!IsManifestMediaType(media_type)) {
    return Bad(fmt::format("{} is not an image manifest type", Quote(media_type)));
  }
  Json doc = BERTH_TRY(ParseJsonObject(body));
  BERTH_CHECK(CheckSchemaVersion(doc));
  auto config = doc.find("config");
  if (config == doc.end()) return Bad("the manifest has no config");
  ImageManifest manifest;
  manifest.config = BERTH_TRY(ParseDescriptor(*config, "config"));
  if (manifest.config.media_type != kOciConfigType &&
      manifest.config.media_type != kDockerConfigType) {
    return Bad(fmt::format("not a container image: config media type {}",
                           Quote(manifest.config.media_type)));
  }
  if (manifest.config.size > kMaxConfigSize) {
    return Bad(
        fmt::format("the image config is {} bytes, more than the {} bytes an image config "
                    "may have",
                    manifest.config.size, kMaxConfigSize));
  }
  auto layers = doc.find("layers");
  if (layers == doc.end() || !layers->is_array()) return Bad("the manifest has no layers array");
  for (size_t i = 0; i < layers->size(); ++i) {
    std::string where = fmt::format("layer {}", i);
    content::Descriptor layer = BERTH_TRY(ParseDescriptor((*layers)[i], where));
    if (!IsLayerMediaType(layer.media_type)) {
      return Bad(fmt::format("{} has unsupported media type {}", where, Quote(layer.media_type)));
    }
    manifest.layers.push_back(std::move(layer));
  }
  return manifest;
}

Result<std::vector<IndexEntry>> ParseIndex(std::string_view body) {
  Json doc = BERTH_TRY(ParseJsonObject(body));
  BERTH_CHECK(CheckSchemaVersion(doc));
  auto manifests = doc.find("manifests");
  if (manifests == doc.end() || !manifests->is_array()) {
    return Bad("the index has no manifests array");
  }
  std::vector<IndexEntry> entries;
  for (size_t i = 0; i < manifests->size(); ++i) {
    const Json& m = (*manifests)[i];
    IndexEntry entry;
    entry.descriptor = BERTH_TRY(ParseDescriptor(m, fmt::format("index entry {}", i)));
    if (auto platform = m.find("platform"); platform != m.end() && platform->is_object()) {
      entry.platform = Platform{StringOr(*platform, "os"), StringOr(*platform, "architecture"),
                                StringOr(*platform, "variant")};
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

Result<IndexEntry> SelectPlatform(const std::vector<IndexEntry>& entries, const Platform& wanted) {
  const IndexEntry* first_match = nullptr;
  std::string available;
  for (const IndexEntry& e : entries) {
    if (!IsManifestMediaType(e.descriptor.media_type)) continue;
    if (!available.empty()) available += ", ";
    available += e.platform.ToString().substr(0, kMaxQuoted);
    if (!PlatformMatches(wanted, e.platform)) continue;
    if (e.platform.variant == wanted.variant) return e;
    if (first_match == nullptr) first_match = &e;
  }
  if (first_match != nullptr) return *first_match;
  if (available.size() > 4 * kMaxQuoted) available = available.substr(0, 4 * kMaxQuoted) + "...";
  return Bad(
      fmt::format("no matching manifest for {} in the manifest list entries "
                  "(available: {})",
                  wanted.ToString(), available.empty() ? "none" : available));
}

}  // namespace berth::agent::registry
