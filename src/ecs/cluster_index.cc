#include "ecs/cluster_index.h"

#include <charconv>

#include "ecs/records.h"

namespace berth::ecs {

namespace {

std::string LastSegment(std::string_view key) {
  size_t slash = key.rfind('/');
  return std::string(slash == std::string_view::npos ? key : key.substr(slash + 1));
}

std::set<PortNeed> PortsOf(const Resource& r, bool udp) {
  std::set<PortNeed> out;
  for (const auto& s : r.string_set) {
    int port = 0;
    auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), port);
    if (err == std::errc() && end == s.data() + s.size()) out.insert({port, udp});
  }
  return out;
}

}  // namespace

bool IsPendingStatus(std::string_view s) {
  return s == "PROVISIONING" || s == "PENDING" || s == "ACTIVATING";
}

ClusterIndex::ClusterIndex(store::Kv& kv, std::string instances_prefix, std::string tasks_prefix,
                           AgentConnectedFn agent_connected)
    : kv_(kv),
      instances_prefix_(std::move(instances_prefix)),
      tasks_prefix_(std::move(tasks_prefix)),
      agent_connected_(std::move(agent_connected)) {}

void ClusterIndex::Notify(const std::string& key, int64_t revision) {
  std::lock_guard lock(pending_mu_);
  notified_.emplace_back(key, revision);
}

void ClusterIndex::Invalidate() {
  std::lock_guard lock(pending_mu_);
  invalidated_ = true;
  notified_.clear();
}

Status ClusterIndex::Sync() {
  std::vector<std::pair<std::string, int64_t>> notified;
  {
    std::lock_guard lock(pending_mu_);
    if (invalidated_) {
      invalidated_ = false;
      loaded_ = false;
    }
    notified.swap(notified_);
  }
  if (!loaded_) return Load();
  for (const auto& [key, revision] : notified) {
    std::string id = LastSegment(key);
    int64_t have = 0;
    if (key.starts_with(instances_prefix_)) {
      if (auto it = instances_.find(id); it != instances_.end()) have = it->second.mod_revision;
    } else if (auto it = tasks_.find(id); it != tasks_.end()) {
      have = it->second.mod_revision;
    }
    if (have >= revision) continue;  // our own write, already applied
    BERTH_CHECK(Refresh(key));
  }
  return {};
}

Status ClusterIndex::Refresh(const std::string& key) {
  auto kv = BERTH_TRY(kv_.Get(key));
  std::string id = LastSegment(key);
  if (key.starts_with(instances_prefix_)) {
    if (!kv) {
      // Instances are never deleted while they have tasks; a record gone is
      // dropped with its accounting.
      instances_.erase(id);
      return {};
    }
    auto instance = BERTH_TRY(DecodeInstance(kv->value));
    SetInstance(std::make_shared<const ContainerInstance>(std::move(instance)), kv->mod_revision);
    return {};
  }
  if (!kv) {
    RemoveTask(id);
    return {};
  }
  auto task = BERTH_TRY(DecodeTask(kv->value));
  ApplyTask(std::make_shared<const Task>(std::move(task)), kv->mod_revision);
  return {};
}

Status ClusterIndex::Load() {
  instances_.clear();
  tasks_.clear();
  tasks_by_instance_.clear();
  tasks_by_group_.clear();
  running_ = pending_ = 0;
  std::string after;
  for (;;) {
    auto page = BERTH_TRY(kv_.Range(instances_prefix_, after, 500));
    for (const auto& kv : page.kvs) {
      auto instance = BERTH_TRY(DecodeInstance(kv.value));
      SetInstance(std::make_shared<const ContainerInstance>(std::move(instance)), kv.mod_revision);
    }
    if (!page.more || page.kvs.empty()) break;
    after = page.kvs.back().key;
  }
  after.clear();
  for (;;) {
    auto page = BERTH_TRY(kv_.Range(tasks_prefix_, after, 500));
    for (const auto& kv : page.kvs) {
      auto task = BERTH_TRY(DecodeTask(kv.value));
      ApplyTask(std::make_shared<const Task>(std::move(task)), kv.mod_revision);
    }
    if (!page.more || page.kvs.empty()) break;
    after = page.kvs.back().key;
  }
  loaded_ = true;
  return {};
}

