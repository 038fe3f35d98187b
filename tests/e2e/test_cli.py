"""The participant's whole path through the `crowdstake` command, in subprocesses, against
anvil and a store service started with `crowdstake store serve`: wallet -> submit -> stake ->
(results posted by the test, as the oracle will) -> claim with restake -> status; a payout paid
to the internal balance, staked from it and withdrawn; a refund after a round's deadline; an
accepted table shown provisional; a model named on another machine; diagnostics at a round's
weights and cap. Then each user mistake: one clear line, exit 1 (2 for a command line that does
not parse), no stack trace, nothing changed. And the data: the fund's `data synth` and `data
build`, a participant's `data download` checked against the chain."""

import copy
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
import requests
from brownie import chain, web3
from eth_account import Account
from support.rounds import MIN_STAKE, RESULTS_WINDOW, THRESHOLD, model
from web3 import Web3

from crowdstake._human import utc
from crowdstake.chain import save_deployment
from crowdstake.diagnostics import diagnostics
from crowdstake.fund.dataset import build_command, feature_columns
from crowdstake.fund.market import synth_market, write_raw
from crowdstake.results.merkle import Leaf, ResultsTree
from crowdstake.results.payout import payout_delta, payout_factor
from crowdstake.results.table import Row, table_hash, write_table
from crowdstake._server import free_port
from crowdstake.store import HttpStore, register_live_ids
from crowdstake.store.replay import ReplayMemory
from scripts.deploy import deployment_record

E18 = 10**18
PASSWORD = "correct horse battery staple"
IDS = [f"id{i:03d}" for i in range(30)]
PREDICTIONS = "id,prediction\n" + "".join(f"{i},{(k % 10) / 9:.6f}\n" for k, i in enumerate(IDS))


@pytest.fixture(scope="module")
def env(protocol, tmp_path_factory, admin, operator, guardian, members):
    """The environment of every subprocess: its own home, deployments, node and store."""
    home = tmp_path_factory.mktemp("cli")
    token, tournament, committee = protocol
    record = deployment_record(token, tournament, committee, block=0, admin=admin, operator=operator,
                               guardian=guardian, members=members, threshold=2)
    save_deployment(chain.id, record, home / "deployments")
    return {
        "PATH": os.environ["PATH"], "HOME": str(home), "CROWDSTAKE_HOME": str(home / "crowdstake"),
        "CROWDSTAKE_DEPLOYMENTS": str(home / "deployments"), "CROWDSTAKE_RPC_URL": web3.provider.endpoint_uri,
        "CROWDSTAKE_PASSWORD": PASSWORD, "CROWDSTAKE_WALLET": "alice",
    }


def _serve(env, directory):
    """`crowdstake store serve` over `directory`, in a process of its own, until the generator ends."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "crowdstake.cli", "store", "serve", "--dir", str(directory), "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(url + "/info", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="module")
def store_url(env):
    yield from _serve(env, Path(env["HOME"]) / "store")


@pytest.fixture(scope="module")
def data_store(env):
    """A store of the data tests' own: a store caches each round's dataset hash, and the other
    tests' rounds, reverted between tests, used the same round numbers with another hash."""
    yield from _serve(env, Path(env["HOME"]) / "data-store")


def cli(env, *args, ok=True):
    run = subprocess.run([sys.executable, "-m", "crowdstake.cli", *args], env=env, capture_output=True, text=True)
    if ok:
        assert run.returncode == 0, run.stderr
    return run


def refused(env, *args, code=1):
    """A user mistake: exit 1 (2: a command line that does not parse) and exactly one line on
    stderr, no traceback."""
    run = cli(env, *args, ok=False)
    assert run.returncode == code, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1, run.stderr
    return run.stderr


@pytest.fixture(scope="module")
def alice_wallet(env, admin, token):
    address = cli(env, "wallet", "new", "alice").stdout.split()[-1]
    admin.transfer(address, E18)
    token.transfer(address, 100 * E18, {"from": admin})
    return address


def _round_with_live_ids(driver, env, close_in=1000, resolve_in=2000):
    rid = driver.open_round(close_in, resolve_in)
    register_live_ids(Path(env["HOME"]) / "store", rid, IDS)  # what the fund does for each round
    return rid


