// The registry half of the pull pipeline, joined: credentials -> authorizer ->
// resolver -> fetcher -> content store (DESIGN.md). `berth pull` and the
// agent's engine call Puller::Pull; unpacking the layers is the next stage's job.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/content/store.h"
#include "agent/credentials/credential_source.h"
#include "agent/reference/reference.h"
#include "agent/registry/authorizer.h"
#include "agent/registry/fetcher.h"
#include "agent/registry/manifest.h"
#include "agent/registry/platform.h"
#include "agent/registry/transport.h"
#include "common/error.h"

namespace berth::agent::registry {

// Generous: 16 GiB of layers at 10 MB/s take under half of it.
inline constexpr std::chrono::milliseconds kDefaultPullTimeout = std::chrono::hours(2);

struct PullOptions {
  Platform platform = HostPlatform();  // used when the reference names an index
  TransportOptions transport;          // insecure hosts, CA file, timeouts
  RetryPolicy retry;                   // manifests and tokens; blobs use fetch.retry
  FetchOptions fetch;                  // parallelism, blob retries, deadline, progress
  // Deadline for the whole Pull: token requests, manifests and blobs
  // (TransportOptions::deadline). Zero for none.
  std::chrono::milliseconds timeout = kDefaultPullTimeout;
  // Called once the manifest is resolved, before any blob is fetched, with
  // the layers bottom first: lets the caller start unpacking layers as they
  // are committed, overlapping with the download of the next ones.
  std::function<void(const std::vector<content::Descriptor>& layers)> on_resolved;
  // What registries asked earlier pulls for (authorizer.h); null: every pull learns anew.
  std::shared_ptr<ChallengeMemory> challenges;
};

struct PullResult {
  // What the reference resolved to (the index's digest for a multi-platform
  // image, else the manifest's): pin it to pull the same image again.
  std::string digest;
  std::optional<content::Descriptor> index;  // when the reference named an index
  content::Descriptor manifest;              // the platform's image manifest
  Platform platform;                         // the index entry's; empty without an index
  content::Descriptor config;
  std::string config_json;
  std::vector<content::Descriptor> layers;  // bottom first
};

class Puller {
 public:
  // `store` must outlive the Puller. Pulls may run concurrently on one Puller
  // (each has its own connections and token cache; the store arbitrates blobs).
  explicit Puller(content::Store& store);

  // Pulls `ref`: asks `credentials` (may be null: anonymous) which credentials
  // to present, resolves the manifest for options.platform, fetches the config
  // and the layers the store does not have yet, and writes the index (if
  // any), the manifest and the config into the store too. On success every
  // blob of the image is committed in the store.
  //
  // Errors: a CredentialSource error as it came; otherwise
  // CannotPullContainerAuthError (the registry demands credentials and there
  // were none) or CannotPullContainerError: <what the registry said> (errors.h);
  // past options.timeout, CannotPullContainerError "<ref>: the pull timed out
  // after <timeout>: <what was under way>" (HTTP 504). An image config larger
  // than kMaxConfigSize is refused before it is fetched.
  // Credentials are dropped when Pull returns and never appear in an error or log.
  Result<PullResult> Pull(const reference::Reference& ref,
                          credentials::CredentialSource* credentials, const PullOptions& options);

 private:
  // Pull with the credentials looked up and the deadline set.
  Result<PullResult> PullWith(const reference::Reference& ref,
                              std::optional<credentials::RegistryCredentials> presented,
                              const TransportOptions& transport_options,
                              const PullOptions& options);

  content::Store& store_;
};

}  // namespace berth::agent::registry
