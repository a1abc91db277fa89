#include "agent/acs/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "agent/acs/task_reader.h"
#include "aws/json_client.h"
#include "aws/json_reader.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"
#include "http/websocket_client.h"

namespace berth::agent::acs {

namespace {

using aws::JsonReader;
using json::Json;

Result<wsclient::Url> BuildUrl(const AcsOptions& o, bool send_credentials) {
  return wsclient::WebSocketUrl(
      "ACS", o.endpoint,
      fmt::format("clusterArn={}&containerInstanceArn={}&agentVersion={}&agentHash={}&seqNum=1"
                  "&protocolVersion=2&dockerVersion={}&sendCredentials={}",
                  UriEncode(o.cluster_arn), UriEncode(o.container_instance_arn),
                  UriEncode(o.agent_version), UriEncode(o.agent_hash),
                  UriEncode(o.docker_version), send_credentials ? "true" : "false"));
}

std::string Message(std::string_view type, Json message) {
  return json::Dump({{"type", type}, {"message", std::move(message)}});
}

Json CredentialsAck(const std::string& message_id, const spec::RoleCredentials& c) {
  return {
      {"messageId", message_id}, {"expiration", c.expiration}, {"credentialsId", c.credentials_id}};
}

}  // namespace

struct AcsSession::Impl {
  Impl(AcsOptions o, AcsHandler& h, const Clock& clock)
      : options(std::move(o)),
        handler(h),
        connection(
            "acs", options, [this] { return BuildUrl(options, send_credentials); },
            [this](http::WebSocketClient& client) { Serve(client); }, clock) {}

  AcsOptions options;
  AcsHandler& handler;
  bool send_credentials = true;  // session thread only: until a connection succeeded
  wsclient::Reconnecting connection;  // last: its thread uses the members above

  // One open connection until it drops.
  void Serve(http::WebSocketClient& client) {
    send_credentials = false;
    for (;;) {
      auto text = client.Receive(options.heartbeat_timeout);
      if (!text) {
        if (text.error().code == "Timeout") {
          log::Warn("acs: nothing heard within the heartbeat timeout; reconnecting",
                    {{"timeout_ms", std::to_string(options.heartbeat_timeout.count())}});
        } else if (!connection.Stopping()) {
          log::Info("acs: disconnected", {{"reason", text.error().message}});
        }
        return;
      }
      if (!OnMessage(client, *text)) return;
    }
  }

  void Send(http::WebSocketClient& client, std::string_view type, Json message) {
    if (auto sent = client.Send(Message(type, std::move(message))); !sent) {
      log::Debug("acs: cannot send",
                 {{"type", std::string(type)}, {"error", sent.error().message}});
    }
  }

  // Handles one message; false: close this connection.
  bool OnMessage(http::WebSocketClient& client, const std::string& text) {
    auto in = JsonReader::Parse(text);
    std::string type;
    std::optional<JsonReader> message;
    if (in) {
      type = in->StringOr("type").value_or("");
      if (auto object = in->OptionalObject("message"); object && *object) message = **object;
    }
    if (type.empty() || !message) {
      log::Warn("acs: a message that is not {type, message}",
                {{"text", std::string(Utf8Prefix(text, 200))}});
      return true;
    }
    const JsonReader& m = *message;
    if (type == "PayloadMessage") {
      OnPayload(client, m);
    } else if (type == "HeartbeatMessage") {
      Send(client, "HeartbeatAckRequest", {{"messageId", m.StringOr("messageId").value_or("")}});
    } else if (type == "IAMRoleCredentialsMessage") {
      OnCredentials(client, m);
    } else if (type == "TaskManifestMessage") {
      OnManifest(client, m);
    } else if (type == "TaskStopVerificationAck") {
      std::vector<std::string> stop;
      for (const JsonReader& t : m.ObjectsOr("stopTasks").value_or(std::vector<JsonReader>{})) {
        if (std::string arn = t.StringOr("taskArn").value_or(""); !arn.empty()) stop.push_back(arn);
      }
      if (!stop.empty()) handler.OnStopTasks(stop);
    } else if (type == "CloseMessage") {
      log::Info("acs: the server asked to reconnect",
                {{"message", m.StringOr("message").value_or("")}});
      return false;
    } else {
      log::Warn("acs: message not handled", {{"type", type}});
    }
    return true;
  }

