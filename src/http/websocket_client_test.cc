// http::WebSocketClient against berth's own websocket server (http::Server
// with a WebSocketRoute), over plain TCP. (wss:// is tested in
// agent/acs/session_test.cc: a certificate needs crypto/, which http/ may not
// include.)
#include "http/websocket_client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "http/server.h"

namespace berth::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The server's end of one connection: says "welcome", echoes "echo:<text>",
// and on "close-me" sends "bye" and closes with 4000.
class Peer : public WebSocketHandler {
 public:
  void OnOpen(std::shared_ptr<WebSocket> socket) override {
    socket->Send("welcome");
    std::lock_guard lock(mu);
    this->socket = std::move(socket);
  }
  void OnMessage(std::string text) override {
    std::shared_ptr<WebSocket> s;
    {
      std::lock_guard lock(mu);
      received.push_back(text);
      s = socket;
      cv.notify_all();
    }
    if (text == "close-me") {
      s->Send("bye");
      s->Close(4000, "go away");
    } else if (text == "big") {
      s->Send(std::string(2048, 'x'));
    } else if (!quiet) {
      s->Send("echo:" + text);
    }
  }
  void OnClose(uint16_t code, std::string) override {
    std::lock_guard lock(mu);
    close_code = code;
    cv.notify_all();
  }
  uint16_t WaitClose() {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 5s, [&] { return close_code != 0; });
    return close_code;
  }
  size_t WaitReceived(size_t n) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 10s, [&] { return received.size() >= n; });
    return received.size();
  }

  std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<WebSocket> socket;
  std::vector<std::string> received;
  uint16_t close_code = 0;
  std::atomic<bool> quiet = false;
};

// A server whose "/ws" accepts an upgrade carrying X-Amz-Date: 20240101T000000Z
// and the query "a=1", records the upgrade's Host header, and refuses anything
// else with 403 "AccessDenied".
struct Fixture {
  Fixture() {
    WebSocketRoute route;
    route.path = "/ws";
    route.upgrade = [this](const Request& req) -> UpgradeDecision {
      {
        std::lock_guard lock(mu);
        host = std::string(req.HeaderOr("host"));
      }
      if (req.HeaderOr("x-amz-date") != "20240101T000000Z" || req.Query() != "a=1") {
        return Response{403, {{"Content-Type", "text/plain"}}, "AccessDenied"};
      }
      auto peer = std::make_shared<Peer>();
      std::lock_guard lock(mu);
      peers.push_back(peer);
      return peer;
    };
    ServerOptions options;
    options.threads = 1;
    options.websockets.push_back(std::move(route));
    auto started = Server::Start(
        std::move(options),
        [](const Request&) {
          return Response{404, {}, ""};
        },
        [](const Request&, int status, std::string_view) {
          return Response{status, {}, ""};
        });
    EXPECT_TRUE(started.has_value()) << started.error().message;
    server = std::move(*started);
  }

  std::string Url(std::string_view target = "/ws?a=1") const {
    return "ws://127.0.0.1:" + std::to_string(server->port()) + std::string(target);
  }
  std::shared_ptr<Peer> peer(size_t i) {
    std::lock_guard lock(mu);
    return i < peers.size() ? peers[i] : nullptr;
  }

  const std::vector<Header> headers{{"X-Amz-Date", "20240101T000000Z"}};
  std::unique_ptr<Server> server;
  std::mutex mu;
  std::string host;
  std::vector<std::shared_ptr<Peer>> peers;
};

// A TCP listener that never accepts: connecting works, the upgrade never
// answers. Not listening: a bound port that refuses connections.
struct SilentListener {
  explicit SilentListener(bool listening = true) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (listening) listen(fd, 8);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~SilentListener() { close(fd); }
  int fd;
  uint16_t port;
};

TEST(WebSocketClient, CarriesMessagesBothWaysWithTheHandshakeHeaders) {
  Fixture f;
  WebSocketClient client;
  ASSERT_TRUE(client.Connect(f.Url(), f.headers).has_value());
  EXPECT_TRUE(client.IsOpen());
  EXPECT_EQ(f.host, "127.0.0.1:" + std::to_string(f.server->port()));
  auto welcome = client.Receive(5s);
  ASSERT_TRUE(welcome.has_value()) << welcome.error().message;
  EXPECT_EQ(*welcome, "welcome");
  ASSERT_TRUE(client.Send("hello").has_value());
  auto echo = client.Receive(5s);
  ASSERT_TRUE(echo.has_value()) << echo.error().message;
  EXPECT_EQ(*echo, "echo:hello");
}

TEST(WebSocketClient, AHostHeaderReplacesTheUrlsAuthority) {
  Fixture f;
  WebSocketClient client;
  std::vector<Header> headers = f.headers;
  headers.push_back({"Host", "acs.example:4566"});
  ASSERT_TRUE(client.Connect(f.Url(), headers).has_value());
  EXPECT_EQ(f.host, "acs.example:4566");
}

TEST(WebSocketClient, ARefusedUpgradeIsHandshakeFailedWithTheStatusAndBody) {
  Fixture f;
  WebSocketClient client;
  auto status = client.Connect(f.Url("/ws?a=2"), f.headers);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, "HandshakeFailed");
  EXPECT_EQ(status.error().http_status, 403);
  EXPECT_NE(status.error().message.find("HTTP 403: AccessDenied"), std::string::npos)
      << status.error().message;
  EXPECT_FALSE(client.IsOpen());
  EXPECT_EQ(client.Send("x").error().code, "Closed");
}

