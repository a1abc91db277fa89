"""The awslogs log driver end to end: `berth agent` (root, runc) runs busybox tasks whose
containers log with awslogs, signed with the task's execution role; what they print is read
back through CloudWatch Logs with the AWS CLI (`aws logs get-log-events`) and boto3."""
import json
import time

import pytest

from agent_harness import agents_supported
from ecs_harness import client, make_role
from registry_harness import Registry, build_image, push
from test_agent import agent  # noqa: F401 (the fixture: an agent trusting `registry`)

pytestmark = pytest.mark.skipif(agents_supported() is not None,
                                reason=str(agents_supported()))

REGION = "us-east-1"
GROUP = "/ecs/berth-e2e"


@pytest.fixture
def registry(tmp_path):
    r = Registry(tmp_path / "registry", auth=None)
    yield r
    r.stop()


@pytest.fixture
def image(tmp_path, registry):
    layout = build_image(tmp_path / "img", tag="1")
    return push(layout, "1", registry, "team/printer")


@pytest.fixture
def role(berth):
    """An execution role allowed exactly what the awslogs driver calls."""
    return make_role(client(berth, "iam"), "ecsTaskExecutionRole", policy={
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*"}]})


def register(aws, family, image, role, command, **options):
    opts = {"awslogs-group": GROUP, "awslogs-region": REGION, "awslogs-stream-prefix": "web",
            "awslogs-create-group": "true", **options}
    c = {"name": "app", "image": image, "memory": 64, "essential": True, "command": command,
         "logConfiguration": {"logDriver": "awslogs", "options": opts}}
    out = aws.ok("ecs", "register-task-definition", "--family", family,
                 "--execution-role-arn", role, "--container-definitions", json.dumps([c]))
    return out["taskDefinition"]["taskDefinitionArn"]


def run_to_stop(aws, td, timeout=120):
    out = aws.ok("ecs", "run-task", "--task-definition", td)
    assert out["failures"] == [], out
    task = out["tasks"][0]["taskArn"]
    deadline = time.time() + timeout
    while time.time() < deadline:
        t = aws.ok("ecs", "describe-tasks", "--tasks", task)["tasks"][0]
        if t["lastStatus"] == "STOPPED":
            assert t["containers"][0].get("exitCode") == 0, t
            return task
        time.sleep(0.3)
    raise AssertionError(f"task not STOPPED in {timeout}s")


def stream_of(task):
    return f"web/app/{task.rsplit('/', 1)[1]}"


def all_messages(logs, stream):
    """Every event of the stream from its head (GetLogEvents until the token repeats)."""
    messages, token = [], None
    while True:
        kwargs = {"logGroupName": GROUP, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        messages += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            return messages
        token = page["nextForwardToken"]


def test_lines_are_in_the_stream_in_order_when_stopped_is_reported(cli, agent, role, image):
    td = register(cli, "printer", image, role,
                  ["/bin/sh", "-c", "echo first; echo second; echo third; printf 'no newline'"])
    task = run_to_stop(cli, td)
    # STOPPED is reported after the driver shipped everything: no waiting here.
    out = cli.ok("logs", "get-log-events", "--log-group-name", GROUP,
                 "--log-stream-name", stream_of(task), "--start-from-head")
    assert [e["message"] for e in out["events"]] == ["first", "second", "third", "no newline"]
    stamps = [e["timestamp"] for e in out["events"]]
    assert stamps == sorted(stamps)
    groups = cli.ok("logs", "describe-log-groups", "--log-group-name-prefix", GROUP)
    assert [g["logGroupName"] for g in groups["logGroups"]] == [GROUP]  # created by the driver


def test_a_multiline_pattern_ships_a_stack_trace_as_one_event(cli, agent, role, image):
    trace = "ERROR boom\\n\\tat Main.run(Main.java:3)\\n\\tat Main.main(Main.java:1)"
    td = register(cli, "tracer", image, role,
                  ["/bin/sh", "-c", f"echo 'INFO starting'; printf '{trace}\\n'; echo 'INFO done'"],
                  **{"awslogs-multiline-pattern": "^(INFO|ERROR)"})
    task = run_to_stop(cli, td)
    out = cli.ok("logs", "get-log-events", "--log-group-name", GROUP,
                 "--log-stream-name", stream_of(task), "--start-from-head")
    assert [e["message"] for e in out["events"]] == [
        "INFO starting\n",
        "ERROR boom\n\tat Main.run(Main.java:3)\n\tat Main.main(Main.java:1)\n",
        "INFO done\n"]
    # A pattern the driver cannot read fails the task as Docker refuses the container.
    bad = register(cli, "badpattern", image, role, ["/bin/true"],
                   **{"awslogs-multiline-pattern": "^(INFO"})
    out = cli.ok("ecs", "run-task", "--task-definition", bad)
    arn = out["tasks"][0]["taskArn"]
    deadline = time.time() + 60
    while time.time() < deadline:
        t = cli.ok("ecs", "describe-tasks", "--tasks", arn)["tasks"][0]
        if t["lastStatus"] == "STOPPED":
            break
        time.sleep(0.3)
    assert t["lastStatus"] == "STOPPED"
    reason = t["containers"][0].get("reason", "")
    assert "awslogs could not parse multiline pattern key" in reason, t


def test_a_burst_of_100000_lines_loses_none_in_blocking_mode(cli, agent, role, image, berth):
    td = register(cli, "burst", image, role, ["/bin/busybox", "seq", "1", "100000"],
                  mode="blocking")
    task = run_to_stop(cli, td)
    messages = all_messages(client(berth, "logs"), stream_of(task))
    assert len(messages) == 100000
    assert messages == [str(i) for i in range(1, 100001)]


def test_non_blocking_mode_with_a_small_buffer_reports_what_it_dropped(cli, agent, role, image,
                                                                        berth):
    td = register(cli, "dropper", image, role, ["/bin/busybox", "seq", "1", "100000"],
                  mode="non-blocking", **{"max-buffer-size": "64k"})
    task = run_to_stop(cli, td)
    messages = all_messages(client(berth, "logs"), stream_of(task))
    notices = [m for m in messages if m.startswith("[berth awslogs] dropped ")]
    assert notices, f"{len(messages)} events and no notice"
    dropped = 0
    for notice in notices:
        assert notice.endswith(" log lines: the buffer (max-buffer-size 64k) was full"), notice
        dropped += int(notice.split()[3])
    lines = [m for m in messages if not m.startswith("[berth awslogs]")]
    assert len(lines) + dropped == 100000
    assert [int(m) for m in lines] == sorted(int(m) for m in lines)  # what is kept is in order
    assert "awslogs dropped log lines" in agent.log_text()


def test_aws_logs_tail_follow_shows_a_running_tasks_new_lines_within_the_flush_interval(
        cli, agent, role, image, berth, tmp_path):
    """A task prints a numbered line every 0.5 s; `aws logs tail GROUP --follow` (which polls
    FilterLogEvents every 5 s) shows each, while the task runs, within the driver's flush
    interval (5 s) plus that poll, in order and none twice."""
    import queue
    import subprocess
    import threading
    from berth_harness import AWS, cli_env
    td = register(cli, "ticker", image, role,
                  ["/bin/sh", "-c", "i=0; while [ $i -lt 80 ]; do i=$((i+1)); echo tick-$i; "
                   "sleep 0.5; done"])
    task = cli.ok("ecs", "run-task", "--task-definition", td)["tasks"][0]["taskArn"]
    deadline = time.time() + 60
    while time.time() < deadline:
        if cli.ok("ecs", "describe-tasks", "--tasks", task)["tasks"][0]["lastStatus"] == "RUNNING":
            break
        time.sleep(0.1)
    running_at = time.time()  # tick-n was printed no later than about running_at + n * 0.5
    key, secret = berth.read_credentials()
    env = cli_env(tmp_path, key=key, secret=secret, region=REGION)
    while time.time() - running_at < 30:  # the driver creates the group when the task starts
        if cli.ok("logs", "describe-log-groups", "--log-group-name-prefix", GROUP)["logGroups"]:
            break
        time.sleep(0.3)
    tail = subprocess.Popen([AWS, "--endpoint-url", berth.endpoint, "logs", "tail", GROUP,
                             "--follow", "--format", "short", "--since", "10m"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen = queue.Queue()
    threading.Thread(target=lambda: [seen.put((time.time(), line)) for line in tail.stdout],
                     daemon=True).start()
    try:
        ticks = []
        deadline = time.time() + 35
        while time.time() < deadline and len(ticks) < 50:
            try:
                when, line = seen.get(timeout=1)
            except queue.Empty:
                continue
            if "tick-" in line:
                ticks.append((when, int(line.split()[-1].split("-")[1])))
        numbers = [n for _, n in ticks]
        assert len(numbers) >= 30, numbers
        assert numbers == sorted(set(numbers)), numbers  # in order; tail de-duplicates by eventId
        lags = [when - (running_at + n * 0.5) for when, n in ticks]
        assert max(lags) <= 5 + 5 + 2, [round(x, 1) for x in lags]
    finally:
        tail.kill()
        tail.wait()
        cli.ok("ecs", "stop-task", "--task", task)
