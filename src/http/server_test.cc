#include "http/server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "http/client.h"
#include "http/test_loopback.h"

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

int Connect(uint16_t port) {
  int fd = test_support::ConnectLoopback(port);
  EXPECT_GE(fd, 0);
  return fd;
}

using test_support::ReadAll;

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

TEST(HttpServer, ASlowHandlerDoesNotDelayOtherConnections) {
  // One I/O thread: before handlers ran on a worker pool, the slow request
  // held up every connection on its thread.
  ServerOptions options;
  options.threads = 1;
  std::atomic<bool> slow_entered{false};
  std::atomic<bool> slow_done{false};
  auto handler = [&](const Request& req) {
    if (req.Path() == "/slow") {
      slow_entered = true;
      std::this_thread::sleep_for(2s);
      slow_done = true;
      return Response{200, {}, "slow"};
    }
    return Response{200, {}, "fast"};
  };
  auto started = Server::Start(options, handler, Reject);
  ASSERT_TRUE(started.has_value());
  auto server = std::move(started).value();
  std::string slow_body;
  std::thread slow([&] {
    Client client;
    auto res = client.Send({"GET", Url(*server, "/slow"), {}, ""});
    if (res) slow_body = res->body;
  });
  while (!slow_entered) std::this_thread::sleep_for(5ms);
  for (int i = 0; i < 5; ++i) {
    Client client;
    auto res = client.Send({"GET", Url(*server, "/fast"), {}, ""});
    ASSERT_TRUE(res.has_value()) << res.error().message;
    EXPECT_EQ(res->body, "fast");
  }
  EXPECT_FALSE(slow_done) << "the fast requests waited for the slow one";
  slow.join();
  EXPECT_EQ(slow_body, "slow");
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  auto handler = [](const Request& req) {
    // The first takes longest: a reply out of order would show.
    if (req.body == "1") std::this_thread::sleep_for(200ms);
    return Response{200, {}, "reply" + req.body};
  };
  auto started = Server::Start({}, handler, Reject);
  ASSERT_TRUE(started.has_value());
  auto server = std::move(started).value();
  int fd = Connect(server->port());
  std::string three =
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1"
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n2"
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\n3";
  ASSERT_EQ(write(fd, three.data(), three.size()), static_cast<ssize_t>(three.size()));
  std::string reply = ReadAll(fd);
  close(fd);
  size_t one = reply.find("reply1"), two = reply.find("reply2"), tri = reply.find("reply3");
  ASSERT_NE(tri, std::string::npos) << reply;
  EXPECT_LT(one, two);
  EXPECT_LT(two, tri);
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

// Websockets, driven by a Beast client.

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using WsClient = websocket::stream<beast::tcp_stream>;

// Records what the server tells a websocket handler; answers "echo:<text>".
class Recorder : public WebSocketHandler {
 public:
  void OnOpen(std::shared_ptr<WebSocket> socket) override {
    socket->Send("welcome");
    std::lock_guard lock(mu_);
    socket_ = std::move(socket);
    cv_.notify_all();
  }
  void OnMessage(std::string text) override {
    if (text == "throw") throw std::runtime_error("handler bug");
    std::shared_ptr<WebSocket> socket;
    {
      std::lock_guard lock(mu_);
      messages_.push_back(text);
      socket = socket_;
    }
    socket->Send("echo:" + text);
  }
  void OnClose(uint16_t code, std::string reason) override {
    std::lock_guard lock(mu_);
    close_code_ = code;
    close_reason_ = std::move(reason);
    cv_.notify_all();
  }

  std::shared_ptr<WebSocket> WaitOpen() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 5s, [&] { return socket_ != nullptr; });
    return socket_;
  }
  // The close code OnClose got, waiting up to 5 s for it; 0 when none.
  std::pair<uint16_t, std::string> WaitClose() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 5s, [&] { return close_code_ != 0; });
    return {close_code_, close_reason_};
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<WebSocket> socket_;
  std::vector<std::string> messages_;
  uint16_t close_code_ = 0;
  std::string close_reason_;
};

