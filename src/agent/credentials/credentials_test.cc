#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "agent/credentials/credential_source.h"
#include "agent/credentials/docker_config_credentials.h"
#include "agent/credentials/engine_auth_credentials.h"
#include "agent/credentials/registry_key.h"
#include "agent/credentials/static_credentials.h"
#include "agent/reference/reference.h"
#include "common/strings.h"

namespace berth::agent::credentials {
namespace {

reference::Reference Ref(std::string_view text) {
  Result<reference::Reference> ref = reference::ParseReference(text);
  EXPECT_TRUE(ref.has_value()) << text;
  return ref.value_or(reference::Reference{});
}

// What a lookup answered, flattened for table comparisons: "" for anonymous,
// "user:password", or "token:<identity token>".
std::string Describe(const Result<std::optional<RegistryCredentials>>& got) {
  if (!got) return "error " + got.error().code;
  if (!*got) return "";
  std::string out = (*got)->username + ":" + (*got)->password;
  if (!(*got)->identity_token.empty()) out += "+token:" + (*got)->identity_token;
  return out;
}

// --- SplitUserPassword and StaticCredentials --------------------------------

TEST(SplitUserPasswordTest, SplitsAtTheFirstColon) {
  struct Case {
    std::string input;
    std::optional<std::string> user;
    std::string password;
  };
  for (const Case& c :
       {Case{"u:p", "u", "p"}, Case{"u:p:q", "u", "p:q"}, Case{"u:", "u", ""},
        Case{":p", std::nullopt, ""}, Case{"up", std::nullopt, ""}, Case{"", std::nullopt, ""}}) {
    std::optional<RegistryCredentials> got = SplitUserPassword(c.input);
    ASSERT_EQ(got.has_value(), c.user.has_value()) << c.input;
    if (!got) continue;
    EXPECT_EQ(got->username, *c.user) << c.input;
    EXPECT_EQ(got->password, c.password) << c.input;
    EXPECT_EQ(got->identity_token, "") << c.input;
  }
}

TEST(StaticCredentialsTest, AppliesToEveryRegistry) {
  auto source = StaticCredentials::Parse("alice:pa:ss");
  ASSERT_TRUE(source.has_value()) << source.error().message;
  for (std::string_view image : {"busybox", "registry.example.com:5000/team/api", "localhost/x"}) {
    EXPECT_EQ(Describe((*source)->Lookup(Ref(image))), "alice:pa:ss") << image;
  }
}

TEST(StaticCredentialsTest, RejectsMalformedWithoutEchoingIt) {
  for (std::string_view input : {"hunter2-no-colon", ":hunter2-no-user", ""}) {
    auto source = StaticCredentials::Parse(input);
    ASSERT_FALSE(source.has_value()) << input;
    EXPECT_EQ(source.error().code, "InvalidRegistryCredentials");
    EXPECT_EQ(source.error().message.find("hunter2"), std::string::npos) << source.error().message;
  }
}

// --- NormalizeRegistryKey -----------------------------------------------------

TEST(NormalizeRegistryKeyTest, StripsSchemeAndNormalisesDockerHub) {
  struct Case {
    std::string key;
    RegistryKey want;
  };
  const std::string hub(reference::kDockerHubRegistry);
  for (const Case& c : {
           Case{"https://index.docker.io/v1/", {hub, ""}},
           Case{"index.docker.io/v1/", {hub, ""}},
           Case{"index.docker.io", {hub, ""}},
           Case{"docker.io", {hub, ""}},
           Case{"http://registry-1.docker.io/v2/", {hub, ""}},
           Case{"HTTPS://Docker.IO", {hub, ""}},
           Case{"docker.io/myorg", {hub, "myorg"}},
           Case{"My.Registry:5000", {"my.registry:5000", ""}},
           Case{"http://my.registry:5000/", {"my.registry:5000", ""}},
           Case{"https://my.registry/team/", {"my.registry", "team"}},
           Case{"my.registry/team/sub", {"my.registry", "team/sub"}},
           Case{"https://my.registry/v2/", {"my.registry", ""}},
           Case{"[::1]:5000", {"[::1]:5000", ""}},
       }) {
    RegistryKey got = NormalizeRegistryKey(c.key);
    EXPECT_EQ(got.host, c.want.host) << c.key;
    EXPECT_EQ(got.path, c.want.path) << c.key;
  }
}

// --- DockerConfigCredentials --------------------------------------------------

std::unique_ptr<DockerConfigCredentials> DockerConfig(const std::string& text) {
  auto config = DockerConfigCredentials::Parse(text);
  EXPECT_TRUE(config.has_value()) << config.error().message;
  return config ? std::move(*config) : nullptr;
}

TEST(DockerConfigCredentialsTest, ReadsEachEntryForm) {
  auto config = DockerConfig(R"({
    "auths": {
      "https://index.docker.io/v1/": {"auth": ")" +
                             Base64Encode("hubuser:hub:pass") + R"("},
      "my.registry:5000": {"username": "u2", "password": "p2", "email": "e@example.com"},
      "https://token.example.com": {"identitytoken": "tok3"},
      "http://other.example.com/v2/": {"auth": ")" +
                             Base64Encode("u4:p4") + R"(",
                                       "username": "ignored", "password": "ignored"}
    },
    "HttpHeaders": {"User-Agent": "docker"}
  })");
  ASSERT_NE(config, nullptr);
  struct Case {
    std::string image;
    std::string want;
  };
  for (const Case& c : {
           Case{"busybox", "hubuser:hub:pass"},
           Case{"docker.io/myorg/app", "hubuser:hub:pass"},
           Case{"index.docker.io/myorg/app", "hubuser:hub:pass"},
           Case{"my.registry:5000/team/api", "u2:p2"},
           Case{"My.Registry:5000/team/api", "u2:p2"},
           Case{"my.registry/team/api", ""},  // Another port is another registry.
           Case{"token.example.com/x", ":+token:tok3"},
           Case{"other.example.com/x/y", "u4:p4"},
           Case{"unknown.example.com/x", ""},
       }) {
    EXPECT_EQ(Describe(config->Lookup(Ref(c.image))), c.want) << c.image;
  }
}

TEST(DockerConfigCredentialsTest, MatchesByHostPreferringAKeyWithoutPath) {
  auto config = DockerConfig(R"({"auths": {
    "my.registry/team": {"username": "team", "password": "t"},
    "https://my.registry": {"username": "host", "password": "h"},
    "only.example.com/team": {"username": "only", "password": "o"}}})");
  ASSERT_NE(config, nullptr);
  // Docker's config is per host: a key's path does not limit it.
  EXPECT_EQ(Describe(config->Lookup(Ref("my.registry/team/api"))), "host:h");
  EXPECT_EQ(Describe(config->Lookup(Ref("my.registry/other/api"))), "host:h");
  EXPECT_EQ(Describe(config->Lookup(Ref("only.example.com/other/api"))), "only:o");
}

