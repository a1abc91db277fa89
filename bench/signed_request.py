"""Prints a wrk Lua script that sends one SigV4-signed STS GetCallerIdentity."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from berth_harness import sign  # noqa: E402

url, key, secret = sys.argv[1:4]
body = b"Action=GetCallerIdentity&Version=2011-06-15"
headers = sign("POST", url, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
               body, key, secret, "us-east-1", "sts")
print('wrk.method = "POST"')
print(f'wrk.body = "{body.decode()}"')
for k, v in headers.items():
    if k != "Host":
        print(f'wrk.headers["{k}"] = "{v}"')
