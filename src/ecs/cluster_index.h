// The in-memory view of one cluster's container instances and tasks, which
// placement, counts and Describe read without touching the store.
//
// Loaded from the store on first use; the service applies its own commits to
// it under `mu` (so a reader that takes `mu` after a write returned sees it);
// writes made by anyone else reach it through the service's store watch: the
// watch thread only queues (key, revision) in Notify, and the next holder of
// `mu` calls Sync, which re-reads just those keys whose queued revision is
// newer than the one applied. Derived figures (an instance's remaining
// resources, running/pending counts, task groups) are kept incrementally as
// tasks are applied: nothing is recounted per request and nothing is a
// stored counter.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "ecs/model.h"
#include "ecs/placement.h"
#include "store/kv.h"

namespace berth::ecs {

class ClusterIndex {
 public:
  struct InstanceState {
    std::shared_ptr<const ContainerInstance> record;
    int64_t mod_revision = 0;
    int64_t total_cpu = 0;
    int64_t total_memory = 0;
    std::set<PortNeed> reserved_ports;  // PORTS / PORTS_UDP registered
    // What placement and query expressions read, kept current as the record, its tasks and its
    // agent's session change (attributes, running_tasks_count, task_groups, agent_connected):
    // placement shares it instead of copying it. Never null.
    std::shared_ptr<InstanceFacts> facts = std::make_shared<InstanceFacts>();
    // Held by its tasks that are not STOPPED.
    int64_t used_cpu = 0;
    int64_t used_memory = 0;
    std::multiset<PortNeed> used_ports;
    int pending = 0;
  };
  struct TaskState {
    std::shared_ptr<const Task> record;
    int64_t mod_revision = 0;
  };

  // Whether an instance's agent has a session now (read when an instance is loaded; later
  // changes arrive through SetAgentConnected).
  using AgentConnectedFn = std::function<bool(const std::string& instance_id)>;

  // `instances_prefix` and `tasks_prefix`: where this cluster's records live. `agent_connected`
  // null: every agent counts as connected.
  ClusterIndex(store::Kv& kv, std::string instances_prefix, std::string tasks_prefix,
               AgentConnectedFn agent_connected = nullptr);

  // Held across read, decide, commit and Apply* by every writer of this
  // cluster in this process, and by readers.
  std::mutex mu;

  // With `mu` held: loads on first use, then re-reads what others changed.
  Status Sync();

  // With `mu` held, after a commit at `revision`.
  void ApplyInstance(std::shared_ptr<const ContainerInstance> instance, int64_t revision);
  void ApplyTask(std::shared_ptr<const Task> task, int64_t revision);
  void RemoveTask(const std::string& id);
  // With `mu` held. A new task placed but not yet committed: it holds its resources (and is
  // listed, as the tasks() of revision 0) so that placements made before its commit returns
  // see them taken; the commit is made without `mu`. Then Committed(id, revision), or
  // Unreserve(id) when the commit failed. Readers may see such a task for the time of one
  // commit before RunTask returns it.
  void Reserve(std::shared_ptr<const Task> task);
  void Committed(const std::string& id, int64_t revision);
  void Unreserve(const std::string& id);
  // With `mu` held: the agent of instance `id` opened (true) or lost (false) its session.
  void SetAgentConnected(const std::string& id, bool connected);

  const std::map<std::string, InstanceState>& instances() const { return instances_; }
  const std::map<std::string, TaskState>& tasks() const { return tasks_; }
  const InstanceState* FindInstance(const std::string& id) const;
  const TaskState* FindTask(const std::string& id) const;
  // The ids of the tasks on an instance (every status), in id order as
  // tasks() lists them: what its agent session reads on every heartbeat,
  // without a pass over the cluster's tasks.
  const std::set<std::string>& TasksOn(const std::string& instance_id) const;
  // The ids of the tasks of a group (every status), in id order: what a
  // service's scheduler and ListTasks' serviceName read ("service:<name>").
  const std::set<std::string>& TasksInGroup(std::string_view group) const;

  // Counts over the cluster (tasks not STOPPED).
  int running_tasks() const { return running_; }
  int pending_tasks() const { return pending_; }

  // From the store watch thread: `key` (an instance or task record of this
  // cluster) changed at `revision`. Never blocks on `mu`.
  void Notify(const std::string& key, int64_t revision);
  // Everything is to be read again (the watch was reset).
  void Invalidate();

 private:
  void Account(const Task& task, int sign);
  void Unlist(const Task& task);
  void SetInstance(std::shared_ptr<const ContainerInstance> instance, int64_t revision);
  Status Load();
  Status Refresh(const std::string& key);

  store::Kv& kv_;
  std::string instances_prefix_;
  std::string tasks_prefix_;
  AgentConnectedFn agent_connected_;
  bool loaded_ = false;
  std::map<std::string, InstanceState> instances_;
  std::map<std::string, TaskState> tasks_;
  std::map<std::string, std::set<std::string>, std::less<>> tasks_by_instance_;
  std::map<std::string, std::set<std::string>, std::less<>> tasks_by_group_;
  int running_ = 0;
  int pending_ = 0;

  std::mutex pending_mu_;
  std::vector<std::pair<std::string, int64_t>> notified_;
  bool invalidated_ = false;
};

// True for task statuses that hold resources and count as pending.
bool IsPendingStatus(std::string_view last_status);

}  // namespace berth::ecs