TEST(WebSocketClient, BadUrlsAndRefusedConnectionsFail) {
  WebSocketClient a;
  EXPECT_EQ(a.Connect("http://127.0.0.1:1/ws").error().code, "InvalidUrl");
  WebSocketClient b;
  EXPECT_EQ(b.Connect("ws://127.0.0.1:x/ws").error().code, "InvalidUrl");
  SilentListener refusing(/*listening=*/false);
  WebSocketClient c;
  auto refused = c.Connect("ws://127.0.0.1:" + std::to_string(refusing.port) + "/ws");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "ConnectionFailed");
  EXPECT_NE(refused.error().message.find("connecting to 127.0.0.1:"), std::string::npos)
      << refused.error().message;
}

TEST(WebSocketClient, ReceiveTimesOutAndTheConnectionStaysOpen) {
  Fixture f;
  WebSocketClient client;
  ASSERT_TRUE(client.Connect(f.Url(), f.headers).has_value());
  ASSERT_EQ(*client.Receive(5s), "welcome");
  auto start = Clock::now();
  auto none = client.Receive(100ms);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, "Timeout");
  EXPECT_GE(Clock::now() - start, 100ms);
  ASSERT_TRUE(client.Send("again").has_value());
  EXPECT_EQ(*client.Receive(5s), "echo:again");
}

TEST(WebSocketClient, AServerCloseIsClosedAfterTheMessagesSentBeforeIt) {
  Fixture f;
  WebSocketClient client;
  ASSERT_TRUE(client.Connect(f.Url(), f.headers).has_value());
  ASSERT_TRUE(client.Send("close-me").has_value());
  f.peer(0)->WaitClose();
  EXPECT_EQ(*client.Receive(5s), "welcome");
  EXPECT_EQ(*client.Receive(5s), "bye");
  auto closed = client.Receive(5s);
  ASSERT_FALSE(closed.has_value());
  EXPECT_EQ(closed.error().code, "Closed");
  EXPECT_EQ(closed.error().message, "closed by the server (4000 go away)");
  EXPECT_FALSE(client.IsOpen());
  EXPECT_EQ(client.Send("late").error().code, "Closed");
}

TEST(WebSocketClient, CloseFromAnotherThreadEndsABlockedReceivePromptly) {
  Fixture f;
  WebSocketClient client;
  ASSERT_TRUE(client.Connect(f.Url(), f.headers).has_value());
  ASSERT_EQ(*client.Receive(5s), "welcome");
  std::atomic<bool> returned = false;
  std::string code;
  std::thread receiver([&] {
    auto r = client.Receive(30s);
    code = r ? "message" : r.error().code;
    returned = true;
  });
  std::this_thread::sleep_for(50ms);
  auto start = Clock::now();
  client.Close();
  receiver.join();
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_EQ(code, "Closed");
  EXPECT_EQ(f.peer(0)->WaitClose(), 1000);  // a clean close, not a dropped socket
}

TEST(WebSocketClient, SendsFromSeveralThreadsArriveWhole) {
  Fixture f;
  WebSocketClient client;
  ASSERT_TRUE(client.Connect(f.Url(), f.headers).has_value());
  f.peer(0)->quiet = true;
  constexpr int kThreads = 4, kEach = 50;
  std::vector<std::thread> senders;
  std::atomic<int> failures = 0;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!client.Send(fmt::format("{}-{}-{}", t, i, std::string(100 + i, 'p')))) ++failures;
      }
    });
  }
  for (auto& s : senders) s.join();
  EXPECT_EQ(failures, 0);
  ASSERT_EQ(f.peer(0)->WaitReceived(kThreads * kEach), size_t{kThreads * kEach});
  std::set<std::string> got(f.peer(0)->received.begin(), f.peer(0)->received.end());
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kEach; ++i) {
      EXPECT_TRUE(got.contains(fmt::format("{}-{}-{}", t, i, std::string(100 + i, 'p'))));
    }
  }
}

TEST(WebSocketClient, AMessageOverTheLimitClosesWith1009) {
  Fixture f;
  WebSocketClient client({.message_limit = 1024});
  ASSERT_TRUE(client.Connect(f.Url(), f.headers).has_value());
  ASSERT_TRUE(client.Send("big").has_value());
  EXPECT_EQ(*client.Receive(5s), "welcome");
  auto closed = client.Receive(5s);
  ASSERT_FALSE(closed.has_value());
  EXPECT_EQ(closed.error().code, "Closed");
  EXPECT_EQ(closed.error().message, "a message over 1024 bytes arrived");
  EXPECT_EQ(f.peer(0)->WaitClose(), 1009);
}

TEST(WebSocketClient, AnUnansweredUpgradeTimesOut) {
  SilentListener silent;
  WebSocketClient client({.connect_timeout = 200ms});
  auto start = Clock::now();
  auto status = client.Connect("ws://127.0.0.1:" + std::to_string(silent.port) + "/ws");
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, "Timeout");
  EXPECT_EQ(status.error().message, "connecting took longer than 200 ms");
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(WebSocketClient, CloseDuringConnectEndsItWithClosed) {
  SilentListener silent;
  WebSocketClient client({.connect_timeout = 30s});
  std::thread closer([&] {
    std::this_thread::sleep_for(100ms);
    client.Close();
  });
  auto start = Clock::now();
  auto status = client.Connect("ws://127.0.0.1:" + std::to_string(silent.port) + "/ws");
  closer.join();
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, "Closed");
  EXPECT_LT(Clock::now() - start, 1s);
}

}  // namespace
}  // namespace berth::http
