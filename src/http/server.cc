#include "http/server.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <variant>

#include "common/log.h"
#include "http/worker_pool.h"

namespace berth::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

// A connection's byte stream: plain TCP, or TLS over it.
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
template <class Stream>
constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

namespace {
constexpr uint32_t kHeaderLimit = 16 * 1024;
// A body this large marks a connection that sends large bodies; it then reads this much at once.
constexpr size_t kLargeBodyBytes = 16 * 1024;
constexpr size_t kLargeReadBytes = 64 * 1024;
// How long accepting pauses when the process is out of descriptors or memory.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// Accept failures and the connection limit are logged at most this often.
constexpr std::chrono::seconds kAcceptWarningInterval{10};
// How long a TLS connection waits for the peer's close_notify when closing.
constexpr std::chrono::milliseconds kTlsShutdownTimeout{1'000};
class Connection;

// The bytes request bodies in flight hold, across all connections.
class BodyBudget {
 public:
  void set_limit(size_t limit) { limit_ = limit; }

  // Counts `more` bytes for a body that already counts `held`. False, counting
  // nothing, when the body would exceed kSmallBodyBytes and the total the limit.
  bool Take(size_t held, size_t more) {
    if (held + more <= kSmallBodyBytes) {
      used_.fetch_add(more, std::memory_order_relaxed);
      return true;
    }
    size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (more > limit_ || used > limit_ - more) return false;
    } while (!used_.compare_exchange_weak(used, used + more, std::memory_order_relaxed));
    return true;
  }

  void Give(size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

 private:
  size_t limit_ = 0;
  std::atomic<size_t> used_{0};
};

// The error a body reader reports when the budget refuses its body.
class OverBudgetCategory : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "berth.http.body"; }
  std::string message(int) const override { return "request body memory budget exhausted"; }
};

beast::error_code OverBudget() {
  static const OverBudgetCategory category;
  return {1, category};
}

// Beast's string_body, but counting what the body holds against a BodyBudget
// from the moment its length is known until Release() or destruction.
struct BudgetedBody {
  class value_type {
   public:
    value_type() = default;
    value_type(const value_type&) = delete;
    value_type& operator=(const value_type&) = delete;
    ~value_type() { Release(); }

    void Attach(BodyBudget* budget) { budget_ = budget; }
    // Makes the body count `total` bytes; false when the budget refuses.
    bool Reserve(size_t total) {
      if (!budget_ || total <= counted_) return true;
      if (!budget_->Take(counted_, total - counted_)) return false;
      counted_ = total;
      return true;
    }
    void Release() {
      if (budget_ && counted_) budget_->Give(counted_);
      counted_ = 0;
    }

    std::string data;

   private:
    BodyBudget* budget_ = nullptr;
    size_t counted_ = 0;
  };

