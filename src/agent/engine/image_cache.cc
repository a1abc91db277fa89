#include "agent/engine/image_cache.h"

#include <fmt/format.h>

#include <filesystem>

#include "agent/credentials/static_credentials.h"
#include "agent/reference/reference.h"
#include "agent/registry/authorizer.h"
#include "agent/registry/errors.h"
#include "agent/registry/resolver.h"
#include "agent/registry/transport.h"
#include "agent/unpack/unpack.h"
#include "common/log.h"
#include "crypto/random.h"
#include "crypto/sha256.h"

namespace berth::agent::engine {

namespace {

// Pull failures in ECS's two words.
Error AsPullError(Error error) {
  if (error.code != registry::kCannotPullContainerError &&
      error.code != registry::kCannotPullContainerAuthError) {
    error.code = std::string(registry::kCannotPullContainerError);
  }
  return error;
}

// Names a set of credentials without keeping them (memory only, never logged).
std::string CredentialsKey(const std::optional<credentials::RegistryCredentials>& c) {
  if (!c) return "anonymous";
  std::string material = c->username;
  material += '\0';
  material += c->password;
  material += '\0';
  material += c->identity_token;
  return crypto::Sha256Hex(material);
}

// The cache's pulls and re-checks share what registries asked for (no secrets in it).
ImageCacheOptions WithChallengeMemory(ImageCacheOptions o) {
  if (!o.pull.challenges) o.pull.challenges = std::make_shared<registry::ChallengeMemory>();
  return o;
}

SyncTrackerOptions SyncOptions(const ImageCacheOptions& o) {
  SyncTrackerOptions sync = o.sync;
  if (sync.root.empty()) sync.root = o.images_dir;
  return sync;
}

}  // namespace

ImageCache::ImageCache(ImageCacheOptions options, content::Store& store, const Clock& clock)
    : options_(WithChallengeMemory(std::move(options))),
      store_(store),
      clock_(clock),
      sync_(SyncOptions(options_)) {
  // images_dir/sha256/.pull-<id> (a first pull's rootfs; ..pull-<id>.berth-unpack while its
  // layers are applied) and images_dir/sha256/<digest>/.rootfs-<id> (an unpack's), renamed into
  // place when done.
  namespace fs = std::filesystem;
  auto children = [](const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      out.push_back(it->path());
    }
    return out;
  };
  std::vector<fs::path> half_built;
  for (const auto& entry : children(fs::path(options_.images_dir) / "sha256")) {
    std::string name = entry.filename().string();
    if (name.starts_with(".pull-") || name.starts_with("..pull-")) {
      half_built.push_back(entry);
      continue;
    }
    if (sync_.Lost(entry.string())) {
      log::Warn("an image unpacked before the host restarted was never synced: removed",
                {{"image", "sha256:" + name}});
      half_built.push_back(entry);
      continue;
    }
    for (const auto& inner : children(entry)) {
      if (inner.filename().string().starts_with(".rootfs-")) half_built.push_back(inner);
    }
  }
  for (const auto& path : half_built) {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) log::Warn("cannot remove a half-built image", {{"path", path.string()}});
  }
}

std::shared_ptr<ImageCache::Slot> ImageCache::SlotFor(const std::string& key) {
  std::lock_guard lock(mu_);
  auto& slot = slots_[key];
  if (!slot) slot = std::make_shared<Slot>();
  return slot;
}

namespace {

class HollowImages final : public Images {
 public:
  Result<ReadyImage> Get(const std::string& image, credentials::CredentialSource*) override {
    ReadyImage ready;
    ready.digest = "sha256:" + crypto::Sha256Hex(image);
    ready.manifest_digest = ready.digest;
    ready.config_json = "{}";
    return ready;
  }
};

}  // namespace

std::unique_ptr<Images> NewHollowImages() { return std::make_unique<HollowImages>(); }

Result<ReadyImage> ImageCache::Get(const std::string& image,
                                   credentials::CredentialSource* credentials) {
  auto ref = reference::ParseReference(image);
  if (!ref) return Fail(AsPullError(ref.error()));
  std::optional<credentials::RegistryCredentials> presented;
  if (credentials != nullptr) {
    auto looked_up = credentials->Lookup(*ref);
    if (!looked_up) return Fail(AsPullError(looked_up.error()));
    presented = std::move(*looked_up);
  }
  std::string key = CredentialsKey(presented);
  auto pulled = Pull(image, key, presented);
  if (!pulled) return Fail(AsPullError(pulled.error()));
  if (pulled->from_cache) {
    if (!options_.trust_cached_images) {
      Status accepted = Reauthorize(*ref, pulled->image.digest, key, presented);
      if (!accepted) return Fail(AsPullError(accepted.error()));
    }
  } else {
    Remember(key, pulled->image.digest);
  }
  auto rootfs = Unpack(ref->ToString(), *pulled);
  if (!rootfs) return Fail(AsPullError(rootfs.error()));
  return ReadyImage{pulled->image.digest, pulled->image.manifest.digest, *rootfs,
                    pulled->image.config_json, pulled->from_cache};
}

