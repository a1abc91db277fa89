"""`berth agent --hollow` (the control-plane benchmarks' agents, bench/service_bench.py): the
real agent and ACS protocol with containers and networks kept in memory and nothing pulled. A
service's tasks run on it and stop; asm-auth still reads the registry secret with the
execution role; the host gets no bridge, namespace or mount. Needs no root."""
import json
import time

from agent_harness import BerthAgent, bridge_leftovers, leftovers
from ecs_harness import client, make_role


def test_hollow_agents_run_a_services_tasks_without_touching_the_host(berth, tmp_path):
    agents = [BerthAgent(berth, tmp_path, args=["--hollow"], user=f"hollow-{i}")
              for i in range(2)]
    try:
        sm, ecs = client(berth, "secretsmanager"), client(berth, "ecs")
        secret = sm.create_secret(Name="registry/team", SecretString=json.dumps(
            {"username": "team", "password": "pw"}))["ARN"]
        role = make_role(client(berth, "iam"), "exec", policy={
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                "Resource": secret}]})
        image = "registry.example.com:5000/team/api:1.4"
        td = ecs.register_task_definition(family="web", executionRoleArn=role,
                                          containerDefinitions=[{
                                              "name": "app", "image": image, "memory": 32,
                                              "repositoryCredentials": {
                                                  "credentialsParameter": secret}}])
        ecs.create_service(serviceName="web", desiredCount=20,
                           taskDefinition=td["taskDefinition"]["taskDefinitionArn"])
        ecs.get_waiter("services_stable").wait(services=["web"],
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        arns = ecs.list_tasks(serviceName="web")["taskArns"]
        tasks = ecs.describe_tasks(tasks=arns)["tasks"]
        assert len(tasks) == 20 and {t["lastStatus"] for t in tasks} == {"RUNNING"}
        assert {t["containerInstanceArn"] for t in tasks} == {a.instance_arn for a in agents}
        digests = {c["imageDigest"] for t in tasks for c in t["containers"]}
        assert len(digests) == 1 and digests.pop().startswith("sha256:")

        # The execution role read the secret (the agents' GetSecretValue); a role that may not
        # read it fails the task as a real agent would.
        bad = make_role(client(berth, "iam"), "no-secrets")
        td2 = ecs.register_task_definition(family="bad", executionRoleArn=bad,
                                           containerDefinitions=[{
                                               "name": "app", "image": image, "memory": 32,
                                               "repositoryCredentials": {
                                                   "credentialsParameter": secret}}])
        [task] = ecs.run_task(taskDefinition=td2["taskDefinition"]["taskDefinitionArn"])["tasks"]
        ecs.get_waiter("tasks_stopped").wait(tasks=[task["taskArn"]],
                                             WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        [task] = ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"]
        assert task["stoppedReason"].startswith(
            "ResourceInitializationError: unable to pull secrets or registry auth"), task
        assert "AccessDeniedException" in task["stoppedReason"], task

        ecs.update_service(service="web", desiredCount=0)
        deadline = time.time() + 60
        while time.time() < deadline:
            svc = ecs.describe_services(services=["web"])["services"][0]
            if svc["runningCount"] + svc["pendingCount"] == 0:
                break
            time.sleep(0.2)
        stopped = ecs.describe_tasks(tasks=arns)["tasks"]
        assert {t["lastStatus"] for t in stopped} == {"STOPPED"}
        ecs.delete_service(service="web")
    finally:
        for a in agents:
            a.stop()
    for a in agents:
        assert leftovers(a.bridge, a.data_dir) == []
        assert bridge_leftovers(a.bridge) == []


def test_a_hollow_agent_reports_container_health_over_tcs(berth, tmp_path):
    agent = BerthAgent(berth, tmp_path, args=["--hollow"], user="hollow-health")
    try:
        ecs = client(berth, "ecs")
        td = ecs.register_task_definition(family="checked", containerDefinitions=[{
            "name": "app", "image": "registry.example.com:5000/team/api:1.4", "memory": 32,
            "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2,
                            "retries": 1}}])["taskDefinition"]["taskDefinitionArn"]
        [task] = ecs.run_task(taskDefinition=td)["tasks"]
        assert task["healthStatus"] == "UNKNOWN"
        deadline = time.time() + 30
        while time.time() < deadline:
            [t] = ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"]
            if t["healthStatus"] == "HEALTHY":
                break
            time.sleep(0.2)
        assert (t["lastStatus"], t["healthStatus"]) == ("RUNNING", "HEALTHY"), t
        assert t["containers"][0]["healthStatus"] == "HEALTHY"
        ecs.stop_task(task=task["taskArn"])
    finally:
        agent.stop()
