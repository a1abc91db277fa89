// CloudWatch Logs' wire shapes (JSON 1.1, target prefix "Logs_20140328", signing name "logs"),
// as the botocore model logs/2014-03-28 defines them; timestamps are epoch milliseconds. The
// event operations write their replies as text (json_writer.h): a page holds up to 10,000 events.
// Also the module, which sweeps expired events every minute.
#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "aws/json_protocol.h"
#include "common/json_writer.h"
#include "logs/records.h"
#include "logs/service.h"
#include "server/logs_put_parser.h"
#include "server/module.h"
#include "server/routes.h"

namespace berth::server {

namespace {

using aws::JsonReader;
using json::Json;
using Ctx = const aws::RequestContext&;

// CloudWatch Logs answers model validation with InvalidParameterException (the text as Coral
// writes it), where other JSON services say ValidationException.
Error AsLogsError(Error e) {
  if (e.code == "ValidationException") e.code = "InvalidParameterException";
  return e;
}

aws::JsonOperation LogsOp(std::function<Result<Json>(Ctx, const JsonReader&)> fn) {
  return [op = aws::JsonOp(std::move(fn))](Ctx ctx, std::string_view body) -> Result<std::string> {
    auto out = op(ctx, body);
    if (!out) return Fail(AsLogsError(std::move(out.error())));
    return out;
  };
}

aws::JsonOperation LogsTextOp(std::function<Result<std::string>(Ctx, const JsonReader&)> fn) {
  return
      [op = aws::JsonTextOp(std::move(fn))](Ctx ctx, std::string_view body) -> Result<std::string> {
        auto out = op(ctx, body);
        if (!out) return Fail(AsLogsError(std::move(out.error())));
        return out;
      };
}

// An integer the service range-checks, clamped to fit an int (still out of range).
Result<std::optional<int>> SmallInt(const JsonReader& in, std::string_view key) {
  auto v = BERTH_TRY(in.OptionalInt(key));
  if (!v) return std::optional<int>();
  return std::optional<int>(static_cast<int>(std::clamp<int64_t>(*v, -1'000'000, 1'000'000)));
}

Result<logs::GroupName> GroupOf(const JsonReader& in) {
  return logs::GroupName{BERTH_TRY(in.StringOr("logGroupName")),
                         BERTH_TRY(in.StringOr("logGroupIdentifier"))};
}

Json GroupJson(const logs::LogGroup& g) {
  Json out = {
      {"logGroupName", g.name},         {"creationTime", g.creation_time},
      {"metricFilterCount", 0},         {"arn", g.arn},
      {"storedBytes", g.stored_bytes},  {"logGroupClass", g.log_group_class},
      {"logGroupArn", g.log_group_arn}, {"deletionProtectionEnabled", g.deletion_protection}};
  if (g.retention_in_days) out["retentionInDays"] = *g.retention_in_days;
  if (!g.kms_key_id.empty()) out["kmsKeyId"] = g.kms_key_id;
  return out;
}

Json StreamJson(const logs::LogStream& s) {
  Json out = {{"logStreamName", s.name},
              {"creationTime", s.creation_time},
              {"arn", s.arn},
              {"storedBytes", 0}};
  const logs::StreamSummary& sum = s.summary;
  if (sum.first_event_timestamp) out["firstEventTimestamp"] = *sum.first_event_timestamp;
  if (sum.last_event_timestamp) out["lastEventTimestamp"] = *sum.last_event_timestamp;
  if (sum.last_ingestion_time) out["lastIngestionTime"] = *sum.last_ingestion_time;
  return out;
}

Json PolicyJson(const logs::ResourcePolicy& p) {
  return {
      {"policyName", p.name}, {"policyDocument", p.document}, {"lastUpdatedTime", p.last_updated}};
}

void AppendKey(std::string& out, std::string_view key) {
  json::AppendQuoted(out, key);
  out.push_back(':');
}

// {"events":[...], then the caller's members, "}".
std::string EventsText(const std::vector<logs::OutputEvent>& events, bool filtered) {
  std::string out;
  size_t bytes = 0;
  for (const auto& e : events) bytes += e.message.size() + e.stream.size() + 120;
  out.reserve(bytes + 256);
  out.append(R"({"events":[)");
  for (size_t i = 0; i < events.size(); ++i) {
    const logs::OutputEvent& e = events[i];
    if (i > 0) out.push_back(',');
    out.push_back('{');
    if (filtered) {
      AppendKey(out, "logStreamName");
      json::AppendQuoted(out, e.stream);
      out.push_back(',');
    }
    fmt::format_to(std::back_inserter(out), R"("timestamp":{},"message":)", e.timestamp);
    json::AppendQuoted(out, e.message);
    fmt::format_to(std::back_inserter(out), R"(,"ingestionTime":{})", e.ingestion_time);
    if (filtered) {
      out.append(R"(,"eventId":)");
      json::AppendQuoted(out, e.event_id);
    }
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

std::string TagArn(Ctx ctx, const std::string& group) {
  return logs::GroupArn(ctx.region, ctx.caller.account, group);
}

}  // namespace

aws::JsonService LogsRoutes(logs::Service& lg) {
  aws::JsonService svc;
  svc.signing_name = "logs";
  svc.target_prefix = "Logs_20140328";
  auto& ops = svc.operations;

  ops["CreateLogGroup"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    logs::CreateLogGroupRequest req;
    req.name = BERTH_TRY(in.String("logGroupName"));
    req.kms_key_id = BERTH_TRY(in.StringOr("kmsKeyId"));
    req.tags = BERTH_TRY(in.StringMapOr("tags"));
    req.log_group_class = BERTH_TRY(in.StringOr("logGroupClass"));
    req.deletion_protection = BERTH_TRY(in.BoolOr("deletionProtectionEnabled", false));
    BERTH_CHECK(lg.CreateLogGroup(ctx, req));
    return Json::object();
  });

  ops["DeleteLogGroup"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    BERTH_CHECK(lg.DeleteLogGroup(ctx, BERTH_TRY(in.String("logGroupName"))));
    return Json::object();
  });

