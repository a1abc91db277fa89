"""The `berth agent` task-start benchmark (BENCH_ONLY=agent of bench/run.sh; issue's
acceptance 7). Prints figures; asserts no timing.

Setup, in one temp dir: a `berth server`, a docker-registry with htpasswd Basic auth and
busybox images built with umoci (tests/e2e/registry_harness.py), the seed (a Secrets
Manager secret holding the registry login, an execution role allowed to read it) and
`berth agent` processes on bridges and subnets of their own (tests/e2e/agent_harness.py).
Every task definition runs `sh -c 'trap "exit 0" TERM; while true; do sleep 1; done'`
(memory 32, network mode bridge, the secret as repositoryCredentials) and every task is
stopped with StopTask and waited for until STOPPED.

What is timed: RunTask sent (the client's clock, before boto3 signs the call) -> the moment
the server records the task RUNNING, i.e. from when DescribeTasks answers RUNNING: the task's
startedAt (the server's clock, same host, milliseconds). The client polls DescribeTasks every
AGENT_POLL_MS (50 ms) until it answers RUNNING, and that time is printed too ("seen"). A tight
poll disturbs what it measures on 2 cores: each boto3 call costs the client and the server a
few ms of CPU, and at a 5 ms poll the pull of a 64 MiB image took 260 ms instead of 167
(median, same run otherwise), while the peer tools run with no poller at all.

(a) warm: the image is cached by one untimed task first; then AGENT_TASKS (50) tasks one
    after the other: RunTask -> RUNNING (startedAt), as above. Peer, same run, same image: `umoci unpack` of its OCI layout once,
    config.json's args set to the same command, then AGENT_TASKS times the wall time of
    `runc run --detach` (each followed, untimed, by `runc kill` and `runc delete`).
    The breakdown uses the client's clock, the agent's log (`task received`, `container
    started`, UTC ms) and the task's pullStartedAt/pullStoppedAt (the agent's clock; same
    host): RunTask sent -> task received by the agent -> pull started (execution role's
    secret read) -> pull stopped (image re-checked with the registry) -> runc started the
    container (network set up, bundle made, shim, runc) -> RUNNING recorded by the server
    (the state change submitted and stored).
(b) cold, for each size in AGENT_COLD_MB (8,64): AGENT_COLD_IMAGES (5) images, each with its own
    layer of that many MiB of random bytes, on an agent with a fresh data dir: RunTask -> RUNNING, next to
    `skopeo copy docker://... oci:DIR:TAG` (--src-creds, --src-tls-verify=false) + `umoci
    unpack` + `runc run -d` of the same image; the order of the two flips every image.
(c) burst: AGENT_BURST (20) RunTask calls (count 1) from as many threads at once on the
    warm agent: time until every task is RUNNING. Exits non-zero when one never is (or any
    task of (a)/(b) fails to start).

usage: agent_bench.py BERTH_BINARY
"""
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BERTH_BINARY = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "build", "berth"))
os.environ["BERTH_BINARY"] = BERTH_BINARY  # read by berth_harness at import
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from agent_harness import BerthAgent, agents_supported  # noqa: E402
from berth_harness import Berth, random_root_credentials  # noqa: E402
from ecs_harness import client, make_role  # noqa: E402
from registry_harness import PASSWORD, USER, Registry, build_image, push  # noqa: E402

TASKS = int(os.environ.get("AGENT_TASKS", "50"))
POLL = float(os.environ.get("AGENT_POLL_MS", "50")) / 1000
COLD_IMAGES = int(os.environ.get("AGENT_COLD_IMAGES", "5"))
# Sizes (MiB) of the cold images' random layer: a run of (b) per size.
COLD_MB = [int(x) for x in os.environ.get("AGENT_COLD_MB", "8,64").split(",") if x.strip()]
BURST = int(os.environ.get("AGENT_BURST", "20"))
# The agents' --network-pool (task networks made ahead); unset: the agent's default.
POOL_ARGS = (["--network-pool", os.environ["AGENT_NETWORK_POOL"]]
             if os.environ.get("AGENT_NETWORK_POOL") else [])
