// Logging: one line per event, as text or JSON lines, over spdlog.
//
// Events carry a message and key/value fields. The redaction rule: a field
// whose key names secret material (password, secret, token, authorization,
// SecretString, Plaintext, ... see IsSensitiveKey) is always written as
// "[REDACTED]", whatever its value, and so is any field built with
// Field::Secret. Code never formats secret values into the message itself.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace berth::log {

enum class Format { kText, kJson };
enum class Level { kDebug, kInfo, kWarn, kError };

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, int64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, int v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, double v);
  // A value that must never be written: it is replaced by "[REDACTED]".
  static Field Secret(std::string_view k) { return Field(k, std::string_view("[REDACTED]")); }

  std::string_view key;
  std::string value;
  bool quoted = true;  // JSON: string (true) or number (false)
};

// Configures the process-wide logger (stderr). Call once at start; before it,
// events go out as text at Info.
void Init(Format format, Level level);

// Parses "text"/"json" and "debug"/"info"/"warn"/"error"; false if unknown.
bool ParseFormat(std::string_view text, Format* out);
bool ParseLevel(std::string_view text, Level* out);

void Write(Level level, std::string_view message, std::initializer_list<Field> fields = {});
inline void Debug(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kDebug, m, f); }
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kInfo, m, f); }
inline void Warn(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kWarn, m, f); }
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kError, m, f); }

// True when events at `level` are written (skip building costly fields otherwise).
bool Enabled(Level level);

// The redaction rule: true when a field named `key` holds secret material.
bool IsSensitiveKey(std::string_view key);

// Renders one event's body (message and fields, redaction applied) the way
// the logger writes it; exposed for tests.
std::string Render(Format format, std::string_view message, std::initializer_list<Field> fields);

}  // namespace berth::log
