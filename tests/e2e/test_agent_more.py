"""More of `berth agent` end to end: the seed's secret in another region and in another account,
instance-level registry auth (ECS_ENGINE_AUTH_*) on EC2 and its absence on EXTERNAL instances,
fixed host ports, awsvpc, dependsOn ordering and the metadata endpoint keeping one task's
credentials from another. Fixtures (registry, image, seed, agent, aws) are test_agent.py's."""
import base64
import ipaddress
import os
import json
import re
import socket
import subprocess
import time
import urllib.request

import pytest

from agent_harness import BerthAgent, agents_supported, bridge_leftovers, leftovers
from berth_harness import BERTH, boto_client, free_port
from ecs_harness import Cli, client, make_role
from registry_harness import PASSWORD, USER
from test_agent import (SECRET_VALUE, agent, aws, describe, image, register, registry,  # noqa: F401
                        run, seed, wait_for)

pytestmark = pytest.mark.skipif(agents_supported() is not None,
                                reason=str(agents_supported()))

ACCOUNT = "123456789012"
OTHER = "222233334444"
RESERVED_PORTS = (22, 2375, 2376, 51678, 51679)  # what every instance registers as reserved


@pytest.fixture
def make_agent(berth, tmp_path, registry):  # noqa: F811
    """Agents with extra arguments or environment; all closed and checked clean afterwards."""
    made = []

    def make(args=(), env=None, cluster="default"):
        a = BerthAgent(berth, tmp_path, cluster=cluster, env=env,
                       args=["--insecure-registry", registry.host, *args])
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()
    for a in made:
        assert leftovers(a.bridge, a.data_dir) == []
        assert bridge_leftovers(a.bridge) == []


def wait_output(agent, task, container, pattern, timeout=20):  # noqa: F811
    """The first match of `pattern` in what a running container printed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, agent.running_output(task, container) or "")
        if m:
            return m
        time.sleep(0.1)
    raise AssertionError(f"{container} did not print {pattern!r}: "
                         f"{agent.running_output(task, container)!r}\n{agent.log_text()}")


# ---------------------------------------------------------------- 1, 2: where the secret lives

def set_execution_policy(seed, *grants):
    """Replaces the seed's execution role policy with one Allow per (action, resource)."""
    seed["iam"].put_role_policy(
        RoleName="ecsTaskExecutionRole", PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": action, "Resource": resource}
                for action, resource in grants]}))


