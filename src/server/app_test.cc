// App as the ordered list of service modules: every service's routes are
// served, modules start in order and stop in reverse, a later module finds an
// earlier one's service, and a failed start stops what had started.
#include "server/app.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aws/json_client.h"
#include "aws/json_reader.h"
#include "aws/sigv4.h"
#include "http/client.h"
#include "server/module.h"
#include "testing/temp_dir.h"

namespace berth::server {
namespace {

const aws::Credentials kRoot{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                             ""};

AppOptions OptionsIn(const test_support::TempDir& dir) {
  AppOptions options;
  options.data_dir = dir.path().string();
  options.port = 0;
  options.threads = 1;
  options.root_credentials = kRoot;
  return options;
}

// ---- berth's own modules

class AppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto app = App::Start(OptionsIn(dir_));
    ASSERT_TRUE(app.has_value()) << app.error().message;
    app_ = std::move(*app);
  }

  Result<std::string> Json(std::string_view target, std::string_view signing_name, std::string body,
                           const aws::Credentials& as = kRoot) {
    aws::JsonCall call{app_->endpoint(), std::string(target), "us-east-1",
                       std::string(signing_name), std::move(body)};
    return aws::CallJson(client_, call, as, SystemClock::Instance().Now());
  }

  // A Query call's HTTP status and body.
  std::pair<int, std::string> Query(std::string_view signing_name, std::string body) {
    http::Request request;
    request.method = "POST";
    request.target = "/";
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    request.body = std::move(body);
    std::string host = aws::EndpointHost(app_->endpoint());
    aws::Sign(request, host, kRoot, "us-east-1", signing_name, SystemClock::Instance().Now());
    auto reply = client_.Send({"POST", app_->endpoint() + "/", request.headers, request.body});
    EXPECT_TRUE(reply.has_value());
    return reply ? std::pair(reply->status, reply->body) : std::pair(0, std::string());
  }

  test_support::TempDir dir_{"app_test"};
  std::unique_ptr<App> app_;
  http::Client client_;
};

TEST_F(AppTest, ServesEveryServiceModule) {
  auto [sts_status, sts_body] = Query("sts", "Action=GetCallerIdentity&Version=2011-06-15");
  EXPECT_EQ(sts_status, 200) << sts_body;
  EXPECT_NE(sts_body.find("<Arn>arn:aws:iam::123456789012:root</Arn>"), std::string::npos);
  auto [iam_status, iam_body] = Query("iam", "Action=ListUsers&Version=2010-05-08");
  EXPECT_EQ(iam_status, 200) << iam_body;
  EXPECT_NE(iam_body.find("<ListUsersResult>"), std::string::npos);

  auto keys = Json("TrentService.ListKeys", "kms", "{}");
  ASSERT_TRUE(keys.has_value()) << keys.error().message;
  EXPECT_EQ(*keys, R"({"Keys":[],"Truncated":false})");
  auto secrets = Json("secretsmanager.ListSecrets", "secretsmanager", "{}");
  ASSERT_TRUE(secrets.has_value()) << secrets.error().message;
  EXPECT_EQ(*secrets, R"({"SecretList":[]})");
  auto accounts = Json("BerthAdmin_20261126.ListAccounts", "berth", "{}");
  ASSERT_TRUE(accounts.has_value()) << accounts.error().message;
  EXPECT_EQ(*accounts, R"({"Accounts":[{"AccountId":"123456789012"}]})");
}

TEST_F(AppTest, JsonServicesReadTheirInputWithOneReader) {
  auto wrong_type = Json("TrentService.DescribeKey", "kms", R"({"KeyId":5})");
  ASSERT_FALSE(wrong_type.has_value());
  EXPECT_EQ(wrong_type.error().code, "SerializationException");
  EXPECT_EQ(wrong_type.error().message, "NUMBER_VALUE can not be converted to a String");

  auto missing = Json("secretsmanager.GetSecretValue", "secretsmanager", "{}");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, "ValidationException");
  EXPECT_EQ(missing.error().message,
            "1 validation error detected: Value null at 'secretId' failed to satisfy "
            "constraint: Member must not be null");

  auto nested = Json("secretsmanager.CreateSecret", "secretsmanager",
                     R"({"Name":"db","Tags":[{"Key":"team","Value":7}]})");
  ASSERT_FALSE(nested.has_value());
  EXPECT_EQ(nested.error().message, "NUMBER_VALUE can not be converted to a String");

  auto admin = Json("BerthAdmin_20261126.CreateAccount", "berth", R"({"AccountId":true})");
  ASSERT_FALSE(admin.has_value());
  EXPECT_EQ(admin.error().message, "TRUE_VALUE can not be converted to a String");
}

