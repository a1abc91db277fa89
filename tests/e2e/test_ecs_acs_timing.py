"""What the ACS session sends on its own, with the test agent of ecs_agent.py: a HeartbeatMessage
every heartbeat interval with the instance's task manifest (which the agent acks), and the task
role credentials of a payload sent again (IAMRoleCredentialsMessage) before they expire.

The server runs with --acs-heartbeat-seconds 1 (30 by default) and
--acs-credentials-refresh-seconds 3597: credentials last 3600 s, so they are refreshed about 3 s
after they are handed out (15 min before they expire by default)."""
import datetime
import time

import pytest

from berth_harness import Berth, allow
from ecs_harness import ACCOUNT, Fleet, client, make_role, register, task_id

HEARTBEAT = 1.0
REFRESH_AFTER = 3.0  # 3600 - 3597


@pytest.fixture
def berth(tmp_path, root_creds):
    server = Berth(tmp_path / "data", root=root_creds, args=[
        "--acs-heartbeat-seconds", "1", "--acs-credentials-refresh-seconds", "3597"])
    yield server
    code = server.stop()
    assert code == 0, f"berth exited with {code}:\n{server.log_text()}"


def running_task(berth, fleet, **definition):
    """An agent, and a task of a definition with `definition` it was sent: (agent, arn, sent)."""
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    agent = fleet.add()
    assert agent.connected
    td = register(ecs, "timed", **definition)
    [task] = ecs.run_task(taskDefinition=td["taskDefinitionArn"])["tasks"]
    sent = agent.wait_for_task(task["taskArn"])
    agent.report(task["taskArn"], "RUNNING")
    return agent, task["taskArn"], sent


def next_of(agent, kind, after, timeout):
    """The index and message of the first `kind` at index >= after."""
    def found():
        for i, (k, m) in enumerate(agent.messages[after:], after):
            if k == kind:
                return i, m
        return None
    return agent.wait(found, timeout, kind)


def errors(agent):
    return [(k, m) for k, m in agent.messages if k.endswith("Exception") or k == "ErrorMessage"]


def test_heartbeats_carry_the_task_manifest_and_their_acks_keep_the_session(berth, fleet):
    agent, arn, _ = running_task(berth, fleet)
    ecs = client(berth, "ecs")
    start = time.time()
    mark = len(agent.messages)
    at, heartbeat = next_of(agent, "HeartbeatMessage", mark, timeout=HEARTBEAT + 1.5)
    assert time.time() - start <= HEARTBEAT + 1.0
    assert set(heartbeat) == {"healthy", "messageId"}
    assert heartbeat["healthy"] is True and heartbeat["messageId"]
    # With it, the manifest of what the instance is to run, as ECS sends it.
    _, manifest = next_of(agent, "TaskManifestMessage", at, timeout=2)
    assert manifest["containerInstanceArn"] == agent.instance_arn
    assert manifest["clusterArn"] == agent.cluster_arn
    assert manifest["tasks"] == [{"taskArn": arn, "taskClusterArn": agent.cluster_arn,
                                  "desiredStatus": "RUNNING"}]
    assert manifest["messageId"] and manifest["generatedAt"] and manifest["timeline"]
    # The agent acked it; the server takes the ack and goes on: the next heartbeat arrives on
    # the same session, and nothing was refused.
    assert agent.wait(lambda: [m for k, m in agent.sent if k == "HeartbeatAckRequest"
                               and m["messageId"] == heartbeat["messageId"]])
    at, second = next_of(agent, "HeartbeatMessage", at + 1, timeout=HEARTBEAT + 1.5)
    assert second["messageId"] != heartbeat["messageId"]
    assert agent.connected and errors(agent) == []

    # A task to stop is in the manifest as STOPPED until its agent reports it stopped.
    ecs.stop_task(task=arn, reason="done")
    agent.wait_for_task(arn, "STOPPED")
    _, manifest = next_of(agent, "TaskManifestMessage", len(agent.messages), timeout=3)
    assert [t["desiredStatus"] for t in manifest["tasks"]] == ["STOPPED"]
    agent.report(arn, "STOPPED")
    mark = len(agent.messages)
    next_of(agent, "HeartbeatMessage", mark, timeout=3)  # one tick that may predate the report
    _, manifest = next_of(agent, "TaskManifestMessage", len(agent.messages), timeout=3)
    assert manifest["tasks"] == []
    assert agent.connected and errors(agent) == []


