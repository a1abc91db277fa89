#include "agent/registry/puller.h"

#include <fmt/format.h>

#include <algorithm>

#include "agent/registry/authorizer.h"
#include "agent/registry/errors.h"
#include "agent/registry/resolver.h"

namespace berth::agent::registry {
namespace {

// Manifests are small and already verified: store them with WriteBlob.
Status Keep(content::Store& store, const content::Descriptor& descriptor, std::string_view bytes,
            std::string_view what) {
  if (store.Has(descriptor.digest)) return {};
  if (Status s = store.WriteBlob(descriptor, bytes); !s) {
    return Fail(PullError(what, "storing the manifest: " + s.error().message, 500));
  }
  return {};
}

}  // namespace

Puller::Puller(content::Store& store) : store_(store) {}

Result<PullResult> Puller::Pull(const reference::Reference& ref,
                                credentials::CredentialSource* credentials,
                                const PullOptions& options) {
  std::optional<credentials::RegistryCredentials> presented;
  if (credentials != nullptr) presented = BERTH_TRY(credentials->Lookup(ref));
  TransportOptions transport_options = options.transport;
  if (options.timeout.count() > 0) {
    transport_options.deadline =
        std::min(transport_options.deadline, std::chrono::steady_clock::now() + options.timeout);
  }
  Result<PullResult> pulled = PullWith(ref, std::move(presented), transport_options, options);
  if (!pulled && pulled.error().code != kCannotPullContainerAuthError &&
      std::chrono::steady_clock::now() >= transport_options.deadline) {
    return Fail(PullError(ref.ToString(),
                          fmt::format("the pull timed out after {:g}s: {}",
                                      options.timeout.count() / 1000.0, pulled.error().message),
                          504));
  }
  return pulled;
}

Result<PullResult> Puller::PullWith(const reference::Reference& ref,
                                    std::optional<credentials::RegistryCredentials> presented,
                                    const TransportOptions& transport_options,
                                    const PullOptions& options) {
  Authorizer authorizer(std::move(presented), transport_options, options.retry,
                        SystemClock::Instance(), options.challenges.get());

  Transport transport(transport_options);
  Resolver resolver(transport, authorizer, options.retry);
  Resolved resolved = BERTH_TRY(resolver.Resolve(ref, options.platform));

  // Layers first: with as many layers as parallel transfers, the config
  // (small) must not hold a layer back; it takes the first free slot.
  std::vector<content::Descriptor> blobs(resolved.image.layers.begin(),
                                         resolved.image.layers.end());
  blobs.push_back(resolved.image.config);
  if (options.on_resolved) options.on_resolved(resolved.image.layers);
  Fetcher fetcher(transport_options, authorizer, store_, options.fetch);
  BERTH_CHECK(fetcher.Fetch(ref.registry, ref.repository, blobs));

  // Manifests go in last: a manifest in the store means its blobs are there.
  std::string what = ref.ToString();
  BERTH_CHECK(Keep(store_, resolved.manifest, resolved.manifest_json, what));
  if (resolved.index) BERTH_CHECK(Keep(store_, *resolved.index, resolved.index_json, what));

  PullResult result;
  Result<std::string> config = store_.ReadBlob(resolved.image.config.digest);
  if (!config) {
    return Fail(PullError(what, "reading the image config: " + config.error().message, 500));
  }
  result.config_json = std::move(*config);
  result.digest = resolved.digest;
  result.index = resolved.index;
  result.manifest = resolved.manifest;
  result.platform = resolved.platform;
  result.config = resolved.image.config;
  result.layers = resolved.image.layers;
  return result;
}

}  // namespace berth::agent::registry
