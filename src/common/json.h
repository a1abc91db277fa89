// JSON helpers over nlohmann/json. Include this header only from .cc files:
// nlohmann/json stays out of public headers to keep the build fast.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace berth::json {

using Json = nlohmann::json;

// Parses a request body that must be a JSON object. An empty body is an empty
// object (the AWS CLI sends "{}", some SDKs send nothing). Errors are
// SerializationException, as AWS JSON services answer unparseable bodies.
Result<Json> ParseObject(std::string_view body);

// The string member `key`, or nullopt when absent or null. A member of another
// type is an error naming the field (SerializationException). For documents
// berth reads itself (configuration files); AWS request bodies are read with
// aws::JsonReader, which answers with AWS's messages.
Result<std::optional<std::string>> OptionalString(const Json& object, std::string_view key);

// Serialises compactly; invalid UTF-8 is replaced rather than throwing.
std::string Dump(const Json& value);

}  // namespace berth::json
