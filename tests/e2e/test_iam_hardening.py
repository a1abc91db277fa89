"""IAM and STS tried as an attacker would: names in another case, principals deleted and
re-created under the same name, conditions on the caller's address, boundaries, tags and
the policy being attached, and a simulation sized to hold the server."""
import json
import threading
import time

import botocore.exceptions
import pytest

from berth_harness import aws, allow, boto_client as client, cli_env, error_code as code_of, make_user

ACCOUNT = "123456789012"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(principal, condition=None, effect="Allow"):
    st = {"Effect": effect, "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        st["Condition"] = condition
    return st


def denied(fn, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kwargs)
    return e


def session_of(creds):
    return creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]


# ---- 1. a Deny cannot be dodged by a name's case

def test_deny_on_a_user_or_role_holds_whatever_case_the_name_is_typed_in(berth, tmp_path):
    iam = client(berth, "iam")
    iam.create_user(UserName="admin", Path="/ops/")
    iam.create_role(RoleName="AdminRole", AssumeRolePolicyDocument=doc(
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})))
    key, secret = make_user(iam, "mallory", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["iam:CreateAccessKey", "iam:PutUserPolicy"],
         "Resource": f"arn:aws:iam::{ACCOUNT}:user/ops/admin"},
        {"Effect": "Deny", "Action": "iam:UpdateAssumeRolePolicy",
         "Resource": f"arn:aws:iam::{ACCOUNT}:role/AdminRole"}]})
    mallory = client(berth, "iam", key, secret)
    for name in ("admin", "ADMIN", "Admin"):
        e = denied(mallory.create_access_key, UserName=name)
        assert code_of(e) == "AccessDenied"
        # The message names the stored entity, not the name as typed.
        assert f"on resource: arn:aws:iam::{ACCOUNT}:user/ops/admin with an explicit deny" in \
            e.value.response["Error"]["Message"]
        e = denied(mallory.put_user_policy, UserName=name, PolicyName="own",
                   PolicyDocument=json.dumps(allow("*")))
        assert code_of(e) == "AccessDenied"
    assert iam.list_access_keys(UserName="admin")["AccessKeyMetadata"] == []
    assert iam.list_user_policies(UserName="admin")["PolicyNames"] == []
    # Through the real CLI too.
    env = cli_env(tmp_path, key=key, secret=secret)
    out = aws(berth.endpoint, env, "iam", "update-assume-role-policy", "--role-name", "adminrole",
              "--policy-document", doc(trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/mallory"})))
    assert out.returncode != 0 and "AccessDenied" in out.stderr
    shown = iam.get_role(RoleName="AdminRole")["Role"]["AssumeRolePolicyDocument"]
    assert shown["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    # Another user is still reachable: the Deny is about admin only.
    iam.create_user(UserName="other")
    assert mallory.create_access_key(UserName="OTHER")["AccessKey"]["UserName"] == "other"


# ---- 2. sessions and grants die with their principal

def test_session_of_a_deleted_role_grants_nothing_to_a_new_role_of_the_same_name(berth):
    iam = client(berth, "iam")
    key, secret = make_user(iam, "alice", allow("sts:AssumeRole"))
    iam.create_role(RoleName="tmp", AssumeRolePolicyDocument=doc(
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})))
    iam.put_role_policy(RoleName="tmp", PolicyName="p", PolicyDocument=json.dumps(allow("kms:ListKeys")))
    creds = client(berth, "sts", key, secret).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/tmp", RoleSessionName="s1")["Credentials"]
    old = client(berth, "kms", *session_of(creds))
    old.list_keys()
    iam.delete_role_policy(RoleName="tmp", PolicyName="p")
    iam.delete_role(RoleName="tmp")
    iam.create_role(RoleName="TMP", AssumeRolePolicyDocument=doc(
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})))
    iam.put_role_policy(RoleName="TMP", PolicyName="all", PolicyDocument=json.dumps(allow("*")))
    e = denied(old.list_keys)
    assert code_of(e) == "AccessDeniedException"
    assert "because no identity-based policy allows" in e.value.response["Error"]["Message"]
    # A fresh session of the new role works.
    fresh = client(berth, "sts", key, secret).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/TMP", RoleSessionName="s1")["Credentials"]
    client(berth, "kms", *session_of(fresh)).list_keys()


