#include "agent/registry/fake_registry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/json.h"
#include "common/strings.h"
#include "crypto/sha256.h"

namespace berth::agent::registry::testing {
namespace {

using json::Json;

http::Response ErrorReply(int status, const std::string& code, const std::string& message) {
  http::Response res;
  res.status = status;
  res.SetHeader("Content-Type", "application/json");
  res.body =
      json::Dump(Json{{"errors", Json::array({Json{{"code", code}, {"message", message}}})}});
  return res;
}

std::string HeaderValue(const http::Request& req, std::string_view name) {
  return std::string(req.HeaderOr(name, ""));
}

// "bytes=<start>-" -> start; -1 when absent or another form.
int64_t RangeStart(std::string_view range) {
  if (!range.starts_with("bytes=") || !range.ends_with("-")) return -1;
  std::string_view digits = range.substr(6, range.size() - 7);
  if (digits.empty()) return -1;
  int64_t start = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    start = start * 10 + (c - '0');
  }
  return start;
}

}  // namespace

std::string DigestOf(std::string_view data) { return "sha256:" + crypto::Sha256Hex(data); }

reference::Reference Ref(std::string_view text) {
  Result<reference::Reference> ref = reference::ParseReference(text);
  EXPECT_TRUE(ref.has_value()) << text;
  return ref.value_or(reference::Reference{});
}

std::unique_ptr<FakeRegistry> FakeRegistry::Start(Options options) {
  std::unique_ptr<FakeRegistry> registry(new FakeRegistry());
  registry->options_ = std::move(options);
  http::ServerOptions server_options;
  server_options.threads = 2;
  auto* self = registry.get();
  auto server = http::Server::Start(
      server_options, [self](const http::Request& req) { return self->Handle(req); },
      [](const http::Request&, int status, std::string_view reason) {
        return http::Response{status, {}, std::string(reason)};
      });
  EXPECT_TRUE(server.has_value()) << server.error().message;
  registry->server_ = std::move(server).value();
  return registry;
}

FakeRegistry::~FakeRegistry() {
  if (server_) server_->Stop(std::chrono::milliseconds(1000));
}

uint16_t FakeRegistry::port() const { return server_->port(); }
std::string FakeRegistry::host() const { return fmt::format("127.0.0.1:{}", port()); }

content::Descriptor FakeRegistry::AddBlob(const std::string& repo, std::string data,
                                          std::string media_type) {
  content::Descriptor d{
      std::move(media_type), DigestOf(data), static_cast<int64_t>(data.size()), {}};
  std::lock_guard lock(mu_);
  repos_.insert(repo);
  blobs_[d.digest] = std::move(data);
  return d;
}

void FakeRegistry::PutManifest(const std::string& repo, const std::string& locator,
                               const std::string& media_type, const std::string& body) {
  std::lock_guard lock(mu_);
  repos_.insert(repo);
  manifests_[repo + "\n" + locator] = {media_type, body};
}

content::Descriptor FakeRegistry::AddManifest(const std::string& repo, const std::string& tag,
                                              const std::string& media_type,
                                              const std::string& body) {
  content::Descriptor d{media_type, DigestOf(body), static_cast<int64_t>(body.size()), {}};
  PutManifest(repo, d.digest, media_type, body);
  if (!tag.empty()) PutManifest(repo, tag, media_type, body);
  return d;
}

