#include "agent/registry/authorizer.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "agent/registry/errors.h"
#include "agent/registry/fake_registry.h"
#include "common/strings.h"
#include "http/server.h"

namespace berth::agent::registry {
namespace {

using testing::FakeRegistry;
using namespace std::chrono_literals;

// --- ParseChallenges ---------------------------------------------------------------

TEST(ParseChallengesTest, Basic) {
  std::vector<Challenge> got = ParseChallenges(R"(Basic realm="Registry Realm")");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].scheme, "basic");
  EXPECT_EQ(got[0].Param("realm"), "Registry Realm");
}

TEST(ParseChallengesTest, BearerWithQuotedCommasAndSeveralScopes) {
  std::vector<Challenge> got = ParseChallenges(
      R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",)"
      R"(scope="repository:team/app:pull,push repository:team/base:pull",)"
      R"(error="insufficient_scope")");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].scheme, "bearer");
  EXPECT_EQ(got[0].Param("realm"), "https://auth.example.com/token");
  EXPECT_EQ(got[0].Param("service"), "registry.example.com");
  EXPECT_EQ(got[0].Param("scope"), "repository:team/app:pull,push repository:team/base:pull");
  EXPECT_EQ(got[0].Param("error"), "insufficient_scope");
}

TEST(ParseChallengesTest, SchemesAndNamesAreCaseInsensitiveValuesUnquoted) {
  std::vector<Challenge> got =
      ParseChallenges(R"(BEARER Realm = "a\"b\\c" , Service=plain-token,  , Basic realm=x)");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].scheme, "bearer");
  EXPECT_EQ(got[0].Param("realm"), R"(a"b\c)");
  EXPECT_EQ(got[0].Param("service"), "plain-token");
  EXPECT_EQ(got[1].scheme, "basic");
  EXPECT_EQ(got[1].Param("realm"), "x");
}

TEST(ParseChallengesTest, MalformedInputNeverCrashes) {
  for (std::string_view input : {"", ",,,", "=", "Bearer", "Bearer realm=", "Bearer realm=\"open",
                                 "Negotiate abc==", "\"\"\"", "Bearer ,=,=\""}) {
    std::vector<Challenge> got = ParseChallenges(input);
    for (const Challenge& c : got) EXPECT_FALSE(c.scheme.empty()) << input;
  }
  EXPECT_EQ(ParseChallenges("Bearer").at(0).scheme, "bearer");
  EXPECT_EQ(ParseChallenges("Bearer realm=\"open").at(0).Param("realm"), "open");
}

TEST(PullScopeTest, RepositoryPull) {
  EXPECT_EQ(PullScope("team/app"), "repository:team/app:pull");
}

// --- Authorizer against a token server -----------------------------------------------

TransportOptions Insecure(const FakeRegistry& r) {
  TransportOptions options;
  options.insecure_hosts = {r.host()};
  return options;
}

// The 401 the registry gives an anonymous manifest request.
TransportResponse Challenged(FakeRegistry& r, const std::string& repo) {
  Transport transport(Insecure(r));
  Result<TransportResponse> reply =
      transport.Send({.url = "http://" + r.host() + "/v2/" + repo + "/manifests/latest"}, 1 << 20);
  EXPECT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 401);
  return reply.value_or(TransportResponse{});
}

credentials::RegistryCredentials Alice() { return {"alice", "pa55:word", ""}; }

TEST(AuthorizerTest, BearerTokenFetchedWithBasicCredentialsAndCached) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  FakeClock clock(TimePoint{} + 1000h);
  Authorizer authorizer(Alice(), Insecure(*registry), {}, clock);
  std::string scope = PullScope("team/app");

  EXPECT_EQ(authorizer.HeaderFor(registry->host(), scope).value(), std::nullopt);
  ASSERT_TRUE(authorizer.Answer(registry->host(), scope, Challenged(*registry, "team/app"), ""));
  EXPECT_EQ(authorizer.HeaderFor(registry->host(), scope).value(), "Bearer token-1");
  EXPECT_EQ(authorizer.HeaderFor(registry->host(), scope).value(), "Bearer token-1");
  ASSERT_EQ(registry->token_requests(), 1);

  auto token_request = registry->requests().back();
  EXPECT_EQ(token_request.authorization, "Basic " + Base64Encode("alice:pa55:word"));
  EXPECT_EQ(token_request.target,
            "/token?service=fake%20registry&scope=repository%3Ateam%2Fapp%3Apull");

  // The token server said expires_in 300: renewed when it runs out.
  clock.Advance(290s);
  EXPECT_EQ(authorizer.HeaderFor(registry->host(), scope).value(), "Bearer token-1");
  clock.Advance(10s);
  EXPECT_EQ(authorizer.HeaderFor(registry->host(), scope).value(), "Bearer token-2");
  EXPECT_EQ(registry->token_requests(), 2);
}