def _post_results(driver, env, committee, admin, rid, staker, score, finalize=True):
    """What the oracle will do: a score table in the store, its root and hash voted, finalised
    (or, not `finalize`, left accepted in its dispute window)."""
    publisher = Account.create()
    committee.setThreshold(3, {"from": admin})
    committee.addMember(publisher.address, {"from": admin})
    r = driver.tournament.round(rid)
    stake = driver.tournament.position(rid, staker, model("m"))[0]
    leaf = Leaf(rid, staker, model("m"), score)
    tree = ResultsTree([leaf])
    delta = payout_delta(stake, score, payout_factor(r["params"]["threshold"], r["totalStake"]), r["params"]["cap"])
    table = write_table([Row(staker, model("m"), stake, 0.1, 0.0, score / 1e6, score, delta, "", tuple(tree.proof(0)))])
    driver.until(r["resolveTime"])
    HttpStore(env["CROWDSTAKE_STORE"]).publish_score_table(publisher, rid, table)
    result = (tree.root, table_hash(table), max(delta, 0), 1)
    driver.accept(rid, result, voters=driver.members)
    if finalize:
        driver.until(driver.committee.roundState(rid)["disputeEndsAt"])
        driver.committee.finalize(rid, {"from": admin})
    return delta


def test_participant_round_trip(env, store_url, alice_wallet, driver, token, tournament, committee, admin, tmp_path):
    env = {**env, "CROWDSTAKE_STORE": store_url}
    rid = _round_with_live_ids(driver, env)
    assert re.search(rf"^ *{rid}  open ", cli(env, "rounds").stdout, re.M)
    preds = tmp_path / "preds.csv"
    preds.write_text(PREDICTIONS)
    out = cli(env, "submit", "--round", str(rid), "--model", "m", str(preds)).stdout
    assert f"round {rid}" in out
    assert tournament.position(rid, alice_wallet, model("m"))[1] == "0x" + table_hash(PREDICTIONS.encode()).hex()
    cli(env, "stake", "--round", str(rid), "--model", "m", "--amount", "40")
    cli(env, "stake", "--round", str(rid), "--model", "m", "--amount", "15", "--decrease")
    assert tournament.position(rid, alice_wallet, model("m"))[0] == 25 * E18
    assert token.balanceOf(alice_wallet) == 75 * E18

    delta = _post_results(driver, env, committee, admin, rid, alice_wallet, 40_000)
    assert delta == E18  # 25 tokens * 4%
    nxt = _round_with_live_ids(driver, env)
    cli(env, "submit", "--round", str(nxt), "--model", "m", str(preds))
    out = cli(env, "claim", "--round", str(rid), "--restake-into", str(nxt)).stdout
    assert f"restaked into round {nxt}" in out
    assert tournament.position(nxt, alice_wallet, model("m"))[0] == 26 * E18
    status = cli(env, "status").stdout
    assert "claimed" in status and "open" in status and "26.0000" in status


def test_user_mistakes_change_nothing(env, store_url, alice_wallet, driver, token, tournament, tmp_path):
    env = {**env, "CROWDSTAKE_STORE": store_url}
    rid = _round_with_live_ids(driver, env)
    preds = tmp_path / "preds.csv"
    preds.write_text(PREDICTIONS)
    balance = token.balanceOf(alice_wallet)

    assert "wrong password" in refused({**env, "CROWDSTAKE_PASSWORD": "nope"}, "status")
    assert "round 99 not found" in refused(env, "stake", "--round", "99", "--model", "m", "--amount", "1")
    assert "no submission" in refused(env, "stake", "--round", str(rid), "--model", "m", "--amount", "5")
    bad = tmp_path / "bad.csv"
    bad.write_text(PREDICTIONS.replace("id005", "zzz"))
    assert "zzz" in refused(env, "submit", "--round", str(rid), "--model", "m", str(bad))
    cli(env, "submit", "--round", str(rid), "--model", "m", str(preds))
    assert "below the tournament minimum" in refused(env, "stake", "--round", str(rid), "--model", "m", "--amount", "0.5")
    assert "insufficient balance" in refused(env, "stake", "--round", str(rid), "--model", "m", "--amount", "100000")
    assert "not finalized" in refused(env, "claim", "--round", str(rid))
    assert "nothing to claim" in refused(env, "claim", "--all")
    driver.until(tournament.round(rid)["closeTime"])
    assert "is closed" in refused(env, "stake", "--round", str(rid), "--model", "m", "--amount", "5")
    assert "no crowdstake deployment" in refused({**env, "CROWDSTAKE_DEPLOYMENTS": str(tmp_path)}, "status")

    assert token.balanceOf(alice_wallet) == balance
    assert tournament.position(rid, alice_wallet, model("m"))[0] == 0


