// The runc runtime against the real runc: skipped unless root with runc and busybox present.
#include "agent/runtime/runtime.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "agent/runtime/oci_spec.h"

namespace berth::agent::runtime {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kBusybox[] = "/bin/busybox";
constexpr char kPasswd[] = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

// Mount points under `prefix` in this process's mount namespace.
std::vector<std::string> MountsUnder(const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream lines(ReadFile("/proc/self/mountinfo"));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point.starts_with(prefix)) out.push_back(point);
  }
  return out;
}

// The pid of the shim watching the bundle at `dir` (0: none): the process holding its lock
// file (a standby's command line does not name the bundle).
int ShimPid(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    for (const auto& fd : fs::directory_iterator(entry.path() / "fd", ec)) {
      if (fs::read_symlink(fd.path(), ec) == fs::path(dir) / "shim.lock") {
        return std::atoi(entry.path().filename().c_str());
      }
    }
  }
  return 0;
}

std::string Cmdline(int pid) { return ReadFile(fmt::format("/proc/{}/cmdline", pid)); }

// Whether `pid` names no live process (gone, or a zombie its new parent has yet to reap).
bool Exited(int pid) {
  std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  size_t paren = stat.rfind(')');
  return stat.empty() || (paren != std::string::npos && stat.substr(paren + 2, 1) == "Z");
}