void ClusterIndex::SetInstance(std::shared_ptr<const ContainerInstance> instance, int64_t revision) {
  InstanceState& state = instances_[instance->id];
  state.mod_revision = revision;
  state.total_cpu = state.total_memory = 0;
  state.reserved_ports.clear();
  for (const auto& r : instance->registered_resources) {
    if (r.name == "CPU") state.total_cpu = r.integer_value;
    if (r.name == "MEMORY") state.total_memory = r.integer_value;
    if (r.name == "PORTS") state.reserved_ports.merge(PortsOf(r, false));
    if (r.name == "PORTS_UDP") state.reserved_ports.merge(PortsOf(r, true));
  }
  InstanceFacts& facts = *state.facts;
  facts.container_instance_arn = instance->arn;
  facts.ec2_instance_id = instance->ec2_instance_id;
  facts.agent_version = instance->version_info.agent_version;
  facts.registered_at = instance->registered_at;
  facts.attributes.clear();
  for (const auto& a : instance->attributes) facts.attributes[a.name] = a.value.value_or("");
  if (!state.record) facts.agent_connected = !agent_connected_ || agent_connected_(instance->id);
  state.record = std::move(instance);
}

void ClusterIndex::SetAgentConnected(const std::string& id, bool connected) {
  if (auto it = instances_.find(id); it != instances_.end()) {
    it->second.facts->agent_connected = connected;
  }
}

void ClusterIndex::ApplyInstance(std::shared_ptr<const ContainerInstance> instance,
                                 int64_t revision) {
  SetInstance(std::move(instance), revision);
}

void ClusterIndex::Account(const Task& task, int sign) {
  bool holds = task.last_status != "STOPPED";
  bool running = task.last_status == "RUNNING";
  bool pending = IsPendingStatus(task.last_status);
  running_ += sign * running;
  pending_ += sign * pending;
  if (!holds || task.container_instance_id.empty()) return;
  auto it = instances_.find(task.container_instance_id);
  if (it == instances_.end()) return;
  InstanceState& s = it->second;
  s.used_cpu += sign * task.reserved_cpu;
  s.used_memory += sign * task.reserved_memory;
  s.facts->running_tasks_count += sign * running;
  s.pending += sign * pending;
  for (const auto& p : task.reserved_ports) {
    if (sign > 0) {
      s.used_ports.insert(p);
    } else if (auto pit = s.used_ports.find(p); pit != s.used_ports.end()) {
      s.used_ports.erase(pit);
    }
  }
  auto& groups = s.facts->task_groups;
  if (sign > 0) {
    ++groups[task.group];
  } else if (auto git = groups.find(task.group); git != groups.end() && --git->second == 0) {
    groups.erase(git);
  }
}

void ClusterIndex::Unlist(const Task& task) {
  auto drop = [&](auto& by, const std::string& key) {
    auto it = by.find(key);
    if (it == by.end()) return;
    it->second.erase(task.id);
    if (it->second.empty()) by.erase(it);
  };
  drop(tasks_by_instance_, task.container_instance_id);
  drop(tasks_by_group_, task.group);
}

void ClusterIndex::ApplyTask(std::shared_ptr<const Task> task, int64_t revision) {
  auto it = tasks_.find(task->id);
  if (it != tasks_.end()) {
    Account(*it->second.record, -1);
    Unlist(*it->second.record);
    it->second = TaskState{task, revision};
  } else {
    tasks_.emplace(task->id, TaskState{task, revision});
  }
  Account(*task, +1);
  if (!task->container_instance_id.empty()) {
    tasks_by_instance_[task->container_instance_id].insert(task->id);
  }
  tasks_by_group_[task->group].insert(task->id);
}

void ClusterIndex::Reserve(std::shared_ptr<const Task> task) { ApplyTask(std::move(task), 0); }

void ClusterIndex::Committed(const std::string& id, int64_t revision) {
  // A Sync after the commit may have re-read it already (at this revision or a later one).
  if (auto it = tasks_.find(id); it != tasks_.end() && it->second.mod_revision == 0) {
    it->second.mod_revision = revision;
  }
}

void ClusterIndex::Unreserve(const std::string& id) {
  if (auto it = tasks_.find(id); it != tasks_.end() && it->second.mod_revision == 0) {
    RemoveTask(id);
  }
}

void ClusterIndex::RemoveTask(const std::string& id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  Account(*it->second.record, -1);
  Unlist(*it->second.record);
  tasks_.erase(it);
}

const ClusterIndex::InstanceState* ClusterIndex::FindInstance(const std::string& id) const {
  auto it = instances_.find(id);
  return it == instances_.end() ? nullptr : &it->second;
}

const ClusterIndex::TaskState* ClusterIndex::FindTask(const std::string& id) const {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : &it->second;
}

const std::set<std::string>& ClusterIndex::TasksOn(const std::string& instance_id) const {
  static const std::set<std::string> kNone;
  auto it = tasks_by_instance_.find(instance_id);
  return it == tasks_by_instance_.end() ? kNone : it->second;
}

const std::set<std::string>& ClusterIndex::TasksInGroup(std::string_view group) const {
  static const std::set<std::string> kNone;
  auto it = tasks_by_group_.find(group);
  return it == tasks_by_group_.end() ? kNone : it->second;
}

}  // namespace berth::ecs
