// Amazon CloudWatch Logs (Logs_20140328). Pure domain logic: typed requests in, Result out; the
// JSON wire shapes live in server/logs_routes.cc. Facts: ECS-FACTS §4 and the botocore model
// logs/2014-03-28.
//
// Namespaces. A log group lives in one account and region. Operations that take
// `logGroupName` resolve it in the caller's account and the request's region; those that take
// `logGroupIdentifier` (GetLogEvents, FilterLogEvents, DescribeLogStreams) also take the
// group's ARN (with or without a trailing ":*"), which may name another account or region.
// Exactly one of name and identifier: InvalidParameterException otherwise. Unknown group:
// ResourceNotFoundException "The specified log group does not exist."; unknown stream:
// "The specified log stream does not exist.".
//
// ARNs: group  arn:aws:logs:R:A:log-group:NAME        (logGroupArn; `arn` adds ":*")
//       stream arn:aws:logs:R:A:log-group:NAME:log-stream:STREAM
//
// Authorization. Every operation calls iam::AccessControl::Authorize with "logs:<Operation>"
// on the resource AWS evaluates for it: stream operations (CreateLogStream, DeleteLogStream,
// PutLogEvents, GetLogEvents) on the stream ARN; group operations (CreateLogGroup,
// DeleteLogGroup, PutRetentionPolicy, DeleteRetentionPolicy, DescribeLogStreams,
// FilterLogEvents) on "arn:aws:logs:R:A:log-group:NAME:log-stream:" (so the usual policy
// resource "...:log-group:NAME:*" matches); DescribeLogGroups on
// "arn:aws:logs:R:A:log-group::log-stream:" (then lists every group of the account);
// TagResource/UntagResource/ListTagsForResource on the group ARN, with aws:RequestTag/aws:TagKeys
// and aws:ResourceTag/<k>. A group of another account is reached only by ARN and only when that
// account's logs resource policies (PutResourcePolicy, account-wide, as AWS's) allow the caller
// too (ResourceContext.account and .policy); otherwise AccessDeniedException.
//
// Encryption. Every group has a 32-byte data key that seals its events (event_store.h), kept in
// the group record sealed with the root key. A group created with `kmsKeyId` also keeps the
// data key as KMS ciphertext of that key, made at CreateLogGroup with GenerateDataKey *as the
// caller* via "logs.<region>.amazonaws.com" with context {"aws:logs:arn": group ARN}; reading
// its events (GetLogEvents, FilterLogEvents) decrypts that ciphertext as the caller, so a
// caller without kms:Decrypt on the key (or a disabled key) cannot read them
// (AccessDeniedException naming the KMS failure). Writing needs no KMS permission (as in AWS,
// the service writes). Nothing of a message is ever stored in plaintext.
//
// PutLogEvents (ECS-FACTS §4.2): 1..10,000 events, each message non-empty, at most
// 1,048,576 - 26 bytes; the batch's messages + 26 bytes an event at most 1,048,576; timestamps
// ascending (else InvalidParameterException "Log events in a single PutLogEvents request must be
// in chronological order."); events more than 2 h in the future are rejected from
// `tooNewLogEventStartIndex` on, events older than 14 days (or than the group's retention) up
// to `tooOldLogEventEndIndex` / `expiredLogEventEndIndex`, and the rest are stored; the valid
// events may span at most 24 h (else InvalidParameterException). Sequence tokens are accepted
// and ignored; parallel puts to one stream are safe.
//
// Retention. PutRetentionPolicy takes 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545,
// 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 days; expired events are deleted from the
// store (EventStore::ExpireBefore): at once when the policy is put, then by SweepRetention,
// which the module runs periodically.
//
// State (account A, region R): logs/A/R/group/<name> (group record), logs/A/R/stream/<group>:<stream>
// (stream record, written once), logs/A/R/policy/<policy name> (resource policies), and the
// event segments (event_store.h). No counter is updated per event: a stream's first/last event
// timestamps come from the event index.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/request_context.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "crypto/root_key.h"
#include "iam/access_control.h"
#include "kms/service.h"
#include "logs/event_store.h"
#include "store/kv.h"

