#include "agent/content/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "common/fd.h"
#include "crypto/sha256.h"
#include "testing/page_cache.h"

namespace berth::agent::content {
namespace {

namespace fs = std::filesystem;

Descriptor Describe(std::string_view bytes) {
  Descriptor d;
  d.media_type = "application/octet-stream";
  d.digest = "sha256:" + crypto::Sha256Hex(bytes);
  d.size = static_cast<int64_t>(bytes.size());
  return d;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

std::vector<std::string> Names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-content-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    auto store = Store::Open(root_.string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path Blobs() const { return root_ / "blobs" / "sha256"; }
  fs::path Ingest() const { return root_ / "ingest"; }
  // Where store.h's layout puts a committed blob.
  fs::path PathOf(std::string_view digest) const { return Blobs() / digest.substr(7); }
  fs::path PartialOf(const Descriptor& d) const {
    return Ingest() / (d.digest.substr(7) + ".partial");
  }

  fs::path root_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, WriteCommitRead) {
  std::string data = RandomBytes(300000, 1);
  Descriptor d = Describe(data);
  auto w = store_->Begin(d);
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ((*w)->Offset(), 0);
  ASSERT_TRUE((*w)->Write(std::string_view(data).substr(0, 1000)));
  ASSERT_TRUE((*w)->Write(std::string_view(data).substr(1000)));
  EXPECT_EQ((*w)->Offset(), 300000);
  EXPECT_FALSE(store_->Has(d.digest));  // not visible before Commit
  ASSERT_TRUE((*w)->Commit());

  EXPECT_TRUE(store_->Has(d.digest));
  EXPECT_EQ(store_->Root(), root_.string());
  auto read = store_->ReadBlob(d.digest);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, data);
  struct stat st;
  ASSERT_EQ(::stat(PathOf(d.digest).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_TRUE(Names(Ingest()).empty());
  auto list = store_->List();
  ASSERT_TRUE(list);
  EXPECT_EQ(*list, std::vector<std::string>{d.digest});

  // A second store on the same root sees it (nothing was only in memory).
  auto again = Store::Open(root_.string());
  ASSERT_TRUE(again);
  EXPECT_EQ(*(*again)->ReadBlob(d.digest), data);
}

TEST_F(StoreTest, DigestMismatchIsRejectedAndNothingIsVisible) {
  Descriptor d = Describe("the bytes we asked for");
  auto w = store_->Begin(d);
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->Write("the bytes we asked fox"));
  auto st = (*w)->Commit();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "BlobDigestMismatch");
  EXPECT_EQ(st.error().fault, BlobFault::kDigestMismatch);
  EXPECT_NE(st.error().message.find(d.digest), std::string::npos);
  EXPECT_NE(st.error().message.find("sha256:" + crypto::Sha256Hex("the bytes we asked fox")),
            std::string::npos);
  EXPECT_FALSE(store_->Has(d.digest));
  EXPECT_TRUE(Names(Blobs()).empty());
  EXPECT_TRUE(Names(Ingest()).empty());  // the partial was discarded
  EXPECT_EQ(store_->ReadBlob(d.digest).error().code, "NotFound");
  // The writer is finished.
  EXPECT_EQ((*w)->Write("x").error().code, "BlobStoreError");
  EXPECT_EQ((*w)->Write("x").error().fault, BlobFault::kIo);
}

TEST_F(StoreTest, SizeMismatchShortAndLong) {
  std::string data = "0123456789";
  Descriptor d = Describe(data);
  {
    auto w = store_->Begin(d);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->Write(data.substr(0, 5)));
    auto st = (*w)->Commit();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "BlobSizeMismatch");
    EXPECT_EQ(st.error().fault, BlobFault::kSizeMismatch);
    EXPECT_NE(st.error().message.find("expected 10 bytes, got 5"), std::string::npos);
  }
  {
    auto w = store_->Begin(d);
    ASSERT_TRUE(w);
    EXPECT_EQ((*w)->Offset(), 0);  // the short partial was discarded
    ASSERT_TRUE((*w)->Write(data));
    auto st = (*w)->Write("!");  // one byte too many fails at once
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, "BlobSizeMismatch");
    EXPECT_EQ(st.error().fault, BlobFault::kSizeMismatch);
    EXPECT_NE(st.error().message.find("expected 10 bytes, got at least 11"), std::string::npos);
  }
  EXPECT_TRUE(Names(Blobs()).empty());
  EXPECT_TRUE(Names(Ingest()).empty());
  // Unknown size: only the digest is checked.
  Descriptor unsized = d;
  unsized.size = -1;
  auto w = store_->Begin(unsized);
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->Write(data));
  ASSERT_TRUE((*w)->Commit());
  EXPECT_TRUE(store_->Has(d.digest));
}

