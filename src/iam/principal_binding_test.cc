// BindPrincipals / ShowBoundPrincipals / ValidateTags: how stored policies keep
// meaning the principals they named, and IAM's tag rules.
#include <gtest/gtest.h>

#include <map>

#include "common/json.h"
#include "iam/service.h"

namespace berth::iam {
namespace {

constexpr char kAlice[] = "arn:aws:iam::111122223333:user/alice";
constexpr char kRole[] = "arn:aws:iam::111122223333:role/ops/deployer";

// What this server holds: ARN -> unique id; another account's ARNs are unknown.
Result<std::optional<std::string>> Lookup(std::string_view arn) {
  static const std::map<std::string, std::string, std::less<>> kIds = {
      {kAlice, "AIDAALICEEXAMPLE00001"}, {kRole, "AROADEPLOYEREXAMPLE01"}};
  if (auto it = kIds.find(arn); it != kIds.end()) return std::optional<std::string>(it->second);
  if (arn.find(":111122223333:") != std::string_view::npos) {
    return Fail("NoSuchEntity", "no such entity", 404);
  }
  return std::optional<std::string>();
}

std::string Trust(std::string_view principals) {
  return std::string(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":)") +
         std::string(principals) + R"(},"Action":"sts:AssumeRole"}]})";
}

TEST(BindPrincipalsTest, UsersAndRolesBecomeTheirUniqueIds) {
  auto bound = BindPrincipals(
      Trust(R"(["arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:role/ops/deployer",)"
            R"("arn:aws:iam::444455556666:user/bob","111122223333"])"),
      Lookup);
  ASSERT_TRUE(bound.has_value()) << bound.error().message;
  auto doc = json::Json::parse(bound->document);
  EXPECT_EQ(doc["Statement"][0]["Principal"]["AWS"],
            json::Json::array({"AIDAALICEEXAMPLE00001", "AROADEPLOYEREXAMPLE01",
                               "arn:aws:iam::444455556666:user/bob", "111122223333"}));
  ASSERT_EQ(bound->ids.size(), 2u);
  EXPECT_EQ(bound->ids[0], (std::pair<std::string, std::string>{kAlice, "AIDAALICEEXAMPLE00001"}));
}

TEST(BindPrincipalsTest, PrincipalsWrittenWithJsonEscapesAreBoundToo) {
  // "user\/alice" and "\u0075ser/alice" are the same ARN once the JSON is read.
  auto bound = BindPrincipals(
      Trust(R"(["arn:aws:iam::111122223333:user\/alice","arn:aws:iam::111122223333:\u0072ole/ops/deployer"])"),
      Lookup);
  ASSERT_TRUE(bound.has_value()) << bound.error().message;
  EXPECT_EQ(json::Json::parse(bound->document)["Statement"][0]["Principal"]["AWS"],
            json::Json::array({"AIDAALICEEXAMPLE00001", "AROADEPLOYEREXAMPLE01"}));
  auto missing = BindPrincipals(Trust(R"("arn:aws:iam::111122223333:user\/ghost")"), Lookup);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, "MalformedPolicyDocument");
}

TEST(BindPrincipalsTest, NothingToBindLeavesTheDocumentAsItIs) {
  auto bound = BindPrincipals(Trust(R"("111122223333")"), Lookup);
  ASSERT_TRUE(bound.has_value());
  EXPECT_TRUE(bound->document.empty());
  EXPECT_TRUE(bound->ids.empty());
}

TEST(BindPrincipalsTest, AUserThatDoesNotExistIsAnInvalidPrincipal) {
  auto bound = BindPrincipals(Trust(R"("arn:aws:iam::111122223333:user/ghost")"), Lookup);
  ASSERT_FALSE(bound.has_value());
  EXPECT_EQ(bound.error().code, "MalformedPolicyDocument");
  EXPECT_EQ(bound.error().message,
            R"(Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:user/ghost")");
}

TEST(ShowBoundPrincipalsTest, OnlyPrincipalsThatAreGoneShowAsIds) {
  std::string doc = Trust(R"(["arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:role/ops/deployer"])");
  std::vector<std::pair<std::string, std::string>> ids = {{kAlice, "AIDAALICEEXAMPLE00001"},
                                                          {kRole, "AROADEPLOYEREXAMPLE01"}};
  // Nothing changed: the document as stored, byte for byte.
  EXPECT_EQ(ShowBoundPrincipals(doc, ids, [](std::string_view arn) -> std::optional<std::string> {
              return *Lookup(arn).value();
            }),
            doc);
  // alice was re-created (another id): shown as the id the policy meant.
  auto shown = json::Json::parse(
      ShowBoundPrincipals(doc, ids, [](std::string_view arn) -> std::optional<std::string> {
        if (arn == kAlice) return "AIDANEWALICEEXAMPLE01";
        return *Lookup(arn).value();
      }));
  EXPECT_EQ(shown["Statement"][0]["Principal"]["AWS"],
            json::Json::array({"AIDAALICEEXAMPLE00001", kRole}));
}

TEST(ValidateTagsTest, IamRules) {
  EXPECT_TRUE(ValidateTags({{"team", "core"}, {"empty", ""}, {"a.b:c/d=e+f-g@h_i", "v w"}}));
  auto code = [](const Tags& tags) {
    auto r = ValidateTags(tags);
    return r ? std::string("ok") : r.error().code;
  };
  EXPECT_EQ(code({{"aws:reserved", "x"}}), "InvalidInput");
  EXPECT_EQ(code({{"AWS:reserved", "x"}}), "InvalidInput");
  EXPECT_EQ(code({{"k", "1"}, {"K", "2"}}), "InvalidInput");
  EXPECT_EQ(code({{"", "x"}}), "ValidationError");
  EXPECT_EQ(code({{std::string(129, 'k'), "x"}}), "ValidationError");
  EXPECT_EQ(code({{"k", std::string(257, 'v')}}), "ValidationError");
  EXPECT_EQ(code({{"bad#key", "x"}}), "ValidationError");
  Tags many;
  for (int i = 0; i < 51; ++i) many.emplace_back("k" + std::to_string(i), "v");
  EXPECT_EQ(code(many), "ValidationError");
  many.pop_back();
  EXPECT_EQ(code(many), "ok");
}

}  // namespace
}  // namespace berth::iam
