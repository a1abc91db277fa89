"""IAM and STS through the real AWS CLI v2 and boto3: entities, access keys,
policies that are evaluated for real, roles and temporary credentials."""
import json
import re

import botocore.exceptions
import pytest

from berth_harness import (aws, cli_env, boto_client as client, error_code as code_of, make_user,
                          allow)

ACCOUNT = "123456789012"


def test_users_through_the_cli(berth, tmp_path):
    env = cli_env(tmp_path, berth.credentials_file)
    out = aws(berth.endpoint, env, "iam", "create-user", "--user-name", "alice", check=True)
    user = json.loads(out.stdout)["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", user["UserId"])
    dup = aws(berth.endpoint, env, "iam", "create-user", "--user-name", "ALICE")
    assert "EntityAlreadyExists" in dup.stderr
    got = json.loads(aws(berth.endpoint, env, "iam", "get-user", "--user-name", "alice",
                         check=True).stdout)["User"]
    assert got["UserId"] == user["UserId"]
    listed = json.loads(aws(berth.endpoint, env, "iam", "list-users", check=True).stdout)
    assert [u["UserName"] for u in listed["Users"]] == ["alice"]
    missing = aws(berth.endpoint, env, "iam", "get-user", "--user-name", "bob")
    assert "NoSuchEntity" in missing.stderr
    bad = aws(berth.endpoint, env, "iam", "create-user", "--user-name", "no spaces!")
    assert "ValidationError" in bad.stderr
    aws(berth.endpoint, env, "iam", "delete-user", "--user-name", "alice", check=True)
    assert json.loads(aws(berth.endpoint, env, "iam", "list-users", check=True).stdout)["Users"] == []


def test_user_keys_identity_and_implicit_deny(berth):
    iam = client(berth, "iam")
    key, secret = make_user(iam, "bob")
    ident = client(berth, "sts", key, secret).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/bob"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(berth, "iam", key, secret).list_users()
    assert code_of(e) == "AccessDenied"
    assert e.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: iam:ListUsers on "
        f"resource: arn:aws:iam::{ACCOUNT}:user/ because no identity-based policy allows the "
        "iam:ListUsers action")
    keys = iam.list_access_keys(UserName="bob")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [key]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName="bob")
    assert code_of(e) == "DeleteConflict"


def test_inline_policy_allows_then_explicit_deny_wins(berth):
    iam = client(berth, "iam")
    key, secret = make_user(iam, "carol", allow("iam:List*"))
    as_carol = client(berth, "iam", key, secret)
    assert as_carol.list_users()["Users"][0]["UserName"] == "carol"
    doc = iam.get_user_policy(UserName="carol", PolicyName="p")["PolicyDocument"]
    assert doc == allow("iam:List*")  # URL-decoded and parsed by botocore
    deny = {"Version": "2012-10-17", "Statement": [
        {"Sid": "NoUsers", "Effect": "Deny", "Action": "iam:ListUsers", "Resource": "*"}]}
    iam.put_user_policy(UserName="carol", PolicyName="deny", PolicyDocument=json.dumps(deny))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_carol.list_users()
    assert code_of(e) == "AccessDenied"
    assert "with an explicit deny in an identity-based policy" in e.value.response["Error"]["Message"]
    assert as_carol.list_roles()["Roles"] == []


def test_malformed_policies_are_refused_and_nothing_is_stored(berth):
    iam = client(berth, "iam")
    iam.create_user(UserName="dave")
    for doc in ("{not json", json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]}),
            json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                 "Condition": {"NoSuchOperator": {"aws:username": "x"}}}]})):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.put_user_policy(UserName="dave", PolicyName="bad", PolicyDocument=doc)
        assert code_of(e) == "MalformedPolicyDocument", doc
    assert iam.list_user_policies(UserName="dave")["PolicyNames"] == []


