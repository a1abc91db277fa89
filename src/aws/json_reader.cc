#include "aws/json_reader.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <limits>

#include "common/json.h"
#include "common/strings.h"

namespace berth::aws {

namespace {

using json::Json;

constexpr std::string_view kListFound = "Start of list found where not expected";
constexpr std::string_view kMapFound = "Start of structure or map found where not expected.";

std::unexpected<Error> Serialization(std::string_view message) {
  return Fail("SerializationException", std::string(message));
}

// A scalar of the wrong kind where `target` ("a String", "an Integer") belongs.
std::unexpected<Error> NotConvertible(const Json& value, std::string_view target) {
  if (value.is_array()) return Serialization(kListFound);
  if (value.is_object()) return Serialization(kMapFound);
  std::string_view kind = value.is_string()    ? "STRING_VALUE"
                          : value.is_boolean() ? (value.get<bool>() ? "TRUE_VALUE" : "FALSE_VALUE")
                                               : "NUMBER_VALUE";
  return Serialization(fmt::format("{} can not be converted to {}", kind, target));
}

Result<std::string> AsString(const Json& value) {
  if (!value.is_string()) return NotConvertible(value, "a String");
  return value.get<std::string>();
}

Result<int64_t> AsInt(const Json& value) {
  if (value.is_number_integer() && !value.is_number_unsigned()) return value.get<int64_t>();
  if (value.is_number_unsigned()) {
    uint64_t n = value.get<uint64_t>();
    constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    return static_cast<int64_t>(std::min(n, kMax));
  }
  if (value.is_number_float()) {
    double d = std::trunc(value.get<double>());
    // 2^63 is exactly representable; anything at or past it clamps.
    if (d >= 9223372036854775808.0) return std::numeric_limits<int64_t>::max();
    if (d <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(d);
  }
  return NotConvertible(value, "an Integer");
}

Result<bool> AsBool(const Json& value) {
  if (!value.is_boolean()) return NotConvertible(value, "a Boolean");
  return value.get<bool>();
}

Result<double> AsDouble(const Json& value) {
  if (!value.is_number()) return NotConvertible(value, "a Double");
  return value.get<double>();
}

Result<std::vector<std::string>> AsStrings(const Json& value) {
  if (value.is_object()) return Serialization(kMapFound);
  if (!value.is_array()) return Serialization("Expected list or null");
  std::vector<std::string> out;
  out.reserve(value.size());
  for (const Json& item : value) {
    if (item.is_null()) continue;
    out.push_back(BERTH_TRY(AsString(item)));
  }
  return out;
}

Result<std::map<std::string, std::string>> AsStringMap(const Json& value) {
  if (value.is_array()) return Serialization(kListFound);
  if (!value.is_object()) return Serialization("Expected map or null");
  std::map<std::string, std::string> out;
  for (const auto& [key, item] : value.items()) {
    if (item.is_null()) continue;
    out.emplace(key, BERTH_TRY(AsString(item)));
  }
  return out;
}

// An object where a structure belongs.
Status CheckObject(const Json& value) {
  if (value.is_object()) return {};
  if (value.is_array()) return Serialization(kListFound);
  return Serialization("Expected null");
}

std::string LowerFirst(std::string_view name) {
  std::string out(name);
  if (!out.empty()) out[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[0])));
  return out;
}

// Converts `member` (a Json; nullptr when absent) with `convert`.
template <class T, class Convert>
Result<std::optional<T>> ReadOptional(const void* member, Convert convert) {
  if (!member) return std::optional<T>();
  return std::optional<T>(BERTH_TRY(convert(*static_cast<const Json*>(member))));
}

}  // namespace

struct JsonReader::Document {
  Json root;
};

JsonReader::JsonReader(std::shared_ptr<const Document> document, const void* object,
                       std::string prefix)
    : document_(std::move(document)), object_(object), prefix_(std::move(prefix)) {}

Result<JsonReader> JsonReader::Parse(std::string_view body) {
  auto document = std::make_shared<Document>();
  document->root = BERTH_TRY(json::ParseObject(body));
  const void* root = &document->root;
  return JsonReader(std::move(document), root, "");
}

