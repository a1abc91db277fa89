#include "aws/credentials_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace berth::aws {
namespace {

class CredentialsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-creds-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/credentials";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Read() {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string dir_, path_;
};

TEST_F(CredentialsFileTest, WritesAProfileWithMode0600AndReadsItBack) {
  ASSERT_TRUE(WriteProfile(path_, "default", {"AKIAAAAAAAAAAAAAAAAA", "secret1", ""}));
  EXPECT_EQ(Read(), "[default]\naws_access_key_id = AKIAAAAAAAAAAAAAAAAA\naws_secret_access_key = secret1\n");
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto creds = ReadProfile(path_, "default");
  ASSERT_TRUE(creds.has_value());
  EXPECT_EQ(creds->access_key_id, "AKIAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(creds->secret_access_key, "secret1");
  EXPECT_EQ(creds->session_token, "");
}

TEST_F(CredentialsFileTest, UpsertKeepsOtherProfilesAndComments) {
  {
    std::ofstream out(path_);
    out << "# mine\n[other]\naws_access_key_id = AKIAOTHEROTHEROTHER0\naws_secret_access_key = o\n\n"
           "[default]\naws_access_key_id = AKIAOLDOLDOLDOLDOLD0\naws_secret_access_key = old\n";
  }
  ASSERT_TRUE(WriteProfile(path_, "default", {"AKIANEWNEWNEWNEWNEW0", "new", "tok"}));
  ASSERT_TRUE(WriteProfile(path_, "222233334444", {"AKIATHIRDTHIRDTHIRD0", "third", ""}));
  EXPECT_EQ(ReadProfile(path_, "other")->secret_access_key, "o");
  auto def = ReadProfile(path_, "default");
  EXPECT_EQ(def->access_key_id, "AKIANEWNEWNEWNEWNEW0");
  EXPECT_EQ(def->session_token, "tok");
  EXPECT_EQ(ReadProfile(path_, "222233334444")->secret_access_key, "third");
  std::string text = Read();
  EXPECT_NE(text.find("# mine"), std::string::npos);
  EXPECT_EQ(text.find("old"), std::string::npos);
}

TEST_F(CredentialsFileTest, MissingFileOrProfileIsNoSuchProfile) {
  auto missing = ReadProfile(path_, "default");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, "NoSuchProfile");
  ASSERT_TRUE(WriteProfile(path_, "a", {"AKIAAAAAAAAAAAAAAAAA", "s", ""}));
  EXPECT_EQ(ReadProfile(path_, "b").error().code, "NoSuchProfile");
}

}  // namespace
}  // namespace berth::aws
