#include "secrets/public_policy.h"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/strings.h"

namespace berth::secrets {

namespace {

constexpr std::array<std::string_view, 11> kPinningKeys = {
    "aws:principalaccount", "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths",
    "aws:sourceaccount",    "aws:sourcearn",    "aws:sourceowner",    "aws:sourcevpc",
    "aws:sourcevpce",       "aws:sourceip",     "aws:userid"};

constexpr std::array<std::string_view, 6> kPinningOperators = {
    "stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress"};

std::vector<std::string> Strings(const json::Json& value) {
  std::vector<std::string> out;
  if (value.is_string()) {
    out.push_back(value.get<std::string>());
  } else if (value.is_array()) {
    for (const auto& v : value) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
  }
  return out;
}

bool HasWildcard(std::string_view s) { return s.find_first_of("*?") != std::string_view::npos; }

bool Specific(std::string_view key, std::string_view value) {
  if (value.empty()) return false;
  if (key == "aws:sourceip") return !value.ends_with("/0");
  if (key == "aws:principalarn" || key == "aws:sourcearn") {
    // arn:partition:service:region:account:resource — the account must be literal.
    size_t pos = 0;
    for (int i = 0; i < 4; ++i) {
      pos = value.find(':', pos);
      if (pos == std::string_view::npos) return false;
      ++pos;
    }
    size_t end = value.find(':', pos);
    std::string_view account = value.substr(pos, end == std::string_view::npos ? end : end - pos);
    return !account.empty() && !HasWildcard(account);
  }
  return !HasWildcard(value);
}

bool Pins(const json::Json& conditions) {
  if (!conditions.is_object()) return false;
  for (const auto& [op_text, block] : conditions.items()) {
    std::string op = ToLower(op_text);
    if (op.starts_with("forallvalues:")) continue;
    if (op.starts_with("foranyvalue:")) op = op.substr(12);
    if (std::find(kPinningOperators.begin(), kPinningOperators.end(), op) ==
        kPinningOperators.end()) {
      continue;  // also rules out ...IfExists, negated operators and Null
    }
    if (!block.is_object()) continue;
    for (const auto& [key_text, values] : block.items()) {
      std::string key = ToLower(key_text);
      if (std::find(kPinningKeys.begin(), kPinningKeys.end(), key) == kPinningKeys.end()) continue;
      auto list = Strings(values);
      if (!list.empty() && std::all_of(list.begin(), list.end(),
                                       [&](const std::string& v) { return Specific(key, v); })) {
        return true;
      }
    }
  }
  return false;
}

bool NamesEveryone(const json::Json& statement) {
  if (statement.contains("NotPrincipal")) return true;
  auto it = statement.find("Principal");
  if (it == statement.end()) return false;
  if (it->is_string()) return it->get<std::string>() == "*";
  if (!it->is_object()) return false;
  auto aws = it->find("AWS");
  if (aws == it->end()) return false;
  auto names = Strings(*aws);
  return std::find(names.begin(), names.end(), "*") != names.end();
}

}  // namespace

bool IsPublicPolicy(std::string_view document) {
  json::Json policy = json::Json::parse(document.begin(), document.end(), nullptr, false);
  if (!policy.is_object()) return true;
  auto it = policy.find("Statement");
  if (it == policy.end()) return false;
  std::vector<json::Json> statements;
  if (it->is_array()) {
    statements.assign(it->begin(), it->end());
  } else {
    statements.push_back(*it);
  }
  for (const auto& s : statements) {
    if (!s.is_object()) continue;
    auto effect = s.find("Effect");
    if (effect == s.end() || !effect->is_string() || effect->get<std::string>() != "Allow")
      continue;
    if (!NamesEveryone(s)) continue;
    auto condition = s.find("Condition");
    if (condition == s.end() || !Pins(*condition)) return true;
  }
  return false;
}

}  // namespace berth::secrets
