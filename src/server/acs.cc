#include "server/acs.h"

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "common/arn.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"
#include "ecs/task_definition_codec.h"
#include "server/agent_peer.h"

namespace berth::server {

namespace {

using json::Json;

int64_t EpochMillis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string SessionKey(const std::string& account, const std::string& region,
                       const std::string& cluster, const std::string& instance_id) {
  return fmt::format("{}/{}/{}/{}", account, region, cluster, instance_id);
}

// The ARN prefix "arn:aws:ecs:<region>:<account>:" of an ECS ARN.
std::string ArnPrefix(const std::string& arn) {
  size_t colon = 0;
  for (int i = 0; i < 5 && colon != std::string::npos; ++i) colon = arn.find(':', colon + 1);
  return colon == std::string::npos ? std::string() : arn.substr(0, colon + 1);
}

// The ARN of the cluster a task belongs to (on the Fargate pool's sessions, not the session's).
std::string TaskClusterArn(const ecs::Task& task) {
  return ArnPrefix(task.arn) + "cluster/" + task.cluster;
}

std::string RegionOfArn(const std::string& arn) {
  auto parsed = ParseArn(arn);
  return parsed ? parsed->region : std::string();
}

Json DockerConfigJson(const ecs::TaskDefinition& td, const ecs::ContainerDefinition& c,
                      const std::string& task_id) {
  ecs::DockerConfig rendered = ecs::RenderDockerConfig(td, c, task_id);
  return {{"version", "1.17"}, {"config", rendered.config}, {"hostConfig", rendered.host_config}};
}

Json CredentialsJson(const std::string& id, const std::string& role_arn,
                     const sts::AssumedRole& assumed) {
  return {{"credentialsId", id},
          {"roleArn", role_arn},
          {"accessKeyId", assumed.credentials.access_key_id},
          {"secretAccessKey", assumed.credentials.secret_access_key},
          {"sessionToken", assumed.credentials.session_token},
          {"expiration", FormatIso8601(assumed.expiration)}};
}

}  // namespace

struct Issued {
  std::string task_arn;
  std::string role_type;  // TaskExecution | TaskApplication
  std::string role_arn;
  std::string credentials_id;
  TimePoint expiration;
};

struct Session {
  std::string account, region, cluster, cluster_arn, instance_id, instance_arn;
  std::shared_ptr<http::WebSocket> socket;
  std::mutex mu;  // guards issued and seq
  std::vector<Issued> issued;
  int seq = 1;
};

struct AcsSessions::Impl {
  aws::Gateway& gateway;
  iam::AccessControl& access;
  sts::Service& sts;
  Ids& ids;
  const Clock& clock;
  AcsOptions options;
  ecs::Service* ecs = nullptr;

  mutable std::mutex mu;
  std::map<std::string, std::shared_ptr<Session>> sessions;
  // Serializes telling the service about sessions (AcsHandler::SyncPresence); before mu.
  std::mutex presence_mu;

  std::mutex loop_mu;
  std::condition_variable loop_cv;
  bool stopping = false;
  std::thread loop;

  Impl(aws::Gateway& g, iam::AccessControl& a, sts::Service& s, Ids& i, const Clock& c,
       AcsOptions o)
      : gateway(g), access(a), sts(s), ids(i), clock(c), options(o) {}

  std::string Key(const Session& s) const {
    return SessionKey(s.account, s.region, s.cluster, s.instance_id);
  }

  std::shared_ptr<Session> Find(const std::string& key) const {
    std::lock_guard lock(mu);
    auto it = sessions.find(key);
    return it == sessions.end() ? nullptr : it->second;
  }

  // Mints credentials of `role_arn` for `task`; records them in `session`.
  std::optional<Json> Mint(Session& session, const ecs::Task& task, const std::string& role_arn,
                           const std::string& role_type) {
    sts::AssumeRoleRequest request;
    request.role_arn = role_arn;
    request.session_name = task.id;
    request.duration_seconds = options.credentials_seconds;
    auto assumed = sts.AssumeRoleAsService("ecs-tasks.amazonaws.com", request);
    if (!assumed) {
      log::Warn("acs: cannot assume a task role", {{"task", task.arn},
                                                   {"role", role_arn},
                                                   {"error", assumed.error().message}});
      return std::nullopt;
    }
    std::string id = ids.Uuid();
    {
      std::lock_guard lock(session.mu);
      std::erase_if(session.issued, [&](const Issued& i) {
        return i.task_arn == task.arn && i.role_type == role_type;
      });
      session.issued.push_back({task.arn, role_type, role_arn, id, assumed->expiration});
    }
    return CredentialsJson(id, role_arn, *assumed);
  }

