#include "crypto/certificates.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

namespace berth::crypto {

namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

// An InternalFailure naming `what` and OpenSSL's most recent error.
std::unexpected<Error> OpenSslFailure(std::string_view what) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  char text[256] = "unknown error";
  if (code) ERR_error_string_n(code, text, sizeof text);
  return InternalFailure(fmt::format("{}: {}", what, text));
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

X509Ptr ReadCertificate(const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  return cert;
}

KeyPtr ReadKey(const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  KeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  return key;
}

// The bytes a memory BIO holds.
std::string Drain(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

Result<PemCertificate> ToPem(X509* cert, EVP_PKEY* key) {
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslFailure("cannot encode certificate");
  }
  return PemCertificate{Drain(cert_bio.get()), Drain(key_bio.get())};
}

time_t Seconds(TimePoint t) { return std::chrono::system_clock::to_time_t(t); }

// True when `cert` is valid at `at`.
bool ValidAt(X509* cert, TimePoint at) {
  time_t t = Seconds(at);
  return X509_cmp_time(X509_get0_notBefore(cert), &t) < 0 &&
         X509_cmp_time(X509_get0_notAfter(cert), &t) > 0;
}

// A certificate for `key` with a random serial, subject CN=`common_name`,
// O=berth, valid from an hour before `now` for `validity`; issuer and
// extensions are the caller's.
Result<X509Ptr> NewCertificate(EVP_PKEY* key, const std::string& common_name, TimePoint now,
                               std::chrono::seconds validity) {
  X509Ptr cert(X509_new());
  BnPtr serial(BN_new());
  if (!cert || !serial || X509_set_version(cert.get(), 2) != 1 ||
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ||
      !ASN1_TIME_set(X509_getm_notBefore(cert.get()), Seconds(now - std::chrono::hours(1))) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()), Seconds(now + validity)) ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslFailure("cannot build certificate");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto add = [&](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.data()),
                                      static_cast<int>(value.size()), -1, 0) == 1;
  };
  if (!add("O", "berth") || !add("CN", common_name.substr(0, 64))) {
    return OpenSslFailure("cannot name certificate");
  }
  return cert;
}

// Adds the extension `nid` = `value` (OpenSSL's configuration syntax), with
// `issuer` and `subject` for the key identifiers.
bool AddExtension(X509* issuer, X509* subject, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, subject, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(subject, ext.get(), -1) == 1;
}

bool IsDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '*';
    if (!ok) return false;
  }
  return true;
}

// The subject alternative names for `names`; nullopt when one is neither an
// IP address nor a DNS name.
Result<NamesPtr> AlternativeNames(const std::vector<std::string>& names) {
  NamesPtr list(sk_GENERAL_NAME_new_null());
  if (!list) return OpenSslFailure("cannot build subject alternative names");
  for (const std::string& name : names) {
    GENERAL_NAME* general = nullptr;
    if (ASN1_OCTET_STRING* ip = a2i_IPADDRESS(name.c_str())) {
      general = GENERAL_NAME_new();
      if (general) GENERAL_NAME_set0_value(general, GEN_IPADD, ip);
      else ASN1_OCTET_STRING_free(ip);
    } else if (IsDnsName(name)) {
      ERR_clear_error();
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      if (dns && ASN1_STRING_set(dns, name.data(), static_cast<int>(name.size())) == 1) {
        general = GENERAL_NAME_new();
        if (general) GENERAL_NAME_set0_value(general, GEN_DNS, dns);
      }
      if (!general) ASN1_IA5STRING_free(dns);
    } else {
      ERR_clear_error();
      return Fail("InvalidParameterException",
                  fmt::format("'{}' is neither an IP address nor a DNS name", name));
    }
    if (!general || sk_GENERAL_NAME_push(list.get(), general) == 0) {
      GENERAL_NAME_free(general);
      return OpenSslFailure("cannot build subject alternative names");
    }
  }
  return list;
}

