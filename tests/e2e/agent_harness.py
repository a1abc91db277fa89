"""`berth agent` for end-to-end tests: a real agent process (root, runc) registered with a
test's berth, on a bridge and subnet of its own, and everything it made removed afterwards:
containers, overlay mounts, network namespaces, veths, the bridge and its iptables chains."""
import ipaddress
import json
import os
import random
import shutil
import signal
import subprocess
import time

from berth_harness import BERTH, raw, sign

REGION = "us-east-1"


def agents_supported():
    """Why `berth agent` cannot run here, or None."""
    if os.geteuid() != 0:
        return "the agent needs root"
    if not shutil.which("runc"):
        return "runc is not installed"
    return None


def _used_subnets():
    out = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    nets = []
    for line in out.splitlines():
        first = line.split()[0]
        if first != "default":
            try:
                nets.append(ipaddress.ip_network(first, strict=False))
            except ValueError:
                pass
    return nets


def free_subnet():
    used = _used_subnets()
    for _ in range(200):
        net = ipaddress.ip_network(f"10.{random.randint(214, 250)}.{random.randint(0, 255)}.0/24")
        if not any(net.overlaps(u) for u in used):
            return str(net)
    raise RuntimeError("no free /24 in 10.214-250.x")


def agent_credentials(berth, user="berth-agent"):
    """An IAM user with the ECS agent's permissions and a fresh key (admin API)."""
    body = json.dumps({"UserName": user}).encode()
    headers = sign("POST", berth.endpoint + "/", {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "BerthAdmin_20261126.CreateAgentCredentials"}, body,
        *berth.read_credentials(), REGION, "berth")
    status, _, reply = raw("POST", berth.endpoint + "/", headers, body)
    assert status == 200, reply
    out = json.loads(reply)
    return out["AccessKeyId"], out["SecretAccessKey"]


def _run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def remove_bridge(bridge):
    """The bridge, its BERTH-<bridge>-* chains and the jumps to them, and its namespaces."""
    for table in ("nat", "filter"):
        rules = _run("iptables", "-t", table, "-S").stdout.splitlines()
        prefix = f"BERTH-{bridge}-"
        for rule in rules:
            parts = rule.split()
            if parts[0] == "-A" and prefix in rule and not parts[1].startswith(prefix):
                _run("iptables", "-t", table, "-D", *parts[1:])
        chains = [r.split()[1] for r in rules
                  if r.split()[0] == "-N" and r.split()[1].startswith(prefix)]
        # All flushed before any is deleted: one may jump to another.
        for chain in chains:
            _run("iptables", "-t", table, "-F", chain)
        for chain in chains:
            _run("iptables", "-t", table, "-X", chain)
    for ns in _run("ip", "netns", "list").stdout.splitlines():
        name = ns.split()[0] if ns.split() else ""
        if name.startswith(f"berth-{bridge}-"):
            _run("ip", "netns", "del", name)
    _run("ip", "link", "del", bridge)
    try:
        os.remove(f"/run/berth/bridges/{bridge}.lock")  # an agent's stop leaves it, as the bridge
    except FileNotFoundError:
        pass


def leftovers(bridge, data_dir):
    """What of an agent is still on the host: namespaces, veths on the bridge, mounts."""
    found = []
    for ns in _run("ip", "netns", "list").stdout.splitlines():
        if ns.startswith(f"berth-{bridge}-"):
            found.append("netns " + ns.split()[0])
    links = _run("ip", "-o", "link", "show", "master", bridge).stdout.splitlines()
    found += ["veth " + line.split(":")[1].strip() for line in links if line.strip()]
    with open("/proc/self/mountinfo") as f:
        found += ["mount " + line.split()[4] for line in f if data_dir in line.split()[4]]
    for table in ("nat", "filter"):
        found += [f"{table}: {r}" for r in _run("iptables", "-t", table, "-S").stdout.splitlines()
                  if f"BERTH-{bridge}-PORTS" in r and "berth:" in r]
    return found


