// Cryptographically secure randomness (OpenSSL RAND_bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/ids.h"

namespace berth::crypto {

// Fills `out` with `n` secure random bytes; aborts if the CSPRNG fails (it
// cannot continue safely).
void RandomBytes(uint8_t* out, size_t n);
std::string RandomString(size_t n);

// The production Ids: every id drawn from RandomBytes. Thread-safe.
Ids& SecureIds();

}  // namespace berth::crypto
