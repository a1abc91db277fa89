#include "crypto/certificates.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "crypto/tls_files.h"
#include "testing/temp_dir.h"

namespace berth::crypto {
namespace {

using namespace std::chrono_literals;
using test_support::TempDir;

const TimePoint kNow = std::chrono::sys_days{std::chrono::year{2026} / 3 / 1};

X509* Parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return cert;
}

// What OpenSSL's own chain verification (strict, as a TLS client checks a
// server) says of `server` under `ca` at `at`, for the host or IP `name`.
int Verify(const std::string& ca, const std::string& server, TimePoint at,
           const std::string& name) {
  X509* ca_cert = Parse(ca);
  X509* cert = Parse(server);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca_cert);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT | X509_V_FLAG_USE_CHECK_TIME);
  X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(at));
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (!X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())) {
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
  }
  int result = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(cert);
  X509_free(ca_cert);
  return result;
}

const std::vector<std::string> kNames = {"10.1.2.3", "localhost", "127.0.0.1", "::1"};

TEST(CertificatesTest, AuthorityIsASelfSignedCa) {
  auto ca = CreateCertificateAuthority("berth test CA", kNow);
  ASSERT_TRUE(ca.has_value()) << ca.error().message;
  EXPECT_TRUE(ca->certificate.starts_with("-----BEGIN CERTIFICATE-----"));
  EXPECT_TRUE(ca->key.starts_with("-----BEGIN PRIVATE KEY-----"));
  X509* cert = Parse(ca->certificate);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_ca(cert), 1);
  EXPECT_EQ(X509_check_issued(cert, cert), X509_V_OK);
  EXPECT_EQ(X509_verify(cert, X509_get0_pubkey(cert)), 1);
  X509_free(cert);
  EXPECT_TRUE(CertificateAuthorityFits(*ca, kNow));
  EXPECT_FALSE(CertificateAuthorityFits(*ca, kNow + kCaValidity + 1h));
  EXPECT_FALSE(CertificateAuthorityFits(*ca, kNow - 2h));  // before notBefore
}