  ops["DescribeLogGroups"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    logs::DescribeLogGroupsRequest req;
    req.prefix = BERTH_TRY(in.StringOr("logGroupNamePrefix"));
    req.pattern = BERTH_TRY(in.StringOr("logGroupNamePattern"));
    req.limit = BERTH_TRY(SmallInt(in, "limit"));
    req.next_token = BERTH_TRY(in.StringOr("nextToken"));
    auto page = BERTH_TRY(lg.DescribeLogGroups(ctx, req));
    Json groups = Json::array();
    for (const auto& g : page.groups) groups.push_back(GroupJson(g));
    Json out = {{"logGroups", groups}};
    if (!page.next_token.empty()) out["nextToken"] = page.next_token;
    return out;
  });

  ops["PutRetentionPolicy"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto name = BERTH_TRY(in.String("logGroupName"));
    BERTH_CHECK(lg.PutRetentionPolicy(ctx, name, BERTH_TRY(in.OptionalInt("retentionInDays"))));
    return Json::object();
  });

  ops["DeleteRetentionPolicy"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    BERTH_CHECK(lg.DeleteRetentionPolicy(ctx, BERTH_TRY(in.String("logGroupName"))));
    return Json::object();
  });

  ops["CreateLogStream"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto group = BERTH_TRY(in.String("logGroupName"));
    BERTH_CHECK(lg.CreateLogStream(ctx, group, BERTH_TRY(in.String("logStreamName"))));
    return Json::object();
  });

  ops["DeleteLogStream"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto group = BERTH_TRY(in.String("logGroupName"));
    BERTH_CHECK(lg.DeleteLogStream(ctx, group, BERTH_TRY(in.String("logStreamName"))));
    return Json::object();
  });

  ops["DescribeLogStreams"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    logs::DescribeLogStreamsRequest req;
    req.group = BERTH_TRY(GroupOf(in));
    req.prefix = BERTH_TRY(in.StringOr("logStreamNamePrefix"));
    req.order_by = BERTH_TRY(in.StringOr("orderBy", "LogStreamName"));
    req.descending = BERTH_TRY(in.BoolOr("descending", false));
    req.limit = BERTH_TRY(SmallInt(in, "limit"));
    req.next_token = BERTH_TRY(in.StringOr("nextToken"));
    auto page = BERTH_TRY(lg.DescribeLogStreams(ctx, req));
    Json streams = Json::array();
    for (const auto& s : page.streams) streams.push_back(StreamJson(s));
    Json out = {{"logStreams", streams}};
    if (!page.next_token.empty()) out["nextToken"] = page.next_token;
    return out;
  });

  // The hot write: its body is read by a scanner made for its shape (logs_put_parser.h); a
  // body it does not take goes through JsonReader, which words every error as AWS does.
  ops["PutLogEvents"] = [&lg](Ctx ctx, std::string_view body) -> Result<std::string> {
    auto put = [&](logs::PutLogEventsRequest req) -> Result<std::string> {
      auto r = lg.PutLogEvents(ctx, std::move(req));
      if (!r) return Fail(AsLogsError(std::move(r.error())));
      json::ObjectWriter out;
      out.String("nextSequenceToken", r->next_sequence_token);
      std::string text = out.Finish();
      if (r->too_new_start_index || r->too_old_end_index || r->expired_end_index) {
        text.pop_back();
        text.append(R"(,"rejectedLogEventsInfo":{)");
        const char* sep = "";
        auto member = [&](const char* name, const std::optional<int>& v) {
          if (!v) return;
          fmt::format_to(std::back_inserter(text), R"({}"{}":{})", sep, name, *v);
          sep = ",";
        };
        member("tooNewLogEventStartIndex", r->too_new_start_index);
        member("tooOldLogEventEndIndex", r->too_old_end_index);
        member("expiredLogEventEndIndex", r->expired_end_index);
        text.append("}}");
      }
      return text;
    };
    if (auto fast = ParsePutLogEvents(body)) return put(std::move(*fast));
    auto in = JsonReader::Parse(body);
    if (!in) return Fail(AsLogsError(std::move(in.error())));
    auto read = [&]() -> Result<logs::PutLogEventsRequest> {
      logs::PutLogEventsRequest req;
      req.group = BERTH_TRY(in->String("logGroupName"));
      req.stream = BERTH_TRY(in->String("logStreamName"));
      auto events = BERTH_TRY(in->Objects("logEvents"));
      req.events.reserve(events.size());
      for (const JsonReader& e : events) {
        req.events.push_back({BERTH_TRY(e.Int("timestamp")), BERTH_TRY(e.String("message"))});
      }
      return req;
    };
    auto req = read();
    if (!req) return Fail(AsLogsError(std::move(req.error())));
    return put(std::move(*req));
  };

  ops["GetLogEvents"] = LogsTextOp([&lg](Ctx ctx, const JsonReader& in) -> Result<std::string> {
    logs::GetLogEventsRequest req;
    req.group = BERTH_TRY(GroupOf(in));
    req.stream = BERTH_TRY(in.String("logStreamName"));
    req.start_time = BERTH_TRY(in.OptionalInt("startTime"));
    req.end_time = BERTH_TRY(in.OptionalInt("endTime"));
    req.next_token = BERTH_TRY(in.StringOr("nextToken"));
    req.limit = BERTH_TRY(SmallInt(in, "limit"));
    req.start_from_head = BERTH_TRY(in.OptionalBool("startFromHead"));
    auto r = BERTH_TRY(lg.GetLogEvents(ctx, req));
    std::string out = EventsText(r.events, false);
    out.append(R"(,"nextForwardToken":)");
    json::AppendQuoted(out, r.next_forward_token);
    out.append(R"(,"nextBackwardToken":)");
    json::AppendQuoted(out, r.next_backward_token);
    out.push_back('}');
    return out;
  });

  ops["FilterLogEvents"] = LogsTextOp([&lg](Ctx ctx, const JsonReader& in) -> Result<std::string> {
    logs::FilterLogEventsRequest req;
    req.group = BERTH_TRY(GroupOf(in));
    req.stream_names = BERTH_TRY(in.StringsOr("logStreamNames"));
    req.stream_prefix = BERTH_TRY(in.StringOr("logStreamNamePrefix"));
    req.start_time = BERTH_TRY(in.OptionalInt("startTime"));
    req.end_time = BERTH_TRY(in.OptionalInt("endTime"));
    req.filter_pattern = BERTH_TRY(in.StringOr("filterPattern"));
    req.next_token = BERTH_TRY(in.StringOr("nextToken"));
    req.limit = BERTH_TRY(SmallInt(in, "limit"));
    auto r = BERTH_TRY(lg.FilterLogEvents(ctx, req));
    std::string out = EventsText(r.events, true);
    out.append(R"(,"searchedLogStreams":[])");
    if (!r.next_token.empty()) {
      out.append(R"(,"nextToken":)");
      json::AppendQuoted(out, r.next_token);
    }
    out.push_back('}');
    return out;
  });

  ops["TagResource"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto arn = BERTH_TRY(in.String("resourceArn"));
    BERTH_CHECK(lg.TagResource(ctx, arn, BERTH_TRY(in.StringMap("tags"))));
    return Json::object();
  });

  ops["UntagResource"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto arn = BERTH_TRY(in.String("resourceArn"));
    BERTH_CHECK(lg.UntagResource(ctx, arn, BERTH_TRY(in.Strings("tagKeys"))));
    return Json::object();
  });

  ops["ListTagsForResource"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto tags = BERTH_TRY(lg.ListTagsForResource(ctx, BERTH_TRY(in.String("resourceArn"))));
    return Json{{"tags", tags}};
  });

  // The deprecated tag operations the AWS CLI still has, on the same calls.
  ops["TagLogGroup"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto arn = TagArn(ctx, BERTH_TRY(in.String("logGroupName")));
    BERTH_CHECK(lg.TagResource(ctx, arn, BERTH_TRY(in.StringMap("tags"))));
    return Json::object();
  });

  ops["UntagLogGroup"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto arn = TagArn(ctx, BERTH_TRY(in.String("logGroupName")));
    BERTH_CHECK(lg.UntagResource(ctx, arn, BERTH_TRY(in.Strings("tags"))));
    return Json::object();
  });

  ops["ListTagsLogGroup"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto arn = TagArn(ctx, BERTH_TRY(in.String("logGroupName")));
    return Json{{"tags", BERTH_TRY(lg.ListTagsForResource(ctx, arn))}};
  });

  ops["PutResourcePolicy"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto name = BERTH_TRY(in.StringOr("policyName"));
    auto policy =
        BERTH_TRY(lg.PutResourcePolicy(ctx, name, BERTH_TRY(in.StringOr("policyDocument"))));
    return Json{{"resourcePolicy", PolicyJson(policy)}};
  });

  ops["DescribeResourcePolicies"] = LogsOp([&lg](Ctx ctx, const JsonReader&) -> Result<Json> {
    Json list = Json::array();
    for (const auto& p : BERTH_TRY(lg.DescribeResourcePolicies(ctx))) list.push_back(PolicyJson(p));
    return Json{{"resourcePolicies", list}};
  });

  ops["DeleteResourcePolicy"] = LogsOp([&lg](Ctx ctx, const JsonReader& in) -> Result<Json> {
    BERTH_CHECK(lg.DeleteResourcePolicy(ctx, BERTH_TRY(in.StringOr("policyName"))));
    return Json::object();
  });

  return svc;
}