  Json TaskPayload(Session& session, const ecs::Task& task) {
    // A task's account and region are its ARN's: on the Fargate pool's sessions, another
    // account's than the session's.
    auto arn = ParseArn(task.arn);
    std::string account = arn ? arn->account : session.account;
    std::string task_region = arn ? arn->region : session.region;
    Json j = {{"arn", task.arn},
              {"taskClusterArn", TaskClusterArn(task)},
              {"family", task.family},
              {"version", std::to_string(task.version)},
              {"desiredStatus", task.desired_status},
              {"taskDefinitionAccountId", account},
              {"launchType", task.launch_type},
              {"networkMode", task.network_mode},
              {"group", task.group},
              {"volumes", Json::array()},
              {"attachments", Json::array()},
              {"elasticNetworkInterfaces", Json::array()},
              {"associations", Json::array()}};
    Json overrides = Json::object();
    Json container_overrides = Json::array();
    for (const auto& o : task.overrides.container_overrides) {
      Json co = {{"name", o.name}};
      if (o.command) co["command"] = *o.command;
      container_overrides.push_back(std::move(co));
    }
    overrides["containerOverrides"] = std::move(container_overrides);
    j["overrides"] = json::Dump(overrides);
    if (!task.cpu.empty()) j["cpu"] = std::atof(task.cpu.c_str()) / 1024.0;
    if (!task.memory.empty()) j["memory"] = std::atoi(task.memory.c_str());
    if (task.desired_status == "STOPPED" || !ecs) {
      j["containers"] = Json::array();
      return j;
    }
    auto td = ecs->TaskDefinitionOf(account, task_region, task.task_definition_arn);
    if (!td) {
      log::Warn("acs: task definition of a task is gone", {{"task", task.arn}});
      j["containers"] = Json::array();
      return j;
    }
    if (!task.execution_role_arn.empty()) {
      if (auto creds = Mint(session, task, task.execution_role_arn, "TaskExecution")) {
        j["executionRoleCredentials"] = std::move(*creds);
      }
    }
    if (!task.task_role_arn.empty()) {
      if (auto creds = Mint(session, task, task.task_role_arn, "TaskApplication")) {
        j["roleCredentials"] = std::move(*creds);
      }
    }
    Json containers = Json::array();
    for (const auto& c : td->containers) {
      ecs::ContainerDefinition def = c;
      std::map<std::string, std::string> env;
      for (const auto& e : def.environment) env[e.name] = e.value;
      std::vector<std::string> command = def.command;
      for (const auto& o : task.overrides.container_overrides) {
        if (o.name != def.name) continue;
        if (o.command) command = *o.command;
        for (const auto& e : o.environment) env[e.name] = e.value;
        if (o.cpu) def.cpu = *o.cpu;
        if (o.memory) def.memory = *o.memory;
        if (o.memory_reservation) def.memory_reservation = *o.memory_reservation;
      }
      auto arn = std::find_if(task.containers.begin(), task.containers.end(),
                              [&](const ecs::Container& tc) { return tc.name == def.name; });
      Json port_mappings = Json::array();
      for (const auto& p : def.port_mappings) {
        port_mappings.push_back({{"containerPort", p.container_port},
                                 {"hostPort", p.host_port.value_or(0)},
                                 {"protocol", p.protocol}});
      }
      Json cj = {{"name", def.name},
                 {"image", def.image},
                 {"cpu", def.cpu},
                 {"memory", def.memory.value_or(0)},
                 {"essential", def.essential},
                 {"command", command},
                 {"entryPoint", def.entry_point},
                 {"environment", env},
                 {"portMappings", std::move(port_mappings)},
                 {"mountPoints", Json::array()},
                 {"volumesFrom", Json::array()},
                 {"links", Json::array()},
                 {"overrides", "{}"},
                 {"dockerConfig", DockerConfigJson(*td, def, task.id)}};
      if (arn != task.containers.end()) cj["containerArn"] = arn->arn;
      if (def.credentials_parameter) {
        std::string region = LooksLikeArn(*def.credentials_parameter)
                                 ? RegionOfArn(*def.credentials_parameter)
                                 : task_region;
        cj["registryAuthentication"] = {
            {"type", "asm"},
            {"asmAuthData",
             {{"credentialsParameter", *def.credentials_parameter}, {"region", region}}}};
      }
      if (def.log_configuration && def.log_configuration->log_driver == "awslogs" &&
          !task.execution_role_arn.empty()) {
        cj["logsAuthStrategy"] = "ExecutionRole";
      }
      if (!def.secrets.empty()) {
        Json secrets = Json::array();
        for (const auto& s : def.secrets) {
          bool asm_secret = s.value.find(":secretsmanager:") != std::string::npos;
          secrets.push_back({{"name", s.name},
                             {"valueFrom", s.value},
                             {"type", "ENVIRONMENT_VARIABLE"},
                             {"provider", asm_secret ? "asm" : "ssm"},
                             {"region", LooksLikeArn(s.value) ? RegionOfArn(s.value) : task_region},
                             {"target", "CONTAINER"}});
        }
        cj["secrets"] = std::move(secrets);
      }
      if (!def.depends_on.empty()) {
        Json deps = Json::array();
        for (const auto& d : def.depends_on) {
          deps.push_back({{"containerName", d.container_name}, {"condition", d.condition}});
        }
        cj["dependsOn"] = std::move(deps);
      }
      if (def.start_timeout) cj["startTimeout"] = *def.start_timeout;
      if (def.stop_timeout) cj["stopTimeout"] = *def.stop_timeout;
      if (def.health_check) cj["healthCheckType"] = "docker";
      containers.push_back(std::move(cj));
    }
    j["containers"] = std::move(containers);
    return j;
  }