TEST(AuthorizerTest, DefaultLifetimeIsSixtySecondsAndAccessTokenIsAccepted) {
  auto registry = FakeRegistry::Start(
      {.auth = FakeRegistry::Auth::kBearer, .token_expires_in = 0, .access_token_field = true});
  FakeClock clock(TimePoint{} + 1000h);
  Authorizer authorizer(Alice(), Insecure(*registry), {}, clock);
  std::string scope = PullScope("a");
  ASSERT_TRUE(authorizer.Answer(registry->host(), scope, Challenged(*registry, "a"), ""));
  EXPECT_EQ(authorizer.HeaderFor(registry->host(), scope).value(), "Bearer token-1");
  clock.Advance(50s);
  EXPECT_EQ(authorizer.HeaderFor(registry->host(), scope).value(), "Bearer token-1");
  clock.Advance(10s);
  EXPECT_EQ(authorizer.HeaderFor(registry->host(), scope).value(), "Bearer token-2");
}

TEST(AuthorizerTest, TokensAreCachedPerScope) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  Authorizer authorizer(Alice(), Insecure(*registry));
  ASSERT_TRUE(authorizer.Answer(registry->host(), PullScope("a"), Challenged(*registry, "a"), ""));
  EXPECT_EQ(authorizer.HeaderFor(registry->host(), PullScope("b")).value(), "Bearer token-2");
  EXPECT_EQ(authorizer.HeaderFor(registry->host(), PullScope("a")).value(), "Bearer token-1");
  EXPECT_EQ(authorizer.HeaderFor(registry->host(), PullScope("b")).value(), "Bearer token-2");
  EXPECT_EQ(registry->token_requests(), 2);
  // Another registry has not challenged: nothing is sent to it.
  EXPECT_EQ(authorizer.HeaderFor("other.example.com", PullScope("a")).value(), std::nullopt);
}

TEST(AuthorizerTest, AConcurrentlyObtainedTokenIsReusedARejectedOneReplaced) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  Authorizer authorizer(Alice(), Insecure(*registry));
  std::string scope = PullScope("a");
  TransportResponse challenge = Challenged(*registry, "a");
  ASSERT_TRUE(authorizer.Answer(registry->host(), scope, challenge, ""));
  // A second request sent anonymously before the token existed: reuse it.
  ASSERT_TRUE(authorizer.Answer(registry->host(), scope, challenge, ""));
  EXPECT_EQ(registry->token_requests(), 1);
  // The registry refused token-1 itself: fetch another.
  ASSERT_TRUE(authorizer.Answer(registry->host(), scope, challenge, "Bearer token-1"));
  EXPECT_EQ(authorizer.HeaderFor(registry->host(), scope).value(), "Bearer token-2");
}

TEST(AuthorizerTest, AnonymousTokenRequestCarriesNoAuthorization) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  Authorizer authorizer(std::nullopt, Insecure(*registry));
  ASSERT_TRUE(authorizer.Answer(registry->host(), PullScope("a"), Challenged(*registry, "a"), ""));
  EXPECT_EQ(registry->requests().back().authorization, "");
  EXPECT_EQ(authorizer.HeaderFor(registry->host(), PullScope("a")).value(), "Bearer anonymous-1");
}

TEST(AuthorizerTest, WrongCredentialsAtTheTokenServer) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  Authorizer authorizer(credentials::RegistryCredentials{"alice", "wrong-secret", ""},
                        Insecure(*registry));
  Status got = authorizer.Answer(registry->host(), PullScope("a"), Challenged(*registry, "a"), "");
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_EQ(got.error().message,
            "token request to http://127.0.0.1:" + std::to_string(registry->port()) +
                ": UNAUTHORIZED: invalid username or password (HTTP 401)");
  EXPECT_EQ(got.error().message.find("wrong-secret"), std::string::npos);
}

