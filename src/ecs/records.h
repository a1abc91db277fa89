// How ECS's records are laid out in store::Kv and encoded (JSON, ECS's own
// member names where the API has one, so a record reads like the API).
//
//   ecs/<account>/<region>/c/<cluster>               Cluster
//   ecs/<account>/<region>/tdf/<family>              the family's last revision
//   ecs/<account>/<region>/td/<family>/<revision>    TaskDefinition (revision zero-padded to 10)
//   ecs/<account>/<region>/i/<cluster>/<id>          ContainerInstance
//   ecs/<account>/<region>/t/<cluster>/<id>          Task
//   ecs/<account>/<region>/rt/<cluster>/<token>      RunTask clientToken -> request digest, task ids
//   ecs/<account>/<region>/s/<cluster>/<name>        EcsService, its deployments and events
//
// One key per resource, so independent writes never touch the same key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "ecs/model.h"

namespace berth::ecs {

std::string ScopePrefix(std::string_view account, std::string_view region);  // "ecs/<a>/<r>/"
std::string ClusterKey(std::string_view account, std::string_view region, std::string_view cluster);
std::string ClustersPrefix(std::string_view account, std::string_view region);
std::string FamilyKey(std::string_view account, std::string_view region, std::string_view family);
std::string FamiliesPrefix(std::string_view account, std::string_view region);
std::string TaskDefinitionKey(std::string_view account, std::string_view region,
                              std::string_view family, int revision);
std::string TaskDefinitionsPrefix(std::string_view account, std::string_view region,
                                  std::string_view family);  // family "" : every family
std::string InstanceKey(std::string_view account, std::string_view region, std::string_view cluster,
                        std::string_view id);
std::string InstancesPrefix(std::string_view account, std::string_view region,
                            std::string_view cluster);
std::string TaskKey(std::string_view account, std::string_view region, std::string_view cluster,
                    std::string_view id);
std::string TasksPrefix(std::string_view account, std::string_view region, std::string_view cluster);
std::string RunTokenKey(std::string_view account, std::string_view region, std::string_view cluster,
                        std::string_view token);
std::string ServiceKey(std::string_view account, std::string_view region, std::string_view cluster,
                       std::string_view name);
std::string ServicesPrefix(std::string_view account, std::string_view region,
                           std::string_view cluster);  // cluster "" : every cluster's

std::string EncodeCluster(const Cluster& cluster);
Result<Cluster> DecodeCluster(std::string_view record);
std::string EncodeInstance(const ContainerInstance& instance);
Result<ContainerInstance> DecodeInstance(std::string_view record);
std::string EncodeTask(const Task& task);
Result<Task> DecodeTask(std::string_view record);
std::string EncodeService(const EcsService& service);
Result<EcsService> DecodeService(std::string_view record);

// A TaskOverride as a task record holds it (also RunTask's canonical form of it).
std::string EncodeOverrides(const TaskOverride& overrides);

// RunTask's clientToken record (RunTokenKey): the request's digest and the tasks it created.
struct RunTokenRecord {
  std::string digest;
  std::vector<std::string> task_ids;
};
std::string EncodeRunToken(const RunTokenRecord& record);
Result<RunTokenRecord> DecodeRunToken(std::string_view record);

}  // namespace berth::ecs
