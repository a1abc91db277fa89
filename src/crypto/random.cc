#include "crypto/random.h"

#include <openssl/rand.h>

#include <cstdlib>

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
class RandomIds final : public Ids {
 public:
  void Fill(uint8_t* out, size_t n) override { RandomBytes(out, n); }
};
}  // namespace

Ids& SecureIds() {
  static RandomIds ids;
  return ids;
}

}  // namespace berth::crypto
