"""The CloudWatch Logs benchmark (BENCH_ONLY=logs of bench/run.sh; issue 13, acceptance 6).

1. Ingest: PutLogEvents of batches of 1,000 events of 100 bytes from LOGS_CONNECTIONS (8)
   connections for LOGS_SECONDS (10) s under wrk (-t2). The wrk Lua script holds one
   pre-signed request per connection's stream (8 streams of one group), each a batch of 1,000
   events stamped a second before signing (CloudWatch refuses events more than 2 h in the
   future or 14 days in the past, so each run's requests are signed right before it). Reported:
   events/s ingested (2xx requests x 1,000 / duration), p50/p99 latency, non-2xx answers.
2. Filter: LOGS_FILTER_EVENTS (1,000,000) events loaded first (1,000 batches of 1,000 over 10
   streams, timestamps spread over the last hour), of which LOGS_NEEDLES (20) hold a rare
   term; then FilterLogEvents for that term over the whole group, following nextToken until
   the end, timed 5 times: the median is reported, and every call must find exactly the
   planted events.

The peer, in the same run: moto (`python3 -m moto.server`, the image's Python) on the same
requests. moto keeps events as Python objects and scans them in Python: it is given
LOGS_MOTO_FILTER_EVENTS (100,000) events for the filter part (loading a million takes it many
minutes), with the needles in the same proportion; its time is also shown scaled linearly to
1,000,000 events, and marked so.

Targets (printed): >= 500,000 events/s ingested; a term filter over 1,000,000 events < 1 s.
Exits non-zero when berth answers non-2xx or a filter misses or invents an event.

usage: logs_bench.py BERTH_BINARY
"""
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from berth_harness import free_port, sign, wait_for_port  # noqa: E402

REGION = "us-east-1"
KEY = "AKIABENCHBENCHBENCH0"
SECRET = "benchsecretbenchsecretbenchsecret000000"
TARGET = "Logs_20140328."
CONNECTIONS = int(os.environ.get("LOGS_CONNECTIONS", "8"))
SECONDS = int(os.environ.get("LOGS_SECONDS", "10"))
BATCH = 1000
MESSAGE_BYTES = 100
FILTER_EVENTS = int(os.environ.get("LOGS_FILTER_EVENTS", "1000000"))
MOTO_FILTER_EVENTS = int(os.environ.get("LOGS_MOTO_FILTER_EVENTS", "100000"))
NEEDLES = int(os.environ.get("LOGS_NEEDLES", "20"))
NEEDLE = "needle7f3a9c"
TARGET_RATE = 500_000
TARGET_FILTER_S = 1.0


def wait_port(port, proc, what):
    try:
        wait_for_port(port, proc, timeout=60)
    except RuntimeError as e:
        sys.exit(f"logs bench: {what}: {e}")


def signed(url, op, body):
    return sign("POST", url, {"Content-Type": "application/x-amz-json-1.1",
                              "X-Amz-Target": TARGET + op}, body, KEY, SECRET, REGION, "logs")


class Client:
    """One keep-alive connection sending signed Logs JSON requests."""

    def __init__(self, url):
        self.url = url
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)

    def call(self, op, payload, ok=(200,)):
        body = json.dumps(payload).encode()
        self.conn.request("POST", "/", body=body, headers=signed(self.url, op, body))
        res = self.conn.getresponse()
        reply = res.read()
        if res.status not in ok:
            sys.exit(f"logs bench: {op} on {self.url} answered {res.status}: {reply[:300]!r}")
        return json.loads(reply or b"{}")


def message(i, needle=False):
    text = f"{NEEDLE} " if needle else ""
    text += f"bench event {i:09d} level=INFO path=/api/v1/items status=200 "
    return (text + "x" * MESSAGE_BYTES)[:MESSAGE_BYTES]


