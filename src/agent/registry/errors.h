// Pull failures in the agent's vocabulary (amazon-ecs-agent, FACTS.md):
//
//   CannotPullContainerAuthError  the registry demands authentication and no
//                                 credentials were available (ECS does not retry)
//   CannotPullContainerError      everything else (ECS retries), with what the
//                                 registry said: its error code and message
//
// Error.code holds one of the two codes and Error.message the text that follows
// it, e.g. code "CannotPullContainerError", message
// "127.0.0.1:5000/team/app:v1: GET manifest: MANIFEST_UNKNOWN: manifest unknown (HTTP 404)".
// Shown to a person as "<code>: <message>". No message ever contains a
// credential, a token, or a URL query (presigned URLs carry signatures there).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/registry/transport.h"
#include "common/error.h"

namespace berth::agent::registry {

inline constexpr std::string_view kCannotPullContainerError = "CannotPullContainerError";
inline constexpr std::string_view kCannotPullContainerAuthError = "CannotPullContainerAuthError";

// One entry of an OCI distribution error body: {"errors":[{"code","message"}]}.
struct RegistryErrorEntry {
  std::string code;     // e.g. "MANIFEST_UNKNOWN"
  std::string message;  // e.g. "manifest unknown"
};

// The entries of a registry's JSON error body; empty when the body is not that
// shape. Token servers' {"details": "..."} becomes one entry without a code.
// Values are cleaned for a message: control characters replaced, length capped.
std::vector<RegistryErrorEntry> ParseErrorBody(std::string_view body);

// CannotPullContainerError for an HTTP reply that was not what `what` needed:
// "<what>: <CODE>: <message>[; <CODE>: <message>...] (HTTP <status>)", or
// "<what>: HTTP <status>" when the body says nothing usable. The Error's
// http_status is the registry's status.
Error RegistryReplyError(std::string_view what, const TransportResponse& response);

// CannotPullContainerAuthError: `registry` answered `what` with 401 and there
// were no credentials to offer. Includes the registry's own words when it gave any.
Error AuthRequiredError(std::string_view what, std::string_view registry,
                        const TransportResponse& response);

// CannotPullContainerError "<what>: <detail>" (http_status 502 by default):
// for failures that are not a registry reply (transport errors, bad content).
Error PullError(std::string_view what, std::string_view detail, int http_status = 502);

// `error` with its message prefixed by "<context>: " (code and status kept).
Error WithContext(Error error, std::string_view context);

}  // namespace berth::agent::registry