def test_the_seed_with_the_secret_in_another_region_by_arn(aws, agent, seed, image,  # noqa: F811
                                                           berth):
    west = boto_client(berth, "secretsmanager", region="us-west-2")
    secret = west.create_secret(Name="registry/west", SecretString=SECRET_VALUE)["ARN"]
    assert secret.startswith(f"arn:aws:secretsmanager:us-west-2:{ACCOUNT}:secret:registry/west-")
    set_execution_policy(seed, ("secretsmanager:GetSecretValue", secret))
    td = register(aws, "west", image, secret, seed["role"])
    t = wait_for(aws, run(aws, td), "STOPPED")
    assert t["lastStatus"] == "STOPPED", t
    assert t["containers"][0]["exitCode"] == 0, t
    assert t["stoppedReason"] == "Essential container in task exited"
    assert t["taskArn"].startswith(f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/")
    # By name it is looked up in the task's region, where there is no such secret.
    set_execution_policy(seed, ("secretsmanager:GetSecretValue", "*"))
    td = register(aws, "west-by-name", image, "registry/west", seed["role"])
    t = wait_for(aws, run(aws, td), "STOPPED")
    assert t["stopCode"] == "TaskFailedToStart", t
    assert t["stoppedReason"] == (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
        "retrieval failed: unable to retrieve secret from asm: ResourceNotFoundException: Secrets "
        "Manager can't find the specified secret. (execution role "
        f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole, secretsmanager:GetSecretValue on "
        "registry/west)"), t


@pytest.fixture
def other_account(berth):
    key, secret = berth.create_account(OTHER)
    return {"sm": client(berth, "secretsmanager", key, secret),
            "kms": client(berth, "kms", key, secret)}


def test_the_seed_with_the_secret_in_another_account(aws, agent, seed, image,  # noqa: F811
                                                     other_account):
    role = seed["role"]
    kms, sm = other_account["kms"], other_account["sm"]
    key = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "owner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "seed", "Effect": "Allow", "Principal": {"AWS": role},
         "Action": "kms:Decrypt", "Resource": "*"}]}))["KeyMetadata"]["Arn"]
    assert key.startswith(f"arn:aws:kms:us-east-1:{OTHER}:key/")
    shared = sm.create_secret(Name="registry/shared", SecretString=SECRET_VALUE,
                              KmsKeyId=key)["ARN"]
    unshared = sm.create_secret(Name="registry/unshared", SecretString=SECRET_VALUE,
                                KmsKeyId=key)["ARN"]
    private_key = kms.create_key()["KeyMetadata"]["Arn"]  # the default policy: its account only
    locked = sm.create_secret(Name="registry/locked", SecretString=SECRET_VALUE,
                              KmsKeyId=private_key)["ARN"]
    for arn in (shared, locked):
        sm.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": role},
                "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}))
    set_execution_policy(seed, ("secretsmanager:GetSecretValue", [shared, unshared, locked]),
                         ("kms:Decrypt", [key, private_key]))
    td = register(aws, "shared", image, shared, role)
    t = wait_for(aws, run(aws, td), "STOPPED")
    assert t["containers"][0]["exitCode"] == 0, t
    assert t["stoppedReason"] == "Essential container in task exited"

    td = register(aws, "unshared", image, unshared, role)
    out = aws.ok("ecs", "run-task", "--task-definition", td)
    assert out["failures"] == [], out
    t = wait_for(aws, out["tasks"][0]["taskArn"], "STOPPED")
    assert t["lastStatus"] == "STOPPED", t
    assert "exitCode" not in t["containers"][0], t
    # berth's preflight (as the execution role) finds it before the agent pulls anything.
    assert t["stopCode"] == "TaskFailedToStart", t
    assert t["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: execution "
        "resource retrieval failed: unable to retrieve secret from asm: AccessDeniedException: "
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/ecsTaskExecutionRole/"), t
    assert (f"is not authorized to perform: secretsmanager:GetSecretValue on resource: {unshared}"
            " because no resource-based policy allows the secretsmanager:GetSecretValue action"
            in t["stoppedReason"]), t

    td = register(aws, "locked", image, locked, role)
    t = wait_for(aws, run(aws, td), "STOPPED")
    assert t["stopCode"] == "TaskFailedToStart", t
    assert t["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: execution "
        "resource retrieval failed: unable to retrieve secret from asm: AccessDeniedException: "
        "Access to KMS is not allowed: User: "), t
    assert (f"is not authorized to perform: kms:Decrypt on resource: {private_key} because no "
            "resource-based policy allows the kms:Decrypt action" in t["stoppedReason"]), t


# ---------------------------------------------------------------- 3: instance-level auth

def engine_auth_env(registry, kind="docker"):  # noqa: F811
    """ECS_ENGINE_AUTH_* for the test registry: type docker keyed by host:port, or type
    dockercfg keyed the way old ~/.dockercfg files spell it (scheme and trailing slash)."""
    env = dict(os.environ)
    env["ECS_ENGINE_AUTH_TYPE"] = kind
    if kind == "docker":
        data = {registry.host: {"username": USER, "password": PASSWORD}}
    else:
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        data = {f"http://{registry.host}/": {"auth": auth, "email": "ops@example.com"}}
    env["ECS_ENGINE_AUTH_DATA"] = json.dumps(data)
    return env


def register_plain(aws, family, image, *extra):  # noqa: F811
    """A task definition without repositoryCredentials and without an execution role."""
    out = aws.ok("ecs", "register-task-definition", "--family", family, *extra,
                 "--container-definitions", json.dumps([{
                     "name": "app", "image": image, "memory": 64, "essential": True,
                     "command": ["/bin/sh", "-c", "echo pulled with the instance login"]}]))
    return out["taskDefinition"]


@pytest.mark.parametrize("kind", ["docker", "dockercfg"])
def test_instance_auth_pulls_without_repository_credentials(aws, make_agent, registry,  # noqa: F811
                                                            image, kind):
    a = make_agent(env=engine_auth_env(registry, kind))
    td = register_plain(aws, "plain", image)
    assert "executionRoleArn" not in td
    t = wait_for(aws, run(aws, td["taskDefinitionArn"]), "STOPPED")
    assert t["containers"][0]["exitCode"] == 0, t
    assert t["containerInstanceArn"] == a.instance_arn
    assert a.container_log(t["taskArn"], "app") == "pulled with the instance login\n"
    assert PASSWORD not in a.log_text()


def test_bad_instance_auth_data_stops_the_agent_before_it_registers(berth, tmp_path,
                                                                    registry):  # noqa: F811
    env = engine_auth_env(registry)
    env["ECS_ENGINE_AUTH_DATA"] = json.dumps({registry.host: {"password": PASSWORD}})
    out = subprocess.run([BERTH, "agent", "--endpoint", berth.endpoint, "--data-dir",
                          str(tmp_path / "bad-agent"), "--credentials-file",
                          berth.credentials_file, "--bridge", "btabad", "--subnet",
                          "10.213.250.0/24"], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 1, out
    assert out.stderr.splitlines()[-1] == (
        "berth agent: ECS_ENGINE_AUTH_DATA: InvalidEngineAuthData: ECS_ENGINE_AUTH_DATA: the "
        f"entry for \"{registry.host}\" needs \"username\" and \"password\" (type docker)"), out
    assert PASSWORD not in out.stdout + out.stderr
    ecs = client(berth, "ecs")
    assert ecs.list_clusters()["clusterArns"] == []  # it stopped before CreateCluster
    assert leftovers("btabad", str(tmp_path / "bad-agent")) == []


def test_instance_auth_is_ignored_on_an_external_instance(aws, make_agent, registry,  # noqa: F811
                                                          image, seed):
    a = make_agent(args=["--external"], env=engine_auth_env(registry))
    assert "ECS_ENGINE_AUTH_TYPE/ECS_ENGINE_AUTH_DATA are ignored" in a.log_text()
    td = register_plain(aws, "plain", image, "--requires-compatibilities", "EXTERNAL")
    assert "EXTERNAL" in td["compatibilities"], td
    out = aws.ok("ecs", "run-task", "--task-definition", td["taskDefinitionArn"],
                 "--launch-type", "EXTERNAL")
    assert out["failures"] == [], out
    assert out["tasks"][0]["launchType"] == "EXTERNAL"
    t = wait_for(aws, out["tasks"][0]["taskArn"], "STOPPED")
    assert t["containerInstanceArn"] == a.instance_arn
    assert "exitCode" not in t["containers"][0], t
    assert t["stopCode"] == "TaskFailedToStart", t
    assert t["containers"][0]["reason"] == (
        f"CannotPullContainerAuthError: {image}: authenticating to {registry.host}: registry "
        f"{registry.host} requires authentication and no credentials were available "
        "(UNAUTHORIZED: authentication required)"), t
    assert t["stoppedReason"] == t["containers"][0]["reason"]
    # The task's own repositoryCredentials still work there.
    aws.ok("ecs", "register-task-definition", "--family", "seeded", "--requires-compatibilities",
           "EXTERNAL", "--execution-role-arn", seed["role"], "--container-definitions",
           json.dumps([{"name": "app", "image": image, "memory": 64,
                        "repositoryCredentials": {"credentialsParameter": seed["secret"]}}]))
    out = aws.ok("ecs", "run-task", "--task-definition", "seeded", "--launch-type", "EXTERNAL")
    t = wait_for(aws, out["tasks"][0]["taskArn"], "STOPPED")
    assert t["containers"][0]["exitCode"] == 0, t
    assert a.container_log(t["taskArn"], "app") == "hello from berth\n"
    assert PASSWORD not in a.log_text()


# ---------------------------------------------------------------- 4, 5: networking

def test_bridge_fixed_host_port_answers_and_is_taken(aws, agent, seed, image):  # noqa: F811
    port = free_port()
    while port in RESERVED_PORTS:
        port = free_port()
    td = register(aws, "fixed", image, seed["secret"], seed["role"],
                  command=["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"],
                  portMappings=[{"containerPort": 8080, "hostPort": port}],
                  stopTimeout=2)  # httpd is pid 1: SIGTERM does not end it
    task = run(aws, td)
    t = wait_for(aws, task, "RUNNING")
    assert t["lastStatus"] == "RUNNING", t
    bindings = t["containers"][0]["networkBindings"]
    assert bindings == [{"bindIP": "0.0.0.0", "containerPort": 8080, "hostPort": port,
                         "protocol": "tcp"}], bindings
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5).read()
    assert body == b"hello over the bridge\n"
    second = aws.ok("ecs", "run-task", "--task-definition", td)
    assert second["tasks"] == [], second
    assert second["failures"] == [{"arn": agent.instance_arn, "reason": "RESOURCE:PORTS"}], second
    assert describe(aws, task)["lastStatus"] == "RUNNING"
    # A port the instance reserves (22) is not placed either.
    reserved = register(aws, "reserved", image, seed["secret"], seed["role"],
                        portMappings=[{"containerPort": 8080, "hostPort": 22}])
    out = aws.ok("ecs", "run-task", "--task-definition", reserved)
    assert out["failures"] == [{"arn": agent.instance_arn, "reason": "RESOURCE:PORTS"}], out
    aws.ok("ecs", "stop-task", "--task", task)
    t = wait_for(aws, task, "STOPPED")
    assert t["containers"][0]["exitCode"] == 137, t
    # The port is free again: the next task gets it.
    again = run(aws, td)
    t = wait_for(aws, again, "RUNNING")
    assert t["lastStatus"] == "RUNNING", t
    assert t["containers"][0]["networkBindings"][0]["hostPort"] == port
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5).read()
    assert body == b"hello over the bridge\n"
    aws.ok("ecs", "stop-task", "--task", again)
    assert wait_for(aws, again, "STOPPED")["lastStatus"] == "STOPPED"


