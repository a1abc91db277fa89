// berth-init: the tiny init a container runs as pid 1 when its definition asks for one
// (linuxParameters.initProcessEnabled), bound read-only at /.berth-init; usage
// `/.berth-init -- PROGRAM ARGS...`. It runs PROGRAM as its child, forwards every signal it
// gets to it (a pid-1 process without handlers would ignore SIGTERM), reaps every zombie the
// container leaves, and exits with PROGRAM's status (128 + signal when killed).
// Linked statically (-static, C library only): the container's image has none of berth's
// shared libraries.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int first = 1;
  while (first < argc && strcmp(argv[first], "--") != 0) ++first;
  if (first + 1 >= argc) {
    fprintf(stderr, "usage: %s -- PROGRAM [ARGS...]\n", argv[0]);
    return 2;
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t child = fork();
  if (child < 0) {
    perror("berth-init: fork");
    return 1;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    execvp(argv[first + 1], argv + first + 1);
    fprintf(stderr, "berth-init: %s: %s\n", argv[first + 1], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      kill(child, sig);
      continue;
    }
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != child) continue;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + WTERMSIG(status);
    }
  }
}
