"""The ECS service benchmark (BENCH_ONLY=service of bench/run.sh; issue 14, acceptance 6).

berth: a fresh `berth server` and SERVICE_AGENTS (4) hollow agents (`berth agent --hollow`: the
real agent binary and ACS protocol, with containers and task networks kept in memory and no
image pulled, as Kubernetes' kubemark hollow nodes). A task definition of the seed's shape (a
private image whose registry login is a Secrets Manager secret read with the execution role:
each hollow task still does that GetSecretValue) backs a service created with desiredCount 0,
then scaled to SERVICE_TASKS (200) with one UpdateService. Polling DescribeServices every 50 ms:

- placed: every task exists (running + pending = 200): the scheduler's placements per second,
  the figure RunTask's own target (1,000 tasks/s) is stated in;
- running: the agents reported every task RUNNING;
- steady: the service event "has reached a steady state." after the update;
then the scale back to 0 (every task STOPPED). Reported with the spread of tasks over agents.

The peer, in the same run: moto (`python3 -m moto.server`, the image's Python) placing the same
number of tasks with RunTask count 10 on SERVICE_AGENTS instances, one request at a time (moto's
services do not start tasks; its RunTask records state only: no agents, nothing dispatched).

usage: service_bench.py BERTH_BINARY
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if len(sys.argv) > 1:
    os.environ["BERTH_BINARY"] = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, HERE)
import berth_harness  # noqa: E402
from agent_harness import BerthAgent  # noqa: E402
from contention_load import Api  # noqa: E402
from ecs_harness import client, make_role  # noqa: E402
import runtask_bench  # noqa: E402

AGENTS = int(os.environ.get("SERVICE_AGENTS", "4"))
TASKS = int(os.environ.get("SERVICE_TASKS", "200"))
KEY, SECRET = runtask_bench.KEY, runtask_bench.SECRET


def wait_for(what, check, timeout=300, every=0.05):
    """Polls check() until it returns a true value."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return
        time.sleep(every)
    sys.exit(f"service bench: {what} not reached in {timeout} s")


def berth_run(work):
    server = berth_harness.Berth(work / "berth", root=(KEY, SECRET), args=["--log-level", "warn"])
    agents = []
    try:
        for i in range(AGENTS):
            agents.append(BerthAgent(server, work, args=["--hollow", "--log-level", "warn"],
                                     user=f"bench-agent-{i}"))
        sm, ecs = client(server, "secretsmanager"), client(server, "ecs")
        secret = sm.create_secret(Name="registry/team", SecretString=json.dumps(
            {"username": "team", "password": "bench-password"}))["ARN"]
        role = make_role(client(server, "iam"), "ecsTaskExecutionRole", policy={
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                "Resource": secret}]})
        td = ecs.register_task_definition(
            family="web", executionRoleArn=role, containerDefinitions=[{
                "name": "app", "image": "registry.example.com:5000/team/api:1.4", "memory": 32,
                "essential": True, "repositoryCredentials": {"credentialsParameter": secret},
                "command": ["sleep", "3600"]}])["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(serviceName="web", taskDefinition=td, desiredCount=0)

        def service():
            return ecs.describe_services(services=["web"])["services"][0]

        def steady_events():
            return sum("has reached a steady state." in e["message"]
                       for e in service()["events"])

        steady_before = steady_events()
        rows = {}
        started = time.monotonic()
        ecs.update_service(service="web", desiredCount=TASKS)
        wait_for("every task placed", lambda: (
            lambda s: s["runningCount"] + s["pendingCount"] >= TASKS)(service()))
        rows["placed"] = time.monotonic() - started
        wait_for("every task RUNNING", lambda: (lambda s: s["runningCount"] >= TASKS)(service()))
        rows["running"] = time.monotonic() - started
        wait_for("steady state", lambda: steady_events() > steady_before)
        rows["steady"] = time.monotonic() - started
        spread = {}
        for a in agents:
            arns = ecs.list_tasks(containerInstance=a.instance_arn, serviceName="web",
                                  maxResults=100)
            n = len(arns["taskArns"])
            while arns.get("nextToken"):
                arns = ecs.list_tasks(containerInstance=a.instance_arn, serviceName="web",
                                      maxResults=100, nextToken=arns["nextToken"])
                n += len(arns["taskArns"])
            spread[a.name] = n
        if sum(spread.values()) != TASKS:
            sys.exit(f"service bench: the agents run {spread}, not {TASKS} tasks")
        started = time.monotonic()
        ecs.update_service(service="web", desiredCount=0)
        wait_for("every task stopped", lambda: (
            lambda s: s["runningCount"] + s["pendingCount"] == 0)(service()))
        rows["drained"] = time.monotonic() - started
        return rows, spread
    finally:
        for a in agents:
            a.stop()
        server.stop()


def moto_run():
    port = berth_harness.free_port()
    moto = subprocess.Popen([shutil.which("python3"), "-m", "moto.server", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        runtask_bench.wait_port(port, moto, "moto")
        url = f"http://127.0.0.1:{port}/"
        documents = [runtask_bench.identity_document(i)
                     for i in runtask_bench.moto_instance_ids(url, AGENTS)]
        runtask_bench.setup_target(url, documents)
        api = Api(url, KEY, SECRET)
        started = time.monotonic()
        placed = 0
        while placed < TASKS:
            reply = runtask_bench.ecs(api, "RunTask", {
                "cluster": runtask_bench.CLUSTER, "taskDefinition": runtask_bench.FAMILY,
                "count": min(10, TASKS - placed)})
            placed += len(reply["tasks"])
        return time.monotonic() - started
    finally:
        moto.terminate()
        moto.wait()


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="berth-service-bench-"))
    try:
        rows, spread = berth_run(work)
        moto_s = moto_run()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"service: 0 -> {TASKS} tasks on {AGENTS} hollow agents "
          f"(tasks per agent: {', '.join(str(n) for n in spread.values())})")
    print(f"{'':34} {'seconds':>8} {'tasks/s':>8}")
    for what, label in (("placed", "berth: every task placed"),
                        ("running", "berth: every task RUNNING"),
                        ("steady", "berth: steady-state event"),
                        ("drained", f"berth: {TASKS} -> 0, every task STOPPED")):
        print(f"{label:34} {rows[what]:8.2f} {TASKS / rows[what]:8.0f}")
    print(f"{'moto RunTask x10 (peer)':34} {moto_s:8.2f} {TASKS / moto_s:8.0f}")


if __name__ == "__main__":
    main()
