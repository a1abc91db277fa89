#include "common/log.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>

namespace berth::log {

namespace {

std::atomic<Format> g_format{Format::kText};

spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>("berth",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
    l->set_level(spdlog::level::info);
    l->flush_on(spdlog::level::debug);
    return l;
  }();
  return *logger;
}

spdlog::level::level_enum ToSpd(Level level) {
  switch (level) {
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  return std::any_of(v.begin(), v.end(), [](unsigned char c) {
    return c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f;
  });
}

}  // namespace

Field::Field(std::string_view k, double v) : key(k), value(fmt::format("{}", v)), quoted(false) {}

bool IsSensitiveKey(std::string_view key) {
  static constexpr std::array<std::string_view, 9> kWords = {
      "password", "secret", "token", "authorization", "plaintext", "credential",
      "privatekey", "keymaterial", "auth"};
  std::string lower;
  lower.reserve(key.size());
  for (char c : key) {
    if (c == '_' || c == '-') continue;
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  // Identifiers of secrets are not secret themselves.
  if (lower.ends_with("id") || lower.ends_with("arn") || lower.ends_with("name")) return false;
  return std::any_of(kWords.begin(), kWords.end(),
                     [&](std::string_view w) { return lower.find(w) != std::string::npos; });
}

std::string Render(Format format, std::string_view message, std::initializer_list<Field> fields) {
  std::string out;
  if (format == Format::kJson) {
    out += "\"msg\":";
    AppendJsonString(out, message);
    for (const Field& f : fields) {
      out.push_back(',');
      AppendJsonString(out, f.key);
      out.push_back(':');
      if (IsSensitiveKey(f.key)) {
        out += "\"[REDACTED]\"";
      } else if (f.quoted) {
        AppendJsonString(out, f.value);
      } else {
        out += f.value;
      }
    }
    return out;
  }
  out.append(message);
  for (const Field& f : fields) {
    out.push_back(' ');
    out.append(f.key);
    out.push_back('=');
    std::string_view v = IsSensitiveKey(f.key) ? std::string_view("[REDACTED]") : f.value;
    if (NeedsQuotes(v)) {
      AppendJsonString(out, v);
    } else {
      out.append(v);
    }
  }
  return out;
}

void Init(Format format, Level level) {
  g_format = format;
  auto& l = Logger();
  if (format == Format::kJson) {
    l.set_pattern("{\"ts\":\"%Y-%m-%dT%H:%M:%S.%eZ\",\"level\":\"%l\",%v}",
                  spdlog::pattern_time_type::utc);
  } else {
    l.set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc);
  }
  l.set_level(ToSpd(level));
}

bool ParseFormat(std::string_view text, Format* out) {
  if (text == "text") *out = Format::kText;
  else if (text == "json") *out = Format::kJson;
  else return false;
  return true;
}

bool ParseLevel(std::string_view text, Level* out) {
  if (text == "debug") *out = Level::kDebug;
  else if (text == "info") *out = Level::kInfo;
  else if (text == "warn") *out = Level::kWarn;
  else if (text == "error") *out = Level::kError;
  else return false;
  return true;
}

bool Enabled(Level level) { return Logger().should_log(ToSpd(level)); }

void Write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  auto& l = Logger();
  auto spd = ToSpd(level);
  if (!l.should_log(spd)) return;
  l.log(spd, "{}", Render(g_format.load(), message, fields));
}

}  // namespace berth::log
