#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
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
