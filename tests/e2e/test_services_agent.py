"""ECS services with `berth agent` running real containers (issue 14, acceptance 1 to 5):
`create-service --desired-count 3` -> `aws ecs wait services-stable` -> 3 RUNNING tasks of the
service's group; a container killed -> a replacement starts and the service is stable again;
a rolling update to a new revision with minimumHealthyPercent 100 / maximumPercent 200 never
has fewer than 3 RUNNING tasks, then only the new revision runs. The image is the seed's: in a
private htpasswd registry, its login read from Secrets Manager with the execution role. The
circuit breaker rolls back a revision whose secret the role cannot read; DAEMON follows agents
that join; and the scheduler (held by a store lease) resumes after a server restart, clean or a
crash, with no task lost or started twice."""
import json
import os
import signal
import threading
import time

import pytest

from agent_harness import BerthAgent, agents_supported, bridge_leftovers, leftovers
from ecs_harness import client, make_role
from registry_harness import PASSWORD, USER, build_image, push
# The fixtures test_agent.py defines: an htpasswd registry, an agent trusting it (checked for
# leftovers when it stops), the AWS CLI.
from test_agent import agent, aws, registry  # noqa: F401

pytestmark = pytest.mark.skipif(agents_supported() is not None,
                                reason=str(agents_supported()))


@pytest.fixture
def image(tmp_path, registry):
    layout = build_image(tmp_path / "img", tag="1.4", cmd=("/bin/sh", "-c", "sleep 600"))
    return push(layout, "1.4", registry, "team/api")


@pytest.fixture
def seed(berth):
    sm = client(berth, "secretsmanager")
    secret = sm.create_secret(Name="registry/team",
                              SecretString=json.dumps({"username": USER, "password": PASSWORD}))
    role = make_role(client(berth, "iam"), "ecsTaskExecutionRole", policy={
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [secret["ARN"]]}]})
    return {"secret": secret["ARN"], "role": role}


def register(aws, image, seed, marker):
    """A revision of `web` whose container sleeps with `marker` in its command line (so the test
    can find its processes)."""
    c = {"name": "app", "image": image, "memory": 32, "essential": True,
         "command": ["/bin/sh", "-c", f"exec sleep {marker}"], "stopTimeout": 2,
         "repositoryCredentials": {"credentialsParameter": seed["secret"]}}
    out = aws.ok("ecs", "register-task-definition", "--family", "web", "--execution-role-arn",
                 seed["role"], "--container-definitions", json.dumps([c]))
    return out["taskDefinition"]["taskDefinitionArn"]


def running(aws):
    arns = aws.ok("ecs", "list-tasks", "--service-name", "web")["taskArns"]
    if not arns:
        return []
    return [t for t in aws.ok("ecs", "describe-tasks", "--tasks", *arns)["tasks"]
            if t["lastStatus"] == "RUNNING"]


def pids_running(marker):
    """Processes whose command line is `sleep <marker>` (the service's containers)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().split(b"\0")[:2] == [b"sleep", str(marker).encode()]:
                    found.append(int(pid))
        except OSError:
            pass
    return found


def wait_stable(aws):
    aws.ok("ecs", "wait", "services-stable", "--services", "web")


def remove_service(aws, *markers):
    """Deletes `web` and waits until none of its containers (by marker) runs."""
    aws.ok("ecs", "delete-service", "--service", "web", "--force")
    aws.ok("ecs", "wait", "services-inactive", "--services", "web")
    deadline = time.time() + 60
    while any(pids_running(m) for m in markers) and time.time() < deadline:
        time.sleep(0.5)
    assert [p for m in markers for p in pids_running(m)] == []


def wait_replaced(aws, before, count, timeout=60):
    """Waits until `count` tasks run and they are not the set `before`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = {t["taskArn"] for t in running(aws)}
        if len(now) == count and now != before:
            return
        time.sleep(0.5)


def steady_for(aws, marker, count, seconds=5.0):
    """Samples, for `seconds`, the service's RUNNING tasks and its containers: always `count`
    of each, and the same tasks (nothing started twice, nothing stopped). Returns the tasks."""
    first = {t["taskArn"] for t in running(aws)}
    deadline = time.time() + seconds
    while time.time() < deadline:
        now = {t["taskArn"] for t in running(aws)}
        assert now == first and len(now) == count, (first, now)
        assert len(pids_running(marker)) == count
        time.sleep(0.5)
    listed = aws.ok("ecs", "list-tasks", "--service-name", "web")["taskArns"]
    assert set(listed) == first, (listed, first)
    return first