TEST(DockerConfigCredentialsTest, EmptyConfigsMeanAnonymous) {
  for (std::string text :
       {"", "{}", R"({"auths": {}})", R"({"auths": null})", R"({"auths": {"my.registry": {}}})"}) {
    auto config = DockerConfig(text);
    ASSERT_NE(config, nullptr) << text;
    EXPECT_EQ(Describe(config->Lookup(Ref("my.registry/x"))), "") << text;
  }
}

TEST(DockerConfigCredentialsTest, RefusesCredentialHelpers) {
  auto config = DockerConfig(R"({
    "auths": {"ghcr.io": {}, "inline.example.com": {"username": "u", "password": "p"}},
    "credsStore": "desktop",
    "credHelpers": {"https://gcr.io": "gcloud"}})");
  ASSERT_NE(config, nullptr);

  auto helper = config->Lookup(Ref("gcr.io/project/app"));
  ASSERT_FALSE(helper.has_value());
  EXPECT_EQ(helper.error().code, "UnsupportedCredentialStore");
  EXPECT_NE(helper.error().message.find("\"docker-credential-gcloud\""), std::string::npos)
      << helper.error().message;
  EXPECT_NE(helper.error().message.find("\"gcr.io\""), std::string::npos);

  auto store = config->Lookup(Ref("ghcr.io/org/app"));
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, "UnsupportedCredentialStore");
  EXPECT_NE(store.error().message.find("\"docker-credential-desktop\""), std::string::npos)
      << store.error().message;

  // Inline credentials still work, and hosts the config does not name pull anonymously.
  EXPECT_EQ(Describe(config->Lookup(Ref("inline.example.com/x"))), "u:p");
  EXPECT_EQ(Describe(config->Lookup(Ref("quay.io/org/app"))), "");
}

struct ParseErrorCase {
  std::string input;
  std::string problem;  // Expected in the message.
  std::string secret;   // Must not be in the message.
};

