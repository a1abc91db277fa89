#include "logs/service.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "common/json.h"
#include "common/strings.h"
#include "crypto/random.h"
#include "iam/policy.h"
#include "logs/service_impl.h"
#include "logs/tokens.h"
#include "logs/validation.h"
#include "store/retry.h"

namespace berth::logs {

std::unexpected<Error> GroupNotFound() {
  return Fail("ResourceNotFoundException", "The specified log group does not exist.");
}

std::unexpected<Error> StreamNotFound() {
  return Fail("ResourceNotFoundException", "The specified log stream does not exist.");
}

std::string ViaService(std::string_view region) {
  return fmt::format("logs.{}.amazonaws.com", region);
}

kms::EncryptionContext KmsContext(const LogGroup& group) {
  return {{"aws:logs:arn", group.log_group_arn}};
}

Error FromKms(const Error& e) {
  if (e.http_status >= 500) return e;
  return Error{"AccessDeniedException",
               fmt::format("The log group's KMS key cannot be used: {}: {}", e.code, e.message),
               400};
}

namespace {

constexpr size_t kMaxResourcePolicies = 10;
constexpr int64_t kDayMs = 86'400'000;

std::string GroupResource(const GroupPlace& p) {
  return StreamArn(p.region, p.account, p.name, "");
}

std::string TagResourceName(const GroupPlace& p) { return GroupArn(p.region, p.account, p.name); }

iam::ContextMap RequestTagKeys(const std::map<std::string, std::string>& tags) {
  iam::ContextMap keys;
  if (tags.empty()) return keys;
  std::vector<std::string> names;
  for (const auto& [k, v] : tags) {
    keys["aws:RequestTag/" + k] = {v};
    names.push_back(k);
  }
  keys["aws:TagKeys"] = names;
  return keys;
}

Result<size_t> PageLimit(std::optional<int> limit, size_t max, size_t fallback) {
  Validation v;
  v.Range("limit", limit, 1, static_cast<int64_t>(max));
  BERTH_CHECK(v.Done());
  return limit ? static_cast<size_t>(*limit) : fallback;
}

// A resource ARN of TagResource and friends: a log group's.
Result<GroupPlace> PlaceOfArn(const std::string& arn) {
  Validation v;
  v.Length("resourceArn", arn, 1, 1011);
  BERTH_CHECK(v.Done());
  auto parts = ParseGroupArn(arn);
  if (!parts) {
    return Fail("InvalidParameterException", fmt::format("Invalid resourceArn: {}", arn));
  }
  return GroupPlace{parts->account, parts->region, parts->name};
}

}  // namespace

// ---------------------------------------------------------------------------
// Impl: finding, authorizing and writing groups.

Service::Impl::Impl(store::Kv& kv, const crypto::RootKey& root_key, iam::AccessControl& access,
                    kms::Service& kms, Ids& ids, const Clock& clock)
    : kv(kv),
      root_key(root_key),
      access(access),
      kms(kms),
      ids(ids),
      clock(clock),
      events(kv, ids, clock) {
  // One watch for both caches; segment writes (the bulk of logs/) are passed over by kind.
  watch = kv.Watch("logs/", [this](const store::WatchEvent& event) {
    if (event.type == store::WatchEvent::Type::kReset) {
      groups.Clear();
      streams.Clear();
      return;
    }
    switch (KindOf(event.kv.key)) {
      case KeyKind::kGroup:
        groups.Drop(event.kv.key);
        break;
      case KeyKind::kStream:
        streams.Drop(event.kv.key);
        break;
      default:
        break;
    }
  });
}

int64_t Service::Impl::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch())
      .count();
}

