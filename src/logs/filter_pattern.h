// CloudWatch Logs filter patterns (FilterLogEvents' filterPattern), parsed once per request
// and matched against each event's message.
//
// The syntax (AWS "Filter pattern syntax for metric filters, subscription filters, filter log
// events"; ECS-FACTS §4.4):
//   ""                     every event
//   ERROR                  events containing the term (case-sensitive substring)
//   ERROR Exception        both terms (AND), in any order
//   "connection reset"     the quoted phrase (quotes may hold spaces and punctuation;
//                          \" inside a quoted phrase is a literal quote)
//   ?ERROR ?WARN           either term (OR: a pattern whose terms all start with '?')
//   ERROR -timeout         ERROR and not "timeout" (a '-' term excludes; "-" before a
//                          quoted phrase excludes the phrase)
//   %regex%                a term that is a regular expression (AWS's limited set; at most 2
//                          per pattern)
//   { $.level = "error" }  JSON: the message must be a JSON object (or array) and the
//                          selector's value compare as given. Selectors: $.a.b, $.a[0].b, $.*
//                          not needed. Operators: = != for strings (value quoted, or a bare word;
//                          '*' is a wildcard inside a string value), = != < > <= >= for numbers,
//                          IS TRUE / IS FALSE / IS NULL, NOT EXISTS; conditions joined with &&
//                          and ||, grouped with ( ).
//   [ip, user, status=404, size>1000, ...]
//                          space-delimited: the message split on spaces (a "quoted field" or a
//                          [bracketed field] counts as one field); each name binds one field in
//                          order, `...` matches any number of fields; conditions on a field:
//                          = != (string, '*' wildcard, or number) < > <= >= (numbers), joined
//                          with && and ||. A pattern with fewer fields than the message (and no
//                          `...`) does not match.
// A pattern that cannot be parsed is InvalidParameterException with AWS's message
// ("Invalid filter pattern" unless AWS words the case otherwise). Patterns are at most 1024
// characters (the service checks the length before parsing).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace berth::logs {

class FilterPattern {
 public:
  // InvalidParameterException when `pattern` is not a valid pattern.
  static Result<FilterPattern> Parse(std::string_view pattern);

  FilterPattern(FilterPattern&&) noexcept;
  FilterPattern& operator=(FilterPattern&&) noexcept;
  ~FilterPattern();

  // Whether the event with this message matches. Thread-safe (const, no shared state).
  bool Matches(std::string_view message) const;

  // True for the empty pattern: every event matches (callers skip matching).
  bool MatchesEverything() const;

  // Literal substrings every matching message contains (the AND terms of a term pattern; empty
  // for JSON, space-delimited, OR and regex patterns): a caller may skip a whole batch of events
  // that cannot contain one of them without calling Matches on each.
  const std::vector<std::string>& RequiredSubstrings() const;

 private:
  struct Impl;
  explicit FilterPattern(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::logs
