#include "secrets/resolution.h"

#include <fmt/format.h>

#include <utility>

#include "common/arn.h"
#include "secrets/validation.h"

namespace berth::secrets {

namespace {

constexpr std::string_view kResourcePrefix = "secret:";
constexpr size_t kSuffixLength = 7;  // "-" and 6 characters

std::optional<SecretArn> FromArn(Arn arn) {
  if (arn.service != "secretsmanager" || !arn.resource.starts_with(kResourcePrefix)) {
    return std::nullopt;
  }
  return SecretArn{std::move(arn.account), std::move(arn.region),
                   arn.resource.substr(kResourcePrefix.size())};
}

}  // namespace

Result<std::vector<SecretCandidate>> ReadSecretId(std::string_view caller_account,
                                                  std::string_view region,
                                                  const std::string& secret_id) {
  BERTH_CHECK(CheckLength("secretId", secret_id, 1, 2048));
  std::vector<SecretCandidate> out;
  if (!LooksLikeArn(secret_id)) {
    out.push_back({{std::string(caller_account), std::string(region), secret_id}, false});
    return out;
  }
  auto arn = ParseArn(secret_id);
  if (!arn) return Fail(arn.error());
  auto parts = FromArn(std::move(*arn));
  if (!parts || parts->region.empty() || !IsAccountId(parts->account)) return out;
  std::string_view stripped = WithoutSuffix(parts->resource_name);
  if (stripped.size() != parts->resource_name.size()) {
    out.push_back({{parts->account, parts->region, std::string(stripped)}, true});
  }
  out.push_back({{parts->account, parts->region, parts->resource_name}, false});
  return out;
}

std::optional<SecretArn> ParseSecretArn(std::string_view text) {
  auto arn = ParseArn(text);
  if (!arn) return std::nullopt;
  return FromArn(std::move(*arn));
}

std::string_view WithoutSuffix(std::string_view resource_name) {
  size_t n = resource_name.size();
  if (n > kSuffixLength && resource_name[n - kSuffixLength] == '-') {
    return resource_name.substr(0, n - kSuffixLength);
  }
  return resource_name;
}

std::string MakeSecretArn(std::string_view account, std::string_view region, std::string_view name,
                          std::string_view suffix) {
  return fmt::format("arn:aws:secretsmanager:{}:{}:secret:{}-{}", region, account, name, suffix);
}

std::string ForeignAccount(std::string_view caller_account, std::string_view secret_id) {
  if (!LooksLikeArn(secret_id)) return "";
  auto arn = ParseArn(secret_id);
  if (!arn || !IsAccountId(arn->account) || arn->account == caller_account) return "";
  return arn->account;
}

std::unexpected<Error> SecretNotFound() {
  return Fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
}

}  // namespace berth::secrets
