#include "secrets/service.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "common/arn.h"
#include "secrets/envelope.h"
#include "secrets/list_filter.h"
#include "secrets/password.h"
#include "secrets/public_policy.h"
#include "secrets/record.h"
#include "secrets/resolution.h"
#include "secrets/stages.h"
#include "secrets/validation.h"
#include "store/retry.h"

namespace berth::secrets {

// A secret record as parsed from one revision of its store key, with the
// resource side of every authorization on it (the secret's account, resource
// policy and condition keys), built once per revision. Shared by the requests
// that read that revision; only `sealed` grows after it is cached.
struct Service::Parsed {
  Secret secret;
  int64_t mod_revision = 0;  // the record's
  iam::ResourceContext resource;
  std::string via_service;  // secretsmanager.<region>.amazonaws.com

  // The sealed values of its versions as read under this revision, by version
  // id. A value record is only ever written in the same transaction as its
  // secret record (a new version, a re-encryption, a deletion), so values are
  // exactly as fresh as the record they are kept with.
  mutable std::mutex mu;
  mutable std::unordered_map<std::string, std::shared_ptr<const SealedValue>> sealed;
};

// A secret as read from the store, with what a conditional write needs.
struct Service::Loaded {
  std::shared_ptr<const Parsed> parsed;  // never null
  std::string key;                       // its store key
  int64_t mod_revision = 0;              // the revision the write is conditioned on

