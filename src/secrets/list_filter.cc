#include "secrets/list_filter.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>

#include "common/strings.h"
#include "secrets/validation.h"

namespace berth::secrets {

namespace {

constexpr std::array<std::string_view, 6> kKeys = {"description", "name",           "tag-key",
                                                   "tag-value",   "primary-region", "all"};

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Lower-cased words, split as the file comment says.
std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  char prev = 0;
  for (char c : text) {
    if (!IsAlnum(c)) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
      prev = 0;
      continue;
    }
    bool lower_to_upper = std::islower(static_cast<unsigned char>(prev)) &&
                          std::isupper(static_cast<unsigned char>(c));
    bool digit_change = prev != 0 && (std::isdigit(static_cast<unsigned char>(prev)) != 0) !=
                                         (std::isdigit(static_cast<unsigned char>(c)) != 0);
    if ((lower_to_upper || digit_change) && !word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
    word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    prev = c;
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

// Every word of `query` prefixes some word of `haystack`.
bool WordsMatch(std::string_view query, const std::vector<std::string>& haystack) {
  auto wanted = Words(query);
  if (wanted.empty()) return true;
  return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
    return std::any_of(haystack.begin(), haystack.end(),
                       [&](const std::string& h) { return h.starts_with(w); });
  });
}

bool MatchesValue(const Secret& s, std::string_view key, std::string_view value) {
  if (key == "name") return s.name.starts_with(value);
  if (key == "primary-region") return s.region.starts_with(value);
  if (key == "tag-key") {
    return std::any_of(s.tags.begin(), s.tags.end(),
                       [&](const Tag& t) { return t.key.starts_with(value); });
  }
  if (key == "tag-value") {
    return std::any_of(s.tags.begin(), s.tags.end(),
                       [&](const Tag& t) { return t.value.starts_with(value); });
  }
  if (key == "description") return WordsMatch(value, Words(s.description));
  // all
  std::vector<std::string> words = Words(s.name);
  auto add = [&](std::string_view text) {
    auto more = Words(text);
    words.insert(words.end(), more.begin(), more.end());
  };
  add(s.description);
  for (const auto& t : s.tags) {
    add(t.key);
    add(t.value);
  }
  return WordsMatch(value, words);
}

}  // namespace

Status ValidateFilters(const std::vector<ListFilter>& filters) {
  for (size_t i = 0; i < filters.size(); ++i) {
    const ListFilter& f = filters[i];
    if (std::find(kKeys.begin(), kKeys.end(), f.key) == kKeys.end()) {
      return Invalid(fmt::format("filters.{}.member.key", i + 1), f.key.substr(0, 64),
                     "satisfy enum value set: [description, name, tag-key, tag-value, "
                     "primary-region, all]");
    }
    if (f.values.empty() || f.values.size() > 10) {
      return Invalid(fmt::format("filters.{}.member.values", i + 1), std::nullopt,
                     f.values.empty() ? "have length greater than or equal to 1"
                                      : "have length less than or equal to 10");
    }
    for (const auto& v : f.values) {
      bool ok =
          v.size() <= 512 && std::all_of(v.begin(), v.end(), [](char c) {
            return IsAlnum(c) || std::string_view(" :_@/+=.-!").find(c) != std::string_view::npos;
          });
      if (!ok) {
        return Invalid(fmt::format("filters.{}.member.values", i + 1), std::nullopt,
                       "satisfy constraint: [Member must have length less than or equal to 512, "
                       "Member must satisfy regular expression pattern: "
                       "^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$]");
      }
    }
  }
  return {};
}

bool MatchesFilters(const Secret& secret, const std::vector<ListFilter>& filters) {
  for (const ListFilter& f : filters) {
    bool any = std::any_of(f.values.begin(), f.values.end(), [&](const std::string& v) {
      if (v.starts_with('!')) return !MatchesValue(secret, f.key, std::string_view(v).substr(1));
      return MatchesValue(secret, f.key, v);
    });
    if (!any) return false;
  }
  return true;
}

}  // namespace berth::secrets