Result<std::shared_ptr<const GroupEntry>> Service::Impl::Parse(const store::KeyValue& kv,
                                                               uint64_t generation) {
  if (auto hit = groups.FindAt(kv.key, kv.mod_revision)) return hit;
  GroupRecord record = BERTH_TRY(DecodeGroup(kv.value));
  std::string plain = BERTH_TRY(root_key.Open(record.sealed_key, kv.key));
  auto entry = std::make_shared<GroupEntry>(GroupEntry{
      std::move(record.group), std::move(record.kms_blob), DataKey(std::move(plain)), {}});
  for (const auto& [k, v] : entry->group.tags) entry->resource_keys["aws:ResourceTag/" + k] = {v};
  groups.Put(kv.key, kv.mod_revision, generation, entry);
  return std::shared_ptr<const GroupEntry>(std::move(entry));
}

Result<std::optional<LoadedGroup>> Service::Impl::Load(const GroupPlace& place, bool fresh) {
  LoadedGroup loaded;
  loaded.key = GroupKey(place.account, place.region, place.name);
  if (!fresh) loaded.entry = groups.Find(loaded.key, loaded.mod_revision);
  if (!loaded.entry) {
    uint64_t generation = groups.Generation();
    auto kv = BERTH_TRY(this->kv.Get(loaded.key));
    if (!kv) return std::optional<LoadedGroup>();
    loaded.entry = BERTH_TRY(Parse(*kv, generation));
    loaded.mod_revision = kv->mod_revision;
  }
  return std::optional<LoadedGroup>(std::move(loaded));
}

Result<std::string> Service::Impl::AccountPolicy(const std::string& account,
                                                 const std::string& region) {
  auto range = BERTH_TRY(kv.Range(PolicyPrefix(account, region)));
  json::Json statements = json::Json::array();
  for (const auto& item : range.kvs) {
    auto policy = BERTH_TRY(DecodePolicy(item.value));
    try {
      json::Json doc = json::Json::parse(policy.document);
      auto it = doc.find("Statement");
      if (it == doc.end()) continue;
      if (it->is_array()) {
        for (auto& s : *it) statements.push_back(s);
      } else {
        statements.push_back(*it);
      }
    } catch (const std::exception&) {
      continue;  // validated when put
    }
  }
  if (statements.empty()) return std::string();
  return json::Dump(json::Json{{"Version", "2012-10-17"}, {"Statement", statements}});
}

Status Service::Impl::Authorize(const aws::RequestContext& ctx, const std::string& action,
                                const std::string& resource, const GroupPlace& place,
                                const GroupEntry* entry, const iam::ContextMap& extra) {
  iam::ResourceContext rc;
  rc.account = place.account;
  rc.condition_keys = extra;
  if (entry != nullptr) rc.condition_keys.SetBase(&entry->resource_keys);
  std::string policy;
  if (place.account != ctx.caller.account) {
    policy = BERTH_TRY(AccountPolicy(place.account, place.region));
    rc.policy = policy;
  }
  return access.Authorize(ctx, action, resource, rc);
}

Result<LoadedGroup> Service::Impl::Open(const aws::RequestContext& ctx, const GroupPlace& place,
                                        const std::string& action, const std::string& resource,
                                        const iam::ContextMap& extra, bool fresh) {
  auto loaded = BERTH_TRY(Load(place, fresh));
  BERTH_CHECK(
      Authorize(ctx, action, resource, place, loaded ? loaded->entry.get() : nullptr, extra));
  if (!loaded) return GroupNotFound();
  return std::move(*loaded);
}

Result<GroupPlace> Service::Impl::InCallerAccount(const aws::RequestContext& ctx,
                                                  const std::string& name, const char* field) {
  Validation v;
  v.GroupName(field, name);
  BERTH_CHECK(v.Done());
  return GroupPlace{ctx.caller.account, ctx.region, name};
}

Result<GroupPlace> Service::Impl::StreamInCallerAccount(const aws::RequestContext& ctx,
                                                        const std::string& group,
                                                        const std::string& stream) {
  Validation v;
  v.GroupName("logGroupName", group);
  v.StreamName("logStreamName", stream);
  BERTH_CHECK(v.Done());
  return GroupPlace{ctx.caller.account, ctx.region, group};
}

