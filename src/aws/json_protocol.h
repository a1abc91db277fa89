// Helpers for JSON 1.1 operation handlers: the request is read through
// JsonReader (aws/json_reader.h), the reply built as a JSON value. Include
// only from .cc files (it brings nlohmann/json).
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "aws/gateway.h"
#include "aws/json_reader.h"
#include "common/json.h"

namespace berth::aws {

// Adapts a handler that reads the request object and returns a JSON value into
// a JsonOperation; a body that is not a JSON object is answered with
// SerializationException before the handler runs.
inline JsonOperation JsonOp(
    std::function<Result<json::Json>(const RequestContext&, const JsonReader&)> fn) {
  return [fn = std::move(fn)](const RequestContext& ctx,
                              std::string_view body) -> Result<std::string> {
    auto input = BERTH_TRY(JsonReader::Parse(body));
    auto output = BERTH_TRY(fn(ctx, input));
    return json::Dump(output);
  };
}

// The same for a handler that writes its reply text itself (json::ObjectWriter),
// on a hot path where a document tree would cost more than the work.
inline JsonOperation JsonTextOp(
    std::function<Result<std::string>(const RequestContext&, const JsonReader&)> fn) {
  return [fn = std::move(fn)](const RequestContext& ctx,
                              std::string_view body) -> Result<std::string> {
    auto input = BERTH_TRY(JsonReader::Parse(body));
    return fn(ctx, input);
  };
}

}  // namespace berth::aws