COMMAND = ["/bin/sh", "-c", 'trap "exit 0" TERM; while true; do sleep 1; done']
WARM_TARGET_MS = 50  # median RunTask -> RUNNING at most runc run -d + this
COLD_TARGET = 4.0    # skopeo + umoci + runc / RunTask -> RUNNING: at least
TIMEOUT = 120


class BenchError(Exception):
    pass


def run(*cmd, timeout=120):
    proc = subprocess.run(list(cmd), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def ms(seconds):
    return seconds * 1000


def epoch(value):
    """A boto3 timestamp (datetime) as epoch seconds, or None."""
    return value.timestamp() if isinstance(value, datetime.datetime) else None


# ------------------------------------------------------------------ berth side

class Cluster:
    """The seed on one berth: a secret with the registry login, an execution role, and task
    definitions for images."""

    def __init__(self, berth):
        self.ecs = client(berth, "ecs")
        sm, iam = client(berth, "secretsmanager"), client(berth, "iam")
        self.secret = sm.create_secret(Name="registry/bench", SecretString=json.dumps(
            {"username": USER, "password": PASSWORD}))["ARN"]
        self.role = make_role(iam, "ecsTaskExecutionRole", policy={
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "kms:Decrypt"],
                "Resource": [self.secret]}]})
        self.berth = berth

    def task_definition(self, family, image):
        return self.ecs.register_task_definition(
            family=family, executionRoleArn=self.role, containerDefinitions=[{
                "name": "app", "image": image, "memory": 32, "essential": True,
                "command": COMMAND,
                "repositoryCredentials": {"credentialsParameter": self.secret}}],
        )["taskDefinition"]["taskDefinitionArn"]

    def run_task(self, td, ecs=None):
        reply = (ecs or self.ecs).run_task(taskDefinition=td)
        if reply["failures"] or not reply["tasks"]:
            raise BenchError(f"RunTask failed: {reply['failures']}")
        return reply["tasks"][0]["taskArn"]

    def wait_running(self, arns, ecs=None):
        """Polls DescribeTasks every POLL s until every task is RUNNING; returns {arn: (seen
        monotonic, task)}. Raises when one stops or TIMEOUT passes."""
        ecs = ecs or self.ecs
        seen = {}
        deadline = time.monotonic() + TIMEOUT
        while len(seen) < len(arns):
            pending = [a for a in arns if a not in seen]
            tasks = ecs.describe_tasks(tasks=pending)["tasks"]
            now = time.monotonic()
            for t in tasks:
                if t["lastStatus"] == "RUNNING":
                    seen[t["taskArn"]] = (now, t)
                elif t["lastStatus"] == "STOPPED":
                    raise BenchError(f"task stopped before RUNNING: {t.get('stoppedReason')} "
                                     f"{t['containers'][0].get('reason', '')}")
            if time.monotonic() > deadline:
                raise BenchError(f"{len(arns) - len(seen)} of {len(arns)} tasks not RUNNING in "
                                 f"{TIMEOUT} s")
            if len(seen) < len(arns):
                time.sleep(POLL)
        return seen

    def stop_and_wait(self, arns):
        for arn in arns:
            self.ecs.stop_task(task=arn, reason="bench")
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            tasks = self.ecs.describe_tasks(tasks=list(arns))["tasks"]
            if all(t["lastStatus"] == "STOPPED" for t in tasks):
                return
            time.sleep(0.05)
        raise BenchError("tasks not STOPPED after StopTask")


class AgentLog:
    """`task received` and `container started` times (epoch s) from an agent's text log."""

    def __init__(self, agent):
        self.agent = agent

    def times(self, message):
        out = {}
        for line in self.agent.log_text().splitlines():
            if f" {message} " not in line and not line.rstrip().endswith(message):
                continue
            stamp = line.split(" ", 1)[0]
            task = next((w.split("=", 1)[1].strip('"') for w in line.split()
                         if w.startswith("task=")), None)
            try:
                when = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
            except ValueError:
                continue
            if task and task not in out:
                out[task] = when
        return out