def test_session_token_of_a_recreated_user_grants_nothing(berth):
    iam = client(berth, "iam")
    key, secret = make_user(iam, "bob", allow("kms:ListKeys"))
    creds = client(berth, "sts", key, secret).get_session_token()["Credentials"]
    old = client(berth, "kms", *session_of(creds))
    old.list_keys()
    iam.delete_access_key(UserName="bob", AccessKeyId=key)
    iam.delete_user_policy(UserName="bob", PolicyName="p")
    iam.delete_user(UserName="bob")
    make_user(iam, "bob", allow("kms:ListKeys"))
    assert code_of(denied(old.list_keys)) == "AccessDeniedException"


def test_trust_policy_keeps_meaning_the_user_it_named(berth):
    iam = client(berth, "iam")
    key, secret = make_user(iam, "alice", allow("sts:AssumeRole"))
    alice_id = iam.get_user(UserName="alice")["User"]["UserId"]
    role_arn = iam.create_role(RoleName="r", AssumeRolePolicyDocument=doc(
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"})))["Role"]["Arn"]
    client(berth, "sts", key, secret).assume_role(RoleArn=role_arn, RoleSessionName="s1")
    iam.delete_access_key(UserName="alice", AccessKeyId=key)
    iam.delete_user_policy(UserName="alice", PolicyName="p")
    iam.delete_user(UserName="alice")
    # As in IAM, the policy now shows the deleted principal's unique id.
    shown = iam.get_role(RoleName="r")["Role"]["AssumeRolePolicyDocument"]
    assert shown["Statement"][0]["Principal"] == {"AWS": alice_id}
    key2, secret2 = make_user(iam, "alice", allow("sts:AssumeRole"))
    e = denied(client(berth, "sts", key2, secret2).assume_role, RoleArn=role_arn, RoleSessionName="s1")
    assert code_of(e) == "AccessDenied"


def test_trust_policy_naming_a_user_that_does_not_exist_is_refused(berth):
    iam = client(berth, "iam")
    e = denied(iam.create_role, RoleName="r", AssumeRolePolicyDocument=doc(
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/nobody"})))
    assert code_of(e) == "MalformedPolicyDocument"
    assert e.value.response["Error"]["Message"] == (
        f'Invalid principal in policy: "AWS":"arn:aws:iam::{ACCOUNT}:user/nobody"')
    assert iam.list_roles()["Roles"] == []


# ---- 3. aws:SourceIp while AssumeRole is decided

def test_source_ip_reaches_trust_and_identity_policies_of_assume_role(berth):
    iam = client(berth, "iam")
    key, secret = make_user(iam, "carol", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]})
    sts = client(berth, "sts", key, secret)
    # The account principal delegates to IAM: carol's identity policy, which only allows
    # from loopback, decides; it used to fail for want of aws:SourceIp.
    allowed = iam.create_role(RoleName="from-loopback", AssumeRolePolicyDocument=doc(
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})))["Role"]["Arn"]
    sts.assume_role(RoleArn=allowed, RoleSessionName="s1")
    # A Deny on loopback in the trust policy is honoured.
    blocked = iam.create_role(RoleName="not-from-loopback", AssumeRolePolicyDocument=doc(
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
        trust({"AWS": "*"}, {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, effect="Deny")))["Role"]["Arn"]
    assert code_of(denied(sts.assume_role, RoleArn=blocked, RoleSessionName="s1")) == "AccessDenied"
    # X-Forwarded-For does not change who is calling: the address is the connection's.
    other = iam.create_role(RoleName="elsewhere", AssumeRolePolicyDocument=doc(
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
              {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})))["Role"]["Arn"]
    spoof = client(berth, "sts", key, secret)

    def forwarded(request, **_):
        request.headers["X-Forwarded-For"] = "203.0.113.9"
    spoof.meta.events.register("before-sign.sts.AssumeRole", forwarded)
    assert code_of(denied(spoof.assume_role, RoleArn=other, RoleSessionName="s1")) == "AccessDenied"