def test_a_service_keeps_three_tasks_running_and_replaces_a_killed_one(aws, agent, seed, image):
    td = register(aws, image, seed, 9001)
    aws.ok("ecs", "create-service", "--service-name", "web", "--task-definition", td,
           "--desired-count", "3")
    try:
        wait_stable(aws)
        tasks = running(aws)
        assert len(tasks) == 3
        assert {t["group"] for t in tasks} == {"service:web"}
        assert len(pids_running(9001)) == 3
        before = {t["taskArn"] for t in tasks}

        os.kill(pids_running(9001)[0], signal.SIGKILL)
        wait_replaced(aws, before, 3)
        wait_stable(aws)
        after = {t["taskArn"] for t in running(aws)}
        assert len(after) == 3 and len(after - before) == 1, (before, after)
        assert len(pids_running(9001)) == 3
        events = [e["message"] for e in aws.ok("ecs", "describe-services", "--services",
                                                "web")["services"][0]["events"]]
        assert any("has reached a steady state." in m for m in events), events
        assert any(m.startswith("(service web) has started 1 tasks:") for m in events), events
    finally:
        remove_service(aws, 9001)


def test_a_rolling_update_never_drops_below_the_minimum(aws, agent, seed, image):
    old = register(aws, image, seed, 9002)
    aws.ok("ecs", "create-service", "--service-name", "web", "--task-definition", old,
           "--desired-count", "3", "--deployment-configuration",
           "minimumHealthyPercent=100,maximumPercent=200")
    try:
        wait_stable(aws)
        new = register(aws, image, seed, 9003)
        low = []
        stop = threading.Event()

        def sample():
            # The containers themselves: a process of the old or the new revision runs.
            while not stop.is_set():
                low.append(len(pids_running(9002)) + len(pids_running(9003)))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        aws.ok("ecs", "update-service", "--service", "web", "--task-definition", new)
        deadline = time.time() + 120
        while time.time() < deadline:
            svc = aws.ok("ecs", "describe-services", "--services", "web")["services"][0]
            if (len(svc["deployments"]) == 1 and svc["runningCount"] == 3
                    and svc["deployments"][0]["taskDefinition"] == new):
                break
            time.sleep(0.5)
        stop.set()
        sampler.join()
        assert min(low) >= 3, f"fewer than 3 containers ran during the update: {min(low)}"
        tasks = running(aws)
        assert {t["taskDefinitionArn"] for t in tasks} == {new} and len(tasks) == 3
        assert len(pids_running(9003)) == 3 and pids_running(9002) == []
        svc = aws.ok("ecs", "describe-services", "--services", "web")["services"][0]
        assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    finally:
        remove_service(aws, 9002, 9003)


def test_a_revision_whose_secret_the_role_cannot_read_is_rolled_back_by_the_circuit_breaker(
        berth, aws, agent, seed, image):
    good = register(aws, image, seed, 9004)
    aws.ok("ecs", "create-service", "--service-name", "web", "--task-definition", good,
           "--desired-count", "2", "--deployment-configuration",
           "minimumHealthyPercent=100,maximumPercent=200,"
           "deploymentCircuitBreaker={enable=true,rollback=true}")
    try:
        wait_stable(aws)
        # The same login in a secret the execution role may not read.
        other = client(berth, "secretsmanager").create_secret(
            Name="registry/other",
            SecretString=json.dumps({"username": USER, "password": PASSWORD}))["ARN"]
        bad = register(aws, image, dict(seed, secret=other), 9005)
        aws.ok("ecs", "update-service", "--service", "web", "--task-definition", bad)
        deadline = time.time() + 120
        svc = None
        while time.time() < deadline:
            svc = aws.ok("ecs", "describe-services", "--services", "web")["services"][0]
            if svc["taskDefinition"] == good and any(
                    "rolling back to deployment" in e["message"] for e in svc["events"]):
                break
            time.sleep(0.5)
        events = [e["message"] for e in svc["events"]]
        assert svc["taskDefinition"] == good, events
        assert any("deployment failed: tasks failed to start." in m for m in events), events
        failed = [m for m in events if m.startswith("(service web) failed to launch a task with "
                                                    "(error ResourceInitializationError: unable to "
                                                    "pull secrets or registry auth")]
        assert failed and "AccessDeniedException" in failed[0] and other in failed[0], events
        assert svc["deployments"][0]["taskDefinition"] == good
        wait_stable(aws)
        tasks = running(aws)
        assert len(tasks) == 2 and {t["taskDefinitionArn"] for t in tasks} == {good}
        assert len(pids_running(9004)) == 2 and pids_running(9005) == []
    finally:
        remove_service(aws, 9004)


