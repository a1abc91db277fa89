#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "http/client.h"

namespace berth::http {
namespace {

using namespace std::chrono_literals;

Response Echo(const Request& req) {
  Response res;
  res.SetHeader("Content-Type", "text/plain");
  res.SetHeader("X-Path", std::string(req.Path()));
  res.SetHeader("X-Query", std::string(req.Query()));
  res.SetHeader("X-Test", std::string(req.HeaderOr("x-TEST", "none")));
  res.body = req.method + ":" + req.body;
  return res;
}

Response Reject(const Request& req, int status, std::string_view reason) {
  return Response{status, {{"X-Target", req.target}}, std::string(reason)};
}

std::unique_ptr<Server> StartEcho(ServerOptions options = {}) {
  auto server = Server::Start(std::move(options), Echo, Reject);
  EXPECT_TRUE(server.has_value()) << server.error().message;
  return std::move(server).value();
}

std::string Url(const Server& s, std::string_view path = "/") {
  return "http://127.0.0.1:" + std::to_string(s.port()) + std::string(path);
}

// A raw TCP connection to the server, for what a well-behaved client cannot send.
int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
  return out;
}

TEST(HttpServer, ServesRequestsWithHeadersQueryAndBody) {
  auto server = StartEcho();
  Client client;
  auto res = client.Send({"POST", Url(*server, "/a/b?x=1&y=2"), {{"X-Test", "yes"}}, "hello"});
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "POST:hello");
  EXPECT_EQ(res->HeaderOr("x-path"), "/a/b");
  EXPECT_EQ(res->HeaderOr("x-query"), "x=1&y=2");
  EXPECT_EQ(res->HeaderOr("x-test"), "yes");
}

TEST(HttpServer, KeepAliveServesManyRequestsOnOneConnection) {
  auto server = StartEcho();
  int fd = Connect(server->port());
  std::string two =
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA"
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nB";
  ASSERT_EQ(write(fd, two.data(), two.size()), static_cast<ssize_t>(two.size()));
  std::string reply = ReadAll(fd);
  close(fd);
  EXPECT_NE(reply.find("POST:A"), std::string::npos);
  EXPECT_NE(reply.find("POST:B"), std::string::npos);
}

TEST(HttpServer, BodyOverTheLimitIs413AndServerKeepsServing) {
  ServerOptions options;
  options.body_limit = 1024;
  auto server = StartEcho(options);
  Client client;
  auto res = client.Send({"POST", Url(*server, "/big"), {}, std::string(4096, 'x')});
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(res->HeaderOr("x-target"), "/big");
  Client again;
  auto ok = again.Send({"POST", Url(*server), {}, std::string(1024, 'y')});
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
}

TEST(HttpServer, MalformedRequestIs400) {
  auto server = StartEcho();
  int fd = Connect(server->port());
  std::string junk = "NOT HTTP AT ALL\r\n\r\n";
  ASSERT_EQ(write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  std::string reply = ReadAll(fd);
  close(fd);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply;
}

TEST(HttpServer, SilentClientIsDroppedAfterHeaderTimeoutWhileOthersAreServed) {
  ServerOptions options;
  options.header_timeout = 300ms;
  auto server = StartEcho(options);
  int fd = Connect(server->port());
  Client client;
  auto res = client.Send({"GET", Url(*server), {}, ""});
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  auto start = std::chrono::steady_clock::now();
  std::string reply = ReadAll(fd);  // returns when the server closes
  auto waited = std::chrono::steady_clock::now() - start;
  close(fd);
  EXPECT_EQ(reply, "");
  EXPECT_LT(waited, 5s);
}

TEST(HttpServer, StopClosesIdleConnectionsAndFinishesInFlight) {
  std::atomic<bool> entered{false};
  auto slow = [&](const Request&) {
    entered = true;
    std::this_thread::sleep_for(300ms);
    return Response{200, {}, "done"};
  };
  auto started = Server::Start({}, slow, Reject);
  ASSERT_TRUE(started.has_value());
  auto server = std::move(started).value();
  int idle = Connect(server->port());
  std::string body;
  std::thread request([&] {
    Client client;
    auto res = client.Send({"GET", Url(*server), {}, ""});
    if (res) body = res->body;
  });
  while (!entered) std::this_thread::sleep_for(5ms);
  server->Stop();
  request.join();
  EXPECT_EQ(body, "done");
  EXPECT_EQ(ReadAll(idle), "");
  close(idle);
}

void WriteAll(int fd, std::string_view data) {
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
}

// Whether `fd` has something to read (a reply, or the server's close) within `wait`.
bool ReadableWithin(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, static_cast<int>(wait.count())) == 1;
}

