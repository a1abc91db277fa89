#include "secrets/record.h"

#include <fmt/format.h>

#include <chrono>

#include "common/json.h"
#include "common/strings.h"

namespace berth::secrets {

namespace {

int64_t Millis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint FromMillis(int64_t ms) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds(ms)));
}

void PutTime(json::Json& out, const char* key, const std::optional<TimePoint>& t) {
  if (t) out[key] = Millis(*t);
}

std::optional<TimePoint> GetTime(const json::Json& in, const char* key) {
  auto it = in.find(key);
  if (it == in.end() || !it->is_number_integer()) return std::nullopt;
  return FromMillis(it->get<int64_t>());
}

std::string Str(const json::Json& in, const char* key) {
  auto it = in.find(key);
  return it != in.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const char* TypeName(SecretValue::Type type) {
  return type == SecretValue::Type::kBinary ? "binary" : "string";
}

}  // namespace

std::string SecretKey(std::string_view account, std::string_view region, std::string_view name) {
  return fmt::format("secrets/{}/{}/secret/{}", account, region, name);
}

std::string SecretPrefix(std::string_view account, std::string_view region) {
  return fmt::format("secrets/{}/{}/secret/", account, region);
}

std::string ValueKey(std::string_view account, std::string_view region, std::string_view name,
                     std::string_view version_id) {
  return fmt::format("secrets/{}/{}/value/{}:{}", account, region, name, version_id);
}

std::string ValuePrefix(std::string_view account, std::string_view region, std::string_view name) {
  return fmt::format("secrets/{}/{}/value/{}:", account, region, name);
}

std::string SecretKeyOf(std::string_view store_key) {
  constexpr std::string_view kRoot = "secrets/";
  if (!store_key.starts_with(kRoot)) return {};
  size_t account_end = store_key.find('/', kRoot.size());
  if (account_end == std::string_view::npos) return {};
  size_t region_end = store_key.find('/', account_end + 1);
  if (region_end == std::string_view::npos) return {};
  std::string_view kind_and_name = store_key.substr(region_end + 1);
  if (kind_and_name.starts_with("secret/")) return std::string(store_key);
  if (!kind_and_name.starts_with("value/")) return {};
  std::string_view value = kind_and_name.substr(6);  // <name>:<version id>
  size_t colon = value.rfind(':');
  if (colon == std::string_view::npos) return {};
  return fmt::format("{}secret/{}", store_key.substr(0, region_end + 1), value.substr(0, colon));
}

std::string EncodeSecret(const Secret& s) {
  json::Json out = {{"account", s.account},
                    {"region", s.region},
                    {"name", s.name},
                    {"arn", s.arn},
                    {"description", s.description},
                    {"kms_key_id", s.kms_key_id},
                    {"key_arn", s.key_arn},
                    {"policy", s.policy},
                    {"bound_policy", s.bound_policy},
                    {"created", Millis(s.created)},
                    {"last_changed", Millis(s.last_changed)},
                    {"create_token", s.create_token}};
  PutTime(out, "last_accessed", s.last_accessed);
  PutTime(out, "deleted", s.deleted);
  PutTime(out, "deletion_date", s.deletion_date);
  json::Json tags = json::Json::array();
  for (const auto& t : s.tags) tags.push_back(json::Json::array({t.key, t.value}));
  out["tags"] = std::move(tags);
  json::Json ids = json::Json::object();
  for (const auto& [arn, id] : s.policy_ids) ids[arn] = id;
  out["policy_ids"] = std::move(ids);
  json::Json versions = json::Json::array();
  for (const auto& v : s.versions) {
    json::Json entry = {
        {"id", v.id}, {"stages", v.stages}, {"created", Millis(v.created)}, {"key_arn", v.key_arn}};
    PutTime(entry, "last_accessed", v.last_accessed);
    versions.push_back(std::move(entry));
  }
  out["versions"] = std::move(versions);
  return json::Dump(out);
}

Result<Secret> DecodeSecret(std::string_view bytes) {
  try {
    json::Json in = json::Json::parse(bytes);
    Secret s;
    s.account = Str(in, "account");
    s.region = Str(in, "region");
    s.name = Str(in, "name");
    s.arn = Str(in, "arn");
    s.description = Str(in, "description");
    s.kms_key_id = Str(in, "kms_key_id");
    s.key_arn = Str(in, "key_arn");
    s.policy = Str(in, "policy");
    s.bound_policy = Str(in, "bound_policy");
    if (auto it = in.find("policy_ids"); it != in.end() && it->is_object()) {
      for (const auto& [arn, id] : it->items()) {
        if (id.is_string()) s.policy_ids.emplace_back(arn, id.get<std::string>());
      }
    }
    s.create_token = Str(in, "create_token");
    s.created = GetTime(in, "created").value_or(TimePoint());
    s.last_changed = GetTime(in, "last_changed").value_or(s.created);
    s.last_accessed = GetTime(in, "last_accessed");
    s.deleted = GetTime(in, "deleted");
    s.deletion_date = GetTime(in, "deletion_date");
    for (const auto& t : in.at("tags")) {
      s.tags.push_back({t.at(0).get<std::string>(), t.at(1).get<std::string>()});
    }
    for (const auto& v : in.at("versions")) {
      Version version;
      version.id = Str(v, "id");
      version.stages = v.at("stages").get<std::vector<std::string>>();
      version.created = GetTime(v, "created").value_or(TimePoint());
      version.last_accessed = GetTime(v, "last_accessed");
      version.key_arn = Str(v, "key_arn");
      s.versions.push_back(std::move(version));
    }
    if (s.name.empty() || s.arn.empty()) return InternalFailure("secret record without a name");
    return s;
  } catch (const std::exception& e) {
    return InternalFailure(fmt::format("malformed secret record: {}", e.what()));
  }
}

std::string EncodeSealedValue(const SealedValue& v) {
  return json::Dump(json::Json{{"type", TypeName(v.type)},
                               {"key_arn", v.key_arn},
                               {"data_key", Base64Encode(v.data_key)},
                               {"sealed", Base64Encode(v.sealed)}});
}

Result<SealedValue> DecodeSealedValue(std::string_view bytes) {
  json::Json in = json::Json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (!in.is_object()) return InternalFailure("malformed secret value record");
  SealedValue v;
  v.type = Str(in, "type") == "binary" ? SecretValue::Type::kBinary : SecretValue::Type::kString;
  v.key_arn = Str(in, "key_arn");
  auto data_key = Base64Decode(Str(in, "data_key"));
  auto sealed = Base64Decode(Str(in, "sealed"));
  if (!data_key || !sealed) return InternalFailure("malformed secret value record");
  v.data_key = std::move(*data_key);
  v.sealed = std::move(*sealed);
  return v;
}

}  // namespace berth::secrets
