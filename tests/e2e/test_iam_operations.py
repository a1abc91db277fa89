"""IAM operations scripts and SDKs call that berth lacked: groups (whose policies count in
every decision), renames, role updates, policy versions, who a policy is attached to, the
account summary, the ECS service-linked role, access key dates."""
import datetime
import json

import botocore.exceptions
import pytest

from berth_harness import allow, aws, boto_client as client, cli_env, error_code as code_of, make_user

ACCOUNT = "123456789012"


def denied(fn, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kwargs)
    return e


def test_group_policies_apply_to_members_in_every_decision(berth):
    iam = client(berth, "iam")
    key, secret = make_user(iam, "gina")
    kms = client(berth, "kms", key, secret)
    assert code_of(denied(kms.list_keys)) == "AccessDeniedException"
    group = iam.create_group(GroupName="Readers", Path="/teams/")["Group"]
    assert group["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/teams/Readers"
    assert group["GroupId"].startswith("AGPA")
    iam.put_group_policy(GroupName="readers", PolicyName="kms", PolicyDocument=json.dumps(
        allow("kms:ListKeys")))
    iam.add_user_to_group(GroupName="Readers", UserName="gina")
    kms.list_keys()  # the group's inline policy allows it
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="gina")["Groups"]] == ["Readers"]
    got = iam.get_group(GroupName="Readers")
    assert [u["UserName"] for u in got["Users"]] == ["gina"]
    # A Deny in an attached group policy beats the user's own allow.
    iam.put_user_policy(UserName="gina", PolicyName="all", PolicyDocument=json.dumps(allow("kms:*")))
    deny = iam.create_policy(PolicyName="NoKms", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "kms:ListKeys", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName="Readers", PolicyArn=deny)
    e = denied(kms.list_keys)
    assert "with an explicit deny in an identity-based policy" in e.value.response["Error"]["Message"]
    sim = iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/gina",
                                        ActionNames=["kms:ListKeys"])["EvaluationResults"][0]
    assert sim["EvalDecision"] == "explicitDeny"
    assert sim["MatchedStatements"][0]["SourcePolicyId"] == deny
    assert iam.list_attached_group_policies(GroupName="Readers")["AttachedPolicies"] == [
        {"PolicyName": "NoKms", "PolicyArn": deny}]
    entities = iam.list_entities_for_policy(PolicyArn=deny)
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == ["Readers"]
    assert entities["PolicyUsers"] == [] and entities["PolicyRoles"] == []
    # Leaving the group takes its policies away.
    assert code_of(denied(iam.delete_user, UserName="gina")) == "DeleteConflict"
    assert code_of(denied(iam.delete_group, GroupName="Readers")) == "DeleteConflict"
    iam.remove_user_from_group(GroupName="Readers", UserName="GINA")
    kms.list_keys()
    assert iam.get_group(GroupName="Readers")["Users"] == []
    iam.detach_group_policy(GroupName="Readers", PolicyArn=deny)
    iam.delete_group_policy(GroupName="Readers", PolicyName="kms")
    iam.delete_group(GroupName="Readers")
    assert iam.list_groups()["Groups"] == []


def test_rename_user_keeps_its_keys_policies_and_id(berth):
    iam = client(berth, "iam")
    key, secret = make_user(iam, "old", allow("kms:ListKeys"))
    user_id = iam.get_user(UserName="old")["User"]["UserId"]
    iam.update_user(UserName="old", NewUserName="New", NewPath="/x/")
    got = iam.get_user(UserName="new")["User"]
    assert got["UserId"] == user_id and got["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/x/New"
    assert code_of(denied(iam.get_user, UserName="old")) == "NoSuchEntity"
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="New")["AccessKeyMetadata"]] == [key]
    assert iam.list_user_policies(UserName="New")["PolicyNames"] == ["p"]
    client(berth, "kms", key, secret).list_keys()
    ident = client(berth, "sts", key, secret).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/New"
    make_user(iam, "taken")
    assert code_of(denied(iam.update_user, UserName="New", NewUserName="TAKEN")) == \
        "EntityAlreadyExists"


