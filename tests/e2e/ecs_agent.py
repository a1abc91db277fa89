"""A test agent speaking ECS's agent protocol (ACS) to berth, as amazon-ecs-agent does.

It registers a container instance with boto3 (the attributes, resources and versionInfo a test
chooses), asks DiscoverPollEndpoint for the endpoint, and holds the ACS websocket open:

    GET <endpoint>/ws?clusterArn=..&containerInstanceArn=..&agentHash=..&agentVersion=..
        &seqNum=1&protocolVersion=2&sendCredentials=true

SigV4-signed (signing name "ecs", the query in the canonical request) with botocore's SigV4Auth.
The server sends JSON text frames {"type": "<Name>", "message": {...}}; the agent records every
one and answers as the real agent does: AckRequest for PayloadMessage (and TaskManifestMessage),
HeartbeatAckRequest for HeartbeatMessage, IAMRoleCredentialsAckRequest for
IAMRoleCredentialsMessage. It reports task state changes through SubmitTaskStateChange.

python3-websockets here is 10.4: it has no websockets.sync, so the session runs the asyncio
client (websockets.connect, headers as extra_headers) on an event loop in its own thread.
"""
import asyncio
import http.client
import json
import threading
import time
import urllib.parse

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import websockets

AGENT_VERSION = "1.105.1"
AGENT_HASH = "8dfceca6"
DOCKER_VERSION = "DockerVersion: 25.0.5"


class AcsUnavailable(Exception):
    """The server does not upgrade GET /ws (ACS is not wired)."""


class UpgradeRefused(Exception):
    """The server answered the upgrade with an HTTP error (status, body)."""

    def __init__(self, status, body):
        super().__init__(f"upgrade refused with {status}: {body!r}")
        self.status = status
        self.body = body


def refusal(ws_url, headers, status):
    """The exception for an upgrade answered with `status`: the same upgrade request is sent
    again with http.client (which, unlike urllib, leaves "Connection: Upgrade" alone) to read
    the body. A server without the /ws route answers 404/405, or hands the GET to the query
    protocol (MissingAction): AcsUnavailable."""
    parts = urllib.parse.urlsplit(ws_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}", headers={
            **headers, "Upgrade": "websocket", "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        response = conn.getresponse()
        body = response.read() if response.status != 101 else b""
    finally:
        conn.close()
    if status in (404, 405) or b"MissingAction" in body:
        return AcsUnavailable(f"GET /ws answered {status}: {body[:200]!r}")
    return UpgradeRefused(status, body)


