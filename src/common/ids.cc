#include "common/ids.h"

#include <string_view>
#include <vector>

namespace berth {

namespace {
std::string FromAlphabet(Ids& ids, std::string_view alphabet, size_t length) {
  std::vector<uint8_t> bytes(length);
  ids.Fill(bytes.data(), bytes.size());
  std::string out;
  out.reserve(length);
  // Alphabets here have at most 64 symbols; rejection sampling keeps it unbiased.
  const unsigned limit = 256 - (256 % alphabet.size());
  for (size_t i = 0; out.size() < length; ++i) {
    if (i == bytes.size()) {
      ids.Fill(bytes.data(), bytes.size());
      i = 0;
    }
    if (bytes[i] >= limit) continue;
    out.push_back(alphabet[bytes[i] % alphabet.size()]);
  }
  return out;
}
}  // namespace

std::string Ids::Uuid() {
  uint8_t b[16];
  Fill(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 15]);
  }
  return out;
}

std::string Ids::UpperId(std::string_view prefix, size_t length) {
  std::string out(prefix);
  if (length > out.size()) out += FromAlphabet(*this, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", length - out.size());
  return out;
}

std::string Ids::SecretString(size_t length) {
  return FromAlphabet(*this, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                      length);
}

std::string Ids::Letters(size_t length) {
  return FromAlphabet(*this, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", length);
}

}  // namespace berth
