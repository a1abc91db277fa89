// KMS's JSON 1.1 protocol (TrentService): request members in, reply members out, as in the
// botocore `kms` model. Timestamps are epoch seconds as numbers, blobs base64.
#include <fmt/format.h>

#include <algorithm>

#include "aws/json_protocol.h"
#include "common/strings.h"
#include "crypto/root_key.h"
#include "server/module.h"
#include "server/routes.h"

namespace berth::server {

namespace {

using aws::JsonReader;
using aws::RequestContext;
using json::Json;
using kms::Caller;

// Only the symmetric algorithm exists for berth's keys.
Status Algorithm(const JsonReader& in, std::string_view name) {
  auto value = BERTH_TRY(in.OptionalString(name));
  if (!value || *value == "SYMMETRIC_DEFAULT") return {};
  if (*value == "RSAES_OAEP_SHA_1" || *value == "RSAES_OAEP_SHA_256" || *value == "SM2PKE") {
    return Fail(
        "InvalidKeyUsageException",
        fmt::format("{} is not a valid encryption algorithm for a symmetric KMS key.", *value));
  }
  return Fail("ValidationException",
              fmt::format("1 validation error detected: Value '{}' at 'encryptionAlgorithm' failed "
                          "to satisfy constraint: Member must satisfy enum value set: "
                          "[SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]",
                          value->substr(0, 64)));
}

// Grant tokens are accepted and unused (berth has no grants), but must be a
// list of strings.
Status GrantTokens(const JsonReader& in) {
  BERTH_CHECK(in.OptionalStrings("GrantTokens"));
  return {};
}

Result<kms::Service::Page> PageOf(const JsonReader& in) {
  kms::Service::Page page;
  auto limit = BERTH_TRY(in.OptionalInt("Limit"));
  if (limit) {
    if (*limit < 1 || *limit > 1000) {
      return Fail("ValidationException",
                  fmt::format("1 validation error detected: Value '{}' at 'limit' failed to "
                              "satisfy constraint: Member must have value between 1 and 1000",
                              *limit));
    }
    page.limit = static_cast<int>(*limit);
  }
  page.marker = BERTH_TRY(in.StringOr("Marker"));
  return page;
}

template <class T>
void PutPage(Json& out, const kms::Service::Listed<T>& listed) {
  out["Truncated"] = !listed.next_marker.empty();
  if (!listed.next_marker.empty()) out["NextMarker"] = listed.next_marker;
}

// Tags as [{"TagKey": k, "TagValue": v}], both members required, keys unique.
Result<std::map<std::string, std::string>> Tags(const std::vector<JsonReader>& list) {
  std::map<std::string, std::string> tags;
  for (const JsonReader& tag : list) {
    auto key = BERTH_TRY(tag.String("TagKey"));
    auto value = BERTH_TRY(tag.String("TagValue"));
    if (!tags.emplace(key, value).second) {
      return Fail("TagException", fmt::format("Duplicate tag key '{}'.", key.substr(0, 128)));
    }
  }
  return tags;
}

Json MetadataJson(const kms::KeyMetadata& m) {
  Json j = {{"AWSAccountId", m.account},
            {"KeyId", m.key_id},
            {"Arn", m.arn},
            {"CreationDate", ToEpochSeconds(m.created)},
            {"Enabled", m.key_state == "Enabled"},
            {"Description", m.description},
            {"KeyUsage", m.key_usage},
            {"KeyState", m.key_state},
            {"Origin", "AWS_KMS"},
            {"KeyManager", m.key_manager},
            {"CustomerMasterKeySpec", m.key_spec},
            {"KeySpec", m.key_spec},
            {"EncryptionAlgorithms", Json::array({"SYMMETRIC_DEFAULT"})},
            {"MultiRegion", false}};
  if (m.deletion_date) {
    j["DeletionDate"] = ToEpochSeconds(*m.deletion_date);
    j["PendingDeletionWindowInDays"] = m.pending_window_days;
  }
  return j;
}

// Data key size from NumberOfBytes or KeySpec (exactly one of them).
Result<size_t> DataKeySize(const JsonReader& in) {
  auto n = BERTH_TRY(in.OptionalInt("NumberOfBytes"));
  auto spec = BERTH_TRY(in.OptionalString("KeySpec"));
  if (n && spec) {
    return Fail("ValidationException", "Specify either KeySpec or NumberOfBytes, but not both.");
  }
  if (!n && !spec) {
    return Fail("ValidationException", "Please specify either number of bytes or key spec.");
  }
  if (spec) {
    if (*spec == "AES_256") return size_t{32};
    if (*spec == "AES_128") return size_t{16};
    return Fail("ValidationException",
                fmt::format("1 validation error detected: Value '{}' at 'keySpec' failed to "
                            "satisfy constraint: Member must satisfy enum value set: "
                            "[AES_256, AES_128]",
                            spec->substr(0, 64)));
  }
  if (*n < 1 || *n > kms::kMaxRandomBytes) {
    return Fail("ValidationException",
                fmt::format("1 validation error detected: Value '{}' at 'numberOfBytes' failed to "
                            "satisfy constraint: Member must have value between 1 and {}",
                            *n, kms::kMaxRandomBytes));
  }
  return static_cast<size_t>(*n);
}

using Handler = std::function<Result<Json>(const Caller&, const JsonReader&)>;

// Direct KMS calls come through no other service: via_service stays empty.
aws::JsonOperation Op(Handler handler) {
  return aws::JsonOp([handler = std::move(handler)](const RequestContext& ctx,
                                                    const JsonReader& in) -> Result<Json> {
    return handler(Caller{ctx, ""}, in);
  });
}

}  // namespace

aws::JsonService KmsRoutes(kms::Service& kms) {
  aws::JsonService svc;
  svc.signing_name = "kms";
  svc.target_prefix = "TrentService";
  auto& ops = svc.operations;

  ops["GenerateRandom"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto n = BERTH_TRY(in.OptionalInt("NumberOfBytes"));
    auto bytes = BERTH_TRY(kms.GenerateRandom(c, n));
    return Json{{"Plaintext", Base64Encode(bytes)}};
  });

