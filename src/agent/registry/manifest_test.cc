#include "agent/registry/manifest.h"

#include <gtest/gtest.h>

#include <string>

#include "agent/registry/errors.h"
#include "agent/registry/platform.h"

namespace berth::agent::registry {
namespace {

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');
const std::string kDigestC = "sha256:" + std::string(64, 'c');

// --- Platform ----------------------------------------------------------------

TEST(PlatformTest, ParsesAndNormalises) {
  struct Case {
    std::string input;
    Platform want;
  };
  for (const Case& c :
       {Case{"linux/amd64", {"linux", "amd64", ""}},
        Case{"linux/arm64/v8", {"linux", "arm64", "v8"}},
        Case{"linux/arm/v7", {"linux", "arm", "v7"}}, Case{"Linux/X86_64", {"linux", "amd64", ""}},
        Case{"linux/aarch64", {"linux", "arm64", ""}}}) {
    Result<Platform> got = ParsePlatform(c.input);
    ASSERT_TRUE(got.has_value()) << c.input << ": " << got.error().message;
    EXPECT_EQ(*got, c.want) << c.input;
  }
}

TEST(PlatformTest, RejectsMalformed) {
  for (std::string input : {"", "linux", "linux/", "/amd64", "linux/amd64/v2/x", "linux/am d64"}) {
    Result<Platform> got = ParsePlatform(input);
    ASSERT_FALSE(got.has_value()) << input;
    EXPECT_EQ(got.error().code, "InvalidPlatform");
    EXPECT_NE(got.error().message.find("os/architecture[/variant]"), std::string::npos);
  }
}

TEST(PlatformTest, MatchesVariantsLikeContainerd) {
  EXPECT_TRUE(PlatformMatches({"linux", "amd64", ""}, {"linux", "amd64", ""}));
  EXPECT_TRUE(PlatformMatches({"linux", "arm", ""}, {"linux", "arm", "v7"}));  // any variant
  EXPECT_TRUE(PlatformMatches({"linux", "arm64", "v8"}, {"linux", "arm64", ""}));
  EXPECT_FALSE(PlatformMatches({"linux", "arm", "v6"}, {"linux", "arm", "v7"}));
  EXPECT_FALSE(PlatformMatches({"linux", "amd64", ""}, {"windows", "amd64", ""}));
  EXPECT_FALSE(PlatformMatches({"linux", "amd64", ""}, {"linux", "arm64", ""}));
  EXPECT_EQ(HostPlatform().ToString(), "linux/amd64");  // this machine
}

// --- Media types ---------------------------------------------------------------

TEST(ManifestMediaTypeTest, DocumentTypeWinsAndMustAgreeWithContentType) {
  std::string oci = R"({"schemaVersion":2,"mediaType":")" + std::string(kOciManifestType) + "\"}";
  EXPECT_EQ(ManifestMediaType(kOciManifestType, oci).value_or("?"), kOciManifestType);
  EXPECT_EQ(ManifestMediaType("application/json; charset=utf-8", oci).value_or("?"),
            kOciManifestType);
  Result<std::string> disagree = ManifestMediaType(kDockerManifestType, oci);
  ASSERT_FALSE(disagree.has_value());
  EXPECT_EQ(disagree.error().code, kCannotPullContainerError);
  EXPECT_NE(disagree.error().message.find("disagrees"), std::string::npos);
}

TEST(ManifestMediaTypeTest, ContentTypeOrShapeWhenTheDocumentHasNone) {
  EXPECT_EQ(ManifestMediaType(kDockerManifestListType, R"({"schemaVersion":2,"manifests":[]})")
                .value_or("?"),
            kDockerManifestListType);
  EXPECT_EQ(ManifestMediaType("", R"({"schemaVersion":2,"manifests":[]})").value_or("?"),
            kOciIndexType);
  EXPECT_EQ(ManifestMediaType("application/json", R"({"schemaVersion":2,"config":{},"layers":[]})")
                .value_or("?"),
            kOciManifestType);
}

TEST(ManifestMediaTypeTest, RejectsUnknownSchema1AndGarbageClearly) {
  struct Case {
    std::string content_type;
    std::string body;
    std::string message_part;
  };
  for (const Case& c :
       {Case{"application/vnd.docker.distribution.manifest.v1+prettyjws", R"({"schemaVersion":1})",
             "schema 1 is not supported"},
        Case{"application/vnd.example.thing+json", "{}",
             "unsupported manifest media type \"application/vnd.example.thing+json\""},
        Case{"", R"({"schemaVersion":2,"mediaType":"application/vnd.cncf.helm.config"})",
             "unsupported manifest media type"},
        Case{std::string(kOciManifestType), "not json", "not a JSON object"},
        Case{std::string(kOciManifestType), "[1,2]", "not a JSON object"}}) {
    Result<std::string> got = ManifestMediaType(c.content_type, c.body);
    ASSERT_FALSE(got.has_value()) << c.body;
    EXPECT_EQ(got.error().code, kCannotPullContainerError);
    EXPECT_NE(got.error().message.find(c.message_part), std::string::npos) << got.error().message;
  }
}

// --- Image manifests -------------------------------------------------------------

std::string Manifest(const std::string& config_type, const std::string& layer) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":")" +
         config_type + R"(","digest":")" + kDigestA + R"(","size":7},"layers":[)" + layer + "]}";
}

