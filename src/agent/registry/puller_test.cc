#include "agent/registry/puller.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "agent/credentials/static_credentials.h"
#include "agent/registry/errors.h"
#include "agent/registry/fake_registry.h"
#include "agent/registry/fake_store.h"

namespace berth::agent::registry {
namespace {

using testing::FakeRegistry;
using testing::FakeStore;
using testing::Ref;
using namespace std::chrono_literals;

PullOptions Options(const FakeRegistry& registry) {
  PullOptions options;
  options.transport.insecure_hosts = {registry.host()};
  options.retry = RetryPolicy{3, 1ms, 2ms};
  options.fetch.retry = RetryPolicy{3, 1ms, 2ms};
  return options;
}

credentials::StaticCredentials Alice(std::string password = "pa55:word") {
  return credentials::StaticCredentials({"alice", std::move(password), ""});
}

// Everything a pull must leave in the store, and what it must return.
void ExpectPulled(const Result<PullResult>& got, const FakeRegistry::Image& image,
                  const content::Store& store) {
  ASSERT_TRUE(got.has_value()) << got.error().code << ": " << got.error().message;
  EXPECT_EQ(got->manifest.digest, image.manifest.digest);
  EXPECT_EQ(got->config.digest, image.config.digest);
  ASSERT_EQ(got->layers.size(), image.layers.size());
  for (size_t i = 0; i < image.layers.size(); ++i) {
    EXPECT_EQ(got->layers[i].digest, image.layers[i].digest);
    EXPECT_TRUE(store.Has(image.layers[i].digest)) << i;
  }
  EXPECT_EQ(store.ReadBlob(image.config.digest).value_or(""), got->config_json);
  EXPECT_NE(got->config_json.find("\"architecture\""), std::string::npos);
  EXPECT_EQ(store.ReadBlob(image.manifest.digest).value_or(""), image.manifest_json);
}

TEST(PullerTest, BasicAuthPull) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBasic});
  auto image = registry->AddImage("team/app", "v1", {"layer 1", "layer 2"});
  FakeStore store;
  auto creds = Alice();
  Result<PullResult> got =
      Puller(store).Pull(Ref(registry->host() + "/team/app:v1"), &creds, Options(*registry));
  ExpectPulled(got, image, store);
  EXPECT_EQ(got->digest, image.manifest.digest);
  EXPECT_FALSE(got->index.has_value());
}

TEST(PullerTest, BearerAuthPullFetchesOneTokenForManifestAndBlobs) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  auto image = registry->AddImage("team/app", "v1", {"layer 1", "layer 2"});
  FakeStore store;
  auto creds = Alice();
  Result<PullResult> got =
      Puller(store).Pull(Ref(registry->host() + "/team/app:v1"), &creds, Options(*registry));
  ExpectPulled(got, image, store);
  EXPECT_EQ(registry->token_requests(), 1);
  for (const auto& seen : registry->requests()) {
    if (seen.target.find("/blobs/") != std::string::npos) {
      EXPECT_EQ(seen.authorization, "Bearer token-1") << seen.target;
    }
  }
}

TEST(PullerTest, NoCredentialsIsCannotPullContainerAuthError) {
  for (auto auth : {FakeRegistry::Auth::kBasic, FakeRegistry::Auth::kBearer}) {
    auto registry = FakeRegistry::Start({.auth = auth});
    registry->AddImage("team/app", "v1", {"x"});
    FakeStore store;
    Result<PullResult> got =
        Puller(store).Pull(Ref(registry->host() + "/team/app:v1"), nullptr, Options(*registry));
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, kCannotPullContainerAuthError);
    EXPECT_NE(got.error().message.find("registry " + registry->host() +
                                       " requires authentication and no credentials were "
                                       "available"),
              std::string::npos)
        << got.error().message;
    EXPECT_EQ(got.error().http_status, 401);
    EXPECT_TRUE(store.List()->empty());
  }
}

