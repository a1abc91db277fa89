#include "agent/host/host.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace berth::agent::host {
namespace {

bool Has(const std::vector<std::pair<std::string, std::string>>& a, const std::string& name,
         const std::string& value = "") {
  return std::any_of(a.begin(), a.end(),
                     [&](const auto& p) { return p.first == name && p.second == value; });
}

TEST(Resources, CoresAndMemTotalLessTheReserve) {
  auto r = ResourcesOf(2, "MemTotal:       24576000 kB\nMemFree: 1 kB\n", 512);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->cpu_units, 2048);
  EXPECT_EQ(r->memory_mib, 24576000 / 1024 - 512);
  EXPECT_EQ(r->reserved_ports, (std::vector<int>{22, 2375, 2376, 51678, 51679}));
}

TEST(Resources, MissingMemTotalOrNothingLeftIsAnError) {
  EXPECT_EQ(ResourcesOf(1, "MemFree: 1 kB\n", 0).error().code, "InvalidHost");
  EXPECT_EQ(ResourcesOf(1, "MemTotal: 1024 kB\n", 1).error().code, "InvalidHost");
}

TEST(Resources, ThisHostHasSome) {
  auto r = ThisHost(0);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GE(r->cpu_units, 1024);
  EXPECT_GT(r->memory_mib, 0);
}

TEST(Capabilities, AnEc2AgentHasTheSecretsManagerCapabilityAndTaskEni) {
  auto a = CapabilityAttributes({});
  EXPECT_TRUE(Has(a, "ecs.capability.private-registry-authentication.secretsmanager"));
  EXPECT_TRUE(Has(a, "ecs.capability.task-eni"));
  EXPECT_TRUE(Has(a, "com.amazonaws.ecs.capability.logging-driver.awslogs"));
  EXPECT_TRUE(Has(a, "ecs.capability.execution-role-awslogs"));
  EXPECT_TRUE(Has(a, "com.amazonaws.ecs.capability.docker-remote-api.1.25"));
  EXPECT_FALSE(Has(a, "com.amazonaws.ecs.capability.docker-remote-api.1.26"));
  EXPECT_FALSE(Has(a, "com.amazonaws.ecs.capability.docker-remote-api.1.33"));
  EXPECT_FALSE(Has(a, "ecs.capability.external"));
  EXPECT_FALSE(Has(a, "com.amazonaws.ecs.capability.privileged-container"));
  EXPECT_TRUE(Has(a, "ecs.os-type", "linux"));
}

TEST(Capabilities, ExternalDropsTaskEniAndSaysExternal) {
  auto a = CapabilityAttributes({.external = true});
  EXPECT_TRUE(Has(a, "ecs.capability.external"));
  EXPECT_TRUE(Has(a, "ecs.cpu-architecture", "x86_64"));
  EXPECT_FALSE(Has(a, "ecs.capability.task-eni"));
}

TEST(Capabilities, FargateCarriesItsPlatformVersion) {
  auto a = CapabilityAttributes({.fargate = true, .platform_version = "1.4.0"});
  EXPECT_TRUE(Has(a, std::string(kFargateAttribute), "true"));
  EXPECT_TRUE(Has(a, std::string(kFargatePlatformAttribute), "1.4.0"));
}

}  // namespace
}  // namespace berth::agent::host
