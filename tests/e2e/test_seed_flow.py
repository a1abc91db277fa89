"""The seed's flow (private registry credentials for an ECS task), through the
real AWS CLI v2 and boto3: an execution role trusted by ecs-tasks.amazonaws.com,
the seed's inline policy, the role assumed *as the service* (the operator API
stands in for ECS until tasks run), and decisions exactly as AWS makes them."""
import json

import botocore.exceptions
import pytest

from berth_harness import aws, cli_env, raw, sign, boto_client

ACCOUNT = "123456789012"
REGION = "us-east-1"


def client(berth, service, key=None, secret=None, token=None):
    return boto_client(berth, service, key, secret, token, region=REGION)


def assume_as_service(berth, role_arn, service="ecs-tasks.amazonaws.com"):
    body = json.dumps({"RoleArn": role_arn, "RoleSessionName": "task-1234",
                       "ServicePrincipal": service}).encode()
    headers = sign("POST", berth.endpoint + "/", {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "BerthAdmin_20261126.AssumeRoleAsService"}, body,
        *berth.read_credentials(), REGION, "berth")
    status, _, reply = raw("POST", berth.endpoint + "/", headers, body)
    return status, json.loads(reply)


def denied(call, action):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    err = e.value.response["Error"]
    assert err["Code"] in ("AccessDeniedException", "AccessDenied"), err
    assert action in err["Message"], err["Message"]
    return err["Message"]


@pytest.fixture
def seed(berth):
    """Two registry secrets (default key and a customer managed key) and the execution role
    with the seed's inline policy naming the CMK secret and the CMK."""
    kms = client(berth, "kms")
    sm = client(berth, "secretsmanager")
    iam = client(berth, "iam")
    key_arn = kms.create_key(Description="registry creds")["KeyMetadata"]["Arn"]
    value = json.dumps({"username": "puller", "password": "hunter2-registry"})
    cmk_secret = sm.create_secret(Name="registry/cmk", SecretString=value, KmsKeyId=key_arn)["ARN"]
    default_secret = sm.create_secret(Name="registry/default", SecretString=value)["ARN"]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="ecsTaskExecutionRole",
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    seed_policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "RegistryAuth", "Effect": "Allow",
        "Action": ["kms:Decrypt", "secretsmanager:GetSecretValue"],
        "Resource": [cmk_secret, key_arn]}]}
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="private-registry",
                        PolicyDocument=json.dumps(seed_policy))
    return {"key": key_arn, "cmk_secret": cmk_secret, "default_secret": default_secret,
            "role": role, "value": value}


def test_execution_role_assumed_as_ecs_tasks_reads_its_secret(berth, seed):
    status, out = assume_as_service(berth, seed["role"]["Arn"])
    assert status == 200, out
    c = out["Credentials"]
    session = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert out["AssumedRoleUser"]["Arn"] == \
        f"arn:aws:sts::{ACCOUNT}:assumed-role/ecsTaskExecutionRole/task-1234"
    ident = client(berth, "sts", *session).get_caller_identity()
    assert ident["Arn"] == out["AssumedRoleUser"]["Arn"]
    sm = client(berth, "secretsmanager", *session)
    got = json.loads(sm.get_secret_value(SecretId=seed["cmk_secret"])["SecretString"])
    assert got == {"username": "puller", "password": "hunter2-registry"}
    # Only what the policy names: the other secret is denied by IAM before any KMS call.
    denied(lambda: sm.get_secret_value(SecretId=seed["default_secret"]),
           "secretsmanager:GetSecretValue")
    denied(lambda: sm.list_secrets(), "secretsmanager:ListSecrets")
    denied(lambda: client(berth, "iam", *session).list_roles(), "iam:ListRoles")
    kms = client(berth, "kms", *session)
    other = client(berth, "kms").create_key()["KeyMetadata"]["Arn"]
    denied(lambda: kms.encrypt(KeyId=other, Plaintext=b"x"), "kms:Encrypt")


