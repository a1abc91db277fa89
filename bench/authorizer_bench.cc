// Policy evaluations per second for a realistic request: an assumed role with
// three inline policies and one managed policy (10 statements in all) reading a
// secret whose resource policy has a condition. Issue 3's target: at least
// 1,000,000 decisions per second on one core.
#include <benchmark/benchmark.h>

#include "iam/authorizer.h"
#include "iam/policy.h"

namespace {

using namespace berth;

std::shared_ptr<const iam::Policy> Parse(const char* json, iam::PolicyType type) {
  auto p = iam::ParsePolicy(json, type);
  if (!p) std::abort();
  return *p;
}

struct Fixture {
  iam::AuthzRequest request;
  iam::PolicySet set;

  Fixture() {
    request.principal.kind = aws::Principal::Kind::kAssumedRole;
    request.principal.account = "123456789012";
    request.principal.name = "ecsTaskExecutionRole";
    request.principal.session_name = "task-1234";
    request.principal.arn =
        "arn:aws:sts::123456789012:assumed-role/ecsTaskExecutionRole/task-1234";
    request.principal.user_id = "AROAEXAMPLEEXAMPLE123:task-1234";
    request.action = "secretsmanager:GetSecretValue";
    request.resource = "arn:aws:secretsmanager:us-east-1:123456789012:secret:registry/team-AbCdEf";
    request.resource_account = "123456789012";
    iam::AddGlobalConditionKeys(request, "10.0.0.7", true, SystemClock::Instance().Now());
    request.context["secretsmanager:SecretId"] = {request.resource};

    set.identity.push_back({"role/ecsTaskExecutionRole/inline/registry", Parse(R"({
      "Version": "2012-10-17", "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "kms:Decrypt"],
         "Resource": ["arn:aws:secretsmanager:us-east-1:123456789012:secret:registry/*",
                      "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]},
        {"Sid": "NoProd", "Effect": "Deny", "Action": "secretsmanager:*",
         "Resource": "arn:aws:secretsmanager:*:*:secret:prod/*"}]})", iam::PolicyType::kIdentity)});
    set.identity.push_back({"role/ecsTaskExecutionRole/inline/logs", Parse(R"({
      "Version": "2012-10-17", "Statement": [
        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": "arn:aws:logs:*:123456789012:log-group:/ecs/*"},
        {"Sid": "Ecr", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken",
         "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": "*"},
        {"Sid": "Tagged", "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}}]})",
        iam::PolicyType::kIdentity)});
    set.identity.push_back({"role/ecsTaskExecutionRole/inline/net", Parse(R"({
      "Version": "2012-10-17", "Statement": [
        {"Sid": "OnlyVpc", "Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]},
                       "Bool": {"aws:ViaAWSService": "false"}}},
        {"Sid": "Tls", "Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})",
        iam::PolicyType::kIdentity)});
    set.identity.push_back({"arn:aws:iam::123456789012:policy/ReadOnlyKms", Parse(R"({
      "Version": "2012-10-17", "Statement": [
        {"Sid": "Describe", "Effect": "Allow", "Action": ["kms:Describe*", "kms:List*"], "Resource": "*"},
        {"Sid": "Random", "Effect": "Allow", "Action": "kms:GenerateRandom", "Resource": "*"},
        {"Sid": "Ctx", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}}]})",
        iam::PolicyType::kIdentity)});
    set.resource = iam::NamedPolicy{"resource", Parse(R"({
      "Version": "2012-10-17", "Statement": [
        {"Sid": "Tasks", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}}]})",
        iam::PolicyType::kResource)};
  }
};

void BM_EvaluateRealisticAllow(benchmark::State& state) {
  Fixture f;
  for (auto _ : state) {
    iam::Decision d = iam::Evaluate(f.request, f.set);
    if (!d.allowed()) state.SkipWithError("expected allow");
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EvaluateRealisticAllow);

void BM_EvaluateRealisticImplicitDeny(benchmark::State& state) {
  Fixture f;
  f.request.action = "secretsmanager:PutSecretValue";
  for (auto _ : state) {
    iam::Decision d = iam::Evaluate(f.request, f.set);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EvaluateRealisticImplicitDeny);

}  // namespace

BENCHMARK_MAIN();