Result<GroupPlace> Service::Impl::Resolve(const aws::RequestContext& ctx, const GroupName& group) {
  if (!group.name.empty() && !group.identifier.empty()) {
    return Fail("InvalidParameterException",
                "LogGroup name and LogGroup ARN are mutually exclusive parameters.");
  }
  if (group.name.empty() && group.identifier.empty()) {
    return Fail("InvalidParameterException",
                "Should provide either name or ARN for the log group.");
  }
  if (!group.name.empty()) return InCallerAccount(ctx, group.name);
  Validation v;
  v.Length("logGroupIdentifier", group.identifier, 1, 2048);
  BERTH_CHECK(v.Done());
  if (!group.identifier.starts_with("arn:")) {
    return InCallerAccount(ctx, group.identifier, "logGroupIdentifier");
  }
  auto parts = ParseGroupArn(group.identifier);
  if (!parts) {
    return Fail("InvalidParameterException",
                fmt::format("Invalid logGroupIdentifier: {}", group.identifier));
  }
  return GroupPlace{parts->account, parts->region, parts->name};
}

Result<DataKey> Service::Impl::ReadKey(const aws::RequestContext& ctx, const GroupEntry& entry) {
  if (entry.kms_blob.empty()) return entry.key;
  aws::RequestContext in_region = ctx;
  in_region.region = entry.group.region;
  auto plain = kms.Decrypt(kms::Caller{in_region, ViaService(entry.group.region)}, entry.kms_blob,
                           KmsContext(entry.group), "");
  if (!plain) return Fail(FromKms(plain.error()));
  return DataKey(std::move(plain->plaintext));
}

Result<int64_t> Service::Impl::StreamRevision(const GroupPlace& place, const std::string& stream,
                                              bool fresh) {
  std::string key = StreamKey(place.account, place.region, place.name, stream);
  int64_t revision = 0;
  if (!fresh && streams.Find(key, revision)) return revision;
  uint64_t generation = streams.Generation();
  auto kv = BERTH_TRY(this->kv.Get(key));
  if (!kv) return int64_t{0};
  auto record = BERTH_TRY(DecodeStream(kv->value));
  streams.Put(key, kv->mod_revision, generation,
              std::make_shared<const StreamEntry>(StreamEntry{record.creation_time}));
  return kv->mod_revision;
}

Result<LogGroup> Service::Impl::Mutate(const aws::RequestContext& ctx, const GroupPlace& place,
                                       const std::string& action, const std::string& resource,
                                       const iam::ContextMap& extra,
                                       const std::function<Status(LogGroup&)>& change) {
  std::string key = GroupKey(place.account, place.region, place.name);
  return store::UntilCommitted<LogGroup>(
      locks, key,
      [&]() -> Result<std::optional<LogGroup>> {
        LoadedGroup loaded = BERTH_TRY(Open(ctx, place, action, resource, extra, true));
        GroupRecord record{loaded.group(), {}, loaded.entry->kms_blob};
        BERTH_CHECK(change(record.group));
        record.sealed_key = BERTH_TRY(root_key.Seal(loaded.entry->key.bytes(), key));
        store::Txn txn;
        txn.compares.push_back({key, loaded.mod_revision});
        txn.ops.push_back(store::Op::Put(key, EncodeGroup(record)));
        auto writing = groups.Write(key);
        if (BERTH_TRY(kv.Commit(txn)).succeeded) return record.group;
        return std::nullopt;
      },
      {.what = "log group"});
}

