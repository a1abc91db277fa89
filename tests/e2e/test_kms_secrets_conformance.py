"""KMS and Secrets Manager answering as AWS does, through boto3 and the AWS CLI v2: AWS's
validation messages, key rotation (with old ciphertexts readable across a restart),
UpdateKeyDescription, force-deleting an absent secret and a reused ClientRequestToken.

The Debian botocore (1.29) and AWS CLI (2.9.19) predate RotateKeyOnDemand,
ListKeyRotations and RotationPeriodInDays (KMS, 2024). `newer_kms_model` adds those
definitions, as AWS's API reference gives them, to a copy of the installed model and
points the clients at it with botocore's documented data path (AWS_DATA_PATH)."""
import base64
import datetime
import json
import os
import re

import botocore.config
import botocore.exceptions
import botocore.session
import boto3
import pytest

from berth_harness import (Berth, aws, cli_env, boto_client as client, error_code as code_of,
                           make_user, allow)

ACCOUNT = "123456789012"
BOTOCORE_KMS = "/usr/lib/python3/dist-packages/botocore/data/kms/2014-11-01/service-2.json"
CLI_KMS = "/usr/lib/python3/dist-packages/awscli/botocore/data/kms/2014-11-01/service-2.json"

# What AWS's KMS API reference defines for key rotation since 2024.
ROTATION_OPERATIONS = {
    "RotateKeyOnDemand": {
        "name": "RotateKeyOnDemand", "http": {"method": "POST", "requestUri": "/"},
        "input": {"shape": "RotateKeyOnDemandRequest"},
        "output": {"shape": "RotateKeyOnDemandResponse"},
        "errors": [{"shape": s} for s in (
            "NotFoundException", "DisabledException", "InvalidArnException",
            "DependencyTimeoutException", "KMSInternalException", "KMSInvalidStateException",
            "UnsupportedOperationException", "LimitExceededException", "ConflictException")]},
    "ListKeyRotations": {
        "name": "ListKeyRotations", "http": {"method": "POST", "requestUri": "/"},
        "input": {"shape": "ListKeyRotationsRequest"},
        "output": {"shape": "ListKeyRotationsResponse"},
        "errors": [{"shape": s} for s in (
            "NotFoundException", "InvalidArnException", "InvalidMarkerException",
            "KMSInternalException", "KMSInvalidStateException",
            "UnsupportedOperationException")]},
}
ROTATION_SHAPES = {
    "RotationPeriodInDaysType": {"type": "integer", "max": 2560, "min": 90},
    "RotateKeyOnDemandRequest": {"type": "structure", "required": ["KeyId"],
                                 "members": {"KeyId": {"shape": "KeyIdType"}}},
    "RotateKeyOnDemandResponse": {"type": "structure",
                                  "members": {"KeyId": {"shape": "KeyIdType"}}},
    "IncludeKeyMaterial": {"type": "string", "enum": ["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"]},
    "ListKeyRotationsRequest": {"type": "structure", "required": ["KeyId"], "members": {
        "KeyId": {"shape": "KeyIdType"}, "IncludeKeyMaterial": {"shape": "IncludeKeyMaterial"},
        "Limit": {"shape": "LimitType"}, "Marker": {"shape": "MarkerType"}}},
    "RotationType": {"type": "string", "enum": ["AUTOMATIC", "ON_DEMAND"]},
    "KeyMaterialState": {"type": "string", "enum": ["NON_CURRENT", "CURRENT", "PENDING_ROTATION"]},
    "BackingKeyIdType": {"type": "string", "max": 64, "min": 64},
    "RotationsListEntry": {"type": "structure", "members": {
        "KeyId": {"shape": "KeyIdType"}, "KeyMaterialId": {"shape": "BackingKeyIdType"},
        "KeyMaterialState": {"shape": "KeyMaterialState"}, "RotationDate": {"shape": "DateType"},
        "RotationType": {"shape": "RotationType"}}},
    "RotationsList": {"type": "list", "member": {"shape": "RotationsListEntry"}},
    "ListKeyRotationsResponse": {"type": "structure", "members": {
        "Rotations": {"shape": "RotationsList"}, "NextMarker": {"shape": "MarkerType"},
        "Truncated": {"shape": "BooleanType"}}},
}


