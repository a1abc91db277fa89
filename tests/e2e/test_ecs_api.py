"""ECS control plane, end to end: clusters, task definitions (through /usr/bin/aws) and
container instances against a running `berth server`, with the exceptions and messages ECS
answers (ECS-FACTS §1)."""
import json

import botocore.exceptions
import pytest

from berth_harness import Berth, error_code, random_root_credentials
from ecs_harness import (ACCOUNT, ARN, NETWORK, REGION, SECRETS_CAPABILITY, Cli, cli_error,
                         client, container, fargate_definition, register)

# ------------------------------------------------------------------------------------ clusters


def test_create_cluster_is_idempotent_and_defaults_to_default(berth):
    ecs = client(berth, "ecs")
    c = ecs.create_cluster()["cluster"]
    assert c["clusterName"] == "default"
    assert c["clusterArn"] == f"{ARN}:cluster/default"
    assert c["status"] == "ACTIVE"
    assert (c["registeredContainerInstancesCount"], c["runningTasksCount"],
            c["pendingTasksCount"], c["activeServicesCount"]) == (0, 0, 0, 0)

    first = ecs.create_cluster(clusterName="prod", tags=[{"key": "team", "value": "a"}])["cluster"]
    assert first["tags"] == [{"key": "team", "value": "a"}]
    again = ecs.create_cluster(clusterName="prod", tags=[{"key": "team", "value": "b"}])["cluster"]
    # The existing ACTIVE cluster comes back as it is: no error, nothing replaced.
    assert again["clusterArn"] == first["clusterArn"]
    assert again["tags"] == [{"key": "team", "value": "a"}]
    assert sorted(ecs.list_clusters()["clusterArns"]) == [f"{ARN}:cluster/default",
                                                           f"{ARN}:cluster/prod"]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecs.create_cluster(clusterName="bad name")
    assert error_code(e) == "InvalidParameterException"
    assert e.value.response["Error"]["Message"] == (
        "Cluster name must be 1-255 characters: letters (uppercase and lowercase), numbers, "
        "hyphens, and underscores.")