TEST(AuthorizerTest, BasicChallenge) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBasic});
  Authorizer with(Alice(), Insecure(*registry));
  ASSERT_TRUE(with.Answer(registry->host(), PullScope("a"), Challenged(*registry, "a"), ""));
  EXPECT_EQ(with.HeaderFor(registry->host(), PullScope("a")).value(),
            "Basic " + Base64Encode("alice:pa55:word"));
  EXPECT_EQ(registry->token_requests(), 0);

  Authorizer without(std::nullopt, Insecure(*registry));
  Status got = without.Answer(registry->host(), PullScope("a"), Challenged(*registry, "a"), "");
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerAuthError);
  EXPECT_EQ(got.error().message,
            "authenticating to " + registry->host() + ": registry " + registry->host() +
                " requires authentication and no credentials were available (UNAUTHORIZED: "
                "authentication required)");
}

// A later pull of an agent sends what the registry asked an earlier one for with its first
// request: Basic credentials, or a token fetched first. Its own credentials, never the earlier
// pull's; a pull without credentials sends nothing.
TEST(AuthorizerTest, AChallengeMemoryLetsTheNextPullAuthenticateWithoutA401) {
  ChallengeMemory memory;
  auto basic = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBasic});
  std::string scope = PullScope("a");
  {
    Authorizer first(Alice(), Insecure(*basic), {}, SystemClock::Instance(), &memory);
    EXPECT_EQ(first.HeaderFor(basic->host(), scope).value(), std::nullopt);
    ASSERT_TRUE(first.Answer(basic->host(), scope, Challenged(*basic, "a"), ""));
  }
  Authorizer bob(credentials::RegistryCredentials{"bob", "s3cret", ""}, Insecure(*basic), {},
                 SystemClock::Instance(), &memory);
  EXPECT_EQ(bob.HeaderFor(basic->host(), scope).value(), "Basic " + Base64Encode("bob:s3cret"));
  Authorizer anonymous(std::nullopt, Insecure(*basic), {}, SystemClock::Instance(), &memory);
  EXPECT_EQ(anonymous.HeaderFor(basic->host(), scope).value(), std::nullopt);
  Authorizer forgetful(Alice(), Insecure(*basic));  // no memory: learns from the 401
  EXPECT_EQ(forgetful.HeaderFor(basic->host(), scope).value(), std::nullopt);

  auto bearer = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  FakeClock clock(TimePoint{} + 1000h);
  {
    Authorizer first(Alice(), Insecure(*bearer), {}, clock, &memory);
    ASSERT_TRUE(first.Answer(bearer->host(), scope, Challenged(*bearer, "a"), ""));
  }
  Authorizer second(Alice(), Insecure(*bearer), {}, clock, &memory);
  EXPECT_EQ(second.HeaderFor(bearer->host(), scope).value(), "Bearer token-2");  // its own
  EXPECT_EQ(bearer->token_requests(), 2);
  EXPECT_EQ(memory.Recall(bearer->host())->Param("realm"),
            "http://" + bearer->host() + "/token");
}

