// Secrets Manager's wire shapes (JSON 1.1, target prefix "secretsmanager"),
// as the botocore model secretsmanager/2017-10-17 defines them. Timestamps are
// epoch seconds; SecretBinary travels base64-encoded.
#include <fmt/format.h>

#include "aws/json_protocol.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "secrets/service.h"
#include "server/routes.h"

namespace berth::server {

namespace {

using json::Json;

std::unexpected<Error> BadType(std::string_view key, std::string_view type) {
  return Fail("SerializationException", fmt::format("'{}' must be {}.", key, type));
}

Result<std::optional<bool>> OptBool(const Json& in, std::string_view key) {
  auto it = in.find(key);
  if (it == in.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) return BadType(key, "a boolean");
  return std::optional<bool>(it->get<bool>());
}

Result<std::optional<int64_t>> OptInt(const Json& in, std::string_view key) {
  auto it = in.find(key);
  if (it == in.end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_number_integer()) return BadType(key, "an integer");
  return std::optional<int64_t>(it->get<int64_t>());
}

Result<std::optional<int>> OptSmallInt(const Json& in, std::string_view key) {
  auto v = BERTH_TRY(OptInt(in, key));
  if (!v) return std::optional<int>();
  // Out-of-range values are clamped far outside every valid range so that the
  // service's range check reports them.
  int64_t clamped = std::clamp<int64_t>(*v, -1'000'000, 1'000'000);
  return std::optional<int>(static_cast<int>(clamped));
}

std::string Str(const Json& in, std::string_view key) {
  auto it = in.find(key);
  return it != in.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<std::optional<std::vector<std::string>>> OptStrings(const Json& in, std::string_view key) {
  auto it = in.find(key);
  if (it == in.end() || it->is_null()) return std::optional<std::vector<std::string>>();
  if (!it->is_array()) return BadType(key, "a list of strings");
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string()) return BadType(key, "a list of strings");
    out.push_back(v.get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

// Reads every string member in `keys` up front so that type errors surface as
// SerializationException before the service runs.
Status CheckStrings(const Json& in, std::initializer_list<std::string_view> keys) {
  for (auto key : keys) BERTH_CHECK(json::OptionalString(in, key));
  return {};
}

Result<secrets::ValueInput> Value(const Json& in) {
  secrets::ValueInput v;
  v.secret_string = BERTH_TRY(json::OptionalString(in, "SecretString"));
  auto binary = BERTH_TRY(json::OptionalString(in, "SecretBinary"));
  if (binary) {
    auto decoded = Base64Decode(*binary);
    if (!decoded) return Fail("SerializationException", "'SecretBinary' must be base64-encoded.");
    v.secret_binary = std::move(*decoded);
  }
  return v;
}

Result<std::vector<secrets::Tag>> Tags(const Json& in, std::string_view key) {
  std::vector<secrets::Tag> tags;
  auto it = in.find(key);
  if (it == in.end() || it->is_null()) return tags;
  if (!it->is_array()) return BadType(key, "a list of tags");
  for (const auto& t : *it) {
    if (!t.is_object()) return BadType(key, "a list of tags");
    auto k = BERTH_TRY(json::OptionalString(t, "Key"));
    auto v = BERTH_TRY(json::OptionalString(t, "Value"));
    tags.push_back({k.value_or(""), v.value_or("")});
  }
  return tags;
}

Result<std::vector<secrets::ListFilter>> Filters(const Json& in) {
  std::vector<secrets::ListFilter> filters;
  auto it = in.find("Filters");
  if (it == in.end() || it->is_null()) return filters;
  if (!it->is_array()) return BadType("Filters", "a list of filters");
  for (const auto& f : *it) {
    if (!f.is_object()) return BadType("Filters", "a list of filters");
    secrets::ListFilter filter;
    filter.key = BERTH_TRY(json::OptionalString(f, "Key")).value_or("");
    filter.values = BERTH_TRY(OptStrings(f, "Values")).value_or(std::vector<std::string>{});
    filters.push_back(std::move(filter));
  }
  return filters;
}

double Epoch(TimePoint t) { return ToEpochSeconds(t); }

Json StagesMap(const secrets::Secret& s) {
  Json map = Json::object();
  for (const auto& v : s.versions) {
    if (!v.stages.empty()) map[v.id] = v.stages;
  }
  return map;
}

// DescribeSecret's reply, or a ListSecrets entry (`list_entry`).
Json SecretJson(const secrets::Secret& s, bool list_entry) {
  Json out = {{"ARN", s.arn},
              {"Name", s.name},
              {"CreatedDate", Epoch(s.created)},
              {"LastChangedDate", Epoch(s.last_changed)}};
  if (!s.description.empty()) out["Description"] = s.description;
  if (!s.kms_key_id.empty()) out["KmsKeyId"] = s.kms_key_id;
  if (s.last_accessed) out["LastAccessedDate"] = Epoch(*s.last_accessed);
  if (s.deleted) out["DeletedDate"] = Epoch(*s.deleted);
  if (!s.tags.empty()) {
    Json tags = Json::array();
    for (const auto& t : s.tags) tags.push_back({{"Key", t.key}, {"Value", t.value}});
    out["Tags"] = std::move(tags);
  }
  Json stages = StagesMap(s);
  if (!stages.empty()) out[list_entry ? "SecretVersionsToStages" : "VersionIdsToStages"] = stages;
  return out;
}

// GetSecretValue's response, written directly: it is on every task start's
// path, and a document tree cost more than the decryption.
std::string ValueText(const secrets::SecretVersionValue& v) {
  json::ObjectWriter out;
  out.String("ARN", v.arn)
      .String("Name", v.name)
      .String("VersionId", v.version_id)
      .Strings("VersionStages", v.version_stages)
      .Number("CreatedDate", Epoch(v.created));
  if (v.value.type == secrets::SecretValue::Type::kBinary) {
    out.String("SecretBinary", Base64Encode(v.value.data));
  } else {
    out.String("SecretString", v.value.data);
  }
  return out.Finish();
}

Json ValueJson(const secrets::SecretVersionValue& v) { return Json::parse(ValueText(v)); }

Json WriteJson(const secrets::WriteResult& w, bool with_stages) {
  Json out = {{"ARN", w.arn}, {"Name", w.name}};
  if (!w.version_id.empty()) {
    out["VersionId"] = w.version_id;
    if (with_stages) out["VersionStages"] = w.version_stages;
  }
  return out;
}

}  // namespace

aws::JsonService SecretsRoutes(secrets::Service& sm) {
  aws::JsonService svc;
  svc.signing_name = "secretsmanager";
  svc.target_prefix = "secretsmanager";
  using Ctx = const aws::RequestContext&;
  auto& ops = svc.operations;

  ops["CreateSecret"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    BERTH_CHECK(CheckStrings(in, {"ClientRequestToken", "Description", "KmsKeyId"}));
    secrets::CreateSecretRequest req;
    req.name = BERTH_TRY(json::RequiredString(in, "Name"));
    req.client_request_token = Str(in, "ClientRequestToken");
    req.description = Str(in, "Description");
    req.kms_key_id = Str(in, "KmsKeyId");
    req.value = BERTH_TRY(Value(in));
    req.tags = BERTH_TRY(Tags(in, "Tags"));
    return WriteJson(BERTH_TRY(sm.CreateSecret(ctx, req)), false);
  });

  ops["GetSecretValue"] = [&sm](Ctx ctx, std::string_view body) -> Result<std::string> {
    Json in = BERTH_TRY(json::ParseObject(body));
    BERTH_CHECK(CheckStrings(in, {"VersionId", "VersionStage"}));
    secrets::GetSecretValueRequest req;
    req.secret_id = BERTH_TRY(json::RequiredString(in, "SecretId"));
    req.version_id = Str(in, "VersionId");
    req.version_stage = Str(in, "VersionStage");
    return ValueText(BERTH_TRY(sm.GetSecretValue(ctx, req)));
  };

  ops["BatchGetSecretValue"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    BERTH_CHECK(CheckStrings(in, {"NextToken"}));
    secrets::BatchGetRequest req;
    req.secret_ids = BERTH_TRY(OptStrings(in, "SecretIdList")).value_or(std::vector<std::string>{});
    req.filters = BERTH_TRY(Filters(in));
    req.max_results = BERTH_TRY(OptSmallInt(in, "MaxResults"));
    req.next_token = Str(in, "NextToken");
    auto result = BERTH_TRY(sm.BatchGetSecretValue(ctx, req));
    Json values = Json::array();
    for (const auto& v : result.values) values.push_back(ValueJson(v));
    Json errors = Json::array();
    for (const auto& e : result.errors) {
      errors.push_back(
          {{"SecretId", e.secret_id}, {"ErrorCode", e.error_code}, {"Message", e.message}});
    }
    Json out = {{"SecretValues", values}, {"Errors", errors}};
    if (!result.next_token.empty()) out["NextToken"] = result.next_token;
    return out;
  });

