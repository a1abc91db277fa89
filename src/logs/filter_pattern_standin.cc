// A stand-in for the filter pattern library while it is written (branch logs-filter): term
// patterns only (terms, "quoted phrases", ?alternatives, -exclusions). Anything else is
// InvalidParameterException. Deleted when filter_pattern.cc is merged.
#include <algorithm>

#include "logs/filter_pattern.h"

namespace berth::logs {

struct FilterPattern::Impl {
  std::vector<std::string> all, any, none;
  std::vector<std::string> required;
};

Result<FilterPattern> FilterPattern::Parse(std::string_view pattern) {
  auto impl = std::make_unique<Impl>();
  size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == ' ') {
      ++i;
      continue;
    }
    char sign = 0;
    if (pattern[i] == '?' || pattern[i] == '-') sign = pattern[i++];
    std::string term;
    if (i < pattern.size() && pattern[i] == '"') {
      size_t end = pattern.find('"', i + 1);
      if (end == std::string_view::npos) {
        return Fail("InvalidParameterException", "Invalid filter pattern");
      }
      term = std::string(pattern.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      size_t end = std::min(pattern.find(' ', i), pattern.size());
      term = std::string(pattern.substr(i, end - i));
      i = end;
    }
    if (term.empty() || term.front() == '{' || term.front() == '[' || term.front() == '%') {
      return Fail("InvalidParameterException", "Invalid filter pattern");
    }
    (sign == '?' ? impl->any : sign == '-' ? impl->none : impl->all).push_back(term);
  }
  if (impl->any.empty()) impl->required = impl->all;
  return FilterPattern(std::move(impl));
}

FilterPattern::FilterPattern(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FilterPattern::FilterPattern(FilterPattern&&) noexcept = default;
FilterPattern& FilterPattern::operator=(FilterPattern&&) noexcept = default;
FilterPattern::~FilterPattern() = default;

bool FilterPattern::Matches(std::string_view message) const {
  auto has = [message](const std::string& t) { return message.find(t) != std::string_view::npos; };
  if (!impl_->any.empty()) return std::any_of(impl_->any.begin(), impl_->any.end(), has);
  return std::all_of(impl_->all.begin(), impl_->all.end(), has) &&
         std::none_of(impl_->none.begin(), impl_->none.end(), has);
}

bool FilterPattern::MatchesEverything() const {
  return impl_->all.empty() && impl_->any.empty() && impl_->none.empty();
}

const std::vector<std::string>& FilterPattern::RequiredSubstrings() const {
  return impl_->required;
}

}  // namespace berth::logs
