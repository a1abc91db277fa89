"""ECS services end to end through /usr/bin/aws: create-service, `aws ecs wait services-stable`,
a task that dies and is replaced, a rolling update, deletion, events. The test agents of
ecs_agent.py report their tasks as an ECS agent would (RUNNING when sent, STOPPED when told to
stop); no container runs."""
import json
import re
import threading
import time

import pytest

from ecs_harness import ARN, cli_error, client, container, register, task_id


class Responder:
    """Answers for one agent what its containers would: each task it is sent to run is RUNNING,
    each task it is told to stop is STOPPED."""

    def __init__(self, agent):
        self.agent = agent
        self.seen = 0
        self.done = set()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            with self.agent._cv:
                new = self.agent.payload_tasks[self.seen:]
                self.seen += len(new)
            for t in new:
                status = "RUNNING" if t.get("desiredStatus") == "RUNNING" else "STOPPED"
                if (t["arn"], status) in self.done or (t["arn"], "STOPPED") in self.done:
                    continue
                self.done.add((t["arn"], status))
                containers = [{"containerName": c["name"], "status": status}
                              for c in t.get("containers") or []]
                try:
                    self.agent.report(t["arn"], status, containers)
                except Exception:  # the task was swept or the server is stopping
                    pass
            time.sleep(0.05)

    def close(self):
        self.stopping.set()
        self.thread.join(5)


@pytest.fixture
def agents(berth, fleet):
    """Two connected agents of the default cluster with responders; they run health checks
    (ecs.capability.container-health-check), as berth's agent does."""
    ecs = client(berth, "ecs")
    ecs.create_cluster()
    added = [fleet.add(attributes={"ecs.capability.container-health-check": None})
             for _ in range(2)]
    if not fleet.acs:
        pytest.skip("berth does not serve the agent protocol (GET /ws) yet")
    responders = [Responder(a) for a in added]
    yield added
    for r in responders:
        r.close()


def service_tasks(cli, service):
    arns = cli.ok("ecs", "list-tasks", "--service-name", service)["taskArns"]
    if not arns:
        return []
    return cli.ok("ecs", "describe-tasks", "--tasks", *arns)["tasks"]


def describe(cli, service):
    return cli.ok("ecs", "describe-services", "--services", service)["services"][0]


def messages(cli, service):
    return [e["message"] for e in describe(cli, service)["events"]]


