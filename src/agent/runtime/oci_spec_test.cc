#include "agent/runtime/oci_spec.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace berth::agent::runtime {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;

TEST(ImageConfigTest, ReadsTheConfigObjectOfTheBlobOrItself) {
  auto blob =
      ParseImageConfig(R"({"architecture":"amd64","config":{"Entrypoint":["/e"],"Cmd":["a","b"],)"
                       R"("Env":["A=1"],"WorkingDir":"/w","User":"app"}})");
  ASSERT_TRUE(blob) << blob.error().message;
  EXPECT_EQ(blob->entrypoint, Strings{"/e"});
  EXPECT_EQ(blob->cmd, (Strings{"a", "b"}));
  EXPECT_EQ(blob->env, Strings{"A=1"});
  EXPECT_EQ(blob->working_dir, "/w");
  EXPECT_EQ(blob->user, "app");
  auto bare = ParseImageConfig(R"({"Cmd":["sh"],"Entrypoint":null})");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->cmd, Strings{"sh"});
  EXPECT_TRUE(bare->entrypoint.empty());
  EXPECT_TRUE(ParseImageConfig("")->cmd.empty());
  EXPECT_TRUE(ParseImageConfig(R"({"config":null})")->cmd.empty());
}

TEST(ImageConfigTest, RejectsWhatIsNotAnImageConfig) {
  auto bad = ParseImageConfig("[1]");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "CannotCreateContainerError");
  EXPECT_EQ(bad.error().message, "the image config is not a JSON object");
  auto cmd = ParseImageConfig(R"({"config":{"Cmd":"sh"}})");
  ASSERT_FALSE(cmd);
  EXPECT_EQ(cmd.error().message, "image config Cmd is not a list");
}

TEST(ProcessArgsTest, FollowsDockersEntrypointAndCmdRules) {
  ImageConfig image{.entrypoint = {"/entry"}, .cmd = {"default"}};
  EXPECT_EQ(ProcessArgs(image, {}, {}), (Strings{"/entry", "default"}));
  EXPECT_EQ(ProcessArgs(image, {}, {"x"}), (Strings{"/entry", "x"}));
  // An entry point given drops the image's Cmd too.
  EXPECT_EQ(ProcessArgs(image, {"/other"}, {}), Strings{"/other"});
  EXPECT_EQ(ProcessArgs(image, {"/other"}, {"y"}), (Strings{"/other", "y"}));
  EXPECT_EQ(ProcessArgs(ImageConfig{.cmd = {"sh"}}, {}, {}), Strings{"sh"});
}

TEST(MergeEnvironmentTest, OverridesByNameKeepsOrderAndDefaultsPath) {
  EXPECT_EQ(MergeEnvironment({"A=1", "B=2"}, {{"B", "x=y"}, {"C", "3"}}),
            (Strings{"A=1", "B=x=y", "C=3",
                     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}));
  EXPECT_EQ(MergeEnvironment({"PATH=/bin"}, {}), Strings{"PATH=/bin"});
  EXPECT_EQ(MergeEnvironment({}, {{"PATH", "/opt"}}), Strings{"PATH=/opt"});
}

constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "app:x:1000:1001:App:/home/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/:/bin/false\n";
constexpr char kGroup[] =
    "root:x:0:\n"
    "app:x:1001:\n"
    "audio:x:29:app,other\n"
    "video:x:44:other\n"
    "staff:x:50:app\n";

TEST(ResolveUserTest, NamesAndNumbersAsDockerResolvesThem) {
  auto root = ResolveUser("", kPasswd, kGroup);
  EXPECT_EQ(root->uid, 0u);
  EXPECT_EQ(root->gid, 0u);
  auto app = ResolveUser("app", kPasswd, kGroup);
  ASSERT_TRUE(app);
  EXPECT_EQ(app->uid, 1000u);
  EXPECT_EQ(app->gid, 1001u);
  EXPECT_EQ(app->additional_gids, (std::vector<uint32_t>{29, 50}));
  auto by_uid = ResolveUser("1000", kPasswd, kGroup);
  EXPECT_EQ(by_uid->gid, 1001u);
  auto unknown_uid = ResolveUser("4242", kPasswd, kGroup);
  EXPECT_EQ(unknown_uid->uid, 4242u);
  EXPECT_EQ(unknown_uid->gid, 0u);
  auto with_group = ResolveUser("app:video", kPasswd, kGroup);
  EXPECT_EQ(with_group->gid, 44u);
  auto numeric = ResolveUser("7:8", "", "");
  EXPECT_EQ(numeric->uid, 7u);
  EXPECT_EQ(numeric->gid, 8u);
}

