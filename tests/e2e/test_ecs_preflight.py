"""RunTask's preflight for the seed's tasks: before a task whose definition has
repositoryCredentials is dispatched, berth checks that its execution role could
read the registry secret (its policies, the secret's resource policy, the key's
key policy, exactly as GetSecretValue decides). A task that would fail is
created STOPPED (TaskFailedToStart) with a reason that names the role, the
action, the secret and why, and never reaches an agent. With the seed's policy
the task is dispatched with the execution role's credentials, which read the
secret."""
import asyncio
import json
import threading
import time
import urllib.parse

import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from berth_harness import boto_client

REGION = "us-east-1"
SECRETSMANAGER_CAPABILITY = "ecs.capability.private-registry-authentication.secretsmanager"


class Agent:
    """A minimal ECS agent session: registers an instance, holds its ACS
    websocket, records the payload tasks and acks them."""

    def __init__(self, berth, cluster):
        import websockets  # python3-websockets
        self.websockets = websockets
        self.ecs = boto_client(berth, "ecs")
        self.cluster = cluster
        self.instance = self.ecs.register_container_instance(
            cluster=cluster,
            totalResources=[{"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                            {"name": "MEMORY", "type": "INTEGER", "integerValue": 4096}],
            versionInfo={"agentVersion": "1.80.0", "agentHash": "test", "dockerVersion": "20.10"},
            attributes=[{"name": SECRETSMANAGER_CAPABILITY}])["containerInstance"]
        arn = self.instance["containerInstanceArn"]
        endpoint = self.ecs.discover_poll_endpoint(cluster=cluster, containerInstance=arn)
        query = urllib.parse.urlencode({"clusterArn": cluster, "containerInstanceArn": arn,
                                        "agentVersion": "1.80.0", "seqNum": "1",
                                        "protocolVersion": "2", "sendCredentials": "true"})
        self.url = endpoint["endpoint"] + "/ws?" + query
        key, secret = berth.read_credentials()
        request = AWSRequest(method="GET", url=self.url)
        SigV4Auth(Credentials(key, secret), "ecs", REGION).add_auth(request)
        self.headers = dict(request.headers.items())
        self.tasks = {}  # arn -> the last payload task
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "agent did not connect"

    async def _run(self):
        async with self.websockets.connect(self.url.replace("http://", "ws://"),
                                           extra_headers=self.headers) as ws:
            self.ready.set()
            while not self.stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), 0.2)
                except asyncio.TimeoutError:
                    continue
                message = json.loads(text)
                if message["type"] == "PayloadMessage":
                    for task in message["message"]["tasks"]:
                        self.tasks[task["arn"]] = task
                    await ws.send(json.dumps({"type": "AckRequest", "message": {
                        "cluster": self.cluster,
                        "containerInstance": self.instance["containerInstanceArn"],
                        "messageId": message["message"]["messageId"]}}))

    def wait_for(self, arn, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if arn in self.tasks:
                return self.tasks[arn]
            time.sleep(0.05)
        raise AssertionError(f"task {arn} was not dispatched")

    def close(self):
        self.stop.set()
        self.thread.join(5)


@pytest.fixture
def seed(berth):
    kms = boto_client(berth, "kms")
    sm = boto_client(berth, "secretsmanager")
    iam = boto_client(berth, "iam")
    ecs = boto_client(berth, "ecs")
    key_arn = kms.create_key(Description="registry creds")["KeyMetadata"]["Arn"]
    value = json.dumps({"username": "puller", "password": "hunter2-registry"})
    cmk_secret = sm.create_secret(Name="registry/cmk", SecretString=value, KmsKeyId=key_arn)["ARN"]
    default_secret = sm.create_secret(Name="registry/default", SecretString=value)["ARN"]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="ecsTaskExecutionRole",
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    ecs.create_cluster(clusterName="seed")
    agent = Agent(berth, "seed")
    yield {"key": key_arn, "cmk_secret": cmk_secret, "default_secret": default_secret,
           "role": role, "value": value, "iam": iam, "ecs": ecs, "agent": agent}
    agent.close()


def allow(iam, role, statements):
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="private-registry",
                        PolicyDocument=json.dumps({"Version": "2012-10-17",
                                                   "Statement": statements}))


def register(ecs, role_arn, secret):
    return ecs.register_task_definition(
        family="api", executionRoleArn=role_arn,
        containerDefinitions=[{"name": "api", "image": "registry.example.com:5000/team/api:1.4",
                               "memory": 128,
                               "repositoryCredentials": {"credentialsParameter": secret}}],
    )["taskDefinition"]["taskDefinitionArn"]


def run_one(ecs, td):
    out = ecs.run_task(cluster="seed", taskDefinition=td)
    assert out["failures"] == [], out["failures"]
    return out["tasks"][0]


