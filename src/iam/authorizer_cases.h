// The table of iam::Evaluate / iam::EvaluateTrust cases run by authorizer_test.cc, and
// the small vocabulary the case files build it with.
//
// A case is built fluently:
//   Case("SameAccountIdentityAllow").As(Alice()).Do("secretsmanager:GetSecretValue", kSecret)
//       .Identity(Doc({St("Get", "Allow", "secretsmanager:GetSecretValue", "*")}))
//       .Expect(Decision::kAllow, {"Get"})
// St(sid, effect, action, resource, extra) writes one statement: action and resource are
// a JSON string unless they start with '[' (a raw JSON list); a leading '!' makes them
// NotAction / NotResource; an empty resource leaves the element out (trust policies);
// `extra` is raw JSON members appended ("\"Principal\":...,\"Condition\":{...}").
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "aws/identity.h"
#include "iam/authorizer.h"
#include "iam/condition.h"

namespace berth::iam::testing {

inline constexpr char kAcctA[] = "111122223333";
inline constexpr char kAcctB[] = "444455556666";
inline constexpr char kSecret[] =
    "arn:aws:secretsmanager:us-east-1:111122223333:secret:registry-creds-AbCdEf";
inline constexpr char kGet[] = "secretsmanager:GetSecretValue";
inline constexpr char kPut[] = "secretsmanager:PutSecretValue";
inline constexpr char kSecretB[] =
    "arn:aws:secretsmanager:us-east-1:444455556666:secret:shared-creds-XyZ123";
inline constexpr char kKey[] =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
inline constexpr char kKeyB[] =
    "arn:aws:kms:us-east-1:444455556666:key/0987dcba-09fe-87dc-65ba-ab0987654321";
inline constexpr char kExecRole[] = "arn:aws:iam::111122223333:role/exec";
inline constexpr char kExecRoleB[] = "arn:aws:iam::444455556666:role/exec";
inline constexpr char kAliceArn[] = "arn:aws:iam::111122223333:user/alice";
inline constexpr char kBobArn[] = "arn:aws:iam::444455556666:user/bob";
inline constexpr char kSessionArn[] = "arn:aws:sts::111122223333:assumed-role/exec/task-1";
// The fixed request time AddGlobalConditionKeys fills in (aws:CurrentTime).
inline constexpr char kNow[] = "2026-11-26T16:55:06Z";

// Callers.
aws::Principal Root(std::string account = kAcctA);
aws::Principal User(std::string account, std::string name, std::string user_id);
aws::Principal Alice();  // arn:aws:iam::111122223333:user/alice, AIDAALICEEXAMPLE00001
aws::Principal Carol();  // arn:aws:iam::111122223333:user/carol, AIDACAROLEXAMPLE0001
aws::Principal Bob();    // arn:aws:iam::444455556666:user/bob, AIDABOBEXAMPLE000001
// arn:aws:sts::<account>:assumed-role/<role>/<session>, user id AROAEXECEXAMPLE00001:<session>
aws::Principal Session(std::string account = kAcctA, std::string role = "exec",
                       std::string session = "task-1");

// Policy documents.
std::string St(std::string_view sid, std::string_view effect, std::string_view action,
               std::string_view resource, std::string_view extra = "");
// {"Version":"2012-10-17","Statement":[...]} (version "" leaves Version out).
std::string Doc(std::initializer_list<std::string> statements,
                std::string_view version = "2012-10-17");
// "\"Principal\":{\"AWS\":\"<arn>\"}" (or the raw JSON value when it starts with '{' or is "*").
std::string P(std::string_view who);
std::string NotP(std::string_view who);
std::string Svc(std::string_view service);  // "\"Principal\":{\"Service\":\"<service>\"}"
// "\"Condition\":<json>".
std::string Cond(std::string_view json);

struct AuthzCase {
  std::string name;
  aws::Principal principal = Alice();
  std::string service;  // service principal; empty: principal
  std::string action;
  std::string resource = "*";
  std::string resource_account;
  bool globals = true;  // AddGlobalConditionKeys(no source ip, TLS, kNow) before `context`
  ContextMap context;   // overlays the global keys
  std::vector<std::string> identity, session, boundary;
  std::string resource_policy;  // empty: none
  bool key_policy = false;
  std::string trust;  // non-empty: an EvaluateTrust case with this trust policy
  Decision::Effect effect = Decision::kImplicitDeny;
  bool check_reason = false;
  Decision::Reason reason = Decision::Reason::kNone;
  std::vector<std::string> sids;  // expected deciding statements, in order

  AuthzCase& As(aws::Principal p) {
    principal = std::move(p);
    return *this;
  }
  AuthzCase& AsService(std::string s) {
    service = std::move(s);
    return *this;
  }
  AuthzCase& Do(std::string a, std::string r = "*") {
    action = std::move(a);
    resource = std::move(r);
    return *this;
  }
  AuthzCase& In(std::string account) {
    resource_account = std::move(account);
    return *this;
  }
  AuthzCase& Ctx(std::string key, std::vector<std::string> values) {
    context[std::move(key)] = std::move(values);
    return *this;
  }
  AuthzCase& NoGlobals() {
    globals = false;
    return *this;
  }
  AuthzCase& Identity(std::string doc) {
    identity.push_back(std::move(doc));
    return *this;
  }
  AuthzCase& SessionPolicy(std::string doc) {
    session.push_back(std::move(doc));
    return *this;
  }
  AuthzCase& Boundary(std::string doc) {
    boundary.push_back(std::move(doc));
    return *this;
  }
  AuthzCase& Resource(std::string doc) {
    resource_policy = std::move(doc);
    return *this;
  }
  AuthzCase& KeyPolicy(std::string doc) {
    resource_policy = std::move(doc);
    key_policy = true;
    return *this;
  }
  AuthzCase& Trust(std::string doc) {
    trust = std::move(doc);
    return *this;
  }
  // Allowed, deciding statements `s`.
  AuthzCase& Allow(std::vector<std::string> s = {}) {
    effect = Decision::kAllow;
    check_reason = true;
    reason = Decision::Reason::kNone;
    sids = std::move(s);
    return *this;
  }
  AuthzCase& Deny(Decision::Reason r, std::vector<std::string> s) {
    effect = Decision::kExplicitDeny;
    check_reason = true;
    reason = r;
    sids = std::move(s);
    return *this;
  }
  AuthzCase& Implicit(Decision::Reason r) {
    effect = Decision::kImplicitDeny;
    check_reason = true;
    reason = r;
    sids.clear();
    return *this;
  }
};

AuthzCase Case(std::string name);

// Alice asks for kSecret with secretsmanager:GetSecretValue; one identity statement "S"
// allows it under `condition`; the request context has `key` = `values` (nothing added
// when `key` is empty). Expects the allow by "S", or the identity's implicit deny.
AuthzCase ConditionCase(std::string name, std::string_view condition, std::string key,
                        std::vector<std::string> values, bool allowed);

std::vector<AuthzCase> BasicCases();
std::vector<AuthzCase> SessionCases();
std::vector<AuthzCase> MatchingCases();
std::vector<AuthzCase> ConditionCases();
std::vector<AuthzCase> ConditionSetCases();
std::vector<AuthzCase> VariableCases();
std::vector<AuthzCase> CrossAccountCases();
std::vector<AuthzCase> KmsCases();
std::vector<AuthzCase> TrustCases();

}  // namespace berth::iam::testing