def batch_body(group, stream, start_ms, first=0, needles=()):
    return {"logGroupName": group, "logStreamName": stream, "logEvents": [
        {"timestamp": start_ms + i // 10, "message": message(first + i, first + i in needles)}
        for i in range(BATCH)]}


def setup_group(url, group, streams):
    c = Client(url)
    c.call("CreateLogGroup", {"logGroupName": group})
    for s in streams:
        c.call("CreateLogStream", {"logGroupName": group, "logStreamName": s})


# ------------------------------------------------------------------ 1. ingest under wrk

def lua_script(url, group, streams):
    """A wrk script: one pre-signed PutLogEvents of BATCH events per stream, connections
    taking them in turn."""
    now = int(time.time() * 1000) - 1000
    lines = ["local reqs = {}", "local n = 0", "init = function(args)"]
    for s in streams:
        body = json.dumps(batch_body(group, s, now)).encode()
        headers = signed(url, "PutLogEvents", body)
        lua_headers = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items() if k != "Host")
        lines.append(f'  reqs[#reqs + 1] = wrk.format("POST", "/", {{{lua_headers}}}, '
                     f'[==[{body.decode()}]==])')
    lines += ["end", "request = function()", "  n = n % #reqs + 1", "  return reqs[n]", "end"]
    return "\n".join(lines) + "\n"


def unit_ms(value):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]


