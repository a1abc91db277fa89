// The front door of every AWS API berth serves.
//
// For each request: pick the protocol (JSON 1.1 when X-Amz-Target is present,
// Query otherwise), check the SigV4 signature, find the service and operation
// in its table, run the handler, and shape the reply or error the way that
// protocol's clients expect. Every reply carries x-amzn-RequestId.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/identity.h"
#include "aws/request_context.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "http/message.h"

namespace berth::aws {

struct VerifiedRequest;  // aws/sigv4.h

// A JSON 1.1 operation: request body in (may be empty), reply body out.
// Handlers parse with aws/json_protocol.h's helpers.
using JsonOperation = std::function<Result<std::string>(const RequestContext&, std::string_view body)>;

struct JsonService {
  std::string signing_name;   // "secretsmanager"
  std::string target_prefix;  // "secretsmanager" in "secretsmanager.GetSecretValue"
  std::map<std::string, JsonOperation, std::less<>> operations;
};

// The parameters of a Query request (form body and URL query), decoded.
class QueryParams {
 public:
  explicit QueryParams(std::vector<std::pair<std::string, std::string>> pairs);
  // The value of `name`, or nullptr.
  const std::string* Find(std::string_view name) const;
  // The value, or a MissingParameter error naming `name` (Query's code).
  Result<std::string> Required(std::string_view name) const;
  // "Prefix.member.1", "Prefix.member.2", ... in order.
  std::vector<std::string> List(std::string_view prefix) const;

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;  // sorted by name
};

// A Query operation: the XML inside <ActionResult>, or "" for an operation
// whose reply carries only ResponseMetadata.
using QueryOperation = std::function<Result<std::string>(const RequestContext&, const QueryParams&)>;

struct QueryService {
  std::string signing_name;  // "sts"
  std::string version;       // "2011-06-15"
  std::string xmlns;         // "https://sts.amazonaws.com/doc/2011-06-15/"
  std::map<std::string, QueryOperation, std::less<>> operations;
  // Operations whose empty reply still carries an empty <ActionResult/>
  // element, which their clients expect (IAM's UpdateRole).
  std::set<std::string, std::less<>> empty_result_element;
};

class Gateway {
 public:
  // `resolver`, `clock` and `ids` must outlive the Gateway.
  Gateway(CredentialResolver& resolver, const Clock& clock, Ids& ids);

  // Registration happens before serving; Handle is then thread-safe.
  void Add(JsonService service);
  void Add(QueryService service);

  http::Response Handle(const http::Request& request);

  // Checks a request that is not an operation call, such as a websocket
  // upgrade (a GET whose query string is signed with the rest), the way
  // Handle does: the SigV4 signature, the caller's credentials, and a
  // credential scope naming `signing_name` ("ecs"). The context carries a new
  // request id. Errors are the JSON protocol's (MissingAuthenticationToken-
  // Exception 403, InvalidSignatureException, UnrecognizedClientException,
  // ...): JsonError shapes the refusal.
  Result<RequestContext> Authenticate(const http::Request& request, std::string_view signing_name);

  // The AWS-shaped reply to a request the HTTP layer refused: 413
  // RequestEntityTooLarge, 503 ThrottlingException (Query: Throttling; the SDKs
  // back off and retry it), anything else MalformedHttpRequest.
  http::Response Reject(const http::Request& request, int status, std::string_view reason);

 private:
  http::Response HandleJson(const http::Request& request, const std::string& request_id);
  http::Response HandleQuery(const http::Request& request, const std::string& request_id);
  RequestContext ContextOf(VerifiedRequest verified, const http::Request& request,
                           const std::string& request_id) const;

  CredentialResolver& resolver_;
  const Clock& clock_;
  Ids& ids_;
  std::map<std::string, JsonService, std::less<>> json_by_prefix_;
  std::map<std::string, QueryService, std::less<>> query_by_signing_name_;
};

// Error replies, shaped per protocol. Exposed for tests and the reject path.
http::Response JsonError(const Error& error, const std::string& request_id);
// `xmlns`: the service's namespace; errors before the service is known use IAM's.
http::Response QueryError(const Error& error, const std::string& request_id,
                          std::string_view xmlns = "https://iam.amazonaws.com/doc/2010-05-08/");

// The Query protocol's name for an error code the JSON protocol spells
// differently (UnrecognizedClientException -> InvalidClientTokenId, ...).
std::string QueryErrorCode(std::string_view json_code);

}  // namespace berth::aws
