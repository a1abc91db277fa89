"""`berth agent` running the seed for real: a task whose image lives in a private htpasswd
registry, its login in a Secrets Manager secret read with the task's execution role, pulled,
unpacked and run under runc, driven with the AWS CLI v2 (`run-task`, the waiters,
`describe-tasks`) and boto3. Every test removes what its agent made."""
import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from agent_harness import (BerthAgent, agents_supported, bridge_leftovers, clean_up_agent,
                           free_subnet, leftovers)
from berth_harness import BERTH, Berth, random_root_credentials
from ecs_harness import Cli, client, make_role
from registry_harness import PASSWORD, USER, Registry, build_image, push

pytestmark = pytest.mark.skipif(agents_supported() is not None,
                                reason=str(agents_supported()))

ACCOUNT = "123456789012"
REGION = "us-east-1"
SECRET_VALUE = json.dumps({"username": USER, "password": PASSWORD})


@pytest.fixture
def registry(tmp_path):
    r = Registry(tmp_path / "registry", auth="htpasswd")
    yield r
    r.stop()


def http_page(path):
    return {"/www/index.html": b"hello over the bridge\n"}


@pytest.fixture
def image(tmp_path, registry):
    """team/api:1.4: busybox that prints a line, then lives as long as its command says."""
    layout = build_image(tmp_path / "img", tag="1.4", extra_layers=[http_page("/")],
                         cmd=("/bin/sh", "-c", "echo hello from berth"))
    return push(layout, "1.4", registry, "team/api")


@pytest.fixture
def seed(berth):
    """The seed: a registry secret and an execution role with the seed's inline policy."""
    sm = client(berth, "secretsmanager")
    iam = client(berth, "iam")
    secret = sm.create_secret(Name="registry/team", SecretString=SECRET_VALUE)["ARN"]
    role = make_role(iam, "ecsTaskExecutionRole", policy={
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "kms:Decrypt"],
            "Resource": [secret]}]})
    return {"secret": secret, "role": role, "sm": sm, "iam": iam}


@pytest.fixture
def agent(berth, tmp_path, registry):
    a = BerthAgent(berth, tmp_path, args=["--insecure-registry", registry.host])
    yield a
    a.close()
    assert leftovers(a.bridge, a.data_dir) == []
    assert bridge_leftovers(a.bridge) == []


@pytest.fixture
def aws(berth, tmp_path):
    c = Cli(berth, str(tmp_path))
    yield c
    c.close()


def register(aws, family, image, secret, role, command=None, **container_extra):
    c = {"name": "app", "image": image, "memory": 64, "essential": True,
         "repositoryCredentials": {"credentialsParameter": secret}}
    if command:
        c["command"] = command
    c.update(container_extra)
    out = aws.ok("ecs", "register-task-definition", "--family", family,
                 "--execution-role-arn", role, "--container-definitions", json.dumps([c]))
    return out["taskDefinition"]["taskDefinitionArn"]


def run(aws, td, *extra):
    out = aws.ok("ecs", "run-task", "--task-definition", td, *extra)
    assert out["failures"] == [], out
    return out["tasks"][0]["taskArn"]


def describe(aws, task):
    return aws.ok("ecs", "describe-tasks", "--tasks", task)["tasks"][0]


