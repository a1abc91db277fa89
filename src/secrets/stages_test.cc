#include "secrets/stages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace berth::secrets {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A secret whose versions "v1".."vN" carry `stages` (oldest first).
Secret With(std::vector<std::vector<std::string>> stages) {
  Secret s;
  for (size_t i = 0; i < stages.size(); ++i) {
    s.versions.push_back(Version{"v" + std::to_string(i + 1), stages[i], {}, {}, ""});
  }
  return s;
}

std::vector<std::string> StagesOf(const Secret& s, const std::string& id) {
  return s.FindVersion(id)->stages;
}

void ExpectInvalid(const Status& status, const std::string& message) {
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, "InvalidParameterException");
  EXPECT_EQ(status.error().message, message);
}

TEST(SecretsStagesTest, FindsVersionsByIdAndStage) {
  Secret s = With({{}, {kPrevious}, {kCurrent, "mine"}});
  EXPECT_EQ(s.WithStage(kCurrent)->id, "v3");
  EXPECT_EQ(s.WithStage("mine")->id, "v3");
  EXPECT_EQ(s.WithStage(kPending), nullptr);
  EXPECT_EQ(s.FindVersion("v1")->id, "v1");
  EXPECT_EQ(s.FindVersion("v9"), nullptr);
}

TEST(SecretsStagesTest, MovingCurrentLeavesPreviousBehind) {
  Secret s = With({{kPrevious}, {kCurrent}, {}});
  MoveStage(s, kCurrent, "v3");
  EXPECT_THAT(StagesOf(s, "v1"), IsEmpty());
  EXPECT_THAT(StagesOf(s, "v2"), ElementsAre(kPrevious));
  EXPECT_THAT(StagesOf(s, "v3"), ElementsAre(kCurrent));

  MoveStage(s, "mine", "v1");  // a label nobody had
  EXPECT_THAT(StagesOf(s, "v1"), ElementsAre("mine"));
  MoveStage(s, "mine", "v9");  // no such version: nothing moves
  EXPECT_THAT(StagesOf(s, "v1"), ElementsAre("mine"));
}

TEST(SecretsStagesTest, ANewVersionIsCurrentWhenNothingIsYet) {
  Secret s = With({{}});
  LabelNewVersion(s, "v1", {kPending});
  EXPECT_THAT(StagesOf(s, "v1"), ElementsAre(kPending, kCurrent));

  s.versions.push_back(Version{"v2", {}, {}, {}, ""});
  LabelNewVersion(s, "v2", {kPending});
  EXPECT_THAT(StagesOf(s, "v1"), ElementsAre(kCurrent));
  EXPECT_THAT(StagesOf(s, "v2"), ElementsAre(kPending));
}

TEST(SecretsStagesTest, OnlyTheOldestDeprecatedVersionsAreDropped) {
  std::vector<std::vector<std::string>> stages(kMaxVersions + 2);
  stages[0] = {"kept"};
  stages.back() = {kCurrent};
  Secret s = With(stages);
  EXPECT_THAT(DropOldVersions(s), ElementsAre("v2", "v3"));
  EXPECT_EQ(s.versions.size(), kMaxVersions);
  EXPECT_EQ(s.versions.front().id, "v1");

  Secret labelled = With(std::vector<std::vector<std::string>>(kMaxVersions + 1, {"x"}));
  EXPECT_THAT(DropOldVersions(labelled), IsEmpty());  // none deprecated: all kept
  EXPECT_EQ(labelled.versions.size(), kMaxVersions + 1);
}

TEST(SecretsStagesTest, UpdateStageFollowsAwsRules) {
  Secret s = With({{kPrevious}, {kCurrent}, {}});
  ExpectInvalid(UpdateStage(s, kCurrent, "", "v9"), "The secret doesn't have a version v9.");
  ExpectInvalid(UpdateStage(s, kCurrent, "v1", "v3"),
                "The staging label AWSCURRENT isn't attached to version v1.");
  ExpectInvalid(UpdateStage(s, kCurrent, "", "v3"),
                "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is "
                "currently attached to version v2, so you must explicitly reference that version "
                "in RemoveFromVersionId.");
  ExpectInvalid(UpdateStage(s, kCurrent, "v2", ""),
                "You can only move staging label AWSCURRENT to a different secret version. It "
                "can't be completely removed.");

  ASSERT_TRUE(UpdateStage(s, kCurrent, "v2", "v3"));
  EXPECT_THAT(StagesOf(s, "v2"), ElementsAre(kPrevious));
  EXPECT_THAT(StagesOf(s, "v3"), ElementsAre(kCurrent));

  ASSERT_TRUE(UpdateStage(s, "mine", "", "v1"));
  ASSERT_TRUE(UpdateStage(s, "mine", "v1", ""));
  EXPECT_THAT(StagesOf(s, "v1"), IsEmpty());
}

}  // namespace
}  // namespace berth::secrets