def test_trust_policy_admits_only_the_named_service(berth, seed):
    status, out = assume_as_service(berth, seed["role"]["Arn"], service="lambda.amazonaws.com")
    assert status == 403 and out["__type"] == "AccessDenied", out
    iam = client(berth, "iam")
    iam.create_user(UserName="mallory")
    iam.put_user_policy(UserName="mallory", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Resource": "*"}]}))
    key = iam.create_access_key(UserName="mallory")["AccessKey"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(berth, "sts", key["AccessKeyId"], key["SecretAccessKey"]).assume_role(
            RoleArn=seed["role"]["Arn"], RoleSessionName="steal")
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_seed_policy_with_the_bare_secret_name_does_not_match(berth, seed):
    """As FACTS.md says: policies match the stored, suffixed ARN; `secret:name` alone does not,
    `secret:name-??????` does."""
    iam = client(berth, "iam")
    bare = seed["cmk_secret"].rsplit("-", 1)[0]
    for resource, allowed in ((bare, False), (bare + "-??????", True)):
        iam.put_role_policy(RoleName="ecsTaskExecutionRole", PolicyName="private-registry",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                                "Effect": "Allow",
                                "Action": ["kms:Decrypt", "secretsmanager:GetSecretValue"],
                                "Resource": [resource, seed["key"]]}]}))
        _, out = assume_as_service(berth, seed["role"]["Arn"])
        c = out["Credentials"]
        sm = client(berth, "secretsmanager", c["AccessKeyId"], c["SecretAccessKey"],
                    c["SessionToken"])
        if allowed:
            assert sm.get_secret_value(SecretId=seed["cmk_secret"])["SecretString"] == seed["value"]
        else:
            denied(lambda: sm.get_secret_value(SecretId=seed["cmk_secret"]),
                   "secretsmanager:GetSecretValue")


def test_user_without_policies_may_only_ask_who_it_is(berth, tmp_path):
    iam = client(berth, "iam")
    iam.create_user(UserName="nobody")
    key = iam.create_access_key(UserName="nobody")["AccessKey"]
    creds = (key["AccessKeyId"], key["SecretAccessKey"])
    assert client(berth, "sts", *creds).get_caller_identity()["Arn"].endswith(":user/nobody")
    denied(lambda: client(berth, "iam", *creds).list_users(), "iam:ListUsers")
    denied(lambda: client(berth, "kms", *creds).generate_random(NumberOfBytes=8),
           "kms:GenerateRandom")
    denied(lambda: client(berth, "kms", *creds).create_key(), "kms:CreateKey")
    denied(lambda: client(berth, "secretsmanager", *creds).list_secrets(),
           "secretsmanager:ListSecrets")
    denied(lambda: client(berth, "secretsmanager", *creds).create_secret(Name="x", SecretString="y"),
           "secretsmanager:CreateSecret")
    denied(lambda: client(berth, "sts", *creds).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/none", RoleSessionName="xx"), "sts:AssumeRole")
    out = aws(berth.endpoint, cli_env(tmp_path, key=creds[0], secret=creds[1]), "iam", "get-user",
              "--user-name", "nobody")
    assert "AccessDenied" in out.stderr and "iam:GetUser" in out.stderr


def test_simulator_agrees_with_the_real_decisions(berth, seed):
    iam = client(berth, "iam")
    other_secret = seed["default_secret"]
    results = iam.simulate_principal_policy(
        PolicySourceArn=seed["role"]["Arn"],
        ActionNames=["secretsmanager:GetSecretValue", "kms:Decrypt"],
        ResourceArns=[seed["cmk_secret"], seed["key"], other_secret])["EvaluationResults"]
    decisions = {(r["EvalActionName"], r["EvalResourceName"]): r for r in results}
    expect_allowed = {("secretsmanager:GetSecretValue", seed["cmk_secret"]),
                      ("kms:Decrypt", seed["key"]), ("secretsmanager:GetSecretValue", seed["key"]),
                      ("kms:Decrypt", seed["cmk_secret"])}
    for pair, r in decisions.items():
        want = "allowed" if pair in expect_allowed else "implicitDeny"
        assert r["EvalDecision"] == want, (pair, r)
        if want == "allowed":
            assert [m["SourcePolicyId"] for m in r["MatchedStatements"]] == \
                ["role/ecsTaskExecutionRole/inline/private-registry"]
    # And the real call agrees with "implicitDeny" for the other secret.
    _, out = assume_as_service(berth, seed["role"]["Arn"])
    c = out["Credentials"]
    sm = client(berth, "secretsmanager", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    denied(lambda: sm.get_secret_value(SecretId=other_secret), "secretsmanager:GetSecretValue")
