"""The `crowdstake` command line without a chain: what each command accepts and shows in --help,
how a bad command line and each kind of library error are reported (one line, the flag to change),
and the lines the commands print, with the library replaced by fakes where a node would be needed.
`make unit` runs it with the rest of the unit tier."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import click
import pandas as pd
import pytest
from click.testing import CliRunner

import crowdstake
from crowdstake import config
from crowdstake._server import free_port
from crowdstake.cli import FLAG_HINTS, _options, explain, main
from crowdstake.errors import CrowdstakeError, MissingSetting, NodeUnavailable, StoreUnavailable

PACKAGE = Path(crowdstake.__file__).parent
KEY = "0x" + "11" * 32  # a valid secp256k1 key, for --key-env

NODE = {"--rpc-url", "--network", "--rpc-retries", "--rpc-backoff", "--deployments"}
WALLET = {"--wallet", "--key-env"}
STORE = {"--store"}
PARAMS = {"--threshold", "--min-stake", "--cap", "--corr-weight", "--mmc-weight", "--min-tickers", "--results-window"}

# every command, and exactly the options it takes (besides -h/--help)
COMMANDS = {
    "deployment": {"--deployments"},
    "wallet new": set(),
    "wallet import": {"--key-env"},
    "wallet list": set(),
    "wallet address": set(),
    "wallet balance": NODE | WALLET,
    "rounds": {"--index"} | NODE,
    "submit": {"--round", "--model"} | NODE | WALLET | STORE,
    "stake": {"--round", "--model", "--amount", "--decrease", "--from-balance"} | NODE | WALLET,
    "claim": {"--round", "--model", "--restake-into", "--all"} | NODE | WALLET | STORE,
    "status": {"--index"} | NODE | WALLET | STORE,
    "scores": {"--round", "--index"} | NODE | WALLET | STORE,
    "withdraw": {"--amount", "--all"} | NODE | WALLET,
    "refund": {"--round", "--model"} | NODE | WALLET,
    "models list": set(),
    "models name": set(),
    "oracle run": {"--round", "--targets", "--workdir", "--dry-run", "--confirmations"} | NODE | WALLET | STORE,
    "oracle watch": {"--targets", "--workdir", "--interval", "--confirmations", "--pay", "--to-balance",
                     "--batch-size"} | NODE | WALLET | STORE,
    "oracle verify": {"--round", "--targets"} | NODE | STORE,
    "pay": {"--round", "--to-balance", "--batch-size", "--workdir"} | NODE | WALLET | STORE,
    "store serve": {"--dir", "--host", "--port", "--workers"} | NODE,
    "index": {"--db", "--confirmations", "--follow", "--poll", "--page-blocks"} | NODE | STORE,
    "web": {"--index", "--host", "--port", "--follow", "--confirmations", "--poll", "--page-blocks", "--targets"} | NODE | STORE,
    "data synth": {"--out", "--eras", "--stocks", "--seed"},
    "data build": {"--raw", "--out", "--live-eras", "--validation-eras", "--seed"},
    "data signals": {"--out", "--tickers", "--rounds", "--seed"},
    "data download": {"--round", "--out"} | NODE | STORE,
    "diagnostics": {"--dataset", "--predictions", "--example", "--round", "--corr-weight", "--mmc-weight", "--cap",
                    "--plot"} | NODE,
    "demo": {"--out", "--participants", "--rounds", "--seed", "--network", "--rpc-url", "--serve", "--port"},
    "deploy": {"--members", "--threshold", "--dispute-window", "--operator", "--guardian", "--admin", "--treasury"}
              | NODE | WALLET,
    "fund create-tournament": {"--kind"} | PARAMS | NODE | WALLET,
    "fund set-params": {"--tournament"} | PARAMS | NODE | WALLET,
    "fund open-round": {"--tournament", "--dataset", "--dataset-hash", "--close-in", "--close-at", "--resolve-in",
                        "--resolve-at"} | NODE | WALLET | STORE,
    "fund publish-targets": {"--round", "--targets"} | NODE | WALLET | STORE,
    "fund rewards": {"--amount"} | NODE | WALLET,
    "fund pause": NODE | WALLET,
    "fund unpause": NODE | WALLET,
    "token balance": {"--address"} | NODE | WALLET,
    "token transfer": {"--to", "--amount"} | NODE | WALLET,
    "dev accounts": NODE,
    "dev fund": {"--eth", "--tokens"} | NODE,
    "dev advance": {"--to", "--round"} | NODE,
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No CROWDSTAKE_* from the caller's environment, no crowdstake.toml, a fresh home."""
    for name in [n for n in os.environ if n.startswith("CROWDSTAKE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CROWDSTAKE_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def no_node(monkeypatch):
    """Connecting to a node fails the test: the command line must be refused before that."""

    def connect(self):
        raise AssertionError("the command connected to a node")

    monkeypatch.setattr(config.NodeSettings, "contracts", connect)


@pytest.fixture
def fake_node(monkeypatch):
    """A node that answers nothing: enough for Participant() and for commands that stop early."""
    contracts = SimpleNamespace(w3=SimpleNamespace(eth=SimpleNamespace(chain_id=1337)), tournament=None, token=None)
    monkeypatch.setattr(config.NodeSettings, "contracts", lambda self: contracts)
    return contracts


def cli(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env, terminal_width=200)


def refused(result, code=1) -> str:
    """One line `crowdstake: ...` on stderr, the exit code, no stack trace; returns the line."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("crowdstake: "), result.stderr
    return result.stderr


def squeezed(text: str) -> str:
    # click wraps help text at hyphens too ("signals-" / "fnc"): a wrap is no change of text
    return re.sub(r"(\w-) (?=\w)", r"\1", " ".join(text.split()))


def _leaves(group: click.Group, path=()):
    for name, command in group.commands.items():
        if command.hidden:
            continue
        if isinstance(command, click.Group):
            yield from _leaves(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


def _all_commands(group: click.Group, path=("crowdstake",)):
    yield " ".join(path), group
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _all_commands(command, (*path, name))
        elif not command.hidden:
            yield " ".join((*path, name)), command


def _options_in_help(text: str) -> set[str]:
    """The options an --help output lists: the flags that start a line of its Options section."""
    section = text.split("\nOptions:\n", 1)[1].split("\n\n", 1)[0]
    return {flag for line in section.splitlines()
            for flag in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", re.split(r"\s{2,}", line.strip())[0])}


# ------------------------------------------------------------------ what each command takes


def test_every_command_is_covered():
    assert dict(_leaves(main)).keys() == COMMANDS.keys()


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_lists_only_the_commands_own_options(path):
    result = cli(*path.split(), "--help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: crowdstake {path} ")
    assert _options_in_help(result.output) == COMMANDS[path] | {"-h", "--help"}
    command = dict(_leaves(main))[path]
    assert {o for p in command.params if isinstance(p, click.Option) and not p.hidden for o in p.opts} == COMMANDS[path]


def test_options_that_belong_elsewhere_are_refused(no_node):
    assert "No such option '--rpc-url'" in refused(cli("wallet", "new", "x", "--rpc-url", "http://x"), 2)
    assert "No such option '--wallet'" in refused(cli("deployment", "--wallet", "w"), 2)
    assert "No such option '--store'" in refused(cli("rounds", "--store", "s"), 2)
    assert "No such option '--network'" in refused(cli("deployment", "--network", "n"), 2)
    assert "No such option '--store'" in refused(cli("stake", "--round", "1", "--model", "m", "--amount", "1",
                                                    "--store", "s"), 2)


@pytest.mark.parametrize("path, command", list(_all_commands(main)))
def test_every_command_and_option_is_described(path, command):
    assert command.help and command.help.strip(), f"{path} has no description"
    shown = cli(*path.split()[1:], "--help").output
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help and param.help.strip(), f"{path} {param.opts[0]} has no help text"
            assert squeezed(param.help) in squeezed(shown)
            default = param.to_info_dict()["default"]  # None when there is none
            if default is not None and not param.is_flag:
                assert re.search(rf"\[default:{re.escape(str(default))}[];]", "".join(shown.split())), \
                    f"{path} {param.opts[0]}: default not shown"
            elif default in (None, ()) and not param.is_flag and not param.required:  # what leaving it out does
                assert re.search(r"\bdefault\b", param.help), f"{path} {param.opts[0]}: no word on leaving it out"


def test_node_options_name_their_environment_variable_and_default():
    shown = squeezed(cli("rounds", "--help").output)
    assert "env CROWDSTAKE_RPC_URL; default http://127.0.0.1:8545" in shown
    assert "env CROWDSTAKE_RPC_RETRIES; default 6" in shown
    assert "env CROWDSTAKE_RPC_BACKOFF; default 0.5" in shown
    assert "env CROWDSTAKE_DEPLOYMENTS; default ./deployments" in shown
    assert "env CROWDSTAKE_WALLET" in squeezed(cli("status", "--help").output)
    assert "env CROWDSTAKE_STORE" in squeezed(cli("submit", "--help").output)


def test_the_defaults_in_help_are_the_libraries():
    node, job = config.NodeSettings(), config.OracleSettings()
    assert (_options.DEFAULT_RPC, _options.DEFAULT_RETRIES, _options.DEFAULT_BACKOFF) == \
        (node.rpc_url, node.rpc_retries, node.rpc_backoff)
    assert Path(_options.DEFAULT_DEPLOYMENTS) == node.deployments
    assert Path(_options.DEFAULT_WORKDIR) == job.workdir and _options.DEFAULT_INTERVAL == job.interval
    from crowdstake import index
    from crowdstake.cli import index as index_command

    from crowdstake.chain.contracts import LOG_PAGE

    assert (index_command.DEFAULT_CONFIRMATIONS, index_command.DEFAULT_POLL, index_command.DEFAULT_PAGE) == \
        (index.DEFAULT_CONFIRMATIONS, index.DEFAULT_POLL, LOG_PAGE)


def test_version():
    result = cli("--version")
    assert result.exit_code == 0 and result.output == f"crowdstake {crowdstake.__version__}\n"


def test_python_dash_m_runs_the_command_and_imports_nothing_heavy():
    run = subprocess.run([sys.executable, "-m", "crowdstake.cli", "--version"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout == f"crowdstake {crowdstake.__version__}\n", run.stderr
    probe = ("import sys, crowdstake.cli; "
             "print(sorted(m for m in ('web3', 'pandas', 'rich', 'eth_account', 'crowdstake.config') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout == "[]\n"


# ------------------------------------------------------------------ a bad command line: one line, exit 2


@pytest.mark.parametrize("args, words", [
    (["rounds", "--rpc-retries", "0"], "'--rpc-retries': '0' is not a whole number of at least 1"),
    (["rounds", "--rpc-retries", "2.5"], "'--rpc-retries': '2.5' is not a whole number of at least 1"),
    (["rounds", "--rpc-backoff", "-1"], "'--rpc-backoff': '-1' is not a number of seconds (0 or more)"),
    (["rounds", "--rpc-backoff", "nan"], "'--rpc-backoff': 'nan' is not a number of seconds (0 or more)"),
    (["oracle", "watch", "--targets", "t", "--interval", "soon"], "'--interval': 'soon' is not a number of seconds"),
    (["pay", "--round", "1", "--batch-size", "0"], "'--batch-size': '0' is not a whole number of at least 1"),
    (["store", "serve", "--dir", "d", "--workers", "0"], "'--workers': '0' is not a whole number of at least 1"),
    (["rounds", "--rpc-url", "http://127.0.0.1:1", "--network", "dev"], "--rpc-url and --network are mutually exclusive"),
    (["submit", "--model", "m", "f.csv"], "Missing option '--round'"),
    (["oracle", "run", "--targets", "t"], "Missing option '--round'"),
    (["claim"], "say which round: --round R, or --all"),
    (["data", "build", "--out", "d"], "Missing option '--raw'"),
    (["data", "build", "--raw", "r.csv", "--out", "d", "--live-eras", "0"], "'--live-eras': '0' is not a whole number of at least 1"),
    (["data", "download", "--out", "d"], "Missing option '--round'"),
    (["demo", "--network", "hardhat"], "'--network'"),
    (["settle", "--round", "9"], "`crowdstake settle` is now `crowdstake pay`"),
    (["oracle", "watch", "--targets", "t", "--settle"], "--settle is now --pay"),
])
def test_a_bad_command_line_is_one_usage_line(no_node, args, words):
    line = refused(cli(*args), 2)
    assert words in line
    if args[0] != "settle":
        assert f"(see `crowdstake {' '.join(a for a in args[:2] if not a.startswith('-'))}" in line


def test_no_command_shows_the_help():
    result = cli()
    assert result.exit_code == 2 and "Commands:" in result.output and "oracle" in result.output


# ------------------------------------------------------------------ library errors: one line, the flag to change


def test_a_node_that_does_not_answer_is_one_line_naming_the_flags(monkeypatch):
    def down(self):
        raise NodeUnavailable("cannot reach an Ethereum node at http://127.0.0.1:1 after 1 attempts: start one")

    monkeypatch.setattr(config.NodeSettings, "contracts", down)
    line = refused(cli("rounds"))
    assert line == ("crowdstake: cannot reach an Ethereum node at http://127.0.0.1:1 after 1 attempts: start one "
                    "(check --rpc-url / --network)\n")


def test_the_node_comes_from_the_flag_else_the_environment_else_crowdstake_toml(monkeypatch, tmp_path):
    flag, env, toml = free_port(), free_port(), free_port()
    (tmp_path / "crowdstake.toml").write_text(f'[node]\nrpc_url = "http://127.0.0.1:{toml}"\nrpc_retries = 1\n')
    monkeypatch.setenv("CROWDSTAKE_CONFIG", str(tmp_path / "crowdstake.toml"))
    line = refused(cli("rounds"))
    assert f"cannot reach an Ethereum node at http://127.0.0.1:{toml} after 1 attempts" in line
    assert line.endswith("(check --rpc-url / --network)\n")
    monkeypatch.setenv("CROWDSTAKE_RPC_URL", f"http://127.0.0.1:{env}")
    assert f"127.0.0.1:{env} after 1 attempts" in refused(cli("rounds"))
    assert f"127.0.0.1:{flag} after 1 attempts" in refused(cli("rounds", "--rpc-url", f"http://127.0.0.1:{flag}"))
    monkeypatch.setenv("CROWDSTAKE_RPC_RETRIES", "0")
    assert "CROWDSTAKE_RPC_RETRIES is '0'" in refused(cli("rounds"))


def test_a_flag_rpc_url_wins_over_a_network_in_crowdstake_toml(monkeypatch, tmp_path):
    (tmp_path / "crowdstake.toml").write_text('[node]\nnetwork = "mainnet"\n')
    monkeypatch.setenv("CROWDSTAKE_CONFIG", str(tmp_path / "crowdstake.toml"))
    assert _options.load({}).node.network == "mainnet"
    settings = _options.load({"node": {"rpc_url": "http://127.0.0.1:1"}})
    assert settings.node.network is None and settings.node.url() == "http://127.0.0.1:1"


def test_no_store_is_one_line_naming_the_flag(fake_node, tmp_path, monkeypatch):
    monkeypatch.setenv("K", KEY)
    preds = tmp_path / "p.csv"
    preds.write_text("id,prediction\na,0.5\n")
    line = refused(cli("submit", "--round", "1", "--model", "m", str(preds), "--key-env", "K"))
    assert line == ("crowdstake: no submission store given: uploading predictions needs one (a URL or a directory) "
                    "(pass --store URL or a directory, or set CROWDSTAKE_STORE)\n")
    for args in (["oracle", "run", "--round", "1", "--targets", "t", "--key-env", "K"],
                 ["oracle", "watch", "--targets", "t", "--key-env", "K"],
                 ["oracle", "verify", "--round", "1", "--targets", "t"]):
        assert refused(cli(*args)) == ("crowdstake: the oracle needs the submission store "
                                       "(pass --store URL or a directory, or set CROWDSTAKE_STORE)\n")
    assert refused(cli("pay", "--round", "1", "--key-env", "K")) == (
        "crowdstake: paying reads the score table from the store (pass --store URL or a directory, or set CROWDSTAKE_STORE)\n")


def test_no_wallet_is_one_line_naming_the_flags(fake_node):
    for args in (["status"], ["stake", "--round", "1", "--model", "m", "--amount", "1"], ["wallet", "balance"]):
        line = refused(cli(*args))
        assert line.startswith("crowdstake: no wallet chosen (pass --wallet NAME or --key-env VAR") and \
            "CROWDSTAKE_WALLET" in line, line


def test_the_oracle_library_asking_for_a_wallet_gets_the_flags(fake_node, monkeypatch):
    def run_round(*args, **kwargs):
        raise MissingSetting("voting needs the member's wallet or key", "wallet")

    monkeypatch.setattr("crowdstake.oracle.run_round", run_round)
    monkeypatch.setattr(_options, "open_store", lambda settings, contracts, needed_for=None: object())
    line = refused(cli("oracle", "run", "--round", "1", "--targets", "t", "--dry-run"))
    assert line.startswith("crowdstake: voting needs the member's wallet or key (pass --wallet NAME or --key-env VAR")


def test_every_missing_setting_the_package_raises_has_its_flags():
    raised = {}
    for source in PACKAGE.rglob("*.py"):
        text = source.read_text()
        found = re.findall(r'MissingSetting\((?:[^()]|\([^()]*\))*?,\s*"(\w+)"\s*\)', text, re.S)
        assert len(found) == text.count("raise MissingSetting("), f"{source}: a MissingSetting this test cannot read"
        raised.update({setting: source for setting in found})
    assert {"store", "wallet"} <= raised.keys()
    assert raised.keys() <= FLAG_HINTS.keys()


def test_only_the_http_clients_store_unavailable_says_check_store():
    from crowdstake.store import HttpStore

    with pytest.raises(StoreUnavailable) as raised:
        HttpStore(f"http://127.0.0.1:{free_port()}").info()
    assert explain(raised.value).startswith("cannot reach the submission store at http://127.0.0.1:")
    assert explain(raised.value).endswith("(check --store)")
    try:
        raise StoreUnavailable("the store cannot read the chain's time (ConnectionError): try again later")
    except StoreUnavailable as e:  # raised elsewhere (a local store): the node, not --store
        assert explain(e) == "the store cannot read the chain's time (ConnectionError): try again later"


def test_other_errors_and_interrupts(monkeypatch):
    def refuse(self):
        raise CrowdstakeError("no crowdstake deployment for chain 5")

    monkeypatch.setattr(config.NodeSettings, "contracts", refuse)
    assert refused(cli("rounds")) == "crowdstake: no crowdstake deployment for chain 5\n"

    def interrupt(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(config.NodeSettings, "contracts", interrupt)
    assert refused(cli("rounds"), 130) == "crowdstake: interrupted\n"


# ------------------------------------------------------------------ what the commands print


class FakeParticipant:
    account = SimpleNamespace(address="0xAbC")

    def __init__(self):
        from crowdstake.models import ModelBook

        self.claimed = []
        self.models = ModelBook(None)
        for name in ("m1", "m2"):
            self.models.remember(name)

    def balance(self):
        from crowdstake.participant import Balance

        return Balance("0xAbC", Decimal("1234.5"), Decimal("9.998123456789012345"), Decimal("7"))

    def stake(self, round_id, model, amount, from_balance=False):
        from crowdstake.participant import StakeChange

        return StakeChange(round_id, model, Decimal("40"), "0xt1")

    def decrease(self, round_id, model, amount):
        from crowdstake.participant import StakeChange

        return StakeChange(round_id, model, Decimal("25"), "0xt2")

    def rounds(self):
        return pd.DataFrame({"round": [1, 2, 3], "state": ["finalized", "finalized", "open"]})

    def status(self):
        return pd.DataFrame({"round": [2, 3], "model": ["m1", "m2"], "state": ["claimable", "open"]})

    def claim(self, round_id, model=None, restake_into=None):
        from crowdstake.participant import Claim

        self.claimed.append((round_id, model, restake_into))
        return [Claim(round_id, "m1", Decimal("-1.5"), restake_into, "0xt3", "", Decimal("98.5"))]


@pytest.fixture
def participant(monkeypatch):
    fake = FakeParticipant()
    monkeypatch.setattr(_options, "participant", lambda flags, with_store=False: fake)
    return fake


def test_participant_lines(participant):
    assert cli("wallet", "balance", "alice").output == \
        "0xAbC: 1,234.5000 tokens, 9.9981 ETH; 7.0000 tokens of internal balance in the Tournament\n"
    assert cli("stake", "--round", "4", "--model", "m1", "--amount", "40").output == \
        "staked 40.0000 on model m1 in round 4: position now 40.0000, 1 transaction (tx 0xt1)\n"
    assert cli("stake", "--round", "4", "--model", "m1", "--amount", "40", "--from-balance").output == \
        "staked 40.0000 from the internal balance on model m1 in round 4: position now 40.0000, 1 transaction " \
        "(tx 0xt1)\n"
    assert cli("stake", "--round", "4", "--model", "m1", "--amount", ".5").output.startswith(
        "staked 0.5000 on model m1")  # the amount the chain took, not the text typed
    assert cli("stake", "--round", "4", "--model", "m1", "--amount", "15", "--decrease").output == \
        "withdrew 15.0000 on model m1 in round 4: position now 25.0000, 1 transaction (tx 0xt2)\n"
    assert cli("claim", "--all").output == \
        "claimed round 2 model m1: burned 1.5000, 98.5000 paid to the wallet (tx 0xt3)\n"
    assert participant.claimed == [(2, None, None)]  # finalized and claimable: round 2 only
    assert cli("claim", "--all", "--model", "m1").output.startswith("claimed round 2 model m1: ")
    assert participant.claimed[-1] == (2, "m1", None)  # --model is honoured with --all
    assert "nothing to claim: no finalized round holds an unclaimed position of this wallet for model m2" in \
        refused(cli("claim", "--all", "--model", "m2"))
    assert participant.claimed == [(2, None, None), (2, "m1", None)]
    assert cli("claim", "--round", "1", "--model", "m", "--restake-into", "3").output == \
        "claimed round 1 model m1: burned 1.5000, 98.5000 restaked into round 3 (tx 0xt3)\n"
    assert participant.claimed[-1] == (1, "m", 3)


def test_token_and_eth_amounts_have_one_format(capsys):
    from crowdstake._units import format_amount
    from crowdstake.cli import _render

    assert [format_amount(v) for v in (Decimal("1234.5"), Decimal("9.998123456789012345"), 12345678, -0.00004,
                                       Decimal("-0.02"), None, float("nan"))] == \
        ["1,234.5000", "9.9981", "12,345,678.0000", "0.0000", "-0.0200", "", ""]
    _render.positions(pd.DataFrame({"round": [2], "model": ["m1"], "stake": [100.0], "state": ["claimed"],
                                    "corr": [0.01], "mmc": [0.0], "score": [-0.015], "payout": [-1.5],
                                    "provisional": [False]}), "positions")
    table = capsys.readouterr().out
    assert " 100.0000 " in table and " -1.5000" in table  # the stake and payout as the claim's line shows them


def test_models_name_shows_the_id_as_the_chain_has_it(tmp_path):
    from crowdstake.results.merkle import model_id

    env = {"CROWDSTAKE_HOME": str(tmp_path / "home")}
    digits = model_id("m1").hex()
    assert cli("models", "name", digits, "m1", env=env).output == f"model 0x{digits} is m1\n"  # typed without 0x
    assert cli("models", "list", env=env).output == f"m1\t0x{digits}\n"


def test_claim_all_with_nothing_claimable(participant, monkeypatch):
    monkeypatch.setattr(participant, "status", lambda: pd.DataFrame({"round": [3], "state": ["open"]}))
    assert "nothing to claim" in refused(cli("claim", "--all"))


def test_wallet_balance_refuses_two_names(participant):
    assert "two wallets named" in refused(cli("wallet", "balance", "alice", "--wallet", "bob"), 2)


def test_oracle_and_keeper_summaries(capsys):
    from crowdstake.cli import _render
    from crowdstake.oracle import PayoutSummary, RoundSummary

    _render.oracle_summary(RoundSummary(9, 4, "0xroot", "0xtable", Decimal("1234.5"), Decimal("0.000001"),
                                        {"0xs:0xm": "no file"}, state="finalized", gas=123456))
    _render.oracle_summary(RoundSummary(9, 4, "0xroot", "0xtable", Decimal("1"), Decimal("0"), {},
                                        would_vote=(b"\x01" * 32, b"\x02" * 32, 10**18, 4)))
    _render.payout(PayoutSummary(9, 5, 1, 4, 2, 234567, 3, False, Decimal("10.5"), Decimal("0"), Decimal("2.25")))
    _render.oracle_summary(RoundSummary(9, 1, "0xroot", "0xtable", Decimal("1"), Decimal("0"), {}, state="accepted",
                                        gas=1))
    _render.payout(PayoutSummary(9, 1, 0, 1, 1, 1000, 3, False, Decimal("1"), Decimal("0"), Decimal("0")))
    assert capsys.readouterr().out.splitlines() == [
        "round 9: 4 positions scored, root 0xroot",
        "  reward 1,234.5000 (declared), burn 0.0000; score table 0xtable",
        "  floor score for 0xs:0xm: no file",
        "  state: finalized; gas spent by this operator: 123,456",
        "round 9: 4 positions scored, root 0xroot",
        "  reward 1.0000 (declared), burn 0.0000; score table 0xtable",
        f"  dry run, nothing sent: would publish table 0xtable and send vote(round 9, root 0x{'01' * 32}, "
        f"table 0x{'02' * 32}, totalReward 1000000000000000000 wei = 1.0000 tokens, leafCount 4)",
        "round 9: 4 positions settled in 2 transactions (1 was already), 234,567 gas; paid 10.5000, "
        "credited 0.0000, burned 2.2500",
        "round 9: 1 position scored, root 0xroot",
        "  reward 1.0000 (declared), burn 0.0000; score table 0xtable",
        "  state: accepted; gas spent by this operator: 1",
        "round 9: 1 position settled in 1 transaction (0 were already), 1,000 gas; paid 1.0000, credited 0.0000, "
        "burned 0.0000",
    ]


def test_verify_prints_the_differences_and_fails(fake_node, monkeypatch):
    from crowdstake.oracle.run import Difference, Verification

    report = Verification(9, "0xon", "0xmine", False, [Difference("0xs", "0xm", 5, None)],
                          ["totalReward (wei): declared 1, recomputed 2"])
    monkeypatch.setattr("crowdstake.oracle.verify_round", lambda *args: report)
    monkeypatch.setattr(_options, "open_store", lambda settings, contracts, needed_for=None: object())
    result = cli("oracle", "verify", "--round", "9", "--targets", "t", "--store", "s")
    assert result.stdout == "round 9: the recomputed root 0xmine DOES NOT match the on-chain 0xon\n" \
                            "  0xs 0xm: recomputed 5, published None\n" \
                            "  totalReward (wei): declared 1, recomputed 2\n"
    assert result.exit_code == 1 and result.stderr == ("crowdstake: round 9 does not verify: 1 leaf differs; "
                                                       "totalReward (wei): declared 1, recomputed 2\n")


def test_oracle_run_passes_its_settings(fake_node, monkeypatch, tmp_path):
    seen = {}

    def run_round(contracts, account, store, round_id, settings, log, steps):
        from crowdstake.oracle import RoundSummary

        seen.update(contracts=contracts, account=account, round=round_id, settings=settings)
        return RoundSummary(round_id, 0, "0x", "0x", Decimal(0), Decimal(0), {}, would_vote=None)

    monkeypatch.setattr("crowdstake.oracle.run_round", run_round)
    monkeypatch.setattr(_options, "open_store", lambda settings, contracts, needed_for=None: object())
    result = cli("oracle", "run", "--round", "9", "--targets", str(tmp_path), "--dry-run", "--confirmations", "2")
    assert result.exit_code == 0, result.output
    assert seen["account"] is None and seen["round"] == 9 and seen["contracts"] is fake_node  # a dry run signs nothing
    assert seen["settings"] == config.OracleSettings(targets=tmp_path, workdir=Path("oracle-work"), dry_run=True,
                                                     confirmations=2)


def test_wallet_new_writes_under_crowdstake_home(tmp_path, no_node):
    home = tmp_path / "somewhere"
    result = cli("wallet", "new", "x", env={"CROWDSTAKE_HOME": str(home), "CROWDSTAKE_PASSWORD": "pw"})
    assert result.exit_code == 0, result.output
    address = result.output.removeprefix("created wallet x: ").strip()
    assert (home / "wallets" / "x.json").exists()
    assert cli("wallet", "list", env={"CROWDSTAKE_HOME": str(home)}).output == f"x\t{address}\n"
    assert "exists already" in refused(cli("wallet", "new", "x", env={"CROWDSTAKE_HOME": str(home),
                                                                      "CROWDSTAKE_PASSWORD": "pw"}))
