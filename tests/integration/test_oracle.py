"""The oracle operator in-process against a real chain and store: k of n accept, crashes at any
step resume without a second vote, bad files score at the floor, a stake withdrawn before the close
is not scored, a dissenting member or a veto is survived, two watches do not collide, a workdir of
another deployment is refused, and anyone can verify a round. Independent operator processes:
tests/e2e/test_oracle_processes.py."""

import sqlite3
import threading
import time

import pytest
from brownie import chain, web3
from support.world import WINDOW, deploy_world, funded, open_round, run_operator, until, world  # noqa: F401 - world: a fixture

from crowdstake import oracle
from crowdstake._human import utc
from crowdstake.chain import send
from crowdstake.config import KeeperSettings, OracleSettings
from crowdstake.errors import ConfigError, OracleError, ResultsTooLate, StoreNotFound
from crowdstake.oracle.inputs import read_positions
from crowdstake.results.merkle import model_id
from crowdstake.results.table import read_table, table_hash
from crowdstake.scoring import FLOOR_SCORE
from crowdstake.store.replay import FILENAME
from crowdstake.oracle.keeper import pay_round


class Crash(BaseException):
    """A kill at a chosen step (BaseException: nothing in the operator catches it)."""


@pytest.mark.parametrize("step", ["scored", "published", "vote-sent", "voted"])
def test_crash_at_any_step_resumes_with_one_vote(world, admin, operator, tmp_path, step):
    rid, _, targets_dir = open_round(world, admin, operator, tmp_path, seed=2)
    member, workdir = world["members"][0], tmp_path / "op"
    nonce = web3.eth.get_transaction_count(member.address)

    def kill(at):
        if at == step:
            raise Crash(at)

    if step == "vote-sent":  # killed with the vote in the mempool, not yet mined
        web3.provider.make_request("evm_setAutomine", [False])
    try:
        with pytest.raises(Crash):
            run_operator(world, member, rid, targets_dir, workdir, on_step=kill)
        assert world["committee"].hasVoted(rid, member.address) == (step == "voted")
        # the chain mines the pending vote a moment after the operator restarts
        timer = threading.Timer(1.0, web3.provider.make_request, ("evm_setAutomine", [True]))
        timer.start()
        first = (workdir / f"round-{rid}-scores.csv").read_bytes()
        summary = run_operator(world, member, rid, targets_dir, workdir)
        timer.join()
    finally:
        web3.provider.make_request("evm_setAutomine", [True])
    assert (workdir / f"round-{rid}-scores.csv").read_bytes() == first
    assert world["committee"].hasVoted(rid, member.address)
    assert world["committee"].votesFor(rid, world["committee"].resultHash(rid, _result(summary))) == 1
    assert web3.eth.get_transaction_count(member.address) == nonce + 1  # one vote transaction, ever
    assert summary.gas > 0


def _result(summary):
    return (summary.root, summary.table_hash, int(summary.total_reward.scaleb(18)), summary.positions)


def test_crash_during_finalize_resumes(world, admin, operator, tmp_path):
    rid, _, targets_dir = open_round(world, admin, operator, tmp_path, seed=3)
    for i, member in enumerate(world["members"][:2]):
        run_operator(world, member, rid, targets_dir, tmp_path / f"op{i}", finalize=False)
    until(world["committee"].roundState(rid)["disputeEndsAt"])

    def kill(at):
        if at == "finalize-sent":
            raise Crash(at)

    with pytest.raises(Crash):
        run_operator(world, world["members"][0], rid, targets_dir, tmp_path / "op0", on_step=kill)
    assert run_operator(world, world["members"][0], rid, targets_dir, tmp_path / "op0").state == "finalized"
    assert world["tournament"].round(rid)["finalized"]


def test_bad_files_score_at_the_floor(world, admin, operator, tmp_path):
    rid, stakers, targets_dir = open_round(world, admin, operator, tmp_path, seed=4)
    digest = world["tournament"].position(rid, stakers[1].address, model_id("model"))[1]
    kept = sqlite3.connect(world["home"] / "store" / FILENAME)
    (data,), = kept.execute("SELECT data FROM files WHERE hash = ?", (bytes(digest),))
    with kept:  # altered after commitment
        kept.execute("UPDATE files SET data = ? WHERE hash = ?", (data.replace(b"0.", b"0.9", 1), bytes(digest)))
    summary = run_operator(world, world["members"][0], rid, targets_dir, tmp_path / "op", dry_run=True)
    assert list(summary.floors.values()) == ["file does not match its on-chain hash"]
    table = (tmp_path / "op" / f"round-{rid}-scores.csv").read_text()
    assert f",{FLOOR_SCORE}," in table
    assert not world["committee"].hasVoted(rid, world["members"][0].address)  # a dry run sends nothing


