#include "agent/registry/resolver.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "agent/registry/errors.h"
#include "agent/registry/fake_registry.h"

namespace berth::agent::registry {
namespace {

using testing::DigestOf;
using testing::FakeRegistry;
using testing::Ref;
using namespace std::chrono_literals;

// A resolver for one registry, anonymous unless given credentials.
struct Fixture {
  explicit Fixture(FakeRegistry& registry,
                   std::optional<credentials::RegistryCredentials> creds = std::nullopt)
      : options(Options(registry)),
        transport(options),
        authorizer(std::move(creds), options, Fast()),
        resolver(transport, authorizer, Fast()) {}

  static TransportOptions Options(FakeRegistry& registry) {
    TransportOptions o;
    o.insecure_hosts = {registry.host()};
    return o;
  }
  static RetryPolicy Fast() { return RetryPolicy{3, 1ms, 2ms}; }

  TransportOptions options;
  Transport transport;
  Authorizer authorizer;
  Resolver resolver;
};

TEST(ResolverTest, ResolvesATagToVerifiedDescriptors) {
  auto registry = FakeRegistry::Start();
  auto image = registry->AddImage("team/app", "v1", {"layer one", "layer two"});
  Fixture f(*registry);
  Result<Resolved> got = f.resolver.Resolve(Ref(registry->host() + "/team/app:v1"), HostPlatform());
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->digest, image.manifest.digest);
  EXPECT_FALSE(got->index.has_value());
  EXPECT_EQ(got->manifest.media_type, kOciManifestType);
  EXPECT_EQ(got->manifest.digest, image.manifest.digest);
  EXPECT_EQ(got->manifest.size, static_cast<int64_t>(image.manifest_json.size()));
  EXPECT_EQ(got->manifest_json, image.manifest_json);
  EXPECT_EQ(got->image.config.digest, image.config.digest);
  ASSERT_EQ(got->image.layers.size(), 2u);
  EXPECT_EQ(got->image.layers[0].digest, DigestOf("layer one"));
  EXPECT_EQ(got->image.layers[1].digest, DigestOf("layer two"));

  auto seen = registry->requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target, "/v2/team/app/manifests/v1");
}

TEST(ResolverTest, SendsTheAcceptHeaderForAllFourManifestTypes) {
  http::Request seen;
  auto server = http::Server::Start(
      {.threads = 1},
      [&](const http::Request& req) {
        seen = req;
        return http::Response{404, {}, ""};
      },
      [](const http::Request&, int s, std::string_view) {
        return http::Response{s, {}, ""};
      });
  ASSERT_TRUE(server.has_value());
  TransportOptions options;
  options.insecure_hosts = {"127.0.0.1"};
  Transport transport(options);
  Authorizer authorizer(std::nullopt, options);
  Resolver resolver(transport, authorizer, RetryPolicy{1, 1ms, 1ms});
  (void)resolver.Resolve(Ref("127.0.0.1:" + std::to_string((*server)->port()) + "/a:b"),
                         HostPlatform());
  std::string accept(seen.HeaderOr("Accept"));
  for (std::string_view type :
       {kOciIndexType, kOciManifestType, kDockerManifestListType, kDockerManifestType}) {
    EXPECT_NE(accept.find(type), std::string::npos) << type;
  }
}

TEST(ResolverTest, ResolvesByDigestAndDockerMediaTypes) {
  auto registry = FakeRegistry::Start();
  auto image = registry->AddImage("app", "", {"x"}, std::string(kDockerManifestType));
  Fixture f(*registry);
  Result<Resolved> got =
      f.resolver.Resolve(Ref(registry->host() + "/app@" + image.manifest.digest), HostPlatform());
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->digest, image.manifest.digest);
  EXPECT_EQ(got->manifest.media_type, kDockerManifestType);
  EXPECT_EQ(got->image.config.media_type, kDockerConfigType);
  EXPECT_EQ(got->image.layers.at(0).media_type,
            "application/vnd.docker.image.rootfs.diff.tar.gzip");
}

TEST(ResolverTest, ContentThatDoesNotHashToTheRequestedDigestIsRefused) {
  auto registry = FakeRegistry::Start();
  auto image = registry->AddImage("app", "", {"x"});
  std::string other = "sha256:" + std::string(64, 'e');
  registry->PutManifest("app", other, std::string(kOciManifestType), image.manifest_json);
  Fixture f(*registry);
  Result<Resolved> got =
      f.resolver.Resolve(Ref(registry->host() + "/app@" + other), HostPlatform());
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_EQ(got.error().message, registry->host() + "/app@" + other + ": manifest " + other +
                                     ": digest mismatch: expected " + other +
                                     ", the content hashes to " + image.manifest.digest);
}

