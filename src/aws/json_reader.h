// The one reader of JSON 1.1 request bodies: typed members read with AWS's
// rules, so that every JSON service (KMS, Secrets Manager, the operator API,
// ECS, Logs) answers malformed input alike.
//
//   auto in = BERTH_TRY(JsonReader::Parse(body));
//   std::string family = BERTH_TRY(in.String("family"));          // required
//   int64_t limit = BERTH_TRY(in.OptionalInt("maxResults")).value_or(100);
//   for (const JsonReader& c : BERTH_TRY(in.Objects("containerDefinitions"))) {
//     std::string image = BERTH_TRY(c.String("image"));
//     if (auto creds = BERTH_TRY(c.OptionalObject("repositoryCredentials"))) ...
//   }
//
// The rules, as AWS's JSON 1.1 services (Coral) apply them:
// - Members nobody asks for are ignored; a member that is null is absent.
// - A required member that is absent is ValidationException, naming the member
//   by its path with a lower-case first letter: "1 validation error detected:
//   Value null at 'containerDefinitions.1.member.name' failed to satisfy
//   constraint: Member must not be null" (a nested object's members are
//   "outer.inner", a list's n-th object's "list.<n>.member.inner", n from 1).
// - A member of the wrong type is SerializationException with AWS's message,
//   which names the JSON value's kind, not the member:
//     "STRING_VALUE can not be converted to an Integer" (also NUMBER_VALUE,
//       TRUE_VALUE, FALSE_VALUE; targets a String, an Integer, a Double,
//       a Boolean)
//     "Start of list found where not expected"                 (an array)
//     "Start of structure or map found where not expected."    (an object)
//     "Expected list or null" / "Expected map or null" / "Expected null"
//       (a scalar where a list / a map / an object belongs)
// - Integers: a fractional number is truncated (AWS accepts 1.5 for 1);
//   values beyond int64 are clamped to its range, so that the caller's range
//   check reports them. Lists and maps skip null elements.
//
// Readers are cheap values: a nested reader shares the parsed document (no
// copy) and keeps it alive; the document is immutable, so concurrent reads
// are fine.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace berth::aws {

class JsonReader {
 public:
  // A request body: empty is {} (some SDKs send nothing). Not JSON, or not an
  // object: SerializationException ("Request body is not valid JSON." /
  // "Request body must be a JSON object.").
  static Result<JsonReader> Parse(std::string_view body);

  // True when the member is present and not null.
  bool Has(std::string_view name) const;
  // The member's path as validation messages name it ("keyId",
  // "containerDefinitions.2.member.portMappings"), for a route's own
  // ValidationException about a member.
  std::string PathOf(std::string_view name) const;

  // Strings.
  Result<std::string> String(std::string_view name) const;
  Result<std::optional<std::string>> OptionalString(std::string_view name) const;
  Result<std::string> StringOr(std::string_view name, std::string_view fallback = "") const;

  // Integers (Integer and Long on the wire).
  Result<int64_t> Int(std::string_view name) const;
  Result<std::optional<int64_t>> OptionalInt(std::string_view name) const;

  // Booleans.
  Result<bool> Bool(std::string_view name) const;
  Result<std::optional<bool>> OptionalBool(std::string_view name) const;
  Result<bool> BoolOr(std::string_view name, bool fallback) const;

  // Doubles (Float and Double on the wire; integers are accepted).
  Result<double> Double(std::string_view name) const;
  Result<std::optional<double>> OptionalDouble(std::string_view name) const;

  // Blobs: a base64 string on the wire, decoded. Not base64:
  // SerializationException "Value at '<path>' can not be converted to a Blob:
  // invalid Base64." (the value itself is never echoed: blobs carry secrets).
  Result<std::string> Blob(std::string_view name) const;
  Result<std::optional<std::string>> OptionalBlob(std::string_view name) const;

  // A list of strings.
  Result<std::vector<std::string>> Strings(std::string_view name) const;
  Result<std::optional<std::vector<std::string>>> OptionalStrings(std::string_view name) const;
  Result<std::vector<std::string>> StringsOr(std::string_view name) const;  // absent: empty

  // A map of strings to strings (tags, encryption contexts, docker labels).
  Result<std::map<std::string, std::string>> StringMap(std::string_view name) const;
  Result<std::optional<std::map<std::string, std::string>>> OptionalStringMap(
      std::string_view name) const;
  Result<std::map<std::string, std::string>> StringMapOr(
      std::string_view name) const;  // absent: {}

  // A nested object, read with the same rules; its members' paths are
  // "<name>.<member>".
  Result<JsonReader> Object(std::string_view name) const;
  Result<std::optional<JsonReader>> OptionalObject(std::string_view name) const;

  // A list of objects (container definitions, tags as {Key, Value}); the n-th
  // one's members' paths are "<name>.<n>.member.<member>", n from 1.
  Result<std::vector<JsonReader>> Objects(std::string_view name) const;
  Result<std::optional<std::vector<JsonReader>>> OptionalObjects(std::string_view name) const;
  Result<std::vector<JsonReader>> ObjectsOr(std::string_view name) const;  // absent: empty

 private:
  struct Document;
  JsonReader(std::shared_ptr<const Document> document, const void* object, std::string prefix);
  // The member, or nullptr when absent or null. `const void*`: a JSON value
  // inside document_ (nlohmann stays in the .cc file).
  const void* Find(std::string_view name) const;
  std::unexpected<Error> Missing(std::string_view name) const;

  std::shared_ptr<const Document> document_;
  const void* object_;  // a JSON object inside document_
  std::string prefix_;  // "" at the top; "outer." or "list.3.member." below
};

}  // namespace berth::aws