def test_pay_command_settles_a_round_in_batches(env, store_url, alice_wallet, driver, tournament, committee,
                                                   admin, tmp_path):
    env = {**env, "CROWDSTAKE_STORE": store_url}
    rid = _round_with_live_ids(driver, env)
    preds = tmp_path / "preds.csv"
    preds.write_text(PREDICTIONS)
    cli(env, "submit", "--round", str(rid), "--model", "m", str(preds))
    cli(env, "stake", "--round", str(rid), "--model", "m", "--amount", "20")
    _post_results(driver, env, committee, admin, rid, alice_wallet, -20_000)
    out = cli(env, "pay", "--round", str(rid), "--workdir", str(tmp_path / "w")).stdout
    assert "1 position settled in 1 transaction (0 were already)" in out
    assert tournament.position(rid, alice_wallet, model("m"))[0] == 0  # settled
    assert "0 positions settled" in cli(env, "pay", "--round", str(rid), "--workdir", str(tmp_path / "w")).stdout
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == [f"pay-{rid}.json"]
    old = tmp_path / "old" / f"settle-{rid}.json"  # a journal under the name before `pay`: still read
    old.parent.mkdir()
    old.write_text('{"owner": "another deployment"}')
    line = refused(env, "pay", "--round", str(rid), "--workdir", str(old.parent))
    assert line.startswith(f"crowdstake: {old} is the journal of another deployment (another deployment)"), line


def test_a_payout_under_the_minimum_stake_is_paid_to_the_wallet(env, store_url, alice_wallet, driver, token,
                                                                tournament, committee, admin, tmp_path):
    # claimAndRestake would revert (the 0.98 left is under the minimum stake of 1): the client pays the wallet
    env = {**env, "CROWDSTAKE_STORE": store_url}
    rid = _round_with_live_ids(driver, env)
    preds = tmp_path / "preds.csv"
    preds.write_text(PREDICTIONS)
    cli(env, "submit", "--round", str(rid), "--model", "m", str(preds))
    cli(env, "stake", "--round", str(rid), "--model", "m", "--amount", "1")
    _post_results(driver, env, committee, admin, rid, alice_wallet, -20_000)
    nxt = _round_with_live_ids(driver, env)
    cli(env, "submit", "--round", str(nxt), "--model", "m", str(preds))
    before = token.balanceOf(alice_wallet)
    out = cli(env, "claim", "--round", str(rid), "--restake-into", str(nxt)).stdout
    assert (f"claimed round {rid} model m: burned 0.0200, 0.9800 paid to the wallet; the payout 0.9800 "
            f"was not restaked: it is below the minimum stake of round {nxt} (tx 0x") in out
    assert token.balanceOf(alice_wallet) == before + 98 * E18 // 100
    assert tournament.position(nxt, alice_wallet, model("m"))[0] == 0


def _entered(driver, env, tmp_path, amount):
    """A round with alice's model m submitted and staked through the CLI."""
    rid = _round_with_live_ids(driver, env)
    preds = tmp_path / "preds.csv"
    preds.write_text(PREDICTIONS)
    cli(env, "submit", "--round", str(rid), "--model", "m", str(preds))
    cli(env, "stake", "--round", str(rid), "--model", "m", "--amount", amount)
    return rid, preds


