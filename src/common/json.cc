#include "common/json.h"

#include <fmt/format.h>

namespace berth::json {

Result<Json> ParseObject(std::string_view body) {
  if (body.empty()) return Json::object();
  Json parsed = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Fail("SerializationException", "Request body is not valid JSON.");
  if (!parsed.is_object()) return Fail("SerializationException", "Request body must be a JSON object.");
  return parsed;
}

Result<std::optional<std::string>> OptionalString(const Json& object, std::string_view key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) {
    return Fail("SerializationException", fmt::format("'{}' must be a string.", key));
  }
  return std::optional<std::string>(it->get<std::string>());
}

std::string Dump(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace berth::json