bool ExitsWithin(int pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!Exited(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The live standby shims of the runtime whose runc root is `root`.
std::vector<int> StandbyPids(const std::string& root) {
  std::vector<int> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    int pid = std::atoi(entry.path().filename().c_str());
    std::string cmdline = ReadFile(entry.path() / "cmdline");
    if (pid > 0 && cmdline.find(std::string("runtime-shim\0standby\0")) != std::string::npos &&
        cmdline.find(std::string("\0--root\0") + root + '\0') != std::string::npos &&
        !Exited(pid)) {
      out.push_back(pid);
    }
  }
  return out;
}

// The targets of the open fds of `pid`, by number.
std::map<int, std::string> OpenFiles(int pid) {
  std::map<int, std::string> out;
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator(fmt::format("/proc/{}/fd", pid), ec)) {
    out[std::atoi(fd.path().filename().c_str())] = fs::read_symlink(fd.path(), ec).string();
  }
  return out;
}

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/berth-runtime-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() {
    for (const auto& m : MountsUnder(path_)) ::umount2(m.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An image rootfs: busybox and its applets, an /etc/passwd.
void MakeImage(const fs::path& root) {
  fs::create_directories(root / "bin");
  fs::create_directories(root / "etc");
  fs::copy_file(kBusybox, root / "bin/busybox");
  for (const char* applet : {"sh", "echo", "sleep", "cat", "id", "hostname", "rm", "touch"}) {
    fs::create_symlink("busybox", root / "bin" / applet);
  }
  WriteFile(root / "etc/passwd", kPasswd);
  WriteFile(root / "etc/group", "root:x:0:\napp:x:1001:\n");
}

TEST(MakeSpecTest, ReadsUsersInsideTheImageNeverOnTheHost) {
  TempDir tmp;
  fs::path image = fs::path(tmp.path()) / "image";
  fs::create_directories(image / "etc");
  WriteFile(fs::path(tmp.path()) / "host-passwd", "ghost:x:5:5::/:/bin/sh\n");
  fs::create_symlink(fs::path(tmp.path()) / "host-passwd", image / "etc/passwd");
  ContainerConfig c{.id = "c",
                    .image_rootfs = image.string(),
                    .command = {"true"},
                    .user = "ghost",
                    .hostname = "h"};
  auto escaped = MakeSpec(c, {});
  ASSERT_FALSE(escaped);
  EXPECT_EQ(escaped.error().message,
            "unable to find user ghost: no matching entries in passwd file");

  fs::remove(image / "etc/passwd");
  WriteFile(image / "etc/passwd", kPasswd);
  c.user = "";
  c.image_config_json = R"({"config":{"User":"app"}})";
  auto spec = MakeSpec(c, {});
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_NE(spec->find(R"("user":{"gid":1001,"uid":1000})"), std::string::npos) << *spec;
}

class RuncRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (std::system("runc --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "needs runc";
    if (!fs::exists(kBusybox)) GTEST_SKIP() << "needs busybox-static";
    image_ = fs::path(tmp_.path()) / "image";
    MakeImage(image_);
    state_dir_ = tmp_.path() + "/state";
    runtime_ = NewRunc();
  }

  void TearDown() override {
    if (!runtime_) return;
    auto all = runtime_->List();
    ASSERT_TRUE(all);
    for (const auto& c : *all) {
      (void)runtime_->Signal(c.id, SIGKILL);
      EXPECT_TRUE(runtime_->Remove(c.id)) << c.id;
    }
    EXPECT_EQ(MountsUnder(tmp_.path()), std::vector<std::string>{});
  }

  std::unique_ptr<Runtime> NewRunc() {
    return NewRuncRuntime(RuncOptions{
        .state_dir = state_dir_, .shim_binary = BERTH_TEST_SHIM, .init_binary = BERTH_TEST_INIT});
  }

  // Unique on the host: cgroups are named after ids, and tests run in parallel.
  ContainerConfig Config(const std::string& name, std::vector<std::string> command) {
    ContainerConfig c;
    c.id = fmt::format("berth-test-{}-{}", ::getpid(), name);
    c.image_rootfs = image_.string();
    c.image_config_json = R"({"config":{"Env":["FROM_IMAGE=1"]}})";
    c.command = std::move(command);
    return c;
  }

  ContainerStatus RunToEnd(const ContainerConfig& c) {
    auto started = runtime_->Start(c);
    EXPECT_TRUE(started) << started.error().code << ": " << started.error().message;
    if (!started) return {};
    auto done = runtime_->Wait(c.id, seconds(20));
    EXPECT_TRUE(done) << done.error().message;
    EXPECT_EQ(done->state, State::kStopped);
    return *done;
  }

  TempDir tmp_;
  fs::path image_;
  std::string state_dir_;
  std::unique_ptr<Runtime> runtime_;
};

TEST_F(RuncRuntimeTest, EchoExitsZeroIntoTheLog) {
  auto c = Config("echo", {"echo", "hi"});
  c.annotations = {{"com.amazonaws.ecs.container-name", "web"}};
  auto before = std::chrono::system_clock::now();
  auto started = runtime_->Start(c);
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_EQ(started->id, c.id);
  EXPECT_GT(started->pid, 0);
  EXPECT_GE(started->started_at, before);
  auto done = runtime_->Wait(c.id, seconds(20));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state, State::kStopped);
  EXPECT_EQ(done->exit_code, 0);
  EXPECT_EQ(done->started_at, started->started_at);
  EXPECT_GE(done->finished_at, done->started_at);
  EXPECT_EQ(done->annotations, c.annotations);
  EXPECT_EQ(ReadFile(runtime_->LogPath(c.id)), "hi\n");
}

TEST_F(RuncRuntimeTest, ExitCodeIsTheProcesses) {
  EXPECT_EQ(RunToEnd(Config("exit3", {"sh", "-c", "exit 3"})).exit_code, 3);
}

TEST_F(RuncRuntimeTest, ProcessSeesTheDefinitionOverTheImage) {
  auto c = Config("env", {"sh", "-c", "echo $FROM_IMAGE $FROM_DEF $PATH; hostname; pwd; id -u"});
  c.environment = {{"FROM_DEF", "2"}};
  c.hostname = "web-1";
  c.working_directory = "/work";
  c.user = "app";
  EXPECT_EQ(RunToEnd(c).exit_code, 0);
  EXPECT_EQ(
      ReadFile(runtime_->LogPath(c.id)),
      "1 2 /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nweb-1\n/work\n1000\n");
}

TEST_F(RuncRuntimeTest, MemoryLimitIsTheCgroups) {
  auto c = Config("memory", {"cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"});
  c.memory_limit_bytes = 64 << 20;
  if (!fs::exists("/sys/fs/cgroup/memory")) {
    c.command = {"cat", "/sys/fs/cgroup/memory.max"};
  }
  EXPECT_EQ(RunToEnd(c).exit_code, 0);
  EXPECT_EQ(ReadFile(runtime_->LogPath(c.id)), "67108864\n");
}

TEST_F(RuncRuntimeTest, SigkillGives137) {
  auto c = Config("kill", {"sleep", "100"});
  ASSERT_TRUE(runtime_->Start(c));
  auto running = runtime_->Wait(c.id, milliseconds(50));
  ASSERT_TRUE(running);
  EXPECT_EQ(running->state, State::kRunning);
  EXPECT_EQ(running->exit_code, std::nullopt);
  ASSERT_TRUE(runtime_->Signal(c.id, SIGKILL));
  auto done = runtime_->Wait(c.id, seconds(20));
  EXPECT_EQ(done->state, State::kStopped);
  EXPECT_EQ(done->exit_code, 137);
  EXPECT_TRUE(runtime_->Signal(c.id, SIGKILL));  // already stopped: OK
}

TEST_F(RuncRuntimeTest, InitForwardsSigtermAndExits143) {
  // Without an init, pid 1 `sleep` has no handler and the kernel drops SIGTERM.
  auto c = Config("init", {"sleep", "100"});
  c.init = true;
  ASSERT_TRUE(runtime_->Start(c));
  ASSERT_TRUE(runtime_->Signal(c.id, SIGTERM));
  auto done = runtime_->Wait(c.id, seconds(20));
  EXPECT_EQ(done->state, State::kStopped);
  EXPECT_EQ(done->exit_code, 143);
}

TEST_F(RuncRuntimeTest, TheImageIsNeverWritten) {
  std::string passwd_before = ReadFile(image_ / "etc/passwd");
  auto c = Config("write", {"sh", "-c", "echo x > /new && rm /bin/cat && echo y > /etc/passwd"});
  EXPECT_EQ(RunToEnd(c).exit_code, 0);
  EXPECT_FALSE(fs::exists(image_ / "new"));
  EXPECT_TRUE(fs::is_symlink(image_ / "bin/cat"));
  EXPECT_EQ(ReadFile(image_ / "etc/passwd"), passwd_before);
  // A read-only root refuses the write.
  auto ro = Config("readonly", {"touch", "/new"});
  ro.readonly_rootfs = true;
  EXPECT_EQ(RunToEnd(ro).exit_code, 1);
}

TEST_F(RuncRuntimeTest, RemoveLeavesNoMountAndNoDirectory) {
  auto c = Config("remove", {"sleep", "100"});
  ASSERT_TRUE(runtime_->Start(c));
  std::string bundle = state_dir_ + "/" + c.id;
  EXPECT_EQ(MountsUnder(bundle), std::vector<std::string>{bundle + "/rootfs"});
  ASSERT_TRUE(runtime_->Remove(c.id));  // a running container is killed first
  EXPECT_EQ(MountsUnder(bundle), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(bundle));
  auto gone = runtime_->Status(c.id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, "NotFound");
  EXPECT_TRUE(runtime_->Remove(c.id));
  EXPECT_EQ(runtime_->List()->size(), 0u);
}

TEST_F(RuncRuntimeTest, ANewRuntimeAdoptsContainersAndLearnsTheirExit) {
  auto c = Config("adopt", {"sh", "-c", "sleep 0.3; exit 7"});
  c.annotations = {{"task", "t1"}};
  ASSERT_TRUE(runtime_->Start(c));
  runtime_.reset();  // the agent goes away; the shim stays

  runtime_ = NewRunc();
  auto listed = runtime_->List();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, c.id);
  EXPECT_EQ((*listed)[0].state, State::kRunning);
  EXPECT_EQ((*listed)[0].annotations, c.annotations);
  auto done = runtime_->Wait(c.id, seconds(20));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state, State::kStopped);
  EXPECT_EQ(done->exit_code, 7);
}

