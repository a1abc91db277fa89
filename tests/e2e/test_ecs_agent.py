"""The agent protocol (ACS) end to end, with the test agent of ecs_agent.py: sessions and
agentConnected, tasks delivered in PayloadMessages (and again to stop them), the execution and
task roles' credentials minted for a task, and an agent that reconnects.

Skipped as a whole while the server does not serve GET /ws."""
import json
import os
import tempfile
import time

import botocore.exceptions
import pytest

from berth_harness import Berth, allow, error_code, make_user, random_root_credentials
from ecs_agent import Agent, UpgradeRefused, acs_available
from ecs_harness import (ACCOUNT, ARN, REGION, SECRETS_CAPABILITY, Fleet, client, container,
                         make_role, register, task_id)


def _serves_acs():
    with tempfile.TemporaryDirectory() as d:
        root = random_root_credentials()
        server = Berth(os.path.join(d, "data"), root=root)
        try:
            return acs_available(server.endpoint, *root, region=REGION)
        finally:
            server.stop()


pytestmark = pytest.mark.skipif(not _serves_acs(),
                                reason="berth does not serve the agent protocol (GET /ws) yet")


def agent_connected(ecs, agent):
    [ci] = ecs.describe_container_instances(cluster=agent.cluster_arn, containerInstances=[
        agent.instance_arn])["containerInstances"]
    return ci["agentConnected"]