def ingest(url, group, work, name):
    streams = [f"ingest-{i}" for i in range(CONNECTIONS)]
    setup_group(url, group, streams)
    # One request by hand first: it must be accepted whole.
    reply = Client(url).call("PutLogEvents", batch_body(group, streams[0],
                                                        int(time.time() * 1000) - 1000))
    if reply.get("rejectedLogEventsInfo"):
        sys.exit(f"logs bench: {name} rejected events: {reply}")
    script = os.path.join(work, f"{name}.lua")
    with open(script, "w") as f:
        f.write(lua_script(url, group, streams))
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency",
                          "-s", script, url], capture_output=True, text=True,
                         timeout=SECONDS + 120).stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if not m:
        sys.exit(f"logs bench: wrk said:\n{out}")
    requests = int(m.group(1))
    duration = unit_ms(m.group(2) + m.group(3)) / 1000
    non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
    errors = re.search(r"Socket errors: .*", out)
    pct = {p: unit_ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    return {"events_per_s": (requests - non2xx) * BATCH / duration, "requests": requests,
            "non_2xx": non2xx, "p50_ms": pct.get("50", float("nan")),
            "p99_ms": pct.get("99", float("nan")),
            "socket_errors": errors.group(0) if errors else ""}


# ------------------------------------------------------------------ 2. filter for a rare term

def load(url, group, total):
    """Loads `total` events (batches of BATCH over 10 streams, the last hour), NEEDLES *
    total / FILTER_EVENTS of them holding the rare term; returns (needles planted, seconds)."""
    streams = [f"load-{i}" for i in range(10)]
    setup_group(url, group, streams)
    batches = total // BATCH
    planted = max(1, NEEDLES * total // FILTER_EVENTS)
    needles = {(k * total) // planted + 7 for k in range(planted)}
    start = int(time.time() * 1000) - 3_600_000
    step = 3_000_000 // max(1, batches)  # ms between batches: all within the last hour

    def send(worker):
        c = Client(url)
        for b in range(worker, batches, 4):
            reply = c.call("PutLogEvents", batch_body(group, streams[b % 10], start + b * step,
                                                      b * BATCH, needles))
            if reply.get("rejectedLogEventsInfo"):
                sys.exit(f"logs bench: load rejected events: {reply}")

    began = time.time()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(send, range(4)))
    return len(needles), time.time() - began


def filter_times(url, group, expect, runs=5):
    c = Client(url)
    times = []
    for _ in range(runs):
        began, found, token = time.time(), [], None
        while True:
            payload = {"logGroupName": group, "filterPattern": NEEDLE}
            if token:
                payload["nextToken"] = token
            reply = c.call("FilterLogEvents", payload)
            found += reply.get("events", [])
            token = reply.get("nextToken")
            if not token:
                break
        times.append(time.time() - began)
        if len(found) != expect or not all(NEEDLE in e["message"] for e in found):
            sys.exit(f"logs bench: {url} FilterLogEvents found {len(found)} events, "
                     f"{expect} planted")
    return statistics.median(times)


# ------------------------------------------------------------------ main

def main():
    berth_binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="logs-bench-")
    procs = []
    try:
        moto_port, berth_port = free_port(), free_port()
        moto = subprocess.Popen([shutil.which("python3"), "-m", "moto.server", "-p",
                                 str(moto_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(moto)
        berth_log = open(os.path.join(work, "berth.log"), "w")
        berth = subprocess.Popen([berth_binary, "server", "--data-dir",
                                  os.path.join(work, "data"), "--listen",
                                  f"127.0.0.1:{berth_port}", "--root-credentials",
                                  f"{KEY}:{SECRET}", "--log-level", "warn"],
                                 stdout=berth_log, stderr=subprocess.STDOUT)
        procs.append(berth)
        wait_port(moto_port, moto, "moto")
        wait_port(berth_port, berth, "berth")
        berth_url, moto_url = f"http://127.0.0.1:{berth_port}/", f"http://127.0.0.1:{moto_port}/"

        print(f"== CloudWatch Logs: PutLogEvents of {BATCH} events x {MESSAGE_BYTES} B from "
              f"{CONNECTIONS} connections (wrk -t2) for {SECONDS} s; FilterLogEvents for a rare "
              f"term; {os.cpu_count()} cores ==")
        print(f"{'target':34} {'events/s':>12} {'p50 ms':>9} {'p99 ms':>9} {'non-2xx':>8}")
        rows = {}
        for name, url in (("berth", berth_url), ("moto", moto_url)):
            r = rows[name] = ingest(url, "ingest", work, name)
            label = "berth PutLogEvents" if name == "berth" else "moto PutLogEvents (peer)"
            print(f"{label:34} {r['events_per_s']:12.0f} {r['p50_ms']:9.1f} {r['p99_ms']:9.1f} "
                  f"{r['non_2xx']:8d} {r['socket_errors']}")
        b, m = rows["berth"], rows["moto"]
        print(f"berth/moto: {b['events_per_s'] / max(1.0, m['events_per_s']):.0f}x events/s; "
              f"target: berth >= {TARGET_RATE:,} events/s: "
              f"{'met' if b['events_per_s'] >= TARGET_RATE else 'NOT met'}")

        print()
        print(f"{'filter (rare term, all pages)':34} {'events':>10} {'matches':>8} "
              f"{'load s':>8} {'median s':>9} {'per 1M s':>9}")
        planted, load_s = load(berth_url, "filter", FILTER_EVENTS)
        berth_s = filter_times(berth_url, "filter", planted)
        print(f"{'berth FilterLogEvents':34} {FILTER_EVENTS:10d} {planted:8d} {load_s:8.1f} "
              f"{berth_s:9.3f} {berth_s * 1_000_000 / FILTER_EVENTS:9.3f}")
        m_planted, m_load_s = load(moto_url, "filter", MOTO_FILTER_EVENTS)
        moto_s = filter_times(moto_url, "filter", m_planted)
        scaled = moto_s * 1_000_000 / MOTO_FILTER_EVENTS
        print(f"{'moto FilterLogEvents (peer)':34} {MOTO_FILTER_EVENTS:10d} {m_planted:8d} "
              f"{m_load_s:8.1f} {moto_s:9.3f} {scaled:9.3f}"
              f"{'  (scaled linearly)' if MOTO_FILTER_EVENTS != 1_000_000 else ''}")
        per_million = berth_s * 1_000_000 / FILTER_EVENTS
        print(f"moto/berth per 1M events: {scaled / max(1e-9, per_million):.0f}x; target: a term "
              f"filter over 1,000,000 events < {TARGET_FILTER_S:g} s: "
              f"{'met' if per_million < TARGET_FILTER_S else 'NOT met'}")
        if b["non_2xx"]:
            sys.exit("logs bench: berth answered non-2xx under load")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