  void SendPayload(Session& session, const std::vector<const ecs::Task*>& tasks) {
    if (tasks.empty()) return;
    Json list = Json::array();
    for (const ecs::Task* t : tasks) list.push_back(TaskPayload(session, *t));
    int seq;
    {
      std::lock_guard lock(session.mu);
      seq = session.seq++;
    }
    Json message = {{"type", "PayloadMessage"},
                    {"message",
                     {{"clusterArn", session.cluster_arn},
                      {"containerInstanceArn", session.instance_arn},
                      {"tasks", std::move(list)},
                      {"generatedAt", EpochMillis(clock.Now())},
                      {"messageId", ids.Uuid()},
                      {"seqNum", seq}}}};
    session.socket->Send(json::Dump(message));
  }

  void SendManifest(Session& session, const ecs::Service::TaskRecords& tasks) {
    Json list = Json::array();
    for (const auto& t : tasks) {
      if (t->last_status == "STOPPED") continue;
      list.push_back({{"taskArn", t->arn},
                      {"taskClusterArn", TaskClusterArn(*t)},
                      {"desiredStatus", t->desired_status}});
    }
    int64_t now = EpochMillis(clock.Now());
    Json message = {{"type", "TaskManifestMessage"},
                    {"message",
                     {{"clusterArn", session.cluster_arn},
                      {"containerInstanceArn", session.instance_arn},
                      {"tasks", std::move(list)},
                      {"generatedAt", now},
                      {"messageId", ids.Uuid()},
                      {"timeline", now}}}};
    session.socket->Send(json::Dump(message));
  }

  ecs::Service::TaskRecords Tasks(const Session& s) {
    if (!ecs) return {};
    auto tasks = ecs->TasksOfInstance(s.account, s.region, s.cluster, s.instance_id);
    if (!tasks) {
      log::Warn("acs: cannot read an instance's tasks", {{"error", tasks.error().message}});
      return {};
    }
    return std::move(*tasks);
  }

