// The engine's images: PullImage under the pull policy into the content store, each image's
// layers unpacked once per manifest digest into <images_dir>/sha256/<hex>/rootfs (built
// beside, renamed into place) as the read-only lower layer of its containers. A pull that has
// no rootfs for what the reference resolved to last time (a first pull) unpacks each layer
// as soon as it and those below it are in the store, while the others still download.
//
// Several tasks asking for the same image with the same credentials at once cause one pull;
// the others wait for it and share its outcome. A pull that ends up using the cached image
// (policy once / prefer-cached, or default after a registry failure) is only used once the
// registry accepts the asking task's credentials for that digest (a manifest request with
// them), so an image pulled with one task's credentials is not handed to a task whose
// credentials the registry refuses. Acceptances are remembered for `reauthorization_ttl` per
// (credentials, digest), in memory only. `trust_cached_images` turns the check off.
//
// An image's files are written without fsync (its unpack is on the first task's start path):
// a SyncTracker marks each image directory before its rootfs is renamed into place and syncs
// the filesystem shortly after. At start, an image whose marker names an earlier boot (a host
// crash before the sync) is removed, so that it is unpacked again rather than run torn.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "agent/content/store.h"
#include "agent/engine/sync_tracker.h"
#include "agent/credentials/credential_source.h"
#include "agent/image_pull.h"
#include "common/clock.h"
#include "common/error.h"

namespace berth::agent::engine {

struct ImageCacheOptions {
  std::string images_dir;  // unpacked images
  registry::PullOptions pull;
  PullPolicy policy = PullPolicy::kDefault;
  bool trust_cached_images = false;
  std::chrono::seconds reauthorization_ttl{300};
  SyncTrackerOptions sync;  // sync.root: images_dir when empty
};

struct ReadyImage {
  std::string digest;           // what the reference resolved to (the task's imageDigest)
  std::string manifest_digest;  // the platform's manifest
  std::string rootfs;           // the unpacked image
  std::string config_json;      // the OCI image config
  bool from_cache = false;
};

// Where a task's images come from: the image cache, or a hollow agent's stand-in.
class Images {
 public:
  virtual ~Images() = default;
  // `image` ready to run, presenting what `credentials` (null: anonymous) give for it.
  virtual Result<ReadyImage> Get(const std::string& image,
                                 credentials::CredentialSource* credentials) = 0;
};

// A hollow agent's images (`berth agent --hollow`, control-plane benchmarks): nothing is
// pulled; an image resolves at once to the digest "sha256:" + hex(sha256(reference)), an empty
// root filesystem path and the config "{}". Credentials are not used.
std::unique_ptr<Images> NewHollowImages();

class ImageCache final : public Images {
 public:
  // `store` and `clock` outlive the cache. Thread-safe. The agent owns `images_dir`: what a
  // pull or an unpack of an earlier process left half built there (it died mid-way) is
  // removed now, and so are finished images an earlier boot never synced; the others stay.
  ImageCache(ImageCacheOptions options, content::Store& store, const Clock& clock);

  // Pulls (or reuses) `image` presenting what `credentials` (null: anonymous) give for it,
  // and unpacks it. Errors: CannotPullContainerAuthError or CannotPullContainerError (any
  // other failure of the pull, the credentials source's included, is CannotPullContainerError
  // with its message).
  Result<ReadyImage> Get(const std::string& image,
                         credentials::CredentialSource* credentials) override;

 private:
  struct Slot {
    std::mutex mu;                    // one pull of the image at a time
    std::atomic<uint64_t> pulls{0};   // pulls finished
    std::string last_key;             // credentials of the last pull (guarded by mu)
    std::optional<Result<ImagePullResult>> last;
  };
  std::shared_ptr<Slot> SlotFor(const std::string& key);
  Result<ImagePullResult> Pull(const std::string& image, const std::string& credentials_key,
                               const std::optional<credentials::RegistryCredentials>& presented);
  Status Reauthorize(const reference::Reference& ref, const std::string& digest,
                     const std::string& credentials_key,
                     const std::optional<credentials::RegistryCredentials>& presented);
  void Remember(const std::string& credentials_key, const std::string& digest);
  Result<std::string> Unpack(const std::string& image, const ImagePullResult& pulled);
  std::string RootfsOf(const std::string& manifest_digest) const;
  // Renames a built rootfs to RootfsOf(manifest) once its directory is marked unsynced.
  Status Place(const std::string& built, const std::string& manifest);

  const ImageCacheOptions options_;
  content::Store& store_;
  const Clock& clock_;
  SyncTracker sync_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Slot>> slots_;  // image or "unpack\n" + digest
  std::map<std::string, TimePoint> accepted_;           // credentials key + '\n' + digest
};

}  // namespace berth::agent::engine
