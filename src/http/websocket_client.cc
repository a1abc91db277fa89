#include "http/websocket_client.h"

#include <fmt/format.h>
#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <variant>

namespace berth::http {

namespace {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

// Messages queued for Receive before the client stops reading (and so stops
// answering pings) until Receive takes some.
constexpr size_t kInboxLimit = 16;
// How long Close waits for the server's close frame before cutting the socket.
constexpr std::chrono::milliseconds kCloseTimeout{500};

struct Url {
  bool tls = false;
  std::string host;  // without brackets
  std::string port;
  std::string authority;  // host[:port] as written: the Host header
  std::string target;     // "/path?query"
};

Result<Url> ParseUrl(std::string_view url) {
  Url out;
  std::string_view rest = url;
  if (rest.starts_with("ws://")) {
    rest.remove_prefix(5);
  } else if (rest.starts_with("wss://")) {
    out.tls = true;
    rest.remove_prefix(6);
  } else {
    return Fail("InvalidUrl", fmt::format("{} is not a ws:// or wss:// URL", url));
  }
  size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  out.authority = std::string(authority);
  out.target = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  if (out.target.front() == '?') out.target.insert(0, "/");
  std::string_view port;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return Fail("InvalidUrl", fmt::format("bad host in {}", url));
    out.host = std::string(authority.substr(1, close - 1));
    port = authority.substr(close + 1);
  } else {
    size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon);
  }
  if (!port.empty()) {
    port.remove_prefix(1);  // the ':'
    if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) {
      return Fail("InvalidUrl", fmt::format("bad port in {}", url));
    }
  }
  if (out.host.empty()) return Fail("InvalidUrl", fmt::format("no host in {}", url));
  out.port = port.empty() ? (out.tls ? "443" : "80") : std::string(port);
  return out;
}

}  // namespace

struct WebSocketClient::Impl {
  explicit Impl(WebSocketClientOptions o) : options(std::move(o)), work(net::make_work_guard(ioc)) {
    thread = std::thread([this] { ioc.run(); });
  }

  WebSocketClientOptions options;
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work;
  std::thread thread;

  // --- I/O thread only ---
  tcp::resolver resolver{ioc};
  net::steady_timer deadline{ioc};  // the connect, then the closing handshake
  net::steady_timer write_timer{ioc};
  std::optional<ssl::context> tls;
  std::variant<std::monostate, std::unique_ptr<PlainWs>, std::unique_ptr<TlsWs>> ws;
  websocket::response_type response;  // the upgrade's answer
  beast::flat_buffer read_buffer;
  struct Outgoing {
    std::string text;
    std::promise<Status> done;
  };
  std::deque<std::shared_ptr<Outgoing>> outbox;  // front: being written when `writing`
  bool writing = false;
  bool write_timed_out = false;
  std::promise<Status> connected;
  bool connect_done = false;
  bool connect_timed_out = false;
  bool io_open = false;  // connected, and neither dropped nor closing

  // --- guarded by mu ---
  mutable std::mutex mu;
  std::condition_variable cv;
  enum class State { kIdle, kConnecting, kOpen, kClosed } state = State::kIdle;
  bool close_requested = false;
  std::string closed_why;
  std::deque<std::string> inbox;
  bool reading = false;  // false while paused on a full inbox

  template <class F>
  void Visit(F&& f) {
    if (auto* plain = std::get_if<std::unique_ptr<PlainWs>>(&ws)) {
      f(**plain);
    } else if (auto* secure = std::get_if<std::unique_ptr<TlsWs>>(&ws)) {
      f(**secure);
    }
  }

  // Closes the socket: every pending operation completes with an error.
  void Cut() {
    resolver.cancel();
    Visit([](auto& s) {
      beast::error_code ignored;
      beast::get_lowest_layer(s).socket().close(ignored);
    });
  }

  // --- connecting ---

  void StartConnect(const Url& url, const std::vector<Header>& headers) {
    if (url.tls) {
      tls.emplace(ssl::context::tls_client);
      tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      beast::error_code ec;
      tls->set_default_verify_paths(ec);
      if (!options.ca_file.empty()) {
        tls->load_verify_file(options.ca_file, ec);
        if (ec) {
          return FinishConnect(
              Fail("ConnectionFailed",
                   fmt::format("cannot load the CA file {}: {}", options.ca_file, ec.message())));
        }
      }
      tls->set_verify_mode(ssl::verify_peer);
      ws = std::make_unique<TlsWs>(ioc, *tls);
    } else {
      ws = std::make_unique<PlainWs>(ioc);
    }
    deadline.expires_after(options.connect_timeout);
    deadline.async_wait([this](beast::error_code ec) {
      if (ec || connect_done) return;
      connect_timed_out = true;
      Cut();
    });
    resolver.async_resolve(
        url.host, url.port,
        [this, url, headers](beast::error_code ec, tcp::resolver::results_type r) {
          if (ec) return FinishConnect(Failure("resolving", url, ec));
          Visit([&](auto& s) { Open(s, url, headers, r); });
        });
  }

