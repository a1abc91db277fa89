"""Many connections writing one record at once, and the check that every
acknowledged write is there afterwards (no lost update, no partial state).

Used by tests/e2e/test_contention.py (short runs) and bench/contention_bench.py
(the load suite). Each workload is one hot write on one record:

- "secret": Secrets Manager PutSecretValue on one secret; connection i sends
  versions whose ClientRequestToken (the version id) names i and a sequence number.
- "kms-tags": KMS TagResource on one key; connection i writes tag t<i % 50>
  (a key holds at most 50 tags) with the value "<i>.<n>", n increasing.
- "role-policy": IAM PutRolePolicy on one role; connection i writes policy p<i>
  whose statement Sid is S<n>, n increasing.
- "role-tags": IAM TagRole on one role, tags as for "kms-tags" (an entity write
  that PutRolePolicy's commit is conditioned on).
- "ecs-task-state": ECS SubmitTaskStateChange in one cluster, as many agents
  report at once: connection i reports on its own task (of 64 tasks placed on
  one container instance the same identity registered, with no agent: only the
  instance's owner may report its tasks), a container reason "<i>.<n>", n
  increasing. Every write to one cluster takes its index lock; each task's
  `version` must count exactly the acknowledged reports.

Each connection is a thread with one persistent http.client connection and at
most one request in flight, so a connection's writes commit in the order it
sent them. After the load, `verify` reads the record back.
"""
import http.client
import json
import re
import threading
import time
import urllib.parse

from berth_harness import sign
from ecs_agent import Agent

REGION = "us-east-1"
MAX_SECRET_VERSIONS = 100  # secrets::kMaxVersions: older deprecated versions are dropped
MAX_TAGS = 50  # a KMS key's or an IAM role's


class Api:
    """Signed calls on one persistent connection."""

    def __init__(self, endpoint, key, secret):
        self.endpoint = endpoint.rstrip("/") + "/"
        self.key, self.secret = key, secret
        parts = urllib.parse.urlsplit(self.endpoint)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)

    def json(self, service, target, payload):
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
        status, reply = self._send(service, headers, body)
        return status, (json.loads(reply) if reply else {})

    def query(self, service, params):
        body = urllib.parse.urlencode(params).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        return self._send(service, headers, body)

    def _send(self, service, headers, body):
        headers = sign("POST", self.endpoint, headers, body, self.key, self.secret, REGION, service)
        headers.pop("Host")
        self.conn.request("POST", "/", body, headers)
        res = self.conn.getresponse()
        return res.status, res.read()

    def close(self):
        self.conn.close()


def _ok(status, reply, what):
    if status != 200:
        raise AssertionError(f"{what} answered {status}: {reply!r}")
    return reply


# ---------------------------------------------------------------- workloads

