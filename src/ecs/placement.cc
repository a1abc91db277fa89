#include "ecs/placement.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "common/strings.h"

namespace berth::ecs {

namespace {

enum class StrategyKind { kBinpackCpu, kBinpackMemory, kSpreadInstance, kSpreadAttribute };

struct Strategy {
  StrategyKind kind;
  std::string attribute;  // kSpreadAttribute
};

// The validated, parsed form of a request's constraints and strategies.
struct Plan {
  std::vector<QueryExpression> member_of;
  bool distinct_instance = false;
  bool member_of_depends_on_tasks = false;
  // The strategies that decide anything: those before the first `random` (random, like the
  // final tie-break, is a uniform choice among what is left).
  std::vector<Strategy> strategies;
};

std::unexpected<Error> Invalid(std::string message) {
  return Fail("InvalidParameterException", std::move(message));
}

Result<Plan> MakePlan(const std::vector<PlacementConstraint>& constraints,
                      const std::vector<PlacementStrategy>& strategies) {
  if (constraints.size() > kMaxPlacementConstraints) {
    return Invalid(fmt::format("At most {} placement constraints are allowed, {} were given.",
                               kMaxPlacementConstraints, constraints.size()));
  }
  if (strategies.size() > kMaxPlacementStrategies) {
    return Invalid(fmt::format("At most {} placement strategies are allowed, {} were given.",
                               kMaxPlacementStrategies, strategies.size()));
  }
  Plan plan;
  for (const auto& c : constraints) {
    if (c.type == "distinctInstance") {
      if (!c.expression.empty())
        return Invalid("distinctInstance expression should not be specified.");
      plan.distinct_instance = true;
    } else if (c.type == "memberOf") {
      if (c.expression.empty()) return Invalid("memberOf expression must be specified.");
      plan.member_of.push_back(BERTH_TRY(QueryExpression::Parse(c.expression)));
      plan.member_of_depends_on_tasks |= plan.member_of.back().DependsOnTasks();
    } else {
      return Invalid(fmt::format(
          "Invalid placement constraint type '{}'. Valid types are distinctInstance and memberOf.",
          Utf8Prefix(c.type, 64)));
    }
  }
  bool decided = false;  // a `random` came before
  for (const auto& s : strategies) {
    Strategy strategy;
    if (s.type == "random") {
      decided = true;
      continue;
    } else if (s.type == "binpack") {
      if (EqualsIgnoreCase(s.field, "cpu")) {
        strategy.kind = StrategyKind::kBinpackCpu;
      } else if (EqualsIgnoreCase(s.field, "memory")) {
        strategy.kind = StrategyKind::kBinpackMemory;
      } else {
        return Invalid(fmt::format(
            "Invalid field '{}' for the binpack placement strategy. Valid fields are cpu and "
            "memory.",
            Utf8Prefix(s.field, 64)));
      }
    } else if (s.type == "spread") {
      if (EqualsIgnoreCase(s.field, "instanceId") || EqualsIgnoreCase(s.field, "host")) {
        strategy.kind = StrategyKind::kSpreadInstance;
      } else if (s.field.starts_with("attribute:") && s.field.size() > 10) {
        strategy.kind = StrategyKind::kSpreadAttribute;
        strategy.attribute = s.field.substr(10);
      } else {
        return Invalid(fmt::format(
            "Invalid field '{}' for the spread placement strategy. Valid fields are instanceId, "
            "host and attribute:<name>.",
            Utf8Prefix(s.field, 64)));
      }
    } else {
      return Invalid(fmt::format(
          "Invalid placement strategy type '{}'. Valid types are random, spread and binpack.",
          Utf8Prefix(s.type, 64)));
    }
    if (!decided) plan.strategies.push_back(std::move(strategy));
  }
  return plan;
}

// Why an instance cannot take the task regardless of what this call places.
enum class Blocked : uint8_t { kNo, kInactive, kAgent, kAttribute };

// Per-candidate state for one Place() call, kept in flat arrays so each task is one tight pass.
class Placer {
 public:
  Placer(std::vector<Candidate>& candidates, const TaskNeeds& needs, const Plan& plan)
      : candidates_(candidates), needs_(needs), plan_(plan) {
    size_t n = candidates.size();
    blocked_.resize(n);
    group_count_.resize(n);
    member_ok_.resize(n);
    open_.resize(n);
    cpu_.resize(n);
    memory_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const Candidate& c = candidates[i];
      blocked_[i] = Block(c);
      auto group = c.facts->task_groups.find(needs.group);
      group_count_[i] = group == c.facts->task_groups.end() ? 0 : group->second;
      member_ok_[i] = blocked_[i] == Blocked::kNo && MemberOf(*c.facts);
      open_[i] = Open(i);
      cpu_[i] = c.remaining_cpu;
      memory_[i] = c.remaining_memory;
    }
    for (const Strategy& s : plan.strategies) {
      if (s.kind == StrategyKind::kSpreadAttribute) spreads_.push_back(Spread(s.attribute));
    }
  }