  void OnPayload(http::WebSocketClient& client, const JsonReader& m) {
    std::string message_id = m.StringOr("messageId").value_or("");
    std::string cluster = m.StringOr("clusterArn").value_or("");
    std::string instance = m.StringOr("containerInstanceArn").value_or("");
    if (message_id.empty() || cluster.empty() || instance.empty()) {
      log::Warn("acs: a PayloadMessage without messageId, clusterArn or containerInstanceArn");
      return;
    }
    std::vector<spec::TaskSpec> tasks;
    for (const JsonReader& t : m.ObjectsOr("tasks").value_or(std::vector<JsonReader>{})) {
      auto task = ReadTask(t);
      if (!task) {
        std::string arn = t.StringOr("arn").value_or("");
        log::Warn("acs: unrecognized task", {{"task", arn}, {"error", task.error().message}});
        handler.OnUnrecognizedTask(arn, task.error());
        continue;
      }
      tasks.push_back(std::move(*task));
    }
    // As the ECS agent: tasks to run before tasks to stop.
    std::stable_partition(tasks.begin(), tasks.end(),
                          [](const spec::TaskSpec& t) { return t.desired_status != "STOPPED"; });
    if (!tasks.empty() && !handler.OnTasks(tasks)) {
      log::Warn("acs: did not handle all tasks; the payload is not acked",
                {{"message", message_id}});
      return;
    }
    Send(client, "AckRequest",
         {{"cluster", cluster}, {"containerInstance", instance}, {"messageId", message_id}});
    for (const auto& t : tasks) {
      for (const auto* c : {&t.task_role, &t.execution_role}) {
        if (*c) Send(client, "IAMRoleCredentialsAckRequest", CredentialsAck(message_id, **c));
      }
    }
  }

  void OnCredentials(http::WebSocketClient& client, const JsonReader& m) {
    std::string message_id = m.StringOr("messageId").value_or("");
    std::string task_arn = m.StringOr("taskArn").value_or("");
    std::string role_type = m.StringOr("roleType", "TaskApplication").value_or("TaskApplication");
    auto object = m.OptionalObject("roleCredentials");
    if (!object || !*object || task_arn.empty()) {
      log::Warn("acs: an IAMRoleCredentialsMessage without taskArn or roleCredentials");
      return;
    }
    auto credentials = ReadRoleCredentials(**object, role_type);
    if (!credentials) {
      log::Warn("acs: malformed credentials",
                {{"task", task_arn}, {"error", credentials.error().message}});
      return;
    }
    handler.OnCredentials(task_arn, *credentials);
    Send(client, "IAMRoleCredentialsAckRequest", CredentialsAck(message_id, *credentials));
  }

  // Acks the manifest; asks about the tasks the agent runs that it does not list as RUNNING.
  void OnManifest(http::WebSocketClient& client, const JsonReader& m) {
    std::string message_id = m.StringOr("messageId").value_or("");
    std::string cluster = m.StringOr("clusterArn").value_or(options.cluster_arn);
    Send(client, "AckRequest",
         {{"cluster", cluster},
          {"containerInstance", m.StringOr("containerInstanceArn").value_or("")},
          {"messageId", message_id}});
    std::set<std::string> running;
    for (const JsonReader& t : m.ObjectsOr("tasks").value_or(std::vector<JsonReader>{})) {
      if (t.StringOr("desiredStatus").value_or("") == "RUNNING") {
        running.insert(t.StringOr("taskArn").value_or(""));
      }
    }
    Json candidates = Json::array();
    for (const std::string& arn : handler.ActiveTaskArns()) {
      if (running.contains(arn)) continue;
      candidates.push_back(
          {{"taskArn", arn}, {"taskClusterArn", cluster}, {"desiredStatus", "STOPPED"}});
    }
    if (candidates.empty()) return;
    Send(client, "TaskStopVerificationMessage",
         {{"messageId", message_id}, {"stopCandidates", std::move(candidates)}});
  }
};

AcsSession::AcsSession(AcsOptions options, AcsHandler& handler, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), handler, clock)) {}

AcsSession::~AcsSession() { Stop(); }

void AcsSession::Start() { impl_->connection.Start(); }

void AcsSession::Stop() { impl_->connection.Stop(); }

bool AcsSession::Connected() const { return impl_->connection.Connected(); }

int AcsSession::Connections() const { return impl_->connection.Connections(); }

}  // namespace berth::agent::acs