// Sends `body` until the server accepts it (a 503 while the budget is spent).
int SendUntilAccepted(const Server& server, const std::string& body) {
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(20ms)) {
    Client client;
    auto res = client.Send({"POST", Url(server), {}, body});
    if (res && res->status != 503) return res->status;
  }
  return 503;
}

TEST(HttpServer, LargeBodiesPastTheMemoryBudgetAre503WhileSmallOnesPass) {
  ServerOptions options;
  options.body_memory_limit = 1 << 20;
  auto server = StartEcho(options);
  // A client that declares 768 KiB, sends a little of it and stalls.
  int holder = Connect(server->port());
  WriteAll(holder,
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 786432\r\n\r\n" + std::string(1000, 'a'));
  std::this_thread::sleep_for(200ms);  // for the server to read that header

  // 512 KiB more would pass the 1 MiB budget: refused at its first byte.
  int second = Connect(server->port());
  WriteAll(second, "POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 524288\r\n\r\nb");
  std::string reply = ReadAll(second);
  close(second);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 503")) << reply;
  EXPECT_NE(reply.find("X-Target: /second"), std::string::npos) << reply;
  EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;

  // A small body still passes, though the budget is spent.
  Client client;
  auto small = client.Send({"POST", Url(*server), {}, std::string(kSmallBodyBytes, 's')});
  ASSERT_TRUE(small.has_value()) << small.error().message;
  EXPECT_EQ(small->status, 200);

  // When the stalled client goes, its share of the budget comes back.
  close(holder);
  EXPECT_EQ(SendUntilAccepted(*server, std::string(900 << 10, 'b')), 200);
  // And a body served returns its share too: the same again fits.
  EXPECT_EQ(SendUntilAccepted(*server, std::string(900 << 10, 'c')), 200);
}

TEST(HttpServer, ChunkedBodiesAreCountedAsTheyGrow) {
  ServerOptions options;
  options.body_memory_limit = 256 << 10;
  auto server = StartEcho(options);
  int fd = Connect(server->port());
  WriteAll(fd, "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string chunk = "10000\r\n" + std::string(0x10000, 'z') + "\r\n";  // 64 KiB
  for (int i = 0; i < 8 && !ReadableWithin(fd, 0ms); ++i) {
    if (send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0) break;  // refused midway
  }
  std::string reply = ReadAll(fd);
  close(fd);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 503")) << reply.substr(0, 200);
  EXPECT_EQ(SendUntilAccepted(*server, std::string(200 << 10, 'd')), 200);
}

TEST(HttpServer, AtTheConnectionLimitNewClientsWaitUntilOneCloses) {
  ServerOptions options;
  options.max_connections = 2;
  auto server = StartEcho(options);
  int idle1 = Connect(server->port());
  int idle2 = Connect(server->port());
  // Accepted by the kernel, but not by the server: no reply yet.
  int waiting = Connect(server->port());
  WriteAll(waiting, "GET /waiting HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(ReadableWithin(waiting, 300ms));
  close(idle1);
  ASSERT_TRUE(ReadableWithin(waiting, 2000ms));
  EXPECT_TRUE(ReadAll(waiting).starts_with("HTTP/1.1 200"));
  close(waiting);
  close(idle2);
}

TEST(HttpServer, DefaultConnectionLimitLeavesDescriptorsForTheRest) {
  size_t limit = DefaultMaxConnections();
  EXPECT_GE(limit, 1u);
  EXPECT_LE(limit, 10'000u);
  rlimit nofile{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &nofile), 0);
  if (nofile.rlim_cur != RLIM_INFINITY) EXPECT_LT(limit, nofile.rlim_cur);
}

TEST(HttpServer, BindingABusyPortFails) {
  auto server = StartEcho();
  ServerOptions options;
  options.port = server->port();
  auto second = Server::Start(options, Echo, Reject);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, "AddressInUse");
}

}  // namespace
}  // namespace berth::http