def test_a_payout_in_the_internal_balance_is_staked_and_withdrawn(env, store_url, alice_wallet, driver, token,
                                                                 tournament, committee, admin, tmp_path):
    env = {**env, "CROWDSTAKE_STORE": store_url}
    rid, preds = _entered(driver, env, tmp_path, "20")
    assert _post_results(driver, env, committee, admin, rid, alice_wallet, 40_000) == 8 * E18 // 10  # 20 * 4%
    out = cli(env, "pay", "--round", str(rid), "--to-balance", "--workdir", str(tmp_path / "w")).stdout
    assert "1 position settled in 1 transaction" in out and "credited 20.8000" in out
    assert tournament.internalBalance(alice_wallet) == 208 * E18 // 10
    assert cli(env, "wallet", "balance").stdout.endswith("ETH; 20.8000 tokens of internal balance in the Tournament\n")

    held = token.balanceOf(alice_wallet)
    nxt = _round_with_live_ids(driver, env)
    cli(env, "submit", "--round", str(nxt), "--model", "m", str(preds))
    out = cli(env, "stake", "--round", str(nxt), "--model", "m", "--amount", "10", "--from-balance").stdout
    assert out.startswith(f"staked 10.0000 from the internal balance on model m in round {nxt}: position now "
                          "10.0000, 1 transaction (tx 0x")
    assert tournament.position(nxt, alice_wallet, model("m"))[0] == 10 * E18
    assert tournament.internalBalance(alice_wallet) == 108 * E18 // 10 and token.balanceOf(alice_wallet) == held
    assert "insufficient internal balance" in refused(env, "stake", "--round", str(nxt), "--model", "m", "--amount",
                                                      "11", "--from-balance")

    # how much to withdraw is said once; a decrease always pays the wallet: refused before anything connects
    assert "say how much: --amount TOKENS or --all" in refused(env, "withdraw", code=2)
    assert "--amount and --all both say how much" in refused(env, "withdraw", "--amount", "1", "--all", code=2)
    assert "--decrease and --from-balance do not go together" in refused(
        env, "stake", "--round", str(nxt), "--model", "m", "--amount", "1", "--decrease", "--from-balance", code=2)
    assert "cannot withdraw 11: the internal balance is 10.8" in refused(env, "withdraw", "--amount", "11")
    out = cli(env, "withdraw", "--amount", ".8").stdout
    assert out.startswith("withdrew 0.8000 tokens to the wallet; 10.0000 left in the internal balance, 1 transaction")
    out = cli(env, "withdraw", "--all").stdout
    assert out.startswith("withdrew 10.0000 tokens to the wallet; 0.0000 left in the internal balance")
    assert tournament.internalBalance(alice_wallet) == 0 and token.balanceOf(alice_wallet) == held + 108 * E18 // 10
    assert "nothing to withdraw" in refused(env, "withdraw", "--all")


def test_a_round_without_results_refunds_its_stakes_after_its_deadline(env, store_url, alice_wallet, driver, token,
                                                                       tournament, tmp_path):
    env = {**env, "CROWDSTAKE_STORE": store_url}
    rid, _ = _entered(driver, env, tmp_path, "5")
    deadline = tournament.roundTimes(rid)[2]
    driver.until(tournament.round(rid)["resolveTime"])  # resolved, and no result voted
    nonce = web3.eth.get_transaction_count(alice_wallet)
    line = refused(env, "refund", "--round", str(rid))
    assert line.startswith(f"crowdstake: refunds of round {rid} open {utc(deadline + 1)} (in ")
    assert f"may still get its results until {utc(deadline)} (in " in line and line.endswith("nothing was sent\n")
    assert web3.eth.get_transaction_count(alice_wallet) == nonce

    driver.until(deadline + 1)
    assert re.search(rf"^ *{rid}  refundable ", cli(env, "rounds").stdout, re.M)
    held = token.balanceOf(alice_wallet)
    out = cli(env, "refund", "--round", str(rid)).stdout
    assert out.startswith(f"refunded round {rid} model m: 5.0000 tokens to the wallet (tx 0x")
    assert token.balanceOf(alice_wallet) == held + 5 * E18
    assert tournament.position(rid, alice_wallet, model("m"))[0] == 0
    assert re.search(rf"^ *{rid}  m  +5.0000  refunded ", cli(env, "status").stdout, re.M)
    assert "nothing to refund" in refused(env, "refund", "--round", str(rid))


