"""Options several commands share, and what is built from them.

Each group of options (`node`, `deployments`, `wallet`, `store`) is passed on to the command as
one section of a single `flags` argument, the `{"node": {...}, "wallet": {...}, "store": {...}}`
that `crowdstake.config.load` takes. Every such option defaults to None ("not given"): its value
then comes from the environment, `crowdstake.toml` or the default, in `config.load`, never from
here. The defaults below only appear in help texts (`crowdstake.config` is not imported at
start-up: it pulls in web3); tests/unit/test_cli_parsing.py checks that they agree."""

from __future__ import annotations

import functools
import math

import click

from crowdstake.errors import MissingSetting

DEFAULT_RPC = "http://127.0.0.1:8545"
DEFAULT_RETRIES = 6
DEFAULT_BACKOFF = 0.5
DEFAULT_DEPLOYMENTS = "deployments"
DEFAULT_WORKDIR = "oracle-work"
DEFAULT_INTERVAL = 15.0


# ------------------------------------------------------------------ value types


class WholeNumber(click.ParamType):
    """An integer of at least `minimum`."""

    name = "N"

    def __init__(self, minimum: int = 1):
        self.minimum = minimum

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            number = int(text) if text.isdigit() else None
        if number is None or number < self.minimum:
            self.fail(f"{value!r} is not a whole number of at least {self.minimum}", param, ctx)
        return number


class Seconds(click.ParamType):
    """A finite number of seconds, 0 or more."""

    name = "SECONDS"

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not (number >= 0 and math.isfinite(number)):
            self.fail(f"{value!r} is not a number of seconds (0 or more)", param, ctx)
        return number


class Checked(click.ParamType):
    """Text checked by one of `crowdstake._human`'s (or `_units`') parsers and passed on as given:
    the library parses the same text again, so the command line and a notebook take the same
    values, and a bad one is refused before anything connects."""

    def __init__(self, parser: str, name: str):
        self.parser, self.name = parser, name

    def convert(self, value, param, ctx):
        from crowdstake import _human, _units
        from crowdstake.errors import InvalidInputError

        parse = getattr(_human, self.parser, None) or getattr(_units, self.parser)
        try:
            parse(value)
        except InvalidInputError as e:
            self.fail(str(e), param, ctx)
        return value


def duration():
    return Checked("parse_duration", "DURATION")


def percent():
    return Checked("parse_percent", "PERCENT")


def weight():
    return Checked("parse_weight", "WEIGHT")


def time():
    return Checked("parse_time", "TIME")


def address():
    return Checked("parse_address", "ADDR")


def tokens():
    return Checked("parse_amount", "TOKENS")


def hash32():
    return Checked("parse_hash", "HASH")


# ------------------------------------------------------------------ option groups


def _section(section: str, fields: dict[str, str], options: list, check=None):
    """A decorator adding `options` to a command and handing their values on as
    `flags[section]` ({config field: value}; `fields` maps each parameter to its field)."""

    def decorate(f):
        @functools.wraps(f)
        def command(*args, **kwargs):
            values = {field: kwargs.pop(param) for param, field in fields.items()}
            if check is not None:
                check(values)
            flags = dict(kwargs.pop("flags", None) or {})
            flags[section] = {**flags.get(section, {}), **values}
            return f(*args, flags=flags, **kwargs)

        for option in reversed(options):  # listed in this order in --help
            command = option(command)
        return command

    return decorate


def _one_node(values: dict) -> None:
    if values.get("rpc_url") is not None and values.get("network") is not None:
        raise click.UsageError("--rpc-url and --network are mutually exclusive: pass one of them",
                               ctx=click.get_current_context(silent=True))


_deployments = click.option(
    "--deployments", metavar="DIR", default=None,
    help=f"the directory of deployment records, <chainId>.json (env CROWDSTAKE_DEPLOYMENTS; "
         f"default ./{DEFAULT_DEPLOYMENTS})")

node = _section("node", {"rpc_url": "rpc_url", "network": "network", "rpc_retries": "rpc_retries",
                         "rpc_backoff": "rpc_backoff", "deployments": "deployments"}, [
    click.option("--rpc-url", metavar="URL", default=None,
                 help=f"the node's JSON-RPC URL (env CROWDSTAKE_RPC_URL; default {DEFAULT_RPC})"),
    click.option("--network", metavar="ID", default=None,
                 help="a brownie network id, as in `brownie run scripts/deploy.py --network ID`: its host from "
                      "~/.brownie/network-config.yaml ($VARS from the environment); not with --rpc-url (default: none, the "
                      "node of --rpc-url)"),
    click.option("--rpc-retries", type=WholeNumber(1), default=None,
                 help=f"attempts per RPC call while the node is down or restarting (env CROWDSTAKE_RPC_RETRIES; "
                      f"default {DEFAULT_RETRIES})"),
    click.option("--rpc-backoff", type=Seconds(), default=None,
                 help=f"seconds before the first retry, doubling after each (env CROWDSTAKE_RPC_BACKOFF; "
                      f"default {DEFAULT_BACKOFF})"),
    _deployments,
], check=_one_node)
"""--rpc-url | --network, --rpc-retries, --rpc-backoff, --deployments: which node, and its deployment."""