TEST_F(StoreTest, ResumeAfterWriterIsDestroyedMidway) {
  std::string data = RandomBytes(3 << 20, 2);
  Descriptor d = Describe(data);
  {
    auto w = store_->Begin(d);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->Write(std::string_view(data).substr(0, 1234567)));
  }  // destroyed without Commit: the partial stays
  EXPECT_EQ(fs::file_size(PartialOf(d)), 1234567u);
  EXPECT_FALSE(store_->Has(d.digest));

  auto w = store_->Begin(d);
  ASSERT_TRUE(w);
  ASSERT_EQ((*w)->Offset(), 1234567);
  ASSERT_TRUE((*w)->Write(std::string_view(data).substr((*w)->Offset())));
  ASSERT_TRUE((*w)->Commit());
  EXPECT_EQ(*store_->ReadBlob(d.digest), data);
  EXPECT_TRUE(Names(Ingest()).empty());
}

// The descriptors of this process open on `path` with O_DIRECT.
int DirectDescriptorsOn(const fs::path& path) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (fs::read_symlink(e.path(), ec) != path) continue;
    std::ifstream info("/proc/self/fdinfo/" + e.path().filename().string());
    std::string key;
    std::string flags;
    while (info >> key >> flags) {
      if (key == "flags:" && (std::stoul(flags, nullptr, 8) & O_DIRECT)) ++n;
    }
  }
  return n;
}

// Blob data in aligned whole blocks goes around the page cache; unaligned
// pieces, a tail and pieces at an unaligned offset go through it; a resumed
// writer continues; the blob is whole and verified either way.
TEST_F(StoreTest, WriteAroundCacheMixesDirectAndBufferedPieces) {
  auto store = Store::Open(root_.string(), {.write_around_cache = true});
  ASSERT_TRUE(store);
  EXPECT_TRUE((*store)->WritesAroundCache());
  EXPECT_FALSE(store_->WritesAroundCache());
  constexpr size_t kBlock = 1 << 20;
  std::string data = RandomBytes(5 * kBlock + 777, 9);
  Descriptor d = Describe(data);
  std::unique_ptr<char, decltype(&std::free)> block(
      static_cast<char*>(std::aligned_alloc(kDirectAlignment, kBlock)), &std::free);
  auto aligned = [&](size_t from, size_t n) {
    std::memcpy(block.get(), data.data() + from, n);
    return std::string_view(block.get(), n);
  };
  {
    auto w = (*store)->Begin(d);
    ASSERT_TRUE(w) << w.error().message;
    EXPECT_EQ(DirectDescriptorsOn(PartialOf(d)), 1);  // the option takes effect
    ASSERT_TRUE((*w)->Write(aligned(0, kBlock)));     // direct
    ASSERT_TRUE((*w)->Write(std::string_view(data).substr(kBlock, 1000)));  // buffered
    ASSERT_TRUE((*w)->Write(aligned(kBlock + 1000, kBlock)));  // unaligned offset: buffered
    ASSERT_TRUE((*w)->Write(std::string_view(data).substr(2 * kBlock + 1000, kBlock - 1000)));
    ASSERT_EQ((*w)->Offset(), int64_t(3 * kBlock));
    ASSERT_TRUE((*w)->Write(aligned(3 * kBlock, kBlock)));  // direct again
  }  // dropped: the partial stays for a resume
  EXPECT_EQ(fs::file_size(PartialOf(d)), 4 * kBlock);
  auto w = (*store)->Begin(d);
  ASSERT_TRUE(w);
  ASSERT_EQ((*w)->Offset(), int64_t(4 * kBlock));
  ASSERT_TRUE((*w)->Write(aligned(4 * kBlock, kBlock)));                // direct
  ASSERT_TRUE((*w)->Write(std::string_view(data).substr(5 * kBlock)));  // the tail
  ASSERT_TRUE((*w)->Commit());
  EXPECT_EQ(DirectDescriptorsOn(Blobs() / d.digest.substr(7)), 0);  // closed at commit
  EXPECT_EQ(*store_->ReadBlob(d.digest), data);

  // Without the option nothing is opened with O_DIRECT.
  std::string other = RandomBytes(kBlock, 10);
  auto plain = store_->Begin(Describe(other));
  ASSERT_TRUE(plain);
  EXPECT_EQ(DirectDescriptorsOn(PartialOf(Describe(other))), 0);
  ASSERT_TRUE((*plain)->Write(other));
  ASSERT_TRUE((*plain)->Commit());
}

