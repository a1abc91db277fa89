"""ECS tasks, end to end: RunTask placement and its failures, the seed's gates (private
registry authentication, EXTERNAL, FARGATE platform versions), the task lifecycle driven by
what an agent reports, StopTask, ListTasks, the CLI waiters, roles (iam:PassRole and the
trust policy ECS assumes through), and a restart of the server.

Container instances are registered as agents do (ecs_agent.Agent); when the server offers the
agent protocol each one also holds its ACS session, since placement only uses instances whose
agent is connected."""
import json
import datetime
import subprocess
import time

import botocore.exceptions
import pytest

from berth_harness import AWS, Berth, allow, cli_env, error_code, make_user
from ecs_harness import (ACCOUNT, ARN, NETWORK, SECRETS_CAPABILITY, TASKS_TRUST, Fleet, client,
                         container, fargate_definition, make_role, register,
                         task_id)


def run(ecs, td, **kw):
    out = ecs.run_task(taskDefinition=td["taskDefinitionArn"], **kw)
    return out["tasks"], out["failures"]


def describe_instance(ecs, agent):
    [ci] = ecs.describe_container_instances(cluster=agent.cluster_arn, containerInstances=[
        agent.instance_arn])["containerInstances"]
    return ci


def remaining(ecs, agent):
    return {r["name"]: r.get("integerValue") for r in describe_instance(ecs, agent)[
        "remainingResources"] if r["type"] == "INTEGER"}


def describe_task(ecs, arn, cluster="default"):
    [t] = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"]
    return t


def raises(call, code, message=None):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    assert error_code(e) == code, e.value.response["Error"]
    if message is not None:
        assert e.value.response["Error"]["Message"] == message
    return e.value.response["Error"]["Message"]


# ----------------------------------------------------------------------------------- placement


