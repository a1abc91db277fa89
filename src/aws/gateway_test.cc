#include "aws/gateway.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/fake_resolver.h"
#include "aws/json_protocol.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "common/json.h"
#include "common/strings.h"
#include "http/server.h"
#include "http/test_loopback.h"

namespace berth::aws {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using namespace std::chrono_literals;

constexpr char kKeyId[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr char kHost[] = "localhost:4566";
constexpr char kStsXmlns[] = "https://sts.amazonaws.com/doc/2011-06-15/";
// SequenceIds(0) makes the first two request ids these.
constexpr char kFirstRequestId[] = "00010203-0405-4607-8809-0a0b0c0d0e0f";
constexpr char kSecondRequestId[] = "10111213-1415-4617-9819-1a1b1c1d1e1f";
// What a server fault looks like to the client.
constexpr char kInternalDetail[] = "disk /var/lib/berth/secret-path is on fire";

TimePoint Start() {
  TimePoint t;
  ParseAmzDate("20261126T165506Z", &t);
  return t;
}

std::string Header(const http::Response& res, std::string_view name) {
  for (const auto& h : res.headers) {
    if (EqualsIgnoreCase(h.name, name)) return h.value;
  }
  return "<absent>";
}

// The <Error> part of a Query error reply, and the request id after it.
std::string QueryErrorTail(std::string_view type, std::string_view code, std::string_view message,
                           std::string_view request_id) {
  return "<Error><Type>" + std::string(type) + "</Type><Code>" + std::string(code) +
         "</Code><Message>" + std::string(message) + "</Message></Error><RequestId>" +
         std::string(request_id) + "</RequestId></ErrorResponse>";
}

// A POST / that carries no signature, for the reject and no-authentication paths.
http::Request Unsigned(std::vector<http::Header> headers, std::string body = "") {
  http::Request r;
  r.method = "POST";
  r.target = "/";
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

class GatewayTest : public ::testing::Test {
 protected:
  GatewayTest() : clock_(Start()), gateway_(resolver_, clock_, ids_) {
    resolver_.Add(kKeyId, kSecret, "123456789012");

    JsonService json;
    json.signing_name = "test";
    json.target_prefix = "TestService";
    json.operations["Echo"] = [this](const RequestContext& ctx,
                                     std::string_view body) -> Result<std::string> {
      seen_ = ctx;
      return "{\"echo\":" + std::string(body.empty() ? "null" : body) + "}";
    };
    json.operations["Describe"] =
        JsonOp([this](const RequestContext&, const JsonReader& in) -> Result<json::Json> {
          ++json_op_runs_;
          auto name = BERTH_TRY(in.String("name"));
          return json::Json{{"name", name}, {"extra", in.Has("extra")}};
        });
    json.operations["Missing"] = [](const RequestContext&,
                                    std::string_view) -> Result<std::string> {
      return Fail("ResourceNotFoundException", "Secrets Manager can't find \"db\\pass\".", 400);
    };
    json.operations["Internal"] = [](const RequestContext&,
                                     std::string_view) -> Result<std::string> {
      return InternalFailure(kInternalDetail);
    };
    json.operations["Throw"] = [](const RequestContext&, std::string_view) -> Result<std::string> {
      throw std::runtime_error(kInternalDetail);
    };
    gateway_.Add(std::move(json));

    QueryService sts;
    sts.signing_name = "sts";
    sts.version = "2011-06-15";
    sts.xmlns = kStsXmlns;
    sts.operations["GetCallerIdentity"] = [this](const RequestContext& ctx,
                                                 const QueryParams&) -> Result<std::string> {
      seen_ = ctx;
      Xml xml;
      xml.Text("Arn", ctx.caller.arn)
          .Text("UserId", ctx.caller.user_id)
          .Text("Account", ctx.caller.account);
      return xml.Take();
    };
    sts.operations["Nothing"] = [](const RequestContext&,
                                   const QueryParams&) -> Result<std::string> {
      return std::string();
    };
    sts.operations["Echo"] = [](const RequestContext&,
                                const QueryParams& params) -> Result<std::string> {
      auto name = BERTH_TRY(params.Required("Name"));
      Xml xml;
      xml.Text("Name", name);
      for (const auto& tag : params.List("Tags")) xml.Text("Tag", tag);
      return xml.Take();
    };
    sts.operations["NoSuchThing"] = [](const RequestContext&,
                                       const QueryParams&) -> Result<std::string> {
      return Fail("NoSuchEntity", "The role with name <Admin & Co> cannot be found.", 404);
    };
    sts.operations["Internal"] = [](const RequestContext&,
                                    const QueryParams&) -> Result<std::string> {
      return InternalFailure(kInternalDetail);
    };
    sts.operations["Throw"] = [](const RequestContext&, const QueryParams&) -> Result<std::string> {
      throw std::runtime_error(kInternalDetail);
    };
    gateway_.Add(std::move(sts));
  }

  // A JSON 1.1 call as the AWS CLI makes it.
  http::Request JsonRequest(std::string_view target, std::string body,
                            std::string_view service = "test",
                            const Credentials& creds = {kKeyId, kSecret, ""}) {
    http::Request r;
    r.method = "POST";
    r.target = "/";
    r.remote_ip = "192.0.2.10";
    r.headers = {{"X-Amz-Target", std::string(target)},
                 {"Content-Type", "application/x-amz-json-1.1"}};
    r.body = std::move(body);
    Sign(r, kHost, creds, "us-east-1", service, clock_.Now());
    return r;
  }

  // A Query call as boto3 makes it: form body, POST.
  http::Request QueryRequest(std::string body, std::string_view service = "sts",
                             const Credentials& creds = {kKeyId, kSecret, ""}) {
    http::Request r;
    r.method = "POST";
    r.target = "/";
    r.headers = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
    r.body = std::move(body);
    Sign(r, kHost, creds, "us-east-1", service, clock_.Now());
    return r;
  }

  void ExpectJsonError(const http::Response& res, int status, std::string_view code,
                       std::string_view message) {
    EXPECT_EQ(res.status, status);
    EXPECT_EQ(Header(res, "Content-Type"), "application/x-amz-json-1.1");
    EXPECT_EQ(Header(res, "x-amzn-ErrorType"), code);
    EXPECT_EQ(res.body, "{\"__type\":\"" + std::string(code) + "\",\"message\":\"" +
                            std::string(message) + "\"}");
  }

  void ExpectQueryError(const http::Response& res, int status, std::string_view type,
                        std::string_view code, std::string_view message) {
    EXPECT_EQ(res.status, status);
    EXPECT_EQ(Header(res, "Content-Type"), "text/xml");
    EXPECT_THAT(res.body, StartsWith("<ErrorResponse xmlns=\""));
    EXPECT_THAT(res.body, HasSubstr("\">" + QueryErrorTail(type, code, message, kFirstRequestId)));
    EXPECT_EQ(Header(res, "x-amzn-RequestId"), kFirstRequestId);
  }

  FakeResolver resolver_;
  FakeClock clock_;
  SequenceIds ids_;
  Gateway gateway_;
  RequestContext seen_;
  int json_op_runs_ = 0;
};

// ---------------------------------------------------------------------------
// JSON 1.1

TEST_F(GatewayTest, JsonSuccess) {
  http::Response res = gateway_.Handle(JsonRequest("TestService.Echo", R"({"a":1})"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, R"({"echo":{"a":1}})");
  EXPECT_EQ(Header(res, "Content-Type"), "application/x-amz-json-1.1");
  EXPECT_EQ(Header(res, "x-amzn-RequestId"), kFirstRequestId);
  EXPECT_EQ(Header(res, "x-amzn-ErrorType"), "<absent>");

  EXPECT_EQ(seen_.request_id, kFirstRequestId);
  EXPECT_EQ(seen_.caller.arn, "arn:aws:iam::123456789012:root");
  EXPECT_EQ(seen_.caller.account, "123456789012");
  EXPECT_EQ(seen_.caller.access_key_id, kKeyId);
  EXPECT_EQ(seen_.region, "us-east-1");
  EXPECT_EQ(seen_.source_ip, "192.0.2.10");
  EXPECT_EQ(seen_.now, Start());

  // Every request gets its own id.
  http::Response second = gateway_.Handle(JsonRequest("TestService.Echo", ""));
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.body, R"({"echo":null})");
  EXPECT_EQ(Header(second, "x-amzn-RequestId"), kSecondRequestId);
}

TEST_F(GatewayTest, JsonContentTypeAloneSelectsJson) {
  // No X-Amz-Target, but a JSON content type: a JSON-shaped error, not Query.
  http::Request r;
  r.method = "POST";
  r.target = "/";
  r.headers = {{"Content-Type", "application/x-amz-json-1.1"}};
  r.body = "{}";
  Sign(r, kHost, {kKeyId, kSecret, ""}, "us-east-1", "test", clock_.Now());
  ExpectJsonError(gateway_.Handle(r), 400, "UnknownOperationException", "Unknown operation ''.");
}

TEST_F(GatewayTest, JsonHandlerErrorIsShapedAsJson) {
  http::Response res = gateway_.Handle(JsonRequest("TestService.Missing", "{}"));
  // The message's quote and backslash are escaped.
  ExpectJsonError(res, 400, "ResourceNotFoundException",
                  R"(Secrets Manager can't find \"db\\pass\".)");
  EXPECT_EQ(Header(res, "x-amzn-RequestId"), kFirstRequestId);
}

TEST_F(GatewayTest, JsonUnknownOperation) {
  ExpectJsonError(gateway_.Handle(JsonRequest("TestService.Nope", "{}")), 400,
                  "UnknownOperationException", "Unknown operation 'TestService.Nope'.");
}

TEST_F(GatewayTest, JsonUnknownTargetPrefixOrNoDot) {
  ExpectJsonError(gateway_.Handle(JsonRequest("OtherService.Echo", "{}")), 400,
                  "UnknownOperationException", "Unknown operation 'OtherService.Echo'.");
  ExpectJsonError(gateway_.Handle(JsonRequest("TestService", "{}")), 400,
                  "UnknownOperationException", "Unknown operation 'TestService'.");
}

// Client bytes echoed in an error never break the reply: ill-formed UTF-8
// becomes U+FFFD, control characters and quotes are escaped.
TEST_F(GatewayTest, JsonErrorEchoingHostileTargetIsValidJson) {
  http::Response res =
      gateway_.Handle(JsonRequest("TestService.\xFF\x01\"}\xE2\x82 \xC3\xA9", "{}"));
  EXPECT_EQ(res.status, 400);
  auto parsed = json::ParseObject(res.body);
  ASSERT_TRUE(parsed.has_value()) << res.body;
  EXPECT_EQ((*parsed)["__type"], "UnknownOperationException");
  EXPECT_EQ((*parsed)["message"],
            "Unknown operation 'TestService.\xEF\xBF\xBD\x01\"}\xEF\xBF\xBD \xC3\xA9'.");
  EXPECT_THAT(res.body, HasSubstr(R"(\u0001\"})"));
}

TEST_F(GatewayTest, JsonErrorTruncatesEchoAtACharacterBoundary) {
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "\xC3\xA9";
  // 13 + 200 bytes; the 128-byte cut would fall inside the 58th character.
  http::Response res = gateway_.Handle(JsonRequest("TestService.x" + accents, "{}"));
  ExpectJsonError(res, 400, "UnknownOperationException",
                  "Unknown operation 'TestService.x" + accents.substr(0, 114) + "'.");
}

// An error with extra members (ECS's ConflictException.resourceIds) carries
// them after `message`; every other error's body is just __type and message.
TEST(JsonErrorTest, ExtraMembersFollowTheMessage) {
  Error conflict{"ConflictException", "in use", 400};
  conflict.extra_json = R"("resourceIds":["arn:aws:ecs:us-east-1:111122223333:task/c/1"])";
  http::Response res = JsonError(conflict, "req-1");
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.body,
            R"({"__type":"ConflictException","message":"in use",)"
            R"("resourceIds":["arn:aws:ecs:us-east-1:111122223333:task/c/1"]})");
  EXPECT_EQ(JsonError(Error{"ClientException", "no", 400}, "req-2").body,
            R"({"__type":"ClientException","message":"no"})");
}

TEST_F(GatewayTest, JsonMustBePost) {
  http::Request r = JsonRequest("TestService.Echo", "");
  r.method = "GET";
  ExpectJsonError(gateway_.Handle(r), 400, "UnknownOperationException",
                  "JSON 1.1 requests must be POST.");
}

TEST_F(GatewayTest, JsonOpRunsOnAnObject) {
  http::Response res = gateway_.Handle(JsonRequest("TestService.Describe", R"({"name":"web"})"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, R"({"extra":false,"name":"web"})");
  // An empty body is an empty object; the handler's own validation answers.
  http::Response empty = gateway_.Handle(JsonRequest("TestService.Describe", ""));
  EXPECT_EQ(empty.status, 400);
  EXPECT_THAT(empty.body, StartsWith(R"({"__type":"ValidationException",)"));
  EXPECT_EQ(json_op_runs_, 2);
}

TEST_F(GatewayTest, JsonOpRefusesANonJsonBody) {
  ExpectJsonError(gateway_.Handle(JsonRequest("TestService.Describe", "name=web")), 400,
                  "SerializationException", "Request body is not valid JSON.");
  EXPECT_EQ(json_op_runs_, 0);
}

TEST_F(GatewayTest, JsonOpRefusesANonObjectBody) {
  ExpectJsonError(gateway_.Handle(JsonRequest("TestService.Describe", "[1,2]")), 400,
                  "SerializationException", "Request body must be a JSON object.");
  EXPECT_EQ(json_op_runs_, 0);
}

TEST_F(GatewayTest, JsonCredentialScopedToAnotherServiceIsRefused) {
  ExpectJsonError(gateway_.Handle(JsonRequest("TestService.Echo", "{}", "sts")), 400,
                  "InvalidSignatureException",
                  "Credential should be scoped to correct service: 'test'. ");
  EXPECT_EQ(seen_.request_id, "");  // the handler did not run
}

TEST_F(GatewayTest, JsonAuthFailures) {
  http::Request unsigned_request;
  unsigned_request.method = "POST";
  unsigned_request.target = "/";
  unsigned_request.headers = {{"X-Amz-Target", "TestService.Echo"}};
  ExpectJsonError(gateway_.Handle(unsigned_request), 403, "MissingAuthenticationTokenException",
                  "Missing Authentication Token");

  ExpectJsonError(gateway_.Handle(JsonRequest("TestService.Echo", "{}", "test",
                                              {"AKIAUNKNOWNUNKNOWN00", kSecret, ""})),
                  400, "UnrecognizedClientException",
                  "The security token included in the request is invalid.");

  http::Request tampered = JsonRequest("TestService.Echo", "{}");
  tampered.body = "{ }";
  http::Response res = gateway_.Handle(tampered);
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(Header(res, "x-amzn-ErrorType"), "InvalidSignatureException");
  EXPECT_EQ(seen_.request_id, "");
}

TEST_F(GatewayTest, JsonExpiredSignature) {
  http::Request r = JsonRequest("TestService.Echo", "{}");
  clock_.Advance(16min);
  http::Response res = gateway_.Handle(r);
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(Header(res, "x-amzn-ErrorType"), "InvalidSignatureException");
  EXPECT_THAT(
      res.body,
      StartsWith(R"({"__type":"InvalidSignatureException","message":"Signature expired: )"));
}

TEST_F(GatewayTest, JsonInternalFailureIsNotLeaked) {
  http::Response res = gateway_.Handle(JsonRequest("TestService.Internal", "{}"));
  ExpectJsonError(res, 500, "InternalFailure",
                  std::string("An internal error occurred. Request id: ") + kFirstRequestId);
  EXPECT_THAT(res.body, Not(HasSubstr("secret-path")));
}

TEST_F(GatewayTest, JsonHandlerThrowingIsAnInternalFailure) {
  http::Response res = gateway_.Handle(JsonRequest("TestService.Throw", "{}"));
  ExpectJsonError(res, 500, "InternalFailure",
                  std::string("An internal error occurred. Request id: ") + kFirstRequestId);
  EXPECT_THAT(res.body, Not(HasSubstr("secret-path")));
}

TEST_F(GatewayTest, JsonRejectTooLarge) {
  http::Request r = Unsigned({{"X-Amz-Target", "TestService.Echo"}});
  http::Response res = gateway_.Reject(r, 413, "Request body is larger than 10485760 bytes.");
  ExpectJsonError(res, 413, "RequestEntityTooLargeException",
                  "Request body is larger than 10485760 bytes.");
  EXPECT_EQ(Header(res, "x-amzn-RequestId"), kFirstRequestId);

  ExpectJsonError(gateway_.Reject(r, 400, "Bad header."), 400, "MalformedHttpRequestException",
                  "Bad header.");
  // The body memory budget is spent: a code the SDKs back off and retry on.
  ExpectJsonError(gateway_.Reject(r, 503, "Slow down."), 503, "ThrottlingException", "Slow down.");
}

// ---------------------------------------------------------------------------
// Query

TEST_F(GatewayTest, QuerySuccess) {
  http::Response res = gateway_.Handle(QueryRequest("Action=GetCallerIdentity&Version=2011-06-15"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(Header(res, "Content-Type"), "text/xml");
  EXPECT_EQ(Header(res, "x-amzn-RequestId"), kFirstRequestId);
  EXPECT_EQ(res.body,
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
            "<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:root</Arn>"
            "<UserId>123456789012</UserId><Account>123456789012</Account>"
            "</GetCallerIdentityResult>"
            "<ResponseMetadata><RequestId>00010203-0405-4607-8809-0a0b0c0d0e0f</RequestId>"
            "</ResponseMetadata></GetCallerIdentityResponse>");
  EXPECT_EQ(seen_.request_id, kFirstRequestId);
  EXPECT_EQ(seen_.region, "us-east-1");
}

TEST_F(GatewayTest, QueryParametersInTheUrl) {
  http::Request r;
  r.method = "GET";
  r.target = "/?Action=GetCallerIdentity&Version=2011-06-15";
  Sign(r, kHost, {kKeyId, kSecret, ""}, "us-east-1", "sts", clock_.Now());
  http::Response res = gateway_.Handle(r);
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, StartsWith("<GetCallerIdentityResponse xmlns="));
}

TEST_F(GatewayTest, QueryEmptyResultHasOnlyMetadata) {
  http::Response res = gateway_.Handle(QueryRequest("Action=Nothing&Version=2011-06-15"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body,
            "<NothingResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
            "<ResponseMetadata><RequestId>00010203-0405-4607-8809-0a0b0c0d0e0f</RequestId>"
            "</ResponseMetadata></NothingResponse>");
}

TEST_F(GatewayTest, QueryFormDecodingAndLists) {
  http::Response res = gateway_.Handle(QueryRequest(
      "Action=Echo&Version=2011-06-15&Name=a%20b+c%26d&Tags.member.2=second&Tags.member.1=first"
      "&Tags.member.4=after-a-gap"));
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, HasSubstr("<EchoResult><Name>a b c&amp;d</Name><Tag>first</Tag>"
                                  "<Tag>second</Tag></EchoResult>"));
}

TEST_F(GatewayTest, QueryMissingParameter) {
  ExpectQueryError(gateway_.Handle(QueryRequest("Action=Echo&Version=2011-06-15")), 400, "Sender",
                   "MissingParameter", "The request must contain the parameter Name");
}

TEST_F(GatewayTest, QueryHandlerError) {
  // Codes without a Query spelling keep theirs, with the handler's status; text is escaped.
  ExpectQueryError(gateway_.Handle(QueryRequest("Action=NoSuchThing&Version=2011-06-15")), 404,
                   "Sender", "NoSuchEntity",
                   "The role with name &lt;Admin &amp; Co&gt; cannot be found.");
}

TEST_F(GatewayTest, QueryUnknownAction) {
  ExpectQueryError(gateway_.Handle(QueryRequest("Action=AssumeRole&Version=2011-06-15")), 400,
                   "Sender", "InvalidAction",
                   "Could not find operation AssumeRole for version 2011-06-15");
}

TEST_F(GatewayTest, QueryWrongVersion) {
  ExpectQueryError(gateway_.Handle(QueryRequest("Action=GetCallerIdentity&Version=2010-05-08")),
                   400, "Sender", "InvalidAction",
                   "Could not find operation GetCallerIdentity for version 2010-05-08");
}

TEST_F(GatewayTest, QueryErrorEchoingHostileActionAndVersionIsValidXml) {
  // Action "\xFF\x01<&" and Version "\0]]>", form-encoded.
  ExpectQueryError(gateway_.Handle(QueryRequest("Action=%FF%01%3C%26&Version=%00%5D%5D%3E")), 400,
                   "Sender", "InvalidAction",
                   "Could not find operation \xEF\xBF\xBD\xEF\xBF\xBD&lt;&amp; for version "
                   "\xEF\xBF\xBD]]&gt;");
}

TEST_F(GatewayTest, QueryErrorTruncatesEchoAtACharacterBoundary) {
  std::string accents, encoded;
  for (int i = 0; i < 100; ++i) {
    accents += "\xE2\x82\xAC";
    encoded += "%E2%82%AC";
  }
  // The 128-byte cut of "x" + 100 euro signs would fall inside the 43rd.
  ExpectQueryError(gateway_.Handle(QueryRequest("Action=x" + encoded + "&Version=" + encoded)), 400,
                   "Sender", "InvalidAction",
                   "Could not find operation x" + accents.substr(0, 126) + " for version " +
                       accents.substr(0, 30));
}

TEST_F(GatewayTest, QueryMissingAction) {
  ExpectQueryError(gateway_.Handle(QueryRequest("Version=2011-06-15")), 400, "Sender",
                   "MissingAction", "The request must contain the parameter Action.");
}

TEST_F(GatewayTest, QueryEmptyAction) {
  ExpectQueryError(gateway_.Handle(QueryRequest("Action=&Version=2011-06-15")), 400, "Sender",
                   "MissingAction", "The request must contain the parameter Action.");
}

TEST_F(GatewayTest, QueryServiceNotServed) {
  ExpectQueryError(gateway_.Handle(QueryRequest("Action=ListUsers&Version=2010-05-08", "iam")), 400,
                   "Sender", "InvalidAction",
                   "Could not find operation ListUsers for service &apos;iam&apos;.");
}

TEST_F(GatewayTest, QueryNoAuthentication) {
  http::Request r = Unsigned({{"Content-Type", "application/x-www-form-urlencoded"}},
                             "Action=GetCallerIdentity&Version=2011-06-15");
  ExpectQueryError(gateway_.Handle(r), 403, "Sender", "MissingAuthenticationToken",
                   "Missing Authentication Token");
}

TEST_F(GatewayTest, QueryUnknownKey) {
  ExpectQueryError(gateway_.Handle(QueryRequest("Action=GetCallerIdentity&Version=2011-06-15",
                                                "sts", {"AKIAUNKNOWNUNKNOWN00", kSecret, ""})),
                   403, "Sender", "InvalidClientTokenId",
                   "The security token included in the request is invalid.");
}

TEST_F(GatewayTest, QueryBadSignature) {
  http::Request r = QueryRequest("Action=GetCallerIdentity&Version=2011-06-15");
  r.body += "&Extra=1";
  ExpectQueryError(gateway_.Handle(r), 403, "Sender", "SignatureDoesNotMatch",
                   "The request signature we calculated does not match the signature you "
                   "provided. Check your AWS Secret Access Key and signing method. Consult the "
                   "service documentation for details.");
}

TEST_F(GatewayTest, QueryIncompleteSignature) {
  http::Request r = QueryRequest("Action=GetCallerIdentity&Version=2011-06-15");
  for (auto& h : r.headers) {
    if (EqualsIgnoreCase(h.name, "authorization")) {
      h.value = h.value.substr(0, h.value.find(", Signature="));
    }
  }
  ExpectQueryError(gateway_.Handle(r), 400, "Sender", "IncompleteSignature",
                   "Authorization header requires &apos;Signature&apos; parameter.");
}

TEST_F(GatewayTest, QueryInternalFailureIsNotLeaked) {
  http::Response res = gateway_.Handle(QueryRequest("Action=Internal&Version=2011-06-15"));
  ExpectQueryError(res, 500, "Receiver", "InternalFailure",
                   std::string("An internal error occurred. Request id: ") + kFirstRequestId);
  EXPECT_THAT(res.body, Not(HasSubstr("secret-path")));
}

TEST_F(GatewayTest, QueryHandlerThrowingIsAnInternalFailure) {
  http::Response res = gateway_.Handle(QueryRequest("Action=Throw&Version=2011-06-15"));
  ExpectQueryError(res, 500, "Receiver", "InternalFailure",
                   std::string("An internal error occurred. Request id: ") + kFirstRequestId);
  EXPECT_THAT(res.body, Not(HasSubstr("secret-path")));
}

TEST_F(GatewayTest, QueryRejectTooLarge) {
  http::Request r = Unsigned({{"Content-Type", "application/x-www-form-urlencoded"}});
  ExpectQueryError(gateway_.Reject(r, 413, "Request body is too large."), 413, "Sender",
                   "RequestEntityTooLarge", "Request body is too large.");
}

TEST_F(GatewayTest, QueryRejectBodyBudgetExhaustedIsThrottling) {
  http::Request r = Unsigned({{"Content-Type", "application/x-www-form-urlencoded"}});
  ExpectQueryError(gateway_.Reject(r, 503, "Slow down."), 503, "Receiver", "Throttling",
                   "Slow down.");
}

TEST_F(GatewayTest, WriteContentionIsARetryableThrottlingInBothProtocols) {
  Error contention{"ThrottlingException",
                   "Rate exceeded: too many concurrent writes of this IAM entity", 400};
  ExpectQueryError(
      QueryError(contention, kFirstRequestId, "https://iam.amazonaws.com/doc/2010-05-08/"), 400,
      "Sender", "Throttling", contention.message);
  ExpectJsonError(JsonError(contention, kFirstRequestId), 400, "ThrottlingException",
                  contention.message);
}

// ---------------------------------------------------------------------------
// Authenticate: requests outside the operation tables (websocket upgrades)

// A websocket upgrade as the ECS agent makes it: a GET whose query string is
// signed with it, and the handshake headers (unsigned) added after signing.
http::Request UpgradeRequest(TimePoint now, std::string_view query = "clusterArn=c&seqNum=1",
                             std::string_view service = "ecs") {
  http::Request r;
  r.method = "GET";
  r.target = "/ws?" + std::string(query);
  r.remote_ip = "192.0.2.20";
  Sign(r, kHost, {kKeyId, kSecret, ""}, "us-east-1", service, now);
  r.headers.push_back({"Connection", "Upgrade"});
  r.headers.push_back({"Upgrade", "websocket"});
  r.headers.push_back({"Sec-WebSocket-Version", "13"});
  r.headers.push_back({"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="});
  return r;
}

TEST_F(GatewayTest, AuthenticateVerifiesASignedGetWithItsQuery) {
  auto ctx = gateway_.Authenticate(UpgradeRequest(clock_.Now()), "ecs");
  ASSERT_TRUE(ctx.has_value()) << ctx.error().message;
  EXPECT_EQ(ctx->caller.account, "123456789012");
  EXPECT_EQ(ctx->region, "us-east-1");
  EXPECT_EQ(ctx->request_id, kFirstRequestId);
  EXPECT_EQ(ctx->source_ip, "192.0.2.20");
  EXPECT_EQ(ctx->now, clock_.Now());
}

TEST_F(GatewayTest, AuthenticateRefusesAChangedQuery) {
  http::Request r = UpgradeRequest(clock_.Now());
  r.target = "/ws?clusterArn=other&seqNum=1";
  auto ctx = gateway_.Authenticate(r, "ecs");
  ASSERT_FALSE(ctx.has_value());
  EXPECT_EQ(ctx.error().code, "InvalidSignatureException");
  EXPECT_THAT(ctx.error().message, StartsWith("The request signature we calculated does not match"));
}

TEST_F(GatewayTest, AuthenticateRefusesAnotherServicesScope) {
  auto ctx = gateway_.Authenticate(UpgradeRequest(clock_.Now(), "a=1", "sts"), "ecs");
  ASSERT_FALSE(ctx.has_value());
  EXPECT_EQ(ctx.error().code, "InvalidSignatureException");
  EXPECT_EQ(ctx.error().message, "Credential should be scoped to correct service: 'ecs'. ");
}

TEST_F(GatewayTest, AuthenticateRefusesUnsignedAndUnknownCallers) {
  http::Request bare;
  bare.method = "GET";
  bare.target = "/ws?a=1";
  auto ctx = gateway_.Authenticate(bare, "ecs");
  ASSERT_FALSE(ctx.has_value());
  EXPECT_EQ(ctx.error().code, "MissingAuthenticationTokenException");
  EXPECT_EQ(ctx.error().http_status, 403);

  http::Request stranger = UpgradeRequest(clock_.Now());
  stranger.target = "/ws?a=1";
  Sign(stranger, kHost, {"AKIAUNKNOWNUNKNOWN00", kSecret, ""}, "us-east-1", "ecs", clock_.Now());
  ctx = gateway_.Authenticate(stranger, "ecs");
  ASSERT_FALSE(ctx.has_value());
  EXPECT_EQ(ctx.error().code, "UnrecognizedClientException");
}

// Sends `request` over a fresh connection to `port`; the status line of the reply.
std::string StatusLineOf(uint16_t port, const http::Request& request) {
  int fd = http::test_support::ConnectLoopback(port);
  EXPECT_GE(fd, 0);
  std::string wire = request.method + " " + request.target + " HTTP/1.1\r\n";
  for (const auto& h : request.headers) wire += h.name + ": " + h.value + "\r\n";
  wire += "\r\n";
  EXPECT_EQ(write(fd, wire.data(), wire.size()), static_cast<ssize_t>(wire.size()));
  std::string reply = http::test_support::ReadAll(fd, "\r\n");
  close(fd);
  return reply.substr(0, reply.find("\r\n"));
}

class Silent : public http::WebSocketHandler {
 public:
  void OnOpen(std::shared_ptr<http::WebSocket>) override {}
  void OnMessage(std::string) override {}
  void OnClose(uint16_t, std::string) override {}
};

TEST_F(GatewayTest, AWebSocketRouteAcceptsOnlySignedUpgrades) {
  http::ServerOptions options;
  http::WebSocketRoute route;
  route.path = "/ws";
  route.upgrade = [this](const http::Request& req) -> http::UpgradeDecision {
    auto ctx = gateway_.Authenticate(req, "ecs");
    if (!ctx) {
      http::Response refusal = JsonError(ctx.error(), "refused");
      refusal.status = 403;
      return refusal;
    }
    return std::make_shared<Silent>();
  };
  options.websockets.push_back(std::move(route));
  auto server = http::Server::Start(
      options, [](const http::Request&) { return http::Response{404, {}, ""}; },
      [](const http::Request&, int status, std::string_view) { return http::Response{status}; });
  ASSERT_TRUE(server.has_value());
  uint16_t port = (*server)->port();
  EXPECT_EQ(StatusLineOf(port, UpgradeRequest(clock_.Now())), "HTTP/1.1 101 Switching Protocols");
  http::Request tampered = UpgradeRequest(clock_.Now());
  tampered.target += "&extra=1";
  EXPECT_EQ(StatusLineOf(port, tampered), "HTTP/1.1 403 Forbidden");
}

TEST(QueryErrorCodeTest, RenamesJsonCodes) {
  EXPECT_EQ(QueryErrorCode("MissingAuthenticationTokenException"), "MissingAuthenticationToken");
  EXPECT_EQ(QueryErrorCode("UnrecognizedClientException"), "InvalidClientTokenId");
  EXPECT_EQ(QueryErrorCode("InvalidSignatureException"), "SignatureDoesNotMatch");
  EXPECT_EQ(QueryErrorCode("IncompleteSignatureException"), "IncompleteSignature");
  EXPECT_EQ(QueryErrorCode("ExpiredTokenException"), "ExpiredToken");
  EXPECT_EQ(QueryErrorCode("AccessDeniedException"), "AccessDenied");
  EXPECT_EQ(QueryErrorCode("RequestEntityTooLargeException"), "RequestEntityTooLarge");
  EXPECT_EQ(QueryErrorCode("NoSuchEntity"), "NoSuchEntity");
}

// ---------------------------------------------------------------------------
// QueryParams

TEST(QueryParamsTest, FindAndRequired) {
  QueryParams params({{"RoleArn", "arn:aws:iam::123456789012:role/r"},
                      {"Action", "AssumeRole"},
                      {"Empty", ""},
                      {"Action", "Second"}});
  ASSERT_NE(params.Find("RoleArn"), nullptr);
  EXPECT_EQ(*params.Find("RoleArn"), "arn:aws:iam::123456789012:role/r");
  ASSERT_NE(params.Find("Empty"), nullptr);
  EXPECT_EQ(*params.Find("Empty"), "");
  // The first of repeated parameters wins.
  ASSERT_NE(params.Find("Action"), nullptr);
  EXPECT_EQ(*params.Find("Action"), "AssumeRole");
  EXPECT_EQ(params.Find("action"), nullptr);  // names are case-sensitive
  EXPECT_EQ(params.Find("Role"), nullptr);
  EXPECT_EQ(params.Find("Zzz"), nullptr);

  EXPECT_EQ(params.Required("RoleArn").value_or("<error>"), "arn:aws:iam::123456789012:role/r");
  auto missing = params.Required("RoleSessionName");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, "MissingParameter");
  EXPECT_EQ(missing.error().message, "The request must contain the parameter RoleSessionName");
  EXPECT_EQ(missing.error().http_status, 400);
}

TEST(QueryParamsTest, ListIsInMemberOrderAndStopsAtAGap) {
  QueryParams params({{"PolicyArns.member.3", "c"},
                      {"PolicyArns.member.1", "a"},
                      {"PolicyArns.member.10", "j"},
                      {"PolicyArns.member.2", "b"},
                      {"PolicyArns.member.5", "e"},
                      {"Other.member.1", "x"}});
  EXPECT_THAT(params.List("PolicyArns"), ElementsAre("a", "b", "c"));
  EXPECT_THAT(params.List("Other"), ElementsAre("x"));
  EXPECT_THAT(params.List("Absent"), IsEmpty());
}

}  // namespace
}  // namespace berth::aws