def test_fixed_host_port_held_by_a_host_process_fails_the_task(aws, agent, seed,  # noqa: F811
                                                               image):
    """berth places it (the server cannot know the port is taken); the agent's bind() fails."""
    holder = socket.socket()
    try:
        holder.bind(("0.0.0.0", 0))
        while holder.getsockname()[1] in RESERVED_PORTS:
            holder.close()
            holder = socket.socket()
            holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        td = register(aws, "held", image, seed["secret"], seed["role"],
                      command=["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"],
                      portMappings=[{"containerPort": 8080, "hostPort": port}])
        t = wait_for(aws, run(aws, td), "STOPPED")
    finally:
        holder.close()
    assert t["lastStatus"] == "STOPPED", t
    assert t["stopCode"] == "TaskFailedToStart", t
    assert t["stoppedReason"] == f"HostPortInUse: host port {port}/tcp is already in use", t
    assert "exitCode" not in t["containers"][0], t
    assert t["containers"][0]["networkBindings"] == [], t


def test_awsvpc_tasks_answer_at_their_own_addresses(aws, agent, seed, image):  # noqa: F811
    """Two awsvpc tasks with the same containerPort on one instance: each has its own address
    (awsvpc ports are not the host's), printed first by the task itself."""
    aws.ok("ecs", "register-task-definition", "--family", "vpc", "--network-mode", "awsvpc",
           "--execution-role-arn", seed["role"], "--container-definitions", json.dumps([{
               "name": "app", "image": image, "memory": 64,
               "repositoryCredentials": {"credentialsParameter": seed["secret"]},
               "portMappings": [{"containerPort": 8080}], "stopTimeout": 2,
               "command": ["/bin/sh", "-c", "busybox ip -4 -o addr show eth0; "
                           "exec busybox httpd -f -p 8080 -h /www"]}]))
    tasks, ips = [], []
    for _ in range(2):
        out = aws.ok("ecs", "run-task", "--task-definition", "vpc", "--network-configuration",
                     json.dumps({"awsvpcConfiguration": {"subnets": ["subnet-1"]}}))
        assert out["failures"] == [], out
        tasks.append(out["tasks"][0]["taskArn"])
    for task in tasks:
        t = wait_for(aws, task, "RUNNING")
        assert t["lastStatus"] == "RUNNING", t
        assert t["containers"][0]["networkBindings"] == [], t
        ip = wait_output(agent, task, "app", r"eth0\s+inet (\d+\.\d+\.\d+\.\d+)/").group(1)
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(agent.subnet), (ip, agent.subnet)
        body = urllib.request.urlopen(f"http://{ip}:8080/index.html", timeout=5).read()
        assert body == b"hello over the bridge\n"
        ips.append(ip)
    assert ips[0] != ips[1]
    for task in tasks:
        aws.ok("ecs", "stop-task", "--task", task)
    prefix = agent.subnet.split("/")[1]
    for task, ip in zip(tasks, ips):
        t = wait_for(aws, task, "STOPPED")
        assert t["containers"][0]["exitCode"] == 137, t
        assert re.match(rf"\d+: eth0\s+inet {re.escape(ip)}/{prefix} ",
                        agent.container_log(task, "app")), agent.container_log(task, "app")