  static std::unexpected<Error> Failure(std::string_view stage, const Url& url,
                                        beast::error_code ec) {
    return Fail("ConnectionFailed",
                fmt::format("{} {} failed: {}", stage, url.authority, ec.message()), 0);
  }

  template <class Ws>
  void Open(Ws& s, const Url& url, const std::vector<Header>& headers,
            const tcp::resolver::results_type& endpoints) {
    beast::get_lowest_layer(s).async_connect(
        endpoints, [this, &s, url, headers](beast::error_code ec, const tcp::endpoint&) {
          if (ec) return FinishConnect(Failure("connecting to", url, ec));
          beast::error_code ignored;
          beast::get_lowest_layer(s).socket().set_option(tcp::no_delay(true), ignored);
          if constexpr (std::is_same_v<Ws, TlsWs>) {
            auto& stream = s.next_layer();
            SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str());
            stream.set_verify_callback(ssl::host_name_verification(url.host));
            stream.async_handshake(
                ssl::stream_base::client, [this, &s, url, headers](beast::error_code ec) {
                  if (ec) {
                    return FinishConnect(Failure("the TLS handshake with", url, ec));
                  }
                  Upgrade(s, url, headers);
                });
          } else {
            Upgrade(s, url, headers);
          }
        });
  }

  template <class Ws>
  void Upgrade(Ws& s, const Url& url, const std::vector<Header>& headers) {
    s.read_message_max(options.message_limit);
    s.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, "berth");
      for (const Header& h : headers) req.set(h.name, h.value);
    }));
    s.async_handshake(response, url.authority, url.target, [this, url](beast::error_code ec) {
      if (!ec) return FinishConnect({});
      int status = response.result_int();
      if (status != 0 && status != 101) {
        return FinishConnect(Fail("HandshakeFailed",
                                  fmt::format("{} refused the upgrade with HTTP {}: {}",
                                              url.authority, status, response.body()),
                                  status));
      }
      FinishConnect(Failure("the websocket handshake with", url, ec));
    });
  }

  void FinishConnect(Status status) {
    if (connect_done) return;
    connect_done = true;
    deadline.cancel();
    {
      std::lock_guard lock(mu);
      if (close_requested) {
        status = Fail("Closed", "closed while connecting");
      } else if (!status && connect_timed_out) {
        status = Fail("Timeout", fmt::format("connecting took longer than {} ms",
                                             options.connect_timeout.count()));
      }
      if (status) {
        state = State::kOpen;
        reading = true;
      } else {
        state = State::kClosed;
        closed_why = status.error().message;
      }
      cv.notify_all();
    }
    if (status) {
      io_open = true;
      ReadNext();
    } else {
      Cut();
    }
    connected.set_value(std::move(status));
  }

  // --- reading ---

  void ReadNext() {
    if (!io_open) return;
    Visit([this](auto& s) {
      s.async_read(read_buffer, [this](beast::error_code ec, size_t) { OnRead(ec); });
    });
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      std::string why;
      if (ec == websocket::error::closed) {
        Visit([&](auto& s) {
          why = fmt::format("closed by the server ({} {})", s.reason().code,
                            std::string(s.reason().reason.c_str()));
        });
      } else if (ec == websocket::error::message_too_big) {
        why = fmt::format("a message over {} bytes arrived", options.message_limit);
      } else {
        why = "connection lost: " + ec.message();
      }
      return Dropped(why);
    }
    std::string text = beast::buffers_to_string(read_buffer.data());
    read_buffer.consume(read_buffer.size());
    {
      std::lock_guard lock(mu);
      inbox.push_back(std::move(text));
      cv.notify_all();
      if (inbox.size() >= kInboxLimit) {
        reading = false;
        return;
      }
    }
    ReadNext();
  }

  // The connection is gone (the peer closed it, it broke, or our close finished).
  void Dropped(const std::string& why) {
    io_open = false;
    {
      std::lock_guard lock(mu);
      if (state != State::kClosed) {
        state = State::kClosed;
        closed_why = why;
      }
      cv.notify_all();
    }
    deadline.cancel();
    Cut();
    FailQueued();
  }

  // --- writing ---

  void Enqueue(std::shared_ptr<Outgoing> out) {
    outbox.push_back(std::move(out));
    if (!writing) WriteNext();
  }

  void WriteNext() {
    if (outbox.empty()) return;
    if (!io_open) return FailQueued();
    writing = true;
    write_timed_out = false;
    auto out = outbox.front();
    write_timer.expires_after(options.send_timeout);
    write_timer.async_wait([this](beast::error_code ec) {
      if (ec) return;
      write_timed_out = true;
      Cut();
    });
    Visit([&](auto& s) {
      s.text(true);
      s.async_write(net::buffer(out->text),
                    [this, out](beast::error_code ec, size_t) { OnWritten(ec); });
    });
  }

  void OnWritten(beast::error_code ec) {
    writing = false;
    write_timer.cancel();
    auto out = outbox.front();
    outbox.pop_front();
    if (ec) {
      out->done.set_value(write_timed_out
                              ? Fail("Timeout", fmt::format("sending took longer than {} ms",
                                                            options.send_timeout.count()))
                              : Fail("Closed", "connection lost: " + ec.message()));
      if (io_open) Dropped("sending failed: " + ec.message());
      return FailQueued();
    }
    out->done.set_value({});
    WriteNext();
  }

  // Fails every queued message not being written.
  void FailQueued() {
    size_t keep = writing ? 1 : 0;
    while (outbox.size() > keep) {
      outbox.back()->done.set_value(Fail("Closed", "the connection is closed"));
      outbox.pop_back();
    }
  }

  // --- closing ---

  void DoClose() {
    if (!connect_done) return Cut();  // FinishConnect answers "Closed"
    if (!io_open) return;
    io_open = false;
    FailQueued();
    deadline.expires_after(kCloseTimeout);
    deadline.async_wait([this](beast::error_code ec) {
      if (!ec) Cut();
    });
    Visit([this](auto& s) {
      s.async_close(websocket::close_code::normal, [this](beast::error_code) {
        deadline.cancel();
        Cut();
      });
    });
  }
};

