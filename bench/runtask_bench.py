"""The RunTask benchmark (BENCH_ONLY=runtask of bench/run.sh; issue 11, acceptance 8).

berth: a fresh `berth server`, one cluster, RUNTASK_INSTANCES (1,000) container
instances registered through RegisterContainerInstance (CPU 4096, MEMORY
16384 each) and each holding a live agent session (ACS, GET /ws): one asyncio
process (this file with --agents) holds every websocket, counts the tasks the
PayloadMessages carry and acks each message as an agent does (AckRequest).
A task definition with one container (memory 64, no ports) is registered, then
RUNTASK_CONNECTIONS (16) connections call RunTask with count 10 for
RUNTASK_SECONDS (20) s, each with one request in flight.

Two runs of RUNTASK_SECONDS each: closed loop (each connection sends its next
call when the last is answered: the rate berth sustains, with the latency that
16 calls queued on 2 cores cost), then the target's rate offered (1,000 tasks/s:
100 calls/s due evenly across the 16 connections, latency counted from when a
call was due, so falling behind shows). Reported for each: tasks placed per
second (tasks in RunTask replies), tasks dispatched per second (task payloads
the agents received within the window), how long the last payload took to
arrive after the load stopped, p50/p99 RunTask latency, non-2xx answers, and
berth's CPU seconds per 1,000 tasks.

The peer, in the same run: moto (`python3 -m moto.server`, the image's Python:
the first python3 on PATH) given the same requests: the same cluster, 1,000
instances (moto takes an instanceIdentityDocument naming an EC2 instance it
knows, so RunInstances makes them first; the same documents go to berth), the
same task definition, RunTask count 10 from the same connections. moto's
RunTask only records state (no placement across instances beyond first fit,
no agents, no dispatch), in the same two runs.

Then FARGATE, the same two runs: RUNTASK_INSTANCES more instances register into
the platform's Fargate pool (cluster berth-fargate of the operator account,
attribute berth.fargate, CPU 262144 and MEMORY 1048576 each so that capacity
never runs out), each with its own live session, and RunTask of a FARGATE
definition (awsvpc, 256 CPU, 512 MiB) in cluster bench is placed on the pool
(the pool's index and the copy of each task it keeps). moto runs the same
FARGATE RunTask (state only; moto 5.2 fails every FARGATE awsvpc RunTask with an
AttributeError, which the bench reports, so its EC2 rows are the peer for both).

The load generator is Python: RUNTASK_PROCESSES (4) processes share the
connections, so the client is not one GIL. Exits non-zero when berth answers
a non-2xx, places fewer tasks than asked or its agents miss a task.

usage: runtask_bench.py BERTH_BINARY
"""
import asyncio
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from berth_harness import free_port, sign  # noqa: E402
from contention_load import Api  # noqa: E402

REGION = "us-east-1"
ECS = "AmazonEC2ContainerServiceV20141113."
KEY = "AKIABENCHBENCHBENCH0"
SECRET = "benchsecretbenchsecretbenchsecret000000"
CLUSTER = "bench"
FAMILY = "bench-sleep"
POOL = "berth-fargate"
FARGATE_FAMILY = "bench-fargate"
EC2_BODY = {"cluster": CLUSTER, "taskDefinition": FAMILY, "count": 10}
FARGATE_BODY = {"cluster": CLUSTER, "taskDefinition": FARGATE_FAMILY, "count": 10,
                "launchType": "FARGATE", "networkConfiguration": {
                    "awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"],
                                            "securityGroups": ["sg-0123456789abcdef0"]}}}
EC2_INSTANCE = {"cpu": 4096, "memory": 16384, "attributes": [
    {"name": "ecs.capability.private-registry-authentication.secretsmanager"},
    {"name": "ecs.os-type", "value": "linux"}]}
FARGATE_INSTANCE = {"cpu": 262144, "memory": 1048576, "attributes": [
    {"name": "ecs.capability.private-registry-authentication.secretsmanager"},
    {"name": "ecs.capability.task-eni"},
    {"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"},
    {"name": "ecs.os-type", "value": "linux"},
    {"name": "berth.fargate", "value": "true"},
    {"name": "berth.fargate.platform-version", "value": "1.4.0"}]}

