"""Sets up the seed's situation on a running berth (a registry secret, an execution role
with the seed's inline policy, assumed as ecs-tasks.amazonaws.com) and prints a wrk Lua
script sending one SigV4-signed GetSecretValue with the role's temporary credentials."""
import json
import os
import sys

import boto3

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from berth_harness import raw, sign  # noqa: E402

url, key, secret = sys.argv[1:4]
session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                region_name="us-east-1")
sm = session.client("secretsmanager", endpoint_url=url)
iam = session.client("iam", endpoint_url=url)
arn = sm.create_secret(Name="registry/bench",
                       SecretString=json.dumps({"username": "u", "password": "p"}))["ARN"]
iam.create_role(RoleName="benchExecutionRole", AssumeRolePolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                            "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}))
iam.put_role_policy(RoleName="benchExecutionRole", PolicyName="seed", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                                            "Action": ["kms:Decrypt", "secretsmanager:GetSecretValue"],
                                            "Resource": [arn]}]}))
body = json.dumps({"RoleArn": f"arn:aws:iam::{arn.split(':')[4]}:role/benchExecutionRole",
                   "RoleSessionName": "bench", "ServicePrincipal": "ecs-tasks.amazonaws.com",
                   "DurationSeconds": 3600}).encode()
status, _, reply = raw("POST", url, sign("POST", url, {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "BerthAdmin_20261126.AssumeRoleAsService"}, body, key, secret, "us-east-1",
    "berth"), body)
if status != 200:
    sys.exit(f"AssumeRoleAsService failed: {reply!r}")
creds = json.loads(reply)["Credentials"]
request = json.dumps({"SecretId": arn}).encode()
headers = sign("POST", url, {"Content-Type": "application/x-amz-json-1.1",
                             "X-Amz-Target": "secretsmanager.GetSecretValue"}, request,
               creds["AccessKeyId"], creds["SecretAccessKey"], "us-east-1", "secretsmanager",
               token=creds["SessionToken"])
# Check it once before handing it to wrk.
status, _, reply = raw("POST", url, headers, request)
if status != 200:
    sys.exit(f"GetSecretValue failed: {reply!r}")
print('wrk.method = "POST"')
print(f"wrk.body = '{request.decode()}'")
for k, v in headers.items():
    if k != "Host":
        print(f'wrk.headers["{k}"] = "{v}"')