def resources(cpu=2048, memory=4096, ports=("22", "2375", "2376", "51678", "51679"),
              udp_ports=()):
    """totalResources as the agent registers them."""
    return [
        {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
        {"name": "PORTS", "type": "STRINGSET", "stringSetValue": list(ports)},
        {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": list(udp_ports)},
    ]


def attribute_list(attributes):
    """{"name": value-or-None} -> the API's [{"name", "value"}] (no value when None)."""
    out = []
    for name, value in attributes.items():
        out.append({"name": name} if value is None else {"name": name, "value": value})
    return out


class Agent:
    """One container instance and its agent session.

    `endpoint` is berth's URL; key/secret/token the agent's own identity. Messages received are
    in `messages` as (type, message) in arrival order; `payload_tasks` lists every task of every
    PayloadMessage in order.
    """

    def __init__(self, endpoint, key, secret, token=None, region="us-east-1", cluster="default",
                 attributes=None, cpu=2048, memory=4096,
                 ports=("22", "2375", "2376", "51678", "51679"), agent_version=AGENT_VERSION,
                 agent_hash=AGENT_HASH, instance_id=None):
        self.endpoint = endpoint
        self.region = region
        self.cluster = cluster
        self.credentials = botocore.credentials.Credentials(key, secret, token)
        self.ecs = boto3.session.Session().client(
            "ecs", endpoint_url=endpoint, region_name=region, aws_access_key_id=key,
            aws_secret_access_key=secret, aws_session_token=token,
            config=botocore.config.Config(retries={"max_attempts": 1}))
        self.attributes = dict(attributes or {})
        self.total_resources = resources(cpu, memory, ports)
        self.agent_version = agent_version
        self.agent_hash = agent_hash
        self.instance_id = instance_id
        self.instance_arn = None
        self.cluster_arn = None
        self.registered = None  # the containerInstance RegisterContainerInstance returned

        self.messages = []
        self.payload_tasks = []
        self.sent = []  # what the agent answered: (type, message)
        self.closed_with = None  # (code, reason) once the server or we closed
        self._cv = threading.Condition()
        self._thread = None
        self._loop = None
        self._ws = None
        self._error = None
        self._opened = threading.Event()

    # ---- registration and the control-plane calls an agent makes

    def register(self, instance_arn=None):
        request = {
            "cluster": self.cluster,
            "totalResources": self.total_resources,
            "versionInfo": {"agentVersion": self.agent_version, "agentHash": self.agent_hash,
                            "dockerVersion": DOCKER_VERSION},
            "attributes": attribute_list(self.attributes),
        }
        if self.instance_id:
            request["instanceIdentityDocument"] = json.dumps(
                {"instanceId": self.instance_id, "region": self.region})
        if instance_arn or self.instance_arn:
            request["containerInstanceArn"] = instance_arn or self.instance_arn
        out = self.ecs.register_container_instance(**request)["containerInstance"]
        self.registered = out
        self.instance_arn = out["containerInstanceArn"]
        prefix, rest = self.instance_arn.split(":container-instance/", 1)
        self.cluster_arn = f"{prefix}:cluster/{rest.split('/')[0]}"
        return out

    def discover(self):
        out = self.ecs.discover_poll_endpoint(containerInstance=self.instance_arn,
                                              cluster=self.cluster_arn)
        return out["endpoint"]

    def report(self, task_arn, status, containers=(), reason=None, cluster=None, **times):
        """SubmitTaskStateChange for `task_arn` of `cluster` (default: the instance's; the task's
        own for a Fargate pool's agent). `containers` are dicts of the API's
        ContainerStateChange (containerName, status, exitCode, reason, ...); `times` e.g.
        pullStartedAt=datetime."""
        request = {"cluster": cluster or self.cluster_arn, "task": task_arn, "status": status,
                   "containers": list(containers)}
        if reason is not None:
            request["reason"] = reason
        request.update(times)
        return self.ecs.submit_task_state_change(**request)

    def telemetry_url(self):
        """TCS: DiscoverPollEndpoint's telemetryEndpoint + /ws?cluster=..&containerInstance=.."""
        out = self.ecs.discover_poll_endpoint(containerInstance=self.instance_arn,
                                              cluster=self.cluster_arn)
        query = urllib.parse.urlencode([
            ("cluster", self.cluster_arn), ("containerInstance", self.instance_arn),
            ("agentHash", self.agent_hash), ("agentVersion", self.agent_version),
            ("dockerVersion", DOCKER_VERSION)], quote_via=urllib.parse.quote)
        return f"{out['telemetryEndpoint'].rstrip('/')}/ws?{query}"

    def telemetry(self, frames, headers=None, replies=None):
        """Opens a TCS session, sends each (type, message) of `frames`, and returns the server's
        replies ((type, message), `replies` of them: one per frame unless given). Raises
        UpgradeRefused when the upgrade is answered with an error."""
        http_url = self.telemetry_url()
        headers = self.signed_headers(http_url) if headers is None else headers
        ws_url = "ws" + http_url[len("http"):]
        want = len(frames) if replies is None else replies

        async def run():
            try:
                ws = await websockets.connect(ws_url, extra_headers=headers, compression=None,
                                              ping_interval=None, open_timeout=10)
            except websockets.exceptions.InvalidStatusCode as e:
                raise refusal(ws_url, headers, e.status_code)
            out = []
            try:
                for kind, message in frames:
                    await ws.send(json.dumps({"type": kind, "message": message}))
                while len(out) < want:
                    body = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    out.append((body.get("type"), body.get("message")))
            finally:
                await ws.close()
            return out

        return asyncio.run(run())

    def publish_health(self, tasks, **extra):
        """PublishHealthRequest for `tasks` ({task_arn: {container: status}}); the reply."""
        message = {
            "metadata": {"cluster": self.cluster_arn, "containerInstance": self.instance_arn,
                         "messageId": f"m-{time.time_ns()}", "fin": True},
            "tasks": [{"taskArn": arn, "containers": [
                {"containerName": name, "healthStatus": status,
                 "statusSince": time.time()} for name, status in containers.items()]}
                for arn, containers in tasks.items()],
            "timestamp": time.time()}
        message.update(extra)
        return self.telemetry([("PublishHealthRequest", message)])[0]

    # ---- the session

    def url(self, endpoint=None):
        base = (endpoint or self.discover()).rstrip("/")
        query = urllib.parse.urlencode([
            ("clusterArn", self.cluster_arn), ("containerInstanceArn", self.instance_arn),
            ("agentHash", self.agent_hash), ("agentVersion", self.agent_version),
            ("seqNum", "1"), ("protocolVersion", "2"), ("sendCredentials", "true")])
        return f"{base}/ws?{query}"

    def signed_headers(self, url):
        """SigV4 headers for GET `url` (http form), the query part of what is signed."""
        request = botocore.awsrequest.AWSRequest(method="GET", url=url)
        botocore.auth.SigV4Auth(self.credentials, "ecs", self.region).add_auth(request)
        return {k: v for k, v in request.headers.items()
                if k.lower() in ("authorization", "x-amz-date", "x-amz-security-token")}

    def connect(self, timeout=10.0, endpoint=None, headers=None):
        """Opens the session; returns once it is open. UpgradeRefused when the server answers
        the upgrade with an error, AcsUnavailable when it has no /ws route."""
        http_url = self.url(endpoint)
        headers = self.signed_headers(http_url) if headers is None else headers
        ws_url = "ws" + http_url[len("http"):]
        self._opened.clear()
        self._error = None
        self.closed_with = None
        self._thread = threading.Thread(target=self._run, args=(ws_url, headers), daemon=True)
        self._thread.start()
        if not self._opened.wait(timeout):
            raise TimeoutError("the ACS session did not open")
        if self._error is not None:
            self._thread.join(5)
            raise self._error
        return self

    def wait_connected(self, timeout=10.0):
        """Until DescribeContainerInstances shows agentConnected: the server marks the session
        just after the handshake, which the client may see complete first. Returns False when
        this identity may not describe the instance (nothing to wait on) or time ran out."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                [ci] = self.ecs.describe_container_instances(
                    cluster=self.cluster_arn,
                    containerInstances=[self.instance_arn])["containerInstances"]
            except Exception:  # e.g. AccessDenied for a narrowly allowed agent identity
                return False
            if ci.get("agentConnected"):
                return True
            time.sleep(0.01)
        return False

    def close(self):
        """Closes the session (a clean close) and waits for its thread."""
        if self._thread is None:
            return
        if self._ws is not None and self._loop is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._ws.close(), self._loop).result(5)
            except Exception:  # already closed
                pass
        self._thread.join(10)
        self._thread = None

    @property
    def connected(self):
        return self._ws is not None and self.closed_with is None

    def _run(self, url, headers):
        asyncio.run(self._session(url, headers))

    async def _session(self, url, headers):
        try:
            ws = await websockets.connect(url, extra_headers=headers, compression=None,
                                          ping_interval=None, open_timeout=10, max_size=None)
        except websockets.exceptions.InvalidStatusCode as e:
            self._error = refusal(url, headers, e.status_code)
            self._opened.set()
            return
        except Exception as e:  # connection refused, bad handshake, ...
            self._error = e
            self._opened.set()
            return
        self._loop = asyncio.get_running_loop()
        self._ws = ws
        self._opened.set()
        try:
            async for frame in ws:
                await self._on_frame(ws, frame)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            with self._cv:
                self.closed_with = (ws.close_code, ws.close_reason)
                self._cv.notify_all()

    async def _send(self, ws, kind, message):
        self.sent.append((kind, message))
        await ws.send(json.dumps({"type": kind, "message": message}))

    async def _on_frame(self, ws, frame):
        if isinstance(frame, bytes):
            frame = frame.decode()
        body = json.loads(frame)
        kind, message = body.get("type"), body.get("message") or {}
        with self._cv:
            self.messages.append((kind, message))
            if kind == "PayloadMessage":
                self.payload_tasks.extend(message.get("tasks") or [])
            self._cv.notify_all()
        if kind in ("PayloadMessage", "TaskManifestMessage"):
            await self._send(ws, "AckRequest", {"cluster": message.get("clusterArn"),
                                                "containerInstance":
                                                    message.get("containerInstanceArn"),
                                                "messageId": message.get("messageId")})
        elif kind == "HeartbeatMessage":
            await self._send(ws, "HeartbeatAckRequest", {"messageId": message.get("messageId")})
        elif kind == "IAMRoleCredentialsMessage":
            creds = message.get("roleCredentials") or {}
            await self._send(ws, "IAMRoleCredentialsAckRequest", {
                "messageId": message.get("messageId"), "expiration": creds.get("expiration"),
                "credentialsId": creds.get("credentialsId")})

    # ---- waiting for what the server sends

    def wait(self, predicate, timeout=10.0, what="a message"):
        """Waits until predicate() is true (called under the lock); returns its value."""
        deadline = time.time() + timeout
        with self._cv:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError(f"timed out waiting for {what}; got {self.messages!r}")
                self._cv.wait(left)

    def wait_for_task(self, arn, desired="RUNNING", timeout=10.0):
        """The last payload entry for task `arn` with that desiredStatus."""
        def found():
            for t in reversed(self.payload_tasks):
                if t.get("arn") == arn and t.get("desiredStatus") == desired:
                    return t
            return None
        return self.wait(found, timeout, f"task {arn} {desired}")

    def wait_for_message(self, kind, timeout=10.0, after=0):
        """The first message of `kind` at index >= after."""
        def found():
            for k, m in self.messages[after:]:
                if k == kind:
                    return m
            return None
        return self.wait(found, timeout, kind)

    def wait_closed(self, timeout=10.0):
        return self.wait(lambda: self.closed_with, timeout, "the session to close")


def acs_available(endpoint, key, secret, region="us-east-1"):
    """Whether `endpoint` (a berth with root keys key/secret) serves GET /ws: registers an
    instance in the default cluster and tries its session. False only when the route is missing
    (AcsUnavailable); a route that exists but refuses is True, so the tests that need it run and
    show why."""
    agent = Agent(endpoint, key, secret, region=region)
    agent.ecs.create_cluster()
    agent.register()
    try:
        agent.connect(timeout=10)
    except AcsUnavailable:
        return False
    except Exception:  # the route exists but the session fails: let the tests say how
        return True
    finally:
        agent.close()
        agent.ecs.deregister_container_instance(containerInstance=agent.instance_arn, force=True)
    return True
