"""The write-contention load suite (BENCH_ONLY=contention of bench/run.sh).

For each service's hottest write on one record (Secrets Manager PutSecretValue
on one secret, KMS TagResource on one key, IAM PutRolePolicy on one role), many
connections write for a while; prints writes/s, p50/p99 latency and the count
of non-2xx answers (which must be 0), then reads the record back: every
acknowledged write must be there (tests/e2e/contention_load.py says exactly how
each is checked). Exits non-zero when a write failed or was lost.

usage: contention_bench.py URL KEY SECRET
env: CONTENTION_CONNECTIONS (64), CONTENTION_SECONDS (30),
     CONTENTION_TARGETS (secret,kms-tags,role-policy,role-tags,ecs-task-state)
"""
import os
import secrets
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from contention_load import WORKLOADS, Api, run, verify  # noqa: E402

url, key, secret = sys.argv[1:4]
connections = int(os.environ.get("CONTENTION_CONNECTIONS", "64"))
seconds = float(os.environ.get("CONTENTION_SECONDS", "30"))
targets = os.environ.get("CONTENTION_TARGETS", "secret,kms-tags,role-policy,role-tags,ecs-task-state").split(",")

print(f"== Writes under contention: {connections} connections on one record, {seconds:g} s each, "
      f"{os.cpu_count()} cores ==")
print(f"{'target':34} {'writes':>8} {'writes/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}  "
      f"no lost update")
bad = False
for target in targets:
    workload = WORKLOADS[target]()
    api = Api(url, key, secret)
    workload.setup(api, secrets.token_hex(4))
    api.close()
    result = run(url, key, secret, workload, connections, seconds)
    s = result.summary()
    problems = verify(url, key, secret, workload, result)
    print(f"{s['target']:34} {s['writes']:8d} {s['writes_per_s']:9.0f} {s['p50_ms']:8.1f} "
          f"{s['p99_ms']:8.1f} {s['non_2xx']:8d}  {'yes' if not problems else 'NO'}")
    if s["non_2xx"]:
        print(f"   non-2xx: {s['non_2xx_codes']}")
    for p in problems[:5]:
        print(f"   lost: {p}")
    bad = bad or bool(s["non_2xx"] or s["unanswered"] or problems)
sys.exit(1 if bad else 0)
