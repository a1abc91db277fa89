// ECS: finding the stored clusters with STOPPED tasks past their retention that
// are not in memory (SweepStoppedTasks sweeps the clusters in memory).
#include <fmt/format.h>

#include <algorithm>

#include "ecs/records.h"
#include "ecs/service_impl.h"

namespace berth::ecs {

bool PastRetention(const Task& task, std::chrono::seconds retention, TimePoint now) {
  return task.last_status == "STOPPED" && task.stopped_at && *task.stopped_at + retention < now;
}

std::optional<Scope> ScopeOfKey(std::string_view key) {
  if (!key.starts_with("ecs/")) return std::nullopt;
  size_t account_end = key.find('/', 4);
  if (account_end == std::string_view::npos) return std::nullopt;
  size_t region_end = key.find('/', account_end + 1);
  if (region_end == std::string_view::npos) return std::nullopt;
  return Scope{std::string(key.substr(4, account_end - 4)),
               std::string(key.substr(account_end + 1, region_end - account_end - 1))};
}

namespace {

bool InMemory(Service::Impl& impl, const Scope& scope, const std::string& cluster) {
  std::lock_guard lock(impl.indexes_mu);
  return impl.indexes.contains(fmt::format("{}/{}/{}", scope.account, scope.region, cluster));
}

}  // namespace

void Service::Impl::EvictIdleIndexes(TimePoint now) {
  std::lock_guard lock(indexes_mu);
  std::string pool_suffix = fmt::format("/{}", kFargatePoolCluster);
  for (auto it = indexes.begin(); it != indexes.end();) {
    auto used = index_used.find(it->first);
    bool idle = used == index_used.end() || now - used->second >= options.index_idle;
    bool pool = !options.platform_account.empty() &&
                it->first.starts_with(options.platform_account + "/") &&
                it->first.ends_with(pool_suffix);
    // Held by no one but this map: no request is using it, and the next Index() makes a new
    // one (loaded from the store) under this same lock.
    if (idle && !pool && it->second.use_count() == 1) {
      if (used != index_used.end()) index_used.erase(used);
      it = indexes.erase(it);
    } else {
      ++it;
    }
  }
}

size_t Service::LoadedClusters() const {
  std::lock_guard lock(impl_->indexes_mu);
  return impl_->indexes.size();
}

Status LoadClusterToSweep(Service::Impl& impl, TimePoint now) {
  std::lock_guard lock(impl.sweep_mu);
  std::string& after = impl.sweep_after;  // the last key the walk passed
  const size_t budget = std::max<size_t>(impl.options.sweep_reads_per_pass, 1);
  size_t reads = 0;
  while (reads < budget) {
    // The next key of any scope: one read finds where the walk goes on.
    auto next = BERTH_TRY(impl.kv.Range("ecs/", after, 1));
    ++reads;
    if (next.kvs.empty()) {
      after.clear();  // the end: the next pass starts over
      return {};
    }
    const std::string& key = next.kvs[0].key;
    auto scope = ScopeOfKey(key);
    if (!scope) {
      after = key;
      continue;
    }
    // ecs/<account>/<region>/t/<cluster>/<task id>: the scope's tasks, cluster by cluster.
    std::string tasks = ScopePrefix(scope->account, scope->region) + "t/";
    if (key < tasks) {
      after = tasks;
      continue;
    }
    if (!key.starts_with(tasks)) {
      after = ScopePrefix(scope->account, scope->region) + "\xff";
      continue;
    }
    size_t slash = key.find('/', tasks.size());
    if (slash == std::string::npos) {
      after = key;
      continue;
    }
    std::string cluster = key.substr(tasks.size(), slash - tasks.size());
    std::string prefix = key.substr(0, slash + 1);
    std::string past_cluster = prefix + "\xff";
    if (InMemory(impl, *scope, cluster)) {  // swept from memory
      after = past_cluster;
      continue;
    }
    auto page = BERTH_TRY(impl.kv.Range(prefix, after.starts_with(prefix) ? after : "",
                                        std::max<size_t>(budget - reads, 1)));
    reads += page.kvs.size();
    for (const auto& kv : page.kvs) {
      auto task = DecodeTask(kv.value);
      if (!task || !PastRetention(*task, impl.options.stopped_task_retention, now)) continue;
      auto index = impl.Index(*scope, cluster);
      std::lock_guard index_lock(index->mu);
      BERTH_CHECK(index->Sync());
      after = past_cluster;
      return {};
    }
    after = page.more && !page.kvs.empty() ? page.kvs.back().key : past_cluster;
  }
  return {};
}

}  // namespace berth::ecs