  ops["PutSecretValue"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    BERTH_CHECK(CheckStrings(in, {"ClientRequestToken"}));
    secrets::PutSecretValueRequest req;
    req.secret_id = BERTH_TRY(json::RequiredString(in, "SecretId"));
    req.client_request_token = Str(in, "ClientRequestToken");
    req.value = BERTH_TRY(Value(in));
    req.version_stages = BERTH_TRY(OptStrings(in, "VersionStages"));
    return WriteJson(BERTH_TRY(sm.PutSecretValue(ctx, req)), true);
  });

  ops["UpdateSecret"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    BERTH_CHECK(CheckStrings(in, {"ClientRequestToken"}));
    secrets::UpdateSecretRequest req;
    req.secret_id = BERTH_TRY(json::RequiredString(in, "SecretId"));
    req.client_request_token = Str(in, "ClientRequestToken");
    req.description = BERTH_TRY(json::OptionalString(in, "Description"));
    req.kms_key_id = BERTH_TRY(json::OptionalString(in, "KmsKeyId"));
    req.value = BERTH_TRY(Value(in));
    return WriteJson(BERTH_TRY(sm.UpdateSecret(ctx, req)), false);
  });

  ops["UpdateSecretVersionStage"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    BERTH_CHECK(CheckStrings(in, {"RemoveFromVersionId", "MoveToVersionId"}));
    auto id = BERTH_TRY(json::RequiredString(in, "SecretId"));
    auto stage = BERTH_TRY(json::RequiredString(in, "VersionStage"));
    auto s = BERTH_TRY(sm.UpdateSecretVersionStage(ctx, id, stage, Str(in, "RemoveFromVersionId"),
                                                   Str(in, "MoveToVersionId")));
    return Json{{"ARN", s.arn}, {"Name", s.name}};
  });

  ops["DescribeSecret"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    auto id = BERTH_TRY(json::RequiredString(in, "SecretId"));
    return SecretJson(BERTH_TRY(sm.DescribeSecret(ctx, id)), false);
  });

  ops["ListSecrets"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    BERTH_CHECK(CheckStrings(in, {"NextToken", "SortOrder"}));
    secrets::ListSecretsRequest req;
    req.filters = BERTH_TRY(Filters(in));
    req.sort_order = Str(in, "SortOrder");
    req.max_results = BERTH_TRY(OptSmallInt(in, "MaxResults"));
    req.next_token = Str(in, "NextToken");
    req.include_planned_deletion = BERTH_TRY(OptBool(in, "IncludePlannedDeletion")).value_or(false);
    auto page = BERTH_TRY(sm.ListSecrets(ctx, req));
    Json list = Json::array();
    for (const auto& s : page.secrets) list.push_back(SecretJson(s, true));
    Json out = {{"SecretList", list}};
    if (!page.next_token.empty()) out["NextToken"] = page.next_token;
    return out;
  });

  ops["ListSecretVersionIds"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    BERTH_CHECK(CheckStrings(in, {"NextToken"}));
    secrets::ListVersionsRequest req;
    req.secret_id = BERTH_TRY(json::RequiredString(in, "SecretId"));
    req.include_deprecated = BERTH_TRY(OptBool(in, "IncludeDeprecated")).value_or(false);
    req.max_results = BERTH_TRY(OptSmallInt(in, "MaxResults"));
    req.next_token = Str(in, "NextToken");
    auto page = BERTH_TRY(sm.ListSecretVersionIds(ctx, req));
    Json versions = Json::array();
    for (const auto& v : page.versions) {
      Json entry = {{"VersionId", v.id},
                    {"VersionStages", v.stages},
                    {"CreatedDate", Epoch(v.created)},
                    {"KmsKeyIds", Json::array({v.key_arn})}};
      if (v.last_accessed) entry["LastAccessedDate"] = Epoch(*v.last_accessed);
      versions.push_back(std::move(entry));
    }
    Json out = {{"ARN", page.arn}, {"Name", page.name}, {"Versions", versions}};
    if (!page.next_token.empty()) out["NextToken"] = page.next_token;
    return out;
  });

  ops["DeleteSecret"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    auto id = BERTH_TRY(json::RequiredString(in, "SecretId"));
    auto window = BERTH_TRY(OptInt(in, "RecoveryWindowInDays"));
    bool force = BERTH_TRY(OptBool(in, "ForceDeleteWithoutRecovery")).value_or(false);
    auto s = BERTH_TRY(sm.DeleteSecret(ctx, id, window, force));
    return Json{{"ARN", s.arn}, {"Name", s.name}, {"DeletionDate", Epoch(*s.deletion_date)}};
  });

  ops["RestoreSecret"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    auto s = BERTH_TRY(sm.RestoreSecret(ctx, BERTH_TRY(json::RequiredString(in, "SecretId"))));
    return Json{{"ARN", s.arn}, {"Name", s.name}};
  });

  ops["PutResourcePolicy"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    auto id = BERTH_TRY(json::RequiredString(in, "SecretId"));
    auto policy = BERTH_TRY(json::RequiredString(in, "ResourcePolicy"));
    bool block = BERTH_TRY(OptBool(in, "BlockPublicPolicy")).value_or(false);
    auto s = BERTH_TRY(sm.PutResourcePolicy(ctx, id, policy, block));
    return Json{{"ARN", s.arn}, {"Name", s.name}};
  });

  ops["GetResourcePolicy"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    auto s = BERTH_TRY(sm.GetResourcePolicy(ctx, BERTH_TRY(json::RequiredString(in, "SecretId"))));
    Json out = {{"ARN", s.arn}, {"Name", s.name}};
    if (!s.policy.empty()) out["ResourcePolicy"] = s.policy;
    return out;
  });

  ops["DeleteResourcePolicy"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    auto s =
        BERTH_TRY(sm.DeleteResourcePolicy(ctx, BERTH_TRY(json::RequiredString(in, "SecretId"))));
    return Json{{"ARN", s.arn}, {"Name", s.name}};
  });

  ops["ValidateResourcePolicy"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    auto id = BERTH_TRY(json::OptionalString(in, "SecretId"));
    auto policy = BERTH_TRY(json::RequiredString(in, "ResourcePolicy"));
    auto result = BERTH_TRY(sm.ValidateResourcePolicy(ctx, id, policy));
    Json errors = Json::array();
    for (const auto& e : result.errors) {
      errors.push_back({{"CheckName", e.check_name}, {"ErrorMessage", e.message}});
    }
    return Json{{"PolicyValidationPassed", result.passed}, {"ValidationErrors", errors}};
  });

  ops["TagResource"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    auto id = BERTH_TRY(json::RequiredString(in, "SecretId"));
    if (!in.contains("Tags"))
      return Fail("ValidationException", "Missing required parameter 'Tags'.");
    BERTH_CHECK(sm.TagResource(ctx, id, BERTH_TRY(Tags(in, "Tags"))));
    return Json::object();
  });

  ops["UntagResource"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    auto id = BERTH_TRY(json::RequiredString(in, "SecretId"));
    auto keys = BERTH_TRY(OptStrings(in, "TagKeys"));
    if (!keys) return Fail("ValidationException", "Missing required parameter 'TagKeys'.");
    BERTH_CHECK(sm.UntagResource(ctx, id, *keys));
    return Json::object();
  });

  ops["GetRandomPassword"] = aws::JsonOp([&sm](Ctx ctx, const Json& in) -> Result<Json> {
    BERTH_CHECK(CheckStrings(in, {"ExcludeCharacters"}));
    secrets::PasswordOptions o;
    o.length = BERTH_TRY(OptInt(in, "PasswordLength"));
    o.exclude_characters = Str(in, "ExcludeCharacters");
    o.exclude_numbers = BERTH_TRY(OptBool(in, "ExcludeNumbers")).value_or(false);
    o.exclude_punctuation = BERTH_TRY(OptBool(in, "ExcludePunctuation")).value_or(false);
    o.exclude_uppercase = BERTH_TRY(OptBool(in, "ExcludeUppercase")).value_or(false);
    o.exclude_lowercase = BERTH_TRY(OptBool(in, "ExcludeLowercase")).value_or(false);
    o.include_space = BERTH_TRY(OptBool(in, "IncludeSpace")).value_or(false);
    o.require_each_included_type = BERTH_TRY(OptBool(in, "RequireEachIncludedType")).value_or(true);
    return Json{{"RandomPassword", BERTH_TRY(sm.GetRandomPassword(ctx, o))}};
  });

  return svc;
}

}  // namespace berth::server
