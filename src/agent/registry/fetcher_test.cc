#include "agent/registry/fetcher.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "agent/registry/errors.h"
#include "agent/registry/fake_registry.h"
#include "agent/registry/fake_store.h"

namespace berth::agent::registry {
namespace {

using testing::DigestOf;
using testing::FakeRegistry;
using testing::FakeStore;
using testing::RawBlobReply;
using testing::RawHttpServer;
using namespace std::chrono_literals;
using State = BlobProgress::State;

// Deterministic, incompressible-looking test data.
std::string Data(size_t size, char seed) {
  std::string out(size, '\0');
  uint32_t x = static_cast<unsigned char>(seed) * 2654435761u + 1;
  for (char& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

content::Descriptor Describe(const std::string& data) {
  return {
      std::string(testing::kGzipLayerType), DigestOf(data), static_cast<int64_t>(data.size()), {}};
}

FetchOptions Fast() {
  FetchOptions options;
  options.retry = RetryPolicy{5, 1ms, 4ms};
  return options;
}

// Fetches from hosts it is told are insecure, with or without credentials.
struct Fixture {
  Fixture(std::vector<std::string> insecure, FetchOptions fetch = Fast(),
          std::optional<credentials::RegistryCredentials> creds = std::nullopt)
      : transport(Options(std::move(insecure))),
        authorizer(std::move(creds), transport, RetryPolicy{3, 1ms, 1ms}),
        fetcher(transport, authorizer, store, std::move(fetch)) {}

  static TransportOptions Options(std::vector<std::string> insecure) {
    TransportOptions o;
    o.insecure_hosts = std::move(insecure);
    return o;
  }

  TransportOptions transport;
  FakeStore store;
  Authorizer authorizer;
  Fetcher fetcher;
};

TEST(FetcherTest, FetchesBlobsInParallelIntoTheStore) {
  auto registry = FakeRegistry::Start();
  std::vector<content::Descriptor> blobs;
  std::vector<std::string> data;
  for (int i = 0; i < 6; ++i) {
    data.push_back(Data(300'000 + i * 1000, static_cast<char>('a' + i)));
    blobs.push_back(registry->AddBlob("team/app", data.back()));
  }
  std::mutex mu;
  std::map<std::string, BlobProgress> last;
  FetchOptions options = Fast();
  options.progress = [&](const BlobProgress& p) {
    std::lock_guard lock(mu);
    EXPECT_LE(p.done, p.total);
    last[p.digest] = p;
  };
  Fixture f({registry->host()}, options);
  Status got = f.fetcher.Fetch(registry->host(), "team/app", blobs);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  for (size_t i = 0; i < blobs.size(); ++i) {
    EXPECT_EQ(f.store.ReadBlob(blobs[i].digest).value_or(""), data[i]);
    EXPECT_EQ(last[blobs[i].digest].state, State::kDone);
    EXPECT_EQ(last[blobs[i].digest].media_type, testing::kGzipLayerType);
    EXPECT_EQ(last[blobs[i].digest].done, blobs[i].size);
    EXPECT_EQ(last[blobs[i].digest].total, blobs[i].size);
  }
  EXPECT_EQ(registry->Count("/v2/team/app/blobs/sha256:"), 6);
}

// The committed event: once per distinct digest, only once the store has
// the blob (already there, or committed now), with the descriptor as given,
// and never for a blob that failed.
TEST(FetcherTest, ReportsEachBlobCommittedOnceAfterItIsInTheStore) {
  auto registry = FakeRegistry::Start();
  std::vector<content::Descriptor> blobs;
  for (int i = 0; i < 3; ++i) {
    blobs.push_back(registry->AddBlob("team/app", Data(200'000, static_cast<char>('c' + i))));
  }
  std::vector<content::Descriptor> committed;
  Fixture f({registry->host()});
  FetchOptions options = Fast();
  options.on_committed = [&](const content::Descriptor& d) {
    EXPECT_TRUE(f.store.Has(d.digest)) << d.digest;
    committed.push_back(d);
  };
  Fetcher fetcher(f.transport, f.authorizer, f.store, options);
  // The first blob is in the store before the Fetch.
  ASSERT_TRUE(f.store.WriteBlob(blobs[0], Data(200'000, 'c')).has_value());
  std::vector<content::Descriptor> asked = blobs;
  asked.push_back(blobs[1]);  // listed twice: fetched and reported once
  Status got = fetcher.Fetch(registry->host(), "team/app", asked);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  ASSERT_EQ(committed.size(), 3u);
  EXPECT_EQ(committed[0].digest, blobs[0].digest);  // already present: reported first
  for (const content::Descriptor& blob : blobs) {
    auto it = std::find_if(committed.begin(), committed.end(),
                           [&](const content::Descriptor& d) { return d.digest == blob.digest; });
    ASSERT_NE(it, committed.end());
    EXPECT_EQ(it->media_type, blob.media_type);
    EXPECT_EQ(it->size, blob.size);
  }

  // A blob the registry does not have fails the Fetch and is never reported.
  committed.clear();
  content::Descriptor missing = Describe(Data(1000, 'z'));
  EXPECT_FALSE(fetcher.Fetch(registry->host(), "team/app", {missing}).has_value());
  EXPECT_TRUE(committed.empty());
}

// Blobs of several MiB go through the writing thread (WriterPipe), the
// small one does not; all of them in flight at once.
TEST(FetcherTest, LargeBlobsAreWrittenOnAThreadOfTheirOwn) {
  auto registry = FakeRegistry::Start();
  std::vector<content::Descriptor> blobs;
  std::vector<std::string> data;
  for (int i = 0; i < 4; ++i) {
    data.push_back(Data(i == 0 ? 700 : (5 << 20) + i * 4099, static_cast<char>('L' + i)));
    blobs.push_back(registry->AddBlob("team/big", data.back()));
  }
  Fixture f({registry->host()});
  Status got = f.fetcher.Fetch(registry->host(), "team/big", blobs);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  for (size_t i = 0; i < blobs.size(); ++i) {
    EXPECT_EQ(f.store.ReadBlob(blobs[i].digest).value_or(""), data[i]) << i;
  }
}

TEST(FetcherTest, AFlippedByteInALargeBlobIsCaughtAndTheBlobFetchedAgain) {
  auto registry = FakeRegistry::Start();
  std::string data = Data(6 << 20, 'F');
  content::Descriptor blob = registry->AddBlob("app", data);
  registry->FlipNext(blob.digest, 1);
  Fixture f({registry->host()});
  Status got = f.fetcher.Fetch(registry->host(), "app", {blob});
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(f.store.ReadBlob(blob.digest).value_or(""), data);
  EXPECT_EQ(registry->Count("/blobs/"), 2);
}

// What a BlobTap saw: each blob's bytes rebuilt from (offset, bytes), "discarded" events, and
// whether any bytes came out of order.
class RecordingTap final : public BlobTap {
 public:
  bool Written(const content::Descriptor& blob, int64_t offset, std::string_view bytes) override {
    std::lock_guard lock(mu);
    std::string& seen = bytes_by_digest[blob.digest];
    if (offset != static_cast<int64_t>(seen.size())) out_of_order = true;
    seen.append(bytes);
    return !declined.contains(blob.digest);
  }
  void Discarded(const content::Descriptor& blob) override {
    std::lock_guard lock(mu);
    events.push_back("discarded " + blob.digest + " after " +
                     std::to_string(bytes_by_digest[blob.digest].size()));
    bytes_by_digest[blob.digest].clear();
  }
  std::mutex mu;
  std::map<std::string, std::string> bytes_by_digest;
  std::set<std::string> declined;  // digests whose bytes the tap does not keep
  std::vector<std::string> events;
  bool out_of_order = false;
};

// The tap sees every byte, in order (several 1 MiB blocks and a small blob written without a
// thread), and, for a blob whose first download fails its digest, a Discarded of the bad bytes
// before the refetched ones.
TEST(FetcherTest, ATapSeesEveryByteInOrderAndTheDiscardOfBadBytes) {
  auto registry = FakeRegistry::Start();
  std::string big = Data(3 << 20, 'T'), small = Data(1000, 't');
  content::Descriptor big_blob = registry->AddBlob("app", big);
  content::Descriptor small_blob = registry->AddBlob("app", small);
  registry->FlipNext(big_blob.digest, 1);
  RecordingTap tap;
  FetchOptions options = Fast();
  options.tap = &tap;
  Fixture f({registry->host()}, options);
  Status got = f.fetcher.Fetch(registry->host(), "app", {big_blob, small_blob});
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_FALSE(tap.out_of_order);
  EXPECT_EQ(tap.bytes_by_digest[big_blob.digest], big);
  EXPECT_EQ(tap.bytes_by_digest[small_blob.digest], small);
  EXPECT_EQ(tap.events,
            std::vector<std::string>{"discarded " + big_blob.digest + " after " +
                                     std::to_string(big.size())});
}

// A store writing around the page cache keeps a blob's bytes cached only where the tap did not
// keep them itself (the streamed unpack reads those from the store later); without a tap the
// store's own choice stands.
TEST(FetcherTest, BytesTheTapDoesNotKeepAreKeptCachedByTheStore) {
  auto registry = FakeRegistry::Start();
  std::string kept = Data(3 << 20, 'K'), declined = Data((2 << 20) + 5, 'D'),
              small = Data(1000, 's');
  content::Descriptor kept_blob = registry->AddBlob("app", kept);
  content::Descriptor declined_blob = registry->AddBlob("app", declined);
  content::Descriptor small_blob = registry->AddBlob("app", small);
  RecordingTap tap;
  tap.declined = {declined_blob.digest, small_blob.digest};
  FetchOptions options = Fast();
  options.tap = &tap;
  Fixture f({registry->host()}, options);
  Status got = f.fetcher.Fetch(registry->host(), "app", {kept_blob, declined_blob, small_blob});
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(f.store.ReadBlob(declined_blob.digest).value_or(""), declined);
  EXPECT_EQ(f.store.kept_cached(kept_blob.digest), 0);
  EXPECT_EQ(f.store.kept_cached(declined_blob.digest), static_cast<int64_t>(declined.size()));
  EXPECT_EQ(f.store.kept_cached(small_blob.digest), static_cast<int64_t>(small.size()));

  Fixture untapped({registry->host()});
  got = untapped.fetcher.Fetch(registry->host(), "app", {declined_blob});
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(untapped.store.kept_cached(declined_blob.digest), 0);
}

// A fetch's connections stay open for the next one to the same registry (its transfers go out
// without new TCP or TLS handshakes), and are not inherited by the processes the agent starts.
TEST(FetcherTest, ALaterFetchFromTheSameRegistryReusesTheConnections) {
  auto registry = FakeRegistry::Start();
  std::vector<content::Descriptor> first, second;
  for (int i = 0; i < 2; ++i) {
    first.push_back(registry->AddBlob("app", Data(200000 + i, static_cast<char>('a' + i))));
    second.push_back(registry->AddBlob("app", Data(300000 + i, static_cast<char>('c' + i))));
  }
  Fixture f({registry->host()});
  Status got = f.fetcher.Fetch(registry->host(), "app", first);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  std::set<std::string> kept = testing::ClientConnectionsTo(registry->port());
  EXPECT_GE(kept.size(), 1u);
  got = f.fetcher.Fetch(registry->host(), "app", second);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(testing::ClientConnectionsTo(registry->port()), kept);  // the same ones, no more
  EXPECT_EQ(testing::InheritableAmong(kept), 0);
  EXPECT_EQ(f.store.ReadBlob(second[1].digest).value_or(""), Data(300001, 'd'));
}

// Fetches a `size`-byte blob from a server whose first reply promises all of
// it and stops after `cut` bytes; returns the request heads it received.
std::vector<std::string> FetchAfterADrop(size_t size, char fill, int64_t cut) {
  std::string data = Data(size, fill);
  content::Descriptor blob = Describe(data);
  std::mutex mu;
  std::vector<std::string> heads;
  auto server = RawHttpServer::Start([&](const std::string& head) {
    std::lock_guard lock(mu);
    heads.push_back(head);
    return RawHttpServer::Reply{RawBlobReply(head, data, heads.size() == 1 ? cut : -1)};
  });
  Fixture f({server->host()});
  Status got = f.fetcher.Fetch(server->host(), "app", {blob});
  EXPECT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(f.store.ReadBlob(blob.digest).value_or(""), data);
  std::lock_guard lock(mu);
  EXPECT_FALSE(heads.empty());
  if (!heads.empty()) {
    EXPECT_EQ(RawHttpServer::TargetOf(heads[0]), "/v2/app/blobs/" + blob.digest);
  }
  return heads;
}

// The bytes still queued for the writing thread when the connection drops
// are written before the resumed transfer's, in order.
TEST(FetcherTest, ALargeBlobResumesWithRangeAfterTheConnectionDrops) {
  auto heads = FetchAfterADrop(6 << 20, 'D', 3'500'000);
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(RawHttpServer::HeaderOf(heads[1], "Range"), "bytes=3500000-");
}

// A server that ignores Range after a drop: what the writing thread holds is
// thrown away and the blob read from the start.
TEST(FetcherTest, ALargeBlobFromAServerThatIgnoresRangeIsReadFromTheStart) {
  std::string data = Data(5 << 20, 'I');
  content::Descriptor blob = Describe(data);
  std::mutex mu;
  int replies = 0;
  auto server = RawHttpServer::Start([&](const std::string&) {
    std::lock_guard lock(mu);
    ++replies;
    // Always the whole blob from byte 0 (200), the first time cut short.
    return RawHttpServer::Reply{RawBlobReply("GET / HTTP/1.1\r\n\r\n", data,
                                             replies == 1 ? 2'600'000 : -1)};
  });
  Fixture f({server->host()});
  Status got = f.fetcher.Fetch(server->host(), "app", {blob});
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(f.store.ReadBlob(blob.digest).value_or(""), data);
  std::lock_guard lock(mu);
  EXPECT_EQ(replies, 2);
}

TEST(FetcherTest, SkipsBlobsTheStoreHasAndDuplicates) {
  auto registry = FakeRegistry::Start();
  content::Descriptor have = registry->AddBlob("app", "already here");
  content::Descriptor need = registry->AddBlob("app", "needed");
  std::vector<BlobProgress> events;
  FetchOptions options = Fast();
  options.progress = [&](const BlobProgress& p) { events.push_back(p); };
  Fixture f({registry->host()}, options);
  ASSERT_TRUE(f.store.WriteBlob(have, "already here"));
  ASSERT_TRUE(f.fetcher.Fetch(registry->host(), "app", {have, need, need}));
  EXPECT_EQ(registry->Count(have.digest), 0);
  EXPECT_EQ(registry->Count(need.digest), 1);
  EXPECT_EQ(events.front().digest, have.digest);
  EXPECT_EQ(events.front().state, State::kAlreadyPresent);
}

TEST(FetcherTest, ServerErrorsAreRetriedWithBackoff) {
  auto registry = FakeRegistry::Start();
  std::string data = Data(100'000, 'r');
  content::Descriptor blob = registry->AddBlob("app", data);
  registry->FailNext("/blobs/", 3, 500);
  Fixture f({registry->host()});
  Status got = f.fetcher.Fetch(registry->host(), "app", {blob});
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(f.store.ReadBlob(blob.digest).value_or(""), data);
  EXPECT_EQ(registry->Count("/blobs/"), 4);
}

TEST(FetcherTest, GivesUpAfterTheLastAttempt) {
  auto registry = FakeRegistry::Start();
  content::Descriptor blob = registry->AddBlob("app", "x");
  registry->FailNext("/blobs/", 5, 503);
  Fixture f({registry->host()});
  Status got = f.fetcher.Fetch(registry->host(), "app", {blob});
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_EQ(got.error().message, registry->host() + "/app: blob " + blob.digest +
                                     ": UNKNOWN: injected failure (HTTP 503) (gave up after 5 "
                                     "attempts)");
  EXPECT_EQ(registry->Count("/blobs/"), 5);
}

TEST(FetcherTest, ClientErrorsAreNotRetried) {
  auto registry = FakeRegistry::Start();
  registry->AddBlob("app", "x");
  content::Descriptor missing = Describe("not in the registry");
  Fixture f({registry->host()});
  Status got = f.fetcher.Fetch(registry->host(), "app", {missing});
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_EQ(got.error().message, registry->host() + "/app: blob " + missing.digest +
                                     ": BLOB_UNKNOWN: blob unknown to registry (HTTP 404)");
  EXPECT_EQ(registry->Count("/blobs/"), 1);
}

TEST(FetcherTest, AFlippedByteIsCaughtAndTheBlobFetchedAgain) {
  auto registry = FakeRegistry::Start();
  std::string data = Data(200'000, 'f');
  content::Descriptor blob = registry->AddBlob("app", data);
  registry->FlipNext(blob.digest, 1);
  Fixture f({registry->host()});
  Status got = f.fetcher.Fetch(registry->host(), "app", {blob});
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(f.store.ReadBlob(blob.digest).value_or(""), data);
  EXPECT_EQ(registry->Count("/blobs/"), 2);

  // Corrupt every time: fetched twice, then a clear failure.
  content::Descriptor bad = registry->AddBlob("app", Data(1000, 'g'));
  registry->FlipNext(bad.digest, 10);
  got = f.fetcher.Fetch(registry->host(), "app", {bad});
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_NE(got.error().message.find("blob " + bad.digest + ": expected " + bad.digest + ", got "),
            std::string::npos)
      << got.error().message;
  EXPECT_NE(got.error().message.find("again after fetching the blob a second time"),
            std::string::npos);
  EXPECT_FALSE(f.store.Has(bad.digest));
  EXPECT_EQ(registry->Count(bad.digest), 2);
}

TEST(FetcherTest, MoreBytesThanDeclaredAreRefused) {
  auto registry = FakeRegistry::Start();
  std::string data = Data(5000, 'o');
  content::Descriptor blob = registry->AddBlob("app", data);
  blob.size = 100;  // the manifest lies about the size
  Fixture f({registry->host()});
  Status got = f.fetcher.Fetch(registry->host(), "app", {blob});
  ASSERT_FALSE(got.has_value());
  EXPECT_NE(got.error().message.find("the server sent more than the 100 bytes"), std::string::npos)
      << got.error().message;
}

TEST(FetcherTest, ResumesWithRangeAfterTheConnectionDrops) {
  auto heads = FetchAfterADrop(256 * 1024, 'd', 100'000);
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(RawHttpServer::HeaderOf(heads[0], "Range"), "");
  EXPECT_EQ(RawHttpServer::HeaderOf(heads[1], "Range"), "bytes=100000-");
}

TEST(FetcherTest, ResumesAPartialBlobLeftByAnEarlierPull) {
  auto registry = FakeRegistry::Start();
  std::string data = Data(50'000, 'p');
  content::Descriptor blob = registry->AddBlob("app", data);
  Fixture f({registry->host()});
  f.store.SetPartial(blob.digest, data.substr(0, 30'000));
  ASSERT_TRUE(f.fetcher.Fetch(registry->host(), "app", {blob}));
  EXPECT_EQ(f.store.ReadBlob(blob.digest).value_or(""), data);
  ASSERT_EQ(registry->requests().size(), 1u);
  EXPECT_EQ(registry->requests()[0].range, "bytes=30000-");
}

TEST(FetcherTest, AServerThatIgnoresRangeIsReadFromTheStart) {
  auto registry = FakeRegistry::Start();
  std::string data = Data(50'000, 'i');
  content::Descriptor blob = registry->AddBlob("app", data);
  registry->SetRangeSupport(false);
  Fixture f({registry->host()});
  f.store.SetPartial(blob.digest, data.substr(0, 20'000));
  Status got = f.fetcher.Fetch(registry->host(), "app", {blob});
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(f.store.ReadBlob(blob.digest).value_or(""), data);
  EXPECT_EQ(registry->Count("/blobs/"), 1);
}

TEST(FetcherTest, AReplyWithAnotherRangeIsReadAgainFromTheStart) {
  std::string data = Data(40'000, 'k');
  content::Descriptor blob = Describe(data);
  std::mutex mu;
  std::vector<std::string> heads;
  auto server = RawHttpServer::Start([&](const std::string& head) {
    std::lock_guard lock(mu);
    heads.push_back(head);
    if (heads.size() == 1) {  // asked for bytes=10000-, answers from 0
      return RawHttpServer::Reply{
          fmt::format("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-{}/{}\r\n"
                      "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                      data.size() - 1, data.size(), data.size(), data)};
    }
    return RawHttpServer::Reply{RawBlobReply(head, data)};
  });
  Fixture f({server->host()});
  f.store.SetPartial(blob.digest, data.substr(0, 10'000));
  Status got = f.fetcher.Fetch(server->host(), "app", {blob});
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(f.store.ReadBlob(blob.digest).value_or(""), data);
  std::lock_guard lock(mu);
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(RawHttpServer::HeaderOf(heads[0], "Range"), "bytes=10000-");
  EXPECT_EQ(RawHttpServer::HeaderOf(heads[1], "Range"), "");
}

TEST(FetcherTest, AStalledTransferIsAbandonedAndRetried) {
  std::string data = Data(64 * 1024, 's');
  content::Descriptor blob = Describe(data);
  std::atomic<int> requests{0};
  auto server = RawHttpServer::Start([&](const std::string& head) {
    if (++requests == 1) return RawHttpServer::Reply{RawBlobReply(head, data, 1000), 5s};
    return RawHttpServer::Reply{RawBlobReply(head, data)};
  });
  Fixture f({server->host()});
  // libcurl rates a transfer over a window of a few seconds: with the 1000
  // bytes that did arrive, a 1 byte/s floor would only trip after that window.
  f.transport.low_speed_time = 1s;
  f.transport.low_speed_bytes = 10'000;
  Fetcher fetcher(f.transport, f.authorizer, f.store, Fast());
  auto start = std::chrono::steady_clock::now();
  Status got = fetcher.Fetch(server->host(), "app", {blob});
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  EXPECT_EQ(f.store.ReadBlob(blob.digest).value_or(""), data);
  EXPECT_EQ(requests, 2);
}

// A registry sending a couple of bytes every 100 ms: never stalled, never
// done. The default floor (1 KiB/s), judged here over 1 s instead of 30,
// abandons the transfer, which is retried like any other failure.
TEST(FetcherTest, ATransferTricklingBelowTheDefaultFloorIsAbandonedAndRetried) {
  std::string data = Data(64 * 1024, 'r');
  content::Descriptor blob = Describe(data);
  std::atomic<int> requests{0};
  auto server = RawHttpServer::Start([&](const std::string& head) {
    if (++requests == 1) {
      RawHttpServer::Reply reply{RawBlobReply(head, data, 0)};
      reply.trickle = data;
      return reply;
    }
    return RawHttpServer::Reply{RawBlobReply(head, data)};
  });
  FetchOptions options = Fast();
  options.overall_timeout = 30s;  // at 20 bytes/s the blob would take an hour
  Fixture f({server->host()}, options);
  EXPECT_EQ(f.transport.low_speed_bytes, 1024);
  f.transport.low_speed_time = 1s;
  Fetcher fetcher(f.transport, f.authorizer, f.store, options);
  Status got = fetcher.Fetch(server->host(), "app", {blob});
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(f.store.ReadBlob(blob.digest).value_or(""), data);
  EXPECT_EQ(requests, 2);
}

TEST(FetcherTest, ARegistryThatOnlyTricklesFailsOnceTheAttemptsAreSpent) {
  std::string data = Data(64 * 1024, 'q');
  auto server = RawHttpServer::Start([&](const std::string& head) {
    RawHttpServer::Reply reply{RawBlobReply(head, data, 0)};
    reply.trickle = data;
    return reply;
  });
  FetchOptions options = Fast();
  options.retry.max_attempts = 2;
  options.overall_timeout = 30s;
  Fixture f({server->host()}, options);
  f.transport.low_speed_time = 1s;
  Fetcher fetcher(f.transport, f.authorizer, f.store, options);
  Status got = fetcher.Fetch(server->host(), "app", {Describe(data)});
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_NE(got.error().message.find("Operation too slow. Less than 1024 bytes/sec"),
            std::string::npos)
      << got.error().message;
  EXPECT_NE(got.error().message.find("(gave up after 2 attempts)"), std::string::npos)
      << got.error().message;
}

TEST(FetcherTest, TheOverallDeadlineEndsTheFetch) {
  std::string data = Data(64 * 1024, 't');
  auto server = RawHttpServer::Start([&](const std::string& head) {
    return RawHttpServer::Reply{RawBlobReply(head, data, 10), 3s};
  });
  FetchOptions options = Fast();
  options.overall_timeout = 300ms;
  Fixture f({server->host()}, options);
  auto start = std::chrono::steady_clock::now();
  Status got = f.fetcher.Fetch(server->host(), "app", {Describe(data)});
  ASSERT_FALSE(got.has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_EQ(got.error().message,
            server->host() + "/app: timed out after 300 ms with 0 of 1 blobs fetched");
  // What arrived is kept for a later resume.
  EXPECT_EQ(f.store.Partial(Describe(data).digest), data.substr(0, 10));
}

TEST(FetcherTest, RedirectsCarryNoAuthorizationToAnotherHost) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  auto objects = FakeRegistry::Start();  // object storage on another port
  std::string data = Data(100'000, 'x');
  content::Descriptor blob = registry->AddBlob("app", data);
  objects->AddBlob("bucket", data);
  registry->RedirectBlobsTo("http://" + objects->host() + "/objects/");
  Fixture f({registry->host(), objects->host()}, Fast(),
            credentials::RegistryCredentials{"alice", "pa55:word", ""});
  Status got = f.fetcher.Fetch(registry->host(), "app", {blob});
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(f.store.ReadBlob(blob.digest).value_or(""), data);

  auto at_registry = registry->requests();
  ASSERT_FALSE(at_registry.empty());
  EXPECT_EQ(at_registry.back().authorization, "Bearer token-1");
  auto at_objects = objects->requests();
  ASSERT_EQ(at_objects.size(), 1u);
  EXPECT_EQ(at_objects[0].target, "/objects/" + blob.digest);
  EXPECT_EQ(at_objects[0].authorization, "");
}

TEST(FetcherTest, RedirectsToPlainHttpHostsNotListedAreRefused) {
  auto registry = FakeRegistry::Start();
  auto objects = FakeRegistry::Start();
  content::Descriptor blob = registry->AddBlob("app", "x");
  objects->AddBlob("bucket", "x");
  registry->RedirectBlobsTo("http://" + objects->host() + "/objects/");
  Fixture f({registry->host()});
  Status got = f.fetcher.Fetch(registry->host(), "app", {blob});
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_NE(
      got.error().message.find("refusing http://127.0.0.1:" + std::to_string(objects->port())),
      std::string::npos)
      << got.error().message;
  EXPECT_EQ(objects->requests().size(), 0u);
}

TEST(FetcherTest, OneTokenServesParallelBlobs) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  content::Descriptor a = registry->AddBlob("app", Data(10'000, '1'));
  content::Descriptor b = registry->AddBlob("app", Data(10'000, '2'));
  Fixture f({registry->host()}, Fast(), credentials::RegistryCredentials{"alice", "pa55:word", ""});
  Status got = f.fetcher.Fetch(registry->host(), "app", {a, b});
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_TRUE(f.store.Has(a.digest));
  EXPECT_TRUE(f.store.Has(b.digest));
  EXPECT_EQ(registry->token_requests(), 1);
}

TEST(FetcherTest, WaitsForAnotherWriterOfTheSameBlob) {
  auto registry = FakeRegistry::Start();
  std::string data = Data(10'000, 'w');
  content::Descriptor blob = registry->AddBlob("app", data);
  Fixture f({registry->host()});
  auto other = f.store.Begin(blob);  // another pull is writing this blob
  ASSERT_TRUE(other.has_value());
  std::thread finisher([&] {
    std::this_thread::sleep_for(200ms);
    ASSERT_TRUE((*other)->Write(data));
    ASSERT_TRUE((*other)->Commit());
    other->reset();
  });
  Status got = f.fetcher.Fetch(registry->host(), "app", {blob});
  finisher.join();
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(registry->Count("/blobs/"), 0);  // the other writer's blob was used
  EXPECT_EQ(f.store.commits(), 1);
}

}  // namespace
}  // namespace berth::agent::registry