// A writer told to keep its bytes cached (somebody reads them back soon) writes them through
// the page cache even in a store that writes around it; told otherwise, around it again.
TEST_F(StoreTest, AWriterToldToKeepBytesCachedWritesThemThroughTheCache) {
  auto store = Store::Open(root_.string(), {.write_around_cache = true});
  ASSERT_TRUE(store);
  constexpr size_t kBlock = 1 << 20;
  std::string data = RandomBytes(3 * kBlock, 11);
  Descriptor d = Describe(data);
  std::unique_ptr<char, decltype(&std::free)> block(
      static_cast<char*>(std::aligned_alloc(kDirectAlignment, kBlock)), &std::free);
  auto aligned = [&](size_t from) {
    std::memcpy(block.get(), data.data() + from, kBlock);
    return std::string_view(block.get(), kBlock);
  };
  auto w = (*store)->Begin(d);
  ASSERT_TRUE(w) << w.error().message;
  if (DirectDescriptorsOn(PartialOf(d)) == 0) GTEST_SKIP() << "this filesystem takes no O_DIRECT";
  ASSERT_TRUE((*w)->Write(aligned(0)));  // around the cache
  (*w)->KeepCached(true);
  ASSERT_TRUE((*w)->Write(aligned(kBlock)));  // through it
  (*w)->KeepCached(false);
  ASSERT_TRUE((*w)->Write(aligned(2 * kBlock)));  // around it again
  std::vector<size_t> resident = test_support::ResidentPagesPerBlock(PartialOf(d), kBlock, 3);
  size_t pages = kBlock / static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  EXPECT_EQ(resident, (std::vector<size_t>{0, pages, 0}));
  ASSERT_TRUE((*w)->Commit());
  EXPECT_EQ(*store_->ReadBlob(d.digest), data);
}