class SecretWorkload:
    name = "secretsmanager:PutSecretValue"

    def setup(self, api, run_id):
        created = _ok(*api.json("secretsmanager", "secretsmanager.CreateSecret", {
            "Name": f"contention-{run_id}", "SecretString": "initial"}), "CreateSecret")
        self.secret_id, self.initial = created["ARN"], created["VersionId"]
        self.run_id = run_id

    def item(self, conn, n):  # the version id (ClientRequestToken), also the value
        return f"{self.run_id}-{conn:04d}-{n:010d}".rjust(32, "0")

    def write(self, api, token):
        status, reply = api.json("secretsmanager", "secretsmanager.PutSecretValue", {
            "SecretId": self.secret_id, "ClientRequestToken": token, "SecretString": token})
        if status == 200 and reply.get("VersionId") != token:
            raise AssertionError(f"PutSecretValue acknowledged {reply!r} for {token}")
        return status, reply

    def verify(self, api, acked, unsure):
        """acked[i]: connection i's acknowledged version ids in order; unsure: ids
        sent without an answer (a killed server), which may or may not be there."""
        listed, marker = [], None
        while True:
            req = {"SecretId": self.secret_id, "IncludeDeprecated": True, "MaxResults": 100}
            if marker:
                req["NextToken"] = marker
            page = _ok(*api.json("secretsmanager", "secretsmanager.ListSecretVersionIds", req),
                       "ListSecretVersionIds")
            listed += page["Versions"]
            marker = page.get("NextToken")
            if not marker:
                break
        ids = {v["VersionId"] for v in listed}
        every = {t for seq in acked for t in seq}
        errors = []
        strays = ids - every - set(unsure) - {self.initial}
        if strays:
            errors.append(f"versions nobody wrote: {sorted(strays)[:5]}")
        if len(ids) < min(MAX_SECRET_VERSIONS, len(every) + 1):
            errors.append(f"{len(ids)} versions listed, {len(every)} acknowledged")
        for i, seq in enumerate(acked):
            kept = [t for t in seq if t in ids]
            if seq and seq[-1] not in ids:
                errors.append(f"connection {i}: its last acknowledged version {seq[-1]} is gone")
            elif kept != seq[len(seq) - len(kept):]:
                errors.append(f"connection {i}: acknowledged versions missing between kept ones")
        for v in listed:  # no partial state: every version listed has its value
            got = api.json("secretsmanager", "secretsmanager.GetSecretValue",
                           {"SecretId": self.secret_id, "VersionId": v["VersionId"]})
            want = "initial" if v["VersionId"] == self.initial else v["VersionId"]
            if got[0] != 200 or got[1].get("SecretString") != want:
                errors.append(f"version {v['VersionId']} does not read back: {got}")
                break
        current = [v["VersionId"] for v in listed if "AWSCURRENT" in v.get("VersionStages", [])]
        lasts = {seq[-1] for seq in acked if seq} | set(unsure)
        if len(current) != 1 or (lasts and current[0] not in lasts):
            errors.append(f"AWSCURRENT is {current}, not a connection's last write")
        elif lasts:
            value = _ok(*api.json("secretsmanager", "secretsmanager.GetSecretValue",
                                  {"SecretId": self.secret_id}), "GetSecretValue")
            if value.get("SecretString") != current[0]:
                errors.append("AWSCURRENT's value is not the one written with it")
        return errors


class KmsTagWorkload:
    name = "kms:TagResource"

    def setup(self, api, run_id):
        self.key_id = _ok(*api.json("kms", "TrentService.CreateKey", {
            "Description": f"contention {run_id}"}), "CreateKey")["KeyMetadata"]["KeyId"]

    def item(self, conn, n):  # the tag's value
        return f"{conn}.{n}"

    def write(self, api, value):
        slot = int(value.split(".")[0]) % MAX_TAGS
        return api.json("kms", "TrentService.TagResource", {
            "KeyId": self.key_id, "Tags": [{"TagKey": f"t{slot}", "TagValue": value}]})

    def verify(self, api, acked, unsure):
        tags = _ok(*api.json("kms", "TrentService.ListResourceTags",
                             {"KeyId": self.key_id, "Limit": 50}), "ListResourceTags")["Tags"]
        return verify_tag_slots({t["TagKey"]: t["TagValue"] for t in tags}, acked, unsure)


def verify_tag_slots(final, acked, unsure):
    """Tag t<slot> (written by the connections i with i % 50 == slot, values
    "<i>.<n>") holds the last acknowledged write of one of them (or a write
    left unanswered)."""
    errors = []
    for slot in range(min(MAX_TAGS, len(acked))):
        sharing = range(slot, len(acked), MAX_TAGS)
        allowed = {acked[i][-1] for i in sharing if acked[i]}
        allowed |= {v for v in unsure if int(v.split(".")[0]) % MAX_TAGS == slot}
        got = final.get(f"t{slot}")
        if allowed and got not in allowed:
            errors.append(f"tag t{slot} is {got!r}, not a last acknowledged {sorted(allowed)}")
    return errors


