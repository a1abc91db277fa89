// ECS: PutAttributes, DeleteAttributes and ListAttributes (custom attributes
// of container instances, which placement's memberOf expressions read).
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "ecs/service_impl.h"

namespace berth::ecs {

namespace {

constexpr size_t kMaxPerCall = 10;
constexpr size_t kMaxCustom = 10;
constexpr std::string_view kContainerInstance = "container-instance";

// The instance ids a request's attributes target, validated; the instance ARN
// each names, for authorization.
struct Resolved {
  std::vector<std::string> ids;  // parallel to the attributes ("" : names nothing here)
  std::vector<std::string> arns;
};

Result<Resolved> Resolve(Service::Impl& impl, const Scope& scope, const std::string& cluster,
                         const std::vector<TargetAttribute>& attributes, bool with_values) {
  if (attributes.empty() || attributes.size() > kMaxPerCall) {
    return Fail("InvalidParameterException",
                fmt::format("attributes must list between 1 and {} attributes.", kMaxPerCall));
  }
  Resolved out;
  for (const auto& a : attributes) {
    Attribute checked = a.attribute;
    if (!with_values) checked.value.reset();
    BERTH_CHECK(ValidateAttribute(checked));
    if (IsAgentAttribute(a.attribute.name)) {
      return Fail("InvalidParameterException",
                  fmt::format("Attribute '{}' is managed by the container agent; attributes whose "
                              "names begin with 'ecs.' or 'com.amazonaws.ecs.' cannot be changed.",
                              a.attribute.name));
    }
    if (!a.target_type.empty() && a.target_type != kContainerInstance) {
      return Fail(
          "InvalidParameterException",
          fmt::format("targetType should be one of [container-instance]: {}", a.target_type));
    }
    if (a.target_id.empty()) {
      return Fail("InvalidParameterException", "Attribute targetId can not be blank.");
    }
    if (!a.target_id.starts_with("arn:") && a.target_type.empty()) {
      return Fail("InvalidParameterException",
                  "targetType is required when targetId is not an ARN.");
    }
    std::string id = ResourceId(scope, cluster, kContainerInstance, a.target_id);
    out.ids.push_back(id);
    out.arns.push_back(id.empty()
                           ? a.target_id
                           : impl.Arn(scope, fmt::format("container-instance/{}/{}", cluster, id)));
  }
  return out;
}

std::unexpected<Error> TargetNotFound(const std::string& target_id) {
  return Fail("TargetNotFoundException",
              fmt::format("Could not find the target '{}' in this cluster.", target_id));
}

// Put (`remove` false) or delete each attribute on its instance: every change
// is decided before any is committed.
Result<std::vector<TargetAttribute>> Change(Service::Impl& impl, const aws::RequestContext& ctx,
                                            const std::string& cluster_ref,
                                            const std::vector<TargetAttribute>& attributes,
                                            bool remove) {
  Scope scope = ScopeOf(ctx);
  auto name = ClusterName(scope, cluster_ref);
  std::string cluster_arn = impl.Arn(scope, "cluster/" + (name ? *name : cluster_ref));
  if (!name) return Fail(name.error());
  Resolved targets = BERTH_TRY(Resolve(impl, scope, *name, attributes, !remove));
  std::string action = remove ? "ecs:DeleteAttributes" : "ecs:PutAttributes";
  for (const auto& arn : targets.arns) BERTH_CHECK(impl.Authorize(ctx, action, arn, cluster_arn));
  BERTH_CHECK(impl.ActiveCluster(scope, *name));
  auto index = impl.Index(scope, *name);
  std::lock_guard lock(index->mu);
  BERTH_CHECK(index->Sync());
  // The new record of each instance changed, with the revision it was read at.
  std::map<std::string, std::pair<std::shared_ptr<ContainerInstance>, int64_t>> changed;
  for (size_t i = 0; i < attributes.size(); ++i) {
    const std::string& id = targets.ids[i];
    const auto* state = id.empty() ? nullptr : index->FindInstance(id);
    if (!state || state->record->status == "INACTIVE") {
      return TargetNotFound(attributes[i].target_id);
    }
    auto& [instance, revision] = changed[id];
    if (!instance) {
      instance = std::make_shared<ContainerInstance>(*state->record);
      revision = state->mod_revision;
    }
    const Attribute& a = attributes[i].attribute;
    auto it = std::find_if(instance->attributes.begin(), instance->attributes.end(),
                           [&](const Attribute& o) { return o.name == a.name; });
    if (remove) {
      if (it != instance->attributes.end()) instance->attributes.erase(it);
      continue;
    }
    if (it != instance->attributes.end()) {
      it->value = a.value;
      continue;
    }
    instance->attributes.push_back(a);
    size_t custom = std::count_if(instance->attributes.begin(), instance->attributes.end(),
                                  [](const Attribute& o) { return !IsAgentAttribute(o.name); });
    if (custom > kMaxCustom) {
      return Fail("AttributeLimitExceededException",
                  fmt::format("A container instance can have at most {} custom attributes: {} "
                              "has {} with this request.",
                              kMaxCustom, instance->arn, custom));
    }
  }
  for (auto& [_, entry] : changed) {
    auto& [instance, revision] = entry;
    BERTH_CHECK(impl.CommitInstance(scope, *index, std::move(*instance), revision));
  }
  return attributes;
}

}  // namespace

bool IsAgentAttribute(std::string_view name) {
  return name.starts_with("ecs.") || name.starts_with("com.amazonaws.ecs.");
}

Result<std::vector<TargetAttribute>> Service::PutAttributes(
    const aws::RequestContext& ctx, const std::string& cluster,
    const std::vector<TargetAttribute>& attributes) {
  return Change(*impl_, ctx, cluster, attributes, /*remove=*/false);
}

Result<std::vector<TargetAttribute>> Service::DeleteAttributes(
    const aws::RequestContext& ctx, const std::string& cluster,
    const std::vector<TargetAttribute>& attributes) {
  return Change(*impl_, ctx, cluster, attributes, /*remove=*/true);
}

Result<Page<TargetAttribute>> Service::ListAttributes(const aws::RequestContext& ctx,
                                                      const ListAttributesRequest& request) {
  Scope scope = ScopeOf(ctx);
  auto name = ClusterName(scope, request.cluster);
  std::string cluster_arn = impl_->Arn(scope, "cluster/" + (name ? *name : request.cluster));
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:ListAttributes", cluster_arn, cluster_arn));
  if (!name) return Fail(name.error());
  if (request.target_type != kContainerInstance) {
    return Fail(
        "InvalidParameterException",
        fmt::format("targetType should be one of [container-instance]: {}", request.target_type));
  }
  if (request.attribute_value && request.attribute_name.empty()) {
    return Fail("InvalidParameterException",
                "attributeName must be specified when attributeValue is.");
  }
  size_t limit = 0;
  std::string start = BERTH_TRY(PageStart(request.page, limit));
  // The token is "<instance id>/<attribute name>" of the last item returned.
  size_t slash = start.find('/');
  std::pair<std::string, std::string> after{
      start.substr(0, slash), slash == std::string::npos ? "" : start.substr(slash + 1)};
  BERTH_CHECK(impl_->ActiveCluster(scope, *name));
  auto index = impl_->Index(scope, *name);
  std::lock_guard lock(index->mu);
  BERTH_CHECK(index->Sync());
  Page<TargetAttribute> out;
  std::string last;
  for (auto it = index->instances().lower_bound(after.first); it != index->instances().end();
       ++it) {
    const ContainerInstance& instance = *it->second.record;
    if (instance.status == "INACTIVE") continue;
    std::vector<const Attribute*> sorted;
    for (const auto& a : instance.attributes) sorted.push_back(&a);
    std::sort(sorted.begin(), sorted.end(),
              [](const Attribute* x, const Attribute* y) { return x->name < y->name; });
    for (const Attribute* a : sorted) {
      if (!start.empty() && std::pair(it->first, a->name) <= after) continue;
      if (!request.attribute_name.empty() && a->name != request.attribute_name) continue;
      if (request.attribute_value && a->value != request.attribute_value) continue;
      if (out.items.size() == limit) {
        out.next_token = PageToken(last);
        return out;
      }
      out.items.push_back({*a, std::string(kContainerInstance), instance.arn});
      last = it->first + "/" + a->name;
    }
  }
  return out;
}

}  // namespace berth::ecs
