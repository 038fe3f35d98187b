"""The oracle operator against a real chain and store: independent operators agree byte for
byte, k of n accept, crashes at any step resume without a second vote, bad files score at the
floor, a dissenting member or a veto is survived, and anyone can verify a round."""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import requests
from brownie import chain, web3
from eth_account import Account

from crowdstake import oracle
from crowdstake.chain import Contracts, RetryPolicy, connect, save_deployment, send, with_retries
from crowdstake.config import KeeperSettings, OracleSettings
from crowdstake.errors import ConfigError, NodeUnavailable, StoreUnavailable
from crowdstake.results.merkle import model_id
from crowdstake.participant import Participant
from crowdstake.scoring import FLOOR_SCORE
from crowdstake.oracle.keeper import pay_round
from crowdstake._server import free_port
from crowdstake.store import HttpStore, local_store_for, register_live_ids
from scripts.deploy import deploy_protocol, deployment_record

E18 = 10**18
IDS = [f"s{i:04d}" for i in range(300)]
PARAMS = (1_000 * E18, E18, 5 * 10**16, 7 * 86400, 5000, 20000)
WINDOW = 600


class Crash(BaseException):
    """A kill at a chosen step (BaseException: nothing in the operator catches it)."""


def _funded(admin, token=None, tokens=0):
    account = Account.create()
    admin.transfer(account.address, 10 * E18)
    if token is not None:
        token.transfer(account.address, tokens, {"from": admin})
    return account


@pytest.fixture(scope="module")
def world(admin, operator, guardian, tmp_path_factory):
    """A deployment whose committee members hold keys we have (they sign votes and tables)."""
    return _deploy_world(admin, operator, guardian, [_funded(admin) for _ in range(3)], tmp_path_factory.mktemp("oracle"))


def _deploy_world(admin, operator, guardian, members, home):
    token, tournament, committee = deploy_protocol(
        admin, admin=admin, operator=operator, guardian=guardian, members=[m.address for m in members],
        threshold=2, dispute_window=WINDOW, treasury=admin,
    )
    token.approve(tournament, 100_000 * E18, {"from": admin})
    tournament.fundRewards(100_000 * E18, {"from": admin})
    tid = tournament.createTournament(PARAMS, {"from": operator}).return_value
    record = deployment_record(token, tournament, committee, block=0, admin=admin, operator=operator,
                               guardian=guardian, members=[m.address for m in members], threshold=2)
    save_deployment(chain.id, record, home / "deployments")
    protocol = Contracts.load(connect(web3.provider.endpoint_uri), home / "deployments")
    return {"token": token, "tournament": tournament, "committee": committee, "members": members, "tid": tid,
            "home": home, "protocol": protocol, "store": local_store_for(home / "store", protocol)}


def _predictions(targets, quality, rng):
    noise = rng.normal(size=len(targets))
    return np.clip(0.5 + 0.1 * (quality * (targets - 0.5) * 4 + noise), 0, 1).round(4)


def _open_round(world, admin, operator, tmp_path, participants=4, seed=1):
    """A closed, resolved round: each participant uploaded, committed and staked; targets published."""
    rng = np.random.default_rng(seed)
    now = chain.time()
    rid = world["tournament"].openRound(world["tid"], b"\xda" * 32, now + 300, now + 600, {"from": operator}).return_value
    register_live_ids(world["home"] / "store", rid, IDS)
    targets = rng.choice([0, 0.25, 0.5, 0.75, 1.0], size=len(IDS))
    stakers = []
    for i in range(participants):
        who = _funded(admin, world["token"], 500 * E18)
        p = Participant(world["protocol"], who, world["store"])
        data = "id,prediction\n" + "".join(f"{k},{v}\n" for k, v in zip(IDS, _predictions(targets, i % 3, rng)))
        p.submit(rid, "model", data.encode())
        p.stake(rid, "model", 50 + 25 * i)
        stakers.append(who)
    targets_dir = tmp_path / "targets"
    targets_dir.mkdir(exist_ok=True)
    (targets_dir / f"{rid}.csv").write_text("id,target\n" + "".join(f"{k},{t}\n" for k, t in zip(IDS, targets)))
    _until(world["tournament"].roundTimes(rid)[1])
    return rid, stakers, targets_dir


def _until(timestamp):
    if chain.time() < timestamp:
        chain.sleep(timestamp - chain.time())
    chain.mine()


def _run(world, member, rid, targets_dir, workdir, **kw):
    return oracle.run_round(world["protocol"], member, world["store"], rid,
                            OracleSettings(targets=targets_dir, workdir=workdir, **kw))


