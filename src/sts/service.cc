#include "sts/service.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/arn.h"
#include "common/strings.h"

namespace berth::sts {

namespace {
constexpr int kMinDuration = 900;
constexpr size_t kMaxSessionPolicy = 2048;

// STS's names (role session names, federated user names): `min`..`max`
// characters of [\w+=,.@-]; ValidationError naming `field` otherwise.
Status ValidateStsName(std::string_view field, const std::string& name, size_t min, size_t max) {
  bool ok = name.size() >= min && name.size() <= max &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '=' ||
                     c == ',' || c == '.' || c == '@' || c == '_' || c == '-';
            });
  if (!ok) {
    return Fail("ValidationError",
                fmt::format("1 validation error detected: Value '{}' at '{}' failed to "
                            "satisfy constraint: Member must satisfy regular expression pattern: "
                            "[\\w+=,.@-]* and have length between {} and {}",
                            name.substr(0, 80), field, min, max));
  }
  return {};
}
}  // namespace

Service::Service(iam::Service& iam, iam::IdentityStore& identities, const Clock& clock,
                 TrustCheck trust)
    : iam_(iam), identities_(identities), clock_(clock), trust_(std::move(trust)) {}

Result<CallerIdentity> Service::GetCallerIdentity(const aws::Principal& caller) const {
  return CallerIdentity{caller.account, caller.arn, caller.user_id};
}

Result<AssumedRole> Service::AssumeRole(const aws::Principal& caller,
                                        const AssumeRoleRequest& request) {
  if (caller.kind == aws::Principal::Kind::kFederatedUser) {
    // As in AWS: a federated user's credentials cannot assume roles.
    return Fail("AccessDenied",
                fmt::format("User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                            caller.arn, request.role_arn.substr(0, 256)),
                403);
  }
  return Assume(&caller, "", request);
}

Result<AssumedRole> Service::GetSessionToken(const aws::Principal& caller,
                                             std::optional<int> duration) {
  if (caller.kind == aws::Principal::Kind::kAssumedRole || caller.expiration) {
    return Fail("AccessDenied",
                "Cannot call GetSessionToken with session credentials", 403);
  }
  bool root = caller.kind == aws::Principal::Kind::kRoot;
  int max = root ? 3600 : 129600;
  int seconds = duration.value_or(root ? 3600 : 43200);
  if (seconds < kMinDuration || seconds > max) {
    return Fail("ValidationError",
                fmt::format("1 validation error detected: Value '{}' at 'durationSeconds' failed to "
                            "satisfy constraint: Member must have value between {} and {}",
                            seconds, kMinDuration, max));
  }
  iam::IdentityStore::Session session;
  session.kind = root ? "root" : "user";
  session.account = caller.account;
  session.user_name = caller.name;
  session.user_id = caller.user_id;
  session.expiration = std::chrono::time_point_cast<std::chrono::seconds>(clock_.Now()) +
                       std::chrono::seconds(seconds);
  auto creds = BERTH_TRY(identities_.CreateSession(session));
  return AssumedRole{creds, session.expiration, "", ""};
}

Result<AssumedRole> Service::GetFederationToken(const aws::Principal& caller,
                                                const std::string& name,
                                                const std::string& session_policy,
                                                std::optional<int> duration) {
  if (caller.kind != aws::Principal::Kind::kUser || caller.expiration) {
    return Fail("AccessDenied",
                "GetFederationToken can be called only with an IAM user's long-term credentials",
                403);
  }
  BERTH_CHECK(ValidateStsName("name", name, 2, 32));
  int seconds = duration.value_or(43200);
  if (seconds < kMinDuration || seconds > 129600) {
    return Fail("ValidationError",
                fmt::format("1 validation error detected: Value '{}' at 'durationSeconds' failed to "
                            "satisfy constraint: Member must have value between {} and 129600",
                            seconds, kMinDuration));
  }
  if (session_policy.size() > kMaxSessionPolicy) {
    return Fail("PackedPolicyTooLarge",
                "Packed policy consumes more than 100 percent of the allotted space.");
  }
  iam::IdentityStore::Session session;
  session.kind = "federated";
  session.account = caller.account;
  session.user_name = caller.name;
  session.user_id = caller.user_id;
  session.session_name = name;
  session.session_policy = session_policy;
  session.expiration = std::chrono::time_point_cast<std::chrono::seconds>(clock_.Now()) +
                       std::chrono::seconds(seconds);
  auto creds = BERTH_TRY(identities_.CreateSession(session));
  return AssumedRole{creds, session.expiration,
                     fmt::format("arn:aws:sts::{}:federated-user/{}", caller.account, name),
                     fmt::format("{}:{}", caller.account, name)};
}

Result<std::string> Service::GetAccessKeyInfo(const std::string& access_key_id) {
  auto account = BERTH_TRY(identities_.AccountOfKey(access_key_id));
  if (!account) {
    return Fail("InvalidParameterValue",
                fmt::format("The access key {} is not one this server issued.",
                            access_key_id.substr(0, 128)));
  }
  return *account;
}

Result<AssumedRole> Service::AssumeRoleAsService(const std::string& service,
                                                 const AssumeRoleRequest& request) {
  return Assume(nullptr, service, request);
}

Result<AssumedRole> Service::Assume(const aws::Principal* caller, const std::string& service,
                                    const AssumeRoleRequest& request) {
  BERTH_CHECK(ValidateStsName("roleSessionName", request.session_name, 2, 64));
  auto arn = ParseArn(request.role_arn);
  if (!arn || arn->service != "iam" || !arn->resource.starts_with("role/") ||
      !IsAccountId(arn->account)) {
    return Fail("ValidationError", fmt::format("{} is invalid", Utf8Prefix(request.role_arn, 256)));
  }
  if (request.session_policy.size() > kMaxSessionPolicy) {
    return Fail("PackedPolicyTooLarge",
                "Packed policy consumes more than 100 percent of the allotted space.");
  }
  std::string role_name = arn->resource.substr(arn->resource.rfind('/') + 1);
  auto role = iam_.GetRole(arn->account, role_name);
  if (!role || role->arn != request.role_arn) {
    // AWS does not reveal whether the role exists to someone who may not assume it.
    std::string who = caller ? caller->arn : service;
    return Fail("AccessDenied",
                fmt::format("User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                            who, request.role_arn),
                403);
  }
  int duration = request.duration_seconds.value_or(3600);
  if (duration < kMinDuration || duration > role->max_session_duration) {
    return Fail("ValidationError",
                fmt::format("The requested DurationSeconds exceeds the MaxSessionDuration set for this "
                            "role, or is below {}.",
                            kMinDuration));
  }
  BERTH_CHECK(trust_(caller, service, *role, request));
  iam::IdentityStore::Session session;
  session.account = arn->account;
  session.role_name = role->name;
  session.role_id = role->id;
  session.role_arn = role->arn;
  session.session_name = request.session_name;
  session.session_policy = request.session_policy;
  session.expiration = std::chrono::time_point_cast<std::chrono::seconds>(clock_.Now()) +
                       std::chrono::seconds(duration);
  auto creds = BERTH_TRY(identities_.CreateSession(session));
  return AssumedRole{creds, session.expiration,
                     fmt::format("arn:aws:sts::{}:assumed-role/{}/{}", arn->account, role->name,
                                 request.session_name),
                     fmt::format("{}:{}", role->id, request.session_name)};
}

}  // namespace berth::sts
