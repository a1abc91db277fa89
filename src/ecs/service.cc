// ECS: the service's shared machinery, clusters and task definitions.
#include "ecs/service.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <regex>
#include <set>

#include "common/arn.h"
#include "common/log.h"
#include "common/strings.h"
#include "ecs/service_impl.h"
#include "ecs/task_definition_codec.h"
#include "store/retry.h"

namespace berth::ecs {

namespace {

std::unexpected<Error> ClusterNotFound() {
  return Fail("ClusterNotFoundException", "Cluster not found.");
}

std::optional<int> ParseInt(std::string_view text) {
  int value = 0;
  auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (err != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}


}  // namespace

bool IsEcsName(std::string_view name) {
  constexpr size_t kMaxNameLength = 255;
  if (name.empty() || name.size() > kMaxNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

Scope ScopeOf(const aws::RequestContext& ctx) { return Scope{ctx.caller.account, ctx.region}; }

Result<std::string> ClusterName(const Scope& scope, const std::string& cluster) {
  if (cluster.empty()) return std::string(kDefaultCluster);
  if (!LooksLikeArn(cluster)) {
    if (!IsEcsName(cluster)) return ClusterNotFound();
    return cluster;
  }
  auto arn = ParseArn(cluster);
  if (!arn || arn->service != "ecs" || arn->account != scope.account ||
      arn->region != scope.region || !arn->resource.starts_with("cluster/")) {
    return ClusterNotFound();
  }
  std::string name = arn->resource.substr(8);
  if (!IsEcsName(name)) return ClusterNotFound();
  return name;
}

std::string ResourceId(const Scope& scope, const std::string& cluster, std::string_view kind,
                       const std::string& reference) {
  if (!LooksLikeArn(reference)) return reference.find('/') == std::string::npos ? reference : "";
  auto arn = ParseArn(reference);
  if (!arn || arn->service != "ecs" || arn->account != scope.account ||
      arn->region != scope.region) {
    return "";
  }
  std::string want = fmt::format("{}/{}/", kind, cluster);
  if (arn->resource.starts_with(want)) {
    std::string id = arn->resource.substr(want.size());
    return id.find('/') == std::string::npos ? id : "";
  }
  // The old short format: kind/<id>.
  std::string old = fmt::format("{}/", kind);
  if (arn->resource.starts_with(old) &&
      arn->resource.find('/', old.size()) == std::string::npos) {
    return arn->resource.substr(old.size());
  }
  return "";
}


std::string PageToken(std::string_view last) { return Base64Encode(last); }

Result<std::string> PageStart(const PageRequest& page, size_t& limit) {
  int max = page.max_results.value_or(100);
  if (max < 1 || max > 100) {
    return Fail("InvalidParameterException", "maxResults must be between 1 and 100.");
  }
  limit = static_cast<size_t>(max);
  if (page.next_token.empty()) return std::string();
  auto decoded = Base64Decode(page.next_token);
  if (!decoded) return Fail("InvalidParameterException", "Invalid nextToken.");
  return *decoded;
}

Service::Impl::Impl(store::Kv& kv, iam::AccessControl& access, iam::Service& iam, Ids& ids,
                    const Clock& clock, ServiceOptions options)
    : kv(kv), access(access), iam(iam), ids(ids), clock(clock), options(std::move(options)) {
  watch = kv.Watch("ecs/", [this](const store::WatchEvent& event) { OnWatch(event); });
}

void Service::Impl::OnWatch(const store::WatchEvent& event) {
  std::lock_guard lock(indexes_mu);
  if (event.type == store::WatchEvent::Type::kReset) {
    for (auto& [_, index] : indexes) index->Invalidate();
    return;
  }
  // ecs/<account>/<region>/<i|t>/<cluster>/<id>
  const std::string& key = event.kv.key;
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (parts.size() < 6) {
    size_t slash = key.find('/', start);
    parts.push_back(std::string_view(key).substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.size() != 6 || (parts[3] != "i" && parts[3] != "t")) return;
  std::string index_key = fmt::format("{}/{}/{}", parts[1], parts[2], parts[4]);
  auto it = indexes.find(index_key);
  if (it != indexes.end()) it->second->Notify(key, event.kv.mod_revision);
}

std::shared_ptr<ClusterIndex> Service::Impl::Index(const Scope& scope, const std::string& cluster) {
  std::string key = fmt::format("{}/{}/{}", scope.account, scope.region, cluster);
  std::lock_guard lock(indexes_mu);
  index_used[key] = clock.Now();
  auto it = indexes.find(key);
  if (it != indexes.end()) return it->second;
  ClusterIndex::AgentConnectedFn connected;
  if (options.agent_sessions) {
    connected = [this, prefix = key + "/"](const std::string& id) {
      std::lock_guard lock(agents_mu);
      return agents.contains(prefix + id);
    };
  }
  auto index = std::make_shared<ClusterIndex>(kv, InstancesPrefix(scope.account, scope.region, cluster),
                                              TasksPrefix(scope.account, scope.region, cluster),
                                              std::move(connected));
  indexes.emplace(key, index);
  return index;
}

bool Service::Impl::IsPool(const Scope& scope, std::string_view cluster) const {
  return !options.platform_account.empty() && scope.account == options.platform_account &&
         cluster == kFargatePoolCluster;
}

std::shared_ptr<ClusterIndex> Service::Impl::PoolIndex(const std::string& region) {
  return Index(Scope{options.platform_account, region}, std::string(kFargatePoolCluster));
}

InstanceLocation Service::InstanceLocationOf(const Task& task) const {
  auto arn = ParseArn(task.arn);
  std::string region = arn ? arn->region : "";
  if (task.pool) {
    return {impl_->options.platform_account, region, std::string(kFargatePoolCluster)};
  }
  return {arn ? arn->account : "", region, task.cluster};
}

void Service::Impl::Notify(const Task* previous, const Task& task) {
  std::vector<TaskListener> copy;
  {
    std::lock_guard lock(listeners_mu);
    copy = listeners;
  }
  for (const auto& listener : copy) listener(previous, task);
}

std::string Service::Impl::Arn(const Scope& scope, std::string_view resource) const {
  return fmt::format("arn:aws:ecs:{}:{}:{}", scope.region, scope.account, resource);
}

std::string Service::Impl::NewId() {
  uint8_t bytes[16];
  ids.Fill(bytes, sizeof bytes);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

std::string Service::Impl::NewTaskId() {
  // 48 bits of milliseconds, then 80 random bits.
  uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          clock.Now().time_since_epoch())
                                          .count());
  uint8_t bytes[16];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  ids.Fill(bytes + 6, sizeof bytes - 6);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

Status Service::Impl::Authorize(const aws::RequestContext& ctx, const std::string& action,
                                const std::string& resource, const std::string& cluster_arn) {
  iam::ResourceContext res;
  if (!cluster_arn.empty()) res.condition_keys["ecs:cluster"] = {cluster_arn};
  return access.Authorize(ctx, action, resource, res);
}

Status Service::Impl::AuthorizePassRole(const aws::RequestContext& ctx, const std::string& role_arn) {
  if (role_arn.empty()) return {};
  iam::ResourceContext res;
  res.condition_keys["iam:PassedToService"] = {"ecs-tasks.amazonaws.com"};
  return access.Authorize(ctx, "iam:PassRole", role_arn, res);
}

Status Service::Impl::CheckAssumable(const std::string& role_arn) {
  if (role_arn.empty()) return {};
  auto unable = [&] {
    return Fail("InvalidParameterException",
                fmt::format("ECS was unable to assume the role '{}' that was provided for this "
                            "task. Please verify that the role being passed has the proper trust "
                            "relationship and permissions and that your IAM user has permissions "
                            "to pass this role.",
                            role_arn));
  };
  auto arn = ParseArn(role_arn);
  if (!arn || arn->service != "iam" || !arn->resource.starts_with("role/")) return unable();
  std::string name = arn->resource.substr(arn->resource.rfind('/') + 1);
  auto role = iam.GetRole(arn->account, name);
  if (!role || role->arn != role_arn) return unable();
  if (!access.CheckTrust(nullptr, "ecs-tasks.amazonaws.com", *role, "", "")) return unable();
  return {};
}

Result<aws::Principal> Service::Impl::RoleSession(const std::string& role_arn,
                                                 const std::string& session) {
  auto arn = ParseArn(role_arn);
  if (!arn || arn->service != "iam" || !arn->resource.starts_with("role/")) {
    return Fail("InvalidParameterException", fmt::format("'{}' is not a role ARN.", role_arn));
  }
  std::string name = arn->resource.substr(arn->resource.rfind('/') + 1);
  auto role = BERTH_TRY(iam.GetRole(arn->account, name));
  aws::Principal p;
  p.kind = aws::Principal::Kind::kAssumedRole;
  p.account = arn->account;
  p.arn = fmt::format("arn:aws:sts::{}:assumed-role/{}/{}", arn->account, role.name, session);
  p.user_id = role.id + ":" + session;
  p.name = role.name;
  p.session_name = session;
  return p;
}

std::string Service::Impl::PreflightRegistryAuth(const aws::RequestContext& ctx,
                                                 const TaskDefinition& td,
                                                 const std::string& execution_role_arn) {
  if (!options.registry_secret_check) return {};
  std::set<std::string> parameters;
  for (const auto& c : td.containers) {
    if (c.credentials_parameter) parameters.insert(*c.credentials_parameter);
  }
  if (parameters.empty()) return {};
  constexpr std::string_view kPrefix =
      "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
      "retrieval failed: unable to retrieve secret from asm: ";
  auto session = RoleSession(execution_role_arn, "ecs-preflight");
  if (!session) {
    return fmt::format("{}the execution role {} cannot be used: {}", kPrefix, execution_role_arn,
                       session.error().message);
  }
  aws::RequestContext as_role{*session, ctx.region, ctx.request_id, "", ctx.now};
  for (const auto& parameter : parameters) {
    auto read = options.registry_secret_check(as_role, parameter);
    if (!read) {
      return std::string(Utf8Prefix(
          fmt::format("{}{}: {} (execution role {}, secretsmanager:GetSecretValue on {})", kPrefix,
                      read.error().code, read.error().message, execution_role_arn, parameter),
          1024));
    }
  }
  return {};
}

void Service::SetAgentConnected(const std::string& account, const std::string& region,
                                const std::string& cluster, const std::string& instance_id,
                                bool connected) {
  if (!impl_->options.agent_sessions) return;
  auto index = impl_->Index(Scope{account, region}, cluster);
  std::lock_guard lock(index->mu);
  {
    std::string key = fmt::format("{}/{}/{}/{}", account, region, cluster, instance_id);
    std::lock_guard agents_lock(impl_->agents_mu);
    if (connected) {
      impl_->agents.insert(std::move(key));
    } else {
      impl_->agents.erase(key);
    }
  }
  index->SetAgentConnected(instance_id, connected);
}

Result<std::optional<std::pair<Cluster, int64_t>>> Service::Impl::ReadCluster(
    const Scope& scope, const std::string& name) {
  auto kv_value = BERTH_TRY(kv.Get(ClusterKey(scope.account, scope.region, name)));
  if (!kv_value) return std::optional<std::pair<Cluster, int64_t>>();
  auto cluster = BERTH_TRY(DecodeCluster(kv_value->value));
  return std::optional(std::pair(std::move(cluster), kv_value->mod_revision));
}

Result<Cluster> Service::Impl::ActiveCluster(const Scope& scope, const std::string& name) {
  auto found = BERTH_TRY(ReadCluster(scope, name));
  if (!found || found->first.status != "ACTIVE") return ClusterNotFound();
  return std::move(found->first);
}

Service::Service(store::Kv& kv, iam::AccessControl& access, iam::Service& iam, Ids& ids,
                 const Clock& clock, ServiceOptions options)
    : impl_(std::make_unique<Impl>(kv, access, iam, ids, clock, std::move(options))) {}

Service::~Service() { impl_->watch.reset(); }

void Service::AddTaskListener(TaskListener listener) {
  std::lock_guard lock(impl_->listeners_mu);
  impl_->listeners.push_back(std::move(listener));
}

std::string Service::ClusterArn(const aws::RequestContext& ctx, const std::string& cluster) const {
  Scope scope = ScopeOf(ctx);
  auto name = ClusterName(scope, cluster);
  return impl_->Arn(scope, "cluster/" + (name ? *name : cluster));
}

Status Service::DiscoverPollEndpoint(const aws::RequestContext& ctx, const std::string& cluster,
                                     const std::string& instance) {
  (void)cluster;
  (void)instance;
  return impl_->Authorize(ctx, "ecs:DiscoverPollEndpoint", "*");
}

// ---- Clusters ---------------------------------------------------------------

namespace {

ClusterView CountsOf(Service::Impl& impl, const Scope& scope, Cluster cluster) {
  ClusterView view;
  if (cluster.status == "ACTIVE") {
    auto index = impl.Index(scope, cluster.name);
    std::lock_guard lock(index->mu);
    if (index->Sync()) {
      for (const auto& [_, state] : index->instances()) {
        if (state.record->status == "ACTIVE" || state.record->status == "DRAINING") {
          ++view.registered_container_instances_count;
        }
      }
      view.running_tasks_count = index->running_tasks();
      view.pending_tasks_count = index->pending_tasks();
    }
    view.active_services_count = CountServices(impl, scope, cluster.name, false).value_or(0);
  }
  view.cluster = std::move(cluster);
  return view;
}

}  // namespace

Result<ClusterView> Service::CreateCluster(const aws::RequestContext& ctx, std::string name,
                                           std::vector<Tag> tags, std::vector<KeyValue> settings) {
  Scope scope = ScopeOf(ctx);
  if (name.empty()) name = std::string(kDefaultCluster);
  if (!IsEcsName(name)) {
    return Fail("InvalidParameterException",
                "Cluster name must be 1-255 characters: letters (uppercase and lowercase), numbers, "
                "hyphens, and underscores.");
  }
  std::string arn = impl_->Arn(scope, "cluster/" + name);
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:CreateCluster", arn));
  BERTH_CHECK(ValidateTags(tags));
  for (const auto& s : settings) {
    if (s.name != "containerInsights" ||
        (s.value != "enabled" && s.value != "disabled" && s.value != "enhanced")) {
      return Fail("InvalidParameterException",
                  fmt::format("Invalid cluster setting: {}={}", s.name, s.value));
    }
  }
  std::string key = ClusterKey(scope.account, scope.region, name);
  auto cluster = BERTH_TRY(store::UntilCommitted<Cluster>(
      [&]() -> Result<std::optional<Cluster>> {
        auto existing = BERTH_TRY(impl_->ReadCluster(scope, name));
        // Idempotent: an ACTIVE cluster of that name is returned as it is.
        if (existing && existing->first.status == "ACTIVE") return std::optional(existing->first);
        Cluster c;
        c.name = name;
        c.arn = arn;
        c.tags = tags;
        c.settings = settings;
        c.created_at = ctx.now;
        store::Txn txn;
        txn.compares.push_back({key, existing ? existing->second : 0});
        txn.ops.push_back(store::Op::Put(key, EncodeCluster(c)));
        auto result = BERTH_TRY(impl_->kv.Commit(txn));
        if (!result.succeeded) return std::optional<Cluster>();
        return std::optional(std::move(c));
      },
      {.what = "cluster"}));
  return CountsOf(*impl_, scope, std::move(cluster));
}

Result<ClusterView> Service::DeleteCluster(const aws::RequestContext& ctx,
                                           const std::string& cluster_ref) {
  Scope scope = ScopeOf(ctx);
  auto name = ClusterName(scope, cluster_ref);
  std::string arn = impl_->Arn(scope, "cluster/" + (name ? *name : cluster_ref));
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:DeleteCluster", arn));
  if (!name) return Fail(name.error());
  auto index = impl_->Index(scope, *name);
  std::lock_guard lock(index->mu);
  auto found = BERTH_TRY(impl_->ReadCluster(scope, *name));
  if (!found || found->first.status != "ACTIVE") return ClusterNotFound();
  BERTH_CHECK(index->Sync());
  // Services first: their tasks and the instances they run on go after them.
  if (BERTH_TRY(CountServices(*impl_, scope, *name, true)) > 0) {
    return Fail("ClusterContainsServicesException",
                "The Cluster cannot be deleted while Services are active.");
  }
  for (const auto& [_, state] : index->instances()) {
    if (state.record->status != "INACTIVE") {
      return Fail("ClusterContainsContainerInstancesException",
                  "The Cluster cannot be deleted while Container Instances are active or draining.");
    }
  }
  for (const auto& [_, state] : index->tasks()) {
    if (state.record->last_status != "STOPPED") {
      return Fail("ClusterContainsTasksException",
                  "The Cluster cannot be deleted while Tasks are active.");
    }
  }
  Cluster c = std::move(found->first);
  c.status = "INACTIVE";
  std::string key = ClusterKey(scope.account, scope.region, *name);
  store::Txn txn;
  txn.compares.push_back({key, found->second});
  txn.ops.push_back(store::Op::Put(key, EncodeCluster(c)));
  auto result = BERTH_TRY(impl_->kv.Commit(txn));
  if (!result.succeeded) {
    return Fail("UpdateInProgressException", "The cluster changed while it was being deleted; retry.");
  }
  ClusterView view;
  view.cluster = std::move(c);
  return view;
}

Result<std::pair<std::vector<ClusterView>, std::vector<Failure>>> Service::DescribeClusters(
    const aws::RequestContext& ctx, const std::vector<std::string>& names) {
  Scope scope = ScopeOf(ctx);
  if (names.size() > 100) {
    return Fail("InvalidParameterException", "At most 100 clusters can be described at once.");
  }
  std::vector<std::string> wanted = names;
  if (wanted.empty()) wanted.push_back(std::string(kDefaultCluster));
  std::pair<std::vector<ClusterView>, std::vector<Failure>> out;
  for (const auto& ref : wanted) {
    auto name = ClusterName(scope, ref);
    std::string arn = name ? impl_->Arn(scope, "cluster/" + *name) : ref;
    BERTH_CHECK(impl_->Authorize(ctx, "ecs:DescribeClusters", arn));
    if (!name) {
      out.second.push_back({arn, "MISSING", ""});
      continue;
    }
    auto found = BERTH_TRY(impl_->ReadCluster(scope, *name));
    if (!found) {
      out.second.push_back({arn, "MISSING", ""});
      continue;
    }
    out.first.push_back(CountsOf(*impl_, scope, std::move(found->first)));
  }
  return out;
}

Result<Page<std::string>> Service::ListClusters(const aws::RequestContext& ctx,
                                                const PageRequest& page) {
  Scope scope = ScopeOf(ctx);
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:ListClusters", "*"));
  size_t limit = 0;
  std::string after = BERTH_TRY(PageStart(page, limit));
  std::string prefix = ClustersPrefix(scope.account, scope.region);
  Page<std::string> out;
  std::string cursor = after.empty() ? std::string() : prefix + after;
  for (;;) {
    auto range = BERTH_TRY(impl_->kv.Range(prefix, cursor, limit + 1));
    for (const auto& kv : range.kvs) {
      cursor = kv.key;
      auto c = DecodeCluster(kv.value);
      if (!c || c->status != "ACTIVE") continue;
      if (out.items.size() == limit) {
        out.next_token = PageToken(out.items.empty() ? "" : out.items.back().substr(
                                                                out.items.back().rfind('/') + 1));
        return out;
      }
      out.items.push_back(c->arn);
    }
    if (!range.more) break;
  }
  return out;
}

// ---- Task definitions -------------------------------------------------------

namespace {

// "family", "family:7" or an ARN -> (family, revision or 0).
Result<std::pair<std::string, int>> ParseTaskDefinitionRef(const Scope& scope,
                                                           const std::string& reference) {
  std::string text = reference;
  if (LooksLikeArn(reference)) {
    auto arn = ParseArn(reference);
    if (!arn || arn->service != "ecs" || !arn->resource.starts_with("task-definition/")) {
      return Fail("ClientException", "Unable to describe task definition.");
    }
    if (arn->account != scope.account || arn->region != scope.region) {
      return Fail("ClientException", "Unable to describe task definition.");
    }
    text = arn->resource.substr(16);
  }
  size_t colon = text.find(':');
  std::string family = text.substr(0, colon);
  if (!IsEcsName(family)) return Fail("ClientException", "Unable to describe task definition.");
  if (colon == std::string::npos) return std::pair(family, 0);
  auto revision = ParseInt(std::string_view(text).substr(colon + 1));
  if (!revision || *revision < 1) {
    return Fail("InvalidParameterException",
                fmt::format("Invalid revision number. Number: {}", text.substr(colon + 1)));
  }
  return std::pair(family, *revision);
}

}  // namespace

Result<std::optional<std::pair<TaskDefinition, int64_t>>> Service::Impl::ReadTaskDefinition(
    const Scope& scope, const std::string& family, int revision) {
  auto kv_value =
      BERTH_TRY(kv.Get(TaskDefinitionKey(scope.account, scope.region, family, revision)));
  if (!kv_value) return std::optional<std::pair<TaskDefinition, int64_t>>();
  auto td = BERTH_TRY(DecodeTaskDefinitionRecord(kv_value->value));
  return std::optional(std::pair(std::move(td), kv_value->mod_revision));
}

Result<TaskDefinition> Service::Impl::ResolveTaskDefinition(const Scope& scope,
                                                            const std::string& reference) {
  auto [family, revision] = BERTH_TRY(ParseTaskDefinitionRef(scope, reference));
  if (revision > 0) {
    auto found = BERTH_TRY(ReadTaskDefinition(scope, family, revision));
    if (!found) return Fail("ClientException", "Unable to describe task definition.");
    return std::move(found->first);
  }
  // The latest ACTIVE revision: scan the family's revisions from the newest.
  std::string prefix = TaskDefinitionsPrefix(scope.account, scope.region, family);
  auto range = BERTH_TRY(kv.Range(prefix));
  for (auto it = range.kvs.rbegin(); it != range.kvs.rend(); ++it) {
    auto td = BERTH_TRY(DecodeTaskDefinitionRecord(it->value));
    if (td.status == "ACTIVE") return td;
  }
  return Fail("ClientException", "Unable to describe task definition.");
}

Result<TaskDefinition> Service::RegisterTaskDefinition(const aws::RequestContext& ctx,
                                                       TaskDefinition td) {
  Scope scope = ScopeOf(ctx);
  BERTH_CHECK(ValidateAndComplete(td));
  BERTH_CHECK(ValidateTags(td.tags));
  std::string family_key = FamilyKey(scope.account, scope.region, td.family);
  auto last = BERTH_TRY(impl_->kv.Get(family_key));
  int next = last ? ParseInt(last->value).value_or(0) + 1 : 1;
  BERTH_CHECK(impl_->Authorize(
      ctx, "ecs:RegisterTaskDefinition",
      impl_->Arn(scope, fmt::format("task-definition/{}:{}", td.family, next))));
  if (!td.tags.empty()) {
    BERTH_CHECK(impl_->Authorize(
        ctx, "ecs:TagResource",
        impl_->Arn(scope, fmt::format("task-definition/{}:{}", td.family, next))));
  }
  BERTH_CHECK(impl_->AuthorizePassRole(ctx, td.task_role_arn));
  if (td.execution_role_arn != td.task_role_arn) {
    BERTH_CHECK(impl_->AuthorizePassRole(ctx, td.execution_role_arn));
  }
  td.status = "ACTIVE";
  td.registered_at = ctx.now;
  td.registered_by = ctx.caller.arn;
  td.deregistered_at.reset();
  return store::UntilCommitted<TaskDefinition>(
      [&]() -> Result<std::optional<TaskDefinition>> {
        auto current = BERTH_TRY(impl_->kv.Get(family_key));
        // Revisions only ever grow, also across deregistration.
        int revision = current ? ParseInt(current->value).value_or(0) + 1 : 1;
        TaskDefinition out = td;
        out.revision = revision;
        out.arn = impl_->Arn(scope, fmt::format("task-definition/{}:{}", td.family, revision));
        store::Txn txn;
        txn.compares.push_back({family_key, current ? current->mod_revision : 0});
        txn.ops.push_back(store::Op::Put(family_key, std::to_string(revision)));
        txn.ops.push_back(store::Op::Put(
            TaskDefinitionKey(scope.account, scope.region, td.family, revision),
            EncodeTaskDefinitionRecord(out)));
        auto result = BERTH_TRY(impl_->kv.Commit(txn));
        if (!result.succeeded) return std::optional<TaskDefinition>();
        return std::optional(std::move(out));
      },
      {.what = "task definition family"});
}

Result<TaskDefinition> Service::DeregisterTaskDefinition(const aws::RequestContext& ctx,
                                                         const std::string& reference) {
  Scope scope = ScopeOf(ctx);
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:DeregisterTaskDefinition", "*"));
  auto parsed = ParseTaskDefinitionRef(scope, reference);
  if (!parsed) {
    if (parsed.error().code == "InvalidParameterException") return Fail(parsed.error());
    return Fail("ClientException", "The specified task definition does not exist.");
  }
  auto [family, revision] = *parsed;
  if (revision == 0) return Fail("ClientException", "Revision is missing.");
  std::string key = TaskDefinitionKey(scope.account, scope.region, family, revision);
  return store::UntilCommitted<TaskDefinition>(
      [&]() -> Result<std::optional<TaskDefinition>> {
        auto found = BERTH_TRY(impl_->ReadTaskDefinition(scope, family, revision));
        if (!found) return Fail("ClientException", "The specified task definition does not exist.");
        TaskDefinition td = std::move(found->first);
        if (td.status == "INACTIVE") return std::optional(std::move(td));
        td.status = "INACTIVE";
        td.deregistered_at = ctx.now;
        store::Txn txn;
        txn.compares.push_back({key, found->second});
        txn.ops.push_back(store::Op::Put(key, EncodeTaskDefinitionRecord(td)));
        auto result = BERTH_TRY(impl_->kv.Commit(txn));
        if (!result.succeeded) return std::optional<TaskDefinition>();
        return std::optional(std::move(td));
      },
      {.what = "task definition"});
}

Result<TaskDefinition> Service::TaskDefinitionOf(const std::string& account,
                                                 const std::string& region,
                                                 const std::string& arn) {
  return impl_->ResolveTaskDefinition(Scope{account, region}, arn);
}

Result<TaskDefinition> Service::DescribeTaskDefinition(const aws::RequestContext& ctx,
                                                       const std::string& reference) {
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:DescribeTaskDefinition", "*"));
  return impl_->ResolveTaskDefinition(ScopeOf(ctx), reference);
}

Result<Page<std::string>> Service::ListTaskDefinitions(const aws::RequestContext& ctx,
                                                       const ListTaskDefinitionsRequest& request) {
  Scope scope = ScopeOf(ctx);
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:ListTaskDefinitions", "*"));
  if (request.status != "ACTIVE" && request.status != "INACTIVE") {
    return Fail("InvalidParameterException", "status must be ACTIVE or INACTIVE.");
  }
  size_t limit = 0;
  std::string start = BERTH_TRY(PageStart(request.page, limit));
  // Keys sort by family then zero-padded revision: ASC order as ECS lists it.
  std::string prefix = TaskDefinitionsPrefix(scope.account, scope.region, request.family_prefix);
  auto range = BERTH_TRY(impl_->kv.Range(prefix));
  std::vector<std::pair<std::string, std::string>> matched;  // (key suffix, arn)
  for (const auto& kv : range.kvs) {
    auto td = DecodeTaskDefinitionRecord(kv.value);
    if (!td || td->status != request.status) continue;
    matched.emplace_back(kv.key.substr(prefix.size()), td->arn);
  }
  // Key order is not family order ("svc-worker/" sorts before "svc/" since '-' < '/'): sort by
  // (family, zero-padded revision) so that every revision of "svc" comes before "svc-worker".
  std::sort(matched.begin(), matched.end(), [](const auto& a, const auto& b) {
    auto split = [](const std::string& suffix) {
      size_t slash = suffix.rfind('/');
      return std::pair(std::string_view(suffix).substr(0, slash),
                       std::string_view(suffix).substr(slash + 1));
    };
    return split(a.first) < split(b.first);
  });
  if (request.descending) std::reverse(matched.begin(), matched.end());
  Page<std::string> out;
  size_t i = 0;
  if (!start.empty()) {
    while (i < matched.size() && matched[i].first != start) ++i;
    if (i < matched.size()) ++i;
  }
  for (; i < matched.size(); ++i) {
    if (out.items.size() == limit) {
      out.next_token = PageToken(matched[i - 1].first);
      break;
    }
    out.items.push_back(matched[i].second);
  }
  return out;
}

Result<Page<std::string>> Service::ListTaskDefinitionFamilies(const aws::RequestContext& ctx,
                                                              const ListFamiliesRequest& request) {
  Scope scope = ScopeOf(ctx);
  BERTH_CHECK(impl_->Authorize(ctx, "ecs:ListTaskDefinitionFamilies", "*"));
  if (request.status != "ACTIVE" && request.status != "INACTIVE" && request.status != "ALL") {
    return Fail("InvalidParameterException", "status must be ACTIVE, INACTIVE or ALL.");
  }
  size_t limit = 0;
  std::string start = BERTH_TRY(PageStart(request.page, limit));
  std::string prefix = FamiliesPrefix(scope.account, scope.region);
  auto families = BERTH_TRY(impl_->kv.Range(prefix + request.family_prefix,
                                            start.empty() ? "" : prefix + start));
  Page<std::string> out;
  for (const auto& kv : families.kvs) {
    std::string family = kv.key.substr(prefix.size());
    if (request.status != "ALL") {
      bool any_active = false;
      auto revisions =
          BERTH_TRY(impl_->kv.Range(TaskDefinitionsPrefix(scope.account, scope.region, family)));
      for (const auto& r : revisions.kvs) {
        auto td = DecodeTaskDefinitionRecord(r.value);
        if (td && td->status == "ACTIVE") {
          any_active = true;
          break;
        }
      }
      if (any_active != (request.status == "ACTIVE")) continue;
    }
    if (out.items.size() == limit) {
      out.next_token = PageToken(out.items.back());
      break;
    }
    out.items.push_back(family);
  }
  return out;
}

}  // namespace berth::ecs