def test_binpack_memory_picks_the_fullest_instance_that_fits(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    small = fleet.add(memory=1024)
    medium = fleet.add(memory=2048)
    large = fleet.add(memory=4096)
    binpack = [{"type": "binpack", "field": "memory"}]
    td = register(ecs, "bp", [container(memory=512)])
    tasks, failures = run(ecs, td, count=3, placementStrategy=binpack)
    assert failures == []
    # The least remaining memory that still fits: small twice (1024 -> 512 -> 0), then medium.
    assert [t["containerInstanceArn"] for t in tasks] == [
        small.instance_arn, small.instance_arn, medium.instance_arn]
    big = register(ecs, "bp-big", [container(memory=2048)])
    [t], _ = run(ecs, big, placementStrategy=binpack)
    assert t["containerInstanceArn"] == large.instance_arn  # medium has 1536 left
    assert remaining(ecs, large)["MEMORY"] == 2048

    assert remaining(ecs, medium)["MEMORY"] == 1536 and remaining(ecs, small)["MEMORY"] == 0


def test_spread_instance_id_and_attribute(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    agents = [fleet.add(attributes={"zone": z}) for z in ("a", "a", "b")]
    td = register(ecs, "spread")
    tasks, _ = run(ecs, td, count=6, placementStrategy=[{"type": "spread", "field": "instanceId"}])
    per = [sum(t["containerInstanceArn"] == a.instance_arn for t in tasks) for a in agents]
    assert per == [2, 2, 2]

    other = register(ecs, "spread-zone")
    tasks, _ = run(ecs, other, count=4,
                   placementStrategy=[{"type": "spread", "field": "attribute:zone"}])
    in_b = sum(t["containerInstanceArn"] == agents[2].instance_arn for t in tasks)
    assert in_b == 2  # half the group in each zone, though zone a has two instances

    raises(lambda: run(ecs, td, placementStrategy=[{"type": "spread", "field": "rack"}]),
           "InvalidParameterException",
           "Invalid field 'rack' for the spread placement strategy. Valid fields are instanceId, "
           "host and attribute:<name>.")
    raises(lambda: run(ecs, td, placementStrategy=[{"type": "pack", "field": "cpu"}]),
           "InvalidParameterException",
           "Invalid placement strategy type 'pack'. Valid types are random, spread and binpack.")


def test_member_of_expressions_and_distinct_instance(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    prod_large = fleet.add(attributes={"stack": "prod", "ecs.instance-type": "t3.large"})
    prod_small = fleet.add(attributes={"stack": "prod", "ecs.instance-type": "t2.small"})
    dev = fleet.add(attributes={"stack": "dev", "ecs.instance-type": "t3.large", "gpu": None})
    td = register(ecs, "member")

    def placed(expression, count=4):
        # Spread over instances, so 4 tasks reach every instance the expression admits (the
        # default random placement could put all 4 on one).
        tasks, failures = run(ecs, td, count=count, placementConstraints=[
            {"type": "memberOf", "expression": expression}],
            placementStrategy=[{"type": "spread", "field": "instanceId"}])
        return {t["containerInstanceArn"] for t in tasks}, failures

    assert placed("attribute:stack == prod")[0] == {prod_large.instance_arn,
                                                     prod_small.instance_arn}
    assert placed("attribute:ecs.instance-type =~ t3.*")[0] == {prod_large.instance_arn,
                                                                dev.instance_arn}
    assert placed("attribute:ecs.instance-type in [t2.small, t2.micro]")[0] == {
        prod_small.instance_arn}
    assert placed("attribute:gpu exists")[0] == {dev.instance_arn}
    assert placed("!(attribute:gpu exists) && attribute:ecs.instance-type == t3.large")[0] == {
        prod_large.instance_arn}
    assert placed("attribute:stack == dev || attribute:ecs.instance-type == t2.small")[0] == {
        dev.instance_arn, prod_small.instance_arn}
    none, failures = placed("attribute:stack == qa")
    assert none == set()
    assert sorted(f["arn"] for f in failures) == sorted(
        a.instance_arn for a in (prod_large, prod_small, dev))
    assert {f["reason"] for f in failures} == {"MemberOf placement constraint unsatisfied."}

    raises(lambda: placed("attribute:stack =="), "InvalidParameterException")

    # distinctInstance: one task of the group per instance; the fourth has nowhere to go.
    distinct = register(ecs, "distinct")
    tasks, failures = run(ecs, distinct, count=4,
                          placementConstraints=[{"type": "distinctInstance"}])
    assert len({t["containerInstanceArn"] for t in tasks}) == 3 and len(tasks) == 3
    assert {f["reason"] for f in failures} == {
        "DistinctInstance placement constraint unsatisfied."}


def test_task_definition_placement_constraints_apply(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    fleet.add(attributes={"stack": "dev"})
    prod = fleet.add(attributes={"stack": "prod"})
    td = register(ecs, "td-constraint", placementConstraints=[
        {"type": "memberOf", "expression": "attribute:stack == prod"}])
    tasks, _ = run(ecs, td, count=4)
    assert {t["containerInstanceArn"] for t in tasks} == {prod.instance_arn}


def test_failure_reasons_are_exact(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    empty = register(ecs, "nowhere")
    raises(lambda: run(ecs, empty), "InvalidParameterException",
           "No Container Instances were found in your cluster.")
    agent = fleet.add(cpu=1024, memory=1024, ports=("22", "8080"))
    cases = [
        (register(ecs, "cpu", [container(cpu=2048, memory=64)]), "RESOURCE:CPU"),
        (register(ecs, "mem", [container(memory=2048)]), "RESOURCE:MEMORY"),
        (register(ecs, "port", [container(portMappings=[{"containerPort": 80,
                                                           "hostPort": 8080}])]),
         "RESOURCE:PORTS"),
        (register(ecs, "attr", [container(privileged=True)]), "ATTRIBUTE"),
    ]
    for td, reason in cases:
        tasks, failures = run(ecs, td)
        assert tasks == []
        assert failures == [{"arn": agent.instance_arn, "reason": reason}], td["family"]

    # A port one task holds is not free for the next.
    web = register(ecs, "web", [container(portMappings=[{"containerPort": 80,
                                                        "hostPort": 9090}])])
    [t], _ = run(ecs, web)
    tasks, failures = run(ecs, web)
    assert tasks == [] and failures == [{"arn": agent.instance_arn, "reason": "RESOURCE:PORTS"}]
    # Ephemeral host ports (bridge, hostPort 0) are not reserved.
    eph = register(ecs, "eph", [container(memory=16, portMappings=[{"containerPort": 80}])])
    assert len(run(ecs, eph, count=3)[0]) == 3

    raises(lambda: run(ecs, web, count=11), "InvalidParameterException",
           "Count must be between 1 and 10.")
    raises(lambda: run(ecs, web, launchType="MOON"), "InvalidParameterException",
           "launchType should be one of [EC2,FARGATE,EXTERNAL]: MOON")
    ecs.deregister_task_definition(taskDefinition=f"web:{web['revision']}")
    raises(lambda: run(ecs, web), "InvalidParameterException", "TaskDefinition is inactive")
    raises(lambda: ecs.run_task(taskDefinition="ghost"), "ClientException",
           "TaskDefinition not found.")


def test_resources_are_released_when_a_task_stops(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    agent = fleet.add(cpu=1024, memory=1024, ports=("22",))
    td = register(ecs, "whole", [container(cpu=1024, memory=1024, portMappings=[
        {"containerPort": 80, "hostPort": 8080}])])
    [first], _ = run(ecs, td)
    assert remaining(ecs, agent) == {"CPU": 0, "MEMORY": 0}
    tasks, failures = run(ecs, td)
    assert tasks == [] and failures == [{"arn": agent.instance_arn, "reason": "RESOURCE:CPU"}]

    agent.report(first["taskArn"], "RUNNING")
    ecs.stop_task(task=first["taskArn"])
    # Stopping is not stopped: the agent has not said so yet.
    assert remaining(ecs, agent) == {"CPU": 0, "MEMORY": 0}
    agent.report(first["taskArn"], "STOPPED", containers=[
        {"containerName": "web", "status": "STOPPED", "exitCode": 0}])
    assert remaining(ecs, agent) == {"CPU": 1024, "MEMORY": 1024}
    ports = [r for r in describe_instance(ecs, agent)["remainingResources"]
             if r["name"] == "PORTS"][0]["stringSetValue"]
    assert ports == ["22"]
    [second], failures = run(ecs, td)
    assert failures == [] and second["containerInstanceArn"] == agent.instance_arn


# ---------------------------------------------------------------------------- the seed's gates


def test_private_registry_task_only_on_instances_with_the_secretsmanager_capability(berth, fleet):
    ecs, iam = client(berth, "ecs"), client(berth, "iam")
    ecs.create_cluster()
    role = make_role(iam, "ecsTaskExecutionRole")
    td = register(ecs, "private", [container(
        image="registry.example.com/team/app:1",
        repositoryCredentials={"credentialsParameter": "registry/creds"})], executionRoleArn=role)
    assert SECRETS_CAPABILITY in [a["name"] for a in td["requiresAttributes"]]

    old = fleet.add(agent_version="1.18.0", attributes={"ecs.os-type": "linux"})
    tasks, failures = run(ecs, td, count=2)
    assert tasks == []
    assert failures == [{"arn": old.instance_arn, "reason": "ATTRIBUTE"}]

    new = fleet.add(attributes={"ecs.os-type": "linux", SECRETS_CAPABILITY: None})
    tasks, failures = run(ecs, td, count=4)
    assert len(tasks) == 4
    assert {t["containerInstanceArn"] for t in tasks} == {new.instance_arn}


def test_external_tasks_only_on_external_instances(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    td = register(ecs, "anywhere")
    assert td["compatibilities"] == ["EXTERNAL", "EC2"]
    external = fleet.add(attributes={"ecs.capability.external": None})
    raises(lambda: run(ecs, td), "InvalidParameterException",
           "No Container Instances were found in your cluster.")  # EC2 never on it
    ec2 = fleet.add()
    tasks, _ = run(ecs, td, count=4)
    assert {t["containerInstanceArn"] for t in tasks} == {ec2.instance_arn}
    assert {t["launchType"] for t in tasks} == {"EC2"}
    tasks, _ = run(ecs, td, count=4, launchType="EXTERNAL")
    assert {t["containerInstanceArn"] for t in tasks} == {external.instance_arn}
    assert {t["launchType"] for t in tasks} == {"EXTERNAL"}
    awsvpc = register(ecs, "vpc", [container()], networkMode="awsvpc")
    raises(lambda: run(ecs, awsvpc, launchType="EXTERNAL", networkConfiguration=NETWORK),
           "InvalidParameterException", "Task definition does not support launch_type EXTERNAL.")


def test_fargate_platform_versions(berth):
    ecs, iam = client(berth, "ecs"), client(berth, "iam")
    ecs.create_cluster()
    # The execution role may read the registry secret: RunTask's preflight
    # (test_ecs_preflight.py) would otherwise stop the tasks at once.
    client(berth, "secretsmanager").create_secret(
        Name="registry/creds", SecretString=json.dumps({"username": "u", "password": "p"}))
    role = make_role(iam, "ecsTaskExecutionRole", policy={
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
    td = register(ecs, "fg-private", [container(
        memory=None, image="registry.example.com/app:1",
        repositoryCredentials={"credentialsParameter": "registry/creds"})],
        networkMode="awsvpc", cpu="256", memory="512", requiresCompatibilities=["FARGATE"],
        executionRoleArn=role)

    def fargate(version=None):
        kw = {"launchType": "FARGATE", "networkConfiguration": NETWORK}
        if version is not None:
            kw["platformVersion"] = version
        return run(ecs, td, **kw)

    for version in ("1.1.0", "1.0.0"):
        raises(lambda: fargate(version), "PlatformTaskDefinitionIncompatibilityException",
               "The specified platform does not satisfy the task definition's required "
               "capabilities: private registry authentication (repositoryCredentials) requires "
               f"platform version 1.2.0 or later; {version} was requested.")
    [t], _ = fargate("1.2.0")
    assert t["platformVersion"] == "1.2.0"
    assert "containerInstanceArn" not in t
    assert t["lastStatus"] == "PROVISIONING" and t["launchType"] == "FARGATE"
    [t], _ = fargate("LATEST")
    assert t["platformVersion"] == "1.4.0"
    [t], _ = fargate()
    assert t["platformVersion"] == "1.4.0"
    raises(lambda: fargate("9.9.9"), "PlatformUnknownException",
           "The specified platform does not exist.")
    raises(lambda: run(ecs, td, launchType="FARGATE"), "InvalidParameterException",
           "Network Configuration must be provided when networkMode 'awsvpc' is specified.")
    ec2_only = register(ecs, "ec2-only")
    raises(lambda: run(ecs, ec2_only, launchType="FARGATE", networkConfiguration=NETWORK),
           "InvalidParameterException", "Task definition does not support launch_type FARGATE.")
    raises(lambda: run(ecs, ec2_only, platformVersion="1.4.0"), "InvalidParameterException",
           "The platform version must be null when specifying a EC2 launch type.")


# ----------------------------------------------------------------------------------- lifecycle


def test_lifecycle_through_the_agents_reports(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    agent = fleet.add()
    td = register(ecs, "life", [container(portMappings=[{"containerPort": 80}]),
                                container("sidecar", essential=False, memory=32)])
    [task], _ = run(ecs, td, startedBy="ci-42")
    arn = task["taskArn"]
    assert arn.startswith(f"{ARN}:task/default/") and len(task_id(arn)) == 32
    assert (task["lastStatus"], task["desiredStatus"], task["version"]) == ("PENDING", "RUNNING", 1)
    assert task["group"] == "family:life" and task["startedBy"] == "ci-42"
    assert task["clusterArn"] == f"{ARN}:cluster/default"
    assert [c["lastStatus"] for c in task["containers"]] == ["PENDING", "PENDING"]
    created = task["createdAt"]

    # botocore sends timestamps as whole epoch seconds.
    pull_start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    agent.report(arn, "RUNNING", containers=[
        {"containerName": "web", "status": "RUNNING", "runtimeId": "c0ffee",
         "imageDigest": "sha256:" + "a" * 64,
         "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 32768,
                              "protocol": "tcp"}]},
        {"containerName": "sidecar", "status": "RUNNING"}],
        pullStartedAt=pull_start, pullStoppedAt=pull_start + datetime.timedelta(seconds=1))
    t = describe_task(ecs, arn)
    assert (t["lastStatus"], t["version"]) == ("RUNNING", 2)
    assert t["startedAt"] >= created and t["connectivity"] == "CONNECTED"
    assert t["pullStartedAt"] == pull_start
    assert t["pullStoppedAt"] == pull_start + datetime.timedelta(seconds=1)
    web = {c["name"]: c for c in t["containers"]}["web"]
    assert web["lastStatus"] == "RUNNING" and web["runtimeId"] == "c0ffee"
    assert web["imageDigest"] == "sha256:" + "a" * 64
    assert web["networkBindings"] == [{"bindIP": "0.0.0.0", "containerPort": 80,
                                       "hostPort": 32768, "protocol": "tcp"}]
    assert ecs.describe_clusters()["clusters"][0]["runningTasksCount"] == 1

    agent.report(arn, "STOPPED", containers=[
        {"containerName": "web", "status": "STOPPED", "exitCode": 137,
         "reason": "OutOfMemoryError: Container killed due to memory usage"}])
    t = describe_task(ecs, arn)
    assert (t["lastStatus"], t["desiredStatus"], t["version"]) == ("STOPPED", "STOPPED", 3)
    assert t["stopCode"] == "EssentialContainerExited"
    assert t["stoppedReason"] == "Essential container in task exited"
    assert t["startedAt"] <= t["stoppingAt"] <= t["stoppedAt"]
    assert t["executionStoppedAt"] <= t["stoppedAt"]
    web = {c["name"]: c for c in t["containers"]}["web"]
    assert web["exitCode"] == 137
    assert web["reason"] == "OutOfMemoryError: Container killed due to memory usage"
    assert {c["lastStatus"] for c in t["containers"]} == {"STOPPED"}
    # STOPPED is final: a late report changes nothing.
    agent.report(arn, "RUNNING")
    assert describe_task(ecs, arn)["version"] == 3


def test_task_that_fails_to_start_keeps_the_agents_reason(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    agent = fleet.add()
    td = register(ecs, "nostart")
    [task], _ = run(ecs, td)
    reason = ("ResourceInitializationError: unable to pull secrets or registry auth: "
              "execution resource retrieval failed: AccessDeniedException")
    agent.report(task["taskArn"], "STOPPED", reason=reason)
    t = describe_task(ecs, task["taskArn"])
    assert (t["lastStatus"], t["stopCode"], t["stoppedReason"]) == (
        "STOPPED", "TaskFailedToStart", reason)
    assert "startedAt" not in t
    raises(lambda: agent.report(task["taskArn"], "EXPLODED"), "InvalidParameterException",
           "Invalid task status: EXPLODED")


def test_stop_task(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    agent = fleet.add()
    td = register(ecs, "stoppable")
    [a, b], _ = run(ecs, td, count=2)
    agent.report(a["taskArn"], "RUNNING")
    stopped = ecs.stop_task(task=a["taskArn"])["task"]
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["stopCode"] == "UserInitiated"
    assert stopped["stoppedReason"] == "Task stopped by user"
    assert stopped["lastStatus"] in ("RUNNING", "DEACTIVATING", "STOPPING")
    assert "stoppingAt" in stopped
    agent.report(a["taskArn"], "STOPPED", containers=[
        {"containerName": "web", "status": "STOPPED", "exitCode": 143}])
    t = describe_task(ecs, a["taskArn"])
    assert (t["lastStatus"], t["stopCode"], t["stoppedReason"]) == (
        "STOPPED", "UserInitiated", "Task stopped by user")

    # With a reason, and by the task's id alone.
    out = ecs.stop_task(task=task_id(b["taskArn"]), reason="rolling back release 7")["task"]
    assert (out["stoppedReason"], out["stopCode"]) == ("rolling back release 7", "UserInitiated")
    raises(lambda: ecs.stop_task(task="0" * 32), "InvalidParameterException",
           "The referenced task was not found.")
    out = ecs.describe_tasks(tasks=[a["taskArn"], "0" * 32])
    assert out["failures"] == [{"arn": f"{ARN}:task/default/{'0' * 32}", "reason": "MISSING"}]


def test_list_tasks_filters(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    one, two = fleet.add(), fleet.add()
    web, db = register(ecs, "web"), register(ecs, "db")

    def on(agent):
        return [{"type": "memberOf",
                 "expression": f"ec2InstanceId == {agent.registered['ec2InstanceId']}"}]

    webs, _ = run(ecs, web, count=3, startedBy="deployer", placementConstraints=on(one))
    dbs, _ = run(ecs, db, count=2, placementConstraints=on(two))
    ecs.stop_task(task=dbs[0]["taskArn"])

    def listed(**kw):
        return sorted(a for page in ecs.get_paginator("list_tasks").paginate(**kw)
                      for a in page["taskArns"])

    def arns(tasks):
        return sorted(t["taskArn"] for t in tasks)

    assert listed() == arns(webs + dbs[1:])  # desiredStatus RUNNING by default
    assert listed(desiredStatus="STOPPED") == arns(dbs[:1])
    assert listed(family="db") == arns(dbs[1:])
    assert listed(startedBy="deployer") == arns(webs)
    assert listed(containerInstance=one.instance_arn) == arns(webs)
    assert listed(containerInstance=two.instance_arn, desiredStatus="STOPPED") == arns(dbs[:1])
    assert listed(launchType="FARGATE") == []
    assert listed(PaginationConfig={"PageSize": 2}) == arns(webs + dbs[1:])
    raises(lambda: ecs.list_tasks(startedBy="deployer", family="web"),
           "InvalidParameterException", "startedBy must be the only filter when it is specified.")
    raises(lambda: ecs.list_tasks(desiredStatus="DONE"), "InvalidParameterException",
           "desiredStatus should be one of [RUNNING,PENDING,STOPPED]: DONE")


def test_cli_waiters_return(berth, fleet, tmp_path):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    agent = fleet.add()
    td = register(ecs, "waited")
    [a, b], _ = run(ecs, td, count=2)
    env = cli_env(tmp_path, key=berth.read_credentials()[0], secret=berth.read_credentials()[1])

    def wait(what, task):
        return subprocess.Popen([AWS, "--endpoint-url", berth.endpoint, "ecs", "wait", what,
                                 "--tasks", task], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    running, stopped = wait("tasks-running", a["taskArn"]), wait("tasks-stopped", b["taskArn"])
    time.sleep(2)
    assert running.poll() is None and stopped.poll() is None  # both still waiting
    agent.report(a["taskArn"], "RUNNING")
    agent.report(b["taskArn"], "STOPPED")
    for proc in (running, stopped):
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err


# ------------------------------------------------------------------------------------- roles


def passed_role_denied(message, user, role):
    assert message == (f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: "
                       f"iam:PassRole on resource: {role} because no identity-based policy "
                       f"allows the iam:PassRole action")


def test_pass_role_is_required(berth):
    ecs, iam = client(berth, "ecs"), client(berth, "iam")
    ecs.create_cluster()
    role = make_role(iam, "appRole")
    other = make_role(iam, "otherRole")
    no_pass = client(berth, "ecs", *make_user(iam, "dev", allow("ecs:*")))
    can_pass = client(berth, "ecs", *make_user(iam, "ops", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecs:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role, "Condition": {
            "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}]}))
    wrong_service = client(berth, "ecs", *make_user(iam, "ec2ops", {
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ecs:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role, "Condition": {
                "StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}]}))

    message = raises(lambda: fargate_definition(no_pass, "app", executionRoleArn=role),
                     "AccessDeniedException")
    passed_role_denied(message, "dev", role)
    raises(lambda: fargate_definition(wrong_service, "app", taskRoleArn=role),
           "AccessDeniedException")
    td = fargate_definition(can_pass, "app", executionRoleArn=role)
    plain = fargate_definition(no_pass, "plain")

    fargate = {"launchType": "FARGATE", "networkConfiguration": NETWORK}
    message = raises(lambda: run(no_pass, td, **fargate), "AccessDeniedException")
    passed_role_denied(message, "dev", role)
    message = raises(lambda: run(no_pass, plain, overrides={"taskRoleArn": role}, **fargate),
                     "AccessDeniedException")
    passed_role_denied(message, "dev", role)
    message = raises(lambda: run(can_pass, plain, overrides={"executionRoleArn": other},
                                 **fargate), "AccessDeniedException")
    passed_role_denied(message, "ops", other)
    [t], _ = run(can_pass, td, **fargate)
    [t], _ = run(can_pass, plain, overrides={"taskRoleArn": role}, **fargate)
    assert t["overrides"]["taskRoleArn"] == role
    assert len(run(no_pass, plain, **fargate)[0]) == 1


def test_role_that_ecs_tasks_cannot_assume_fails_run_task(berth):
    ecs, iam = client(berth, "ecs"), client(berth, "iam")
    ecs.create_cluster()
    ec2_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    untrusting = make_role(iam, "ec2Role", trust=ec2_trust)
    gone = f"arn:aws:iam::{ACCOUNT}:role/neverCreated"
    fargate = {"launchType": "FARGATE", "networkConfiguration": NETWORK}
    for role in (untrusting, gone):
        td = fargate_definition(ecs, "assume", executionRoleArn=role)  # registers: only shape
        raises(lambda: run(ecs, td, **fargate), "InvalidParameterException",
               f"ECS was unable to assume the role '{role}' that was provided for this task. "
               "Please verify that the role being passed has the proper trust relationship and "
               "permissions and that your IAM user has permissions to pass this role.")
    plain = fargate_definition(ecs, "plain")
    raises(lambda: run(ecs, plain, overrides={"taskRoleArn": untrusting}, **fargate),
           "InvalidParameterException")
    trusted = make_role(iam, "taskRole", trust=TASKS_TRUST)
    assert len(run(ecs, plain, overrides={"taskRoleArn": trusted}, **fargate)[0]) == 1


# ----------------------------------------------------------------------------------- restart


def test_restart_keeps_clusters_definitions_instances_and_tasks(berth, root_creds):
    ecs = client(berth, "ecs")
    ecs.create_cluster(clusterName="keep", tags=[{"key": "k", "value": "v"}])
    fleet = Fleet(berth)
    agent = fleet.add("keep", cpu=1024, memory=1024, attributes={"stack": "prod"})
    td = register(ecs, "kept", [container(cpu=256, memory=256)])
    ecs.deregister_task_definition(taskDefinition="kept:1")
    td = register(ecs, "kept", [container(cpu=256, memory=256)])
    tasks, _ = run(ecs, td, cluster="keep", count=2)
    agent.report(tasks[0]["taskArn"], "RUNNING")
    before = ecs.describe_tasks(cluster="keep", tasks=[t["taskArn"] for t in tasks])["tasks"]
    fleet.close()
    assert berth.stop() == 0

    again = Berth(berth.data_dir, root=root_creds)
    try:
        ecs = client(again, "ecs")
        [c] = ecs.describe_clusters(clusters=["keep"], include=["TAGS"])["clusters"]
        assert c["status"] == "ACTIVE" and c["tags"] == [{"key": "k", "value": "v"}]
        assert (c["registeredContainerInstancesCount"], c["runningTasksCount"],
                c["pendingTasksCount"]) == (1, 1, 1)
        assert ecs.describe_task_definition(taskDefinition="kept")["taskDefinition"][
            "revision"] == 2
        assert ecs.list_task_definitions(status="INACTIVE")["taskDefinitionArns"] == [
            f"{ARN}:task-definition/kept:1"]
        [ci] = ecs.describe_container_instances(
            cluster="keep", containerInstances=[agent.instance_arn])["containerInstances"]
        assert ci["attributes"] == [{"name": "stack", "value": "prod"}]
        assert {r["name"]: r.get("integerValue") for r in ci["remainingResources"]
                if r["type"] == "INTEGER"} == {"CPU": 512, "MEMORY": 512}
        after = ecs.describe_tasks(cluster="keep", tasks=[t["taskArn"] for t in tasks])["tasks"]
        key = ("taskArn", "lastStatus", "desiredStatus", "version", "createdAt", "startedAt",
               "containerInstanceArn", "group")
        assert [{k: t.get(k) for k in key} for t in after] == \
            [{k: t.get(k) for k in key} for t in before]
        # And it goes on: the agent comes back, reports, and new tasks are placed.
        fleet = Fleet(again)
        agent2 = fleet.add("keep", cpu=1024, memory=1024, attributes={"stack": "prod"},
                           instance_arn=agent.instance_arn)
        assert agent2.instance_arn == agent.instance_arn
        agent2.report(tasks[1]["taskArn"], "RUNNING")
        assert ecs.describe_clusters(clusters=["keep"])["clusters"][0]["runningTasksCount"] == 2
        new, failures = run(ecs, td, cluster="keep")
        assert failures == [] and len(new) == 1
        fleet.close()
    finally:
        assert again.stop() == 0
