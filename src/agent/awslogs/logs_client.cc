// NewLogsClient (shipper.h): CloudWatch Logs' JSON 1.1 protocol over aws::CallJson.
#include <fmt/format.h>

#include <mutex>

#include "agent/awslogs/shipper.h"
#include "aws/json_client.h"
#include "common/json.h"
#include "common/log.h"
#include "http/client.h"

namespace berth::agent::awslogs {

namespace {

using json::Json;

class HttpLogsClient final : public LogsClient {
 public:
  HttpLogsClient(const Config& config, CredentialsProvider credentials, const Clock& clock)
      : endpoint_(config.endpoint),
        region_(config.region),
        credentials_(std::move(credentials)),
        clock_(clock),
        http_({.ca_file = config.ca_file}) {}

  Status CreateLogGroup(const std::string& group) override {
    return Call("CreateLogGroup", Json{{"logGroupName", group}});
  }

  Status CreateLogStream(const std::string& group, const std::string& stream) override {
    return Call("CreateLogStream", Json{{"logGroupName", group}, {"logStreamName", stream}});
  }

  Status PutLogEvents(const std::string& group, const std::string& stream,
                      std::span<const Event> events) override {
    Json list = Json::array();
    for (const Event& e : events) {
      list.push_back(Json{{"timestamp", e.timestamp}, {"message", e.message}});
    }
    Json body{{"logGroupName", group}, {"logStreamName", stream}, {"logEvents", std::move(list)}};
    auto reply = CallForBody("PutLogEvents", body);
    if (!reply) return Fail(reply.error());
    // Events the service refused (too old, too new, expired) while keeping the rest.
    Json parsed = Json::parse(*reply, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object() && parsed.contains("rejectedLogEventsInfo")) {
      log::Warn("CloudWatch Logs rejected some events",
                {{"group", group}, {"stream", stream},
                 {"rejected", json::Dump(parsed["rejectedLogEventsInfo"])}});
    }
    return {};
  }

 private:
  Status Call(std::string_view op, const Json& body) {
    auto reply = CallForBody(op, body);
    if (!reply) return Fail(reply.error());
    return {};
  }

  Result<std::string> CallForBody(std::string_view op, const Json& body) {
    std::optional<aws::Credentials> credentials = credentials_();
    if (!credentials) {
      return Fail("NoCredentials",
                  "no execution role credentials to sign CloudWatch Logs calls with", 0);
    }
    std::lock_guard lock(mu_);  // one http::Client: one call at a time
    return aws::CallJson(http_,
                         {endpoint_, fmt::format("Logs_20140328.{}", op), region_, "logs",
                          json::Dump(body)},
                         *credentials, clock_.Now());
  }

  const std::string endpoint_;
  const std::string region_;
  const CredentialsProvider credentials_;
  const Clock& clock_;
  std::mutex mu_;
  http::Client http_;
};

}  // namespace

std::unique_ptr<LogsClient> NewLogsClient(const Config& config, CredentialsProvider credentials,
                                          const Clock& clock) {
  return std::make_unique<HttpLogsClient>(config, std::move(credentials), clock);
}

}  // namespace berth::agent::awslogs
