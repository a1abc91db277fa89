// src/ecs/query_language.h
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include "common/clock.h"   // TimePoint
#include "common/error.h"   // Result, Fail

namespace berth::ecs {

// What a cluster query expression (and placement) can see of a container instance.
struct InstanceFacts {
  std::string container_instance_arn;
  std::string ec2_instance_id;     // berth: the instance's own id
  bool agent_connected = false;
  std::string agent_version;       // "1.19.0"
  // Attribute name -> value; attributes without a value map to "".
  std::map<std::string, std::string, std::less<>> attributes;
  TimePoint registered_at{};
  int running_tasks_count = 0;
  // The `group` of every task on the instance that is not STOPPED.
  std::vector<std::string> task_groups;
};

// A parsed cluster-query-language expression (memberOf constraints, ListContainerInstances filter).
class QueryExpression {
 public:
  // InvalidParameterException with a message naming the problem on bad syntax (<= 2000 chars).
  static Result<QueryExpression> Parse(std::string_view text);
  bool Matches(const InstanceFacts& instance) const;
  // (copyable; pimpl or value members as you like)
};

}  // namespace berth::ecs

