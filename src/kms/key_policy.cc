#include "kms/key_policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "common/json.h"
#include "iam/policy.h"
#include "kms/errors.h"

namespace berth::kms {

namespace {

constexpr size_t kMaxKeyPolicy = 32768;

constexpr std::string_view kManagedServices[] = {"secretsmanager"};

}  // namespace

std::string DefaultKeyPolicy(const std::string& account) {
  nlohmann::ordered_json doc = {
      {"Version", "2012-10-17"},
      {"Id", "key-default-1"},
      {"Statement",
       {{{"Sid", "Enable IAM User Permissions"},
         {"Effect", "Allow"},
         {"Principal", {{"AWS", fmt::format("arn:aws:iam::{}:root", account)}}},
         {"Action", "kms:*"},
         {"Resource", "*"}}}}};
  return doc.dump(2);
}

bool IsManagedService(std::string_view service) {
  return std::find(std::begin(kManagedServices), std::end(kManagedServices), service) !=
         std::end(kManagedServices);
}

std::string ManagedKeyPolicy(const std::string& account, const std::string& region,
                             const std::string& service) {
  nlohmann::ordered_json doc = {
      {"Version", "2012-10-17"},
      {"Id", fmt::format("auto-{}-2", service)},
      {"Statement",
       {{{"Sid", fmt::format("Allow access through {} for all principals in the account that "
                             "are authorized to use {}",
                             service, service)},
         {"Effect", "Allow"},
         {"Principal", {{"AWS", "*"}}},
         {"Action",
          {"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
           "kms:CreateGrant", "kms:DescribeKey"}},
         {"Resource", "*"},
         {"Condition",
          {{"StringEquals",
            {{"kms:CallerAccount", account},
             {"kms:ViaService", fmt::format("{}.{}.amazonaws.com", service, region)}}}}}},
        {{"Sid", "Allow direct access to key metadata to the account"},
         {"Effect", "Allow"},
         {"Principal", {{"AWS", fmt::format("arn:aws:iam::{}:root", account)}}},
         {"Action", {"kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"}},
         {"Resource", "*"}}}}};
  return doc.dump(2);
}

Status ValidateKeyPolicy(const std::string& policy) {
  iam::ParseOptions options;
  options.max_size = kMaxKeyPolicy;
  auto parsed = iam::ParsePolicy(policy, iam::PolicyType::kKeyPolicy, options);
  if (!parsed) {
    if (parsed.error().code == "LimitExceeded") {
      return Fail(
          "LimitExceededException",
          fmt::format("The key policy exceeds the maximum size of {} characters.", kMaxKeyPolicy));
    }
    return Fail("MalformedPolicyDocumentException", parsed.error().message);
  }
  return {};
}

Status CheckPolicyName(const std::string& policy_name) {
  if (!policy_name.empty() && policy_name != "default") {
    return Fail("NotFoundException", fmt::format("No such policy exists: {}", Clip(policy_name)));
  }
  return {};
}

iam::ContextMap ConditionKeys(const Caller& caller, const EncryptionContext& context,
                              const std::string& request_alias) {
  iam::ContextMap keys;
  keys.Reserve(3 + context.size() + (request_alias.empty() ? 0 : 1));
  keys["kms:CallerAccount"] = {caller.ctx.caller.account};
  if (!caller.via_service.empty()) keys["kms:ViaService"] = {caller.via_service};
  if (!context.empty()) {
    std::vector<std::string> names;
    for (const auto& [k, v] : context) {
      keys["kms:EncryptionContext:" + k] = {v};
      names.push_back(k);
    }
    keys["kms:EncryptionContextKeys"] = std::move(names);
  }
  if (!request_alias.empty()) keys["kms:RequestAlias"] = {request_alias};
  return keys;
}

iam::ResourceContext KeyResource(const KeyRecord& key, iam::ContextMap condition_keys) {
  iam::ResourceContext res;
  res.account = key.meta.account;
  res.policy =
      key.bound_policy.empty() ? std::string_view(key.policy) : std::string_view(key.bound_policy);
  res.is_key_policy = true;
  res.condition_keys = std::move(condition_keys);
  return res;
}

}  // namespace berth::kms