TEST_F(RuncRuntimeTest, AKilledShimLeavesTheStateToRuncAndTheExitCodeUnknown) {
  auto c = Config("orphan", {"sleep", "100"});
  auto started = runtime_->Start(c);
  ASSERT_TRUE(started);
  int shim = ShimPid(state_dir_ + "/" + c.id);
  ASSERT_GT(shim, 0);
  ASSERT_EQ(::kill(shim, SIGKILL), 0);
  while (::kill(shim, 0) == 0 && ShimPid(state_dir_ + "/" + c.id) != 0) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  auto orphan = runtime_->Wait(c.id, milliseconds(100));
  ASSERT_TRUE(orphan);
  EXPECT_EQ(orphan->state, State::kRunning);  // runc says so
  EXPECT_EQ(orphan->pid, started->pid);
  ASSERT_TRUE(runtime_->Signal(c.id, SIGKILL));
  auto done = runtime_->Wait(c.id, seconds(20));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state, State::kStopped);
  EXPECT_EQ(done->exit_code, std::nullopt);
}

TEST_F(RuncRuntimeTest, AMissingExecutableIsCannotStartAndLeavesNothing) {
  auto c = Config("missing", {"/nosuch"});
  auto started = runtime_->Start(c);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, "CannotStartContainerError");
  EXPECT_NE(started.error().message.find("exec: \"/nosuch\": stat /nosuch: no such file"),
            std::string::npos)
      << started.error().message;
  EXPECT_FALSE(fs::exists(state_dir_ + "/" + c.id));
}

