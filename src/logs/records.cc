#include "logs/records.h"

#include <fmt/format.h>

#include "common/json.h"
#include "common/strings.h"

namespace berth::logs {

namespace {

using json::Json;

std::string Str(const Json& in, const char* key) {
  auto it = in.find(key);
  return it != in.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t Int(const Json& in, const char* key) {
  auto it = in.find(key);
  return it != in.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

Result<Json> Parse(std::string_view value, std::string_view what) {
  try {
    Json out = Json::parse(value);
    if (out.is_object()) return out;
  } catch (const std::exception&) {
  }
  return InternalFailure(fmt::format("corrupt logs {} record", what));
}

}  // namespace

std::string GroupKey(std::string_view account, std::string_view region, std::string_view name) {
  return fmt::format("logs/{}/{}/group/{}", account, region, name);
}

std::string GroupPrefix(std::string_view account, std::string_view region) {
  return fmt::format("logs/{}/{}/group/", account, region);
}

std::string StreamKey(std::string_view account, std::string_view region, std::string_view group,
                      std::string_view stream) {
  return fmt::format("logs/{}/{}/stream/{}:{}", account, region, group, stream);
}

std::string StreamPrefix(std::string_view account, std::string_view region,
                         std::string_view group) {
  return fmt::format("logs/{}/{}/stream/{}:", account, region, group);
}

std::string PolicyKey(std::string_view account, std::string_view region, std::string_view name) {
  return fmt::format("logs/{}/{}/policy/{}", account, region, name);
}

std::string PolicyPrefix(std::string_view account, std::string_view region) {
  return fmt::format("logs/{}/{}/policy/", account, region);
}

KeyKind KindOf(std::string_view key) {
  // logs/A/R/<kind>/...
  size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    pos = key.find('/', pos);
    if (pos == std::string_view::npos) return KeyKind::kOther;
    ++pos;
  }
  std::string_view rest = key.substr(pos);
  if (rest.starts_with("group/")) return KeyKind::kGroup;
  if (rest.starts_with("stream/")) return KeyKind::kStream;
  if (rest.starts_with("policy/")) return KeyKind::kPolicy;
  return KeyKind::kOther;
}

std::string GroupArn(std::string_view region, std::string_view account, std::string_view name) {
  return fmt::format("arn:aws:logs:{}:{}:log-group:{}", region, account, name);
}

std::string StreamArn(std::string_view region, std::string_view account, std::string_view group,
                      std::string_view stream) {
  return fmt::format("arn:aws:logs:{}:{}:log-group:{}:log-stream:{}", region, account, group,
                     stream);
}

std::optional<GroupArnParts> ParseGroupArn(std::string_view arn) {
  constexpr std::string_view kHead = "arn:aws:logs:";
  if (!arn.starts_with(kHead)) return std::nullopt;
  std::string_view rest = arn.substr(kHead.size());
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  GroupArnParts out;
  out.region = std::string(rest.substr(0, colon));
  rest.remove_prefix(colon + 1);
  colon = rest.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  out.account = std::string(rest.substr(0, colon));
  rest.remove_prefix(colon + 1);
  constexpr std::string_view kGroup = "log-group:";
  if (!rest.starts_with(kGroup)) return std::nullopt;
  rest.remove_prefix(kGroup.size());
  if (rest.ends_with(":*")) rest.remove_suffix(2);
  if (rest.empty() || rest.find(':') != std::string_view::npos || out.region.empty() ||
      out.account.empty()) {
    return std::nullopt;
  }
  out.name = std::string(rest);
  return out;
}

std::string EncodeGroup(const GroupRecord& r) {
  const LogGroup& g = r.group;
  Json out = {{"account", g.account},
              {"region", g.region},
              {"name", g.name},
              {"creationTime", g.creation_time},
              {"class", g.log_group_class},
              {"deletionProtection", g.deletion_protection},
              {"tags", g.tags},
              {"sealedKey", Base64Encode(r.sealed_key)}};
  if (g.retention_in_days) out["retentionInDays"] = *g.retention_in_days;
  if (!g.kms_key_id.empty()) {
    out["kmsKeyId"] = g.kms_key_id;
    out["kmsBlob"] = Base64Encode(r.kms_blob);
  }
  return json::Dump(out);
}

Result<GroupRecord> DecodeGroup(std::string_view value) {
  Json in = BERTH_TRY(Parse(value, "group"));
  GroupRecord r;
  LogGroup& g = r.group;
  g.account = Str(in, "account");
  g.region = Str(in, "region");
  g.name = Str(in, "name");
  g.log_group_arn = GroupArn(g.region, g.account, g.name);
  g.arn = g.log_group_arn + ":*";
  g.creation_time = Int(in, "creationTime");
  if (auto it = in.find("retentionInDays"); it != in.end() && it->is_number_integer()) {
    g.retention_in_days = it->get<int>();
  }
  g.kms_key_id = Str(in, "kmsKeyId");
  g.log_group_class = Str(in, "class");
  if (g.log_group_class.empty()) g.log_group_class = "STANDARD";
  if (auto it = in.find("deletionProtection"); it != in.end() && it->is_boolean()) {
    g.deletion_protection = it->get<bool>();
  }
  if (auto it = in.find("tags"); it != in.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (v.is_string()) g.tags[k] = v.get<std::string>();
    }
  }
  auto sealed = Base64Decode(Str(in, "sealedKey"));
  auto blob = Base64Decode(Str(in, "kmsBlob"));
  if (!sealed || !blob) return InternalFailure("corrupt logs group record");
  r.sealed_key = std::move(*sealed);
  r.kms_blob = std::move(*blob);
  return r;
}

std::string EncodeStream(const StreamRecord& r) {
  return fmt::format(R"({{"creationTime":{}}})", r.creation_time);
}

Result<StreamRecord> DecodeStream(std::string_view value) {
  Json in = BERTH_TRY(Parse(value, "stream"));
  return StreamRecord{Int(in, "creationTime")};
}

std::string EncodePolicy(const ResourcePolicy& p) {
  return json::Dump(
      Json{{"name", p.name}, {"document", p.document}, {"lastUpdated", p.last_updated}});
}

Result<ResourcePolicy> DecodePolicy(std::string_view value) {
  Json in = BERTH_TRY(Parse(value, "policy"));
  return ResourcePolicy{Str(in, "name"), Str(in, "document"), Int(in, "lastUpdated")};
}

}  // namespace berth::logs
