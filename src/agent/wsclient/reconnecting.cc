#include "agent/wsclient/reconnecting.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "common/log.h"
#include "http/websocket_client.h"

namespace berth::agent::wsclient {

Result<Url> WebSocketUrl(std::string_view what, std::string_view endpoint,
                         std::string_view query) {
  std::string scheme;
  if (endpoint.starts_with("https://")) {
    scheme = "wss://";
  } else if (endpoint.starts_with("http://")) {
    scheme = "ws://";
  } else {
    return Fail("InvalidEndpoint", fmt::format("the {} endpoint {} is neither http:// nor https://",
                                               what, endpoint));
  }
  endpoint.remove_prefix(endpoint.find("://") + 3);
  Url out;
  out.host = std::string(endpoint.substr(0, endpoint.find('/')));
  std::string_view path = endpoint.substr(out.host.size());
  while (path.ends_with('/')) path.remove_suffix(1);
  out.target = fmt::format("{}/ws?{}", path, query);
  out.url = scheme + out.host + out.target;
  return out;
}

struct Reconnecting::Impl {
  Impl(std::string n, SessionOptions o, UrlFn u, ServeFn s, const Clock& c)
      : name(std::move(n)),
        options(std::move(o)),
        url(std::move(u)),
        serve(std::move(s)),
        clock(c),
        random(std::random_device{}()) {}

  std::string name;
  SessionOptions options;
  UrlFn url;
  ServeFn serve;
  const Clock& clock;
  std::mt19937 random;  // session thread only

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::shared_ptr<http::WebSocketClient> current;  // the connection open now, for Stop
  std::thread thread;
  std::atomic<bool> connected{false};
  std::atomic<int> connections{0};

  std::string Text(std::string_view what) const {
    return fmt::format("{}: {}", name, what);
  }

  bool IsStopping() const {
    std::lock_guard lock(mu);
    return stopping;
  }

  void Run() {
    std::chrono::milliseconds backoff = options.backoff_min;
    while (!IsStopping()) {
      if (Serve()) backoff = options.backoff_min;
      std::uniform_real_distribution<double> jitter(0.8, 1.2);
      auto wait = std::chrono::milliseconds(static_cast<int64_t>(backoff.count() * jitter(random)));
      {
        std::unique_lock lock(mu);
        if (cv.wait_for(lock, wait, [&] { return stopping; })) break;
      }
      backoff = std::min(options.backoff_max,
                         std::chrono::milliseconds(static_cast<int64_t>(backoff.count() * 1.5)));
    }
  }

  // One connection, from the upgrade until it drops. True when it opened.
  bool Serve() {
    auto where = url();
    if (!where) {
      log::Error(Text("cannot connect"), {{"error", where.error().message}});
      return false;
    }
    http::Request upgrade{.method = "GET", .target = where->target};
    aws::Sign(upgrade, where->host, options.credentials, options.region, "ecs", clock.Now());
    auto client = std::make_shared<http::WebSocketClient>(
        http::WebSocketClientOptions{.ca_file = options.ca_file});
    {
      std::lock_guard lock(mu);
      if (stopping) return false;
      current = client;
    }
    if (auto opened = client->Connect(where->url, upgrade.headers); !opened) {
      log::Warn(Text("cannot connect"), {{"endpoint", options.endpoint},
                                         {"code", opened.error().code},
                                         {"error", opened.error().message}});
      std::lock_guard lock(mu);
      current.reset();
      return false;
    }
    ++connections;
    connected = true;
    log::Info(Text("connected"), {{"endpoint", options.endpoint}});
    serve(*client);
    connected = false;
    client->Close();
    std::lock_guard lock(mu);
    current.reset();
    return true;
  }
};

Reconnecting::Reconnecting(std::string name, SessionOptions options, UrlFn url, ServeFn serve,
                           const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(name), std::move(options), std::move(url),
                                   std::move(serve), clock)) {}

Reconnecting::~Reconnecting() { Stop(); }

void Reconnecting::Start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->thread.joinable() || impl_->stopping) return;
  impl_->thread = std::thread([impl = impl_.get()] { impl->Run(); });
}

void Reconnecting::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    if (impl_->current) impl_->current->Close();
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

bool Reconnecting::Stopping() const { return impl_->IsStopping(); }

bool Reconnecting::Connected() const { return impl_->connected; }

int Reconnecting::Connections() const { return impl_->connections; }

}  // namespace berth::agent::wsclient