  static std::uint64_t size(const value_type& body) { return body.data.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(bhttp::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      if (length) {
        if (*length > body_.data.max_size()) {
          ec = bhttp::error::buffer_overflow;
          return;
        }
        if (!body_.Reserve(static_cast<size_t>(*length))) {
          ec = OverBudget();
          return;
        }
        body_.data.reserve(static_cast<size_t>(*length));
      }
      ec = {};
    }

    template <class ConstBufferSequence>
    size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      size_t extra = net::buffer_size(buffers);
      size_t size = body_.data.size();
      if (extra > body_.data.max_size() - size) {
        ec = bhttp::error::buffer_overflow;
        return 0;
      }
      // A chunked body has no declared length: count it as it grows.
      if (!body_.Reserve(size + extra)) {
        ec = OverBudget();
        return 0;
      }
      body_.data.resize(size + extra);
      ec = {};
      return net::buffer_copy(net::buffer(body_.data.data() + size, extra), buffers);
    }

    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

using RequestMessage = bhttp::request<BudgetedBody>;
}  // namespace

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  RejectHandler reject;
  // Declared before the io_contexts and the pool: connections still queued in
  // them are destroyed with them and unregister themselves under `mu`.
  std::atomic<bool> draining{false};
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;
  bool stop_started = false;
  bool stopped = false;
  size_t max_connections = 0;
  bool accept_paused = false;  // at max_connections; under `mu`
  BodyBudget body_budget;

  // One io_context per thread, each run by exactly that thread: a connection
  // lives on one of them, so its handlers never need a strand and threads do
  // not wake each other (measured: shared io_context + strands cost ~25% of
  // the signed-request rate). The acceptor deals connections round-robin.
  std::vector<std::unique_ptr<net::io_context>> iocs;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> accept_retry;  // on the acceptor's io_context
  size_t next_ioc = 0;
  std::chrono::steady_clock::time_point next_accept_warning{};
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::optional<ssl::context> tls;  // set when serving HTTPS
  // Runs handlers, upgrade decisions and websocket callbacks.
  std::unique_ptr<WorkerPool> pool;

  // Loads the certificate and key of options.tls_*_file, when given.
  Status LoadTls();
  // Accept and its handlers run on the acceptor's io_context only.
  void Accept();
  // Serves an accepted connection; false when the server is now full.
  template <class Stream>
  bool Serve(tcp::socket&& socket);
  void AcceptFailed(const beast::error_code& ec);
  bool AcceptWarningDue();
  // Counts `connection` as served; returns how many are.
  size_t Register(const std::shared_ptr<Connection>& connection);
  const WebSocketRoute* FindWebSocketRoute(std::string_view target) const;
};

namespace {

// A connection the server serves, HTTP or websocket: counted against
// max_connections from Register() until destroyed.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl* server, net::any_io_executor executor)
      : server_(server), executor_(std::move(executor)) {}

  virtual ~Connection() {
    std::lock_guard lock(server_->mu);
    server_->connections.erase(this);
    if (server_->accept_paused && server_->connections.size() < server_->max_connections &&
        !server_->draining) {
      server_->accept_paused = false;
      net::post(server_->acceptor->get_executor(), [server = server_] { server->Accept(); });
    }
    server_->cv.notify_all();
  }

  // Called on the connection's executor when the server stops.
  virtual void Shutdown() = 0;

  // The connection's I/O thread; fixed for its life, so any thread may read it.
  const net::any_io_executor& executor() const { return executor_; }

 protected:
  template <class Derived>
  std::shared_ptr<Derived> self() {
    return std::static_pointer_cast<Derived>(shared_from_this());
  }

  // Runs `work` on a worker thread, then `then(result)` back on this
  // connection's I/O thread; `self` rides along and keeps the connection alive.
  template <class Self, class Work, class Then>
  void OffThread(std::shared_ptr<Self> self, Work work, Then then) {
    server_->pool->Post([self = std::move(self), work = std::move(work),
                         then = std::move(then)]() mutable {
      auto result = work();
      net::any_io_executor executor = self->executor();
      net::post(executor, [self = std::move(self), then = std::move(then),
                           result = std::move(result)]() mutable { then(*self, std::move(result)); });
    });
  }

  Server::Impl* server_;
  net::any_io_executor executor_;
};

Response InternalError() { return Response{500, {{"Content-Type", "text/plain"}}, "Internal error\n"}; }

template <class Stream>
class WsSession;

// The application's end of a websocket: forwards to the connection while it
// lives, on its I/O thread.
template <class Stream>
class WsHandle : public WebSocket {
 public:
  WsHandle(std::weak_ptr<WsSession<Stream>> session, std::string remote_ip)
      : session_(std::move(session)), remote_ip_(std::move(remote_ip)) {}
  bool Send(std::string text) override;
  void Close(uint16_t code, std::string reason) override;
  const std::string& remote_ip() const override { return remote_ip_; }

 private:
  std::weak_ptr<WsSession<Stream>> session_;
  std::string remote_ip_;
};

