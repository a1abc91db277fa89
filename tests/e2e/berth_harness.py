"""Starting and stopping berth and signing raw requests, for the e2e tests.

Every server a test starts listens on 127.0.0.1 on a port chosen free at run
time, keeps its state in the test's own temp dir, and is stopped by the test.
"""
import datetime
import hashlib
import hmac
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request

BERTH = os.environ.get("BERTH_BINARY") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "build", "berth"))
AWS = "/usr/bin/aws"  # AWS CLI v2 from Debian; an older v1 may be first on PATH


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"berth exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"berth did not listen on {port} within {timeout}s")


def random_root_credentials():
    key_id = "AKIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    return key_id, secrets.token_urlsafe(30)[:40]


class Berth:
    """A running `berth server` (or `berth up`) process.

    Plain HTTP unless `tls`: then `berth up` serves HTTPS with the authority it
    makes in DATA_DIR/tls, and `berth server` with `tls_files` (a TlsFiles,
    see make_tls_files). `ca_bundle` is the CA file clients must trust."""

    def __init__(self, data_dir, args=(), env=None, command="server", root=None, preexec_fn=None,
                 tls=False, tls_files=None, agents=False):
        self.data_dir = str(data_dir)
        self.port = free_port()
        self.endpoint = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.ca_bundle = None
        self.log_path = os.path.join(self.data_dir, "..", f"berth-{self.port}.log")
        os.makedirs(self.data_dir, exist_ok=True)
        cmd = [BERTH, command, "--data-dir", self.data_dir, "--listen", f"127.0.0.1:{self.port}"]
        if root:
            cmd += ["--root-credentials", f"{root[0]}:{root[1]}"]
        if tls and command == "up":
            self.ca_bundle = os.path.join(self.data_dir, "tls", "ca.pem")
        elif tls:
            cmd += ["--tls-cert", tls_files.cert, "--tls-key", tls_files.key]
            self.ca_bundle = tls_files.ca
        elif command == "up":
            cmd += ["--insecure-http"]
        if command == "up" and not agents:
            cmd += ["--no-agents"]
        cmd += list(args)
        self._cmd, self._env, self._preexec_fn = cmd, env or os.environ.copy(), preexec_fn
        self.log = open(self.log_path, "wb")
        self._start()

    def _start(self):
        self.proc = subprocess.Popen(self._cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self._env, preexec_fn=self._preexec_fn)
        wait_for_port(self.port, self.proc)
        self.credentials_file = os.path.join(self.data_dir, "credentials")

    def halt(self, sig=signal.SIGTERM):
        """Stops the server with `sig` (SIGKILL: a crash); returns its exit code. start_again
        starts it on the same port and data directory (clients and agents keep their endpoint)."""
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=15)

    def start_again(self):
        self._start()

    def restart(self, sig=signal.SIGTERM):
        code = self.halt(sig)
        self.start_again()
        return code

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def create_account(self, account_id):
        """`berth account create` as the operator; returns the new account root's (key, secret),
        which the command writes to the credentials file under a profile named by the id."""
        out = subprocess.run([BERTH, "account", "create", "--id", account_id, "--endpoint",
                              self.endpoint, "--credentials-file", self.credentials_file],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return self.read_credentials(account_id)

    def read_credentials(self, profile="default"):
        values, section = {}, None
        with open(self.credentials_file) as f:
            for line in f:
                line = line.strip()
                if line.startswith("[") and line.endswith("]"):
                    section = line[1:-1].strip()
                elif "=" in line and section == profile:
                    k, v = line.split("=", 1)
                    values[k.strip()] = v.strip()
        return values["aws_access_key_id"], values["aws_secret_access_key"]


class TlsFiles:
    """A server certificate, its key and the CA that signed it (PEM paths)."""

    def __init__(self, cert, key, ca):
        self.cert, self.key, self.ca = cert, key, ca


def make_tls_files(directory):
    """Certificates for 127.0.0.1 and localhost, made the way `berth up` makes
    them: starts it once on a scratch data directory under `directory`."""
    data = os.path.join(str(directory), "tls-maker")
    up = Berth(data, command="up", tls=True)
    up.stop()
    tls = os.path.join(data, "tls")
    return TlsFiles(os.path.join(tls, "server.pem"), os.path.join(tls, "server.key"),
                    os.path.join(tls, "ca.pem"))


def cli_env(tmp_path, credentials_file=None, key=None, secret=None, region="us-east-1"):
    """An environment for /usr/bin/aws and boto3 isolated from the user's ~/.aws."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path)
    env["AWS_CONFIG_FILE"] = os.path.join(str(tmp_path), "no-aws-config")
    env["AWS_REGION"] = region
    env["AWS_DEFAULT_REGION"] = region
    env["AWS_PAGER"] = ""
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_MAX_ATTEMPTS"] = "1"
    if credentials_file:
        env["AWS_SHARED_CREDENTIALS_FILE"] = credentials_file
    else:
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(str(tmp_path), "no-credentials")
    if key:
        env["AWS_ACCESS_KEY_ID"] = key
        env["AWS_SECRET_ACCESS_KEY"] = secret
    return env


def aws(endpoint, env, *args, check=False):
    proc = subprocess.run([AWS, "--endpoint-url", endpoint, "--output", "json", *args],
                          env=env, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed: {proc.stderr}")
    return proc


def sign(method, url, headers, body, key, secret, region, service, when=None, token=None,
         unsigned=()):
    """SigV4 header signing, written from the AWS documentation (independent of
    berth's C++ signer and of botocore), so tests can choose the date. Headers
    named in `unsigned` are sent but left out of SignedHeaders, as an attacker
    replaying a signature would. Header values go on the wire as latin-1 (as
    http.client sends them), so a test can send any byte."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    parts = urllib.parse.urlsplit(url)
    headers = dict(headers)
    headers["Host"] = parts.netloc
    headers["X-Amz-Date"] = amz_date
    if token:
        headers["X-Amz-Security-Token"] = token
    # Values trimmed and runs of spaces and tabs folded: only those (str.split()
    # would also fold the latin-1 bytes 0x1c-0x1f, 0x85 and 0xa0).
    lower = {k.lower(): re.sub(r"[ \t]+", " ", str(v).strip(" \t")) for k, v in headers.items()}
    signed = sorted(set(lower) - {u.lower() for u in unsigned})
    query = "&".join(sorted(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)))
    canonical = "\n".join([
        method, urllib.parse.quote(parts.path or "/", safe="/-_.~"), query,
        "".join(f"{h}:{lower[h]}\n" for h in signed), ";".join(signed),
        hashlib.sha256(body).hexdigest()])
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode("latin-1")).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={key}/{scope}, "
                                f"SignedHeaders={';'.join(signed)}, Signature={signature}")
    return headers


