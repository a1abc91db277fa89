// RunTask's clientToken: the same token with the same request returns the
// tasks that request created (no new ones); with different parameters it is
// ConflictException whose `resourceIds` are those tasks' ARNs.
//
// The token's record (records.h RunTokenKey: the request's digest and the
// task ids) is written in the transaction that creates the tasks, so a token
// never exists without its tasks. A token whose tasks are all gone (swept an
// hour after they stopped) is free again, and the sweep deletes its record.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "ecs/service_impl.h"
#include "store/kv.h"

namespace berth::ecs {

// Up to 64 ASCII characters 33-126: InvalidParameterException otherwise.
Status ValidateClientToken(std::string_view token);

// What identifies a request's parameters (clientToken and cluster aside):
// hex SHA-256 of a canonical encoding of every other member.
std::string RunTaskDigest(const RunTaskRequest& request);

struct RunTokenLookup {
  // Set when the token answers the request: the tasks it created that still exist.
  std::optional<std::vector<Task>> replay;
  // Otherwise: what to commit with the new tasks (a compare on the token's
  // record as read and, by RecordTasks, its new value).
  std::string key;
  int64_t revision = 0;
  std::string digest;

  // The compare and put that record `tasks` under the token.
  store::Txn RecordTasks(const std::vector<Task>& tasks) const;
};

// With the index of `cluster` locked: what `token` means for a request with
// `digest`. ConflictException (with resourceIds) when it was used with other
// parameters.
Result<RunTokenLookup> LookUpRunToken(Service::Impl& impl, const Scope& scope,
                                      const ClusterIndex& index, const std::string& cluster,
                                      const std::string& token, const std::string& digest);

// With the index locked, after `swept` tasks were deleted from it: deletes
// the records of their tokens that no remaining task holds.
Status ForgetRunTokens(Service::Impl& impl, const ClusterIndex& index,
                       const std::vector<std::shared_ptr<const Task>>& swept);

}  // namespace berth::ecs