FakeRegistry::Image FakeRegistry::AddImage(const std::string& repo, const std::string& tag,
                                           const std::vector<std::string>& layers,
                                           const std::string& manifest_type,
                                           const Platform& platform) {
  bool docker = manifest_type == "application/vnd.docker.distribution.manifest.v2+json";
  Image image;
  Json config{{"architecture", platform.architecture},
              {"os", platform.os},
              {"config", Json{{"Cmd", Json::array({"/bin/sh"})}}},
              {"rootfs", Json{{"type", "layers"}, {"diff_ids", Json::array()}}}};
  if (!platform.variant.empty()) config["variant"] = platform.variant;
  image.config = AddBlob(repo, json::Dump(config),
                         docker ? "application/vnd.docker.container.image.v1+json"
                                : "application/vnd.oci.image.config.v1+json");
  Json layer_array = Json::array();
  for (const std::string& data : layers) {
    content::Descriptor layer = AddBlob(
        repo, data,
        docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : std::string(kGzipLayerType));
    layer_array.push_back(
        Json{{"mediaType", layer.media_type}, {"digest", layer.digest}, {"size", layer.size}});
    image.layers.push_back(layer);
  }
  Json manifest{{"schemaVersion", 2},
                {"mediaType", manifest_type},
                {"config", Json{{"mediaType", image.config.media_type},
                                {"digest", image.config.digest},
                                {"size", image.config.size}}},
                {"layers", layer_array}};
  image.manifest_json = json::Dump(manifest);
  image.manifest = AddManifest(repo, tag, manifest_type, image.manifest_json);
  return image;
}

content::Descriptor FakeRegistry::AddIndex(
    const std::string& repo, const std::string& tag,
    const std::vector<std::pair<Platform, content::Descriptor>>& entries,
    const std::string& media_type) {
  Json manifests = Json::array();
  for (const auto& [platform, d] : entries) {
    Json p{{"os", platform.os}, {"architecture", platform.architecture}};
    if (!platform.variant.empty()) p["variant"] = platform.variant;
    manifests.push_back(
        Json{{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}, {"platform", p}});
  }
  Json index{{"schemaVersion", 2}, {"mediaType", media_type}, {"manifests", manifests}};
  return AddManifest(repo, tag, media_type, json::Dump(index));
}

void FakeRegistry::FailNext(const std::string& path_part, int count, int status) {
  std::lock_guard lock(mu_);
  failures_.push_back({path_part, {count, status}});
}

void FakeRegistry::FlipNext(const std::string& digest, int count) {
  std::lock_guard lock(mu_);
  flips_[digest] = count;
}

void FakeRegistry::RedirectBlobsTo(const std::string& base_url) {
  std::lock_guard lock(mu_);
  redirect_base_ = base_url;
}

void FakeRegistry::OverrideDigestHeader(const std::string& digest) {
  std::lock_guard lock(mu_);
  digest_header_override_ = digest;
}

void FakeRegistry::SetRangeSupport(bool on) {
  std::lock_guard lock(mu_);
  range_support_ = on;
}

std::vector<FakeRegistry::Seen> FakeRegistry::requests() const {
  std::lock_guard lock(mu_);
  return seen_;
}

int FakeRegistry::Count(std::string_view part) const {
  std::lock_guard lock(mu_);
  return static_cast<int>(std::count_if(seen_.begin(), seen_.end(), [&](const Seen& s) {
    return s.target.find(part) != std::string::npos;
  }));
}

// Requires mu_.
bool FakeRegistry::Authorized(const http::Request& req) {
  std::string auth = HeaderValue(req, "Authorization");
  switch (options_.auth) {
    case Auth::kNone:
      return true;
    case Auth::kBasic:
      return auth == "Basic " + Base64Encode(options_.username + ":" + options_.password);
    case Auth::kBearer:
      return auth.starts_with("Bearer ") && tokens_.contains(auth.substr(7));
  }
  return false;
}

http::Response FakeRegistry::ServeBlob(const http::Request& req, const std::string& digest) {
  auto it = blobs_.find(digest);
  if (it == blobs_.end()) return ErrorReply(404, "BLOB_UNKNOWN", "blob unknown to registry");
  std::string data = it->second;
  if (auto flip = flips_.find(digest); flip != flips_.end() && flip->second > 0) {
    --flip->second;
    if (!data.empty()) data[data.size() / 2] ^= 0x01;
  }
  http::Response res;
  res.SetHeader("Content-Type", "application/octet-stream");
  res.SetHeader("Docker-Content-Digest", digest);
  int64_t start = range_support_ ? RangeStart(req.HeaderOr("Range", "")) : -1;
  if (start > static_cast<int64_t>(data.size())) {
    return http::Response{416, {}, ""};
  }
  if (start >= 0) {
    res.status = 206;
    res.SetHeader("Content-Range",
                  fmt::format("bytes {}-{}/{}", start, data.size() - 1, data.size()));
    res.body = data.substr(start);
  } else {
    res.body = std::move(data);
  }
  return res;
}