def test_awsvpc_task_address_is_in_describe_tasks(aws, agent, seed, image):  # noqa: F811
    aws.ok("ecs", "register-task-definition", "--family", "vpc", "--network-mode", "awsvpc",
           "--execution-role-arn", seed["role"], "--container-definitions", json.dumps([{
               "name": "app", "image": image, "memory": 64,
               "repositoryCredentials": {"credentialsParameter": seed["secret"]},
               "command": ["/bin/sh", "-c", "busybox ip -4 -o addr show eth0; "
                           "trap 'exit 0' TERM; while true; do sleep 0.1; done"]}]))
    out = aws.ok("ecs", "run-task", "--task-definition", "vpc", "--network-configuration",
                 json.dumps({"awsvpcConfiguration": {"subnets": ["subnet-1"]}}))
    task = out["tasks"][0]["taskArn"]
    try:
        t = wait_for(aws, task, "RUNNING")
        ip = wait_output(agent, task, "app", r"eth0\s+inet (\d+\.\d+\.\d+\.\d+)/").group(1)
        t = describe(aws, task)
        assert [i.get("privateIpv4Address") for i in t["containers"][0]["networkInterfaces"]] \
            == [ip], t
        assert [a["type"] for a in t["attachments"]] == ["ElasticNetworkInterface"], t
        details = {d["name"]: d.get("value") for d in t["attachments"][0]["details"]}
        assert details["privateIPv4Address"] == ip, t
    finally:
        aws.ok("ecs", "stop-task", "--task", task)
        wait_for(aws, task, "STOPPED")


