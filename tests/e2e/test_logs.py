"""CloudWatch Logs through the real AWS CLI v2 and boto3 (issue 13, acceptance 1-4): every
validation and error of ECS-FACTS §4, PutLogEvents' rules, GetLogEvents' tokens, the filter
pattern forms returning exactly the matching events, stable eventIds, pagination and order,
tags, `aws logs tail [--follow]`; IAM (a writer role that cannot read, another account's group
by ARN with a resource policy); KMS (nothing readable in the data directory, kms:Decrypt
needed to read); retention deleting events from the store, not only hiding them."""
import base64
import json
import os
import queue
import sqlite3
import subprocess
import threading
import time

import botocore.exceptions
import pytest

from berth_harness import (AWS, BERTH, Berth, assume_role, aws, boto_client, cli_env,
                           error_code, allow)

A = "123456789012"
B = "222233334444"
REGION = "us-east-1"
DAY = 86_400_000
HOUR = 3_600_000
RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                  2192, 2557, 2922, 3288, 3653]


def now_ms():
    return int(time.time() * 1000)


def logs(berth, creds=None, validate=True):
    """A logs client as root (default) or `creds` (key, secret[, token])."""
    import botocore.config
    key, secret, token = (creds + (None,))[:3] if creds else (None, None, None)
    c = boto_client(berth, "logs", key, secret, token, region=REGION)
    if not validate:
        import boto3
        if key is None:
            key, secret = berth.read_credentials()
        c = boto3.session.Session().client(
            "logs", endpoint_url=berth.endpoint, region_name=REGION, aws_access_key_id=key,
            aws_secret_access_key=secret, aws_session_token=token,
            config=botocore.config.Config(retries={"max_attempts": 1},
                                          parameter_validation=False))
    return c


