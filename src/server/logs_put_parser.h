// PutLogEvents' request body read without a document tree: the one request whose body is large
// and frequent (batches of up to 10,000 events), where building an nlohmann tree and copying its
// strings out cost more than storing the batch.
#pragma once

#include <optional>
#include <string_view>

#include "logs/service.h"

namespace berth::server {

// The request, when `body` is a well-formed JSON object of the usual shape: logGroupName,
// logStreamName, logEvents (objects of an integer timestamp and a string message),
// sequenceToken and other scalar members (ignored). nullopt for anything else, including every
// malformed body: the caller then reads it with aws::JsonReader, which words the error.
std::optional<logs::PutLogEventsRequest> ParsePutLogEvents(std::string_view body);

}  // namespace berth::server
