// Secrets Manager's input rules, with AWS's words for breaking them.
//
// Model constraints (lengths, ranges, enums) are ValidationException in AWS's
// form: "1 validation error detected: Value '<value>' at '<field>' failed to
// satisfy constraint: Member must <constraint>". Fields are named as AWS names
// them (camelCase, lists as "tags.member.key"). Sensitive values (secret
// values, and whatever a caller might put a secret in) are left out of the
// message: "Value at '<field>' ...". Service rules (a name's characters, both
// values given, a reserved tag key) are InvalidParameterException.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "secrets/service.h"

namespace berth::secrets {

// AWS's model-validation error; `value` (shown up to 256 bytes, cut at a
// character boundary) is omitted when nullopt.
std::unexpected<Error> Invalid(std::string_view field, std::optional<std::string_view> value,
                               std::string_view constraint);

// `value` has min..max bytes; `sensitive` keeps it out of the message.
Status CheckLength(std::string_view field, std::string_view value, size_t min, size_t max,
                   bool sensitive = false);

// A secret name: 1..512 characters of [A-Za-z0-9/_+=.@-].
Status ValidateName(const std::string& name);
// A ClientRequestToken: empty (one is drawn) or 32..64 characters.
Status ValidateToken(const std::string& token);
// VersionStages: 1..20 labels of 1..256 characters.
Status ValidateStages(const std::vector<std::string>& stages);
// Each tag: key 1..128 characters not starting "aws:" (any case), value 0..256.
Status ValidateTags(const std::vector<Tag>& tags);
// At most kMaxTags tags on one secret (InvalidParameterException).
Status CheckTagCount(size_t count);

// The request's value, checked: both fields is InvalidParameterException, and
// so is neither when `required` (nullopt when not); over kMaxValueBytes is
// ValidationException without the value.
Result<std::optional<SecretValue>> ToValue(const ValueInput& in, bool required);

// `policy` (1..kMaxPolicyLength characters) parses as a resource policy, else
// MalformedPolicyDocumentException with the policy engine's message.
Status ParseResourcePolicy(const std::string& policy);

// Pagination over a sorted list: a NextToken names the last item returned.
std::string PageToken(std::string_view last);
// The item a NextToken names; InvalidNextTokenException when it is not one.
Result<std::string> ParsePageToken(const std::string& token);
std::unexpected<Error> InvalidNextToken();
// MaxResults: `fallback` when absent, else 1..max (ValidationException).
Result<size_t> PageSize(std::optional<int> max_results, int max, int fallback);

}  // namespace berth::secrets
