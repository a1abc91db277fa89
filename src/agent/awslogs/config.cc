// ConfigFromOptions (shipper.h): the awslogs options Docker's driver validates, with its
// messages where it has them (moby daemon/logger/awslogs/cloudwatchlogs.go ValidateLogOpt).
#include <fmt/format.h>

#include <cctype>
#include <map>
#include <set>

#include "agent/awslogs/multiline.h"
#include "agent/awslogs/shipper.h"
#include "common/strings.h"

namespace berth::agent::awslogs {

namespace {

std::unexpected<Error> Invalid(std::string message) {
  return Fail("InvalidParameterException", std::move(message));
}

// Every option Docker's awslogs driver knows (and the two generic ones, mode and
// max-buffer-size). Those berth does not act on (EMF format, the credentials endpoint the ECS
// agent adds, awslogs-max-buffered-events) are accepted and ignored.
const std::set<std::string, std::less<>>& KnownOptions() {
  static const std::set<std::string, std::less<>> known = {
      "awslogs-group",          "awslogs-region",
      "awslogs-stream",         "awslogs-stream-prefix",
      "awslogs-create-group",   "awslogs-create-stream",
      "awslogs-endpoint",       "awslogs-credentials-endpoint",
      "awslogs-datetime-format", "awslogs-multiline-pattern",
      "awslogs-force-flush-interval-seconds", "awslogs-max-buffered-events",
      "awslogs-format",         "mode",
      "max-buffer-size"};
  return known;
}

// Go's strconv.ParseBool, which Docker uses for awslogs-create-group.
std::optional<bool> ParseBool(std::string_view text) {
  static const std::set<std::string_view> yes = {"1", "t", "T", "TRUE", "true", "True"};
  static const std::set<std::string_view> no = {"0", "f", "F", "FALSE", "false", "False"};
  if (yes.contains(text)) return true;
  if (no.contains(text)) return false;
  return std::nullopt;
}

// Docker's units.RAMInBytes: an integer, then an optional unit k/m/g/t (powers of 1024, any
// case), optionally followed by "i" and/or "b" ("10m", "512k", "1g", "4096", "64KiB").
std::optional<size_t> ParseSize(std::string_view text) {
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    value = value * 10 + uint64_t(text[i] - '0');
    if (value > (uint64_t(1) << 50)) return std::nullopt;
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string unit = ToLower(text.substr(i));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  if (!unit.empty() && unit.back() == 'i') unit.pop_back();
  static const std::map<std::string, int> shifts = {{"", 0}, {"k", 10}, {"m", 20},
                                                    {"g", 30}, {"t", 40}};
  auto it = shifts.find(unit);
  if (it == shifts.end()) return std::nullopt;
  return size_t(value << it->second);
}

// Docker's table: each strftime code of awslogs-datetime-format as a regular expression; any
// other text of the format is part of the expression as it is.
std::string DatetimeRegex(std::string_view format) {
  static const std::map<char, std::string_view> codes = {
      {'a', R"((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun))"},
      {'A', R"((?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday))"},
      {'w', R"([0-6])"},
      {'d', R"((?:0[1-9]|[1,2][0-9]|3[0,1]))"},
      {'b', R"((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec))"},
      {'B', R"((?:January|February|March|April|May|June|July|August|September|October|November|December))"},
      {'m', R"((?:0[1-9]|1[0-2]))"},
      {'Y', R"(\d{4})"},
      {'y', R"(\d{2})"},
      {'H', R"((?:[0,1][0-9]|2[0-3]))"},
      {'I', R"((?:0[0-9]|1[0-2]))"},
      {'p', R"([A,P]M)"},
      {'M', R"([0-5][0-9])"},
      {'S', R"([0-5][0-9])"},
      {'f', R"(\d{6})"},
      {'z', R"([+-]\d{4})"},
      {'Z', R"([A-Z]{1,4}T)"},
      {'j', R"((?:0[0-9][1-9]|[1,2][0-9][0-9]|3[0-5][0-9]|36[0-6]))"},
      {'L', R"(\.\d{3})"},
  };
  std::string out;  // not anchored: Docker's driver searches the line for it
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] == '%' && i + 1 < format.size()) {
      auto it = codes.find(format[i + 1]);
      if (it != codes.end()) out += it->second;  // an unknown code matches nothing, as Docker's
      ++i;
      continue;
    }
    out += format[i];
  }
  return out;
}

}  // namespace