TEST_F(StoreTest, FlippedByteInPartialIsCaughtAtCommit) {
  std::string data = RandomBytes(100000, 3);
  Descriptor d = Describe(data);
  {
    auto w = store_->Begin(d);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->Write(std::string_view(data).substr(0, 50000)));
  }
  {
    std::fstream f(PartialOf(d), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(777);
    f.put(static_cast<char>(data[777] ^ 0x01));
  }
  auto w = store_->Begin(d);
  ASSERT_TRUE(w);
  ASSERT_EQ((*w)->Offset(), 50000);
  ASSERT_TRUE((*w)->Write(std::string_view(data).substr(50000)));
  auto st = (*w)->Commit();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "BlobDigestMismatch");
  EXPECT_EQ(st.error().fault, BlobFault::kDigestMismatch);
  EXPECT_FALSE(store_->Has(d.digest));
  EXPECT_TRUE(Names(Ingest()).empty());

  // The next attempt starts from zero and succeeds.
  auto retry = store_->Begin(d);
  ASSERT_TRUE(retry);
  EXPECT_EQ((*retry)->Offset(), 0);
  ASSERT_TRUE((*retry)->Write(data));
  ASSERT_TRUE((*retry)->Commit());
  EXPECT_EQ(*store_->ReadBlob(d.digest), data);
}

TEST_F(StoreTest, PartialLongerThanExpectedRestartsFromZero) {
  std::string data = "short blob";
  Descriptor d = Describe(data);
  {
    std::ofstream f(PartialOf(d), std::ios::binary);
    f << "a partial that is longer than the blob";
  }
  auto w = store_->Begin(d);
  ASSERT_TRUE(w);
  EXPECT_EQ((*w)->Offset(), 0);
  ASSERT_TRUE((*w)->Write(data));
  ASSERT_TRUE((*w)->Commit());
  EXPECT_EQ(*store_->ReadBlob(d.digest), data);
}

TEST_F(StoreTest, KillNineWhileWritingLeavesNoBlobAndResumes) {
  constexpr size_t kSize = 64 << 20;
  constexpr size_t kChunk = 256 << 10;
  std::string data = RandomBytes(kSize, 4);
  Descriptor d = Describe(data);

  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  Fd ready_read(pipe_fds[0]), ready_write(pipe_fds[1]);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ready_read.Reset();
    auto store = Store::Open(root_.string());
    if (!store) ::_exit(2);
    auto w = (*store)->Begin(d);
    if (!w) ::_exit(3);
    for (size_t off = 0; off < kSize; off += kChunk) {
      if (!(*w)->Write(std::string_view(data).substr(off, kChunk))) ::_exit(4);
      if (off == kSize / 2) {
        char c = 'r';
        if (::write(ready_write.get(), &c, 1) != 1) ::_exit(5);
      }
      if (off >= kSize / 2) ::usleep(2000);  // keeps writing while the parent kills it
    }
    ::pause();  // never reaches Commit
    ::_exit(6);
  }
  ready_write.Reset();
  char c = 0;
  ASSERT_EQ(::read(ready_read.get(), &c, 1), 1);
  ready_read.Reset();
  ::usleep(5000);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));

  EXPECT_TRUE(Names(Blobs()).empty());
  EXPECT_FALSE(store_->Has(d.digest));
  ASSERT_TRUE(fs::exists(PartialOf(d)));

  // The kernel released the dead writer's lock: a new Begin resumes.
  auto w = store_->Begin(d);
  ASSERT_TRUE(w) << w.error().message;
  int64_t offset = (*w)->Offset();
  EXPECT_GT(offset, static_cast<int64_t>(kSize / 2));
  EXPECT_LT(offset, static_cast<int64_t>(kSize));
  ASSERT_TRUE((*w)->Write(std::string_view(data).substr(offset)));
  ASSERT_TRUE((*w)->Commit());
  auto read = store_->ReadBlob(d.digest);
  ASSERT_TRUE(read);
  EXPECT_TRUE(*read == data);
}

