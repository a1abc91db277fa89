#include "agent/network/command.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd.h"

namespace berth::agent::network {
namespace {

std::string FindExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    std::string path = dir + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return name;  // execvp searches PATH
}

std::string Join(const std::vector<std::string>& argv) {
  std::string joined;
  for (const auto& arg : argv) {
    if (!joined.empty()) joined += ' ';
    joined += arg;
  }
  return joined;
}

// Reads both pipes to their end.
void Drain(Fd& out_fd, Fd& err_fd, std::string* out, std::string* err) {
  char buffer[4096];
  while (out_fd.valid() || err_fd.valid()) {
    pollfd fds[2] = {{out_fd.get(), POLLIN, 0}, {err_fd.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      Fd& fd = i == 0 ? out_fd : err_fd;
      if (!fd.valid() || fds[i].revents == 0) continue;
      ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
      if (n > 0) {
        (i == 0 ? out : err)->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fd.Reset();
      }
    }
  }
}

}  // namespace

Result<CommandResult> RunCommand(const std::vector<std::string>& argv) {
  if (argv.empty()) return InternalFailure("RunCommand: empty argv");
  // Everything the child needs is made before fork: after it only async-signal-safe calls.
  std::string path = FindExecutable(argv[0]);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0)
    return InternalFailure("pipe2: " + std::string(strerror(errno)));
  Fd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0)
    return InternalFailure("pipe2: " + std::string(strerror(errno)));
  Fd err_read(err_pipe[0]), err_write(err_pipe[1]);
  bool search = path.find('/') == std::string::npos;

  pid_t pid = ::fork();
  if (pid < 0) return InternalFailure("fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(out_write.get(), 1) < 0 ||
        ::dup2(err_write.get(), 2) < 0) {
      ::_exit(126);
    }
    ::close_range(3, ~0U, 0);
    if (search) {
      ::execvp(path.c_str(), args.data());
    } else {
      ::execv(path.c_str(), args.data());
    }
    static const char kMessage[] = "exec failed\n";
    [[maybe_unused]] ssize_t ignored = ::write(2, kMessage, sizeof kMessage - 1);
    ::_exit(127);
  }
  out_write.Reset();
  err_write.Reset();
  CommandResult result;
  Drain(out_read, err_read, &result.out, &result.err);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return InternalFailure("waitpid: " + std::string(strerror(errno)));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (result.exit_code == 127 && result.err == "exec failed\n") {
    return InternalFailure("cannot run " + argv[0]);
  }
  return result;
}

Result<std::string> RunChecked(const std::vector<std::string>& argv) {
  auto result = RunCommand(argv);
  if (!result) return Fail("NetworkSetupError", Join(argv) + ": " + result.error().message, 500);
  if (result->exit_code != 0) {
    std::string err = result->err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    if (err.empty()) err = "exit code " + std::to_string(result->exit_code);
    return Fail("NetworkSetupError", Join(argv) + ": " + err, 500);
  }
  return std::move(result->out);
}

}  // namespace berth::agent::network