TEST(ResolveUserTest, UnknownNamesAreErrors) {
  auto user = ResolveUser("ghost", kPasswd, kGroup);
  ASSERT_FALSE(user);
  EXPECT_EQ(user.error().code, "CannotCreateContainerError");
  EXPECT_EQ(user.error().message, "unable to find user ghost: no matching entries in passwd file");
  auto group = ResolveUser("app:ghosts", kPasswd, kGroup);
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().message,
            "unable to find group ghosts: no matching entries in group file");
}

ContainerConfig Basic() {
  ContainerConfig c;
  c.id = "c1";
  c.hostname = "host1";
  c.command = {"echo", "hi"};
  return c;
}

json Spec(const ContainerConfig& c, ImageConfig image = {}, UserIds user = {},
          SpecOptions options = {}) {
  auto text = BuildSpec(c, image, user, options);
  EXPECT_TRUE(text) << text.error().message;
  return text ? json::parse(*text) : json();
}

json FindMount(const json& spec, const std::string& destination) {
  for (const auto& m : spec["mounts"]) {
    if (m["destination"] == destination) return m;
  }
  return json();
}

TEST(BuildSpecTest, DefaultsAreDockerLike) {
  ImageConfig image{.env = {"A=1"}, .working_dir = "/srv"};
  json spec = Spec(Basic(), image, UserIds{.uid = 5, .gid = 6, .additional_gids = {7}});
  EXPECT_EQ(spec["ociVersion"], "1.0.2");
  EXPECT_EQ(spec["hostname"], "host1");
  EXPECT_EQ(spec["root"], json({{"path", "rootfs"}, {"readonly", false}}));
  EXPECT_EQ(spec["process"]["args"], json({"echo", "hi"}));
  EXPECT_EQ(spec["process"]["cwd"], "/srv");
  EXPECT_EQ(spec["process"]["terminal"], false);
  EXPECT_EQ(spec["process"]["user"], json({{"uid", 5}, {"gid", 6}, {"additionalGids", {7}}}));
  EXPECT_EQ(spec["process"]["env"][0], "A=1");
  auto caps = spec["process"]["capabilities"]["bounding"];
  EXPECT_EQ(caps.size(), 14u);
  EXPECT_NE(std::find(caps.begin(), caps.end(), "CAP_NET_BIND_SERVICE"), caps.end());
  EXPECT_EQ(std::find(caps.begin(), caps.end(), "CAP_SYS_ADMIN"), caps.end());
  EXPECT_EQ(spec["process"]["capabilities"]["effective"], caps);
  EXPECT_FALSE(spec["process"].contains("rlimits"));
  for (const char* d :
       {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}) {
    EXPECT_FALSE(FindMount(spec, d).is_null()) << d;
  }
  EXPECT_EQ(FindMount(spec, "/sys")["options"].back(), "ro");
  EXPECT_EQ(FindMount(spec, "/sys/fs/cgroup")["options"].back(), "ro");
  EXPECT_EQ(spec["linux"]["namespaces"],
            json::parse(R"([{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}])"));
  EXPECT_EQ(spec["linux"]["maskedPaths"].size(), 10u);
  EXPECT_EQ(spec["linux"]["readonlyPaths"].size(), 5u);
  EXPECT_EQ(spec["linux"]["cgroupsPath"], "/berth/c1");
  EXPECT_EQ(spec["linux"]["resources"],
            json::parse(R"({"devices":[{"allow":false,"access":"rwm"}]})"));
  EXPECT_FALSE(spec.contains("annotations"));
}