TEST_F(StoreTest, GarbageCollectKeepsReferencedAndFreesOthers) {
  std::string a = RandomBytes(1000, 5), b = RandomBytes(2000, 6), c = RandomBytes(3000, 7);
  for (const std::string* s : {&a, &b, &c}) ASSERT_TRUE(store_->WriteBlob(Describe(*s), *s));
  std::string stale = RandomBytes(4000, 8), live = RandomBytes(5000, 9);
  {
    auto w = store_->Begin(Describe(stale));
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->Write(std::string_view(stale).substr(0, 400)));
  }
  auto live_writer = store_->Begin(Describe(live));
  ASSERT_TRUE(live_writer);
  ASSERT_TRUE((*live_writer)->Write(std::string_view(live).substr(0, 500)));

  auto freed = store_->GarbageCollect({Describe(a).digest});
  ASSERT_TRUE(freed) << freed.error().message;
  EXPECT_EQ(*freed, 2000 + 3000 + 400);
  EXPECT_TRUE(store_->Has(Describe(a).digest));
  EXPECT_FALSE(store_->Has(Describe(b).digest));
  EXPECT_FALSE(store_->Has(Describe(c).digest));
  EXPECT_FALSE(fs::exists(PartialOf(Describe(stale))));
  EXPECT_EQ(*store_->List(), std::vector<std::string>{Describe(a).digest});

  // The live writer's partial survived and it can finish.
  ASSERT_TRUE((*live_writer)->Write(std::string_view(live).substr(500)));
  ASSERT_TRUE((*live_writer)->Commit());
  EXPECT_TRUE(store_->Has(Describe(live).digest));
}

TEST_F(StoreTest, ConcurrentBeginOfSameDigestIsBusy) {
  Descriptor d = Describe("contended");
  auto first = store_->Begin(d);
  ASSERT_TRUE(first);
  auto second = store_->Begin(d);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, "BlobBusy");
  EXPECT_EQ(second.error().fault, BlobFault::kBusy);
  EXPECT_EQ(second.error().http_status, 409);

  // Another process sharing the root is excluded too.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto store = Store::Open(root_.string());
    auto w = (*store)->Begin(d);
    ::_exit(!w && w.error().code == "BlobBusy" ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  // Another digest is independent.
  EXPECT_TRUE(store_->Begin(Describe("other")));

  ASSERT_TRUE((*first)->Write("contended"));
  ASSERT_TRUE((*first)->Commit());
  auto after = store_->Begin(d);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, "BlobExists");
  EXPECT_EQ(after.error().fault, BlobFault::kExists);
}

TEST_F(StoreTest, WriteBlobVerifiesAndIsIdempotent) {
  Descriptor d = Describe("{\"schemaVersion\":2}");
  ASSERT_TRUE(store_->WriteBlob(d, "{\"schemaVersion\":2}"));
  ASSERT_TRUE(store_->WriteBlob(d, "{\"schemaVersion\":2}"));
  EXPECT_EQ(*store_->ReadBlob(d.digest), "{\"schemaVersion\":2}");

  Descriptor other = Describe("expected");
  auto st = store_->WriteBlob(other, "tampered");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "BlobDigestMismatch");
  EXPECT_EQ(st.error().fault, BlobFault::kDigestMismatch);
  EXPECT_FALSE(store_->Has(other.digest));
}

TEST_F(StoreTest, CorruptCommittedBlobIsDetectedByReadBlob) {
  std::string data = "config json";
  Descriptor d = Describe(data);
  ASSERT_TRUE(store_->WriteBlob(d, data));
  fs::path path = PathOf(d.digest);
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << "config jsoN";
  }
  auto read = store_->ReadBlob(d.digest);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, "BlobDigestMismatch");
  EXPECT_EQ(read.error().fault, BlobFault::kDigestMismatch);
  EXPECT_FALSE(store_->Has(d.digest));  // removed, so the next pull fetches it again
}

// Reads `reader` to its end in pieces of `piece` bytes.
std::string ReadAll(BlobReader& reader, size_t piece) {
  std::string out;
  std::string buf(piece, '\0');
  for (;;) {
    auto n = reader.Read(buf.data(), buf.size());
    EXPECT_TRUE(n) << n.error().message;
    if (!n || *n == 0) return out;
    out.append(buf.data(), *n);
  }
}

