// Staging labels: which version of a secret is AWSCURRENT, AWSPREVIOUS,
// AWSPENDING or carries a label of the owner's, and how labels move, as AWS
// moves them. A label is on at most one version; a version without labels is
// deprecated; the version that loses AWSCURRENT takes AWSPREVIOUS. Pure
// functions on a Secret's version list: storing the result is the service's.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "secrets/service.h"

namespace berth::secrets {

bool Contains(const std::vector<std::string>& values, std::string_view value);

// Moves `stage` to version `to` (nothing when there is no such version or it
// has the label already): off whichever version had it; when that was
// AWSCURRENT, the version losing it takes AWSPREVIOUS from wherever it was.
void MoveStage(Secret& secret, const std::string& stage, const std::string& to);

// The labels a new version `version_id` (already in `secret.versions`) takes:
// `wanted`, plus AWSCURRENT when the secret has no AWSCURRENT yet (a secret's
// first value is always current).
void LabelNewVersion(Secret& secret, const std::string& version_id,
                     std::vector<std::string> wanted);

// Keeps at most kMaxVersions versions by dropping the oldest deprecated ones;
// returns the ids dropped (their values are the caller's to delete).
std::vector<std::string> DropOldVersions(Secret& secret);

// UpdateSecretVersionStage's rules, with AWS's InvalidParameterException
// messages: both version ids (when given) must exist; `remove_from` must hold
// the label; moving a label attached elsewhere needs that version named in
// `remove_from`; AWSCURRENT can only be moved. At least one of `remove_from`
// and `move_to` is given (checked before).
Status UpdateStage(Secret& secret, const std::string& stage, const std::string& remove_from,
                   const std::string& move_to);

}  // namespace berth::secrets