Result<std::vector<LogStream>> Service::Impl::Streams(const GroupPlace& place,
                                                      const std::string& prefix) {
  std::string key_prefix = StreamPrefix(place.account, place.region, place.name);
  auto range = BERTH_TRY(kv.Range(key_prefix + prefix));
  std::vector<LogStream> out;
  out.reserve(range.kvs.size());
  for (const auto& item : range.kvs) {
    LogStream s;
    s.name = item.key.substr(key_prefix.size());
    s.arn = StreamArn(place.region, place.account, place.name, s.name);
    s.creation_time = BERTH_TRY(DecodeStream(item.value)).creation_time;
    s.summary =
        BERTH_TRY(events.Summary(StreamRef{place.account, place.region, place.name, s.name}));
    out.push_back(std::move(s));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Groups.

Service::Service(store::Kv& kv, const crypto::RootKey& root_key, iam::AccessControl& access,
                 kms::Service& kms, Ids& ids, const Clock& clock)
    : impl_(std::make_unique<Impl>(kv, root_key, access, kms, ids, clock)) {}

Service::~Service() = default;

Status Service::CreateLogGroup(const aws::RequestContext& ctx,
                               const CreateLogGroupRequest& request) {
  Validation v;
  v.GroupName("logGroupName", request.name);
  if (!request.kms_key_id.empty()) v.Length("kmsKeyId", request.kms_key_id, 0, 256);
  if (!request.log_group_class.empty()) {
    v.Enum("logGroupClass", request.log_group_class, {"STANDARD", "INFREQUENT_ACCESS", "DELIVERY"});
  }
  v.Tags("tags", request.tags);
  BERTH_CHECK(v.Done());
  BERTH_CHECK(CheckNotReserved(request.name));
  GroupPlace place{ctx.caller.account, ctx.region, request.name};
  BERTH_CHECK(impl_->Authorize(ctx, "logs:CreateLogGroup", GroupResource(place), place, nullptr,
                               RequestTagKeys(request.tags)));

  std::string key = GroupKey(place.account, place.region, place.name);
  if (BERTH_TRY(impl_->kv.Get(key))) {
    return Fail("ResourceAlreadyExistsException", "The specified log group already exists");
  }
  GroupRecord record;
  LogGroup& g = record.group;
  g.account = place.account;
  g.region = place.region;
  g.name = place.name;
  g.log_group_arn = GroupArn(g.region, g.account, g.name);
  g.arn = g.log_group_arn + ":*";
  g.creation_time = impl_->NowMs();
  g.log_group_class = request.log_group_class.empty() ? "STANDARD" : request.log_group_class;
  g.deletion_protection = request.deletion_protection;
  g.tags = request.tags;
  std::string plain;
  if (request.kms_key_id.empty()) {
    plain = crypto::RandomString(32);
  } else {
    auto data_key = impl_->kms.GenerateDataKey(kms::Caller{ctx, ViaService(g.region)},
                                               request.kms_key_id, KmsContext(g), 32);
    if (!data_key) {
      const Error& e = data_key.error();
      if (e.code == "NotFoundException" || e.code == "ValidationException") {
        return Fail("InvalidParameterException",
                    fmt::format("The specified KMS key does not exist or is not allowed to be "
                                "used: {}",
                                e.message));
      }
      return Fail(FromKms(e));
    }
    plain = std::move(data_key->plaintext);
    g.kms_key_id = data_key->key_arn;
    record.kms_blob = std::move(data_key->ciphertext_blob);
  }
  auto sealed = impl_->root_key.Seal(plain, key);
  DataKey wipe(std::move(plain));
  record.sealed_key = BERTH_TRY(std::move(sealed));
  store::Txn txn;
  txn.compares.push_back({key, 0});
  txn.ops.push_back(store::Op::Put(key, EncodeGroup(record)));
  auto writing = impl_->groups.Write(key);
  if (!BERTH_TRY(impl_->kv.Commit(txn)).succeeded) {
    return Fail("ResourceAlreadyExistsException", "The specified log group already exists");
  }
  return {};
}

Status Service::DeleteLogGroup(const aws::RequestContext& ctx, const std::string& name) {
  GroupPlace place = BERTH_TRY(impl_->InCallerAccount(ctx, name));
  std::string key = GroupKey(place.account, place.region, place.name);
  auto done = store::UntilCommitted<bool>(
      impl_->locks, key,
      [&]() -> Result<std::optional<bool>> {
        LoadedGroup loaded = BERTH_TRY(
            impl_->Open(ctx, place, "logs:DeleteLogGroup", GroupResource(place), {}, true));
        if (loaded.group().deletion_protection) {
          return Fail("InvalidOperationException",
                      fmt::format("Log group {} has deletion protection enabled.", name));
        }
        store::Txn txn;
        txn.compares.push_back({key, loaded.mod_revision});
        txn.ops.push_back(store::Op::Delete(key));
        txn.ops.push_back(
            store::Op::DeletePrefix(StreamPrefix(place.account, place.region, place.name)));
        for (auto& op :
             impl_->events.DeleteGroupOps(GroupRef{place.account, place.region, place.name})) {
          txn.ops.push_back(std::move(op));
        }
        auto writing = impl_->groups.Write(key);
        if (!BERTH_TRY(impl_->kv.Commit(txn)).succeeded) return std::nullopt;
        impl_->streams.Clear();  // the group's streams went with it
        return true;
      },
      {.what = "log group"});
  if (!done) return Fail(done.error());
  return {};
}

Result<LogGroupPage> Service::DescribeLogGroups(const aws::RequestContext& ctx,
                                                const DescribeLogGroupsRequest& request) {
  Validation v;
  if (!request.prefix.empty()) v.GroupName("logGroupNamePrefix", request.prefix);
  if (!request.pattern.empty()) {
    v.Length("logGroupNamePattern", request.pattern, 0, 512);
    for (char c : request.pattern) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) ||
            std::string_view(".-_/#").find(c) != std::string_view::npos)) {
        v.Fail("logGroupNamePattern", request.pattern,
               R"(satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]*)");
        break;
      }
    }
  }
  BERTH_CHECK(v.Done());
  size_t limit = BERTH_TRY(PageLimit(request.limit, 50, 50));
  if (!request.prefix.empty() && !request.pattern.empty()) {
    return Fail("InvalidParameterException",
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive "
                "parameters.");
  }
  std::string after;
  if (!request.next_token.empty()) after = BERTH_TRY(DecodeKeyToken(request.next_token));
  GroupPlace everything{ctx.caller.account, ctx.region, ""};
  BERTH_CHECK(impl_->Authorize(ctx, "logs:DescribeLogGroups", GroupResource(everything), everything,
                               nullptr));

  std::string base = GroupPrefix(ctx.caller.account, ctx.region);
  std::string pattern = ToLower(request.pattern);
  LogGroupPage page;
  std::string start_after = after.empty() ? std::string() : base + after;
  for (;;) {
    auto range = BERTH_TRY(impl_->kv.Range(base + request.prefix, start_after, limit + 1));
    for (const auto& item : range.kvs) {
      std::string name = item.key.substr(base.size());
      if (!pattern.empty() && ToLower(name).find(pattern) == std::string::npos) continue;
      if (page.groups.size() == limit) {
        page.next_token = EncodeKeyToken(page.groups.back().name);
        return page;
      }
      GroupRecord record = BERTH_TRY(DecodeGroup(item.value));
      GroupPlace place{ctx.caller.account, ctx.region, name};
      for (const auto& s : BERTH_TRY(impl_->Streams(place, ""))) {
        record.group.stored_bytes += s.summary.stored_bytes;
      }
      page.groups.push_back(std::move(record.group));
    }
    if (!range.more || range.kvs.empty()) break;
    start_after = range.kvs.back().key;
  }
  return page;
}