def eventually(predicate, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def test_a_service_becomes_stable_and_replaces_a_task_that_dies(berth, agents, cli):
    ecs = client(berth, "ecs")
    register(ecs, "web")
    svc = cli.ok("ecs", "create-service", "--service-name", "web", "--task-definition", "web",
                 "--desired-count", "3", "--tags", "key=team,value=blue", "--propagate-tags",
                 "SERVICE")["service"]
    assert svc["serviceArn"] == f"{ARN}:service/default/web"
    assert svc["clusterArn"] == f"{ARN}:cluster/default"
    assert svc["status"] == "ACTIVE"
    assert svc["desiredCount"] == 3
    assert svc["taskDefinition"] == f"{ARN}:task-definition/web:1"
    assert svc["schedulingStrategy"] == "REPLICA"
    assert svc["launchType"] == "EC2"
    assert svc["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200, "minimumHealthyPercent": 100}
    [deployment] = svc["deployments"]
    assert re.fullmatch(r"ecs-svc/\d{19}", deployment["id"])
    assert deployment["status"] == "PRIMARY"
    assert deployment["rolloutState"] == "IN_PROGRESS"

    cli.ok("ecs", "wait", "services-stable", "--services", "web")
    described = describe(cli, "web")
    assert (described["runningCount"], described["pendingCount"]) == (3, 0)
    [d] = described["deployments"]
    assert (d["id"], d["rolloutState"], d["runningCount"]) == (deployment["id"], "COMPLETED", 3)
    events = [e["message"] for e in described["events"]]
    assert events[0] == "(service web) has reached a steady state."
    assert any(m.startswith("(service web) has started 3 tasks: (task ") for m in events)
    tasks = service_tasks(cli, "web")
    assert len(tasks) == 3
    for t in tasks:
        assert (t["group"], t["startedBy"], t["lastStatus"]) == (
            "service:web", deployment["id"], "RUNNING")
    [tagged] = cli.ok("ecs", "describe-tasks", "--tasks", tasks[0]["taskArn"], "--include",
                      "TAGS")["tasks"]
    assert tagged["tags"] == [{"key": "team", "value": "blue"}]
    assert cli.ok("ecs", "list-tags-for-resource", "--resource-arn", svc["serviceArn"])[
        "tags"] == [{"key": "team", "value": "blue"}]
    clusters = cli.ok("ecs", "describe-clusters")["clusters"]
    assert clusters[0]["activeServicesCount"] == 1

    # One task's essential container dies: a replacement runs and the service is stable again.
    victim = tasks[0]
    agent = next(a for a in agents if a.instance_arn == victim["containerInstanceArn"])
    agent.report(victim["taskArn"], "STOPPED",
                 [{"containerName": "web", "status": "STOPPED", "exitCode": 137}])
    assert eventually(lambda: any(m.startswith("(service web) has started 1 tasks: (task ")
                                  for m in messages(cli, "web")))
    cli.ok("ecs", "wait", "services-stable", "--services", "web")
    now = service_tasks(cli, "web")
    assert len(now) == 3
    assert victim["taskArn"] not in {t["taskArn"] for t in now}
    assert all(t["lastStatus"] == "RUNNING" for t in now)


def test_a_rolling_update_replaces_every_task_and_tells_the_story(berth, agents, cli):
    ecs = client(berth, "ecs")
    register(ecs, "web")
    cli.ok("ecs", "create-service", "--service-name", "web", "--task-definition", "web",
           "--desired-count", "2")
    cli.ok("ecs", "wait", "services-stable", "--services", "web")
    register(ecs, "web", [container(memory=192)])
    updated = cli.ok("ecs", "update-service", "--service", "web", "--task-definition",
                     "web:2")["service"]
    assert [d["status"] for d in updated["deployments"]] == ["PRIMARY", "ACTIVE"]
    new = updated["deployments"][0]["id"]
    assert updated["deployments"][0]["taskDefinition"] == f"{ARN}:task-definition/web:2"
    cli.ok("ecs", "wait", "services-stable", "--services", "web")
    described = describe(cli, "web")
    [d] = described["deployments"]
    assert (d["id"], d["rolloutState"]) == (new, "COMPLETED")
    tasks = service_tasks(cli, "web")
    assert {t["taskDefinitionArn"] for t in tasks} == {f"{ARN}:task-definition/web:2"}
    events = [e["message"] for e in described["events"]]
    assert f"(service web) (deployment {new}) deployment completed." in events
    # The old tasks stop as new ones run (in one or more steps).
    stopped = [re.fullmatch(r"\(service web\) has stopped (\d+) running tasks: (.*)\.", m)
               for m in events]
    assert sum(int(m.group(1)) for m in stopped if m) == 2


def test_deleting_a_service_drains_it_and_frees_its_name(berth, agents, cli):
    ecs = client(berth, "ecs")
    register(ecs, "web")
    cli.ok("ecs", "create-service", "--service-name", "web", "--task-definition", "web",
           "--desired-count", "2")
    cli.ok("ecs", "wait", "services-stable", "--services", "web")
    code, out = cli("ecs", "delete-service", "--service", "web")
    assert code != 0
    assert cli_error("InvalidParameterException", "DeleteService",
                     "The service cannot be stopped while it is scaled above 0.") in out
    code, out = cli("ecs", "delete-cluster", "--cluster", "default")
    assert cli_error("ClusterContainsServicesException", "DeleteCluster",
                     "The Cluster cannot be deleted while Services are active.") in out
    code, out = cli("ecs", "create-service", "--service-name", "web", "--task-definition", "web",
                    "--desired-count", "1")
    assert cli_error("InvalidParameterException", "CreateService",
                     "Creation of service was not idempotent.") in out

    deleted = cli.ok("ecs", "delete-service", "--service", "web", "--force")["service"]
    assert (deleted["status"], deleted["desiredCount"]) == ("DRAINING", 0)
    cli.ok("ecs", "wait", "services-inactive", "--services", "web")
    assert cli.ok("ecs", "list-tasks", "--service-name", "web")["taskArns"] == []
    stopped = cli.ok("ecs", "list-tasks", "--service-name", "web", "--desired-status",
                     "STOPPED")["taskArns"]
    assert len(stopped) == 2
    [t] = cli.ok("ecs", "describe-tasks", "--tasks", stopped[0])["tasks"]
    assert t["stoppedReason"].startswith("Scaling activity initiated by (deployment ecs-svc/")
    assert cli.ok("ecs", "list-services")["serviceArns"] == []
    missing = cli.ok("ecs", "describe-services", "--services", "nope")
    assert missing["failures"] == [{"arn": f"{ARN}:service/default/nope", "reason": "MISSING"}]

    again = cli.ok("ecs", "create-service", "--service-name", "web", "--task-definition", "web",
                   "--desired-count", "1")["service"]
    assert again["status"] == "ACTIVE"
    assert task_id(again["serviceArn"]) == "web"


def health_checked(ecs, family="web"):
    return register(ecs, family, [container(name="web", healthCheck={
        "command": ["CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"], "interval": 5,
        "timeout": 2, "retries": 2})])


def test_health_reported_over_tcs_decides_steady_state_and_replaces_unhealthy_tasks(
        berth, agents, cli):
    ecs = client(berth, "ecs")
    health_checked(ecs)
    cli.ok("ecs", "create-service", "--service-name", "web", "--task-definition", "web",
           "--desired-count", "2")
    tasks = eventually(lambda: (lambda t: t if len(t) == 2 and all(
        x["lastStatus"] == "RUNNING" for x in t) else None)(service_tasks(cli, "web")))
    assert tasks, "the tasks did not run"
    assert {t["healthStatus"] for t in tasks} == {"UNKNOWN"}
    assert {t["containers"][0]["healthStatus"] for t in tasks} == {"UNKNOWN"}
    # RUNNING is not enough while their health is UNKNOWN: no steady state.
    time.sleep(2)
    svc = describe(cli, "web")
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert not any("steady state" in m for m in messages(cli, "web"))

    # Each agent reports its own tasks HEALTHY over TCS (PublishHealthRequest).
    by_agent = {a.instance_arn: a for a in agents}
    for t in tasks:
        reply = by_agent[t["containerInstanceArn"]].publish_health(
            {t["taskArn"]: {"web": "HEALTHY"}})
        assert reply == ("AckPublishHealth", {"message": ""})
    cli.ok("ecs", "wait", "services-stable", "--services", "web")
    tasks = service_tasks(cli, "web")
    assert {t["healthStatus"] for t in tasks} == {"HEALTHY"}
    # (The waiter counts RUNNING tasks only, as AWS's does; the steady state follows health.)
    assert eventually(lambda: messages(cli, "web")[0] ==
                      "(service web) has reached a steady state.")

    # An agent cannot set the health of another instance's task: ignored.
    victim = tasks[0]
    other = next(a for a in agents if a.instance_arn != victim["containerInstanceArn"])
    assert other.publish_health({victim["taskArn"]: {"web": "UNHEALTHY"}})[0] == "AckPublishHealth"
    assert service_tasks(cli, "web")[0]["healthStatus"] == "HEALTHY"
    # A status ECS does not know is refused by name.
    mine = by_agent[victim["containerInstanceArn"]]
    assert mine.publish_health({victim["taskArn"]: {"web": "SICK"}}) == (
        "InvalidParameterException", {"message": "Invalid health status: SICK"})

    # Its own agent reports it UNHEALTHY: the service stops and replaces it, in ECS's words.
    assert mine.publish_health({victim["taskArn"]: {"web": "UNHEALTHY"}})[0] == "AckPublishHealth"
    vid = task_id(victim["taskArn"])
    assert eventually(lambda: f"(service web) (task {vid}) failed container health checks."
                      in messages(cli, "web"))
    [stopped] = cli.ok("ecs", "describe-tasks", "--tasks", victim["taskArn"])["tasks"]
    assert stopped["stoppedReason"] == "Task failed container health checks"
    assert stopped["healthStatus"] == "UNHEALTHY"
    fresh = eventually(lambda: [t for t in service_tasks(cli, "web")
                                if t["taskArn"] != victim["taskArn"] and
                                t["healthStatus"] == "UNKNOWN" and t["lastStatus"] == "RUNNING"])
    assert len(fresh) == 1
    by_agent[fresh[0]["containerInstanceArn"]].publish_health(
        {fresh[0]["taskArn"]: {"web": "HEALTHY"}})
    cli.ok("ecs", "wait", "services-stable", "--services", "web")
    assert describe(cli, "web")["deployments"][0]["failedTasks"] == 1


def test_the_telemetry_session_is_signed_and_authorized_on_the_instance(berth, agents):
    from ecs_agent import UpgradeRefused
    agent = agents[0]
    url = agent.telemetry_url()
    headers = agent.signed_headers(url)
    # A signature that does not match does not open it.
    tampered = dict(headers)
    tampered["Authorization"] = headers["Authorization"][:-4] + "0000"
    with pytest.raises(UpgradeRefused) as refused:
        agent.telemetry([("HeartbeatMessage", {"healthy": True})], headers=tampered, replies=0)
    assert refused.value.status == 403
    assert b"InvalidSignatureException" in refused.value.body
    # A user without ecs:StartTelemetrySession is refused, naming the action.
    iam = client(berth, "iam")
    iam.create_user(UserName="poller")
    iam.put_user_policy(UserName="poller", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
            "ecs:Poll", "ecs:DiscoverPollEndpoint"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName="poller")["AccessKey"]
    from ecs_agent import Agent
    spy = Agent(berth.endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    spy.instance_arn, spy.cluster_arn = agent.instance_arn, agent.cluster_arn
    with pytest.raises(UpgradeRefused) as refused:
        spy.telemetry([("HeartbeatMessage", {"healthy": True})], replies=0)
    assert refused.value.status == 403
    assert b"ecs:StartTelemetrySession" in refused.value.body
    # Metrics and instance status are acknowledged; nonsense is answered, not fatal.
    assert agent.telemetry([("PublishMetricsRequest", {"metadata": {}, "taskMetrics": []}),
                            ("PublishInstanceStatusRequest", {"statuses": []}),
                            ("Nonsense", {})]) == [
        ("AckPublishMetric", {"message": ""}), ("AckPublishInstanceStatus", {"message": ""}),
        ("BadRequestException", {"message": "Unknown message type: Nonsense"})]
