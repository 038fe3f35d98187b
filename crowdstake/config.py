"""Settings, in small frozen dataclasses, one per concern, loaded once and passed explicitly:
nothing else in the package reads the environment for them (secrets excepted: a password or a
raw key is read from the environment variable that holds it, where the caller says).

`load(flags)` takes each value from, in order: the command line's flag, the environment
(`CROWDSTAKE_*`, listed in `ENVIRONMENT`), an optional `crowdstake.toml` in the working
directory (or `$CROWDSTAKE_CONFIG`), then the default. In the TOML file the keys are the
field names, in tables named after the concern:

    [node]
    rpc_url = "http://127.0.0.1:8545"
    rpc_retries = 6
    [wallet]
    name = "alice"
    [store]
    location = "http://127.0.0.1:8700"
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from crowdstake.chain.rpc import RetryPolicy
from crowdstake.errors import ConfigError

DEFAULT_RPC = "http://127.0.0.1:8545"


@dataclass(frozen=True)
class NodeSettings:
    """Which node to talk to (`network`, a brownie network id, wins over `rpc_url`), how to wait
    it out when it is down, and where the deployments are recorded."""

    rpc_url: str = DEFAULT_RPC
    network: str | None = None
    rpc_retries: int = 6
    rpc_backoff: float = 0.5
    deployments: Path = Path("deployments")

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(self.rpc_retries, self.rpc_backoff)

    def url(self) -> str:
        """The node's RPC URL: brownie's network `network`, else `rpc_url`."""
        from crowdstake.chain.networks import network_rpc_url

        return network_rpc_url(self.network) if self.network else self.rpc_url

    def contracts(self):
        """Connect and load the chain's deployment: a `crowdstake.chain.Contracts`."""
        from crowdstake.chain import Contracts, connect

        return Contracts.load(connect(self.url(), self.retry), self.deployments)


@dataclass(frozen=True)
class WalletSettings:
    """Which key signs: a wallet by name (its password from `password_env` or a prompt), or
    a raw key from the environment variable `key_env`, named explicitly."""

    name: str | None = None
    key_env: str | None = None
    directory: Path = Path("~") / ".crowdstake" / "wallets"
    password_env: str = "CROWDSTAKE_PASSWORD"


@dataclass(frozen=True)
class StoreSettings:
    """The submission store: an http(s) URL, or a local directory; None when not given."""

    location: str | None = None


@dataclass(frozen=True)
class OracleSettings:
    """A committee member's run: where the journal and score tables are kept, how to send, and
    `targets`, a directory of the fund's targets (`<round>.csv`) that overrides the store's,
    checked against the round's on-chain targets hash when it has one (None: the store's)."""

    targets: Path | None = None
    workdir: Path = Path("oracle-work")
    dry_run: bool = False
    finalize: bool = True
    confirmations: int = 0
    interval: float = 15.0


@dataclass(frozen=True)
class KeeperSettings:
    """How a keeper pays a finalised round's positions: to internal balances or wallets, and
    how many per transaction (None: what fits half a block)."""

    to_balance: bool = False
    batch_size: int | None = None


@dataclass(frozen=True)
class Settings:
    node: NodeSettings = field(default_factory=NodeSettings)
    wallet: WalletSettings = field(default_factory=WalletSettings)
    store: StoreSettings = field(default_factory=StoreSettings)


# (section, field) -> the environment variable that sets it
ENVIRONMENT = {
    ("node", "rpc_url"): "CROWDSTAKE_RPC_URL",
    ("node", "rpc_retries"): "CROWDSTAKE_RPC_RETRIES",
    ("node", "rpc_backoff"): "CROWDSTAKE_RPC_BACKOFF",
    ("node", "deployments"): "CROWDSTAKE_DEPLOYMENTS",
    ("wallet", "name"): "CROWDSTAKE_WALLET",
    ("wallet", "directory"): "CROWDSTAKE_HOME",
    ("store", "location"): "CROWDSTAKE_STORE",
}
_SECTIONS = {"node": NodeSettings, "wallet": WalletSettings, "store": StoreSettings}


def _toml(path: Path | None) -> dict:
    path = path or Path(os.environ.get("CROWDSTAKE_CONFIG", "crowdstake.toml"))
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not valid TOML ({e}): fix it or remove it") from None


def _convert(cls, name: str, value: Any, source: str) -> Any:
    kind = next(f.type for f in fields(cls) if f.name == name)
    try:
        if "Path" in kind:
            return Path(value).expanduser()
        if kind == "int":
            number = int(value)
            if number < 1:
                raise ValueError
            return number
        if kind == "float":
            number = float(value)
            if not number >= 0:
                raise ValueError
            return number
    except (TypeError, ValueError):
        raise ConfigError(f"{source} is {value!r}: {name} must be a "
                          f"{'whole number of at least 1' if kind == 'int' else 'number of 0 or more'}") from None
    return None if value is None else str(value)


def load(flags: Mapping[str, Mapping[str, Any]] | None = None, env: Mapping[str, str] | None = None,
         config_file: Path | None = None) -> Settings:
    """The settings from `flags` ({section: {field: value}}; None means not given), then `env`
    (default: the process environment), then the TOML file, then the defaults."""
    flags, env = flags or {}, os.environ if env is None else env
    file = _toml(config_file)
    sections = {}
    for section, cls in _SECTIONS.items():
        values, rank = {}, {}
        for f in fields(cls):
            variable = ENVIRONMENT.get((section, f.name))
            given = (flags.get(section) or {}).get(f.name)
            if given is not None:
                values[f.name], rank[f.name] = _convert(cls, f.name, given, f"--{f.name.replace('_', '-')}"), 3
            elif variable and env.get(variable):
                value = env[variable]
                if (section, f.name) == ("wallet", "directory"):  # CROWDSTAKE_HOME holds wallets/ and more
                    value = str(Path(value) / "wallets")
                values[f.name], rank[f.name] = _convert(cls, f.name, value, variable), 2
            elif f.name in (file.get(section) or {}):
                where = f"{section}.{f.name} in crowdstake.toml"
                values[f.name], rank[f.name] = _convert(cls, f.name, file[section][f.name], where), 1
        if section == "node" and rank.get("rpc_url", 0) > rank.get("network", 0):
            values.pop("network", None)  # an RPC URL given nearer the command line wins over a named network
        sections[section] = cls(**values)
    return Settings(**sections)