def assert_failed_preflight(seed, task, *needles):
    assert task["lastStatus"] == "STOPPED", task
    assert task["desiredStatus"] == "STOPPED"
    assert task["stopCode"] == "TaskFailedToStart"
    reason = task["stoppedReason"]
    assert reason.startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: "), reason
    for needle in needles:
        assert needle in reason, reason
    assert "hunter2" not in reason
    time.sleep(0.3)
    assert task["taskArn"] not in seed["agent"].tasks, "a failed task must never be dispatched"
    # Stopped tasks hold nothing: the instance's resources are whole.
    described = seed["ecs"].describe_tasks(cluster="seed", tasks=[task["taskArn"]])["tasks"][0]
    assert described["lastStatus"] == "STOPPED"
    return reason


def test_seed_policy_dispatches_with_credentials_that_read_the_secret(berth, seed):
    allow(seed["iam"], seed["role"], [{
        "Effect": "Allow", "Action": ["kms:Decrypt", "secretsmanager:GetSecretValue"],
        "Resource": [seed["cmk_secret"], seed["key"]]}])
    td = register(seed["ecs"], seed["role"]["Arn"], seed["cmk_secret"])
    task = run_one(seed["ecs"], td)
    assert task["lastStatus"] == "PENDING"
    payload = seed["agent"].wait_for(task["taskArn"])
    container = payload["containers"][0]
    assert container["registryAuthentication"] == {
        "type": "asm", "asmAuthData": {"credentialsParameter": seed["cmk_secret"],
                                       "region": REGION}}
    creds = payload["executionRoleCredentials"]
    assert creds["roleArn"] == seed["role"]["Arn"] and creds["credentialsId"]
    task_id = task["taskArn"].rsplit("/", 1)[1]
    sts = boto_client(berth, "sts", creds["accessKeyId"], creds["secretAccessKey"],
                      creds["sessionToken"])
    assert sts.get_caller_identity()["Arn"].endswith(f":assumed-role/ecsTaskExecutionRole/{task_id}")
    sm = boto_client(berth, "secretsmanager", creds["accessKeyId"], creds["secretAccessKey"],
                     creds["sessionToken"])
    assert sm.get_secret_value(SecretId=seed["cmk_secret"])["SecretString"] == seed["value"]


def test_missing_get_secret_value_stops_the_task_naming_what_is_missing(berth, seed):
    allow(seed["iam"], seed["role"], [{
        "Effect": "Allow", "Action": "kms:Decrypt", "Resource": seed["key"]}])
    task = run_one(seed["ecs"], register(seed["ecs"], seed["role"]["Arn"], seed["cmk_secret"]))
    assert_failed_preflight(seed, task, "secretsmanager:GetSecretValue", seed["cmk_secret"],
                            "assumed-role/ecsTaskExecutionRole", "no identity-based policy allows")


def test_customer_managed_key_without_decrypt_stops_the_task(berth, seed):
    allow(seed["iam"], seed["role"], [{
        "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
        "Resource": seed["cmk_secret"]}])
    task = run_one(seed["ecs"], register(seed["ecs"], seed["role"]["Arn"], seed["cmk_secret"]))
    assert_failed_preflight(seed, task, "KMS", "ecsTaskExecutionRole")


def test_default_key_needs_no_decrypt_statement(berth, seed):
    allow(seed["iam"], seed["role"], [{
        "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
        "Resource": seed["default_secret"]}])
    task = run_one(seed["ecs"], register(seed["ecs"], seed["role"]["Arn"], seed["default_secret"]))
    assert task["lastStatus"] == "PENDING"
    seed["agent"].wait_for(task["taskArn"])


def test_explicit_deny_stops_the_task(berth, seed):
    allow(seed["iam"], seed["role"], [
        {"Effect": "Allow", "Action": ["kms:Decrypt", "secretsmanager:GetSecretValue"],
         "Resource": [seed["cmk_secret"], seed["key"]]},
        {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}])
    task = run_one(seed["ecs"], register(seed["ecs"], seed["role"]["Arn"], seed["cmk_secret"]))
    assert_failed_preflight(seed, task, "explicit deny", "secretsmanager:GetSecretValue")


def test_secret_that_does_not_exist_stops_the_task(berth, seed):
    allow(seed["iam"], seed["role"], [{
        "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}])
    task = run_one(seed["ecs"], register(seed["ecs"], seed["role"]["Arn"], "registry/absent"))
    assert_failed_preflight(seed, task, "ResourceNotFoundException", "registry/absent")


def test_role_the_service_may_not_assume_fails_run_task(berth, seed):
    iam = seed["iam"]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="notForTasks",
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    td = register(seed["ecs"], role["Arn"], seed["default_secret"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        seed["ecs"].run_task(cluster="seed", taskDefinition=td)
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidParameterException"
    assert err["Message"] == (
        f"ECS was unable to assume the role '{role['Arn']}' that was provided for this task. "
        "Please verify that the role being passed has the proper trust relationship and "
        "permissions and that your IAM user has permissions to pass this role.")