def iso(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_task_credentials_are_refreshed_before_they_expire_and_the_new_keys_work(berth, fleet):
    iam = client(berth, "iam")
    execution = make_role(iam, "ecsTaskExecutionRole", policy=allow("logs:CreateLogStream"))
    agent, arn, sent = running_task(berth, fleet, executionRoleArn=execution)
    first = sent["executionRoleCredentials"]
    handed_out = time.time()

    def refreshed():
        for k, m in agent.messages:
            if k == "IAMRoleCredentialsMessage" and m.get("taskArn") == arn:
                return m
        return None
    message = agent.wait(refreshed, REFRESH_AFTER + HEARTBEAT + 3, "IAMRoleCredentialsMessage")
    arrived = datetime.datetime.now(datetime.timezone.utc)
    assert time.time() - handed_out >= REFRESH_AFTER - 1.0  # not before they were due
    assert arrived < iso(first["expiration"])
    assert message["taskClusterArn"] == agent.cluster_arn
    assert message["roleType"] == "TaskExecution" and message["messageId"]
    creds = message["roleCredentials"]
    assert creds["roleArn"] == execution
    assert creds["credentialsId"] != first["credentialsId"]
    assert creds["accessKeyId"] != first["accessKeyId"]
    assert creds["secretAccessKey"] != first["secretAccessKey"]
    assert iso(creds["expiration"]) > iso(first["expiration"])
    # The new keys are a session of the execution role, named after the task.
    sts = client(berth, "sts", creds["accessKeyId"], creds["secretAccessKey"],
                 creds["sessionToken"])
    assert sts.get_caller_identity()["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/ecsTaskExecutionRole/{task_id(arn)}")
    # The agent acked them as the real agent does; the session goes on.
    ack = agent.wait(lambda: [m for k, m in agent.sent if k == "IAMRoleCredentialsAckRequest"
                              and m["messageId"] == message["messageId"]])[0]
    assert ack == {"messageId": message["messageId"], "expiration": creds["expiration"],
                   "credentialsId": creds["credentialsId"]}
    next_of(agent, "HeartbeatMessage", len(agent.messages), timeout=HEARTBEAT + 1.5)
    assert agent.connected and errors(agent) == []

    # A stopped task's credentials are not refreshed any more.
    agent.report(arn, "STOPPED")
    next_of(agent, "HeartbeatMessage", len(agent.messages), timeout=3)  # a tick in flight
    mark = len(agent.messages)
    time.sleep(REFRESH_AFTER + 2 * HEARTBEAT)
    assert [m for k, m in agent.messages[mark:]
            if k == "IAMRoleCredentialsMessage" and m.get("taskArn") == arn] == []


def test_an_agent_gone_silent_is_disconnected_and_offered_no_more_tasks(berth, fleet):
    """A session that sends nothing (no heartbeat ack, no pong) for three heartbeat intervals is
    closed: an agent whose host froze or lost its network stops being offered tasks."""
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    agent = fleet.add()
    td = register(ecs, "silent")

    def connected():
        [ci] = ecs.describe_container_instances(containerInstances=[agent.instance_arn])[
            "containerInstances"]
        return ci["agentConnected"]
    # Alive: acks keep the session past three heartbeats.
    time.sleep(4 * HEARTBEAT)
    assert connected() and agent.connected
    # Frozen: its event loop blocks, so it neither acks nor answers the server's pings.
    frozen = 3 * HEARTBEAT + 5 + 4  # idle close, the close handshake's 5 s, a margin
    agent._loop.call_soon_threadsafe(time.sleep, frozen)
    began = time.time()
    deadline = began + frozen
    while connected() and time.time() < deadline:
        time.sleep(0.2)
    assert not connected(), "a silent agent stayed connected"
    assert time.time() - began >= 3 * HEARTBEAT - 0.5  # not before three heartbeats of silence
    [task] = ecs.run_task(taskDefinition=td["taskDefinitionArn"])["failures"] or [None]
    assert task and task["reason"] == "AGENT"
