// The CPU cost of one signed API request inside berth, without the network:
// SigV4 verification alone, and the whole gateway path for STS
// GetCallerIdentity (parse, verify, dispatch, XML reply).
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>

#include "aws/gateway.h"
#include "aws/sigv4.h"
#include "crypto/random.h"
#include "crypto/root_key.h"
#include "iam/access_control.h"
#include "iam/identity_store.h"
#include "iam/service.h"
#include "store/sqlite/sqlite_kv.h"
#include "server/routes.h"
#include "sts/service.h"

namespace {

using namespace berth;

class OneKey final : public aws::CredentialResolver {
 public:
  Result<aws::SigningSecret> Resolve(std::string_view id, std::string_view) override {
    if (id != "AKIDEXAMPLEEXAMPLE00") return Fail("UnrecognizedClientException", "unknown");
    aws::SigningSecret s;
    s.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    s.principal.account = "123456789012";
    s.principal.arn = "arn:aws:iam::123456789012:root";
    s.principal.user_id = "123456789012";
    return s;
  }
};

http::Request SignedGetCallerIdentity() {
  http::Request r;
  r.method = "POST";
  r.target = "/";
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
               {"User-Agent", "aws-cli/2.9.19 Python/3.11.2 Linux/6 source/x86_64.debian.12"},
               {"amz-sdk-invocation-id", "3f0e2f7a-3f33-4f1f-9d9f-1a1a1a1a1a1a"}};
  r.body = "Action=GetCallerIdentity&Version=2011-06-15";
  aws::Sign(r, "127.0.0.1:4566", {"AKIDEXAMPLEEXAMPLE00", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""},
            "us-east-1", "sts", SystemClock::Instance().Now());
  return r;
}

void BM_SigV4Verify(benchmark::State& state) {
  OneKey keys;
  http::Request r = SignedGetCallerIdentity();
  auto now = SystemClock::Instance().Now();
  for (auto _ : state) {
    auto v = aws::Verify(r, keys, now);
    if (!v) state.SkipWithError(v.error().message.c_str());
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_SigV4Verify);

void BM_GatewayGetCallerIdentity(benchmark::State& state) {
  // The real services on a throwaway store: what `berth server` runs per request.
  char dir_template[] = "/tmp/berth-bench-XXXXXX";
  std::string dir = mkdtemp(dir_template);
  auto kv = store::SqliteKv::Open(dir + "/berth.db");
  auto root_key = crypto::RootKey::FromBytes(std::string(32, 'k'));
  iam::IdentityStore identities(**kv, *root_key, crypto::SecureIds(), SystemClock::Instance());
  identities.EnsureAccount("123456789012");
  identities.EnsureRootAccessKey(
      "123456789012",
      aws::Credentials{"AKIDEXAMPLEEXAMPLE00", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""});
  iam::Service iam(**kv, crypto::SecureIds(), SystemClock::Instance(), iam::ValidatePolicyDocument);
  iam::AccessControl access(iam, identities, SystemClock::Instance());
  sts::Service sts(iam, identities, SystemClock::Instance(),
                   [&](const aws::Principal* caller, const std::string& service,
                       const iam::Role& role, const sts::AssumeRoleRequest& request) {
                     return access.CheckTrust(caller, service, role, request.external_id, "");
                   });
  aws::Gateway gateway(identities, SystemClock::Instance(), crypto::SecureIds());
  gateway.Add(server::StsRoutes(sts, [&](const aws::RequestContext& ctx, const std::string& action,
                                          const std::string& resource,
                                          const iam::ResourceContext& res) {
                return access.Authorize(ctx, action, resource, res);
              }));
  http::Request r = SignedGetCallerIdentity();
  for (auto _ : state) {
    http::Response res = gateway.Handle(r);
    if (res.status != 200) state.SkipWithError(res.body.c_str());
    benchmark::DoNotOptimize(res);
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_GatewayGetCallerIdentity);

}  // namespace

BENCHMARK_MAIN();