WebSocketClient::WebSocketClient(WebSocketClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

WebSocketClient::~WebSocketClient() {
  Close();
  impl_->work.reset();
  impl_->thread.join();
}

Status WebSocketClient::Connect(std::string_view url, const std::vector<Header>& headers) {
  Url parsed = BERTH_TRY(ParseUrl(url));
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->close_requested) return Fail("Closed", "the client is closed");
    if (impl_->state != Impl::State::kIdle) return Fail("Closed", "Connect was already called");
    impl_->state = Impl::State::kConnecting;
  }
  std::future<Status> done = impl_->connected.get_future();
  net::post(impl_->ioc,
            [impl = impl_.get(), parsed, headers] { impl->StartConnect(parsed, headers); });
  return done.get();
}

Status WebSocketClient::Send(std::string text) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->state != Impl::State::kOpen) {
      return Fail("Closed", impl_->closed_why.empty() ? "not connected" : impl_->closed_why);
    }
  }
  auto out = std::make_shared<Impl::Outgoing>();
  out->text = std::move(text);
  std::future<Status> done = out->done.get_future();
  net::post(impl_->ioc, [impl = impl_.get(), out] { impl->Enqueue(out); });
  return done.get();
}

Result<std::string> WebSocketClient::Receive(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  using State = Impl::State;
  impl_->cv.wait_for(lock, timeout, [&] {
    return impl_->close_requested || !impl_->inbox.empty() || impl_->state == State::kClosed ||
           impl_->state == State::kIdle;
  });
  if (impl_->close_requested) return Fail("Closed", impl_->closed_why);
  if (!impl_->inbox.empty()) {
    std::string text = std::move(impl_->inbox.front());
    impl_->inbox.pop_front();
    bool resume = !impl_->reading && impl_->state == State::kOpen;
    if (resume) impl_->reading = true;
    lock.unlock();
    if (resume) net::post(impl_->ioc, [impl = impl_.get()] { impl->ReadNext(); });
    return text;
  }
  if (impl_->state == State::kIdle) return Fail("Closed", "not connected");
  if (impl_->state == State::kClosed) return Fail("Closed", impl_->closed_why);
  return Fail("Timeout", fmt::format("no message within {} ms", timeout.count()));
}

void WebSocketClient::Close() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->close_requested) return;
    impl_->close_requested = true;
    if (impl_->state != Impl::State::kClosed) impl_->closed_why = "closed by the client";
    impl_->state = Impl::State::kClosed;
    impl_->cv.notify_all();
  }
  net::post(impl_->ioc, [impl = impl_.get()] { impl->DoClose(); });
}

bool WebSocketClient::IsOpen() const {
  std::lock_guard lock(impl_->mu);
  return impl_->state == Impl::State::kOpen;
}

}  // namespace berth::http
