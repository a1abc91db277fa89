#include "agent/image_pull.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

#include "agent/reference/reference.h"
#include "agent/registry/errors.h"
#include "agent/streamed_unpack.h"
#include "common/file.h"
#include "common/json.h"
#include "crypto/sha256.h"

namespace berth::agent {

namespace {

// The record of what a reference resolved to, kept as a small blob-like file
// next to the store: images/<sha256 of the reference>.json.
std::string RecordPath(content::Store& store, const std::string& ref) {
  return (std::filesystem::path(store.Root()) / "images" / (crypto::Sha256Hex(ref) + ".json"))
      .string();
}

json::Json DescriptorJson(const content::Descriptor& d) {
  return {{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
}

content::Descriptor DescriptorFrom(const json::Json& j) {
  content::Descriptor d;
  d.media_type = j.value("mediaType", "");
  d.digest = j.value("digest", "");
  d.size = j.value("size", int64_t{-1});
  return d;
}

Status SaveRecord(content::Store& store, const std::string& ref, const registry::PullResult& r) {
  json::Json layers = json::Json::array();
  for (const auto& l : r.layers) layers.push_back(DescriptorJson(l));
  json::Json record = {{"reference", ref},
                       {"digest", r.digest},
                       {"manifest", DescriptorJson(r.manifest)},
                       {"config", DescriptorJson(r.config)},
                       {"layers", layers}};
  std::string path = RecordPath(store, ref);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string text = json::Dump(record);
  // A pull that found the image it had (every warm start) leaves the record as it is: its
  // fsync would be on the task's start path for nothing.
  if (auto existing = ReadSmallFile(path); existing && *existing && **existing == text) return {};
  std::string tmp = path + ".tmp";
  {
    FILE* f = fopen(tmp.c_str(), "w");
    if (!f) return InternalFailure(fmt::format("cannot write {}", tmp));
    bool ok = fwrite(text.data(), 1, text.size(), f) == text.size() && fflush(f) == 0 &&
              fsync(fileno(f)) == 0;
    fclose(f);
    if (!ok) return InternalFailure(fmt::format("cannot write {}", tmp));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return InternalFailure(fmt::format("cannot write {}: {}", path, ec.message()));
  return {};
}

// The image pulled before under `ref`, if every blob of it is still there.
std::optional<registry::PullResult> LoadRecord(content::Store& store, const std::string& ref) {
  FILE* f = fopen(RecordPath(store, ref).c_str(), "r");
  if (!f) return std::nullopt;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  fclose(f);
  auto j = json::Json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  registry::PullResult r;
  r.digest = j.value("digest", "");
  r.manifest = DescriptorFrom(j["manifest"]);
  r.config = DescriptorFrom(j["config"]);
  for (const auto& l : j["layers"]) r.layers.push_back(DescriptorFrom(l));
  if (!store.Has(r.manifest.digest) || !store.Has(r.config.digest)) return std::nullopt;
  for (const auto& l : r.layers) {
    if (!store.Has(l.digest)) return std::nullopt;
  }
  auto config = store.ReadBlob(r.config.digest);
  if (!config) return std::nullopt;
  r.config_json = *config;
  return r;
}

// Builds the rootfs in a directory beside `dest` and renames it into place.
class RootfsBuilder {
 public:
  static Result<RootfsBuilder> Begin(const std::string& dest) {
    BERTH_CHECK(CheckDestination(dest));
    std::filesystem::path target(dest);
    std::error_code ec;
    std::filesystem::path parent = target.parent_path().empty() ? "." : target.parent_path();
    std::filesystem::create_directories(parent, ec);
    std::string tmp = (parent / ("." + target.filename().string() + ".berth-unpack")).string();
    std::filesystem::remove_all(tmp, ec);
    if (!std::filesystem::create_directory(tmp, ec)) {
      return InternalFailure(fmt::format("cannot create {}: {}", tmp, ec.message()));
    }
    return RootfsBuilder(dest, tmp);
  }
  const std::string& dir() const { return tmp_; }
  Status Commit() {
    // Never replaces what appeared at `dest` meanwhile (rename(2) would
    // replace an empty directory, or a symlink).
    int renamed = ::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, dest_.c_str(), RENAME_NOREPLACE);
    if (renamed != 0 && errno == EINVAL) renamed = ::rename(tmp_.c_str(), dest_.c_str());
    if (renamed != 0 && (errno == EEXIST || errno == ENOTEMPTY)) {
      return Fail("InvalidDestination",
                  fmt::format("{} appeared while the image was unpacked: not replaced", dest_));
    }
    if (renamed != 0) {
      return InternalFailure(
          fmt::format("cannot move the rootfs to {}: {}", dest_, std::strerror(errno)));
    }
    done_ = true;
    return {};
  }
  RootfsBuilder(RootfsBuilder&& o) noexcept : dest_(o.dest_), tmp_(o.tmp_), done_(o.done_) {
    o.done_ = true;
  }
  ~RootfsBuilder() {
    std::error_code ec;
    if (!done_) std::filesystem::remove_all(tmp_, ec);
  }

 private:
  RootfsBuilder(std::string dest, std::string tmp) : dest_(std::move(dest)), tmp_(std::move(tmp)) {}
  std::string dest_, tmp_;
  bool done_ = false;
};

Status UnpackCached(content::Store& store, const registry::PullResult& image,
                    const std::string& name, const ImagePullOptions& options) {
  auto builder = BERTH_TRY(RootfsBuilder::Begin(options.dest));
  for (size_t i = 0; i < image.layers.size(); ++i) {
    BERTH_CHECK(ApplyImageLayer(store, builder.dir(), name, image.layers, i, options.unpack));
  }
  return builder.Commit();
}

}  // namespace

Result<PullPolicy> ParsePullPolicy(std::string_view text) {
  if (text == "default") return PullPolicy::kDefault;
  if (text == "always") return PullPolicy::kAlways;
  if (text == "once") return PullPolicy::kOnce;
  if (text == "prefer-cached") return PullPolicy::kPreferCached;
  return Fail("InvalidPullPolicy",
              fmt::format("unknown pull policy '{}' (default, always, once, prefer-cached)", text));
}

Result<ImagePullResult> PullImage(content::Store& store, const std::string& image,
                                  const ImagePullOptions& options) {
  auto ref = BERTH_TRY(reference::ParseReference(image));
  std::string key = ref.ToString();
  ImagePullResult result;
  std::optional<registry::PullResult> cached;
  if (options.policy != PullPolicy::kAlways) cached = LoadRecord(store, key);
  if (cached && (options.policy == PullPolicy::kOnce || options.policy == PullPolicy::kPreferCached)) {
    result.image = std::move(*cached);
    result.from_cache = true;
  } else {
    registry::Puller puller(store);
    registry::PullOptions pull_options = options.pull;
    std::optional<RootfsBuilder> builder;
    std::unique_ptr<StreamedUnpack> pipeline;
    if (!options.dest.empty()) {
      builder.emplace(BERTH_TRY(RootfsBuilder::Begin(options.dest)));
      pipeline = std::make_unique<StreamedUnpack>(store, builder->dir(), key, options.unpack);
      pull_options.on_resolved = [&](const std::vector<content::Descriptor>& layers) {
        pipeline->Start(layers);
      };
      pull_options.fetch.on_committed =
          [&, user = options.pull.fetch.on_committed](const content::Descriptor& blob) {
            pipeline->Committed(blob);
            if (user) user(blob);
          };
      pull_options.fetch.tap = pipeline.get();
    }
    auto pulled = puller.Pull(ref, options.credentials, pull_options);
    if (!pulled) {
      if (pipeline) pipeline->Cancel();
      builder.reset();  // removes the half-built rootfs
      if (options.policy == PullPolicy::kDefault && cached &&
          pulled.error().code != "CannotPullContainerAuthError") {
        result.image = std::move(*cached);
        result.from_cache = true;
        result.warning = fmt::format("using the cached image: {}", pulled.error().message);
      } else {
        return Fail(pulled.error());
      }
    } else {
      result.image = std::move(*pulled);
      // The record only once the image is usable: a failed unpack leaves none.
      if (pipeline) {
        BERTH_CHECK(pipeline->Finish());
        if (pipeline->tainted()) {  // bytes it applied were discarded: from the store instead
          builder.reset();
          BERTH_CHECK(UnpackCached(store, result.image, key, options));
        } else {
          BERTH_CHECK(builder->Commit());
        }
      }
      BERTH_CHECK(SaveRecord(store, key, result.image));
      return result;
    }
  }
  if (!options.dest.empty()) BERTH_CHECK(UnpackCached(store, result.image, key, options));
  return result;
}

std::optional<std::string> PulledManifest(content::Store& store, const std::string& image) {
  auto ref = reference::ParseReference(image);
  if (!ref) return std::nullopt;
  auto record = LoadRecord(store, ref->ToString());
  if (!record) return std::nullopt;
  return record->manifest.digest;
}

Status CheckDestination(const std::string& dest) {
  struct stat st;
  if (::lstat(dest.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return Fail("InvalidDestination",
                fmt::format("cannot check {}: {}", dest, std::strerror(errno)));
  }
  std::string what = S_ISDIR(st.st_mode) ? "a directory" : "a file";
  if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    std::filesystem::path target = std::filesystem::read_symlink(dest, ec);
    what = fmt::format("a symlink to {}", ec ? "?" : target.string());
  }
  return Fail("InvalidDestination",
              fmt::format("{} already exists ({}): the rootfs is created at a path that does not "
                          "exist yet",
                          dest, what));
}

Result<int64_t> PruneImages(content::Store& store) {
  std::set<std::string> keep;
  std::filesystem::path dir = std::filesystem::path(RecordPath(store, "")).parent_path();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json") continue;
    FILE* f = fopen(entry.path().c_str(), "r");
    if (!f) continue;
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    fclose(f);
    auto j = json::Json::parse(text, nullptr, false);
    if (!j.is_object()) {
      return InternalFailure(fmt::format("image record {} is corrupt: refusing to prune",
                                         entry.path().string()));
    }
    keep.insert(j.value("digest", ""));
    keep.insert(DescriptorFrom(j["manifest"]).digest);
    keep.insert(DescriptorFrom(j["config"]).digest);
    for (const auto& l : j["layers"]) keep.insert(DescriptorFrom(l).digest);
  }
  return store.GarbageCollect(keep);
}

Result<bool> ForgetImage(content::Store& store, const std::string& image) {
  auto ref = BERTH_TRY(reference::ParseReference(image));
  std::error_code ec;
  bool removed = std::filesystem::remove(RecordPath(store, ref.ToString()), ec);
  if (ec) return InternalFailure(fmt::format("cannot remove the record of {}: {}", image, ec.message()));
  return removed;
}

}  // namespace berth::agent