Result<Config> ConfigFromOptions(const std::map<std::string, std::string>& options,
                                 std::string_view container_name, std::string_view task_id,
                                 std::string_view runtime_id, std::string_view default_endpoint,
                                 std::string_view default_ca_file) {
  for (const auto& [key, value] : options) {
    if (key.starts_with("awslogs-") && !KnownOptions().contains(key)) {
      return Invalid(fmt::format("unknown log opt '{}' for awslogs log driver", key));
    }
  }
  auto get = [&](const char* key) -> std::string {
    auto it = options.find(key);
    return it == options.end() ? "" : it->second;
  };
  Config config;
  config.group = get("awslogs-group");
  if (config.group.empty()) return Invalid("must specify a value for log opt 'awslogs-group'");
  config.region = get("awslogs-region");
  if (config.region.empty()) return Invalid("must specify a value for log opt 'awslogs-region'");
  if (!get("awslogs-datetime-format").empty() && !get("awslogs-multiline-pattern").empty()) {
    return Invalid(
        "you cannot configure log opt 'awslogs-datetime-format' and "
        "'awslogs-multiline-pattern' at the same time");
  }
  if (std::string stream = get("awslogs-stream"); !stream.empty()) {
    config.stream = stream;
  } else if (std::string prefix = get("awslogs-stream-prefix"); !prefix.empty()) {
    config.stream = fmt::format("{}/{}/{}", prefix, container_name, task_id);
  } else {
    config.stream = std::string(runtime_id);
  }
  if (options.contains("awslogs-create-group")) {
    auto create = ParseBool(get("awslogs-create-group"));
    if (!create) {
      return Invalid(fmt::format("invalid value for log opt 'awslogs-create-group': '{}'",
                                 get("awslogs-create-group")));
    }
    config.create_group = *create;
  }
  std::string mode = get("mode");
  if (mode == "blocking") {
    config.blocking = true;
  } else if (!mode.empty() && mode != "non-blocking") {
    return Invalid(fmt::format(
        "invalid value for log opt 'mode': '{}' (blocking or non-blocking)", mode));
  }
  if (options.contains("max-buffer-size")) {
    if (config.blocking) {
      return Invalid("max-buffer-size option is only supported with 'mode=non-blocking'");
    }
    auto size = ParseSize(get("max-buffer-size"));
    if (!size || *size == 0) {
      return Invalid(fmt::format("invalid value for log opt 'max-buffer-size': '{}'",
                                 get("max-buffer-size")));
    }
    config.max_buffer_bytes = *size;
  }
  if (options.contains("awslogs-force-flush-interval-seconds")) {
    std::string text = get("awslogs-force-flush-interval-seconds");
    int seconds = 0;
    bool digits = !text.empty() && text.size() < 7;
    for (char ch : text) digits = digits && std::isdigit(static_cast<unsigned char>(ch));
    if (digits) seconds = std::stoi(text);
    if (seconds <= 0) {
      return Invalid(fmt::format(
          "must specify a positive integer for log opt "
          "'awslogs-force-flush-interval-seconds': {}",
          text));
    }
    config.flush_interval = std::chrono::seconds(seconds);
  }
  if (std::string format = get("awslogs-datetime-format"); !format.empty()) {
    config.multiline_pattern = DatetimeRegex(format);
  } else {
    config.multiline_pattern = get("awslogs-multiline-pattern");
  }
  if (!config.multiline_pattern.empty()) {
    if (auto compiled = MultilinePattern::Compile(config.multiline_pattern); !compiled) {
      return Invalid(fmt::format("awslogs could not parse multiline pattern key \"{}\": {}",
                                 config.multiline_pattern, compiled.error().message));
    }
  }
  std::string endpoint = get("awslogs-endpoint");
  config.endpoint = endpoint.empty() ? std::string(default_endpoint) : endpoint;
  config.ca_file = std::string(default_ca_file);
  return config;
}

}  // namespace berth::agent::awslogs
