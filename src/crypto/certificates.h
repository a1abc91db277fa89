// X.509 certificates for serving TLS without a public CA (OpenSSL's C API):
// a self-signed certificate authority, server certificates it signs, and the
// checks that decide whether a certificate kept on disk can be served again.
// Keys are ECDSA P-256; signatures SHA-256; serial numbers random 128-bit.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace berth::crypto {

// A certificate and its private key, both PEM-encoded (the key unencrypted,
// PKCS#8: it must be stored where only its owner can read it).
struct PemCertificate {
  std::string certificate;
  std::string key;
};

// How long a new authority and a new server certificate are valid (825 days is
// the most Apple's TLS clients accept for a server certificate).
inline constexpr std::chrono::hours kCaValidity{24 * 3650};
inline constexpr std::chrono::hours kServerCertificateValidity{24 * 825};

// A self-signed authority named `common_name`: CA:TRUE with path length 0 (it
// signs server certificates only), key usage keyCertSign and cRLSign, valid
// from an hour before `now` (clock skew) for `validity`.
Result<PemCertificate> CreateCertificateAuthority(
    const std::string& common_name, TimePoint now,
    std::chrono::seconds validity = kCaValidity);

// A server certificate signed by `ca` for `names`: IP literals ("127.0.0.1",
// "::1") become IP subject alternative names, anything else DNS names. The
// subject's CN is names[0]; CA:FALSE, digitalSignature, extended key usage
// serverAuth; valid from an hour before `now` for `validity`. Fails with
// "InvalidParameterException" when `names` is empty or a name is not an IP
// address or a DNS name (letters, digits, '-', '.', '*').
Result<PemCertificate> IssueServerCertificate(
    const PemCertificate& ca, const std::vector<std::string>& names, TimePoint now,
    std::chrono::seconds validity = kServerCertificateValidity);

// The subject alternative names of a PEM certificate, in order, IP addresses
// in their usual text form ("127.0.0.1", "::1"). Fails
// ("InvalidParameterException") when `certificate` is not a PEM certificate.
Result<std::vector<std::string>> CertificateNames(const std::string& certificate);

// Whether `server` can be served as is: its key matches its certificate, the
// certificate was signed by `ca_certificate`, names every one of `names`, and
// is still valid at `until` (callers pass now plus a margin, so a certificate
// is replaced before it expires). False, not an error, for unreadable PEM.
bool ServerCertificateFits(const PemCertificate& server, const std::string& ca_certificate,
                           const std::vector<std::string>& names, TimePoint until);

// Whether `ca` (certificate and key) is a usable authority: the key matches,
// it is a CA, and it is valid at `until`. False for unreadable PEM.
bool CertificateAuthorityFits(const PemCertificate& ca, TimePoint until);

}  // namespace berth::crypto
