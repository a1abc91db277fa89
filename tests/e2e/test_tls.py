"""TLS: `berth up` makes its own authority and serves HTTPS, `berth server`
serves HTTPS with given files, the AWS CLI and boto3 reach both with the CA
bundle, plain HTTP is refused off the loopback interface, and
aws:SecureTransport tells the two apart."""
import json
import os
import socket
import stat
import subprocess
import time

import boto3
import botocore.config
import botocore.exceptions
import pytest

from berth_harness import (BERTH, Berth, allow, aws, boto_client, cli_env, error_code,
                           free_port, make_tls_files, make_user)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def banner(server):
    """What `berth up` printed, once it has (it listens just before)."""
    deadline = time.time() + 10
    while "Stop with Ctrl-C" not in server.log_text() and time.time() < deadline:
        time.sleep(0.05)
    return server.log_text()


def test_up_serves_https_that_the_cli_and_boto3_trust_with_its_ca(tmp_path, root_creds):
    server = Berth(tmp_path / "data", command="up", tls=True, root=root_creds)
    try:
        tls = tmp_path / "data" / "tls"
        assert server.ca_bundle == str(tls / "ca.pem")
        assert mode(tls / "ca.key") == 0o600
        assert mode(tls / "server.key") == 0o600
        printed = banner(server)
        assert f"endpoint     https://127.0.0.1:{server.port}" in printed, printed
        assert f"AWS_CA_BUNDLE={os.path.abspath(server.ca_bundle)}" in printed, printed

        env = cli_env(tmp_path, server.credentials_file)
        out = aws(server.endpoint, env, "--ca-bundle", server.ca_bundle, "sts",
                  "get-caller-identity", check=True)
        assert json.loads(out.stdout)["Arn"] == "arn:aws:iam::123456789012:root"
        env_with_ca = dict(env, AWS_CA_BUNDLE=server.ca_bundle)
        aws(server.endpoint, env_with_ca, "kms", "list-keys", check=True)
        # Without the authority the CLI does not trust the server.
        untrusted = aws(server.endpoint, env, "sts", "get-caller-identity")
        assert untrusted.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr, untrusted.stderr

        create = [BERTH, "account", "create", "--id", "222233334444", "--endpoint",
                  server.endpoint, "--credentials-file", server.credentials_file]
        unreached = subprocess.run(create, capture_output=True, text=True, timeout=30,
                                   env=dict(env, AWS_CA_BUNDLE=""))
        assert unreached.returncode == 1
        assert unreached.stderr.startswith(f"berth: cannot reach {server.endpoint}: "), \
            unreached.stderr
        created = subprocess.run(create + ["--ca-bundle", server.ca_bundle], capture_output=True,
                                 text=True, timeout=30)
        assert created.returncode == 0, created.stderr

        sm = boto_client(server, "secretsmanager")
        sm.create_secret(Name="db", SecretString="hunter2")
        assert sm.get_secret_value(SecretId="db")["SecretString"] == "hunter2"
        key, secret = server.read_credentials()
        system_cas_only = boto3.session.Session().client(
            "sts", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=key,
            aws_secret_access_key=secret, verify=True,
            config=botocore.config.Config(retries={"max_attempts": 1}))
        with pytest.raises(botocore.exceptions.SSLError):
            system_cas_only.get_caller_identity()
    finally:
        assert server.stop() == 0, server.log_text()

    # A later start reuses the authority and the certificate.
    ca, cert = read(tls / "ca.pem"), read(tls / "server.pem")
    again = Berth(tmp_path / "data", command="up", tls=True, root=root_creds)
    try:
        assert read(tls / "ca.pem") == ca and read(tls / "server.pem") == cert
        boto_client(again, "sts").get_caller_identity()
    finally:
        assert again.stop() == 0


def test_server_serves_https_with_given_files(tmp_path, root_creds):
    files = make_tls_files(tmp_path)
    server = Berth(tmp_path / "data", tls=True, tls_files=files, root=root_creds)
    try:
        assert server.endpoint.startswith("https://")
        env = cli_env(tmp_path, server.credentials_file)
        out = aws(server.endpoint, env, "--ca-bundle", files.ca, "iam", "list-users", check=True)
        assert json.loads(out.stdout)["Users"] == []
        kms = boto_client(server, "kms")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key, Plaintext=b"over tls")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"over tls"
    finally:
        assert server.stop() == 0, server.log_text()


def test_secure_transport_condition_allows_tls_and_denies_plain_http(tmp_path, root_creds):
    data = tmp_path / "data"
    policy = allow("kms:ListKeys")
    policy["Statement"][0]["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}
    plain = Berth(data, root=root_creds)
    try:
        key, secret = make_user(boto_client(plain, "iam"), "tls-only", policy)
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            boto_client(plain, "kms", key, secret).list_keys()
        assert error_code(denied) == "AccessDeniedException"
        assert "kms:ListKeys" in denied.value.response["Error"]["Message"]
    finally:
        assert plain.stop() == 0
    files = make_tls_files(tmp_path)
    secure = Berth(data, tls=True, tls_files=files, root=root_creds)
    try:
        assert boto_client(secure, "kms", key, secret).list_keys()["Keys"] == []
    finally:
        assert secure.stop() == 0


def test_server_refuses_plain_http_off_loopback_unless_insecure(tmp_path):
    port = free_port()
    cmd = [BERTH, "server", "--data-dir", str(tmp_path / "data"), "--listen", f"0.0.0.0:{port}"]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1
    assert refused.stderr == (
        "berth: cannot start: refusing to serve plain HTTP on 0.0.0.0, which is not a loopback "
        "address: give --tls-cert and --tls-key, or --insecure-http to serve plain HTTP anyway\n")
    assert not (tmp_path / "data").exists()

    both = subprocess.run(cmd + ["--insecure-http", "--tls-cert", "x.pem", "--tls-key", "x.key"],
                          capture_output=True, text=True, timeout=30)
    assert both.returncode != 0
    assert "excludes" in both.stderr, both.stderr
    half = subprocess.run(cmd + ["--tls-cert", "x.pem"], capture_output=True, text=True,
                          timeout=30)
    assert half.returncode != 0
    assert "requires --tls-key" in half.stderr, half.stderr

    proc = subprocess.Popen(cmd + ["--insecure-http"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"berth server listening on http://0.0.0.0:{port} "), line
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
