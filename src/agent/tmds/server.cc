#include "agent/tmds/server.h"

#include <charconv>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "agent/tmds/documents.h"
#include "agent/tmds/rate_limiter.h"
#include "common/log.h"
#include "common/strings.h"
#include "http/server.h"

namespace berth::agent::tmds {
namespace {

constexpr std::string_view kV1Prefix = "CredentialsV1Request: ";
constexpr std::string_view kV2Prefix = "CredentialsV2Request: ";
constexpr std::string_view kV2Path = "/v2/credentials";
constexpr std::string_view kV1Path = "/v1/credentials";
constexpr std::string_view kV4Path = "/v4/";

// ECS_TASK_METADATA_RPS_LIMIT's default.
constexpr double kSteadyRps = 40;
constexpr double kBurst = 60;

http::Response Reply(int status, std::string body, std::string_view type = "application/json") {
  http::Response res;
  res.status = status;
  res.SetHeader("Content-Type", std::string(type));
  res.body = std::move(body);
  return res;
}

http::Response CredentialsFailure(std::string_view prefix, std::string_view code,
                                  std::string_view message) {
  return Reply(400, CredentialsError(code, std::string(prefix) + std::string(message)));
}

// The `id` parameter of a query string ("" when absent).
std::string QueryId(std::string_view query) {
  for (auto& [name, value] : ParseForm(query)) {
    if (name == "id") return value;
  }
  return "";
}

class Impl final : public MetadataServer {
 public:
  Impl() : limiter_(kSteadyRps, kBurst) {}
  ~Impl() override {
    if (server_) server_->Stop(std::chrono::milliseconds(1'000));
  }

  Status Listen(const std::string& listen) {
    auto colon = listen.rfind(':');
    uint16_t port = 0;
    std::string_view port_text = colon == std::string::npos
                                     ? std::string_view()
                                     : std::string_view(listen).substr(colon + 1);
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (colon == std::string::npos || port_text.empty() || ec != std::errc() ||
        end != port_text.data() + port_text.size()) {
      return Fail("BindFailed", "'" + listen + "' is not <ip>:<port>");
    }
    host_ = listen.substr(0, colon);
    http::ServerOptions options;
    options.host = host_;
    options.port = port;
    options.threads = 1;
    options.workers = 4;
    // Only GETs come here: a body or slow headers must not hold a connection for long.
    options.body_limit = 1024;
    options.body_memory_limit = 1 << 20;
    options.header_timeout = std::chrono::milliseconds(5'000);
    options.idle_timeout = std::chrono::milliseconds(30'000);
    options.max_connections = 1024;
    auto server = http::Server::Start(
        std::move(options), [this](const http::Request& r) { return Handle(r); },
        [](const http::Request&, int status, std::string_view reason) {
          return Reply(status, std::string(reason), "text/plain");
        });
    if (!server) return Fail("BindFailed", "metadata endpoint: " + server.error().message);
    server_ = std::move(*server);
    return {};
  }

  std::string Address() const override { return host_ + ":" + std::to_string(server_->port()); }

  void PutTask(const TaskMetadata& task) override {
    auto copy = std::make_shared<const TaskMetadata>(task);
    std::unique_lock lock(mutex_);
    ForgetTaskLocked(task.task_arn, /*keep_credentials=*/true);
    for (const ContainerMetadata& c : copy->containers) {
      if (!c.endpoint_id.empty()) endpoints_[c.endpoint_id] = copy->task_arn;
    }
    if (!copy->ipv4.empty()) ++task_addresses_[copy->ipv4];
    tasks_[copy->task_arn] = std::move(copy);
  }

  void PutCredentials(const std::string& task_arn, const spec::RoleCredentials& creds) override {
    if (creds.role_type == "TaskExecution" || creds.credentials_id.empty()) {
      log::Warn("metadata endpoint: credentials not served",
                {{"task_arn", task_arn},
                 {"credentials_id", creds.credentials_id},
                 {"role_type", creds.role_type}});
      return;
    }
    std::unique_lock lock(mutex_);
    auto old = task_credentials_.find(task_arn);
    if (old != task_credentials_.end()) credentials_.erase(old->second);
    task_credentials_[task_arn] = creds.credentials_id;
    credentials_[creds.credentials_id] = Credentials{task_arn, creds};
  }

  void RemoveTask(const std::string& task_arn) override {
    std::unique_lock lock(mutex_);
    ForgetTaskLocked(task_arn, /*keep_credentials=*/false);
  }

 private:
  struct Credentials {
    std::string task_arn;
    spec::RoleCredentials creds;  // SECRET
  };

  void ForgetTaskLocked(const std::string& task_arn, bool keep_credentials) {
    if (!keep_credentials) {
      auto id = task_credentials_.find(task_arn);
      if (id != task_credentials_.end()) {
        credentials_.erase(id->second);
        task_credentials_.erase(id);
      }
    }
    auto it = tasks_.find(task_arn);
    if (it == tasks_.end()) return;
    for (const ContainerMetadata& c : it->second->containers) {
      auto endpoint = endpoints_.find(c.endpoint_id);
      if (endpoint != endpoints_.end() && endpoint->second == task_arn) endpoints_.erase(endpoint);
    }
    const std::string& ipv4 = it->second->ipv4;
    if (!ipv4.empty() && --task_addresses_[ipv4] <= 0) task_addresses_.erase(ipv4);
    tasks_.erase(it);
  }

  // The task `task_arn` when `peer` may read it: a task with its own address only from that
  // address; a host-network task from any local address but another task's own.
  const TaskMetadata* ReadableTaskLocked(const std::string& task_arn,
                                         const std::string& peer) const {
    auto it = tasks_.find(task_arn);
    if (it == tasks_.end()) return nullptr;
    const TaskMetadata& task = *it->second;
    bool allowed = task.ipv4.empty() ? !task_addresses_.contains(peer) : peer == task.ipv4;
    if (!allowed) {
      log::Warn("metadata endpoint: request from another address refused",
                {{"task_arn", task_arn}, {"peer", peer}});
      return nullptr;
    }
    return &task;
  }

  http::Response Handle(const http::Request& request) {
    if (!limiter_.Allow(request.remote_ip, RateLimiter::Clock::now())) {
      return Reply(429, "You have reached maximum request limit.", "text/plain");
    }
    if (request.method != "GET") {
      http::Response res = Reply(405, "Method Not Allowed", "text/plain");
      res.SetHeader("Allow", "GET");
      return res;
    }
    std::string_view path = request.Path();
    if (path == kV1Path) {
      return ServeCredentials(kV1Prefix, QueryId(request.Query()), request.remote_ip);
    }
    if (path == kV2Path) return ServeCredentials(kV2Prefix, "", request.remote_ip);
    if (path.starts_with(kV2Path) && path[kV2Path.size()] == '/') {
      return ServeCredentials(kV2Prefix, std::string(path.substr(kV2Path.size() + 1)),
                              request.remote_ip);
    }
    if (path.starts_with(kV4Path))
      return ServeMetadata(path.substr(kV4Path.size()), request.remote_ip);
    return Reply(404, "404 page not found", "text/plain");
  }

  http::Response ServeCredentials(std::string_view prefix, const std::string& id,
                                  const std::string& peer) {
    if (id.empty()) {
      return CredentialsFailure(prefix, "NoIdInRequest", "No Credential ID in the request");
    }
    std::shared_lock lock(mutex_);
    auto it = credentials_.find(id);
    if (it == credentials_.end() || !ReadableTaskLocked(it->second.task_arn, peer)) {
      lock.unlock();
      log::Debug("metadata endpoint: credentials not found",
                 {{"credentials_id", id}, {"peer", peer}});
      return CredentialsFailure(prefix, "InvalidIdInRequest", "Credentials not found");
    }
    log::Debug("metadata endpoint: credentials served",
               {{"credentials_id", id}, {"task_arn", it->second.task_arn}, {"peer", peer}});
    return Reply(200, CredentialsDocument(it->second.creds));
  }

  // "<endpoint id>", "<endpoint id>/task" or "<endpoint id>/taskWithTags".
  http::Response ServeMetadata(std::string_view rest, const std::string& peer) {
    auto slash = rest.find('/');
    std::string id(rest.substr(0, slash));
    std::string_view what = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
    bool task_document = what == "task" || what == "taskWithTags";
    if (!what.empty() && !task_document) return Reply(404, "404 page not found", "text/plain");
    std::shared_lock lock(mutex_);
    const TaskMetadata* task = nullptr;
    if (auto endpoint = endpoints_.find(id); endpoint != endpoints_.end()) {
      task = ReadableTaskLocked(endpoint->second, peer);
    }
    if (task != nullptr) {
      if (task_document) return Reply(200, TaskDocument(*task));
      for (const ContainerMetadata& c : task->containers) {
        if (c.endpoint_id == id) return Reply(200, ContainerDocument(*task, c));
      }
    }
    lock.unlock();
    if (task_document) {
      return Reply(404, JsonString("V4 task metadata handler: unable to get task arn from request: "
                                   "unable to get task Arn from v3 endpoint ID: " +
                                   id));
    }
    return Reply(404, JsonString("V4 container metadata handler: unable to get container ID from "
                                 "request: unable to get docker ID from v3 endpoint ID: " +
                                 id));
  }

  std::string host_;
  std::unique_ptr<http::Server> server_;
  RateLimiter limiter_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const TaskMetadata>> tasks_;  // by task ARN
  std::unordered_map<std::string, std::string> endpoints_;         // v4 endpoint id -> task ARN
  std::unordered_map<std::string, Credentials> credentials_;       // by credentials id
  std::unordered_map<std::string, std::string> task_credentials_;  // task ARN -> credentials id
  std::unordered_map<std::string, int> task_addresses_;            // a task's own address -> tasks
};

}  // namespace

Result<std::unique_ptr<MetadataServer>> MetadataServer::Start(const std::string& listen) {
  auto server = std::make_unique<Impl>();
  BERTH_CHECK(server->Listen(listen));
  return std::unique_ptr<MetadataServer>(std::move(server));
}

}  // namespace berth::agent::tmds
