// SpawnShim and StandbyShims (shim_launch.h); the standby's side is in shim.cc.
#include "agent/runtime/shim_launch.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <utility>

extern char** environ;

namespace berth::agent::runtime {

namespace {

using Clock = std::chrono::steady_clock;

// How long a standby may take to start, and to exit once told to.
constexpr auto kStandbyStartTimeout = std::chrono::seconds(10);
constexpr std::chrono::milliseconds kRefillDelay{30};
constexpr auto kStandbyExitTimeout = std::chrono::seconds(1);

// Reads `fd` until `done` says so, EOF or a read error; false when `deadline` came first.
template <typename Done>
bool ReadUntil(int fd, Clock::time_point deadline, std::string& out, Done done) {
  while (!done(out)) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    struct pollfd pfd = {fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    out.append(buf, static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::optional<std::string> ReadReady(int ready_fd, std::chrono::milliseconds timeout) {
  std::string reply;
  if (!ReadUntil(ready_fd, Clock::now() + timeout, reply,
                 [](const std::string&) { return false; })) {
    return std::nullopt;
  }
  return reply;
}

int SpawnShim(const std::vector<std::string>& args, int out, std::initializer_list<int> pass,
              pid_t& pid) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // Copies above every target fd, so that the child's dup2s cannot overwrite one another.
  std::vector<Fd> lifted;
  for (int fd : pass) {
    lifted.emplace_back(::fcntl(fd, F_DUPFD_CLOEXEC, 10));
    if (!lifted.back().valid()) return errno;
  }
  Fd out_fd(out >= 0 ? ::fcntl(out, F_DUPFD_CLOEXEC, 10) : -1);
  if (out >= 0 && !out_fd.valid()) return errno;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (out_fd.valid()) {
    posix_spawn_file_actions_adddup2(&actions, out_fd.get(), 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int target = 3;
  for (const Fd& fd : lifted) posix_spawn_file_actions_adddup2(&actions, fd.get(), target++);
  posix_spawn_file_actions_addclosefrom_np(&actions, target);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc;
}

StandbyShims::StandbyShims(std::string shim_binary, std::string runc, std::string runc_root)
    : args_{std::move(shim_binary),
            "runtime-shim",
            "standby",
            "--runc",
            std::move(runc),
            "--root",
            std::move(runc_root),
            "--ready-fd",
            "3",
            "--control-fd",
            "4"},
      thread_(&StandbyShims::Loop, this) {}

StandbyShims::~StandbyShims() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (!waiting_) return;
  // EOF on its control socket ends the standby; it closes its end as it exits.
  ::shutdown(waiting_->control.get(), SHUT_WR);
  std::string ignored;
  (void)ReadUntil(waiting_->control.get(), Clock::now() + kStandbyExitTimeout, ignored,
                  [](const std::string&) { return false; });
}

Fd StandbyShims::Take(const std::string& dir, const std::string& id) {
  std::optional<Standby> standby;
  {
    std::lock_guard lock(mu_);
    standby = std::exchange(waiting_, std::nullopt);
    wanted_ = false;  // until the start in flight has its answer (Refill)
  }
  if (!standby) return {};
  std::string job = dir + '\0' + id + '\0';
  for (size_t sent = 0; sent < job.size();) {
    // MSG_NOSIGNAL: a dead standby is EPIPE, not SIGPIPE.
    ssize_t n = ::send(standby->control.get(), job.data() + sent, job.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return {};
    sent += static_cast<size_t>(n);
  }
  return std::move(standby->ready);  // its control socket closes here: the job is whole
}

void StandbyShims::Refill() {
  {
    std::lock_guard lock(mu_);
    wanted_ = true;
  }
  cv_.notify_all();
}

pid_t StandbyShims::WaitingPid(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return waiting_.has_value(); });
  return waiting_ ? waiting_->pid : 0;
}

std::optional<StandbyShims::Standby> StandbyShims::Spawn() const {
  int control[2], ready[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control) != 0) return std::nullopt;
  Fd ours(control[0]), theirs(control[1]);
  if (::pipe2(ready, O_CLOEXEC) != 0) return std::nullopt;
  Fd ready_r(ready[0]), ready_w(ready[1]);
  pid_t child = 0;
  int rc = SpawnShim(args_, -1, {ready_w.get(), theirs.get()}, child);
  theirs.Reset();
  ready_w.Reset();
  if (rc != 0) return std::nullopt;
  // The first process exits once the standby has forked away.
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  // Its pid and "\n" once it is set up and waits for its job.
  std::string line;
  bool read = ReadUntil(ours.get(), Clock::now() + kStandbyStartTimeout, line,
                        [](const std::string& s) { return s.find('\n') != std::string::npos; });
  if (!read || line.find('\n') == std::string::npos) return std::nullopt;
  return Standby{std::move(ours), std::move(ready_r), std::atoi(line.c_str())};
}

void StandbyShims::Loop() {
  std::unique_lock lock(mu_);
  bool first = true;
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || (wanted_ && !waiting_); });
    // A refill waits for the start that asked for it to report its container (the spawn
    // would take CPU from that on a small host); the first standby is made at once.
    if (!first && cv_.wait_for(lock, kRefillDelay, [this] { return stop_; })) return;
    first = false;
    if (stop_) return;
    lock.unlock();
    auto standby = Spawn();
    lock.lock();
    waiting_ = std::move(standby);
    if (!waiting_) wanted_ = false;  // no retry loop: the next Refill tries again
    cv_.notify_all();                // WaitingPid
  }
}

}  // namespace berth::agent::runtime