TEST_F(StoreTest, OpenBlobStreamsTheCommittedBytes) {
  std::string data = RandomBytes(300000, 4);
  Descriptor d = Describe(data);
  ASSERT_TRUE(store_->WriteBlob(d, data));
  auto reader = store_->OpenBlob(d.digest);
  ASSERT_TRUE(reader) << reader.error().message;
  EXPECT_EQ(reader->digest(), d.digest);
  EXPECT_EQ(reader->size(), 300000);
  EXPECT_EQ(ReadAll(*reader, 7000), data);
  char c;
  EXPECT_EQ(reader->Read(&c, 1).value(), 0u);  // still the end

  // A reader keeps what it opened even when the blob is collected meanwhile.
  auto early = store_->OpenBlob(d.digest);
  ASSERT_TRUE(early);
  ASSERT_TRUE(store_->GarbageCollect({}));
  EXPECT_FALSE(store_->Has(d.digest));
  EXPECT_EQ(ReadAll(*early, 1 << 16), data);
}

TEST_F(StoreTest, OpenBlobOfAnAbsentBlobIsNotFound) {
  std::string digest = "sha256:" + std::string(64, 'e');
  auto reader = store_->OpenBlob(digest);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().fault, BlobFault::kNotFound);
  EXPECT_EQ(reader.error().code, "NotFound");
  EXPECT_EQ(reader.error().http_status, 404);
  EXPECT_EQ(reader.error().message, "blob " + digest + " not found");
}

TEST_F(StoreTest, OpenBlobWhileAnotherBlobIsBeingWritten) {
  std::string a = RandomBytes(200000, 5);
  std::string b = RandomBytes(200000, 6);
  ASSERT_TRUE(store_->WriteBlob(Describe(a), a));
  auto writer = store_->Begin(Describe(b));
  ASSERT_TRUE(writer) << writer.error().message;
  ASSERT_TRUE((*writer)->Write(std::string_view(b).substr(0, 100000)));

  // The committed blob reads whole; the one being written is not there yet.
  auto ra = store_->OpenBlob(Describe(a).digest);
  ASSERT_TRUE(ra) << ra.error().message;
  auto rb = store_->OpenBlob(Describe(b).digest);
  ASSERT_FALSE(rb);
  EXPECT_EQ(rb.error().fault, BlobFault::kNotFound);
  std::string first = ReadAll(*ra, 50000);
  ASSERT_TRUE((*writer)->Write(std::string_view(b).substr(100000)));
  EXPECT_EQ(first, a);

  ASSERT_TRUE((*writer)->Commit());
  rb = store_->OpenBlob(Describe(b).digest);
  ASSERT_TRUE(rb) << rb.error().message;
  EXPECT_EQ(ReadAll(*rb, 1 << 20), b);
}

TEST_F(StoreTest, InvalidDigests) {
  EXPECT_TRUE(IsValidDigest("sha256:" + std::string(64, 'a')));
  EXPECT_TRUE(IsValidDigest("sha256:" + crypto::Sha256Hex("x")));
  EXPECT_FALSE(IsValidDigest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(IsValidDigest("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(IsValidDigest("sha256:" + std::string(65, 'a')));
  EXPECT_FALSE(IsValidDigest("sha512:" + std::string(64, 'a')));
  EXPECT_FALSE(IsValidDigest("sha256:../../../../etc/passwd" + std::string(36, 'a')));
  EXPECT_FALSE(IsValidDigest(""));

  Descriptor bad;
  bad.digest = "sha256:../../escape";
  auto w = store_->Begin(bad);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, "InvalidDigest");
  EXPECT_EQ(store_->ReadBlob(bad.digest).error().code, "InvalidDigest");
  auto opened = store_->OpenBlob(bad.digest);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().fault, BlobFault::kInvalidDigest);
  EXPECT_FALSE(store_->Has(bad.digest));
}

}  // namespace
}  // namespace berth::agent::content
