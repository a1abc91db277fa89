// CloudWatch Logs' event store without HTTP: what one PutLogEvents batch (1,000 events of 100
// bytes) costs to seal and commit from 1 and 8 threads (items_per_second = events/s), and a
// rare-term scan over 1,000,000 events in 1,000 segments (FilterLogEvents' store half; issue
// 13's target is under 1 s end to end). The store is SQLite on a temp dir with its real fsync.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "crypto/random.h"
#include "logs/event_store.h"
#include "store/sqlite/sqlite_kv.h"

namespace {

using namespace berth;
using namespace berth::logs;

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<store::SqliteKv> kv;
  std::unique_ptr<EventStore> events;
  DataKey key{std::string(32, 'k')};
  int64_t stream_revision = 0;

  Fixture() {
    std::string pattern = (std::filesystem::temp_directory_path() / "berth-logs-bench.XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    dir = pattern;
    kv = std::move(*store::SqliteKv::Open((dir / "store.db").string()));
    events = std::make_unique<EventStore>(*kv, crypto::SecureIds(), SystemClock::Instance());
    stream_revision = *kv->Put(StreamKey(), "stream");
  }
  ~Fixture() {
    events.reset();
    kv.reset();
    std::filesystem::remove_all(dir);
  }
  static std::string StreamKey() { return "logs/1/us-east-1/stream/bench:s"; }
  static StreamRef Stream() { return {"1", "us-east-1", "bench", "s"}; }
};

std::vector<InputEvent> Batch(int64_t first_ts, int n, const std::string& extra = "") {
  std::vector<InputEvent> batch;
  batch.reserve(n);
  for (int i = 0; i < n; ++i) {
    std::string m = "2026-12-06T02:30:00Z INFO request handled path=/api/v1/items status=200 "
                    "duration_ms=12 id=" + std::to_string(first_ts + i);
    m.resize(100 - extra.size(), '.');
    batch.push_back({first_ts + i, m + extra});
  }
  return batch;
}

Fixture* shared_fixture = nullptr;

void BM_Append(benchmark::State& state) {
  if (state.thread_index() == 0) shared_fixture = new Fixture();
  // Google Benchmark starts the timed loop of every thread together after setup.
  std::vector<InputEvent> batch = Batch(1'765'000'000'000, 1000);
  for (auto _ : state) {
    auto ok = shared_fixture->events->Append(Fixture::Stream(), Fixture::StreamKey(),
                                             shared_fixture->stream_revision, shared_fixture->key,
                                             batch, 1'765'000'000'000);
    if (!ok) std::abort();
  }
  state.SetItemsProcessed(state.iterations() * 1000);
  if (state.thread_index() == 0) {
    // The other threads finished their loops before the last one leaves it.
  }
}
BENCHMARK(BM_Append)->Threads(1)->Threads(8)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_ScanRareTermOverAMillionEvents(benchmark::State& state) {
  Fixture f;
  for (int b = 0; b < 1000; ++b) {
    auto batch = Batch(1'765'000'000'000 + b * 1000, 1000, b == 500 ? "needle" : "");
    if (!f.events->Append(Fixture::Stream(), Fixture::StreamKey(), f.stream_revision, f.key, batch,
                          1'765'000'000'000 + b)) {
      std::abort();
    }
  }
  f.events = std::make_unique<EventStore>(*f.kv, crypto::SecureIds(), SystemClock::Instance());
  ScanRequest scan;
  scan.group = {"1", "us-east-1", "bench"};
  scan.required = {"needle"};
  scan.match = [](std::string_view m) { return m.find("needle") != std::string_view::npos; };
  for (auto _ : state) {
    auto got = f.events->Scan(scan, f.key);
    if (!got || got->events.size() != 1000) std::abort();
  }
  state.SetItemsProcessed(state.iterations() * 1'000'000);
}
BENCHMARK(BM_ScanRareTermOverAMillionEvents)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