class RolePolicyWorkload:
    name = "iam:PutRolePolicy"

    def setup(self, api, run_id):
        self.role = f"contention-{run_id}"
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}
        _ok(*api.query("iam", {"Action": "CreateRole", "Version": "2010-05-08",
                               "RoleName": self.role,
                               "AssumeRolePolicyDocument": json.dumps(trust)}), "CreateRole")

    @staticmethod
    def document(n):
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": f"S{n}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})

    def item(self, conn, n):
        return (conn, n)

    def write(self, api, item):
        return api.query("iam", {
            "Action": "PutRolePolicy", "Version": "2010-05-08", "RoleName": self.role,
            "PolicyName": f"p{item[0]}", "PolicyDocument": self.document(item[1])})

    def verify(self, api, acked, unsure):
        errors = []
        for i, seq in enumerate(acked):
            allowed = {seq[-1][1]} if seq else set()
            allowed |= {n for c, n in unsure if c == i}
            if not allowed:
                continue
            status, reply = api.query("iam", {"Action": "GetRolePolicy", "Version": "2010-05-08",
                                              "RoleName": self.role, "PolicyName": f"p{i}"})
            doc = re.search(rb"<PolicyDocument>([^<]*)</PolicyDocument>", reply)
            sid = re.search(r'"Sid":\s*"S(\d+)"', urllib.parse.unquote(doc.group(1).decode())) \
                if status == 200 and doc else None
            if not sid or int(sid.group(1)) not in allowed:
                errors.append(f"policy p{i} holds {sid and sid.group(0)}, not S{sorted(allowed)}")
        return errors


class RoleTagWorkload(RolePolicyWorkload):
    name = "iam:TagRole"

    def item(self, conn, n):  # the tag's value
        return f"{conn}.{n}"

    def write(self, api, value):
        slot = int(value.split(".")[0]) % MAX_TAGS
        return api.query("iam", {"Action": "TagRole", "Version": "2010-05-08",
                                 "RoleName": self.role, "Tags.member.1.Key": f"t{slot}",
                                 "Tags.member.1.Value": value})

    def verify(self, api, acked, unsure):
        reply = _ok(*api.query("iam", {"Action": "ListRoleTags", "Version": "2010-05-08",
                                       "RoleName": self.role, "MaxItems": "1000"}), "ListRoleTags")
        final = dict(re.findall(rb"<Key>([^<]*)</Key>\s*<Value>([^<]*)</Value>", reply))
        return verify_tag_slots({k.decode(): v.decode() for k, v in final.items()}, acked, unsure)


ECS = "AmazonEC2ContainerServiceV20141113."
ECS_TASKS = 64