def mtime(path):
    try:
        return os.stat(path).st_mtime_ns / 1e9
    except OSError:
        return None


def file_marks(agent, arn):
    """Epoch times the agent's files of a running task were last written: the container's
    hosts file (written once the task network is up), its bundle's config.json (overlay
    mounted, spec made), shim.log (made just before the shim is spawned) and started.json
    (the shim, once `runc run --detach` returned)."""
    task_dir = os.path.join(agent.data_dir, "tasks", arn.rsplit("/", 1)[1])
    try:
        runtime_id = next(iter(sorted(os.listdir(task_dir))))
    except (OSError, StopIteration):
        return {}
    bundle = os.path.join(agent.data_dir, "runtime", runtime_id)
    return {"network_up": mtime(os.path.join(task_dir, runtime_id, "hosts")),
            "bundle_made": mtime(os.path.join(bundle, "config.json")),
            "shim_spawned": mtime(os.path.join(bundle, "shim.log")),
            "runc_returned": mtime(os.path.join(bundle, "started.json"))}


def start_one(cluster, td, agent=None):
    """RunTask -> RUNNING for one task; returns (seconds, arn, marks) where marks are epoch
    times of the client's steps, the task's own timestamps and the agent's files."""
    sent_wall, sent = time.time(), time.monotonic()
    arn = cluster.run_task(td)
    replied = time.monotonic()
    seen_at, task = cluster.wait_running([arn])[arn]
    marks = {"sent": sent_wall, "replied": sent_wall + (replied - sent),
             "running_seen": sent_wall + (seen_at - sent),
             "pull_started": epoch(task.get("pullStartedAt")),
             "pull_stopped": epoch(task.get("pullStoppedAt")),
             "started_at": epoch(task.get("startedAt"))}
    if agent:
        marks.update(file_marks(agent, arn))
    return running_after(marks), arn, marks


def seen_after(marks_by_arn):
    """Seconds from RunTask sent to RUNNING seen by the client's poll, per task."""
    return [m["running_seen"] - m["sent"] for m in marks_by_arn.values()]


def running_after(marks):
    """Seconds from RunTask sent to RUNNING recorded by the server (startedAt)."""
    if marks.get("started_at") is None:
        raise BenchError("a RUNNING task has no startedAt")
    return marks["started_at"] - marks["sent"]


# ------------------------------------------------------------------ runc side

class RuncPeer:
    """Bare runc on bundles made with umoci; every container it made goes in close()."""

    def __init__(self, work):
        self.root = os.path.join(work, "runc-root")
        self.work = work
        self.ids = set()
        self.n = 0

    def bundle(self, layout, tag, dest):
        """`umoci unpack` of layout:tag, its config.json running COMMAND without a terminal."""
        run("umoci", "unpack", "--image", f"{layout}:{tag}", dest)
        path = os.path.join(dest, "config.json")
        with open(path) as f:
            config = json.load(f)
        config["process"]["args"] = COMMAND
        config["process"]["terminal"] = False
        with open(path, "w") as f:
            json.dump(config, f)
        return dest

    def run_detached(self, bundle):
        """Wall seconds of `runc run --detach`; the container is then killed and deleted."""
        self.n += 1
        cid = f"agentbench-{os.getpid()}-{self.n}"
        self.ids.add(cid)
        # The container inherits runc's stdio: no pipes, or reading them waits for it.
        with tempfile.TemporaryFile() as err:
            began = time.monotonic()
            code = subprocess.run(["runc", "--root", self.root, "run", "--detach", "--bundle",
                                   bundle, cid], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=err).returncode
            took = time.monotonic() - began
            if code != 0:
                err.seek(0)
                raise BenchError(f"runc run -d failed ({code}): {err.read().decode().strip()}")
        self.remove(cid)
        return took

    def remove(self, cid):
        subprocess.run(["runc", "--root", self.root, "kill", cid, "KILL"], capture_output=True)
        subprocess.run(["runc", "--root", self.root, "delete", "--force", cid],
                       capture_output=True)
        self.ids.discard(cid)

    def close(self):
        for cid in list(self.ids):
            self.remove(cid)


