// Errors are values: every fallible berth function returns Result<T>.
//
// An Error carries what an AWS client needs to understand a failure: the AWS
// error code ("ResourceNotFoundException"), a human message, the HTTP status
// and whether the fault is the sender's (Query protocol <Type>Sender</Type>).
// A message must never contain a secret value, password or token.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace berth {

struct Error {
  std::string code;     // AWS error code, e.g. "InvalidParameterException".
  std::string message;  // Human readable; never contains secret material.
  int http_status = 400;
  // Extra members of a JSON 1.1 error body, already encoded, without braces
  // (`"resourceIds":["arn:..."]`); appended after `message`. Empty for almost
  // every error: only a few shapes (ECS's ConflictException) carry members.
  std::string extra_json;

  // True when the request was at fault (4xx), false for server faults.
  bool IsSenderFault() const { return http_status < 500; }
};

template <class T>
using Result = std::expected<T, Error>;

// Result of an operation that returns nothing on success.
using Status = Result<void>;

// Builds the unexpected branch of a Result: `return Fail("NoSuchEntity", "...", 404);`
inline std::unexpected<Error> Fail(std::string code, std::string message, int http_status = 400) {
  return std::unexpected<Error>(Error{std::move(code), std::move(message), http_status});
}

inline std::unexpected<Error> Fail(Error error) { return std::unexpected<Error>(std::move(error)); }

// Internal failure (5xx) whose details are for the operator's log, not the client.
inline std::unexpected<Error> InternalFailure(std::string message) {
  return Fail("InternalFailure", std::move(message), 500);
}

}  // namespace berth

// Propagates the error of a Result-returning expression, otherwise yields its value:
//   auto value = BERTH_TRY(store.Get(key));
#define BERTH_TRY(expr)                                          \
  ({                                                             \
    auto&& berth_try_result_ = (expr);                           \
    if (!berth_try_result_) return Fail(berth_try_result_.error()); \
    std::move(berth_try_result_).value();                        \
  })

// Same for Status (Result<void>) expressions.
#define BERTH_CHECK(expr)                                        \
  do {                                                           \
    auto&& berth_check_result_ = (expr);                         \
    if (!berth_check_result_) return Fail(berth_check_result_.error()); \
  } while (0)
