// HTTPS end to end: http::Server over TLS with a certificate from
// crypto/tls_files.h (HTTP through libcurl, websockets through a Beast TLS
// client), and App serving its APIs over TLS or refusing plain HTTP off the
// loopback interface.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "aws/json_client.h"
#include "aws/sigv4.h"
#include "crypto/tls_files.h"
#include "http/client.h"
#include "http/server.h"
#include "http/test_loopback.h"
#include "server/app.h"
#include "testing/temp_dir.h"

namespace berth::server {
namespace {

using namespace std::chrono_literals;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;

// Says how the request came: "secure" over TLS, else "plain".
http::Response Transport(const http::Request& req) {
  return http::Response{200, {{"Content-Type", "text/plain"}}, req.secure ? "secure" : "plain"};
}

http::Response Reject(const http::Request&, int status, std::string_view reason) {
  return http::Response{status, {}, std::string(reason)};
}

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto files = crypto::EnsureTlsFiles(dir_.File("tls"), {"127.0.0.1", "localhost"},
                                        SystemClock::Instance().Now());
    ASSERT_TRUE(files.has_value()) << files.error().message;
    files_ = *files;
  }

  std::unique_ptr<http::Server> Start(http::ServerOptions options = {}) {
    options.tls_cert_file = files_.cert_file;
    options.tls_key_file = files_.key_file;
    options.threads = 1;
    auto server = http::Server::Start(std::move(options), Transport, Reject);
    EXPECT_TRUE(server.has_value()) << server.error().message;
    return server ? std::move(*server) : nullptr;
  }

  test_support::TempDir dir_{"tls_test"};
  crypto::TlsFiles files_;
};

TEST_F(TlsServerTest, ServesHttpsToClientsTrustingTheCa) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  http::Client client({.ca_file = files_.ca_file});
  for (const char* host : {"127.0.0.1", "localhost", "127.0.0.1"}) {  // the last reuses
    auto reply = client.Send(
        {.url = fmt::format("https://{}:{}/", host, server->port())});
    ASSERT_TRUE(reply.has_value()) << host << ": " << reply.error().message;
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->body, "secure");
  }
  // Without the CA the certificate is not trusted.
  http::Client stranger;
  auto refused = stranger.Send({.url = fmt::format("https://127.0.0.1:{}/", server->port())});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "ConnectionFailed");
  // Plain HTTP to the TLS port gets no HTTP answer; the server goes on serving.
  int fd = http::test_support::ConnectLoopback(server->port());
  ASSERT_GE(fd, 0);
  std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  EXPECT_EQ(http::test_support::ReadAll(fd).find("HTTP/1.1"), std::string::npos);
  close(fd);
  EXPECT_EQ(client.Send({.url = fmt::format("https://127.0.0.1:{}/", server->port())})->body,
            "secure");
}

TEST_F(TlsServerTest, PlainServerMarksRequestsInsecure) {
  http::ServerOptions options;
  options.threads = 1;
  auto server = http::Server::Start(options, Transport, Reject);
  ASSERT_TRUE(server.has_value());
  http::Client client;
  auto reply = client.Send({.url = fmt::format("http://127.0.0.1:{}/", (*server)->port())});
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->body, "plain");
}

