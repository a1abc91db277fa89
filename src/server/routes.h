// The wire tables: one function per service maps its operations (names,
// request parsing, reply shapes) to the service's domain calls.
#pragma once

#include "aws/gateway.h"
#include "kms/service.h"
#include "sts/service.h"

namespace berth::server {

aws::QueryService StsRoutes(const sts::Service& sts);
aws::JsonService KmsRoutes(const kms::Service& kms);

}  // namespace berth::server