  void OnMessage(const std::shared_ptr<Session>& session, const std::string& text) {
    auto parsed = json::ParseObject(text);
    if (!parsed) return;
    std::string type = parsed->value("type", "");
    const Json* message = nullptr;
    if (auto it = parsed->find("message"); it != parsed->end() && it->is_object()) message = &*it;
    if (type == "TaskStopVerificationMessage" && message) {
      // Stop what the agent runs that is not to run.
      ecs::Service::TaskRecords tasks = Tasks(*session);
      Json stop = Json::array();
      if (auto c = message->find("stopCandidates"); c != message->end() && c->is_array()) {
        for (const auto& candidate : *c) {
          std::string arn = candidate.is_object() ? candidate.value("taskArn", "") : "";
          auto it = std::find_if(tasks.begin(), tasks.end(),
                                 [&](const auto& t) { return t->arn == arn; });
          if (it == tasks.end() || (*it)->desired_status == "STOPPED") {
            stop.push_back({{"taskArn", arn},
                            {"taskClusterArn",
                             it == tasks.end() ? session->cluster_arn : TaskClusterArn(**it)},
                            {"desiredStatus", "STOPPED"}});
          }
        }
      }
      Json ack = {{"type", "TaskStopVerificationAck"},
                  {"message",
                   {{"generatedAt", EpochMillis(clock.Now())},
                    {"messageId", message->value("messageId", "")},
                    {"stopTasks", std::move(stop)}}}};
      session->socket->Send(json::Dump(ack));
    }
    // AckRequest, HeartbeatAckRequest, IAMRoleCredentialsAckRequest: nothing
    // to do; what was sent is sent again on reconnect.
  }

  void Refresh(const std::shared_ptr<Session>& session) {
    TimePoint now = clock.Now();
    std::vector<Issued> due;
    {
      std::lock_guard lock(session->mu);
      for (const auto& i : session->issued) {
        if (i.expiration - now < options.refresh_before) due.push_back(i);
      }
    }
    if (due.empty()) return;
    ecs::Service::TaskRecords tasks = Tasks(*session);
    for (const auto& i : due) {
      auto it = std::find_if(tasks.begin(), tasks.end(),
                             [&](const auto& t) { return t->arn == i.task_arn; });
      if (it == tasks.end() || (*it)->last_status == "STOPPED") {
        std::lock_guard lock(session->mu);
        std::erase_if(session->issued, [&](const Issued& x) {
          return x.credentials_id == i.credentials_id;
        });
        continue;
      }
      auto creds = Mint(*session, **it, i.role_arn, i.role_type);
      if (!creds) continue;
      Json message = {{"type", "IAMRoleCredentialsMessage"},
                      {"message",
                       {{"taskArn", (*it)->arn},
                        {"taskClusterArn", session->cluster_arn},
                        {"roleCredentials", std::move(*creds)},
                        {"roleType", i.role_type},
                        {"messageId", ids.Uuid()}}}};
      session->socket->Send(json::Dump(message));
    }
  }
};

namespace {

class AcsHandler final : public http::WebSocketHandler {
 public:
  AcsHandler(AcsSessions::Impl& impl, std::shared_ptr<Session> session)
      : impl_(impl), session_(std::move(session)) {}

  void OnOpen(std::shared_ptr<http::WebSocket> socket) override {
    session_->socket = std::move(socket);
    std::shared_ptr<Session> replaced;
    {
      std::lock_guard lock(impl_.mu);
      auto& slot = impl_.sessions[impl_.Key(*session_)];
      replaced = std::exchange(slot, session_);
    }
    if (replaced) replaced->socket->Close(1000, "replaced by a new connection");
    SyncPresence();
    log::Info("acs: agent connected", {{"instance", session_->instance_arn}});
    ecs::Service::TaskRecords tasks = impl_.Tasks(*session_);
    std::vector<const ecs::Task*> live;
    for (const auto& t : tasks) {
      if (t->last_status != "STOPPED") live.push_back(t.get());
    }
    impl_.SendPayload(*session_, live);
  }

  void OnMessage(std::string text) override { impl_.OnMessage(session_, text); }

  void OnClose(uint16_t code, std::string reason) override {
    bool last = false;
    {
      std::lock_guard lock(impl_.mu);
      auto it = impl_.sessions.find(impl_.Key(*session_));
      last = it != impl_.sessions.end() && it->second == session_;
      if (last) impl_.sessions.erase(it);
    }
    // A session replaced by a newer one leaves the instance connected.
    if (last) SyncPresence();
    log::Info("acs: agent disconnected", {{"instance", session_->instance_arn},
                                          {"code", std::to_string(code)},
                                          {"reason", reason}});
  }

