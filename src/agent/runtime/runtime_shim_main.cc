// The shim executable of the runtime tests: `runtime_test_shim runtime-shim ARGS...` is what
// `berth runtime-shim ARGS...` is, without linking all of berth.
#include <string_view>

#include "agent/runtime/runtime.h"

int main(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "runtime-shim") return 2;
  return berth::agent::runtime::RunShim(argc - 2, argv + 2);
}
