// Helpers for JSON 1.1 operation handlers. Include only from .cc files (it
// brings nlohmann/json).
#pragma once

#include <functional>
#include <utility>

#include "aws/gateway.h"
#include "common/json.h"

namespace berth::aws {

// Adapts a handler that takes the parsed request object and returns a JSON
// value into a JsonOperation; a body that is not a JSON object is answered
// with SerializationException before the handler runs.
inline JsonOperation JsonOp(
    std::function<Result<json::Json>(const RequestContext&, const json::Json&)> fn) {
  return [fn = std::move(fn)](const RequestContext& ctx, std::string_view body) -> Result<std::string> {
    auto input = BERTH_TRY(json::ParseObject(body));
    auto output = BERTH_TRY(fn(ctx, input));
    return json::Dump(output);
  };
}

}  // namespace berth::aws
