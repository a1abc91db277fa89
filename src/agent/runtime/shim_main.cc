// berth-shim: `berth-shim runtime-shim ARGS...` is `berth runtime-shim ARGS...` in a binary
// that links only the runtime, so it starts in a few milliseconds where berth (dozens of shared
// libraries, the whole control plane) takes tens: the shim's exec is on every container's start
// path. The runtime prefers it when it sits beside the agent's binary.
#include <string_view>

#include "agent/runtime/runtime.h"

int main(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "runtime-shim") return 2;
  return berth::agent::runtime::RunShim(argc - 2, argv + 2);
}
