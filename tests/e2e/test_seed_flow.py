"""The seed's flow (private registry credentials for an ECS task), through the
real AWS CLI v2 and boto3: an execution role trusted by ecs-tasks.amazonaws.com,
the seed's inline policy, the role assumed *as the service* (the operator API
stands in for ECS until tasks run), decisions exactly as AWS makes them, and the
image pulled from a private registry with the login the secret holds."""
import json
import os
import subprocess

import botocore.exceptions
import pytest

from berth_harness import BERTH, aws, cli_env, raw, sign, boto_client
from registry_harness import PASSWORD, USER, Registry, build_image, push

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


# ---------------------------------------------------------------------------------------
# The whole seed: the secret holds the registry's login; the execution role's credentials
# read it (as the ECS agent does for repositoryCredentials); the image is pulled with it.

@pytest.fixture(scope="module")
def private_registry(tmp_path_factory):
    """A docker-registry with htpasswd auth holding team/api:1.4."""
    work = tmp_path_factory.mktemp("seed-registry")
    layout = build_image(work / "image", tag="1.4")
    reg = Registry(work / "registry")
    try:
        push(layout, "1.4", reg, "team/api")
    except BaseException:
        reg.stop()
        raise
    yield reg
    reg.stop()


def pull_with_secret(berth, registry, secret, session, tmp_path, extra=(), env_extra=None):
    """`berth pull --repository-credentials` as `session` (key, secret, token) given in AWS_*
    variables, or with none of them when `session` is None; (returncode, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_REGION"] = REGION
    if session:
        env.update(AWS_ACCESS_KEY_ID=session[0], AWS_SECRET_ACCESS_KEY=session[1],
                   AWS_SESSION_TOKEN=session[2])
    env.update(env_extra or {})
    proc = subprocess.run(
        [BERTH, "pull", f"{registry.host}/team/api:1.4", "--repository-credentials", secret,
         "--endpoint", berth.endpoint, "--insecure-registry", registry.host,
         "--store", str(tmp_path / "store"), *extra],
        env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def task_session(berth, role_arn):
    status, out = assume_as_service(berth, role_arn)
    assert status == 200, out
    c = out["Credentials"]
    return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]


def test_seed_pull_reads_registry_login_from_the_secret_as_the_execution_role(
        berth, private_registry, tmp_path):
    sm = client(berth, "secretsmanager")
    iam = client(berth, "iam")
    kms = client(berth, "kms")
    key_arn = kms.create_key(Description="registry creds")["KeyMetadata"]["Arn"]
    login = json.dumps({"username": USER, "password": PASSWORD})
    secret = sm.create_secret(Name="team/registry", SecretString=login, KmsKeyId=key_arn)["ARN"]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="apiExecutionRole",
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]

    def policy(actions, resources):
        iam.put_role_policy(RoleName="apiExecutionRole", PolicyName="private-registry",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                                "Effect": "Allow", "Action": actions, "Resource": resources}]}))

    # The role may read the secret but not decrypt with its customer managed key.
    policy(["secretsmanager:GetSecretValue"], [secret])
    code, out = pull_with_secret(berth, private_registry, secret,
                                 task_session(berth, role["Arn"]), tmp_path)
    assert code == 1, out
    assert ("ResourceInitializationError: unable to pull secrets or registry auth: asm fetching "
            f"secret from the service for {secret}: AccessDeniedException: ") in out, out
    assert "kms:Decrypt" in out, out
    assert PASSWORD not in out

    # The seed's policy: both actions. The pull logs in with the secret's login.
    policy(["secretsmanager:GetSecretValue", "kms:Decrypt"], [secret, key_arn])
    code, out = pull_with_secret(berth, private_registry, secret,
                                 task_session(berth, role["Arn"]), tmp_path,
                                 extra=("--dest", str(tmp_path / "rootfs")))
    assert code == 0, out
    assert (tmp_path / "rootfs" / "etc" / "motd").read_text() == "berth test image\n"
    assert PASSWORD not in out

    # A secret that is not {"username","password"}: the agent's words.
    bad = sm.create_secret(Name="team/bad", SecretString=json.dumps({"user": USER}))["ARN"]
    policy(["secretsmanager:GetSecretValue"], [bad])
    code, out = pull_with_secret(berth, private_registry, bad, task_session(berth, role["Arn"]),
                                 tmp_path / "bad")
    assert code == 1, out
    assert "asm fetching username: AuthorizationData is malformed, empty field" in out, out

    # A wrong password in the secret: the registry refuses, in the registry's words.
    wrong = sm.create_secret(Name="team/wrong",
                             SecretString=json.dumps({"username": USER, "password": "nope"}))["ARN"]
    policy(["secretsmanager:GetSecretValue"], [wrong])
    code, out = pull_with_secret(berth, private_registry, wrong,
                                 task_session(berth, role["Arn"]), tmp_path / "wrong")
    assert code == 1, out
    assert "CannotPullContainerError" in out and "UNAUTHORIZED" in out, out


def test_seed_pull_cross_region_secret_by_full_arn(berth, private_registry, tmp_path):
    west = boto_client(berth, "secretsmanager", region="us-west-2")
    secret = west.create_secret(
        Name="team/registry", SecretString=json.dumps({"username": USER, "password": PASSWORD}))["ARN"]
    iam = client(berth, "iam")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="westRole", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="westRole", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                                                "Action": "secretsmanager:GetSecretValue",
                                                "Resource": secret}]}))
    session = task_session(berth, f"arn:aws:iam::{ACCOUNT}:role/westRole")
    # By full ARN from a caller configured for us-east-1: read in us-west-2.
    code, out = pull_with_secret(berth, private_registry, secret, session, tmp_path)
    assert code == 0, out
    # By name, only in its own region.
    code, out = pull_with_secret(berth, private_registry, "team/registry", session,
                                 tmp_path / "by-name")
    assert code == 1 and "ResourceNotFoundException" in out, out
    code, out = pull_with_secret(berth, private_registry, "team/registry", session,
                                 tmp_path / "by-name-west", extra=("--region", "us-west-2"))
    assert code == 0, out
    # The region from the environment as the AWS CLI reads it: AWS_REGION, else AWS_DEFAULT_REGION.
    code, out = pull_with_secret(berth, private_registry, "team/registry", session,
                                 tmp_path / "by-name-default-region",
                                 env_extra={"AWS_REGION": "", "AWS_DEFAULT_REGION": "us-west-2"})
    assert code == 0, out
    # One source of registry credentials at a time.
    code, out = pull_with_secret(berth, private_registry, secret, session, tmp_path / "two",
                                 extra=("--creds", f"{USER}:{PASSWORD}"))
    assert code == 2, out
    assert ("give one of --creds, --username with --password-stdin, --docker-config and "
            "--repository-credentials") in out, out


def test_seed_pull_profile_wins_over_the_environment(berth, private_registry, tmp_path):
    """An explicit --profile is used even when AWS_* variables are set, as the AWS CLI does;
    without it the variables are (here: unknown keys, refused by SigV4)."""
    sm = client(berth, "secretsmanager")
    sm.create_secret(Name="team/registry",
                     SecretString=json.dumps({"username": USER, "password": PASSWORD}))
    bogus = ("AKIAUNKNOWNUNKNOWN00", "not-a-secret-key", "")
    code, out = pull_with_secret(berth, private_registry, "team/registry", bogus, tmp_path,
                                 extra=("--credentials-file", berth.credentials_file,
                                        "--profile", "default"))
    assert code == 0, out
    code, out = pull_with_secret(berth, private_registry, "team/registry", bogus,
                                 tmp_path / "env")
    assert code == 1, out
    assert "asm fetching secret from the service for team/registry: UnrecognizedClientException" \
        in out, out
    # No keys in the environment: AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE, as the AWS CLI.
    with open(berth.credentials_file) as f:
        named = f.read().replace("[default]", "[builder]")
    (tmp_path / "shared").write_text(named)
    code, out = pull_with_secret(berth, private_registry, "team/registry", None,
                                 tmp_path / "shared-env",
                                 env_extra={"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "shared"),
                                            "AWS_PROFILE": "builder"})
    assert code == 0, out
    code, out = pull_with_secret(berth, private_registry, "team/registry", None,
                                 tmp_path / "no-profile",
                                 env_extra={"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "shared")})
    assert code == 2 and "default" in out, out
