#include "agent/image_pull.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/registry/errors.h"
#include "agent/registry/fake_registry.h"
#include "agent/unpack/test_layer.h"
#include "testing/temp_dir.h"

namespace berth::agent {
namespace {

namespace fs = std::filesystem;
using registry::testing::FakeRegistry;
using unpack::testing::File;
using unpack::testing::Format;
using unpack::testing::LayerBytes;
using namespace std::chrono_literals;

// A disk store and a rootfs destination in a temp dir, pulling from a fake
// registry that serves team/app:v1.
class ImagePullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = FakeRegistry::Start();
    auto store = content::Store::Open(dir_.File("store"));
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    options_.pull.transport.insecure_hosts = {registry_->host()};
    options_.pull.retry = registry::RetryPolicy{2, 1ms, 1ms};
    options_.pull.fetch.retry = registry::RetryPolicy{2, 1ms, 1ms};
    options_.dest = dest_;
  }

  std::string Image() const { return registry_->host() + "/team/app:v1"; }
  Result<ImagePullResult> Pull() { return PullImage(*store_, Image(), options_); }

  // What a failed pull must not leave behind: a record, a rootfs, a half-built one.
  void ExpectNothingKept() {
    EXPECT_TRUE(!fs::exists(dir_.File("store/images")) || fs::is_empty(dir_.File("store/images")));
    EXPECT_FALSE(fs::exists(fs::symlink_status(dest_)));
    for (const auto& entry : fs::directory_iterator(dir_.path())) {
      EXPECT_EQ(entry.path().string().find("berth-unpack"), std::string::npos) << entry.path();
    }
  }

  test_support::TempDir dir_;
  std::string dest_ = dir_.File("rootfs");
  std::unique_ptr<FakeRegistry> registry_;
  std::unique_ptr<content::Store> store_;
  ImagePullOptions options_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Forwards to a store and records, in order, "commit <digest>" when a writer
// commits and "read <digest>" when a blob is opened for unpacking.
class RecordingStore final : public content::Store {
 public:
  explicit RecordingStore(content::Store& inner) : inner_(inner) {}

  std::vector<std::string> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

  bool Has(std::string_view digest) const override { return inner_.Has(digest); }
  std::string Root() const override { return inner_.Root(); }
  content::BlobResult<content::BlobReader> OpenBlob(std::string_view digest) const override {
    Record("read", digest);
    return inner_.OpenBlob(digest);
  }
  content::BlobResult<std::string> ReadBlob(std::string_view digest) const override {
    return inner_.ReadBlob(digest);
  }
  content::BlobStatus WriteBlob(const content::Descriptor& expected,
                                std::string_view bytes) override {
    return inner_.WriteBlob(expected, bytes);
  }
  content::BlobResult<std::unique_ptr<content::Writer>> Begin(
      const content::Descriptor& expected) override {
    auto writer = inner_.Begin(expected);
    if (!writer) return writer;
    return std::make_unique<Writer>(*this, std::move(*writer), expected.digest);
  }
  Result<int64_t> GarbageCollect(const std::set<std::string>& keep) override {
    return inner_.GarbageCollect(keep);
  }
  Result<std::vector<std::string>> List() const override { return inner_.List(); }

 private:
  class Writer final : public content::Writer {
   public:
    Writer(const RecordingStore& store, std::unique_ptr<content::Writer> inner, std::string digest)
        : store_(store), inner_(std::move(inner)), digest_(std::move(digest)) {}
    int64_t Offset() const override { return inner_->Offset(); }
    content::BlobStatus Write(std::string_view bytes) override { return inner_->Write(bytes); }
    content::BlobStatus Commit() override {
      content::BlobStatus committed = inner_->Commit();
      if (committed) store_.Record("commit", digest_);
      return committed;
    }
    void Discard() override { inner_->Discard(); }

   private:
    const RecordingStore& store_;
    std::unique_ptr<content::Writer> inner_;
    std::string digest_;
  };

  void Record(std::string_view what, std::string_view digest) const {
    std::lock_guard lock(mu_);
    events_.push_back(fmt::format("{} {}", what, digest));
  }

