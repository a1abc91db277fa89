#include "agent/unpack/unpack.h"

#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "agent/unpack/root_dir.h"
#include "agent/unpack/test_layer.h"
#include "common/fd.h"
#include "crypto/sha256.h"

namespace berth::agent::unpack {
namespace {

namespace fs = std::filesystem;

using testing::Device;
using testing::Dir;
using testing::Entry;
using testing::File;
using testing::Format;
using testing::Hardlink;
using testing::kMtime;
using testing::LayerBytes;
using testing::Symlink;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Spit(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// gzip of `data` as one member (zlib), for building multi-member streams.
std::string Gzip(std::string_view data) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = data.size();
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = out.size();
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string RandomText(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>('a' + rng() % 8);  // compressible
  return out;
}

class UnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char parent[] = "/tmp/berth-unpack-XXXXXX";
    ASSERT_NE(::mkdtemp(parent), nullptr);
    parent_ = parent;
    rootfs_ = parent_ / "rootfs";
    fs::create_directory(rootfs_);
    char layers[] = "/tmp/berth-layers-XXXXXX";
    ASSERT_NE(::mkdtemp(layers), nullptr);
    layers_ = layers;
    auto store = content::Store::Open(layers_.string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    options_.on_warning = [this](const std::string& w) { warnings_.push_back(w); };
  }
  void TearDown() override {
    RootDir::ForceManualResolutionForTesting(false);
    fs::remove_all(parent_);
    fs::remove_all(layers_);
  }

  // Commits `bytes` to the content store; returns their digest.
  std::string Put(std::string_view bytes) {
    std::string digest = "sha256:" + crypto::Sha256Hex(bytes);
    auto written = store_->WriteBlob({"", digest, static_cast<int64_t>(bytes.size()), {}}, bytes);
    EXPECT_TRUE(written) << written.error().message;
    return digest;
  }

  // A layer of `entries` committed to the content store: its digest.
  std::string Layer(const std::vector<Entry>& entries, Format format = Format::kTar) {
    return Put(LayerBytes(entries, format));
  }

  // Applies the committed blob `digest`, read through the content store.
  Status ApplyBlob(const std::string& digest, const std::string& media_type = "") {
    return ApplyLayer(rootfs_.string(), *store_, {media_type, digest}, options_);
  }

  Status Apply(const std::vector<Entry>& entries, Format format = Format::kTar) {
    return ApplyBlob(Layer(entries, format));
  }

  // Every path under the parent directory except inside the rootfs, with the
  // contents of regular files: what must never change.
  std::map<std::string, std::string> Outside() const {
    std::map<std::string, std::string> out;
    for (auto it = fs::recursive_directory_iterator(parent_); it != fs::end(it); ++it) {
      if (it->path() == rootfs_) {
        it.disable_recursion_pending();
        continue;
      }
      out[it->path().string()] = it->is_regular_file() ? Slurp(it->path()) : "";
    }
    return out;
  }

  fs::path parent_, rootfs_, layers_;
  std::unique_ptr<content::Store> store_;
  UnpackOptions options_;
  std::vector<std::string> warnings_;
};

std::vector<Entry> BasicEntries() {
  Entry setuid = File("bin/tool", "#!/bin/sh\n", 04755);
  Entry owned = File("home/user/notes", "mine", 0600);
  owned.uid = 1234;
  owned.gid = 5678;
  Entry xattr = File("etc/labelled", "x");
  xattr.xattrs = {{"user.berth.test", "yes"}};
  Entry old = Dir("etc/old", 0750);
  old.mtime = 1500000000;
  return {Dir("bin", 0755),
          setuid,
          Dir("etc/", 0755),
          File("etc/config", "key=value\n", 0640),
          old,
          File("etc/old/file", "older"),
          Symlink("etc/link", "config"),
          Symlink("bin/sh", "/bin/tool"),
          Hardlink("etc/config.hard", "etc/config"),
          xattr,
          Dir("home"),
          Dir("home/user", 0700),
          owned,
          File("./dot/prefixed", "dot"),
          File("big", RandomText(3 << 20, 1))};
}

void ExpectBasicTree(const fs::path& root) {
  struct stat st;
  EXPECT_EQ(Slurp(root / "etc/config"), "key=value\n");
  ASSERT_EQ(::lstat((root / "etc/config").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_sec, kMtime);
  EXPECT_EQ(st.st_nlink, 2u);
  struct stat hard;
  ASSERT_EQ(::lstat((root / "etc/config.hard").c_str(), &hard), 0);
  EXPECT_EQ(hard.st_ino, st.st_ino);

  ASSERT_EQ(::lstat((root / "bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  ASSERT_EQ(::lstat((root / "etc/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_mtim.tv_sec, kMtime);
  EXPECT_EQ(fs::read_symlink(root / "etc/link"), "config");
  EXPECT_EQ(fs::read_symlink(root / "bin/sh"), "/bin/tool");

  // Directory times survive the files written into them afterwards.
  ASSERT_EQ(::lstat((root / "etc/old").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1500000000);
  ASSERT_EQ(::lstat((root / "etc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, kMtime);
  ASSERT_EQ(::lstat((root / "home/user").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  ASSERT_EQ(::lstat((root / "home/user/notes").c_str(), &st), 0);
  if (::geteuid() == 0) {
    EXPECT_EQ(st.st_uid, 1234u);
    EXPECT_EQ(st.st_gid, 5678u);
  }
  char value[16] = {};
  ASSERT_EQ(::getxattr((root / "etc/labelled").c_str(), "user.berth.test", value, sizeof value), 3);
  EXPECT_EQ(std::string(value, 3), "yes");
  EXPECT_EQ(Slurp(root / "dot/prefixed"), "dot");  // implicit parent created
  EXPECT_EQ(Slurp(root / "big"), RandomText(3 << 20, 1));
}

TEST_F(UnpackTest, PlainTarKeepsFilesModesTimesLinksOwnersXattrs) {
  auto st = Apply(BasicEntries());
  ASSERT_TRUE(st) << st.error().message;
  ExpectBasicTree(rootfs_);
  EXPECT_TRUE(warnings_.empty());
}

struct CompressionCase {
  Format format;
  GzipDecoder decoder;
  const char* name;
};

class CompressionTest : public UnpackTest, public ::testing::WithParamInterface<CompressionCase> {};

TEST_P(CompressionTest, SameTreeFromEveryCompression) {
  options_.gzip = GetParam().decoder;
  auto st = Apply(BasicEntries(), GetParam().format);
  ASSERT_TRUE(st) << st.error().message;
  ExpectBasicTree(rootfs_);
}

TEST_P(CompressionTest, CorruptAndTruncatedStreamsAreErrors) {
  if (GetParam().format == Format::kTar) GTEST_SKIP() << "no checksum in a plain tar";
  options_.gzip = GetParam().decoder;
  std::string bytes = LayerBytes({File("a", RandomText(200000, 2))}, GetParam().format);

  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x20;
  auto st = ApplyBlob(Put(flipped));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "LayerUnpackError");

  st = ApplyBlob(Put(std::string_view(bytes).substr(0, bytes.size() - 100)));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "LayerUnpackError");
  EXPECT_NE(st.error().message.find("truncated"), std::string::npos) << st.error().message;
}

// A few KB of gzip that expand to megabytes (a "zip bomb", scaled down): the
// decompressor stops at the limit instead of filling the disk.
TEST_P(CompressionTest, ALayerExpandingPastTheByteLimitFails) {
  options_.gzip = GetParam().decoder;
  std::vector<Entry> bomb = {File("zeros", std::string(8 << 20, '\0'))};
  options_.max_bytes = 1 << 20;
  auto st = Apply(bomb, GetParam().format);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "LayerUnpackError");
  EXPECT_NE(st.error().message.find(
                "the layer expands to more than 1048576 bytes uncompressed, the limit for one "
                "layer"),
            std::string::npos)
      << st.error().message;
  EXPECT_LT(fs::file_size(rootfs_ / "zeros"), uintmax_t{2} << 20);  // stopped there

  // The limit is the uncompressed tar stream's length: exactly that much passes.
  std::vector<Entry> small = {File("a", RandomText(100'000, 3)), File("b", "b")};
  options_.max_bytes = static_cast<int64_t>(LayerBytes(small, Format::kTar).size());
  st = Apply(small, GetParam().format);
  ASSERT_TRUE(st) << st.error().message;
  options_.max_bytes -= 1;
  st = Apply(small, GetParam().format);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("the limit for one layer"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, CompressionTest,
    ::testing::Values(CompressionCase{Format::kTar, GzipDecoder::kAuto, "tar"},
                      CompressionCase{Format::kGzip, GzipDecoder::kIsal, "gzip_isal"},
                      CompressionCase{Format::kGzip, GzipDecoder::kZlib, "gzip_zlib"},
                      CompressionCase{Format::kZstd, GzipDecoder::kAuto, "zstd"}),
    [](const auto& info) { return std::string(info.param.name); });

class GzipMembersTest : public UnpackTest, public ::testing::WithParamInterface<GzipDecoder> {};

TEST_P(GzipMembersTest, ConcatenatedMembersAreOneStream) {
  std::string tar =
      LayerBytes({File("one", RandomText(100000, 3)), File("two", "2")}, Format::kTar);
  std::string members = Put(Gzip(tar.substr(0, 70001)) + Gzip(tar.substr(70001)));
  options_.gzip = GetParam();
  auto st = ApplyBlob(members, "application/vnd.oci.image.layer.v1.tar+gzip");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(Slurp(rootfs_ / "one"), RandomText(100000, 3));
  EXPECT_EQ(Slurp(rootfs_ / "two"), "2");
}

INSTANTIATE_TEST_SUITE_P(Decoders, GzipMembersTest,
                         ::testing::Values(GzipDecoder::kIsal, GzipDecoder::kZlib));

TEST_F(UnpackTest, WhiteoutsRemoveLowerEntries) {
  ASSERT_TRUE(Apply({File("a/x", "x"), File("a/y", "y"), File("b/z", "z"), File("keep", "k"),
                     File("e/lower", "l")}));
  auto st = Apply({File("a/.wh.x", ""), File(".wh.b", ""), File("e/new", "n"), File(".wh.e", ""),
                   File(".wh.missing", "")});
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_FALSE(fs::exists(rootfs_ / "a/x"));
  EXPECT_TRUE(fs::exists(rootfs_ / "a/y"));
  EXPECT_FALSE(fs::exists(rootfs_ / "b"));
  EXPECT_TRUE(fs::exists(rootfs_ / "keep"));
  // A whiteout hides only lower layers: e/new (same layer) stays, e/lower goes.
  EXPECT_TRUE(fs::exists(rootfs_ / "e/new"));
  EXPECT_FALSE(fs::exists(rootfs_ / "e/lower"));
  // Whiteout files themselves are never created.
  EXPECT_FALSE(fs::exists(rootfs_ / "a/.wh.x"));
  EXPECT_FALSE(fs::exists(rootfs_ / ".wh.b"));
  EXPECT_FALSE(fs::exists(rootfs_ / ".wh.missing"));
}

TEST_F(UnpackTest, OpaqueWhiteoutEmptiesLowerDirectory) {
  ASSERT_TRUE(Apply({Dir("d", 0755), File("d/old1", "1"), File("d/sub/old2", "2"),
                     File("d/sub/old3", "3"), File("other/stays", "s")}));
  auto st = Apply({Dir("d", 0711), File("d/sub/new-before", "b"), File("d/.wh..wh..opq", ""),
                   File("d/new", "n")});
  ASSERT_TRUE(st) << st.error().message;
  std::set<std::string> left;
  for (const auto& e : fs::recursive_directory_iterator(rootfs_ / "d")) {
    left.insert(fs::relative(e.path(), rootfs_ / "d").string());
  }
  EXPECT_EQ(left, (std::set<std::string>{"new", "sub", "sub/new-before"}));
  EXPECT_EQ(fs::status(rootfs_ / "d").permissions(), fs::perms(0711));
  EXPECT_TRUE(fs::exists(rootfs_ / "other/stays"));
}

TEST_F(UnpackTest, LaterLayersReplaceEntriesOfEveryKind) {
  ASSERT_TRUE(
      Apply({File("f2d/file", "was a dir"), File("d2f", "was a file"), File("link-target", "t"),
             File("shared", "old"), Hardlink("alias", "shared"), Symlink("s2f", "link-target")}));
  auto st = Apply({File("f2d", "now a file"), Dir("d2f/"), File("d2f/inner", "i"),
                   File("shared", "new"), File("s2f", "now a file")});
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(Slurp(rootfs_ / "f2d"), "now a file");
  EXPECT_EQ(Slurp(rootfs_ / "d2f/inner"), "i");
  EXPECT_EQ(Slurp(rootfs_ / "shared"), "new");
  EXPECT_EQ(Slurp(rootfs_ / "alias"), "old");  // the old inode is not written through
  EXPECT_FALSE(fs::is_symlink(rootfs_ / "s2f"));
  EXPECT_EQ(Slurp(rootfs_ / "link-target"), "t");
}

TEST_F(UnpackTest, UnpackAppliesLayersInOrderAndNamesTheFailingLayer) {
  std::string l1 = Layer({File("etc/os-release", "v1"), File("tmp/scratch", "s")}, Format::kGzip);
  std::string l2 =
      Layer({File("etc/os-release", "v2"), File("tmp/.wh.scratch", "")}, Format::kZstd);
  fs::path fresh = parent_ / "rootfs2";
  auto st = Unpack(fresh.string(), *store_,
                   {{"application/vnd.docker.image.rootfs.diff.tar.gzip", l1},
                    {"application/vnd.oci.image.layer.v1.tar+zstd", l2}},
                   options_);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(Slurp(fresh / "etc/os-release"), "v2");
  EXPECT_FALSE(fs::exists(fresh / "tmp/scratch"));

  std::string bad = Layer({File("../escape", "x")});
  st = Unpack(fresh.string(), *store_, {{"", l1}, {"", bad}}, options_);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "LayerUnpackError");
  EXPECT_TRUE(st.error().message.starts_with("layer 2 of 2 (" + bad + "): entry \"../escape\""))
      << st.error().message;

  // A layer the store does not have: the store's words.
  std::string absent = "sha256:" + std::string(64, 'a');
  st = Unpack(fresh.string(), *store_, {{"", l1}, {"", absent}}, options_);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "LayerUnpackError");
  EXPECT_EQ(st.error().message, "layer 2 of 2 (" + absent + "): blob " + absent + " not found");
  st = ApplyBlob(absent);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "NotFound");
  EXPECT_EQ(st.error().http_status, 404);
}

TEST_F(UnpackTest, ALayerWithMoreEntriesThanTheLimitFails) {
  std::vector<Entry> many = {Dir("d")};
  for (int i = 0; i < 9; ++i) many.push_back(File("d/f" + std::to_string(i), "x"));
  options_.max_entries = 10;
  ASSERT_TRUE(Apply(many, Format::kGzip));
  options_.max_entries = 9;
  auto st = Apply(many, Format::kGzip);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "LayerUnpackError");
  EXPECT_NE(st.error().message.find("the layer has more than 9 entries, the limit for one layer"),
            std::string::npos)
      << st.error().message;
}

TEST(UnpackOptionsTest, LayerLimitsAreFiniteByDefault) {
  UnpackOptions defaults;
  EXPECT_EQ(defaults.max_bytes, int64_t{16} << 30);
  EXPECT_EQ(defaults.max_entries, 1'000'000);
}

TEST_F(UnpackTest, UnsupportedMediaTypeIsRefused) {
  auto st = ApplyBlob(Layer({File("a", "a")}), "application/vnd.oci.image.layer.v1.tar+encrypted");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "LayerUnpackError");
  EXPECT_NE(st.error().message.find("unsupported layer media type"), std::string::npos);
  EXPECT_FALSE(fs::exists(rootfs_ / "a"));
  EXPECT_TRUE(IsSupportedLayerMediaType("application/vnd.oci.image.layer.v1.tar+zstd"));
  EXPECT_FALSE(IsSupportedLayerMediaType("application/vnd.oci.image.config.v1+json"));
}

TEST_F(UnpackTest, XattrsOutsideTheAllowListAreSkippedWithAWarning) {
  Entry e = File("labelled", "x");
  e.xattrs = {{"user.ok", "1"},
              {"security.selinux", "system_u:object_r:shadow_t:s0"},
              {"trusted.overlay.opaque", "y"}};
  Entry e2 = File("labelled2", "x");
  e2.xattrs = {{"trusted.overlay.opaque", "y"}};
  ASSERT_TRUE(Apply({e, e2}));
  char buf[64];
  EXPECT_EQ(::getxattr((rootfs_ / "labelled").c_str(), "user.ok", buf, sizeof buf), 1);
  EXPECT_LT(::getxattr((rootfs_ / "labelled").c_str(), "trusted.overlay.opaque", buf, sizeof buf),
            0);
  EXPECT_LT(::getxattr((rootfs_ / "labelled2").c_str(), "trusted.overlay.opaque", buf, sizeof buf),
            0);
  // One warning per skipped name and layer.
  ASSERT_EQ(warnings_.size(), 2u);
  EXPECT_NE(warnings_[0].find("security.selinux"), std::string::npos);
  EXPECT_NE(warnings_[1].find("trusted.overlay.opaque"), std::string::npos);
}

TEST_F(UnpackTest, StreamingMatchesTheFileVariant) {
  std::string bytes = LayerBytes(BasicEntries(), Format::kGzip);
  auto stream =
      LayerStream::Start(rootfs_.string(), "application/vnd.oci.image.layer.v1.tar+gzip", options_);
  ASSERT_TRUE(stream);
  std::mt19937 rng(7);
  for (size_t off = 0; off < bytes.size();) {
    size_t n = std::min<size_t>(1 + rng() % 70000, bytes.size() - off);
    ASSERT_TRUE((*stream)->Write(std::string_view(bytes).substr(off, n)));
    off += n;
  }
  auto st = (*stream)->Finish();
  ASSERT_TRUE(st) << st.error().message;
  ExpectBasicTree(rootfs_);
}

TEST_F(UnpackTest, StreamingReportsErrorsAndCanBeAbandoned) {
  std::string bad = LayerBytes({File("ok", "1"), File("../escape", "x")}, Format::kZstd);
  auto stream = LayerStream::Start(rootfs_.string(), "", options_);
  ASSERT_TRUE(stream);
  Status st = (*stream)->Write(bad);
  if (st) st = (*stream)->Finish();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "LayerUnpackError");
  EXPECT_NE(st.error().message.find("\"../escape\""), std::string::npos) << st.error().message;

  // Destroyed midway: the worker stops, nothing hangs.
  std::string good = LayerBytes(BasicEntries(), Format::kGzip);
  auto half = LayerStream::Start(rootfs_.string(), "", options_);
  ASSERT_TRUE(half);
  ASSERT_TRUE((*half)->Write(std::string_view(good).substr(0, good.size() / 2)));
  half->reset();
}

// --- hostile layers: each is run with openat2 and with the manual resolver ---

class HostileTest : public UnpackTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    UnpackTest::SetUp();
    RootDir::ForceManualResolutionForTesting(GetParam());
    Spit(parent_ / "victim", "host data");
    fs::create_directory(parent_ / "victimdir");
    Spit(parent_ / "victimdir/inside", "host data");
    before_ = Outside();
  }
  void ExpectNothingOutside() { EXPECT_EQ(Outside(), before_); }

  std::map<std::string, std::string> before_;
};

TEST_P(HostileTest, DotDotIsRefused) {
  for (std::string name : {"../escape", "a/../../escape", "./../victim", "a/b/../../../victim"}) {
    auto st = Apply({File("a/b/ok", "ok"), File(name, "pwned")});
    ASSERT_FALSE(st) << name;
    EXPECT_EQ(st.error().code, "LayerUnpackError");
    EXPECT_NE(st.error().message.find("entry \"" + name + "\": path has a \"..\" component"),
              std::string::npos)
        << st.error().message;
    ExpectNothingOutside();
  }
}

TEST_P(HostileTest, AbsolutePathsLandInsideTheRootfs) {
  std::string host_name = "berth-unpack-abs-" + std::to_string(::getpid());
  auto st = Apply({File("/" + host_name + "/file", "inside"), File("//etc//abs", "inside")});
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(Slurp(rootfs_ / host_name / "file"), "inside");
  EXPECT_EQ(Slurp(rootfs_ / "etc/abs"), "inside");
  EXPECT_FALSE(fs::exists("/" + host_name));
  ExpectNothingOutside();
}

TEST_P(HostileTest, SymlinkToRootThenWriteThroughItStaysInside) {
  std::string host_name = "berth-unpack-pwned-" + std::to_string(::getpid());
  std::string up = "../../../../../../../..";
  auto st = Apply({Symlink("evil", "/"), File("evil/" + host_name, "inside"), Symlink("up", up),
                   File("up/via-dotdot", "inside"), Symlink("hop", "evil/../up/../evil"),
                   File("hop/via-chain", "inside")});
  ASSERT_TRUE(st) << st.error().message;
  // Resolved as inside the container: "/" is the rootfs.
  EXPECT_EQ(Slurp(rootfs_ / host_name), "inside");
  EXPECT_EQ(Slurp(rootfs_ / "via-dotdot"), "inside");
  EXPECT_EQ(Slurp(rootfs_ / "via-chain"), "inside");
  EXPECT_FALSE(fs::exists("/" + host_name));
  EXPECT_TRUE(fs::is_symlink(rootfs_ / "evil"));
  ExpectNothingOutside();
}

TEST_P(HostileTest, SymlinkToHostPathCannotBeWrittenThrough) {
  // Links naming real host paths outside the rootfs (absolute and relative).
  std::string rel = "../victimdir";
  auto st = Apply({Symlink("esc", (parent_ / "victimdir").string()), Symlink("rel", rel),
                   Symlink("victim-file", (parent_ / "victim").string())});
  ASSERT_TRUE(st) << st.error().message;
  for (std::string name : {"esc/inside", "rel/inside", "esc/new/deeper"}) {
    auto w = Apply({File(name, "pwned")});
    ASSERT_FALSE(w) << name;  // the target does not exist inside the rootfs
    EXPECT_EQ(w.error().code, "LayerUnpackError");
    EXPECT_NE(w.error().message.find("entry \"" + name + "\""), std::string::npos);
    ExpectNothingOutside();
  }
  // A file entry replaces the symlink instead of writing through it.
  ASSERT_TRUE(Apply({File("victim-file", "replaced")}));
  EXPECT_FALSE(fs::is_symlink(rootfs_ / "victim-file"));
  EXPECT_EQ(Slurp(rootfs_ / "victim-file"), "replaced");
  // Whiteouts through the links do not delete host files either.
  ASSERT_TRUE(Apply(
      {File("esc/.wh.inside", ""), File("rel/.wh..wh..opq", ""), File("esc/.wh..wh..opq", "")}));
  ExpectNothingOutside();
  // Neither do hard links and directories over them.
  ASSERT_TRUE(Apply({Dir("rel", 0777)}));
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(rootfs_ / "rel")));
  ExpectNothingOutside();
}

TEST_P(HostileTest, HardLinksToHostFilesAreRefused) {
  struct stat passwd_before;
  ASSERT_EQ(::stat("/etc/passwd", &passwd_before), 0);
  std::string victim = (parent_ / "victim").string();
  for (Entry e : {Hardlink("pw", "/etc/passwd"), Hardlink("pw", "etc/passwd"),
                  Hardlink("v", victim), Hardlink("v", "../victim")}) {
    auto st = Apply({e});
    ASSERT_FALSE(st) << e.hardlink;
    EXPECT_EQ(st.error().code, "LayerUnpackError");
    EXPECT_NE(st.error().message.find("entry \"" + e.name + "\""), std::string::npos);
    EXPECT_FALSE(fs::exists(rootfs_ / e.name));
  }
  // Through a symlink to "/": resolved inside the rootfs, where there is no passwd.
  auto st = Apply({Symlink("root", "/"), Hardlink("pw2", "root/etc/passwd")});
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("does not exist in the rootfs"), std::string::npos);
  // A link to a symlink links the symlink itself, never its (host) target.
  ASSERT_TRUE(Apply({Symlink("to-victim", victim), Hardlink("same", "to-victim")}));
  EXPECT_TRUE(fs::is_symlink(rootfs_ / "same"));
  struct stat passwd_after;
  ASSERT_EQ(::stat("/etc/passwd", &passwd_after), 0);
  EXPECT_EQ(passwd_after.st_nlink, passwd_before.st_nlink);
  struct stat victim_st;
  ASSERT_EQ(::stat(victim.c_str(), &victim_st), 0);
  EXPECT_EQ(victim_st.st_nlink, 1u);
  ExpectNothingOutside();
}

TEST_P(HostileTest, DeviceNodesAreSkippedByDefaultOrRefused) {
  auto st = Apply(
      {Device("dev/sda", AE_IFBLK, 8, 0), Device("dev/mem", AE_IFCHR, 1, 1), File("after", "a")});
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_FALSE(fs::exists(rootfs_ / "dev/sda"));
  EXPECT_FALSE(fs::exists(rootfs_ / "dev/mem"));
  EXPECT_TRUE(fs::exists(rootfs_ / "after"));
  ASSERT_EQ(warnings_.size(), 2u);
  EXPECT_EQ(warnings_[0], "entry \"dev/sda\": block device 8:0 skipped");
  EXPECT_EQ(warnings_[1], "entry \"dev/mem\": character device 1:1 skipped");

  options_.devices = DevicePolicy::kRefuse;
  st = Apply({Device("dev/kmsg", AE_IFCHR, 1, 11)});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "LayerUnpackError");
  EXPECT_NE(st.error().message.find("entry \"dev/kmsg\": character device 1:11 refused"),
            std::string::npos)
      << st.error().message;
  EXPECT_FALSE(fs::exists(rootfs_ / "dev/kmsg"));
  ExpectNothingOutside();
}

