#include "agent/tcs/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <optional>

#include "aws/json_reader.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"
#include "crypto/random.h"
#include "http/websocket_client.h"

namespace berth::agent::tcs {

namespace {

using namespace std::chrono_literals;
using json::Json;
using Steady = std::chrono::steady_clock;

constexpr size_t kMaxStatusMessage = 255;  // bytes
// How long a wait for the server's messages lasts at most (how soon a Notify is seen).
constexpr auto kPoll = 50ms;

Result<wsclient::Url> BuildUrl(const TcsOptions& o) {
  return wsclient::WebSocketUrl(
      "TCS", o.endpoint,
      fmt::format("cluster={}&containerInstance={}&agentVersion={}&agentHash={}&dockerVersion={}",
                  UriEncode(o.cluster_arn), UriEncode(o.container_instance_arn),
                  UriEncode(o.agent_version), UriEncode(o.agent_hash),
                  UriEncode(o.docker_version)));
}

std::string Frame(std::string_view type, Json message) {
  return json::Dump({{"type", type}, {"message", std::move(message)}});
}

Json PublishHealth(const TcsOptions& o, const std::vector<spec::TaskHealth>& tasks, TimePoint now) {
  Json out = Json::array();
  for (const spec::TaskHealth& t : tasks) {
    Json containers = Json::array();
    for (const spec::ContainerHealth& c : t.containers) {
      Json cj = {{"containerName", c.container_name},
                 {"healthStatus", c.health_status},
                 {"statusSince", ToEpochSeconds(c.status_since)}};
      if (!c.status_message.empty()) {
        cj["statusMessage"] = std::string(Utf8Prefix(c.status_message, kMaxStatusMessage));
      }
      containers.push_back(std::move(cj));
    }
    out.push_back({{"taskArn", t.task_arn},
                   {"clusterArn", t.cluster_arn.empty() ? o.cluster_arn : t.cluster_arn},
                   {"taskDefinitionFamily", t.family},
                   {"taskDefinitionVersion", t.version},
                   {"containers", std::move(containers)}});
  }
  return {{"metadata",
           {{"cluster", o.cluster_arn},
            {"containerInstance", o.container_instance_arn},
            {"messageId", crypto::SecureIds().Uuid()},
            {"fin", true}}},
          {"tasks", std::move(out)},
          {"timestamp", ToEpochSeconds(now)}};
}

}  // namespace

struct TcsSession::Impl {
  Impl(TcsOptions o, HealthSource h, const Clock& c)
      : options(std::move(o)),
        health(std::move(h)),
        clock(c),
        connection(
            "tcs", options, [this] { return BuildUrl(options); },
            [this](http::WebSocketClient& client) { Serve(client); }, clock) {}

  TcsOptions options;
  HealthSource health;
  const Clock& clock;

  std::mutex mu;
  std::optional<Steady::time_point> notified;  // the first Notify not yet published
  // The oldest publish not acknowledged yet (the session's thread only).
  std::optional<Steady::time_point> unacked_since;

  wsclient::Reconnecting connection;  // last: its thread uses the members above

  void Notify() {
    std::lock_guard lock(mu);
    if (!notified) notified = Steady::now();
  }

  // Publishes the current state (none when no task has health to report). False: the
  // connection is lost.
  bool Publish(http::WebSocketClient& client) {
    {
      std::lock_guard lock(mu);
      notified.reset();  // a Notify from now on publishes again
    }
    std::vector<spec::TaskHealth> tasks = health();
    if (tasks.empty()) return true;
    if (auto sent = client.Send(Frame("PublishHealthRequest",
                                      PublishHealth(options, tasks, clock.Now())));
        !sent) {
      log::Info("tcs: cannot publish health", {{"error", sent.error().message}});
      return false;
    }
    if (!unacked_since) unacked_since = Steady::now();
    log::Debug("tcs: health published", {{"tasks", int64_t(tasks.size())}});
    return true;
  }

  // One open connection until it drops: the full state first.
  void Serve(http::WebSocketClient& client) {
    Steady::time_point next_publish = Steady::now();
    Steady::time_point next_heartbeat = next_publish + options.heartbeat_interval;
    unacked_since.reset();
    while (!connection.Stopping()) {
      Steady::time_point now = Steady::now();
      if (unacked_since && now - *unacked_since >= options.ack_timeout) {
        log::Warn("tcs: a publish went unacknowledged; reconnecting",
                  {{"timeout_ms", int64_t(options.ack_timeout.count())}});
        return;
      }
      Steady::time_point due = next_publish;
      {
        std::lock_guard lock(mu);
        if (notified) due = std::min(due, *notified + options.coalesce);
      }
      if (now >= due) {
        if (!Publish(client)) return;
        next_publish = now + options.publish_interval;
        continue;
      }
      if (now >= next_heartbeat) {
        if (auto sent = client.Send(Frame("HeartbeatMessage", {{"healthy", true}})); !sent) {
          log::Info("tcs: cannot send a heartbeat", {{"error", sent.error().message}});
          return;
        }
        next_heartbeat = now + options.heartbeat_interval;
        continue;
      }
      Steady::time_point until = std::min(due, next_heartbeat);
      if (unacked_since) until = std::min(until, *unacked_since + options.ack_timeout);
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
      auto text = client.Receive(std::clamp<std::chrono::milliseconds>(wait, 1ms, kPoll));
      if (!text) {
        if (text.error().code == "Timeout") continue;
        if (!connection.Stopping()) {
          log::Info("tcs: disconnected", {{"reason", text.error().message}});
        }
        return;
      }
      unacked_since.reset();  // an answer (an ack, or a refusal): the server keeps up
      OnMessage(*text);
    }
  }

  void OnMessage(const std::string& text) {
    auto in = aws::JsonReader::Parse(text);
    std::string type = in ? in->StringOr("type").value_or("") : "";
    if (type == "AckPublishHealth") return;
    if (type.empty()) {
      log::Warn("tcs: a message that is not {type, message}",
                {{"text", std::string(Utf8Prefix(text, 200))}});
      return;
    }
    // The server refuses a message as {"type": "<code>", "message": {"message": "..."}}.
    std::string why;
    if (auto message = in->OptionalObject("message"); message && *message) {
      why = (*message)->StringOr("message").value_or("");
    }
    log::Warn(type.ends_with("Exception") ? "tcs: the server refused a message"
                                          : "tcs: message not handled",
              {{"type", type}, {"message", std::string(Utf8Prefix(why, 200))}});
  }
};

TcsSession::TcsSession(TcsOptions options, HealthSource health, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(health), clock)) {}

TcsSession::~TcsSession() { Stop(); }

void TcsSession::Start() { impl_->connection.Start(); }

void TcsSession::Stop() { impl_->connection.Stop(); }

bool TcsSession::Connected() const { return impl_->connection.Connected(); }

int TcsSession::Connections() const { return impl_->connection.Connections(); }

void TcsSession::Notify() { impl_->Notify(); }

}  // namespace berth::agent::tcs