namespace {

// The logs module: the routes, and a thread that sweeps expired events every minute.
class LogsServiceModule final : public Module {
 public:
  explicit LogsServiceModule(Environment& env)
      : logs_(env.kv, env.root_key, env.access, env.services.Get<kms::Service>(), env.ids,
              env.clock) {}

  std::string_view name() const override { return "logs"; }
  void Register(aws::Gateway& gateway) override { gateway.Add(LogsRoutes(logs_)); }

  Status Start() override {
    sweeper_ = std::thread([this] {
      std::unique_lock lock(mu_);
      while (!stopping_) {
        if (cv_.wait_for(lock, kSweepInterval, [this] { return stopping_; })) break;
        lock.unlock();
        auto swept = logs_.SweepRetention();
        if (!swept) {
          log::Error("logs retention sweep failed", {{"message", swept.error().message}});
        } else if (*swept > 0) {
          log::Info("logs retention sweep", {{"deleted", std::to_string(*swept)}});
        }
        lock.lock();
      }
    });
    return {};
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (sweeper_.joinable()) sweeper_.join();
  }

  ~LogsServiceModule() override { Stop(); }

  logs::Service& service() { return logs_; }

 private:
  static constexpr std::chrono::seconds kSweepInterval{60};
  logs::Service logs_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread sweeper_;
};

}  // namespace

Result<std::unique_ptr<Module>> LogsModule(Environment& env) {
  auto module = std::make_unique<LogsServiceModule>(env);
  env.services.Provide(module->service());
  return module;
}

}  // namespace berth::server
