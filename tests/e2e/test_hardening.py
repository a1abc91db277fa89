"""The front door under attack: signatures replayed with what they do not cover,
credential scopes that would forge ARNs, descriptor and memory exhaustion, and
hostile bytes in what error replies echo. Each test sends what an attacker
would, with the harness's own SigV4 signer, and checks the AWS-shaped answer;
the real AWS CLI v2 and boto3 keep working beside them."""
import json
import os
import resource
import socket
import threading
import time
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest

from berth_harness import Berth, aws, boto_client, cli_env, error_code, make_user, raw, sign

ACCOUNT = "123456789012"
JSON11 = "application/x-amz-json-1.1"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
STS_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
XMLNS = {"aws": "https://iam.amazonaws.com/doc/2010-05-08/"}


def signed_headers_of(headers):
    return headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")


def xml_error(body):
    """(Code, Message) of a Query error reply, parsed as XML."""
    root = ET.fromstring(body)
    error = root.find("aws:Error", XMLNS)
    if error is None:  # errors of a known service carry its own namespace
        error = root.find("{*}Error")
    return error.find("{*}Code").text, error.find("{*}Message").text


# --- item 7: every x-amz-* header present must be signed ----------------------------------

def test_signature_without_target_cannot_be_replayed_as_another_operation(berth, root_creds):
    boto_client(berth, "secretsmanager").create_secret(Name="db", SecretString="hunter2")
    url = berth.endpoint + "/"
    body = b'{"SecretId": "db"}'
    # A DescribeSecret whose signature leaves X-Amz-Target out, as a client
    # signing only host;x-amz-date;content-type would send it.
    captured = sign("POST", url, {"Content-Type": JSON11,
                                  "X-Amz-Target": "secretsmanager.DescribeSecret"}, body,
                    *root_creds, "us-east-1", "secretsmanager", unsigned=("X-Amz-Target",))
    assert signed_headers_of(captured) == ["content-type", "host", "x-amz-date"]
    for target in ("secretsmanager.DescribeSecret", "secretsmanager.GetSecretValue"):
        status, _, out = raw("POST", url, dict(captured, **{"X-Amz-Target": target}), body)
        err = json.loads(out)
        assert status == 400, out
        assert err["__type"] == "InvalidSignatureException"
        # urllib sends the name as X-amz-target; berth names it as sent.
        assert err["message"].lower() == \
            "'x-amz-target' must be a 'signedheader' in the aws authorization."
        assert b"hunter2" not in out
    # Signed over X-Amz-Target, the same call is served.
    good = sign("POST", url, {"Content-Type": JSON11,
                              "X-Amz-Target": "secretsmanager.GetSecretValue"}, body,
                *root_creds, "us-east-1", "secretsmanager")
    status, _, out = raw("POST", url, good, body)
    assert status == 200, out
    assert json.loads(out)["SecretString"] == "hunter2"


def test_session_token_must_be_signed(berth):
    key, secret = make_user(boto_client(berth, "iam"), "tok")
    creds = boto_client(berth, "sts", key, secret).get_session_token(
        DurationSeconds=900)["Credentials"]
    session = (creds["AccessKeyId"], creds["SecretAccessKey"])
    token = creds["SessionToken"]
    url = berth.endpoint + "/"

    unsigned = sign("POST", url, {"Content-Type": FORM}, STS_BODY, *session, "us-east-1", "sts",
                    token=token, unsigned=("X-Amz-Security-Token",))
    assert "x-amz-security-token" not in signed_headers_of(unsigned)
    status, _, out = raw("POST", url, unsigned, STS_BODY)
    assert status == 403, out
    code, message = xml_error(out)
    assert code == "SignatureDoesNotMatch"
    assert message.lower() == \
        "'x-amz-security-token' must be a 'signedheader' in the aws authorization."

    body = b'{"NumberOfBytes": 8}'
    unsigned = sign("POST", url, {"Content-Type": JSON11,
                                  "X-Amz-Target": "TrentService.GenerateRandom"}, body,
                    *session, "us-east-1", "kms", token=token, unsigned=("X-Amz-Security-Token",))
    status, _, out = raw("POST", url, unsigned, body)
    assert status == 400 and json.loads(out)["__type"] == "InvalidSignatureException", out

    signed = sign("POST", url, {"Content-Type": FORM}, STS_BODY, *session, "us-east-1", "sts",
                  token=token)
    status, _, out = raw("POST", url, signed, STS_BODY)
    assert status == 200, out
    assert f"<Arn>arn:aws:iam::{ACCOUNT}:user/tok</Arn>".encode() in out