  // ---- keys
  ops["CreateKey"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    kms::Service::CreateKeyRequest r;
    r.description = BERTH_TRY(in.StringOr("Description"));
    r.policy = BERTH_TRY(in.StringOr("Policy"));
    r.tags = BERTH_TRY(Tags(BERTH_TRY(in.ObjectsOr("Tags"))));
    if (auto usage = BERTH_TRY(in.OptionalString("KeyUsage"))) r.key_usage = *usage;
    auto spec = BERTH_TRY(in.OptionalString("KeySpec"));
    auto cmk_spec = BERTH_TRY(in.OptionalString("CustomerMasterKeySpec"));
    if (spec && cmk_spec) {
      return Fail("ValidationException",
                  "You cannot specify KeySpec and CustomerMasterKeySpec in the same request.");
    }
    if (spec) r.key_spec = *spec;
    if (cmk_spec) {
      r.key_spec = *cmk_spec;
      r.key_spec_member = "customerMasterKeySpec";
    }
    if (auto origin = BERTH_TRY(in.OptionalString("Origin"))) r.origin = *origin;
    if (BERTH_TRY(in.OptionalString("CustomKeyStoreId"))) {
      return Fail("UnsupportedOperationException", "berth has no custom key stores.");
    }
    r.multi_region = BERTH_TRY(in.BoolOr("MultiRegion", false));
    r.bypass_policy_lockout_safety_check =
        BERTH_TRY(in.BoolOr("BypassPolicyLockoutSafetyCheck", false));
    auto meta = BERTH_TRY(kms.CreateKey(c, r));
    return Json{{"KeyMetadata", MetadataJson(meta)}};
  });
  ops["DescribeKey"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    BERTH_CHECK(GrantTokens(in));
    auto meta = BERTH_TRY(kms.DescribeKey(c, BERTH_TRY(in.String("KeyId"))));
    return Json{{"KeyMetadata", MetadataJson(meta)}};
  });
  ops["ListKeys"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto listed = BERTH_TRY(kms.ListKeys(c, BERTH_TRY(PageOf(in))));
    Json keys = Json::array();
    for (const auto& k : listed.items) keys.push_back({{"KeyId", k.key_id}, {"KeyArn", k.key_arn}});
    Json out = {{"Keys", keys}};
    PutPage(out, listed);
    return out;
  });
  ops["EnableKey"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    BERTH_CHECK(kms.EnableKey(c, BERTH_TRY(in.String("KeyId"))));
    return Json::object();
  });
  ops["DisableKey"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    BERTH_CHECK(kms.DisableKey(c, BERTH_TRY(in.String("KeyId"))));
    return Json::object();
  });
  ops["ScheduleKeyDeletion"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto key_id = BERTH_TRY(in.String("KeyId"));
    auto days = BERTH_TRY(in.OptionalInt("PendingWindowInDays"));
    std::optional<int> window;
    if (days) window = static_cast<int>(std::clamp<long long>(*days, -1, 100000));
    auto meta = BERTH_TRY(kms.ScheduleKeyDeletion(c, key_id, window));
    return Json{{"KeyId", meta.arn},
                {"DeletionDate", ToEpochSeconds(*meta.deletion_date)},
                {"KeyState", meta.key_state},
                {"PendingWindowInDays", meta.pending_window_days}};
  });
  ops["CancelKeyDeletion"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto meta = BERTH_TRY(kms.CancelKeyDeletion(c, BERTH_TRY(in.String("KeyId"))));
    return Json{{"KeyId", meta.arn}};
  });
  ops["UpdateKeyDescription"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto key_id = BERTH_TRY(in.String("KeyId"));
    BERTH_CHECK(kms.UpdateKeyDescription(c, key_id, BERTH_TRY(in.String("Description"))));
    return Json::object();
  });

  // ---- key rotation
  ops["EnableKeyRotation"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto key_id = BERTH_TRY(in.String("KeyId"));
    auto days = BERTH_TRY(in.OptionalInt("RotationPeriodInDays"));
    BERTH_CHECK(kms.EnableKeyRotation(c, key_id, days));
    return Json::object();
  });
  ops["DisableKeyRotation"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    BERTH_CHECK(kms.DisableKeyRotation(c, BERTH_TRY(in.String("KeyId"))));
    return Json::object();
  });
  ops["GetKeyRotationStatus"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto status = BERTH_TRY(kms.GetKeyRotationStatus(c, BERTH_TRY(in.String("KeyId"))));
    Json out = {{"KeyRotationEnabled", status.enabled}, {"KeyId", status.key_id}};
    if (status.enabled) out["RotationPeriodInDays"] = status.period_days;
    if (status.next_rotation) out["NextRotationDate"] = ToEpochSeconds(*status.next_rotation);
    // On-demand rotations complete within the call: OnDemandRotationStartDate (a
    // rotation in progress) is never reported.
    return out;
  });
  ops["RotateKeyOnDemand"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    return Json{{"KeyId", BERTH_TRY(kms.RotateKeyOnDemand(c, BERTH_TRY(in.String("KeyId"))))}};
  });
  ops["ListKeyRotations"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto key_id = BERTH_TRY(in.String("KeyId"));
    auto include = BERTH_TRY(in.StringOr("IncludeKeyMaterial"));
    if (!include.empty() && include != "ROTATIONS_ONLY" && include != "ALL_KEY_MATERIAL") {
      return Fail("ValidationException",
                  fmt::format("1 validation error detected: Value '{}' at 'includeKeyMaterial' "
                              "failed to satisfy constraint: Member must satisfy enum value set: "
                              "[ALL_KEY_MATERIAL, ROTATIONS_ONLY]",
                              include.substr(0, 64)));
    }
    auto listed = BERTH_TRY(
        kms.ListKeyRotations(c, key_id, include == "ALL_KEY_MATERIAL", BERTH_TRY(PageOf(in))));
    Json rotations = Json::array();
    for (const auto& r : listed.items) {
      Json entry = {{"KeyId", r.key_id},
                    {"KeyMaterialId", r.key_material_id},
                    {"KeyMaterialState", r.current ? "CURRENT" : "NON_CURRENT"}};
      if (r.rotation_date) entry["RotationDate"] = ToEpochSeconds(*r.rotation_date);
      if (!r.rotation_type.empty()) entry["RotationType"] = r.rotation_type;
      rotations.push_back(std::move(entry));
    }
    Json out = {{"Rotations", rotations}};
    PutPage(out, listed);
    return out;
  });

  // ---- cryptography
  ops["Encrypt"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto key_id = BERTH_TRY(in.String("KeyId"));
    auto plaintext = BERTH_TRY(in.Blob("Plaintext"));
    auto context = BERTH_TRY(in.StringMapOr("EncryptionContext"));
    BERTH_CHECK(Algorithm(in, "EncryptionAlgorithm"));
    BERTH_CHECK(GrantTokens(in));
    auto blob = BERTH_TRY(kms.Encrypt(c, key_id, plaintext, context));
    return Json{{"CiphertextBlob", Base64Encode(blob)},
                {"KeyId", kms::Service::BlobKeyArn(blob).value_or("")},
                {"EncryptionAlgorithm", "SYMMETRIC_DEFAULT"}};
  });
  ops["Decrypt"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto blob = BERTH_TRY(in.Blob("CiphertextBlob"));
    auto context = BERTH_TRY(in.StringMapOr("EncryptionContext"));
    auto key_id = BERTH_TRY(in.StringOr("KeyId"));
    BERTH_CHECK(Algorithm(in, "EncryptionAlgorithm"));
    BERTH_CHECK(GrantTokens(in));
    auto out = BERTH_TRY(kms.Decrypt(c, blob, context, key_id));
    return Json{{"KeyId", out.key_arn},
                {"Plaintext", Base64Encode(out.plaintext)},
                {"EncryptionAlgorithm", "SYMMETRIC_DEFAULT"}};
  });
  ops["ReEncrypt"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto blob = BERTH_TRY(in.Blob("CiphertextBlob"));
    auto source_context = BERTH_TRY(in.StringMapOr("SourceEncryptionContext"));
    auto source_key = BERTH_TRY(in.StringOr("SourceKeyId"));
    auto destination_key = BERTH_TRY(in.String("DestinationKeyId"));
    auto destination_context = BERTH_TRY(in.StringMapOr("DestinationEncryptionContext"));
    BERTH_CHECK(Algorithm(in, "SourceEncryptionAlgorithm"));
    BERTH_CHECK(Algorithm(in, "DestinationEncryptionAlgorithm"));
    BERTH_CHECK(GrantTokens(in));
    auto out = BERTH_TRY(
        kms.ReEncrypt(c, blob, source_context, source_key, destination_key, destination_context));
    return Json{{"CiphertextBlob", Base64Encode(out.ciphertext_blob)},
                {"SourceKeyId", out.source_key_arn},
                {"KeyId", out.key_arn},
                {"SourceEncryptionAlgorithm", "SYMMETRIC_DEFAULT"},
                {"DestinationEncryptionAlgorithm", "SYMMETRIC_DEFAULT"}};
  });
  ops["GenerateDataKey"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto key_id = BERTH_TRY(in.String("KeyId"));
    auto context = BERTH_TRY(in.StringMapOr("EncryptionContext"));
    size_t size = BERTH_TRY(DataKeySize(in));
    BERTH_CHECK(GrantTokens(in));
    auto key = BERTH_TRY(kms.GenerateDataKey(c, key_id, context, size));
    return Json{{"CiphertextBlob", Base64Encode(key.ciphertext_blob)},
                {"Plaintext", Base64Encode(key.plaintext)},
                {"KeyId", key.key_arn}};
  });
  ops["GenerateDataKeyWithoutPlaintext"] =
      Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
        auto key_id = BERTH_TRY(in.String("KeyId"));
        auto context = BERTH_TRY(in.StringMapOr("EncryptionContext"));
        size_t size = BERTH_TRY(DataKeySize(in));
        BERTH_CHECK(GrantTokens(in));
        auto key = BERTH_TRY(kms.GenerateDataKeyWithoutPlaintext(c, key_id, context, size));
        return Json{{"CiphertextBlob", Base64Encode(key.ciphertext_blob)}, {"KeyId", key.key_arn}};
      });

  // ---- aliases
  ops["CreateAlias"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto name = BERTH_TRY(in.String("AliasName"));
    BERTH_CHECK(kms.CreateAlias(c, name, BERTH_TRY(in.String("TargetKeyId"))));
    return Json::object();
  });
  ops["UpdateAlias"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto name = BERTH_TRY(in.String("AliasName"));
    BERTH_CHECK(kms.UpdateAlias(c, name, BERTH_TRY(in.String("TargetKeyId"))));
    return Json::object();
  });
  ops["DeleteAlias"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    BERTH_CHECK(kms.DeleteAlias(c, BERTH_TRY(in.String("AliasName"))));
    return Json::object();
  });
  ops["ListAliases"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto key_id = BERTH_TRY(in.StringOr("KeyId"));
    auto listed = BERTH_TRY(kms.ListAliases(c, key_id, BERTH_TRY(PageOf(in))));
    Json aliases = Json::array();
    for (const auto& a : listed.items) {
      aliases.push_back({{"AliasName", a.alias_name},
                         {"AliasArn", a.alias_arn},
                         {"TargetKeyId", a.target_key_id},
                         {"CreationDate", ToEpochSeconds(a.created)},
                         {"LastUpdatedDate", ToEpochSeconds(a.updated)}});
    }
    Json out = {{"Aliases", aliases}};
    PutPage(out, listed);
    return out;
  });

  // ---- key policies
  ops["GetKeyPolicy"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto key_id = BERTH_TRY(in.String("KeyId"));
    auto name = BERTH_TRY(in.StringOr("PolicyName"));
    auto policy = BERTH_TRY(kms.GetKeyPolicy(c, key_id, name));
    return Json{{"Policy", policy}, {"PolicyName", "default"}};
  });
  ops["PutKeyPolicy"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto key_id = BERTH_TRY(in.String("KeyId"));
    auto name = BERTH_TRY(in.StringOr("PolicyName"));
    auto policy = BERTH_TRY(in.String("Policy"));
    bool bypass = BERTH_TRY(in.BoolOr("BypassPolicyLockoutSafetyCheck", false));
    BERTH_CHECK(kms.PutKeyPolicy(c, key_id, name, policy, bypass));
    return Json::object();
  });
  ops["ListKeyPolicies"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto key_id = BERTH_TRY(in.String("KeyId"));
    auto listed = BERTH_TRY(kms.ListKeyPolicies(c, key_id, BERTH_TRY(PageOf(in))));
    Json out = {{"PolicyNames", listed.items}};
    PutPage(out, listed);
    return out;
  });

  // ---- tags
  ops["TagResource"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto key_id = BERTH_TRY(in.String("KeyId"));
    BERTH_CHECK(kms.TagResource(c, key_id, BERTH_TRY(Tags(BERTH_TRY(in.Objects("Tags"))))));
    return Json::object();
  });
  ops["UntagResource"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto key_id = BERTH_TRY(in.String("KeyId"));
    auto keys = BERTH_TRY(in.Strings("TagKeys"));
    BERTH_CHECK(kms.UntagResource(c, key_id, keys));
    return Json::object();
  });
  ops["ListResourceTags"] = Op([&kms](const Caller& c, const JsonReader& in) -> Result<Json> {
    auto key_id = BERTH_TRY(in.String("KeyId"));
    auto listed = BERTH_TRY(kms.ListResourceTags(c, key_id, BERTH_TRY(PageOf(in))));
    Json tags = Json::array();
    for (const auto& [k, v] : listed.items) tags.push_back({{"TagKey", k}, {"TagValue", v}});
    Json out = {{"Tags", tags}};
    PutPage(out, listed);
    return out;
  });
  return svc;
}

Result<std::unique_ptr<Module>> KmsModule(Environment& env) {
  auto kms = std::make_shared<kms::Service>(env.kv, env.root_key, env.access, env.ids, env.clock);
  env.services.Provide(*kms);
  return std::make_unique<RoutesModule>(
      "kms", [svc = kms.get()](aws::Gateway& gateway) { gateway.Add(KmsRoutes(*svc)); }, kms);
}

}  // namespace berth::server