INSTANCES = int(os.environ.get("RUNTASK_INSTANCES", "1000"))
CONNECTIONS = int(os.environ.get("RUNTASK_CONNECTIONS", "16"))
SECONDS = float(os.environ.get("RUNTASK_SECONDS", "20"))
PROCESSES = int(os.environ.get("RUNTASK_PROCESSES", "4"))
COUNT = 10

TARGET_RATE = 1000  # tasks/s, placed and dispatched
TARGET_P99_MS = 50


def wait_port(port, proc, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"runtask bench: {what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"runtask bench: {what} did not listen on {port}")


def ecs(api, op, payload):
    status, reply = api.json("ecs", ECS + op, payload)
    if status != 200:
        sys.exit(f"runtask bench: {op} answered {status}: {reply}")
    return reply


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ setup

def moto_subnet(url):
    """A VPC and subnet in moto (whose FARGATE RunTask makes an ENI in the subnet named); returns
    the FARGATE RunTask body naming it."""
    api = Api(url, KEY, SECRET)
    ids = {}
    for action, params, tag in (("CreateVpc", {"CidrBlock": "10.0.0.0/16"}, "vpcId"),
                                ("CreateSubnet", {"CidrBlock": "10.0.0.0/18"}, "subnetId")):
        if "vpcId" in ids:
            params["VpcId"] = ids["vpcId"]
        status, body = api.query("ec2", {"Action": action, "Version": "2016-11-15", **params})
        found = re.search(rf"<{tag}>([^<]+)</{tag}>", body.decode() if isinstance(body, bytes)
                          else body)
        if status != 200 or not found:
            sys.exit(f"runtask bench: moto {action}: {status} {body[:200]!r}")
        ids[tag] = found.group(1)
    api.close()
    request = json.loads(json.dumps(FARGATE_BODY))
    request["networkConfiguration"]["awsvpcConfiguration"]["subnets"] = [ids["subnetId"]]
    return request


def moto_instance_ids(url, n):
    """Starts n EC2 instances in moto; returns their ids."""
    api = Api(url, KEY, SECRET)
    ids = []
    while len(ids) < n:
        batch = min(100, n - len(ids))
        status, body = api.query("ec2", {
            "Action": "RunInstances", "Version": "2016-11-15", "ImageId": "ami-12c6146b",
            "InstanceType": "t3.medium", "MinCount": batch, "MaxCount": batch})
        if status != 200:
            sys.exit(f"runtask bench: moto RunInstances answered {status}: {body[:300]!r}")
        got = list(dict.fromkeys(re.findall(rb"<instanceId>(i-[0-9a-f]+)</instanceId>", body)))
        ids += [i.decode() for i in got]
    api.close()
    return ids[:n]


def identity_document(instance_id):
    return json.dumps({"instanceId": instance_id, "region": REGION, "availabilityZone":
                       "us-east-1a", "instanceType": "t3.medium", "imageId": "ami-12c6146b",
                       "accountId": "123456789012"})


def register_instances(url, documents, cluster=CLUSTER, kind=EC2_INSTANCE):
    """RegisterContainerInstance into `cluster` for each document, from CONNECTIONS threads,
    with `kind`'s resources and attributes; returns the instance ARNs in order."""
    arns = [None] * len(documents)
    next_i = iter(range(len(documents)))
    lock = threading.Lock()

    def worker():
        api = Api(url, KEY, SECRET)
        while True:
            with lock:
                i = next(next_i, None)
            if i is None:
                break
            reply = ecs(api, "RegisterContainerInstance", {
                "cluster": cluster, "instanceIdentityDocument": documents[i],
                "totalResources": [
                    {"name": "CPU", "type": "INTEGER", "integerValue": kind["cpu"]},
                    {"name": "MEMORY", "type": "INTEGER", "integerValue": kind["memory"]},
                    {"name": "PORTS", "type": "STRINGSET",
                     "stringSetValue": ["22", "2375", "2376", "51678", "51679"]},
                    {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []}],
                "versionInfo": {"agentVersion": "1.80.0", "agentHash": "bench",
                                "dockerVersion": "DockerVersion: 24.0.5"},
                "attributes": kind["attributes"]})
            arns[i] = reply["containerInstance"]["containerInstanceArn"]
        api.close()

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if None in arns:
        sys.exit("runtask bench: an instance was not registered")
    return arns


def setup_target(url, documents):
    api = Api(url, KEY, SECRET)
    cluster_arn = ecs(api, "CreateCluster", {"clusterName": CLUSTER})["cluster"]["clusterArn"]
    container = {"name": "app", "image": "public.ecr.aws/docker/library/busybox", "memory": 64,
                 "command": ["sleep", "3600"], "essential": True}
    ecs(api, "RegisterTaskDefinition", {"family": FAMILY, "containerDefinitions": [container]})
    ecs(api, "RegisterTaskDefinition", {
        "family": FARGATE_FAMILY, "containerDefinitions": [container], "networkMode": "awsvpc",
        "cpu": "256", "memory": "512", "requiresCompatibilities": ["FARGATE"]})
    api.close()
    started = time.monotonic()
    arns = register_instances(url, documents)
    return cluster_arn, arns, time.monotonic() - started


# ------------------------------------------------------------------ agents

def agents_main(url):
    """--agents: holds one ACS session per instance named on stdin (a JSON
    object {cluster, instances}); prints `ready N`, then answers each `stats`
    line on stdin with a JSON line of counts."""
    import websockets  # python3-websockets (10.4): asyncio API only

    spec = json.loads(sys.stdin.readline())
    parts = urllib.parse.urlsplit(url)
    stats = {"sessions": 0, "messages": 0, "payload_tasks": 0, "duplicates": 0, "acks": 0,
             "heartbeats": 0, "other": 0, "closed": 0, "last": 0.0}
    seen = set()

    async def session(instance_arn, gate, ready):
        query = urllib.parse.urlencode({
            "clusterArn": spec["cluster"], "containerInstanceArn": instance_arn,
            "agentVersion": "1.80.0", "agentHash": "bench", "dockerVersion": "24.0.5",
            "protocolVersion": "2", "seqNum": "1", "sendCredentials": "true"})
        ws_url = f"ws://{parts.netloc}/ws?{query}"
        async with gate:
            headers = sign("GET", f"http://{parts.netloc}/ws?{query}", {}, b"", KEY, SECRET,
                           REGION, "ecs")
            headers.pop("Host")
            ws = await websockets.connect(ws_url, extra_headers=list(headers.items()),
                                          ping_interval=None, max_size=1 << 24,
                                          open_timeout=60)
        stats["sessions"] += 1
        if stats["sessions"] == len(spec["instances"]):
            ready.set()
        try:
            async for text in ws:
                stats["messages"] += 1
                msg = json.loads(text)
                kind = msg.get("type")
                body = msg.get("message", {})
                if kind == "PayloadMessage":
                    for task in body.get("tasks", []):
                        if task.get("desiredStatus") != "RUNNING":
                            continue
                        if task["arn"] in seen:
                            stats["duplicates"] += 1
                        else:
                            seen.add(task["arn"])
                            stats["payload_tasks"] += 1
                    stats["last"] = time.monotonic()
                    await ws.send(json.dumps({"type": "AckRequest", "message": {
                        "cluster": spec["cluster"], "containerInstance": instance_arn,
                        "messageId": body.get("messageId")}}))
                    stats["acks"] += 1
                elif kind == "HeartbeatMessage":
                    stats["heartbeats"] += 1
                    await ws.send(json.dumps({"type": "HeartbeatAckRequest", "message": {
                        "messageId": body.get("messageId")}}))
                else:
                    stats["other"] += 1
        except websockets.ConnectionClosed:
            pass
        stats["closed"] += 1

    async def main():
        gate = asyncio.Semaphore(64)  # handshakes at once
        ready = asyncio.Event()
        tasks = [asyncio.ensure_future(session(arn, gate, ready)) for arn in spec["instances"]]
        loop = asyncio.get_running_loop()
        waiter = asyncio.ensure_future(ready.wait())
        done, _ = await asyncio.wait(tasks + [waiter], return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            for t in done:
                t.result()  # raises the handshake's error
        print(f"ready {stats['sessions']}", flush=True)
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            if line.strip() == b"stats":
                print(json.dumps(stats), flush=True)
        for t in tasks:
            t.cancel()

    asyncio.run(main())


class Agents:
    def __init__(self, url, cluster_arn, arns):
        self.proc = subprocess.Popen([sys.executable, __file__, "--agents", url],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.proc.stdin.write(json.dumps({"cluster": cluster_arn, "instances": arns}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            sys.exit(f"runtask bench: the agents did not connect ({line!r})")

    def stats(self):
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------------ load

def drive_process(url, connections, first, start, seconds, rate, request, out):
    """Runs `connections` threads, each with one connection calling RunTask
    from `start` (monotonic) for `seconds`; puts its results on `out`.
    `rate` 0: each connection sends its next call as soon as the last one is
    answered (closed loop). Otherwise the calls of all CONNECTIONS connections
    are due at `rate` per second in total, evenly spaced (connection `first`
    + i takes every CONNECTIONS-th slot), and a call's latency counts from the
    moment it was due, so time spent waiting behind a slow answer is counted
    (no coordinated omission)."""
    body = json.dumps(request).encode()
    results = {"latencies": [], "placed": 0, "failures": 0, "non_2xx": 0, "codes": {}}
    lock = threading.Lock()
    parts = urllib.parse.urlsplit(url)
    import http.client

    def worker(slot):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        latencies, placed, failures, non_2xx, codes = [], 0, 0, 0, {}
        while time.monotonic() < start:
            time.sleep(0.001)
        deadline = start + seconds
        calls = 0
        while True:
            if rate:
                began = start + (calls * CONNECTIONS + slot) / rate
                calls += 1
                wait = began - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            else:
                began = time.monotonic()
            if began >= deadline:
                break
            headers = sign("POST", url, {"Content-Type": "application/x-amz-json-1.1",
                                         "X-Amz-Target": ECS + "RunTask"}, body, KEY, SECRET,
                           REGION, "ecs")
            headers.pop("Host")
            conn.request("POST", "/", body, headers)
            res = conn.getresponse()
            reply = res.read()
            latencies.append(time.monotonic() - began)
            if res.status != 200:
                non_2xx += 1
                key = f"{res.status} {reply[:120].decode(errors='replace')}"
                codes[key] = codes.get(key, 0) + 1
                continue
            parsed = json.loads(reply)
            placed += len(parsed.get("tasks", []))
            failures += len(parsed.get("failures", []))
        conn.close()
        with lock:
            results["latencies"] += latencies
            results["placed"] += placed
            results["failures"] += failures
            results["non_2xx"] += non_2xx
            for k, v in codes.items():
                results["codes"][k] = results["codes"].get(k, 0) + v

    threads = [threading.Thread(target=worker, args=(first + i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(results)


def drive(url, seconds, rate=0, request=None):
    """RunTask (`request`, EC2_BODY by default) from CONNECTIONS connections in PROCESSES
    processes, closed loop (`rate` 0) or at `rate` calls/s (drive_process); returns (summary,
    start, end) with start/end on the monotonic clock."""
    request = request or EC2_BODY
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    processes = min(PROCESSES, CONNECTIONS)
    shares = [CONNECTIONS // processes + (i < CONNECTIONS % processes) for i in range(processes)]
    start = time.monotonic() + 0.5
    firsts = [sum(shares[:i]) for i in range(processes)]
    procs = [ctx.Process(target=drive_process,
                         args=(url, n, first, start, seconds, rate, request, out))
             for n, first in zip(shares, firsts)]
    for p in procs:
        p.start()
    parts = [out.get() for _ in procs]
    end = time.monotonic()
    for p in procs:
        p.join()
    latencies = sorted(x for part in parts for x in part["latencies"])
    codes = {}
    for part in parts:
        for k, v in part["codes"].items():
            codes[k] = codes.get(k, 0) + v

    def pct(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0

    summary = {"calls": len(latencies), "placed": sum(p["placed"] for p in parts),
               "failures": sum(p["failures"] for p in parts),
               "non_2xx": sum(p["non_2xx"] for p in parts), "codes": codes,
               "p50_ms": pct(0.50), "p99_ms": pct(0.99),
               "mean_ms": statistics.fmean(latencies) * 1000 if latencies else 0}
    return summary, start, end


# ------------------------------------------------------------------ main

def main():
    berth_binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="runtask-bench-")
    procs = []
    try:
        moto_port, berth_port = free_port(), free_port()
        moto_python = shutil.which("python3")  # the image's Python, not /usr/bin/python3
        moto = subprocess.Popen([moto_python, "-m", "moto.server", "-p", str(moto_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(moto)
        berth_log = open(os.path.join(work, "berth.log"), "w")
        berth = subprocess.Popen([berth_binary, "server", "--data-dir", os.path.join(work, "data"),
                                  "--listen", f"127.0.0.1:{berth_port}",
                                  "--root-credentials", f"{KEY}:{SECRET}", "--log-level", "warn"],
                                 stdout=berth_log, stderr=subprocess.STDOUT)
        procs.append(berth)
        wait_port(moto_port, moto, "moto")
        wait_port(berth_port, berth, "berth")
        berth_url, moto_url = f"http://127.0.0.1:{berth_port}/", f"http://127.0.0.1:{moto_port}/"

        print(f"== ECS RunTask: {INSTANCES} instances, RunTask count {COUNT} from {CONNECTIONS} "
              f"connections ({PROCESSES} client processes) for {SECONDS:g} s, {os.cpu_count()} "
              f"cores ==")
        documents = [identity_document(i) for i in moto_instance_ids(moto_url, INSTANCES)]

        cluster_arn, arns, reg_s = setup_target(berth_url, documents)
        print(f"berth: {INSTANCES} RegisterContainerInstance in {reg_s:.1f} s "
              f"({INSTANCES / reg_s:.0f}/s)")
        agents = Agents(berth_url, cluster_arn, arns)
        procs.append(agents.proc)
        api = Api(berth_url, KEY, SECRET)
        connected = 0
        for i in range(0, len(arns), 100):
            reply = ecs(api, "DescribeContainerInstances",
                        {"cluster": CLUSTER, "containerInstances": arns[i:i + 100]})
            connected += sum(ci.get("agentConnected", False) for ci in reply["containerInstances"])
        api.close()
        print(f"berth: {agents.stats()['sessions']} agent sessions open, {connected} instances "
              f"agentConnected")

        def run_berth(rate, request=None):
            """One berth run: (summary, window s, tasks delivered, within the
            window, the last one's lag after it, duplicates, acks, CPU s)."""
            before = agents.stats()
            cpu_before = cpu_seconds(berth.pid)
            r, start, end = drive(berth_url, SECONDS, rate, request)
            at_end = agents.stats()
            cpu_used = cpu_seconds(berth.pid) - cpu_before
            wait_until = time.monotonic() + 30
            after = at_end
            while time.monotonic() < wait_until:
                after = agents.stats()
                if after["payload_tasks"] - before["payload_tasks"] >= r["placed"]:
                    break
                time.sleep(0.2)
            delivered = after["payload_tasks"] - before["payload_tasks"]
            lag = max(0.0, after["last"] - end) if delivered else 0.0
            r.update(window=end - start, delivered=delivered,
                     in_window=at_end["payload_tasks"] - before["payload_tasks"], lag=lag,
                     duplicates=after["duplicates"] - before["duplicates"],
                     acks=after["acks"] - before["acks"], cpu=cpu_used)
            return r

        calls_per_s = TARGET_RATE / COUNT
        b = run_berth(0)
        bp = run_berth(calls_per_s)
        agents.stop()

        # FARGATE: the same on the platform's pool, its instances with sessions of their own.
        api = Api(berth_url, KEY, SECRET)
        pool_arn = ecs(api, "CreateCluster", {"clusterName": POOL})["cluster"]["clusterArn"]
        api.close()
        started = time.monotonic()
        pool_arns = register_instances(berth_url, documents, POOL, FARGATE_INSTANCE)
        print(f"berth: {INSTANCES} Fargate instances registered into the pool in "
              f"{time.monotonic() - started:.1f} s")
        agents = Agents(berth_url, pool_arn, pool_arns)
        procs.append(agents.proc)
        fb = run_berth(0, FARGATE_BODY)
        fbp = run_berth(calls_per_s, FARGATE_BODY)
        agents.stop()

        _, moto_cluster, moto_reg_s = setup_target(moto_url, documents)
        print(f"moto:  {INSTANCES} RegisterContainerInstance in {moto_reg_s:.1f} s "
              f"({INSTANCES / moto_reg_s:.0f}/s)")
        m, mstart, mend = drive(moto_url, SECONDS)
        m["window"] = mend - mstart
        mp, mstart, mend = drive(moto_url, SECONDS, calls_per_s)
        mp["window"] = mend - mstart
        mf, mstart, mend = drive(moto_url, SECONDS, 0, moto_subnet(moto_url))
        mf["window"] = mend - mstart

        print()
        print(f"{'':40} {'tasks placed/s':>15} {'dispatched/s':>13} {'p50 ms':>8} "
              f"{'p99 ms':>8} {'calls':>7} {'non-2xx':>8}")

        def row(label, r, dispatched=True):
            shown = f"{r['in_window'] / r['window']:13.0f}" if dispatched else f"{'-':>13}"
            print(f"{label:40} {r['placed'] / r['window']:15.0f} {shown} {r['p50_ms']:8.1f} "
                  f"{r['p99_ms']:8.1f} {r['calls']:7d} {r['non_2xx']:8d}")

        row("berth, closed loop (as fast as it can)", b)
        row(f"berth, {TARGET_RATE:,} tasks/s offered", bp)
        row("moto, closed loop (state only, peer)", m, dispatched=False)
        row(f"moto, {TARGET_RATE:,} tasks/s offered", mp, dispatched=False)
        row("berth FARGATE on the pool, closed loop", fb)
        row(f"berth FARGATE on the pool, {TARGET_RATE:,}/s offered", fbp)
        row("moto FARGATE, closed loop (state only)", mf, dispatched=False)
        print(f"{'target':40} {'>= ' + str(TARGET_RATE):>15} {'>= ' + str(TARGET_RATE):>13} "
              f"{'':>8} {'< ' + str(TARGET_P99_MS):>8}")
        print("(offered: the calls are due evenly at the rate from the 16 connections; a call's "
              "latency counts from when it was due)")
        for label, r in (("closed loop", b), ("offered", bp), ("FARGATE closed loop", fb),
                         ("FARGATE offered", fbp)):
            print(f"berth {label}: {r['placed']} tasks placed, {r['delivered']} delivered to the "
                  f"agents ({r['in_window']} within the window; the last "
                  f"{r['lag'] * 1000:.0f} ms after it), {r['duplicates']} duplicate payloads, "
                  f"{r['acks']} acks sent, {r['failures']} failures[] entries; {r['cpu']:.1f} CPU s "
                  f"in berth ({r['cpu'] / max(1, r['placed']) * 1e6:.0f} CPU ms per 1,000 tasks)")
        if mf["placed"] == 0 and mf["non_2xx"]:
            print("moto FARGATE: every call failed (moto 5.2's FARGATE RunTask with awsvpc raises "
                  "AttributeError: 'NetworkInterface' object has no attribute 'private_dns_name'); "
                  "moto's EC2 rows are the peer for both")
        print(f"moto/berth placed, closed loop: "
              f"{m['placed'] / m['window'] / max(1e-9, b['placed'] / b['window']):.2f}x"
              f" (moto {m['placed']} tasks, {m['failures']} failures[] entries)")
        for what, r in (("berth", b), ("berth offered", bp), ("moto", m), ("moto offered", mp),
                        ("berth FARGATE", fb), ("berth FARGATE offered", fbp)):
            for code, n in sorted(r["codes"].items())[:5]:
                print(f"   {what} non-2xx x{n}: {code}")
        bad = any(r["non_2xx"] or r["failures"] or r["delivered"] < r["placed"] or r["duplicates"]
                  for r in (b, bp, fb, fbp))
        return 1 if bad else 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--agents":
        agents_main(sys.argv[2])
    else:
        sys.exit(main())
