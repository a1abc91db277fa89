// What the agent's ECS websocket sessions share (ACS, acs/session.h; TCS, tcs/session.h), as
// the ECS agent's wsclient package does: the URL of an endpoint's websocket, and a connection
// kept open on a thread of its own: the upgrade GET signed with SigV4 for service "ecs", and
// every drop followed by a reconnect with backoff (250 ms x1.5 up to 2 min, 20 % jitter,
// ECS-FACTS §3.1).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "aws/sigv4.h"
#include "common/clock.h"
#include "common/error.h"

namespace berth::http {
class WebSocketClient;
}

namespace berth::agent::wsclient {

// Where an upgrade goes: "wss://host:port/path/ws?query", and what SigV4 signs of it.
struct Url {
  std::string url;
  std::string host;    // host[:port]
  std::string target;  // "/path/ws?query"
};

// `endpoint` "https://host[:port][/path]" (wss) or "http://..." (ws) + "/ws?" + `query`
// (already URL-encoded). Error "InvalidEndpoint" for another scheme; `what` ("ACS", "TCS")
// names the endpoint in its message.
Result<Url> WebSocketUrl(std::string_view what, std::string_view endpoint,
                         std::string_view query);

// What every ECS websocket session of the agent is given (AcsOptions and TcsOptions add their
// own).
struct SessionOptions {
  std::string endpoint;  // from DiscoverPollEndpoint: "https://127.0.0.1:4566[/path]"
  std::string cluster_arn;
  std::string container_instance_arn;
  std::string region;
  aws::Credentials credentials;  // the agent's own; never logged
  std::string ca_file;
  std::string agent_version;
  std::string agent_hash;
  std::string docker_version;
  std::chrono::milliseconds backoff_min{250};
  std::chrono::milliseconds backoff_max{120'000};
};

class Reconnecting {
 public:
  // The URL of the next attempt (called before each one; an error is logged and retried
  // after the backoff).
  using UrlFn = std::function<Result<Url>()>;
  // Serves one open connection until it drops (or should be closed), on the session's thread.
  // The connection is closed when it returns; Stop() closes it under it.
  using ServeFn = std::function<void(http::WebSocketClient& client)>;

  // `name` starts its log lines ("acs: connected").
  Reconnecting(std::string name, SessionOptions options, UrlFn url, ServeFn serve,
               const Clock& clock = SystemClock::Instance());
  ~Reconnecting();  // Stop()s and joins

  void Start();
  void Stop();
  // True once Stop() was called (a ServeFn returns soon after).
  bool Stopping() const;
  bool Connected() const;
  int Connections() const;  // connections made so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::agent::wsclient
