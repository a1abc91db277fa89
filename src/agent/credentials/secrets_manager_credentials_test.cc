#include "agent/credentials/secrets_manager_credentials.h"

#include <gtest/gtest.h>

#include <mutex>
#include <string>

#include "aws/sigv4.h"
#include "common/json.h"
#include "http/server.h"

namespace berth::agent::credentials {
namespace {

using json::Json;

constexpr char kArnWest[] =
    "arn:aws:secretsmanager:us-west-2:111122223333:secret:team/registry-AbCdEf";
constexpr char kPassword[] = "pa55:word-Zq9";

// A Secrets Manager endpoint that answers every request with one canned reply
// and remembers the last request.
class FakeSecretsManager {
 public:
  FakeSecretsManager() {
    auto server = http::Server::Start(
        {.threads = 1},
        [this](const http::Request& req) {
          std::lock_guard lock(mu_);
          last_ = req;
          return http::Response{status_, {{"Content-Type", "application/x-amz-json-1.1"}}, body_};
        },
        [](const http::Request&, int status, std::string_view reason) {
          return http::Response{status, {}, std::string(reason)};
        });
    EXPECT_TRUE(server.has_value());
    server_ = std::move(server).value();
  }
  ~FakeSecretsManager() { server_->Stop(std::chrono::milliseconds(1000)); }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  void Reply(int status, std::string body) {
    std::lock_guard lock(mu_);
    status_ = status;
    body_ = std::move(body);
  }
  // The reply to GetSecretValue for a secret whose SecretString is `value`.
  void Secret(const std::string& value) {
    Reply(200, json::Dump(Json{{"ARN", kArnWest},
                               {"Name", "team/registry"},
                               {"SecretString", value},
                               {"VersionId", "v1"},
                               {"VersionStages", {"AWSCURRENT"}}}));
  }
  http::Request last() {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  std::unique_ptr<http::Server> server_;
  std::mutex mu_;
  int status_ = 200;
  std::string body_ = "{}";
  http::Request last_;
};

SecretsManagerOptions Options(const FakeSecretsManager& sm, std::string secret_id) {
  SecretsManagerOptions o;
  o.endpoint = sm.endpoint();
  o.region = "us-east-1";
  o.credentials = {"ASIAEXAMPLEEXAMPLE01", "execution-role-secret-key", "session-token-value"};
  o.secret_id = std::move(secret_id);
  return o;
}

Result<std::unique_ptr<SecretsManagerCredentials>> FetchFrom(FakeSecretsManager& sm,
                                                             std::string secret_id = kArnWest) {
  return SecretsManagerCredentials::Fetch(Options(sm, std::move(secret_id)),
                                          SystemClock::Instance().Now());
}

void ExpectInitError(const Result<std::unique_ptr<SecretsManagerCredentials>>& r,
                     const std::string& message) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "ResourceInitializationError");
  EXPECT_EQ(r.error().message, "unable to pull secrets or registry auth: " + message);
  EXPECT_EQ(r.error().message.find(kPassword), std::string::npos);
}

TEST(SecretsManagerCredentialsTest, ReadsTheSecretSignedAsTheRoleForTheArnsRegion) {
  FakeSecretsManager sm;
  sm.Secret(json::Dump(Json{{"UserName", "registry-user"}, {"PASSWORD", kPassword}}));
  auto source = FetchFrom(sm);
  ASSERT_TRUE(source.has_value()) << source.error().message;
  auto ref = reference::ParseReference("registry.example.com:5000/team/api:1.4");
  ASSERT_TRUE(ref.has_value());
  auto creds = (*source)->Lookup(*ref);
  ASSERT_TRUE(creds.has_value() && creds->has_value());
  EXPECT_EQ((*creds)->username, "registry-user");
  EXPECT_EQ((*creds)->password, kPassword);

  http::Request req = sm.last();
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.HeaderOr("X-Amz-Target"), "secretsmanager.GetSecretValue");
  EXPECT_EQ(req.HeaderOr("X-Amz-Security-Token"), "session-token-value");
  auto auth = aws::ParseAuthorization(req.HeaderOr("Authorization"));
  ASSERT_TRUE(auth.has_value());
  EXPECT_EQ(auth->access_key_id, "ASIAEXAMPLEEXAMPLE01");
  EXPECT_EQ(auth->region, "us-west-2");  // the secret's, from its ARN
  EXPECT_EQ(auth->service, "secretsmanager");
  EXPECT_EQ(Json::parse(req.body), (Json{{"SecretId", kArnWest}}));

