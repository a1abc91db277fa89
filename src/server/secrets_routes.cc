// Secrets Manager's wire shapes (JSON 1.1, target prefix "secretsmanager"),
// as the botocore model secretsmanager/2017-10-17 defines them. Timestamps are
// epoch seconds; SecretBinary travels base64-encoded.
#include <fmt/format.h>

#include "aws/json_protocol.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "secrets/service.h"
#include "server/module.h"
#include "server/routes.h"

namespace berth::server {

namespace {

using aws::JsonReader;
using json::Json;

// An integer the service range-checks: values far outside every valid range
// are clamped (still outside it) so that they fit an int.
Result<std::optional<int>> SmallInt(const JsonReader& in, std::string_view key) {
  auto v = BERTH_TRY(in.OptionalInt(key));
  if (!v) return std::optional<int>();
  return std::optional<int>(static_cast<int>(std::clamp<int64_t>(*v, -1'000'000, 1'000'000)));
}

Result<secrets::ValueInput> Value(const JsonReader& in) {
  secrets::ValueInput v;
  v.secret_string = BERTH_TRY(in.OptionalString("SecretString"));
  v.secret_binary = BERTH_TRY(in.OptionalBlob("SecretBinary"));
  return v;
}

// Tags as [{"Key": k, "Value": v}], either member may be absent.
Result<std::vector<secrets::Tag>> Tags(const std::vector<JsonReader>& list) {
  std::vector<secrets::Tag> tags;
  for (const JsonReader& t : list) {
    tags.push_back({BERTH_TRY(t.StringOr("Key")), BERTH_TRY(t.StringOr("Value"))});
  }
  return tags;
}

Result<std::vector<secrets::ListFilter>> Filters(const JsonReader& in) {
  std::vector<secrets::ListFilter> filters;
  for (const JsonReader& f : BERTH_TRY(in.ObjectsOr("Filters"))) {
    secrets::ListFilter filter;
    filter.key = BERTH_TRY(f.StringOr("Key"));
    filter.values = BERTH_TRY(f.StringsOr("Values"));
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

  ops["CreateSecret"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    secrets::CreateSecretRequest req;
    req.name = BERTH_TRY(in.String("Name"));
    req.client_request_token = BERTH_TRY(in.StringOr("ClientRequestToken"));
    req.description = BERTH_TRY(in.StringOr("Description"));
    req.kms_key_id = BERTH_TRY(in.StringOr("KmsKeyId"));
    req.value = BERTH_TRY(Value(in));
    req.tags = BERTH_TRY(Tags(BERTH_TRY(in.ObjectsOr("Tags"))));
    return WriteJson(BERTH_TRY(sm.CreateSecret(ctx, req)), false);
  });

  ops["GetSecretValue"] =
      aws::JsonTextOp([&sm](Ctx ctx, const JsonReader& in) -> Result<std::string> {
        secrets::GetSecretValueRequest req;
        req.secret_id = BERTH_TRY(in.String("SecretId"));
        req.version_id = BERTH_TRY(in.StringOr("VersionId"));
        req.version_stage = BERTH_TRY(in.StringOr("VersionStage"));
        return ValueText(BERTH_TRY(sm.GetSecretValue(ctx, req)));
      });

  ops["BatchGetSecretValue"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    secrets::BatchGetRequest req;
    req.secret_ids = BERTH_TRY(in.StringsOr("SecretIdList"));
    req.filters = BERTH_TRY(Filters(in));
    req.max_results = BERTH_TRY(SmallInt(in, "MaxResults"));
    req.next_token = BERTH_TRY(in.StringOr("NextToken"));
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

  ops["PutSecretValue"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    secrets::PutSecretValueRequest req;
    req.secret_id = BERTH_TRY(in.String("SecretId"));
    req.client_request_token = BERTH_TRY(in.StringOr("ClientRequestToken"));
    req.value = BERTH_TRY(Value(in));
    req.version_stages = BERTH_TRY(in.OptionalStrings("VersionStages"));
    return WriteJson(BERTH_TRY(sm.PutSecretValue(ctx, req)), true);
  });

  ops["UpdateSecret"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    secrets::UpdateSecretRequest req;
    req.secret_id = BERTH_TRY(in.String("SecretId"));
    req.client_request_token = BERTH_TRY(in.StringOr("ClientRequestToken"));
    req.description = BERTH_TRY(in.OptionalString("Description"));
    req.kms_key_id = BERTH_TRY(in.OptionalString("KmsKeyId"));
    req.value = BERTH_TRY(Value(in));
    return WriteJson(BERTH_TRY(sm.UpdateSecret(ctx, req)), false);
  });