def raw(method, url, headers=None, body=b""):
    """Sends a request as given; returns (status, headers, body) even for errors."""
    req = urllib.request.Request(url, data=body if method != "GET" else None,
                                 headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, dict(res.headers), res.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# ---------------------------------------------------------------- boto3 helpers

def boto_client(berth, service, key=None, secret=None, token=None, region="us-east-1"):
    """A boto3 client for `service` on `berth`, as its root (default) or the given
    credentials; no retries, so every error reaches the test."""
    import boto3
    import botocore.config
    if key is None:
        key, secret = berth.read_credentials()
    return boto3.session.Session().client(
        service, endpoint_url=berth.endpoint, region_name=region, aws_access_key_id=key,
        aws_secret_access_key=secret, aws_session_token=token,
        verify=berth.ca_bundle if berth.ca_bundle else True,
        config=botocore.config.Config(retries={"max_attempts": 1}))


def error_code(excinfo):
    """The AWS error code of a pytest.raises(botocore ClientError) result."""
    return excinfo.value.response["Error"]["Code"]


def make_user(iam, name, policy=None):
    """An IAM user with `policy` (a document) inline; returns its access key pair."""
    import json
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def allow(actions, resources="*"):
    """A policy document with one Allow statement."""
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]}


def assume_role(berth, iam, role_name, inline, account="123456789012"):
    """A role of `account` (whose IAM client is `iam`) trusting that account, with `inline` (a
    policy document) as its policy, assumed by a user "<role_name>-user" allowed only
    sts:AssumeRole (an account's root may not call AssumeRole); returns (key, secret, token)."""
    import json
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument=json.dumps(inline))
    key, secret = make_user(iam, f"{role_name}-user", allow("sts:AssumeRole"))
    sts = boto_client(berth, "sts", key, secret)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role_name}",
                            RoleSessionName="session")["Credentials"]
    return creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