# ---- 4. permissions boundaries

def test_permissions_boundary_is_validated_stored_and_enforced(berth):
    iam = client(berth, "iam")
    e = denied(iam.create_user, UserName="u", PermissionsBoundary="arn:aws:s3:::not-a-policy")
    assert code_of(e) == "InvalidInput"
    e = denied(iam.create_user, UserName="u",
               PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/missing")
    assert code_of(e) == "NoSuchEntity"
    assert iam.list_users()["Users"] == []
    kms_only = iam.create_policy(PolicyName="KmsOnly", PolicyDocument=json.dumps(
        allow("kms:*")))["Policy"]["Arn"]
    iam.create_user(UserName="u", PermissionsBoundary=kms_only)
    assert iam.get_user(UserName="u")["User"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": kms_only}
    iam.put_user_policy(UserName="u", PolicyName="all", PolicyDocument=json.dumps(allow("*")))
    key = iam.create_access_key(UserName="u")["AccessKey"]
    sm = client(berth, "secretsmanager", key["AccessKeyId"], key["SecretAccessKey"])
    e = denied(sm.create_secret, Name="s", SecretString="x")
    assert code_of(e) == "AccessDeniedException"
    assert "because no permissions boundary allows" in e.value.response["Error"]["Message"]
    client(berth, "kms", key["AccessKeyId"], key["SecretAccessKey"]).list_keys()
    iam.delete_user_permissions_boundary(UserName="u")
    assert "PermissionsBoundary" not in iam.get_user(UserName="u")["User"]
    sm.create_secret(Name="s", SecretString="x")
    # Roles too; and put/delete on a role.
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=doc(
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})), PermissionsBoundary=kms_only)
    assert iam.get_role(RoleName="r")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == kms_only
    iam.delete_role_permissions_boundary(RoleName="r")
    iam.put_role_permissions_boundary(RoleName="R", PermissionsBoundary=kms_only)
    assert iam.get_role(RoleName="r")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == kms_only


def test_boundary_condition_key_lets_an_admin_delegate_user_creation(berth):
    iam = client(berth, "iam")
    boundary = iam.create_policy(PolicyName="B", PolicyDocument=json.dumps(
        allow("kms:*")))["Policy"]["Arn"]
    key, secret = make_user(iam, "delegate", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:CreateUser", "iam:PutUserPermissionsBoundary"],
         "Resource": "*",
         "Condition": {"StringEquals": {"iam:PermissionsBoundary": boundary}}}]})
    delegate = client(berth, "iam", key, secret)
    assert code_of(denied(delegate.create_user, UserName="free")) == "AccessDenied"
    other = iam.create_policy(PolicyName="Other", PolicyDocument=json.dumps(allow("*")))["Policy"]["Arn"]
    assert code_of(denied(delegate.create_user, UserName="free", PermissionsBoundary=other)) == \
        "AccessDenied"
    delegate.create_user(UserName="bounded", PermissionsBoundary=boundary)
    assert code_of(denied(delegate.put_user_permissions_boundary, UserName="bounded",
                          PermissionsBoundary=other)) == "AccessDenied"


# ---- 5. tags