  content::Store& inner_;
  mutable std::mutex mu_;
  mutable std::vector<std::string> events_;
};

// A first pull applies each layer from its download (FetchOptions::tap): no layer is read back
// from the store, and the rootfs holds every layer, bottom first (f0 overwritten by layer 1).
TEST_F(ImagePullTest, LayersAreAppliedFromTheDownloadNeverReadBackFromTheStore) {
  std::vector<std::string> layers;
  for (int i = 0; i < 4; ++i) {
    // The bottom layer the largest: it tends to commit after the others.
    std::string big(i == 0 ? (6 << 20) : 1000, static_cast<char>('a' + i));
    layers.push_back(
        LayerBytes({File(fmt::format("f{}", i == 1 ? 0 : i), big)}, Format::kGzip));
  }
  auto image = registry_->AddImage("team/app", "v1", layers);
  RecordingStore recording(*store_);
  auto got = PullImage(recording, Image(), options_);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(ReadFile(dest_ + "/f0"), std::string(1000, 'b'));
  EXPECT_EQ(ReadFile(dest_ + "/f3"), std::string(1000, 'd'));
  std::vector<std::string> events = recording.events();
  for (const auto& layer : image.layers) {
    EXPECT_NE(std::find(events.begin(), events.end(), "commit " + layer.digest), events.end());
    EXPECT_EQ(std::find(events.begin(), events.end(), "read " + layer.digest), events.end());
  }
}

// A layer whose first download fails its digest was already streamed into the rootfs (the
// bottom layer is applied as its bytes come): the refetched blob is what ends up there (the
// rootfs rebuilt from the store), never the bad bytes.
TEST_F(ImagePullTest, AStreamedLayerFailingItsDigestOnceIsRebuiltFromTheRefetchedBlob) {
  for (Format format : {Format::kTar, Format::kGzip}) {  // gzip: the bad bytes fail to inflate
    SCOPED_TRACE(static_cast<int>(format));
    fs::remove_all(dest_);
    fs::remove_all(dir_.File("store/images"));
    std::string repo = format == Format::kTar ? "team/app" : "team/gz";
    auto image = registry_->AddImage(
        repo, "v1", {LayerBytes({File("data", std::string(256 << 10, 'a'))}, format),
                     LayerBytes({File("top", "top")}, Format::kGzip)});
    registry_->FlipNext(image.layers[0].digest, 1);
    auto got = PullImage(*store_, registry_->host() + "/" + repo + ":v1", options_);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(ReadFile(dest_ + "/data"), std::string(256 << 10, 'a'));
    EXPECT_EQ(ReadFile(dest_ + "/top"), "top");
    for (const auto& entry : fs::directory_iterator(dir_.path())) {
      EXPECT_EQ(entry.path().string().find("berth-unpack"), std::string::npos) << entry.path();
    }
  }
}

// Bad bytes twice: the fetcher's error, and nothing of what was streamed is left.
TEST_F(ImagePullTest, AStreamedLayerFailingItsDigestTwiceLeavesNothing) {
  std::string layer = LayerBytes({File("data", std::string(256 << 10, 'a'))}, Format::kTar);
  auto image = registry_->AddImage("team/app", "v1", {layer});
  const std::string& digest = image.layers[0].digest;
  std::string flipped = layer;
  flipped[flipped.size() / 2] ^= 0x01;  // what FlipNext serves
  registry_->FlipNext(digest, 2);
  auto got = Pull();
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, registry::kCannotPullContainerError);
  EXPECT_EQ(got.error().message,
            fmt::format("{}/team/app: blob {}: blob digest mismatch: expected {}, got {} (again "
                        "after fetching the blob a second time)",
                        registry_->host(), digest, digest,
                        registry::testing::DigestOf(flipped)));
  ExpectNothingKept();
}

// A layer the store already has (another image's) is read from the store; the others stream.
TEST_F(ImagePullTest, ALayerAlreadyStoredIsReadFromTheStore) {
  std::string shared = LayerBytes({File("shared", "s")}, Format::kGzip);
  registry_->AddImage("team/base", "v1", {shared});
  options_.dest.clear();
  ASSERT_TRUE(PullImage(*store_, registry_->host() + "/team/base:v1", options_).has_value());
  options_.dest = dest_;
  auto image = registry_->AddImage("team/app", "v1",
                                   {shared, LayerBytes({File("own", "o")}, Format::kGzip)});
  RecordingStore recording(*store_);
  auto got = PullImage(recording, Image(), options_);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(ReadFile(dest_ + "/shared"), "s");
  EXPECT_EQ(ReadFile(dest_ + "/own"), "o");
  std::vector<std::string> events = recording.events();
  EXPECT_NE(std::find(events.begin(), events.end(), "read " + image.layers[0].digest),
            events.end());
  EXPECT_EQ(std::find(events.begin(), events.end(), "read " + image.layers[1].digest),
            events.end());
}

TEST_F(ImagePullTest, PullsUnpacksAndRecordsTheImage) {
  registry_->AddImage("team/app", "v1", {LayerBytes({File("etc/motd", "hi\n")}, Format::kGzip)});
  auto got = Pull();
  ASSERT_TRUE(got.has_value()) << got.error().message;
  std::ifstream motd(dest_ + "/etc/motd");
  std::string line;
  std::getline(motd, line);
  EXPECT_EQ(line, "hi");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.File("store/images")), {}), 1);
}