def test_unsigned_headers_outside_x_amz_are_still_allowed(berth, root_creds):
    url = berth.endpoint + "/"
    headers = sign("POST", url, {"Content-Type": FORM}, STS_BODY, *root_creds, "us-east-1", "sts")
    headers.update({"amz-sdk-invocation-id": "d4d5b2a0-8ae1-4f4b-9e52-2b3f2a4a4f39",
                    "amz-sdk-request": "attempt=1; max=1",
                    "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793",
                    "User-Agent": "attacker/1.0"})
    status, _, out = raw("POST", url, headers, STS_BODY)
    assert status == 200, out


def test_real_cli_and_boto3_with_session_tokens_still_work(berth, tmp_path):
    key, secret = make_user(boto_client(berth, "iam"), "cli", {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:*", "kms:GenerateRandom"],
                       "Resource": "*"}]})
    creds = boto_client(berth, "sts", key, secret).get_session_token(
        DurationSeconds=900)["Credentials"]
    env = cli_env(tmp_path, key=creds["AccessKeyId"], secret=creds["SecretAccessKey"])
    env["AWS_SESSION_TOKEN"] = creds["SessionToken"]
    out = aws(berth.endpoint, env, "sts", "get-caller-identity", check=True)
    assert json.loads(out.stdout)["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/cli"
    aws(berth.endpoint, env, "secretsmanager", "create-secret", "--name", "s1",
        "--secret-string", "v1", check=True)
    out = aws(berth.endpoint, env, "secretsmanager", "get-secret-value", "--secret-id", "s1",
              check=True)
    assert json.loads(out.stdout)["SecretString"] == "v1"
    sm = boto_client(berth, "secretsmanager", creds["AccessKeyId"], creds["SecretAccessKey"],
                     creds["SessionToken"])
    assert sm.get_secret_value(SecretId="s1")["SecretString"] == "v1"
    kms = boto_client(berth, "kms", creds["AccessKeyId"], creds["SecretAccessKey"],
                      creds["SessionToken"])
    assert len(kms.generate_random(NumberOfBytes=4)["Plaintext"]) == 4


# --- item 8: the credential scope's region --------------------------------------------------

@pytest.mark.parametrize("region", ["us-east-1:222233334444", "us-east-1*", "US-EAST-1",
                                    "local"])
def test_region_that_could_forge_arns_is_refused(berth, root_creds, region):
    url = berth.endpoint + "/"
    body = b'{"Name": "forged", "SecretString": "x"}'
    headers = sign("POST", url, {"Content-Type": JSON11,
                                 "X-Amz-Target": "secretsmanager.CreateSecret"}, body,
                   *root_creds, region, "secretsmanager")
    status, _, out = raw("POST", url, headers, body)
    err = json.loads(out)
    assert status == 400 and err["__type"] == "InvalidSignatureException", out
    assert err["message"] == f"Credential should be scoped to a valid region, not '{region}'. "

    headers = sign("POST", url, {"Content-Type": FORM}, STS_BODY, *root_creds, region, "sts")
    status, _, out = raw("POST", url, headers, STS_BODY)
    assert status == 403 and xml_error(out)[0] == "SignatureDoesNotMatch", out
    # Nothing was created anywhere the root can list.
    assert boto_client(berth, "secretsmanager").list_secrets()["SecretList"] == []


# --- item 11: error replies parse whatever the client sent ---------------------------------

def json_error_for_target(berth, root_creds, target):
    url = berth.endpoint + "/"
    headers = sign("POST", url, {"Content-Type": JSON11, "X-Amz-Target": target}, b"{}",
                   *root_creds, "us-east-1", "kms")
    status, _, out = raw("POST", url, headers, b"{}")
    out.decode("utf-8")  # strict: the reply is well-formed UTF-8
    return status, json.loads(out)


def test_hostile_bytes_in_the_json_target_give_parseable_errors(berth, root_creds):
    # Header values go out as latin-1: "\xff" is the byte 0xFF on the wire.
    status, err = json_error_for_target(berth, root_creds, 'TrentService.\xff\xfe"}<&')
    assert status == 400 and err["__type"] == "UnknownOperationException"
    assert err["message"] == "Unknown operation 'TrentService.\ufffd\ufffd\"}<&'."
    # Control characters in a header never reach the gateway: the HTTP layer
    # refuses them, still with a JSON reply. (They reach it in names: below.)
    status, err = json_error_for_target(berth, root_creds, "TrentService.\x01\x1f")
    assert status == 400 and err["__type"] == "MalformedHttpRequestException"
    # The echo is cut at 128 bytes, which would fall inside the 58th "é".
    status, err = json_error_for_target(berth, root_creds,
                                        "TrentService." + "é".encode().decode("latin-1") * 100)
    assert status == 400
    assert err["message"] == "Unknown operation 'TrentService." + "é" * 57 + "'."


def query_error(berth, root_creds, body, service="sts"):
    url = berth.endpoint + "/"
    headers = sign("POST", url, {"Content-Type": FORM}, body, *root_creds, "us-east-1", service)
    status, _, out = raw("POST", url, headers, body)
    out.decode("utf-8")
    return status, xml_error(out)


def test_groups_have_no_boundary_or_tag_operations_as_in_iam(berth, root_creds):
    # IAM has TagUser/TagRole and Put{User,Role}PermissionsBoundary, none of them for groups.
    for action in ("TagGroup", "UntagGroup", "ListGroupTags", "PutGroupPermissionsBoundary",
                   "DeleteGroupPermissionsBoundary"):
        status, (code, message) = query_error(
            berth, root_creds, f"Action={action}&Version=2010-05-08&GroupName=g".encode(), "iam")
        assert (status, code) == (400, "InvalidAction"), action
        assert message == f"Could not find operation {action} for version 2010-05-08"
    status, (code, _) = query_error(
        berth, root_creds, b"Action=ListUserTags&Version=2010-05-08&UserName=nobody", "iam")
    assert (status, code) == (404, "NoSuchEntity")


def test_hostile_bytes_in_query_action_and_version_give_parseable_errors(berth, root_creds):
    status, (code, message) = query_error(
        berth, root_creds, b"Action=%FF%01%3C%26%1B&Version=%00%5D%5D%3E%0D")
    assert (status, code) == (400, "InvalidAction")
    assert message == ("Could not find operation \ufffd\ufffd<&\ufffd for version "
                       "\ufffd]]>\r")
    euro = "%E2%82%AC" * 100
    status, (code, message) = query_error(
        berth, root_creds, f"Action=x{euro}&Version={euro}".encode())
    assert (status, code) == (400, "InvalidAction")
    # 128 and 32 bytes would cut the 43rd and the 11th "€".
    assert message == f"Could not find operation x{'€' * 42} for version {'€' * 10}"


def test_hostile_bytes_in_names_give_parseable_errors(berth, root_creds):
    accents = "%C3%A9" * 100
    # IAM echoes an invalid user name (cut at 128 bytes) in XML.
    status, (code, message) = query_error(
        berth, root_creds,
        f"Action=CreateUser&Version=2010-05-08&UserName=%01%FF%3C{accents}".encode(), "iam")
    assert (status, code) == (400, "ValidationError")
    assert message.startswith("1 validation error detected: Value '\ufffd\ufffd<" + "é" * 62 +
                              "' at 'userName'"), message
    # Secrets Manager echoes a name over 512 bytes (cut at 256) in JSON.
    sm = boto_client(berth, "secretsmanager")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sm.create_secret(Name="\x01\"<" + "é" * 300, SecretString="x")
    assert error_code(e) == "ValidationException"
    assert e.value.response["Error"]["Message"].startswith(
        "1 validation error detected: Value '\x01\"<" + "é" * 126 + "' at 'name'")


# --- item 10: descriptors, connections and body memory --------------------------------------

def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def open_files_limit(n):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


class SignedCall(threading.Thread):
    """A signed GetCallerIdentity sent on its own thread; records when it ended."""

    def __init__(self, server, root_creds):
        super().__init__(daemon=True)
        self.url = server.endpoint + "/"
        self.headers = sign("POST", self.url, {"Content-Type": FORM}, STS_BODY, *root_creds,
                            "us-east-1", "sts")
        self.status = self.body = self.ended = None
        self.start()

    def run(self):
        self.status, _, self.body = raw("POST", self.url, self.headers, STS_BODY)
        self.ended = time.time()


def cpu_over_one_second(pid):
    before = cpu_seconds(pid)
    time.sleep(1.0)
    return cpu_seconds(pid) - before


@pytest.mark.parametrize("cap", ["explicit", "derived"])
def test_out_of_descriptors_the_server_waits_instead_of_spinning(tmp_path, root_creds, cap):
    # 64 descriptors. "explicit": a cap above that, so accept() meets EMFILE;
    # "derived": the default cap (64 less 32 kept back) stops accepting first.
    args = ["--header-timeout-ms", "60000"]
    if cap == "explicit":
        args += ["--max-connections", "10000"]
    server = Berth(tmp_path / "data", root=root_creds, args=args,
                   preexec_fn=open_files_limit(64))
    idle = []
    try:
        for _ in range(100):
            idle.append(socket.create_connection(("127.0.0.1", server.port)))
        time.sleep(0.5)
        call = SignedCall(server, root_creds)
        used = cpu_over_one_second(server.proc.pid)
        assert used < 0.3, f"the server used {used:.2f} s of CPU in 1 s: it is spinning"
        assert call.ended is None  # it waits in the backlog
        released = time.time()
        for s in idle:
            s.close()
        idle.clear()
        call.join(timeout=10)
        assert call.status == 200, call.body
        assert f"<Account>{ACCOUNT}</Account>".encode() in call.body
        assert call.ended - released < 1.0
        log = server.log_text()
        if cap == "explicit":
            assert "cannot accept connections; retrying" in log
        else:
            assert "connection limit reached" in log
            assert "cannot accept connections" not in log
    finally:
        for s in idle:
            s.close()
        assert server.stop() == 0


def test_slow_large_uploads_do_not_pile_up_in_memory(tmp_path, root_creds):
    server = Berth(tmp_path / "data", root=root_creds,
                   args=["--body-memory-limit", str(32 << 20), "--header-timeout-ms", "60000"])
    pid = server.proc.pid
    header = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
              f"Content-Type: {JSON11}\r\nX-Amz-Target: secretsmanager.CreateSecret\r\n"
              "Content-Length: 8000000\r\n\r\n").encode()
    piece = b"x" * (256 << 10)
    uploads = []
    try:
        base = rss_bytes(pid)
        # 48 clients each send 7 MiB of an 8 MB body, then stall.
        refused = 0
        for _ in range(48):
            s = socket.create_connection(("127.0.0.1", server.port))
            uploads.append(s)
            try:
                s.sendall(header)
                for _ in range(28):
                    s.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                refused += 1  # over the budget: answered 503 and closed
        time.sleep(0.5)
        grown = rss_bytes(pid) - base
        assert grown < 100 << 20, f"RSS grew by {grown >> 20} MiB"
        assert refused >= 40
        # The next large body is refused with a throttling error the SDKs retry...
        s = socket.create_connection(("127.0.0.1", server.port))
        uploads.append(s)
        s.sendall(header + b"{")
        s.settimeout(10)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503"), reply
        err = json.loads(body)
        assert err["__type"] == "ThrottlingException"
        # ... while ordinary calls are served.
        call = SignedCall(server, root_creds)
        call.join(timeout=10)
        assert call.status == 200, call.body
        # Once the stalled uploads go, large bodies are admitted again.
        for s in uploads:
            s.close()
        uploads.clear()
        time.sleep(0.5)
        sm = boto_client(server, "secretsmanager", *root_creds)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sm.create_secret(Name="big", SecretString="x" * 100_000)
        assert error_code(e) == "ValidationException"  # over 65536: the service's own limit
    finally:
        for s in uploads:
            s.close()
        assert server.stop() == 0