def bridge_leftovers(bridge):
    """The bridge itself, or any of its chains, still on the host (after clean_up_agent)."""
    found = []
    if _run("ip", "link", "show", bridge).returncode == 0:
        found.append("bridge " + bridge)
    for table in ("nat", "filter"):
        found += [f"{table}: {r}" for r in _run("iptables", "-t", table, "-S").stdout.splitlines()
                  if f"BERTH-{bridge}-" in r]
    return found


class BerthAgent:
    """A `berth agent` process for `berth` (cluster `cluster`). Its data dir, bridge and subnet
    are its own; close() stops it and removes everything it made."""

    counter = 0

    def __init__(self, berth, tmp_path, cluster="default", args=(), env=None, name=None,
                 user="berth-agent"):
        """`user`: the agent's IAM user. CreateAgentCredentials keeps two keys a user (IAM's
        limit) and deletes the oldest for a third, so a test with more than two agents gives
        them users of their own."""
        BerthAgent.counter += 1
        self.berth = berth
        self.name = name or f"a{BerthAgent.counter}"
        self.data_dir = str(tmp_path / f"agent-{self.name}")
        os.makedirs(self.data_dir, exist_ok=True)
        self.bridge = f"bta{os.getpid() % 1000}{BerthAgent.counter % 100}"
        self.subnet = free_subnet()
        self.cluster = cluster
        key, secret = agent_credentials(berth, user)
        self.credentials_file = os.path.join(self.data_dir, "credentials")
        with open(self.credentials_file, "w") as f:
            f.write(f"[agent]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
        self.args = list(args)
        self.env = dict(env or os.environ)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            self.env.pop(k, None)
        self.log_path = os.path.join(self.data_dir, "agent.log")
        self.proc = None
        self.instance_arn = None
        self.start()

    def start(self, wait=True):
        cmd = [BERTH, "agent", "--endpoint", self.berth.endpoint, "--cluster", self.cluster,
               "--data-dir", self.data_dir, "--credentials-file", self.credentials_file,
               "--profile", "agent", "--bridge", self.bridge, "--subnet", self.subnet,
               "--region", REGION, *self.args]
        if self.berth.ca_bundle:
            cmd += ["--ca-file", self.berth.ca_bundle]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        if wait:
            self.wait_registered()

    def wait_registered(self, timeout=30):
        path = os.path.join(self.data_dir, "instance.json")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"berth agent exited with {self.proc.returncode}:\n{self.log_text()}")
            if "berth agent registered" in self.log_text():
                with open(path) as f:
                    self.instance_arn = json.load(f)["containerInstanceArn"]
                return self.instance_arn
            time.sleep(0.05)
        raise RuntimeError(f"berth agent did not register in {timeout}s:\n{self.log_text()}")

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None
        return self.proc.returncode if self.proc else None

    def container_log(self, task_arn, container):
        """What a container of a stopped task printed (DATA_DIR/logs/<task id>/<name>.log)."""
        path = os.path.join(self.data_dir, "logs", task_arn.rsplit("/", 1)[1], f"{container}.log")
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")

    def running_output(self, task_arn, container):
        """What a container of a running task printed so far
        (DATA_DIR/runtime/<task id>-<name>/container.log), or None."""
        path = os.path.join(self.data_dir, "runtime",
                            f"{task_arn.rsplit('/', 1)[1]}-{container}", "container.log")
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        self.stop()
        clean_up_agent(self.data_dir, self.bridge)


def clean_up_agent(data_dir, bridge):
    """Whatever a stopped agent left: its containers, overlay mounts, bridge and rules."""
    runc_root = os.path.join(data_dir, "runtime", "runc")
    if os.path.isdir(runc_root):
        for cid in _run("runc", "--root", runc_root, "list", "-q").stdout.split():
            _run("runc", "--root", runc_root, "delete", "--force", cid)
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if data_dir in line.split()[4]]
    for m in sorted(mounts, key=len, reverse=True):
        _run("umount", "-l", m)
    remove_bridge(bridge)