  // The candidate for the next task, or nullopt when none can take it.
  std::optional<size_t> Choose(const std::function<uint64_t()>& random) {
    size_t k = plan_.strategies.size();
    std::array<int64_t, kMaxPlacementStrategies> best{}, key{};
    tied_.clear();
    for (size_t i = 0; i < open_.size(); ++i) {
      if (!open_[i] || cpu_[i] < needs_.cpu || memory_[i] < needs_.memory) continue;
      Key(i, key);
      int order = tied_.empty() ? -1 : CompareKeys(key, best, k);
      if (order < 0) {
        best = key;
        tied_.clear();
      }
      if (order <= 0) tied_.push_back(i);
    }
    if (tied_.empty()) return std::nullopt;
    return tied_.size() == 1 ? tied_[0] : tied_[random() % tied_.size()];
  }

  // Books the task on candidate i.
  void Take(size_t i) {
    Candidate& c = candidates_[i];
    cpu_[i] = c.remaining_cpu -= needs_.cpu;
    memory_[i] = c.remaining_memory -= needs_.memory;
    c.used_ports.insert(needs_.host_ports.begin(), needs_.host_ports.end());
    ++group_count_[i];
    for (SpreadState& s : spreads_) ++s.count[s.bucket[i]];
    if (plan_.member_of_depends_on_tasks) {
      // The facts are shared: what this call placed counts on a copy of them.
      if (placed_facts_.empty()) placed_facts_.resize(candidates_.size());
      auto& facts = placed_facts_[i];
      if (!facts) facts = std::make_unique<InstanceFacts>(*c.facts);
      ++facts->task_groups[needs_.group];
      ++facts->running_tasks_count;
      member_ok_[i] = MemberOf(*facts);
    }
    open_[i] = Open(i);
  }

  // One failure per active candidate: the first check it fails; one entry per (arn, reason).
  std::vector<PlacementFailure> Failures() const {
    std::vector<PlacementFailure> failures;
    std::set<std::pair<std::string_view, std::string_view>> seen;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      std::string_view reason = Reason(i);
      const std::string& arn = candidates_[i].facts->container_instance_arn;
      if (reason.empty() || !seen.emplace(arn, reason).second) continue;
      failures.push_back({arn, std::string(reason)});
    }
    return failures;
  }

 private:
  struct SpreadState {
    std::vector<uint32_t> bucket;  // candidate -> index of its attribute value
    std::vector<int64_t> count;    // value index -> tasks of the group on instances with it
  };

  Blocked Block(const Candidate& c) const {
    if (!c.active) return Blocked::kInactive;
    if (!c.facts->agent_connected) return Blocked::kAgent;
    for (const auto& name : needs_.required_attributes) {
      if (!c.facts->attributes.contains(name)) return Blocked::kAttribute;
    }
    return Blocked::kNo;
  }

  bool MemberOf(const InstanceFacts& facts) const {
    return std::all_of(plan_.member_of.begin(), plan_.member_of.end(),
                       [&](const QueryExpression& e) { return e.Matches(facts); });
  }

  // Passes every check but CPU and memory, which Choose() reads from flat arrays.
  bool Open(size_t i) const {
    return blocked_[i] == Blocked::kNo && member_ok_[i] && PortsFree(candidates_[i]) &&
           !(plan_.distinct_instance && group_count_[i] > 0);
  }

  bool PortsFree(const Candidate& c) const {
    return std::none_of(needs_.host_ports.begin(), needs_.host_ports.end(),
                        [&](const PortNeed& p) { return c.used_ports.contains(p); });
  }