def newer_kms_model(base, data_dir):
    """A data path holding `base` (an installed KMS model) with the rotation API added."""
    with open(base) as f:
        model = json.load(f)
    model["operations"].update(ROTATION_OPERATIONS)
    model["shapes"].update(ROTATION_SHAPES)
    model["shapes"]["EnableKeyRotationRequest"]["members"]["RotationPeriodInDays"] = {
        "shape": "RotationPeriodInDaysType"}
    model["shapes"]["GetKeyRotationStatusResponse"]["members"].update({
        "KeyId": {"shape": "KeyIdType"},
        "RotationPeriodInDays": {"shape": "RotationPeriodInDaysType"},
        "NextRotationDate": {"shape": "DateType"},
        "OnDemandRotationStartDate": {"shape": "DateType"}})
    target = os.path.join(str(data_dir), "kms", "2014-11-01")
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "service-2.json"), "w") as f:
        json.dump(model, f)
    return str(data_dir)


def kms_client(berth, tmp_path, key=None, secret=None, validate=True):
    """boto3 KMS on `berth` with the rotation API; `validate=False` sends what botocore
    would refuse client-side, so that the server's answer shows."""
    session = botocore.session.get_session()
    session.set_config_variable("data_path", newer_kms_model(BOTOCORE_KMS, tmp_path / "boto"))
    if key is None:
        key, secret = berth.read_credentials()
    return boto3.session.Session(botocore_session=session).client(
        "kms", endpoint_url=berth.endpoint, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": 1},
                                      parameter_validation=validate))


def cli(berth, tmp_path, *args):
    """/usr/bin/aws with the rotation API; returns the process."""
    env = cli_env(tmp_path, berth.credentials_file)
    env["AWS_DATA_PATH"] = newer_kms_model(CLI_KMS, tmp_path / "cli")
    return aws(berth.endpoint, env, *args)


def cli_json(berth, tmp_path, *args):
    proc = cli(berth, tmp_path, *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


def cli_error(proc, code, message):
    """Asserts the CLI failed with exactly `code` and `message`."""
    assert proc.returncode != 0
    line = proc.stderr.strip()
    match = re.fullmatch(rf"An error occurred \({code}\) when calling the \w+ operation"
                         rf"(?: \(reached max retries: \d+\))?: (.*)", line, re.S)
    assert match and match.group(1) == message, line


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


# ---------------------------------------------------------------- validation messages

KEY_SPECS = ("[RSA_2048, ECC_NIST_P384, ECC_NIST_P256, ECC_NIST_P521, HMAC_384, RSA_3072, "
             "ECC_SECG_P256K1, RSA_4096, SYMMETRIC_DEFAULT, HMAC_256, HMAC_224, HMAC_512]")


def test_unknown_key_spec_or_usage_is_aws_enum_validation_error(berth, tmp_path):
    kms = client(berth, "kms")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.create_key(KeySpec="AES_999")
    assert error_of(e) == (
        "ValidationException",
        "1 validation error detected: Value 'AES_999' at 'keySpec' failed to satisfy constraint: "
        f"Member must satisfy enum value set: {KEY_SPECS}")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.create_key(CustomerMasterKeySpec="AES_999")
    assert error_of(e)[1].startswith(
        "1 validation error detected: Value 'AES_999' at 'customerMasterKeySpec' failed")
    cli_error(cli(berth, tmp_path, "kms", "create-key", "--key-usage", "SIGN"),
              "ValidationException",
              "1 validation error detected: Value 'SIGN' at 'keyUsage' failed to satisfy "
              "constraint: Member must satisfy enum value set: [SIGN_VERIFY, ENCRYPT_DECRYPT, "
              "GENERATE_VERIFY_MAC]")
    # Known values berth does not implement are still UnsupportedOperationException.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    assert code_of(e) == "UnsupportedOperationException"
    assert kms.list_keys()["Keys"] == []


def test_alias_name_messages_as_aws_words_them(berth, tmp_path):
    key = cli_json(berth, tmp_path, "kms", "create-key")["KeyMetadata"]
    cli_error(cli(berth, tmp_path, "kms", "create-alias", "--alias-name", "alias/app:prod",
                  "--target-key-id", key["KeyId"]),
              "ValidationException", "alias/app:prod contains invalid characters for an alias")
    cli_error(cli(berth, tmp_path, "kms", "create-alias", "--alias-name", "alias/app prod",
                  "--target-key-id", key["KeyId"]),
              "ValidationException",
              "1 validation error detected: Value 'alias/app prod' at 'aliasName' failed to "
              "satisfy constraint: Member must satisfy regular expression pattern: "
              "^[a-zA-Z0-9:/_-]+$")
    assert cli_json(berth, tmp_path, "kms", "list-aliases")["Aliases"] == []


def test_encrypt_plaintext_length_messages(berth, tmp_path):
    kms = kms_client(berth, tmp_path, validate=False)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for plaintext, bound in ((b"", "greater than or equal to 1"),
                             (b"s3cr3t!" * 586, "less than or equal to 4096")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            kms.encrypt(KeyId=key, Plaintext=plaintext)
        assert error_of(e) == (
            "ValidationException",
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
            f"Member must have length {bound}")
    assert "s3cr3t!" not in berth.log_text()
    assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key, Plaintext=b"x" * 4096)[
        "CiphertextBlob"])["Plaintext"] == b"x" * 4096