// An accepted websocket. Lives on one I/O thread (its members are touched
// there only, but for `closing_` and the handler, which worker threads call
// one at a time); kept alive by its pending operations and worker jobs.
template <class Stream>
class WsSession : public Connection {
 public:
  WsSession(Stream&& stream, std::string remote_ip, const WebSocketRoute& route,
            std::shared_ptr<WebSocketHandler> handler, Server::Impl* server)
      : Connection(server, stream.get_executor()),
        ws_(std::move(stream)),
        ping_timer_(executor_),
        idle_timer_(executor_),
        close_timer_(executor_),
        remote_ip_(std::move(remote_ip)),
        route_(route),
        handler_(std::move(handler)) {}

  // Completes the handshake for `upgrade`, then serves the connection.
  void Accept(bhttp::request<bhttp::empty_body> upgrade) {
    upgrade_ = std::move(upgrade);
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = kWebSocketHandshakeTimeout;
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.read_message_max(route_.message_limit);
    // Called inside reads, which hold a reference: `this` outlives them.
    ws_.control_callback([this](websocket::frame_type, beast::string_view) { Heard(); });
    ws_.async_accept(upgrade_, beast::bind_front_handler(&WsSession<Stream>::OnAccept, self<WsSession<Stream>>()));
  }

  void Shutdown() override { StartClose(1001, "server shutting down"); }

  bool closing() const { return closing_; }

  // Queues a text message (posted here by WsHandle::Send).
  void Queue(std::string text) {
    if (closing_) return;
    if (outbox_bytes_ + text.size() > route_.send_queue_limit) {
      // The peer reads nothing: stop holding its messages.
      closing_ = true;
      DropOutbox();
      return Cut();
    }
    outbox_bytes_ += text.size();
    outbox_.push_back(std::move(text));
    Flush();
  }

  // Closes after the queued messages are out; the connection is cut if the
  // peer has not answered within kWebSocketHandshakeTimeout.
  void StartClose(uint16_t code, std::string reason) {
    if (closing_ || finished_) return;
    closing_ = true;
    if (reason.size() > 123) reason.resize(123);  // a close frame's payload is 125 bytes
    close_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    close_timer_.expires_after(kWebSocketHandshakeTimeout);
    close_timer_.async_wait([self = self<WsSession<Stream>>()](beast::error_code ec) {
      if (!ec) self->Cut();
    });
    SendCloseWhenFlushed();
  }

 private:
  using Clock = std::chrono::steady_clock;

  void OnAccept(beast::error_code ec) {
    upgrade_ = {};
    if (ec) {
      log::Debug("websocket handshake failed", {{"error", ec.message()}});
      return Cut();  // never opened: the handler is dropped uncalled
    }
    open_ = true;
    if (server_->draining) StartClose(1001, "server shutting down");
    Ping();
    SendCloseWhenFlushed();
    auto handle = std::make_shared<WsHandle<Stream>>(self<WsSession<Stream>>(), remote_ip_);
    OffThread(
        self<WsSession<Stream>>(),
        [session = this, handle = std::move(handle)]() mutable {
          return session->Call([&] { session->handler_->OnOpen(std::move(handle)); });
        },
        [](WsSession& session, bool ok) { session.Resume(ok); });
  }

  // Runs a handler callback on a worker; false when it threw.
  template <class Fn>
  bool Call(Fn&& fn) {
    try {
      fn();
      return true;
    } catch (const std::exception& e) {
      log::Error("websocket handler threw", {{"what", e.what()}});
      return false;
    }
  }

  // Back from OnOpen or OnMessage: read the next message.
  void Resume(bool ok) {
    if (!ok) StartClose(1011, "internal error");
    Read();
  }

  void Read() {
    reading_ = true;
    Heard();
    ArmIdle();
    ws_.async_read(buffer_, beast::bind_front_handler(&WsSession<Stream>::OnRead, self<WsSession<Stream>>()));
  }

