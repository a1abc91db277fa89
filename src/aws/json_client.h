// Calling an AWS JSON 1.1 service the way the AWS SDKs do: POST / with
// X-Amz-Target and a JSON body, signed with SigV4 (sigv4.h). For berth's own
// clients of its control plane: the agent, the CLI.
#pragma once

#include <string>

#include "aws/sigv4.h"
#include "common/clock.h"
#include "common/error.h"
#include "http/client.h"

namespace berth::aws {

struct JsonCall {
  std::string endpoint;      // "http://127.0.0.1:4566" (a path after the host is ignored)
  std::string target;        // X-Amz-Target: "secretsmanager.GetSecretValue"
  std::string region;        // the credential scope's region
  std::string signing_name;  // the credential scope's service: "secretsmanager"
  std::string body = "{}";   // JSON text
};

// The response body of a 2xx reply. A service error is an Error with the
// service's code (`__type`, without any "namespace#" prefix), its message and
// the HTTP status; a reply that is not an AWS error shape keeps the status with
// code "InvalidResponse". Transport failures are the http::Client's errors.
Result<std::string> CallJson(http::Client& client, const JsonCall& call,
                             const Credentials& credentials, TimePoint now);
// The same over a client of its own (for a one-off call: `berth account create`)
// that trusts the system CAs and those in `ca_file` (PEM; "": none).
Result<std::string> CallJson(const JsonCall& call, const Credentials& credentials, TimePoint now,
                             const std::string& ca_file = "");

// "host[:port]" of an endpoint URL ("http://127.0.0.1:4566/" -> "127.0.0.1:4566").
std::string EndpointHost(std::string_view endpoint);

}  // namespace berth::aws