def test_a_daemon_service_runs_one_task_on_each_agent_and_on_one_that_joins(
        berth, tmp_path, registry, aws, seed, image):
    agents = [BerthAgent(berth, tmp_path, args=["--insecure-registry", registry.host],
                         user=f"berth-agent-{i}") for i in range(2)]
    try:
        td = register(aws, image, seed, 9006)
        aws.ok("ecs", "create-service", "--service-name", "web", "--task-definition", td,
               "--scheduling-strategy", "DAEMON")
        wait_stable(aws)
        tasks = running(aws)
        assert len(tasks) == 2
        assert {t["containerInstanceArn"] for t in tasks} == {a.instance_arn for a in agents}
        assert len(pids_running(9006)) == 2

        agents.append(BerthAgent(berth, tmp_path, args=["--insecure-registry", registry.host],
                                 user="berth-agent-2"))
        deadline = time.time() + 60
        while time.time() < deadline and len(running(aws)) < 3:
            time.sleep(0.5)
        wait_stable(aws)
        tasks = running(aws)
        assert {t["containerInstanceArn"] for t in tasks} == {a.instance_arn for a in agents}
        assert len(tasks) == 3 and len(pids_running(9006)) == 3
        aws.ok("ecs", "delete-service", "--service", "web", "--force")
        aws.ok("ecs", "wait", "services-inactive", "--services", "web")
        deadline = time.time() + 60
        while pids_running(9006) and time.time() < deadline:
            time.sleep(0.5)
        assert pids_running(9006) == []
    finally:
        for a in agents:
            a.close()
        for a in agents:
            assert leftovers(a.bridge, a.data_dir) == []
            assert bridge_leftovers(a.bridge) == []


def steady_service(aws, image, seed, marker, count):
    """Creates `web` with `count` tasks of a revision marked `marker` and waits until it is
    stable; returns its task ARNs and its containers' pids."""
    td = register(aws, image, seed, marker)
    aws.ok("ecs", "create-service", "--service-name", "web", "--task-definition", td,
           "--desired-count", str(count))
    wait_stable(aws)
    return steady_for(aws, marker, count, seconds=1), set(pids_running(marker))


def test_the_scheduler_resumes_after_a_server_restart_with_no_task_lost_or_doubled(
        berth, aws, agent, seed, image):
    before, pids = steady_service(aws, image, seed, 9007, 3)
    try:
        # The server stops cleanly (it resigns the scheduler's lease); while it is away one
        # container is killed: the agent's report of it waits for the server.
        assert berth.halt() == 0
        killed = sorted(pids)[0]
        os.kill(killed, signal.SIGKILL)
        time.sleep(1)
        berth.start_again()
        # The agent reconnects and reports; the scheduler (this server leads at once) replaces
        # the stopped task, and only that one.
        wait_replaced(aws, before, 3)
        wait_stable(aws)
        after = steady_for(aws, 9007, 3)
        assert len(before & after) == 2 and len(after - before) == 1, (before, after)
        # The two survivors' containers were not restarted.
        assert pids - {killed} <= set(pids_running(9007))
        assert berth.log_text().count("this server runs the service scheduler") == 2
        svc = aws.ok("ecs", "describe-services", "--services", "web")["services"][0]
        assert (svc["runningCount"], svc["pendingCount"], svc["desiredCount"]) == (3, 0, 3)
    finally:
        remove_service(aws, 9007)