  void OnRead(beast::error_code ec, size_t) {
    reading_ = false;
    if (ec) return Finish(ec);
    Heard();
    if (!ws_.got_text()) {
      buffer_.consume(buffer_.size());
      StartClose(1003, "binary messages are not supported");
      return Read();
    }
    if (closing_) {  // after Close() the handler hears no more messages
      buffer_.consume(buffer_.size());
      return Read();
    }
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    OffThread(
        self<WsSession<Stream>>(),
        [session = this, text = std::move(text)]() mutable {
          return session->Call([&] { session->handler_->OnMessage(std::move(text)); });
        },
        [](WsSession& session, bool ok) { session.Resume(ok); });
  }

  // The read loop ended: the connection is closed (or failed). Tells the handler.
  void Finish(beast::error_code ec) {
    finished_ = true;
    closing_ = true;
    ping_timer_.cancel();
    idle_timer_.cancel();
    close_timer_.cancel();
    DropOutbox();
    uint16_t code = 1006;  // abnormal: no close frame
    std::string reason;
    if (ec == websocket::error::message_too_big) {
      code = static_cast<uint16_t>(websocket::close_code::too_big);
      reason = "message too big";
    } else if (close_sent_) {  // ours; the peer's answer usually echoes only the code
      code = close_.code;
      reason.assign(close_.reason.data(), close_.reason.size());
    } else if (ws_.reason().code != websocket::close_code::none) {
      code = ws_.reason().code;
      reason.assign(ws_.reason().reason.data(), ws_.reason().reason.size());
    }
    Cut();
    server_->pool->Post([session = self<WsSession<Stream>>(), code, reason = std::move(reason)]() mutable {
      session->Call([&] { session->handler_->OnClose(code, std::move(reason)); });
      session->handler_.reset();  // the handler may hold its WsHandle: no cycle
    });
  }

  // Something arrived: the idle clock starts again.
  void Heard() { idle_deadline_ = Clock::now() + route_.idle_timeout; }

  void ArmIdle() {
    if (route_.idle_timeout.count() == 0) return;
    idle_timer_.expires_at(idle_deadline_);
    idle_timer_.async_wait([self = self<WsSession<Stream>>()](beast::error_code ec) {
      if (ec || self->closing_) return;
      // While the handler works on a message nothing is read: Read() re-arms.
      if (!self->reading_) return;
      if (Clock::now() >= self->idle_deadline_) return self->StartClose(1001, "idle timeout");
      self->ArmIdle();
    });
  }

  void Ping() {
    if (route_.ping_interval.count() == 0) return;
    ping_timer_.expires_after(route_.ping_interval);
    ping_timer_.async_wait([self = self<WsSession<Stream>>()](beast::error_code ec) {
      if (ec || self->closing_) return;
      if (!self->ping_pending_) {
        self->ping_pending_ = true;
        self->ws_.async_ping({}, [self](beast::error_code) { self->ping_pending_ = false; });
      }
      self->Ping();
    });
  }

  void Flush() {
    if (writing_ || outbox_.empty() || !open_ || cut_) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(outbox_.front()),
                    beast::bind_front_handler(&WsSession<Stream>::OnWrite, self<WsSession<Stream>>()));
  }

  // Forgets the queued messages, but for the one a write in flight still reads.
  void DropOutbox() {
    size_t keep = writing_ && !outbox_.empty() ? 1 : 0;
    outbox_.erase(outbox_.begin() + keep, outbox_.end());
    outbox_bytes_ = keep ? outbox_.front().size() : 0;
  }

  void OnWrite(beast::error_code ec, size_t) {
    writing_ = false;
    if (!outbox_.empty()) {
      outbox_bytes_ -= outbox_.front().size();
      outbox_.pop_front();
    }
    if (ec) {
      DropOutbox();
      return Cut();  // the read fails next and finishes the connection
    }
    Flush();
    SendCloseWhenFlushed();
  }

  void SendCloseWhenFlushed() {
    if (!closing_ || !open_ || close_sent_ || writing_ || !outbox_.empty() || finished_ || cut_) {
      return;
    }
    close_sent_ = true;
    ws_.async_close(close_, [self = self<WsSession<Stream>>()](beast::error_code ec) {
      if (ec) self->Cut();
    });
  }

  // Closes the socket at once: pending operations fail, and nothing more is written (a
  // write in flight may still complete: no close frame follows it, so OnClose says 1006).
  void Cut() {
    cut_ = true;
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
  bhttp::request<bhttp::empty_body> upgrade_;  // until the handshake completes
  net::steady_timer ping_timer_;
  net::steady_timer idle_timer_;
  net::steady_timer close_timer_;
  std::string remote_ip_;
  const WebSocketRoute& route_;
  std::shared_ptr<WebSocketHandler> handler_;  // called on workers, one call at a time
  std::deque<std::string> outbox_;
  size_t outbox_bytes_ = 0;  // of outbox_
  websocket::close_reason close_;
  Clock::time_point idle_deadline_{};
  std::atomic<bool> closing_{false};  // read by WsHandle::Send on any thread
  bool open_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool ping_pending_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
  bool cut_ = false;  // the socket is closed
};