def test_an_accepted_table_is_shown_provisional_until_it_is_final(env, store_url, alice_wallet, driver, tournament,
                                                                  committee, admin, tmp_path):
    env = {**env, "CROWDSTAKE_STORE": store_url}
    rid, _ = _entered(driver, env, tmp_path, "25")
    _post_results(driver, env, committee, admin, rid, alice_wallet, 40_000, finalize=False)  # in its dispute window
    status = cli(env, "status").stdout
    row = re.search(rf"^ *{rid}  m  +25.0000  accepted  +0.1000  +0.0000  +0.0400  +1.0000\*$", status, re.M)
    assert row and "* provisional: the committee accepted the table" in status, status
    scores = cli(env, "scores", "--round", str(rid)).stdout
    assert re.search(rf"^round {rid} score table 0x[0-9a-f]{{64}} \(provisional\)$", scores, re.M), scores
    assert re.search(r"^0x[0-9a-fA-F]{8} \(you\)  m  +25.0000 .* 1.0000 *$", scores, re.M), scores
    assert "provisional: the committee accepted this table, and its dispute window is still running" in scores

    driver.until(committee.roundState(rid)["disputeEndsAt"])
    committee.finalize(rid, {"from": admin})
    status = cli(env, "status").stdout
    assert re.search(rf"^ *{rid}  m  +25.0000  claimable .* 1.0000 *$", status, re.M) and "*" not in status, status
    assert "(final)" in cli(env, "scores", "--round", str(rid)).stdout

    nxt = _round_with_live_ids(driver, env)  # open, but m has no submission in it
    nonce = web3.eth.get_transaction_count(alice_wallet)
    line = refused(env, "claim", "--round", str(rid), "--restake-into", str(nxt))
    assert line == (f"crowdstake: model m has no submission in round {nxt}, so its payout cannot be restaked there: "
                    f"submit its predictions to round {nxt} first, or claim without restaking; nothing was sent "
                    f"(`crowdstake submit --round {nxt} --model m FILE`, or leave out --restake-into)\n")
    assert web3.eth.get_transaction_count(alice_wallet) == nonce
    assert tournament.position(rid, alice_wallet, model("m"))[0] == 25 * E18  # unclaimed


def test_a_model_submitted_elsewhere_shows_its_id_until_named(env, store_url, alice_wallet, driver, tmp_path):
    env = {**env, "CROWDSTAKE_STORE": store_url}
    rid, _ = _entered(driver, env, tmp_path, "5")
    mid = "0x" + model("m").hex()
    assert f"m\t{mid}\n" in cli(env, "models", "list").stdout  # `submit` named it in this machine's book
    other = tmp_path / "other"  # another machine: the same wallet, a book that never saw m
    shutil.copytree(Path(env["CROWDSTAKE_HOME"]) / "wallets", other / "wallets")
    there = {**env, "CROWDSTAKE_HOME": str(other)}
    assert cli(there, "models", "list").stdout == ""
    assert re.search(rf"^ *{rid}  {mid[:14]}  +5.0000  open ", cli(there, "status").stdout, re.M)
    assert f"'m2' is not the name of model {mid[:14]}" in refused(there, "models", "name", mid, "m2")
    assert cli(there, "models", "name", mid[2:], "m").stdout == f"model {mid} is m\n"  # typed without 0x
    assert cli(there, "models", "list").stdout == f"m\t{mid}\n"
    assert re.search(rf"^ *{rid}  m  +5.0000  open ", cli(there, "status").stdout, re.M)


def test_a_wallet_without_eth_for_gas_uploads_nothing(env, store_url, driver, token, admin, tmp_path):
    env = {**env, "CROWDSTAKE_STORE": store_url, "CROWDSTAKE_WALLET": "dry"}
    address = cli(env, "wallet", "new", "dry").stdout.split()[-1]
    token.transfer(address, 10 * E18, {"from": admin})  # tokens, but no ETH
    rid = _round_with_live_ids(driver, env)
    preds = tmp_path / "preds.csv"
    preds.write_text(PREDICTIONS)
    err = refused(env, "submit", "--round", str(rid), "--model", "m", str(preds))
    assert f"{address} holds 0 ETH, and the transaction may cost up to" in err and "send the account some ETH" in err
    replay = ReplayMemory(Path(env["HOME"]) / "store", lambda: 0)
    assert not [p for p in replay.pointers(rid) if p[0] == address.lower()]  # nothing was uploaded for this wallet


@pytest.fixture(scope="module")
def brownie_networks(env):
    """The networks brownie keeps in ~/.brownie (the subprocesses' HOME): this test chain by name."""
    port = urlsplit(env["CROWDSTAKE_RPC_URL"]).port
    folder = Path(env["HOME"]) / ".brownie"
    folder.mkdir(exist_ok=True)
    (folder / "network-config.yaml").write_text(
        f"development:\n- id: test-chain\n  name: the test chain\n  cmd: anvil\n  host: http://$NODE_HOST\n"
        f"  cmd_settings:\n    port: {port}\nlive: []\n")
    # --network must win over the environment's URL: a dead one proves the name was used
    return {**env, "CROWDSTAKE_RPC_URL": "http://127.0.0.1:9", "NODE_HOST": "127.0.0.1"}


