#include "kms/key_record.h"

#include <fmt/format.h>

#include <chrono>

#include "common/json.h"
#include "common/strings.h"

namespace berth::kms {

using json::Json;

std::string KeyPrefix(const std::string& account, const std::string& region) {
  return fmt::format("kms/{}/{}/key/", account, region);
}

std::string KeyArn(const std::string& region, const std::string& account, const std::string& id) {
  return fmt::format("arn:aws:kms:{}:{}:key/{}", region, account, id);
}

int64_t Millis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
TimePoint FromMillis(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }
TimePoint NowMillis(const Clock& clock) { return FromMillis(Millis(clock.Now())); }

void ScheduleRotation(KeyRecord& key, int period_days, TimePoint from) {
  key.rotation_enabled = true;
  key.rotation_period_days = period_days;
  key.next_rotation = from + std::chrono::days(period_days);
}

std::string EncodeKeyRecord(const KeyRecord& k) {
  Json j = {{"id", k.meta.key_id},
            {"arn", k.meta.arn},
            {"account", k.meta.account},
            {"region", k.meta.region},
            {"description", k.meta.description},
            {"state", k.meta.key_state},
            {"manager", k.meta.key_manager},
            {"usage", k.meta.key_usage},
            {"spec", k.meta.key_spec},
            {"created", Millis(k.meta.created)},
            {"policy", k.policy},
            {"bound_policy", k.bound_policy},
            {"policy_ids", k.policy_ids},
            {"tags", k.tags},
            {"material", Base64Encode(k.sealed_material)}};
  if (k.meta.deletion_date) {
    j["deletion"] = Millis(*k.meta.deletion_date);
    j["window"] = k.meta.pending_window_days;
  }
  if (!k.rotations.empty()) {
    Json rotations = Json::array();
    for (const auto& r : k.rotations) {
      rotations.push_back({{"material", Base64Encode(r.sealed_material)},
                           {"date", Millis(r.date)},
                           {"type", r.type}});
    }
    j["rotations"] = std::move(rotations);
  }
  Json rotation = {{"enabled", k.rotation_enabled}};
  if (k.rotation_enabled) {
    rotation["period"] = k.rotation_period_days;
    if (k.next_rotation) rotation["next"] = Millis(*k.next_rotation);
  }
  j["rotation"] = std::move(rotation);
  return json::Dump(j);
}

Result<KeyRecord> DecodeKeyRecord(const store::KeyValue& kv) {
  auto corrupt = [&] { return InternalFailure(fmt::format("corrupt KMS key record {}", kv.key)); };
  Json j = Json::parse(kv.value, nullptr, false);
  if (!j.is_object()) return corrupt();
  KeyRecord k;
  try {
    k.meta.key_id = j.value("id", "");
    k.meta.arn = j.value("arn", "");
    k.meta.account = j.value("account", "");
    k.meta.region = j.value("region", "");
    k.meta.description = j.value("description", "");
    k.meta.key_state = j.value("state", kEnabled);
    k.meta.key_manager = j.value("manager", "CUSTOMER");
    k.meta.key_usage = j.value("usage", "ENCRYPT_DECRYPT");
    k.meta.key_spec = j.value("spec", "SYMMETRIC_DEFAULT");
    k.meta.created = FromMillis(j.value("created", int64_t{0}));
    if (j.contains("deletion")) {
      k.meta.deletion_date = FromMillis(j["deletion"].get<int64_t>());
      k.meta.pending_window_days = j.value("window", 0);
    }
    k.policy = j.value("policy", "");
    k.bound_policy = j.value("bound_policy", "");
    if (j.contains("policy_ids") && j["policy_ids"].is_array()) {
      k.policy_ids = j["policy_ids"].get<std::vector<std::pair<std::string, std::string>>>();
    }
    if (j.contains("tags")) k.tags = j["tags"].get<std::map<std::string, std::string>>();
    auto material = Base64Decode(j.value("material", ""));
    if (!material) return corrupt();
    k.sealed_material = std::move(*material);
    if (j.contains("rotations")) {
      for (const auto& r : j["rotations"]) {
        auto sealed = Base64Decode(r.value("material", ""));
        if (!sealed) return corrupt();
        k.rotations.push_back(KeyRotation{std::move(*sealed),
                                          FromMillis(r.value("date", int64_t{0})),
                                          r.value("type", kAutomatic)});
      }
    }
    if (j.contains("rotation")) {
      const Json& rotation = j["rotation"];
      k.rotation_enabled = rotation.value("enabled", false);
      k.rotation_period_days = rotation.value("period", 0);
      if (rotation.contains("next")) k.next_rotation = FromMillis(rotation["next"].get<int64_t>());
    } else if (k.meta.key_manager == "AWS") {
      // A managed key written before rotation existed: AWS rotates those yearly.
      ScheduleRotation(k, kDefaultRotationPeriod, k.meta.created);
    }
  } catch (const Json::exception&) {
    return corrupt();
  }
  k.store_key = kv.key;
  k.mod_revision = kv.mod_revision;
  return k;
}

bool Expired(const KeyRecord& k, TimePoint now) {
  return k.meta.key_state == kPendingDeletion && k.meta.deletion_date &&
         *k.meta.deletion_date <= now;
}

Status RequireUsable(const KeyRecord& key) {
  if (key.meta.key_state == kDisabled) {
    return Fail("DisabledException", fmt::format("{} is disabled.", key.meta.arn));
  }
  return RefusePendingDeletion(key);
}

Status RefusePendingDeletion(const KeyRecord& key) {
  if (key.meta.key_state == kPendingDeletion) {
    return Fail("KMSInvalidStateException", fmt::format("{} is pending deletion.", key.meta.arn));
  }
  return {};
}

Status RefuseManaged(const KeyRecord& key, std::string_view what) {
  if (key.meta.key_manager == "AWS") {
    return Fail("UnsupportedOperationException",
                fmt::format("{} is an AWS managed key; {}", key.meta.arn, what));
  }
  return {};
}

bool RotationDue(const KeyRecord& key, TimePoint now) {
  return key.meta.key_state == kEnabled && key.rotation_enabled && key.next_rotation &&
         *key.next_rotation <= now;
}

Status RequireRotatable(const KeyRecord& key) {
  BERTH_CHECK(RequireUsable(key));
  return RefuseManaged(key, "its key material rotation cannot be changed.");
}

}  // namespace berth::kms
