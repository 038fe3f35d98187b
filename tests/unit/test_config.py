"""Settings: each value from the flag, else the environment, else crowdstake.toml, else the default."""

from pathlib import Path

import pytest

from crowdstake.config import DEFAULT_RPC, load
from crowdstake.errors import ConfigError


@pytest.fixture
def toml(tmp_path):
    path = tmp_path / "crowdstake.toml"
    path.write_text('[node]\nrpc_url = "http://toml:1"\nrpc_retries = 3\n[store]\nlocation = "toml-store"\n')
    return path


def test_defaults_without_any_source(tmp_path):
    settings = load({}, env={}, config_file=tmp_path / "absent.toml")
    assert settings.node.rpc_url == DEFAULT_RPC and settings.node.retry.attempts == 6
    assert settings.node.deployments == Path("deployments") and settings.store.location is None
    assert settings.wallet.directory == Path("~/.crowdstake/wallets")


def test_flag_beats_environment_beats_file(toml):
    env = {"CROWDSTAKE_RPC_URL": "http://env:1", "CROWDSTAKE_STORE": "env-store"}
    assert load({}, env={}, config_file=toml).node.rpc_url == "http://toml:1"
    assert load({}, env=env, config_file=toml).node.rpc_url == "http://env:1"
    flagged = load({"node": {"rpc_url": "http://flag:1"}}, env=env, config_file=toml)
    assert flagged.node.rpc_url == "http://flag:1" and flagged.store.location == "env-store"
    assert flagged.node.rpc_retries == 3  # from the file: no flag, no variable


def test_home_variable_holds_the_wallets(tmp_path):
    settings = load({}, env={"CROWDSTAKE_HOME": str(tmp_path)}, config_file=tmp_path / "absent.toml")
    assert settings.wallet.directory == tmp_path / "wallets"


def test_an_rpc_url_nearer_the_command_line_wins_over_a_named_network(tmp_path):
    path = tmp_path / "crowdstake.toml"
    path.write_text('[node]\nnetwork = "mainnet"\n')
    assert load({}, env={}, config_file=path).node.network == "mainnet"
    assert load({}, env={"CROWDSTAKE_RPC_URL": "http://env:1"}, config_file=path).node.network is None
    assert load({"node": {"rpc_url": "http://flag:1"}}, env={}, config_file=path).node.url() == "http://flag:1"


@pytest.mark.parametrize("variable, value, message", [
    ("CROWDSTAKE_RPC_RETRIES", "0", "CROWDSTAKE_RPC_RETRIES is '0': rpc_retries must be a whole number of at least 1"),
    ("CROWDSTAKE_RPC_BACKOFF", "-1", "CROWDSTAKE_RPC_BACKOFF is '-1': rpc_backoff must be a number of 0 or more"),
    ("CROWDSTAKE_RPC_BACKOFF", "nan", "rpc_backoff must be a number of 0 or more"),
])
def test_bad_values_say_where_they_came_from(tmp_path, variable, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load({}, env={variable: value}, config_file=tmp_path / "absent.toml")


def test_a_broken_file_is_one_clear_error(tmp_path):
    path = tmp_path / "crowdstake.toml"
    path.write_text("[node\n")
    with pytest.raises(ConfigError, match="crowdstake.toml is not valid TOML"):
        load({}, env={}, config_file=path)