# ---------------------------------------------------------------- key rotation

def test_rotation_keeps_old_ciphertexts_readable_across_a_restart(berth, root_creds, tmp_path):
    kms = kms_client(berth, tmp_path)
    key = kms.create_key(Description="rotated")["KeyMetadata"]
    context = {"app": "billing"}
    old_plain = b"before the rotation " + os.urandom(8).hex().encode()
    old_blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=old_plain,
                           EncryptionContext=context)["CiphertextBlob"]
    old_data_key = kms.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256",
                                         EncryptionContext=context)

    assert kms.rotate_key_on_demand(KeyId=key["Arn"])["KeyId"] == key["KeyId"]
    new_plain = b"after the rotation " + os.urandom(8).hex().encode()
    new_blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=new_plain,
                           EncryptionContext=context)["CiphertextBlob"]
    # Different material: the blobs name material versions 0 and 1 (format 2).
    header = 4 + len(key["Arn"])
    assert old_blob[1] == new_blob[1] == 2
    assert old_blob[header:header + 4] == b"\0\0\0\0"
    assert new_blob[header:header + 4] == b"\0\0\0\1"

    rotations = kms.list_key_rotations(KeyId=key["KeyId"])
    assert rotations["Truncated"] is False
    [entry] = rotations["Rotations"]
    assert entry["KeyId"] == key["KeyId"] and entry["RotationType"] == "ON_DEMAND"
    assert len(entry["KeyMaterialId"]) == 64 and entry["KeyMaterialState"] == "CURRENT"
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((entry["RotationDate"] - now).total_seconds()) < 60
    assert berth.stop() == 0

    again = Berth(berth.data_dir, root=root_creds)
    try:
        kms = kms_client(again, tmp_path)
        for blob, plaintext in ((old_blob, old_plain), (new_blob, new_plain),
                                (old_data_key["CiphertextBlob"], old_data_key["Plaintext"])):
            out = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
            assert out["Plaintext"] == plaintext and out["KeyId"] == key["Arn"]
        with pytest.raises(botocore.exceptions.ClientError) as e:
            kms.decrypt(CiphertextBlob=old_blob, EncryptionContext={"app": "other"})
        assert code_of(e) == "InvalidCiphertextException"
        # Still encrypting with the rotated material after the restart.
        blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
        assert blob[header:header + 4] == b"\0\0\0\1"
    finally:
        assert again.stop() == 0

    # The new material is sealed at rest like the first: no plaintext on disk or in logs.
    for name in os.listdir(berth.data_dir):
        path = os.path.join(berth.data_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                data = f.read()
            assert old_plain not in data and new_plain not in data
            assert old_data_key["Plaintext"] not in data
    for log in (berth.log_text(), again.log_text()):
        assert old_plain.decode() not in log and new_plain.decode() not in log


def test_automatic_rotation_settings_through_the_cli(berth, tmp_path):
    key = cli_json(berth, tmp_path, "kms", "create-key")["KeyMetadata"]
    status = cli_json(berth, tmp_path, "kms", "get-key-rotation-status", "--key-id", key["Arn"])
    assert status == {"KeyRotationEnabled": False, "KeyId": key["KeyId"]}

    cli_json(berth, tmp_path, "kms", "enable-key-rotation", "--key-id", key["KeyId"],
             "--rotation-period-in-days", "180")
    status = cli_json(berth, tmp_path, "kms", "get-key-rotation-status", "--key-id", key["KeyId"])
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 180
    assert "OnDemandRotationStartDate" not in status
    next_rotation = datetime.datetime.fromisoformat(status["NextRotationDate"])
    expected = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=180)
    assert abs((next_rotation - expected).total_seconds()) < 120

    cli_json(berth, tmp_path, "kms", "enable-key-rotation", "--key-id", key["KeyId"])
    status = cli_json(berth, tmp_path, "kms", "get-key-rotation-status", "--key-id", key["KeyId"])
    assert status["RotationPeriodInDays"] == 365
    cli_json(berth, tmp_path, "kms", "disable-key-rotation", "--key-id", key["KeyId"])
    assert cli_json(berth, tmp_path, "kms", "get-key-rotation-status", "--key-id",
                    key["KeyId"]) == {"KeyRotationEnabled": False, "KeyId": key["KeyId"]}
    # Enabling and disabling rotation makes no rotation.
    assert cli_json(berth, tmp_path, "kms", "list-key-rotations", "--key-id",
                    key["KeyId"])["Rotations"] == []

    # The AWS managed key rotates yearly, whatever anyone asks.
    managed = cli_json(berth, tmp_path, "kms", "describe-key", "--key-id",
                       "alias/aws/secretsmanager")["KeyMetadata"]
    status = cli_json(berth, tmp_path, "kms", "get-key-rotation-status", "--key-id",
                      managed["KeyId"])
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 365


