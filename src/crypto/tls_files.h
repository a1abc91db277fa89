// The TLS material `berth up` keeps in its data directory: an authority it
// creates on first start and a server certificate that authority signs for
// the names the server is reached by. Clients trust the authority's
// certificate (AWS_CA_BUNDLE); the server certificate is reissued whenever
// the names change, without disturbing them.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace berth::crypto {

struct TlsFiles {
  std::string ca_file;    // DIR/ca.pem: the bundle clients trust
  std::string cert_file;  // DIR/server.pem
  std::string key_file;   // DIR/server.key, mode 0600
  bool ca_created = false;
  bool cert_issued = false;
};

// A certificate (the authority's or the server's) is replaced when it expires
// within this long.
inline constexpr std::chrono::hours kRenewBefore{24 * 30};

// Makes sure `dir` (created 0700 when missing) holds a usable authority
// (ca.pem, and ca.key mode 0600) and a server certificate it signed for every
// one of `names` (server.pem, server.key mode 0600), valid for at least
// kRenewBefore after `now`; creates or reissues what is missing or does not
// fit (a new authority means a new server certificate). Files are written
// atomically (common/file.h).
Result<TlsFiles> EnsureTlsFiles(const std::string& dir, const std::vector<std::string>& names,
                                TimePoint now);

}  // namespace berth::crypto