  const Secret& secret() const { return parsed->secret; }
};

// How an operation opens a secret.
struct Service::Access {
  bool allow_deleted = false;      // false: InvalidRequestException when scheduled for deletion
  iam::ContextMap condition_keys;  // the operation's own
  // Read the record from the store, not the watched cache: for writes, whose
  // commit is conditioned on the revision read.
  bool fresh = false;
};

namespace {

std::unexpected<Error> MarkedForDeletion() {
  return Fail("InvalidRequestException",
              "You can't perform this operation on the secret because it was marked for deletion.");
}

TimePoint Day(TimePoint t) { return std::chrono::floor<std::chrono::days>(t); }

std::string SortKey(const Secret& s) {
  return fmt::format(
      "{:020}/{}",
      std::chrono::duration_cast<std::chrono::milliseconds>(s.created.time_since_epoch()).count(),
      s.name);
}

}  // namespace

Service::Service(store::Kv& kv, kms::Service& kms, iam::AccessControl& access, Ids& ids,
                 const Clock& clock)
    : kv_(kv),
      kms_(kms),
      access_(access),
      ids_(ids),
      clock_(clock),
      secrets_(kv, "secrets/", SecretKeyOf) {}

Service::~Service() = default;

// ---------------------------------------------------------------------------
// Finding, authorizing and writing secrets.

Result<std::shared_ptr<const Service::Parsed>> Service::ParseRecord(const store::KeyValue& kv,
                                                                    uint64_t generation) {
  if (auto hit = secrets_.FindAt(kv.key, kv.mod_revision)) return hit;
  auto parsed = std::make_shared<Parsed>();
  parsed->secret = BERTH_TRY(DecodeSecret(kv.value));
  parsed->mod_revision = kv.mod_revision;
  const Secret& s = parsed->secret;
  iam::ResourceContext& rc = parsed->resource;
  rc.account = s.account;
  rc.policy =
      s.bound_policy.empty() ? std::string_view(s.policy) : std::string_view(s.bound_policy);
  rc.condition_keys["secretsmanager:SecretId"] = {s.arn};
  for (const auto& t : s.tags) {
    rc.condition_keys["secretsmanager:ResourceTag/" + t.key] = {t.value};
    rc.condition_keys["aws:ResourceTag/" + t.key] = {t.value};
  }
  parsed->via_service = ViaService(s.region);
  secrets_.Put(kv.key, kv.mod_revision, generation, parsed);
  return std::shared_ptr<const Parsed>(std::move(parsed));
}

Result<std::shared_ptr<const SealedValue>> Service::ReadSealed(const Parsed& parsed,
                                                               const std::string& version_id) {
  {
    std::lock_guard lock(parsed.mu);
    if (auto it = parsed.sealed.find(version_id); it != parsed.sealed.end()) return it->second;
  }
  const Secret& s = parsed.secret;
  auto kv = BERTH_TRY(kv_.Get(ValueKey(s.account, s.region, s.name, version_id)));
  if (!kv) return std::shared_ptr<const SealedValue>();
  auto sealed = std::make_shared<const SealedValue>(BERTH_TRY(DecodeSealedValue(kv->value)));
  // Written after the record was read (a racing writer): not this revision's.
  if (kv->mod_revision <= parsed.mod_revision) {
    std::lock_guard lock(parsed.mu);
    parsed.sealed.emplace(version_id, sealed);
  }
  return std::shared_ptr<const SealedValue>(std::move(sealed));
}

Result<std::optional<Service::Loaded>> Service::Load(const std::string& account,
                                                     const std::string& region,
                                                     const std::string& name, bool fresh) {
  std::string key = SecretKey(account, region, name);
  Loaded loaded;
  if (!fresh) loaded.parsed = secrets_.Find(key, loaded.mod_revision);
  if (loaded.parsed) {
    loaded.key = std::move(key);
  } else {
    uint64_t generation = secrets_.Generation();
    auto kv = BERTH_TRY(kv_.Get(key));
    if (!kv) {
      secrets_.Drop(key);
      return std::optional<Loaded>();
    }
    loaded = Loaded{BERTH_TRY(ParseRecord(*kv, generation)), std::move(key), kv->mod_revision};
  }
  const Secret& s = loaded.secret();
  if (s.deletion_date && *s.deletion_date <= clock_.Now()) {
    // Its recovery window has passed: it is gone, whoever notices first purges it.
    store::Txn purge;
    purge.compares.push_back({loaded.key, loaded.mod_revision});
    purge.ops.push_back(store::Op::Delete(loaded.key));
    purge.ops.push_back(store::Op::DeletePrefix(ValuePrefix(account, region, name)));
    auto writing = secrets_.Write(loaded.key);
    BERTH_CHECK(kv_.Commit(purge));
    return std::optional<Loaded>();
  }
  return std::optional<Loaded>(std::move(loaded));
}

Result<std::optional<Service::Loaded>> Service::Resolve(const aws::RequestContext& ctx,
                                                        const std::string& secret_id, bool fresh) {
  auto candidates = BERTH_TRY(ReadSecretId(ctx.caller.account, ctx.region, secret_id));
  for (const auto& c : candidates) {
    auto loaded = BERTH_TRY(Load(c.where.account, c.where.region, c.where.name, fresh));
    if (loaded && (!c.must_match_arn || loaded->secret().arn == secret_id)) return loaded;
  }
  return std::optional<Loaded>();
}

Status Service::Authorize(const aws::RequestContext& ctx, const std::string& action,
                          const Parsed& parsed, const iam::ContextMap& extra) {
  if (extra.empty()) return access_.Authorize(ctx, action, parsed.secret.arn, parsed.resource);
  iam::ResourceContext rc;
  rc.account = parsed.resource.account;
  rc.policy = parsed.resource.policy;
  rc.is_key_policy = parsed.resource.is_key_policy;
  rc.condition_keys = extra;  // the operation's keys first, then the secret's
  rc.condition_keys.SetBase(&parsed.resource.condition_keys);
  return access_.Authorize(ctx, action, parsed.secret.arn, rc);
}

Result<Service::Loaded> Service::Open(const aws::RequestContext& ctx, const std::string& secret_id,
                                      const std::string& action, const Access& access) {
  auto loaded = BERTH_TRY(Resolve(ctx, secret_id, access.fresh));
  if (!loaded) {
    // In another account the caller learns only what the (absent) resource
    // policy implies: not whether the secret exists.
    if (std::string account = ForeignAccount(ctx.caller.account, secret_id); !account.empty()) {
      iam::ResourceContext rc;
      rc.account = std::move(account);
      BERTH_CHECK(access_.Authorize(ctx, action, secret_id, rc));
    }
    return SecretNotFound();
  }
  BERTH_CHECK(Authorize(ctx, action, *loaded->parsed, access.condition_keys));
  if (!access.allow_deleted && loaded->secret().deleted) return MarkedForDeletion();
  return std::move(*loaded);
}

Result<bool> Service::Commit(const std::string& key, int64_t mod_revision, const Secret& updated,
                             std::vector<store::Op> ops) {
  store::Txn txn;
  txn.compares.push_back({key, mod_revision});
  txn.ops.push_back(store::Op::Put(key, EncodeSecret(updated)));
  for (auto& op : ops) txn.ops.push_back(std::move(op));
  auto writing = secrets_.Write(key);
  auto result = BERTH_TRY(kv_.Commit(txn));
  return result.succeeded;
}

template <class T, class F>
Result<T> Service::Write(const std::string& lock_key, F&& attempt) {
  return store::UntilCommitted<T>(locks_, lock_key, std::forward<F>(attempt), {.what = "secret"});
}

std::string Service::LockKey(const aws::RequestContext& ctx, const std::string& secret_id) {
  auto loaded = Resolve(ctx, secret_id, /*fresh=*/false);
  return loaded && *loaded ? (*loaded)->key : secret_id;
}

Result<Secret> Service::Mutate(const aws::RequestContext& ctx, const std::string& secret_id,
                               const std::string& action, const Access& access,
                               const std::function<Status(Secret&)>& change) {
  Access fresh = access;
  fresh.fresh = true;
  return Write<Secret>(LockKey(ctx, secret_id), [&]() -> Result<std::optional<Secret>> {
    Loaded loaded = BERTH_TRY(Open(ctx, secret_id, action, fresh));
    Secret updated = loaded.secret();
    BERTH_CHECK(change(updated));
    updated.last_changed = clock_.Now();
    if (BERTH_TRY(Commit(loaded.key, loaded.mod_revision, updated, {}))) return updated;
    return std::nullopt;  // lost to a concurrent writer
  });
}

// ---------------------------------------------------------------------------
// Values.

Result<SecretValue> Service::OpenVersion(const aws::RequestContext& ctx, const Parsed& parsed,
                                         const std::string& version_id) {
  const Secret& s = parsed.secret;
  auto sealed = BERTH_TRY(ReadSealed(parsed, version_id));
  if (!sealed) {
    return InternalFailure(fmt::format("version {} of {} has no value", version_id, s.arn));
  }
  return OpenValue(kms_, ctx, s, parsed.via_service, version_id, *sealed);
}

Status Service::RequireSameValue(const aws::RequestContext& ctx, const Parsed& parsed,
                                 const std::string& version_id, const SecretValue& value) {
  auto old = BERTH_TRY(OpenVersion(ctx, parsed, version_id));
  bool same = old.type == value.type && old.data == value.data;
  Wipe(old.data);
  if (same) return {};
  return Fail("ResourceExistsException",
              fmt::format("You can't use ClientRequestToken {} because that value is already in "
                          "use for a version of secret {}.",
                          version_id, parsed.secret.arn));
}

Result<SecretVersionValue> Service::ReadVersion(const aws::RequestContext& ctx,
                                                const Loaded& loaded, const std::string& version_id,
                                                const std::string& version_stage) {
  const Secret& s = loaded.secret();
  const Version* v = nullptr;
  if (!version_id.empty()) {
    v = s.FindVersion(version_id);
    if (v == nullptr) {
      return Fail("ResourceNotFoundException",
                  fmt::format("Secrets Manager can't find the specified secret value for "
                              "VersionId: {}",
                              version_id));
    }
    if (!version_stage.empty() && !Contains(v->stages, version_stage)) {
      return Fail("InvalidRequestException",
                  "You provided a VersionStage that is not associated to the provided VersionId.");
    }
  } else {
    std::string stage = version_stage.empty() ? kCurrent : version_stage;
    v = s.WithStage(stage);
    if (v == nullptr) {
      return Fail("ResourceNotFoundException",
                  fmt::format("Secrets Manager can't find the specified secret value for staging "
                              "label: {}",
                              stage));
    }
  }
  SecretVersionValue out{s.arn,     s.name,     v->id,
                         v->stages, v->created, BERTH_TRY(OpenVersion(ctx, *loaded.parsed, v->id))};

  // LastAccessedDate, at AWS's day resolution: at most one write a day (the
  // write makes a new revision of the record, parsed once by the next read).
  TimePoint today = Day(clock_.Now());
  if (s.last_accessed != today || v->last_accessed != today) {
    Secret touched = s;
    touched.last_accessed = today;
    for (auto& tv : touched.versions) {
      if (tv.id == v->id) tv.last_accessed = today;
    }
    // Best effort: a racing writer wins.
    (void)Commit(loaded.key, loaded.mod_revision, touched, {});
  }
  return out;
}

Result<WriteResult> Service::CreateSecret(const aws::RequestContext& ctx,
                                          const CreateSecretRequest& req) {
  BERTH_CHECK(ValidateName(req.name));
  BERTH_CHECK(ValidateToken(req.client_request_token));
  BERTH_CHECK(CheckLength("description", req.description, 0, kMaxDescriptionLength));
  BERTH_CHECK(CheckLength("kmsKeyId", req.kms_key_id, 0, 2048));
  BERTH_CHECK(ValidateTags(req.tags));
  BERTH_CHECK(CheckTagCount(req.tags.size()));
  auto value = BERTH_TRY(ToValue(req.value, /*required=*/false));
  std::string token = req.client_request_token.empty() ? ids_.Uuid() : req.client_request_token;

  iam::ContextMap keys = {{"secretsmanager:Name", {req.name}}};
  if (!req.kms_key_id.empty()) keys["secretsmanager:KmsKeyId"] = {req.kms_key_id};
  if (!req.description.empty()) keys["secretsmanager:Description"] = {req.description};
  std::vector<std::string> tag_keys;
  for (const auto& t : req.tags) {
    keys["aws:RequestTag/" + t.key] = {t.value};
    tag_keys.push_back(t.key);
  }
  if (!tag_keys.empty()) keys["aws:TagKeys"] = tag_keys;
  auto authorize = [&](const std::string& arn) {
    iam::ResourceContext rc;  // identity policies only: the secret has no policy yet
    rc.account = ctx.caller.account;
    rc.condition_keys = keys;
    return access_.Authorize(ctx, "secretsmanager:CreateSecret", arn, rc);
  };

  std::string key = SecretKey(ctx.caller.account, ctx.region, req.name);
  return Write<WriteResult>(key, [&]() -> Result<std::optional<WriteResult>> {
    auto existing = BERTH_TRY(Load(ctx.caller.account, ctx.region, req.name, /*fresh=*/true));
    if (existing) {
      const Secret& e = existing->secret();
      BERTH_CHECK(authorize(e.arn));
      if (e.deleted) {
        return Fail("InvalidRequestException",
                    "You can't create this secret because a secret with this name is already "
                    "scheduled for deletion.");
      }
      // A retry of the request that created it (or wrote that version)?
      if (const Version* v = e.FindVersion(token); v != nullptr && value) {
        BERTH_CHECK(RequireSameValue(ctx, *existing->parsed, v->id, *value));
        return WriteResult{e.arn, e.name, v->id, v->stages};
      }
      if (e.create_token == token && !value && e.versions.empty()) {
        return WriteResult{e.arn, e.name, "", {}};
      }
      return Fail(
          "ResourceExistsException",
          fmt::format("The operation failed because the secret {} already exists.", req.name));
    }

    TimePoint now = clock_.Now();
    Secret s;
    s.account = ctx.caller.account;
    s.region = ctx.region;
    s.name = req.name;
    s.arn = MakeSecretArn(s.account, s.region, s.name, ids_.Letters(6));
    s.description = req.description;
    s.kms_key_id = req.kms_key_id;
    s.created = s.last_changed = now;
    s.create_token = token;
    s.tags = req.tags;
    BERTH_CHECK(authorize(s.arn));

    if (IsManaged(s.kms_key_id)) {
      // The owner's AWS managed key, fixed now so that every later version,
      // whoever writes it, is under this account's key.
      s.key_arn = BERTH_TRY(ManagedKeyArn(kms_, ctx, s.region));
    }
    std::vector<store::Op> ops;
    WriteResult out{s.arn, s.name, "", {}};
    if (value) {
      SealedValue sealed = BERTH_TRY(SealValue(kms_, ctx, s, token, *value));
      s.key_arn = sealed.key_arn;
      s.versions.push_back(Version{token, {kCurrent}, now, std::nullopt, sealed.key_arn});
      ops.push_back(
          store::Op::Put(ValueKey(s.account, s.region, s.name, token), EncodeSealedValue(sealed)));
      out.version_id = token;
      out.version_stages = {kCurrent};
    }
    if (BERTH_TRY(Commit(SecretKey(s.account, s.region, s.name), 0, s, std::move(ops)))) {
      return out;
    }
    return std::nullopt;  // lost to a concurrent writer
  });
}

Result<SecretVersionValue> Service::GetSecretValue(const aws::RequestContext& ctx,
                                                   const GetSecretValueRequest& req) {
  Access access;
  if (!req.version_id.empty()) {
    BERTH_CHECK(CheckLength("versionId", req.version_id, 32, 64));
    access.condition_keys["secretsmanager:VersionId"] = {req.version_id};
  }
  if (!req.version_stage.empty()) {
    BERTH_CHECK(CheckLength("versionStage", req.version_stage, 1, 256));
    access.condition_keys["secretsmanager:VersionStage"] = {req.version_stage};
  }
  Loaded loaded = BERTH_TRY(Open(ctx, req.secret_id, "secretsmanager:GetSecretValue", access));
  return ReadVersion(ctx, loaded, req.version_id, req.version_stage);
}

Result<WriteResult> Service::PutSecretValue(const aws::RequestContext& ctx,
                                            const PutSecretValueRequest& req) {
  return WriteVersion(ctx, req.secret_id, "secretsmanager:PutSecretValue", req.client_request_token,
                      req.value, req.version_stages, std::nullopt, std::nullopt);
}

Result<WriteResult> Service::UpdateSecret(const aws::RequestContext& ctx,
                                          const UpdateSecretRequest& req) {
  return WriteVersion(ctx, req.secret_id, "secretsmanager:UpdateSecret", req.client_request_token,
                      req.value, std::nullopt, req.description, req.kms_key_id);
}

Result<WriteResult> Service::WriteVersion(const aws::RequestContext& ctx,
                                          const std::string& secret_id, const std::string& action,
                                          const std::string& token_in, const ValueInput& value_in,
                                          const std::optional<std::vector<std::string>>& stages,
                                          const std::optional<std::string>& description,
                                          const std::optional<std::string>& kms_key_id) {
  BERTH_CHECK(ValidateToken(token_in));
  if (stages) BERTH_CHECK(ValidateStages(*stages));
  if (description) BERTH_CHECK(CheckLength("description", *description, 0, kMaxDescriptionLength));
  if (kms_key_id) BERTH_CHECK(CheckLength("kmsKeyId", *kms_key_id, 0, 2048));
  bool is_put = action == "secretsmanager:PutSecretValue";
  auto value = BERTH_TRY(ToValue(value_in, /*required=*/is_put));
  std::string token = token_in.empty() ? ids_.Uuid() : token_in;

  Access access{.fresh = true};
  if (stages) access.condition_keys["secretsmanager:VersionStage"] = *stages;
  if (kms_key_id) access.condition_keys["secretsmanager:KmsKeyId"] = {*kms_key_id};
  if (description) access.condition_keys["secretsmanager:Description"] = {*description};

  return Write<WriteResult>(LockKey(ctx, secret_id), [&]() -> Result<std::optional<WriteResult>> {
    Loaded loaded = BERTH_TRY(Open(ctx, secret_id, action, access));
    Secret s = loaded.secret();
    TimePoint now = clock_.Now();
    WriteResult out{s.arn, s.name, "", {}};

    if (value) {
      if (const Version* existing = s.FindVersion(token)) {
        // The same ClientRequestToken again: a retry when the value is the same.
        BERTH_CHECK(RequireSameValue(ctx, *loaded.parsed, existing->id, *value));
        return WriteResult{s.arn, s.name, existing->id, existing->stages};
      }
    }

    bool key_changed = false;
    if (description) s.description = *description;
    if (kms_key_id && *kms_key_id != s.kms_key_id) {
      key_changed = true;
      s.kms_key_id = *kms_key_id;
      s.key_arn.clear();
      if (IsManaged(s.kms_key_id)) {
        if (ctx.caller.account != s.account) {
          return Fail("InvalidRequestException",
                      "You can't use the AWS managed key of another account's secret.");
        }
        s.key_arn = BERTH_TRY(ManagedKeyArn(kms_, ctx, s.region));
      }
    }

    std::vector<store::Op> ops;
    if (value) {
      SealedValue sealed = BERTH_TRY(SealValue(kms_, ctx, s, token, *value));
      s.key_arn = sealed.key_arn;
      s.versions.push_back(Version{token, {}, now, std::nullopt, sealed.key_arn});
      LabelNewVersion(s, token, stages.value_or(std::vector<std::string>{kCurrent}));
      ops.push_back(
          store::Op::Put(ValueKey(s.account, s.region, s.name, token), EncodeSealedValue(sealed)));
      for (const auto& id : DropOldVersions(s)) {
        ops.push_back(store::Op::Delete(ValueKey(s.account, s.region, s.name, id)));
      }
      out.version_id = token;
      out.version_stages = s.FindVersion(token)->stages;
    }

    if (key_changed) {
      // Re-encrypt the labelled versions under the new key when the caller
      // can read them and use the new key; otherwise they keep their key.
      for (auto& v : s.versions) {
        if (v.id == token || v.stages.empty()) continue;
        if (!s.key_arn.empty() && v.key_arn == s.key_arn) continue;
        auto stored = BERTH_TRY(kv_.Get(ValueKey(s.account, s.region, s.name, v.id)));
        if (!stored) continue;
        auto old_sealed = DecodeSealedValue(stored->value);
        if (!old_sealed) continue;
        auto plain = OpenValue(kms_, ctx, s, loaded.parsed->via_service, v.id, *old_sealed);
        if (!plain) continue;
        auto resealed = SealValue(kms_, ctx, s, v.id, *plain);
        Wipe(plain->data);
        if (!resealed) break;  // the new key is not usable by the caller
        s.key_arn = resealed->key_arn;
        v.key_arn = resealed->key_arn;
        ops.push_back(store::Op::Put(ValueKey(s.account, s.region, s.name, v.id),
                                     EncodeSealedValue(*resealed)));
      }
    }

    s.last_changed = now;
    if (BERTH_TRY(Commit(loaded.key, loaded.mod_revision, s, std::move(ops)))) return out;
    return std::nullopt;  // lost to a concurrent writer
  });
}

Result<BatchGetResult> Service::BatchGetSecretValue(const aws::RequestContext& ctx,
                                                    const BatchGetRequest& req) {
  if (req.secret_ids.empty() == req.filters.empty()) {
    return Fail("InvalidParameterException",
                "You must specify either SecretIdList or Filters, but not both.");
  }
  if (!req.secret_ids.empty() && (req.max_results || !req.next_token.empty())) {
    return Fail("InvalidParameterException",
                "MaxResults and NextToken can only be used with Filters.");
  }
  if (req.secret_ids.size() > 20) {
    return Invalid("secretIdList", std::nullopt, "have length less than or equal to 20");
  }
  BERTH_CHECK(access_.Authorize(ctx, "secretsmanager:BatchGetSecretValue", "*"));

  BatchGetResult out;
  std::vector<std::string> ids = req.secret_ids;
  if (!req.filters.empty()) {
    BERTH_CHECK(ValidateFilters(req.filters));
    size_t limit = BERTH_TRY(PageSize(req.max_results, 20, 20));
    ListSecretsRequest list;  // authorizes secretsmanager:ListSecrets
    list.filters = req.filters;
    list.max_results = static_cast<int>(limit);
    list.next_token = req.next_token;
    SecretPage page = BERTH_TRY(ListSecrets(ctx, list));
    for (const auto& s : page.secrets) ids.push_back(s.arn);
    out.next_token = page.next_token;
  }
  for (const auto& id : ids) {
    auto loaded = Open(ctx, id, "secretsmanager:GetSecretValue", Access{});
    Result<SecretVersionValue> value = loaded ? ReadVersion(ctx, *loaded, "", "")
                                              : Result<SecretVersionValue>(Fail(loaded.error()));
    if (value) {
      out.values.push_back(std::move(*value));
    } else {
      out.errors.push_back(BatchError{id, value.error().code, value.error().message});
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Metadata.

Result<Secret> Service::UpdateSecretVersionStage(const aws::RequestContext& ctx,
                                                 const std::string& secret_id,
                                                 const std::string& stage,
                                                 const std::string& remove_from,
                                                 const std::string& move_to) {
  BERTH_CHECK(CheckLength("versionStage", stage, 1, 256));
  if (!remove_from.empty()) BERTH_CHECK(CheckLength("removeFromVersionId", remove_from, 32, 64));
  if (!move_to.empty()) BERTH_CHECK(CheckLength("moveToVersionId", move_to, 32, 64));
  if (remove_from.empty() && move_to.empty()) {
    return Fail("InvalidParameterException",
                "You must specify MoveToVersionId, RemoveFromVersionId or both.");
  }
  Access access;
  access.condition_keys["secretsmanager:VersionStage"] = {stage};
  return Mutate(ctx, secret_id, "secretsmanager:UpdateSecretVersionStage", access,
                [&](Secret& s) { return UpdateStage(s, stage, remove_from, move_to); });
}

Result<Secret> Service::DescribeSecret(const aws::RequestContext& ctx,
                                       const std::string& secret_id) {
  Access access{.allow_deleted = true};
  Loaded loaded = BERTH_TRY(Open(ctx, secret_id, "secretsmanager:DescribeSecret", access));
  return loaded.secret();
}

Result<SecretPage> Service::ListSecrets(const aws::RequestContext& ctx,
                                        const ListSecretsRequest& req) {
  BERTH_CHECK(access_.Authorize(ctx, "secretsmanager:ListSecrets", "*"));
  size_t limit = BERTH_TRY(PageSize(req.max_results, 100, 100));
  if (!req.sort_order.empty() && req.sort_order != "asc" && req.sort_order != "desc") {
    return Invalid("sortOrder", req.sort_order, "satisfy enum value set: [asc, desc]");
  }
  BERTH_CHECK(ValidateFilters(req.filters));
  std::string after;
  if (!req.next_token.empty()) after = BERTH_TRY(ParsePageToken(req.next_token));

  std::vector<std::pair<std::string, Secret>> matched;
  std::string prefix = SecretPrefix(ctx.caller.account, ctx.region);
  std::string start_after;
  TimePoint now = clock_.Now();
  for (;;) {
    uint64_t generation = secrets_.Generation();
    auto range = BERTH_TRY(kv_.Range(prefix, start_after, 500));
    for (const auto& kv : range.kvs) {
      auto parsed = BERTH_TRY(ParseRecord(kv, generation));
      const Secret& s = parsed->secret;
      if (s.deletion_date && *s.deletion_date <= now) continue;  // gone; purged when next opened
      if (s.deleted && !req.include_planned_deletion) continue;
      if (!MatchesFilters(s, req.filters)) continue;
      matched.emplace_back(SortKey(s), s);
    }
    if (!range.more || range.kvs.empty()) break;
    start_after = range.kvs.back().key;
  }
  bool desc = req.sort_order == "desc";
  std::sort(matched.begin(), matched.end(), [desc](const auto& a, const auto& b) {
    return desc ? a.first > b.first : a.first < b.first;
  });
  SecretPage page;
  auto it = matched.begin();
  if (!after.empty()) {
    it = std::find_if(matched.begin(), matched.end(),
                      [&](const auto& m) { return desc ? m.first < after : m.first > after; });
  }
  for (; it != matched.end() && page.secrets.size() < limit; ++it) {
    page.secrets.push_back(it->second);
  }
  if (it != matched.end() && !page.secrets.empty()) {
    page.next_token = PageToken(SortKey(page.secrets.back()));
  }
  return page;
}

Result<VersionPage> Service::ListSecretVersionIds(const aws::RequestContext& ctx,
                                                  const ListVersionsRequest& req) {
  size_t limit = BERTH_TRY(PageSize(req.max_results, 100, 100));
  std::string after;
  if (!req.next_token.empty()) after = BERTH_TRY(ParsePageToken(req.next_token));
  Access access{.allow_deleted = true};
  Loaded loaded =
      BERTH_TRY(Open(ctx, req.secret_id, "secretsmanager:ListSecretVersionIds", access));
  const Secret& s = loaded.secret();
  VersionPage page{s.arn, s.name, {}, ""};
  std::vector<const Version*> listed;
  for (auto it = s.versions.rbegin(); it != s.versions.rend(); ++it) {
    if (req.include_deprecated || !it->stages.empty()) listed.push_back(&*it);
  }
  size_t start = 0;
  if (!after.empty()) {
    auto pos = std::find_if(listed.begin(), listed.end(),
                            [&](const Version* v) { return v->id == after; });
    if (pos == listed.end()) {
      return InvalidNextToken();
    }
    start = static_cast<size_t>(pos - listed.begin()) + 1;
  }
  for (size_t i = start; i < listed.size() && page.versions.size() < limit; ++i) {
    page.versions.push_back(*listed[i]);
  }
  if (start + page.versions.size() < listed.size() && !page.versions.empty()) {
    page.next_token = PageToken(page.versions.back().id);
  }
  return page;
}

Result<Secret> Service::DeleteSecret(const aws::RequestContext& ctx, const std::string& secret_id,
                                     std::optional<int64_t> recovery_window_days, bool force) {
  if (recovery_window_days && force) {
    return Fail("InvalidParameterException",
                "You can't use ForceDeleteWithoutRecovery in conjunction with "
                "RecoveryWindowInDays.");
  }
  if (recovery_window_days && (*recovery_window_days < 7 || *recovery_window_days > 30)) {
    return Fail("InvalidParameterException",
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).");
  }
  if (!force) {
    int64_t days = recovery_window_days.value_or(30);
    return Mutate(ctx, secret_id, "secretsmanager:DeleteSecret", Access{},
                  [&](Secret& s) -> Status {
                    TimePoint now = clock_.Now();
                    s.deleted = now;
                    s.deletion_date = now + std::chrono::days(days);
                    return {};
                  });
  }
  Access access{.allow_deleted = true, .fresh = true};
  return Write<Secret>(LockKey(ctx, secret_id), [&]() -> Result<std::optional<Secret>> {
    auto opened = Open(ctx, secret_id, "secretsmanager:DeleteSecret", access);
    if (!opened && opened.error().code == "ResourceNotFoundException") {
      return ForceDeletedAbsent(ctx, secret_id);
    }
    Loaded loaded = BERTH_TRY(std::move(opened));
    Secret s = loaded.secret();
    store::Txn txn;
    txn.compares.push_back({loaded.key, loaded.mod_revision});
    txn.ops.push_back(store::Op::Delete(loaded.key));
    txn.ops.push_back(store::Op::DeletePrefix(ValuePrefix(s.account, s.region, s.name)));
    auto writing = secrets_.Write(loaded.key);
    if (BERTH_TRY(kv_.Commit(txn)).succeeded) {
      TimePoint now = clock_.Now();
      s.deleted = now;
      s.deletion_date = now;
      return s;
    }
    return std::nullopt;  // lost to a concurrent writer
  });
}

Result<Secret> Service::ForceDeletedAbsent(const aws::RequestContext& ctx,
                                           const std::string& secret_id) {
  Secret s;
  if (LooksLikeArn(secret_id)) {
    auto arn = ParseSecretArn(secret_id);
    if (!arn) return SecretNotFound();
    s.account = std::move(arn->account);
    s.region = std::move(arn->region);
    s.arn = secret_id;
    s.name = WithoutSuffix(arn->resource_name);
  } else {
    s.account = ctx.caller.account;
    s.region = ctx.region;
    s.name = secret_id;
    s.arn = MakeSecretArn(s.account, s.region, s.name, ids_.Letters(6));
  }
  // Still only for a caller who may delete such a secret (identity policies: there is
  // no resource policy). Open checked another account's ARN already.
  iam::ResourceContext rc;
  rc.account = s.account;
  BERTH_CHECK(access_.Authorize(ctx, "secretsmanager:DeleteSecret", s.arn, rc));
  s.deleted = s.deletion_date = clock_.Now();
  return s;
}

Result<Secret> Service::RestoreSecret(const aws::RequestContext& ctx,
                                      const std::string& secret_id) {
  Access access{.allow_deleted = true};
  return Mutate(ctx, secret_id, "secretsmanager:RestoreSecret", access, [](Secret& s) -> Status {
    s.deleted.reset();
    s.deletion_date.reset();
    return {};
  });
}

// ---------------------------------------------------------------------------
// Resource policies and tags.

Result<Secret> Service::PutResourcePolicy(const aws::RequestContext& ctx,
                                          const std::string& secret_id, const std::string& policy,
                                          bool block_public) {
  Access access;
  access.condition_keys["secretsmanager:BlockPublicPolicy"] = {block_public ? "true" : "false"};
  return Mutate(
      ctx, secret_id, "secretsmanager:PutResourcePolicy", access, [&](Secret& s) -> Status {
        BERTH_CHECK(ParseResourcePolicy(policy));
        if (block_public && IsPublicPolicy(policy)) {
          return Fail("PublicPolicyException",
                      "The BlockPublicPolicy parameter is set to true, and the resource "
                      "policy did not prevent broad access to the secret.");
        }
        auto bound = BERTH_TRY(
            access_.BindPolicy(policy, "MalformedPolicyDocumentException",
                               "This resource policy contains an unsupported principal."));
        s.policy = policy;
        s.bound_policy = std::move(bound.document);
        s.policy_ids = std::move(bound.ids);
        return {};
      });
}

Result<Secret> Service::GetResourcePolicy(const aws::RequestContext& ctx,
                                          const std::string& secret_id) {
  Access access{.allow_deleted = true};
  Loaded loaded = BERTH_TRY(Open(ctx, secret_id, "secretsmanager:GetResourcePolicy", access));
  Secret s = loaded.secret();
  if (!s.policy_ids.empty()) s.policy = access_.ShowPolicy(s.policy, s.policy_ids);
  return s;
}

Result<Secret> Service::DeleteResourcePolicy(const aws::RequestContext& ctx,
                                             const std::string& secret_id) {
  return Mutate(ctx, secret_id, "secretsmanager:DeleteResourcePolicy", Access{},
                [](Secret& s) -> Status {
                  s.policy.clear();
                  s.bound_policy.clear();
                  s.policy_ids.clear();
                  return {};
                });
}

Result<PolicyValidation> Service::ValidateResourcePolicy(
    const aws::RequestContext& ctx, const std::optional<std::string>& secret_id,
    const std::string& policy) {
  if (secret_id) {
    Access access{.allow_deleted = true};
    BERTH_CHECK(Open(ctx, *secret_id, "secretsmanager:ValidateResourcePolicy", access));
  } else {
    BERTH_CHECK(access_.Authorize(ctx, "secretsmanager:ValidateResourcePolicy", "*"));
  }
  BERTH_CHECK(ParseResourcePolicy(policy));
  PolicyValidation out;
  if (IsPublicPolicy(policy)) {
    out.passed = false;
    out.errors.push_back({"PUBLIC_POLICY",
                          "The resource policy grants broad access to the secret: a statement "
                          "allows everyone (\"*\") without a condition that restricts the "
                          "caller's account, organization, network or ARN."});
  }
  return out;
}

Status Service::TagResource(const aws::RequestContext& ctx, const std::string& secret_id,
                            const std::vector<Tag>& tags) {
  BERTH_CHECK(ValidateTags(tags));
  Access access;
  std::vector<std::string> keys;
  for (const auto& t : tags) {
    access.condition_keys["aws:RequestTag/" + t.key] = {t.value};
    keys.push_back(t.key);
  }
  access.condition_keys["aws:TagKeys"] = keys;
  auto updated =
      Mutate(ctx, secret_id, "secretsmanager:TagResource", access, [&](Secret& s) -> Status {
        for (const auto& t : tags) {
          auto it = std::find_if(s.tags.begin(), s.tags.end(),
                                 [&](const Tag& o) { return o.key == t.key; });
          if (it != s.tags.end()) {
            it->value = t.value;
          } else {
            s.tags.push_back(t);
          }
        }
        return CheckTagCount(s.tags.size());
      });
  if (!updated) return Fail(updated.error());
  return {};
}

Status Service::UntagResource(const aws::RequestContext& ctx, const std::string& secret_id,
                              const std::vector<std::string>& tag_keys) {
  for (const auto& k : tag_keys) BERTH_CHECK(CheckLength("tagKeys.member", k, 1, 128));
  Access access;
  access.condition_keys["aws:TagKeys"] = tag_keys;
  auto updated =
      Mutate(ctx, secret_id, "secretsmanager:UntagResource", access, [&](Secret& s) -> Status {
        std::erase_if(s.tags, [&](const Tag& t) { return Contains(tag_keys, t.key); });
        return {};
      });
  if (!updated) return Fail(updated.error());
  return {};
}

Result<std::string> Service::GetRandomPassword(const aws::RequestContext& ctx,
                                               const PasswordOptions& options) {
  BERTH_CHECK(access_.Authorize(ctx, "secretsmanager:GetRandomPassword", "*"));
  return GeneratePassword(options, ids_);
}

}  // namespace berth::secrets