def cold_peer(registry, repo, tag, runc, work, i):
    """skopeo copy + umoci unpack + runc run -d of registry/repo:tag; (total, parts) in s."""
    layout, bundle = os.path.join(work, f"peer-layout-{i}"), os.path.join(work, f"peer-bundle-{i}")
    began = time.monotonic()
    run("skopeo", "copy", "--quiet", "--src-creds", f"{USER}:{PASSWORD}",
        "--src-tls-verify=false", f"docker://{registry.host}/{repo}:{tag}",
        f"oci:{layout}:{tag}")
    copied = time.monotonic()
    runc.bundle(layout, tag, bundle)
    unpacked = time.monotonic()
    started = runc.run_detached(bundle)
    total = time.monotonic() - began
    shutil.rmtree(layout, ignore_errors=True)
    shutil.rmtree(bundle, ignore_errors=True)
    return total, {"skopeo": copied - began, "umoci": unpacked - copied, "runc": started}


# ------------------------------------------------------------------ the parts

def warm(cluster, agent, registry, layout, runc, work):
    image = push(layout, "1", registry, "bench/warm")
    td = cluster.task_definition("bench-warm", image)
    _, arn, _ = start_one(cluster, td)  # caches the image
    cluster.stop_and_wait([arn])
    bundle = runc.bundle(layout, "1", os.path.join(work, "warm-bundle"))

    agent_s, runc_s, marks = [], [], {}
    for _ in range(TASKS):  # interleaved: a runc run, then a task
        runc_s.append(runc.run_detached(bundle))
        took, arn, m = start_one(cluster, td, agent)
        agent_s.append(took)
        marks[arn] = m
        cluster.stop_and_wait([arn])
    shutil.rmtree(bundle, ignore_errors=True)
    log = AgentLog(agent)
    received, started = log.times("task received"), log.times("container started")
    for arn, m in marks.items():
        m["received"] = received.get(arn)
        m["container_started"] = started.get(arn)
    return agent_s, runc_s, marks, td


def breakdown(marks):
    """Median and p99 (ms) of each step of RunTask -> RUNNING across tasks."""
    steps = [("RunTask answered", "sent", "replied"),
             ("task received by the agent (ACS)", "sent", "received"),
             ("  -> pull started (secret read)", "received", "pull_started"),
             ("  -> pull stopped (re-check; cold: pull)", "pull_started", "pull_stopped"),
             ("  -> task network up (hosts file)", "pull_stopped", "network_up"),
             ("  -> bundle made (overlay, config.json)", "network_up", "bundle_made"),
             ("  -> shim spawned (shim.log)", "bundle_made", "shim_spawned"),
             ("  -> runc run -d done (started.json)", "shim_spawned", "runc_returned"),
             ("  -> 'container started' logged", "runc_returned", "container_started"),
             ("  -> RUNNING recorded (startedAt)", "container_started", "started_at"),
             ("  (RUNNING seen by the poll)", "started_at", "running_seen")]
    rows = []
    for name, a, b in steps:
        d = [m[b] - m[a] for m in marks.values() if m.get(a) is not None and m.get(b) is not None]
        if d:
            rows.append((name, ms(statistics.median(d)), ms(pct(d, 0.99)), len(d)))
        else:
            rows.append((name, None, None, 0))
    return rows


