"""Helpers shared by the ECS e2e tests: clients, task definitions, roles, and a fleet of
container instances whose agents hold an ACS session when the server offers one."""
import json
import os
import re
import subprocess
import threading

from berth_harness import boto_client, cli_env
from ecs_agent import AcsUnavailable, Agent

ACCOUNT = "123456789012"
REGION = "us-east-1"
ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}"
TASKS_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
SECRETS_CAPABILITY = "ecs.capability.private-registry-authentication.secretsmanager"


def client(berth, service, key=None, secret=None, token=None):
    return boto_client(berth, service, key, secret, token, region=REGION)


def container(name="web", image="public.ecr.aws/nginx/nginx:1.25", memory=128, **extra):
    c = {"name": name, "image": image}
    if memory is not None:
        c["memory"] = memory
    c.update(extra)
    return c


def register(ecs, family, containers=None, **extra):
    """RegisterTaskDefinition through boto3; returns the taskDefinition."""
    return ecs.register_task_definition(family=family, containerDefinitions=containers or [
        container()], **extra)["taskDefinition"]


def make_role(iam, name, trust=TASKS_TRUST, policy=None):
    """A role with `trust` and, if given, `policy` inline; returns its ARN."""
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return arn


class Cli:
    """The AWS CLI against one berth (as its root unless given keys), returning (exit code,
    JSON or stderr). Commands run in one long-lived aws_batch.py process (the CLI's own code,
    awscli.clidriver, on /usr/bin/python3 as /usr/bin/aws runs it) so that hundreds of
    commands cost seconds, not minutes; the CLI's " (reached max retries: 0)" is dropped."""

    def __init__(self, berth, home, key=None, secret=None):
        if key is None:
            key, secret = berth.read_credentials()
        self.berth = berth
        self.env = cli_env(home, key=key, secret=secret, region=REGION)
        self.env["PYTHONIOENCODING"] = "utf-8"
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "aws_batch.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env, text=True)

    def __call__(self, *args):
        argv = ["--endpoint-url", self.berth.endpoint, "--output", "json", *args]
        with self.lock:
            self.proc.stdin.write(json.dumps(argv) + "\n")
            self.proc.stdin.flush()
            result = json.loads(self.proc.stdout.readline())
        if result["rc"] == 0:
            return 0, json.loads(result["stdout"]) if result["stdout"].strip() else {}
        return result["rc"], re.sub(r" \(reached max retries: \d+\)", "",
                                    result["stderr"].strip())

    def ok(self, *args):
        code, out = self(*args)
        assert code == 0, f"aws {' '.join(args)}: {out}"
        return out

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


def cli_error(code, operation, message):
    """The line /usr/bin/aws prints for a service error."""
    return f"An error occurred ({code}) when calling the {operation} operation: {message}"


# Whether this berth build upgrades GET /ws; None until a fleet finds out.
_acs = {"available": None}


class Fleet:
    """Container instances registered as agents do. When the server offers ACS, each instance's
    agent holds a session (so placement sees agentConnected); otherwise they are only registered
    (the server then counts every agent as connected)."""

    def __init__(self, berth, key=None, secret=None):
        if key is None:
            key, secret = berth.read_credentials()
        self.berth, self.key, self.secret = berth, key, secret
        self.agents = []

    def add(self, cluster="default", attributes=None, cpu=2048, memory=4096,
            ports=("22", "2375", "2376", "51678", "51679"), connect=True, instance_arn=None,
            **kw):
        """Registers an instance (again, when instance_arn is given) and opens its session."""
        agent = Agent(self.berth.endpoint, self.key, self.secret, region=REGION, cluster=cluster,
                      attributes=attributes, cpu=cpu, memory=memory, ports=ports, **kw)
        agent.register(instance_arn)
        self.agents.append(agent)
        if connect and _acs["available"] is not False:
            try:
                agent.connect()
                _acs["available"] = True
                agent.wait_connected()  # placement sees it (no AGENT failure) from here on
            except AcsUnavailable:
                _acs["available"] = False
        return agent

    @property
    def acs(self):
        return bool(_acs["available"])

    def close(self):
        for agent in self.agents:
            agent.close()


def task_id(task_arn):
    return task_arn.rsplit("/", 1)[1]


def fargate_definition(ecs, family="fg", **extra):
    """A definition runnable on FARGATE (and EC2); no container instance is needed."""
    return register(ecs, family, [container(memory=None)], networkMode="awsvpc", cpu="256",
                    memory="512", requiresCompatibilities=["FARGATE"], **extra)


NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}}