template <class Stream>
bool WsHandle<Stream>::Send(std::string text) {
  auto session = session_.lock();
  if (!session || session->closing()) return false;
  net::any_io_executor executor = session->executor();
  net::post(executor, [session = std::move(session), text = std::move(text)]() mutable {
    session->Queue(std::move(text));
  });
  return true;
}

template <class Stream>
void WsHandle<Stream>::Close(uint16_t code, std::string reason) {
  auto session = session_.lock();
  if (!session) return;
  net::any_io_executor executor = session->executor();
  net::post(executor, [session = std::move(session), code, reason = std::move(reason)]() mutable {
    session->StartClose(code, std::move(reason));
  });
}

// An HTTP connection over `Stream` (PlainStream or TlsStream).
template <class Stream>
class Session : public Connection {
 public:
  Session(tcp::socket&& socket, Server::Impl* server)
      : Connection(server, socket.get_executor()), stream_(MakeStream(std::move(socket), server)) {
    beast::error_code ec;
    Socket().set_option(tcp::no_delay(true), ec);
    auto ep = Socket().remote_endpoint(ec);
    if (!ec) remote_ip_ = ep.address().to_string();
  }

  void Start() {
    if constexpr (kTls<Stream>) {
      net::dispatch(executor_, beast::bind_front_handler(&Session::Handshake, self<Session>()));
    } else {
      net::dispatch(executor_, beast::bind_front_handler(&Session::ReadHeader, self<Session>()));
    }
  }

  // Drops the connection if it waits for a request (or its TLS handshake).
  void Shutdown() override {
    // Idle: waiting for a request of which no byte has arrived yet.
    if (handshaking_ ||
        (waiting_for_request_ && buffer_.size() == 0 && !parser_->got_some())) {
      beast::error_code ec;
      Socket().cancel(ec);
    }
  }