// A server with one websocket route, "/ws", that accepts an upgrade carrying
// "Authorization: good" and the query "agent=1" (a stand-in for the SigV4
// check the gateway does), and refuses anything else with 403.
struct WsFixture {
  explicit WsFixture(WebSocketRoute route = {}) {
    route.path = "/ws";
    route.upgrade = [this](const Request& req) -> UpgradeDecision {
      ++decisions;
      if (req.HeaderOr("authorization") != "good" || req.Query() != "agent=1") {
        return Response{403, {{"Content-Type", "text/plain"}}, "AccessDenied"};
      }
      auto recorder = std::make_shared<Recorder>();
      std::lock_guard lock(mu);
      recorders.push_back(recorder);
      return recorder;
    };
    ServerOptions options;
    options.websockets.push_back(std::move(route));
    server = StartEcho(std::move(options));
  }

  std::shared_ptr<Recorder> recorder(size_t i) {
    std::lock_guard lock(mu);
    return i < recorders.size() ? recorders[i] : nullptr;
  }

  std::unique_ptr<Server> server;
  std::atomic<int> decisions{0};
  std::mutex mu;
  std::vector<std::shared_ptr<Recorder>> recorders;
};

struct WsConnection {
  net::io_context ioc;
  WsClient ws{ioc};
  websocket::response_type response;  // the handshake's reply
};

