// What every operation handler knows about a request besides its input: who
// signed it and the request's facts. Services see this, never the gateway or
// the protocols.
#pragma once

#include <string>

#include "aws/identity.h"
#include "common/clock.h"

namespace berth::aws {

struct RequestContext {
  Principal caller;
  std::string region;  // from the credential scope
  std::string request_id;
  std::string source_ip;  // the connection's peer (never X-Forwarded-For)
  TimePoint now;
  bool secure_transport = false;  // the request came over TLS (aws:SecureTransport)
};

}  // namespace berth::aws
