#include "secrets/password.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "secrets/validation.h"

namespace berth::secrets {

namespace {

// A uniform index below `n` from 32 random bits, by rejection sampling.
size_t UniformBelow(Ids& ids, size_t n) {
  const uint64_t range = uint64_t{1} << 32;
  const uint64_t limit = range - (range % n);
  for (;;) {
    uint8_t b[4];
    ids.Fill(b, 4);
    uint64_t v = (uint64_t{b[0]} << 24) | (uint64_t{b[1]} << 16) | (uint64_t{b[2]} << 8) | b[3];
    if (v < limit) return static_cast<size_t>(v % n);
  }
}

std::string Without(std::string_view chars, std::string_view excluded) {
  std::string out;
  for (char c : chars) {
    if (excluded.find(c) == std::string_view::npos) out.push_back(c);
  }
  return out;
}

}  // namespace

Result<std::string> GeneratePassword(const PasswordOptions& options, Ids& ids) {
  int64_t length = options.length.value_or(32);
  if (length < 1 || length > 4096) {
    return Invalid("passwordLength", std::to_string(length),
                   length < 1 ? "have value greater than or equal to 1"
                              : "have value less than or equal to 4096");
  }
  std::vector<std::string> types;
  auto add = [&](bool excluded, std::string_view chars) {
    if (excluded) return;
    std::string left = Without(chars, options.exclude_characters);
    if (!left.empty()) types.push_back(std::move(left));
  };
  add(options.exclude_lowercase, "abcdefghijklmnopqrstuvwxyz");
  add(options.exclude_uppercase, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
  add(options.exclude_numbers, "0123456789");
  add(options.exclude_punctuation, kPunctuation);
  add(!options.include_space, " ");
  if (types.empty()) {
    return Fail("InvalidParameterException",
                "The password cannot be generated: every character type is excluded.");
  }
  if (options.require_each_included_type && static_cast<size_t>(length) < types.size()) {
    return Fail("InvalidParameterException",
                "Password length is too short based on the required types.");
  }
  std::string all;
  for (const auto& t : types) all += t;
  // One character of each required type, the rest from all of them, then a
  // Fisher-Yates shuffle so the required ones land anywhere.
  std::string password;
  password.reserve(static_cast<size_t>(length));
  if (options.require_each_included_type) {
    for (const auto& t : types) password.push_back(t[UniformBelow(ids, t.size())]);
  }
  while (password.size() < static_cast<size_t>(length)) {
    password.push_back(all[UniformBelow(ids, all.size())]);
  }
  for (size_t i = password.size(); i > 1; --i) {
    std::swap(password[i - 1], password[UniformBelow(ids, i)]);
  }
  return password;
}

}  // namespace berth::secrets
