// The start of a multi-line event (awslogs-multiline-pattern, or awslogs-datetime-format made a
// pattern): a line the pattern matches begins a new event, and the lines after it that it does
// not match belong to that event, as Docker's awslogs driver groups them. Matching runs in time
// linear in the line (no backtracking), so a container's output cannot stall its shipper.
#pragma once

#include <memory>
#include <string_view>

#include "common/error.h"

namespace berth::agent::awslogs {

class MultilinePattern {
 public:
  // An ECMAScript regular expression, searched for anywhere in a line (anchor it with ^).
  // Error (InvalidParameterException): what the regex library says is wrong with it.
  static Result<MultilinePattern> Compile(std::string_view pattern);
  bool StartsEvent(std::string_view line) const;

 private:
  struct Regex;
  explicit MultilinePattern(std::shared_ptr<const Regex> regex) : regex_(std::move(regex)) {}
  std::shared_ptr<const Regex> regex_;
};

}  // namespace berth::agent::awslogs