def fails(fn, code, message=None, **kwargs):
    """Calls fn(**kwargs), which must fail with `code` (and `message`, exactly, if given);
    returns the error message."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kwargs)
    assert error_code(e) == code, (kwargs, e.value.response["Error"])
    got = e.value.response["Error"].get("Message", "")
    if message is not None:
        assert got == message, kwargs
    return got


NO_GROUP = "The specified log group does not exist."
NO_STREAM = "The specified log stream does not exist."
GROUP_EXISTS = "The specified log group already exists"
STREAM_EXISTS = "The specified log stream already exists"
ORDER = "Log events in a single PutLogEvents request must be in chronological order."


def group_arn(name, account=A):
    return f"arn:aws:logs:{REGION}:{account}:log-group:{name}"


def put(c, group, stream, messages, start=None, step=1):
    """Puts `messages` as one batch, timestamps start, start+step, ...; returns the reply."""
    start = now_ms() - 60_000 if start is None else start
    return c.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": start + i * step, "message": m} for i, m in enumerate(messages)])


def get_all(c, group, stream, **kwargs):
    """Every event of the stream, following nextForwardToken until it repeats."""
    events, token = [], None
    for _ in range(1000):
        args = dict(logGroupName=group, logStreamName=stream, startFromHead=True, **kwargs)
        if token:
            args["nextToken"] = token
        r = c.get_log_events(**args)
        events += r["events"]
        if r["nextForwardToken"] == token:
            return events
        token = r["nextForwardToken"]
    raise AssertionError("the forward token never repeated")


def filter_all(c, group, **kwargs):
    """Every event FilterLogEvents returns, following nextToken."""
    events, token = [], None
    for _ in range(10_000):
        r = c.filter_log_events(logGroupName=group, **kwargs, **({"nextToken": token}
                                                                  if token else {}))
        events += r["events"]
        token = r.get("nextToken")
        if not token:
            return events
    raise AssertionError("nextToken never ended")


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# --- acceptance 1: the API, validation and errors -------------------------------------------

def test_names_and_resource_errors(berth):
    c = logs(berth)
    raw = logs(berth, validate=False)
    c.create_log_group(logGroupName="app")
    fails(c.create_log_group, "ResourceAlreadyExistsException", GROUP_EXISTS, logGroupName="app")
    for name in ("a.b-c_d/e#F9", "/ecs/web", "x" * 512, "aws-not-reserved", "AWSish"):
        c.create_log_group(logGroupName=name)
    fails(c.create_log_group, "InvalidParameterException",
          "Log groups starting with AWS/ are reserved for AWS.", logGroupName="aws/mine")
    for bad in ("has space", "colon:inside", "star*", "x" * 513, "quote\"", "tab\there"):
        fails(raw.create_log_group, "InvalidParameterException", logGroupName=bad)
    fails(raw.create_log_group, "InvalidParameterException", logGroupName="")
    names = {g["logGroupName"] for g in c.describe_log_groups()["logGroups"]}
    assert names == {"app", "a.b-c_d/e#F9", "/ecs/web", "x" * 512, "aws-not-reserved", "AWSish"}

    c.create_log_stream(logGroupName="app", logStreamName="web/1 with spaces & more")
    c.create_log_stream(logGroupName="app", logStreamName="s" * 512)
    fails(c.create_log_stream, "ResourceAlreadyExistsException", STREAM_EXISTS,
          logGroupName="app", logStreamName="s" * 512)
    for bad in ("a:b", "a*b", "s" * 513):
        fails(raw.create_log_stream, "InvalidParameterException", logGroupName="app",
              logStreamName=bad)
    fails(raw.create_log_stream, "InvalidParameterException", logGroupName="app",
          logStreamName="")
    fails(c.create_log_stream, "ResourceNotFoundException", NO_GROUP, logGroupName="nope",
          logStreamName="s")

    fails(c.delete_log_group, "ResourceNotFoundException", NO_GROUP, logGroupName="nope")
    fails(c.delete_log_stream, "ResourceNotFoundException", NO_STREAM, logGroupName="app",
          logStreamName="nope")
    fails(c.delete_log_stream, "ResourceNotFoundException", NO_GROUP, logGroupName="nope",
          logStreamName="s")
    fails(c.put_retention_policy, "ResourceNotFoundException", NO_GROUP, logGroupName="nope",
          retentionInDays=7)
    fails(c.delete_retention_policy, "ResourceNotFoundException", NO_GROUP, logGroupName="nope")
    fails(c.describe_log_streams, "ResourceNotFoundException", NO_GROUP, logGroupName="nope")
    fails(c.get_log_events, "ResourceNotFoundException", NO_GROUP, logGroupName="nope",
          logStreamName="s")
    fails(c.get_log_events, "ResourceNotFoundException", NO_STREAM, logGroupName="app",
          logStreamName="nope")
    fails(c.filter_log_events, "ResourceNotFoundException", NO_GROUP, logGroupName="nope")
    fails(c.put_log_events, "ResourceNotFoundException", NO_STREAM, logGroupName="app",
          logStreamName="nope", logEvents=[{"timestamp": now_ms(), "message": "x"}])
    fails(c.put_log_events, "ResourceNotFoundException", NO_GROUP, logGroupName="nope",
          logStreamName="s", logEvents=[{"timestamp": now_ms(), "message": "x"}])

    # Retention: only AWS's day values.
    for days in (0, 2, 8, 4000, -1):
        fails(raw.put_retention_policy, "InvalidParameterException", logGroupName="app",
              retentionInDays=days)
    for days in RETENTION_DAYS:
        c.put_retention_policy(logGroupName="app", retentionInDays=days)
        [g] = c.describe_log_groups(logGroupNamePrefix="app")["logGroups"]
        assert g["retentionInDays"] == days
    c.delete_retention_policy(logGroupName="app")
    [g] = c.describe_log_groups(logGroupNamePrefix="app")["logGroups"]
    assert "retentionInDays" not in g

    # Exactly one of logGroupName and logGroupIdentifier; streams by name or by prefix.
    fails(raw.get_log_events, "InvalidParameterException", logGroupName="app",
          logGroupIdentifier=group_arn("app"), logStreamName="s" * 512)
    fails(raw.get_log_events, "InvalidParameterException", logStreamName="s" * 512)
    fails(raw.filter_log_events, "InvalidParameterException", logGroupName="app",
          logStreamNames=["s" * 512], logStreamNamePrefix="s")
    fails(raw.describe_log_streams, "InvalidParameterException",
          "Cannot order by LastEventTime with a logStreamNamePrefix.", logGroupName="app",
          orderBy="LastEventTime", logStreamNamePrefix="s")
    fails(raw.describe_log_streams, "InvalidParameterException", logGroupName="app",
          orderBy="Size")
    fails(raw.describe_log_groups, "InvalidParameterException", logGroupNamePrefix="a",
          logGroupNamePattern="a")
    for limit in (0, 51):
        fails(raw.describe_log_groups, "InvalidParameterException", limit=limit)
        fails(raw.describe_log_streams, "InvalidParameterException", logGroupName="app",
              limit=limit)
    for limit in (0, 10_001):
        fails(raw.get_log_events, "InvalidParameterException", logGroupName="app",
              logStreamName="s" * 512, limit=limit)
        fails(raw.filter_log_events, "InvalidParameterException", logGroupName="app",
              limit=limit)
    fails(raw.filter_log_events, "InvalidParameterException", logGroupName="app",
          filterPattern="x" * 1025)
    fails(raw.filter_log_events, "InvalidParameterException", logGroupName="app",
          filterPattern='{ $.level = "error" ')
    fails(raw.get_log_events, "InvalidParameterException", logGroupName="app",
          logStreamName="s" * 512, nextToken="not-a-token")

    # Deleting a group deletes its streams; the name can be used again.
    c.delete_log_stream(logGroupName="app", logStreamName="s" * 512)
    fails(c.get_log_events, "ResourceNotFoundException", NO_STREAM, logGroupName="app",
          logStreamName="s" * 512)
    c.delete_log_group(logGroupName="app")
    fails(c.describe_log_streams, "ResourceNotFoundException", NO_GROUP, logGroupName="app")
    c.create_log_group(logGroupName="app")
    assert c.describe_log_streams(logGroupName="app")["logStreams"] == []


def test_the_cli_creates_writes_reads_and_reports_aws_errors(berth, tmp_path):
    env = cli_env(tmp_path, berth.credentials_file)

    def cli(*args):
        return aws(berth.endpoint, env, "logs", *args)

    assert cli("create-log-group", "--log-group-name", "/ecs/cli").returncode == 0
    dup = cli("create-log-group", "--log-group-name", "/ecs/cli")
    assert dup.returncode != 0 and "(ResourceAlreadyExistsException)" in dup.stderr
    assert GROUP_EXISTS in dup.stderr
    reserved = cli("create-log-group", "--log-group-name", "aws/x")
    assert "(InvalidParameterException)" in reserved.stderr
    assert cli("create-log-stream", "--log-group-name", "/ecs/cli", "--log-stream-name",
               "web/1").returncode == 0
    t = now_ms()
    out = cli("put-log-events", "--log-group-name", "/ecs/cli", "--log-stream-name", "web/1",
              "--log-events", f"timestamp={t},message=first line",
              f"timestamp={t + 1},message=second line")
    assert out.returncode == 0, out.stderr
    assert "rejectedLogEventsInfo" not in json.loads(out.stdout)
    got = json.loads(cli("get-log-events", "--log-group-name", "/ecs/cli", "--log-stream-name",
                         "web/1", "--start-from-head").stdout)
    assert [(e["timestamp"], e["message"]) for e in got["events"]] == [
        (t, "first line"), (t + 1, "second line")]
    assert all(e["ingestionTime"] >= t - 5_000 for e in got["events"])
    assert got["nextForwardToken"].startswith("f/") and got["nextBackwardToken"].startswith("b/")
    groups = json.loads(cli("describe-log-groups").stdout)["logGroups"]
    assert [(g["logGroupName"], g["arn"], g["logGroupArn"]) for g in groups] == [
        ("/ecs/cli", group_arn("/ecs/cli") + ":*", group_arn("/ecs/cli"))]
    missing = cli("get-log-events", "--log-group-name", "/ecs/cli", "--log-stream-name", "nope")
    assert "(ResourceNotFoundException)" in missing.stderr and NO_STREAM in missing.stderr
    order = cli("put-log-events", "--log-group-name", "/ecs/cli", "--log-stream-name", "web/1",
                "--log-events", f"timestamp={t + 5},message=b", f"timestamp={t + 4},message=a")
    assert "(InvalidParameterException)" in order.stderr and ORDER in order.stderr


def test_put_log_events_rules(berth):
    c = logs(berth)
    raw = logs(berth, validate=False)
    c.create_log_group(logGroupName="g")
    c.create_log_stream(logGroupName="g", logStreamName="s")
    t = now_ms()

    # Out of order: the whole batch is refused, nothing stored.
    fails(c.put_log_events, "InvalidParameterException", ORDER, logGroupName="g",
          logStreamName="s", logEvents=[{"timestamp": t, "message": "b"},
                                        {"timestamp": t - 1, "message": "a"}])
    assert get_all(c, "g", "s") == []

    # Too old (> 14 days) and too new (> 2 h ahead) reported; the rest kept.
    r = c.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": t - 15 * DAY, "message": "too old 1"},
        {"timestamp": t - 14 * DAY - HOUR, "message": "too old 2"},
        {"timestamp": t - 2, "message": "kept 1"},
        {"timestamp": t - 1, "message": "kept 2"},
        {"timestamp": t + 2 * HOUR + 10 * 60_000, "message": "too new 1"},
        {"timestamp": t + 3 * HOUR, "message": "too new 2"}])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2,
                                          "tooNewLogEventStartIndex": 4}
    assert r.get("nextSequenceToken")
    assert [e["message"] for e in get_all(c, "g", "s")] == ["kept 1", "kept 2"]
    # All rejected: nothing stored, still a success.
    r = c.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": t - 20 * DAY, "message": "old"}])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}
    # Clean batch: no rejectedLogEventsInfo.
    assert "rejectedLogEventsInfo" not in put(c, "g", "s", ["clean"], start=t)

    # Older than the group's retention (but within 14 days): expired.
    c.create_log_group(logGroupName="short")
    c.create_log_stream(logGroupName="short", logStreamName="s")
    c.put_retention_policy(logGroupName="short", retentionInDays=1)
    r = c.put_log_events(logGroupName="short", logStreamName="s", logEvents=[
        {"timestamp": t - 3 * DAY, "message": "expired"},
        {"timestamp": t - 1, "message": "fresh"}])
    assert r["rejectedLogEventsInfo"]["expiredLogEventEndIndex"] == 1
    assert "tooNewLogEventStartIndex" not in r["rejectedLogEventsInfo"]
    assert [e["message"] for e in get_all(c, "short", "s")] == ["fresh"]

    # The valid events may span at most 24 h.
    fails(c.put_log_events, "InvalidParameterException", logGroupName="g", logStreamName="s",
          logEvents=[{"timestamp": t - 25 * HOUR, "message": "a"},
                     {"timestamp": t, "message": "b"}])
    put(c, "g", "s", ["span a", "span b"], start=t - 24 * HOUR + 1000, step=24 * HOUR - 2000)

    # Sizes and counts.
    fails(raw.put_log_events, "InvalidParameterException", logGroupName="g", logStreamName="s",
          logEvents=[])
    fails(raw.put_log_events, "InvalidParameterException", logGroupName="g", logStreamName="s",
          logEvents=[{"timestamp": t, "message": ""}])
    fails(c.put_log_events, "InvalidParameterException", logGroupName="g", logStreamName="s",
          logEvents=[{"timestamp": t, "message": "x"}] * 10_001)
    c.put_log_events(logGroupName="g", logStreamName="s",
                     logEvents=[{"timestamp": t, "message": "x"}] * 10_000)
    biggest = "y" * (1_048_576 - 26)
    c.put_log_events(logGroupName="g", logStreamName="s",
                     logEvents=[{"timestamp": t, "message": biggest}])
    fails(c.put_log_events, "InvalidParameterException", logGroupName="g", logStreamName="s",
          logEvents=[{"timestamp": t, "message": biggest + "y"}])
    # Two events: 2 * (524,275 + 26) = 1,048,602 > 1,048,576.
    fails(c.put_log_events, "InvalidParameterException", logGroupName="g", logStreamName="s",
          logEvents=[{"timestamp": t, "message": "z" * 524_275}] * 2)
    c.put_log_events(logGroupName="g", logStreamName="s",
                     logEvents=[{"timestamp": t, "message": "z" * 524_262}] * 2)
    # Sequence tokens are ignored.
    c.put_log_events(logGroupName="g", logStreamName="s", sequenceToken="bogus-token-123",
                     logEvents=[{"timestamp": t + 1, "message": "token ignored"}])
    events = get_all(c, "g", "s")
    assert len(events) == 2 + 1 + 2 + 10_000 + 1 + 2 + 1
    assert events[-1]["message"] == "token ignored"
    assert any(e["message"] == biggest for e in events)
    stream = c.describe_log_streams(logGroupName="g")["logStreams"][0]
    assert stream["firstEventTimestamp"] == t - 24 * HOUR + 1000
    assert stream["lastEventTimestamp"] == t + 1


def test_parallel_puts_to_one_stream_lose_nothing(berth):
    c = logs(berth)
    c.create_log_group(logGroupName="par")
    c.create_log_stream(logGroupName="par", logStreamName="s")
    t = now_ms() - 10_000
    errors = []

    def writer(w):
        try:
            mine = logs(berth)
            for b in range(15):
                put(mine, "par", "s", [f"w{w} b{b} e{i}" for i in range(50)], start=t + b)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    messages = [e["message"] for e in get_all(c, "par", "s")]
    assert sorted(messages) == sorted(f"w{w} b{b} e{i}" for w in range(8) for b in range(15)
                                      for i in range(50))
    stamps = [e["timestamp"] for e in get_all(c, "par", "s")]
    assert stamps == sorted(stamps)


def test_get_log_events_tokens_directions_and_bounds(berth):
    c = logs(berth)
    raw = logs(berth, validate=False)
    c.create_log_group(logGroupName="g")
    c.create_log_stream(logGroupName="g", logStreamName="s")
    base = now_ms() - 600_000
    msgs = [f"event {i:02d}" for i in range(25)]
    for lo, hi in ((0, 10), (10, 20), (20, 25)):
        c.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
            {"timestamp": base + i * 1000, "message": msgs[i]} for i in range(lo, hi)])

    def page(**kw):
        r = c.get_log_events(logGroupName="g", logStreamName="s", **kw)
        return [e["message"] for e in r["events"]], r

    # Forward from the head, 10 at a time; at the end the same token comes back.
    got, r = page(startFromHead=True, limit=10)
    assert got == msgs[0:10]
    got, r = page(startFromHead=True, limit=10, nextToken=r["nextForwardToken"])
    assert got == msgs[10:20]
    got, r = page(startFromHead=True, limit=10, nextToken=r["nextForwardToken"])
    assert got == msgs[20:25]
    end = r["nextForwardToken"]
    got, r = page(startFromHead=True, limit=10, nextToken=end)
    assert got == [] and r["nextForwardToken"] == end
    got, r = page(startFromHead=True, limit=10, nextToken=end)
    assert got == [] and r["nextForwardToken"] == end
    # A backward token from the middle goes back (ascending within the page).
    got, r2 = page(startFromHead=True, limit=10)
    got, r2 = page(startFromHead=True, limit=10, nextToken=r2["nextForwardToken"])
    got, _ = page(limit=5, nextToken=r2["nextBackwardToken"])
    assert got == msgs[5:10]

    # Default: the newest events first, then backward; the backward token repeats at the head.
    got, r = page(limit=10)
    assert got == msgs[15:25]
    newest_forward = r["nextForwardToken"]
    got, r = page(limit=10, nextToken=r["nextBackwardToken"])
    assert got == msgs[5:15]
    got, r = page(limit=10, nextToken=r["nextBackwardToken"])
    assert got == msgs[0:5]
    head = r["nextBackwardToken"]
    got, r = page(limit=10, nextToken=head)
    assert got == [] and r["nextBackwardToken"] == head

    # The forward token of the newest page: nothing yet; new events arrive through it.
    got, r = page(startFromHead=True, nextToken=newest_forward)
    assert got == [] and r["nextForwardToken"] == newest_forward
    c.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": base + 30_000, "message": "late 1"},
        {"timestamp": base + 31_000, "message": "late 2"}])
    got, r = page(startFromHead=True, nextToken=newest_forward)
    assert got == ["late 1", "late 2"]
    got, r = page(startFromHead=True, nextToken=r["nextForwardToken"])
    assert got == []

    # Time bounds: start inclusive, end exclusive, in both directions.
    got, _ = page(startFromHead=True, startTime=base + 5000, endTime=base + 8000)
    assert got == msgs[5:8]
    got, _ = page(startTime=base + 5000, endTime=base + 8000, limit=2)
    assert got == msgs[6:8]
    got, _ = page(startFromHead=True, startTime=base + 100_000)
    assert got == []
    # Every event carries timestamp, message and ingestionTime only.
    _, r = page(startFromHead=True, limit=1)
    assert set(r["events"][0]) == {"timestamp", "message", "ingestionTime"}
    assert r["events"][0]["timestamp"] == base
    # Tokens are the stream's: one from another stream is refused or reads nothing of it.
    fails(raw.get_log_events, "InvalidParameterException", logGroupName="g",
          logStreamName="s", nextToken="f/garbage")


def test_get_events_by_group_arn_identifier(berth):
    c = logs(berth, validate=False)  # this botocore still requires logGroupName
    c.create_log_group(logGroupName="byarn")
    c.create_log_stream(logGroupName="byarn", logStreamName="s")
    put(c, "byarn", "s", ["one", "two"])
    for ident in (group_arn("byarn"), group_arn("byarn") + ":*"):
        r = c.get_log_events(logGroupIdentifier=ident, logStreamName="s", startFromHead=True)
        assert [e["message"] for e in r["events"]] == ["one", "two"]
        r = c.filter_log_events(logGroupIdentifier=ident, filterPattern="two")
        assert [e["message"] for e in r["events"]] == ["two"]
        r = c.describe_log_streams(logGroupIdentifier=ident)
        assert [s["logStreamName"] for s in r["logStreams"]] == ["s"]
    fails(c.get_log_events, "ResourceNotFoundException", NO_GROUP,
          logGroupIdentifier=group_arn("nope"), logStreamName="s")


# The filter pattern forms: each returns exactly these events (indexes into MESSAGES).
MESSAGES = [
    "ERROR timeout talking to db",                      # 0
    "ERROR disk full on /var",                          # 1
    "WARN disk almost full",                            # 2
    "INFO request ok",                                  # 3
    "error: lower case only",                           # 4
    "WARN timeout retrying",                            # 5
    "ERROR connection reset by peer",                   # 6
    '{"level":"error","user":"alice","latency":250}',   # 7
    '{"level":"info","user":"bob","latency":50}',       # 8
    '{"level":"error","user":"bob","latency":100}',     # 9
    '{"level":"info","user":"carol","latency":5}',      # 10
    "10.0.0.1 alice 200 512",                           # 11
    "10.0.0.2 bob 404 128",                             # 12
    "10.0.0.3 carol 503 2048",                          # 13
    "10.0.0.4 dave 404 4096",                           # 14
    "10.0.0.5 erin 200 10 extra-field",                 # 15
]
PATTERNS = {
    "": list(range(16)),
    "ERROR": [0, 1, 6],
    "ERROR timeout": [0],
    "timeout ERROR": [0],
    "timeout": [0, 5],
    '"disk full"': [1],
    '"connection reset"': [6],
    '"/var"': [1],
    "?ERROR ?WARN": [0, 1, 2, 5, 6],
    "?timeout ?alice": [0, 5, 7, 11],
    "ERROR -timeout": [1, 6],
    'WARN -"almost full"': [5],
    '{ $.level = "error" }': [7, 9],
    '{ $.level = error }': [7, 9],
    "{ $.latency > 100 }": [7],
    "{ $.latency >= 100 }": [7, 9],
    "{ $.latency < 60 }": [8, 10],
    '{ $.user != "bob" }': [7, 10],
    '{ $.level = "error" && $.user = "bob" }': [9],
    '{ $.user = "carol" || $.latency > 200 }': [7, 10],
    '{ ($.user = "bob" || $.user = "carol") && $.latency < 60 }': [8, 10],
    "{ $.missing = 1 }": [],
    "[ip, user, status=404, size]": [12, 14],
    "[ip, user, status>=500, size]": [13],
    "[ip, user=bob, status, size]": [12],
    "[ip, user, status=4*, size]": [12, 14],
    "[ip, user, status=200, ...]": [11, 15],
    "[ip, user, status, size>1000]": [13, 14],
    "[ip, user, status=404 || status=503, size]": [12, 13, 14],
}


@pytest.fixture
def filter_group(berth):
    """Group "f" with MESSAGES spread over streams "a/1", "a/2" and "b/1", one ms apart,
    put in three batches (out of stream order, so the scan must interleave)."""
    c = logs(berth)
    c.create_log_group(logGroupName="f")
    for s in ("a/1", "a/2", "b/1"):
        c.create_log_stream(logGroupName="f", logStreamName=s)
    base = now_ms() - 300_000
    streams = {"a/1": [], "a/2": [], "b/1": []}
    for i, m in enumerate(MESSAGES):
        streams[("a/1", "a/2", "b/1")[i % 3]].append({"timestamp": base + i, "message": m})
    for s in ("b/1", "a/2", "a/1"):
        c.put_log_events(logGroupName="f", logStreamName=s, logEvents=streams[s])
    return c, base


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_filter_pattern_returns_exactly_the_matching_events(filter_group, pattern):
    c, base = filter_group
    events = filter_all(c, "f", filterPattern=pattern)
    assert [e["message"] for e in events] == [MESSAGES[i] for i in PATTERNS[pattern]]
    for e in events:
        i = MESSAGES.index(e["message"])
        assert e["timestamp"] == base + i
        assert e["logStreamName"] == ("a/1", "a/2", "b/1")[i % 3]
        assert e["eventId"].isdigit() and e["ingestionTime"] > 0


def test_filter_streams_bounds_pagination_and_stable_event_ids(filter_group):
    c, base = filter_group
    everything = filter_all(c, "f")
    assert [e["message"] for e in everything] == MESSAGES
    ids = [e["eventId"] for e in everything]
    assert len(set(ids)) == len(ids)
    # The same ids on every read, whatever the page size or the pattern.
    assert [e["eventId"] for e in filter_all(c, "f")] == ids
    paged = filter_all(c, "f", limit=3)
    assert [(e["eventId"], e["message"]) for e in paged] == [
        (e["eventId"], e["message"]) for e in everything]
    first = c.filter_log_events(logGroupName="f", limit=3)
    assert len(first["events"]) <= 3 and first.get("nextToken")
    by_id = {e["eventId"]: e["message"] for e in everything}
    for e in filter_all(c, "f", filterPattern="ERROR"):
        assert by_id[e["eventId"]] == e["message"]
    # Streams by name, by prefix; time bounds (start inclusive, end exclusive).
    assert [e["message"] for e in filter_all(c, "f", logStreamNames=["b/1"])] == MESSAGES[2::3]
    assert [e["message"] for e in filter_all(c, "f", logStreamNames=["a/1", "b/1"])] == [
        m for i, m in enumerate(MESSAGES) if i % 3 != 1]
    assert [e["message"] for e in filter_all(c, "f", logStreamNamePrefix="a/")] == [
        m for i, m in enumerate(MESSAGES) if i % 3 != 2]
    assert filter_all(c, "f", logStreamNamePrefix="zzz") == []
    assert [e["message"] for e in filter_all(c, "f", startTime=base + 3, endTime=base + 6)] == \
        MESSAGES[3:6]
    assert [e["message"] for e in filter_all(c, "f", filterPattern="ERROR",
                                             startTime=base + 1)] == [MESSAGES[1], MESSAGES[6]]
    paged = filter_all(c, "f", filterPattern="?ERROR ?WARN", limit=2)
    assert [e["message"] for e in paged] == [MESSAGES[i] for i in (0, 1, 2, 5, 6)]


def test_describe_pagination_order_and_fields(berth):
    c = logs(berth)
    names = [f"pg-{i:02d}" for i in range(7)]
    for n in reversed(names):
        c.create_log_group(logGroupName=n)
    c.create_log_group(logGroupName="other")
    c.put_retention_policy(logGroupName="pg-03", retentionInDays=30)

    seen, token, pages = [], None, 0
    while True:
        r = c.describe_log_groups(logGroupNamePrefix="pg-", limit=3,
                                  **({"nextToken": token} if token else {}))
        pages += 1
        assert len(r["logGroups"]) <= 3
        seen += [g["logGroupName"] for g in r["logGroups"]]
        token = r.get("nextToken")
        if not token:
            break
    assert seen == names and pages == 3
    everything = c.describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in everything] == ["other"] + names
    g = {g["logGroupName"]: g for g in everything}
    assert g["pg-03"]["retentionInDays"] == 30 and "retentionInDays" not in g["pg-02"]
    assert g["pg-00"]["arn"] == group_arn("pg-00") + ":*"
    assert g["pg-00"]["logGroupArn"] == group_arn("pg-00")
    assert g["pg-00"]["creationTime"] > now_ms() - 60_000
    assert g["pg-00"]["storedBytes"] == 0 and g["pg-00"]["metricFilterCount"] == 0
    assert [x["logGroupName"] for x in c.describe_log_groups(
        logGroupNamePattern="-03")["logGroups"]] == ["pg-03"]
    assert [x["logGroupName"] for x in c.describe_log_groups(
        logGroupNamePattern="PG-0")["logGroups"]] == names
    assert c.describe_log_groups(logGroupNamePrefix="zz")["logGroups"] == []

    # Streams: by name (both directions), by last event time, pages of 2, event timestamps.
    c.create_log_group(logGroupName="st")
    base = now_ms() - 100_000
    order = {"s-c": 1, "s-a": 3, "s-e": 0, "s-b": 4, "s-d": 2}  # last-event rank
    for s in ("s-a", "s-b", "s-c", "s-d", "s-e"):
        c.create_log_stream(logGroupName="st", logStreamName=s)
        t = base + order[s] * 1000
        put(c, "st", s, ["x", "y"], start=t, step=10)
    c.create_log_stream(logGroupName="st", logStreamName="t-empty")

    def streams(**kw):
        out, token = [], None
        while True:
            r = c.describe_log_streams(logGroupName="st", limit=2,
                                       **kw, **({"nextToken": token} if token else {}))
            assert len(r["logStreams"]) <= 2
            out += r["logStreams"]
            token = r.get("nextToken")
            if not token:
                return out

    by_name = streams()
    assert [s["logStreamName"] for s in by_name] == ["s-a", "s-b", "s-c", "s-d", "s-e",
                                                     "t-empty"]
    assert [s["logStreamName"] for s in streams(descending=True)] == [
        "t-empty", "s-e", "s-d", "s-c", "s-b", "s-a"]
    assert [s["logStreamName"] for s in streams(logStreamNamePrefix="s-")] == [
        "s-a", "s-b", "s-c", "s-d", "s-e"]
    by_time = [s["logStreamName"] for s in streams(orderBy="LastEventTime", descending=True)]
    assert by_time[:5] == ["s-b", "s-a", "s-d", "s-c", "s-e"]
    a = by_name[0]
    assert a["firstEventTimestamp"] == base + 3000 and a["lastEventTimestamp"] == base + 3010
    assert a["lastIngestionTime"] >= a["creationTime"]
    assert a["arn"] == group_arn("st") + ":log-stream:s-a"
    empty = by_name[-1]
    assert "firstEventTimestamp" not in empty and "lastEventTimestamp" not in empty


def test_tags_new_and_legacy_apis(berth):
    c = logs(berth)
    raw = logs(berth, validate=False)
    c.create_log_group(logGroupName="tagged", tags={"team": "infra", "env": "dev"})
    arn = group_arn("tagged")
    assert c.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "infra", "env": "dev"}
    c.tag_resource(resourceArn=arn, tags={"env": "prod", "cost": "42"})
    assert c.list_tags_for_resource(resourceArn=arn)["tags"] == {
        "team": "infra", "env": "prod", "cost": "42"}
    c.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])
    assert c.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "prod", "cost": "42"}
    # The legacy, name-based operations see the same tags.
    assert c.list_tags_log_group(logGroupName="tagged")["tags"] == {"env": "prod", "cost": "42"}
    c.tag_log_group(logGroupName="tagged", tags={"legacy": "yes"})
    assert c.list_tags_for_resource(resourceArn=arn)["tags"] == {
        "env": "prod", "cost": "42", "legacy": "yes"}
    c.untag_log_group(logGroupName="tagged", tags=["cost"])
    assert c.list_tags_log_group(logGroupName="tagged")["tags"] == {"env": "prod",
                                                                    "legacy": "yes"}
    fails(c.list_tags_for_resource, "ResourceNotFoundException", resourceArn=group_arn("nope"))
    fails(c.tag_resource, "ResourceNotFoundException", resourceArn=group_arn("nope"),
          tags={"a": "b"})
    fails(c.tag_log_group, "ResourceNotFoundException", logGroupName="nope", tags={"a": "b"})
    fails(raw.tag_resource, "InvalidParameterException", resourceArn=arn, tags={"": "v"})


# --- acceptance 1/4: `aws logs tail` ---------------------------------------------------------

def test_aws_logs_tail_and_follow(berth, tmp_path):
    c = logs(berth)
    c.create_log_group(logGroupName="/ecs/tail")
    c.create_log_stream(logGroupName="/ecs/tail", logStreamName="web/app/1")
    c.create_log_stream(logGroupName="/ecs/tail", logStreamName="web/app/2")
    t = now_ms() - 30_000
    put(c, "/ecs/tail", "web/app/1", ["tail one", "tail three"], start=t, step=2)
    put(c, "/ecs/tail", "web/app/2", ["tail two"], start=t + 1)
    env = cli_env(tmp_path, berth.credentials_file)
    out = aws(berth.endpoint, env, "logs", "tail", "/ecs/tail", "--since", "10m", check=True)
    lines = out.stdout.splitlines()
    assert [line.split(" ", 2)[1:] for line in lines] == [
        ["web/app/1", "tail one"], ["web/app/2", "tail two"], ["web/app/1", "tail three"]]

    proc = subprocess.Popen([AWS, "--endpoint-url", berth.endpoint, "logs", "tail", "/ecs/tail",
                             "--follow", "--since", "10m", "--format", "short"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = queue.Queue()
    threading.Thread(target=lambda: [seen.put(line) for line in proc.stdout],
                     daemon=True).start()
    try:
        def read_until(wanted, timeout):
            got, deadline = [], time.time() + timeout
            while time.time() < deadline and not set(wanted) <= {g.split(" ", 1)[-1].strip()
                                                                 for g in got}:
                try:
                    got.append(seen.get(timeout=0.1))
                except queue.Empty:
                    pass
            return [g.split(" ", 1)[-1].strip() for g in got]

        first = read_until(["tail one", "tail two", "tail three"], 20)
        assert first == ["tail one", "tail two", "tail three"], proc.stderr
        for round_ in range(2):
            put(c, "/ecs/tail", "web/app/2", [f"followed {round_} a", f"followed {round_} b"],
                start=now_ms())
            started = time.time()
            got = read_until([f"followed {round_} a", f"followed {round_} b"], 8)
            waited = time.time() - started
            assert got == [f"followed {round_} a", f"followed {round_} b"], (round_, got)
            assert waited < 6.5, waited
        # No event is printed twice across polls.
        assert read_until(["never"], 6) == []
    finally:
        proc.kill()
        proc.wait()


# --- acceptance 2: IAM ----------------------------------------------------------------------

def test_writer_role_can_write_but_not_read_or_delete(berth):
    c = logs(berth)
    c.create_log_group(logGroupName="/ecs/writer")
    c.create_log_group(logGroupName="/ecs/elsewhere")
    c.create_log_stream(logGroupName="/ecs/elsewhere", logStreamName="s")
    iam = boto_client(berth, "iam")
    writer = assume_role(berth, iam, "log-writer", allow(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        f"arn:aws:logs:{REGION}:{A}:log-group:/ecs/writer:*"))
    w = logs(berth, writer)
    w.create_log_stream(logGroupName="/ecs/writer", logStreamName="task/1")
    r = put(w, "/ecs/writer", "task/1", ["written by the role"])
    assert "rejectedLogEventsInfo" not in r
    assert [e["message"] for e in get_all(c, "/ecs/writer", "task/1")] == ["written by the role"]

    denied = [
        (w.get_log_events, dict(logGroupName="/ecs/writer", logStreamName="task/1"),
         "logs:GetLogEvents"),
        (w.filter_log_events, dict(logGroupName="/ecs/writer"), "logs:FilterLogEvents"),
        (w.describe_log_streams, dict(logGroupName="/ecs/writer"), "logs:DescribeLogStreams"),
        (w.describe_log_groups, {}, "logs:DescribeLogGroups"),
        (w.delete_log_stream, dict(logGroupName="/ecs/writer", logStreamName="task/1"),
         "logs:DeleteLogStream"),
        (w.delete_log_group, dict(logGroupName="/ecs/writer"), "logs:DeleteLogGroup"),
        (w.put_retention_policy, dict(logGroupName="/ecs/writer", retentionInDays=1),
         "logs:PutRetentionPolicy"),
        (w.create_log_group, dict(logGroupName="/ecs/new"), "logs:CreateLogGroup"),
        (w.create_log_stream, dict(logGroupName="/ecs/elsewhere", logStreamName="x"),
         "logs:CreateLogStream"),
        (w.put_log_events, dict(logGroupName="/ecs/elsewhere", logStreamName="s",
                                logEvents=[{"timestamp": now_ms(), "message": "no"}]),
         "logs:PutLogEvents"),
        (w.list_tags_for_resource, dict(resourceArn=group_arn("/ecs/writer")),
         "logs:ListTagsForResource"),
    ]
    for fn, kwargs, action in denied:
        message = fails(fn, "AccessDeniedException", **kwargs)
        assert action in message, (action, message)
    # Nothing was deleted or changed.
    assert [s["logStreamName"] for s in c.describe_log_streams(
        logGroupName="/ecs/writer")["logStreams"]] == ["task/1"]
    assert [e["message"] for e in get_all(c, "/ecs/elsewhere", "s")] == []
    assert "retentionInDays" not in c.describe_log_groups(
        logGroupNamePrefix="/ecs/writer")["logGroups"][0]


def _create_account_b(berth):
    import configparser
    out = subprocess.run([BERTH, "account", "create", "--id", B, "--endpoint", berth.endpoint,
                          "--credentials-file", berth.credentials_file],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    parser = configparser.ConfigParser()
    parser.read(berth.credentials_file)
    return parser[B]["aws_access_key_id"], parser[B]["aws_secret_access_key"]


def test_another_accounts_group_needs_its_arn_and_a_resource_policy(berth):
    b_root = _create_account_b(berth)
    c = logs(berth)
    c.create_log_group(logGroupName="shared")
    c.create_log_stream(logGroupName="shared", logStreamName="s")
    put(c, "shared", "s", ["cross-account line"])
    c.create_log_group(logGroupName="private")
    c.create_log_stream(logGroupName="private", logStreamName="s")
    put(c, "private", "s", ["private line"])

    reads = ["logs:GetLogEvents", "logs:FilterLogEvents", "logs:DescribeLogStreams"]
    iam_b = boto_client(berth, "iam", *b_root)
    reader = assume_role(berth, iam_b, "cross-reader", allow(reads, "*"), account=B)
    r = logs(berth, reader, validate=False)  # logGroupIdentifier without logGroupName
    shared, private = group_arn("shared"), group_arn("private")

    # By name B's own account is searched.
    fails(r.get_log_events, "ResourceNotFoundException", NO_GROUP, logGroupName="shared",
          logStreamName="s")
    fails(r.filter_log_events, "ResourceNotFoundException", NO_GROUP, logGroupName="shared")
    # By ARN, without a resource policy of A's: refused.
    fails(r.get_log_events, "AccessDeniedException", logGroupIdentifier=shared,
          logStreamName="s")
    fails(r.filter_log_events, "AccessDeniedException", logGroupIdentifier=shared)
    fails(r.describe_log_streams, "AccessDeniedException", logGroupIdentifier=shared)

    c.put_resource_policy(policyName="cross-read", policyDocument=policy({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
        "Action": reads, "Resource": f"{shared}:*"}))
    assert [p["policyName"] for p in c.describe_resource_policies()["resourcePolicies"]] == [
        "cross-read"]
    got = r.get_log_events(logGroupIdentifier=shared, logStreamName="s", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["cross-account line"]
    got = r.filter_log_events(logGroupIdentifier=shared + ":*")
    assert [e["message"] for e in got["events"]] == ["cross-account line"]
    assert [s["logStreamName"] for s in r.describe_log_streams(
        logGroupIdentifier=shared)["logStreams"]] == ["s"]
    # The resource policy names only "shared".
    fails(r.get_log_events, "AccessDeniedException", logGroupIdentifier=private,
          logStreamName="s")
    # B's identity policy must allow it too.
    iam_b.put_role_policy(RoleName="cross-reader", PolicyName="p", PolicyDocument=json.dumps(
        allow(["logs:DescribeLogStreams"], "*")))
    fails(r.get_log_events, "AccessDeniedException", logGroupIdentifier=shared,
          logStreamName="s")
    # A's root in B is nobody: B's root cannot write to A's group by name either.
    fails(logs(berth, b_root).put_log_events, "ResourceNotFoundException", NO_GROUP,
          logGroupName="shared", logStreamName="s",
          logEvents=[{"timestamp": now_ms(), "message": "x"}])
    # Removing the resource policy refuses again.
    iam_b.put_role_policy(RoleName="cross-reader", PolicyName="p", PolicyDocument=json.dumps(
        allow(reads, "*")))
    r.get_log_events(logGroupIdentifier=shared, logStreamName="s")
    c.delete_resource_policy(policyName="cross-read")
    fails(r.get_log_events, "AccessDeniedException", logGroupIdentifier=shared,
          logStreamName="s")


# --- acceptance 3: KMS ----------------------------------------------------------------------

def test_kms_group_nothing_readable_on_disk_and_decrypt_needed(tmp_path, root_creds):
    needles = ["Quokka-Marmalade-4471 card=4111111111111111",
               "Wombat-Chutney-9922 plain group line"]
    server = Berth(tmp_path / "data", root=root_creds, args=["--log-level", "debug"])
    try:
        c = logs(server)
        kms = boto_client(server, "kms", region=REGION)
        key = kms.create_key(Description="logs key")["KeyMetadata"]
        c.create_log_group(logGroupName="enc", kmsKeyId=key["Arn"])
        c.create_log_group(logGroupName="plain")
        [g] = c.describe_log_groups(logGroupNamePrefix="enc")["logGroups"]
        assert g["kmsKeyId"] == key["Arn"]
        for group, message in (("enc", needles[0]), ("plain", needles[1])):
            c.create_log_stream(logGroupName=group, logStreamName="s")
            put(c, group, "s", [message, message + " again"])

        iam = boto_client(server, "iam")
        reads = ["logs:GetLogEvents", "logs:FilterLogEvents"]
        nodecrypt = logs(server, assume_role(server, iam, "no-decrypt", allow(reads, "*")))
        for fn, kwargs in ((nodecrypt.get_log_events, dict(logGroupName="enc",
                                                             logStreamName="s")),
                           (nodecrypt.filter_log_events, dict(logGroupName="enc"))):
            message = fails(fn, "AccessDeniedException", **kwargs)
            assert "kms" in message.lower(), message
        # The group without a key needs no KMS permission.
        assert len(nodecrypt.get_log_events(logGroupName="plain", logStreamName="s")
                   ["events"]) == 2
        decrypt = logs(server, assume_role(server, iam, "with-decrypt", {
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": reads, "Resource": "*"},
                {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key["Arn"]}]}))
        got = decrypt.get_log_events(logGroupName="enc", logStreamName="s", startFromHead=True)
        assert [e["message"] for e in got["events"]] == [needles[0], needles[0] + " again"]
        assert [e["message"] for e in decrypt.filter_log_events(
            logGroupName="enc", filterPattern="Quokka")["events"]] == [
            needles[0], needles[0] + " again"]
        # A disabled key: nobody reads; writing still works (the service writes).
        kms.disable_key(KeyId=key["KeyId"])
        fails(decrypt.get_log_events, "AccessDeniedException", logGroupName="enc",
              logStreamName="s")
        put(c, "enc", "s", [needles[0] + " while disabled"])
        kms.enable_key(KeyId=key["KeyId"])
        assert len(get_all(decrypt, "enc", "s")) == 3
    finally:
        assert server.stop() == 0

    files = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path / "data") for f in fs]
    files.append(server.log_path)
    assert any(f.endswith("berth.db") for f in files)
    words = [n.encode() for n in needles] + [b"Quokka-Marmalade", b"4111111111111111",
                                             b"Wombat-Chutney"]
    words += [base64.b64encode(n.encode())[:24] for n in needles]
    for path in files:
        with open(path, "rb") as f:
            content = f.read()
        for w in words:
            assert w not in content, f"{w!r} found in {path}"


# --- acceptance 4: retention deletes from the store ------------------------------------------

def _segment_keys(data_dir, group, kind="seg"):
    """The kv table's keys of `group`'s segments (kind "seg") or their summaries ("idx"),
    read-only (src/logs/event_store.h: logevents/<kind>/A/R/<group>:<stream>:<segment id>; the
    first contract's logs/A/R/<kind>/... is accepted too). The history table's sealed copies
    are not counted: they are the store's change log, not its state."""
    db = sqlite3.connect(f"file:{os.path.join(str(data_dir), 'berth.db')}?mode=ro", uri=True)
    try:
        keys = [bytes(r[0]).decode(errors="replace") for r in db.execute("SELECT key FROM kv")]
    finally:
        db.close()
    prefixes = (f"logevents/{kind}/{A}/{REGION}/{group}:", f"logs/{A}/{REGION}/{kind}/{group}:")
    return sorted(k for k in keys if k.startswith(prefixes))


def test_retention_deletes_expired_events_from_the_store(tmp_path, root_creds):
    data = tmp_path / "data"
    server = Berth(data, root=root_creds)

    def store_keys(*groups):
        """Stops the server (it holds the store's file exclusively), counts each group's seg
        and idx keys, starts it again."""
        nonlocal server
        assert server.stop() == 0, server.log_text()
        counts = [(len(_segment_keys(data, g)), len(_segment_keys(data, g, "idx")))
                  for g in groups]
        server = Berth(data, root=root_creds)
        return counts

    try:
        c = logs(server)
        c.create_log_group(logGroupName="ret")
        c.create_log_stream(logGroupName="ret", logStreamName="s")
        c.create_log_group(logGroupName="keep")
        c.create_log_stream(logGroupName="keep", logStreamName="s")
        t = now_ms()
        put(c, "ret", "s", [f"ten days {i}" for i in range(50)], start=t - 10 * DAY)
        put(c, "ret", "s", ["seven days and an hour", "six days and 23 hours"],
            start=t - 7 * DAY - HOUR, step=2 * HOUR)
        put(c, "ret", "s", ["three days"], start=t - 3 * DAY)
        put(c, "ret", "s", ["now"], start=t - 1000)
        put(c, "keep", "s", [f"kept ten days {i}" for i in range(5)], start=t - 10 * DAY)
        assert store_keys("ret", "keep") == [(4, 4), (1, 1)]
        c = logs(server)
        assert len(get_all(c, "ret", "s")) == 54

        c.put_retention_policy(logGroupName="ret", retentionInDays=7)
        assert [e["message"] for e in get_all(c, "ret", "s")] == [
            "six days and 23 hours", "three days", "now"]
        assert [e["message"] for e in filter_all(c, "ret")] == [
            "six days and 23 hours", "three days", "now"]
        [s] = c.describe_log_streams(logGroupName="ret")["logStreams"]
        assert s["firstEventTimestamp"] == t - 7 * DAY + HOUR
        # Gone from the store: the ten-day segment (both keys); the mixed one rewritten in
        # place; the other group untouched.
        assert store_keys("ret", "keep") == [(3, 3), (1, 1)]
        c = logs(server)
        assert [e["message"] for e in get_all(c, "ret", "s")] == [
            "six days and 23 hours", "three days", "now"]
        assert len(get_all(c, "keep", "s")) == 5
        # New events older than the retention are reported expired, not stored.
        r = c.put_log_events(logGroupName="ret", logStreamName="s", logEvents=[
            {"timestamp": t - 8 * DAY, "message": "late and expired"},
            {"timestamp": t - 500, "message": "late and fresh"}])
        assert r["rejectedLogEventsInfo"]["expiredLogEventEndIndex"] == 1
        assert [e["message"] for e in get_all(c, "ret", "s")][-1] == "late and fresh"
        assert store_keys("ret") == [(4, 4)]

        # Deleting a stream and a group deletes their events from the store.
        c = logs(server)
        c.delete_log_stream(logGroupName="ret", logStreamName="s")
        c.delete_log_group(logGroupName="keep")
        assert store_keys("ret", "keep") == [(0, 0), (0, 0)]
    finally:
        assert server.stop() == 0
