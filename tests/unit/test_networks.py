"""`--network ID`: brownie's network config read without brownie; and the networks `make` keeps."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crowdstake.chain import networks as brownie_networks
from crowdstake.errors import ConfigError
from crowdstake.chain.networks import network_rpc_url

NETWORKS = """
development:
- id: dev
  cmd: anvil
  host: http://127.0.0.1
  cmd_settings: {port: 8565, accounts: 10}
- id: dev-own-port
  cmd: anvil
  host: http://localhost:9000
  cmd_settings: {port: 8565}
live:
- name: Ethereum
  networks:
  - id: mainnet
    chainid: 1
    host: https://mainnet.example.org/v3/$NODE_KEY
  - id: braced
    chainid: 5
    host: https://${NODE_HOST}/rpc
  - id: socket
    chainid: 7
    host: /var/run/geth.ipc
"""


@pytest.fixture
def networks(tmp_path):
    path = tmp_path / "network-config.yaml"
    path.write_text(NETWORKS)
    return path


@pytest.mark.parametrize("name, env, url", [
    ("dev", {}, "http://127.0.0.1:8565"),  # a development network's port joins its host
    ("dev-own-port", {}, "http://localhost:9000"),  # a host that names its port keeps it
    ("mainnet", {"NODE_KEY": "k3y"}, "https://mainnet.example.org/v3/k3y"),
    ("braced", {"NODE_HOST": "node.example.org"}, "https://node.example.org/rpc"),
])
def test_a_network_name_resolves_as_brownie_resolves_it(networks, monkeypatch, name, env, url):
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert network_rpc_url(name, networks) == url


def test_an_unknown_network_name_says_where_it_looked(networks):
    with pytest.raises(ConfigError, match=f"no network 'mainet' in {networks}: see `brownie networks list`"):
        network_rpc_url("mainet", networks)


def test_an_unset_variable_in_the_host_is_named(networks, monkeypatch):
    monkeypatch.delenv("NODE_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"network 'mainnet' needs \$NODE_KEY in its host: export it"):
        network_rpc_url("mainnet", networks)


def test_a_host_crowdstake_cannot_speak_to_is_refused(networks):
    with pytest.raises(ConfigError, match="not an http.s. URL"):
        network_rpc_url("socket", networks)


def test_a_missing_network_config_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no brownie network config at"):
        network_rpc_url("dev", tmp_path / "nope.yaml")


def test_brownie_network_config_is_under_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert brownie_networks.brownie_network_config() == tmp_path / ".brownie" / "network-config.yaml"


def test_make_keeps_brownie_networks_exact_and_idempotent(tmp_path):
    # tools/brownie_networks.py, as `make` runs it, in a HOME of its own: the first run adds the
    # three networks, a changed one is put back, a run with nothing to do changes nothing.
    tool = Path(__file__).resolve().parents[2] / "tools" / "brownie_networks.py"
    env = {"HOME": str(tmp_path), "PATH": str(Path(sys.executable).parent)}

    def run() -> str:
        return subprocess.run([sys.executable, str(tool)], env=env, capture_output=True, text=True, check=True).stdout

    def development() -> dict:
        config = yaml.safe_load((tmp_path / ".brownie" / "network-config.yaml").read_text())
        return {n["id"]: n for n in config["development"]}

    assert run().count("brownie network ") == 3
    found = development()
    assert found["test-anvil"]["cmd"] == found["bench-anvil"]["cmd"] == "anvil --max-persisted-states 0"
    assert found["ganache"]["cmd_settings"]["evm_version"] == "shanghai"
    config = tmp_path / ".brownie" / "network-config.yaml"
    config.write_text(config.read_text().replace("cmd: anvil --max-persisted-states 0", "cmd: anvil"))
    assert run().count("brownie network ") == 2
    before = config.read_text()
    assert run() == "" and config.read_text() == before