Status Service::PutRetentionPolicy(const aws::RequestContext& ctx, const std::string& group,
                                   std::optional<int64_t> days) {
  GroupPlace place = BERTH_TRY(impl_->InCallerAccount(ctx, group));
  BERTH_CHECK(CheckRetentionDays(days));
  BERTH_CHECK(impl_->Mutate(ctx, place, "logs:PutRetentionPolicy", GroupResource(place), {},
                            [&](LogGroup& g) -> Status {
                              g.retention_in_days = static_cast<int>(*days);
                              return {};
                            }));
  // Expired events go at once (then with every sweep).
  auto loaded = BERTH_TRY(impl_->Load(place, false));
  if (!loaded) return {};
  BERTH_CHECK(impl_->events.ExpireBefore(GroupRef{place.account, place.region, place.name},
                                         impl_->NowMs() - *days * kDayMs, loaded->entry->key));
  return {};
}

Status Service::DeleteRetentionPolicy(const aws::RequestContext& ctx, const std::string& group) {
  GroupPlace place = BERTH_TRY(impl_->InCallerAccount(ctx, group));
  auto updated = impl_->Mutate(ctx, place, "logs:DeleteRetentionPolicy", GroupResource(place), {},
                               [](LogGroup& g) -> Status {
                                 g.retention_in_days.reset();
                                 return {};
                               });
  if (!updated) return Fail(updated.error());
  return {};
}