# ---------------------------------------------------------------- 6: dependsOn

def run_a_then_b(aws, seed, image, a_command, b_command):  # noqa: F811
    """A task of a (not essential) and b (essential, dependsOn a SUCCESS); returns its ARN."""
    creds = {"credentialsParameter": seed["secret"]}
    aws.ok("ecs", "register-task-definition", "--family", "order",
           "--execution-role-arn", seed["role"], "--container-definitions", json.dumps([
               {"name": "a", "image": image, "memory": 32, "essential": False,
                "repositoryCredentials": creds, "command": ["/bin/sh", "-c", a_command]},
               {"name": "b", "image": image, "memory": 32, "essential": True,
                "repositoryCredentials": creds,
                "dependsOn": [{"containerName": "a", "condition": "SUCCESS"}],
                "command": ["/bin/sh", "-c", b_command]}]))
    return run(aws, "order")


def test_depends_on_success_starts_b_after_a_exited_0(aws, agent, seed, image):  # noqa: F811
    """/proc/uptime is the host's in every container: b's first reading comes after a's last."""
    task = run_a_then_b(aws, seed, image, "sleep 1; cat /proc/uptime; exit 0",
                        "cat /proc/uptime; echo b")
    t = wait_for(aws, task, "STOPPED")
    assert t["lastStatus"] == "STOPPED", t
    codes = {c["name"]: c.get("exitCode") for c in t["containers"]}
    assert codes == {"a": 0, "b": 0}, t
    assert t["stoppedReason"] == "Essential container in task exited"
    a_out = agent.container_log(task, "a")
    b_out = agent.container_log(task, "b")
    assert b_out.splitlines()[1:] == ["b"], b_out
    a_end = float(a_out.split()[0])
    b_start = float(b_out.split()[0])
    assert b_start >= a_end, (a_out, b_out)


