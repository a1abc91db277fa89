// The authorizer stage of the pull pipeline (DESIGN.md): answers a registry's
// 401 challenge with what it asks for.
//
//   WWW-Authenticate: Basic realm="..."
//     -> Authorization: Basic base64(username:password)
//   WWW-Authenticate: Bearer realm="https://auth/token",service="reg",scope="repository:a/b:pull"
//     -> GET realm?service=reg&scope=repository:a/b:pull (with Basic credentials
//        when there are any, anonymously otherwise; an identity token is sent as
//        an OAuth2 refresh_token POST instead), reply {"token"|"access_token",
//        "expires_in"} -> Authorization: Bearer <token>
//
// Tokens are cached per (registry, scope) until they expire. Headers are only
// ever handed out for the registry they belong to: callers must not attach them
// to requests to another origin (a blob redirect to object storage).
// Credentials and tokens are secrets: they are never logged or put in an Error.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/credentials/credential_source.h"
#include "agent/registry/transport.h"
#include "common/clock.h"
#include "common/error.h"

namespace berth::agent::registry {

// One challenge of a WWW-Authenticate header (RFC 7235).
struct Challenge {
  std::string scheme;                                       // lower case: "basic", "bearer", ...
  std::vector<std::pair<std::string, std::string>> params;  // names lower case, values unquoted

  // The value of parameter `name` (lower case), or "".
  std::string Param(std::string_view name) const;
};

// Parses a WWW-Authenticate value: one or more comma-separated challenges, each
// a scheme and comma-separated name=value or name="quoted, \"escaped\" value"
// parameters. What cannot be parsed is skipped; never fails.
std::vector<Challenge> ParseChallenges(std::string_view header_value);

// The token scope a pull from `repository` needs: "repository:<repository>:pull".
std::string PullScope(std::string_view repository);

// What registries asked for, remembered across pulls (an agent's): the scheme and, for
// Bearer, the challenge's realm, service and scope. No secret: credentials and tokens stay in
// each Authorizer. A pull with a memory sends its Basic credentials, or fetches its token,
// before its first request to a registry known to want them, instead of after a 401 (a round
// trip less per pull, and per re-check of a cached image). Thread-safe.
class ChallengeMemory {
 public:
  void Remember(std::string_view registry, const Challenge& challenge);
  std::optional<Challenge> Recall(std::string_view registry) const;
  void Forget(std::string_view registry);

 private:
  mutable std::mutex mu_;
  std::map<std::string, Challenge, std::less<>> challenges_;
};

// Thread-safe. One Authorizer serves one set of credentials (one pull): its
// token cache must not be shared with pulls that present other credentials.
class Authorizer {
 public:
  // `credentials`: nullopt to pull anonymously. `options` govern the token
  // requests (realms must be https unless their host is listed as insecure);
  // `retry` their retries. `clock` must outlive the Authorizer.
  // `memory` (null: none) must outlive the Authorizer.
  Authorizer(std::optional<credentials::RegistryCredentials> credentials, TransportOptions options,
             RetryPolicy retry = {}, const Clock& clock = SystemClock::Instance(),
             ChallengeMemory* memory = nullptr);
  ~Authorizer();
  Authorizer(const Authorizer&) = delete;
  Authorizer& operator=(const Authorizer&) = delete;

  bool has_credentials() const { return credentials_.has_value(); }

  // The Authorization header value for a request to `registry` (host[:port])
  // that needs `scope`, from what the registry's earlier challenges established
  // (this Authorizer's, else the memory's): the cached token (a new one is fetched
  // when it has expired or the scope is new), or Basic credentials. nullopt when
  // the registry has not challenged yet: send the request without one. A token
  // the remembered challenge cannot get is not an error: the challenge is
  // forgotten and nullopt returned, so the registry's 401 says what it wants now.
  // Errors as Answer's.
  Result<std::optional<std::string>> HeaderFor(std::string_view registry, std::string_view scope);

  // Answers the 401 `response` that `registry` gave a request needing `scope`
  // and sent with `rejected_authorization` ("" when it had none): the
  // challenges are parsed and what they ask for is obtained, so that HeaderFor
  // then returns the header to retry with. When a concurrent request has
  // meanwhile cached a different, unexpired token for (registry, scope), that
  // token is kept and nothing is fetched (parallel first requests cause one
  // token request, not one each); a token equal to the rejected one is dropped.
  // Retry once: a second 401 is final (see Unauthorized).
  // Errors: CannotPullContainerAuthError when credentials are required and there
  // are none (a Basic challenge, or a token server that refuses anonymous
  // requests); CannotPullContainerError when the token server refuses the
  // credentials (with its error code) or fails, or the challenge is missing,
  // malformed or of an unsupported scheme.
  Status Answer(std::string_view registry, std::string_view scope,
                const TransportResponse& response, std::string_view rejected_authorization);

  // The error for a request to `registry` that was still refused with 401
  // after Answer: CannotPullContainerAuthError without credentials, otherwise
  // CannotPullContainerError with the registry's reply (e.g. UNAUTHORIZED).
  Error Unauthorized(std::string_view what, std::string_view registry,
                     const TransportResponse& response) const;

 private:
  struct Token {
    std::string header;  // "Bearer <token>"
    TimePoint expires;
  };

  // Requires mu_. Fetches a token for `scope` from the bearer challenge remembered
  // for `registry` and caches it.
  Result<std::string> FetchToken(std::string_view registry, std::string_view scope);
  std::string BasicHeader() const;

  const std::optional<credentials::RegistryCredentials> credentials_;
  const RetryPolicy retry_;
  const Clock& clock_;
  ChallengeMemory* const memory_;

  std::mutex mu_;
  Transport transport_;                               // token requests; guarded by mu_
  std::map<std::string, Challenge> bearer_;           // registry -> its Bearer challenge
  std::set<std::string, std::less<>> basic_;          // registries that asked for Basic
  std::map<std::string, Token, std::less<>> tokens_;  // registry + '\n' + scope -> token
};

}  // namespace berth::agent::registry
