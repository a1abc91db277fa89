#include "kms/aliases.h"

#include <fmt/format.h>

#include <cctype>

#include "common/json.h"
#include "kms/errors.h"
#include "kms/key_record.h"

namespace berth::kms {

using json::Json;

std::string AliasPrefix(const std::string& account, const std::string& region) {
  return fmt::format("kms/{}/{}/alias/", account, region);
}

std::string AliasStoreKey(const std::string& account, const std::string& region,
                          std::string_view alias_name) {
  return AliasPrefix(account, region) + std::string(alias_name.substr(6));
}

std::string AliasArn(const std::string& region, const std::string& account,
                     std::string_view alias_name) {
  return fmt::format("arn:aws:kms:{}:{}:{}", region, account, alias_name);
}

std::string ManagedKeyAlias(std::string_view service) {
  return std::string(kReservedAliasPrefix) + std::string(service);
}

std::string_view ManagedKeyAliasService(std::string_view alias_name) {
  if (!alias_name.starts_with(kReservedAliasPrefix)) return {};
  return alias_name.substr(kReservedAliasPrefix.size());
}

Status ValidateAliasName(std::string_view name) {
  if (!name.starts_with("alias/")) {
    return Fail("ValidationException",
                "Alias must start with the prefix \"alias/\". Please see "
                "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html");
  }
  if (name.size() > kMaxAliasName) {
    return Fail("ValidationException",
                "1 validation error detected: Value at 'aliasName' failed to satisfy constraint: "
                "Member must have length less than or equal to 256");
  }
  // The model's pattern admits ':', which KMS then refuses with a message of its own.
  if (name.find(':') != std::string_view::npos) {
    return Fail("ValidationException",
                fmt::format("{} contains invalid characters for an alias", Clip(name)));
  }
  bool ok = name.size() > 6;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-')) {
      ok = false;
    }
  }
  if (!ok) {
    return Fail("ValidationException",
                fmt::format("1 validation error detected: Value '{}' at 'aliasName' failed to "
                            "satisfy constraint: Member must satisfy regular expression pattern: "
                            "^[a-zA-Z0-9:/_-]+$",
                            Clip(name)));
  }
  return {};
}

Status RefuseReservedAlias(std::string_view name) {
  if (name.starts_with(kReservedAliasPrefix)) {
    return Fail("NotAuthorizedException",
                fmt::format("The alias {} is reserved for AWS managed keys.", Clip(name)));
  }
  return {};
}

std::string EncodeAlias(const AliasRecord& a) {
  return json::Dump(Json{{"name", a.name},
                         {"target", a.target},
                         {"created", Millis(a.created)},
                         {"updated", Millis(a.updated)}});
}

Result<AliasRecord> DecodeAlias(const store::KeyValue& kv) {
  auto corrupt = [&] {
    return InternalFailure(fmt::format("corrupt KMS alias record {}", kv.key));
  };
  Json j = Json::parse(kv.value, nullptr, false);
  if (!j.is_object()) return corrupt();
  AliasRecord a;
  try {
    a.name = j.value("name", "");
    a.target = j.value("target", "");
    a.created = FromMillis(j.value("created", int64_t{0}));
    a.updated = FromMillis(j.value("updated", int64_t{0}));
  } catch (const Json::exception&) {
    return corrupt();
  }
  a.store_key = kv.key;
  a.mod_revision = kv.mod_revision;
  return a;
}

Result<std::optional<AliasRecord>> GetAlias(store::Kv& kv, const std::string& store_key) {
  auto got = BERTH_TRY(kv.Get(store_key));
  if (!got) return std::optional<AliasRecord>();
  return std::optional<AliasRecord>(BERTH_TRY(DecodeAlias(*got)));
}

}  // namespace berth::kms