// A remembered challenge that no longer gets a token (the token server moved, or refuses) is
// forgotten: the request goes without, and the registry's 401 says what it wants now.
TEST(AuthorizerTest, ARememberedChallengeThatFailsIsForgotten) {
  ChallengeMemory memory;
  auto bearer = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  memory.Remember(bearer->host(),
                  ParseChallenges(R"(Bearer realm="http://127.0.0.1:1/token",service="gone")")[0]);
  Authorizer authorizer(Alice(), Insecure(*bearer), {.max_attempts = 1}, SystemClock::Instance(),
                        &memory);
  std::string scope = PullScope("a");
  EXPECT_EQ(authorizer.HeaderFor(bearer->host(), scope).value(), std::nullopt);
  EXPECT_FALSE(memory.Recall(bearer->host()));
  ASSERT_TRUE(authorizer.Answer(bearer->host(), scope, Challenged(*bearer, "a"), ""));
  EXPECT_EQ(authorizer.HeaderFor(bearer->host(), scope).value(), "Bearer token-1");
  EXPECT_EQ(memory.Recall(bearer->host())->Param("service"), "fake registry");
}

TEST(AuthorizerTest, RealmMustBeHttpsUnlessListedInsecure) {
  auto registry = FakeRegistry::Start({.auth = FakeRegistry::Auth::kBearer});
  TransportResponse challenge = Challenged(*registry, "a");
  Authorizer authorizer(Alice(), TransportOptions{});  // nothing insecure
  Status got = authorizer.Answer(registry->host(), PullScope("a"), challenge, "");
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, kCannotPullContainerError);
  EXPECT_NE(got.error().message.find("only https is allowed unless the host is listed as an "
                                     "insecure registry"),
            std::string::npos)
      << got.error().message;
  EXPECT_EQ(registry->token_requests(), 0);  // the credentials never left
}

TEST(AuthorizerTest, UnsupportedOrMissingChallenges) {
  Authorizer authorizer(Alice(), TransportOptions{});
  TransportResponse negotiate{.status = 401, .headers = {{"www-authenticate", "Negotiate abc=="}}};
  Status got = authorizer.Answer("r.example", "s", negotiate, "");
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().message,
            "authenticating to r.example: unsupported authentication scheme \"negotiate\"");

  TransportResponse bare{.status = 401};
  EXPECT_EQ(authorizer.Answer("r.example", "s", bare, "").error().code, kCannotPullContainerError);
  Authorizer anonymous(std::nullopt, TransportOptions{});
  EXPECT_EQ(anonymous.Answer("r.example", "s", bare, "").error().code,
            kCannotPullContainerAuthError);

  TransportResponse no_realm{.status = 401, .headers = {{"www-authenticate", "Bearer service=x"}}};
  EXPECT_NE(authorizer.Answer("r.example", "s", no_realm, "").error().message.find("no realm"),
            std::string::npos);
}

// A token server scripted by the test.
std::unique_ptr<http::Server> TokenServer(std::function<http::Response(const http::Request&)> f) {
  auto server = http::Server::Start({.threads = 1}, std::move(f),
                                    [](const http::Request&, int s, std::string_view) {
                                      return http::Response{s, {}, ""};
                                    });
  EXPECT_TRUE(server.has_value());
  return std::move(server).value();
}

TransportResponse BearerChallenge(uint16_t port) {
  return TransportResponse{
      .status = 401,
      .headers = {
          {"www-authenticate", "Bearer realm=\"http://127.0.0.1:" + std::to_string(port) +
                                   "/oauth?x=1\",service=svc,scope=\"repository:a:pull\""}}};
}

TEST(AuthorizerTest, IdentityTokenIsAnOAuthRefreshTokenPost) {
  http::Request seen;
  auto server = TokenServer([&](const http::Request& req) {
    seen = req;
    return http::Response{200, {}, R"({"access_token":"fresh","expires_in":120})"};
  });
  TransportOptions options;
  options.insecure_hosts = {"127.0.0.1"};  // any port
  Authorizer authorizer(credentials::RegistryCredentials{"", "", "refresh-me"}, options);
  ASSERT_TRUE(
      authorizer.Answer("r.example", "repository:a:pull", BearerChallenge(server->port()), ""));
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/oauth?x=1");
  EXPECT_EQ(seen.HeaderOr("Authorization"), "");
  EXPECT_EQ(seen.body,
            "grant_type=refresh_token&client_id=berth&service=svc&scope=repository%3Aa%3Apull"
            "&refresh_token=refresh-me");
  EXPECT_EQ(authorizer.HeaderFor("r.example", "repository:a:pull").value(), "Bearer fresh");
}

TEST(AuthorizerTest, HostileTokenRepliesAreRefused) {
  struct Case {
    std::string body;
    std::string message_part;
  };
  for (const Case& c : {Case{R"({"token":"a\r\nX-Injected: 1"})", "not allowed in an HTTP header"},
                        Case{R"({"token":""})", "has no \"token\" or \"access_token\""},
                        Case{R"({"expires_in":60})", "has no \"token\" or \"access_token\""},
                        Case{"<html>", "not a JSON object"}}) {
    auto server = TokenServer([&](const http::Request&) {
      return http::Response{200, {}, c.body};
    });
    TransportOptions options;
    options.insecure_hosts = {"127.0.0.1:" + std::to_string(server->port())};
    Authorizer authorizer(Alice(), options);
    Status got =
        authorizer.Answer("r.example", "repository:a:pull", BearerChallenge(server->port()), "");
    ASSERT_FALSE(got.has_value()) << c.body;
    EXPECT_EQ(got.error().code, kCannotPullContainerError);
    EXPECT_NE(got.error().message.find(c.message_part), std::string::npos) << got.error().message;
  }
}

}  // namespace
}  // namespace berth::agent::registry
