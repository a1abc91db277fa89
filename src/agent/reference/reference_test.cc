#include "agent/reference/reference.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace berth::agent::reference {
namespace {

const std::string kHex = "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa";
const std::string kDigest = "sha256:" + kHex;

struct ValidCase {
  std::string input;
  Reference want;
  friend void PrintTo(const ValidCase& c, std::ostream* os) { *os << '"' << c.input << '"'; }
};

class ParseReferenceValidTest : public testing::TestWithParam<ValidCase> {};

TEST_P(ParseReferenceValidTest, ParsesFields) {
  const ValidCase& c = GetParam();
  Result<Reference> got = ParseReference(c.input);
  ASSERT_TRUE(got.has_value()) << c.input << ": " << got.error().message;
  EXPECT_EQ(got->registry, c.want.registry) << c.input;
  EXPECT_EQ(got->repository, c.want.repository) << c.input;
  EXPECT_EQ(got->tag, c.want.tag) << c.input;
  EXPECT_EQ(got->digest, c.want.digest) << c.input;
}

TEST_P(ParseReferenceValidTest, ToStringRoundTrips) {
  const ValidCase& c = GetParam();
  Result<Reference> again = ParseReference(c.want.ToString());
  ASSERT_TRUE(again.has_value()) << c.want.ToString() << ": " << again.error().message;
  EXPECT_EQ(*again, c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Grammar, ParseReferenceValidTest,
    testing::Values(
        // Docker Hub defaults.
        ValidCase{"busybox", {"registry-1.docker.io", "library/busybox", "latest", ""}},
        ValidCase{"busybox:1.36", {"registry-1.docker.io", "library/busybox", "1.36", ""}},
        ValidCase{"myorg/app", {"registry-1.docker.io", "myorg/app", "latest", ""}},
        ValidCase{"library/busybox", {"registry-1.docker.io", "library/busybox", "latest", ""}},
        ValidCase{"docker.io/busybox", {"registry-1.docker.io", "library/busybox", "latest", ""}},
        ValidCase{"Docker.IO/busybox", {"registry-1.docker.io", "library/busybox", "latest", ""}},
        ValidCase{"index.docker.io/myorg/app:v2", {"registry-1.docker.io", "myorg/app", "v2", ""}},
        ValidCase{"registry-1.docker.io/busybox",
                  {"registry-1.docker.io", "library/busybox", "latest", ""}},
        ValidCase{"busybox@" + kDigest, {"registry-1.docker.io", "library/busybox", "", kDigest}},
        // Hosts: '.', ':' or "localhost" make the first component a host.
        ValidCase{"registry.example.com:5000/team/api:1.4",
                  {"registry.example.com:5000", "team/api", "1.4", ""}},
        ValidCase{"Registry.Example.COM/team/api",
                  {"registry.example.com", "team/api", "latest", ""}},
        ValidCase{"localhost/x", {"localhost", "x", "latest", ""}},
        ValidCase{"localhost:5000/x:y", {"localhost:5000", "x", "y", ""}},
        ValidCase{"myhost:5000/x", {"myhost:5000", "x", "latest", ""}},
        ValidCase{"127.0.0.1:5000/a/b@" + kDigest, {"127.0.0.1:5000", "a/b", "", kDigest}},
        ValidCase{"[::1]:5000/a:b", {"[::1]:5000", "a", "b", ""}},
        ValidCase{"[FE80::1]/a", {"[fe80::1]", "a", "latest", ""}},
        // Without a '/', "localhost" and "host:port" are a Docker Hub name and tag.
        ValidCase{"localhost", {"registry-1.docker.io", "library/localhost", "latest", ""}},
        ValidCase{"localhost:5000", {"registry-1.docker.io", "library/localhost", "5000", ""}},
        // Tag and digest together: both kept, the digest is the locator.
        ValidCase{"registry.example.com/a/b:v1@" + kDigest,
                  {"registry.example.com", "a/b", "v1", kDigest}},
        // Separators and tag characters.
        ValidCase{"example.com/a.b_c__d-e--f/g0",
                  {"example.com", "a.b_c__d-e--f/g0", "latest", ""}},
        ValidCase{"example.com/x:_V1.0-rc.1", {"example.com", "x", "_V1.0-rc.1", ""}},
        ValidCase{"example.com/x:" + std::string(128, 't'),
                  {"example.com", "x", std::string(128, 't'), ""}},
        // The name limit is 255: "example.com/" is 12, Docker Hub counts as "docker.io/".
        ValidCase{"example.com/" + std::string(243, 'a'),
                  {"example.com", std::string(243, 'a'), "latest", ""}},
        ValidCase{std::string(237, 'a'),
                  {"registry-1.docker.io", "library/" + std::string(237, 'a'), "latest", ""}}));

struct InvalidCase {
  std::string input;
  std::string problem;  // Expected after "invalid reference format: ".
  friend void PrintTo(const InvalidCase& c, std::ostream* os) { *os << '"' << c.input << '"'; }
};

class ParseReferenceInvalidTest : public testing::TestWithParam<InvalidCase> {};

TEST_P(ParseReferenceInvalidTest, FailsWithInvalidImageReference) {
  const InvalidCase& c = GetParam();
  Result<Reference> got = ParseReference(c.input);
  ASSERT_FALSE(got.has_value()) << c.input << " parsed as " << got->ToString();
  EXPECT_EQ(got.error().code, "InvalidImageReference");
  EXPECT_EQ(got.error().http_status, 400);
  EXPECT_TRUE(got.error().message.starts_with("invalid reference format: " + c.problem))
      << c.input << ": " << got.error().message;
  // The message names the reference (quoted, possibly shortened).
  EXPECT_NE(got.error().message.find("(in \"" + c.input.substr(0, 40)), std::string::npos)
      << got.error().message;
}

const char kLowercase[] = "repository name must be lowercase";
const char kComponents[] = "repository name components must be";
const char kEmpty[] = "repository name must have at least one component";
const char kHexDigits[] = "a sha256 digest must be 64 lower-case hex digits";
const char kTag[] = "invalid tag format";
const char kHost[] = "invalid registry host";

INSTANTIATE_TEST_SUITE_P(
    Grammar, ParseReferenceInvalidTest,
    testing::Values(
        InvalidCase{"", kEmpty}, InvalidCase{"example.com/", kEmpty}, InvalidCase{":tag", kEmpty},
        InvalidCase{"Busybox", kLowercase},
        InvalidCase{"registry.example.com/Team/api", kLowercase},
        InvalidCase{"myOrg/app:Tag", kLowercase}, InvalidCase{"a/-b", kComponents},
        InvalidCase{"a/b-", kComponents}, InvalidCase{"a/b..c", kComponents},
        InvalidCase{"a/b___c", kComponents}, InvalidCase{"a//b", kComponents},
        InvalidCase{"a/b/", kComponents}, InvalidCase{"busy box", kComponents},
        InvalidCase{"busybox:", kTag}, InvalidCase{"busybox:-x", kTag},
        InvalidCase{"busybox:.x", kTag}, InvalidCase{"busybox:a:b", kTag},
        InvalidCase{"busybox:" + std::string(129, 't'), kTag},
        InvalidCase{"busybox@", "invalid digest format"},
        InvalidCase{"busybox@sha256", "invalid digest format"},
        InvalidCase{"busybox@sha256:abc", kHexDigits},
        InvalidCase{"busybox@sha256:" + kHex + "0", kHexDigits},
        InvalidCase{
            "busybox@sha256:7CC4B5AEFD1D0CADF8D97D4350462BA51C694EBCA145B08D7D41B41ACC8DB5AA",
            kHexDigits},
        InvalidCase{"busybox@sha512:" + kHex + kHex, "unsupported digest algorithm \"sha512\""},
        InvalidCase{"busybox@md5:d41d8cd98f00b204e9800998ecf8427e",
                    "unsupported digest algorithm \"md5\""},
        InvalidCase{"exa_mple.com/x", kHost}, InvalidCase{"-example.com/x", kHost},
        InvalidCase{"example..com/x", kHost}, InvalidCase{"example.com:/x", kHost},
        InvalidCase{"example.com:99999/x", kHost}, InvalidCase{"example.com:50a0/x", kHost},
        InvalidCase{"[::1/x", kHost}, InvalidCase{"[]:5000/x", kHost},
        InvalidCase{"[::1]5000/x", kHost}, InvalidCase{"[::g]/x", kHost},
        InvalidCase{kHex, "a 64-digit hexadecimal string is an image id"},
        InvalidCase{"example.com/" + std::string(244, 'a'),
                    "repository name must not be more than 255 characters"},
        InvalidCase{std::string(238, 'a'),
                    "repository name must not be more than 255 characters"}));

TEST(ParseReferenceTest, QuotesAndShortensHostileInput) {
  std::string hostile = "Bad\n" + std::string(1000, 'x');
  Result<Reference> got = ParseReference(hostile);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().message.find('\n'), std::string::npos);
  EXPECT_NE(got.error().message.find("(in \"Bad\\n"), std::string::npos) << got.error().message;
  EXPECT_TRUE(got.error().message.ends_with("\"...)")) << got.error().message;
  EXPECT_LT(got.error().message.size(), 400u);
}

TEST(ReferenceTest, ToStringAndLocator) {
  Reference tagged{"registry.example.com:5000", "team/api", "1.4", ""};
  EXPECT_EQ(tagged.ToString(), "registry.example.com:5000/team/api:1.4");
  EXPECT_EQ(tagged.Locator(), "1.4");

  Reference pinned{"127.0.0.1:5000", "a/b", "", kDigest};
  EXPECT_EQ(pinned.ToString(), "127.0.0.1:5000/a/b@" + kDigest);
  EXPECT_EQ(pinned.Locator(), kDigest);

  Reference both{"registry-1.docker.io", "library/busybox", "1.36", kDigest};
  EXPECT_EQ(both.ToString(), "registry-1.docker.io/library/busybox:1.36@" + kDigest);
  EXPECT_EQ(both.Locator(), kDigest);
}

TEST(IsDockerHubHostTest, KnowsDockerHubsNames) {
  EXPECT_TRUE(IsDockerHubHost("docker.io"));
  EXPECT_TRUE(IsDockerHubHost("index.docker.io"));
  EXPECT_TRUE(IsDockerHubHost("registry-1.docker.io"));
  EXPECT_FALSE(IsDockerHubHost("registry-2.docker.io"));
  EXPECT_FALSE(IsDockerHubHost("docker.io:443"));
  EXPECT_FALSE(IsDockerHubHost("quay.io"));
}

}  // namespace
}  // namespace berth::agent::reference
