// A KMS key as kept in store::Kv, and the rules its state imposes.
//
// Store layout (account A, region R):
//   kms/A/R/key/<key id>   the key as JSON (EncodeKeyRecord): metadata, policy, tags,
//                          rotation settings and its material versions, each sealed
//                          with the root key (kms/key_material.h)
// (aliases: kms/aliases.h). Times are kept to the millisecond, so what an
// operation returns is what is stored.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "kms/service.h"
#include "store/kv.h"

namespace berth::kms {

// KeyMetadata::key_state values.
inline constexpr char kEnabled[] = "Enabled";
inline constexpr char kDisabled[] = "Disabled";
inline constexpr char kPendingDeletion[] = "PendingDeletion";
// KeyRotation::type values.
inline constexpr char kAutomatic[] = "AUTOMATIC";
inline constexpr char kOnDemand[] = "ON_DEMAND";
// Automatic rotation's period unless the caller sets one; AWS managed keys' always.
inline constexpr int kDefaultRotationPeriod = 365;

// The store prefix of the keys of `account` in `region`; a key's store key is
// the prefix and its id.
std::string KeyPrefix(const std::string& account, const std::string& region);
std::string KeyArn(const std::string& region, const std::string& account, const std::string& id);

int64_t Millis(TimePoint t);
TimePoint FromMillis(int64_t ms);
// The clock's time cut to the millisecond.
TimePoint NowMillis(const Clock& clock);

// A rotation: the material version it made (its index in KeyRecord::rotations, plus one).
struct KeyRotation {
  std::string sealed_material;  // root-key sealed (kms/key_material.h)
  TimePoint date;
  std::string type;  // kAutomatic | kOnDemand
};

struct KeyRecord {
  KeyMetadata meta;
  std::string policy;
  // The policy with the IAM users and roles it names bound to their unique
  // ids when it was put (what is evaluated; empty: `policy`), and those ids.
  std::string bound_policy;
  std::vector<std::pair<std::string, std::string>> policy_ids;
  std::map<std::string, std::string> tags;
  std::string sealed_material;             // version 0, root-key sealed, bound to store_key
  std::vector<KeyRotation> rotations;      // versions 1..n, oldest first
  bool rotation_enabled = false;           // automatic rotation
  int rotation_period_days = 0;            // when enabled
  std::optional<TimePoint> next_rotation;  // when enabled
  std::string store_key;
  int64_t mod_revision = 0;
  std::string via_alias;  // the alias the request named it by, if any (not stored)
  // sealed_material opened, when the record came through the cache; null
  // otherwise or when it does not open (not stored).
  std::shared_ptr<const KeyMaterial> material;
};

// Turns on automatic rotation every `period_days`, next `period_days` after `from`.
void ScheduleRotation(KeyRecord& key, int period_days, TimePoint from);

// The stored form of `key` (all but store_key, mod_revision, via_alias, material).
std::string EncodeKeyRecord(const KeyRecord& key);
// The key stored as `kv` (store_key and mod_revision from `kv`); InternalFailure
// when it is not a key record. A managed key written before rotation existed
// rotates yearly from its creation, as AWS's do.
Result<KeyRecord> DecodeKeyRecord(const store::KeyValue& kv);

// Pending deletion with its deletion date at or before `now`: to be deleted.
bool Expired(const KeyRecord& key, TimePoint now);
// Cryptographic operations: DisabledException for a disabled key,
// KMSInvalidStateException for one pending deletion.
Status RequireUsable(const KeyRecord& key);
// KMSInvalidStateException for a key pending deletion.
Status RefusePendingDeletion(const KeyRecord& key);
// UnsupportedOperationException "<arn> is an AWS managed key; <what>" for an
// AWS managed key.
Status RefuseManaged(const KeyRecord& key, std::string_view what);
// An enabled key with automatic rotation whose next rotation is at or before `now`.
bool RotationDue(const KeyRecord& key, TimePoint now);
// Enable/Disable/RotateKeyOnDemand need an enabled customer managed key.
Status RequireRotatable(const KeyRecord& key);

}  // namespace berth::kms