def wait_for(aws, task, status, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        t = describe(aws, task)
        if t["lastStatus"] == status:
            return t
        if t["lastStatus"] == "STOPPED":
            return t
        time.sleep(0.2)
    raise AssertionError(f"task not {status} in {timeout}s: {describe(aws, task)}")


def test_the_seed_runs_end_to_end(aws, agent, seed, image):
    td = register(aws, "api", image, seed["secret"], seed["role"],
                  command=["/bin/sh", "-c", "echo hello from berth; sleep 8"])
    task = run(aws, td)
    aws.ok("ecs", "wait", "tasks-running", "--tasks", task)
    t = describe(aws, task)
    assert t["lastStatus"] == "RUNNING"
    assert t["containers"][0]["imageDigest"].startswith("sha256:")
    assert t["containers"][0]["runtimeId"]
    aws.ok("ecs", "wait", "tasks-stopped", "--tasks", task)
    t = describe(aws, task)
    assert t["lastStatus"] == "STOPPED"
    assert t["containers"][0]["exitCode"] == 0, t
    assert t["stoppedReason"] == "Essential container in task exited"
    assert "hello from berth" in (agent.container_log(task, "app") or agent.log_text())
    assert PASSWORD not in agent.log_text()


def test_the_seed_by_name_and_with_a_customer_managed_key(aws, agent, seed, image, berth):
    kms = client(berth, "kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    cmk_secret = seed["sm"].create_secret(Name="registry/cmk", SecretString=SECRET_VALUE,
                                          KmsKeyId=key)["ARN"]
    seed["iam"].put_role_policy(RoleName="ecsTaskExecutionRole", PolicyName="p",
                                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                                    "Effect": "Allow",
                                    "Action": ["secretsmanager:GetSecretValue", "kms:Decrypt"],
                                    "Resource": [seed["secret"], cmk_secret, key]}]}))
    by_name = register(aws, "byname", image, "registry/team", seed["role"])
    with_cmk = register(aws, "cmk", image, cmk_secret, seed["role"])
    for td in (by_name, with_cmk):
        t = wait_for(aws, run(aws, td), "STOPPED")
        assert t["containers"][0]["exitCode"] == 0, t
        assert t["containers"][0]["imageDigest"].startswith("sha256:"), t
    # The first pull unpacked the image into its place as it arrived (nothing left of the
    # building), the second task used that rootfs.
    unpacked = os.path.join(agent.data_dir, "images", "sha256")
    assert [n for n in os.listdir(unpacked) if n.startswith(".")] == []
    # Its files were written without fsync; a second later one syncfs makes them durable and
    # removes the marker that would have it unpacked again after a host crash.
    deadline = time.time() + 10
    while True:
        listed = [sorted(os.listdir(os.path.join(unpacked, n))) for n in os.listdir(unpacked)]
        if listed == [["rootfs"]] or time.time() > deadline:
            break
        time.sleep(0.1)
    assert listed == [["rootfs"]]


def test_wrong_password_fails_even_with_the_image_cached(aws, agent, seed, image):
    td = register(aws, "api", image, seed["secret"], seed["role"])
    t = wait_for(aws, run(aws, td), "STOPPED")
    assert t["containers"][0]["exitCode"] == 0, t  # cached now
    seed["sm"].create_secret(Name="registry/wrong",
                             SecretString=json.dumps({"username": USER, "password": "wrong"}))
    seed["iam"].put_role_policy(RoleName="ecsTaskExecutionRole", PolicyName="p",
                                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                                    "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                    "Resource": "*"}]}))
    wrong = register(aws, "wrong", image, "registry/wrong", seed["role"])
    t = wait_for(aws, run(aws, wrong), "STOPPED")
    reason = t["containers"][0].get("reason", "") + " " + t.get("stoppedReason", "")
    assert "CannotPullContainer" in reason, t
    assert "wrong" not in reason.replace("registry/wrong", "")


@pytest.mark.parametrize("value,needle", [
    ("not json", "invalid schema"),
    (json.dumps({"username": USER}), "asm fetching password: AuthorizationData is malformed"),
])
def test_a_bad_secret_stops_the_task_with_the_agents_words(aws, agent, seed, image, value, needle):
    seed["sm"].put_secret_value(SecretId=seed["secret"], SecretString=value)
    td = register(aws, "api", image, seed["secret"], seed["role"])
    t = wait_for(aws, run(aws, td), "STOPPED")
    reason = t.get("stoppedReason", "") + " " + t["containers"][0].get("reason", "")
    assert needle in reason, t


def test_unknown_tag_and_registry_down(aws, agent, seed, image, registry):
    td = register(aws, "api", image.rsplit(":", 1)[0] + ":9.9", seed["secret"], seed["role"])
    t = wait_for(aws, run(aws, td), "STOPPED")
    assert t["containers"][0].get("reason", "").startswith("CannotPullContainerError"), t
    registry.stop()
    td = register(aws, "down", image, seed["secret"], seed["role"])
    t = wait_for(aws, run(aws, td), "STOPPED")
    # The image is not cached on this host: nothing to fall back on.
    assert t["containers"][0].get("reason", "").startswith("CannotPullContainer"), t


def test_stop_task_sends_sigterm_then_sigkill_after_stop_timeout(aws, agent, seed, image):
    graceful = register(aws, "graceful", image, seed["secret"], seed["role"],
                        command=["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"])
    stubborn = register(aws, "stubborn", image, seed["secret"], seed["role"],
                        command=["/bin/sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"],
                        stopTimeout=2)
    tasks = {}
    for td in (graceful, stubborn):
        tasks[td] = run(aws, td)
        assert wait_for(aws, tasks[td], "RUNNING")["lastStatus"] == "RUNNING"
    for td in (graceful, stubborn):
        aws.ok("ecs", "stop-task", "--task", tasks[td], "--reason", "enough")
    g = wait_for(aws, tasks[graceful], "STOPPED")
    s = wait_for(aws, tasks[stubborn], "STOPPED")
    assert g["containers"][0]["exitCode"] == 0, g
    assert s["containers"][0]["exitCode"] == 137, s
    assert g["stoppedReason"] == "enough"


def test_bridge_port_mappings_answer_on_the_host(aws, agent, seed, image):
    td = register(aws, "web", image, seed["secret"], seed["role"],
                  command=["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"],
                  portMappings=[{"containerPort": 8080, "hostPort": 0}])
    task = run(aws, td)
    t = wait_for(aws, task, "RUNNING")
    assert t["lastStatus"] == "RUNNING", t
    bindings = t["containers"][0]["networkBindings"]
    assert len(bindings) == 1 and bindings[0]["containerPort"] == 8080, bindings
    port = bindings[0]["hostPort"]
    assert 49153 <= port <= 65535
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5).read()
    assert body == b"hello over the bridge\n"
    aws.ok("ecs", "stop-task", "--task", task)
    wait_for(aws, task, "STOPPED")


