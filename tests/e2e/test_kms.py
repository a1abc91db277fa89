"""KMS through the real AWS CLI v2 and boto3: keys, envelope encryption bound to an
encryption context, aliases, key states, key policies evaluated with IAM, and key
material that never reaches the disk in the clear."""
import base64
import json
import os

import botocore.exceptions
import pytest

from berth_harness import (Berth, aws, cli_env, boto_client as client, error_code as code_of,
                          make_user, allow)

ACCOUNT = "123456789012"


def cli_json(berth, env, *args):
    return json.loads(aws(berth.endpoint, env, *args, check=True).stdout)


def test_encrypt_and_decrypt_with_context_through_the_cli(berth, tmp_path):
    env = cli_env(tmp_path, berth.credentials_file)
    meta = cli_json(berth, env, "kms", "create-key", "--description", "cli key")["KeyMetadata"]
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{meta['KeyId']}"
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["KeyManager"] == "CUSTOMER" and meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["Description"] == "cli key"

    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"registry password: s3cr3t")
    out = cli_json(berth, env, "kms", "encrypt", "--key-id", meta["KeyId"],
                   "--plaintext", f"fileb://{plain}",
                   "--encryption-context", "purpose=registry,team=infra")
    assert out["KeyId"] == meta["Arn"]
    blob = tmp_path / "blob.bin"
    blob.write_bytes(base64.b64decode(out["CiphertextBlob"]))

    back = cli_json(berth, env, "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}",
                    "--encryption-context", "team=infra,purpose=registry")
    assert base64.b64decode(back["Plaintext"]) == b"registry password: s3cr3t"
    assert back["KeyId"] == meta["Arn"]

    wrong = aws(berth.endpoint, env, "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}",
                "--encryption-context", "purpose=other,team=infra")
    assert wrong.returncode != 0 and "InvalidCiphertextException" in wrong.stderr
    missing = aws(berth.endpoint, env, "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}")
    assert "InvalidCiphertextException" in missing.stderr
    tampered = tmp_path / "tampered.bin"
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    tampered.write_bytes(bytes(data))
    bad = aws(berth.endpoint, env, "kms", "decrypt", "--ciphertext-blob", f"fileb://{tampered}",
              "--encryption-context", "purpose=registry,team=infra")
    assert "InvalidCiphertextException" in bad.stderr

    keys = cli_json(berth, env, "kms", "list-keys")["Keys"]
    assert {"KeyId": meta["KeyId"], "KeyArn": meta["Arn"]} in keys
    unknown = aws(berth.endpoint, env, "kms", "describe-key", "--key-id",
                  "0b0b0b0b-0000-4000-8000-000000000000")
    assert "NotFoundException" in unknown.stderr
    assert (f"Key 'arn:aws:kms:us-east-1:{ACCOUNT}:key/0b0b0b0b-0000-4000-8000-000000000000' "
            "does not exist") in unknown.stderr