def test_a_committed_file_the_store_lost_scores_at_the_floor(world, admin, operator, tmp_path):
    rid, stakers, targets_dir = open_round(world, admin, operator, tmp_path, seed=5)
    digest = world["tournament"].position(rid, stakers[0].address, model_id("model"))[1]
    kept = sqlite3.connect(world["home"] / "store" / FILENAME)
    with kept:  # lost after commitment
        assert kept.execute("DELETE FROM files WHERE hash = ?", (bytes(digest),)).rowcount == 1
    summary = run_operator(world, world["members"][0], rid, targets_dir, tmp_path / "op", dry_run=True)
    assert list(summary.floors.values()) == ["committed file missing from the store"]


def test_a_stake_withdrawn_before_close_is_not_scored(world, admin, operator, tmp_path):
    # Its events stay on the chain (a StakeIncreased, then a StakeDecreased to 0), but the
    # position holds nothing: the contract does not count it, so neither do the oracle's inputs
    # and table (a row for it would break the count, and score a position with nothing at stake).
    rid, stakers, targets_dir = open_round(world, admin, operator, tmp_path, seed=8, withdrawn=(1,))
    gone = stakers[1].address
    kept = sorted((s.address for i, s in enumerate(stakers) if i != 1), key=str.lower)
    assert world["protocol"].stakes(roundId=rid)[rid, gone, model_id("model")] == 0
    assert world["tournament"].round(rid)["stakedPositions"] == 3
    assert [p.staker for p in read_positions(world["protocol"], rid)] == kept
    summary = run_operator(world, world["members"][0], rid, targets_dir, tmp_path / "op", dry_run=True)
    assert summary.positions == 3
    anyone = run_operator(world, None, rid, targets_dir, tmp_path / "anyone", dry_run=True)  # no wallet: the same vote
    assert anyone.would_vote == summary.would_vote and bytes(anyone.would_vote[0]).hex() == summary.root[2:]
    rows = read_table((tmp_path / "op" / f"round-{rid}-scores.csv").read_bytes())
    assert [row.staker for row in rows] == kept


def test_a_dissenter_and_a_veto_are_survived(world, admin, operator, guardian, tmp_path):
    rid, _, targets_dir = open_round(world, admin, operator, tmp_path, seed=5)
    liar, honest = world["members"][0], world["members"][1:]
    protocol = world["protocol"]
    send(protocol.w3, liar, protocol.committee.functions.vote(rid, (b"\x66" * 32, b"\x66" * 32, 0, 4)))
    summary = run_operator(world, honest[0], rid, targets_dir, tmp_path / "h0")
    assert summary.state == "voting"  # one honest vote against one lie: nothing accepted
    assert run_operator(world, honest[1], rid, targets_dir, tmp_path / "h1").state == "accepted"
    world["committee"].veto(rid, {"from": guardian})
    for i, member in enumerate(honest):  # a new epoch: the same operators vote again
        summary = run_operator(world, member, rid, targets_dir, tmp_path / f"h{i}")
    assert summary.state == "accepted"
    assert world["committee"].roundState(rid)["vetoes"] == 1


def test_anyone_can_verify_a_round(world, admin, operator, tmp_path):
    rid, _, targets_dir = open_round(world, admin, operator, tmp_path, seed=6)
    for i, member in enumerate(world["members"][:2]):
        run_operator(world, member, rid, targets_dir, tmp_path / f"op{i}")
    report = oracle.verify_round(world["protocol"], world["store"], rid, targets_dir)
    assert report.matches and report.differences == []
    target_file = targets_dir / f"{rid}.csv"  # a verifier with other targets sees every differing leaf
    lines = target_file.read_text().splitlines()
    flipped = [f"{line.rsplit(',', 1)[0]},{1 - float(line.rsplit(',', 1)[1])}" for line in lines[1:]]
    target_file.write_text("\n".join(lines[:1] + flipped) + "\n")
    report = oracle.verify_round(world["protocol"], world["store"], rid, targets_dir)
    assert not report.matches and len(report.differences) >= 1