const void* JsonReader::Find(std::string_view name) const {
  const Json& object = *static_cast<const Json*>(object_);
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonReader::Has(std::string_view name) const { return Find(name) != nullptr; }

std::string JsonReader::PathOf(std::string_view name) const { return prefix_ + LowerFirst(name); }

std::unexpected<Error> JsonReader::Missing(std::string_view name) const {
  return Fail("ValidationException",
              fmt::format("1 validation error detected: Value null at '{}' failed to satisfy "
                          "constraint: Member must not be null",
                          PathOf(name)));
}

// Each required accessor is its optional one plus the missing-member error.
#define BERTH_JSON_REQUIRED(Type, Name)                        \
  Result<Type> JsonReader::Name(std::string_view name) const { \
    auto value = BERTH_TRY(Optional##Name(name));              \
    if (!value) return Missing(name);                          \
    return std::move(*value);                                  \
  }
// And a collection's, absent read as empty.
#define BERTH_JSON_OR_EMPTY(Type, Name)                            \
  Result<Type> JsonReader::Name##Or(std::string_view name) const { \
    return BERTH_TRY(Optional##Name(name)).value_or(Type());       \
  }

Result<std::optional<std::string>> JsonReader::OptionalString(std::string_view name) const {
  return ReadOptional<std::string>(Find(name), AsString);
}
BERTH_JSON_REQUIRED(std::string, String)

Result<std::string> JsonReader::StringOr(std::string_view name, std::string_view fallback) const {
  auto value = BERTH_TRY(OptionalString(name));
  return value ? std::move(*value) : std::string(fallback);
}

Result<std::optional<int64_t>> JsonReader::OptionalInt(std::string_view name) const {
  return ReadOptional<int64_t>(Find(name), AsInt);
}
BERTH_JSON_REQUIRED(int64_t, Int)

Result<std::optional<bool>> JsonReader::OptionalBool(std::string_view name) const {
  return ReadOptional<bool>(Find(name), AsBool);
}
BERTH_JSON_REQUIRED(bool, Bool)

Result<bool> JsonReader::BoolOr(std::string_view name, bool fallback) const {
  return BERTH_TRY(OptionalBool(name)).value_or(fallback);
}

Result<std::optional<double>> JsonReader::OptionalDouble(std::string_view name) const {
  return ReadOptional<double>(Find(name), AsDouble);
}
BERTH_JSON_REQUIRED(double, Double)

Result<std::optional<std::string>> JsonReader::OptionalBlob(std::string_view name) const {
  auto text = BERTH_TRY(OptionalString(name));
  if (!text) return std::optional<std::string>();
  auto bytes = Base64Decode(*text);
  if (!bytes) {
    return Serialization(
        fmt::format("Value at '{}' can not be converted to a Blob: invalid Base64.", PathOf(name)));
  }
  return std::optional<std::string>(std::move(*bytes));
}
BERTH_JSON_REQUIRED(std::string, Blob)

Result<std::optional<std::vector<std::string>>> JsonReader::OptionalStrings(
    std::string_view name) const {
  return ReadOptional<std::vector<std::string>>(Find(name), AsStrings);
}
BERTH_JSON_REQUIRED(std::vector<std::string>, Strings)
BERTH_JSON_OR_EMPTY(std::vector<std::string>, Strings)

Result<std::optional<std::map<std::string, std::string>>> JsonReader::OptionalStringMap(
    std::string_view name) const {
  return ReadOptional<std::map<std::string, std::string>>(Find(name), AsStringMap);
}
using StringToString = std::map<std::string, std::string>;
BERTH_JSON_REQUIRED(StringToString, StringMap)
BERTH_JSON_OR_EMPTY(StringToString, StringMap)

Result<std::optional<JsonReader>> JsonReader::OptionalObject(std::string_view name) const {
  const void* member = Find(name);
  if (!member) return std::optional<JsonReader>();
  BERTH_CHECK(CheckObject(*static_cast<const Json*>(member)));
  return std::optional<JsonReader>(JsonReader(document_, member, PathOf(name) + "."));
}
BERTH_JSON_REQUIRED(JsonReader, Object)

Result<std::optional<std::vector<JsonReader>>> JsonReader::OptionalObjects(
    std::string_view name) const {
  const void* member = Find(name);
  if (!member) return std::optional<std::vector<JsonReader>>();
  const Json& list = *static_cast<const Json*>(member);
  if (list.is_object()) return Serialization(kMapFound);
  if (!list.is_array()) return Serialization("Expected list or null");
  std::string path = PathOf(name);
  std::vector<JsonReader> out;
  out.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& item = list[i];
    if (item.is_null()) continue;
    BERTH_CHECK(CheckObject(item));
    out.push_back(JsonReader(document_, &item, fmt::format("{}.{}.member.", path, i + 1)));
  }
  return std::optional<std::vector<JsonReader>>(std::move(out));
}
BERTH_JSON_REQUIRED(std::vector<JsonReader>, Objects)
BERTH_JSON_OR_EMPTY(std::vector<JsonReader>, Objects)

#undef BERTH_JSON_REQUIRED
#undef BERTH_JSON_OR_EMPTY

}  // namespace berth::aws
