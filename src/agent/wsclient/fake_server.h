// Test support for the agent's websocket sessions (acs/, tcs/): an in-process ECS websocket
// endpoint (http::Server with a websocket route) that checks the upgrade's SigV4 signature
// (service "ecs", region us-east-1, the agent's key AKIDAGENT/agent-secret), records what the
// agent sends, and sends what a test tells it to, as src/server does. Also wss:// with a
// certificate from crypto/. Header-only; for tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/wsclient/reconnecting.h"
#include "aws/fake_resolver.h"
#include "aws/sigv4.h"
#include "common/json.h"
#include "crypto/tls_files.h"
#include "http/server.h"

namespace berth::agent::wsclient {

using namespace std::chrono_literals;
using json::Json;

class FakeSocketServer {
 public:
  struct Conn : http::WebSocketHandler {
    explicit Conn(FakeSocketServer& a) : acs(a) {}
    void OnOpen(std::shared_ptr<http::WebSocket> s) override {
      std::lock_guard lock(acs.mu_);
      socket = std::move(s);
      acs.open_.push_back(this);
      acs.cv_.notify_all();
    }
    void OnMessage(std::string text) override {
      Json j = Json::parse(text);
      std::lock_guard lock(acs.mu_);
      acs.received_.emplace_back(j["type"].get<std::string>(), j["message"]);
      acs.cv_.notify_all();
    }
    void OnClose(uint16_t code, std::string) override {
      std::lock_guard lock(acs.mu_);
      close_code = code;
      acs.cv_.notify_all();
    }
    FakeSocketServer& acs;
    std::shared_ptr<http::WebSocket> socket;
    uint16_t close_code = 0;
  };

  // The websocket at `prefix` + "/ws".
  explicit FakeSocketServer(std::string prefix = "", const crypto::TlsFiles* tls = nullptr)
      : prefix_(std::move(prefix)) {
    resolver_.Add("AKIDAGENT", "agent-secret");
    http::WebSocketRoute route;
    route.path = prefix_ + "/ws";
    route.upgrade = [this](const http::Request& r) -> http::UpgradeDecision {
      std::lock_guard lock(mu_);
      auto verified = aws::Verify(r, resolver_, SystemClock::Instance().Now());
      if (!verified || verified->service != "ecs" || verified->region != "us-east-1") {
        ++refused_;
        cv_.notify_all();
        return http::Response{403, {}, R"({"__type":"InvalidSignatureException"})"};
      }
      queries_.emplace_back(r.Query());
      paths_.emplace_back(r.Path());
      conns_.push_back(std::make_shared<Conn>(*this));
      return conns_.back();
    };
    http::ServerOptions options;
    options.threads = 1;
    options.websockets.push_back(std::move(route));
    if (tls) {
      options.tls_cert_file = tls->cert_file;
      options.tls_key_file = tls->key_file;
    }
    auto started = http::Server::Start(
        std::move(options), [](const http::Request&) { return http::Response{404}; },
        [](const http::Request&, int status, std::string_view) { return http::Response{status}; });
    EXPECT_TRUE(started.has_value()) << started.error().message;
    server_ = std::move(*started);
  }

  // "http://127.0.0.1:<port><prefix>" (or https).
  std::string Endpoint(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(server_->port()) + prefix_;
  }

  // What an agent session is given to reach this fake: Endpoint(scheme), the key it accepts,
  // the region it checks, a test agent's version, and a short backoff.
  SessionOptions Session(const std::string& cluster_arn, const std::string& instance_arn,
                         const std::string& scheme = "http") const {
    SessionOptions o;
    o.endpoint = Endpoint(scheme);
    o.cluster_arn = cluster_arn;
    o.container_instance_arn = instance_arn;
    o.region = "us-east-1";
    o.credentials = {.access_key_id = "AKIDAGENT", .secret_access_key = "agent-secret"};
    o.agent_version = "1.89.0";
    o.agent_hash = "abc123";
    o.docker_version = "DockerVersion: berth 0.1";
    o.backoff_min = 20ms;
    o.backoff_max = 200ms;
    return o;
  }

  // Waits for the n-th (from 1) connection to open.
  bool WaitOpen(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return open_.size() >= n; });
  }
  // Sends {type, message} on the newest connection.
  void Send(const std::string& type, Json message) {
    std::lock_guard lock(mu_);
    open_.back()->socket->Send(json::Dump({{"type", type}, {"message", std::move(message)}}));
  }
  // The n-th (from 0) message the agent sent, waiting for it; its type and body.
  std::pair<std::string, Json> Received(size_t n) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, 5s, [&] { return received_.size() > n; })) return {"(none)", {}};
    return received_[n];
  }
  size_t ReceivedCount() {
    std::lock_guard lock(mu_);
    return received_.size();
  }
  // The close code of the n-th connection (from 1), waiting for it.
  uint16_t WaitClosed(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 5s, [&] { return open_.size() >= n && open_[n - 1]->close_code != 0; });
    return open_.size() >= n ? open_[n - 1]->close_code : 0;
  }
  void CloseNewest() {
    std::lock_guard lock(mu_);
    open_.back()->socket->Close(1001, "going away");
  }
  // The query and path of each accepted upgrade.
  std::vector<std::string> queries() {
    std::lock_guard lock(mu_);
    return queries_;
  }
  std::vector<std::string> paths() {
    std::lock_guard lock(mu_);
    return paths_;
  }
  int WaitRefused(int n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 5s, [&] { return refused_ >= n; });
    return refused_;
  }
  size_t Upgrades() {
    std::lock_guard lock(mu_);
    return queries_.size() + refused_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  aws::FakeResolver resolver_;
  std::vector<std::shared_ptr<Conn>> conns_;
  std::vector<Conn*> open_;
  std::vector<std::string> queries_;
  std::vector<std::string> paths_;
  std::vector<std::pair<std::string, Json>> received_;
  int refused_ = 0;
  std::string prefix_;
  std::unique_ptr<http::Server> server_;
};

// Polls `done` for up to 5 s (what the session counts lags the server's view a little).
template <class F>
bool Eventually(F done) {
  for (auto end = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < end;) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

}  // namespace berth::agent::wsclient
