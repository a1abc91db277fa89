import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from berth_harness import Berth, random_root_credentials  # noqa: E402


@pytest.fixture
def root_creds():
    return random_root_credentials()


@pytest.fixture
def berth(tmp_path, root_creds):
    """A berth server with a fixed root key, stopped (cleanly) after the test."""
    server = Berth(tmp_path / "data", root=root_creds)
    yield server
    code = server.stop()
    assert code == 0, f"berth exited with {code}:\n{server.log_text()}"


@pytest.fixture
def fleet(berth):
    """ECS container instances on `berth` whose agents hold ACS sessions (ecs_harness.Fleet)."""
    from ecs_harness import Fleet
    f = Fleet(berth)
    yield f
    f.close()


@pytest.fixture
def cli(berth, tmp_path):
    """The AWS CLI against `berth` as its root (ecs_harness.Cli)."""
    from ecs_harness import Cli
    c = Cli(berth, str(tmp_path))
    yield c
    c.close()