TEST(CertificatesTest, ServerCertificateVerifiesForEveryNameUnderItsCa) {
  auto ca = CreateCertificateAuthority("berth test CA", kNow);
  ASSERT_TRUE(ca.has_value());
  auto server = IssueServerCertificate(*ca, kNames, kNow);
  ASSERT_TRUE(server.has_value()) << server.error().message;
  EXPECT_EQ(CertificateNames(server->certificate).value(), kNames);
  for (const auto& name : kNames) {
    EXPECT_EQ(Verify(ca->certificate, server->certificate, kNow, name), X509_V_OK) << name;
  }
  EXPECT_EQ(Verify(ca->certificate, server->certificate, kNow, "10.9.9.9"),
            X509_V_ERR_IP_ADDRESS_MISMATCH);
  EXPECT_EQ(Verify(ca->certificate, server->certificate, kNow, "example.com"),
            X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(Verify(ca->certificate, server->certificate, kNow + kServerCertificateValidity + 1h,
                   "localhost"),
            X509_V_ERR_CERT_HAS_EXPIRED);
  auto other_ca = CreateCertificateAuthority("another CA", kNow);
  EXPECT_NE(Verify(other_ca->certificate, server->certificate, kNow, "localhost"), X509_V_OK);
}

TEST(CertificatesTest, FitsOnlyWithItsKeyItsCaItsNamesAndTime) {
  auto ca = CreateCertificateAuthority("berth test CA", kNow).value();
  auto server = IssueServerCertificate(ca, kNames, kNow).value();
  EXPECT_TRUE(ServerCertificateFits(server, ca.certificate, kNames, kNow));
  EXPECT_TRUE(ServerCertificateFits(server, ca.certificate, {"localhost"}, kNow));
  EXPECT_FALSE(ServerCertificateFits(server, ca.certificate, {"localhost", "10.9.9.9"}, kNow));
  EXPECT_FALSE(
      ServerCertificateFits(server, ca.certificate, kNames, kNow + kServerCertificateValidity));
  auto other_ca = CreateCertificateAuthority("another CA", kNow).value();
  EXPECT_FALSE(ServerCertificateFits(server, other_ca.certificate, kNames, kNow));
  auto other = IssueServerCertificate(ca, kNames, kNow).value();
  EXPECT_FALSE(ServerCertificateFits({server.certificate, other.key}, ca.certificate, kNames, kNow));
  EXPECT_FALSE(ServerCertificateFits({"junk", server.key}, ca.certificate, kNames, kNow));
  // A server certificate is no authority.
  EXPECT_FALSE(CertificateAuthorityFits(server, kNow));
}

TEST(CertificatesTest, RefusesNamesThatAreNeitherIpNorDns) {
  auto ca = CreateCertificateAuthority("berth test CA", kNow).value();
  auto bad = IssueServerCertificate(ca, {"localhost", "a,b=c"}, kNow);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, "InvalidParameterException");
  EXPECT_EQ(bad.error().message, "'a,b=c' is neither an IP address nor a DNS name");
  auto none = IssueServerCertificate(ca, {}, kNow);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().message, "a server certificate needs at least one name");
  auto junk = IssueServerCertificate({"junk", "junk"}, {"localhost"}, kNow);
  ASSERT_FALSE(junk.has_value());
  EXPECT_EQ(junk.error().message, "the certificate authority is not PEM");
  auto names = CertificateNames("junk");
  ASSERT_FALSE(names.has_value());
  EXPECT_EQ(names.error().code, "InvalidParameterException");
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t Mode(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

TEST(TlsFilesTest, CreatesOnceThenReusesAndReissuesForNewNames) {
  TempDir tmp;
  std::string dir = tmp.File("tls");
  auto first = EnsureTlsFiles(dir, kNames, kNow);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_TRUE(first->ca_created);
  EXPECT_TRUE(first->cert_issued);
  EXPECT_EQ(first->ca_file, dir + "/ca.pem");
  EXPECT_EQ(first->cert_file, dir + "/server.pem");
  EXPECT_EQ(first->key_file, dir + "/server.key");
  EXPECT_EQ(Mode(dir), 0700u);
  EXPECT_EQ(Mode(dir + "/ca.key"), 0600u);
  EXPECT_EQ(Mode(dir + "/server.key"), 0600u);
  EXPECT_EQ(Mode(dir + "/ca.pem"), 0644u);
  std::string ca = Slurp(first->ca_file);
  std::string cert = Slurp(first->cert_file);
  EXPECT_EQ(Verify(ca, cert, kNow, "10.1.2.3"), X509_V_OK);

  // A later start with the same names changes nothing.
  auto again = EnsureTlsFiles(dir, kNames, kNow + 24h);
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->ca_created);
  EXPECT_FALSE(again->cert_issued);
  EXPECT_EQ(Slurp(first->ca_file), ca);
  EXPECT_EQ(Slurp(first->cert_file), cert);

  // Another listen address: a new server certificate under the same authority.
  auto moved = EnsureTlsFiles(dir, {"10.7.7.7", "localhost", "127.0.0.1"}, kNow);
  ASSERT_TRUE(moved.has_value());
  EXPECT_FALSE(moved->ca_created);
  EXPECT_TRUE(moved->cert_issued);
  EXPECT_EQ(Slurp(dir + "/ca.pem"), ca);
  std::string moved_cert = Slurp(dir + "/server.pem");
  EXPECT_EQ(CertificateNames(moved_cert).value(),
            (std::vector<std::string>{"10.7.7.7", "localhost", "127.0.0.1"}));
  EXPECT_EQ(Verify(ca, moved_cert, kNow, "10.7.7.7"), X509_V_OK);
}

TEST(TlsFilesTest, RenewsBeforeExpiryAndReplacesABrokenAuthority) {
  TempDir tmp;
  std::string dir = tmp.File("tls");
  ASSERT_TRUE(EnsureTlsFiles(dir, kNames, kNow).has_value());
  std::string ca = Slurp(dir + "/ca.pem");
  auto late = EnsureTlsFiles(dir, kNames, kNow + kServerCertificateValidity - kRenewBefore + 1h);
  ASSERT_TRUE(late.has_value());
  EXPECT_FALSE(late->ca_created);
  EXPECT_TRUE(late->cert_issued);

  std::ofstream(dir + "/ca.key") << "not a key";
  auto broken = EnsureTlsFiles(dir, kNames, kNow);
  ASSERT_TRUE(broken.has_value());
  EXPECT_TRUE(broken->ca_created);
  EXPECT_TRUE(broken->cert_issued);
  EXPECT_NE(Slurp(dir + "/ca.pem"), ca);
  EXPECT_EQ(Mode(dir + "/ca.key"), 0600u);
  EXPECT_EQ(Verify(Slurp(dir + "/ca.pem"), Slurp(dir + "/server.pem"), kNow, "::1"), X509_V_OK);
}

}  // namespace
}  // namespace berth::crypto
