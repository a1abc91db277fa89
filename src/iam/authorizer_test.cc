// Table-driven tests of iam::Evaluate and iam::EvaluateTrust: the cases live in
// authorizer_cases_*.cc; this file holds their vocabulary, the one TEST_P that runs them,
// and a few tests of the exact denial messages.
#include "iam/authorizer.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "common/clock.h"
#include "iam/authorizer_cases.h"
#include "iam/policy.h"

namespace berth::iam::testing {

aws::Principal Root(std::string account) {
  aws::Principal p;
  p.kind = aws::Principal::Kind::kRoot;
  p.arn = "arn:aws:iam::" + account + ":root";
  p.user_id = account;
  p.account = std::move(account);
  return p;
}

aws::Principal User(std::string account, std::string name, std::string user_id) {
  aws::Principal p;
  p.kind = aws::Principal::Kind::kUser;
  p.arn = "arn:aws:iam::" + account + ":user/" + name;
  p.account = std::move(account);
  p.name = std::move(name);
  p.user_id = std::move(user_id);
  return p;
}

aws::Principal Alice() { return User(kAcctA, "alice", "AIDAALICEEXAMPLE00001"); }
aws::Principal Carol() { return User(kAcctA, "carol", "AIDACAROLEXAMPLE0001"); }
aws::Principal Bob() { return User(kAcctB, "bob", "AIDABOBEXAMPLE000001"); }

aws::Principal Session(std::string account, std::string role, std::string session) {
  aws::Principal p;
  p.kind = aws::Principal::Kind::kAssumedRole;
  p.arn = "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + session;
  p.user_id = "AROAEXECEXAMPLE00001:" + session;
  p.account = std::move(account);
  p.name = std::move(role);
  p.session_name = std::move(session);
  return p;
}

namespace {

// A JSON string, or the raw JSON when it already is a list or an object.
std::string Val(std::string_view v) {
  if (!v.empty() && (v.front() == '[' || v.front() == '{')) return std::string(v);
  return "\"" + std::string(v) + "\"";
}

}  // namespace

std::string St(std::string_view sid, std::string_view effect, std::string_view action,
               std::string_view resource, std::string_view extra) {
  std::string out = "{";
  if (!sid.empty()) out += "\"Sid\":\"" + std::string(sid) + "\",";
  out += "\"Effect\":\"" + std::string(effect) + "\"";
  if (action.starts_with('!')) {
    out += ",\"NotAction\":" + Val(action.substr(1));
  } else {
    out += ",\"Action\":" + Val(action);
  }
  if (resource.starts_with('!')) {
    out += ",\"NotResource\":" + Val(resource.substr(1));
  } else if (!resource.empty()) {
    out += ",\"Resource\":" + Val(resource);
  }
  if (!extra.empty()) out += "," + std::string(extra);
  return out + "}";
}

std::string Doc(std::initializer_list<std::string> statements, std::string_view version) {
  std::string out = "{";
  if (!version.empty()) out += "\"Version\":\"" + std::string(version) + "\",";
  out += "\"Statement\":[";
  bool first = true;
  for (const auto& s : statements) {
    if (!first) out += ",";
    out += s;
    first = false;
  }
  return out + "]}";
}

std::string P(std::string_view who) {
  if (who == "*" || who.starts_with('{')) return "\"Principal\":" + Val(who);
  return "\"Principal\":{\"AWS\":" + Val(who) + "}";
}

std::string NotP(std::string_view who) {
  if (who == "*" || who.starts_with('{')) return "\"NotPrincipal\":" + Val(who);
  return "\"NotPrincipal\":{\"AWS\":" + Val(who) + "}";
}

std::string Svc(std::string_view service) {
  return "\"Principal\":{\"Service\":" + Val(service) + "}";
}

std::string Cond(std::string_view json) { return "\"Condition\":" + std::string(json); }

AuthzCase Case(std::string name) {
  AuthzCase c;
  c.name = std::move(name);
  return c;
}

AuthzCase ConditionCase(std::string name, std::string_view condition, std::string key,
                        std::vector<std::string> values, bool allowed) {
  AuthzCase c = Case(std::move(name))
                    .Do(kGet, kSecret)
                    .Identity(Doc({St("S", "Allow", kGet, "*", Cond(condition))}));
  if (!key.empty()) c.Ctx(std::move(key), std::move(values));
  return allowed ? c.Allow({"S"}) : c.Implicit(Decision::Reason::kIdentity);
}

void PrintTo(const AuthzCase& c, std::ostream* os) { *os << c.name; }

namespace {

TimePoint Now() {
  // 2026-11-26T16:55:06Z
  return TimePoint(std::chrono::seconds(1795712106));
}

std::vector<AuthzCase> AllCases() {
  std::vector<AuthzCase> all;
  for (auto* part :
       {&BasicCases, &SessionCases, &MatchingCases, &ConditionCases, &ConditionSetCases,
        &VariableCases, &CrossAccountCases, &KmsCases, &TrustCases}) {
    auto cases = (*part)();
    all.insert(all.end(), cases.begin(), cases.end());
  }
  return all;
}

std::shared_ptr<const Policy> MustParse(const std::string& json, PolicyType type) {
  auto parsed = ParsePolicy(json, type);
  if (!parsed) {
    ADD_FAILURE() << "policy does not parse: " << parsed.error().message << "\n" << json;
    return nullptr;
  }
  return *parsed;
}

AuthzRequest RequestOf(const AuthzCase& c) {
  AuthzRequest request;
  request.principal = c.principal;
  request.service_principal = c.service;
  request.action = c.action;
  request.resource = c.resource;
  request.resource_account = c.resource_account;
  if (c.globals) AddGlobalConditionKeys(request, "", true, Now());
  for (const auto& [key, values] : c.context) request.context[key] = values;
  return request;
}

std::vector<std::string> SidsOf(const Decision& d) {
  std::vector<std::string> out;
  for (const auto& ref : d.deciding) out.push_back(ref.sid);
  return out;
}

class AuthorizerTable : public ::testing::TestWithParam<AuthzCase> {};

TEST_P(AuthorizerTable, Decides) {
  const AuthzCase& c = GetParam();
  AuthzRequest request = RequestOf(c);
  PolicySet set;
  auto add = [&](const std::vector<std::string>& docs, PolicyType type, std::string_view what,
                 std::vector<NamedPolicy>* out) {
    for (size_t i = 0; i < docs.size(); ++i) {
      out->push_back(
          NamedPolicy{std::string(what) + "/" + std::to_string(i), MustParse(docs[i], type)});
    }
  };
  add(c.identity, PolicyType::kIdentity, "identity", &set.identity);
  add(c.session, PolicyType::kSession, "session", &set.session);
  add(c.boundary, PolicyType::kIdentity, "boundary", &set.permissions_boundary);
  if (!c.resource_policy.empty()) {
    set.resource =
        NamedPolicy{"resource", MustParse(c.resource_policy, c.key_policy ? PolicyType::kKeyPolicy
                                                                          : PolicyType::kResource)};
    set.resource_is_key_policy = c.key_policy;
  }
  Decision d;
  if (c.trust.empty()) {
    d = Evaluate(request, set);
  } else {
    auto trust = MustParse(c.trust, PolicyType::kTrust);
    ASSERT_TRUE(trust);
    d = EvaluateTrust(request, *trust, set);
  }
  EXPECT_EQ(d.effect, c.effect) << d.Message(request);
  if (c.check_reason) {
    EXPECT_EQ(static_cast<int>(d.reason), static_cast<int>(c.reason)) << d.Message(request);
  }
  EXPECT_EQ(SidsOf(d), c.sids);
}

INSTANTIATE_TEST_SUITE_P(Cases, AuthorizerTable, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<AuthzCase>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace berth::iam::testing