def test_a_brownie_network_name_reaches_the_chain(brownie_networks, driver):
    rid = driver.open_round()
    assert re.search(rf"^ *{rid}  open ", cli(brownie_networks, "rounds", "--network", "test-chain").stdout, re.M)


def test_a_bad_network_name_is_one_line(brownie_networks, tmp_path):
    err = refused(brownie_networks, "oracle", "run", "--round", "1", "--targets", str(tmp_path), "--network", "mainet")
    assert "no network 'mainet' in" in err and "brownie networks list" in err
    unset = {k: v for k, v in brownie_networks.items() if k != "NODE_HOST"}
    err = refused(unset, "pay", "--round", "1", "--network", "test-chain")
    assert "needs $NODE_HOST" in err


# ------------------------------------------------------------------ diagnostics at a round's weights and cap


@pytest.fixture(scope="module")
def validation(tmp_path_factory):
    """A dataset built as the fund builds it, and two validation predictions files: a feature's
    ranks as the model, another's as the example."""
    root = tmp_path_factory.mktemp("diag")
    write_raw(synth_market(eras=30, stocks=200, seed=5), root / "raw.csv")
    built = build_command(root / "raw.csv", root / "out", seed=5, validation_eras=4)
    directory = Path(built["rounds"][0]["dataset_dir"])
    v = pd.read_csv(directory / "validation.csv", dtype={"id": str}, index_col="id")
    files = {}
    for name, column in zip(("mine", "example"), feature_columns(v)):
        files[name] = root / f"{name}.csv"
        ranked = ((v[column].rank(method="first") - 0.5) / len(v)).round(6)
        ranked.rename("prediction").rename_axis("id").to_csv(files[name], lineterminator="\n")
    return directory, files


def test_diagnostics_at_a_rounds_weights_and_cap(env, validation, tournament, operator):
    directory, files = validation
    params = (THRESHOLD, MIN_STAKE, 2 * 10**16, RESULTS_WINDOW, 10_000, 5_000, 0, 0)  # CORR 1, MMC 0.5, cap 2%
    tid = tournament.createTournament(params, {"from": operator}).return_value
    now = chain.time()
    rid = tournament.openRound(tid, b"\xda" * 32, now + 1000, now + 2000, {"from": operator}).return_value
    args = ("diagnostics", "--dataset", str(directory), "--predictions", str(files["mine"]), "--example",
            str(files["example"]))

    def payout_row(out):
        return next(line for line in out.splitlines() if line.startswith("payout (of stake)")).split()

    out = cli(env, *args, "--round", str(rid)).stdout
    want = diagnostics(directory, files["mine"], files["example"], corr_weight=1, mmc_weight=0.5, cap="2%").summary
    assert f"payout at round {rid}'s CORR weight 1, MMC weight 0.5, cap 2%: best era {want['payout_best']:+.2%}" in out
    assert payout_row(out)[3] == f"{want['payout_mean']:+.2%}"
    default = diagnostics(directory, files["mine"], files["example"]).summary
    out = cli(env, *args).stdout  # no round: the defaults, and no chain is needed
    assert "payout at CORR weight 0.5, MMC weight 2, cap 5%: " in out
    assert payout_row(out)[3] == f"{default['payout_mean']:+.2%}"
    assert f"payout at round {rid}'s CORR weight 1, MMC weight 0.5, cap 3%: " in \
        cli(env, *args, "--round", str(rid), "--cap", "3%").stdout  # a value given wins over the round's
    assert "round 999 not found" in refused(env, *args, "--round", "999")


# ------------------------------------------------------------------ datasets: built by the fund, downloaded by participants


@pytest.fixture(scope="module")
def published(env, data_store, tournament, admin, tmp_path_factory):
    """`crowdstake data synth` and `data build` as the fund runs them; the first era's dataset
    published to the served store by an operator's key."""
    work = tmp_path_factory.mktemp("fund")
    cli(env, "data", "synth", "--out", str(work / "raw.csv"), "--eras", "8", "--stocks", "30", "--seed", "2")
    out = cli(env, "data", "build", "--raw", str(work / "raw.csv"), "--out", str(work / "ds"), "--live-eras", "2",
              "--seed", "2").stdout
    assert "2 round datasets" in out and "era 7: dataset 0x" in out and str(work / "ds" / "private" / "targets" / "era-8.csv") in out
    fund = Account.create()
    tournament.grantRole(tournament.OPERATOR_ROLE(), fund.address, {"from": admin})
    from crowdstake.fund.publishing import publish_dataset_dir

    directory = work / "ds" / "public" / "era-7"
    digest = publish_dataset_dir(HttpStore(data_store), fund, directory)
    assert f"era 7: dataset 0x{digest.hex()} in {directory}" in out  # what build printed is what the store hashes
    return directory, digest


