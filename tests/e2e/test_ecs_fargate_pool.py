"""The platform's Fargate capacity pool, with protocol agents (ecs_agent.py): Fargate agents of
the operator account register into its cluster berth-fargate, and FARGATE tasks that another
account runs in its own cluster are placed there and delivered to them, with that account's
execution-role credentials; the tasks stay in their own cluster, show no container instance, and
only the pool instance's agent reports them."""
import json

import pytest

from ecs_harness import ACCOUNT, NETWORK, REGION, Cli, Fleet, cli_error, client, make_role

OTHER = "222233334444"
POOL = "berth-fargate"
FARGATE_ATTRIBUTES = {
    "ecs.os-type": "linux",
    "ecs.capability.private-registry-authentication.secretsmanager": None,
    "ecs.capability.task-eni": None,
    "ecs.capability.execution-role-awslogs": None,
    "com.amazonaws.ecs.capability.docker-remote-api.1.18": None,
    "berth.fargate": "true",
    "berth.fargate.platform-version": "1.4.0",
}


@pytest.fixture
def other(berth, tmp_path):
    """Account OTHER: its root's keys, and the AWS CLI as that root."""
    key, secret = berth.create_account(OTHER)
    cli = Cli(berth, str(tmp_path / "other-cli"), key=key, secret=secret)
    yield {"key": key, "secret": secret, "cli": cli}
    cli.close()


def pool_agent(berth, fleet):
    client(berth, "ecs").create_cluster(clusterName=POOL)
    return fleet.add(cluster=POOL, attributes=FARGATE_ATTRIBUTES, cpu=4096, memory=8192)