def test_task_role_credentials_reach_the_container_and_are_the_task_roles(aws, agent, seed,
                                                                         image, berth):
    task_role = make_role(seed["iam"], "appRole")
    aws.ok("ecs", "register-task-definition", "--family", "whoami", "--task-role-arn", task_role,
           "--execution-role-arn", seed["role"], "--container-definitions", json.dumps([{
               "name": "app", "image": image, "memory": 64,
               "repositoryCredentials": {"credentialsParameter": seed["secret"]},
               "command": ["/bin/sh", "-c", "busybox wget -qO- "
                           "http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]}]))
    task = run(aws, "whoami")
    t = wait_for(aws, task, "STOPPED")
    assert t["containers"][0]["exitCode"] == 0, t
    output = agent.container_log(task, "app")
    assert output, agent.log_text()
    creds = json.loads(output.strip().splitlines()[-1])
    assert creds["RoleArn"] == task_role
    sts = client(berth, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["Token"])
    arn = sts.get_caller_identity()["Arn"]
    assert arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/appRole/"), arn


def test_agent_killed_and_restarted_adopts_its_running_tasks(aws, agent, seed, image):
    td = register(aws, "long", image, seed["secret"], seed["role"],
                  command=["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"])
    task = run(aws, td)
    t = wait_for(aws, task, "RUNNING")
    runtime_id = t["containers"][0]["runtimeId"]
    agent.stop(signal.SIGKILL)
    agent.start()
    time.sleep(1)
    t = describe(aws, task)
    assert t["lastStatus"] == "RUNNING", t
    assert t["containers"][0]["runtimeId"] == runtime_id  # adopted, not started again
    aws.ok("ecs", "stop-task", "--task", task)
    t = wait_for(aws, task, "STOPPED")
    assert t["containers"][0]["exitCode"] == 0, t


def test_berth_up_runs_the_seed_on_its_ec2_and_fargate_agents(tmp_path, registry, image):
    """`berth up` starts the server, an EC2 agent and a Fargate agent (platform 1.4.0) with an
    IAM identity made for them; the seed runs on both: EC2 by default, FARGATE on the platform's
    capacity. (The bridges and subnets are the test's own.)"""
    n = os.getpid() % 1000
    bridges = [f"btu{n}e", f"btu{n}f"]
    subnets = [free_subnet(), free_subnet()]
    while subnets[1] == subnets[0]:
        subnets[1] = free_subnet()
    data = tmp_path / "up"
    up = Berth(data, command="up", agents=True, root=random_root_credentials(),
               args=["--agent-bridges", ",".join(bridges), "--agent-subnets", ",".join(subnets),
                     "--insecure-registry", registry.host])
    try:
        aws = Cli(up, str(tmp_path))
        # The EC2 agent registers into the default cluster, the Fargate agent into the
        # platform's pool (cluster berth-fargate of the operator account).
        deadline = time.time() + 30
        instances, pool = [], []
        while time.time() < deadline and (len(instances) < 1 or len(pool) < 1):
            instances = aws.ok("ecs", "list-container-instances")["containerInstanceArns"]
            code, out = aws("ecs", "list-container-instances", "--cluster", "berth-fargate")
            pool = out["containerInstanceArns"] if code == 0 else []
            time.sleep(0.2)
        assert len(instances) == 1 and len(pool) == 1, up.log_text()
        printed = up.log_text()
        assert "agent        ec2 (pid" in printed and "agent        fargate (pid" in printed
        assert "aws ecs run-task --task-definition api" in printed  # the seed's walkthrough
        # Every JSON document the walkthrough tells users to paste is valid JSON.
        documents = re.findall(r"(?:--container-definitions|--policy-document|"
                               r"--assume-role-policy-document|--secret-string) \\?\s*'([^']*)'",
                               printed)
        assert len(documents) == 4, printed
        for d in documents:
            json.loads(d)
        assert "aws logs tail /ecs/api --follow" in printed
        assert f"`berth up --clean-up --data-dir {data}` then removes them" in printed
        fargate = aws.ok("ecs", "describe-container-instances", "--cluster", "berth-fargate",
                         "--container-instances", *pool)["containerInstances"]
        assert any(a["name"] == "berth.fargate" for a in fargate[0]["attributes"]), fargate
        sm = client(up, "secretsmanager")
        iam = client(up, "iam")
        secret = sm.create_secret(Name="registry/team", SecretString=SECRET_VALUE)["ARN"]
        role = make_role(iam, "ecsTaskExecutionRole", policy={
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                "Resource": secret}]})
        ec2 = register(aws, "api", image, secret, role,
                       command=["/bin/sh", "-c", "echo hello from ec2"])
        t = wait_for(aws, run(aws, ec2), "STOPPED")
        assert t["containers"][0]["exitCode"] == 0, t
        assert t["containerInstanceArn"] not in [i["containerInstanceArn"] for i in fargate]
        aws.ok("ecs", "register-task-definition", "--family", "fg", "--network-mode", "awsvpc",
               "--requires-compatibilities", "FARGATE", "--cpu", "256", "--memory", "512",
               "--execution-role-arn", role, "--container-definitions", json.dumps([{
                   "name": "app", "image": image,
                   "repositoryCredentials": {"credentialsParameter": secret},
                   "command": ["/bin/sh", "-c", "echo hello from fargate"]}]))
        out = aws.ok("ecs", "run-task", "--task-definition", "fg", "--launch-type", "FARGATE",
                     "--platform-version", "1.4.0", "--network-configuration",
                     json.dumps({"awsvpcConfiguration": {"subnets": ["subnet-1"]}}))
        t = wait_for(aws, out["tasks"][0]["taskArn"], "STOPPED")
        assert t["containers"][0]["exitCode"] == 0, t
        # A FARGATE task shows no container instance; the pool's instance ran it.
        assert "containerInstanceArn" not in t, t
        assert t["platformVersion"] == "1.4.0", t
        aws.close()
    finally:
        up.stop()
        # `berth up --clean-up` removes what its agents left: here their bridges and rules.
        cleaned = subprocess.run([BERTH, "up", "--clean-up", "--data-dir", str(data),
                                  "--agent-bridges", ",".join(bridges),
                                  "--agent-subnets", ",".join(subnets)],
                                 capture_output=True, text=True, timeout=60)
        left = [(leftovers(bridge, str(data / "agents" / name)), bridge_leftovers(bridge))
                for name, bridge in zip(("ec2", "fargate"), bridges)]
        for name, bridge in zip(("ec2", "fargate"), bridges):
            clean_up_agent(str(data / "agents" / name), bridge)  # the host clean either way
    assert cleaned.returncode == 0, cleaned.stderr
    for bridge in bridges:
        assert f"bridge {bridge} of {data}/agents/" in cleaned.stdout, cleaned.stdout
    assert left == [([], []), ([], [])], left
