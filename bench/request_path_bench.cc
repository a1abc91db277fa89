// The CPU cost of one signed API request inside berth, without the network:
// SigV4 verification alone, and the whole gateway path for STS
// GetCallerIdentity (parse, verify, dispatch, XML reply).
#include <benchmark/benchmark.h>

#include "aws/gateway.h"
#include "aws/sigv4.h"
#include "crypto/random.h"
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
  OneKey keys;
  sts::Service sts;
  aws::Gateway gateway(keys, SystemClock::Instance(), crypto::SecureIds());
  gateway.Add(server::StsRoutes(sts));
  http::Request r = SignedGetCallerIdentity();
  for (auto _ : state) {
    http::Response res = gateway.Handle(r);
    if (res.status != 200) state.SkipWithError(res.body.c_str());
    benchmark::DoNotOptimize(res);
  }
}
BENCHMARK(BM_GatewayGetCallerIdentity);

}  // namespace

BENCHMARK_MAIN();