def test_another_accounts_fargate_task_runs_on_the_platform_pool(berth, fleet, other):
    agent = pool_agent(berth, fleet)
    assert agent.instance_arn.startswith(f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/"
                                         f"{POOL}/")
    aws = other["cli"]
    aws.ok("ecs", "create-cluster", "--cluster-name", "apps")
    iam = client(berth, "iam", other["key"], other["secret"])
    role = make_role(iam, "ecsTaskExecutionRole")
    aws.ok("ecs", "register-task-definition", "--family", "fg", "--network-mode", "awsvpc",
           "--requires-compatibilities", "FARGATE", "--cpu", "256", "--memory", "512",
           "--execution-role-arn", role, "--container-definitions", json.dumps([{
               "name": "app", "image": "registry.example.com/team/api:1.4"}]))
    out = aws.ok("ecs", "run-task", "--cluster", "apps", "--task-definition", "fg",
                 "--launch-type", "FARGATE", "--network-configuration", json.dumps(NETWORK))
    [task] = out["tasks"]
    arn = task["taskArn"]
    cluster_arn = f"arn:aws:ecs:{REGION}:{OTHER}:cluster/apps"
    assert arn.startswith(f"arn:aws:ecs:{REGION}:{OTHER}:task/apps/")
    assert "containerInstanceArn" not in task and task["platformVersion"] == "1.4.0"

    # The pool's agent gets it, for its own cluster, with the task's account's credentials.
    sent = agent.wait_for_task(arn, "RUNNING")
    assert sent["taskClusterArn"] == cluster_arn
    assert sent["taskDefinitionAccountId"] == OTHER
    [c] = sent["containers"]
    assert c["image"] == "registry.example.com/team/api:1.4"
    creds = sent["executionRoleCredentials"]
    session = (creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"])
    assert client(berth, "sts", *session).get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{OTHER}:assumed-role/ecsTaskExecutionRole/{arn.rsplit('/', 1)[1]}"

    # The account cannot report its own FARGATE task: only the agent running it may.
    code, err = aws("ecs", "submit-task-state-change", "--cluster", "apps", "--task", arn,
                    "--status", "STOPPED")
    assert code != 0 and "AccessDeniedException" in err, err
    assert "is not the principal that registered container instance " + agent.instance_arn in err

    # The pool's agent reports it by its cluster's ARN: the CLI's waiter sees it run.
    agent.report(arn, "RUNNING", cluster=cluster_arn,
                 containers=[{"containerName": "app", "status": "RUNNING"}])
    aws.ok("ecs", "wait", "tasks-running", "--cluster", "apps", "--tasks", arn)
    [t] = aws.ok("ecs", "describe-tasks", "--cluster", "apps", "--tasks", arn)["tasks"]
    assert t["lastStatus"] == "RUNNING" and "containerInstanceArn" not in t, t
    # The pool instance counts it; the account's cluster has no instance of its own.
    [ci] = client(berth, "ecs").describe_container_instances(
        cluster=POOL, containerInstances=[agent.instance_arn])["containerInstances"]
    assert ci["runningTasksCount"] == 1
    [apps] = aws.ok("ecs", "describe-clusters", "--clusters", "apps")["clusters"]
    assert apps["registeredContainerInstancesCount"] == 0 and apps["runningTasksCount"] == 1

    # A stop reaches the pool's agent; its report stops the task.
    aws.ok("ecs", "stop-task", "--cluster", "apps", "--task", arn)
    agent.wait_for_task(arn, "STOPPED")
    agent.report(arn, "STOPPED", cluster=cluster_arn,
                 containers=[{"containerName": "app", "status": "STOPPED", "exitCode": 0}])
    aws.ok("ecs", "wait", "tasks-stopped", "--cluster", "apps", "--tasks", arn)
    [t] = aws.ok("ecs", "describe-tasks", "--cluster", "apps", "--tasks", arn)["tasks"]
    assert t["stopCode"] == "UserInitiated" and t["containers"][0]["exitCode"] == 0, t
    [ci] = client(berth, "ecs").describe_container_instances(
        cluster=POOL, containerInstances=[agent.instance_arn])["containerInstances"]
    assert ci["runningTasksCount"] == 0 and ci["pendingTasksCount"] == 0


def test_fargate_capacity_registers_only_into_the_pool(berth, other, fleet, tmp_path):
    aws = other["cli"]
    aws.ok("ecs", "create-cluster", "--cluster-name", POOL)  # a name, in another account
    mine = Fleet(berth, other["key"], other["secret"])
    try:
        with pytest.raises(Exception) as e:
            mine.add(cluster=POOL, attributes=FARGATE_ATTRIBUTES)
        assert "registers only into the platform's pool" in str(e.value)
    finally:
        mine.close()
    # In the operator account the pool takes Fargate capacity only, and runs nothing itself.
    pool_agent(berth, fleet)
    with pytest.raises(Exception) as e:
        fleet.add(cluster=POOL, attributes={"ecs.os-type": "linux"})
    assert "only instances with the attribute berth.fargate" in str(e.value)
    root = Cli(berth, str(tmp_path / "root-cli"))
    try:
        root.ok("ecs", "register-task-definition", "--family", "fg", "--network-mode", "awsvpc",
                "--requires-compatibilities", "FARGATE", "--cpu", "256", "--memory", "512",
                "--container-definitions", json.dumps([{"name": "app", "image": "busybox"}]))
        code, err = root("ecs", "run-task", "--cluster", POOL, "--task-definition", "fg",
                         "--launch-type", "FARGATE", "--network-configuration",
                         json.dumps(NETWORK))
        assert err == cli_error(
            "InvalidParameterException", "RunTask",
            f"Cluster {POOL} is the platform's Fargate capacity pool, which runs FARGATE tasks "
            "of other clusters and none of its own."), err
    finally:
        root.close()


def test_a_task_waiting_for_capacity_runs_when_a_pool_agent_comes(berth, fleet, other):
    aws = other["cli"]
    aws.ok("ecs", "create-cluster", "--cluster-name", "apps")
    aws.ok("ecs", "register-task-definition", "--family", "fg", "--network-mode", "awsvpc",
           "--requires-compatibilities", "FARGATE", "--cpu", "256", "--memory", "512",
           "--container-definitions", json.dumps([{"name": "app", "image": "busybox"}]))
    run = ["ecs", "run-task", "--cluster", "apps", "--task-definition", "fg", "--launch-type",
           "FARGATE", "--network-configuration", json.dumps(NETWORK)]
    [waiting] = aws.ok(*run)["tasks"]
    [gone] = aws.ok(*run)["tasks"]
    aws.ok("ecs", "stop-task", "--cluster", "apps", "--task", gone["taskArn"])
    assert waiting["lastStatus"] == "PROVISIONING" and "containerInstanceArn" not in waiting

    agent = pool_agent(berth, fleet)  # the scheduler's next pass (each second) places it
    sent = agent.wait_for_task(waiting["taskArn"], "RUNNING", timeout=15)
    assert sent["taskClusterArn"] == f"arn:aws:ecs:{REGION}:{OTHER}:cluster/apps"
    assert gone["taskArn"] not in [t["arn"] for t in agent.payload_tasks]
    agent.report(waiting["taskArn"], "RUNNING", cluster=sent["taskClusterArn"])
    aws.ok("ecs", "wait", "tasks-running", "--cluster", "apps", "--tasks", waiting["taskArn"])
