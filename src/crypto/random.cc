#include "crypto/random.h"

#include <openssl/rand.h>

#include <openssl/crypto.h>

#include <cstdlib>
#include <cstring>

namespace berth::crypto {

void RandomBytes(uint8_t* out, size_t n) {
  if (n && RAND_bytes(out, static_cast<int>(n)) != 1) std::abort();
}

std::string RandomString(size_t n) {
  std::string out(n, '\0');
  RandomBytes(reinterpret_cast<uint8_t*>(out.data()), n);
  return out;
}

namespace {
// Ids are drawn on every request (request ids): serve them from a per-thread
// buffer refilled from the CSPRNG, instead of one RAND_bytes call each.
class RandomIds final : public Ids {
 public:
  void Fill(uint8_t* out, size_t n) override {
    thread_local struct Buffer {
      uint8_t bytes[4096];
      size_t used = sizeof bytes;
      ~Buffer() { OPENSSL_cleanse(bytes, sizeof bytes); }
    } buf;
    if (n > sizeof buf.bytes / 4) return RandomBytes(out, n);
    if (buf.used + n > sizeof buf.bytes) {
      RandomBytes(buf.bytes, sizeof buf.bytes);
      buf.used = 0;
    }
    std::memcpy(out, buf.bytes + buf.used, n);
    OPENSSL_cleanse(buf.bytes + buf.used, n);  // never hand the same bytes out twice
    buf.used += n;
  }
};
}  // namespace

Ids& SecureIds() {
  static RandomIds ids;
  return ids;
}

}  // namespace berth::crypto