def cold(cluster, registry, runc, work, agent, size_mb):
    agent_s, peer_s, parts = [], [], []
    agent_parts = []  # (pull started -> stopped, rest) seconds of each agent run
    agent_marks = {}  # arn -> the steps' times, as (a)'s
    for i in range(COLD_IMAGES):
        layout = build_image(os.path.join(work, f"cold-img-{i}"), tag="1", extra_layers=[
            {f"/data/blob-{i}": os.urandom(size_mb << 20)}], cmd=tuple(COMMAND))
        repo = f"bench/cold{size_mb}-{i}"
        image = push(layout, "1", registry, repo)
        shutil.rmtree(os.path.join(work, f"cold-img-{i}"), ignore_errors=True)
        td = cluster.task_definition(f"bench-cold{size_mb}-{i}", image)

        def agent_run():
            took, arn, marks = start_one(cluster, td, agent)
            agent_s.append(took)
            agent_marks[arn] = marks
            if marks["pull_started"] and marks["pull_stopped"]:
                pull = marks["pull_stopped"] - marks["pull_started"]
                agent_parts.append({"before": marks["pull_started"] - marks["sent"], "pull": pull,
                                    "after": marks["started_at"] - marks["pull_stopped"]})
            cluster.stop_and_wait([arn])

        def peer_run():
            total, p = cold_peer(registry, repo, "1", runc, work, i)
            peer_s.append(total)
            parts.append(p)

        for step in ((agent_run, peer_run) if i % 2 == 0 else (peer_run, agent_run)):
            subprocess.run(["sync"])
            step()
    log = AgentLog(agent)
    received, started = log.times("task received"), log.times("container started")
    for arn, m in agent_marks.items():
        m["received"] = received.get(arn)
        m["container_started"] = started.get(arn)
    return agent_s, peer_s, parts, agent_parts, agent_marks


def burst(cluster, td, berth, agent):
    """BURST RunTask calls at once (one thread and client each); (seconds to all RUNNING,
    per-task seconds, arns, error or None)."""
    clients = [client(berth, "ecs") for _ in range(BURST)]
    arns, errors = [None] * BURST, []
    gate = threading.Barrier(BURST + 1)

    def call(i):
        gate.wait()
        try:
            arns[i] = cluster.run_task(td, ecs=clients[i])
        except Exception as e:  # noqa: BLE001  reported, not raised
            errors.append(str(e))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(BURST)]
    for t in threads:
        t.start()
    gate.wait()
    began = time.monotonic()
    for t in threads:
        t.join()
    started = [a for a in arns if a]
    error = "; ".join(errors[:3]) if errors else None
    seen = {}
    try:
        seen = cluster.wait_running(started)
    except BenchError as e:
        error = (error + "; " if error else "") + str(e)
    began_wall = time.time() - (time.monotonic() - began)
    per_task = sorted(epoch(task.get("startedAt")) - began_wall for _, task in seen.values())
    waits = []  # pull stopped -> task network up, per task
    for arn, (_, task) in seen.items():
        up, pulled = file_marks(agent, arn).get("network_up"), epoch(task.get("pullStoppedAt"))
        if up and pulled:
            waits.append((up - pulled, up - began_wall))
    if started:
        cluster.stop_and_wait(started)
    total = max(per_task) if per_task and len(per_task) == BURST else None
    return total, per_task, len(started), error, waits


# ------------------------------------------------------------------ main