def test_aliases(berth, tmp_path):
    env = cli_env(tmp_path, berth.credentials_file)
    first = cli_json(berth, env, "kms", "create-key")["KeyMetadata"]
    second = cli_json(berth, env, "kms", "create-key")["KeyMetadata"]
    aws(berth.endpoint, env, "kms", "create-alias", "--alias-name", "alias/registry",
        "--target-key-id", first["KeyId"], check=True)
    aliases = cli_json(berth, env, "kms", "list-aliases")["Aliases"]
    assert [(a["AliasName"], a["AliasArn"], a["TargetKeyId"]) for a in aliases] == [
        ("alias/registry", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/registry", first["KeyId"])]

    kms = client(berth, "kms")
    for key_id in ("alias/registry", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/registry",
                   first["Arn"], first["KeyId"]):
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == first["KeyId"]
    blob = kms.encrypt(KeyId="alias/registry", Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == first["Arn"]

    dup = aws(berth.endpoint, env, "kms", "create-alias", "--alias-name", "alias/registry",
              "--target-key-id", second["KeyId"])
    assert "AlreadyExistsException" in dup.stderr
    reserved = aws(berth.endpoint, env, "kms", "create-alias", "--alias-name", "alias/aws/mine",
                   "--target-key-id", second["KeyId"])
    assert "NotAuthorizedException" in reserved.stderr
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.create_alias(AliasName="registry", TargetKeyId=second["KeyId"])
    assert code_of(e) == "ValidationException"

    kms.update_alias(AliasName="alias/registry", TargetKeyId=second["KeyId"])
    assert kms.encrypt(KeyId="alias/registry", Plaintext=b"x")["KeyId"] == second["Arn"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"  # old ciphertext still opens
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=second["KeyId"])["Aliases"]] == [
        "alias/registry"]
    kms.delete_alias(AliasName="alias/registry")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.describe_key(KeyId="alias/registry")
    assert code_of(e) == "NotFoundException"
    assert e.value.response["Error"]["Message"] == (
        f"Alias arn:aws:kms:us-east-1:{ACCOUNT}:alias/registry is not found.")


def test_disabled_key_and_deletion(berth, tmp_path):
    env = cli_env(tmp_path, berth.credentials_file)
    key = cli_json(berth, env, "kms", "create-key")["KeyMetadata"]
    aws(berth.endpoint, env, "kms", "disable-key", "--key-id", key["KeyId"], check=True)
    refused = aws(berth.endpoint, env, "kms", "encrypt", "--key-id", key["KeyId"],
                  "--plaintext", "aGVsbG8=")
    assert "DisabledException" in refused.stderr
    assert f"{key['Arn']} is disabled." in refused.stderr
    assert cli_json(berth, env, "kms", "describe-key", "--key-id",
                    key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    aws(berth.endpoint, env, "kms", "enable-key", "--key-id", key["KeyId"], check=True)
    aws(berth.endpoint, env, "kms", "encrypt", "--key-id", key["KeyId"], "--plaintext",
        "aGVsbG8=", check=True)

    kms = client(berth, "kms")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=3)
    assert code_of(e) == "ValidationException"
    scheduled = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion" and scheduled["PendingWindowInDays"] == 7
    assert scheduled["KeyId"] == key["Arn"]
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["DeletionDate"] == scheduled["DeletionDate"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert code_of(e) == "KMSInvalidStateException"
    assert kms.cancel_key_deletion(KeyId=key["KeyId"])["KeyId"] == key["Arn"]
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_data_keys_reencrypt_policies_and_tags(berth):
    kms = client(berth, "kms")
    first = kms.create_key(Tags=[{"TagKey": "env", "TagValue": "prod"}])["KeyMetadata"]
    second = kms.create_key()["KeyMetadata"]
    data_key = kms.generate_data_key(KeyId=first["KeyId"], KeySpec="AES_256",
                                     EncryptionContext={"SecretARN": "a"})
    assert len(data_key["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"],
                       EncryptionContext={"SecretARN": "a"})["Plaintext"] == data_key["Plaintext"]
    bare = kms.generate_data_key_without_plaintext(KeyId=first["KeyId"], NumberOfBytes=16)
    assert "Plaintext" not in bare
    assert len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 16
    moved = kms.re_encrypt(CiphertextBlob=data_key["CiphertextBlob"],
                           SourceEncryptionContext={"SecretARN": "a"},
                           DestinationKeyId=second["Arn"])
    assert moved["SourceKeyId"] == first["Arn"] and moved["KeyId"] == second["Arn"]
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    assert len(kms.generate_random(NumberOfBytes=24)["Plaintext"]) == 24

    policy = json.loads(kms.get_key_policy(KeyId=first["KeyId"], PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert kms.list_key_policies(KeyId=first["KeyId"])["PolicyNames"] == ["default"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.put_key_policy(KeyId=first["KeyId"], PolicyName="default", Policy="{nope")
    assert code_of(e) == "MalformedPolicyDocumentException"
    lockout = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/nobody"},
        "Action": "kms:*", "Resource": "*"}]})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.put_key_policy(KeyId=first["KeyId"], PolicyName="default", Policy=lockout)
    assert code_of(e) == "MalformedPolicyDocumentException"

    kms.tag_resource(KeyId=first["KeyId"], Tags=[{"TagKey": "team", "TagValue": "infra"}])
    kms.untag_resource(KeyId=first["KeyId"], TagKeys=["env"])
    assert kms.list_resource_tags(KeyId=first["KeyId"])["Tags"] == [
        {"TagKey": "team", "TagValue": "infra"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.tag_resource(KeyId=first["KeyId"], Tags=[{"TagKey": "aws:x", "TagValue": "y"}])
    assert code_of(e) == "TagException"


def test_kms_decrypt_permission_decides(berth, tmp_path):
    iam = client(berth, "iam")
    kms = client(berth, "kms")
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"only for alice")["CiphertextBlob"]
    alice = make_user(iam, "alice", allow("kms:Decrypt", key["Arn"]))
    bob = make_user(iam, "bob", allow("kms:Encrypt", key["Arn"]))

    as_alice = client(berth, "kms", *alice)
    assert as_alice.decrypt(CiphertextBlob=blob)["Plaintext"] == b"only for alice"
    as_bob = client(berth, "kms", *bob)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_bob.decrypt(CiphertextBlob=blob)
    assert code_of(e) == "AccessDeniedException"
    assert e.value.response["Error"]["Message"].startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: kms:Decrypt on "
        f"resource: {key['Arn']}")
    as_bob.encrypt(KeyId=key["Arn"], Plaintext=b"bob may encrypt")

    # The same through the CLI with bob's keys.
    env = cli_env(tmp_path, key=bob[0], secret=bob[1])
    path = tmp_path / "blob.bin"
    path.write_bytes(blob)
    denied = aws(berth.endpoint, env, "kms", "decrypt", "--ciphertext-blob", f"fileb://{path}")
    assert "AccessDeniedException" in denied.stderr and "kms:Decrypt" in denied.stderr
    # Identity-only actions need an IAM allow too.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_bob.create_key()
    assert code_of(e) == "AccessDeniedException"


def test_key_policy_not_delegating_to_iam_denies_despite_iam_allow(berth):
    iam = client(berth, "iam")
    kms = client(berth, "kms")
    admin = make_user(iam, "admin")
    alice = make_user(iam, "alice", allow("kms:*"))
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "AdminOnly", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"},
        "Action": "kms:*", "Resource": "*"}]})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.create_key(Policy=policy)  # would lock the root out
    assert code_of(e) == "MalformedPolicyDocumentException"
    key = kms.create_key(Policy=policy, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]

    as_alice = client(berth, "kms", *alice)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_alice.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert code_of(e) == "AccessDeniedException"
    assert "kms:Encrypt" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.describe_key(KeyId=key["KeyId"])  # not even the account's root
    assert code_of(e) == "AccessDeniedException"

    as_admin = client(berth, "kms", *admin)  # no IAM policy: the key policy names admin
    blob = as_admin.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert as_admin.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_managed_secretsmanager_key(berth):
    kms = client(berth, "kms")
    meta = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert "alias/aws/secretsmanager" in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    # Direct use is not what its policy allows, not even for the root.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.encrypt(KeyId="alias/aws/secretsmanager", Plaintext=b"x")
    assert code_of(e) == "AccessDeniedException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.put_key_policy(KeyId=meta["KeyId"], PolicyName="default",
                           Policy=kms.get_key_policy(KeyId=meta["KeyId"],
                                                     PolicyName="default")["Policy"])
    assert code_of(e) == "AccessDeniedException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.schedule_key_deletion(KeyId=meta["KeyId"])
    assert code_of(e) == "AccessDeniedException"
    # Another region has its own.
    west = client(berth, "kms", region="us-west-2")
    assert west.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]["KeyId"] != \
        meta["KeyId"]
    assert west.list_keys()["Keys"] == [
        {"KeyId": k, "KeyArn": f"arn:aws:kms:us-west-2:{ACCOUNT}:key/{k}"}
        for k in [west.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]["KeyId"]]]