def test_managed_policies_versions_and_attachment(berth):
    iam = client(berth, "iam")
    key, secret = make_user(iam, "erin")
    arn = iam.create_policy(PolicyName="ReadIam", PolicyDocument=json.dumps(
        allow("iam:GetUser")))["Policy"]["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/ReadIam"
    as_erin = client(berth, "iam", key, secret)
    with pytest.raises(botocore.exceptions.ClientError):
        as_erin.get_user(UserName="erin")
    iam.attach_user_policy(UserName="erin", PolicyArn=arn)
    assert as_erin.get_user(UserName="erin")["User"]["UserName"] == "erin"
    attached = iam.list_attached_user_policies(UserName="erin")["AttachedPolicies"]
    assert attached == [{"PolicyName": "ReadIam", "PolicyArn": arn}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow("iam:ListUsers")),
                                   SetAsDefault=True)["PolicyVersion"]
    assert v2["VersionId"] == "v2" and v2["IsDefaultVersion"]
    with pytest.raises(botocore.exceptions.ClientError):
        as_erin.get_user(UserName="erin")  # v1's grant is gone
    assert as_erin.list_users()["Users"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert code_of(e) == "DeleteConflict"
    iam.detach_user_policy(UserName="erin", PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)


def trust(principal, condition=None):
    stmt = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        stmt["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


def test_assume_role_needs_trust_and_identity_permission(berth):
    iam = client(berth, "iam")
    role = iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=trust(
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/deployer"
    iam.put_role_policy(RoleName="deployer", PolicyName="p", PolicyDocument=json.dumps(
        allow("iam:ListRoles")))
    key, secret = make_user(iam, "frank")
    sts = client(berth, "sts", key, secret)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert code_of(e) == "AccessDenied"
    iam.put_user_policy(UserName="frank", PolicyName="assume", PolicyDocument=json.dumps(
        allow("sts:AssumeRole", role["Arn"])))
    creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1",
                            DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    ident = client(berth, "sts", *session).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/s1"
    assert ident["UserId"] == f"{role['RoleId']}:s1"
    assert client(berth, "iam", *session).list_roles()["Roles"][0]["RoleName"] == "deployer"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(berth, "iam", *session).list_users()
    assert code_of(e) == "AccessDenied"
    tampered = (session[0], session[1], session[2][:-4] + "AAAA")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(berth, "sts", *tampered).get_caller_identity()
    assert code_of(e) == "InvalidClientTokenId"
    # A session policy only narrows.
    narrowed = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s2",
                               Policy=json.dumps(allow("iam:GetRole")))["Credentials"]
    with pytest.raises(botocore.exceptions.ClientError):
        client(berth, "iam", narrowed["AccessKeyId"], narrowed["SecretAccessKey"],
               narrowed["SessionToken"]).list_roles()


def test_role_trusting_only_ecs_tasks_cannot_be_assumed_by_users(berth):
    iam = client(berth, "iam")
    role = iam.create_role(RoleName="exec", AssumeRolePolicyDocument=trust(
        {"Service": "ecs-tasks.amazonaws.com"}))["Role"]
    key, secret = make_user(iam, "gina", allow("sts:AssumeRole"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(berth, "sts", key, secret).assume_role(RoleArn=role["Arn"], RoleSessionName="xx")
    assert code_of(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName="bad", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}))
    assert code_of(e) == "MalformedPolicyDocument"


def test_external_id_condition(berth):
    iam = client(berth, "iam")
    role = iam.create_role(RoleName="partner", AssumeRolePolicyDocument=trust(
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        {"StringEquals": {"sts:ExternalId": "opensesame"}}))["Role"]
    key, secret = make_user(iam, "hank", allow("sts:AssumeRole"))
    sts = client(berth, "sts", key, secret)
    with pytest.raises(botocore.exceptions.ClientError):
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="xx", ExternalId="wrong")
    assert sts.assume_role(RoleArn=role["Arn"], RoleSessionName="xx",
                           ExternalId="opensesame")["Credentials"]["AccessKeyId"]


def test_policy_simulator_explains_decisions(berth, tmp_path):
    iam = client(berth, "iam")
    iam.create_user(UserName="sim")
    iam.put_user_policy(UserName="sim", PolicyName="reads", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Sid": "ReadSecret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
             "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:registry-*"},
            {"Sid": "NoProd", "Effect": "Deny", "Action": "secretsmanager:*",
             "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod-*"}]}))
    results = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/sim",
        ActionNames=["secretsmanager:GetSecretValue", "kms:Decrypt"],
        ResourceArns=[f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:registry-AbCdEf",
                      f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod-AbCdEf"])
    got = {(r["EvalActionName"], r["EvalResourceName"].rsplit(":", 1)[1]): r
           for r in results["EvaluationResults"]}
    allowed = got[("secretsmanager:GetSecretValue", "registry-AbCdEf")]
    assert allowed["EvalDecision"] == "allowed"
    assert [m["SourcePolicyId"] for m in allowed["MatchedStatements"]] == ["user/sim/inline/reads"]
    assert got[("secretsmanager:GetSecretValue", "prod-AbCdEf")]["EvalDecision"] == "explicitDeny"
    assert got[("kms:Decrypt", "registry-AbCdEf")]["EvalDecision"] == "implicitDeny"
    # The same through the CLI, with a custom policy and a condition key.
    env = cli_env(tmp_path, berth.credentials_file)
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}}]})
    out = aws(berth.endpoint, env, "iam", "simulate-custom-policy", "--policy-input-list", policy,
              "--action-names", "kms:Decrypt", "--context-entries",
              "ContextKeyName=kms:ViaService,ContextKeyValues=secretsmanager.us-east-1.amazonaws.com,"
              "ContextKeyType=string", check=True)
    assert json.loads(out.stdout)["EvaluationResults"][0]["EvalDecision"] == "allowed"
    out = aws(berth.endpoint, env, "iam", "simulate-custom-policy", "--policy-input-list", policy,
              "--action-names", "kms:Decrypt", check=True)
    assert json.loads(out.stdout)["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_custom_policy(PolicyInputList=["{nope"], ActionNames=["s3:GetObject"])
    assert code_of(e) == "MalformedPolicyDocument"


def test_get_session_token_keeps_identity_and_permissions(berth):
    iam = client(berth, "iam")
    key, secret = make_user(iam, "ivy", allow(["iam:ListUsers", "kms:GenerateRandom"]))
    creds = client(berth, "sts", key, secret).get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    ident = client(berth, "sts", *session).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ivy"
    assert len(client(berth, "kms", *session).generate_random(NumberOfBytes=8)["Plaintext"]) == 8
    # Without MFA, session credentials cannot call IAM (as in AWS) ...
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(berth, "iam", *session).list_users()
    assert code_of(e) == "InvalidClientTokenId"
    # ... nor get more session tokens.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(berth, "sts", *session).get_session_token()
    assert code_of(e) == "AccessDenied"


def test_bad_input_gets_aws_codes_and_leaves_nothing_behind(berth):
    iam = client(berth, "iam")
    iam.create_user(UserName="judy")
    iam.create_role(RoleName="r1", AssumeRolePolicyDocument=trust(
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    cases = [
        (lambda: iam.attach_user_policy(UserName="judy", PolicyArn="arn:aws:iam::12:policy/x"),
         "InvalidInput"),
        (lambda: iam.attach_user_policy(UserName="judy", PolicyArn="not-an-arn-at-all-really"), "InvalidInput"),
        (lambda: iam.create_role(RoleName="bad name!", AssumeRolePolicyDocument=trust("*")),
         "ValidationError"),
        (lambda: iam.create_user(UserName="x" * 65), "ValidationError"),
        # A user's inline policies are limited to 2048 non-space characters.
        (lambda: iam.put_user_policy(UserName="judy", PolicyName="big", PolicyDocument=json.dumps(
            allow([f"s3:GetObject{i}" for i in range(200)]))), "LimitExceeded"),
        (lambda: iam.update_assume_role_policy(RoleName="r1", PolicyDocument="{}"),
         "MalformedPolicyDocument"),
        (lambda: client(berth, "sts").assume_role(RoleArn="arn:aws:iam::123:role/x",
                                                  RoleSessionName="ok-name"), "ValidationError"),
    ]
    for call, code in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code_of(e) == code, (code, e.value.response["Error"])
    assert iam.list_user_policies(UserName="judy")["PolicyNames"] == []
    assert iam.list_attached_user_policies(UserName="judy")["AttachedPolicies"] == []
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["r1"]
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["judy"]
    # The trust policy that failed validation was not stored.
    assert iam.get_role(RoleName="r1")["Role"]["AssumeRolePolicyDocument"]["Statement"][0][
        "Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
