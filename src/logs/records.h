// CloudWatch Logs' records in the store and the names derived from a group's identity: store
// keys, ARNs, and the group, stream and resource-policy records (JSON values). The event
// segments are event_store.h's.
//
// Keys (account A, region R):
//   logs/A/R/group/<name>             GroupRecord
//   logs/A/R/stream/<group>:<stream>  StreamRecord (written once)
//   logs/A/R/policy/<policy name>     PolicyRecord
// Group names hold no ':', so "<group>:" prefixes exactly one group's streams.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "logs/service.h"

namespace berth::logs {

std::string GroupKey(std::string_view account, std::string_view region, std::string_view name);
std::string GroupPrefix(std::string_view account, std::string_view region);
std::string StreamKey(std::string_view account, std::string_view region, std::string_view group,
                      std::string_view stream);
// The keys of one group's streams ("logs/A/R/stream/<group>:").
std::string StreamPrefix(std::string_view account, std::string_view region, std::string_view group);
std::string PolicyKey(std::string_view account, std::string_view region, std::string_view name);
std::string PolicyPrefix(std::string_view account, std::string_view region);

// What a key under "logs/" holds, from its shape alone (no store read).
enum class KeyKind { kGroup, kStream, kPolicy, kOther };
KeyKind KindOf(std::string_view store_key);

// arn:aws:logs:R:A:log-group:NAME (no ":*").
std::string GroupArn(std::string_view region, std::string_view account, std::string_view name);
// arn:aws:logs:R:A:log-group:NAME:log-stream:STREAM (STREAM may be empty: the resource group
// operations are authorized on).
std::string StreamArn(std::string_view region, std::string_view account, std::string_view group,
                      std::string_view stream);

// A group ARN taken apart: arn:aws:logs:R:A:log-group:NAME, with or without ":*". Anything
// else: nullopt.
struct GroupArnParts {
  std::string account, region, name;
};
std::optional<GroupArnParts> ParseGroupArn(std::string_view arn);

// The group record: the LogGroup fields and its data key, sealed with the root key (context:
// the record's store key) and, for a KMS group, also as KMS ciphertext.
struct GroupRecord {
  LogGroup group;
  std::string sealed_key;  // crypto::RootKey::Seal of the 32-byte data key
  std::string kms_blob;    // KMS ciphertext of the same key; empty: no KMS key
};
std::string EncodeGroup(const GroupRecord& record);
Result<GroupRecord> DecodeGroup(std::string_view value);

struct StreamRecord {
  int64_t creation_time = 0;  // ms
};
std::string EncodeStream(const StreamRecord& record);
Result<StreamRecord> DecodeStream(std::string_view value);

std::string EncodePolicy(const ResourcePolicy& policy);
Result<ResourcePolicy> DecodePolicy(std::string_view value);

}  // namespace berth::logs
