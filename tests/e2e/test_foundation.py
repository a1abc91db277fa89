"""Foundation: the stock AWS CLI v2 and boto3 reach berth, every request is
signature-checked, and every bad input gets the AWS-shaped error."""
import datetime
import json
import os
import re
import signal
import socket
import stat
import subprocess
import time

import boto3
import botocore.config
import botocore.exceptions
import pytest

from berth_harness import (AWS, Berth, aws, cli_env, random_root_credentials, raw, sign,
                           wait_for_port, free_port)

ACCOUNT = "123456789012"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
JSON11 = "application/x-amz-json-1.1"
STS_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"


def boto(berth, service, key=None, secret=None, region="us-east-1", **kw):
    if key is None:
        key, secret = berth.read_credentials()
    return boto3.session.Session().client(
        service, endpoint_url=berth.endpoint, region_name=region, aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": 1}, **kw))


def error_code(proc):
    m = re.search(r"An error occurred \(([A-Za-z]+)\)", proc.stderr)
    return m.group(1) if m else proc.stderr


def xml_code(body):
    m = re.search(rb"<Code>([^<]+)</Code>", body)
    return m.group(1).decode() if m else body


def assert_still_serving(berth, tmp_path):
    out = aws(berth.endpoint, cli_env(tmp_path, berth.credentials_file), "sts", "get-caller-identity",
              check=True)
    assert json.loads(out.stdout)["Account"] == ACCOUNT


# --- acceptance 2: the real clients reach the root identity -------------------------------

def test_aws_cli_v2_get_caller_identity_from_written_credentials_file(berth, tmp_path, root_creds):
    version = subprocess.run([AWS, "--version"], capture_output=True, text=True).stdout
    assert version.startswith("aws-cli/2."), version
    out = aws(berth.endpoint, cli_env(tmp_path, berth.credentials_file), "sts", "get-caller-identity",
              check=True)
    assert json.loads(out.stdout) == {
        "UserId": ACCOUNT, "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root"}
    assert berth.read_credentials() == root_creds


def test_boto3_get_caller_identity_from_profile(berth, tmp_path, monkeypatch):
    for k, v in cli_env(tmp_path, berth.credentials_file).items():
        monkeypatch.setenv(k, v)
    for k in [k for k in os.environ if k.startswith("AWS_ACCESS") or k.startswith("AWS_SECRET")]:
        monkeypatch.delenv(k)
    session = boto3.session.Session(profile_name="default")
    sts = session.client("sts", endpoint_url=berth.endpoint, region_name="us-east-1")
    ident = sts.get_caller_identity()
    assert ident["Account"] == ACCOUNT
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert ident["UserId"] == ACCOUNT
    assert ident["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_credentials_file_is_0600_shared_credentials_format(berth):
    mode = stat.S_IMODE(os.stat(berth.credentials_file).st_mode)
    assert mode == 0o600
    text = open(berth.credentials_file).read()
    assert text.startswith("[default]\n")
    assert re.search(r"^aws_access_key_id = AKIA[A-Z2-7]{16}$", text, re.M)


def test_json_protocol_through_cli_and_boto3(berth, tmp_path):
    out = aws(berth.endpoint, cli_env(tmp_path, berth.credentials_file), "kms", "generate-random",
              "--number-of-bytes", "32", check=True)
    import base64
    assert len(base64.b64decode(json.loads(out.stdout)["Plaintext"])) == 32
    kms = boto(berth, "kms")
    assert len(kms.generate_random(NumberOfBytes=7)["Plaintext"]) == 7
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.generate_random(NumberOfBytes=5000)
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_random_root_key_survives_restart_and_env_credentials(tmp_path):
    server = Berth(tmp_path / "data")
    try:
        first = server.read_credentials()
        assert first[0].startswith("AKIA")
    finally:
        assert server.stop() == 0
    server = Berth(tmp_path / "data")
    try:
        assert server.read_credentials() == first
        out = aws(server.endpoint, cli_env(tmp_path, server.credentials_file), "sts",
                  "get-caller-identity", check=True)
        assert json.loads(out.stdout)["Account"] == ACCOUNT
    finally:
        assert server.stop() == 0
    key, secret = random_root_credentials()
    env = dict(os.environ, BERTH_ROOT_ACCESS_KEY_ID=key, BERTH_ROOT_SECRET_ACCESS_KEY=secret)
    server = Berth(tmp_path / "data", env=env, args=["--account-id", ACCOUNT])
    try:
        assert server.read_credentials() == (key, secret)
        # The replaced random key no longer works.
        bad = aws(server.endpoint, cli_env(tmp_path, key=first[0], secret=first[1]), "sts",
                  "get-caller-identity")
        assert error_code(bad) == "InvalidClientTokenId"
        assert secret not in server.log_text()
    finally:
        assert server.stop() == 0


def test_other_account_id(tmp_path):
    server = Berth(tmp_path / "data", args=["--account-id", "222233334444"])
    try:
        out = aws(server.endpoint, cli_env(tmp_path, server.credentials_file), "sts",
                  "get-caller-identity", check=True)
        assert json.loads(out.stdout)["Arn"] == "arn:aws:iam::222233334444:root"
    finally:
        assert server.stop() == 0


# --- acceptance 3: bad input, over both protocols -------------------------------------------

def test_no_authorization(berth, tmp_path):
    env = cli_env(tmp_path)
    q = aws(berth.endpoint, env, "--no-sign-request", "sts", "get-caller-identity")
    assert error_code(q) == "MissingAuthenticationToken"
    j = aws(berth.endpoint, env, "--no-sign-request", "kms", "generate-random", "--number-of-bytes", "4")
    assert error_code(j) == "MissingAuthenticationTokenException"
    status, headers, body = raw("POST", berth.endpoint + "/", {"Content-Type": FORM}, STS_BODY)
    assert status == 403 and xml_code(body) == "MissingAuthenticationToken"
    assert headers.get("x-amzn-RequestId")
    status, _, body = raw("POST", berth.endpoint + "/", {
        "Content-Type": JSON11, "X-Amz-Target": "TrentService.GenerateRandom"}, b"{}")
    assert json.loads(body)["__type"] == "MissingAuthenticationTokenException"
    assert_still_serving(berth, tmp_path)


def test_unknown_access_key(berth, tmp_path):
    env = cli_env(tmp_path, key="AKIAUNKNOWNUNKNOWN00", secret="x" * 40)
    q = aws(berth.endpoint, env, "sts", "get-caller-identity")
    assert error_code(q) == "InvalidClientTokenId"
    assert "The security token included in the request is invalid" in q.stderr
    j = aws(berth.endpoint, env, "kms", "generate-random", "--number-of-bytes", "4")
    assert error_code(j) == "UnrecognizedClientException"
    for service, code in (("sts", "InvalidClientTokenId"), ("kms", "UnrecognizedClientException")):
        client = boto(berth, service, key="AKIAUNKNOWNUNKNOWN00", secret="x" * 40)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            if service == "sts":
                client.get_caller_identity()
            else:
                client.generate_random(NumberOfBytes=4)
        assert e.value.response["Error"]["Code"] == code
    assert_still_serving(berth, tmp_path)


def test_wrong_signature(berth, tmp_path, root_creds):
    env = cli_env(tmp_path, key=root_creds[0], secret=root_creds[1] + "wrong")
    q = aws(berth.endpoint, env, "sts", "get-caller-identity")
    assert error_code(q) == "SignatureDoesNotMatch"
    j = aws(berth.endpoint, env, "kms", "generate-random", "--number-of-bytes", "4")
    assert error_code(j) == "InvalidSignatureException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        boto(berth, "kms", key=root_creds[0], secret="wrong").generate_random(NumberOfBytes=4)
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    # A body changed after signing.
    headers = sign("POST", berth.endpoint + "/", {"Content-Type": FORM}, STS_BODY, *root_creds,
                   "us-east-1", "sts")
    status, _, body = raw("POST", berth.endpoint + "/", headers,
                          b"Action=GetCallerIdentity&Version=2011-06-16")
    assert status == 403 and xml_code(body) == "SignatureDoesNotMatch"
    assert_still_serving(berth, tmp_path)


def test_malformed_authorization_header(berth, tmp_path, root_creds):
    headers = sign("POST", berth.endpoint + "/", {"Content-Type": FORM}, STS_BODY, *root_creds,
                   "us-east-1", "sts")
    for bad in ("AWS4-HMAC-SHA256 Credential=foo", "AWS4-HMAC-SHA256 garbage",
                "AWS4-HMAC-SHA256 Credential=AKIA/20261126/us-east-1/sts/aws4_request, SignedHeaders=host",
                "Bearer abc"):
        h = dict(headers, Authorization=bad)
        status, _, body = raw("POST", berth.endpoint + "/", h, STS_BODY)
        assert status == 400 and xml_code(body) == "IncompleteSignature", (bad, body)
        h = dict(h, **{"Content-Type": JSON11, "X-Amz-Target": "TrentService.GenerateRandom"})
        status, _, body = raw("POST", berth.endpoint + "/", h, b"{}")
        assert status == 400 and json.loads(body)["__type"] == "IncompleteSignatureException"
    assert_still_serving(berth, tmp_path)


@pytest.mark.parametrize("minutes", [-16, 16])
def test_date_outside_fifteen_minutes(berth, tmp_path, root_creds, minutes):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    headers = sign("POST", berth.endpoint + "/", {"Content-Type": FORM}, STS_BODY, *root_creds,
                   "us-east-1", "sts", when=when)
    status, _, body = raw("POST", berth.endpoint + "/", headers, STS_BODY)
    assert status == 403 and xml_code(body) == "SignatureDoesNotMatch"
    assert b"Signature expired" in body or b"Signature not yet current" in body
    jheaders = sign("POST", berth.endpoint + "/", {"Content-Type": JSON11,
                    "X-Amz-Target": "TrentService.GenerateRandom"}, b"{}", *root_creds,
                    "us-east-1", "kms", when=when)
    status, _, body = raw("POST", berth.endpoint + "/", jheaders, b"{}")
    err = json.loads(body)
    assert status == 400 and err["__type"] == "InvalidSignatureException"
    assert err["message"].startswith("Signature expired" if minutes < 0 else "Signature not yet")
    # Within the window the same signer is accepted.
    ok = sign("POST", berth.endpoint + "/", {"Content-Type": FORM}, STS_BODY, *root_creds,
              "us-east-1", "sts",
              when=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=-14))
    status, _, body = raw("POST", berth.endpoint + "/", ok, STS_BODY)
    assert status == 200, body
    assert b"<Account>123456789012</Account>" in body


def test_unknown_target_and_action(berth, tmp_path, root_creds):
    headers = sign("POST", berth.endpoint + "/", {"Content-Type": JSON11,
                   "X-Amz-Target": "TrentService.NoSuchOperation"}, b"{}", *root_creds,
                   "us-east-1", "kms")
    status, _, body = raw("POST", berth.endpoint + "/", headers, b"{}")
    assert status == 400 and json.loads(body)["__type"] == "UnknownOperationException"
    headers = sign("POST", berth.endpoint + "/", {"Content-Type": JSON11,
                   "X-Amz-Target": "NoSuchService_20200101.Op"}, b"{}", *root_creds,
                   "us-east-1", "kms")
    status, _, body = raw("POST", berth.endpoint + "/", headers, b"{}")
    assert status == 400 and json.loads(body)["__type"] == "UnknownOperationException"
    body_in = b"Action=NoSuchAction&Version=2011-06-15"
    headers = sign("POST", berth.endpoint + "/", {"Content-Type": FORM}, body_in, *root_creds,
                   "us-east-1", "sts")
    status, _, body = raw("POST", berth.endpoint + "/", headers, body_in)
    assert status == 400 and xml_code(body) == "InvalidAction"
    assert b"<Type>Sender</Type>" in body and b"<RequestId>" in body
    assert_still_serving(berth, tmp_path)


def test_non_json_body(berth, tmp_path, root_creds):
    for junk in (b"{not json", b"[1,2]", b"\xff\xfe"):
        headers = sign("POST", berth.endpoint + "/", {"Content-Type": JSON11,
                       "X-Amz-Target": "TrentService.GenerateRandom"}, junk, *root_creds,
                       "us-east-1", "kms")
        status, _, body = raw("POST", berth.endpoint + "/", headers, junk)
        assert status == 400 and json.loads(body)["__type"] == "SerializationException", body
    assert_still_serving(berth, tmp_path)


def test_body_over_limit_is_413(tmp_path, root_creds):
    server = Berth(tmp_path / "data", root=root_creds, args=["--body-limit", "65536"])
    try:
        big = b"Action=GetCallerIdentity&Version=2011-06-15&Pad=" + b"x" * 100_000
        headers = sign("POST", server.endpoint + "/", {"Content-Type": FORM}, big, *root_creds,
                       "us-east-1", "sts")
        status, _, body = raw("POST", server.endpoint + "/", headers, big)
        assert status == 413 and xml_code(body) == "RequestEntityTooLarge"
        jbig = b'{"NumberOfBytes": 4, "Pad": "' + b"x" * 100_000 + b'"}'
        headers = sign("POST", server.endpoint + "/", {"Content-Type": JSON11,
                       "X-Amz-Target": "TrentService.GenerateRandom"}, jbig, *root_creds,
                       "us-east-1", "kms")
        status, _, body = raw("POST", server.endpoint + "/", headers, jbig)
        assert status == 413 and json.loads(body)["__type"] == "RequestEntityTooLargeException"
        assert_still_serving(server, tmp_path)
    finally:
        assert server.stop() == 0


def test_silent_client_is_dropped_and_others_are_served(tmp_path, root_creds):
    server = Berth(tmp_path / "data", root=root_creds, args=["--header-timeout-ms", "500"])
    try:
        silent = socket.create_connection(("127.0.0.1", server.port))
        silent.settimeout(10)
        assert_still_serving(server, tmp_path)
        start = time.time()
        assert silent.recv(1) == b""  # the server closed it
        assert time.time() - start < 5
        silent.close()
        assert_still_serving(server, tmp_path)
    finally:
        assert server.stop() == 0


def test_sigterm_stops_cleanly_and_secret_never_logged(tmp_path, root_creds):
    server = Berth(tmp_path / "data", root=root_creds, args=["--log-level", "debug"])
    env = cli_env(tmp_path, server.credentials_file)
    aws(server.endpoint, env, "sts", "get-caller-identity", check=True)
    aws(server.endpoint, cli_env(tmp_path, key=root_creds[0], secret="nope-" + root_creds[1]),
        "sts", "get-caller-identity")
    assert server.stop() == 0
    log = server.log_text()
    assert "stopped" in log
    assert root_creds[1] not in log
    for name in os.listdir(tmp_path / "data"):
        if name.startswith("berth.db"):
            assert root_creds[1].encode() not in open(tmp_path / "data" / name, "rb").read()


# --- acceptance 1: make up -----------------------------------------------------------------

def test_make_up_starts_and_prints_how_to_reach_it(tmp_path):
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    port = free_port()
    data = tmp_path / "up-data"
    proc = subprocess.Popen(
        ["make", "-s", "-C", repo, "up", f"UP_ARGS=--listen 127.0.0.1:{port} --data-dir {data} --no-agents"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        lines = []
        deadline = time.time() + 300
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Stop with Ctrl-C" in line:
                break
        text = "".join(lines)
        assert f"https://127.0.0.1:{port}" in text, text
        assert f"{data}/credentials" in text, text
        assert f"AWS_CA_BUNDLE={data}/tls/ca.pem" in text, text
        cmd = next(l.strip() for l in lines if "sts get-caller-identity" in l)
        assert cmd.startswith("aws --endpoint-url")
        env = cli_env(tmp_path, f"{data}/credentials")
        env["AWS_CA_BUNDLE"] = f"{data}/tls/ca.pem"
        out = aws(f"https://127.0.0.1:{port}", env, "sts", "get-caller-identity", check=True)
        assert json.loads(out.stdout)["Account"] == ACCOUNT
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