namespace berth::logs {

inline constexpr size_t kMaxBatchBytes = 1'048'576;
inline constexpr size_t kPerEventBytes = 26;
inline constexpr size_t kMaxEventsPerBatch = 10'000;
inline constexpr size_t kMaxFilterPatternLength = 1024;

struct LogGroup {
  std::string account, region, name;
  std::string arn;  // with ":*"
  std::string log_group_arn;  // without
  int64_t creation_time = 0;  // ms
  std::optional<int> retention_in_days;
  std::string kms_key_id;  // the key ARN; empty: none
  std::string log_group_class = "STANDARD";
  bool deletion_protection = false;
  int64_t stored_bytes = 0;
  std::map<std::string, std::string> tags;
};

struct LogStream {
  std::string name, arn;
  int64_t creation_time = 0;
  StreamSummary summary;
};

struct CreateLogGroupRequest {
  std::string name;
  std::string kms_key_id;  // key id, key ARN, alias name or alias ARN; empty: none
  std::map<std::string, std::string> tags;
  std::string log_group_class;  // empty: STANDARD
  bool deletion_protection = false;
};

struct DescribeLogGroupsRequest {
  std::string prefix;   // logGroupNamePrefix
  std::string pattern;  // logGroupNamePattern (substring, case-insensitive); not with prefix
  std::optional<int> limit;  // 1..50, default 50
  std::string next_token;
};
struct LogGroupPage {
  std::vector<LogGroup> groups;  // by name
  std::string next_token;        // empty: no more
};

// The group a request names: exactly one of name and identifier (name or ARN).
struct GroupName {
  std::string name;
  std::string identifier;
};

struct DescribeLogStreamsRequest {
  GroupName group;
  std::string prefix;                     // not with order_by LastEventTime
  std::string order_by = "LogStreamName";  // or "LastEventTime"
  bool descending = false;
  std::optional<int> limit;  // 1..50, default 50
  std::string next_token;
};
struct LogStreamPage {
  std::vector<LogStream> streams;
  std::string next_token;
};

struct PutLogEventsRequest {
  std::string group, stream;
  std::vector<InputEvent> events;
};
struct PutLogEventsResult {
  std::string next_sequence_token;  // deprecated; a value is still returned
  std::optional<int> too_new_start_index;
  std::optional<int> too_old_end_index;
  std::optional<int> expired_end_index;
};

struct GetLogEventsRequest {
  GroupName group;
  std::string stream;
  std::optional<int64_t> start_time, end_time;  // ms; start inclusive, end exclusive
  std::string next_token;                       // "f/..." or "b/..." from an earlier reply
  std::optional<int> limit;                     // 1..10,000, default 10,000 (and 1 MB)
  std::optional<bool> start_from_head;          // default false (the newest events)
};
struct OutputEvent {
  int64_t timestamp = 0, ingestion_time = 0;
  std::string message;
  std::string stream;    // FilterLogEvents only
  std::string event_id;  // FilterLogEvents only
};
struct GetLogEventsResult {
  std::vector<OutputEvent> events;  // ascending timestamps in either direction
  // Never empty; at the end of the stream the token passed in is returned again.
  std::string next_forward_token, next_backward_token;
};

struct FilterLogEventsRequest {
  GroupName group;
  std::vector<std::string> stream_names;  // not with stream_prefix
  std::string stream_prefix;
  std::optional<int64_t> start_time, end_time;
  std::string filter_pattern;
  std::string next_token;
  std::optional<int> limit;  // 1..10,000, default 10,000
};
struct FilterLogEventsResult {
  std::vector<OutputEvent> events;
  std::string next_token;  // empty: no more
};

struct ResourcePolicy {
  std::string name, document;
  int64_t last_updated = 0;
};

class Service {
 public:
  // Everything referred to outlives the service.
  Service(store::Kv& kv, const crypto::RootKey& root_key, iam::AccessControl& access,
          kms::Service& kms, Ids& ids, const Clock& clock);
  ~Service();

  Status CreateLogGroup(const aws::RequestContext& ctx, const CreateLogGroupRequest& request);
  Status DeleteLogGroup(const aws::RequestContext& ctx, const std::string& name);
  Result<LogGroupPage> DescribeLogGroups(const aws::RequestContext& ctx,
                                         const DescribeLogGroupsRequest& request);
  Status PutRetentionPolicy(const aws::RequestContext& ctx, const std::string& group,
                            std::optional<int64_t> days);
  Status DeleteRetentionPolicy(const aws::RequestContext& ctx, const std::string& group);

  Status CreateLogStream(const aws::RequestContext& ctx, const std::string& group,
                         const std::string& stream);
  Status DeleteLogStream(const aws::RequestContext& ctx, const std::string& group,
                         const std::string& stream);
  Result<LogStreamPage> DescribeLogStreams(const aws::RequestContext& ctx,
                                           const DescribeLogStreamsRequest& request);

  Result<PutLogEventsResult> PutLogEvents(const aws::RequestContext& ctx,
                                          PutLogEventsRequest request);
  Result<GetLogEventsResult> GetLogEvents(const aws::RequestContext& ctx,
                                          const GetLogEventsRequest& request);
  Result<FilterLogEventsResult> FilterLogEvents(const aws::RequestContext& ctx,
                                                const FilterLogEventsRequest& request);

  // resourceArn: a log group ARN (with or without ":*").
  Status TagResource(const aws::RequestContext& ctx, const std::string& arn,
                     const std::map<std::string, std::string>& tags);
  Status UntagResource(const aws::RequestContext& ctx, const std::string& arn,
                       const std::vector<std::string>& keys);
  Result<std::map<std::string, std::string>> ListTagsForResource(const aws::RequestContext& ctx,
                                                                 const std::string& arn);

  // Account-wide resource policies (what lets another account's principals in).
  Result<ResourcePolicy> PutResourcePolicy(const aws::RequestContext& ctx,
                                           const std::string& name, const std::string& document);
  Result<std::vector<ResourcePolicy>> DescribeResourcePolicies(const aws::RequestContext& ctx);
  Status DeleteResourcePolicy(const aws::RequestContext& ctx, const std::string& name);

  // Deletes the events every group's retention has expired, in every account and region.
  // Returns the number of events deleted.
  Result<int64_t> SweepRetention();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::logs
