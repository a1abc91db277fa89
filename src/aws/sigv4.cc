#include "aws/sigv4.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "common/arn.h"
#include "common/strings.h"
#include "crypto/sha256.h"

namespace berth::aws {

namespace {

std::unexpected<Error> Incomplete(std::string message) {
  return Fail("IncompleteSignatureException", std::move(message));
}

std::unexpected<Error> BadSignature(std::string message) {
  return Fail("InvalidSignatureException", std::move(message));
}

// Header values: trimmed, runs of spaces collapsed to one.
std::string CanonicalValue(std::string_view v) {
  v = Trim(v);
  std::string out;
  out.reserve(v.size());
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// Removes "." and ".." segments and empty segments, keeping a trailing '/'.
std::string NormalizePath(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> segments;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view seg = path.substr(pos, slash - pos);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    pos = slash + 1;
  }
  std::string out;
  for (auto seg : segments) {
    out.push_back('/');
    out.append(seg);
  }
  if (out.empty() || path.back() == '/') out.push_back('/');
  return out;
}

std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(pos, amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view name = pair.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
      params.emplace_back(UriEncode(UriDecode(name, false)), UriEncode(UriDecode(value, false)));
    }
    pos = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

// Whether `name` (any case) is in the lower-case SignedHeaders list.
bool IsSigned(const Authorization& auth, std::string_view name) {
  for (const std::string& signed_name : auth.signed_headers) {
    if (EqualsIgnoreCase(signed_name, name)) return true;
  }
  return false;
}

bool IsAmzHeader(std::string_view name) {
  constexpr std::string_view kPrefix = "x-amz-";
  return name.size() > kPrefix.size() && EqualsIgnoreCase(name.substr(0, kPrefix.size()), kPrefix);
}

// The signing key depends only on the secret and the scope, which stay the
// same for a client's requests all day: keep the last one per thread and
// save four of the five HMACs of each verification.
const std::string& CachedSigningKey(const std::string& secret, const Authorization& auth);

}  // namespace

std::string Authorization::Scope() const {
  return fmt::format("{}/{}/{}/aws4_request", date, region, service);
}

Result<Authorization> ParseAuthorization(std::string_view header) {
  header = Trim(header);
  size_t space = header.find(' ');
  std::string_view algorithm = header.substr(0, space);
  if (algorithm != kAlgorithm) {
    return Incomplete(fmt::format("Unsupported AWS 'algorithm': '{}'. Use {}.",
                                  Utf8Prefix(algorithm, 64), kAlgorithm));
  }
  std::string_view rest = space == std::string_view::npos ? "" : header.substr(space + 1);
  std::map<std::string, std::string, std::less<>> fields;
  size_t pos = 0;
  while (pos < rest.size()) {
    size_t comma = rest.find(',', pos);
    if (comma == std::string_view::npos) comma = rest.size();
    std::string_view part = Trim(rest.substr(pos, comma - pos));
    size_t eq = part.find('=');
    if (eq != std::string_view::npos) {
      fields.emplace(std::string(Trim(part.substr(0, eq))), std::string(Trim(part.substr(eq + 1))));
    } else if (!part.empty()) {
      return Incomplete(
          fmt::format("'{}' not a valid key=value pair (missing equal-sign) in "
                      "Authorization header.",
                      Utf8Prefix(part, 64)));
    }
    pos = comma + 1;
  }
  std::string missing;
  for (std::string_view name : {"Credential", "SignedHeaders", "Signature"}) {
    if (!fields.contains(name)) {
      missing += fmt::format("Authorization header requires '{}' parameter. ", name);
    }
  }
  if (!missing.empty()) {
    missing.pop_back();
    return Incomplete(missing);
  }
  Authorization auth;
  // Credential=AKID/yyyymmdd/region/service/aws4_request
  std::string_view credential = fields.find("Credential")->second;
  std::vector<std::string_view> parts;
  for (size_t p = 0; p <= credential.size();) {
    size_t slash = credential.find('/', p);
    if (slash == std::string_view::npos) slash = credential.size();
    parts.push_back(credential.substr(p, slash - p));
    p = slash + 1;
  }
  if (parts.size() != 5 || parts[0].empty() || parts[1].size() != 8 || parts[2].empty() ||
      parts[3].empty() || parts[4] != "aws4_request") {
    return Incomplete(
        "Credential must have exactly 5 slash-delimited elements, e.g. "
        "keyid/date/region/service/term");
  }
  auth.access_key_id = parts[0];
  auth.date = parts[1];
  auth.region = parts[2];
  auth.service = parts[3];
  std::string_view signed_headers = fields.find("SignedHeaders")->second;
  for (size_t p = 0; p < signed_headers.size();) {
    size_t semi = signed_headers.find(';', p);
    if (semi == std::string_view::npos) semi = signed_headers.size();
    if (semi > p) auth.signed_headers.push_back(ToLower(signed_headers.substr(p, semi - p)));
    p = semi + 1;
  }
  if (auth.signed_headers.empty()) return Incomplete("SignedHeaders must not be empty.");
  auth.signature = fields.find("Signature")->second;
  if (auth.signature.size() != 64 ||
      !std::all_of(auth.signature.begin(), auth.signature.end(),
                   [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
    return Incomplete("Signature must be 64 lower-case hexadecimal characters.");
  }
  return auth;
}

std::string CanonicalRequest(std::string_view method, std::string_view path,
                             std::string_view query, const std::vector<http::Header>& headers,
                             const std::vector<std::string>& signed_headers,
                             std::string_view payload_sha256_hex) {
  std::vector<std::string> names = signed_headers;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string out;
  out.reserve(256);
  out.append(method);
  out.push_back('\n');
  out += UriEncode(NormalizePath(path), /*keep_slash=*/true);
  out.push_back('\n');
  out += CanonicalQuery(query);
  out.push_back('\n');
  for (const std::string& name : names) {
    out += name;
    out.push_back(':');
    bool first = true;
    for (const http::Header& h : headers) {
      if (!EqualsIgnoreCase(h.name, name)) continue;
      if (!first) out.push_back(',');
      out += CanonicalValue(h.value);
      first = false;
    }
    out.push_back('\n');
  }
  out.push_back('\n');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out.push_back(';');
    out += names[i];
  }
  out.push_back('\n');
  out.append(payload_sha256_hex);
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  return fmt::format("{}\n{}\n{}\n{}", kAlgorithm, amz_date, scope,
                     crypto::Sha256Hex(canonical_request));
}

std::string SigningKey(std::string_view secret_access_key, std::string_view date,
                       std::string_view region, std::string_view service) {
  std::string k = "AWS4";
  k.append(secret_access_key);
  auto k_date = crypto::HmacSha256(k, date);
  auto k_region = crypto::HmacSha256(crypto::AsBytes(k_date), region);
  auto k_service = crypto::HmacSha256(crypto::AsBytes(k_region), service);
  auto k_signing = crypto::HmacSha256(crypto::AsBytes(k_service), "aws4_request");
  return std::string(crypto::AsBytes(k_signing));
}

std::string Signature(std::string_view signing_key, std::string_view string_to_sign) {
  return HexEncode(crypto::AsBytes(crypto::HmacSha256(signing_key, string_to_sign)));
}

Result<VerifiedRequest> Verify(const http::Request& request, CredentialResolver& resolver,
                               TimePoint now) {
  const std::string* header = request.FindHeader("authorization");
  if (!header) {
    if (request.Query().find("X-Amz-Signature=") != std::string_view::npos) {
      return Incomplete("Query-string (presigned) authentication is not supported by berth.");
    }
    return Fail("MissingAuthenticationTokenException", "Missing Authentication Token", 403);
  }
  auto auth = BERTH_TRY(ParseAuthorization(*header));

  const std::string* amz_date = request.FindHeader("x-amz-date");
  if (!amz_date) {
    return Incomplete(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  TimePoint signed_at;
  if (!ParseAmzDate(*amz_date, &signed_at)) {
    return Incomplete(fmt::format("Date must be in ISO-8601 'basic format'. Got '{}'.",
                                  Utf8Prefix(*amz_date, 32)));
  }
  if (signed_at < now - kMaxClockSkew) {
    return BadSignature(fmt::format("Signature expired: {} is now earlier than {} ({} - 15 min.)",
                                    *amz_date, FormatAmzDate(now - kMaxClockSkew),
                                    FormatAmzDate(now)));
  }
  if (signed_at > now + kMaxClockSkew) {
    return BadSignature(fmt::format("Signature not yet current: {} is still later than {} ({} + 15 min.)",
                                    *amz_date, FormatAmzDate(now + kMaxClockSkew),
                                    FormatAmzDate(now)));
  }
  if (amz_date->substr(0, 8) != auth.date) {
    return BadSignature(fmt::format(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        "'{}' != '{}', from '{}'.",
        auth.date, amz_date->substr(0, 8), *amz_date));
  }
  if (!IsRegionName(auth.region)) {
    return BadSignature(fmt::format("Credential should be scoped to a valid region, not '{}'. ",
                                    Utf8Prefix(auth.region, 64)));
  }
  if (!IsSigned(auth, "host")) {
    return BadSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  for (const http::Header& h : request.headers) {
    if (IsAmzHeader(h.name) && !IsSigned(auth, h.name)) {
      return BadSignature(fmt::format("'{}' must be a 'SignedHeader' in the AWS Authorization.",
                                      Utf8Prefix(h.name, 64)));
    }
  }

  std::string_view token = request.HeaderOr("x-amz-security-token");
  auto secret = BERTH_TRY(resolver.Resolve(auth.access_key_id, token));

  std::string canonical =
      CanonicalRequest(request.method, request.Path(), request.Query(), request.headers,
                       auth.signed_headers, crypto::Sha256Hex(request.body));
  std::string to_sign = StringToSign(*amz_date, auth.Scope(), canonical);
  std::string expected = Signature(CachedSigningKey(secret.secret_access_key, auth), to_sign);
  if (!crypto::ConstantTimeEquals(expected, auth.signature)) {
    return BadSignature(
        "The request signature we calculated does not match the signature you provided. Check your "
        "AWS Secret Access Key and signing method. Consult the service documentation for details.");
  }
  return VerifiedRequest{std::move(secret.principal), auth.region, auth.service};
}

namespace {
const std::string& CachedSigningKey(const std::string& secret, const Authorization& auth) {
  thread_local struct {
    std::string secret, date, region, service, key;
  } last;
  if (last.key.empty() || last.secret != secret || last.date != auth.date ||
      last.region != auth.region || last.service != auth.service) {
    last.key = SigningKey(secret, auth.date, auth.region, auth.service);
    last.secret = secret;
    last.date = auth.date;
    last.region = auth.region;
    last.service = auth.service;
  }
  return last.key;
}
}  // namespace

void Sign(http::Request& request, std::string_view host, const Credentials& credentials,
          std::string_view region, std::string_view service, TimePoint now) {
  std::string amz_date = FormatAmzDate(now);
  auto set = [&](std::string name, std::string value) {
    for (auto& h : request.headers) {
      if (EqualsIgnoreCase(h.name, name)) {
        h.value = std::move(value);
        return;
      }
    }
    request.headers.push_back({std::move(name), std::move(value)});
  };
  set("Host", std::string(host));
  set("X-Amz-Date", amz_date);
  if (!credentials.session_token.empty()) set("X-Amz-Security-Token", credentials.session_token);
  std::vector<std::string> signed_headers;
  for (const auto& h : request.headers) {
    std::string name = ToLower(h.name);
    if (name == "host" || name == "content-type" || name.starts_with("x-amz-")) {
      signed_headers.push_back(name);
    }
  }
  std::sort(signed_headers.begin(), signed_headers.end());
  signed_headers.erase(std::unique(signed_headers.begin(), signed_headers.end()),
                       signed_headers.end());
  Authorization auth;
  auth.date = amz_date.substr(0, 8);
  auth.region = region;
  auth.service = service;
  std::string canonical = CanonicalRequest(request.method, request.Path(), request.Query(),
                                           request.headers, signed_headers,
                                           crypto::Sha256Hex(request.body));
  std::string signature =
      Signature(SigningKey(credentials.secret_access_key, auth.date, region, service),
                StringToSign(amz_date, auth.Scope(), canonical));
  std::string joined;
  for (size_t i = 0; i < signed_headers.size(); ++i) {
    if (i) joined.push_back(';');
    joined += signed_headers[i];
  }
  set("Authorization", fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", kAlgorithm,
                                   credentials.access_key_id, auth.Scope(), joined, signature));
}

}  // namespace berth::aws