def test_principal_tag_condition_stops_a_blocked_user(berth):
    iam = client(berth, "iam")
    key, secret = make_user(iam, "eve", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/blocked": "yes"}}}]})
    kms = client(berth, "kms", key, secret)
    kms.list_keys()
    iam.tag_user(UserName="EVE", Tags=[{"Key": "blocked", "Value": "yes"}])
    e = denied(kms.list_keys)
    assert code_of(e) == "AccessDeniedException"
    assert "with an explicit deny in an identity-based policy" in e.value.response["Error"]["Message"]
    assert iam.list_user_tags(UserName="eve")["Tags"] == [{"Key": "blocked", "Value": "yes"}]
    iam.untag_user(UserName="eve", TagKeys=["BLOCKED"])
    assert iam.list_user_tags(UserName="eve")["Tags"] == []
    kms.list_keys()


def test_tags_are_validated_and_returned(berth):
    iam = client(berth, "iam")
    assert code_of(denied(iam.create_user, UserName="t", Tags=[{"Key": "aws:x", "Value": "1"}])) == \
        "InvalidInput"
    assert code_of(denied(iam.create_user, UserName="t", Tags=[
        {"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])) == "InvalidInput"
    assert code_of(denied(iam.create_user, UserName="t", Tags=[
        {"Key": f"k{i}", "Value": "v"} for i in range(51)])) == "ValidationError"
    assert code_of(denied(iam.create_user, UserName="t", Tags=[{"Key": "bad#key", "Value": "v"}])) == \
        "ValidationError"
    assert iam.list_users()["Users"] == []
    iam.create_user(UserName="t", Tags=[{"Key": "team", "Value": "core"}])
    assert iam.get_user(UserName="t")["User"]["Tags"] == [{"Key": "team", "Value": "core"}]
    iam.tag_user(UserName="t", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])
    e = denied(iam.tag_user, UserName="t", Tags=[{"Key": "one-too-many", "Value": "v"}])
    assert code_of(e) == "LimitExceeded"
    assert len(iam.list_user_tags(UserName="t")["Tags"]) == 50
    role = iam.create_role(RoleName="tr", AssumeRolePolicyDocument=doc(
        trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})), Tags=[{"Key": "env", "Value": "prod"}])
    assert role["Role"]["Tags"] == [{"Key": "env", "Value": "prod"}]
    iam.tag_role(RoleName="tr", Tags=[{"Key": "env", "Value": "dev"}])
    assert iam.list_role_tags(RoleName="tr")["Tags"] == [{"Key": "env", "Value": "dev"}]
    pol = iam.create_policy(PolicyName="p", PolicyDocument=json.dumps(allow("kms:*")),
                            Tags=[{"Key": "owner", "Value": "sec"}])["Policy"]
    assert iam.get_policy(PolicyArn=pol["Arn"])["Policy"]["Tags"] == [{"Key": "owner", "Value": "sec"}]
    iam.untag_policy(PolicyArn=pol["Arn"], TagKeys=["owner"])
    assert iam.list_policy_tags(PolicyArn=pol["Arn"])["Tags"] == []


def test_resource_and_request_tag_conditions(berth):
    iam = client(berth, "iam")
    iam.create_user(UserName="precious", Tags=[{"Key": "protected", "Value": "true"}])
    iam.create_user(UserName="plain")
    key, secret = make_user(iam, "ops", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:DeleteUser", "iam:TagUser"], "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*",
         "Condition": {"StringEquals": {"iam:ResourceTag/protected": "true"}}},
        {"Effect": "Allow", "Action": "iam:CreateUser", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/team": "core"},
                       "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}}]})
    ops = client(berth, "iam", key, secret)
    assert code_of(denied(ops.delete_user, UserName="PRECIOUS")) == "AccessDenied"
    ops.delete_user(UserName="plain")
    assert code_of(denied(ops.create_user, UserName="n1")) == "AccessDenied"
    assert code_of(denied(ops.create_user, UserName="n1", Tags=[
        {"Key": "team", "Value": "core"}, {"Key": "extra", "Value": "x"}])) == "AccessDenied"
    ops.create_user(UserName="n1", Tags=[{"Key": "team", "Value": "core"}])


# ---- 6. iam:PolicyARN

def test_policy_arn_condition_guards_attachment(berth):
    iam = client(berth, "iam")
    admin_like = iam.create_policy(PolicyName="AdminLike", PolicyDocument=json.dumps(
        allow("*")))["Policy"]["Arn"]
    harmless = iam.create_policy(PolicyName="Harmless", PolicyDocument=json.dumps(
        allow("kms:ListKeys")))["Policy"]["Arn"]
    key, secret = make_user(iam, "att", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["iam:AttachUserPolicy", "iam:AttachRolePolicy"],
         "Resource": "*", "Condition": {"ArnEquals": {"iam:PolicyARN": admin_like}}}]})
    att = client(berth, "iam", key, secret)
    e = denied(att.attach_user_policy, UserName="att", PolicyArn=admin_like)
    assert code_of(e) == "AccessDenied"
    assert "with an explicit deny" in e.value.response["Error"]["Message"]
    att.attach_user_policy(UserName="att", PolicyArn=harmless)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="att")[
        "AttachedPolicies"]] == [harmless]