TEST_F(ImagePullTest, ALayerEscapingTheRootfsIsTheErrorAndNothingIsRecorded) {
  auto image = registry_->AddImage("team/app", "v1",
                                   {LayerBytes({File("etc/motd", "hi\n")}, Format::kGzip),
                                    LayerBytes({File("../escape", "x")}, Format::kGzip)});
  auto got = Pull();
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, registry::kCannotPullContainerError);
  const std::string& bad = image.layers[1].digest;
  EXPECT_EQ(got.error().message,
            fmt::format("{}: layer 2 of 2 ({}): entry \"../escape\": path has a \"..\" component",
                        Image(), bad));
  ExpectNothingKept();
  EXPECT_FALSE(fs::exists(dir_.File("escape")));
}

TEST_F(ImagePullTest, ALayerPastTheLimitsNamesTheLayerAndTheLimit) {
  // 8 MiB of zeros: a few KB of gzip.
  auto image = registry_->AddImage(
      "team/app", "v1",
      {LayerBytes({File("zeros", std::string(8 << 20, '\0'))}, Format::kGzip),
       LayerBytes({File("a", "a"), File("b", "b"), File("c", "c")}, Format::kGzip)});
  options_.unpack.max_bytes = 1 << 20;
  auto got = Pull();
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, registry::kCannotPullContainerError);
  EXPECT_NE(got.error().message.find(fmt::format("layer 1 of 2 ({})", image.layers[0].digest)),
            std::string::npos)
      << got.error().message;
  EXPECT_NE(got.error().message.find("the layer expands to more than 1048576 bytes uncompressed"),
            std::string::npos)
      << got.error().message;
  ExpectNothingKept();

  options_.unpack.max_bytes = 16 << 20;
  options_.unpack.max_entries = 2;
  got = Pull();
  ASSERT_FALSE(got.has_value());
  EXPECT_NE(got.error().message.find(fmt::format("layer 2 of 2 ({}): ", image.layers[1].digest)),
            std::string::npos)
      << got.error().message;
  EXPECT_NE(got.error().message.find("the layer has more than 2 entries"), std::string::npos)
      << got.error().message;
  ExpectNothingKept();
}

TEST_F(ImagePullTest, ACachedImageThatFailsToUnpackNamesTheLayer) {
  auto image = registry_->AddImage("team/app", "v1",
                                   {LayerBytes({File("a", "a"), File("b", "b")}, Format::kGzip)});
  options_.dest.clear();
  ASSERT_TRUE(Pull().has_value());  // store only: recorded
  options_.dest = dest_;
  options_.policy = PullPolicy::kOnce;
  options_.unpack.max_entries = 1;
  auto got = Pull();
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, registry::kCannotPullContainerError);
  EXPECT_NE(got.error().message.find(
                fmt::format("{}: layer 1 of 1 ({}): ", Image(), image.layers[0].digest)),
            std::string::npos)
      << got.error().message;
  EXPECT_FALSE(fs::exists(dest_));
}

TEST_F(ImagePullTest, AnExistingDestinationFailsBeforeAnyDownload) {
  registry_->AddImage("team/app", "v1", {LayerBytes({File("a", "a")}, Format::kGzip)});
  struct Case {
    std::string name;
    std::function<void(const std::string&)> make;
    std::string what;
  };
  std::vector<Case> cases = {
      {"dangling symlink",
       [&](const std::string& p) { fs::create_symlink(dir_.File("nowhere"), p); },
       "a symlink to " + dir_.File("nowhere")},
      {"symlink to a directory",
       [&](const std::string& p) {
         fs::create_directory(dir_.File("elsewhere"));
         fs::create_directory_symlink(dir_.File("elsewhere"), p);
       },
       "a symlink to " + dir_.File("elsewhere")},
      {"empty directory", [](const std::string& p) { fs::create_directory(p); }, "a directory"},
      {"file", [](const std::string& p) { std::ofstream(p) << "x"; }, "a file"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    fs::remove_all(dest_);
    c.make(dest_);
    auto got = Pull();
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, "InvalidDestination");
    EXPECT_EQ(got.error().message,
              fmt::format("{} already exists ({}): the rootfs is created at a path that does not "
                          "exist yet",
                          dest_, c.what));
    EXPECT_TRUE(registry_->requests().empty());
    EXPECT_FALSE(fs::exists(dir_.File("nowhere")));
    EXPECT_TRUE(!fs::exists(dir_.File("elsewhere")) || fs::is_empty(dir_.File("elsewhere")));
  }
  EXPECT_TRUE(CheckDestination(dir_.File("free")).has_value());
}

}  // namespace
}  // namespace berth::agent
