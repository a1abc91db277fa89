// The AWS shared-credentials file (~/.aws/credentials format): INI sections
// named by profile with aws_access_key_id / aws_secret_access_key /
// aws_session_token. berth writes its accounts' root keys there so the AWS
// CLI finds them with AWS_SHARED_CREDENTIALS_FILE.
#pragma once

#include <string>

#include "aws/sigv4.h"
#include "common/error.h"

namespace berth::aws {

// The profile's credentials; NoSuchProfile when the file or profile is absent.
Result<Credentials> ReadProfile(const std::string& path, const std::string& profile);

// Sets `profile` to `credentials`, keeping every other profile (and comment)
// in the file. Written atomically (temp file, fsync, rename), mode 0600.
Status WriteProfile(const std::string& path, const std::string& profile,
                    const Credentials& credentials);

// The credentials the AWS CLI would use: an explicit `profile`, else
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (/AWS_SESSION_TOKEN), else AWS_PROFILE,
// else "default"; profiles are read from `credentials_file`, else
// AWS_SHARED_CREDENTIALS_FILE, else `fallback_file`. Error "InvalidCredentials".
Result<Credentials> CredentialsFromChain(const std::string& profile,
                                         const std::string& credentials_file,
                                         const std::string& fallback_file);

}  // namespace berth::aws
