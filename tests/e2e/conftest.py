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