Result<int64_t> Service::SweepRetention() {
  int64_t deleted = 0;
  int64_t now = impl_->NowMs();
  std::string start_after;
  for (;;) {
    // The next account/region with any logs key, then its groups; then past it.
    auto next = BERTH_TRY(impl_->kv.Range("logs/", start_after, 1));
    if (next.kvs.empty()) break;
    const std::string& key = next.kvs.front().key;
    size_t a = key.find('/', 5);
    size_t r = a == std::string::npos ? a : key.find('/', a + 1);
    if (r == std::string::npos) {
      start_after = key;
      continue;
    }
    std::string account = key.substr(5, a - 5);
    std::string region = key.substr(a + 1, r - a - 1);
    auto groups = BERTH_TRY(impl_->kv.Range(GroupPrefix(account, region)));
    for (const auto& item : groups.kvs) {
      uint64_t generation = impl_->groups.Generation();
      auto entry = impl_->Parse(item, generation);
      if (!entry || !(*entry)->group.retention_in_days) continue;
      const LogGroup& g = (*entry)->group;
      auto n = impl_->events.ExpireBefore(GroupRef{account, region, g.name},
                                          now - *g.retention_in_days * kDayMs, (*entry)->key);
      if (n) deleted += *n;
    }
    start_after = key.substr(0, r + 1) + "\xff";
  }
  return deleted;
}

// ---------------------------------------------------------------------------
// Streams.

Status Service::CreateLogStream(const aws::RequestContext& ctx, const std::string& group,
                                const std::string& stream) {
  GroupPlace place = BERTH_TRY(impl_->StreamInCallerAccount(ctx, group, stream));
  std::string resource = StreamArn(place.region, place.account, group, stream);
  std::string key = StreamKey(place.account, place.region, group, stream);
  bool fresh = false;
  auto done = store::UntilCommitted<bool>(
      [&]() -> Result<std::optional<bool>> {
        LoadedGroup loaded =
            BERTH_TRY(impl_->Open(ctx, place, "logs:CreateLogStream", resource, {}, fresh));
        fresh = true;
        store::Txn txn;
        txn.compares.push_back({loaded.key, loaded.mod_revision});  // not deleted meanwhile
        txn.compares.push_back({key, 0});
        txn.ops.push_back(store::Op::Put(key, EncodeStream(StreamRecord{impl_->NowMs()})));
        auto writing = impl_->streams.Write(key);
        if (BERTH_TRY(impl_->kv.Commit(txn)).succeeded) return true;
        if (BERTH_TRY(impl_->kv.Get(key))) {
          return Fail("ResourceAlreadyExistsException", "The specified log stream already exists");
        }
        return std::nullopt;  // the group changed: read it again
      },
      {.what = "log group"});
  if (!done) return Fail(done.error());
  return {};
}