def main():
    why = agents_supported()
    if why:
        print(f"== berth agent task start: skipped ({why}) ==")
        return 0
    work = tempfile.mkdtemp(prefix="agent-bench-")
    os.chmod(work, 0o755)
    from pathlib import Path
    tmp = Path(work)
    berth = registry = None
    agents, runc = [], RuncPeer(work)
    failed = []
    try:
        berth = Berth(tmp / "berth", root=random_root_credentials())
        registry = Registry(tmp / "registry", auth="htpasswd")
        cluster = Cluster(berth)
        layout = build_image(tmp / "warm-img", tag="1", cmd=tuple(COMMAND))
        warm_agent = BerthAgent(berth, tmp, args=["--insecure-registry", registry.host, *POOL_ARGS],
                                name="warm")
        agents.append(warm_agent)

        print(f"== berth agent: RunTask -> RUNNING recorded by the server (startedAt; "
              f"DescribeTasks polled every {ms(POLL):g} ms), {os.cpu_count()} cores ==")
        print(f"{'':46} {'median ms':>10} {'p99 ms':>9} {'min ms':>8} {'max ms':>8} {'n':>4}")

        def row(name, values):
            v = [ms(x) for x in values]
            print(f"{name:46} {statistics.median(v):10.1f} {pct(v, 0.99):9.1f} {min(v):8.1f} "
                  f"{max(v):8.1f} {len(v):4d}", flush=True)

        agent_s, runc_s, marks, td = warm(cluster, warm_agent, registry, layout, runc, work)
        a50, r50 = ms(statistics.median(agent_s)), ms(statistics.median(runc_s))
        row("(a) berth RunTask -> RUNNING, cached image", agent_s)
        row(f"      (seen by the {ms(POLL):g} ms poll)", seen_after(marks))
        row("    runc run --detach, same bundle (peer)", runc_s)
        verdict = ("met" if a50 <= r50 + WARM_TARGET_MS
                   else f"missed by {a50 - r50 - WARM_TARGET_MS:.0f} ms")
        print(f"    target: median at most runc + {WARM_TARGET_MS} ms = "
              f"{r50 + WARM_TARGET_MS:.1f} ms: {verdict}")
        print("    where the time goes (agent log, task timestamps; median, p99 ms):")
        for name, med, p99, n in breakdown(marks):
            if med is None:
                print(f"      {name:40} {'-':>10} (no timestamps)")
            else:
                print(f"      {name:40} {med:10.1f} {p99:9.1f} {'':17} {n:4d}")

        total, per_task, placed, error, waits = burst(cluster, td, berth, warm_agent)
        if per_task:
            row(f"(c) {BURST} RunTask at once: each task RUNNING (startedAt)", per_task)
        if waits:
            row("      pull stopped -> task network up", [w for w, _ in waits])
            print(f"      task networks up from {ms(min(u for _, u in waits)):.0f} to "
                  f"{ms(max(u for _, u in waits)):.0f} ms after the calls began")
        if total is not None:
            print(f"    all {BURST} RUNNING {ms(total):.1f} ms after the calls began")
        else:
            failed.append(f"(c) {len(per_task)} of {BURST} tasks RUNNING ({placed} placed): "
                          f"{error}")
            print(f"    NOT all RUNNING: {failed[-1]}")
        warm_agent.close()
        agents.remove(warm_agent)

        for size in COLD_MB:
            cold_agent = BerthAgent(berth, tmp,
                                    args=["--insecure-registry", registry.host, *POOL_ARGS],
                                    name=f"cold{size}")
            agents.append(cold_agent)
            cold_s, peer_s, parts, agent_parts, cold_marks = cold(cluster, registry, runc, work,
                                                                  cold_agent, size)
            row(f"(b) berth RunTask -> RUNNING, not cached, {size} MiB", cold_s)
            row(f"      (seen by the {ms(POLL):g} ms poll)", seen_after(cold_marks))
            for key, name in (("before", "RunTask -> pull started"),
                              ("pull", "pull (resolve, fetch, verify, unpack)"),
                              ("after", "pull stopped -> RUNNING")):
                if agent_parts:
                    row(f"      of which {name}", [p[key] for p in agent_parts])
            print("    where the time goes (as in (a); median, p99 ms):")
            for name, med, p99, n in breakdown(cold_marks):
                if med is not None:
                    print(f"      {name:40} {med:10.1f} {p99:9.1f} {'':17} {n:4d}")
            row("    skopeo copy + umoci unpack + runc run -d", peer_s)
            for key in ("skopeo", "umoci", "runc"):
                row(f"      of which {key}", [p[key] for p in parts])
            ratio = statistics.median(peer_s) / statistics.median(cold_s)
            print(f"    ({COLD_IMAGES} images, each with its own {size} MiB random layer, a "
                  f"fresh agent data dir)")
            print(f"    target: at least {COLD_TARGET:g}x faster: {ratio:.1f}x "
                  f"({'met' if ratio >= COLD_TARGET else 'missed'})", flush=True)
            cold_agent.close()
            agents.remove(cold_agent)
    except BenchError as e:
        failed.append(str(e))
        print(f"agent bench: {e}", file=sys.stderr)
    finally:
        runc.close()
        for a in agents:
            a.close()
        if registry:
            registry.stop()
        if berth:
            berth.stop()
        if failed:
            for a in agents:
                print(f"--- {a.name} agent log (tail) ---", file=sys.stderr)
                print("\n".join(a.log_text().splitlines()[-15:]), file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
