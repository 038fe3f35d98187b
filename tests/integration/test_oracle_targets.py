"""The oracle scores the targets a round commits on-chain, and no other bytes: `run`, `watch` and
`verify` fetch them from the store by their hash; an operator's own `--targets DIR` is used only
when it hashes to the same; a store that serves other bytes, or none, is refused with one line,
and nothing is sent. A round with no committed hash is scored from `--targets DIR` as before.
Each test deploys its own world, so its store holds one round's targets per round number."""

import threading
import time

import pytest
from brownie import web3
from support.world import deploy_world, funded, open_round, run_operator, until

from crowdstake import oracle
from crowdstake.chain.tx import send
from crowdstake.config import OracleSettings
from crowdstake.errors import OracleError
from crowdstake.fund.operations import Fund
from crowdstake.results.table import table_hash


@pytest.fixture
def world(admin, operator, guardian, tmp_path):
    fresh = deploy_world(admin, operator, guardian, [funded(admin) for _ in range(3)], tmp_path / "world")
    fund = funded(admin)
    fresh["tournament"].grantRole(fresh["tournament"].OPERATOR_ROLE(), fund.address, {"from": admin})
    fresh["fund"] = fund
    return fresh


@pytest.fixture
def resolved(world, admin, operator, tmp_path):
    """A resolved round, its targets in the fund's own directory, not committed yet."""
    rid, _, targets_dir = open_round(world, admin, operator, tmp_path, seed=11)
    return rid, targets_dir


def commit(world, rid, targets_dir):
    """What `crowdstake fund publish-targets` does: the file into the store, its hash on-chain."""
    done = Fund(world["protocol"], world["fund"], world["store"]).publish_targets(rid, targets_dir / f"{rid}.csv")
    return bytes.fromhex(done.targets_hash[2:])


def flipped(targets_dir, rid, into):
    """Another targets file for the same round (every target t becomes 1 - t)."""
    lines = (targets_dir / f"{rid}.csv").read_text().splitlines()
    into.mkdir(exist_ok=True)
    rows = [f"{line.rsplit(',', 1)[0]},{1 - float(line.rsplit(',', 1)[1])}" for line in lines[1:]]
    (into / f"{rid}.csv").write_text("\n".join(lines[:1] + rows) + "\n")
    return into


def test_committed_targets_are_fetched_from_the_store(world, resolved, tmp_path):
    rid, targets_dir = resolved
    digest = commit(world, rid, targets_dir)
    mine = run_operator(world, world["members"][1], rid, targets_dir, tmp_path / "own", dry_run=True)
    summary = run_operator(world, world["members"][0], rid, None, tmp_path / "op")  # no --targets: the store's
    assert summary.state == "voting" and summary.root == mine.root  # the same bytes: the same root
    assert world["committee"].hasVoted(rid, world["members"][0].address)
    assert world["store"].get_targets(rid) == (targets_dir / f"{rid}.csv").read_bytes()
    assert bytes(world["tournament"].round(rid)["targetsHash"]) == digest
    elsewhere = tmp_path / "others"  # an own directory without this round's file: the store's are scored
    elsewhere.mkdir()
    assert run_operator(world, world["members"][2], rid, elsewhere, tmp_path / "op2", dry_run=True).root == mine.root


def test_an_own_targets_file_other_than_the_committed_one_is_refused(world, resolved, tmp_path):
    rid, targets_dir = resolved
    digest = commit(world, rid, targets_dir)
    other = flipped(targets_dir, rid, tmp_path / "other")
    member = world["members"][0]
    nonce = web3.eth.get_transaction_count(member.address)
    with pytest.raises(OracleError, match=f"{other / f'{rid}.csv'} hashes to 0x[0-9a-f]{{64}}, but round {rid} commits "
                                          f"the targets 0x{digest.hex()} on-chain: use the file the fund published"):
        run_operator(world, member, rid, other, tmp_path / "op")
    assert web3.eth.get_transaction_count(member.address) == nonce  # nothing sent


def test_a_store_without_the_committed_targets_is_refused(world, resolved, tmp_path):
    rid, targets_dir = resolved
    digest = commit(world, rid, targets_dir)
    (world["home"] / "store" / "rounds" / str(rid) / "targets.csv").write_text("id,target\nx,1\ny,0\n")  # altered
    with pytest.raises(OracleError, match=f"round {rid} commits the targets 0x{digest.hex()} on-chain, but the store "
                                          "does not have them .*no targets with hash"):
        run_operator(world, world["members"][0], rid, None, tmp_path / "op")