// Connects and asks for an upgrade of `target`; `ec` is the handshake's result.
std::unique_ptr<WsConnection> OpenWs(uint16_t port, std::string_view target,
                                      std::string_view authorization, beast::error_code& ec) {
  auto c = std::make_unique<WsConnection>();
  beast::get_lowest_layer(c->ws).connect(
      net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  // A test that goes wrong fails instead of hanging on a read.
  timeval five{5, 0};
  setsockopt(beast::get_lowest_layer(c->ws).socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO,
             &five, sizeof five);
  c->ws.set_option(websocket::stream_base::decorator([auth = std::string(authorization)](
                                                         websocket::request_type& req) {
    req.set(beast::http::field::authorization, auth);
  }));
  c->ws.handshake(c->response, "127.0.0.1", target, ec);
  return c;
}

std::string ReadText(WsClient& ws) {
  beast::flat_buffer buffer;
  ws.read(buffer);
  return beast::buffers_to_string(buffer.data());
}

// Reads until the server closes; the close code it sent (0: no close frame).
uint16_t ReadUntilClosed(WsClient& ws) {
  beast::error_code ec;
  for (;;) {
    beast::flat_buffer buffer;
    ws.read(buffer, ec);
    if (ec) break;
  }
  return ec == websocket::error::closed ? ws.reason().code : 0;
}

TEST(WebSocket, AcceptedUpgradeCarriesMessagesBothWays) {
  WsFixture f;
  beast::error_code ec;
  auto c = OpenWs(f.server->port(), "/ws?agent=1", "good", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(c->response.result_int(), 101);
  EXPECT_EQ(ReadText(c->ws), "welcome");  // sent from OnOpen
  c->ws.write(net::buffer(std::string("hello")));
  EXPECT_EQ(ReadText(c->ws), "echo:hello");
  c->ws.write(net::buffer(std::string("again")));
  EXPECT_EQ(ReadText(c->ws), "echo:again");
  auto recorder = f.recorder(0);
  ASSERT_NE(recorder, nullptr);
  EXPECT_EQ(recorder->messages(), (std::vector<std::string>{"hello", "again"}));
  c->ws.close(websocket::close_reason(websocket::close_code::normal, "bye"));
  EXPECT_EQ(recorder->WaitClose(), (std::pair<uint16_t, std::string>{1000, "bye"}));
}

TEST(WebSocket, TheApplicationSendsWheneverItLikes) {
  WsFixture f;
  beast::error_code ec;
  auto c = OpenWs(f.server->port(), "/ws?agent=1", "good", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(ReadText(c->ws), "welcome");
  auto socket = f.recorder(0)->WaitOpen();
  ASSERT_NE(socket, nullptr);
  EXPECT_EQ(socket->remote_ip(), "127.0.0.1");
  std::thread pusher([&] {
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(socket->Send("push" + std::to_string(i)));
  });
  pusher.join();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ReadText(c->ws), "push" + std::to_string(i));
  socket->Close(4000, "done with you");
  EXPECT_EQ(ReadUntilClosed(c->ws), 4000);
  EXPECT_EQ(c->ws.reason().reason, "done with you");
  EXPECT_EQ(f.recorder(0)->WaitClose().first, 4000);
  // Closed: the handle refuses quietly.
  EXPECT_FALSE(socket->Send("late"));
}

TEST(WebSocket, RefusedUpgradeGetsTheDecisionsReplyAndNoHandler) {
  WsFixture f;
  beast::error_code ec;
  auto c = OpenWs(f.server->port(), "/ws?agent=1", "forged", ec);
  EXPECT_EQ(ec, websocket::error::upgrade_declined);
  EXPECT_EQ(c->response.result_int(), 403);
  EXPECT_EQ(c->response.body(), "AccessDenied");
  EXPECT_EQ(f.decisions, 1);
  EXPECT_EQ(f.recorder(0), nullptr);
  // The query is part of what the decision sees.
  auto other = OpenWs(f.server->port(), "/ws?agent=2", "good", ec);
  EXPECT_EQ(other->response.result_int(), 403);
}

TEST(WebSocket, UpgradeToAnotherPathGoesToTheHandler) {
  WsFixture f;
  beast::error_code ec;
  auto c = OpenWs(f.server->port(), "/elsewhere", "good", ec);
  EXPECT_EQ(ec, websocket::error::upgrade_declined);
  EXPECT_EQ(c->response.result_int(), 200);
  EXPECT_EQ(c->response.body(), "GET:");  // Echo answered it
  EXPECT_EQ(f.decisions, 0);
}

TEST(WebSocket, PingsKeepAnAnsweringPeerAndIdleTimeoutClosesASilentOne) {
  WebSocketRoute route;
  route.ping_interval = 100ms;
  route.idle_timeout = 400ms;
  WsFixture f(route);
  beast::error_code ec;
  auto live = OpenWs(f.server->port(), "/ws?agent=1", "good", ec);
  ASSERT_FALSE(ec) << ec.message();
  auto silent = OpenWs(f.server->port(), "/ws?agent=1", "good", ec);
  ASSERT_FALSE(ec) << ec.message();
  std::atomic<int> pings{0};
  live->ws.control_callback([&](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::ping) ++pings;
  });
  // The live client reads (and so answers pings, as Beast does) for a second:
  // well past the idle timeout.
  std::vector<std::string> got;
  std::thread reader([&] {
    beast::error_code read_ec;
    while (got.size() < 2) {
      beast::flat_buffer buffer;
      live->ws.read(buffer, read_ec);
      if (read_ec) break;
      got.push_back(beast::buffers_to_string(buffer.data()));
    }
  });
  std::this_thread::sleep_for(1s);
  // The silent one never read: no pong went back, so it was closed.
  EXPECT_EQ(ReadUntilClosed(silent->ws), 1001);
  EXPECT_EQ(silent->ws.reason().reason, "idle timeout");
  EXPECT_EQ(f.recorder(1)->WaitClose(), (std::pair<uint16_t, std::string>{1001, "idle timeout"}));
  // The live one is still open.
  EXPECT_TRUE(f.recorder(0)->WaitOpen()->Send("still here"));
  reader.join();
  EXPECT_EQ(got, (std::vector<std::string>{"welcome", "still here"}));
  EXPECT_GE(pings, 3);
}

TEST(WebSocket, MessageOverTheLimitClosesWith1009) {
  WebSocketRoute route;
  route.message_limit = 16;
  WsFixture f(route);
  beast::error_code ec;
  auto c = OpenWs(f.server->port(), "/ws?agent=1", "good", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(ReadText(c->ws), "welcome");
  c->ws.write(net::buffer(std::string(100, 'x')));
  EXPECT_EQ(ReadUntilClosed(c->ws), 1009);
  EXPECT_EQ(f.recorder(0)->WaitClose().first, 1009);
  EXPECT_TRUE(f.recorder(0)->messages().empty());
}

TEST(WebSocket, APeerThatReadsNothingIsCutOnceItsSendQueueIsFull) {
  WebSocketRoute route;
  route.send_queue_limit = 1 << 20;
  WsFixture f(route);
  beast::error_code ec;
  auto c = OpenWs(f.server->port(), "/ws?agent=1", "good", ec);
  ASSERT_FALSE(ec) << ec.message();
  auto socket = f.recorder(0) ? f.recorder(0)->WaitOpen() : nullptr;
  ASSERT_NE(socket, nullptr);
  // 64 MiB for a client that reads nothing: far beyond the socket buffers.
  std::string mib(1 << 20, 'x');
  int sent = 0;
  for (int i = 0; i < 64 && socket->Send(mib); ++i) ++sent;
  EXPECT_EQ(f.recorder(0)->WaitClose().first, 1006);  // cut, not closed politely
  EXPECT_FALSE(socket->Send("more"));
  (void)sent;
}

TEST(WebSocket, BinaryMessagesAndHandlerFailuresClose) {
  WsFixture f;
  beast::error_code ec;
  auto binary = OpenWs(f.server->port(), "/ws?agent=1", "good", ec);
  ASSERT_FALSE(ec) << ec.message();
  auto failing = OpenWs(f.server->port(), "/ws?agent=1", "good", ec);
  ASSERT_FALSE(ec) << ec.message();
  binary->ws.binary(true);
  binary->ws.write(net::buffer(std::string("\x01\x02")));
  EXPECT_EQ(ReadUntilClosed(binary->ws), 1003);
  failing->ws.write(net::buffer(std::string("throw")));
  EXPECT_EQ(ReadUntilClosed(failing->ws), 1011);
  EXPECT_EQ(f.recorder(0)->WaitClose(),
            (std::pair<uint16_t, std::string>{1003, "binary messages are not supported"}));
  EXPECT_EQ(f.recorder(1)->WaitClose(),
            (std::pair<uint16_t, std::string>{1011, "internal error"}));
  EXPECT_TRUE(f.recorder(0)->messages().empty());
}

TEST(WebSocket, StopClosesEveryWebSocketCleanly) {
  WsFixture f;
  beast::error_code ec;
  auto a = OpenWs(f.server->port(), "/ws?agent=1", "good", ec);
  ASSERT_FALSE(ec) << ec.message();
  auto b = OpenWs(f.server->port(), "/ws?agent=1", "good", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(ReadText(a->ws), "welcome");
  EXPECT_EQ(ReadText(b->ws), "welcome");
  uint16_t code_a = 0, code_b = 0;
  std::thread readers([&] {
    std::thread other([&] { code_b = ReadUntilClosed(b->ws); });
    code_a = ReadUntilClosed(a->ws);
    other.join();
  });
  auto start = std::chrono::steady_clock::now();
  f.server->Stop();
  auto took = std::chrono::steady_clock::now() - start;
  readers.join();
  EXPECT_EQ(code_a, 1001);
  EXPECT_EQ(code_b, 1001);
  EXPECT_EQ(a->ws.reason().reason, "server shutting down");
  // The clients answered the close frames: Stop did not wait out its grace.
  EXPECT_LT(took, 5s);
  EXPECT_EQ(f.recorder(0)->WaitClose().first, 1001);
  EXPECT_EQ(f.recorder(1)->WaitClose().first, 1001);
}

}  // namespace
}  // namespace berth::http
