"""A second account, created by the operator on a running server."""
import json
import subprocess

from berth_harness import BERTH, aws, cli_env


def test_account_create_writes_a_profile_that_works(berth, tmp_path):
    out = subprocess.run([BERTH, "account", "create", "--id", "222233334444", "--endpoint",
                          berth.endpoint, "--credentials-file", berth.credentials_file],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "profile '222233334444'" in out.stdout
    env = cli_env(tmp_path, berth.credentials_file)
    ident = json.loads(aws(berth.endpoint, env, "--profile", "222233334444", "sts",
                           "get-caller-identity", check=True).stdout)
    assert ident["Arn"] == "arn:aws:iam::222233334444:root"
    # The default profile is still the operator's.
    ident = json.loads(aws(berth.endpoint, env, "sts", "get-caller-identity", check=True).stdout)
    assert ident["Account"] == "123456789012"
    again = subprocess.run([BERTH, "account", "create", "--id", "222233334444", "--endpoint",
                            berth.endpoint, "--credentials-file", berth.credentials_file],
                           capture_output=True, text=True, timeout=30)
    assert again.returncode == 1 and "AccountAlreadyExistsException" in again.stderr
    # Only the operator's root may create accounts.
    bad = subprocess.run([BERTH, "account", "create", "--id", "333344445555", "--endpoint",
                          berth.endpoint, "--credentials-file", berth.credentials_file,
                          "--operator-profile", "222233334444"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and "AccessDeniedException" in bad.stderr
    malformed = subprocess.run([BERTH, "account", "create", "--id", "12ab", "--endpoint",
                                berth.endpoint, "--credentials-file", berth.credentials_file],
                               capture_output=True, text=True, timeout=30)
    assert malformed.returncode == 1 and "InvalidParameterException" in malformed.stderr


def test_accounts_and_profiles_survive_restart(tmp_path):
    from berth_harness import Berth
    server = Berth(tmp_path / "data")
    try:
        subprocess.run([BERTH, "account", "create", "--id", "222233334444", "--endpoint",
                        server.endpoint, "--credentials-file", server.credentials_file],
                       check=True, capture_output=True, timeout=30)
    finally:
        assert server.stop() == 0
    server = Berth(tmp_path / "data")
    try:
        env = cli_env(tmp_path, server.credentials_file)
        ident = json.loads(aws(server.endpoint, env, "--profile", "222233334444", "sts",
                               "get-caller-identity", check=True).stdout)
        assert ident["Account"] == "222233334444"
    finally:
        assert server.stop() == 0
