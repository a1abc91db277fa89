// CloudWatch Logs' PutLogEvents in-process, without HTTP or signing: a batch of 1,000 events of
// 100 bytes through logs::Service (validation, authorization, the cached group and stream
// records, sealing and the store commit), from 1 and 8 threads (items_per_second = events/s);
// and reading the wire body of such a batch with the route's scanner and with the general
// JsonReader. The store is SQLite on a temp dir with its real fsync.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "aws/json_reader.h"
#include "common/json_writer.h"
#include "crypto/random.h"
#include "crypto/root_key.h"
#include "iam/access_control.h"
#include "iam/identity_store.h"
#include "iam/service.h"
#include "kms/service.h"
#include "logs/service.h"
#include "server/logs_put_parser.h"
#include "store/sqlite/sqlite_kv.h"

namespace {

using namespace berth;

constexpr char kAccount[] = "111122223333";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<store::SqliteKv> kv;
  std::optional<crypto::RootKey> root_key;
  std::unique_ptr<iam::IdentityStore> identities;
  std::unique_ptr<iam::Service> iam;
  std::unique_ptr<iam::AccessControl> access;
  std::unique_ptr<kms::Service> kms;
  std::unique_ptr<logs::Service> logs;
  aws::RequestContext ctx;

  Fixture() {
    std::string pattern = (std::filesystem::temp_directory_path() / "berth-logs-svc.XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    dir = pattern;
    kv = std::move(*store::SqliteKv::Open((dir / "store.db").string()));
    root_key.emplace(std::move(*crypto::RootKey::FromBytes(std::string(32, 'r'))));
    const Clock& clock = SystemClock::Instance();
    Ids& ids = crypto::SecureIds();
    identities = std::make_unique<iam::IdentityStore>(*kv, *root_key, ids, clock);
    iam = std::make_unique<iam::Service>(*kv, ids, clock, iam::ValidatePolicyDocument);
    access = std::make_unique<iam::AccessControl>(*iam, *identities, clock);
    kms = std::make_unique<kms::Service>(*kv, *root_key, *access, ids, clock);
    logs = std::make_unique<logs::Service>(*kv, *root_key, *access, *kms, ids, clock);
    if (!identities->EnsureAccount(kAccount)) std::abort();
    ctx.caller.kind = aws::Principal::Kind::kRoot;
    ctx.caller.account = kAccount;
    ctx.caller.arn = fmt::format("arn:aws:iam::{}:root", kAccount);
    ctx.caller.user_id = kAccount;
    ctx.region = "us-east-1";
    logs::CreateLogGroupRequest group;
    group.name = "/bench/app";
    if (!logs->CreateLogGroup(ctx, group)) std::abort();
    for (int i = 0; i < 8; ++i) {
      if (!logs->CreateLogStream(ctx, group.name, fmt::format("s{}", i))) std::abort();
    }
  }
  ~Fixture() {
    logs.reset();
    kms.reset();
    access.reset();
    iam.reset();
    identities.reset();
    kv.reset();
    std::filesystem::remove_all(dir);
  }
};

std::vector<logs::InputEvent> Batch(int64_t first_ts) {
  std::vector<logs::InputEvent> batch;
  batch.reserve(1000);
  for (int i = 0; i < 1000; ++i) {
    std::string m = fmt::format(
        "2026-12-06T02:30:00Z INFO request handled path=/api/v1/items "
        "status=200 duration_ms=12 id={}",
        i);
    m.resize(100, '.');
    batch.push_back({first_ts, std::move(m)});
  }
  return batch;
}

std::string Body(const std::vector<logs::InputEvent>& batch) {
  std::string out = R"({"logGroupName":"/bench/app","logStreamName":"s0","logEvents":[)";
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += fmt::format(R"({{"timestamp":{},"message":)", batch[i].timestamp);
    json::AppendQuoted(out, batch[i].message);
    out.push_back('}');
  }
  out += "]}";
  return out;
}

Fixture* shared = nullptr;

void BM_PutLogEvents(benchmark::State& state) {
  if (state.thread_index() == 0) shared = new Fixture();
  std::string stream = fmt::format("s{}", state.thread_index());
  std::vector<logs::InputEvent> batch = Batch(NowMs());
  for (auto _ : state) {
    auto r = shared->logs->PutLogEvents(shared->ctx, {"/bench/app", stream, batch});
    if (!r) {
      fmt::print(stderr, "{}: {}\n", r.error().code, r.error().message);
      std::abort();
    }
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_PutLogEvents)->Threads(1)->Threads(8)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_ParseBodyScanner(benchmark::State& state) {
  std::string body = Body(Batch(NowMs()));
  for (auto _ : state) {
    auto req = server::ParsePutLogEvents(body);
    if (!req) std::abort();
    benchmark::DoNotOptimize(req);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_ParseBodyScanner)->Unit(benchmark::kMicrosecond);

void BM_ParseBodyJsonReader(benchmark::State& state) {
  std::string body = Body(Batch(NowMs()));
  for (auto _ : state) {
    auto in = aws::JsonReader::Parse(body);
    std::vector<logs::InputEvent> events;
    auto list = in->Objects("logEvents");
    for (const auto& e : *list) {
      events.push_back({*e.Int("timestamp"), *e.String("message")});
    }
    benchmark::DoNotOptimize(events);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_ParseBodyJsonReader)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
