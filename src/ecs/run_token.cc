#include "ecs/run_token.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/arn.h"
#include "common/json.h"
#include "crypto/sha256.h"

namespace berth::ecs {

using json::Json;

Status ValidateClientToken(std::string_view token) {
  bool printable = std::all_of(token.begin(), token.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 33 && static_cast<unsigned char>(c) <= 126;
  });
  if (token.size() > 64 || !printable) {
    return Fail("InvalidParameterException",
                "clientToken must be up to 64 ASCII characters in the range 33-126.");
  }
  return {};
}

std::string RunTaskDigest(const RunTaskRequest& r) {
  Json constraints = Json::array();
  for (const auto& c : r.placement_constraints) constraints.push_back({c.type, c.expression});
  Json strategy = Json::array();
  for (const auto& s : r.placement_strategy) strategy.push_back({s.type, s.field});
  Json tags = Json::array();
  for (const auto& t : r.tags) tags.push_back({t.key, t.value});
  // Json objects keep their members sorted: the dump is canonical.
  Json j = {{"taskDefinition", r.task_definition},
            {"count", r.count},
            {"launchType", r.launch_type},
            {"platformVersion", r.platform_version},
            {"group", r.group},
            {"startedBy", r.started_by},
            {"overrides", EncodeOverrides(r.overrides)},
            {"placementConstraints", std::move(constraints)},
            {"placementStrategy", std::move(strategy)},
            {"networkConfiguration", r.has_network_configuration},
            {"tags", std::move(tags)}};
  return crypto::Sha256Hex(json::Dump(j));
}

store::Txn RunTokenLookup::RecordTasks(const std::vector<Task>& tasks) const {
  RunTokenRecord record{digest, {}};
  for (const auto& t : tasks) record.task_ids.push_back(t.id);
  store::Txn txn;
  txn.compares.push_back({key, revision});
  txn.ops.push_back(store::Op::Put(key, EncodeRunToken(record)));
  return txn;
}

Result<RunTokenLookup> LookUpRunToken(Service::Impl& impl, const Scope& scope,
                                      const ClusterIndex& index, const std::string& cluster,
                                      const std::string& token, const std::string& digest) {
  RunTokenLookup out;
  out.key = RunTokenKey(scope.account, scope.region, cluster, token);
  out.digest = digest;
  auto stored = BERTH_TRY(impl.kv.Get(out.key));
  if (!stored) return out;
  out.revision = stored->mod_revision;
  RunTokenRecord record = BERTH_TRY(DecodeRunToken(stored->value));
  std::vector<Task> tasks;
  for (const auto& id : record.task_ids) {
    if (const auto* state = index.FindTask(id)) tasks.push_back(*state->record);
  }
  if (tasks.empty()) return out;  // expired with its tasks: the token is free again
  if (record.digest == digest) {
    out.replay = std::move(tasks);
    return out;
  }
  Json arns = Json::array();
  for (const auto& t : tasks) arns.push_back(t.arn);
  Error conflict{"ConflictException",
                 "The clientToken was already used with different parameters; resourceIds are "
                 "the tasks it created.",
                 400};
  conflict.extra_json = "\"resourceIds\":" + json::Dump(arns);
  return Fail(std::move(conflict));
}

Status ForgetRunTokens(Service::Impl& impl, const ClusterIndex& index,
                       const std::vector<std::shared_ptr<const Task>>& swept) {
  std::set<std::string> held;
  bool any = false;
  for (const auto& t : swept) any = any || !t->client_token.empty();
  if (!any) return {};
  for (const auto& [_, state] : index.tasks()) held.insert(state.record->client_token);
  std::set<std::string> keys;
  for (const auto& t : swept) {
    if (t->client_token.empty() || held.contains(t->client_token)) continue;
    auto arn = ParseArn(t->arn);  // arn:aws:ecs:<region>:<account>:task/...
    if (arn) keys.insert(RunTokenKey(arn->account, arn->region, t->cluster, t->client_token));
  }
  for (const auto& key : keys) {
    auto stored = BERTH_TRY(impl.kv.Get(key));
    if (!stored) continue;
    store::Txn txn;
    txn.compares.push_back({key, stored->mod_revision});  // not reused meanwhile
    txn.ops.push_back(store::Op::Delete(key));
    BERTH_CHECK(impl.kv.Commit(txn));
  }
  return {};
}

}  // namespace berth::ecs
