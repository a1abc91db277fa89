"""Secrets Manager through the real AWS CLI v2 and boto3 (issue 4): the seed's
registry credentials stored encrypted under KMS, read by name or ARN across
regions and accounts, decrypted only for callers IAM and the key policy allow."""
import base64
import configparser
import json
import os
import re
import subprocess

import boto3
import botocore.config
import botocore.exceptions
import pytest

from berth_harness import BERTH, Berth, aws, cli_env, raw, sign

A = "123456789012"
B = "222233334444"
CREDS = {"username": "registry-robot", "password": "Pa55-wOrd-7f3e9c1d"}
JSON11 = "application/x-amz-json-1.1"


def client(berth, service, creds, region="us-east-1", validate=True):
    key, secret, *token = creds
    return boto3.session.Session().client(
        service, endpoint_url=berth.endpoint, region_name=region, aws_access_key_id=key,
        aws_secret_access_key=secret, aws_session_token=token[0] if token else None,
        config=botocore.config.Config(retries={"max_attempts": 1},
                                      parameter_validation=validate))


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def message_of(excinfo):
    return excinfo.value.response["Error"]["Message"]


def cli_code(proc):
    m = re.search(r"An error occurred \(([A-Za-z]+)\)", proc.stderr)
    return m.group(1) if m else proc.stderr


def profile(credentials_file, name):
    parser = configparser.ConfigParser()
    parser.read(credentials_file)
    return parser[name]["aws_access_key_id"], parser[name]["aws_secret_access_key"]


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resources):
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def assume(berth, root, account, role_name, inline, user="deployer"):
    """A role trusting `account` with `inline` as its policy, assumed by a user
    of that account who may sts:AssumeRole; returns the session credentials."""
    iam = client(berth, "iam", root)
    arn = f"arn:aws:iam::{account}:role/{role_name}"
    try:
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=policy(
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
             "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
             "Action": "sts:AssumeRole"}))
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    iam.put_role_policy(RoleName=role_name, PolicyName="inline", PolicyDocument=inline)
    try:
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="assume", PolicyDocument=policy(
            allow("sts:AssumeRole", "*")))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        assume.keys[(account, user)] = (key["AccessKeyId"], key["SecretAccessKey"])
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    sts = client(berth, "sts", assume.keys[(account, user)])
    creds = sts.assume_role(RoleArn=arn, RoleSessionName="task")["Credentials"]
    return creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]


assume.keys = {}


@pytest.fixture(autouse=True)
def _fresh_keys():
    assume.keys = {}
    yield


def get_value(berth, creds, secret_id, region="us-east-1"):
    return client(berth, "secretsmanager", creds, region).get_secret_value(SecretId=secret_id)


def create_key(berth, creds, key_policy=None):
    kms = client(berth, "kms", creds)
    args = {"Description": "registry credentials key"}
    if key_policy:
        args["Policy"] = key_policy
    return kms.create_key(**args)["KeyMetadata"]


# --- acceptance 1: the seed's steps --------------------------------------------------------

