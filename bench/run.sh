#!/usr/bin/env bash
# make bench: whole-process benchmarks, printed side by side with a peer.
#
# 1. http: signed STS GetCallerIdentity and Secrets Manager GetSecretValue
#    (assumed-role credentials) against berth under wrk (16 connections, 2
#    threads), next to nginx serving a small static file on the same machine in
#    the same run: nginx is this machine's HTTP ceiling. Rounds alternate the
#    three targets; ratios are taken within a round, medians reported.
# 2. micro: Google Benchmark micro-benchmarks (IAM decisions, ECS placement, request path,
#    store commits from 1, 8 and 16 threads).
# 3. pull: berth pull versus skopeo + umoci and parallel curl + sha256.
# 4. contention: each service's hottest write on one record from 64
#    connections for 30 s (bench/contention_bench.py): writes/s, p50/p99,
#    non-2xx (must be 0) and a read-back that no acknowledged write was lost.
#    CONTENTION_CONNECTIONS, CONTENTION_SECONDS and CONTENTION_TARGETS size it.
# 5. runtask: ECS RunTask (count 10, 16 connections) on 1,000 container
#    instances whose agent sessions (ACS) one driver process holds: tasks
#    placed and dispatched per second, p50/p99, next to moto's state-only
#    RunTask on the same requests (bench/runtask_bench.py). RUNTASK_SECONDS
#    (20), RUNTASK_INSTANCES (1000) and RUNTASK_CONNECTIONS (16) size it.
# 6. agent: `berth agent` (root, runc) starting tasks: RunTask -> RUNNING with a cached image
#    next to bare `runc run -d`, with an uncached image next to skopeo + umoci + runc, and 20
#    tasks at once (bench/agent_bench.py). AGENT_TASKS (50), AGENT_COLD_IMAGES (5),
#    AGENT_COLD_MB (8,64: a cold run per layer size) and AGENT_BURST (20) size it; skipped
#    without root or runc.
# 7. logs: CloudWatch Logs PutLogEvents (batches of 1,000 events of 100 bytes, 8 connections,
#    10 s, wrk with pre-signed requests): events/s and p99; then FilterLogEvents for a rare term
#    over 1,000,000 events (median of 5); next to moto's server on the same requests
#    (bench/logs_bench.py). LOGS_SECONDS (10), LOGS_CONNECTIONS (8), LOGS_FILTER_EVENTS (1000000)
#    and LOGS_MOTO_FILTER_EVENTS (100000: moto's share, its time also scaled to 1M) size it.
# 8. service: an ECS service scaled 0 -> 200 tasks on 4 hollow agents (`berth agent --hollow`:
#    the real agent and protocol, containers in memory, nothing pulled): seconds until every
#    task is placed, RUNNING and the steady-state event, and the scale back to 0; next to moto
#    placing as many tasks with RunTask (bench/service_bench.py). SERVICE_TASKS (200) and
#    SERVICE_AGENTS (4) size it.
# BENCH_ONLY=http|micro|pull|contention|runtask|agent|logs|service runs one part; BENCH_DURATION (5s) and
# BENCH_ROUNDS (3) size the http part.
set -euo pipefail
ONLY=${BENCH_ONLY:-}
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
BUILD=${1:-$(pwd)/build}
DURATION=${BENCH_DURATION:-5s}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
chmod 755 "$WORK"  # nginx workers run as nobody and must read the page
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench: nothing listens on $1" >&2; exit 1
}
KEY=AKIABENCHBENCHBENCH0
SECRET=benchsecretbenchsecretbenchsecret000000
start_berth() {  # name port: a berth server on $WORK/name with root KEY:SECRET
  "$BUILD/berth" server --data-dir "$WORK/$1" --listen "127.0.0.1:$2" \
    --root-credentials "$KEY:$SECRET" --log-level warn >"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
  wait_port "$2"
}

if want http; then
BERTH_PORT=$(free_port)
start_berth berth "$BERTH_PORT"

NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/html"
printf '<GetCallerIdentityResponse>%0300d</GetCallerIdentityResponse>\n' 0 >"$WORK/nginx/html/index.html"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx;
  fastcgi_temp_path $WORK/nginx; uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/nginx/html; }
}
CONF
/usr/sbin/nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=($!)
wait_port "$NGINX_PORT"

# A request signed now stays valid for 15 minutes: longer than the run.
/usr/bin/python3 "$HERE/signed_request.py" "http://127.0.0.1:$BERTH_PORT/" "$KEY" "$SECRET" >"$WORK/sts.lua"
curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/" || { echo "bench: nginx not serving" >&2; exit 1; }

ROUNDS=${BENCH_ROUNDS:-3}
run_wrk() {  # name round url [script]
  local out
  out=$(wrk -t2 -c16 -d"$DURATION" --latency ${4:+-s "$4"} "$3")
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $4}' <<<"$out")
  printf '%-40s %5s %12s %10s %10s %8s\n' "$1" "$2" "$rps" "$p50" "$p99" "${non2xx:-0}"
  echo "$rps" >>"$WORK/$1.rps"
}