TEST_F(AppTest, TheOperatorApiDeniesThroughAccessControl) {
  auto created =
      Json("BerthAdmin_20261126.CreateAccount", "berth", R"({"AccountId":"222233334444"})");
  ASSERT_TRUE(created.has_value()) << created.error().message;
  auto parsed = aws::JsonReader::Parse(*created);
  ASSERT_TRUE(parsed.has_value());
  aws::Credentials other{*parsed->String("AccessKeyId"), *parsed->String("SecretAccessKey"), ""};

  auto denied = Json("BerthAdmin_20261126.ListAccounts", "berth", "{}", other);
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code, "AccessDeniedException");
  EXPECT_EQ(denied.error().http_status, 403);
  EXPECT_EQ(denied.error().message,
            "User: arn:aws:iam::222233334444:root is not authorized to perform: "
            "berth:ListAccounts on resource: arn:aws:berth:::account because only the operator "
            "account's root may manage accounts");
}

// ---- the module lifecycle, with modules that record what happens to them

std::vector<std::string> events;

struct Counter {
  int value = 0;
};

class RecordingModule final : public Module {
 public:
  RecordingModule(std::string name, bool fail_start = false)
      : name_(std::move(name)), fail_start_(fail_start) {}
  std::string_view name() const override { return name_; }
  void Register(aws::Gateway&) override { events.push_back("register " + name_); }
  Status Start() override {
    events.push_back("start " + name_);
    if (fail_start_) return Fail("StartFailed", name_ + " cannot start");
    return {};
  }
  void Stop() override { events.push_back("stop " + name_); }

  Counter counter{41};

 private:
  std::string name_;
  bool fail_start_;
};

Result<std::unique_ptr<Module>> First(Environment& env) {
  events.push_back("build first");
  auto module = std::make_unique<RecordingModule>("first");
  env.services.Provide(module->counter);
  return module;
}

Result<std::unique_ptr<Module>> Second(Environment& env) {
  events.push_back("build second, first's counter " +
                   std::to_string(++env.services.Get<Counter>().value));
  return std::make_unique<RecordingModule>("second");
}

Result<std::unique_ptr<Module>> FailsToStart(Environment&) {
  events.push_back("build failing");
  return std::make_unique<RecordingModule>("failing", /*fail_start=*/true);
}

Result<std::unique_ptr<Module>> FailsToBuild(Environment&) {
  return Fail("BuildFailed", "no such thing");
}

class ModuleLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override { events.clear(); }
  test_support::TempDir dir_{"app_module_test"};
};

TEST_F(ModuleLifecycleTest, ModulesStartInOrderAndStopInReverse) {
  auto app = App::Start(OptionsIn(dir_), {&First, &Second});
  ASSERT_TRUE(app.has_value()) << app.error().message;
  EXPECT_EQ(events, (std::vector<std::string>{"build first", "register first",
                                              "build second, first's counter 42", "register second",
                                              "start first", "start second"}));
  events.clear();
  (*app)->Stop();
  (*app)->Stop();  // idempotent
  app->reset();    // and the destructor stops nothing twice
  EXPECT_EQ(events, (std::vector<std::string>{"stop second", "stop first"}));
}

TEST_F(ModuleLifecycleTest, TheDestructorStops) {
  auto app = App::Start(OptionsIn(dir_), {&First, &Second});
  ASSERT_TRUE(app.has_value()) << app.error().message;
  events.clear();
  app->reset();
  EXPECT_EQ(events, (std::vector<std::string>{"stop second", "stop first"}));
}

TEST_F(ModuleLifecycleTest, AFailedStartStopsTheModulesStartedBefore) {
  auto app = App::Start(OptionsIn(dir_), {&First, &FailsToStart, &Second});
  ASSERT_FALSE(app.has_value());
  EXPECT_EQ(app.error().code, "StartFailed");
  EXPECT_EQ(app.error().message, "failing cannot start");
  EXPECT_EQ(events, (std::vector<std::string>{"build first", "register first", "build failing",
                                              "register failing",
                                              "build second, first's counter 42", "register second",
                                              "start first", "start failing", "stop first"}));
}

TEST_F(ModuleLifecycleTest, AModuleThatFailsToBuildFailsTheStart) {
  auto app = App::Start(OptionsIn(dir_), {&First, &FailsToBuild, &Second});
  ASSERT_FALSE(app.has_value());
  EXPECT_EQ(app.error().code, "BuildFailed");
  EXPECT_EQ(events, (std::vector<std::string>{"build first", "register first"}));
}

}  // namespace
}  // namespace berth::server
