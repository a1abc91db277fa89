// KMS aliases: the rules for their names and how they are kept in store::Kv.
//
// Store layout (account A, region R):
//   kms/A/R/alias/<name>   {"name", "target": key id, "created", "updated"} for
//                          "alias/<name>" (EncodeAlias)
// "alias/aws/<service>" names the AWS managed key of a service (kms/key_policy.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/error.h"
#include "store/kv.h"

namespace berth::kms {

inline constexpr std::string_view kReservedAliasPrefix = "alias/aws/";
inline constexpr size_t kMaxAliasName = 256;

// The store prefix of the aliases of `account` in `region`.
std::string AliasPrefix(const std::string& account, const std::string& region);
// Where alias `alias_name` (the full "alias/..." name) is stored.
std::string AliasStoreKey(const std::string& account, const std::string& region,
                          std::string_view alias_name);
std::string AliasArn(const std::string& region, const std::string& account,
                     std::string_view alias_name);
// "alias/aws/<service>": the alias of the AWS managed key of `service`.
std::string ManagedKeyAlias(std::string_view service);
// The <service> of "alias/aws/<service>"; empty for any other name.
std::string_view ManagedKeyAliasService(std::string_view alias_name);

// ValidationException with AWS's messages unless `name` is "alias/" then 1-250
// of [A-Za-z0-9/_-].
Status ValidateAliasName(std::string_view name);
// NotAuthorizedException for "alias/aws/...", which only AWS managed keys have.
Status RefuseReservedAlias(std::string_view name);

struct AliasRecord {
  std::string name, target;  // "alias/..."; the key id
  TimePoint created, updated;
  std::string store_key;     // not stored
  int64_t mod_revision = 0;  // not stored
};

std::string EncodeAlias(const AliasRecord& alias);
// The alias stored as `kv` (store_key and mod_revision from `kv`);
// InternalFailure when it is not an alias record.
Result<AliasRecord> DecodeAlias(const store::KeyValue& kv);
// The alias at `store_key`, nullopt when there is none.
Result<std::optional<AliasRecord>> GetAlias(store::Kv& kv, const std::string& store_key);

}  // namespace berth::kms