TEST_F(RuncRuntimeTest, BerthRuntimeShimIsTheSameShim) {
  const char* berth = std::getenv("BERTH_BINARY");
  if (berth == nullptr || !fs::exists(berth)) GTEST_SKIP() << "needs BERTH_BINARY (built berth)";
  runtime_ = NewRuncRuntime(RuncOptions{.state_dir = state_dir_, .shim_binary = berth});
  EXPECT_EQ(RunToEnd(Config("berth", {"sh", "-c", "exit 5"})).exit_code, 5);
}

TEST_F(RuncRuntimeTest, AShimThatCannotRunIsCannotStart) {
  runtime_ = NewRuncRuntime(RuncOptions{.state_dir = state_dir_, .shim_binary = "/nonexistent"});
  auto c = Config("noshim", {"true"});
  auto started = runtime_->Start(c);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, "CannotStartContainerError");
  EXPECT_EQ(started.error().message,
            "cannot execute the shim /nonexistent: No such file or directory");
  EXPECT_FALSE(fs::exists(state_dir_ + "/" + c.id));
  EXPECT_EQ(MountsUnder(tmp_.path()), std::vector<std::string>{});
}

TEST_F(RuncRuntimeTest, CreateErrorsLeaveNothing) {
  auto privileged = Config("privileged", {"true"});
  privileged.privileged = true;
  auto refused = runtime_->Start(privileged);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "CannotCreateContainerError");
  EXPECT_EQ(refused.error().message, "privileged containers are not allowed on this instance");
  EXPECT_FALSE(fs::exists(state_dir_ + "/" + privileged.id));

  auto bad_id = runtime_->Start(Config("a/b", {"true"}));
  ASSERT_FALSE(bad_id);
  EXPECT_EQ(bad_id.error().code, "CannotCreateContainerError");

  auto c = Config("twice", {"sleep", "100"});
  ASSERT_TRUE(runtime_->Start(c));
  auto twice = runtime_->Start(c);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, "CannotCreateContainerError");
  EXPECT_EQ(twice.error().message, fmt::format("a container with id {} already exists", c.id));
  EXPECT_EQ(runtime_->Status(c.id)->state, State::kRunning);  // the first is untouched
}