std::string IpText(const ASN1_OCTET_STRING* ip) {
  char text[INET6_ADDRSTRLEN] = "";
  int family = ip->length == 4 ? AF_INET : ip->length == 16 ? AF_INET6 : 0;
  if (!family || !inet_ntop(family, ip->data, text, sizeof text)) return {};
  return text;
}

std::vector<std::string> NamesOf(X509* cert) {
  std::vector<std::string> out;
  NamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                       static_cast<size_t>(ASN1_STRING_length(dns)));
    } else if (name->type == GEN_IPADD) {
      out.push_back(IpText(name->d.iPAddress));
    }
  }
  return out;
}

}  // namespace

Result<PemCertificate> CreateCertificateAuthority(const std::string& common_name, TimePoint now,
                                                  std::chrono::seconds validity) {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslFailure("cannot generate key");
  X509Ptr cert = BERTH_TRY(NewCertificate(key.get(), common_name, now, validity));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1 ||
      !AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash") ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return OpenSslFailure("cannot create certificate authority");
  }
  return ToPem(cert.get(), key.get());
}

Result<PemCertificate> IssueServerCertificate(const PemCertificate& ca,
                                              const std::vector<std::string>& names, TimePoint now,
                                              std::chrono::seconds validity) {
  if (names.empty()) {
    return Fail("InvalidParameterException", "a server certificate needs at least one name");
  }
  NamesPtr alternative = BERTH_TRY(AlternativeNames(names));
  X509Ptr ca_cert = ReadCertificate(ca.certificate);
  KeyPtr ca_key = ReadKey(ca.key);
  if (!ca_cert || !ca_key) {
    return Fail("InvalidParameterException", "the certificate authority is not PEM");
  }
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslFailure("cannot generate key");
  X509Ptr cert = BERTH_TRY(NewCertificate(key.get(), names.front(), now, validity));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1 ||
      !AddExtension(ca_cert.get(), cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(ca_cert.get(), cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !AddExtension(ca_cert.get(), cert.get(), NID_ext_key_usage, "serverAuth") ||
      !AddExtension(ca_cert.get(), cert.get(), NID_subject_key_identifier, "hash") ||
      !AddExtension(ca_cert.get(), cert.get(), NID_authority_key_identifier, "keyid:always") ||
      X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, alternative.get(), 0,
                        X509V3_ADD_DEFAULT) != 1 ||
      X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) {
    return OpenSslFailure("cannot issue server certificate");
  }
  return ToPem(cert.get(), key.get());
}

Result<std::vector<std::string>> CertificateNames(const std::string& certificate) {
  X509Ptr cert = ReadCertificate(certificate);
  if (!cert) return Fail("InvalidParameterException", "the certificate is not PEM");
  return NamesOf(cert.get());
}

bool ServerCertificateFits(const PemCertificate& server, const std::string& ca_certificate,
                           const std::vector<std::string>& names, TimePoint until) {
  X509Ptr cert = ReadCertificate(server.certificate);
  KeyPtr key = ReadKey(server.key);
  X509Ptr ca = ReadCertificate(ca_certificate);
  if (!cert || !key || !ca) return false;
  EVP_PKEY* ca_key = X509_get0_pubkey(ca.get());
  bool fits = X509_check_private_key(cert.get(), key.get()) == 1 && ca_key &&
              X509_verify(cert.get(), ca_key) == 1 &&
              X509_check_issued(ca.get(), cert.get()) == X509_V_OK && ValidAt(cert.get(), until);
  ERR_clear_error();
  if (!fits) return false;
  std::vector<std::string> held = NamesOf(cert.get());
  for (const std::string& name : names) {
    if (std::find(held.begin(), held.end(), name) == held.end()) return false;
  }
  return true;
}

bool CertificateAuthorityFits(const PemCertificate& ca, TimePoint until) {
  X509Ptr cert = ReadCertificate(ca.certificate);
  KeyPtr key = ReadKey(ca.key);
  bool fits = cert && key && X509_check_private_key(cert.get(), key.get()) == 1 &&
              X509_check_ca(cert.get()) != 0 && ValidAt(cert.get(), until);
  ERR_clear_error();
  return fits;
}

}  // namespace berth::crypto
