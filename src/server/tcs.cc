#include "server/tcs.h"

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"
#include "server/agent_peer.h"

namespace berth::server {

using json::Json;

namespace {

struct Session : AgentPeer {
  std::shared_ptr<http::WebSocket> socket;
};

void Reply(http::WebSocket& socket, std::string_view type, const std::string& text) {
  socket.Send(json::Dump({{"type", type}, {"message", {{"message", text}}}}));
}

// The string member `key` of `j` ("" when absent or not a string).
std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

struct TcsSessions::Impl {
  Impl(aws::Gateway& g, Ids& i) : gateway(g), ids(i) {}

  aws::Gateway& gateway;
  Ids& ids;
  ecs::Service* ecs = nullptr;
  std::mutex mu;
  std::map<Session*, std::shared_ptr<Session>> sessions;

  void OnMessage(Session& session, const std::string& text) {
    auto parsed = json::ParseObject(text);
    if (!parsed) {
      Reply(*session.socket, "BadRequestException", "The message is not a JSON object.");
      return;
    }
    std::string type = Str(*parsed, "type");
    auto m = parsed->find("message");
    if (type == "HeartbeatMessage") return;
    if (m == parsed->end() || !m->is_object()) {
      Reply(*session.socket, "BadRequestException", "The message has no message object.");
      return;
    }
    if (type == "PublishHealthRequest") {
      PublishHealth(session, *m);
    } else if (type == "PublishMetricsRequest") {
      Reply(*session.socket, "AckPublishMetric", "");
    } else if (type == "PublishInstanceStatusRequest") {
      Reply(*session.socket, "AckPublishInstanceStatus", "");
    } else {
      Reply(*session.socket, "BadRequestException",
            fmt::format("Unknown message type: {}", Utf8Prefix(type, 64)));
    }
  }

  void PublishHealth(Session& session, const Json& m) {
    // The metadata names this session's instance (by ARN) or nothing else.
    if (auto meta = m.find("metadata"); meta != m.end() && meta->is_object()) {
      std::string instance = Str(*meta, "containerInstance");
      std::string cluster = Str(*meta, "cluster");
      if ((!instance.empty() && instance != session.instance_arn &&
           instance != session.instance_id) ||
          (!cluster.empty() && cluster != session.cluster_arn && cluster != session.cluster)) {
        Reply(*session.socket, "InvalidParameterException",
              "The metadata names another container instance or cluster than the session's.");
        return;
      }
    }
    std::vector<ecs::TaskHealthReport> reports;
    if (auto tasks = m.find("tasks"); tasks != m.end() && tasks->is_array()) {
      for (const auto& t : *tasks) {
        if (!t.is_object()) continue;
        ecs::TaskHealthReport r{Str(t, "taskArn"), {}};
        if (auto cs = t.find("containers"); cs != t.end() && cs->is_array()) {
          for (const auto& c : *cs) {
            if (c.is_object()) r.containers.push_back({Str(c, "containerName"), Str(c, "healthStatus")});
          }
        }
        reports.push_back(std::move(r));
      }
    }
    if (!ecs) {
      Reply(*session.socket, "ServerException", "ECS is not ready.");
      return;
    }
    auto done = ecs->PublishHealth(session.account, session.region, session.cluster,
                                   session.instance_id, reports);
    if (!done) {
      // The agent's own mistakes are named; anything else stays on the server.
      if (done.error().code == "InvalidParameterException") {
        Reply(*session.socket, done.error().code, done.error().message);
      } else {
        log::Warn("tcs: cannot record health", {{"instance", session.instance_arn},
                                                {"message", done.error().message}});
        Reply(*session.socket, "ServerException", "The health report could not be recorded.");
      }
      return;
    }
    Reply(*session.socket, "AckPublishHealth", "");
  }
};

namespace {

class TcsHandler final : public http::WebSocketHandler {
 public:
  TcsHandler(TcsSessions::Impl& impl, std::shared_ptr<Session> session)
      : impl_(impl), session_(std::move(session)) {}

  void OnOpen(std::shared_ptr<http::WebSocket> socket) override {
    session_->socket = std::move(socket);
    std::lock_guard lock(impl_.mu);
    impl_.sessions[session_.get()] = session_;
  }

  void OnMessage(std::string text) override { impl_.OnMessage(*session_, text); }

  void OnClose(uint16_t, std::string) override {
    std::lock_guard lock(impl_.mu);
    impl_.sessions.erase(session_.get());
  }

 private:
  TcsSessions::Impl& impl_;
  std::shared_ptr<Session> session_;
};

}  // namespace

TcsSessions::TcsSessions(aws::Gateway& gateway, Ids& ids)
    : impl_(std::make_unique<Impl>(gateway, ids)) {}

TcsSessions::~TcsSessions() { Stop(); }

void TcsSessions::SetService(ecs::Service* ecs) { impl_->ecs = ecs; }

http::UpgradeDecision TcsSessions::Upgrade(const http::Request& request) {
  auto peer = AuthorizeAgentUpgrade(impl_->gateway, impl_->ecs, impl_->ids, request,
                                    {"cluster", "containerInstance", "ecs:StartTelemetrySession"});
  if (auto* refused = std::get_if<http::Response>(&peer)) return std::move(*refused);
  auto session = std::make_shared<Session>();
  static_cast<AgentPeer&>(*session) = std::move(std::get<AgentPeer>(peer));
  return std::make_shared<TcsHandler>(*impl_, std::move(session));
}

void TcsSessions::Stop() {
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [_, s] : impl_->sessions) sessions.push_back(s);
  }
  for (auto& s : sessions) {
    if (s->socket) s->socket->Close(1001, "server stopping");
  }
}

}  // namespace berth::server