deployments = _section("node", {"deployments": "deployments"}, [_deployments])
"""--deployments alone: for commands that read deployment records without a node."""

wallet = _section("wallet", {"wallet": "name", "key_env": "key_env"}, [
    click.option("--wallet", metavar="NAME", default=None,
                 help="the wallet that signs, by name (env CROWDSTAKE_WALLET; see `crowdstake wallet list`); "
                      "its password from CROWDSTAKE_PASSWORD, else asked (default: none; a command that signs "
                      "then needs --key-env)"),
    click.option("--key-env", metavar="VAR", default=None,
                 help="sign with the raw private key in this environment variable instead of a wallet (default: "
                      "none, the wallet signs)"),
])
"""--wallet NAME | --key-env VAR: which key signs."""

store = _section("store", {"store": "location"}, [
    click.option("--store", metavar="URL|DIR", default=None,
                 help="the submission store: an http(s) URL, or a local directory (env CROWDSTAKE_STORE; default: "
                      "none, and a command that needs one says so)"),
])
"""--store URL|DIR: the submission store."""


# ------------------------------------------------------------------ building from the settings


def load(flags: dict):
    """The settings: the flags given, else the environment, crowdstake.toml, the defaults."""
    from crowdstake import config

    return config.load(flags)


def account(settings, required: bool = True):
    """The signing account: `--key-env`'s raw key, else the wallet (its password from the
    environment or a prompt); None when neither is chosen and none is `required`."""
    from crowdstake.chain import wallet as wallets

    chosen = settings.wallet
    if chosen.key_env:
        return wallets.account_from_env(chosen.key_env)
    if chosen.name:
        return wallets.load_wallet(chosen.name, wallets.password_from(chosen.password_env), chosen.directory)
    if not required:
        return None
    raise MissingSetting("no wallet chosen", "wallet")


def connect(settings, start_hint: bool = False):
    """A web3 connection to the chosen node; with `start_hint`, a node that does not answer is
    one line that also says how to start one."""
    from crowdstake.chain import connect as connect_node
    from crowdstake.chain.rpc import redacted
    from crowdstake.errors import NodeUnavailable

    url = settings.node.url()
    try:
        return connect_node(url, settings.node.retry)
    except NodeUnavailable:
        if not start_hint:
            raise
        raise NodeUnavailable(f"no Ethereum node answers at {redacted(url)} (tried {settings.node.rpc_retries} times): "
                              "start one, e.g. `anvil` in another terminal (it listens on 127.0.0.1:8545), or point "
                              "crowdstake at yours") from None


def wallet_address(settings) -> str | None:
    """The chosen signer's address without decrypting anything: a wallet's from its keystore file,
    `--key-env`'s from its key; None when neither is chosen."""
    from crowdstake.chain import wallet as wallets

    chosen = settings.wallet
    if chosen.key_env:
        return wallets.account_from_env(chosen.key_env).address
    if chosen.name:
        return wallets.wallet_address(chosen.name, chosen.directory)
    return None


def open_store(settings, contracts, needed_for: str | None = None):
    """The submission store on `contracts`' chain: an HTTP client (which refuses a store of another
    chain) or a local directory; None when none is given, unless it is `needed_for` something."""
    from crowdstake import store as stores

    location = settings.store.location
    if not location:
        if needed_for:
            raise MissingSetting(needed_for, "store")
        return None
    if location.startswith(("http://", "https://")):
        return stores.HttpStore(location, chain_id=contracts.w3.eth.chain_id)
    return stores.local_store_for(location, contracts)


def participant(flags: dict, with_store: bool = False):
    """A `crowdstake.participant.Participant` for the chosen node, wallet and (`with_store`) store."""
    from crowdstake.participant import Participant

    settings = load(flags)
    contracts = settings.node.contracts()
    signer = account(settings)
    return Participant(contracts, signer, open_store(settings, contracts) if with_store else None, model_book(settings))


def model_book(settings):
    """The book of model names beside the wallets: `$CROWDSTAKE_HOME/models.json`."""
    from pathlib import Path

    from crowdstake.models import ModelBook

    return ModelBook(Path(settings.wallet.directory).expanduser().parent / "models.json")


def fund(flags: dict, with_store: bool = False):
    """A `crowdstake.fund.operations.Fund` for the chosen node, key and (`with_store`) store."""
    from crowdstake.fund.operations import Fund

    settings = load(flags)
    contracts = settings.node.contracts()
    signer = account(settings)
    return Fund(contracts, signer, open_store(settings, contracts, "publishing a dataset or targets needs the submission store") if with_store else None)


def steps():
    """Progress bars on a terminal's stderr, else the plain lines tests and CI read."""
    from crowdstake.progress import steps_for

    return steps_for(click.echo)