def test_a_crashed_servers_successor_waits_out_its_lease_then_schedules_once(
        berth, aws, agent, seed, image):
    before, pids = steady_service(aws, image, seed, 9008, 2)
    try:
        # The server crashes (no resign: the scheduler's lease stays in the store until its
        # TTL, 10 s, runs out); one container dies while it is away; once it is back the
        # service is scaled to 4. The successor replaces one task and starts two, once.
        assert berth.halt(signal.SIGKILL) == -signal.SIGKILL
        killed = sorted(pids)[0]
        os.kill(killed, signal.SIGKILL)
        berth.start_again()
        aws.ok("ecs", "update-service", "--service", "web", "--desired-count", "4")
        deadline = time.time() + 90
        while time.time() < deadline and len(running(aws)) < 4:
            time.sleep(0.5)
        wait_stable(aws)
        after = steady_for(aws, 9008, 4)
        assert len(before & after) == 1 and len(after - before) == 3, (before, after)
        assert pids - {killed} <= set(pids_running(9008))
        log = berth.log_text()
        assert log.count("this server runs the service scheduler") == 2, log[-3000:]
        svc = aws.ok("ecs", "describe-services", "--services", "web")["services"][0]
        assert (svc["runningCount"], svc["pendingCount"], svc["desiredCount"]) == (4, 0, 4)
        started = [e["message"] for e in svc["events"] if "has started" in e["message"]]
        # 2 at creation, then 3 after the restart (one or more events), none more.
        assert sum(int(m.split("has started ")[1].split()[0]) for m in started) == 5, started
    finally:
        remove_service(aws, 9008)


def test_a_service_with_a_health_check_is_stable_once_healthy_and_replaces_an_unhealthy_task(
        aws, agent, seed, image):
    """The container's health check runs in it (runc exec); the agent reports the result over
    TCS; the service counts a task only once HEALTHY and replaces one that turns UNHEALTHY."""
    c = {"name": "app", "image": image, "memory": 32, "essential": True, "stopTimeout": 2,
         "command": ["/bin/sh", "-c", "touch /healthy; exec sleep 9010"],
         "healthCheck": {"command": ["CMD-SHELL", "test -f /healthy"], "interval": 5,
                         "timeout": 2, "retries": 1, "startPeriod": 0},
         "repositoryCredentials": {"credentialsParameter": seed["secret"]}}
    td = aws.ok("ecs", "register-task-definition", "--family", "web", "--execution-role-arn",
                seed["role"], "--container-definitions", json.dumps([c]))[
        "taskDefinition"]["taskDefinitionArn"]
    aws.ok("ecs", "create-service", "--service-name", "web", "--task-definition", td,
           "--desired-count", "2")
    def healthy(count):
        """The service's RUNNING tasks once `count` of them are HEALTHY and the service said it
        is steady (`wait services-stable` counts RUNNING tasks only, as AWS's waiter does)."""
        deadline = time.time() + 60
        while time.time() < deadline:
            tasks = running(aws)
            svc = aws.ok("ecs", "describe-services", "--services", "web")["services"][0]
            if (len(tasks) == count and {t["healthStatus"] for t in tasks} == {"HEALTHY"}
                    and svc["events"][0]["message"] == "(service web) has reached a steady state."):
                return tasks
            time.sleep(0.5)
        raise AssertionError(f"not {count} HEALTHY tasks: {running(aws)}")

    try:
        wait_stable(aws)
        tasks = healthy(2)
        assert {t["containers"][0]["healthStatus"] for t in tasks} == {"HEALTHY"}
        # One container's check starts failing (its file goes, through /proc/<pid>/root).
        victim_pid = sorted(pids_running(9010))[0]
        os.unlink(f"/proc/{victim_pid}/root/healthy")
        deadline = time.time() + 60
        events = []
        while time.time() < deadline:
            events = [e["message"] for e in aws.ok("ecs", "describe-services", "--services",
                                                    "web")["services"][0]["events"]]
            if any("failed container health checks." in m for m in events):
                break
            time.sleep(0.5)
        assert any("failed container health checks." in m for m in events), events
        after = healthy(2)
        assert len({t["taskArn"] for t in after} - {t["taskArn"] for t in tasks}) == 1
        assert victim_pid not in pids_running(9010)
        stopped = aws.ok("ecs", "list-tasks", "--service-name", "web", "--desired-status",
                         "STOPPED")["taskArns"]
        [gone] = aws.ok("ecs", "describe-tasks", "--tasks", *stopped)["tasks"]
        assert gone["stoppedReason"] == "Task failed container health checks"
    finally:
        remove_service(aws, 9010)
