// Websockets as the application sees them: the decision on an upgrade
// request, the handler of an accepted connection, and the connection's end it
// holds. http::Server (server.h) serves them on the routes its options name.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "http/message.h"

namespace berth::http {

// The application's end of an accepted websocket. Thread-safe: any thread may
// send or close, before or after the connection is gone (then they do
// nothing). Holding it does not keep the connection open.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // Queues `text` as one text message; messages go out in the order queued.
  // False (nothing queued) once the connection is closing or closed.
  virtual bool Send(std::string text) = 0;
  // Starts the closing handshake with `code` (1000 normal, 1001 going away,
  // 1008 policy, 4000-4999 the application's own) and `reason` (at most 123
  // bytes; longer is cut). Messages queued before are sent first. Idempotent.
  virtual void Close(uint16_t code = 1000, std::string reason = {}) = 0;
  // The peer's address, as Request::remote_ip.
  virtual const std::string& remote_ip() const = 0;
};

// What the application does with one websocket. The server calls it on a
// worker thread, one call at a time per connection and in this order:
// OnOpen once, OnMessage per message received, OnClose once (also when OnOpen
// or OnMessage threw: the connection is closed with 1011). A call may block;
// the connection reads nothing more until it returns. (A handshake that fails
// after the upgrade was accepted drops the handler uncalled.)
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  // The handshake completed; `socket` is this connection's end to keep.
  virtual void OnOpen(std::shared_ptr<WebSocket> socket) = 0;
  // One whole text message. (A binary message closes the connection with
  // 1003; a message over the route's message_limit with 1009.)
  virtual void OnMessage(std::string text) = 0;
  // The connection is closed: the code and reason of the server's close frame
  // when it closed first (Close(), idle timeout, Stop, 1009 message too big),
  // else of the peer's; 1006 (abnormal) when it dropped without one.
  virtual void OnClose(uint16_t code, std::string reason) = 0;
};

// An upgrade callback's answer: accept with a handler, or refuse with a reply.
using UpgradeDecision = std::variant<std::shared_ptr<WebSocketHandler>, Response>;

// Decides on a websocket upgrade request (headers, query and all, before the
// 101): typically verifies its signature and the caller's permission. Runs on
// a worker thread, concurrently for different connections. A null handler or
// an exception refuses with 500.
using UpgradeHandler = std::function<UpgradeDecision(const Request&)>;

struct WebSocketRoute {
  std::string path;  // matched exactly against Request::Path(): "/ws"
  UpgradeHandler upgrade;
  // The server pings this often (0: never); a pong, like any frame, counts as
  // activity.
  std::chrono::milliseconds ping_interval{30'000};
  // Closed (1001, "idle timeout") when nothing arrives for this long while the
  // server is waiting for a message (0: never).
  std::chrono::milliseconds idle_timeout{90'000};
  size_t message_limit = 1 << 20;  // bytes of one received message
  // Bytes of sent messages not yet written to a peer that does not read them;
  // past it the connection is cut (OnClose then says 1006), so a peer cannot
  // make the server hold its replies without bound.
  size_t send_queue_limit = 16 << 20;
};

}  // namespace berth::http
