"""Brownie's networks, without brownie: `--network ID` finds a node the way
`brownie run ... --network ID` does, from brownie's own network config."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from crowdstake.chain.rpc import redacted
from crowdstake.errors import ConfigError

_ENV_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def brownie_network_config() -> Path:
    """Where brownie 1.22 keeps its networks: `~/.brownie/network-config.yaml` (it reads no
    environment variable for this folder; HOME decides)."""
    return Path.home() / ".brownie" / "network-config.yaml"


def _brownie_networks(path: Path) -> dict[str, dict]:
    """Every network of brownie's config by id: development ones, then live ones."""
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"no brownie network config at {path}: add the network with `brownie networks add`, "
                          "or give an RPC URL instead") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML ({e.__class__.__name__}): fix it, or give an RPC URL instead") from None
    live = [n for group in config.get("live") or [] for n in group.get("networks") or []]
    return {n["id"]: n for n in [*(config.get("development") or []), *live] if isinstance(n, dict) and "id" in n}


def network_rpc_url(name: str, config: Path | None = None) -> str:
    """The RPC URL of brownie network `name`, found the way `brownie --network` finds it: the
    network's `host`, plus `cmd_settings.port` when the host names no port (development
    networks), with `$VAR`/`${VAR}` taken from the environment."""
    path = config or brownie_network_config()
    network = _brownie_networks(path).get(name)
    if network is None:
        raise ConfigError(f"no network {name!r} in {path}: see `brownie networks list`, or give an RPC URL instead")
    host = str(network.get("host") or "")
    port = (network.get("cmd_settings") or {}).get("port")
    if port and ":" not in host.split("//", 1)[-1]:
        host = f"{host}:{port}"
    unset = [a or b for a, b in _ENV_VAR.findall(host) if (a or b) not in os.environ]
    if unset:
        raise ConfigError(f"network {name!r} needs ${unset[0]} in its host: export it, or give an RPC URL instead")
    url = os.path.expandvars(host)
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"network {name!r} has host {redacted(url)!r}, not an http(s) URL: "
                          "crowdstake speaks JSON-RPC over HTTP; give an RPC URL instead")
    return url