def test_two_watches_vote_finalize_and_pay_without_colliding(world, admin, operator, tmp_path):
    rid, stakers, targets_dir = open_round(world, admin, operator, tmp_path, seed=7)
    errors, logs, reports = [], [], []

    def watch(i):
        def pay(round_id):  # both keep: they race to settle the same positions, one to balances
            pay_round(world["protocol"], world["members"][i], world["store"], round_id, KeeperSettings(to_balance=i == 0),
                      journal=tmp_path / f"w{i}" / f"pay-{round_id}.json")

        try:
            settings = OracleSettings(targets=targets_dir, workdir=tmp_path / f"w{i}", interval=0.2)
            told = dict(log=logs.append, report=reports.append) if i == 0 else {}
            oracle.watch(world["protocol"], world["members"][i], world["store"], settings,
                         rounds_limit=rid, on_finalized=pay, **told)  # every round up to this one ends finalised
        except Exception as e:  # reported below: a thread's failure must fail the test
            errors.append(e)

    threads = [threading.Thread(target=watch, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    for _ in range(300):
        if world["committee"].roundState(rid)["disputeEndsAt"]:
            break
        time.sleep(0.1)
    until(world["committee"].roundState(rid)["disputeEndsAt"])  # the dispute window passes
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    r = world["tournament"].round(rid)
    assert r["finalized"] and r["settledPositions"] == r["stakedPositions"] == len(stakers)
    assert all(world["tournament"].position(rid, s.address, model_id("model"))["stake"] == 0 for s in stakers)
    assert all(world["committee"].hasVoted(rid, m.address) for m in world["members"][:2])
    # news is told once, not at every interval the watch spent in the dispute window
    assert logs[0].startswith(f"watching the Tournament {world['tournament'].address} as {world['members'][0].address}")
    assert sum(line.startswith(f"round {rid} accepted, finalisable after ") for line in logs) == 1, logs
    states = [summary.state for summary in reports if summary.round == rid]
    assert states[-1] == "finalized" and len(states) == len(set(states)), states


def test_a_workdir_of_another_deployment_is_refused(world, admin, operator, guardian, tmp_path):
    # A redeploy restarts the round numbers: round R's journal (its root, its vote) from the old
    # deployment must never be resumed against the new one.
    rid, _, targets_dir = open_round(world, admin, operator, tmp_path)
    member, workdir = world["members"][0], tmp_path / "work"
    run_operator(world, member, rid, targets_dir, workdir, finalize=False)
    journal = (workdir / f"round-{rid}.json").read_bytes()
    again = deploy_world(admin, operator, guardian, world["members"], tmp_path / "again")
    now = chain.time()
    assert again["tournament"].openRound(again["tid"], b"\xdb" * 32, now + 10, now + 20,
                                         {"from": operator}).return_value == rid
    until(now + 20)
    with pytest.raises(ConfigError, match="journal of another deployment .* own working directory"):
        oracle.run_round(again["protocol"], member, again["store"], rid, OracleSettings(targets=targets_dir, workdir=workdir))
    assert not again["committee"].hasVoted(rid, member.address)
    assert (workdir / f"round-{rid}.json").read_bytes() == journal


def test_a_vote_too_late_to_be_finalized_is_refused_and_nothing_is_sent(world, admin, operator, tmp_path):
    rid, _, targets_dir = open_round(world, admin, operator, tmp_path, seed=7)
    member = world["members"][0]
    nonce = web3.eth.get_transaction_count(member.address)
    deadline = world["tournament"].roundTimes(rid)[2]
    until(deadline - WINDOW + 5)  # a result accepted now would finalise after the deadline
    late = f"round {rid}: too late to vote: .* after the round's results deadline {utc(deadline)} \\(in "
    with pytest.raises(ResultsTooLate, match=late):
        run_operator(world, member, rid, targets_dir, tmp_path / "op")
    assert web3.eth.get_transaction_count(member.address) == nonce  # nothing sent
    scored = (tmp_path / "op" / f"round-{rid}-scores.csv").read_bytes()
    with pytest.raises(StoreNotFound):  # nothing published (the store outlives the chain's snapshots: by hash)
        world["store"].get_score_table(rid, table_hash(scored))


def test_a_vote_the_reward_pool_could_not_pay_is_refused_and_nothing_is_sent(admin, operator, guardian, tmp_path):
    poor = deploy_world(admin, operator, guardian, [funded(admin) for _ in range(3)], tmp_path / "poor", pool=0)
    rid, _, targets_dir = open_round(poor, admin, operator, tmp_path, seed=7)
    member = poor["members"][0]
    nonce = web3.eth.get_transaction_count(member.address)
    with pytest.raises(OracleError, match=f"round {rid} pays .* in rewards but the reward pool holds 0: fund the pool"):
        run_operator(poor, member, rid, targets_dir, tmp_path / "op")
    assert web3.eth.get_transaction_count(member.address) == nonce
    poor["token"].approve(poor["tournament"], 1_000 * 10**18, {"from": admin})
    poor["tournament"].fundRewards(1_000 * 10**18, {"from": admin})
    assert run_operator(poor, member, rid, targets_dir, tmp_path / "op").state == "voting"  # funded: it votes
    assert poor["committee"].hasVoted(rid, member.address)