class Lying:
    """A store that answers every targets request with other bytes."""

    def __init__(self, store, data):
        self.store, self.data = store, data

    def get_targets(self, round_id, targets_hash=None):
        return self.data

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_a_store_serving_other_bytes_is_refused(world, resolved, tmp_path):
    rid, targets_dir = resolved
    digest = commit(world, rid, targets_dir)
    liar = Lying(world["store"], (flipped(targets_dir, rid, tmp_path / "other") / f"{rid}.csv").read_bytes())
    with pytest.raises(OracleError, match=f"the store's targets for round {rid} hash to 0x[0-9a-f]{{64}}, not the "
                                          f"0x{digest.hex()} committed on-chain: use another store"):
        oracle.run_round(world["protocol"], world["members"][0], liar, rid, OracleSettings(workdir=tmp_path / "op"))


def test_without_a_committed_hash_the_own_targets_are_scored_and_nothing_else(world, resolved, tmp_path):
    rid, targets_dir = resolved
    with pytest.raises(OracleError, match=f"round {rid} has no targets committed on-chain yet: the fund publishes them"):
        run_operator(world, world["members"][0], rid, None, tmp_path / "op")
    assert run_operator(world, world["members"][0], rid, targets_dir, tmp_path / "op").state == "voting"


def test_a_result_scored_before_the_fund_committed_other_targets_is_scored_again(world, resolved, tmp_path):
    rid, targets_dir = resolved
    member, workdir = world["members"][0], tmp_path / "op"
    early = run_operator(world, member, rid, flipped(targets_dir, rid, tmp_path / "guess"), workdir, dry_run=True)
    commit(world, rid, targets_dir)  # the fund commits the real ones
    summary = run_operator(world, member, rid, None, workdir)
    right = run_operator(world, world["members"][1], rid, targets_dir, tmp_path / "op1", dry_run=True)
    assert summary.root == right.root != early.root
    table = (workdir / f"round-{rid}-scores.csv").read_bytes()
    assert world["store"].get_score_table(rid, table_hash(table)) == table  # the new table was published


def test_verify_recomputes_a_round_from_the_chain_and_the_store_alone(world, resolved, tmp_path):
    rid, targets_dir = resolved
    commit(world, rid, targets_dir)
    for i, member in enumerate(world["members"][:2]):
        run_operator(world, member, rid, None, tmp_path / f"op{i}")
    report = oracle.verify_round(world["protocol"], world["store"], rid)
    assert report.matches and report.differences == []
    with pytest.raises(OracleError, match="but round .* commits the targets"):
        oracle.verify_round(world["protocol"], world["store"], rid, flipped(targets_dir, rid, tmp_path / "other"))


def test_verify_exposes_an_honest_root_voted_with_a_low_reward(world, resolved, tmp_path):
    rid, targets_dir = resolved
    commit(world, rid, targets_dir)
    honest = oracle.compute_result(world["protocol"], world["store"], rid,
                                   oracle.round_targets(world["protocol"], world["store"], rid).values)
    assert honest.total_reward > 0
    root, table, reward, leaves = honest.vote
    protocol = world["protocol"]
    for member in world["members"][:2]:  # a quorum: the honest tree and table, half the reward declared
        send(protocol.w3, member, protocol.committee.functions.vote(rid, (root, table, reward // 2, leaves)))
    report = oracle.verify_round(world["protocol"], world["store"], rid)
    assert not report.matches and report.differences == []  # every leaf is right: only the total is not
    assert report.recomputed_root == report.onchain_root
    assert report.mismatches == [f"totalReward (wei): declared {reward // 2}, recomputed {reward}"]


def test_watch_waits_for_the_committed_targets_then_scores_them(world, resolved, tmp_path):
    rid, targets_dir = resolved
    errors, logs = [], []

    def watch(i):
        try:
            oracle.watch(world["protocol"], world["members"][i], world["store"],
                         OracleSettings(workdir=tmp_path / f"w{i}", interval=0.2), rounds_limit=rid, log=logs.append)
        except Exception as e:  # reported below: a thread's failure must fail the test
            errors.append(e)

    threads = [threading.Thread(target=watch, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    time.sleep(1.5)  # resolved, but no targets committed: nothing is scored
    assert not any((tmp_path / f"w{i}" / f"round-{rid}-scores.csv").exists() for i in range(2))
    commit(world, rid, targets_dir)
    for _ in range(300):
        if world["committee"].roundState(rid)["disputeEndsAt"]:
            break
        time.sleep(0.1)
    until(world["committee"].roundState(rid)["disputeEndsAt"])  # the dispute window passes
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    assert world["tournament"].round(rid)["finalized"]
    assert any("with the targets from the store" in line for line in logs)