 private:
  // Tells the service whether the instance has a session now, after this
  // session's change of its slot. Each call reads the slot as it is when it
  // runs, one call at a time, so the last call carries the final state
  // whatever order a closing session and its successor reach here.
  void SyncPresence() {
    if (!impl_.ecs) return;
    std::lock_guard presence(impl_.presence_mu);
    bool connected = impl_.Find(impl_.Key(*session_)) != nullptr;
    impl_.ecs->SetAgentConnected(session_->account, session_->region, session_->cluster,
                                 session_->instance_id, connected);
  }

  AcsSessions::Impl& impl_;
  std::shared_ptr<Session> session_;
};

}  // namespace

AcsSessions::AcsSessions(aws::Gateway& gateway, iam::AccessControl& access, sts::Service& sts,
                         Ids& ids, const Clock& clock, AcsOptions options)
    : impl_(std::make_unique<Impl>(gateway, access, sts, ids, clock, options)) {}

AcsSessions::~AcsSessions() { Stop(); }

void AcsSessions::SetService(ecs::Service* ecs) { impl_->ecs = ecs; }

http::UpgradeDecision AcsSessions::Upgrade(const http::Request& request) {
  auto peer = AuthorizeAgentUpgrade(impl_->gateway, impl_->ecs, impl_->ids, request,
                                    {"clusterArn", "containerInstanceArn", "ecs:Poll"});
  if (auto* refused = std::get_if<http::Response>(&peer)) return std::move(*refused);
  auto& p = std::get<AgentPeer>(peer);
  auto session = std::make_shared<Session>();
  session->account = std::move(p.account);
  session->region = std::move(p.region);
  session->cluster = std::move(p.cluster);
  session->instance_id = std::move(p.instance_id);
  session->instance_arn = std::move(p.instance_arn);
  session->cluster_arn = std::move(p.cluster_arn);
  return std::make_shared<AcsHandler>(*impl_, std::move(session));
}

void AcsSessions::OnTaskChange(const ecs::Task* previous, const ecs::Task& task) {
  if (task.container_instance_id.empty()) return;
  // Only what the agent acts on: a new task (or one placed now, after waiting for capacity),
  // and a task to stop.
  bool dispatch = !previous || previous->desired_status != task.desired_status ||
                  previous->container_instance_id != task.container_instance_id;
  if (!dispatch || task.last_status == "STOPPED") return;
  if (!impl_->ecs) return;
  // The instance's session: in the task's cluster, or the Fargate pool's for a pool task.
  ecs::InstanceLocation at = impl_->ecs->InstanceLocationOf(task);
  auto session =
      impl_->Find(SessionKey(at.account, at.region, at.cluster, task.container_instance_id));
  if (!session) return;  // sent when the agent connects
  impl_->SendPayload(*session, {&task});
}

void AcsSessions::Tick() {
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [_, s] : impl_->sessions) sessions.push_back(s);
  }
  for (auto& s : sessions) {
    json::Json heartbeat = {{"type", "HeartbeatMessage"},
                            {"message", {{"healthy", true}, {"messageId", impl_->ids.Uuid()}}}};
    s->socket->Send(json::Dump(heartbeat));
    impl_->SendManifest(*s, impl_->Tasks(*s));
    impl_->Refresh(s);
  }
}

void AcsSessions::Start() {
  std::lock_guard lock(impl_->loop_mu);
  if (impl_->loop.joinable()) return;
  impl_->stopping = false;
  impl_->loop = std::thread([this] {
    std::unique_lock lock(impl_->loop_mu);
    while (!impl_->stopping) {
      impl_->loop_cv.wait_for(lock, impl_->options.heartbeat_interval);
      if (impl_->stopping) break;
      lock.unlock();
      Tick();
      lock.lock();
    }
  });
}

void AcsSessions::Stop() {
  {
    std::lock_guard lock(impl_->loop_mu);
    impl_->stopping = true;
  }
  impl_->loop_cv.notify_all();
  if (impl_->loop.joinable()) impl_->loop.join();
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [_, s] : impl_->sessions) sessions.push_back(s);
  }
  for (auto& s : sessions) s->socket->Close(1001, "server stopping");
}

}  // namespace berth::server
