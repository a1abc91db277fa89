// The embedded store's write path: Commit of one 1 KiB put to a key of its own, from 1, 8 and 16
// threads at once, on a SQLite file in a temp dir (synchronous=FULL: every acknowledged commit is
// on disk). items_per_second is commits/s across all threads; with group commit, concurrent
// callers share one SQLite transaction and one fsync.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "store/sqlite/sqlite_kv.h"
#include "testing/temp_dir.h"

namespace {

using berth::store::SqliteKv;

std::unique_ptr<berth::test_support::TempDir> dir;
std::unique_ptr<SqliteKv> kv;
std::atomic<int64_t> next_key{0};

void OpenStore(const benchmark::State&) {
  dir = std::make_unique<berth::test_support::TempDir>("store_bench");
  auto opened = SqliteKv::Open(dir->File("store.db"));
  if (!opened) std::abort();
  kv = std::move(*opened);
}

void CloseStore(const benchmark::State&) {
  kv.reset();
  dir.reset();
}

void BM_CommitPut1KiB(benchmark::State& state) {
  const std::string value(1024, 'v');
  for (auto _ : state) {
    auto revision = kv->Put("bench/" + std::to_string(next_key.fetch_add(1)), value);
    if (!revision) state.SkipWithError(revision.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CommitPut1KiB)
    ->Setup(OpenStore)
    ->Teardown(CloseStore)
    ->Threads(1)
    ->Threads(8)
    ->Threads(16)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
