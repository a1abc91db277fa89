#include "agent/engine/sync_tracker.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/file.h"
#include "testing/temp_dir.h"

namespace berth::agent::engine {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string MarkerText(const fs::path& dir) {
  auto text = ReadSmallFile((dir / kUnsyncedMarker).string());
  return text && *text ? **text : "";
}

TEST(SyncTrackerTest, AMarkNamesTheBootAndTheSyncRemovesIt) {
  test_support::TempDir dir("sync_tracker_test");
  fs::create_directories(dir.path() / "a");
  SyncTracker tracker({.root = dir.path().string(), .delay = 1h, .boot_id = "boot-1"});
  ASSERT_TRUE(tracker.Mark((dir.path() / "a").string()));
  EXPECT_EQ(MarkerText(dir.path() / "a"), "boot-1\n");
  ASSERT_TRUE(tracker.Flush());
  EXPECT_FALSE(fs::exists(dir.path() / "a" / kUnsyncedMarker));
}

TEST(SyncTrackerTest, TheThreadSyncsABatchAfterTheDelay) {
  test_support::TempDir dir("sync_tracker_test");
  fs::create_directories(dir.path() / "a");
  fs::create_directories(dir.path() / "b");
  SyncTracker tracker({.root = dir.path().string(), .delay = 20ms, .boot_id = "boot-1"});
  ASSERT_TRUE(tracker.Mark((dir.path() / "a").string()));
  ASSERT_TRUE(tracker.Mark((dir.path() / "b").string()));
  EXPECT_TRUE(fs::exists(dir.path() / "a" / kUnsyncedMarker));  // not before the delay
  for (int i = 0; i < 500 && (fs::exists(dir.path() / "a" / kUnsyncedMarker) ||
                              fs::exists(dir.path() / "b" / kUnsyncedMarker));
       ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_FALSE(fs::exists(dir.path() / "a" / kUnsyncedMarker));
  EXPECT_FALSE(fs::exists(dir.path() / "b" / kUnsyncedMarker));
}

TEST(SyncTrackerTest, AMarkOfAnotherBootIsLostOneOfThisBootIsSyncedAgain) {
  test_support::TempDir dir("sync_tracker_test");
  for (const char* name : {"crashed", "restarted", "synced", "emptied"}) {
    fs::create_directories(dir.path() / name);
  }
  std::ofstream(dir.path() / "crashed" / kUnsyncedMarker) << "boot-1\n";
  // A crash can keep a file's creation and lose its bytes: no boot named is another boot.
  std::ofstream(dir.path() / "emptied" / kUnsyncedMarker) << "";
  std::ofstream(dir.path() / "restarted" / kUnsyncedMarker) << "boot-2\n";
  SyncTracker tracker({.root = dir.path().string(), .delay = 1h, .boot_id = "boot-2"});
  EXPECT_TRUE(tracker.Lost((dir.path() / "crashed").string()));
  EXPECT_TRUE(tracker.Lost((dir.path() / "emptied").string()));
  EXPECT_FALSE(tracker.Lost((dir.path() / "restarted").string()));
  EXPECT_FALSE(tracker.Lost((dir.path() / "synced").string()));
  ASSERT_TRUE(tracker.Flush());
  EXPECT_FALSE(fs::exists(dir.path() / "restarted" / kUnsyncedMarker));
  EXPECT_TRUE(fs::exists(dir.path() / "crashed" / kUnsyncedMarker));  // the caller's to remove
}

TEST(SyncTrackerTest, AFailedSyncKeepsTheMarksForTheNextOne) {
  test_support::TempDir dir("sync_tracker_test");
  fs::create_directories(dir.path() / "a");
  SyncTracker tracker({.root = dir.File("missing"), .delay = 1h, .boot_id = "boot-1"});
  ASSERT_TRUE(tracker.Mark((dir.path() / "a").string()));
  Status flushed = tracker.Flush();
  ASSERT_FALSE(flushed);
  EXPECT_NE(flushed.error().message.find("syncfs"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir.path() / "a" / kUnsyncedMarker));
  fs::create_directories(dir.File("missing"));
  ASSERT_TRUE(tracker.Flush());  // the mark was queued again
  EXPECT_FALSE(fs::exists(dir.path() / "a" / kUnsyncedMarker));
}

TEST(SyncTrackerTest, TheKernelsBootIdByDefault) {
  test_support::TempDir dir("sync_tracker_test");
  SyncTracker tracker({.root = dir.path().string()});
  auto kernel = ReadSmallFile("/proc/sys/kernel/random/boot_id");
  ASSERT_TRUE(kernel && *kernel);
  EXPECT_EQ(tracker.boot_id() + "\n", **kernel);
}

}  // namespace
}  // namespace berth::agent::engine