http::Response FakeRegistry::Handle(const http::Request& req) {
  std::lock_guard lock(mu_);
  std::string path(req.Path());
  seen_.push_back(
      {req.method, req.target, HeaderValue(req, "Authorization"), HeaderValue(req, "Range")});

  for (auto& [part, fault] : failures_) {
    if (fault.first > 0 && req.target.find(part) != std::string::npos) {
      --fault.first;
      return ErrorReply(fault.second, "UNKNOWN", "injected failure");
    }
  }

  if (path == "/token") {
    std::string auth = HeaderValue(req, "Authorization");
    std::string token;
    if (auth.empty()) {
      token = fmt::format("anonymous-{}", ++token_counter_);  // grants nothing
    } else if (auth == "Basic " + Base64Encode(options_.username + ":" + options_.password)) {
      token = fmt::format("token-{}", ++token_counter_);
      tokens_.insert(token);
    } else {
      return ErrorReply(401, "UNAUTHORIZED", "invalid username or password");
    }
    Json reply{{options_.access_token_field ? "access_token" : "token", token}};
    if (options_.token_expires_in > 0) reply["expires_in"] = options_.token_expires_in;
    return http::Response{200, {{"Content-Type", "application/json"}}, json::Dump(reply)};
  }

  if (path.starts_with("/objects/")) return ServeBlob(req, path.substr(9));

  if (!path.starts_with("/v2/")) return ErrorReply(404, "NOT_FOUND", "not found");
  std::string rest = path.substr(4);
  std::string repo;
  std::string kind;
  std::string locator;
  for (std::string_view k : {"/manifests/", "/blobs/"}) {
    if (size_t at = rest.rfind(k); at != std::string::npos) {
      repo = rest.substr(0, at);
      kind = std::string(k.substr(1, k.size() - 2));
      locator = rest.substr(at + k.size());
      break;
    }
  }

  if (!Authorized(req)) {
    http::Response res = ErrorReply(401, "UNAUTHORIZED", "authentication required");
    if (options_.auth == Auth::kBasic) {
      res.SetHeader("WWW-Authenticate", "Basic realm=\"fake-registry\"");
    } else {
      res.SetHeader("WWW-Authenticate",
                    fmt::format("Bearer realm=\"http://127.0.0.1:{}/token\",service=\"fake "
                                "registry\",scope=\"repository:{}:pull\"",
                                server_->port(), repo));
    }
    return res;
  }

  if (kind.empty()) return http::Response{200, {{"Content-Type", "application/json"}}, "{}"};
  if (!repos_.contains(repo)) {
    return ErrorReply(404, "NAME_UNKNOWN", "repository name not known to registry");
  }
  if (kind == "manifests") {
    auto it = manifests_.find(repo + "\n" + locator);
    if (it == manifests_.end()) return ErrorReply(404, "MANIFEST_UNKNOWN", "manifest unknown");
    http::Response res;
    res.SetHeader("Content-Type", it->second.first);
    res.SetHeader("Docker-Content-Digest", digest_header_override_.empty()
                                               ? DigestOf(it->second.second)
                                               : digest_header_override_);
    res.body = it->second.second;
    return res;
  }
  if (!redirect_base_.empty()) {
    return http::Response{307, {{"Location", redirect_base_ + locator}}, ""};
  }
  return ServeBlob(req, locator);
}

// --- RawHttpServer -----------------------------------------------------------