TEST(ResolverTest, DockerContentDigestMustMatchTheBody) {
  auto registry = FakeRegistry::Start();
  registry->AddImage("app", "v1", {"x"});
  registry->OverrideDigestHeader("sha256:" + std::string(64, 'd'));
  Fixture f(*registry);
  Result<Resolved> got = f.resolver.Resolve(Ref(registry->host() + "/app:v1"), HostPlatform());
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_NE(got.error().message.find("digest mismatch: the registry says sha256:ddd"),
            std::string::npos)
      << got.error().message;
}

TEST(ResolverTest, SelectsThePlatformFromAnIndex) {
  auto registry = FakeRegistry::Start();
  auto amd64 = registry->AddImage("app", "", {"amd64 layer"});
  auto arm64 = registry->AddImage("app", "", {"arm64 layer"}, std::string(kOciManifestType),
                                  {"linux", "arm64", "v8"});
  auto armv7 = registry->AddImage("app", "", {"armv7 layer"}, std::string(kOciManifestType),
                                  {"linux", "arm", "v7"});
  content::Descriptor index = registry->AddIndex("app", "multi",
                                                 {{{"linux", "amd64", ""}, amd64.manifest},
                                                  {{"linux", "arm64", "v8"}, arm64.manifest},
                                                  {{"linux", "arm", "v7"}, armv7.manifest}});
  struct Case {
    std::string platform;
    FakeRegistry::Image* want;
  };
  for (const Case& c :
       {Case{"linux/amd64", &amd64}, Case{"linux/arm64", &arm64}, Case{"linux/arm/v7", &armv7}}) {
    Fixture f(*registry);
    Result<Resolved> got =
        f.resolver.Resolve(Ref(registry->host() + "/app:multi"), ParsePlatform(c.platform).value());
    ASSERT_TRUE(got.has_value()) << c.platform << ": " << got.error().message;
    EXPECT_EQ(got->digest, index.digest) << c.platform;
    ASSERT_TRUE(got->index.has_value());
    EXPECT_EQ(got->index->media_type, kOciIndexType);
    EXPECT_EQ(got->manifest.digest, c.want->manifest.digest) << c.platform;
    EXPECT_EQ(got->manifest_json, c.want->manifest_json);
    EXPECT_EQ(got->image.layers.at(0).digest, c.want->layers.at(0).digest) << c.platform;
    EXPECT_EQ(got->platform.architecture, ParsePlatform(c.platform)->architecture);
  }
  // The platform manifest is fetched by digest.
  EXPECT_EQ(registry->Count("/manifests/" + amd64.manifest.digest), 1);

  Fixture f(*registry);
  Result<Resolved> none =
      f.resolver.Resolve(Ref(registry->host() + "/app:multi"), {"linux", "s390x", ""});
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, kCannotPullContainerError);
  EXPECT_EQ(none.error().message,
            registry->host() + "/app:multi: index " + index.digest +
                ": no matching manifest for linux/s390x in the manifest list entries (available: "
                "linux/amd64, linux/arm64/v8, linux/arm/v7)");
}

TEST(ResolverTest, APlatformManifestMustMatchItsIndexEntry) {
  auto registry = FakeRegistry::Start();
  auto image = registry->AddImage("app", "", {"x"});
  content::Descriptor lying = image.manifest;
  lying.size += 1;
  registry->AddIndex("app", "multi", {{{"linux", "amd64", ""}, lying}},
                     std::string(kDockerManifestListType));
  Fixture f(*registry);
  Result<Resolved> got = f.resolver.Resolve(Ref(registry->host() + "/app:multi"), HostPlatform());
  ASSERT_FALSE(got.has_value());
  EXPECT_NE(got.error().message.find("size mismatch"), std::string::npos) << got.error().message;
}

