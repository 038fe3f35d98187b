"""What the deployer, the fund and a developer type, without a chain: durations, percentages,
weights, times, addresses and hashes (crowdstake._human), a tournament's parameters and their
bounds (crowdstake.fund.params), the committee's rules and the role wiring (crowdstake.chain.deploy),
which nodes are dev chains (crowdstake.chain.devchain); and the commands refusing bad input in
one line, with no stack trace, before they read the chain."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from crowdstake import config
from crowdstake._human import (format_duration, format_percent, format_weight, parse_address, parse_duration,
                               parse_hash, parse_percent, parse_time, parse_weight, relative, utc, when)
from crowdstake.chain.deploy import (DEV_DISPUTE_WINDOW, LIVE_DISPUTE_WINDOW, Roles, choose_roles, dev_roles,
                                     parse_members, plan_roles, role_wiring)
from crowdstake.chain.devchain import dev_chain_kind
from crowdstake.cli import main
from crowdstake.cli.fund import KINDS, _defaults
from crowdstake.fund.params import KINDS as params_kinds
from crowdstake.errors import FundError, InvalidInputError
from crowdstake.fund.params import DEFAULTS, Params, build_params, changed_params

A = [f"0x{i:040x}" for i in range(1, 11)]  # ten distinct addresses, as a node's accounts
CHECKED = [parse_address(a) for a in A]
KEY = "0x" + "11" * 32
HASH = "0x" + "ab" * 32


# ------------------------------------------------------------------ durations


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("30m", 1800), ("1h", 3600), ("1h30m", 5400), ("20d", 20 * 86400), ("2w", 14 * 86400),
    ("1d12h", 129600), ("3600", 3600), (3600, 3600), ("1w2d3h4m5s", 7 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("seconds, shown", [(5400, "1h30m"), (604800, "7d"), (3600, "1h"), (600, "10m"), (61, "1m1s")])
def test_durations_are_shown_as_they_are_typed(seconds, shown):
    assert format_duration(seconds) == shown
    assert parse_duration(shown) == seconds


@pytest.mark.parametrize("bad, message", [
    ("1x", "is not a duration: use whole numbers with a unit"), ("1.5h", "is not a duration"), ("-1h", "is not a duration"),
    ("h", "is not a duration"), ("", "is not a duration"), ("1 h", "is not a duration"), ("١h", "is not a duration"),
    ("0", "is zero"), ("0h", "is zero"), ("1m1h", "puts a smaller one first"), ("1h1h", "repeats a unit"),
    (True, "is not text or a whole number"), (1.5, "is not text or a whole number"),
])
def test_bad_durations_are_one_line(bad, message):
    with pytest.raises(InvalidInputError, match=message) as caught:
        parse_duration(bad)
    assert "\n" not in str(caught.value)


# ------------------------------------------------------------------ percentages and weights


@pytest.mark.parametrize("text, wad", [("5%", 5 * 10**16), ("2.5%", 25 * 10**15), ("100%", 10**18), (".5%", 5 * 10**15),
                                       ("0.0000000000000001%", 1)])
def test_percentages_are_exact_wad_fractions(text, wad):
    assert parse_percent(text) == wad


@pytest.mark.parametrize("bad, message", [
    ("5", "needs a % sign"), ("0.05", "needs a % sign"), ("5 %", "not a plain decimal"), ("-5%", "not a plain decimal"),
    ("1e1%", "not a plain decimal"), ("%", "not a plain decimal"), ("0.00000000000000001%", "more decimals"),
])
def test_bad_percentages_are_one_line(bad, message):
    with pytest.raises(InvalidInputError, match=message):
        parse_percent(bad)


def test_percentages_and_weights_are_shown_as_typed():
    assert format_percent(5 * 10**16) == "5%" and format_percent(25 * 10**15) == "2.5%"
    assert parse_weight("0.5") == 5000 and parse_weight("2") == 20000 and parse_weight("0") == 0
    assert parse_weight("6.5535") == 65535
    assert format_weight(5000) == "0.5" and format_weight(20000) == "2"
    for bad, message in (("6.5536", "over the largest"), ("0.00001", "more than 4 decimals"), ("-1", "plain decimal"),
                         ("50%", "plain decimal")):
        with pytest.raises(InvalidInputError, match=message):
            parse_weight(bad)


# ------------------------------------------------------------------ times, addresses, hashes


def test_times_are_utc():
    assert parse_time("2025-06-01T18:00Z") == parse_time("2025-06-01 18:00") == parse_time("2025-06-01T20:00+02:00")
    assert utc(parse_time("2025-06-01T18:00Z")) == "2025-06-01 18:00:00 UTC"
    assert parse_time("1748800800") == 1748800800 and parse_time("2025-06-01") == 1748736000
    for bad in ("yesterday", "", "Z", "2025-13-01", "06/01/2025", "+1748800800"):
        with pytest.raises(InvalidInputError, match="is not a date and time: use ISO 8601 in UTC"):
            parse_time(bad)


@pytest.mark.parametrize("target, now, shown", [
    (3540, 0, "in 59 min"), (3600, 0, "in 60 min"), (5400, 0, "in 1 h"), (20 * 86400, 0, "in 20 days"),
    (0, 3 * 3600, "3 h ago"), (0, 59, "59 s ago"), (7, 7, "now"), (47 * 3600, 0, "in 47 h"),
])
def test_how_far_off_a_time_is(target, now, shown):
    assert relative(target, now) == shown


def test_when_is_a_date_and_how_far():
    assert when(3540, 0) == "1970-01-01 00:59:00 UTC (in 59 min)"


def test_addresses():
    assert parse_address("0x70997970c51812dc3a010c7d01b50e0d17dc79c8") == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert parse_address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8") == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    for bad, message in (("0x12", "is not an address"), ("70997970c51812dc3a010c7d01b50e0d17dc79c8", "is not an address"),
                         ("0x70997970C51812dc3A010C7d01b50e0d17dc79c8", "wrong checksum"),
                         ("0x" + "0" * 40, "zero address"), ("alice", "is not an address")):
        with pytest.raises(InvalidInputError, match=message):
            parse_address(bad)


def test_hashes():
    assert parse_hash(HASH) == b"\xab" * 32
    for bad, message in (("0x12", "is not a 32-byte hash"), ("ab" * 32, "is not a 32-byte hash"),
                         ("0x" + "00" * 32, "all zeros"), ("0x" + "zz" * 32, "is not a 32-byte hash")):
        with pytest.raises(InvalidInputError, match=message):
            parse_hash(bad)


# ------------------------------------------------------------------ a tournament's parameters


def test_parameters_in_the_contracts_units():
    params = build_params(threshold="2000", min_stake="1.5")
    assert params == Params(2000 * 10**18, 15 * 10**17, 5 * 10**16, 7 * 86400, 5000, 20000)
    assert params.as_tuple() == (2000 * 10**18, 15 * 10**17, 5 * 10**16, 7 * 86400, 5000, 20000, 0, 0)
    assert params.describe() == ("threshold 2,000 tokens, min stake 1.5, cap 5%, score 0.5 x CORR + 2 x MMC, "
                                 "results window 7d")
    assert changed_params(params, cap="10%").cap == 10**17
    assert changed_params(params, cap="10%").threshold == params.threshold


def test_a_signals_tournament_has_its_own_scores_and_a_ticker_floor():
    params = build_params(threshold="2000", min_stake="1", kind="signals")
    assert (params.kind, params.min_tickers, params.corr_weight_bps, params.mmc_weight_bps) == (1, 100, 3000, 8000)
    assert params.as_tuple()[6:] == (1, 100)
    assert params.describe() == ("signals, at least 100 tickers, threshold 2,000 tokens, min stake 1, cap 5%, "
                                 "score 0.3 x alpha + 0.8 x MPC, results window 7d")
    fnc = build_params(threshold="2000", min_stake="1", kind="signals-fnc", corr_weight="1", min_tickers="250")
    assert (fnc.kind, fnc.min_tickers, fnc.corr_weight_bps, fnc.score_names) == (2, 250, 10_000, ("FNC", "MPC"))
    assert changed_params(fnc, min_tickers=300).min_tickers == 300
    assert not build_params(threshold="1", min_stake="1").signals


@pytest.mark.parametrize("given, message", [
    ({"kind": "crypto"}, "unknown tournament kind 'crypto': one of classic, signals, signals-fnc"),
    ({"kind": "signals", "min_tickers": 0}, "a Signals tournament needs a ticker floor of 1"),
    ({"kind": "signals", "min_tickers": "many"}, "min tickers: 'many' is not a whole number"),
    ({"min_tickers": 5}, "a classic tournament has no ticker floor"),
    ({"kind": "signals", "corr_weight": "0", "mmc_weight": "0"}, "give alpha or MPC a weight above 0"),
    ({"threshold": "0"}, "threshold: amount '0' must be positive"),
    ({"min_stake": "1e3"}, "min stake: amount '1e3' is not a plain number"),
    ({"cap": "0%"}, "cap 0% must be above 0% and at most 100%"),
    ({"cap": "100.1%"}, "cap 100.1% must be above 0% and at most 100%"),
    ({"cap": "5"}, "cap '5' needs a % sign"),
    ({"results_window": "59m"}, "results window 59m is outside the contract's bounds, 1h to 90d"),
    ({"results_window": "90d1s"}, "results window 90d1s is outside the contract's bounds"),
    ({"corr_weight": "0", "mmc_weight": "0"}, "both score weights are 0"),
    ({"threshold": str(2**128)}, "threshold .* must be above 0 and at most"),
])
def test_bad_parameters_are_one_line(given, message):
    with pytest.raises(FundError, match=message) as caught:
        build_params(**{"threshold": "1000", "min_stake": "1", **given})
    assert "\n" not in str(caught.value)


def test_the_parameters_bounds_are_at_their_edges():
    assert build_params(threshold="1", min_stake="1", results_window="1h").results_window == 3600
    assert build_params(threshold="1", min_stake="1", results_window="90d").results_window == 90 * 86400
    assert build_params(threshold="1", min_stake="1", cap="100%").cap == 10**18


def test_changing_nothing_is_refused():
    with pytest.raises(FundError, match="no parameter to change"):
        changed_params(build_params(threshold="1", min_stake="1"))


def test_the_command_line_defaults_are_the_librarys():
    assert _defaults() == {k: DEFAULTS[k] for k in ("cap", "results_window")}
    assert KINDS == params_kinds


# ------------------------------------------------------------------ the committee and the roles


def test_dev_roles_are_the_brownie_scripts():
    roles = dev_roles(A)
    assert (roles.admin, roles.treasury, roles.operator, roles.guardian) == (CHECKED[0], CHECKED[0], CHECKED[1], CHECKED[2])
    assert roles.members == tuple(CHECKED[3:6]) and roles.threshold == 2 and roles.dispute_window == DEV_DISPUTE_WINDOW
    with pytest.raises(FundError, match="the node has 5 unlocked accounts, and the roles need 6"):
        dev_roles(A[:5])


def test_named_holders_and_the_deployer_for_the_rest():
    roles = plan_roles(A[9], members=f"{A[3]}, {A[4]} ,{A[5]}", operator=A[1])
    assert roles.operator == CHECKED[1]
    assert roles.admin == roles.guardian == roles.treasury == CHECKED[9]
    assert roles.threshold == 2 and roles.dispute_window == LIVE_DISPUTE_WINDOW
    assert plan_roles(A[9], members=A[3:7]).threshold == 3  # a bare majority of 4


def test_choose_roles_takes_the_dev_accounts_only_when_no_holder_is_named():
    assert choose_roles(A[0], A) == dev_roles(A)
    assert choose_roles(A[0], A, threshold=3, dispute_window="30m") == dev_roles(A, 3, 1800)
    named = choose_roles(A[9], A, members=A[6])
    assert named.members == (CHECKED[6],) and named.operator == CHECKED[9]
    with pytest.raises(FundError, match="the committee needs members: name their addresses") as refused:
        choose_roles(A[0], None)  # not a dev chain: there are no node accounts to use
    assert refused.value.setting == "members"  # the CLI adds --members
    with pytest.raises(FundError, match="dispute window '1x' is not a duration"):
        choose_roles(A[0], A, dispute_window="1x")


@pytest.mark.parametrize("given, message", [
    ({"members": f"{A[3]},{A[3]}"}, "names an address twice"),
    ({"members": ""}, "the list of members is empty"),
    ({"members": f"{A[3]},0x12"}, "member '0x12' is not an address"),
    ({"members": A[3], "operator": "0x" + "0" * 40}, "operator is the zero address"),
    ({"members": ",".join(A[3:7]), "threshold": 2}, "threshold 2 does not fit 4 members: .* \\(3 to 4\\)"),
    ({"members": ",".join(A[3:6]), "threshold": 4}, "threshold 4 does not fit 3 members"),
    ({"members": A[3], "dispute_window": 599}, "dispute window 9m59s is outside the committee's bounds, 10m to 7d"),
    ({"members": A[3], "dispute_window": 7 * 86400 + 1}, "dispute window 7d1s is outside"),
])
def test_the_committees_rules_before_any_transaction(given, message):
    with pytest.raises(FundError, match=message):
        plan_roles(A[9], **given)


def test_the_committees_bounds_at_their_edges():
    assert plan_roles(A[9], members=A[3], dispute_window=600).dispute_window == 600
    assert plan_roles(A[9], members=A[3], dispute_window=7 * 86400).dispute_window == 7 * 86400
    assert parse_members(A[3]) == (CHECKED[3],)


def test_role_wiring_hands_the_admin_role_over_only_to_another_admin():
    grants = [("Tournament", "grantRole", "OPERATOR_ROLE", "op"), ("Tournament", "grantRole", "GUARDIAN_ROLE", "g"),
              ("Tournament", "grantRole", "COMMITTEE_ROLE", "c"), ("OracleCommittee", "grantRole", "GUARDIAN_ROLE", "g")]
    assert list(role_wiring(operator="op", guardian="g", committee="c", admin="0xAb", deployer="0xaB")) == grants
    handover = role_wiring(operator="op", guardian="g", committee="c", admin="adm", deployer="me")
    assert list(handover[4:]) == [("Tournament", "grantRole", "DEFAULT_ADMIN_ROLE", "adm"),
                                  ("Tournament", "renounceRole", "DEFAULT_ADMIN_ROLE", "me"),
                                  ("OracleCommittee", "grantRole", "DEFAULT_ADMIN_ROLE", "adm"),
                                  ("OracleCommittee", "renounceRole", "DEFAULT_ADMIN_ROLE", "me")]


def test_roles_check_is_the_constructors():
    Roles(CHECKED[0], CHECKED[1], CHECKED[2], CHECKED[0], tuple(CHECKED[3:6]), 3, 600).check()
    with pytest.raises(FundError, match="the committee needs members"):
        Roles(CHECKED[0], CHECKED[1], CHECKED[2], CHECKED[0], (), 1, 600).check()


# ------------------------------------------------------------------ which nodes are dev chains


@pytest.mark.parametrize("version, chain_id, kind", [
    ("anvil/v1.7.1", 31337, "anvil"), ("Ganache/v7.9.2/EthereumJS TestRPC/v7.9.2/ethereum-js", 1337, "ganache"),
    ("anvil/v1.7.1", 1, None),  # a fork of mainnet
    ("anvil/v1.7.1", 5, None), ("Ganache/v7.9.2", 31337, None),
    ("Geth/v1.14.0-stable/linux-amd64/go1.22", 31337, None), ("HardhatNetwork/2.22.0/@ethereumjs/vm/7.0.0", 31337, None),
    ("Geth/v1.14.0", 1, None), ("", 1337, None),
])
def test_a_dev_chain_is_anvil_or_ganache_with_its_own_chain_id(version, chain_id, kind):
    assert dev_chain_kind(version, chain_id) == kind


# ------------------------------------------------------------------ the commands: one line, before the chain


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.startswith("CROWDSTAKE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CROWDSTAKE_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("K", KEY)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def no_node(monkeypatch):
    """Any connection to a node fails the test: these are refused before that."""

    def refuse(*args, **kwargs):
        raise AssertionError("the command connected to a node")

    monkeypatch.setattr(config.NodeSettings, "contracts", refuse)
    monkeypatch.setattr("crowdstake.chain.connect", refuse)


def refused(args, code) -> str:
    result = CliRunner().invoke(main, args, terminal_width=200)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("crowdstake: "), result.stderr
    return result.stderr


OPEN = ["fund", "open-round", "--tournament", "1", "--dataset-hash", HASH, "--key-env", "K"]
CREATE = ["fund", "create-tournament", "--threshold", "2000", "--min-stake", "1", "--key-env", "K"]


@pytest.mark.parametrize("args, words", [
    (OPEN + ["--close-in", "1x", "--resolve-in", "20d"], "Invalid value for '--close-in': duration '1x' is not a duration"),
    (OPEN + ["--close-in", "0", "--resolve-in", "20d"], "'--close-in': duration '0' is zero"),
    (OPEN + ["--close-in", "1h", "--resolve-at", "tomorrow"], "'--resolve-at': time 'tomorrow' is not a date and time"),
    (OPEN + ["--close-in", "1h"], "give the resolve time once: --resolve-in or --resolve-at"),
    (OPEN + ["--close-in", "1h", "--close-at", "2030-01-01", "--resolve-in", "2d"], "--close-in and --close-at both give"),
    (["fund", "open-round", "--tournament", "1", "--dataset-hash", "0x12", "--close-in", "1h", "--resolve-in", "2d"],
     "'--dataset-hash': hash '0x12' is not a 32-byte hash"),
    (["fund", "open-round", "--tournament", "0", "--dataset-hash", HASH, "--close-in", "1h", "--resolve-in", "2d"],
     "'--tournament': '0' is not a whole number of at least 1"),
    (CREATE + ["--cap", "5"], "'--cap': percentage '5' needs a % sign"),
    (CREATE + ["--cap", "five%"], "'--cap': percentage 'five' is not a plain decimal number"),
    (CREATE + ["--corr-weight", "7"], "'--corr-weight': weight '7' is over the largest the contract keeps, 6.5535"),
    (CREATE + ["--results-window", "1 month"], "'--results-window': duration '1 month' is not a duration"),
    (["fund", "create-tournament", "--min-stake", "1"], "Missing option '--threshold'"),
    (["fund", "set-params", "--tournament", "1", "--key-env", "K"], "no parameter to change: give at least one of"),
    (["fund", "rewards", "--amount", "1e3"], "'--amount': amount '1e3' is not a plain number of tokens"),
    (["fund", "rewards", "--amount", "-5"], "'--amount': amount '-5' is not a plain number of tokens"),
    (["token", "transfer", "--to", "0x12", "--amount", "5"], "'--to': address '0x12' is not an address"),
    (["token", "transfer", "--to", "0x70997970C51812dc3A010C7d01b50e0d17dc79c8", "--amount", "5"], "wrong checksum"),
    (["token", "balance", "--address", "bob"], "'--address': address 'bob' is not an address"),
    (["deploy", "--dispute-window", "1 day"], "'--dispute-window': duration '1 day' is not a duration"),
    (["deploy", "--operator", "0x" + "0" * 40], "'--operator': address is the zero address"),
    (["deploy", "--threshold", "0"], "'--threshold': '0' is not a whole number of at least 1"),
    (["dev", "advance"], "say how far: SECONDS, or --to close|resolve|dispute-end --round R"),
    (["dev", "advance", "1h", "--to", "close", "--round", "1"], "say how far"),
    (["dev", "advance", "--to", "close"], "--to close needs the round: --round R"),
    (["dev", "advance", "--to", "later", "--round", "1"], "'--to': 'later' is not one of 'close', 'resolve', 'dispute-end'"),
    (["dev", "advance", "--round", "1", "60"], "--round goes with --to"),
    (["dev", "advance", "1.5h"], "SECONDS '1.5h' is not a duration"),
    (["dev", "advance", "-60"], "No such option '-6'"),
])
def test_bad_input_is_one_usage_line_before_the_chain(no_node, args, words):
    assert words in refused(args, 2)


def test_bounds_the_library_checks_are_one_line_before_the_chain(monkeypatch):
    """The node answers nothing (its contracts are None): a read would be a stack trace, not one line."""
    from types import SimpleNamespace

    contracts = SimpleNamespace(w3=SimpleNamespace(eth=SimpleNamespace(chain_id=1)), tournament=None, token=None)
    monkeypatch.setattr(config.NodeSettings, "contracts", lambda self: contracts)
    assert refused(CREATE + ["--results-window", "91d"], 1) == \
        "crowdstake: results window 91d is outside the contract's bounds, 1h to 90d\n"
    assert refused(CREATE + ["--cap", "150%"], 1) == "crowdstake: cap 150% must be above 0% and at most 100% of a stake\n"
    assert "both score weights are 0" in refused(CREATE + ["--corr-weight", "0", "--mmc-weight", "0"], 1)


def test_a_balance_needs_an_address_or_a_wallet(monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr(config.NodeSettings, "contracts", lambda self: SimpleNamespace())
    line = refused(["token", "balance"], 1)
    assert line.startswith("crowdstake: no address and no wallet chosen: pass --address ADDR, or choose a wallet (pass "
                           "--wallet NAME or --key-env VAR")
