#include "agent/engine/image_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/content/store.h"
#include "common/clock.h"
#include "testing/temp_dir.h"

namespace berth::agent::engine {
namespace {

namespace fs = std::filesystem;

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
