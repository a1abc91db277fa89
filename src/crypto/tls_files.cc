#include "crypto/tls_files.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "common/file.h"
#include "crypto/certificates.h"

namespace berth::crypto {

namespace {

// The certificate and key at `cert_path` and `key_path`; nullopt when either is missing.
Result<std::optional<PemCertificate>> ReadPair(const std::string& cert_path,
                                               const std::string& key_path) {
  std::optional<std::string> cert = BERTH_TRY(ReadSmallFile(cert_path));
  std::optional<std::string> key = BERTH_TRY(ReadSmallFile(key_path));
  if (!cert || !key) return std::nullopt;
  return PemCertificate{std::move(*cert), std::move(*key)};
}

// Writes the key first: a certificate on disk always has its key beside it.
Status WritePair(const PemCertificate& pair, const std::string& cert_path,
                 const std::string& key_path) {
  BERTH_CHECK(WriteFileAtomically(key_path, pair.key, 0600));
  BERTH_CHECK(WriteFileAtomically(cert_path, pair.certificate, 0644));
  return {};
}

}  // namespace

Result<TlsFiles> EnsureTlsFiles(const std::string& dir, const std::vector<std::string>& names,
                                TimePoint now) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return InternalFailure(fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
  }
  TlsFiles files{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key"};
  const std::string ca_key_file = dir + "/ca.key";
  TimePoint until = now + kRenewBefore;

  std::optional<PemCertificate> ca = BERTH_TRY(ReadPair(files.ca_file, ca_key_file));
  if (!ca || !CertificateAuthorityFits(*ca, until)) {
    ca = BERTH_TRY(CreateCertificateAuthority("berth local CA", now));
    BERTH_CHECK(WritePair(*ca, files.ca_file, ca_key_file));
    files.ca_created = true;
  }
  std::optional<PemCertificate> server = BERTH_TRY(ReadPair(files.cert_file, files.key_file));
  if (files.ca_created || !server ||
      !ServerCertificateFits(*server, ca->certificate, names, until)) {
    server = BERTH_TRY(IssueServerCertificate(*ca, names, now));
    BERTH_CHECK(WritePair(*server, files.cert_file, files.key_file));
    files.cert_issued = true;
  }
  return files;
}

}  // namespace berth::crypto