def eventually(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_agent_connected_follows_the_session(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    agent = fleet.add()
    assert agent.connected
    assert agent_connected(ecs, agent) is True
    assert ecs.list_container_instances(filter="agentConnected == true")[
        "containerInstanceArns"] == [agent.instance_arn]

    agent.close()
    assert eventually(lambda: agent_connected(ecs, agent) is False)
    assert ecs.list_container_instances(filter="agentConnected == false")[
        "containerInstanceArns"] == [agent.instance_arn]
    td = register(ecs, "waiting")
    out = ecs.run_task(taskDefinition=td["taskDefinitionArn"])
    assert out["tasks"] == []
    assert out["failures"] == [{"arn": agent.instance_arn, "reason": "AGENT"}]

    # Registered but never connected: the same.
    quiet = fleet.add(connect=False)
    assert agent_connected(ecs, quiet) is False
    out = ecs.run_task(taskDefinition=td["taskDefinitionArn"])
    assert sorted(f["arn"] for f in out["failures"]) == sorted(
        [agent.instance_arn, quiet.instance_arn])
    assert {f["reason"] for f in out["failures"]} == {"AGENT"}


def test_run_task_delivers_the_task_and_stop_task_sends_it_again(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    agent = fleet.add()
    td = register(ecs, "delivered", [
        container("web", image="public.ecr.aws/nginx/nginx:1.25", cpu=128, memory=256,
                  command=["nginx", "-g", "daemon off;"],
                  environment=[{"name": "MODE", "value": "prod"}],
                  portMappings=[{"containerPort": 80, "hostPort": 8080}]),
        container("log", image="busybox:1.36", memory=32, essential=False)])
    [task] = ecs.run_task(taskDefinition=td["taskDefinitionArn"], overrides={
        "containerOverrides": [{"name": "log", "command": ["tail", "-f", "/dev/null"]}]})["tasks"]
    arn = task["taskArn"]

    sent = agent.wait_for_task(arn, "RUNNING")
    kind_messages = [m for k, m in agent.messages if k == "PayloadMessage"]
    payload = next(m for m in kind_messages if any(t["arn"] == arn for t in m["tasks"]))
    assert payload["clusterArn"] == f"{ARN}:cluster/default"
    assert payload["containerInstanceArn"] == agent.instance_arn
    assert payload["messageId"] and isinstance(payload["seqNum"], int)
    assert sent["family"] == "delivered"
    assert sent["version"] == str(task["version"])
    containers = {c["name"]: c for c in sent["containers"]}
    assert set(containers) == {"web", "log"}
    web = containers["web"]
    assert web["image"] == "public.ecr.aws/nginx/nginx:1.25"
    assert (web["cpu"], web["memory"], web["essential"]) == (128, 256, True)
    assert web["command"] == ["nginx", "-g", "daemon off;"]
    assert web["environment"] == {"MODE": "prod"}
    assert web["portMappings"] == [{"containerPort": 80, "hostPort": 8080, "protocol": "tcp"}]
    assert set(web["dockerConfig"]) >= {"config", "hostConfig", "version"}
    assert containers["log"]["command"] == ["tail", "-f", "/dev/null"]  # the override
    assert containers["log"]["essential"] is False
    assert "registryAuthentication" not in web
    assert "executionRoleCredentials" not in sent
    # The agent acknowledged the payload.
    assert agent.wait(lambda: [m for k, m in agent.sent if k == "AckRequest"
                               and m["messageId"] == payload["messageId"]])[0] == {
        "cluster": payload["clusterArn"], "containerInstance": agent.instance_arn,
        "messageId": payload["messageId"]}

    agent.report(arn, "RUNNING")
    ecs.stop_task(task=arn, reason="scale in")
    stop = agent.wait_for_task(arn, "STOPPED")
    assert stop["arn"] == arn
    agent.report(arn, "STOPPED", containers=[{"containerName": "web", "status": "STOPPED",
                                              "exitCode": 0}])
    t = ecs.describe_tasks(tasks=[arn])["tasks"][0]
    assert (t["lastStatus"], t["stopCode"], t["stoppedReason"]) == (
        "STOPPED", "UserInitiated", "scale in")


@pytest.fixture
def seed(berth):
    """The seed's pieces: a registry secret, an execution role that may read it, a task role
    that may not."""
    sm, iam = client(berth, "secretsmanager"), client(berth, "iam")
    value = json.dumps({"username": "puller", "password": "hunter2-registry"})
    secret = sm.create_secret(Name="registry/creds", SecretString=value)["ARN"]
    execution = make_role(iam, "ecsTaskExecutionRole", policy=allow(
        "secretsmanager:GetSecretValue", secret))
    task_role = make_role(iam, "appRole", policy=allow("s3:ListBucket"))
    return {"secret": secret, "value": value, "execution": execution, "task_role": task_role}


def test_payload_credentials_are_sessions_of_the_task_roles(berth, fleet, seed):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    td = register(ecs, "private", [container(
        image="registry.example.com/team/app:1",
        repositoryCredentials={"credentialsParameter": "registry/creds"})],
        executionRoleArn=seed["execution"], taskRoleArn=seed["task_role"])
    required = [a["name"] for a in td["requiresAttributes"]]
    assert SECRETS_CAPABILITY in required
    fleet.add(attributes={"ecs.os-type": "linux"})  # an agent older than 1.19.0: not there
    agent = fleet.add(attributes={name: None for name in required})
    [task] = ecs.run_task(taskDefinition=td["taskDefinitionArn"])["tasks"]
    sent = agent.wait_for_task(task["taskArn"], "RUNNING")
    tid = task_id(task["taskArn"])

    [c] = sent["containers"]
    assert c["registryAuthentication"] == {"type": "asm", "asmAuthData": {
        "credentialsParameter": "registry/creds", "region": REGION}}

    execution = sent["executionRoleCredentials"]
    assert execution["roleArn"] == seed["execution"]
    assert execution["credentialsId"] and execution["expiration"]
    session = (execution["accessKeyId"], execution["secretAccessKey"], execution["sessionToken"])
    ident = client(berth, "sts", *session).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/ecsTaskExecutionRole/{tid}"
    got = client(berth, "secretsmanager", *session).get_secret_value(SecretId="registry/creds")
    assert got["SecretString"] == seed["value"]

    app = sent["roleCredentials"]
    assert app["roleArn"] == seed["task_role"]
    assert app["credentialsId"] != execution["credentialsId"]
    app_session = (app["accessKeyId"], app["secretAccessKey"], app["sessionToken"])
    assert client(berth, "sts", *app_session).get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{ACCOUNT}:assumed-role/appRole/{tid}"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(berth, "secretsmanager", *app_session).get_secret_value(SecretId=seed["secret"])
    assert error_code(e) == "AccessDeniedException"


def test_reconnecting_agent_gets_its_tasks_again(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    agent = fleet.add()
    td = register(ecs, "kept")
    tasks = ecs.run_task(taskDefinition=td["taskDefinitionArn"], count=3)["tasks"]
    arns = [t["taskArn"] for t in tasks]
    for arn in arns:
        agent.wait_for_task(arn, "RUNNING")
    agent.report(arns[0], "RUNNING")
    agent.report(arns[2], "STOPPED")
    agent.close()
    assert eventually(lambda: agent_connected(ecs, agent) is False)
    ecs.stop_task(task=arns[1])  # while the agent is away

    # The agent restarts: it registers again with its ARN and opens a new session.
    back = fleet.add(instance_arn=agent.instance_arn)
    assert back.instance_arn == agent.instance_arn and back.connected
    first = back.wait_for_message("PayloadMessage")
    sent = {t["arn"]: t["desiredStatus"] for t in first["tasks"]}
    # What still runs or is to stop; not what has stopped.
    assert sent == {arns[0]: "RUNNING", arns[1]: "STOPPED"}
    assert agent_connected(ecs, back) is True
    assert sorted(ecs.list_tasks()["taskArns"]) == [arns[0]]
    back.report(arns[1], "STOPPED")
    assert ecs.describe_tasks(tasks=[arns[1]])["tasks"][0]["lastStatus"] == "STOPPED"


def test_upgrade_is_signed_and_authorized_as_ecs_poll(berth):
    ecs, iam = client(berth, "ecs"), client(berth, "iam")
    ecs.create_cluster()
    instance_role = ["ecs:RegisterContainerInstance", "ecs:DiscoverPollEndpoint",
                     "ecs:SubmitTaskStateChange", "ecs:DescribeContainerInstances"]
    no_poll = make_user(iam, "no-poll", allow(instance_role))
    agent_keys = make_user(iam, "agent", allow(instance_role + ["ecs:Poll"]))

    refused = Fleet(berth, *no_poll)
    try:
        agent = refused.add(connect=False)
        with pytest.raises(UpgradeRefused) as e:
            agent.connect()
        assert e.value.status == 403
        body = json.loads(e.value.body)
        assert body["__type"] == "AccessDeniedException"
        assert "ecs:Poll" in body["message"]

        # Unsigned: refused too.
        with pytest.raises(UpgradeRefused) as e:
            agent.connect(headers={})
        assert e.value.status == 403
    finally:
        refused.close()

    allowed = Fleet(berth, *agent_keys)
    try:
        agent = allowed.add()
        assert agent.connected
        # An instance that is not registered is refused.
        ghost = Agent(berth.endpoint, *agent_keys, region=REGION)
        ghost.instance_arn = f"{ARN}:container-instance/default/{'0' * 32}"
        ghost.cluster_arn = f"{ARN}:cluster/default"
        with pytest.raises(UpgradeRefused) as e:
            ghost.connect()
        assert e.value.status == 403
        assert json.loads(e.value.body)["__type"] == "InvalidInstanceException"
        # Another agent identity with ecs:Poll on "*" cannot take this instance's session
        # (it carries the instance's tasks' credentials).
        thief_keys = make_user(iam, "thief", allow(instance_role + ["ecs:Poll"]))
        thief = Agent(berth.endpoint, *thief_keys, region=REGION)
        thief.instance_arn = agent.instance_arn
        thief.cluster_arn = f"{ARN}:cluster/default"
        with pytest.raises(UpgradeRefused) as e:
            thief.connect()
        assert e.value.status == 403
        body = json.loads(e.value.body)
        assert body["__type"] == "AccessDeniedException"
        assert "is not the principal that registered container instance" in body["message"]
        assert agent.connected
        # Nor can it report the instance's tasks: ecs:SubmitTaskStateChange on "*" is not enough.
        td = register(ecs, "owned")
        [task] = ecs.run_task(taskDefinition=td["taskDefinitionArn"])["tasks"]
        agent.wait_for_task(task["taskArn"])
        with pytest.raises(botocore.exceptions.ClientError) as e:
            thief.report(task["taskArn"], "STOPPED", reason="stolen")
        assert error_code(e) == "AccessDeniedException"
        assert e.value.response["Error"]["Message"] == (
            f"User: arn:aws:iam::{ACCOUNT}:user/thief is not authorized to perform: "
            f"ecs:SubmitTaskStateChange on resource: {task['taskArn']} because it is not the "
            f"principal that registered container instance {agent.instance_arn}: only that "
            "instance's agent may report the state of its tasks")
        [now] = ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"]
        assert (now["lastStatus"], now["desiredStatus"]) == ("PENDING", "RUNNING")
        # A container's report is its own action: the owner, allowed only
        # ecs:SubmitTaskStateChange, may not make it.
        with pytest.raises(botocore.exceptions.ClientError) as e:
            agent.ecs.submit_container_state_change(
                cluster=agent.cluster_arn, task=task["taskArn"], containerName="app",
                status="RUNNING")
        assert error_code(e) == "AccessDeniedException"
        assert "is not authorized to perform: ecs:SubmitContainerStateChange" in \
            e.value.response["Error"]["Message"]
        agent.report(task["taskArn"], "RUNNING")
        [now] = ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"]
        assert now["lastStatus"] == "RUNNING"
    finally:
        allowed.close()
