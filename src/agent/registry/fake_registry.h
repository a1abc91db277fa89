// Test support: an OCI distribution registry in-process (berth::http::Server on
// 127.0.0.1, an ephemeral port) with the faults the registry stages must
// survive, and a bare TCP server for the faults an HTTP library cannot produce.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/content/store.h"
#include "agent/reference/reference.h"
#include "agent/registry/platform.h"
#include "http/server.h"

namespace berth::agent::registry::testing {

// "sha256:<hex>" of `data`.
std::string DigestOf(std::string_view data);

// reference::ParseReference(text), which the calling test EXPECTs to succeed.
reference::Reference Ref(std::string_view text);

inline constexpr std::string_view kGzipLayerType = "application/vnd.oci.image.layer.v1.tar+gzip";

class FakeRegistry {
 public:
  enum class Auth { kNone, kBasic, kBearer };
  struct Options {
    Auth auth = Auth::kNone;
    std::string username = "alice";
    std::string password = "pa55:word";
    int token_expires_in = 300;       // 0: the token reply has no expires_in
    bool access_token_field = false;  // reply {"access_token"} instead of {"token"}
  };

  // Starts serving; ASSERTs in the calling test on failure.
  static std::unique_ptr<FakeRegistry> Start(Options options);
  static std::unique_ptr<FakeRegistry> Start() { return Start(Options{}); }
  ~FakeRegistry();

  uint16_t port() const;
  std::string host() const;  // "127.0.0.1:<port>"

  // Content. A repository exists once something was added to it.
  content::Descriptor AddBlob(const std::string& repo, std::string data,
                              std::string media_type = std::string(kGzipLayerType));
  // Serves `body` as manifest `locator` (a tag or a digest) with Content-Type
  // `media_type`, whether or not `body` hashes to it.
  void PutManifest(const std::string& repo, const std::string& locator,
                   const std::string& media_type, const std::string& body);
  // Serves `body` under its digest and, when `tag` is not empty, under `tag`.
  content::Descriptor AddManifest(const std::string& repo, const std::string& tag,
                                  const std::string& media_type, const std::string& body);

  struct Image {
    content::Descriptor manifest;
    std::string manifest_json;
    content::Descriptor config;
    std::vector<content::Descriptor> layers;
  };
  // An image: a config naming `platform` and one layer per element of `layers`.
  Image AddImage(const std::string& repo, const std::string& tag,
                 const std::vector<std::string>& layers,
                 const std::string& manifest_type = "application/vnd.oci.image.manifest.v1+json",
                 const Platform& platform = Platform{"linux", "amd64", ""});
  // An index over `entries`.
  content::Descriptor AddIndex(
      const std::string& repo, const std::string& tag,
      const std::vector<std::pair<Platform, content::Descriptor>>& entries,
      const std::string& media_type = "application/vnd.oci.image.index.v1+json");

  // Faults.
  // The next `count` requests whose path contains `path_part` get `status`.
  void FailNext(const std::string& path_part, int count, int status = 500);
  // The next `count` GETs of blob `digest` have one byte flipped.
  void FlipNext(const std::string& digest, int count);
  // Blob GETs answer 307 to `base_url` + digest.
  void RedirectBlobsTo(const std::string& base_url);
  // Manifest replies carry this Docker-Content-Digest instead of the true one.
  void OverrideDigestHeader(const std::string& digest);
  // Off: Range headers are ignored (200 with the whole blob).
  void SetRangeSupport(bool on);

  // What arrived.
  struct Seen {
    std::string method;
    std::string target;
    std::string authorization;
    std::string range;
  };
  std::vector<Seen> requests() const;
  // Requests whose target contains `part`.
  int Count(std::string_view part) const;
  int token_requests() const { return Count("/token"); }

 private:
  FakeRegistry() = default;
  http::Response Handle(const http::Request& req);
  http::Response ServeBlob(const http::Request& req, const std::string& digest);
  bool Authorized(const http::Request& req);

  Options options_;
  std::unique_ptr<http::Server> server_;
  mutable std::mutex mu_;
  std::set<std::string> repos_;
  std::map<std::string, std::string> blobs_;  // digest -> data (any repo)
  std::map<std::string, std::pair<std::string, std::string>>
      manifests_;  // repo\nlocator -> type, body
  std::vector<Seen> seen_;
  std::vector<std::pair<std::string, std::pair<int, int>>> failures_;  // part -> count, status
  std::map<std::string, int> flips_;
  std::set<std::string> tokens_;
  int token_counter_ = 0;
  std::string redirect_base_;
  std::string digest_header_override_;
  bool range_support_ = true;
};

// One request a connection: reads the request head, sends `Reply::bytes`,
// then `Reply::trickle` a few bytes at a time, waits `Reply::stall`, closes.
// For bodies cut short, stalled transfers and registries that trickle.
class RawHttpServer {
 public:
  struct Reply {
    std::string bytes;
    std::chrono::milliseconds stall{0};
    // Sent after `bytes`, `trickle_chunk` bytes every `trickle_every`, until
    // it is all sent, the client hangs up or the server stops.
    std::string trickle;
    size_t trickle_chunk = 2;
    std::chrono::milliseconds trickle_every{100};
  };
  // `head` is the request line and headers.
  using Handler = std::function<Reply(const std::string& head)>;

  static std::unique_ptr<RawHttpServer> Start(Handler handler);
  ~RawHttpServer();
  uint16_t port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

  // The value of header `name` (case-insensitive) in `head`, or "".
  static std::string HeaderOf(const std::string& head, std::string_view name);
  // The request target of `head`.
  static std::string TargetOf(const std::string& head);

 private:
  RawHttpServer() = default;
  void Serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> connections_;
};

// Socket inodes of this host's established TCP connections to 127.0.0.1:`port`, client side
// (/proc/net/tcp): the connections a client keeps open to a test server.
std::set<std::string> ClientConnectionsTo(uint16_t port);
// How many descriptors of this process open on sockets of `inodes` are not close-on-exec.
int InheritableAmong(const std::set<std::string>& inodes);

// A FakeRegistry blob reply, raw: 200 (or 206 from the request's Range) with
// the full Content-Length, of which only the first `send` body bytes are sent
// (all when negative).
std::string RawBlobReply(const std::string& head, const std::string& data, int64_t send = -1);

}  // namespace berth::agent::registry::testing