def test_depends_on_success_never_starts_b_when_a_exits_1(aws, agent, seed, image):  # noqa: F811
    task = run_a_then_b(aws, seed, image, "exit 1", "echo b")
    t = wait_for(aws, task, "STOPPED")
    assert t["lastStatus"] == "STOPPED", t
    by_name = {c["name"]: c for c in t["containers"]}
    assert by_name["a"]["exitCode"] == 1, t
    assert "exitCode" not in by_name["b"], t
    assert "runtimeId" not in by_name["b"], t
    reason = ("dependency graph: failed to resolve the container ordering dependency [a] for "
              "target [b] as dependency did not exit successfully.")
    assert by_name["b"]["reason"] == reason, t
    assert t["stoppedReason"] == reason, t
    assert agent.container_log(task, "b") is None


# ---------------------------------------------------------------- 7: credentials isolation

def test_a_task_cannot_read_another_tasks_credentials(aws, agent, seed, image):  # noqa: F811
    role_a = make_role(seed["iam"], "roleA")
    role_b = make_role(seed["iam"], "roleB")
    creds = {"credentialsParameter": seed["secret"]}

    def define(family, role, command):
        aws.ok("ecs", "register-task-definition", "--family", family, "--task-role-arn", role,
               "--network-mode", "bridge", "--execution-role-arn", seed["role"],
               "--container-definitions", json.dumps([{
                   "name": "app", "image": image, "memory": 32, "repositoryCredentials": creds,
                   "command": ["/bin/sh", "-c", command]}]))

    own_url = "http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
    define("a", role_a, "echo URI=$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI; "
                        f"busybox wget -qO- {own_url}; echo; "
                        "trap 'exit 0' TERM; while true; do sleep 0.1; done")
    task_a = run(aws, "a")
    assert wait_for(aws, task_a, "RUNNING")["lastStatus"] == "RUNNING"
    uri = wait_output(agent, task_a, "app", r"URI=(\S+)").group(1)
    a_creds = json.loads(wait_output(agent, task_a, "app", r"\{.*\}").group(0))
    assert a_creds["RoleArn"] == role_a
    credential_id = uri.rsplit("/", 1)[1]
    define("b", role_b, f"busybox wget -qO- http://169.254.170.2{uri}; echo other=$?; "
                        "busybox wget -qO- "
                        f"'http://169.254.170.2/v1/credentials?id={credential_id}'; echo v1=$?; "
                        f"busybox wget -qO- {own_url}; r=$?; echo; echo own=$r")
    task_b = run(aws, "b")
    t = wait_for(aws, task_b, "STOPPED")
    assert t["containers"][0]["exitCode"] == 0, t
    out = agent.container_log(task_b, "app")
    assert out, agent.log_text()
    assert a_creds["AccessKeyId"] not in out, out
    assert out.count("server returned error: HTTP/1.1 400 Bad Request") == 2, out
    assert "other=1" in out and "v1=1" in out, out
    own = json.loads(re.search(r"\{.*\}", out).group(0))
    assert own["RoleArn"] == role_b
    assert own["AccessKeyId"] != a_creds["AccessKeyId"]
    assert "own=0" in out, out
    assert describe(aws, task_a)["lastStatus"] == "RUNNING"
    aws.ok("ecs", "stop-task", "--task", task_a)
    assert wait_for(aws, task_a, "STOPPED")["containers"][0]["exitCode"] == 0