TEST(PullerTest, WrongCredentialsIsCannotPullContainerErrorWithTheRegistrysCode) {
  for (auto auth : {FakeRegistry::Auth::kBasic, FakeRegistry::Auth::kBearer}) {
    auto registry = FakeRegistry::Start({.auth = auth});
    registry->AddImage("team/app", "v1", {"x"});
    FakeStore store;
    auto creds = Alice("not-the-password");
    Result<PullResult> got =
        Puller(store).Pull(Ref(registry->host() + "/team/app:v1"), &creds, Options(*registry));
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, kCannotPullContainerError);
    EXPECT_NE(got.error().message.find("UNAUTHORIZED: "), std::string::npos) << got.error().message;
    EXPECT_EQ(got.error().message.find("not-the-password"), std::string::npos);
    EXPECT_EQ(got.error().http_status, 401);
  }
  // Exactly, for Basic:
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBasic});
  registry->AddImage("team/app", "v1", {"x"});
  FakeStore store;
  auto creds = Alice("nope");
  EXPECT_EQ(Puller(store)
                .Pull(Ref(registry->host() + "/team/app:v1"), &creds, Options(*registry))
                .error()
                .message,
            registry->host() +
                "/team/app:v1: manifest v1: UNAUTHORIZED: authentication required (HTTP 401)");
}

TEST(PullerTest, UnknownRepositoryAndTag) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  registry->AddImage("team/app", "v1", {"x"});
  FakeStore store;
  auto creds = Alice();
  Result<PullResult> repo =
      Puller(store).Pull(Ref(registry->host() + "/team/other:v1"), &creds, Options(*registry));
  ASSERT_FALSE(repo.has_value());
  EXPECT_EQ(repo.error().code, kCannotPullContainerError);
  EXPECT_NE(repo.error().message.find("NAME_UNKNOWN: repository name not known to registry"),
            std::string::npos)
      << repo.error().message;

  Result<PullResult> tag =
      Puller(store).Pull(Ref(registry->host() + "/team/app:v9"), &creds, Options(*registry));
  ASSERT_FALSE(tag.has_value());
  EXPECT_EQ(tag.error().code, kCannotPullContainerError);
  EXPECT_NE(tag.error().message.find("MANIFEST_UNKNOWN: manifest unknown"), std::string::npos)
      << tag.error().message;
}

TEST(PullerTest, DeniedIsReported) {
  auto registry = FakeRegistry::Start();
  registry->AddImage("team/app", "v1", {"x"});
  registry->FailNext("/manifests/", 1, 403);
  FakeStore store;
  Result<PullResult> got =
      Puller(store).Pull(Ref(registry->host() + "/team/app:v1"), nullptr, Options(*registry));
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_EQ(got.error().http_status, 403);
}

TEST(PullerTest, PullsThePlatformOfAMultiPlatformImage) {
  auto registry = FakeRegistry::Start();
  auto amd64 = registry->AddImage("app", "", {"amd64"});
  auto arm64 = registry->AddImage("app", "", {"arm64"}, std::string(kOciManifestType),
                                  {"linux", "arm64", ""});
  content::Descriptor index = registry->AddIndex(
      "app", "latest",
      {{{"linux", "amd64", ""}, amd64.manifest}, {{"linux", "arm64", ""}, arm64.manifest}});
  FakeStore store;
  PullOptions options = Options(*registry);
  options.platform = ParsePlatform("linux/arm64").value();
  Result<PullResult> got = Puller(store).Pull(Ref(registry->host() + "/app"), nullptr, options);
  ExpectPulled(got, arm64, store);
  EXPECT_EQ(got->digest, index.digest);
  ASSERT_TRUE(got->index.has_value());
  EXPECT_TRUE(store.Has(index.digest));
  EXPECT_EQ(got->platform.architecture, "arm64");
  EXPECT_FALSE(store.Has(amd64.layers[0].digest));
}

TEST(PullerTest, ASecondPullDownloadsNothingNew) {
  auto registry = FakeRegistry::Start();
  auto image = registry->AddImage("app", "v1", {"a", "b", "c"});
  FakeStore store;
  ASSERT_TRUE(Puller(store).Pull(Ref(registry->host() + "/app:v1"), nullptr, Options(*registry)));
  EXPECT_EQ(registry->Count("/blobs/"), 4);
  auto again = Puller(store).Pull(Ref(registry->host() + "/app:v1"), nullptr, Options(*registry));
  ExpectPulled(again, image, store);
  EXPECT_EQ(registry->Count("/blobs/"), 4);
  EXPECT_EQ(registry->Count("/manifests/"), 2);  // the tag is resolved again
}