std::unique_ptr<RawHttpServer> RawHttpServer::Start(Handler handler) {
  std::unique_ptr<RawHttpServer> server(new RawHttpServer());
  server->handler_ = std::move(handler);
  server->listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(server->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(listen(server->listen_fd_, 16), 0);
  socklen_t len = sizeof addr;
  getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  server->port_ = ntohs(addr.sin_port);
  RawHttpServer* self = server.get();
  server->acceptor_ = std::thread([self] {
    while (!self->stop_) {
      pollfd pfd{self->listen_fd_, POLLIN, 0};
      if (poll(&pfd, 1, 50) <= 0) continue;
      int fd = accept(self->listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      std::lock_guard lock(self->mu_);
      self->connections_.emplace_back([self, fd] { self->Serve(fd); });
    }
  });
  return server;
}

RawHttpServer::~RawHttpServer() {
  stop_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  std::lock_guard lock(mu_);
  for (std::thread& t : connections_) t.join();
  close(listen_fd_);
}

void RawHttpServer::Serve(int fd) {
  std::string head;
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos && !stop_) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 50) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    head.append(buf, static_cast<size_t>(n));
  }
  if (head.find("\r\n\r\n") != std::string::npos) {
    Reply reply = handler_(head);
    auto send_all = [&](std::string_view bytes) {
      while (!bytes.empty()) {
        ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<size_t>(n));
      }
      return true;
    };
    bool open = send_all(reply.bytes);
    std::string_view trickle = reply.trickle;
    while (open && !stop_ && !trickle.empty()) {
      size_t n = std::min(std::max<size_t>(reply.trickle_chunk, 1), trickle.size());
      open = send_all(trickle.substr(0, n));
      trickle.remove_prefix(n);
      std::this_thread::sleep_for(reply.trickle_every);
    }
    auto until = std::chrono::steady_clock::now() + reply.stall;
    while (!stop_ && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  shutdown(fd, SHUT_RDWR);
  close(fd);
}

std::string RawHttpServer::HeaderOf(const std::string& head, std::string_view name) {
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    size_t end = head.find("\r\n", pos + 2);
    if (end == std::string::npos) break;
    std::string_view line(head.data() + pos + 2, end - pos - 2);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && EqualsIgnoreCase(line.substr(0, colon), name)) {
      return std::string(Trim(line.substr(colon + 1)));
    }
    pos = end;
  }
  return "";
}

std::string RawHttpServer::TargetOf(const std::string& head) {
  size_t first = head.find(' ');
  size_t second = head.find(' ', first + 1);
  return head.substr(first + 1, second - first - 1);
}

std::string RawBlobReply(const std::string& head, const std::string& data, int64_t send) {
  int64_t start = RangeStart(RawHttpServer::HeaderOf(head, "Range"));
  std::string body = start >= 0 ? data.substr(static_cast<size_t>(start)) : data;
  std::string status_and_range =
      start >= 0 ? fmt::format("206 Partial Content\r\nContent-Range: bytes {}-{}/{}", start,
                               data.size() - 1, data.size())
                 : std::string("200 OK");
  std::string reply = fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n"
      "Connection: close\r\n\r\n",
      status_and_range, body.size());
  reply += send < 0 ? body : body.substr(0, static_cast<size_t>(send));
  return reply;
}

std::set<std::string> ClientConnectionsTo(uint16_t port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // the header
  std::string want = fmt::format("0100007F:{:04X}", port);
  std::set<std::string> inodes;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
        timeout >> inode;
    if (remote == want && state == "01") inodes.insert(inode);  // 01: ESTABLISHED
  }
  return inodes;
}

int InheritableAmong(const std::set<std::string>& inodes) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (ec || target.rfind("socket:[", 0) != 0) continue;
    if (!inodes.contains(target.substr(8, target.size() - 9))) continue;
    int flags = ::fcntl(std::stoi(entry.path().filename().string()), F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) ++n;
  }
  return n;
}

}  // namespace berth::agent::registry::testing