Status Service::DeleteLogStream(const aws::RequestContext& ctx, const std::string& group,
                                const std::string& stream) {
  GroupPlace place = BERTH_TRY(impl_->StreamInCallerAccount(ctx, group, stream));
  BERTH_CHECK(impl_->Open(ctx, place, "logs:DeleteLogStream",
                          StreamArn(place.region, place.account, group, stream)));
  std::string key = StreamKey(place.account, place.region, group, stream);
  int64_t revision = BERTH_TRY(impl_->StreamRevision(place, stream, true));
  if (revision == 0) return StreamNotFound();
  store::Txn txn;
  txn.compares.push_back({key, revision});
  txn.ops.push_back(store::Op::Delete(key));
  for (auto& op :
       impl_->events.DeleteStreamOps(StreamRef{place.account, place.region, group, stream})) {
    txn.ops.push_back(std::move(op));
  }
  auto writing = impl_->streams.Write(key);
  if (!BERTH_TRY(impl_->kv.Commit(txn)).succeeded) return StreamNotFound();
  return {};
}

Result<LogStreamPage> Service::DescribeLogStreams(const aws::RequestContext& ctx,
                                                  const DescribeLogStreamsRequest& request) {
  Validation v;
  if (!request.prefix.empty()) v.StreamName("logStreamNamePrefix", request.prefix);
  v.Enum("orderBy", request.order_by, {"LogStreamName", "LastEventTime"});
  BERTH_CHECK(v.Done());
  size_t limit = BERTH_TRY(PageLimit(request.limit, 50, 50));
  bool by_time = request.order_by == "LastEventTime";
  if (by_time && !request.prefix.empty()) {
    return Fail("InvalidParameterException",
                "Cannot order by LastEventTime with a logStreamNamePrefix.");
  }
  GroupPlace place = BERTH_TRY(impl_->Resolve(ctx, request.group));
  std::string after;
  if (!request.next_token.empty()) after = BERTH_TRY(DecodeKeyToken(request.next_token));
  BERTH_CHECK(impl_->Open(ctx, place, "logs:DescribeLogStreams", GroupResource(place)));

  auto streams = BERTH_TRY(impl_->Streams(place, request.prefix));
  auto sort_key = [by_time](const LogStream& s) {
    if (!by_time) return s.name;
    return fmt::format("{:020}\x1f{}", s.summary.last_event_timestamp.value_or(0), s.name);
  };
  std::vector<std::pair<std::string, LogStream*>> sorted;
  for (auto& s : streams) sorted.emplace_back(sort_key(s), &s);
  bool desc = request.descending;
  std::sort(sorted.begin(), sorted.end(), [desc](const auto& a, const auto& b) {
    return desc ? a.first > b.first : a.first < b.first;
  });
  LogStreamPage page;
  auto it = sorted.begin();
  if (!after.empty()) {
    it = std::find_if(sorted.begin(), sorted.end(),
                      [&](const auto& s) { return desc ? s.first < after : s.first > after; });
  }
  std::string last;
  for (; it != sorted.end() && page.streams.size() < limit; ++it) {
    last = it->first;
    page.streams.push_back(std::move(*it->second));
  }
  if (it != sorted.end()) page.next_token = EncodeKeyToken(last);
  return page;
}

// ---------------------------------------------------------------------------
// Tags.

Status Service::TagResource(const aws::RequestContext& ctx, const std::string& arn,
                            const std::map<std::string, std::string>& tags) {
  GroupPlace place = BERTH_TRY(PlaceOfArn(arn));
  Validation v;
  if (tags.empty()) v.Fail("tags", "{}", "have length greater than or equal to 1");
  v.Tags("tags", tags);
  BERTH_CHECK(v.Done());
  auto updated = impl_->Mutate(ctx, place, "logs:TagResource", TagResourceName(place),
                               RequestTagKeys(tags), [&](LogGroup& g) -> Status {
                                 for (const auto& [k, val] : tags) g.tags[k] = val;
                                 if (g.tags.size() > 50) {
                                   return Fail("TooManyTagsException",
                                               "A resource can have no more than 50 tags.");
                                 }
                                 return {};
                               });
  if (!updated) return Fail(updated.error());
  return {};
}