def test_the_seed_on_fargate_runs_another_accounts_task_on_the_platform_pool(
        berth, tmp_path, registry, image):  # noqa: F811
    """A `berth agent --fargate` of the operator account is the platform's Fargate capacity
    (cluster berth-fargate). Another account runs the seed as a FARGATE task in its own cluster:
    the pool's agent reads that account's registry secret with that account's execution role,
    pulls, runs it, ships its output with awslogs to that account's log group, and reports it by
    its own cluster; DescribeTasks shows no container instance."""
    key, secret = berth.create_account(OTHER)
    other = Cli(berth, str(tmp_path / "other"), key=key, secret=secret)
    fargate = BerthAgent(berth, tmp_path, cluster="berth-fargate", name="fg",
                         args=["--fargate", "--insecure-registry", registry.host])
    try:
        assert fargate.instance_arn.startswith(
            f"arn:aws:ecs:us-east-1:{ACCOUNT}:container-instance/berth-fargate/")
        sm = client(berth, "secretsmanager", key, secret)
        iam = client(berth, "iam", key, secret)
        registry_secret = sm.create_secret(Name="registry/team", SecretString=SECRET_VALUE)["ARN"]
        role = make_role(iam, "ecsTaskExecutionRole", policy={
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                 "Resource": registry_secret},
                {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": "*"}]})
        client(berth, "logs", key, secret).create_log_group(logGroupName="/ecs/api")
        other.ok("ecs", "create-cluster", "--cluster-name", "apps")
        other.ok("ecs", "register-task-definition", "--family", "api", "--network-mode", "awsvpc",
                 "--requires-compatibilities", "FARGATE", "--cpu", "256", "--memory", "512",
                 "--execution-role-arn", role, "--container-definitions", json.dumps([{
                     "name": "app", "image": image,
                     "repositoryCredentials": {"credentialsParameter": "registry/team"},
                     "command": ["/bin/sh", "-c", "echo hello from the pool"],
                     "logConfiguration": {"logDriver": "awslogs", "options": {
                         "awslogs-group": "/ecs/api", "awslogs-region": "us-east-1",
                         "awslogs-stream-prefix": "api"}}}]))
        run_out = other.ok("ecs", "run-task", "--cluster", "apps", "--task-definition", "api",
                           "--launch-type", "FARGATE", "--network-configuration", json.dumps(
                               {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}))
        assert run_out["failures"] == [], run_out
        task = run_out["tasks"][0]["taskArn"]
        assert task.startswith(f"arn:aws:ecs:us-east-1:{OTHER}:task/apps/")
        other.ok("ecs", "wait", "tasks-stopped", "--cluster", "apps", "--tasks", task)
        [t] = other.ok("ecs", "describe-tasks", "--cluster", "apps", "--tasks", task)["tasks"]
        assert t["lastStatus"] == "STOPPED" and t["containers"][0]["exitCode"] == 0, t
        assert t["containers"][0]["imageDigest"].startswith("sha256:"), t
        assert "containerInstanceArn" not in t and t["platformVersion"] == "1.4.0", t
        # The output went to the task's account, in the stream ECS names prefix/container/id.
        stream = f"api/app/{task.rsplit('/', 1)[1]}"
        logs = client(berth, "logs", key, secret)
        deadline = time.time() + 15
        messages = []
        while time.time() < deadline and "hello from the pool" not in messages:
            try:
                events = logs.get_log_events(logGroupName="/ecs/api", logStreamName=stream)
                messages = [e["message"] for e in events["events"]]
            except logs.exceptions.ResourceNotFoundException:
                pass
            time.sleep(0.2)
        assert "hello from the pool" in messages, (messages, fargate.log_text())
    finally:
        other.close()
        fargate.close()
    assert leftovers(fargate.bridge, fargate.data_dir) == []
    assert bridge_leftovers(fargate.bridge) == []


# ---------------------------------------------------------------- one agent per data dir; clean-up

def agent_command(a, *extra, data_dir=None, bridge=None):
    """`berth agent` with `a`'s data dir, bridge (or these), subnet and credentials."""
    cmd = [BERTH, "agent", "--endpoint", a.berth.endpoint, "--data-dir", data_dir or a.data_dir,
           "--credentials-file", a.credentials_file, "--profile", "agent", "--bridge", bridge or a.bridge,
           "--subnet", a.subnet, "--region", "us-east-1", *extra]
    if a.berth.ca_bundle:
        cmd += ["--ca-file", a.berth.ca_bundle]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=a.env)


def test_one_agent_per_data_dir_and_clean_up_after_a_stopped_one(aws, make_agent, seed,  # noqa: F811
                                                                 image):
    a = make_agent()
    # A second agent on the same data dir, or a clean-up under a running agent, is refused at
    # once, naming the agent that holds it; the first agent is untouched.
    held = f"another berth agent (pid {a.proc.pid}) is using {a.data_dir}"
    for extra in ((), ("--clean-up",)):
        refused = agent_command(a, *extra)
        assert refused.returncode == 1, refused
        assert held in refused.stderr, refused.stderr
    # The same for another data dir on the same bridge: that agent would hand out the same
    # addresses, and its clean-up would remove the running agent's networks and bridge.
    other_dir = os.path.join(os.path.dirname(a.data_dir), "other-agent")
    for extra in ((), ("--clean-up",)):
        refused = agent_command(a, *extra, data_dir=other_dir)
        assert refused.returncode == 1, refused
        assert f"another berth agent (pid {a.proc.pid}) is using bridge {a.bridge}" in \
            refused.stderr, refused.stderr
    # A symlink planted as the lock file is refused; what it names is left as it was.
    planted = os.path.join(os.path.dirname(a.data_dir), "planted-agent")
    os.makedirs(planted)
    victim = os.path.join(os.path.dirname(a.data_dir), "victim")
    with open(victim, "w") as f:
        f.write("keep me\n")
    os.symlink(victim, os.path.join(planted, "agent.lock"))
    refused = agent_command(a, "--clean-up", data_dir=planted)
    assert refused.returncode == 1 and "cannot open" in refused.stderr, refused
    with open(victim) as f:
        assert f.read() == "keep me\n"
    # A bridge name that is no interface name (it also names a lock file and iptables chains).
    bad = agent_command(a, "--clean-up", data_dir=other_dir, bridge="../../etc/x")
    assert bad.returncode != 0 and "a bridge name has 1 to 15" in bad.stderr, bad
    assert a.proc.poll() is None
    # A task with a published port; the agent stops and its container keeps running.
    port = free_port()
    td = register(aws, "cleanup", image, seed["secret"], seed["role"],
                  command=["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"],
                  portMappings=[{"containerPort": 8080, "hostPort": port}])
    task = run(aws, td)
    assert wait_for(aws, task, "RUNNING")["lastStatus"] == "RUNNING"
    assert a.stop() == 0
    assert leftovers(a.bridge, a.data_dir) != []  # the task's namespace, veth, mount and port
    assert bridge_leftovers(a.bridge) != []
    # --clean-up removes the container, its mount, the task's network and the bridge.
    cleaned = agent_command(a, "--clean-up")
    assert cleaned.returncode == 0, cleaned.stderr
    assert f"removed 1 container(s), the task networks and bridge {a.bridge}" in cleaned.stdout
    assert leftovers(a.bridge, a.data_dir) == []
    assert bridge_leftovers(a.bridge) == []
    assert not os.path.exists(f"/run/berth/bridges/{a.bridge}.lock")  # the bridge is gone
    runc_root = os.path.join(a.data_dir, "runtime", "runc")
    listed = subprocess.run(["runc", "--root", runc_root, "list", "-q"], capture_output=True,
                            text=True)
    assert listed.stdout.split() == [], listed
    # Again: nothing left to remove is no error.
    again = agent_command(a, "--clean-up")
    assert again.returncode == 0, again.stderr
    assert "removed 0 container(s)" in again.stdout
    # A data dir no agent ever had (a typo) is not made; only the bridge would go.
    nowhere = os.path.join(os.path.dirname(a.data_dir), "no-such-agent")
    typo = agent_command(a, "--clean-up", data_dir=nowhere)
    assert typo.returncode == 0, typo.stderr
    assert f"no agent data in {nowhere}; removed bridge {a.bridge}" in typo.stdout
    assert not os.path.exists(nowhere)
    assert not os.path.exists(f"/run/berth/bridges/{a.bridge}.lock")
    # The agent started again (kill -9 or a clean stop leaves no lock behind) finds the task's
    # container gone and reports the task stopped.
    a.start()
    t = wait_for(aws, task, "STOPPED")
    assert t["lastStatus"] == "STOPPED", t
