// The state Service's operations share (internal to the logs library): the caches of group
// and stream records, how a request finds, authorizes and writes a group, and the group's
// data key. Operations on groups, streams and policies are in service.cc, on events in
// events.cc.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "iam/condition.h"
#include "logs/records.h"
#include "logs/service.h"
#include "store/key_locks.h"
#include "store/watched_cache.h"

namespace berth::logs {

// A group record as parsed from one revision: its data key unsealed (wiped when dropped) and
// the resource side of an authorization on it (aws:ResourceTag/*).
struct GroupEntry {
  LogGroup group;
  std::string kms_blob;  // empty: no KMS key
  DataKey key;
  iam::ContextMap resource_keys;
};

struct StreamEntry {
  int64_t creation_time = 0;
};

// Where a request's group lives.
struct GroupPlace {
  std::string account, region, name;
};

// A group as read, with what a conditional write needs.
struct LoadedGroup {
  std::shared_ptr<const GroupEntry> entry;  // never null
  std::string key;
  int64_t mod_revision = 0;
  const LogGroup& group() const { return entry->group; }
};

struct Service::Impl {
  Impl(store::Kv& kv, const crypto::RootKey& root_key, iam::AccessControl& access,
       kms::Service& kms, Ids& ids, const Clock& clock);

  int64_t NowMs() const;

  // The group at `place`; nullopt when absent. `fresh`: from the store (writes), else the cache.
  Result<std::optional<LoadedGroup>> Load(const GroupPlace& place, bool fresh);

  // Authorizes `action` on `resource` of the group at `place` (whose entry is `entry`, null
  // when it does not exist), with the operation's condition keys `extra`. Another account's
  // resource needs that account's resource policies to allow it too.
  Status Authorize(const aws::RequestContext& ctx, const std::string& action,
                   const std::string& resource, const GroupPlace& place, const GroupEntry* entry,
                   const iam::ContextMap& extra = {});

  // Load + Authorize: ResourceNotFoundException "The specified log group does not exist." when
  // absent (after the authorization, so the existence of another account's group is not told to
  // a caller who may not know it). `resource` is built from the place.
  Result<LoadedGroup> Open(const aws::RequestContext& ctx, const GroupPlace& place,
                           const std::string& action, const std::string& resource,
                           const iam::ContextMap& extra = {}, bool fresh = false);

  // A request's logGroupName (the caller's account and region), validated.
  Result<GroupPlace> InCallerAccount(const aws::RequestContext& ctx, const std::string& name,
                                     const char* field = "logGroupName");
  // A stream operation's logGroupName and logStreamName (the caller's account), validated.
  Result<GroupPlace> StreamInCallerAccount(const aws::RequestContext& ctx, const std::string& group,
                                           const std::string& stream);
  // GetLogEvents' / FilterLogEvents' / DescribeLogStreams' name-or-identifier.
  Result<GroupPlace> Resolve(const aws::RequestContext& ctx, const GroupName& group);

  // The key that opens the group's events for a reader: a KMS group's is decrypted with KMS
  // as the caller (the permission check), every call.
  Result<DataKey> ReadKey(const aws::RequestContext& ctx, const GroupEntry& entry);

  // The stream record's mod_revision (0: no such stream); `fresh` skips the cache.
  Result<int64_t> StreamRevision(const GroupPlace& place, const std::string& stream, bool fresh);

  // Read-modify-write of a group record, retried on a lost race (store/retry.h).
  Result<LogGroup> Mutate(const aws::RequestContext& ctx, const GroupPlace& place,
                          const std::string& action, const std::string& resource,
                          const iam::ContextMap& extra,
                          const std::function<Status(LogGroup&)>& change);

  // The summaries of a group's streams (DescribeLogStreams, storedBytes).
  Result<std::vector<LogStream>> Streams(const GroupPlace& place, const std::string& prefix);

  store::Kv& kv;
  const crypto::RootKey& root_key;
  iam::AccessControl& access;
  kms::Service& kms;
  Ids& ids;
  const Clock& clock;
  EventStore events;
  store::WatchedCache<GroupEntry> groups{65536};
  store::WatchedCache<StreamEntry> streams{1 << 20};
  store::KeyLocks locks;
  std::unique_ptr<store::WatchHandle> watch;

  // The entry of a group record read at `generation` (groups.Generation()), cached.
  Result<std::shared_ptr<const GroupEntry>> Parse(const store::KeyValue& kv, uint64_t generation);

 private:
  // The statements of every resource policy of (account, region) as one document; empty: none.
  Result<std::string> AccountPolicy(const std::string& account, const std::string& region);
};

std::unexpected<Error> GroupNotFound();
std::unexpected<Error> StreamNotFound();
// The KMS service name logs calls through: "logs.<region>.amazonaws.com".
std::string ViaService(std::string_view region);
kms::EncryptionContext KmsContext(const LogGroup& group);
// KMS's failure as Logs reports it.
Error FromKms(const Error& e);

}  // namespace berth::logs
