#include "agent/registry/errors.h"

#include <fmt/format.h>

#include "common/json.h"

namespace berth::agent::registry {
namespace {

// Registry replies are hostile input that ends up in stoppedReason and logs.
constexpr size_t kMaxValueLength = 300;
constexpr size_t kMaxEntries = 4;

std::string Clean(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxValueLength)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  }
  if (text.size() > kMaxValueLength) out += "...";
  return out;
}

std::string StringMember(const json::Json& object, const char* key) {
  auto it = object.find(key);
  return (it != object.end() && it->is_string()) ? Clean(it->get<std::string>()) : "";
}

std::string Describe(const std::vector<RegistryErrorEntry>& entries) {
  std::string out;
  for (const RegistryErrorEntry& e : entries) {
    if (!out.empty()) out += "; ";
    if (!e.code.empty()) out += e.code;
    if (!e.code.empty() && !e.message.empty()) out += ": ";
    out += e.message;
  }
  return out;
}

}  // namespace

std::vector<RegistryErrorEntry> ParseErrorBody(std::string_view body) {
  std::vector<RegistryErrorEntry> entries;
  json::Json parsed = json::Json::parse(body.begin(), body.end(), nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return entries;
  if (auto errors = parsed.find("errors"); errors != parsed.end() && errors->is_array()) {
    for (const json::Json& e : *errors) {
      if (entries.size() == kMaxEntries) break;
      if (!e.is_object()) continue;
      RegistryErrorEntry entry{StringMember(e, "code"), StringMember(e, "message")};
      if (!entry.code.empty() || !entry.message.empty()) entries.push_back(std::move(entry));
    }
  }
  if (entries.empty()) {
    for (const char* key : {"details", "error_description", "message"}) {
      if (std::string text = StringMember(parsed, key); !text.empty()) {
        entries.push_back({"", std::move(text)});
        break;
      }
    }
  }
  return entries;
}

Error RegistryReplyError(std::string_view what, const TransportResponse& response) {
  std::string said = Describe(ParseErrorBody(response.body));
  std::string message = said.empty() ? fmt::format("{}: HTTP {}", what, response.status)
                                     : fmt::format("{}: {} (HTTP {})", what, said, response.status);
  return Error{std::string(kCannotPullContainerError), std::move(message),
               response.status > 0 ? response.status : 502};
}

Error AuthRequiredError(std::string_view what, std::string_view registry,
                        const TransportResponse& response) {
  std::string said = Describe(ParseErrorBody(response.body));
  std::string message =
      fmt::format("{}: registry {} requires authentication and no credentials were available{}",
                  what, registry, said.empty() ? "" : fmt::format(" ({})", said));
  return Error{std::string(kCannotPullContainerAuthError), std::move(message), 401};
}

Error PullError(std::string_view what, std::string_view detail, int http_status) {
  return Error{std::string(kCannotPullContainerError), fmt::format("{}: {}", what, detail),
               http_status};
}

Error WithContext(Error error, std::string_view context) {
  error.message = fmt::format("{}: {}", context, error.message);
  return error;
}

}  // namespace berth::agent::registry
