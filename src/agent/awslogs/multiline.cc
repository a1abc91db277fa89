#include "agent/awslogs/multiline.h"

#include <regex>
#include <string>

namespace berth::agent::awslogs {

struct MultilinePattern::Regex {
  std::regex regex;
};

Result<MultilinePattern> MultilinePattern::Compile(std::string_view pattern) {
  try {
    // libstdc++'s polynomial executor: no backtracking, so no pattern/line pair runs away.
    auto regex = std::make_shared<Regex>(Regex{std::regex(
        std::string(pattern), std::regex::ECMAScript | std::regex::optimize |
                                  std::regex_constants::__polynomial)});
    return MultilinePattern(std::move(regex));
  } catch (const std::regex_error& e) {
    return Fail("InvalidParameterException", e.what());
  }
}

bool MultilinePattern::StartsEvent(std::string_view line) const {
  return std::regex_search(line.begin(), line.end(), regex_->regex);
}

}  // namespace berth::agent::awslogs