def test_rotation_errors_as_aws(berth, tmp_path):
    kms = kms_client(berth, tmp_path, validate=False)
    key = kms.create_key()["KeyMetadata"]
    for days, bound in ((89, "greater than or equal to 90"), (2561, "less than or equal to 2560")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=days)
        assert error_of(e) == (
            "ValidationException",
            f"1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed to "
            f"satisfy constraint: Member must have value {bound}")

    kms.disable_key(KeyId=key["KeyId"])
    for call in (lambda: kms.enable_key_rotation(KeyId=key["KeyId"]),
                 lambda: kms.disable_key_rotation(KeyId=key["KeyId"]),
                 lambda: kms.rotate_key_on_demand(KeyId=key["KeyId"])):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_of(e) == ("DisabledException", f"{key['Arn']} is disabled.")
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False

    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    cli_error(cli(berth, tmp_path, "kms", "rotate-key-on-demand", "--key-id", key["KeyId"]),
              "KMSInvalidStateException", f"{key['Arn']} is pending deletion.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.update_key_description(KeyId=key["KeyId"], Description="too late")
    assert error_of(e) == ("KMSInvalidStateException", f"{key['Arn']} is pending deletion.")

    # On-demand rotations are limited per key (AWS: 25).
    busy = kms.create_key()["KeyMetadata"]
    for _ in range(25):
        kms.rotate_key_on_demand(KeyId=busy["KeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.rotate_key_on_demand(KeyId=busy["KeyId"])
    assert error_of(e) == (
        "LimitExceededException",
        "The on-demand rotations limit has been reached for the given keyId. No more on-demand "
        f"rotations can be performed for this key: {busy['Arn']}")

    # 25 rotations, listed 10 at a time, oldest first.
    seen, marker = [], None
    while True:
        page = kms.list_key_rotations(KeyId=busy["KeyId"], Limit=10,
                                      **({"Marker": marker} if marker else {}))
        seen += page["Rotations"]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        assert len(page["Rotations"]) == 10
        marker = page["NextMarker"]
    assert len(seen) == 25 and len({r["KeyMaterialId"] for r in seen}) == 25
    assert [r["KeyMaterialState"] for r in seen] == ["NON_CURRENT"] * 24 + ["CURRENT"]
    everything = kms.list_key_rotations(KeyId=busy["KeyId"], IncludeKeyMaterial="ALL_KEY_MATERIAL",
                                        Limit=1)["Rotations"]
    assert "RotationDate" not in everything[0] and "RotationType" not in everything[0]

    # Management forms only: an alias is not accepted.
    kms.create_alias(AliasName="alias/busy", TargetKeyId=busy["KeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.rotate_key_on_demand(KeyId="alias/busy")
    assert error_of(e) == ("NotFoundException", "Invalid keyId 'alias/busy'")


def test_rotation_and_description_need_their_own_kms_actions(berth, tmp_path):
    iam = client(berth, "iam")
    admin = kms_client(berth, tmp_path)
    key = admin.create_key(Description="before")["KeyMetadata"]
    key_id, secret = make_user(iam, "reader", allow(["kms:Encrypt", "kms:Decrypt",
                                                     "kms:GetKeyRotationStatus",
                                                     "kms:ListKeyRotations"]))
    reader = kms_client(berth, tmp_path, key=key_id, secret=secret)
    assert reader.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    assert reader.list_key_rotations(KeyId=key["KeyId"])["Rotations"] == []
    for action, call in (
            ("kms:RotateKeyOnDemand", lambda: reader.rotate_key_on_demand(KeyId=key["KeyId"])),
            ("kms:EnableKeyRotation", lambda: reader.enable_key_rotation(KeyId=key["KeyId"])),
            ("kms:DisableKeyRotation", lambda: reader.disable_key_rotation(KeyId=key["KeyId"])),
            ("kms:UpdateKeyDescription",
             lambda: reader.update_key_description(KeyId=key["KeyId"], Description="x"))):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        code, message = error_of(e)
        assert code == "AccessDeniedException"
        assert message.startswith(f"User: arn:aws:iam::{ACCOUNT}:user/reader is not authorized "
                                  f"to perform: {action} on resource: {key['Arn']}"), message

    iam.put_user_policy(UserName="reader", PolicyName="rotate",
                        PolicyDocument=json.dumps(allow(["kms:RotateKeyOnDemand",
                                                         "kms:UpdateKeyDescription"])))
    assert reader.rotate_key_on_demand(KeyId=key["KeyId"])["KeyId"] == key["KeyId"]
    reader.update_key_description(KeyId=key["Arn"], Description="after")
    assert admin.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "after"
    cli_json(berth, tmp_path, "kms", "update-key-description", "--key-id", key["KeyId"],
             "--description", "from the cli")
    assert admin.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "from the cli"


# ---------------------------------------------------------------- Secrets Manager

def test_force_deleting_an_absent_secret_succeeds_as_in_aws(berth, tmp_path):
    env = cli_env(tmp_path, berth.credentials_file)
    proc = aws(berth.endpoint, env, "secretsmanager", "delete-secret", "--secret-id",
               "never-created", "--force-delete-without-recovery", check=True)
    out = json.loads(proc.stdout)
    assert out["Name"] == "never-created"
    prefix = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:never-created-"
    assert out["ARN"].startswith(prefix) and len(out["ARN"]) == len(prefix) + 6
    deleted = datetime.datetime.fromisoformat(out["DeletionDate"])  # the CLI prints ISO 8601
    assert abs((deleted - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) < 60

    sm = client(berth, "secretsmanager")
    arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:gone-AbCdEf"
    reply = sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert (reply["ARN"], reply["Name"]) == (arn, "gone")
    assert "DeletionDate" in reply

    # Without force the secret is still not found, and nothing was created.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sm.delete_secret(SecretId="never-created")
    assert error_of(e) == ("ResourceNotFoundException",
                           "Secrets Manager can't find the specified secret.")
    assert sm.list_secrets()["SecretList"] == []


def test_reused_client_request_token_with_another_value(berth, tmp_path):
    sm = client(berth, "secretsmanager")
    token = "11111111-2222-4333-8444-555555555555"
    created = sm.create_secret(Name="tokens", SecretString="first-value",
                               ClientRequestToken=token)
    message = (f"You can't use ClientRequestToken {token} because that value is already in use "
               f"for a version of secret {created['ARN']}.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sm.put_secret_value(SecretId="tokens", SecretString="second-value",
                            ClientRequestToken=token)
    assert error_of(e) == ("ResourceExistsException", message)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sm.update_secret(SecretId=created["ARN"], SecretString="second-value",
                         ClientRequestToken=token)
    assert error_of(e) == ("ResourceExistsException", message)
    env = cli_env(tmp_path, berth.credentials_file)
    proc = aws(berth.endpoint, env, "secretsmanager", "create-secret", "--name", "tokens",
               "--secret-string", "second-value", "--client-request-token", token)
    cli_error(proc, "ResourceExistsException", message)

    # The same value again is a retry; the value never changed.
    again = sm.put_secret_value(SecretId="tokens", SecretString="first-value",
                                ClientRequestToken=token)
    assert again["VersionId"] == token
    assert sm.get_secret_value(SecretId="tokens")["SecretString"] == "first-value"
    assert "second-value" not in berth.log_text()