def test_role_updates_and_policy_versions(berth, tmp_path):
    iam = client(berth, "iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust)
    iam.update_role(RoleName="R", Description="task role", MaxSessionDuration=7200)
    role = iam.get_role(RoleName="r")["Role"]
    assert role["Description"] == "task role" and role["MaxSessionDuration"] == 7200
    assert iam.update_role_description(RoleName="r", Description="d2")["Role"]["Description"] == "d2"
    assert code_of(denied(iam.update_role, RoleName="r", MaxSessionDuration=50000)) == "ValidationError"
    arn = iam.create_policy(PolicyName="p", PolicyDocument=json.dumps(allow("kms:ListKeys")))[
        "Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow("kms:*")))
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [("v2", False), ("v1", True)]
    assert code_of(denied(iam.delete_policy_version, PolicyArn=arn, VersionId="v1")) == "DeleteConflict"
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == ["v2"]
    # Through the CLI too.
    env = cli_env(tmp_path, berth.credentials_file)
    out = aws(berth.endpoint, env, "iam", "list-policy-versions", "--policy-arn", arn, check=True)
    assert json.loads(out.stdout)["Versions"][0]["VersionId"] == "v2"


def test_account_summary_service_linked_role_and_key_dates(berth):
    iam = client(berth, "iam")
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    make_user(iam, "u1")
    iam.create_group(GroupName="g")
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["Users"] == 1 and summary["Groups"] == 1 and summary["AccessKeysPerUserQuota"] == 2
    role = iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")["Role"]
    assert role["RoleName"] == "AWSServiceRoleForECS"
    assert role["Path"] == "/aws-service-role/ecs.amazonaws.com/"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ecs.amazonaws.com"}
    e = denied(iam.create_service_linked_role, AWSServiceName="ecs.amazonaws.com")
    assert code_of(e) == "InvalidInput"
    assert "has been taken in this account" in e.value.response["Error"]["Message"]
    assert iam.get_account_summary()["SummaryMap"]["Roles"] == 1
    keys = iam.list_access_keys(UserName="u1")["AccessKeyMetadata"]
    assert keys[0]["CreateDate"] >= before


def test_federation_token_carries_the_users_permissions_narrowed_by_its_policy(berth):
    iam = client(berth, "iam")
    key, secret = make_user(iam, "fed", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:ListKeys", "kms:ListAliases",
                                       "sts:GetFederationToken"], "Resource": "*"}]})
    sts = client(berth, "sts", key, secret)
    token = sts.get_federation_token(Name="contractor", Policy=json.dumps(allow("kms:ListKeys")),
                                     DurationSeconds=900)
    assert token["FederatedUser"] == {
        "FederatedUserId": f"{ACCOUNT}:contractor",
        "Arn": f"arn:aws:sts::{ACCOUNT}:federated-user/contractor"}
    creds = token["Credentials"]
    session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert client(berth, "sts", *session).get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{ACCOUNT}:federated-user/contractor"
    fed_kms = client(berth, "kms", *session)
    fed_kms.list_keys()  # both the user and the session policy allow it
    e = denied(fed_kms.list_aliases)  # the user may, the session policy does not
    assert code_of(e) == "AccessDeniedException"
    assert "because no session policy allows" in e.value.response["Error"]["Message"]
    # No session policy: no permissions at all, as in AWS.
    bare = sts.get_federation_token(Name="nobody")["Credentials"]
    assert code_of(denied(client(berth, "kms", bare["AccessKeyId"], bare["SecretAccessKey"],
                                 bare["SessionToken"]).list_keys)) == "AccessDeniedException"
    # The user's own Deny or its removal reaches the federated session.
    iam.delete_user_policy(UserName="fed", PolicyName="p")
    assert code_of(denied(fed_kms.list_keys)) == "AccessDeniedException"
    # Without sts:GetFederationToken the user may not mint them.
    e = denied(sts.get_federation_token, Name="again")
    assert code_of(e) == "AccessDenied"
    # Federated credentials cannot call IAM or mint more credentials.
    assert code_of(denied(client(berth, "iam", *session).list_users)) == "InvalidClientTokenId"
    assert code_of(denied(client(berth, "sts", *session).get_session_token)) == "AccessDenied"
    assert code_of(denied(iam.get_user, UserName="nobody-here")) == "NoSuchEntity"
    e = denied(client(berth, "sts").get_federation_token, Name="root-fed")
    assert code_of(e) == "AccessDenied"


def test_access_key_info_names_the_keys_account(berth):
    iam = client(berth, "iam")
    key, secret = make_user(iam, "k")
    sts = client(berth, "sts")
    assert sts.get_access_key_info(AccessKeyId=key)["Account"] == ACCOUNT
    creds = client(berth, "sts", key, secret).get_session_token()["Credentials"]
    assert sts.get_access_key_info(AccessKeyId=creds["AccessKeyId"])["Account"] == ACCOUNT
    assert code_of(denied(client(berth, "sts", key, secret).get_access_key_info,
                          AccessKeyId=key)) == "AccessDenied"