/usr/bin/python3 "$HERE/secret_request.py" "http://127.0.0.1:$BERTH_PORT/" "$KEY" "$SECRET" >"$WORK/secret.lua"
echo
echo "== HTTP: wrk -t2 -c16 -d$DURATION on $(nproc) cores; $ROUNDS rounds, the targets alternating =="
echo "   (the machine is shared: a ratio is taken within each round, and the median reported)"
printf '%-40s %5s %12s %10s %10s %8s\n' "target" "round" "requests/s" "p50" "p99" "non-2xx"
for round in $(seq "$ROUNDS"); do
  run_wrk "nginx static file (peer)" "$round" "http://127.0.0.1:$NGINX_PORT/"
  run_wrk "berth sts:GetCallerIdentity (SigV4)" "$round" "http://127.0.0.1:$BERTH_PORT/" "$WORK/sts.lua"
  run_wrk "berth GetSecretValue (assumed role)" "$round" "http://127.0.0.1:$BERTH_PORT/" "$WORK/secret.lua"
done
/usr/bin/python3 - "$WORK" <<'PY'
import os, statistics, sys
w = sys.argv[1]
rates = lambda name: [float(x) for x in open(os.path.join(w, name + ".rps")).read().split()]
nginx = rates("nginx static file (peer)")
sts = rates("berth sts:GetCallerIdentity (SigV4)")
secret = rates("berth GetSecretValue (assumed role)")
med = statistics.median
r1 = [s / n for s, n in zip(sts, nginx)]
r2 = [g / s for g, s in zip(secret, sts)]
print(f"median requests/s: nginx {med(nginx):.0f}, GetCallerIdentity {med(sts):.0f}, "
      f"GetSecretValue {med(secret):.0f}")
print(f"GetCallerIdentity/nginx: {med(r1) * 100:.0f}% of nginx's rate (per round: "
      f"{', '.join(f'{x * 100:.0f}%' for x in r1)}; target: at least 50%)")
print(f"GetSecretValue/GetCallerIdentity: {med(r2) * 100:.0f}% (per round: "
      f"{', '.join(f'{x * 100:.0f}%' for x in r2)}; target: at least 60%)")
PY
fi

if want micro && [ -x "$BUILD/bench/authorizer_bench" ]; then
  echo
  echo "== IAM policy evaluation (one core; target >= 1,000,000 decisions/s: items_per_second) =="
  "$BUILD/bench/authorizer_bench" --benchmark_min_time=0.5
fi

if want micro && [ -x "$BUILD/bench/placement_bench" ]; then
  echo
  echo "== ECS task placement (one core; items_per_second = tasks placed, 10 a call) =="
  "$BUILD/bench/placement_bench" --benchmark_min_time=0.2
fi

if want micro && [ -x "$BUILD/bench/request_path_bench" ]; then
  echo
  echo "== Request path micro-benchmarks (Google Benchmark) =="
  "$BUILD/bench/request_path_bench" --benchmark_min_time=0.2
fi

if want micro && [ -x "$BUILD/bench/store_bench" ]; then
  echo
  echo "== Store commits (SqliteKv on a temp dir, fsync each; items_per_second = commits/s) =="
  "$BUILD/bench/store_bench" --benchmark_min_time=1
fi

if want micro && [ -x "$BUILD/bench/event_store_bench" ]; then
  echo
  echo "== CloudWatch Logs event store without HTTP (items_per_second = events/s; scan target < 1 s) =="
  "$BUILD/bench/event_store_bench"
fi

if want pull; then
  echo
  /usr/bin/python3 "$HERE/pull_bench.py" "$BUILD/berth"
fi

if want contention; then
  CPORT=$(free_port)
  start_berth contention "$CPORT"
  echo
  /usr/bin/python3 "$HERE/contention_bench.py" "http://127.0.0.1:$CPORT/" "$KEY" "$SECRET" ||
    { echo "bench: writes failed or were lost under contention; server log:" >&2
      tail -20 "$WORK/contention.log" >&2; exit 1; }
fi

if want runtask; then
  echo
  /usr/bin/python3 "$HERE/runtask_bench.py" "$BUILD/berth" ||
    { echo "bench: RunTask answered non-2xx, placed too few or a task never reached its agent" >&2
      exit 1; }
fi

if want agent; then
  echo
  /usr/bin/python3 "$HERE/agent_bench.py" "$BUILD/berth" ||
    { echo "bench: a task of the agent benchmark did not reach RUNNING" >&2; exit 1; }
fi

if want logs; then
  echo
  /usr/bin/python3 "$HERE/logs_bench.py" "$BUILD/berth" ||
    { echo "bench: berth answered non-2xx or a filter missed an event" >&2; exit 1; }
fi

if want service; then
  echo
  /usr/bin/python3 "$HERE/service_bench.py" "$BUILD/berth" ||
    { echo "bench: the service did not reach its count" >&2; exit 1; }
fi