TEST_F(RuncRuntimeTest, AStandbyShimRunsTheNextContainer) {
  int standby = StandbyShimPid(*runtime_, seconds(10));
  ASSERT_GT(standby, 0);
  EXPECT_NE(Cmdline(standby).find(std::string("runtime-shim\0standby\0")), std::string::npos);
  // Before its job it holds no bundle's file: /dev/null, its ready pipe and control socket.
  auto before = OpenFiles(standby);
  ASSERT_EQ(before.size(), 5u);
  EXPECT_EQ(before[0], "/dev/null");
  EXPECT_EQ(before[2], "/dev/null");
  EXPECT_TRUE(before[3].starts_with("pipe:")) << before[3];
  EXPECT_TRUE(before[4].starts_with("socket:")) << before[4];

  auto c = Config("standby", {"sh", "-c", "trap 'exit 4' TERM; while true; do sleep 0.05; done"});
  auto started = runtime_->Start(c);
  ASSERT_TRUE(started) << started.error().message;
  std::string dir = state_dir_ + "/" + c.id;
  EXPECT_EQ(ShimPid(dir), standby);
  // Neither the control socket nor the ready pipe is left to the shim or the container.
  std::multiset<std::string> shim_files;
  for (const auto& [fd, target] : OpenFiles(standby)) shim_files.insert(target);
  EXPECT_EQ(shim_files,
            (std::multiset<std::string>{"/dev/null", dir + "/container.log", dir + "/shim.lock",
                                        dir + "/shim.log", dir + "/shim.log"}));
  EXPECT_EQ(OpenFiles(started->pid),
            (std::map<int, std::string>{
                {0, "/dev/null"}, {1, dir + "/container.log"}, {2, dir + "/container.log"}}));

  ASSERT_TRUE(runtime_->Signal(c.id, SIGTERM));
  auto done = runtime_->Wait(c.id, seconds(20));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state, State::kStopped);
  EXPECT_EQ(done->exit_code, 4);
  EXPECT_TRUE(ExitsWithin(standby, seconds(5)));
  // The next one waits already.
  int next = StandbyShimPid(*runtime_, seconds(10));
  EXPECT_GT(next, 0);
  EXPECT_NE(next, standby);
}

TEST_F(RuncRuntimeTest, ConsecutiveAndConcurrentStartsEachGetTheirOwnShim) {
  ASSERT_GT(StandbyShimPid(*runtime_, seconds(10)), 0);
  std::vector<ContainerConfig> configs;
  for (int i = 0; i < 8; ++i) configs.push_back(Config(fmt::format("many{}", i), {"sleep", "100"}));
  // Two one after the other, then six at once.
  for (int i = 0; i < 2; ++i) {
    auto started = runtime_->Start(configs[i]);
    ASSERT_TRUE(started) << started.error().message;
  }
  std::vector<std::thread> threads;
  std::vector<std::string> errors(8);
  for (int i = 2; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto started = runtime_->Start(configs[i]);
      if (!started) errors[i] = started.error().message;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors, std::vector<std::string>(8));

  std::set<int> shims;
  int standbys = 0;
  for (const auto& c : configs) {
    EXPECT_EQ(runtime_->Status(c.id)->state, State::kRunning) << c.id;
    int shim = ShimPid(state_dir_ + "/" + c.id);
    EXPECT_GT(shim, 0) << c.id;
    shims.insert(shim);
    if (Cmdline(shim).find(std::string("runtime-shim\0standby\0")) != std::string::npos) {
      ++standbys;
    }
  }
  EXPECT_EQ(shims.size(), configs.size());
  EXPECT_GE(standbys, 1);  // the first at least; the others as a standby was ready
  for (const auto& c : configs) {
    ASSERT_TRUE(runtime_->Signal(c.id, SIGKILL));
  }
  for (const auto& c : configs) {
    auto done = runtime_->Wait(c.id, seconds(20));
    ASSERT_TRUE(done);
    EXPECT_EQ(done->exit_code, 137) << c.id;
  }
}

TEST_F(RuncRuntimeTest, DestroyingTheRuntimeEndsItsStandby) {
  int standby = StandbyShimPid(*runtime_, seconds(10));
  ASSERT_GT(standby, 0);
  runtime_.reset();
  EXPECT_TRUE(ExitsWithin(standby, seconds(1)));
  EXPECT_EQ(StandbyPids(state_dir_ + "/runc"), std::vector<int>{});
  EXPECT_FALSE(fs::exists(state_dir_));  // it touched no state
}