Result<ImagePullResult> ImageCache::Pull(
    const std::string& image, const std::string& credentials_key,
    const std::optional<credentials::RegistryCredentials>& presented) {
  std::shared_ptr<Slot> slot = SlotFor(image);
  uint64_t seen = slot->pulls.load();
  std::lock_guard lock(slot->mu);
  // A pull with the same credentials finished while this one waited: share it.
  if (slot->pulls.load() != seen && slot->last_key == credentials_key && slot->last &&
      slot->last->has_value()) {
    return *slot->last;
  }
  std::optional<credentials::StaticCredentials> source;
  if (presented) source.emplace(*presented);
  ImagePullOptions pull_options;
  pull_options.pull = options_.pull;
  pull_options.policy = options_.policy;
  pull_options.credentials = source ? &*source : nullptr;
  namespace fs = std::filesystem;
  std::error_code ec;
  auto last = PulledManifest(store_, image);
  if (!last || !content::IsValidDigest(*last) || !fs::is_directory(RootfsOf(*last), ec)) {
    fs::create_directories(fs::path(options_.images_dir) / "sha256", ec);
    pull_options.dest = fmt::format("{}/sha256/.pull-{}", options_.images_dir,
                                    crypto::SecureIds().Uuid());
  }
  Result<ImagePullResult> pulled = PullImage(store_, image, pull_options);
  if (!pull_options.dest.empty()) {
    // Into place under the manifest's digest, unless another reference to it got there first.
    const std::string& manifest = pulled ? pulled->image.manifest.digest : "";
    if (pulled && content::IsValidDigest(manifest) && fs::is_directory(pull_options.dest, ec)) {
      if (Status placed = Place(pull_options.dest, manifest); !placed) {
        log::Warn("cannot keep a pulled image's rootfs",
                  {{"image", image}, {"error", placed.error().message}});
      }
    }
    fs::remove_all(pull_options.dest, ec);
  }
  if (pulled && !pulled->warning.empty()) {
    log::Warn("pull used the cached image", {{"image", image}, {"why", pulled->warning}});
  }
  slot->last_key = credentials_key;
  slot->last = pulled;
  slot->pulls.fetch_add(1);
  return pulled;
}

void ImageCache::Remember(const std::string& credentials_key, const std::string& digest) {
  std::lock_guard lock(mu_);
  accepted_[credentials_key + '\n' + digest] = clock_.Now();
}

Status ImageCache::Reauthorize(const reference::Reference& ref, const std::string& digest,
                               const std::string& credentials_key,
                               const std::optional<credentials::RegistryCredentials>& presented) {
  {
    std::lock_guard lock(mu_);
    auto it = accepted_.find(credentials_key + '\n' + digest);
    if (it != accepted_.end() && clock_.Now() - it->second < options_.reauthorization_ttl) {
      return {};
    }
  }
  reference::Reference pinned = ref;
  pinned.tag.clear();
  pinned.digest = digest;
  registry::Authorizer authorizer(presented, options_.pull.transport, options_.pull.retry,
                                  clock_, options_.pull.challenges.get());
  registry::Transport transport(options_.pull.transport);
  registry::Resolver resolver(transport, authorizer, options_.pull.retry);
  auto resolved = resolver.Resolve(pinned, options_.pull.platform);
  if (!resolved) {
    return Fail(registry::WithContext(
        resolved.error(),
        fmt::format("{}: the cached image is used only once the registry accepts the task's "
                    "credentials for it",
                    ref.ToString())));
  }
  Remember(credentials_key, digest);
  return {};
}

Status ImageCache::Place(const std::string& built, const std::string& manifest) {
  namespace fs = std::filesystem;
  fs::path rootfs = RootfsOf(manifest);
  std::error_code ec;
  fs::create_directories(rootfs.parent_path(), ec);
  if (fs::exists(rootfs, ec)) return {};  // another reference to it got there first
  BERTH_TRY(sync_.Mark(rootfs.parent_path().string()));
  fs::rename(built, rootfs, ec);
  if (ec) return InternalFailure(fmt::format("cannot move the rootfs into place: {}", ec.message()));
  return {};
}

std::string ImageCache::RootfsOf(const std::string& manifest_digest) const {
  return fmt::format("{}/sha256/{}/rootfs", options_.images_dir, manifest_digest.substr(7));
}

Result<std::string> ImageCache::Unpack(const std::string& image, const ImagePullResult& pulled) {
  const std::string& manifest = pulled.image.manifest.digest;
  if (!content::IsValidDigest(manifest)) {
    return Fail(registry::PullError(image, fmt::format("invalid manifest digest {}", manifest)));
  }
  namespace fs = std::filesystem;
  std::string rootfs = RootfsOf(manifest);
  fs::path dir = fs::path(rootfs).parent_path();
  std::shared_ptr<Slot> slot = SlotFor("unpack\n" + manifest);
  std::lock_guard lock(slot->mu);
  std::error_code ec;
  if (fs::is_directory(rootfs, ec)) return rootfs;
  fs::create_directories(dir, ec);
  std::string building = fmt::format("{}/.rootfs-{}", dir.string(), crypto::SecureIds().Uuid());
  Status unpacked = unpack::Unpack(building, store_, pulled.image.layers);
  Status placed = unpacked ? Place(building, manifest) : unpacked;
  fs::remove_all(building, ec);  // gone once renamed; otherwise what is left of it
  if (placed && fs::is_directory(rootfs, ec)) return rootfs;
  std::string why = !unpacked ? unpacked.error().message
                    : placed  ? "cannot move the rootfs into place"
                              : placed.error().message;
  return Fail(registry::PullError(image, fmt::format("unpacking {}: {}", manifest, why), 500));
}

}  // namespace berth::agent::engine