# ---- 9. the simulator's work is bounded per request

def test_simulation_pages_instead_of_answering_a_million_results(berth):
    iam = client(berth, "iam")
    actions = [f"kms:Action{i}" for i in range(1000)]
    resources = [f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{i}" for i in range(1000)]
    policy = json.dumps(allow("kms:Action1*"))
    sts = client(berth, "sts")
    stop = threading.Event()
    slowest = []

    def probe():
        while not stop.is_set():
            t = time.monotonic()
            sts.get_caller_identity()
            slowest.append(time.monotonic() - t)
            time.sleep(0.02)
    prober = threading.Thread(target=probe)
    prober.start()
    try:
        heavy = [client(berth, "iam") for _ in range(2)]
        results = []
        workers = [threading.Thread(target=lambda c=c: results.append(c.simulate_custom_policy(
            PolicyInputList=[policy], ActionNames=actions, ResourceArns=resources)))
            for c in heavy]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        stop.set()
        prober.join()
    assert len(results) == 2
    for r in results:
        assert r["IsTruncated"] is True and len(r["EvaluationResults"]) == 100
    assert max(slowest) < 1.0, f"GetCallerIdentity waited {max(slowest):.2f}s"
    # The pages walk every pair once, in order.
    seen = []
    marker = None
    while True:
        kwargs = {"Marker": marker} if marker else {}
        page = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=actions[:3],
                                          ResourceArns=resources[:2], MaxItems=4, **kwargs)
        seen += [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"])
                 for r in page["EvaluationResults"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == [(a, r, "allowed" if a == "kms:Action1" else "implicitDeny")
                    for a in actions[:3] for r in resources[:2]]
    e = denied(iam.simulate_custom_policy, PolicyInputList=[policy], ActionNames=actions[:3],
               Marker="bm90LWEtbWFya2Vy")
    assert code_of(e) == "InvalidInput"


def test_resource_and_key_policies_keep_meaning_the_principal_they_named(berth):
    iam = client(berth, "iam")
    sm = client(berth, "secretsmanager")
    kms = client(berth, "kms")
    key, secret = make_user(iam, "alice")
    alice_id = iam.get_user(UserName="alice")["User"]["UserId"]
    alice_arn = f"arn:aws:iam::{ACCOUNT}:user/alice"
    arn = sm.create_secret(Name="db", SecretString="s3cret")["ARN"]
    grant = doc({"Effect": "Allow", "Principal": {"AWS": alice_arn},
                 "Action": "secretsmanager:GetSecretValue", "Resource": "*"})
    sm.put_resource_policy(SecretId="db", ResourcePolicy=grant)
    key_id = kms.create_key(Policy=doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": alice_arn}, "Action": "kms:DescribeKey",
         "Resource": "*"}))["KeyMetadata"]["KeyId"]
    assert client(berth, "secretsmanager", key, secret).get_secret_value(SecretId=arn)[
        "SecretString"] == "s3cret"
    client(berth, "kms", key, secret).describe_key(KeyId=key_id)
    iam.delete_access_key(UserName="alice", AccessKeyId=key)
    iam.delete_user(UserName="alice")
    shown = json.loads(sm.get_resource_policy(SecretId="db")["ResourcePolicy"])
    assert shown["Statement"][0]["Principal"] == {"AWS": alice_id}
    shown_key = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    assert shown_key["Statement"][1]["Principal"] == {"AWS": alice_id}
    key2, secret2 = make_user(iam, "alice")
    e = denied(client(berth, "secretsmanager", key2, secret2).get_secret_value, SecretId=arn)
    assert code_of(e) == "AccessDeniedException"
    e = denied(client(berth, "kms", key2, secret2).describe_key, KeyId=key_id)
    assert code_of(e) == "AccessDeniedException"
    # Naming a principal that does not exist is refused, as AWS does.
    e = denied(sm.put_resource_policy, SecretId="db", ResourcePolicy=doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ghost"},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    assert code_of(e) == "MalformedPolicyDocumentException"