class TaskStateWorkload:
    name = "ecs:SubmitTaskStateChange"

    def setup(self, api, run_id):
        self.cluster = f"contention-{run_id}"
        _ok(*api.json("ecs", ECS + "CreateCluster", {"clusterName": self.cluster}),
            "CreateCluster")
        # The instance's agent connects for as long as RunTask places the tasks.
        agent = Agent(api.endpoint, api.key, api.secret, region=REGION, cluster=self.cluster,
                      attributes={"ecs.os-type": "linux"}, memory=8 * ECS_TASKS)
        agent.register()
        agent.connect()
        td = _ok(*api.json("ecs", ECS + "RegisterTaskDefinition", {
            "family": f"contention-{run_id}",
            "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 8}]}),
            "RegisterTaskDefinition")["taskDefinition"]["taskDefinitionArn"]
        self.tasks = []
        while len(self.tasks) < ECS_TASKS:
            out = _ok(*api.json("ecs", ECS + "RunTask", {
                "cluster": self.cluster, "taskDefinition": td,
                "count": min(10, ECS_TASKS - len(self.tasks))}), "RunTask")
            if out["failures"]:
                raise AssertionError(f"RunTask: {out['failures']}")
            self.tasks += [t["taskArn"] for t in out["tasks"]]
        agent.close()

    def item(self, conn, n):
        return (conn, n)

    def write(self, api, item):
        return api.json("ecs", ECS + "SubmitTaskStateChange", {
            "cluster": self.cluster, "task": self.tasks[item[0] % ECS_TASKS],
            "containers": [{"containerName": "app", "reason": f"{item[0]}.{item[1]}"}]})

    def verify(self, api, acked, unsure):
        errors = []
        if len(acked) > ECS_TASKS:
            return errors  # tasks shared by connections: only the load's answers are checked
        described = []
        for at in range(0, len(acked), 100):
            described += _ok(*api.json("ecs", ECS + "DescribeTasks", {
                "cluster": self.cluster, "tasks": self.tasks[at:at + min(100, len(acked))]}),
                "DescribeTasks")["tasks"]
        by_arn = {t["taskArn"]: t for t in described}
        for i, seq in enumerate(acked):
            task = by_arn.get(self.tasks[i])
            if task is None:
                errors.append(f"task of connection {i} is missing")
                continue
            maybe = [n for c, n in unsure if c == i]
            reason = task["containers"][0].get("reason")
            allowed = {f"{i}.{seq[-1][1]}"} if seq else set()
            allowed |= {f"{i}.{n}" for n in maybe}
            if allowed and reason not in allowed:
                errors.append(f"task {i} says {reason!r}, not the last acknowledged {allowed}")
            # Version 1 at creation, one more per report that was applied.
            applied = task["version"] - 1
            if not len(seq) <= applied <= len(seq) + len(maybe):
                errors.append(f"task {i} has version {task['version']} after {len(seq)} "
                              f"acknowledged reports")
        return errors


WORKLOADS = {"secret": SecretWorkload, "ecs-task-state": TaskStateWorkload, "kms-tags": KmsTagWorkload,
             "role-policy": RolePolicyWorkload, "role-tags": RoleTagWorkload}


# ---------------------------------------------------------------- the load

class Result:
    def __init__(self, name, connections):
        self.name = name
        self.acked = [[] for _ in range(connections)]  # per connection, in order
        self.unsure = []       # sent, no answer (the server went away)
        self.failures = []     # (status, body) of every non-2xx
        self.latencies = []    # seconds, of acknowledged writes
        self.seconds = 0.0

    @property
    def writes(self):
        return sum(len(a) for a in self.acked)

    def summary(self):
        lat = sorted(self.latencies) or [0.0]
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
        codes = {}
        for status, body in self.failures:
            m = re.search(rb'"__type": ?"([^"]+)"|<Code>([^<]+)</Code>', body)
            code = (m.group(1) or m.group(2)).decode() if m else "?"
            codes[f"{status} {code}"] = codes.get(f"{status} {code}", 0) + 1
        return {"target": self.name, "connections": len(self.acked), "writes": self.writes,
                "writes_per_s": self.writes / self.seconds if self.seconds else 0.0,
                "p50_ms": p(0.50), "p99_ms": p(0.99), "non_2xx": len(self.failures),
                "non_2xx_codes": codes, "unanswered": len(self.unsure)}


def run(endpoint, key, secret, workload, connections, seconds, stop=None):
    """Runs `workload` (already set up) from `connections` connections for
    `seconds` (or until `stop` is set). A connection that loses the server
    records its request as unsure and ends."""
    result = Result(workload.name, connections)
    stop = stop or threading.Event()
    start = threading.Barrier(connections + 1)
    lock = threading.Lock()

    def worker(i):
        api = Api(endpoint, key, secret)
        n, mine = 0, []
        start.wait()
        try:
            while not stop.is_set():
                n += 1
                item = workload.item(i, n)
                began = time.monotonic()
                try:
                    status, reply = workload.write(api, item)
                except (OSError, http.client.HTTPException):
                    with lock:
                        result.unsure.append(item)
                    return
                if 200 <= status < 300:
                    result.acked[i].append(item)
                    mine.append(time.monotonic() - began)
                else:
                    with lock:
                        result.failures.append((status, json.dumps(reply).encode()
                                                if isinstance(reply, dict) else reply))
        finally:
            api.close()
            with lock:
                result.latencies += mine

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for t in threads:
        t.start()
    start.wait()
    began = time.monotonic()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    for t in threads:
        t.join()
    timer.cancel()
    result.seconds = time.monotonic() - began
    return result


def verify(endpoint, key, secret, workload, result):
    """The problems found reading the record back (empty: every acknowledged write is there)."""
    api = Api(endpoint, key, secret)
    try:
        return workload.verify(api, result.acked, result.unsure)
    finally:
        api.close()
