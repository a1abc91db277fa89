#include "agent/credentials/auth_map.h"

#include <fmt/format.h>

#include <utility>

#include "common/json.h"
#include "common/strings.h"

namespace berth::agent::credentials {

std::string QuoteKey(std::string_view key) { return fmt::format("{:?}", key.substr(0, 100)); }

Result<std::vector<AuthEntry>> ReadAuthMap(const nlohmann::json& auths, std::string_view source,
                                           std::string_view error_code) {
  auto fail = [&](std::string problem) {
    return Fail(std::string(error_code), fmt::format("{}: {}", source, std::move(problem)));
  };
  if (!auths.is_object()) return fail("expected a JSON object keyed by registry");

  std::vector<AuthEntry> entries;
  for (const auto& item : auths.items()) {
    std::string quoted_key = QuoteKey(item.key());
    const nlohmann::json& value = item.value();
    if (!value.is_object()) {
      return fail(fmt::format("the entry for {} must be a JSON object", quoted_key));
    }
    auto read = [&](std::string_view field) -> Result<std::optional<std::string>> {
      auto text = json::OptionalString(value, field);
      if (!text) {
        return fail(
            fmt::format("the {:?} field of the entry for {} must be a string", field, quoted_key));
      }
      return std::move(*text);
    };

    AuthEntry entry{.key = item.key(), .registry = NormalizeRegistryKey(item.key())};
    entry.username = BERTH_TRY(read("username"));
    entry.password = BERTH_TRY(read("password"));
    entry.identity_token = BERTH_TRY(read("identitytoken"));
    std::optional<std::string> auth = BERTH_TRY(read("auth"));
    if (auth && !auth->empty()) {
      std::optional<std::string> decoded = Base64Decode(*auth);
      if (!decoded) {
        return fail(
            fmt::format("the \"auth\" field of the entry for {} is not valid base64", quoted_key));
      }
      entry.auth = SplitUserPassword(*decoded);
      if (!entry.auth) {
        return fail(fmt::format(
            "the \"auth\" field of the entry for {} does not decode to \"username:password\"",
            quoted_key));
      }
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace berth::agent::credentials
