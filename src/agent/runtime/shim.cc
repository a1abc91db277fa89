// `berth runtime-shim run --bundle DIR --id ID --runc RUNC --root ROOT [--ready-fd N]`:
// runs one container under runc and stays until its process ends, as a child subreaper so the
// container's init (runc's child) becomes its child when `runc run --detach` returns.
// It first forks, its first process exiting at once (the caller reaps that one and the shim
// is no child of its). On start it writes "ok\n" (or "error\n") to the ready fd, which Start()
// reads.
//
// `berth runtime-shim standby --runc RUNC --root ROOT --control-fd C [--ready-fd N]`: the same
// shim started ahead of need (shim_launch.h), so that the exec and the fork above are off the
// container's start path. Once forked away and set up, it writes its pid and "\n" to the
// control socket C, then reads its job there to EOF: "BUNDLE\0ID\0". It then opens the
// bundle's shim.log as its stdout and stderr and goes on as `run` would. EOF with no job (the
// runtime went away) makes it exit 0 at once; it touches no bundle before its job.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/runtime/bundle.h"
#include "agent/runtime/runtime.h"
#include "common/fd.h"
#include "common/file.h"

extern char** environ;

namespace berth::agent::runtime {

namespace {

constexpr int kHandledSignals[] = {SIGPIPE, SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2};

constexpr size_t kMaxJob = 64 << 10;

struct ShimArgs {
  bool standby = false;
  std::string bundle, id, runc, root;
  int ready_fd = -1;
  int control_fd = -1;  // standby only
};

bool ParseArgs(int argc, char** argv, ShimArgs* out) {
  if (argc < 1) return false;
  out->standby = std::string_view(argv[0]) == "standby";
  if (!out->standby && std::string_view(argv[0]) != "run") return false;
  if (argc % 2 == 0) return false;  // a flag without its value
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--bundle")
      out->bundle = value;
    else if (flag == "--id")
      out->id = value;
    else if (flag == "--runc")
      out->runc = value;
    else if (flag == "--root")
      out->root = value;
    else if (flag == "--ready-fd")
      out->ready_fd = std::atoi(value.c_str());
    else if (flag == "--control-fd" && out->standby)
      out->control_fd = std::atoi(value.c_str());
    else
      return false;
  }
  if (out->runc.empty() || out->root.empty()) return false;
  if (out->standby) return out->control_fd >= 0 && out->bundle.empty() && out->id.empty();
  return !out->bundle.empty() && !out->id.empty();
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

void Report(int* ready_fd, std::string_view message) {
  if (*ready_fd < 0) return;
  ssize_t ignored = ::write(*ready_fd, message.data(), message.size());
  (void)ignored;
  ::close(*ready_fd);
  *ready_fd = -1;
}

// Waits for `pid`, reaping every other child (orphans of the container) on the way.
// nullopt when there is no such child.
std::optional<int> Reap(pid_t pid, std::map<pid_t, int>& reaped) {
  for (;;) {
    if (auto it = reaped.find(pid); it != reaped.end()) return it->second;
    int status = 0;
    pid_t got = ::waitpid(-1, &status, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return std::nullopt;
    reaped[got] = status;
  }
}

// runc run --detach, stdout and stderr on `log_fd`. posix_spawn: no copy of our page tables.
// -1 with errno set when it cannot be run.
pid_t StartRunc(const ShimArgs& a, int log_fd) {
  std::string runc_log = a.bundle + "/" + bundle::kRuncLog;
  std::string pid_file = a.bundle + "/" + bundle::kPidFile;
  std::vector<std::string> args = {a.runc,     "--root",     a.root,   "--log",    runc_log, "run",
                                   "--detach", "--pid-file", pid_file, "--bundle", a.bundle, a.id};
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
  // The container inherits these: default dispositions, nothing blocked.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, handled;
  sigemptyset(&none);
  sigemptyset(&handled);
  for (int sig : kHandledSignals) sigaddset(&handled, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &handled);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  return pid;
}

// Leaves the process that started us (the caller waits for that one) and sets up what any
// container's shim needs. False (the error reported) when it cannot.
bool LeaveTheCaller(ShimArgs& a) {
  pid_t watcher = ::fork();
  if (watcher < 0) {
    std::perror("runtime-shim: fork");
    Report(&a.ready_fd, "error\n");
    return false;
  }
  if (watcher > 0) ::_exit(0);
  for (int sig : kHandledSignals) ::signal(sig, SIG_IGN);
  // Neither runc nor the container may hold the ready pipe: Start() reads it to its end.
  if (a.ready_fd >= 0) ::fcntl(a.ready_fd, F_SETFD, FD_CLOEXEC);
  if (a.control_fd >= 0) ::fcntl(a.control_fd, F_SETFD, FD_CLOEXEC);
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    std::perror("runtime-shim: PR_SET_CHILD_SUBREAPER");
    Report(&a.ready_fd, "error\n");
    return false;
  }
  return true;
}

enum class Job { kGiven, kNone, kBad };

// A standby's wait: says it is ready (its pid), reads "BUNDLE\0ID\0" to EOF into `a`, closes
// the control socket and makes the bundle's shim.log its stdout and stderr.
Job AwaitJob(ShimArgs& a) {
  std::string ready = std::to_string(::getpid()) + "\n";
  ssize_t ignored = ::write(a.control_fd, ready.data(), ready.size());  // EPIPE: EOF below
  (void)ignored;
  std::string job;
  for (;;) {
    char buf[4096];
    ssize_t n = ::read(a.control_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    job.append(buf, static_cast<size_t>(n));
    if (job.size() > kMaxJob) return Job::kBad;
  }
  ::close(a.control_fd);
  a.control_fd = -1;
  if (job.empty()) return Job::kNone;
  size_t end = job.find('\0');  // then ID ends at the last byte, itself the only other NUL
  if (end == 0 || end == std::string::npos || end + 2 >= job.size() ||
      job.find('\0', end + 1) != job.size() - 1) {
    return Job::kBad;
  }
  a.bundle = job.substr(0, end);
  a.id = job.substr(end + 1, job.size() - end - 2);
  Fd log(::open((a.bundle + "/" + bundle::kShimLog).c_str(),
                O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log.valid()) {
    ::dup2(log.get(), 1);
    ::dup2(log.get(), 2);
  }
  return Job::kGiven;
}

// Runs the container of `a` under runc until its process ends (the shim proper).
int RunContainer(ShimArgs& a) {
  Fd lock(::open((a.bundle + "/" + bundle::kShimLock).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  Fd log(::open((a.bundle + "/" + bundle::kContainerLog).c_str(),
                O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!lock.valid() || ::flock(lock.get(), LOCK_EX) != 0 || !log.valid()) {
    std::perror("runtime-shim: bundle");
    Report(&a.ready_fd, "error\n");
    return 1;
  }

  bundle::Exit exit;
  std::map<pid_t, int> reaped;
  pid_t runc = StartRunc(a, log.get());
  if (runc < 0) {
    exit.error = "cannot run " + a.runc + ": " + std::strerror(errno);
  } else if (auto status = Reap(runc, reaped); !status || ExitCode(*status) != 0) {
    exit.error = bundle::LastRuncError(a.bundle);
    if (exit.error.empty()) {
      exit.error = "runc run exited with " + std::to_string(status ? ExitCode(*status) : -1);
    }
  }
  int pid = 0;
  if (exit.error.empty()) {
    auto text = ReadSmallFile(a.bundle + "/" + bundle::kPidFile);
    if (text && *text) pid = std::atoi((*text)->c_str());
    if (pid <= 0) exit.error = "runc wrote no pid file";
  }
  if (!exit.error.empty()) {
    exit.finished_at = std::chrono::system_clock::now();
    (void)bundle::WriteExit(a.bundle, exit);
    Report(&a.ready_fd, "error\n");
    return 1;
  }

  exit.started_at = std::chrono::system_clock::now();
  (void)bundle::WriteStarted(a.bundle, {pid, exit.started_at});
  Report(&a.ready_fd, "ok\n");

  auto status = Reap(pid, reaped);
  exit.finished_at = std::chrono::system_clock::now();
  if (status) {
    exit.exit_code = ExitCode(*status);
  } else {
    exit.error = "the container's process was not the shim's child";
  }
  if (auto written = bundle::WriteExit(a.bundle, exit); !written) {
    std::fprintf(stderr, "runtime-shim: %s\n", written.error().message.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int RunShim(int argc, char** argv) {
  ShimArgs a;
  if (!ParseArgs(argc, argv, &a)) {
    std::fprintf(stderr,
                 "usage: runtime-shim run --bundle DIR --id ID --runc RUNC --root ROOT "
                 "[--ready-fd N]\n"
                 "       runtime-shim standby --runc RUNC --root ROOT --control-fd N "
                 "[--ready-fd N]\n");
    return 2;
  }
  if (!LeaveTheCaller(a)) return 1;
  if (a.standby) {
    switch (AwaitJob(a)) {
      case Job::kNone:
        return 0;
      case Job::kBad:
        std::fprintf(stderr, "runtime-shim: a malformed job\n");
        Report(&a.ready_fd, "error\n");
        return 1;
      case Job::kGiven:
        break;
    }
  }
  return RunContainer(a);
}

}  // namespace berth::agent::runtime
