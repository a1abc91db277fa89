#include "http/server.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/log.h"

namespace berth::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {
constexpr uint32_t kHeaderLimit = 16 * 1024;
// How long accepting pauses when the process is out of descriptors or memory.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// Accept failures and the connection limit are logged at most this often.
constexpr std::chrono::seconds kAcceptWarningInterval{10};
class Session;

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
  // Declared before the io_contexts: sessions still queued in them are
  // destroyed with them and unregister themselves under `mu`.
  std::atomic<bool> draining{false};
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
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

  // Accept and its handlers run on the acceptor's io_context only.
  void Accept();
  void AcceptFailed(const beast::error_code& ec);
  bool AcceptWarningDue();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Server::Impl* server) : stream_(std::move(socket)), server_(server) {
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ip_ = ep.address().to_string();
  }

  ~Session() {
    std::lock_guard lock(server_->mu);
    server_->sessions.erase(this);
    if (server_->accept_paused && server_->sessions.size() < server_->max_connections &&
        !server_->draining) {
      server_->accept_paused = false;
      net::post(server_->acceptor->get_executor(), [server = server_] { server->Accept(); });
    }
    server_->cv.notify_all();
  }

  void Start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::ReadHeader, shared_from_this()));
  }

  // Runs on the session's strand: drops the connection if it waits for a request.
  void CloseIfIdle() {
    // Idle: waiting for a request of which no byte has arrived yet.
    if (waiting_for_request_ && buffer_.size() == 0 && !parser_->got_some()) {
      beast::error_code ec;
      stream_.socket().cancel(ec);
    }
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

 private:
  // One read for header and body: the parser refuses a declared body over the
  // limit as soon as the header is complete (413 without reading it), so a
  // separate header read would only add an operation and a timer reset.
  void ReadHeader() {
    if (server_->draining) return Close();
    parser_.emplace();
    parser_->get().body().Attach(&server_->body_budget);
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(server_->options.body_limit);
    stream_.expires_after(first_ ? server_->options.header_timeout : server_->options.idle_timeout);
    first_ = false;
    waiting_for_request_ = true;
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
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
        ec == net::error::eof || ec == bhttp::error::partial_message) {
      return Close();
    }
    if (ec) return Reject(400, "Malformed HTTP request");
    auto& msg = parser_->get();
    Response res;
    {
      Request req = HeadersOf(msg);
      req.body = std::move(msg.body().data);
      try {
        res = server_->handler(req);
      } catch (const std::exception& e) {
        log::Error("request handler threw", {{"what", e.what()}});
        res = Response{500, {{"Content-Type", "text/plain"}}, "Internal error\n"};
      }
    }
    msg.body().Release();  // the body went with `req`
    Write(std::move(res), msg.keep_alive() && !server_->draining);
  }

  Request HeadersOf(const RequestMessage& msg) {
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.remote_ip = remote_ip_;
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
    stream_.expires_after(server_->options.idle_timeout);
    bhttp::async_write(stream_, *res_,
                       beast::bind_front_handler(&Session::OnWrite, shared_from_this(), keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, size_t) {
    if (ec || !keep_alive) return Close();
    res_.reset();
    ReadHeader();
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<BudgetedBody>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> res_;
  Server::Impl* server_;
  std::string remote_ip_;
  bool first_ = true;
  bool waiting_for_request_ = false;
};

}  // namespace

void Server::Impl::Accept() {
  net::io_context& target = *iocs[next_ioc];
  next_ioc = (next_ioc + 1) % iocs.size();
  acceptor->async_accept(target, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) return AcceptFailed(ec);
    if (draining) return Accept();
    auto session = std::make_shared<Session>(std::move(socket), this);
    bool full;
    {
      std::lock_guard lock(mu);
      sessions.emplace(session.get(), session);
      full = sessions.size() >= max_connections;
      accept_paused = full;  // the last session to close resumes accepting
    }
    session->Start();
    if (!full) return Accept();
    if (AcceptWarningDue()) {
      log::Warn("connection limit reached; new connections wait until one closes",
                {{"max_connections", std::to_string(max_connections)}});
    }
  });
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
  // reference to a session may be ours, and its destructor takes `mu`.
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(s.mu);
    for (auto& [raw, weak] : s.sessions) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  for (auto& session : live) {
    net::post(session->executor(), [session] { session->CloseIfIdle(); });
  }
  live.clear();
  {
    std::unique_lock lock(s.mu);
    s.cv.wait_for(lock, grace, [&] { return s.sessions.empty(); });
  }
  s.work.clear();
  for (auto& ioc : s.iocs) ioc->stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  std::lock_guard lock(s.mu);
  s.stopped = true;
  s.cv.notify_all();
}

void Server::Wait() {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->stopped; });
}

}  // namespace berth::http
