#include "agent/engine/image_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/content/store.h"
#include "common/clock.h"
#include "testing/temp_dir.h"

namespace berth::agent::engine {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void Touch(const fs::path& file) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << "x";
}

TEST(ImageCacheTest, WhatAnEarlierAgentLeftHalfBuiltIsRemovedAtStart) {
  test_support::TempDir dir("image_cache_test");
  fs::path images = dir.path() / "images";
  std::string digest(64, 'a');
  Touch(images / "sha256" / ".pull-1234" / "bin" / "sh");                // a first pull
  // ... whose layers were still being applied (image_pull's RootfsBuilder beside .pull-<id>)
  Touch(images / "sha256" / "..pull-1234.berth-unpack" / "data" / "blob");
  Touch(images / "sha256" / digest / ".rootfs-5678" / "bin" / "sh");     // an unpack
  Touch(images / "sha256" / digest / "rootfs" / "bin" / "sh");           // a finished image
  Touch(images / "sha256" / std::string(64, 'b') / "rootfs" / "etc" / "hosts");
  auto store = content::Store::Open(dir.File("content"));
  ASSERT_TRUE(store) << store.error().message;
  FakeClock clock(TimePoint{});
  ImageCache cache(ImageCacheOptions{.images_dir = images.string()}, **store, clock);
  EXPECT_FALSE(fs::exists(images / "sha256" / ".pull-1234"));
  EXPECT_FALSE(fs::exists(images / "sha256" / "..pull-1234.berth-unpack"));
  EXPECT_FALSE(fs::exists(images / "sha256" / digest / ".rootfs-5678"));
  EXPECT_TRUE(fs::exists(images / "sha256" / digest / "rootfs" / "bin" / "sh"));
  EXPECT_TRUE(fs::exists(images / "sha256" / std::string(64, 'b') / "rootfs" / "etc" / "hosts"));
}

TEST(ImageCacheTest, AnImageAnEarlierBootNeverSyncedIsRemovedAtStart) {
  test_support::TempDir dir("image_cache_test");
  fs::path images = dir.path() / "images";
  fs::path torn = images / "sha256" / std::string(64, 'a');
  fs::path restarted = images / "sha256" / std::string(64, 'b');
  fs::path synced = images / "sha256" / std::string(64, 'c');
  for (const auto& image : {torn, restarted, synced}) Touch(image / "rootfs" / "bin" / "sh");
  std::ofstream(torn / kUnsyncedMarker) << "boot-before-the-crash\n";
  std::ofstream(restarted / kUnsyncedMarker) << "this-boot\n";
  auto store = content::Store::Open(dir.File("content"));
  ASSERT_TRUE(store) << store.error().message;
  FakeClock clock(TimePoint{});
  {
    ImageCache cache(ImageCacheOptions{.images_dir = images.string(),
                                       .sync = {.delay = 10ms, .boot_id = "this-boot"}},
                     **store, clock);
    EXPECT_FALSE(fs::exists(torn));
    EXPECT_TRUE(fs::exists(restarted / "rootfs" / "bin" / "sh"));
    EXPECT_TRUE(fs::exists(synced / "rootfs" / "bin" / "sh"));
    // The agent that died before syncing this boot's image: synced now.
    for (int i = 0; i < 500 && fs::exists(restarted / kUnsyncedMarker); ++i) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_FALSE(fs::exists(restarted / kUnsyncedMarker));
  }
}

TEST(ImageCacheTest, AnEmptyOrMissingImagesDirIsFine) {
  test_support::TempDir dir("image_cache_test");
  auto store = content::Store::Open(dir.File("content"));
  ASSERT_TRUE(store) << store.error().message;
  FakeClock clock(TimePoint{});
  ImageCache cache(ImageCacheOptions{.images_dir = dir.File("none")}, **store, clock);
  EXPECT_FALSE(fs::exists(dir.File("none")));
}

}  // namespace
}  // namespace berth::agent::engine