std::string Layer(const std::string& type, const std::string& digest, const std::string& size) {
  return R"({"mediaType":")" + type + R"(","digest":")" + digest + R"(","size":)" + size +
         R"(,"annotations":{"a":"b","n":1}})";
}

TEST(ParseImageManifestTest, ConfigAndLayersInOrder) {
  std::string body =
      Manifest(std::string(kOciConfigType),
               Layer("application/vnd.oci.image.layer.v1.tar+gzip", kDigestB, "10") + "," +
                   Layer("application/vnd.oci.image.layer.v1.tar+zstd", kDigestC, "0"));
  Result<ImageManifest> got = ParseImageManifest(kOciManifestType, body);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(got->config.media_type, kOciConfigType);
  EXPECT_EQ(got->config.digest, kDigestA);
  EXPECT_EQ(got->config.size, 7);
  ASSERT_EQ(got->layers.size(), 2u);
  EXPECT_EQ(got->layers[0].digest, kDigestB);
  EXPECT_EQ(got->layers[0].size, 10);
  EXPECT_EQ(got->layers[0].annotations.at("a"), "b");
  EXPECT_FALSE(got->layers[0].annotations.contains("n"));  // not a string
  EXPECT_EQ(got->layers[1].media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
}

TEST(ParseImageManifestTest, RejectsWhatCannotBePulledSafely) {
  struct Case {
    std::string body;
    std::string message_part;
  };
  std::string gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
  for (const Case& c : {
           Case{Manifest("application/vnd.cncf.helm.config.v1+json", ""),
                "not a container image: config media type"},
           Case{Manifest(std::string(kOciConfigType), Layer(gzip, "sha256:abc", "1")),
                "layer 0 has digest \"sha256:abc\"; a sha256 digest is required"},
           Case{Manifest(std::string(kOciConfigType),
                         Layer(gzip, "sha512:" + std::string(128, 'a'), "1")),
                "a sha256 digest is required"},
           Case{Manifest(std::string(kOciConfigType), Layer(gzip, kDigestB, "-1")),
                "layer 0 has no valid size"},
           Case{Manifest(std::string(kOciConfigType), Layer(gzip, kDigestB, "\"12\"")),
                "layer 0 has no valid size"},
           Case{Manifest(std::string(kOciConfigType),
                         Layer("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                               kDigestB, "1")),
                "layer 0 has unsupported media type"},
           Case{R"({"schemaVersion":1,"config":{},"layers":[]})", "schemaVersion must be 2"},
           Case{R"({"schemaVersion":2,"layers":[]})", "no config"},
       }) {
    Result<ImageManifest> got = ParseImageManifest(kOciManifestType, c.body);
    ASSERT_FALSE(got.has_value()) << c.body;
    EXPECT_EQ(got.error().code, kCannotPullContainerError);
    EXPECT_NE(got.error().message.find(c.message_part), std::string::npos) << got.error().message;
  }
}

TEST(ParseImageManifestTest, AConfigLargerThanTheCapIsRefused) {
  // The config is read whole into memory, so its size is capped like a manifest's.
  auto with_config_size = [](int64_t size) {
    std::string body = Manifest(std::string(kOciConfigType), "");
    size_t at = body.find("\"size\":7");
    return body.replace(at, 8, "\"size\":" + std::to_string(size));
  };
  EXPECT_EQ(kMaxConfigSize, 8 << 20);
  ASSERT_TRUE(ParseImageManifest(kOciManifestType, with_config_size(kMaxConfigSize)).has_value());
  Result<ImageManifest> got =
      ParseImageManifest(kOciManifestType, with_config_size(kMaxConfigSize + 1));
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_EQ(got.error().message,
            "the image config is 8388609 bytes, more than the 8388608 bytes an image config may "
            "have");
}

// --- Indexes and platform selection -------------------------------------------------

std::string Entry(const std::string& type, const std::string& digest, const std::string& os,
                  const std::string& arch, const std::string& variant = "") {
  std::string platform = R"({"os":")" + os + R"(","architecture":")" + arch + "\"" +
                         (variant.empty() ? "" : R"(,"variant":")" + variant + "\"") + "}";
  return R"({"mediaType":")" + type + R"(","digest":")" + digest + R"(","size":100,"platform":)" +
         platform + "}";
}

std::vector<IndexEntry> Index(const std::vector<std::string>& entries) {
  std::string body = R"({"schemaVersion":2,"manifests":[)";
  for (size_t i = 0; i < entries.size(); ++i) body += (i ? "," : "") + entries[i];
  body += "]}";
  Result<std::vector<IndexEntry>> parsed = ParseIndex(body);
  EXPECT_TRUE(parsed.has_value()) << parsed.error().message;
  return parsed.value_or(std::vector<IndexEntry>{});
}

std::string Digest(char c) { return "sha256:" + std::string(64, c); }

TEST(SelectPlatformTest, PicksTheWantedPlatform) {
  std::string m(kOciManifestType);
  std::vector<IndexEntry> index = Index({
      Entry(m, Digest('1'), "linux", "arm", "v6"), Entry(m, Digest('2'), "linux", "arm", "v7"),
      Entry(m, Digest('3'), "linux", "arm64", "v8"), Entry(m, Digest('4'), "linux", "amd64"),
      Entry(m, Digest('5'), "unknown", "unknown"),  // an attestation
  });
  struct Case {
    Platform wanted;
    char digest;
  };
  for (const Case& c : {Case{{"linux", "amd64", ""}, '4'}, Case{{"linux", "arm64", ""}, '3'},
                        Case{{"linux", "arm64", "v8"}, '3'}, Case{{"linux", "arm", "v7"}, '2'},
                        Case{{"linux", "arm", ""}, '1'}}) {
    Result<IndexEntry> got = SelectPlatform(index, c.wanted);
    ASSERT_TRUE(got.has_value()) << c.wanted.ToString() << ": " << got.error().message;
    EXPECT_EQ(got->descriptor.digest, Digest(c.digest)) << c.wanted.ToString();
  }
}

TEST(SelectPlatformTest, PrefersTheExactVariant) {
  std::string m(kOciManifestType);
  std::vector<IndexEntry> index = Index(
      {Entry(m, Digest('1'), "linux", "amd64", "v3"), Entry(m, Digest('2'), "linux", "amd64")});
  EXPECT_EQ(SelectPlatform(index, {"linux", "amd64", ""})->descriptor.digest, Digest('2'));
}

TEST(SelectPlatformTest, NoMatchNamesWhatIsAvailable) {
  std::string m(kDockerManifestType);
  std::vector<IndexEntry> index = Index({
      Entry(m, Digest('1'), "linux", "arm64"),
      Entry(std::string(kOciIndexType), Digest('2'), "linux", "amd64"),  // nested: never chosen
      Entry("application/vnd.example+json", Digest('3'), "linux", "amd64"),
  });
  Result<IndexEntry> got = SelectPlatform(index, {"linux", "amd64", ""});
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_EQ(got.error().message,
            "no matching manifest for linux/amd64 in the manifest list entries (available: "
            "linux/arm64)");
}

TEST(ParseIndexTest, RejectsMalformedEntries) {
  Result<std::vector<IndexEntry>> got = ParseIndex(
      R"({"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"md5:1","size":1}]})");
  ASSERT_FALSE(got.has_value());
  EXPECT_NE(got.error().message.find("index entry 0 has digest"), std::string::npos);
  EXPECT_FALSE(ParseIndex(R"({"schemaVersion":2})").has_value());
}

}  // namespace
}  // namespace berth::agent::registry
