"""Many connections writing one record: no write fails, none is lost, and a
kill -9 in the middle of the load loses nothing that was acknowledged (the
short version of bench/contention_bench.py; see contention_load.py)."""
import secrets
import threading
import time

import pytest

from berth_harness import Berth
from contention_load import WORKLOADS, Api, run, verify

CONNECTIONS = 16
SECONDS = 3.0
# As many HTTP threads as connections (a 16-core host's default): every write
# is in its handler at once, the worst case for writers of one record.
SERVER_ARGS = ["--threads", str(CONNECTIONS)]


@pytest.fixture
def server(tmp_path, root_creds):
    berth = Berth(tmp_path / "data", root=root_creds, args=SERVER_ARGS)
    yield berth
    assert berth.stop() == 0, berth.log_text()


def set_up(server, creds, kind):
    workload = WORKLOADS[kind]()
    api = Api(server.endpoint, *creds)
    try:
        workload.setup(api, secrets.token_hex(4))
    finally:
        api.close()
    return workload


@pytest.mark.parametrize("kind", sorted(WORKLOADS))
def test_hot_write_from_16_connections_never_fails_and_loses_nothing(server, root_creds, kind):
    workload = set_up(server, root_creds, kind)
    result = run(server.endpoint, *root_creds, workload, CONNECTIONS, SECONDS)
    summary = result.summary()
    assert summary["non_2xx"] == 0, summary
    assert summary["unanswered"] == 0, summary
    assert result.writes >= CONNECTIONS, summary
    assert verify(server.endpoint, *root_creds, workload, result) == []
    assert "InternalFailure" not in server.log_text()


def test_kill_9_mid_load_keeps_every_acknowledged_write(tmp_path, root_creds):
    server = Berth(tmp_path / "data", root=root_creds, args=SERVER_ARGS)
    workloads = [set_up(server, root_creds, kind) for kind in sorted(WORKLOADS)]
    stop = threading.Event()
    results = [None] * len(workloads)

    def load(i):
        results[i] = run(server.endpoint, *root_creds, workloads[i], 6, 30.0, stop=stop)

    runners = [threading.Thread(target=load, args=(i,)) for i in range(len(workloads))]
    for r in runners:
        r.start()
    time.sleep(2.0)
    server.proc.kill()  # SIGKILL, mid-write
    server.proc.wait()
    stop.set()
    for r in runners:
        r.join()
    server.stop()

    again = Berth(tmp_path / "data", root=root_creds, args=SERVER_ARGS)
    try:
        for workload, result in zip(workloads, results):
            assert result.writes > 0, result.summary()
            assert result.failures == [], result.summary()
            assert verify(again.endpoint, *root_creds, workload, result) == [], workload.name
    finally:
        assert again.stop() == 0, again.log_text()
