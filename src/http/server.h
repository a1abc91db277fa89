// An HTTP/1.1 server with websockets, over plain TCP or TLS (Boost.Beast/Asio
// and OpenSSL underneath, invisible here).
//
// Keep-alive, a request body limit (413 before the body is read), a header
// timeout (a client that connects and sends nothing is dropped), an idle
// timeout between keep-alive requests, and graceful shutdown: Stop() stops
// accepting, lets requests in flight finish, closes idle connections and
// closes every websocket with 1001 (going away).
//
// Threads: a few I/O threads read and write every connection; handlers run on
// a pool of worker threads, so a slow handler holds up only its own
// connection. A connection's requests are handled one at a time, in order
// (pipelined requests are answered in the order sent).
//
// Bounded under load: at most `max_connections` connections are served at once
// (more wait in the listen backlog); running out of file descriptors pauses
// accepting briefly instead of spinning; request bodies in flight share a
// memory budget (503 for a large body past it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "http/message.h"
#include "http/websocket.h"

namespace berth::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port, see Server::port()
  int threads = 0;    // I/O threads; 0: one per hardware thread
  size_t workers = 0;  // handler threads; 0: DefaultWorkers() (max(4, 2 * cores))
  size_t body_limit = 8 << 20;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  // Connections served at once. At the limit the server stops accepting, so
  // new clients wait in the listen backlog, until one closes (idle ones are
  // dropped by the timeouts above). 0: DefaultMaxConnections().
  size_t max_connections = 0;
  // Bytes the request bodies in flight may hold together. A body counts from
  // its first bytes (at its Content-Length; as it arrives when chunked) until
  // its handler returns. A body that would take the total past the limit is
  // refused before more of it is read: `reject` gets status 503. Bodies of at most
  // kSmallBodyBytes are always admitted (and counted), so large uploads cannot
  // starve ordinary API calls: memory is bounded by this limit plus
  // max_connections * kSmallBodyBytes.
  size_t body_memory_limit = 256 << 20;
  // Websocket upgrades accepted, by path. An upgrade request to another path,
  // and a plain request to one of these, go to the Handler as usual. An open
  // websocket counts against max_connections.
  std::vector<WebSocketRoute> websockets;
  // HTTPS (and wss://): the PEM certificate chain (the server's certificate
  // first) and its PEM private key, read once by Start. Both empty: plain
  // HTTP. TLS 1.2 and later; the handshake must finish within header_timeout.
  std::string tls_cert_file;
  std::string tls_key_file;
};

inline constexpr size_t kSmallBodyBytes = 64 << 10;

// How long the websocket opening and closing handshakes may take.
inline constexpr std::chrono::milliseconds kWebSocketHandshakeTimeout{5'000};

// The connection limit when ServerOptions::max_connections is 0: the soft
// RLIMIT_NOFILE less a reserve for the rest of the process (a quarter of it,
// at least 32 and at most 256), between 1 and 10,000: 768 at the usual 1024.
size_t DefaultMaxConnections();

// Answers one request. Called on a worker thread, concurrently for different
// connections (one request at a time per connection). It may block: only its
// connection waits, but a pool's worth of blocked handlers delays everyone.
using Handler = std::function<Response(const Request&)>;

// Builds the reply to a request the server refuses before the handler sees it
// (413 body too large; 431 header too large; 400 malformed HTTP; 503 body
// memory budget exhausted). `request` carries the headers only. Called on an
// I/O thread: must be quick.
using RejectHandler =
    std::function<Response(const Request& request, int status, std::string_view reason)>;

class Server {
 public:
  // Binds and starts serving on background threads. Fails (code
  // "AddressInUse"/"InvalidAddress") when the address cannot be bound, and
  // "InvalidCertificate" when only one of the TLS files is given, either
  // cannot be loaded, or the key is not the certificate's.
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, Handler handler,
                                               RejectHandler reject);
  ~Server();  // Stop()s if still running.

  uint16_t port() const;

  // Graceful shutdown; blocks until every connection is closed or `grace` has
  // passed (then the rest are cut), and handlers still running have returned.
  // Websockets get a close frame (1001, "server shutting down") and up to
  // kWebSocketHandshakeTimeout to answer it. Idempotent; must not be called
  // from a handler.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10'000));

  // Blocks until Stop() has completed (from another thread or a signal).
  void Wait();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::http