TEST(BuildSpecTest, ContainerDefinitionOverlaysTheImage) {
  ContainerConfig c = Basic();
  c.working_directory = "/app";
  c.environment = {{"A", "2"}};
  c.readonly_rootfs = true;
  c.netns_path = "/var/run/netns/t1";
  c.mounts = {{.source = "/h/hosts", .destination = "/etc/hosts"}};
  c.annotations = {{"com.amazonaws.ecs.task-arn", "arn:aws:ecs:r:1:task/c/t"}};
  json spec = Spec(c, ImageConfig{.env = {"A=1"}, .working_dir = "/srv"});
  EXPECT_EQ(spec["process"]["cwd"], "/app");
  EXPECT_EQ(spec["process"]["env"][0], "A=2");
  EXPECT_EQ(spec["root"]["readonly"], true);
  EXPECT_EQ(spec["linux"]["namespaces"].back(),
            json({{"type", "network"}, {"path", "/var/run/netns/t1"}}));
  EXPECT_EQ(FindMount(spec, "/etc/hosts"), json({{"destination", "/etc/hosts"},
                                                 {"type", "bind"},
                                                 {"source", "/h/hosts"},
                                                 {"options", {"rbind", "ro"}}}));
  EXPECT_EQ(spec["annotations"]["com.amazonaws.ecs.task-arn"], "arn:aws:ecs:r:1:task/c/t");
}

TEST(BuildSpecTest, LimitsBecomeResourcesAndRlimits) {
  ContainerConfig c = Basic();
  c.memory_limit_bytes = 256 << 20;
  c.memory_reservation_bytes = 128 << 20;
  c.cpu_shares = 512;
  c.cpu_limit = 0.25;
  c.pids_limit = 100;
  c.ulimits = {{.name = "nofile", .soft = 1024, .hard = 4096}, {.name = "core", .soft = 0}};
  json spec = Spec(c);
  const json& r = spec["linux"]["resources"];
  EXPECT_EQ(r["memory"], json({{"limit", 256 << 20}, {"reservation", 128 << 20}}));
  EXPECT_EQ(r["cpu"], json({{"shares", 512}, {"quota", 25000}, {"period", 100000}}));
  EXPECT_EQ(r["pids"], json({{"limit", 100}}));
  EXPECT_EQ(spec["process"]["rlimits"],
            json::parse(R"([{"type":"RLIMIT_NOFILE","soft":1024,"hard":4096},)"
                        R"({"type":"RLIMIT_CORE","soft":0,"hard":0}])"));
  c.ulimits = {{.name = "bogus"}};
  auto bad = BuildSpec(c, {}, {}, {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "CannotCreateContainerError");
  EXPECT_EQ(bad.error().message, "invalid ulimit name: bogus");
}

TEST(BuildSpecTest, PrivilegedOnlyWhenAllowed) {
  ContainerConfig c = Basic();
  c.privileged = true;
  auto refused = BuildSpec(c, {}, {}, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "CannotCreateContainerError");
  EXPECT_EQ(refused.error().message, "privileged containers are not allowed on this instance");
  json spec = Spec(c, {}, {}, SpecOptions{.allow_privileged = true});
  EXPECT_EQ(spec["process"]["capabilities"]["bounding"].size(), 41u);
  EXPECT_FALSE(spec["linux"].contains("maskedPaths"));
  EXPECT_FALSE(spec["linux"].contains("readonlyPaths"));
  EXPECT_EQ(FindMount(spec, "/sys")["options"].back(), "rw");
  EXPECT_EQ(spec["linux"]["resources"]["devices"][0]["allow"], true);
}

TEST(BuildSpecTest, InitRunsTheCommandUnderTheBoundInit) {
  ContainerConfig c = Basic();
  c.init = true;
  auto refused = BuildSpec(c, {}, {}, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "no init process is available");
  json spec = Spec(c, {}, {}, SpecOptions{.init_binary = "/opt/berth-init"});
  EXPECT_EQ(spec["process"]["args"], json({"/.berth-init", "--", "echo", "hi"}));
  EXPECT_EQ(FindMount(spec, "/.berth-init"), json({{"destination", "/.berth-init"},
                                                   {"type", "bind"},
                                                   {"source", "/opt/berth-init"},
                                                   {"options", {"bind", "ro", "nosuid"}}}));
}

TEST(BuildSpecTest, NoCommandIsAnError) {
  ContainerConfig c = Basic();
  c.command.clear();
  auto none = BuildSpec(c, {}, {}, {});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, "CannotCreateContainerError");
  EXPECT_EQ(none.error().message, "no command specified");
}

}  // namespace
}  // namespace berth::agent::runtime