TEST_F(TlsServerTest, SilentClientIsDroppedAndStopIsPrompt) {
  http::ServerOptions options;
  options.header_timeout = 200ms;
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  int fd = http::test_support::ConnectLoopback(server->port());
  ASSERT_GE(fd, 0);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(http::test_support::ReadAll(fd), "");  // closed by the server, no handshake
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  close(fd);
  // A connection in its handshake does not hold up Stop.
  fd = http::test_support::ConnectLoopback(server->port());
  start = std::chrono::steady_clock::now();
  server->Stop(5s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  close(fd);
}

TEST_F(TlsServerTest, RefusesMissingOrMismatchedFiles) {
  auto fail = [](http::ServerOptions options) {
    auto server = http::Server::Start(std::move(options), Transport, Reject);
    return server ? Error{} : server.error();
  };
  http::ServerOptions half;
  half.tls_cert_file = files_.cert_file;
  Error e = fail(half);
  EXPECT_EQ(e.code, "InvalidCertificate");
  EXPECT_EQ(e.message, "TLS needs both a certificate file and a key file");

  http::ServerOptions missing;
  missing.tls_cert_file = dir_.File("nope.pem");
  missing.tls_key_file = files_.key_file;
  e = fail(missing);
  EXPECT_EQ(e.code, "InvalidCertificate");
  EXPECT_TRUE(e.message.starts_with("cannot load the TLS certificate " + dir_.File("nope.pem")))
      << e.message;

  auto other = crypto::EnsureTlsFiles(dir_.File("other"), {"localhost"},
                                      SystemClock::Instance().Now());
  ASSERT_TRUE(other.has_value());
  http::ServerOptions mismatched;
  mismatched.tls_cert_file = files_.cert_file;
  mismatched.tls_key_file = other->key_file;
  e = fail(mismatched);
  EXPECT_EQ(e.code, "InvalidCertificate");
  EXPECT_EQ(e.message, fmt::format("cannot load the TLS key {}: key values mismatch (x509 "
                                   "certificate routines)",
                                   other->key_file));
}

// Echoes every message back; the upgrade request must have come over TLS.
class EchoSocket : public http::WebSocketHandler {
 public:
  void OnOpen(std::shared_ptr<http::WebSocket> socket) override { socket_ = std::move(socket); }
  void OnMessage(std::string text) override { socket_->Send("echo:" + text); }
  void OnClose(uint16_t, std::string) override { socket_.reset(); }

 private:
  std::shared_ptr<http::WebSocket> socket_;
};

TEST_F(TlsServerTest, WebSocketsRideTls) {
  http::ServerOptions options;
  http::WebSocketRoute route;
  route.path = "/ws";
  route.upgrade = [](const http::Request& req) -> http::UpgradeDecision {
    if (!req.secure) return http::Response{403, {}, "plain"};
    return std::make_shared<EchoSocket>();
  };
  options.websockets.push_back(route);
  auto server = Start(options);
  ASSERT_NE(server, nullptr);

  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(files_.ca_file);
  ctx.set_verify_mode(ssl::verify_peer);
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, ctx);
  beast::get_lowest_layer(ws).connect(
      net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()));
  timeval five{5, 0};
  setsockopt(beast::get_lowest_layer(ws).socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &five,
             sizeof five);
  ws.next_layer().set_verify_callback(ssl::host_name_verification("localhost"));
  SSL_set_tlsext_host_name(ws.next_layer().native_handle(), "localhost");
  ws.next_layer().handshake(ssl::stream_base::client);
  ws.handshake("localhost", "/ws");
  ws.write(net::buffer(std::string("hello")));
  beast::flat_buffer buffer;
  ws.read(buffer);
  EXPECT_EQ(beast::buffers_to_string(buffer.data()), "echo:hello");
  ws.close(websocket::close_code::normal);
}

// ---- App over TLS

const aws::Credentials kRoot{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                             ""};

AppOptions OptionsIn(const test_support::TempDir& dir) {
  AppOptions options;
  options.data_dir = dir.File("data");
  options.port = 0;
  options.threads = 1;
  options.root_credentials = kRoot;
  return options;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(AppTls, SelfSignedTlsServesHttpsWithTheCaItKeeps) {
  test_support::TempDir dir("app_tls_test");
  AppOptions options = OptionsIn(dir);
  options.self_signed_tls = true;
  auto app = App::Start(options);
  ASSERT_TRUE(app.has_value()) << app.error().message;
  EXPECT_TRUE((*app)->tls());
  EXPECT_EQ((*app)->endpoint(), fmt::format("https://127.0.0.1:{}", (*app)->port()));
  EXPECT_EQ((*app)->ca_bundle(), options.data_dir + "/tls/ca.pem");
  std::string ca = Slurp((*app)->ca_bundle());

  http::Client client({.ca_file = (*app)->ca_bundle()});
  aws::JsonCall call{(*app)->endpoint(), "TrentService.ListKeys", "us-east-1", "kms", "{}"};
  auto keys = aws::CallJson(client, call, kRoot, SystemClock::Instance().Now());
  ASSERT_TRUE(keys.has_value()) << keys.error().message;
  EXPECT_EQ(*keys, R"({"Keys":[],"Truncated":false})");
  (*app)->Stop();
  app->reset();

  // A later start keeps the authority clients already trust.
  auto again = App::Start(options);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(Slurp((*again)->ca_bundle()), ca);
}

TEST(AppTls, PlainHttpOnlyOnLoopbackUnlessAskedFor) {
  test_support::TempDir dir("app_tls_test");
  AppOptions options = OptionsIn(dir);
  options.host = "0.0.0.0";
  auto refused = App::Start(options);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "InvalidArgument");
  EXPECT_EQ(refused.error().message,
            "refusing to serve plain HTTP on 0.0.0.0, which is not a loopback address: give "
            "--tls-cert and --tls-key, or --insecure-http to serve plain HTTP anyway");
  EXPECT_FALSE(std::filesystem::exists(options.data_dir));  // refused before anything is made

  options.insecure_http = true;
  auto insecure = App::Start(options);
  ASSERT_TRUE(insecure.has_value()) << insecure.error().message;
  EXPECT_FALSE((*insecure)->tls());
  EXPECT_EQ((*insecure)->endpoint(), fmt::format("http://0.0.0.0:{}", (*insecure)->port()));
  EXPECT_EQ((*insecure)->ca_bundle(), "");
}

TEST(AppTls, LoopbackAddresses) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackAddress(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "10.0.0.1", "::", "::ffff:10.0.0.1", "localhost", ""}) {
    EXPECT_FALSE(IsLoopbackAddress(host)) << host;
  }
}

}  // namespace
}  // namespace berth::server