def test_seed_secret_by_name_full_and_partial_arn_and_execution_role(berth, tmp_path, root_creds):
    env = cli_env(tmp_path, berth.credentials_file)
    out = aws(berth.endpoint, env, "secretsmanager", "create-secret", "--name", "registry/creds",
              "--description", "private registry", "--secret-string", json.dumps(CREDS),
              check=True)
    created = json.loads(out.stdout)
    assert re.fullmatch(rf"arn:aws:secretsmanager:us-east-1:{A}:secret:registry/creds-[A-Za-z]{{6}}",
                        created["ARN"]), created
    assert created["Name"] == "registry/creds"
    assert len(created["VersionId"]) == 36
    partial = created["ARN"][:-7]
    for secret_id in ("registry/creds", created["ARN"], partial):
        got = json.loads(aws(berth.endpoint, env, "secretsmanager", "get-secret-value",
                             "--secret-id", secret_id, check=True).stdout)
        assert json.loads(got["SecretString"]) == CREDS, secret_id
        assert got["ARN"] == created["ARN"]
        assert got["VersionId"] == created["VersionId"]
        assert got["VersionStages"] == ["AWSCURRENT"]
    described = client(berth, "secretsmanager", root_creds).describe_secret(SecretId=partial)
    assert described["VersionIdsToStages"] == {created["VersionId"]: ["AWSCURRENT"]}
    assert "KmsKeyId" not in described  # the AWS managed key

    # The seed's inline policy, placeholders filled in, on an execution role that a
    # user of the account assumes. A second secret under a customer managed key uses
    # the policy's kms:Decrypt entry.
    key = create_key(berth, root_creds)
    cmk_secret = client(berth, "secretsmanager", root_creds).create_secret(
        Name="registry/cmk", KmsKeyId=key["Arn"], SecretString=json.dumps(CREDS))
    seed_policy = policy({"Effect": "Allow",
                          "Action": ["kms:Decrypt", "secretsmanager:GetSecretValue"],
                          "Resource": [created["ARN"], cmk_secret["ARN"], key["Arn"]]})
    session = assume(berth, root_creds, A, "ecsTaskExecutionRole", seed_policy)
    for secret_id in (created["ARN"], "registry/creds", cmk_secret["ARN"]):
        assert json.loads(get_value(berth, session, secret_id)["SecretString"]) == CREDS
    # The same through the CLI with the session's credentials.
    role_env = cli_env(tmp_path, key=session[0], secret=session[1])
    role_env["AWS_SESSION_TOKEN"] = session[2]
    got = json.loads(aws(berth.endpoint, role_env, "secretsmanager", "get-secret-value",
                         "--secret-id", "registry/cmk", check=True).stdout)
    assert json.loads(got["SecretString"]) == CREDS
    # The role may read, nothing else.
    denied = aws(berth.endpoint, role_env, "secretsmanager", "put-secret-value", "--secret-id",
                 "registry/creds", "--secret-string", "x")
    assert cli_code(denied) == "AccessDeniedException"


# --- acceptance 2: the key decides ---------------------------------------------------------

def test_kms_decrypt_needed_only_for_a_customer_managed_key(berth, root_creds):
    sm = client(berth, "secretsmanager", root_creds)
    key = create_key(berth, root_creds)
    default = sm.create_secret(Name="by-default", SecretString=json.dumps(CREDS))
    custom = sm.create_secret(Name="by-cmk", SecretString=json.dumps(CREDS), KmsKeyId=key["KeyId"])
    assert sm.describe_secret(SecretId="by-cmk")["KmsKeyId"] == key["KeyId"]
    only_get = policy(allow("secretsmanager:GetSecretValue", "*"))
    session = assume(berth, root_creds, A, "reader", only_get)
    assert json.loads(get_value(berth, session, default["ARN"])["SecretString"]) == CREDS
    with pytest.raises(botocore.exceptions.ClientError) as e:
        get_value(berth, session, custom["ARN"])
    assert code_of(e) == "AccessDeniedException"
    assert "kms:Decrypt" in message_of(e)
    assert CREDS["password"] not in message_of(e)

    iam = client(berth, "iam", root_creds)
    iam.put_role_policy(RoleName="reader", PolicyName="inline", PolicyDocument=policy(
        allow("secretsmanager:GetSecretValue", "*"), allow("kms:Decrypt", key["Arn"])))
    assert json.loads(get_value(berth, session, custom["ARN"])["SecretString"]) == CREDS


# --- acceptance 3: regions -----------------------------------------------------------------

