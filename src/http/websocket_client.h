// A websocket client (ws:// and wss://) with blocking calls, for the agent's
// ACS session: Boost.Beast/Asio and OpenSSL underneath, invisible here.
//
// One background I/O thread per client reads every message as it arrives
// (answering pings on the way) into a small queue that Receive takes from,
// so a Receive that times out leaves the connection intact. Send is
// thread-safe and may run on several threads while another one receives;
// messages go out whole, in the order their Sends were called. Close may be
// called from any thread, at any time (also during Connect), and makes every
// blocked call return promptly.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "http/message.h"

namespace berth::http {

struct WebSocketClientOptions {
  std::string ca_file;  // wss: extra PEM CA bundle, trusted besides the system CAs
  // Resolving, connecting, the TLS handshake and the upgrade together.
  std::chrono::milliseconds connect_timeout{10'000};
  // A Send whose message is not written within this closes the connection.
  std::chrono::milliseconds send_timeout{10'000};
  // A received message larger than this closes the connection (1009).
  size_t message_limit = 16 << 20;
};

class WebSocketClient {
 public:
  explicit WebSocketClient(WebSocketClientOptions options = {});
  ~WebSocketClient();  // Close()s and joins its thread
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // Opens "ws://host[:port]/path?query" or "wss://..." (TLS 1.2+, the server
  // certificate verified against the system CAs and options.ca_file, for the
  // URL's host name), sending `headers` with the upgrade request (a Host
  // among them replaces the default "host[:port]" of the URL). Once per
  // client. Errors: "InvalidUrl"; "ConnectionFailed" (resolving, connecting,
  // TLS: the message says which); "HandshakeFailed" with the HTTP status of a
  // refused upgrade as http_status and its body in the message; "Timeout"
  // after connect_timeout; "Closed" when Close() came first.
  Status Connect(std::string_view url, const std::vector<Header>& headers = {});

  // Sends `text` as one text message; returns once it is written. "Closed"
  // when the connection is closed (or not open), "Timeout" after send_timeout
  // (the connection is then closed).
  Status Send(std::string text);

  // The next message received, waiting up to `timeout` for one. Messages that
  // arrived before the connection closed are still returned first. Errors:
  // "Timeout" (the connection stays open), "Closed" (the message gives the
  // close code and reason, or why it dropped).
  Result<std::string> Receive(std::chrono::milliseconds timeout);

  // Closes with 1000 (waiting briefly for the server's answer on the I/O
  // thread); every blocked and later call fails with "Closed". Idempotent.
  void Close();

  // Open: connected and not closed.
  bool IsOpen() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::http