def test_a_participant_downloads_a_rounds_dataset(env, data_store, published, driver, tmp_path):
    env = {**env, "CROWDSTAKE_STORE": data_store}
    directory, digest = published
    now = chain.time()
    rid = driver.tournament.openRound(driver.tournament_id, digest, now + 1000, now + 2000,
                                      {"from": driver.operator}).return_value
    out = tmp_path / "mine"
    said = cli(env, "data", "download", "--round", str(rid), "--out", str(out)).stdout
    assert said.startswith(f"round {rid}: dataset 0x{digest.hex()} in {out}: fetched 4 files")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {p.name: p.read_bytes() for p in directory.iterdir()}
    again = cli(env, "data", "download", "--round", str(rid), "--out", str(out)).stdout
    assert "fetched 0 files, 4 already there" in again
    assert HttpStore(data_store).live_ids(rid) == sorted(  # the round's live ids came with its dataset
        line.split(",", 1)[0] for line in (out / "live.csv").read_text().splitlines()[1:])


def test_a_download_the_chain_does_not_vouch_for_is_one_line_and_writes_nothing(env, data_store, published, driver,
                                                                                tmp_path):
    env = {**env, "CROWDSTAKE_STORE": data_store}
    directory, digest = published
    now = chain.time()
    rid = driver.tournament.openRound(driver.tournament_id, digest, now + 1000, now + 2000,
                                      {"from": driver.operator}).return_value
    live = Path(env["HOME"]) / "data-store" / "datasets" / "files" / Web3.keccak((directory / "live.csv").read_bytes()).hex()
    original = live.read_bytes()
    live.write_bytes(original.replace(b",", b";", 1))  # the store's copy altered
    try:
        err = refused(env, "data", "download", "--round", str(rid), "--out", str(tmp_path / "mine"))
    finally:
        live.write_bytes(original)
    assert f"the store's live.csv for round {rid} hashes to 0x" in err and "nothing was written" in err
    assert not (tmp_path / "mine").exists()
    assert "round 999 not found" in refused(env, "data", "download", "--round", "999", "--out", str(tmp_path / "x"))
    stale = driver.open_round()  # commits a hash no store holds
    assert "the store has no dataset 0x" in refused(env, "data", "download", "--round", str(stale), "--out",
                                                    str(tmp_path / "x"))


def test_a_fully_burned_position_is_claimed_to_the_wallet_not_restaked(env, store_url, alice_wallet, driver, token,
                                                                        tournament, committee, admin, operator, tmp_path):
    # claimAndRestake would revert (nothing is left to restake): the client claims instead, and says so
    env = {**env, "CROWDSTAKE_STORE": store_url}
    whole = copy.copy(driver)  # a tournament whose cap lets a round burn a whole stake
    whole.tournament_id = tournament.createTournament((10**30, E18, E18, RESULTS_WINDOW, 5000, 20000, 0, 0),
                                                      {"from": operator}).return_value
    rid = _round_with_live_ids(whole, env)
    preds = tmp_path / "preds.csv"
    preds.write_text(PREDICTIONS)
    cli(env, "submit", "--round", str(rid), "--model", "m", str(preds))
    cli(env, "stake", "--round", str(rid), "--model", "m", "--amount", "2")
    assert _post_results(whole, env, committee, admin, rid, alice_wallet, -1_000_000) == -2 * E18
    nxt = _round_with_live_ids(whole, env)
    cli(env, "submit", "--round", str(nxt), "--model", "m", str(preds))
    before, supply = token.balanceOf(alice_wallet), token.totalSupply()
    out = cli(env, "claim", "--round", str(rid), "--restake-into", str(nxt)).stdout
    assert "was not restaked: nothing is left to restake (the whole stake was burned)" in out, out
    assert tournament.position(rid, alice_wallet, model("m"))[0] == 0  # settled by the claim
    assert tournament.position(nxt, alice_wallet, model("m"))[0] == 0
    assert token.balanceOf(alice_wallet) == before and token.totalSupply() == supply - 2 * E18