  ops["UpdateSecretVersionStage"] =
      aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
        auto id = BERTH_TRY(in.String("SecretId"));
        auto stage = BERTH_TRY(in.String("VersionStage"));
        auto s = BERTH_TRY(sm.UpdateSecretVersionStage(
            ctx, id, stage, BERTH_TRY(in.StringOr("RemoveFromVersionId")),
            BERTH_TRY(in.StringOr("MoveToVersionId"))));
        return Json{{"ARN", s.arn}, {"Name", s.name}};
      });

  ops["DescribeSecret"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto id = BERTH_TRY(in.String("SecretId"));
    return SecretJson(BERTH_TRY(sm.DescribeSecret(ctx, id)), false);
  });

  ops["ListSecrets"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    secrets::ListSecretsRequest req;
    req.filters = BERTH_TRY(Filters(in));
    req.sort_order = BERTH_TRY(in.StringOr("SortOrder"));
    req.max_results = BERTH_TRY(SmallInt(in, "MaxResults"));
    req.next_token = BERTH_TRY(in.StringOr("NextToken"));
    req.include_planned_deletion = BERTH_TRY(in.BoolOr("IncludePlannedDeletion", false));
    auto page = BERTH_TRY(sm.ListSecrets(ctx, req));
    Json list = Json::array();
    for (const auto& s : page.secrets) list.push_back(SecretJson(s, true));
    Json out = {{"SecretList", list}};
    if (!page.next_token.empty()) out["NextToken"] = page.next_token;
    return out;
  });

  ops["ListSecretVersionIds"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    secrets::ListVersionsRequest req;
    req.secret_id = BERTH_TRY(in.String("SecretId"));
    req.include_deprecated = BERTH_TRY(in.BoolOr("IncludeDeprecated", false));
    req.max_results = BERTH_TRY(SmallInt(in, "MaxResults"));
    req.next_token = BERTH_TRY(in.StringOr("NextToken"));
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

  ops["DeleteSecret"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto id = BERTH_TRY(in.String("SecretId"));
    auto window = BERTH_TRY(in.OptionalInt("RecoveryWindowInDays"));
    bool force = BERTH_TRY(in.BoolOr("ForceDeleteWithoutRecovery", false));
    auto s = BERTH_TRY(sm.DeleteSecret(ctx, id, window, force));
    return Json{{"ARN", s.arn}, {"Name", s.name}, {"DeletionDate", Epoch(*s.deletion_date)}};
  });

  ops["RestoreSecret"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto s = BERTH_TRY(sm.RestoreSecret(ctx, BERTH_TRY(in.String("SecretId"))));
    return Json{{"ARN", s.arn}, {"Name", s.name}};
  });

  ops["PutResourcePolicy"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto id = BERTH_TRY(in.String("SecretId"));
    auto policy = BERTH_TRY(in.String("ResourcePolicy"));
    bool block = BERTH_TRY(in.BoolOr("BlockPublicPolicy", false));
    auto s = BERTH_TRY(sm.PutResourcePolicy(ctx, id, policy, block));
    return Json{{"ARN", s.arn}, {"Name", s.name}};
  });

  ops["GetResourcePolicy"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto s = BERTH_TRY(sm.GetResourcePolicy(ctx, BERTH_TRY(in.String("SecretId"))));
    Json out = {{"ARN", s.arn}, {"Name", s.name}};
    if (!s.policy.empty()) out["ResourcePolicy"] = s.policy;
    return out;
  });

  ops["DeleteResourcePolicy"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto s = BERTH_TRY(sm.DeleteResourcePolicy(ctx, BERTH_TRY(in.String("SecretId"))));
    return Json{{"ARN", s.arn}, {"Name", s.name}};
  });

  ops["ValidateResourcePolicy"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto id = BERTH_TRY(in.OptionalString("SecretId"));
    auto policy = BERTH_TRY(in.String("ResourcePolicy"));
    auto result = BERTH_TRY(sm.ValidateResourcePolicy(ctx, id, policy));
    Json errors = Json::array();
    for (const auto& e : result.errors) {
      errors.push_back({{"CheckName", e.check_name}, {"ErrorMessage", e.message}});
    }
    return Json{{"PolicyValidationPassed", result.passed}, {"ValidationErrors", errors}};
  });

  ops["TagResource"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto id = BERTH_TRY(in.String("SecretId"));
    BERTH_CHECK(sm.TagResource(ctx, id, BERTH_TRY(Tags(BERTH_TRY(in.Objects("Tags"))))));
    return Json::object();
  });

  ops["UntagResource"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    auto id = BERTH_TRY(in.String("SecretId"));
    BERTH_CHECK(sm.UntagResource(ctx, id, BERTH_TRY(in.Strings("TagKeys"))));
    return Json::object();
  });

  ops["GetRandomPassword"] = aws::JsonOp([&sm](Ctx ctx, const JsonReader& in) -> Result<Json> {
    secrets::PasswordOptions o;
    o.length = BERTH_TRY(in.OptionalInt("PasswordLength"));
    o.exclude_characters = BERTH_TRY(in.StringOr("ExcludeCharacters"));
    o.exclude_numbers = BERTH_TRY(in.BoolOr("ExcludeNumbers", false));
    o.exclude_punctuation = BERTH_TRY(in.BoolOr("ExcludePunctuation", false));
    o.exclude_uppercase = BERTH_TRY(in.BoolOr("ExcludeUppercase", false));
    o.exclude_lowercase = BERTH_TRY(in.BoolOr("ExcludeLowercase", false));
    o.include_space = BERTH_TRY(in.BoolOr("IncludeSpace", false));
    o.require_each_included_type = BERTH_TRY(in.BoolOr("RequireEachIncludedType", true));
    return Json{{"RandomPassword", BERTH_TRY(sm.GetRandomPassword(ctx, o))}};
  });

  return svc;
}

Result<std::unique_ptr<Module>> SecretsModule(Environment& env) {
  auto sm = std::make_shared<secrets::Service>(env.kv, env.services.Get<kms::Service>(), env.access,
                                               env.ids, env.clock);
  env.services.Provide(*sm);
  return std::make_unique<RoutesModule>(
      "secrets", [svc = sm.get()](aws::Gateway& gateway) { gateway.Add(SecretsRoutes(*svc)); }, sm);
}

}  // namespace berth::server