 private:
  static Stream MakeStream(tcp::socket&& socket, Server::Impl* server) {
    if constexpr (kTls<Stream>) {
      return Stream(std::move(socket), *server->tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  tcp::socket& Socket() { return beast::get_lowest_layer(stream_).socket(); }

  // TLS: the handshake has the header timeout (a client that connects and
  // says nothing is dropped either way).
  void Handshake() {
    handshaking_ = true;
    beast::get_lowest_layer(stream_).expires_after(server_->options.header_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            beast::bind_front_handler(&Session::OnHandshake, self<Session>()));
  }

  void OnHandshake(beast::error_code ec) {
    handshaking_ = false;
    if (ec) {
      log::Debug("TLS handshake failed", {{"peer", remote_ip_}, {"error", ec.message()}});
      return CloseSocket();
    }
    secured_ = true;
    ReadHeader();
  }

  // One read for header and body: the parser refuses a declared body over the
  // limit as soon as the header is complete (413 without reading it), so a
  // separate header read would only add an operation and a timer reset.
  void ReadHeader() {
    if (server_->draining) return Close();
    parser_.emplace();
    parser_->get().body().Attach(&server_->body_budget);
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(server_->options.body_limit);
    beast::get_lowest_layer(stream_).expires_after(first_ ? server_->options.header_timeout
                                                          : server_->options.idle_timeout);
    first_ = false;
    waiting_for_request_ = true;
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, self<Session>()));
  }

  void OnRead(beast::error_code ec, size_t) {
    waiting_for_request_ = false;
    if (ec == bhttp::error::body_limit) return Reject(413, "Request body is too large");
    if (ec == bhttp::error::header_limit) return Reject(431, "Request header is too large");
    if (ec == OverBudget()) {
      return Reject(503, "Too many large request bodies are in flight; retry later.");
    }
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof || ec == bhttp::error::partial_message ||
        ec == ssl::error::stream_truncated) {
      return Close();
    }
    if (ec) return Reject(400, "Malformed HTTP request");
    auto& msg = parser_->get();
    Request req = HeadersOf(msg);
    req.body = std::move(msg.body().data);
    // A connection that sends large bodies (PutLogEvents batches) gets reads of 64 KiB, not
    // of the few KiB its header needed: each read is a syscall and a timer reset.
    if (req.body.size() > kLargeBodyBytes && buffer_.capacity() < kLargeReadBytes) {
      buffer_.reserve(kLargeReadBytes);
    }
    // The handler's time is not the client's: no timeout until the reply is written.
    beast::get_lowest_layer(stream_).expires_never();
    if (websocket::is_upgrade(msg)) {
      if (const WebSocketRoute* route = server_->FindWebSocketRoute(req.target)) {
        return Upgrade(*route, std::move(req));
      }
    }
    OffThread(
        self<Session>(),
        [server = server_, req = std::move(req)] {
          try {
            return server->handler(req);
          } catch (const std::exception& e) {
            log::Error("request handler threw", {{"what", e.what()}});
            return InternalError();
          }
        },
        [keep_alive = msg.keep_alive()](Session& session, Response res) {
          session.parser_->get().body().Release();  // the handler is done with it
          session.Write(std::move(res), keep_alive && !session.server_->draining);
        });
  }

  // Asks the route whether to accept; then hands the connection to a WsSession
  // or writes the refusal.
  void Upgrade(const WebSocketRoute& route, Request req) {
    OffThread(
        self<Session>(),
        [&route, req = std::move(req)]() -> UpgradeDecision {
          try {
            UpgradeDecision decision = route.upgrade(req);
            auto* handler = std::get_if<std::shared_ptr<WebSocketHandler>>(&decision);
            if (handler && !*handler) return InternalError();
            return decision;
          } catch (const std::exception& e) {
            log::Error("websocket upgrade handler threw", {{"what", e.what()}});
            return InternalError();
          }
        },
        [&route](Session& session, UpgradeDecision decision) {
          session.parser_->get().body().Release();
          if (auto* refusal = std::get_if<Response>(&decision)) {
            return session.Write(std::move(*refusal), /*keep_alive=*/false);
          }
          bhttp::request<bhttp::empty_body> upgrade(session.parser_->get().base());
          auto ws = std::make_shared<WsSession<Stream>>(
              std::move(session.stream_), session.remote_ip_, route,
              std::get<std::shared_ptr<WebSocketHandler>>(std::move(decision)), session.server_);
          session.server_->Register(ws);
          ws->Accept(std::move(upgrade));
        });
  }

  Request HeadersOf(const RequestMessage& msg) {
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.remote_ip = remote_ip_;
    req.secure = kTls<Stream>;
    for (const auto& f : msg) {
      req.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    }
    return req;
  }

  void Reject(int status, std::string_view reason) {
    Request req = HeadersOf(parser_->get());
    Response res;
    try {
      res = server_->reject(req, status, reason);
    } catch (const std::exception& e) {
      res = Response{status, {{"Content-Type", "text/plain"}}, std::string(reason) + "\n"};
    }
    Write(std::move(res), /*keep_alive=*/false);
  }