def test_regions_are_namespaces_chosen_by_the_credential_scope(berth, tmp_path, root_creds):
    west = client(berth, "secretsmanager", root_creds, region="us-west-2")
    created = west.create_secret(Name="west-only", SecretString=json.dumps(CREDS))
    assert ":us-west-2:" in created["ARN"]
    assert json.loads(west.get_secret_value(SecretId=created["ARN"])["SecretString"]) == CREDS
    assert json.loads(west.get_secret_value(SecretId="west-only")["SecretString"]) == CREDS
    east = client(berth, "secretsmanager", root_creds, region="us-east-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        east.get_secret_value(SecretId="west-only")
    assert code_of(e) == "ResourceNotFoundException"
    assert message_of(e) == "Secrets Manager can't find the specified secret."
    assert [s["Name"] for s in east.list_secrets()["SecretList"]] == []
    assert [s["Name"] for s in west.list_secrets()["SecretList"]] == ["west-only"]
    # The CLI signing for us-west-2 reads it by ARN.
    env = cli_env(tmp_path, berth.credentials_file, region="us-west-2")
    got = json.loads(aws(berth.endpoint, env, "secretsmanager", "get-secret-value", "--secret-id",
                         created["ARN"], check=True).stdout)
    assert json.loads(got["SecretString"]) == CREDS
    # A secret of the same name in us-east-1 is another secret.
    east.create_secret(Name="west-only", SecretString="east")
    assert east.get_secret_value(SecretId="west-only")["SecretString"] == "east"
    assert west.get_secret_value(SecretId="west-only")["ARN"] == created["ARN"]


# --- acceptance 4: accounts ----------------------------------------------------------------

def test_cross_account_needs_resource_policy_key_policy_and_role(berth, tmp_path, root_creds):
    out = subprocess.run([BERTH, "account", "create", "--id", B, "--endpoint", berth.endpoint,
                          "--credentials-file", berth.credentials_file],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    b_root = profile(berth.credentials_file, B)

    key_policy = policy(
        {"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "AccountB", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
         "Action": "kms:Decrypt", "Resource": "*"})
    shared_key = create_key(berth, root_creds, key_policy)
    private_key = create_key(berth, root_creds)  # default key policy: account A only
    sm = client(berth, "secretsmanager", root_creds)
    shared = sm.create_secret(Name="shared", SecretString=json.dumps(CREDS),
                              KmsKeyId=shared_key["Arn"])
    private = sm.create_secret(Name="private-key", SecretString=json.dumps(CREDS),
                               KmsKeyId=private_key["Arn"])
    default = sm.create_secret(Name="default-key", SecretString=json.dumps(CREDS))
    arns = [shared["ARN"], private["ARN"], default["ARN"]]

    both = policy(allow("secretsmanager:GetSecretValue", arns),
                  allow("kms:Decrypt", [shared_key["Arn"], private_key["Arn"]]))
    reader = assume(berth, b_root, B, "reader", both)

    # No resource policy on A's secret yet.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        get_value(berth, reader, shared["ARN"])
    assert code_of(e) == "AccessDeniedException"

    resource_policy = policy({"Effect": "Allow",
                              "Principal": {"AWS": f"arn:aws:iam::{B}:role/reader"},
                              "Action": "secretsmanager:GetSecretValue", "Resource": "*"})
    for arn in arns:
        sm.put_resource_policy(SecretId=arn, ResourcePolicy=resource_policy, BlockPublicPolicy=True)
    assert json.loads(sm.get_resource_policy(SecretId="shared")["ResourcePolicy"]) == \
        json.loads(resource_policy)

    # All three allow: read by full ARN.
    assert json.loads(get_value(berth, reader, shared["ARN"])["SecretString"]) == CREDS
    # By name B looks in its own account.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        get_value(berth, reader, "shared")
    assert code_of(e) == "ResourceNotFoundException"
    # A's key policy does not name B.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        get_value(berth, reader, private["ARN"])
    assert code_of(e) == "AccessDeniedException" and "kms:Decrypt" in message_of(e)
    # A's default key never serves another account.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        get_value(berth, reader, default["ARN"])
    assert code_of(e) == "AccessDeniedException" and "kms:Decrypt" in message_of(e)
    # B's role without kms:Decrypt.
    iam_b = client(berth, "iam", b_root)
    iam_b.put_role_policy(RoleName="reader", PolicyName="inline", PolicyDocument=policy(
        allow("secretsmanager:GetSecretValue", arns)))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        get_value(berth, reader, shared["ARN"])
    assert code_of(e) == "AccessDeniedException" and "kms:Decrypt" in message_of(e)
    # B's role without secretsmanager:GetSecretValue.
    iam_b.put_role_policy(RoleName="reader", PolicyName="inline", PolicyDocument=policy(
        allow("kms:Decrypt", shared_key["Arn"])))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        get_value(berth, reader, shared["ARN"])
    assert code_of(e) == "AccessDeniedException"
    assert "secretsmanager:GetSecretValue" in message_of(e)
    # Restored, then A removes the resource policy: refused again.
    iam_b.put_role_policy(RoleName="reader", PolicyName="inline", PolicyDocument=both)
    assert json.loads(get_value(berth, reader, shared["ARN"])["SecretString"]) == CREDS
    sm.delete_resource_policy(SecretId=shared["ARN"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        get_value(berth, reader, shared["ARN"])
    assert code_of(e) == "AccessDeniedException"
    # B's root through the CLI profile: by name it is not found either.
    env = cli_env(tmp_path, berth.credentials_file)
    proc = aws(berth.endpoint, env, "--profile", B, "secretsmanager", "get-secret-value",
               "--secret-id", "shared")
    assert cli_code(proc) == "ResourceNotFoundException"


# --- rotation the manual way, and the other operations -------------------------------------

def test_put_secret_value_rotates_stages_and_versions_list(berth, tmp_path, root_creds):
    sm = client(berth, "secretsmanager", root_creds)
    first = sm.create_secret(Name="rotating", SecretString="v1")
    second = sm.put_secret_value(SecretId="rotating", SecretString="v2")
    assert second["VersionStages"] == ["AWSCURRENT"]
    assert sm.get_secret_value(SecretId="rotating")["SecretString"] == "v2"
    prev = sm.get_secret_value(SecretId="rotating", VersionStage="AWSPREVIOUS")
    assert prev["SecretString"] == "v1" and prev["VersionId"] == first["VersionId"]
    # The same ClientRequestToken again is a no-op; with another value a conflict.
    token = "0" * 32
    third = sm.put_secret_value(SecretId="rotating", SecretString="v3", ClientRequestToken=token)
    assert third["VersionId"] == token
    again = sm.put_secret_value(SecretId="rotating", SecretString="v3", ClientRequestToken=token)
    assert again["VersionId"] == token
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sm.put_secret_value(SecretId="rotating", SecretString="v4", ClientRequestToken=token)
    assert code_of(e) == "ResourceExistsException"
    versions = sm.list_secret_version_ids(SecretId="rotating", IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"]: v["VersionStages"] for v in versions} == {
        token: ["AWSCURRENT"], second["VersionId"]: ["AWSPREVIOUS"], first["VersionId"]: []}
    # A pending version promoted by UpdateSecretVersionStage.
    pending = sm.put_secret_value(SecretId="rotating", SecretString="v5",
                                  VersionStages=["AWSPENDING"])
    sm.update_secret_version_stage(SecretId="rotating", VersionStage="AWSCURRENT",
                                   RemoveFromVersionId=token,
                                   MoveToVersionId=pending["VersionId"])
    assert sm.get_secret_value(SecretId="rotating")["SecretString"] == "v5"
    assert sm.get_secret_value(SecretId="rotating", VersionStage="AWSPREVIOUS")["SecretString"] == "v3"
    # UpdateSecret: description and a new value; binary values; tags; listing.
    sm.update_secret(SecretId="rotating", Description="rotated by hand",
                     SecretBinary=b"\x00\xffbinary")
    got = sm.get_secret_value(SecretId="rotating")
    assert got["SecretBinary"] == b"\x00\xffbinary" and "SecretString" not in got
    sm.tag_resource(SecretId="rotating", Tags=[{"Key": "team", "Value": "platform"}])
    env = cli_env(tmp_path, berth.credentials_file)
    listed = json.loads(aws(berth.endpoint, env, "secretsmanager", "list-secrets", "--filters",
                            "Key=tag-value,Values=platform", check=True).stdout)["SecretList"]
    assert [s["Name"] for s in listed] == ["rotating"]
    assert listed[0]["Description"] == "rotated by hand"
    assert listed[0]["Tags"] == [{"Key": "team", "Value": "platform"}]
    sm.untag_resource(SecretId="rotating", TagKeys=["team"])
    assert "Tags" not in sm.describe_secret(SecretId="rotating")
    for i in range(3):
        sm.create_secret(Name=f"page-{i}")
    names, token = [], None
    while True:
        page = sm.list_secrets(MaxResults=2, SortOrder="asc", **({"NextToken": token} if token else {}))
        names += [s["Name"] for s in page["SecretList"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == ["rotating", "page-0", "page-1", "page-2"]
    password = sm.get_random_password(PasswordLength=40, ExcludePunctuation=True)["RandomPassword"]
    assert re.fullmatch(r"[A-Za-z0-9]{40}", password)


def test_batch_get_secret_value_over_signed_json(berth, root_creds):
    sm = client(berth, "secretsmanager", root_creds)
    a = sm.create_secret(Name="batch-a", SecretString="va")
    sm.create_secret(Name="batch-b", SecretString="vb")
    body = json.dumps({"SecretIdList": [a["ARN"], "batch-b", "batch-none"]}).encode()
    url = berth.endpoint + "/"
    headers = sign("POST", url, {"Content-Type": JSON11,
                                 "X-Amz-Target": "secretsmanager.BatchGetSecretValue"},
                   body, root_creds[0], root_creds[1], "us-east-1", "secretsmanager")
    status, _, reply = raw("POST", url, headers, body)
    assert status == 200, reply
    out = json.loads(reply)
    assert [v["SecretString"] for v in out["SecretValues"]] == ["va", "vb"]
    assert out["Errors"] == [{"SecretId": "batch-none", "ErrorCode": "ResourceNotFoundException",
                              "Message": "Secrets Manager can't find the specified secret."}]


# --- bad input -----------------------------------------------------------------------------

def test_bad_inputs_get_aws_codes_and_leave_nothing_behind(berth, root_creds):
    sm = client(berth, "secretsmanager", root_creds, validate=False)

    def code(fn, **kw):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            fn(**kw)
        assert CREDS["password"] not in message_of(e)
        return code_of(e)

    assert code(sm.get_secret_value, SecretId="missing") == "ResourceNotFoundException"
    assert code(sm.get_secret_value,
                SecretId=f"arn:aws:secretsmanager:us-east-1:{A}:secret:missing-AbCdEf") == \
        "ResourceNotFoundException"
    sm.create_secret(Name="exists", SecretString=json.dumps(CREDS))
    assert code(sm.create_secret, Name="exists", SecretString="x") == "ResourceExistsException"
    assert code(sm.create_secret, Name="both", SecretString="x", SecretBinary=b"y") == \
        "InvalidParameterException"
    assert code(sm.put_secret_value, SecretId="exists") == "InvalidParameterException"
    assert code(sm.create_secret, Name="huge", SecretString="x" * 65537) == "ValidationException"
    assert code(sm.create_secret, Name="huge-bin", SecretBinary=b"x" * 65537) == \
        "ValidationException"
    assert code(sm.create_secret, Name="bad name!") == "InvalidParameterException"
    assert code(sm.create_secret, Name="short-token", ClientRequestToken="abc") == \
        "ValidationException"
    assert code(sm.put_resource_policy, SecretId="exists", ResourcePolicy="{not json") == \
        "MalformedPolicyDocumentException"
    public = policy({"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:*",
                     "Resource": "*"})
    assert code(sm.put_resource_policy, SecretId="exists", ResourcePolicy=public,
                BlockPublicPolicy=True) == "PublicPolicyException"
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId="exists")
    validation = sm.validate_resource_policy(ResourcePolicy=public)
    assert validation["PolicyValidationPassed"] is False
    assert code(sm.validate_resource_policy, ResourcePolicy="[]") == \
        "MalformedPolicyDocumentException"
    assert code(sm.delete_secret, SecretId="exists", RecoveryWindowInDays=7,
                ForceDeleteWithoutRecovery=True) == "InvalidParameterException"
    assert code(sm.delete_secret, SecretId="exists", RecoveryWindowInDays=6) == \
        "InvalidParameterException"
    deleted = sm.delete_secret(SecretId="exists", RecoveryWindowInDays=7)
    assert deleted["DeletionDate"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sm.get_secret_value(SecretId="exists")
    assert code_of(e) == "InvalidRequestException"
    assert message_of(e) == \
        "You can't perform this operation on the secret because it was marked for deletion."
    assert code(sm.put_secret_value, SecretId="exists", SecretString="y") == \
        "InvalidRequestException"
    assert code(sm.create_secret, Name="exists") == "InvalidRequestException"
    sm.restore_secret(SecretId="exists")
    assert json.loads(sm.get_secret_value(SecretId="exists")["SecretString"]) == CREDS
    assert code(sm.get_random_password, PasswordLength=5000) == "ValidationException"

    # A disabled customer managed key: reads fail with DecryptionFailure, writes
    # with EncryptionFailure, and the secret is unchanged.
    kms = client(berth, "kms", root_creds)
    key = create_key(berth, root_creds)
    sm.create_secret(Name="keyed", SecretString="keyed-value", KmsKeyId=key["Arn"])
    kms.disable_key(KeyId=key["KeyId"])
    assert code(sm.get_secret_value, SecretId="keyed") == "DecryptionFailure"
    assert code(sm.put_secret_value, SecretId="keyed", SecretString="new") == "EncryptionFailure"
    kms.enable_key(KeyId=key["KeyId"])
    keyed = sm.list_secret_version_ids(SecretId="keyed", IncludeDeprecated=True)["Versions"]
    assert len(keyed) == 1
    assert sm.get_secret_value(SecretId="keyed")["SecretString"] == "keyed-value"
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert code(sm.get_secret_value, SecretId="keyed") == "DecryptionFailure"

    # Nothing the refused requests named was created.
    assert sorted(s["Name"] for s in sm.list_secrets()["SecretList"]) == ["exists", "keyed"]


# --- acceptance 5: nothing in plaintext at rest or in the log -------------------------------

def test_no_secret_value_in_the_data_dir_or_the_log(tmp_path, root_creds):
    values = ["Zebra-Quartz-9931-secret", "registry-robot-7731", "bin\x01ary-Morel-5512"]
    server = Berth(tmp_path / "data", args=["--log-level", "debug"], root=root_creds)
    logs = [server.log_path]
    try:
        sm = client(server, "secretsmanager", root_creds)
        kms = client(server, "kms", root_creds)
        key = create_key(server, root_creds)
        sm.create_secret(Name="at-rest", SecretString=json.dumps(
            {"username": values[1], "password": values[0]}))
        sm.create_secret(Name="at-rest-cmk", SecretString=values[0], KmsKeyId=key["Arn"])
        sm.create_secret(Name="at-rest-bin", SecretBinary=values[2].encode())
        sm.put_secret_value(SecretId="at-rest", SecretString=values[0] + "-v2")
        sm.update_secret(SecretId="at-rest-cmk", SecretString=values[0] + "-v3")
        sm.get_secret_value(SecretId="at-rest")
        with pytest.raises(botocore.exceptions.ClientError):
            sm.put_secret_value(SecretId="at-rest", SecretString=values[0],
                                ClientRequestToken=sm.describe_secret(SecretId="at-rest")
                                ["VersionIdsToStages"].popitem()[0])
        with pytest.raises(botocore.exceptions.ClientError):
            sm.create_secret(Name="at-rest", SecretString=values[0])
        data_key = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")["Plaintext"]
        sm.delete_secret(SecretId="at-rest-bin", RecoveryWindowInDays=7)
        sm.restore_secret(SecretId="at-rest-bin")
    finally:
        assert server.stop() == 0
    server = Berth(tmp_path / "data", args=["--log-level", "debug"], root=root_creds)
    logs.append(server.log_path)
    try:
        sm = client(server, "secretsmanager", root_creds)
        assert json.loads(sm.get_secret_value(SecretId="at-rest", VersionStage="AWSPREVIOUS")
                          ["SecretString"])["password"] == values[0]
        assert sm.get_secret_value(SecretId="at-rest-cmk")["SecretString"] == values[0] + "-v3"
        assert sm.get_secret_value(SecretId="at-rest-bin")["SecretBinary"] == values[2].encode()
    finally:
        assert server.stop() == 0

    needles = [v.encode() for v in values]
    needles += [base64.b64encode(v.encode()) for v in values]
    needles.append(data_key)
    needles.append(base64.b64encode(data_key))
    files = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path / "data") for f in fs] + logs
    assert any(f.endswith("berth.db") for f in files)
    for path in files:
        with open(path, "rb") as f:
            content = f.read()
        for needle in needles:
            assert needle not in content, f"{needle!r} found in {path}"
