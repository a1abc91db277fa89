// ListSecrets' (and BatchGetSecretValue's) filters, as AWS documents them.
//
//   name, tag-key, tag-value, primary-region: prefix match, case-sensitive.
//   description: every word of the value prefixes some word of the
//     description, not case-sensitive.
//   all: every word of the value prefixes some word of the name, the
//     description, a tag key or a tag value, not case-sensitive.
// Words break at anything but letters and digits, at a lower-to-upper case
// change and between letters and digits ("credsDatabase#892" is creds,
// Database, 892). A value starting with '!' matches when the rest does not.
// The values of one filter are ORed; filters are ANDed.
#pragma once

#include <vector>

#include "common/error.h"
#include "secrets/service.h"

namespace berth::secrets {

// ValidationException (AWS's wording) for an unknown key, 0 or more than 10
// values, or a value over 512 characters or outside [a-zA-Z0-9 :_@/+=.-!].
Status ValidateFilters(const std::vector<ListFilter>& filters);

bool MatchesFilters(const Secret& secret, const std::vector<ListFilter>& filters);

}  // namespace berth::secrets