Status Service::UntagResource(const aws::RequestContext& ctx, const std::string& arn,
                              const std::vector<std::string>& keys) {
  GroupPlace place = BERTH_TRY(PlaceOfArn(arn));
  Validation v;
  v.TagKeys("tagKeys", keys);
  BERTH_CHECK(v.Done());
  iam::ContextMap extra;
  extra["aws:TagKeys"] = keys;
  auto updated = impl_->Mutate(ctx, place, "logs:UntagResource", TagResourceName(place), extra,
                               [&](LogGroup& g) -> Status {
                                 for (const auto& k : keys) g.tags.erase(k);
                                 return {};
                               });
  if (!updated) return Fail(updated.error());
  return {};
}

Result<std::map<std::string, std::string>> Service::ListTagsForResource(
    const aws::RequestContext& ctx, const std::string& arn) {
  GroupPlace place = BERTH_TRY(PlaceOfArn(arn));
  LoadedGroup loaded =
      BERTH_TRY(impl_->Open(ctx, place, "logs:ListTagsForResource", TagResourceName(place)));
  return loaded.group().tags;
}

// ---------------------------------------------------------------------------
// Resource policies.

Result<ResourcePolicy> Service::PutResourcePolicy(const aws::RequestContext& ctx,
                                                  const std::string& name,
                                                  const std::string& document) {
  Validation v;
  if (name.empty()) v.Fail("policyName", std::nullopt, "not be null");
  v.Length("policyDocument", document, 1, 5120);
  BERTH_CHECK(v.Done());
  BERTH_CHECK(impl_->access.Authorize(ctx, "logs:PutResourcePolicy", "*"));
  auto parsed = iam::ParsePolicy(document, iam::PolicyType::kResource);
  if (!parsed) return Fail("InvalidParameterException", parsed.error().message);
  std::string key = PolicyKey(ctx.caller.account, ctx.region, name);
  ResourcePolicy policy{name, document, impl_->NowMs()};
  return store::UntilCommitted<ResourcePolicy>(
      impl_->locks, PolicyPrefix(ctx.caller.account, ctx.region),
      [&]() -> Result<std::optional<ResourcePolicy>> {
        auto existing = BERTH_TRY(impl_->kv.Range(PolicyPrefix(ctx.caller.account, ctx.region)));
        int64_t revision = 0;
        for (const auto& item : existing.kvs) {
          if (item.key == key) revision = item.mod_revision;
        }
        if (revision == 0 && existing.kvs.size() >= kMaxResourcePolicies) {
          return Fail("LimitExceededException", "Resource limit exceeded.");
        }
        store::Txn txn;
        txn.compares.push_back({key, revision});
        txn.ops.push_back(store::Op::Put(key, EncodePolicy(policy)));
        if (BERTH_TRY(impl_->kv.Commit(txn)).succeeded) return policy;
        return std::nullopt;
      },
      {.what = "resource policy"});
}

Result<std::vector<ResourcePolicy>> Service::DescribeResourcePolicies(
    const aws::RequestContext& ctx) {
  BERTH_CHECK(impl_->access.Authorize(ctx, "logs:DescribeResourcePolicies", "*"));
  auto range = BERTH_TRY(impl_->kv.Range(PolicyPrefix(ctx.caller.account, ctx.region)));
  std::vector<ResourcePolicy> out;
  for (const auto& item : range.kvs) out.push_back(BERTH_TRY(DecodePolicy(item.value)));
  return out;
}

Status Service::DeleteResourcePolicy(const aws::RequestContext& ctx, const std::string& name) {
  BERTH_CHECK(impl_->access.Authorize(ctx, "logs:DeleteResourcePolicy", "*"));
  std::string key = PolicyKey(ctx.caller.account, ctx.region, name);
  auto existing = BERTH_TRY(impl_->kv.Get(key));
  if (name.empty() || !existing) {
    return Fail("ResourceNotFoundException",
                fmt::format("Policy with name [{}] does not exist", name));
  }
  store::Txn txn;
  txn.compares.push_back({key, existing->mod_revision});
  txn.ops.push_back(store::Op::Delete(key));
  BERTH_CHECK(impl_->kv.Commit(txn));
  return {};
}

}  // namespace berth::logs