TEST(PullerTest, FaultsOnTheWayAreSurvived) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  auto image = registry->AddImage("app", "v1", {std::string(100'000, 'q'), "second"});
  registry->FailNext("/blobs/", 2, 502);
  registry->FlipNext(image.layers[0].digest, 1);
  FakeStore store;
  auto creds = Alice();
  Result<PullResult> got =
      Puller(store).Pull(Ref(registry->host() + "/app:v1"), &creds, Options(*registry));
  ExpectPulled(got, image, store);
}

// A content store in a fresh temporary directory, removed afterwards.
struct DiskStore {
  DiskStore() {
    char dir[] = "/tmp/berth-registry-test-XXXXXX";
    EXPECT_NE(mkdtemp(dir), nullptr);
    root = dir;
    auto opened = content::Store::Open(root);
    EXPECT_TRUE(opened.has_value()) << opened.error().message;
    store = std::move(opened).value();
  }
  ~DiskStore() { std::filesystem::remove_all(root); }
  std::string root;
  std::unique_ptr<content::Store> store;
};

TEST(PullerTest, IntoTheDiskStoreThroughFaults) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  auto image = registry->AddImage("app", "v1", {std::string(300'000, 'z'), "small", "third"});
  registry->FailNext("/blobs/", 2, 500);
  registry->FlipNext(image.layers[0].digest, 1);
  DiskStore disk;
  auto creds = Alice();
  Result<PullResult> got =
      Puller(*disk.store).Pull(Ref(registry->host() + "/app:v1"), &creds, Options(*registry));
  ExpectPulled(got, image, *disk.store);
  EXPECT_EQ(disk.store->ReadBlob(image.layers[0].digest).value_or(""), std::string(300'000, 'z'));
  int blob_requests = registry->Count("/blobs/");

  Result<PullResult> again =
      Puller(*disk.store).Pull(Ref(registry->host() + "/app:v1"), &creds, Options(*registry));
  ExpectPulled(again, image, *disk.store);
  EXPECT_EQ(registry->Count("/blobs/"), blob_requests);
}

class FailingSource : public credentials::CredentialSource {
 public:
  Result<std::optional<credentials::RegistryCredentials>> Lookup(
      const reference::Reference&) override {
    return Fail("AccessDeniedException", "cannot read the secret", 400);
  }
};

TEST(PullerTest, ACredentialSourceErrorComesBackAsIs) {
  auto registry = FakeRegistry::Start();
  FakeStore store;
  FailingSource source;
  Result<PullResult> got =
      Puller(store).Pull(Ref(registry->host() + "/app:v1"), &source, Options(*registry));
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, "AccessDeniedException");
  EXPECT_EQ(registry->requests().size(), 0u);
}

// The whole pull has a deadline: blobs that trickle forever (no floor on the
// rate here) and a registry that never answers a manifest both end with it.
TEST(PullerTest, ThePullsDeadlineEndsATricklingDownload) {
  auto registry = FakeRegistry::Start();
  registry->AddImage("team/app", "v1", {std::string(64 * 1024, 'x')});
  auto objects = testing::RawHttpServer::Start([](const std::string& head) {
    testing::RawHttpServer::Reply reply{
        testing::RawBlobReply(head, std::string(64 * 1024, 'x'), 0)};
    reply.trickle = std::string(64 * 1024, 'x');
    return reply;
  });
  registry->RedirectBlobsTo("http://" + objects->host() + "/objects/");
  FakeStore store;
  PullOptions options = Options(*registry);
  options.transport.insecure_hosts.push_back(objects->host());
  options.transport.low_speed_bytes = 0;
  options.timeout = 500ms;
  Result<PullResult> got =
      Puller(store).Pull(Ref(registry->host() + "/team/app:v1"), nullptr, options);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_EQ(got.error().http_status, 504);
  EXPECT_EQ(got.error().message,
            registry->host() + "/team/app:v1: the pull timed out after 0.5s: " + registry->host() +
                "/team/app: the pull's deadline passed with 0 of 2 blobs fetched");
}

TEST(PullerTest, ThePullsDeadlineEndsAManifestRequestThatIsNeverAnswered) {
  auto silent = testing::RawHttpServer::Start([](const std::string&) {
    return testing::RawHttpServer::Reply{"", 30s};
  });
  FakeStore store;
  PullOptions options;
  options.transport.insecure_hosts = {silent->host()};
  options.timeout = 500ms;
  Result<PullResult> got =
      Puller(store).Pull(Ref(silent->host() + "/team/app:v1"), nullptr, options);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_TRUE(got.error().message.starts_with(silent->host() +
                                              "/team/app:v1: the pull timed out after 0.5s: "))
      << got.error().message;
  EXPECT_NE(got.error().message.find("manifests/v1"), std::string::npos) << got.error().message;
}

}  // namespace
}  // namespace berth::agent::registry