def files_containing(root, needles):
    hits = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                data = f.read()
            for needle in needles:
                if needle in data:
                    hits.append((path, needle))
    return hits


def test_no_key_material_or_plaintext_on_disk_after_restart(berth, root_creds, tmp_path):
    kms = client(berth, "kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/disk", TargetKeyId=key["KeyId"])
    data_key = kms.generate_data_key(KeyId="alias/disk", NumberOfBytes=32,
                                     EncryptionContext={"SecretARN": "s"})
    plaintext = b"encrypt-me: hunter2-" + os.urandom(8).hex().encode()
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)["CiphertextBlob"]
    kms.describe_key(KeyId="alias/aws/secretsmanager")
    assert berth.stop() == 0

    again = Berth(berth.data_dir, root=root_creds)
    try:
        kms = client(again, "kms")
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext
        assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"],
                           EncryptionContext={"SecretARN": "s"})["Plaintext"] == \
            data_key["Plaintext"]
    finally:
        assert again.stop() == 0

    needles = [plaintext, data_key["Plaintext"], base64.b64encode(data_key["Plaintext"]),
               data_key["Plaintext"].hex().encode(), base64.b64encode(plaintext)]
    assert files_containing(berth.data_dir, needles) == []
    for log in (berth.log_text(), again.log_text()):
        for needle in needles:
            assert needle.decode(errors="replace") not in log
