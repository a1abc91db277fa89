#include "crypto/root_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "testing/temp_dir.h"

namespace berth::crypto {
namespace {

namespace fs = std::filesystem;
using test_support::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Spit(const std::string& path, std::string_view data, mode_t mode) {
  std::ofstream(path, std::ios::binary) << data;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

// The key file is a regular file (not a symlink), 0600, and holds the key.
void ExpectPrivateKeyFile(const std::string& path) {
  struct stat st;
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 32);
}

TEST(RootKeyTest, CreatesA0600KeyAndLoadsTheSameKeyAgain) {
  TempDir dir;
  std::string path = dir.File("root.key");
  mode_t old_umask = ::umask(0);
  auto created = RootKey::LoadOrCreate(path);
  ::umask(old_umask);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  ExpectPrivateKeyFile(path);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  auto sealed = created->Seal("value", "ctx");
  ASSERT_TRUE(sealed.has_value());
  auto loaded = RootKey::LoadOrCreate(path);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->Open(*sealed, "ctx").value_or(""), "value");
}

TEST(RootKeyTest, AStaleWorldReadableTempFileDoesNotMakeTheKeyReadable) {
  TempDir dir;
  std::string path = dir.File("root.key");
  Spit(path + ".tmp", "left by a crash, readable by everyone", 0666);
  ASSERT_TRUE(RootKey::LoadOrCreate(path).has_value());
  ExpectPrivateKeyFile(path);
  EXPECT_FALSE(fs::exists(fs::symlink_status(path + ".tmp")));
}

TEST(RootKeyTest, ASymlinkPlantedAsTheTempFileIsNeverWrittenThrough) {
  TempDir dir;
  std::string path = dir.File("root.key");
  // To an existing file the attacker can read, and to a file that does not exist yet.
  std::string victim = dir.File("victim");
  Spit(victim, "victim's own data", 0644);
  for (const std::string& target : {victim, dir.File("elsewhere/new-file")}) {
    SCOPED_TRACE(target);
    fs::remove(path);
    fs::create_symlink(target, path + ".tmp");
    auto key = RootKey::LoadOrCreate(path);
    ASSERT_TRUE(key.has_value()) << key.error().message;
    ExpectPrivateKeyFile(path);
    EXPECT_FALSE(fs::exists(fs::symlink_status(path + ".tmp")));
  }
  EXPECT_EQ(Slurp(victim), "victim's own data");
  EXPECT_FALSE(fs::exists(dir.File("elsewhere")));
}

TEST(RootKeyTest, AKeyFileOfTheWrongSizeIsRefused) {
  TempDir dir;
  std::string path = dir.File("root.key");
  Spit(path, "short", 0600);
  auto key = RootKey::LoadOrCreate(path);
  ASSERT_FALSE(key.has_value());
  EXPECT_EQ(key.error().code, "InternalFailure");
  EXPECT_EQ(key.error().message, "root key file " + path + " must hold exactly 32 bytes");
  EXPECT_EQ(Slurp(path), "short");
}

}  // namespace
}  // namespace berth::crypto