TEST(DockerConfigCredentialsTest, RejectsMalformedConfigsWithoutSecrets) {
  const std::string no_colon = Base64Encode("s3cr3t-without-colon");
  for (const ParseErrorCase& c : {
           ParseErrorCase{R"({"auths": {"a.io": {"password": "s3cr3t"})", "not a JSON object",
                          "s3cr3t"},
           ParseErrorCase{R"(["s3cr3t"])", "not a JSON object", "s3cr3t"},
           ParseErrorCase{R"({"auths": ["s3cr3t"]})", "expected a JSON object", "s3cr3t"},
           ParseErrorCase{R"({"auths": {"a.io": "s3cr3t"}})",
                          "the entry for \"a.io\" must be a JSON object", "s3cr3t"},
           ParseErrorCase{R"({"auths": {"a.io": {"auth": "s3cr3t!"}}})",
                          "the \"auth\" field of the entry for \"a.io\" is not valid base64",
                          "s3cr3t"},
           ParseErrorCase{R"({"auths": {"a.io": {"auth": ")" + no_colon + R"("}}})",
                          "does not decode to \"username:password\"", "s3cr3t"},
           ParseErrorCase{R"({"auths": {"a.io": {"username": "u", "password": 271828}}})",
                          "the \"password\" field of the entry for \"a.io\" must be a string",
                          "271828"},
           ParseErrorCase{R"({"credsStore": 5})", "\"credsStore\" must be a string", "5"},
           ParseErrorCase{R"({"credHelpers": ["x"]})", "\"credHelpers\" must be a JSON object",
                          "[\"x\"]"},
       }) {
    auto config = DockerConfigCredentials::Parse(c.input);
    ASSERT_FALSE(config.has_value()) << c.input;
    EXPECT_EQ(config.error().code, "InvalidDockerConfig") << c.input;
    EXPECT_NE(config.error().message.find(c.problem), std::string::npos) << config.error().message;
    EXPECT_EQ(config.error().message.find(c.secret), std::string::npos) << config.error().message;
    EXPECT_EQ(config.error().message.find(no_colon), std::string::npos) << config.error().message;
  }
}

// --- EngineAuthCredentials ----------------------------------------------------

std::unique_ptr<EngineAuthCredentials> EngineAuth(std::string_view type, const std::string& data) {
  auto source = EngineAuthCredentials::FromEnv(type, data);
  EXPECT_TRUE(source.has_value()) << source.error().message;
  return source ? std::move(*source) : nullptr;
}

TEST(EngineAuthCredentialsTest, DockerType) {
  auto source = EngineAuth("docker", R"({
    "my.registry:5000": {"username": "u", "password": "p", "email": "e@example.com"},
    "https://token.example.com": {"identitytoken": "tok"}})");
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(Describe(source->Lookup(Ref("my.registry:5000/team/api:1.4"))), "u:p");
  EXPECT_EQ(Describe(source->Lookup(Ref("token.example.com/x"))), ":+token:tok");
  EXPECT_EQ(Describe(source->Lookup(Ref("my.registry/team/api"))), "");
  EXPECT_EQ(Describe(source->Lookup(Ref("busybox"))), "");
}

TEST(EngineAuthCredentialsTest, DockercfgTypeAndDockerHubAliases) {
  auto source = EngineAuth("dockercfg", R"({"https://index.docker.io/v1/":
      {"auth": ")" + Base64Encode("hub:se:cret") +
                                            R"(", "email": "e@example.com"}})");
  ASSERT_NE(source, nullptr);
  for (std::string_view image : {"busybox", "myorg/app", "docker.io/library/busybox",
                                 "index.docker.io/myorg/app", "registry-1.docker.io/busybox"}) {
    EXPECT_EQ(Describe(source->Lookup(Ref(image))), "hub:se:cret") << image;
  }
  EXPECT_EQ(Describe(source->Lookup(Ref("quay.io/org/app"))), "");
}

TEST(EngineAuthCredentialsTest, OtherSpellingsOfDockerHubKeysMatchToo) {
  for (std::string_view key :
       {"index.docker.io/v1/", "docker.io", "https://registry-1.docker.io"}) {
    auto source = EngineAuth(
        "docker", R"({")" + std::string(key) + R"(": {"username": "u", "password": "p"}})");
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(Describe(source->Lookup(Ref("busybox"))), "u:p") << key;
  }
}