  void Write(Response&& res, bool keep_alive) {
    res_.emplace();
    res_->result(static_cast<unsigned>(res.status));
    res_->version(11);
    for (auto& h : res.headers) res_->set(h.name, h.value);
    res_->body() = std::move(res.body);
    res_->keep_alive(keep_alive);
    res_->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(server_->options.idle_timeout);
    bhttp::async_write(stream_, *res_,
                       beast::bind_front_handler(&Session::OnWrite, self<Session>(), keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, size_t) {
    if (ec || !keep_alive) return Close();
    res_.reset();
    ReadHeader();
  }

  // TLS: says close_notify first (and waits a little for the peer's).
  void Close() {
    if constexpr (kTls<Stream>) {
      if (secured_) {
        secured_ = false;
        beast::get_lowest_layer(stream_).expires_after(kTlsShutdownTimeout);
        stream_.async_shutdown(
            [self = self<Session>()](beast::error_code) { self->CloseSocket(); });
        return;
      }
    }
    CloseSocket();
  }

  void CloseSocket() {
    beast::error_code ec;
    Socket().shutdown(tcp::socket::shutdown_send, ec);
    Socket().close(ec);
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<BudgetedBody>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> res_;
  std::string remote_ip_;
  bool first_ = true;
  bool waiting_for_request_ = false;
  bool handshaking_ = false;
  bool secured_ = false;  // TLS: handshake done, close_notify not yet sent
};

}  // namespace

size_t Server::Impl::Register(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mu);
  connections.emplace(connection.get(), connection);
  return connections.size();
}

const WebSocketRoute* Server::Impl::FindWebSocketRoute(std::string_view target) const {
  std::string_view path = target.substr(0, target.find('?'));
  for (const auto& route : options.websockets) {
    if (route.path == path) return &route;
  }
  return nullptr;
}

void Server::Impl::Accept() {
  net::io_context& target = *iocs[next_ioc];
  next_ioc = (next_ioc + 1) % iocs.size();
  acceptor->async_accept(target, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) return AcceptFailed(ec);
    if (draining) return Accept();
    bool full = tls ? Serve<TlsStream>(std::move(socket)) : Serve<PlainStream>(std::move(socket));
    if (!full) return Accept();
    if (AcceptWarningDue()) {
      log::Warn("connection limit reached; new connections wait until one closes",
                {{"max_connections", std::to_string(max_connections)}});
    }
  });
}

template <class Stream>
bool Server::Impl::Serve(tcp::socket&& socket) {
  auto session = std::make_shared<Session<Stream>>(std::move(socket), this);
  bool full = Register(session) >= max_connections;
  {
    std::lock_guard lock(mu);
    accept_paused = full;  // the last connection to close resumes accepting
  }
  session->Start();
  return full;
}

Status Server::Impl::LoadTls() {
  const std::string& cert = options.tls_cert_file;
  const std::string& key = options.tls_key_file;
  if (cert.empty() && key.empty()) return {};
  if (cert.empty() || key.empty()) {
    return Fail("InvalidCertificate", "TLS needs both a certificate file and a key file");
  }
  tls.emplace(ssl::context::tls_server);
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  beast::error_code ec;
  tls->use_certificate_chain_file(cert, ec);
  if (ec) {
    return Fail("InvalidCertificate",
                fmt::format("cannot load the TLS certificate {}: {}", cert, ec.message()));
  }
  tls->use_private_key_file(key, ssl::context::pem, ec);
  if (ec) {
    return Fail("InvalidCertificate",
                fmt::format("cannot load the TLS key {}: {}", key, ec.message()));
  }
  if (SSL_CTX_check_private_key(tls->native_handle()) != 1) {
    return Fail("InvalidCertificate",
                fmt::format("the TLS key {} does not match the certificate {}", key, cert));
  }
  return {};
}