def test_three_operator_processes_agree_and_the_round_settles(world, admin, operator, tmp_path):
    rid, stakers, targets_dir = _open_round(world, admin, operator, tmp_path)
    home = world["home"]
    base = {"PATH": os.environ["PATH"], "CROWDSTAKE_RPC_URL": web3.provider.endpoint_uri,
            "CROWDSTAKE_DEPLOYMENTS": str(home / "deployments"), "CROWDSTAKE_STORE": str(home / "store")}
    for i, member in enumerate(world["members"]):
        env = {**base, "MEMBER_KEY": member.key.hex()}
        run = subprocess.run([sys.executable, "-m", "crowdstake.cli", "oracle", "run", "--round", str(rid),
                              "--key-env", "MEMBER_KEY", "--targets", str(targets_dir),
                              "--workdir", str(tmp_path / f"op{i}")], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert "4 positions scored" in run.stdout
        assert "fetching and checking 4 predictions files" in run.stdout  # captured: a plain line per step
    tables = [(tmp_path / f"op{i}" / f"round-{rid}-scores.csv").read_bytes() for i in range(3)]
    assert tables[0] == tables[1] == tables[2]
    state = world["committee"].roundState(rid)
    assert state["disputeEndsAt"] > 0  # accepted by the first two; the third saw it accepted
    assert not world["committee"].hasVoted(rid, world["members"][2].address)

    _until(state["disputeEndsAt"])
    summary = _run(world, world["members"][2], rid, targets_dir, tmp_path / "op2")
    assert summary.state == "finalized"
    for who in stakers:
        Participant(world["protocol"], who, world["store"]).claim(rid)
    r = world["tournament"].round(rid)
    assert r["settledPositions"] == r["stakedPositions"] == 4 and r["reserved"] == 0
    assert world["token"].balanceOf(world["tournament"]) == world["tournament"].totalOwed()


@pytest.mark.parametrize("step", ["scored", "published", "vote-sent", "voted"])
def test_crash_at_any_step_resumes_with_one_vote(world, admin, operator, tmp_path, step):
    rid, _, targets_dir = _open_round(world, admin, operator, tmp_path, seed=2)
    member, workdir = world["members"][0], tmp_path / "op"
    nonce = web3.eth.get_transaction_count(member.address)

    def kill(at):
        if at == step:
            raise Crash(at)

    if step == "vote-sent":  # killed with the vote in the mempool, not yet mined
        web3.provider.make_request("evm_setAutomine", [False])
    try:
        with pytest.raises(Crash):
            _run(world, member, rid, targets_dir, workdir, on_step=kill)
        assert world["committee"].hasVoted(rid, member.address) == (step == "voted")
        # the chain mines the pending vote a moment after the operator restarts
        timer = threading.Timer(1.0, web3.provider.make_request, ("evm_setAutomine", [True]))
        timer.start()
        first = (workdir / f"round-{rid}-scores.csv").read_bytes()
        summary = _run(world, member, rid, targets_dir, workdir)
        timer.join()
    finally:
        web3.provider.make_request("evm_setAutomine", [True])
    assert (workdir / f"round-{rid}-scores.csv").read_bytes() == first
    assert world["committee"].hasVoted(rid, member.address)
    assert world["committee"].votesFor(rid, world["committee"].resultHash(rid, _result(summary))) == 1
    assert web3.eth.get_transaction_count(member.address) == nonce + 1  # one vote transaction, ever
    assert summary.gas > 0


def _result(summary):
    return (summary.root, summary.table_hash, int(summary.total_reward.scaleb(18)), int(summary.total_burn.scaleb(18)),
            summary.positions)


def test_crash_during_finalize_resumes(world, admin, operator, tmp_path):
    rid, _, targets_dir = _open_round(world, admin, operator, tmp_path, seed=3)
    for i, member in enumerate(world["members"][:2]):
        _run(world, member, rid, targets_dir, tmp_path / f"op{i}", finalize=False)
    _until(world["committee"].roundState(rid)["disputeEndsAt"])

    def kill(at):
        if at == "finalize-sent":
            raise Crash(at)

    with pytest.raises(Crash):
        _run(world, world["members"][0], rid, targets_dir, tmp_path / "op0", on_step=kill)
    assert _run(world, world["members"][0], rid, targets_dir, tmp_path / "op0").state == "finalized"
    assert world["tournament"].round(rid)["finalized"]


def test_bad_files_score_at_the_floor(world, admin, operator, tmp_path):
    rid, stakers, targets_dir = _open_round(world, admin, operator, tmp_path, seed=4)
    digest = world["tournament"].position(rid, stakers[1].address, model_id("model"))[1]
    path = world["home"] / "store" / "rounds" / str(rid) / "files" / f"{digest.hex()}.csv"
    path.write_bytes(path.read_bytes().replace(b"0.", b"0.9", 1))  # altered after commitment
    summary = _run(world, world["members"][0], rid, targets_dir, tmp_path / "op", dry_run=True)
    assert list(summary.floors.values()) == ["file does not match its on-chain hash"]
    table = (tmp_path / "op" / f"round-{rid}-scores.csv").read_text()
    assert f",{FLOOR_SCORE}," in table
    assert not world["committee"].hasVoted(rid, world["members"][0].address)  # a dry run sends nothing


def test_a_dissenter_and_a_veto_are_survived(world, admin, operator, guardian, tmp_path):
    rid, _, targets_dir = _open_round(world, admin, operator, tmp_path, seed=5)
    liar, honest = world["members"][0], world["members"][1:]
    protocol = world["protocol"]
    send(protocol.w3, liar, protocol.committee.functions.vote(rid, (b"\x66" * 32, b"\x66" * 32, 0, 0, 4)))
    summary = _run(world, honest[0], rid, targets_dir, tmp_path / "h0")
    assert summary.state == "voting"  # one honest vote against one lie: nothing accepted
    assert _run(world, honest[1], rid, targets_dir, tmp_path / "h1").state == "accepted"
    world["committee"].veto(rid, {"from": guardian})
    for i, member in enumerate(honest):  # a new epoch: the same operators vote again
        summary = _run(world, member, rid, targets_dir, tmp_path / f"h{i}")
    assert summary.state == "accepted"
    assert world["committee"].roundState(rid)["vetoes"] == 1


def test_anyone_can_verify_a_round(world, admin, operator, tmp_path):
    rid, _, targets_dir = _open_round(world, admin, operator, tmp_path, seed=6)
    for i, member in enumerate(world["members"][:2]):
        _run(world, member, rid, targets_dir, tmp_path / f"op{i}")
    report = oracle.verify_round(world["protocol"], world["store"], rid, targets_dir)
    assert report.matches and report.differences == []
    target_file = targets_dir / f"{rid}.csv"  # a verifier with other targets sees every differing leaf
    lines = target_file.read_text().splitlines()
    flipped = [f"{line.rsplit(',', 1)[0]},{1 - float(line.rsplit(',', 1)[1])}" for line in lines[1:]]
    target_file.write_text("\n".join(lines[:1] + flipped) + "\n")
    report = oracle.verify_round(world["protocol"], world["store"], rid, targets_dir)
    assert not report.matches and len(report.differences) >= 1


def test_unreachable_node_fails_after_bounded_retries():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise requests.ConnectionError("refused")
        return "ok"

    assert with_retries(flaky, policy=RetryPolicy(6, 0.01)) == "ok" and len(calls) == 3
    with pytest.raises(NodeUnavailable, match="did not answer after 4 attempts"):
        with_retries(lambda: (_ for _ in ()).throw(requests.Timeout()), policy=RetryPolicy(4, 0.01))


def test_an_unreachable_store_stops_the_run_instead_of_scoring_at_the_floor():
    position = oracle.Position(Account.create().address, model_id("model"), E18, b"\x11" * 32)
    with pytest.raises(StoreUnavailable, match="cannot reach the submission store"):
        oracle.fetch_predictions(HttpStore(f"http://127.0.0.1:{free_port()}"), 1, [position])


def test_two_watches_vote_finalize_and_pay_without_colliding(world, admin, operator, tmp_path):
    rid, stakers, targets_dir = _open_round(world, admin, operator, tmp_path, seed=7)
    errors = []

    def watch(i):
        def pay(round_id):  # both keep: they race to settle the same positions, one to balances
            pay_round(world["protocol"], world["members"][i], world["store"], round_id, KeeperSettings(to_balance=i == 0),
                      journal=tmp_path / f"w{i}" / f"pay-{round_id}.json")

        try:
            settings = OracleSettings(targets=targets_dir, workdir=tmp_path / f"w{i}", interval=0.2)
            oracle.watch(world["protocol"], world["members"][i], world["store"], settings,
                         rounds_limit=rid, on_finalized=pay)  # every round up to this one ends finalised
        except Exception as e:  # reported below: a thread's failure must fail the test
            errors.append(e)

    threads = [threading.Thread(target=watch, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    for _ in range(300):
        if world["committee"].roundState(rid)["disputeEndsAt"]:
            break
        time.sleep(0.1)
    _until(world["committee"].roundState(rid)["disputeEndsAt"])  # the dispute window passes
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    r = world["tournament"].round(rid)
    assert r["finalized"] and r["settledPositions"] == r["stakedPositions"] == len(stakers)
    assert all(world["tournament"].position(rid, s.address, model_id("model"))["stake"] == 0 for s in stakers)
    assert all(world["committee"].hasVoted(rid, m.address) for m in world["members"][:2])


def test_a_workdir_of_another_deployment_is_refused(world, admin, operator, guardian, tmp_path):
    # A redeploy restarts the round numbers: round R's journal (its root, its vote) from the old
    # deployment must never be resumed against the new one.
    rid, _, targets_dir = _open_round(world, admin, operator, tmp_path)
    member, workdir = world["members"][0], tmp_path / "work"
    _run(world, member, rid, targets_dir, workdir, finalize=False)
    journal = (workdir / f"round-{rid}.json").read_bytes()
    again = _deploy_world(admin, operator, guardian, world["members"], tmp_path / "again")
    now = chain.time()
    assert again["tournament"].openRound(again["tid"], b"\xdb" * 32, now + 10, now + 20,
                                         {"from": operator}).return_value == rid
    _until(now + 20)
    with pytest.raises(ConfigError, match="journal of another deployment .* own working directory"):
        oracle.run_round(again["protocol"], member, again["store"], rid, OracleSettings(targets=targets_dir, workdir=workdir))
    assert not again["committee"].hasVoted(rid, member.address)
    assert (workdir / f"round-{rid}.json").read_bytes() == journal
