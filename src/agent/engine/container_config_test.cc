#include "agent/engine/container_config.h"

#include <gtest/gtest.h>

namespace berth::agent::engine {
namespace {

spec::TaskSpec Task(std::string mode) {
  spec::TaskSpec task;
  task.arn = "arn:aws:ecs:eu-west-1:123456789012:task/default/0123456789abcdef0123456789abcdef";
  task.cluster_arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/default";
  task.family = "web";
  task.version = "7";
  task.network_mode = std::move(mode);
  task.cpu = 0.5;
  task.memory_mib = 512;
  return task;
}

TEST(ContainerConfigTest, RuntimeIdIsTaskIdAndNameSanitised) {
  EXPECT_EQ(RuntimeId("abc", "web"), "abc-web");
  EXPECT_EQ(RuntimeId("abc", "we b/x"), "abc-we-b-x");
  EXPECT_EQ(RuntimeId("abc", std::string(300, 'n')).size(), 128u);
}

TEST(ContainerConfigTest, RegionComesFromTheArn) {
  EXPECT_EQ(RegionOfArn(Task("bridge").arn), "eu-west-1");
  EXPECT_EQ(RegionOfArn("not-an-arn"), "");
}

TEST(ContainerConfigTest, HostsFileHasLocalhostTheHostnameAndExtraHosts) {
  EXPECT_EQ(HostsFile("0123456789ab", "10.213.0.2", {{"db", "10.0.0.9"}}),
            "127.0.0.1\tlocalhost localhost.localdomain\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "10.213.0.2\t0123456789ab\n"
            "10.0.0.9\tdb\n");
}

TEST(ContainerConfigTest, ResolvConfDropsLoopbackNameserversInATaskNamespace) {
  std::string host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp\n";
  EXPECT_EQ(ResolvConf({}, {}, host, true), "# generated\nnameserver 10.0.0.2\nsearch corp\n");
  EXPECT_EQ(ResolvConf({}, {}, host, false), host);
  // Only a local resolver: Docker's public fallback.
  EXPECT_EQ(ResolvConf({}, {}, "nameserver 127.0.0.53\n", true),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  EXPECT_EQ(ResolvConf({"1.1.1.1"}, {"a.example", "b.example"}, host, true),
            "nameserver 1.1.1.1\nsearch a.example b.example\n");
}

TEST(ContainerConfigTest, EnvironmentOfATaskNamespace) {
  spec::TaskSpec task = Task("awsvpc");
  spec::ContainerSpec c;
  c.name = "app";
  c.environment = {{"AWS_REGION", "us-east-2"}, {"A", "b"}};
  auto env = ContainerEnvironment(task, c, {"127.0.0.1:51679", "169.254.170.2", "ep1", "cred1"});
  EXPECT_EQ(env["ECS_CONTAINER_METADATA_URI_V4"], "http://169.254.170.2/v4/ep1");
  EXPECT_EQ(env["ECS_CONTAINER_METADATA_URI"], "http://169.254.170.2/v3/ep1");
  EXPECT_EQ(env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], "/v2/credentials/cred1");
  EXPECT_FALSE(env.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
  EXPECT_EQ(env["AWS_DEFAULT_REGION"], "eu-west-1");
  EXPECT_EQ(env["AWS_REGION"], "us-east-2");  // the definition's wins
  EXPECT_EQ(env["A"], "b");
}

TEST(ContainerConfigTest, EnvironmentOnTheHostNetworkUsesTheAgentsAddress) {
  spec::ContainerSpec c;
  auto env = ContainerEnvironment(Task("host"), c, {"127.0.0.1:51679", "169.254.170.2", "ep", "cr"});
  EXPECT_EQ(env["ECS_CONTAINER_METADATA_URI_V4"], "http://127.0.0.1:51679/v4/ep");
  EXPECT_EQ(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], "http://127.0.0.1:51679/v2/credentials/cr");
  EXPECT_FALSE(env.contains("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"));
  // No task role: no credentials variable at all.
  env = ContainerEnvironment(Task("host"), c, {"127.0.0.1:51679", "169.254.170.2", "ep", ""});
  EXPECT_FALSE(env.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
}

TEST(ContainerConfigTest, ConfigCarriesLimitsMountsLabelsAndNamespace) {
  spec::TaskSpec task = Task("bridge");
  spec::ContainerSpec c;
  c.name = "app";
  c.memory_mib = 64;
  c.memory_reservation_mib = 32;
  c.cpu = 256;
  c.readonly_root_filesystem = true;
  c.init_process_enabled = true;
  c.ulimits = {{"nofile", 1024, 2048}};
  c.labels = {{"team", "a"}};
  network::TaskNetwork net{"bridge", "/run/netns/x", "10.213.0.2", "10.213.0.1", {}};
  ConfigInputs in;
  in.task = &task;
  in.container = &c;
  in.network = &net;
  in.image_rootfs = "/data/images/sha256/ab/rootfs";
  in.hosts_path = "/data/tasks/t/hosts";
  in.resolv_conf_path = "/data/tasks/t/resolv.conf";
  runtime::ContainerConfig config = MakeContainerConfig(in);
  EXPECT_EQ(config.id, "0123456789abcdef0123456789abcdef-app");
  EXPECT_EQ(config.memory_limit_bytes, 64 << 20);
  EXPECT_EQ(config.memory_reservation_bytes, 32 << 20);
  EXPECT_EQ(config.cpu_shares, 256);
  EXPECT_EQ(config.cpu_limit, 0);
  EXPECT_TRUE(config.readonly_rootfs);
  EXPECT_TRUE(config.init);
  EXPECT_EQ(config.hostname, "456789abcdef");  // the id's last 12
  EXPECT_EQ(config.netns_path, "/run/netns/x");
  ASSERT_EQ(config.ulimits.size(), 1u);
  EXPECT_EQ(config.ulimits[0].hard, 2048);
  ASSERT_EQ(config.mounts.size(), 2u);
  EXPECT_EQ(config.mounts[0].source, "/data/tasks/t/hosts");
  EXPECT_EQ(config.mounts[0].destination, "/etc/hosts");
  EXPECT_EQ(config.mounts[1].destination, "/etc/resolv.conf");
  EXPECT_EQ(config.annotations["team"], "a");
  EXPECT_EQ(config.annotations["com.amazonaws.ecs.cluster"], task.cluster_arn);
  EXPECT_EQ(config.annotations["com.amazonaws.ecs.task-arn"], task.arn);
  EXPECT_EQ(config.annotations["com.amazonaws.ecs.container-name"], "app");
  EXPECT_EQ(config.annotations["com.amazonaws.ecs.task-definition-family"], "web");
  EXPECT_EQ(config.annotations["com.amazonaws.ecs.task-definition-version"], "7");
}

TEST(ContainerConfigTest, FargateTaskLimitsApply) {
  spec::TaskSpec task = Task("awsvpc");
  spec::ContainerSpec c;
  c.name = "app";
  ConfigInputs in;
  in.task = &task;
  in.container = &c;
  in.fargate = true;
  runtime::ContainerConfig config = MakeContainerConfig(in);
  EXPECT_EQ(config.cpu_limit, 0.5);
  EXPECT_EQ(config.memory_limit_bytes, int64_t{512} << 20);
  c.memory_mib = 128;  // a container's own limit stays
  EXPECT_EQ(MakeContainerConfig(in).memory_limit_bytes, int64_t{128} << 20);
}

}  // namespace
}  // namespace berth::agent::engine