TEST_F(RuncRuntimeTest, AKilledStandbyIsReplacedByAShimStartedAtOnce) {
  // Dead before the hand-over, then killed while it is handed its job.
  for (bool wait_for_death : {true, false}) {
    int standby = StandbyShimPid(*runtime_, seconds(10));
    ASSERT_GT(standby, 0);
    ASSERT_EQ(::kill(standby, SIGKILL), 0);
    if (wait_for_death) {
      ASSERT_TRUE(ExitsWithin(standby, seconds(5)));
    }
    auto c = Config(fmt::format("killed-standby-{}", wait_for_death), {"sh", "-c", "exit 6"});
    auto started = runtime_->Start(c);
    ASSERT_TRUE(started) << started.error().message;
    auto done = runtime_->Wait(c.id, seconds(20));
    ASSERT_TRUE(done);
    EXPECT_EQ(done->exit_code, 6);
  }
  EXPECT_GT(StandbyShimPid(*runtime_, seconds(10)), 0);  // a new one
}

// Host processes whose command line is exactly `argv`.
int ProcessesRunning(const std::vector<std::string>& argv) {
  std::string wanted;
  for (const auto& a : argv) wanted += a + '\0';
  int n = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    if (ReadFile(entry.path() / "cmdline") == wanted) ++n;
  }
  return n;
}

TEST_F(RuncRuntimeTest, ExecRunsInTheContainerWithItsEnvironment) {
  auto c = Config("exec", {"sleep", "100"});
  c.environment = {{"FROM_DEF", "2"}};
  c.working_directory = "/work";
  ASSERT_TRUE(runtime_->Start(c));
  auto ran = runtime_->Exec(
      c.id, {"/bin/sh", "-c", "echo out $FROM_DEF; echo err >&2; pwd; exit 3"}, seconds(20));
  ASSERT_TRUE(ran) << ran.error().code << ": " << ran.error().message;
  EXPECT_EQ(ran->exit_code, 3);
  // runc copies stdout and stderr on their own: their lines may interleave either way.
  std::vector<std::string> lines;
  std::istringstream text(ran->output);
  for (std::string line; std::getline(text, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"/work", "err", "out 2"})) << ran->output;
  auto ok = runtime_->Exec(c.id, {"sh", "-c", "exit 0"}, seconds(20));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->exit_code, 0);
  EXPECT_EQ(ok->output, "");
}

TEST_F(RuncRuntimeTest, ExecKeepsTheFirst4KiBOfOutput) {
  auto c = Config("exec-big", {"sleep", "100"});
  ASSERT_TRUE(runtime_->Start(c));
  auto ran = runtime_->Exec(
      c.id, {"sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo abcd; i=$((i+1)); done"},
      seconds(20));
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_EQ(ran->exit_code, 0);
  EXPECT_EQ(ran->output.size(), kMaxExecOutput);
  EXPECT_TRUE(ran->output.starts_with("abcd\nabcd\n"));
}

TEST_F(RuncRuntimeTest, ExecPastItsTimeoutIsKilled) {
  auto c = Config("exec-slow", {"sleep", "100"});
  ASSERT_TRUE(runtime_->Start(c));
  auto begun = std::chrono::steady_clock::now();
  auto ran = runtime_->Exec(c.id, {"sleep", "31"}, milliseconds(300));
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error().code, "Timeout");
  EXPECT_EQ(ran.error().message, "the command did not exit within 300 ms");
  EXPECT_LT(std::chrono::steady_clock::now() - begun, seconds(10));
  auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (ProcessesRunning({"sleep", "31"}) > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(ProcessesRunning({"sleep", "31"}), 0);
  auto again = runtime_->Exec(c.id, {"sh", "-c", "exit 0"}, seconds(20));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->exit_code, 0);
  EXPECT_FALSE(fs::exists(state_dir_ + "/" + c.id + "/exec-0.pid"));
}

TEST_F(RuncRuntimeTest, ExecNeedsARunningContainer) {
  auto c = Config("exec-done", {"sh", "-c", "exit 0"});
  RunToEnd(c);
  auto stopped = runtime_->Exec(c.id, {"sh", "-c", "exit 0"}, seconds(5));
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code, "InvalidState");
  EXPECT_EQ(stopped.error().message, fmt::format("container {} is not running", c.id));
  auto absent = runtime_->Exec("no-such-container", {"sh"}, seconds(5));
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, "NotFound");
}

}  // namespace
}  // namespace berth::agent::runtime