TEST(ResolverTest, UnknownMediaTypesAreRefusedClearly) {
  auto registry = FakeRegistry::Start();
  registry->PutManifest("app", "v1", "application/vnd.example.artifact+json",
                        R"({"schemaVersion":2})");
  Fixture f(*registry);
  Result<Resolved> got = f.resolver.Resolve(Ref(registry->host() + "/app:v1"), HostPlatform());
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_EQ(got.error().message, registry->host() +
                                     "/app:v1: manifest v1: unsupported manifest media type "
                                     "\"application/vnd.example.artifact+json\"");
}

TEST(ResolverTest, OversizedManifestsAreRefused) {
  auto registry = FakeRegistry::Start();
  registry->PutManifest("app", "big", std::string(kOciManifestType),
                        std::string(kMaxManifestSize + 1, ' '));
  Fixture f(*registry);
  Result<Resolved> got = f.resolver.Resolve(Ref(registry->host() + "/app:big"), HostPlatform());
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_NE(got.error().message.find("larger than 4194304 bytes"), std::string::npos)
      << got.error().message;
}

TEST(ResolverTest, RegistryErrorsCarryTheRegistrysCodeAndMessage) {
  auto registry = FakeRegistry::Start();
  registry->AddImage("team/app", "v1", {"x"});
  Fixture f(*registry);
  Result<Resolved> tag = f.resolver.Resolve(Ref(registry->host() + "/team/app:v2"), HostPlatform());
  ASSERT_FALSE(tag.has_value());
  EXPECT_EQ(tag.error().code, kCannotPullContainerError);
  EXPECT_EQ(tag.error().message, registry->host() +
                                     "/team/app:v2: manifest v2: MANIFEST_UNKNOWN: manifest "
                                     "unknown (HTTP 404)");
  EXPECT_EQ(tag.error().http_status, 404);

  Result<Resolved> repo =
      f.resolver.Resolve(Ref(registry->host() + "/team/nope:v1"), HostPlatform());
  ASSERT_FALSE(repo.has_value());
  EXPECT_EQ(repo.error().message, registry->host() +
                                      "/team/nope:v1: manifest v1: NAME_UNKNOWN: repository name "
                                      "not known to registry (HTTP 404)");
}

TEST(ResolverTest, ServerErrorsAreRetried) {
  auto registry = FakeRegistry::Start();
  registry->AddImage("app", "v1", {"x"});
  registry->FailNext("/manifests/", 2, 503);
  Fixture f(*registry);
  Result<Resolved> got = f.resolver.Resolve(Ref(registry->host() + "/app:v1"), HostPlatform());
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(registry->Count("/manifests/v1"), 3);

  registry->FailNext("/manifests/", 3, 500);  // the policy allows 3 attempts
  Result<Resolved> failed = f.resolver.Resolve(Ref(registry->host() + "/app:v1"), HostPlatform());
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().message,
            registry->host() + "/app:v1: manifest v1: UNKNOWN: injected failure (HTTP 500)");
}

TEST(ResolverTest, PlainHttpOnlyForListedHosts) {
  auto registry = FakeRegistry::Start();
  registry->AddImage("app", "v1", {"x"});
  TransportOptions options;  // 127.0.0.1 is not implicitly insecure
  Transport transport(options);
  Authorizer authorizer(std::nullopt, options);
  Resolver resolver(transport, authorizer, RetryPolicy{3, 1ms, 1ms});
  Result<Resolved> got = resolver.Resolve(Ref(registry->host() + "/app:v1"), HostPlatform());
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_NE(got.error().message.find("https://127.0.0.1:"), std::string::npos)
      << got.error().message;
  EXPECT_NE(got.error().message.find("must be listed as an insecure registry"), std::string::npos)
      << got.error().message;
  EXPECT_EQ(registry->Count("/v2/"), 0);  // no HTTP request was ever understood
}

TEST(ResolverTest, BasicAndBearerChallengesAreAnswered) {
  for (auto auth : {FakeRegistry::Auth::kBasic, FakeRegistry::Auth::kBearer}) {
    auto registry = FakeRegistry::Start({.auth = auth});
    auto image = registry->AddImage("app", "v1", {"x"});
    Fixture f(*registry, credentials::RegistryCredentials{"alice", "pa55:word", ""});
    Result<Resolved> got = f.resolver.Resolve(Ref(registry->host() + "/app:v1"), HostPlatform());
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(got->digest, image.manifest.digest);
    auto seen = registry->requests();
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.front().authorization, "");  // anonymous first, then the answer
    EXPECT_NE(seen.back().authorization, "");
  }
}

}  // namespace
}  // namespace berth::agent::registry
