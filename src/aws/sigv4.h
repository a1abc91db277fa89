// AWS Signature Version 4: verification (server) and signing (agent, tests).
//
// Only the header form (Authorization: AWS4-HMAC-SHA256 ...) is accepted.
// The payload hash is always computed from the body by the verifier, as AWS
// does for non-S3 services. See
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "aws/identity.h"
#include "common/clock.h"
#include "common/error.h"
#include "http/message.h"

namespace berth::aws {

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::chrono::minutes kMaxClockSkew{15};

// The parts of an Authorization header.
struct Authorization {
  std::string access_key_id;
  std::string date;     // yyyymmdd of the credential scope
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;  // lower-case, as listed
  std::string signature;                    // 64 lower-case hex

  std::string Scope() const;  // date/region/service/aws4_request
};

// Parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
// Errors: IncompleteSignatureException naming what is missing or malformed.
Result<Authorization> ParseAuthorization(std::string_view header);

// The canonical request of SigV4 step 1. `path` and `query` are as they
// appear on the wire (still percent-encoded); `headers` are all the request's
// headers, of which those in `signed_headers` are used.
std::string CanonicalRequest(std::string_view method, std::string_view path,
                             std::string_view query, const std::vector<http::Header>& headers,
                             const std::vector<std::string>& signed_headers,
                             std::string_view payload_sha256_hex);

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// kSigning = HMAC chain over date, region, service, "aws4_request".
std::string SigningKey(std::string_view secret_access_key, std::string_view date,
                       std::string_view region, std::string_view service);

// Hex signature of `string_to_sign` with `signing_key`.
std::string Signature(std::string_view signing_key, std::string_view string_to_sign);

struct VerifiedRequest {
  Principal principal;
  std::string region;   // from the credential scope
  std::string service;  // signing name from the credential scope
};

// Checks a request's signature. Errors (JSON protocol codes; the protocol
// layer renames them for Query): MissingAuthenticationTokenException,
// IncompleteSignatureException, InvalidSignatureException (bad signature,
// "Signature expired", scope/date mismatch, a scope region that is not shaped
// like an AWS region (IsRegionName of common/arn.h: "us-east-1"; the region is
// copied into the ARNs a request creates, so "us-east-1:222233334444" would
// forge another account's ARNs, and a region ParseArn refuses would make
// resources whose ARNs berth itself cannot read back), and
// "'<name>' must be a 'SignedHeader'" when Host or any x-amz-* header present in
// the request is not signed: otherwise a signature over DescribeSecret could be
// replayed with X-Amz-Target GetSecretValue, or with another session token),
// plus whatever `resolver` returns.
Result<VerifiedRequest> Verify(const http::Request& request, CredentialResolver& resolver,
                               TimePoint now);


// Signs a request in place the way botocore does: sets X-Amz-Date (and
// X-Amz-Security-Token) and Authorization, signing host, x-amz-date,
// x-amz-target/content-type when present, and the session token.
// `host` is the Host header value the request will carry.
void Sign(http::Request& request, std::string_view host, const Credentials& credentials,
          std::string_view region, std::string_view service, TimePoint now);

}  // namespace berth::aws
