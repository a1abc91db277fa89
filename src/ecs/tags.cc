// ECS: TagResource, UntagResource and ListTagsForResource for clusters, task
// definitions, container instances and tasks.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <functional>

#include "common/arn.h"
#include "ecs/service_impl.h"
#include "ecs/task_definition_codec.h"
#include "store/retry.h"

namespace berth::ecs {

namespace {

enum class Kind { kCluster, kTaskDefinition, kInstance, kTask, kService };

// What a tagging request's resourceArn names.
struct Target {
  Kind kind = Kind::kCluster;
  std::string arn;      // as the request gave it (every kind is keyed by its ARN)
  std::string cluster;  // cluster, instance, task, service
  std::string id;       // instance, task; a service's name
  std::string family;   // task definition
  int revision = 0;
};

std::unexpected<Error> InvalidArn() {
  return Fail("InvalidParameterException", "The ARN provided is invalid.");
}

std::unexpected<Error> NotFound() {
  return Fail("ResourceNotFoundException", "The specified resource wasn't found.");
}

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool IsId(std::string_view s) {
  return !s.empty() && s.size() <= 255 && std::all_of(s.begin(), s.end(), IsIdChar);
}

// resourceArn -> Target, or ECS's InvalidParameterException. The old short
// formats (task/<id>, container-instance/<id>, service/<name>) cannot be
// tagged, as in ECS.
Result<Target> ParseTarget(const Scope& scope, const std::string& resource_arn) {
  if (!LooksLikeArn(resource_arn)) return InvalidArn();
  auto arn = ParseArn(resource_arn);
  if (!arn || arn->service != "ecs" || arn->account != scope.account ||
      arn->region != scope.region) {
    return InvalidArn();
  }
  Target t;
  t.arn = resource_arn;
  std::string_view resource = arn->resource;
  size_t slash = resource.find('/');
  if (slash == std::string_view::npos) return InvalidArn();
  std::string_view type = resource.substr(0, slash);
  std::string_view rest = resource.substr(slash + 1);
  size_t inner = rest.find('/');
  auto long_format = [&]() -> Status {
    if (inner == std::string_view::npos) {
      return Fail("InvalidParameterException",
                  "Long arn format must be used for tagging operations");
    }
    if (!IsId(rest.substr(0, inner)) || !IsId(rest.substr(inner + 1))) return InvalidArn();
    return {};
  };
  if (type == "cluster") {
    if (!IsId(rest)) return InvalidArn();
    t.kind = Kind::kCluster;
    t.cluster = std::string(rest);
  } else if (type == "task-definition") {
    size_t colon = rest.find(':');
    if (colon == std::string_view::npos || !IsId(rest.substr(0, colon))) return InvalidArn();
    std::string_view number = rest.substr(colon + 1);
    auto [end, err] = std::from_chars(number.data(), number.data() + number.size(), t.revision);
    if (err != std::errc() || end != number.data() + number.size() || t.revision < 1) {
      return InvalidArn();
    }
    t.kind = Kind::kTaskDefinition;
    t.family = std::string(rest.substr(0, colon));
  } else if (type == "container-instance" || type == "task") {
    BERTH_CHECK(long_format());
    t.kind = type == "task" ? Kind::kTask : Kind::kInstance;
    t.cluster = std::string(rest.substr(0, inner));
    t.id = std::string(rest.substr(inner + 1));
  } else if (type == "service") {
    BERTH_CHECK(long_format());
    t.kind = Kind::kService;
    t.cluster = std::string(rest.substr(0, inner));
    t.id = std::string(rest.substr(inner + 1));
  } else {
    return InvalidArn();
  }
  return t;
}

// The tags a target has now, and whether it exists (a snapshot for the
// authorization's aws:ResourceTag keys; writes read it again).
struct Snapshot {
  bool found = false;
  std::vector<Tag> tags;
};

Result<Snapshot> Read(Service::Impl& impl, const Scope& scope, const Target& t) {
  Snapshot out;
  switch (t.kind) {
    case Kind::kCluster: {
      auto found = BERTH_TRY(impl.ReadCluster(scope, t.cluster));
      if (found && found->first.status == "ACTIVE") out = {true, found->first.tags};
      return out;
    }
    case Kind::kTaskDefinition: {
      auto found = BERTH_TRY(impl.ReadTaskDefinition(scope, t.family, t.revision));
      if (found) out = {true, found->first.tags};
      return out;
    }
    case Kind::kService: {
      auto found = BERTH_TRY(impl.ReadService(scope, t.cluster, t.id));
      if (found && found->first.status != "INACTIVE") out = {true, found->first.tags};
      return out;
    }
    case Kind::kInstance:
    case Kind::kTask: {
      auto cluster = BERTH_TRY(impl.ReadCluster(scope, t.cluster));
      if (!cluster || cluster->first.status != "ACTIVE") return out;
      auto index = impl.Index(scope, t.cluster);
      std::lock_guard lock(index->mu);
      BERTH_CHECK(index->Sync());
      if (t.kind == Kind::kInstance) {
        if (const auto* s = index->FindInstance(t.id)) out = {true, s->record->tags};
      } else if (const auto* s = index->FindTask(t.id)) {
        out = {true, s->record->tags};
      }
      return out;
    }
  }
  return out;
}

// The error for a target that does not exist: its cluster's, or its own.
std::unexpected<Error> Missing(Service::Impl& impl, const Scope& scope, const Target& t) {
  if (t.kind != Kind::kTaskDefinition) {
    auto cluster = impl.ReadCluster(scope, t.cluster);
    if (!cluster) return Fail(cluster.error());
    if (!*cluster || (*cluster)->first.status != "ACTIVE") {
      return Fail("ClusterNotFoundException", "Cluster not found.");
    }
  }
  return NotFound();
}

// `action` on the target's ARN, with ecs:cluster, the target's current tags
// (aws:ResourceTag/<key>) and `request_keys` (aws:RequestTag/<key>, aws:TagKeys).
Status AuthorizeTagging(Service::Impl& impl, const aws::RequestContext& ctx, const Scope& scope,
                        const std::string& action, const Target& t, const Snapshot& snapshot,
                        iam::ContextMap request_keys) {
  iam::ResourceContext rc;
  rc.condition_keys = std::move(request_keys);
  if (t.kind != Kind::kTaskDefinition) {
    rc.condition_keys["ecs:cluster"] = {impl.Arn(scope, "cluster/" + t.cluster)};
  }
  for (const auto& tag : snapshot.tags)
    rc.condition_keys["aws:ResourceTag/" + tag.key] = {tag.value};
  return impl.access.Authorize(ctx, action, t.arn, rc);
}

Status CheckTagKeys(const std::vector<std::string>& keys) {
  for (const auto& k : keys) {
    if (k.empty() || k.size() > 128) {
      return Fail("InvalidParameterException", "Tag keys must be between 1 and 128 characters.");
    }
  }
  return {};
}

// Read-modify-commit of one record by compare-and-retry: `next` reads it and
// returns its new text and the revision it was read at (an error: stop).
Status RewriteRecord(Service::Impl& impl, const std::string& key, std::string_view what,
                     const std::function<Result<std::pair<std::string, int64_t>>()>& next) {
  auto done = store::UntilCommitted<bool>(
      [&]() -> Result<std::optional<bool>> {
        auto [value, revision] = BERTH_TRY(next());
        store::Txn txn;
        txn.compares.push_back({key, revision});
        txn.ops.push_back(store::Op::Put(key, std::move(value)));
        auto result = BERTH_TRY(impl.kv.Commit(txn));
        if (!result.succeeded) return std::optional<bool>();
        return std::optional(true);
      },
      {.what = what});
  if (!done) return Fail(done.error());
  return {};
}

// Applies `change` to the target's tags and commits the record, under the
// cluster's index lock for instances and tasks, by compare-and-retry for
// clusters, task definitions and services. A target that is gone meanwhile is
// reported as Missing() reports it.
Status Mutate(Service::Impl& impl, const Scope& scope, const Target& t,
              const std::function<Status(std::vector<Tag>&)>& change) {
  using Next = Result<std::pair<std::string, int64_t>>;
  if (t.kind == Kind::kCluster) {
    return RewriteRecord(impl, ClusterKey(scope.account, scope.region, t.cluster), "cluster",
                         [&]() -> Next {
                           auto found = BERTH_TRY(impl.ReadCluster(scope, t.cluster));
                           if (!found || found->first.status != "ACTIVE") {
                             return Fail("ClusterNotFoundException", "Cluster not found.");
                           }
                           BERTH_CHECK(change(found->first.tags));
                           return std::pair(EncodeCluster(found->first), found->second);
                         });
  }
  if (t.kind == Kind::kTaskDefinition) {
    return RewriteRecord(
        impl, TaskDefinitionKey(scope.account, scope.region, t.family, t.revision),
        "task definition", [&]() -> Next {
          auto found = BERTH_TRY(impl.ReadTaskDefinition(scope, t.family, t.revision));
          if (!found) return NotFound();
          BERTH_CHECK(change(found->first.tags));
          return std::pair(EncodeTaskDefinitionRecord(found->first), found->second);
        });
  }
  if (t.kind == Kind::kService) {
    auto done = impl.MutateService(scope, t.cluster, t.id, [&](EcsService& s) -> Result<bool> {
      if (s.status == "INACTIVE") return NotFound();
      BERTH_CHECK(change(s.tags));
      return true;
    });
    if (!done) return Fail(done.error());
    return {};
  }
  BERTH_CHECK(impl.ActiveCluster(scope, t.cluster));
  auto index = impl.Index(scope, t.cluster);
  std::shared_ptr<const Task> previous, stored;
  {
    std::lock_guard lock(index->mu);
    BERTH_CHECK(index->Sync());
    if (t.kind == Kind::kInstance) {
      const auto* state = index->FindInstance(t.id);
      if (!state) return NotFound();
      ContainerInstance instance = *state->record;
      BERTH_CHECK(change(instance.tags));
      BERTH_CHECK(impl.CommitInstance(scope, *index, std::move(instance), state->mod_revision));
      return {};
    }
    const auto* state = index->FindTask(t.id);
    if (!state) return NotFound();
    previous = state->record;
    Task task = *previous;
    BERTH_CHECK(change(task.tags));
    stored = BERTH_TRY(CommitTask(impl, scope, *index, std::move(task), state->mod_revision));
  }
  impl.Notify(previous.get(), *stored);
  return {};
}

}  // namespace

Status Service::TagResource(const aws::RequestContext& ctx, const std::string& resource_arn,
                            const std::vector<Tag>& tags) {
  Scope scope = ScopeOf(ctx);
  Target t = BERTH_TRY(ParseTarget(scope, resource_arn));
  BERTH_CHECK(ValidateTags(tags));
  iam::ContextMap keys;
  std::vector<std::string> tag_keys;
  for (const auto& tag : tags) {
    keys["aws:RequestTag/" + tag.key] = {tag.value};
    tag_keys.push_back(tag.key);
  }
  keys["aws:TagKeys"] = std::move(tag_keys);
  Snapshot snapshot = BERTH_TRY(Read(*impl_, scope, t));
  BERTH_CHECK(
      AuthorizeTagging(*impl_, ctx, scope, "ecs:TagResource", t, snapshot, std::move(keys)));
  if (!snapshot.found) return Missing(*impl_, scope, t);
  return Mutate(*impl_, scope, t, [&](std::vector<Tag>& current) -> Status {
    for (const auto& tag : tags) {
      auto it = std::find_if(current.begin(), current.end(),
                             [&](const Tag& o) { return o.key == tag.key; });
      if (it != current.end()) {
        it->value = tag.value;
      } else {
        current.push_back(tag);
      }
    }
    return ValidateTags(current);  // at most 50 on the resource
  });
}

Status Service::UntagResource(const aws::RequestContext& ctx, const std::string& resource_arn,
                              const std::vector<std::string>& tag_keys) {
  Scope scope = ScopeOf(ctx);
  Target t = BERTH_TRY(ParseTarget(scope, resource_arn));
  BERTH_CHECK(CheckTagKeys(tag_keys));
  Snapshot snapshot = BERTH_TRY(Read(*impl_, scope, t));
  BERTH_CHECK(AuthorizeTagging(*impl_, ctx, scope, "ecs:UntagResource", t, snapshot,
                               {{"aws:TagKeys", tag_keys}}));
  if (!snapshot.found) return Missing(*impl_, scope, t);
  return Mutate(*impl_, scope, t, [&](std::vector<Tag>& current) -> Status {
    std::erase_if(current, [&](const Tag& tag) {
      return std::find(tag_keys.begin(), tag_keys.end(), tag.key) != tag_keys.end();
    });
    return {};
  });
}

Result<std::vector<Tag>> Service::ListTagsForResource(const aws::RequestContext& ctx,
                                                      const std::string& resource_arn) {
  Scope scope = ScopeOf(ctx);
  Target t = BERTH_TRY(ParseTarget(scope, resource_arn));
  Snapshot snapshot = BERTH_TRY(Read(*impl_, scope, t));
  BERTH_CHECK(AuthorizeTagging(*impl_, ctx, scope, "ecs:ListTagsForResource", t, snapshot, {}));
  if (!snapshot.found) return Missing(*impl_, scope, t);
  return snapshot.tags;
}

}  // namespace berth::ecs