void Server::Impl::AcceptFailed(const beast::error_code& ec) {
  // A connection reset while it was queued: only that one is lost.
  if (ec == net::error::connection_aborted || ec == net::error::connection_reset) return Accept();
  // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): the
  // connection stays queued and the listening socket readable, so accepting
  // again at once would spin a core until something closes. Wait instead.
  if (AcceptWarningDue()) {
    log::Warn("cannot accept connections; retrying",
              {{"error", ec.message()}, {"retry_ms", std::to_string(kAcceptRetryDelay.count())}});
  }
  accept_retry->expires_after(kAcceptRetryDelay);
  accept_retry->async_wait([this](beast::error_code wait_ec) {
    if (!wait_ec && acceptor->is_open() && !draining) Accept();
  });
}

bool Server::Impl::AcceptWarningDue() {
  auto now = std::chrono::steady_clock::now();
  if (now < next_accept_warning) return false;
  next_accept_warning = now + kAcceptWarningInterval;
  return true;
}

size_t DefaultMaxConnections() {
  constexpr size_t kMax = 10'000;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return kMax;
  size_t soft = limit.rlim_cur;
  size_t reserve = std::clamp<size_t>(soft / 4, 32, 256);
  return soft > reserve ? std::min(soft - reserve, kMax) : 1;
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

uint16_t Server::port() const { return impl_->port; }

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options, Handler handler,
                                              RejectHandler reject) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->handler = std::move(handler);
  impl->reject = std::move(reject);
  BERTH_CHECK(impl->LoadTls());
  beast::error_code ec;
  auto address = net::ip::make_address(impl->options.host, ec);
  if (ec) {
    return Fail("InvalidAddress", fmt::format("'{}' is not an IP address", impl->options.host));
  }
  tcp::endpoint endpoint(address, impl->options.port);
  int threads = impl->options.threads > 0 ? impl->options.threads
                                          : std::max(1u, std::thread::hardware_concurrency());
  for (int i = 0; i < threads; ++i) {
    impl->iocs.push_back(std::make_unique<net::io_context>(1));
    impl->work.push_back(net::make_work_guard(*impl->iocs.back()));
  }
  impl->max_connections =
      impl->options.max_connections ? impl->options.max_connections : DefaultMaxConnections();
  impl->body_budget.set_limit(impl->options.body_memory_limit);
  impl->pool = std::make_unique<WorkerPool>(impl->options.workers ? impl->options.workers
                                                                  : DefaultWorkers());
  impl->acceptor.emplace(*impl->iocs[0]);
  impl->accept_retry.emplace(*impl->iocs[0]);
  auto& acc = *impl->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Fail("AddressInUse",
                fmt::format("cannot listen on {}:{}: {}", impl->options.host, impl->options.port,
                            ec.message()));
  }
  impl->port = acc.local_endpoint().port();
  impl->Accept();
  for (auto& ioc : impl->iocs) {
    impl->threads.emplace_back([io = ioc.get()] { io->run(); });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::Stop(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  {
    std::unique_lock lock(s.mu);
    if (s.stop_started) {
      s.cv.wait(lock, [&] { return s.stopped; });
      return;
    }
    s.stop_started = true;
  }
  s.draining = true;
  net::post(s.acceptor->get_executor(), [&s] {
    beast::error_code ec;
    s.acceptor->close(ec);
    s.accept_retry->cancel();
  });
  // Collected under the lock but posted (and released) outside it: the last
  // reference to a connection may be ours, and its destructor takes `mu`.
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(s.mu);
    for (auto& [raw, weak] : s.connections) {
      if (auto connection = weak.lock()) live.push_back(std::move(connection));
    }
  }
  for (auto& connection : live) {
    net::post(connection->executor(), [connection] { connection->Shutdown(); });
  }
  live.clear();
  {
    std::unique_lock lock(s.mu);
    s.cv.wait_for(lock, grace, [&] { return s.connections.empty(); });
  }
  s.work.clear();
  for (auto& ioc : s.iocs) ioc->stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  // Handlers still running after the grace finish; queued ones are dropped.
  s.pool->Stop();
  std::lock_guard lock(s.mu);
  s.stopped = true;
  s.cv.notify_all();
}

void Server::Wait() {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->stopped; });
}

}  // namespace berth::http