def test_describe_clusters_counts_include_and_missing(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster(clusterName="c1", tags=[{"key": "env", "value": "test"}])
    fleet.add("c1")
    fleet.add("c1")
    fg = fargate_definition(ecs)
    ecs.run_task(cluster="c1", taskDefinition=fg["taskDefinitionArn"], launchType="FARGATE",
                 networkConfiguration=NETWORK, count=2)

    out = ecs.describe_clusters(clusters=["c1", f"{ARN}:cluster/nope", "nope2"])
    assert out["failures"] == [{"arn": f"{ARN}:cluster/nope", "reason": "MISSING"},
                               {"arn": f"{ARN}:cluster/nope2", "reason": "MISSING"}]
    [c] = out["clusters"]
    assert c["clusterName"] == "c1"
    assert c["registeredContainerInstancesCount"] == 2
    assert (c["runningTasksCount"], c["pendingTasksCount"]) == (0, 2)  # PROVISIONING is pending
    assert c["tags"] == [] and c["statistics"] == []  # only with `include`

    [c] = ecs.describe_clusters(clusters=[f"{ARN}:cluster/c1"],
                                include=["TAGS", "STATISTICS"])["clusters"]
    assert c["tags"] == [{"key": "env", "value": "test"}]
    assert {s["name"]: s["value"] for s in c["statistics"]}["pendingEC2TasksCount"] == "2"

    # No cluster named: the default cluster, which does not exist yet.
    out = ecs.describe_clusters()
    assert out["clusters"] == []
    assert out["failures"] == [{"arn": f"{ARN}:cluster/default", "reason": "MISSING"}]


def test_list_clusters_pages(berth):
    ecs = client(berth, "ecs")
    names = [f"cl-{i}" for i in range(7)]
    for n in names:
        ecs.create_cluster(clusterName=n)
    ecs.delete_cluster(cluster="cl-3")
    pages, token = [], None
    while True:
        kw = {"maxResults": 2}
        if token:
            kw["nextToken"] = token
        out = ecs.list_clusters(**kw)
        pages.append(out["clusterArns"])
        token = out.get("nextToken")
        if not token:
            break
    assert all(len(p) <= 2 for p in pages)
    assert [a for p in pages for a in p] == [f"{ARN}:cluster/{n}" for n in names if n != "cl-3"]
    # The paginator the CLI uses gives the same.
    listed = [a for page in ecs.get_paginator("list_clusters").paginate(
        PaginationConfig={"PageSize": 3}) for a in page["clusterArns"]]
    assert len(listed) == 6

    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecs.list_clusters(maxResults=101)
    assert error_code(e) == "InvalidParameterException"
    assert e.value.response["Error"]["Message"] == "maxResults must be between 1 and 100."


def test_delete_cluster_refused_while_it_holds_instances_or_tasks(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster(clusterName="doomed")
    agent = fleet.add("doomed")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecs.delete_cluster(cluster="doomed")
    assert error_code(e) == "ClusterContainsContainerInstancesException"
    assert e.value.response["Error"]["Message"] == (
        "The Cluster cannot be deleted while Container Instances are active or draining.")
    agent.close()
    ecs.deregister_container_instance(cluster="doomed", containerInstance=agent.instance_arn)

    fg = fargate_definition(ecs)
    [task] = ecs.run_task(cluster="doomed", taskDefinition=fg["taskDefinitionArn"],
                          launchType="FARGATE", networkConfiguration=NETWORK)["tasks"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecs.delete_cluster(cluster=f"{ARN}:cluster/doomed")
    assert error_code(e) == "ClusterContainsTasksException"
    assert e.value.response["Error"]["Message"] == (
        "The Cluster cannot be deleted while Tasks are active.")

    stopped = ecs.stop_task(cluster="doomed", task=task["taskArn"])["task"]
    assert stopped["lastStatus"] == "STOPPED"  # never reached capacity: stopped at once
    deleted = ecs.delete_cluster(cluster="doomed")["cluster"]
    assert deleted["status"] == "INACTIVE"
    [shown] = ecs.describe_clusters(clusters=["doomed"])["clusters"]
    assert shown["status"] == "INACTIVE"
    assert f"{ARN}:cluster/doomed" not in ecs.list_clusters()["clusterArns"]
    for call in (lambda: ecs.delete_cluster(cluster="doomed"),
                 lambda: ecs.list_tasks(cluster="doomed"),
                 lambda: ecs.run_task(cluster="doomed", taskDefinition=fg["taskDefinitionArn"],
                                      launchType="FARGATE", networkConfiguration=NETWORK)):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e) == "ClusterNotFoundException"
        assert e.value.response["Error"]["Message"] == "Cluster not found."
    # The name can be used again.
    assert ecs.create_cluster(clusterName="doomed")["cluster"]["status"] == "ACTIVE"


# ---------------------------------------------------------------------------- task definitions

ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"
CE, IPE = "ClientException", "InvalidParameterException"
FARGATE = {"requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "256",
           "memory": "512"}
SM_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf"


def ports(*mappings):
    return container(portMappings=list(mappings))


def awslogs(**options):
    return {"logDriver": "awslogs", "options": options}


def secret_opts():
    return container(logConfiguration={"logDriver": "splunk", "secretOptions": [
        {"name": "splunk-token", "valueFrom": SM_ARN}]})


# (id, top-level members over {"family": "v"}, containers (None: one plain container),
#  exception, message): every rule of ecs/task_definition.cc, as it words it.
RULES = [
    ("family-chars", {"family": "bad family!"}, None, CE, "Family contains invalid characters."),
    ("no-containers", {}, [], CE, "Container list cannot be empty."),
    ("eleven-containers", {}, [container(f"c{i}") for i in range(11)], CE, "Too many containers."),
    ("network-mode", {"networkMode": "overlay"}, None, IPE,
     "Invalid value 'overlay' for networkMode. Valid values: bridge, host, awsvpc, none."),
    ("compatibility", {"requiresCompatibilities": ["MOON"]}, None, IPE,
     "Invalid value 'MOON' for requiresCompatibilities. Valid values: EC2, FARGATE, EXTERNAL."),
    ("pid-mode", {"pidMode": "shared"}, None, IPE,
     "Invalid value 'shared' for pidMode. Valid values: host, task."),
    ("ipc-mode", {"ipcMode": "shareable"}, None, IPE,
     "Invalid value 'shareable' for ipcMode. Valid values: host, task, none."),
    ("execution-role-name", {"executionRoleArn": "ecsTaskExecutionRole"}, None, CE,
     "Role is not valid"),
    ("task-role-user", {"taskRoleArn": f"arn:aws:iam::{ACCOUNT}:user/bob"}, None, CE,
     "Role is not valid"),
    ("task-cpu", {"cpu": "lots"}, None, CE, "Invalid 'cpu' setting for task."),
    ("task-memory", {"memory": "0"}, None, CE, "Invalid 'memory' setting for task."),
    ("eleven-constraints", {"placementConstraints": [
        {"type": "memberOf", "expression": "attribute:a exists"}] * 11}, None, CE,
     "Too many placement constraints."),
    ("constraint-type", {"placementConstraints": [{"type": "distinctInstance"}]}, None, IPE,
     "Invalid value 'distinctInstance' for placementConstraints.type. Valid values: memberOf."),
    ("volume-name", {"volumes": [{"name": "my data"}]}, None, CE,
     "Volume.name contains invalid characters."),
    ("volume-unique", {"volumes": [{"name": "d"}, {"name": "d"}]}, None, CE,
     "Volume names must be unique within a Task Definition."),
    ("container-name-missing", {}, [{"image": "nginx", "memory": 128}], CE,
     "Container.name should not be null or empty."),
    ("container-name-chars", {}, [container("web server")], CE,
     "Container.name contains invalid characters."),
    ("image-missing", {}, [{"name": "web", "memory": 128}], CE,
     "Container.image should not be null or empty."),
    ("image-chars", {}, [container(image="nginx latest")], CE,
     "Container.image contains invalid characters."),
    ("container-cpu", {}, [container(cpu=-1)], CE, "Invalid 'cpu' setting for container 'web'."),
    ("no-memory", {}, [container(memory=None)], CE,
     "Invalid setting for container 'web'. At least one of 'memory' or 'memoryReservation' "
     "must be specified."),
    ("memory-tiny", {}, [container(memory=4)], CE,
     "Invalid 'memory' setting for container 'web'."),
    ("reservation-tiny", {}, [container(memory=None, memoryReservation=5)], CE,
     "Invalid 'memoryReservation' setting for container 'web'."),
    ("reservation-over-memory", {}, [container(memory=128, memoryReservation=256)], CE,
     "The 'memoryReservation' setting for container 'web' is greater than its 'memory' "
     "setting."),
    ("memory-over-task", {"memory": "256"}, [container(memory=512)], CE,
     "The 'memory' setting for container 'web' is greater than for the task."),
    ("ports-with-none", {"networkMode": "none"}, [ports({"containerPort": 80})], CE,
     "When networkMode=none, containers can't have port mappings."),
    ("container-port", {}, [ports({"containerPort": 0})], CE,
     "Invalid 'containerPort' setting for container 'web'."),
    ("host-port", {}, [ports({"containerPort": 80, "hostPort": 70000})], CE,
     "Invalid 'hostPort' setting for container 'web'."),
    ("protocol", {}, [ports({"containerPort": 80, "protocol": "sctp"})], IPE,
     "Invalid value 'sctp' for protocol. Valid values: tcp, udp."),
    ("host-ports-match", {"networkMode": "host"},
     [ports({"containerPort": 80, "hostPort": 8080})], CE,
     "When networkMode=host, the host ports and container ports in port mappings must match."),
    ("awsvpc-ports-match", {"networkMode": "awsvpc"},
     [ports({"containerPort": 80, "hostPort": 8080})], CE,
     "When networkMode=awsvpc, the host ports and container ports in port mappings must match."),
    ("awsvpc-hostname", {"networkMode": "awsvpc"}, [container(hostname="web1")], CE,
     "hostname is not supported on container when networkMode=awsvpc."),
    ("host-links", {"networkMode": "host"}, [container(links=["db"])], CE,
     "links are not supported on container when networkMode=host."),
    ("credentials-empty", {"executionRoleArn": ROLE},
     [container(repositoryCredentials={"credentialsParameter": ""})], CE,
     "Invalid 'repositoryCredentials' setting for container 'web'."),
    ("credentials-need-role", {},
     [container(repositoryCredentials={"credentialsParameter": "registry"})], CE,
     "Private repository authentication requires that the task definition specify a value for "
     "executionRoleArn."),
    ("secret-empty", {"executionRoleArn": ROLE},
     [container(secrets=[{"name": "A", "valueFrom": ""}])], CE,
     "Invalid 'secrets' setting for container 'web'."),
    ("secrets-need-role", {}, [container(secrets=[{"name": "A", "valueFrom": SM_ARN}])], CE,
     "When you are specifying container secrets, you must also specify a value for "
     "'executionRoleArn'."),
    ("log-driver", {}, [container(logConfiguration={"logDriver": "loki"})], IPE,
     "Invalid value 'loki' for logDriver. Valid values: json-file, syslog, journald, gelf, "
     "fluentd, awslogs, splunk, awsfirelens."),
    ("awslogs-options", {}, [container(logConfiguration=awslogs(**{"awslogs-stream-prefix": "x"}))],
     CE, "Log driver awslogs requires options: awslogs-region, awslogs-group"),
    ("awslogs-region", {}, [container(logConfiguration=awslogs(**{"awslogs-group": "g"}))], CE,
     "Log driver awslogs requires options: awslogs-region"),
    ("log-secrets-need-role", {}, [secret_opts()], CE,
     "When you are specifying container secrets, you must also specify a value for "
     "'executionRoleArn'."),
    ("health-check", {}, [container(healthCheck={"command": []})], CE,
     "Invalid 'healthCheck' setting for container 'web'."),
    ("ulimit", {}, [container(ulimits=[{"name": "bogus", "softLimit": 1, "hardLimit": 1}])], IPE,
     "Invalid value 'bogus' for ulimits.name. Valid values: core, cpu, data, fsize, locks, "
     "memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack."),
    ("mount-point", {}, [container(mountPoints=[{"sourceVolume": "data",
                                                 "containerPath": "/data"}])], CE,
     "Invalid 'mountPoints' setting for container 'web'. Unknown volume 'data'."),
    ("duplicate-names", {}, [container(), container()], CE,
     "Container names must be unique within a Task Definition."),
    ("no-essential", {}, [container(essential=False)], CE,
     "Task definition doesn't have any essential container."),
    ("depends-missing", {}, [container(dependsOn=[{"containerName": "db",
                                                   "condition": "START"}])], CE,
     "Cannot depend on container + 'db' because it does not exist"),
    ("depends-condition", {}, [container(dependsOn=[{"containerName": "init",
                                                     "condition": "READY"}]),
                               container("init", essential=False)], IPE,
     "Invalid value 'READY' for dependsOn.condition. Valid values: START, COMPLETE, SUCCESS, "
     "HEALTHY."),
    ("depends-success-essential", {}, [container(dependsOn=[{"containerName": "init",
                                                             "condition": "SUCCESS"}]),
                                       container("init")], CE,
     "A dependency container with SUCCESS or COMPLETE condition cannot be an essential "
     "container"),
    ("volumes-from", {}, [container(volumesFrom=[{"sourceContainer": "ghost"}])], CE,
     "Invalid 'volumesFrom' setting for container 'web'. Unknown container 'ghost'."),
    ("cpu-sum", {"cpu": "256"}, [container(cpu=200), container("b", cpu=100)], CE,
     "The sum of all container 'cpu' values cannot be greater than the value of the task "
     "'cpu'."),
    ("reservation-sum", {"memory": "512"},
     [container(memory=None, memoryReservation=300),
      container("b", memory=None, memoryReservation=300)], CE,
     "The sum of all container 'memoryReservation' values cannot be greater than the value of "
     "the task 'memory'."),
    ("fargate-network", {**FARGATE, "networkMode": "bridge"}, None, CE,
     "Fargate only supports network mode \u2018awsvpc\u2019."),
    ("fargate-cpu", {k: v for k, v in FARGATE.items() if k != "cpu"}, None, CE,
     "Fargate requires that 'cpu' be defined at the task level."),
    ("fargate-memory", {k: v for k, v in FARGATE.items() if k != "memory"}, None, CE,
     "Fargate requires that 'memory' be defined at the task level."),
    ("fargate-size", {**FARGATE, "cpu": "1024", "memory": "1024"}, None, CE,
     "No Fargate configuration exists for given values: 1024 CPU, 1024 memory. See the Amazon "
     "ECS documentation for the valid values."),
    ("fargate-size-units", {**FARGATE, "cpu": "1 vCPU", "memory": "1GB"}, None, CE,
     "No Fargate configuration exists for given values: 1024 CPU, 1024 memory. See the Amazon "
     "ECS documentation for the valid values."),
    ("fargate-ipc", {**FARGATE, "ipcMode": "task"}, None, CE,
     "Tasks using the Fargate launch type do not support ipcMode."),
    ("fargate-pid-host", {**FARGATE, "pidMode": "host"}, None, CE,
     "Tasks using the Fargate launch type do not support pidMode 'host'."),
    ("fargate-host-volume", {**FARGATE, "volumes": [{"name": "d", "host": {"sourcePath": "/srv"}}]},
     None, CE, "Tasks using the Fargate launch type do not support the configuration of volume "
     "'d'."),
    ("fargate-log-driver", FARGATE, [container(logConfiguration={"logDriver": "json-file"})], CE,
     "Tasks using the Fargate launch type do not support log driver 'json-file'."),
    ("fargate-awslogs-role", FARGATE, [container(logConfiguration=awslogs(**{
        "awslogs-group": "g", "awslogs-region": REGION}))], CE,
     "Fargate requires task definition to have execution role ARN to support log driver "
     "awslogs."),
    ("fargate-privileged", FARGATE, [container(privileged=True)], CE,
     "Tasks using the Fargate launch type do not support privileged containers."),
    ("fargate-stop-timeout", FARGATE, [container(stopTimeout=121)], CE,
     "Invalid 'stopTimeout' setting for container 'web'. Fargate allows at most 120 seconds."),
    ("external-awsvpc", {"requiresCompatibilities": ["EXTERNAL"], "networkMode": "awsvpc"}, None,
     CE, "The EXTERNAL launch type does not support network mode 'awsvpc'."),
    ("fifty-one-tags", {"tags": [{"key": f"k{i}", "value": "v"} for i in range(51)]}, None, IPE,
     "A resource can have at most 50 tags."),
    ("aws-tag", {"tags": [{"key": "AWS:team", "value": "x"}]}, None, IPE,
     "Tag keys beginning with 'aws:' are reserved for AWS use."),
    ("duplicate-tag", {"tags": [{"key": "team", "value": "a"}, {"key": "team", "value": "b"}]},
     None, IPE, "Duplicate tag key 'team'."),
    ("long-tag-value", {"tags": [{"key": "team", "value": "v" * 257}]}, None, IPE,
     "Tag values must be at most 256 characters."),
]


@pytest.fixture(scope="module")
def rule_results(tmp_path_factory):
    """Every RULES request sent through the AWS CLI to one server: id ->
    (exit code, output)."""
    tmp = tmp_path_factory.mktemp("rules")
    server = Berth(tmp / "data", root=random_root_credentials())
    aws = Cli(server, str(tmp))
    results = {}
    for rid, top, containers, _, _ in RULES:
        request = {"family": "v", "containerDefinitions": [container()] if containers is None
                   else containers, **top}
        results[rid] = aws("ecs", "register-task-definition", "--cli-input-json",
                           json.dumps(request))
    results["_listed"] = aws("ecs", "list-task-definitions")
    aws.close()
    yield results
    assert server.stop() == 0


@pytest.mark.parametrize("rule", RULES, ids=[r[0] for r in RULES])
def test_register_task_definition_rule(rule_results, rule):
    rid, _, _, exception, message = rule
    code, out = rule_results[rid]
    assert code != 0, f"registered: {out}"
    assert out == cli_error(exception, "RegisterTaskDefinition", message)


def test_refused_definitions_leave_no_revision(rule_results):
    code, listed = rule_results["_listed"]
    assert code == 0 and listed["taskDefinitionArns"] == []


def test_register_task_definition_completes_what_ecs_computes(berth, cli):
    request = {
        "family": "app", "executionRoleArn": ROLE, "cpu": "1 vCPU", "memory": "2GB",
        "containerDefinitions": [container(
            "web", image=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web:1",
            repositoryCredentials={"credentialsParameter": "registry/creds"},
            memoryReservation=64, portMappings=[{"containerPort": 80}],
            logConfiguration=awslogs(**{"awslogs-group": "g", "awslogs-region": REGION}))],
        "tags": [{"key": "team", "value": "a"}]}
    out = cli.ok("ecs", "register-task-definition", "--cli-input-json", json.dumps(request))
    td = out["taskDefinition"]
    assert out["tags"] == [{"key": "team", "value": "a"}]
    assert td["taskDefinitionArn"] == f"{ARN}:task-definition/app:1"
    assert (td["family"], td["revision"], td["status"]) == ("app", 1, "ACTIVE")
    assert (td["cpu"], td["memory"]) == ("1024", "2048")  # strings, converted
    assert td["compatibilities"] == ["EXTERNAL", "EC2"]  # bridge: not FARGATE
    assert "requiresCompatibilities" not in td
    assert "networkMode" not in td
    [web] = td["containerDefinitions"]
    assert web["essential"] is True
    assert web["repositoryCredentials"] == {"credentialsParameter": "registry/creds"}
    assert td["registeredBy"] == f"arn:aws:iam::{ACCOUNT}:root"
    names = [a["name"] for a in td["requiresAttributes"]]
    for expected in (SECRETS_CAPABILITY, "com.amazonaws.ecs.capability.ecr-auth",
                     "ecs.capability.execution-role-ecr-pull",
                     "com.amazonaws.ecs.capability.logging-driver.awslogs",
                     "ecs.capability.execution-role-awslogs",
                     "com.amazonaws.ecs.capability.docker-remote-api.1.19",
                     "com.amazonaws.ecs.capability.docker-remote-api.1.21"):
        assert expected in names, names
    assert len(names) == len(set(names))

    fg = cli.ok("ecs", "register-task-definition", "--cli-input-json", json.dumps({
        "family": "fg", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
        "cpu": "512", "memory": "1024", "containerDefinitions": [
            container(memory=None, portMappings=[{"containerPort": 8080}])]}))["taskDefinition"]
    assert fg["compatibilities"] == ["EC2", "FARGATE"]
    assert fg["requiresCompatibilities"] == ["FARGATE"]
    # awsvpc: the host port is the container port.
    assert fg["containerDefinitions"][0]["portMappings"][0]["hostPort"] == 8080
    assert "ecs.capability.task-eni" in [a["name"] for a in fg["requiresAttributes"]]


def test_revisions_grow_and_describe_resolves_latest_active(berth, cli):
    defs = json.dumps([container()])

    def reg(family):
        return cli.ok("ecs", "register-task-definition", "--family", family,
                      "--container-definitions", defs)["taskDefinition"]

    assert [reg("svc")["revision"] for _ in range(3)] == [1, 2, 3]
    reg("svc-worker")
    gone = cli.ok("ecs", "deregister-task-definition", "--task-definition", "svc:3")
    assert gone["taskDefinition"]["status"] == "INACTIVE"
    assert "deregisteredAt" in gone["taskDefinition"]
    assert reg("svc")["revision"] == 4  # not 3 again
    cli.ok("ecs", "deregister-task-definition", "--task-definition", f"{ARN}:task-definition/svc:4")

    def describe(ref):
        return cli.ok("ecs", "describe-task-definition", "--task-definition", ref)["taskDefinition"]

    assert describe("svc")["revision"] == 2  # latest ACTIVE
    assert describe("svc:3")["status"] == "INACTIVE"  # still describable
    assert describe(f"{ARN}:task-definition/svc:1")["revision"] == 1

    assert cli("ecs", "describe-task-definition", "--task-definition", "nosuch") == (
        254, cli_error(CE, "DescribeTaskDefinition", "Unable to describe task definition."))
    assert cli("ecs", "describe-task-definition", "--task-definition", "svc:9") == (
        254, cli_error(CE, "DescribeTaskDefinition", "Unable to describe task definition."))
    assert cli("ecs", "describe-task-definition", "--task-definition", "svc:x") == (
        254, cli_error(IPE, "DescribeTaskDefinition", "Invalid revision number. Number: x"))
    assert cli("ecs", "deregister-task-definition", "--task-definition", "svc") == (
        254, cli_error(CE, "DeregisterTaskDefinition", "Revision is missing."))
    assert cli("ecs", "deregister-task-definition", "--task-definition", "svc:99") == (
        254, cli_error(CE, "DeregisterTaskDefinition",
                       "The specified task definition does not exist."))

    def listed(*args):
        return cli.ok("ecs", "list-task-definitions", *args)["taskDefinitionArns"]

    td = f"{ARN}:task-definition"
    assert listed() == [f"{td}/svc:1", f"{td}/svc:2", f"{td}/svc-worker:1"]
    assert listed("--family-prefix", "svc") == [f"{td}/svc:1", f"{td}/svc:2"]  # exact family
    assert listed("--family-prefix", "svc", "--sort", "DESC") == [f"{td}/svc:2", f"{td}/svc:1"]
    assert listed("--status", "INACTIVE") == [f"{td}/svc:3", f"{td}/svc:4"]
    # The CLI pages through with maxResults 1 and returns everything.
    assert listed("--page-size", "1") == [f"{td}/svc:1", f"{td}/svc:2", f"{td}/svc-worker:1"]


def test_list_task_definition_families(berth, cli):
    ecs = client(berth, "ecs")
    for family in ("api", "api-v2", "batch"):
        register(ecs, family)
    ecs.deregister_task_definition(taskDefinition="batch:1")

    def families(*args):
        return cli.ok("ecs", "list-task-definition-families", *args)["families"]

    assert families() == ["api", "api-v2", "batch"]  # default: ACTIVE and INACTIVE
    assert families("--status", "ACTIVE") == ["api", "api-v2"]
    assert families("--status", "INACTIVE") == ["batch"]
    assert families("--family-prefix", "api") == ["api", "api-v2"]  # a true prefix here
    assert families("--status", "ALL", "--page-size", "1") == ["api", "api-v2", "batch"]


# ------------------------------------------------------------------------- container instances

ATTRIBUTES = {
    "ecs.capability.secrets.asm.environment-variables": None,
    SECRETS_CAPABILITY: None,
    "ecs.os-type": "linux",
    "ecs.instance-type": "t3.large",
    "ecs.availability-zone": "us-east-1a",
    "com.amazonaws.ecs.capability.docker-remote-api.1.19": None,
    "stack": "prod",
}


def test_register_container_instance_echoes_and_reregisters(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster(clusterName="ci")
    agent = fleet.add("ci", attributes=ATTRIBUTES, cpu=4096, memory=7982,
                      instance_id="i-0abc1234def567890")
    ci = agent.registered
    arn = ci["containerInstanceArn"]
    assert arn.startswith(f"{ARN}:container-instance/ci/")
    assert len(arn.rsplit("/", 1)[1]) == 32
    assert ci["ec2InstanceId"] == "i-0abc1234def567890"
    assert ci["status"] == "ACTIVE"
    # Attributes come back exactly as sent: order, and no value where none was given.
    assert ci["attributes"] == [
        {"name": n} if v is None else {"name": n, "value": v} for n, v in ATTRIBUTES.items()]
    assert ci["versionInfo"] == {"agentVersion": "1.105.1", "agentHash": "8dfceca6",
                                 "dockerVersion": "DockerVersion: 25.0.5"}
    reg = {r["name"]: r for r in ci["registeredResources"]}
    assert reg["CPU"]["integerValue"] == 4096 and reg["MEMORY"]["integerValue"] == 7982
    assert reg["PORTS"]["stringSetValue"] == ["22", "2375", "2376", "51678", "51679"]
    version = ci["version"]

    # Re-registration (the agent restarting) keeps the ARN and replaces what it registers.
    agent.attributes = {"ecs.os-type": "linux", "stack": "staging"}
    again = agent.register(instance_arn=arn)
    assert again["containerInstanceArn"] == arn
    assert again["attributes"] == [{"name": "ecs.os-type", "value": "linux"},
                                   {"name": "stack", "value": "staging"}]
    assert again["version"] > version
    assert ecs.list_container_instances(cluster="ci")["containerInstanceArns"] == [arn]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecs.register_container_instance(
            cluster="ci", containerInstanceArn=f"{ARN}:container-instance/ci/{'0' * 32}",
            totalResources=agent.total_resources)
    assert error_code(e) == "InvalidParameterException"
    assert e.value.response["Error"]["Message"] == (
        "The referenced container instance was not found in this cluster.")


def test_describe_container_instances_remaining_resources(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    agent = fleet.add(cpu=1024, memory=2048)
    td = register(ecs, "res", [container(cpu=256, memory=512, portMappings=[
        {"containerPort": 80, "hostPort": 8080}])])
    [task] = ecs.run_task(taskDefinition=td["taskDefinitionArn"])["tasks"]
    assert task["containerInstanceArn"] == agent.instance_arn

    out = ecs.describe_container_instances(containerInstances=[
        agent.instance_arn, agent.instance_arn.rsplit("/", 1)[1] + "0"])
    assert out["failures"] == [{
        "arn": f"{ARN}:container-instance/default/{agent.instance_arn.rsplit('/', 1)[1]}0",
        "reason": "MISSING"}]
    [ci] = out["containerInstances"]
    remaining = {r["name"]: r for r in ci["remainingResources"]}
    assert remaining["CPU"]["integerValue"] == 1024 - 256
    assert remaining["MEMORY"]["integerValue"] == 2048 - 512
    assert sorted(remaining["PORTS"]["stringSetValue"], key=int) == [
        "22", "2375", "2376", "8080", "51678", "51679"]
    assert (ci["pendingTasksCount"], ci["runningTasksCount"]) == (1, 0)
    registered = {r["name"]: r["integerValue"] for r in ci["registeredResources"]
                  if r["type"] == "INTEGER"}
    assert registered == {"CPU": 1024, "MEMORY": 2048}
    # The instance's id alone names it too.
    [by_id] = ecs.describe_container_instances(
        containerInstances=[agent.instance_arn.rsplit("/", 1)[1]])["containerInstances"]
    assert by_id["containerInstanceArn"] == agent.instance_arn


def test_list_container_instances_filter_and_status(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster(clusterName="f")
    large = fleet.add("f", attributes={"ecs.instance-type": "t3.large", "stack": "prod",
                                       "zone": "a"})
    small = fleet.add("f", attributes={"ecs.instance-type": "t3.small", "stack": "dev",
                                       "zone": "b"}, agent_version="1.18.0")
    gpu = fleet.add("f", attributes={"ecs.instance-type": "g4dn.xlarge", "zone": "c",
                                     "gpu": None})

    def listed(filter=None, status=None):
        kw = {"cluster": "f"}
        if filter is not None:
            kw["filter"] = filter
        if status is not None:
            kw["status"] = status
        return sorted(ecs.list_container_instances(**kw)["containerInstanceArns"])

    def arns(*agents):
        return sorted(a.instance_arn for a in agents)

    assert listed() == arns(large, small, gpu)
    assert listed("attribute:ecs.instance-type == t3.large") == arns(large)
    assert listed("attribute:ecs.instance-type =~ t3.*") == arns(large, small)
    assert listed("attribute:zone in [a, c]") == arns(large, gpu)
    assert listed("attribute:gpu exists") == arns(gpu)
    assert listed("attribute:stack != prod") == arns(small)  # only those that have `stack`
    assert listed("!(attribute:stack exists) || attribute:stack == dev") == arns(small, gpu)
    assert listed("attribute:zone == a && attribute:stack == prod") == arns(large)
    assert listed("agentVersion < 1.19.0") == arns(small)

    with pytest.raises(botocore.exceptions.ClientError) as e:
        listed("attribute:zone ==")
    assert error_code(e) == "InvalidParameterException"

    ecs.update_container_instances_state(cluster="f", containerInstances=[small.instance_arn],
                                         status="DRAINING")
    assert listed(status="DRAINING") == arns(small)
    assert listed(status="ACTIVE") == arns(large, gpu)
    assert listed() == arns(large, small, gpu)  # no status: every registered instance

    pages = ecs.list_container_instances(cluster="f", maxResults=2)
    assert len(pages["containerInstanceArns"]) == 2 and pages["nextToken"]
    rest = ecs.list_container_instances(cluster="f", maxResults=2, nextToken=pages["nextToken"])
    assert sorted(pages["containerInstanceArns"] + rest["containerInstanceArns"]) == \
        arns(large, small, gpu)


def test_draining_instance_gets_no_tasks(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    draining = fleet.add()
    active = fleet.add()
    out = ecs.update_container_instances_state(containerInstances=[draining.instance_arn],
                                               status="DRAINING")
    assert out["containerInstances"][0]["status"] == "DRAINING"
    assert out["failures"] == []
    td = register(ecs, "drain")
    tasks = ecs.run_task(taskDefinition=td["taskDefinitionArn"], count=6)["tasks"]
    assert len(tasks) == 6
    assert {t["containerInstanceArn"] for t in tasks} == {active.instance_arn}

    ecs.update_container_instances_state(containerInstances=[active.instance_arn],
                                         status="DRAINING")
    out = ecs.run_task(taskDefinition=td["taskDefinitionArn"])
    assert out["tasks"] == []

    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecs.update_container_instances_state(containerInstances=[active.instance_arn],
                                             status="REGISTERING")
    assert error_code(e) == "InvalidParameterException"
    assert e.value.response["Error"]["Message"] == (
        "Container instances status should be one of [ACTIVE,DRAINING]")


def test_deregister_container_instance_with_and_without_force(berth, fleet):
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    busy = fleet.add()
    idle = fleet.add()
    td = register(ecs, "dereg")
    ecs.update_container_instances_state(containerInstances=[idle.instance_arn],
                                         status="DRAINING")
    [task] = ecs.run_task(taskDefinition=td["taskDefinitionArn"])["tasks"]
    assert task["containerInstanceArn"] == busy.instance_arn

    out = ecs.deregister_container_instance(containerInstance=idle.instance_arn)
    assert out["containerInstance"]["status"] == "INACTIVE"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecs.deregister_container_instance(containerInstance=busy.instance_arn)
    assert error_code(e) == "InvalidParameterException"
    assert e.value.response["Error"]["Message"] == (
        "Found running tasks on the instance; deregister with force to leave them running "
        "without a container instance.")
    out = ecs.deregister_container_instance(containerInstance=busy.instance_arn, force=True)
    assert out["containerInstance"]["status"] == "INACTIVE"

    assert ecs.list_container_instances()["containerInstanceArns"] == []
    [shown] = ecs.describe_container_instances(
        containerInstances=[busy.instance_arn])["containerInstances"]
    assert shown["status"] == "INACTIVE"
    assert shown["agentConnected"] is False
    # The task is left as it was.
    [left] = ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"]
    assert left["desiredStatus"] == "RUNNING"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecs.deregister_container_instance(containerInstance=busy.instance_arn, force=True)
    assert error_code(e) == "InvalidParameterException"
    assert e.value.response["Error"]["Message"] == (
        "The referenced container instance was not found.")
