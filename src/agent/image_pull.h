// Pulling an image end to end: the pull policy decides whether the registry
// is asked, registry::Puller brings every blob into the content store, and,
// when a destination is given, unpack applies the layers to a fresh rootfs
// (built beside the destination and renamed into place, so a failed or
// interrupted pull never leaves a half-written rootfs at `dest`).
// `berth pull` and the agent's engine both call PullImage.
#pragma once

#include <optional>
#include <string>

#include "agent/content/store.h"
#include "agent/credentials/credential_source.h"
#include "agent/registry/puller.h"
#include "agent/unpack/unpack.h"
#include "common/error.h"

namespace berth::agent {

// ECS_IMAGE_PULL_BEHAVIOR.
enum class PullPolicy {
  kDefault,       // pull; if the registry fails, use the image pulled before (if any)
  kAlways,        // pull; fail if the registry fails
  kOnce,          // pull only if this store has never pulled the reference
  kPreferCached,  // use the image pulled before if any, else pull
};

// Parses "default" | "always" | "once" | "prefer-cached" (ECS's spellings).
Result<PullPolicy> ParsePullPolicy(std::string_view text);

struct ImagePullOptions {
  registry::PullOptions pull;
  // How layers are applied to `dest`, and the limits of one layer
  // (UnpackOptions::max_bytes, max_entries).
  unpack::UnpackOptions unpack;
  PullPolicy policy = PullPolicy::kDefault;
  credentials::CredentialSource* credentials = nullptr;  // null: anonymous
  // Rootfs to create; empty: store only. Nothing may exist at this path, not
  // even a dangling symlink (CheckDestination), and that is checked before
  // anything is downloaded.
  std::string dest;
};

struct ImagePullResult {
  registry::PullResult image;
  bool from_cache = false;  // the registry was not asked (policy) or failed (default)
  std::string warning;      // e.g. why the cache was used
};

// `store` holds the blobs and remembers which reference resolved to what:
// the record (<store>/images/) is written only once every blob is in the store
// and, with options.dest, the rootfs is in place. A failed pull or unpack
// writes no record and leaves nothing at options.dest.
//
// Errors: InvalidDestination (CheckDestination), the Puller's
// (CannotPullContainerError / CannotPullContainerAuthError, errors.h), and
// CannotPullContainerError "<reference>: layer <i> of <n> (<digest>): <why>"
// when a layer cannot be applied: an entry escaping the rootfs, a limit of
// options.unpack passed, a corrupt stream.
Result<ImagePullResult> PullImage(content::Store& store, const std::string& image,
                                  const ImagePullOptions& options);

// The manifest digest `image` resolved to when `store` last pulled it; nullopt when it never
// did, or its record cannot be read (a blob of it missing included).
std::optional<std::string> PulledManifest(content::Store& store, const std::string& image);

// OK when nothing exists at `dest` (checked without following a symlink), so
// a rootfs can be created there. Errors: "InvalidDestination" saying what is there.
Status CheckDestination(const std::string& dest);

// Garbage collection: deletes every blob of `store` that no image pulled into
// it references (by the records PullImage keeps) and stale partial
// downloads; returns the bytes freed. Images whose records are removed with
// ForgetImage become collectable.
Result<int64_t> PruneImages(content::Store& store);

// Drops the record of `image` (so PruneImages may collect its blobs); false
// when the store had no record of it.
Result<bool> ForgetImage(content::Store& store, const std::string& image);

}  // namespace berth::agent