  std::string_view ResourceShortage(const Candidate& c) const {
    if (c.remaining_cpu < needs_.cpu) return kReasonCpu;
    if (c.remaining_memory < needs_.memory) return kReasonMemory;
    if (!PortsFree(c)) return kReasonPorts;
    return {};
  }

  std::string_view Reason(size_t i) const {
    switch (blocked_[i]) {
      case Blocked::kInactive:
        return {};
      case Blocked::kAgent:
        return kReasonAgent;
      case Blocked::kAttribute:
        return kReasonAttribute;
      case Blocked::kNo:
        break;
    }
    std::string_view shortage = ResourceShortage(candidates_[i]);
    if (!shortage.empty()) return shortage;
    if (!member_ok_[i]) return kReasonMemberOf;
    if (plan_.distinct_instance && group_count_[i] > 0) return kReasonDistinctInstance;
    return {};
  }

  SpreadState Spread(const std::string& attribute) const {
    SpreadState s;
    s.bucket.resize(candidates_.size());
    s.count.push_back(0);  // value 0: instances without the attribute
    std::unordered_map<std::string_view, uint32_t> index;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      const auto& attributes = candidates_[i].facts->attributes;
      auto it = attributes.find(attribute);
      uint32_t b = 0;
      if (it != attributes.end()) {
        auto [slot, added] = index.try_emplace(it->second, static_cast<uint32_t>(s.count.size()));
        if (added) s.count.push_back(0);
        b = slot->second;
      }
      s.bucket[i] = b;
      s.count[b] += group_count_[i];
    }
    return s;
  }

  void Key(size_t i, std::array<int64_t, kMaxPlacementStrategies>& key) const {
    size_t spread = 0;
    for (size_t s = 0; s < plan_.strategies.size(); ++s) {
      switch (plan_.strategies[s].kind) {
        case StrategyKind::kBinpackCpu:
          key[s] = cpu_[i];
          break;
        case StrategyKind::kBinpackMemory:
          key[s] = memory_[i];
          break;
        case StrategyKind::kSpreadInstance:
          key[s] = group_count_[i];
          break;
        case StrategyKind::kSpreadAttribute: {
          const SpreadState& st = spreads_[spread++];
          key[s] = st.count[st.bucket[i]];
          break;
        }
      }
    }
  }

  static int CompareKeys(const std::array<int64_t, kMaxPlacementStrategies>& a,
                         const std::array<int64_t, kMaxPlacementStrategies>& b, size_t k) {
    for (size_t s = 0; s < k; ++s) {
      if (a[s] != b[s]) return a[s] < b[s] ? -1 : 1;
    }
    return 0;
  }

  std::vector<Candidate>& candidates_;
  const TaskNeeds& needs_;
  const Plan& plan_;
  std::vector<Blocked> blocked_;
  std::vector<int64_t> group_count_;   // tasks of needs_.group on each candidate
  std::vector<char> member_ok_;        // every memberOf expression holds
  std::vector<char> open_;             // Open(i), kept current
  std::vector<int64_t> cpu_, memory_;  // remaining_cpu / remaining_memory, kept current
  std::vector<SpreadState> spreads_;   // one per spread attribute:<x> strategy, in order
  // Facts with this call's tasks counted, made on a candidate's first task when a memberOf
  // expression reads tasks (empty otherwise).
  std::vector<std::unique_ptr<InstanceFacts>> placed_facts_;
  std::vector<size_t> tied_;
};

}  // namespace

Status ValidatePlacement(const std::vector<PlacementConstraint>& constraints,
                         const std::vector<PlacementStrategy>& strategies) {
  auto plan = MakePlan(constraints, strategies);
  if (!plan) return Fail(plan.error());
  return {};
}

Result<PlacementResult> Place(std::vector<Candidate>& candidates, const TaskNeeds& needs, int count,
                              const std::vector<PlacementConstraint>& constraints,
                              const std::vector<PlacementStrategy>& strategies,
                              const std::function<uint64_t()>& random) {
  Plan plan = BERTH_TRY(MakePlan(constraints, strategies));
  PlacementResult result;
  if (count <= 0) return result;
  Placer placer(candidates, needs, plan);
  for (int t = 0; t < count; ++t) {
    auto chosen = placer.Choose(random);
    if (!chosen) {
      result.failures = placer.Failures();
      break;
    }
    placer.Take(*chosen);
    result.chosen.push_back(*chosen);
  }
  return result;
}

}  // namespace berth::ecs
