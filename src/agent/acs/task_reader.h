// Reading ACS's shapes (reference/acs-api-2.json) into the agent's model: the
// Task of a PayloadMessage (ParseTask of session.h is Parse + ReadTask) and
// the IAMRoleCredentials of a payload or an IAMRoleCredentialsMessage. For
// acs/ itself; the session reads its messages with aws::JsonReader.
#pragma once

#include <string>

#include "agent/spec/task_spec.h"
#include "aws/json_reader.h"
#include "common/error.h"

namespace berth::agent::acs {

// One ACS Task object. Error "UnrecognizedTaskError" saying what is wrong.
Result<spec::TaskSpec> ReadTask(const aws::JsonReader& task);

// An IAMRoleCredentials object, labelled with `role_type` ("TaskApplication" |
// "TaskExecution"). Errors are the reader's (a member of the wrong type).
Result<spec::RoleCredentials> ReadRoleCredentials(const aws::JsonReader& credentials,
                                                  std::string role_type);

}  // namespace berth::agent::acs
