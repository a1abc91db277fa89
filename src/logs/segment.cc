#include "logs/segment.h"

#include <openssl/crypto.h>

#include <charconv>

#include "crypto/aes_gcm.h"

namespace berth::logs::segment {

namespace {

constexpr char kFormat = 0x01;

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view in, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && pos < in.size(); shift += 7) {
    auto byte = static_cast<uint8_t>(in[pos++]);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

Error Corrupt() { return Error{"InternalFailure", "a stored log segment does not decode", 500}; }

template <class TimestampAt, class MessageAt>
std::string EncodeWith(uint32_t base, size_t count, TimestampAt ts, MessageAt msg) {
  size_t bytes = 16;
  for (size_t i = 0; i < count; ++i) bytes += msg(i).size() + 12;
  std::string out;
  out.reserve(bytes);
  PutVarint(out, base);
  PutVarint(out, count);
  int64_t previous = 0;
  for (size_t i = 0; i < count; ++i) {
    PutVarint(out, ZigZag(ts(i) - previous));
    previous = ts(i);
    std::string_view m = msg(i);
    PutVarint(out, m.size());
    out.append(m);
  }
  return out;
}

Status Decode(Events& out) {
  std::string_view in = out.plaintext;
  size_t pos = 0;
  uint64_t base = 0, count = 0;
  if (!GetVarint(in, pos, base) || !GetVarint(in, pos, count) || base > UINT32_MAX ||
      count > in.size()) {
    return std::unexpected(Corrupt());
  }
  out.base = static_cast<uint32_t>(base);
  out.timestamps.reserve(count);
  out.messages.reserve(count);
  int64_t previous = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t delta = 0, length = 0;
    if (!GetVarint(in, pos, delta) || !GetVarint(in, pos, length) || length > in.size() - pos) {
      return std::unexpected(Corrupt());
    }
    previous += UnZigZag(delta);
    out.timestamps.push_back(previous);
    out.messages.push_back(in.substr(pos, length));
    pos += length;
  }
  if (pos != in.size()) return std::unexpected(Corrupt());
  return {};
}

bool ParseInt(std::string_view& in, int64_t& v) {
  while (!in.empty() && in.front() == ' ') in.remove_prefix(1);
  auto [end, ec] = std::from_chars(in.data(), in.data() + in.size(), v);
  if (ec != std::errc() || end == in.data()) return false;
  in.remove_prefix(static_cast<size_t>(end - in.data()));
  return true;
}

}  // namespace

Events::~Events() { OPENSSL_cleanse(plaintext.data(), plaintext.size()); }

std::string Encode(uint32_t base, std::span<const InputEvent> events) {
  return EncodeWith(
      base, events.size(), [&](size_t i) { return events[i].timestamp; },
      [&](size_t i) { return std::string_view(events[i].message); });
}

std::string Encode(uint32_t base, std::span<const int64_t> timestamps,
                   std::span<const std::string_view> messages) {
  return EncodeWith(
      base, timestamps.size(), [&](size_t i) { return timestamps[i]; },
      [&](size_t i) { return messages[i]; });
}

Result<std::string> Seal(const DataKey& key, std::string_view plaintext, std::string_view aad) {
  std::string sealed = BERTH_TRY(crypto::AesGcmSeal(key.bytes(), plaintext, aad));
  sealed.insert(sealed.begin(), kFormat);
  return sealed;
}

Status Open(const DataKey& key, std::string_view stored, std::string_view aad, Events& out) {
  if (stored.empty() || stored.front() != kFormat) return std::unexpected(Corrupt());
  auto opened = crypto::AesGcmOpen(key.bytes(), stored.substr(1), aad);
  if (!opened) return std::unexpected(Corrupt());
  out.plaintext = std::move(*opened);
  return Decode(out);
}

std::string EncodeSummary(const Summary& s) {
  return "1 " + std::to_string(s.first) + " " + std::to_string(s.last) + " " +
         std::to_string(s.ingestion) + " " + std::to_string(s.base) + " " +
         std::to_string(s.count) + " " + std::to_string(s.bytes);
}

bool DecodeSummary(std::string_view value, Summary& out) {
  int64_t format = 0, base = 0, count = 0;
  if (!ParseInt(value, format) || format != 1) return false;
  if (!ParseInt(value, out.first) || !ParseInt(value, out.last) ||
      !ParseInt(value, out.ingestion) || !ParseInt(value, base) || !ParseInt(value, count) ||
      !ParseInt(value, out.bytes)) {
    return false;
  }
  if (base < 0 || base > UINT32_MAX || count < 0 || count > UINT32_MAX || !value.empty()) {
    return false;
  }
  out.base = static_cast<uint32_t>(base);
  out.count = static_cast<uint32_t>(count);
  return true;
}

}  // namespace berth::logs::segment