  // By name: the configured region.
  ASSERT_TRUE(FetchFrom(sm, "team/registry").has_value());
  auth = aws::ParseAuthorization(sm.last().HeaderOr("Authorization"));
  ASSERT_TRUE(auth.has_value());
  EXPECT_EQ(auth->region, "us-east-1");
}

TEST(SecretsManagerCredentialsTest, ServiceErrorsNameTheSecretAndTheCode) {
  FakeSecretsManager sm;
  sm.Reply(400, json::Dump(Json{{"__type", "AccessDeniedException"},
                                {"message",
                                 "User: arn:aws:sts::111122223333:assumed-role/exec/task is not "
                                 "authorized to perform: secretsmanager:GetSecretValue"}}));
  ExpectInitError(FetchFrom(sm),
                  std::string("asm fetching secret from the service for ") + kArnWest +
                      ": AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/exec/"
                      "task is not authorized to perform: secretsmanager:GetSecretValue");
  sm.Reply(400, R"({"__type":"com.amazonaws.secretsmanager#ResourceNotFoundException",)"
                R"("Message":"Secrets Manager can't find the specified secret."})");
  ExpectInitError(FetchFrom(sm, "missing"),
                  "asm fetching secret from the service for missing: ResourceNotFoundException: "
                  "Secrets Manager can't find the specified secret.");
  sm.Reply(502, "<html>bad gateway</html>");
  auto r = FetchFrom(sm);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("InvalidResponse"), std::string::npos) << r.error().message;
}

TEST(SecretsManagerCredentialsTest, SecretsOfTheWrongShape) {
  FakeSecretsManager sm;
  const std::string schema =
      "asm fetching authorization data: unable to unmarshal secret value, "
      "invalid schema";
  sm.Secret(std::string("not json ") + kPassword);
  ExpectInitError(FetchFrom(sm), schema);
  sm.Secret(json::Dump(Json::array({"u", kPassword})));
  ExpectInitError(FetchFrom(sm), schema);
  sm.Secret(json::Dump(Json{{"username", 5}, {"password", kPassword}}));
  ExpectInitError(FetchFrom(sm), schema);
  sm.Reply(200, json::Dump(Json{{"ARN", kArnWest}, {"SecretBinary", "AAEC"}}));
  ExpectInitError(FetchFrom(sm), schema);
  sm.Secret(json::Dump(Json{{"user", "u"}, {"password", kPassword}}));
  ExpectInitError(FetchFrom(sm),
                  "asm fetching username: AuthorizationData is malformed, empty field");
  sm.Secret(json::Dump(Json{{"username", "u"}, {"password", ""}}));
  ExpectInitError(FetchFrom(sm),
                  "asm fetching password: AuthorizationData is malformed, empty field");
}

TEST(SecretsManagerCredentialsTest, UnreachableEndpoint) {
  SecretsManagerOptions o;
  o.endpoint = "http://127.0.0.1:1";
  o.region = "us-east-1";
  o.credentials = {"ASIAEXAMPLEEXAMPLE01", "k", "t"};
  o.secret_id = "team/registry";
  auto r = SecretsManagerCredentials::Fetch(o, SystemClock::Instance().Now());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "ResourceInitializationError");
  EXPECT_TRUE(r.error().message.starts_with(
      "unable to pull secrets or registry auth: asm fetching secret from the service for "
      "team/registry: "))
      << r.error().message;
}

}  // namespace
}  // namespace berth::agent::credentials