INSTANTIATE_TEST_SUITE_P(Resolvers, HostileTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "manual" : "openat2"; });

TEST_F(UnpackTest, DeviceNodesAreCreatedWhenAllowedAsRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  options_.devices = DevicePolicy::kCreate;
  auto st = Apply({Device("dev/null", AE_IFCHR, 1, 3)});
  if (!st && st.error().message.find("Operation not permitted") != std::string::npos) {
    GTEST_SKIP() << "no CAP_MKNOD here";
  }
  ASSERT_TRUE(st) << st.error().message;
  struct stat s;
  ASSERT_EQ(::lstat((rootfs_ / "dev/null").c_str(), &s), 0);
  EXPECT_TRUE(S_ISCHR(s.st_mode));
  EXPECT_EQ(major(s.st_rdev), 1u);
  EXPECT_EQ(minor(s.st_rdev), 3u);
  EXPECT_EQ(s.st_mode & 07777, 0666u);
}

class RootDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-rootdir-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    RootDir::ForceManualResolutionForTesting(false);
    fs::remove_all(root_);
  }
  fs::path root_;
};

TEST_F(RootDirTest, ResolversAgreeAndClampAtTheRoot) {
  const fs::path& root = root_;
  fs::create_directories(root / "a/b");
  fs::create_symlink("/a", root / "abs");
  fs::create_symlink("../../../..", root / "a/b/up");
  fs::create_symlink("loop2", root / "loop1");
  fs::create_symlink("loop1", root / "loop2");
  Spit(root / "file", "");
  auto dir = RootDir::Open(root.string());
  ASSERT_TRUE(dir);
  for (bool manual : {false, true}) {
    RootDir::ForceManualResolutionForTesting(manual);
    auto ino = [&](std::string_view rel) -> int64_t {
      Fd fd(dir->OpenDir(rel));
      if (!fd.valid()) return fd.get();
      struct stat st;
      ::fstat(fd.get(), &st);
      return static_cast<int64_t>(st.st_ino);
    };
    int64_t root_ino = ino(""), a_ino = ino("a");
    EXPECT_GT(a_ino, 0);
    EXPECT_EQ(ino("abs"), a_ino) << manual;
    EXPECT_EQ(ino("a/b/up"), root_ino) << manual;
    EXPECT_EQ(ino("a/b/up/a"), a_ino) << manual;
    EXPECT_EQ(ino("../../a"), a_ino) << manual;
    EXPECT_EQ(ino("loop1"), -ELOOP) << manual;
    EXPECT_EQ(ino("file"), -ENOTDIR) << manual;
    EXPECT_EQ(ino("missing"), -ENOENT) << manual;
    ASSERT_TRUE(Fd(dir->OpenOrCreateDir("abs/new/deeper")).valid()) << manual;
    EXPECT_TRUE(fs::is_directory(root / "a/new/deeper"));
    fs::remove_all(root / "a/new");
  }
}

}  // namespace
}  // namespace berth::agent::unpack
