#include "common/log.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace berth::log {
namespace {

using ::testing::internal::CaptureStderr;
using ::testing::internal::GetCapturedStderr;

TEST(LogRenderTest, TextMessageAndFields) {
  EXPECT_EQ(Render(Format::kText, "listening", {}), "listening");
  EXPECT_EQ(Render(Format::kText, "listening", {{"port", 8080}, {"region", "us-east-1"}}),
            "listening port=8080 region=us-east-1");
  EXPECT_EQ(
      Render(Format::kText, "sizes", {{"bytes", int64_t{1} << 40}, {"ratio", 0.5}, {"delta", -3}}),
      "sizes bytes=1099511627776 ratio=0.5 delta=-3");
  std::string owned = "arn:aws:iam::123456789012:role/x";
  EXPECT_EQ(Render(Format::kText, "m", {{"role", owned}, {"sv", std::string_view("v")}}),
            "m role=arn:aws:iam::123456789012:role/x sv=v");
}

TEST(LogRenderTest, TextQuotesValuesThatNeedIt) {
  EXPECT_EQ(Render(Format::kText, "m", {{"path", "/a b"}}), "m path=\"/a b\"");
  EXPECT_EQ(Render(Format::kText, "m", {{"empty", ""}}), "m empty=\"\"");
  EXPECT_EQ(Render(Format::kText, "m", {{"q", "k=v"}}), "m q=\"k=v\"");
  EXPECT_EQ(Render(Format::kText, "m", {{"q", "say \"hi\""}}), "m q=\"say \\\"hi\\\"\"");
  EXPECT_EQ(Render(Format::kText, "m", {{"q", "a\\b"}}), "m q=\"a\\\\b\"");
  // A newline in a value cannot forge a second log line.
  EXPECT_EQ(Render(Format::kText, "m", {{"q", "x\nERROR fake"}}), "m q=\"x\\nERROR fake\"");
  EXPECT_EQ(Render(Format::kText, "m", {{"q", "caf\xc3\xa9"}}), "m q=\"caf\xc3\xa9\"");
}

TEST(LogRenderTest, JsonMessageAndFields) {
  EXPECT_EQ(Render(Format::kJson, "listening", {}), "\"msg\":\"listening\"");
  EXPECT_EQ(Render(Format::kJson, "listening", {{"port", 8080}, {"region", "us-east-1"}}),
            "\"msg\":\"listening\",\"port\":8080,\"region\":\"us-east-1\"");
  EXPECT_EQ(Render(Format::kJson, "sizes", {{"bytes", int64_t{1} << 40}, {"ratio", 0.5}}),
            "\"msg\":\"sizes\",\"bytes\":1099511627776,\"ratio\":0.5");
  // A numeric-looking string stays a string.
  EXPECT_EQ(Render(Format::kJson, "m", {{"account", "123456789012"}}),
            "\"msg\":\"m\",\"account\":\"123456789012\"");
}

TEST(LogRenderTest, JsonEscaping) {
  EXPECT_EQ(Render(Format::kJson, "say \"hi\"\\ now", {}), R"("msg":"say \"hi\"\\ now")");
  EXPECT_EQ(Render(Format::kJson, "a\nb\rc\td", {}), R"("msg":"a\nb\rc\td")");
  EXPECT_EQ(Render(Format::kJson, std::string_view("\x01\x1f\x00!", 4), {}),
            R"("msg":"\u0001\u001f\u0000!")");
  EXPECT_EQ(Render(Format::kJson, "m", {{"k\"ey", "v\n\"q\""}}), R"("msg":"m","k\"ey":"v\n\"q\"")");
  // UTF-8 and DEL pass through unescaped: they are valid in a JSON string.
  EXPECT_EQ(Render(Format::kJson, "caf\xc3\xa9\x7f", {}), "\"msg\":\"caf\xc3\xa9\x7f\"");
}

TEST(LogRenderTest, SensitiveFieldsAreRedacted) {
  EXPECT_EQ(Render(Format::kText, "login", {{"user", "alice"}, {"password", "hunter2"}}),
            "login user=alice password=[REDACTED]");
  EXPECT_EQ(Render(Format::kJson, "login", {{"user", "alice"}, {"password", "hunter2"}}),
            R"("msg":"login","user":"alice","password":"[REDACTED]")");
  // A sensitive numeric field is still redacted, and as a JSON string.
  EXPECT_EQ(Render(Format::kJson, "m", {{"token", 123456}}), R"("msg":"m","token":"[REDACTED]")");
  EXPECT_EQ(Render(Format::kText, "m", {{"token", 123456}}), "m token=[REDACTED]");
  // Identifiers of secrets are logged as they are.
  EXPECT_EQ(Render(Format::kText, "m", {{"SecretId", "prod/db"}}), "m SecretId=prod/db");
}

TEST(LogRenderTest, SensitiveValuesNeverAppear) {
  constexpr std::string_view kValue = "s3cr3t-VALUE";
  for (std::string_view key :
       {"password", "Password", "secret_access_key", "SecretAccessKey", "SecretString",
        "X-Amz-Security-Token", "Authorization", "Plaintext", "token", "SessionToken",
        "credentials", "PrivateKey", "KeyMaterial", "client_secret"}) {
    for (Format format : {Format::kText, Format::kJson}) {
      std::string line = Render(format, "event", {{key, kValue}, {"user", "alice"}});
      EXPECT_EQ(line.find("s3cr3t"), std::string::npos) << key << ": " << line;
      EXPECT_NE(line.find("[REDACTED]"), std::string::npos) << key << ": " << line;
      EXPECT_NE(line.find("alice"), std::string::npos) << key << ": " << line;
    }
  }
}

TEST(LogRenderTest, FieldSecret) {
  Field f = Field::Secret("database_url");
  EXPECT_EQ(f.key, "database_url");
  EXPECT_EQ(f.value, "[REDACTED]");
  EXPECT_TRUE(f.quoted);
  EXPECT_FALSE(IsSensitiveKey("database_url"));  // redacted by construction, not by name
  EXPECT_EQ(Render(Format::kText, "connect", {Field::Secret("database_url")}),
            "connect database_url=[REDACTED]");
  EXPECT_EQ(Render(Format::kJson, "connect", {Field::Secret("database_url")}),
            R"("msg":"connect","database_url":"[REDACTED]")");
}

TEST(LogRedactionTest, SensitiveKeys) {
  for (std::string_view key : {"password",
                               "Password",
                               "PASSWORD",
                               "db_password",
                               "secret",
                               "secret_access_key",
                               "SecretAccessKey",
                               "SecretString",
                               "SecretBinary",
                               "X-Amz-Security-Token",
                               "Authorization",
                               "authorization",
                               "Plaintext",
                               "token",
                               "SessionToken",
                               "access-token",
                               "credentials",
                               "PrivateKey",
                               "private_key",
                               "KeyMaterial",
                               "auth"}) {
    EXPECT_TRUE(IsSensitiveKey(key)) << key;
  }
}

TEST(LogRedactionTest, IdentifiersAndOrdinaryKeysAreNotSensitive) {
  for (std::string_view key :
       {"SecretId", "secret_id", "secret_arn", "SecretArn", "SecretName", "secret-name", "KeyId",
        "access_key_id", "AccessKeyId", "TokenId", "RoleArn", "region", "user", "path", "status",
        "CiphertextBlob", ""}) {
    EXPECT_FALSE(IsSensitiveKey(key)) << key;
  }
}

TEST(LogConfigTest, ParseFormat) {
  Format format = Format::kText;
  EXPECT_TRUE(ParseFormat("json", &format));
  EXPECT_EQ(format, Format::kJson);
  EXPECT_TRUE(ParseFormat("text", &format));
  EXPECT_EQ(format, Format::kText);
  format = Format::kJson;
  EXPECT_FALSE(ParseFormat("JSON", &format));
  EXPECT_FALSE(ParseFormat("", &format));
  EXPECT_FALSE(ParseFormat("xml", &format));
  EXPECT_EQ(format, Format::kJson);  // untouched on failure
}

TEST(LogConfigTest, ParseLevel) {
  Level level = Level::kInfo;
  EXPECT_TRUE(ParseLevel("debug", &level));
  EXPECT_EQ(level, Level::kDebug);
  EXPECT_TRUE(ParseLevel("info", &level));
  EXPECT_EQ(level, Level::kInfo);
  EXPECT_TRUE(ParseLevel("warn", &level));
  EXPECT_EQ(level, Level::kWarn);
  EXPECT_TRUE(ParseLevel("error", &level));
  EXPECT_EQ(level, Level::kError);
  EXPECT_FALSE(ParseLevel("warning", &level));
  EXPECT_FALSE(ParseLevel("INFO", &level));
  EXPECT_FALSE(ParseLevel("", &level));
  EXPECT_EQ(level, Level::kError);
}

// The logger is process-wide: each test below restores the default (text, info).
class LogWriteTest : public ::testing::Test {
 protected:
  void TearDown() override { Init(Format::kText, Level::kInfo); }
};

TEST_F(LogWriteTest, LevelFilter) {
  Init(Format::kText, Level::kWarn);
  EXPECT_FALSE(Enabled(Level::kDebug));
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kWarn));
  EXPECT_TRUE(Enabled(Level::kError));

  CaptureStderr();
  Info("quiet");
  Warn("loud", {{"n", 1}});
  std::string out = GetCapturedStderr();
  EXPECT_EQ(out.find("quiet"), std::string::npos) << out;
  EXPECT_NE(out.find("loud n=1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("warn"), std::string::npos) << out;
}

TEST_F(LogWriteTest, JsonLineIsRedacted) {
  Init(Format::kJson, Level::kDebug);
  EXPECT_TRUE(Enabled(Level::kDebug));
  CaptureStderr();
  Debug("login", {{"user", "alice"}, {"password", "hunter2"}});
  std::string out = GetCapturedStderr();
  EXPECT_TRUE(out.starts_with("{\"ts\":\"")) << out;
  EXPECT_NE(out.find(R"("level":"debug","msg":"login","user":"alice","password":"[REDACTED]"})"
                     "\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("hunter2"), std::string::npos) << out;
}

TEST_F(LogWriteTest, TextLineIsRedacted) {
  Init(Format::kText, Level::kInfo);
  CaptureStderr();
  Error("failed", {{"Authorization", "AWS4-HMAC-SHA256 Credential=AKIA..."}, {"code", 500}});
  std::string out = GetCapturedStderr();
  EXPECT_NE(out.find("failed Authorization=[REDACTED] code=500\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("AKIA"), std::string::npos) << out;
}

}  // namespace
}  // namespace berth::log
