// A CredentialResolver for tests: a fixed table of access keys, and a record
// of what it was asked.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "aws/identity.h"
#include "common/error.h"

namespace berth::aws {

class FakeResolver final : public CredentialResolver {
 public:
  // Adds a root-kind key of `account`.
  void Add(std::string access_key_id, std::string secret, std::string account = "123456789012") {
    SigningSecret s;
    s.secret_access_key = std::move(secret);
    s.principal.kind = Principal::Kind::kRoot;
    s.principal.account = account;
    s.principal.arn = "arn:aws:iam::" + account + ":root";
    s.principal.user_id = account;
    s.principal.access_key_id = access_key_id;
    keys_.insert_or_assign(std::move(access_key_id), std::move(s));
  }

  Result<SigningSecret> Resolve(std::string_view access_key_id,
                                std::string_view session_token) override {
    ++calls_;
    last_access_key_id_ = access_key_id;
    last_session_token_ = session_token;
    auto it = keys_.find(access_key_id);
    if (it == keys_.end()) {
      return Fail("UnrecognizedClientException",
                  "The security token included in the request is invalid.", 400);
    }
    return it->second;
  }

  int calls() const { return calls_; }
  const std::string& last_access_key_id() const { return last_access_key_id_; }
  const std::string& last_session_token() const { return last_session_token_; }

 private:
  std::map<std::string, SigningSecret, std::less<>> keys_;
  int calls_ = 0;
  std::string last_access_key_id_;
  std::string last_session_token_;
};

}  // namespace berth::aws