TEST(EngineAuthCredentialsTest, LongestNamespacePrefixWins) {
  auto source = EngineAuth("docker", R"({
    "my.registry": {"username": "host", "password": "a"},
    "https://my.registry/team": {"username": "team", "password": "b"},
    "my.registry/team/sub/": {"username": "sub", "password": "c"},
    "my.registry/tea": {"username": "tea", "password": "d"},
    "http://other.registry:5000": {"username": "other", "password": "e"},
    "docker.io/myorg": {"username": "hubns", "password": "f"}})");
  ASSERT_NE(source, nullptr);
  struct Case {
    std::string image;
    std::string want;
  };
  for (const Case& c : {
           Case{"my.registry/team/api", "team:b"},
           Case{"my.registry/team", "team:b"},
           Case{"my.registry/team/sub/api:1", "sub:c"},
           Case{"my.registry/teams/api", "host:a"},  // Whole components only.
           Case{"my.registry/tea/api", "tea:d"},
           Case{"my.registry/other/api", "host:a"},
           Case{"other.registry:5000/x", "other:e"},
           Case{"other.registry/x", ""},
           Case{"my.registry:5000/team/api", ""},
           Case{"myorg/app", "hubns:f"},
           Case{"busybox", ""},
       }) {
    EXPECT_EQ(Describe(source->Lookup(Ref(c.image))), c.want) << c.image;
  }
}

TEST(EngineAuthCredentialsTest, NamespaceKeyDoesNotCoverOtherNamespaces) {
  auto source = EngineAuth("docker", R"({"my.registry/team": {"username": "t", "password": "p"}})");
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(Describe(source->Lookup(Ref("my.registry/team/api"))), "t:p");
  EXPECT_EQ(Describe(source->Lookup(Ref("my.registry/other/api"))), "");
}

TEST(EngineAuthCredentialsTest, EmptyObjectHasNoCredentials) {
  auto source = EngineAuth("docker", "{}");
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(Describe(source->Lookup(Ref("busybox"))), "");
}

TEST(EngineAuthCredentialsTest, RejectsMalformedDataWithoutSecrets) {
  struct Case {
    std::string type;
    std::string data;
    std::string problem;
    std::string secret;
  };
  const std::string no_colon = Base64Encode("s3cr3t-without-colon");
  const std::string no_user = Base64Encode(":s3cr3t");
  const std::string valid = R"({"my.reg": {"username": "u", "password": "s3cr3t"}})";
  for (const Case& c : {
           Case{"Docker", valid, "ECS_ENGINE_AUTH_TYPE must be \"docker\" or \"dockercfg\"",
                "s3cr3t"},
           Case{"", valid, "ECS_ENGINE_AUTH_TYPE must be", "s3cr3t"},
           Case{"s3cr3t", valid, "ECS_ENGINE_AUTH_TYPE must be", "s3cr3t"},
           Case{"docker", "", "ECS_ENGINE_AUTH_DATA: empty", "s3cr3t"},
           Case{"docker", R"({"my.reg": {"password": "s3cr3t")", "not a JSON object", "s3cr3t"},
           Case{"dockercfg", R"(["s3cr3t"])", "not a JSON object", "s3cr3t"},
           Case{"docker", R"({"my.reg": "s3cr3t"})",
                "the entry for \"my.reg\" must be a JSON object", "s3cr3t"},
           Case{"docker", R"({"my.reg": {"password": "s3cr3t"}})",
                "the entry for \"my.reg\" needs \"username\" and \"password\"", "s3cr3t"},
           Case{"docker", R"({"my.reg": {"username": "s3cr3t"}})",
                "needs \"username\" and \"password\"", "s3cr3t"},
           Case{"docker", R"({"my.reg": {"username": "u", "password": 271828}})",
                "the \"password\" field of the entry for \"my.reg\" must be a string", "271828"},
           Case{"dockercfg", valid, "the entry for \"my.reg\" needs a non-empty \"auth\"",
                "s3cr3t"},
           Case{"dockercfg", R"({"my.reg": {"auth": "s3cr3t!"}})",
                "the \"auth\" field of the entry for \"my.reg\" is not valid base64", "s3cr3t"},
           Case{"dockercfg", R"({"my.reg": {"auth": ")" + no_colon + R"("}})",
                "does not decode to \"username:password\"", no_colon},
           Case{"dockercfg", R"({"my.reg": {"auth": ")" + no_user + R"("}})",
                "does not decode to \"username:password\"", no_user},
       }) {
    auto source = EngineAuthCredentials::FromEnv(c.type, c.data);
    ASSERT_FALSE(source.has_value()) << c.type << " " << c.data;
    const Error& error = source.error();
    EXPECT_EQ(error.code, "InvalidEngineAuthData") << c.data;
    EXPECT_NE(error.message.find(c.problem), std::string::npos) << error.message;
    EXPECT_EQ(error.message.find(c.secret), std::string::npos) << error.message;
    EXPECT_EQ(error.message.find("s3cr3t"), std::string::npos) << error.message;
  }
}

}  // namespace
}  // namespace berth::agent::credentials
