"""`crowdstake index` on a real chain: an anvil of this module's own (never brownie's), a
deployment, a round run from entry to claims (a wallet claim, a keeper's batch to internal
balances, a withdrawal, a second round staked from the wallet and from a balance), then:

1. a backfill agrees with the chain's own reads (rounds, positions, votes, committee, balances);
2. an indexer killed inside a page (in-process), SIGKILLed during a backfill and during
   --follow (subprocesses), then restarted, gives the same database as a fresh index, row for row;
3. a reorg (evm_snapshot, new blocks, evm_revert, other blocks) is found and rewound, and the
   index then equals a fresh one;
4. the score table is fetched and checked against the voted hash; a store without it is
   recorded as missing and filled on a later pass; a store with other bytes is not stored;
5. the index's change count moves with rows and rewinds, not with empty blocks;
6. on an anvil of its own that restarts (`--state`), a follower says the node is away, keeps
   polling, and resumes once it is back."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from crowdstake.chain import connect
from crowdstake.chain.deploy import deploy
from crowdstake.chain.localchain import local_chain
from crowdstake.chain.tx import send
from crowdstake.errors import ParticipantError, StoreNotFound
from crowdstake.index import Indexer, identity, leaderboard, open_index, read, schema, views
from crowdstake.models import ModelBook
from crowdstake.oracle.inputs import read_positions
from crowdstake.participant import Participant
from crowdstake.results.merkle import model_id
from crowdstake.results.table import read_table
from crowdstake.store import local_store_for
from support.season import E18, WINDOW, funded, mine, play_season, predictions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("index")
    with local_chain("anvil") as url:
        yield play_season(url, home)


def build(world, path, store=None, **kw):
    with open_index(path, identity(world["contracts"]), write=True) as opened:
        return Indexer(world["contracts"], opened, store, confirmations=kw.pop("confirmations", 0), **kw).sync()


def dump(path) -> dict:
    """Every row of every table whose rows come from the chain or the store, and the cursor."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    out = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4").fetchall() for t in schema.REWOUND}
    out["cursor"] = db.execute("SELECT value FROM meta WHERE key = 'cursor'").fetchone()
    db.close()
    return out


def cursor_of(path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(db.execute("SELECT value FROM meta WHERE key = 'cursor'").fetchone()[0])
        finally:
            db.close()
    except (sqlite3.Error, TypeError):
        return -1


def same_as_fresh(world, path, tmp_path, name="fresh.sqlite3"):
    build(world, tmp_path / name, world["store"])
    ours, fresh = dump(path), dump(tmp_path / name)
    for table in fresh:
        assert ours[table] == fresh[table], table
    events = sum(len(v) for k, v in fresh.items() if k in schema.event_tables())
    assert events >= 30, "too few events to compare anything"
    # every block the index recorded still has that hash on the chain
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    recorded = db.execute("SELECT number, hash, timestamp FROM blocks").fetchall()
    db.close()
    assert recorded
    for number, digest, timestamp in recorded:
        block = world["w3"].eth.get_block(number)
        assert (block["hash"].to_0x_hex(), block["timestamp"]) == (digest, timestamp)  # anvil's logs carry the time


def test_a_backfill_agrees_with_the_chains_own_reads(world, tmp_path, capsys):
    c, w3 = world["contracts"], world["w3"]
    progress = build(world, tmp_path / "i.sqlite3", world["store"])
    blocks = progress.last - progress.first + 1
    with capsys.disabled():
        print(f"\nbackfill: {progress.events} events in {blocks} blocks, {progress.pages} page(s), "
              f"{progress.seconds:.3f} s: {progress.events_per_second:,.0f} events/s")
    assert progress.last == w3.eth.block_number and progress.tables["stored"] == 1
    with open_index(tmp_path / "i.sqlite3", identity(c)) as ix:
        db = ix.db
        assert c.round_count() == 2
        for rid in (1, 2):
            chain, times, mine_ = c.round(rid), c.round_times(rid), read.round_detail(ix, rid)
            assert mine_["dataset_hash"] == "0x" + bytes(chain.datasetHash).hex()
            assert (mine_["close_time"], mine_["resolve_time"]) == (times.closeTime, times.resolveTime)
            assert mine_["total_stake"] == str(chain.totalStake) and mine_["staked_positions"] == chain.stakedPositions
            assert (mine_["status"] == "finalized") == chain.finalized
            if chain.finalized:
                assert mine_["root"] == "0x" + bytes(chain.root).hex()
                assert mine_["score_table_hash"] == "0x" + bytes(chain.scoreTableHash).hex()
                assert mine_["total_reward"] == str(chain.totalReward)
            staked = {(p.staker, "0x" + p.model_id.hex()): (str(p.stake), "0x" + p.predictions_hash.hex())
                      for p in read_positions(c, rid)}
            assert staked == {(p["staker"], p["model_id"]): (p["stake"], p["predictions_hash"])
                              for p in mine_["positions"] if p["stake"] != "0"}
            for p in mine_["positions"]:
                on_chain = c.position(rid, p["staker"], bytes.fromhex(p["model_id"][2:]))
                assert "0x" + bytes(on_chain.predictionsHash).hex() == p["predictions_hash"]
                assert (on_chain.stake == 0) == (p["state"] in ("claimed", "refunded", "unstaked")), p
                if p["state"] == "open":
                    assert str(on_chain.stake) == p["stake"]
        states = sorted(p["state"] for p in read.round_detail(ix, 1)["positions"])
        assert states == ["claimed"] * 4 + ["unstaked"]

        voted = c.logs("Voted", of=c.committee)
        votes = read.round_detail(ix, 1)["votes"]
        assert [(v["member"], v["result_hash"]) for v in votes] == \
            [(e["args"]["member"], "0x" + bytes(e["args"]["resultHash"]).hex()) for e in voted]
        for v, e in zip(votes, voted):
            assert v["gas_used"] == w3.eth.get_transaction_receipt(e["transactionHash"])["gasUsed"] > 0
            assert v["score_table_hash"] == "0x" + bytes(c.round(1).scoreTableHash).hex()
            assert (v["restarts"], v["membership_version"]) == (0, 3)  # the constructor's three MemberAdded
        assert read.round_detail(ix, 1)["accepted_hash"] == "0x" + bytes(c.round_state(1).acceptedHash).hex()

        committee = read.committee(ix)
        assert committee["members"] == sorted(c.deployment["roles"]["members"], key=str.lower)
        cf = c.committee.functions
        assert (committee["threshold"], committee["dispute_window"], committee["member_count"]) == \
            (c.call(cf.threshold()), c.call(cf.disputeWindow()), c.call(cf.memberCount())) == (2, WINDOW, 3)
        for who in world["people"]:
            assert read.wallet_history(ix, who.address)["internal_balance"] == \
                str(c.call(c.tournament.functions.internalBalance(who.address)))
        assert any(int(read.wallet_history(ix, w.address)["internal_balance"]) > 0 for w in world["people"])
        board = leaderboard(ix, 1)
        table = read_table(world["store"].get_score_table(1, c.round(1).scoreTableHash))
        assert sorted((e["staker"], e["payout"]) for e in board) == sorted((r.staker, str(r.delta)) for r in table)
        assert db.execute("SELECT COUNT(*) FROM balance_stakes").fetchone()[0] == 1


def test_the_participants_views_from_the_index_equal_the_chains(world, tmp_path):
    """`rounds`, `status` and `scores` read from an index give the frames the chain and the store
    give, column for column (a claimed, a keeper-paid, a decreased and an open position)."""
    c, store = world["contracts"], world["store"]
    build(world, tmp_path / "i.db", store)
    index = open_index(tmp_path / "i.db")
    book = ModelBook(None)
    book.remember("model")
    reader = Participant(c, world["people"][0], store, book)
    assert views.index_now(index) == reader.now()
    pd.testing.assert_frame_equal(views.rounds_frame(index), reader.rounds())
    on_chain = reader.rounds()  # snake_case, and the totals to the wei (Decimal tokens, not floats)
    assert on_chain["total_stake"].tolist() == [Decimal(c.round(r).totalStake).scaleb(-18) for r in on_chain["round"]]
    assert all(isinstance(v, Decimal) for v in on_chain["total_stake"].tolist() + on_chain["total_reward"].tolist())
    for who in world["people"]:
        p = Participant(c, who, store, book)
        chain = p.status()
        assert len(chain) > 0
        pd.testing.assert_frame_equal(views.status_frame(index, who.address, book), chain)
        mine = views.scores_of(index, 1, who.address, book)
        theirs = p.scores(1)
        assert (mine.provisional, mine.table_hash) == (theirs.provisional, theirs.table_hash)
        pd.testing.assert_frame_equal(mine.table, theirs.table)
    assert set(views.status_frame(index, world["people"][0].address, book)["state"]) >= {"claimed", "open"}
    with pytest.raises(ParticipantError, match="round 2 is open and the index holds no voted score table"):
        views.scores_of(index, 2, world["people"][0].address, book)

    from click.testing import CliRunner

    from crowdstake.cli import main

    shown = CliRunner().invoke(main, ["rounds", "--index", str(tmp_path / "i.db")], terminal_width=200)
    assert shown.exit_code == 0 and "rounds in the index, tournament 1" in shown.output and "  open  " in shown.output, shown.output


def test_killed_inside_a_page_resumes_to_the_same_index(world, tmp_path):
    c = world["contracts"]
    vote_block = c.logs("Voted", of=c.committee)[0]["blockNumber"]

    def die(lo, hi):
        if lo <= vote_block <= hi:
            raise KeyboardInterrupt  # as a kill would: inside the page's transaction

    path = tmp_path / "killed.sqlite3"
    with pytest.raises(KeyboardInterrupt):
        build(world, path, world["store"], page=3, on_page=die)
    with open_index(path, identity(c)) as ix:
        assert vote_block - 3 <= ix.cursor < vote_block
        assert ix.db.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 0
        assert ix.db.execute("SELECT COUNT(*) FROM stake_changes").fetchone()[0] > 0
    build(world, path, world["store"], page=7)  # other page boundaries on the way
    same_as_fresh(world, path, tmp_path)


def cli(world, *args):
    env = {"PATH": os.environ["PATH"], "HOME": str(world["home"]), "CROWDSTAKE_CONFIG": str(world["home"] / "absent"),
           "LANG": "C.UTF-8"}
    return subprocess.Popen([sys.executable, "-m", "crowdstake.cli", "index", "--rpc-url", world["url"],
                             "--deployments", str(world["home"] / "deployments"), "--store",
                             str(world["home"] / "store"), "--confirmations", "0", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_sigkilled_during_backfill_and_during_follow_resumes_to_the_same_index(world, tmp_path):
    w3, c, path = world["w3"], world["contracts"], tmp_path / "sigkill.sqlite3"
    head, start = w3.eth.block_number, c.deployment["deploymentBlock"]
    run = cli(world, "--db", str(path), "--page-blocks", "1")
    wait_for(lambda: cursor_of(path) >= start + (head - start) // 3)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert cursor_of(path) < head, "the backfill finished before the kill: nothing was tested"
    done = cli(world, "--db", str(path))
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    assert out.startswith(f"indexed to block {head}: ") and err == ""
    same_as_fresh(world, path, tmp_path, "fresh1.sqlite3")

    follow = cli(world, "--db", str(path), "--follow", "--poll", "0.1", "--page-blocks", "2")
    try:
        p = Participant(c, world["people"][0], world["store"])
        p.stake(2, "model", 5)
        wait_for(lambda: cursor_of(path) == w3.eth.block_number)
        p.stake(2, "model", 6)
        mine(w3, 30)
        wait_for(lambda: cursor_of(path) > w3.eth.block_number - 25)
        follow.send_signal(signal.SIGKILL)
        follow.wait()
        assert cursor_of(path) < w3.eth.block_number, "the follower caught up before the kill: nothing was tested"
    finally:
        follow.kill()
    done = cli(world, "--db", str(path))
    assert done.wait(120) == 0, done.stderr.read()
    same_as_fresh(world, path, tmp_path, "fresh2.sqlite3")


def test_a_reorg_is_rewound_to_the_fork_and_indexed_again(world, tmp_path):
    w3, c, path = world["w3"], world["contracts"], tmp_path / "reorg.sqlite3"
    build(world, path, world["store"])
    fork = w3.eth.block_number
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    branch_a = Participant(c, world["people"][1], world["store"])
    branch_a.submit(2, "gone", predictions(0.4))
    branch_a.stake(2, "gone", 7)
    mine(w3, 3)
    progress = build(world, path, world["store"])
    assert progress.rewound_to is None and progress.events == 2
    gone = model_id("gone")
    with open_index(path, identity(c)) as ix:
        assert ix.db.execute("SELECT COUNT(*) FROM stake_changes WHERE model_id = ?", ("0x" + gone.hex(),)).fetchone()[0]
    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True
    Participant(c, world["people"][3], world["store"]).submit(2, "kept", predictions(0.6))
    Participant(c, world["people"][3], world["store"]).stake(2, "kept", 9)
    mine(w3, 6)  # a longer branch: its head is past the old one
    progress = build(world, path, world["store"])
    assert progress.rewound_to is not None and progress.rewound_to <= fork
    with open_index(path, identity(c)) as ix:
        assert ix.db.execute("SELECT COUNT(*) FROM stake_changes WHERE model_id = ?", ("0x" + gone.hex(),)).fetchone()[0] == 0
        assert ix.db.execute("SELECT COUNT(*) FROM stake_changes WHERE model_id = ?",
                             ("0x" + model_id("kept").hex(),)).fetchone()[0] == 1
    same_as_fresh(world, path, tmp_path)


def changes_of(path) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT value FROM meta WHERE key = 'changes'").fetchone()[0])
    finally:
        db.close()


def test_the_change_count_moves_with_new_rows_and_rewinds_not_with_empty_blocks(world, tmp_path):
    """What the dashboard's page cache keys on: blocks without events leave `changes` as it
    was (pages stay kept), an event or a rewind moves it."""
    w3, path = world["w3"], tmp_path / "changes.sqlite3"
    build(world, path, world["store"])
    settled = changes_of(path)
    assert settled > 0
    mine(w3, 5)
    assert build(world, path, world["store"]).last == w3.eth.block_number
    assert changes_of(path) == settled
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    Participant(world["contracts"], world["people"][2], world["store"]).submit(2, "counted", predictions(0.3))
    build(world, path, world["store"])
    assert changes_of(path) == settled + 1
    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True
    mine(w3, 3)
    assert build(world, path, world["store"]).rewound_to is not None
    assert changes_of(path) == settled + 2  # the rewind; the blocks after it have no event


def test_confirmations_keep_the_last_blocks_out_until_they_are_that_deep(world, tmp_path):
    """With --confirmations 3 the cursor stops 3 below the head, and an event in the head's
    block reaches the index only once 3 more blocks are on top of it (the command and the
    indexer alike)."""
    w3, c, path = world["w3"], world["contracts"], tmp_path / "deep.sqlite3"

    def funded_rows():
        with open_index(path, identity(c)) as ix:
            return [r[0] for r in ix.db.execute("SELECT tx_hash FROM rewards_funded")]

    assert build(world, path, confirmations=3).last == w3.eth.block_number - 3
    before = funded_rows()
    send(w3, world["bank"], c.token.functions.approve(c.tournament.address, E18))
    tx = send(w3, world["bank"], c.tournament.functions.fundRewards(E18))["transactionHash"].to_0x_hex()
    mined = w3.eth.block_number
    for deeper in range(3):
        assert build(world, path, confirmations=3).last == mined - 3 + deeper
        assert funded_rows() == before, f"indexed {deeper} blocks deep"
        mine(w3, 1)
    run = cli(world, "--db", str(path), "--confirmations", "3")  # the last given wins: 3 here
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0 and out.startswith(f"indexed to block {mined}: "), err
    assert funded_rows() == [*before, tx]


class OtherBytes:
    """A store that answers every score table with bytes of another table."""

    def get_score_table(self, round_id, table_hash=None):
        return b"staker,modelId\n"


def test_score_rows_are_checked_and_a_missing_table_is_filled_later(world, tmp_path):
    c, path = world["contracts"], tmp_path / "scores.sqlite3"
    digest = "0x" + bytes(c.round(1).scoreTableHash).hex()
    empty = local_store_for(tmp_path / "empty-store", c)
    with pytest.raises(StoreNotFound):
        empty.get_score_table(1, c.round(1).scoreTableHash)
    progress = build(world, path, empty)
    assert progress.tables == {"stored": 0, "missing": 1, "mismatch": 0, "malformed": 0}

    def table_state():
        with open_index(path, identity(c)) as ix:
            status = ix.db.execute("SELECT status, attempts FROM score_tables WHERE round_id = 1 AND table_hash = ?",
                                   (digest,)).fetchone()
            rows = ix.db.execute("SELECT staker, model_id, stake, corr, mmc, score, quantized, delta, reason FROM "
                                 "score_rows WHERE round_id = 1 ORDER BY staker, model_id").fetchall()
            return tuple(status), [tuple(r) for r in rows]

    assert table_state() == (("missing", 1), [])
    assert build(world, path, OtherBytes()).tables["mismatch"] == 1
    assert table_state() == (("mismatch", 2), [])
    assert build(world, path, world["store"]).tables["stored"] == 1
    status, rows = table_state()
    expected = sorted((r.staker, "0x" + r.model_id.hex(), str(r.stake), r.corr, r.mmc, r.score, r.quantized,
                       str(r.delta), r.reason) for r in read_table(world["store"].get_score_table(1, digest)))
    assert status == ("stored", 3) and rows == expected and len(rows) == 4
    assert build(world, path, OtherBytes()).tables == {"stored": 0, "missing": 0, "mismatch": 0, "malformed": 0}
    assert table_state() == (("stored", 3), expected)  # a stored table is never fetched again


def test_follow_waits_out_a_node_that_goes_away_and_resumes(tmp_path):
    """An anvil of its own whose chain survives a restart (`--state`): the follower says the node
    is away, keeps polling, and once it is back indexes what came after, as a fresh index does."""
    from crowdstake._server import free_port
    from crowdstake.chain.localchain import _binary

    port, state = free_port(), tmp_path / "state.json"
    url = f"http://127.0.0.1:{port}"

    def start():
        proc = subprocess.Popen([_binary("anvil"), "--port", str(port), "--state", str(state), "--accounts", "10",
                                 "--max-persisted-states", "0", "--silent"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: _answers(url))
        return proc

    node = start()
    follower = None
    try:
        w3 = connect(url)
        bank, members = funded(w3), [funded(w3) for _ in range(3)]
        c = deploy(w3, bank, operator=bank.address, guardian=bank.address, members=[m.address for m in members],
                   threshold=2, dispute_window=WINDOW, treasury=bank.address, directory=tmp_path / "deployments")
        place = {"url": url, "home": tmp_path, "contracts": c, "w3": w3, "store": None}
        (tmp_path / "store").mkdir()
        path, err = tmp_path / "follow.sqlite3", tmp_path / "follow.err"
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CROWDSTAKE_CONFIG": str(tmp_path / "absent")}
        with open(err, "w") as errors:
            follower = subprocess.Popen(
                [sys.executable, "-m", "crowdstake.cli", "index", "--db", str(path), "--rpc-url", url, "--deployments",
                 str(tmp_path / "deployments"), "--confirmations", "0", "--follow", "--poll", "0.2",
                 "--rpc-retries", "2", "--rpc-backoff", "0.1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                stderr=errors)
        wait_for(lambda: cursor_of(path) == w3.eth.block_number)
        node.terminate()
        node.wait(10)
        wait_for(lambda: "trying again in 0.2 s" in err.read_text())
        line = err.read_text().splitlines()[0]
        assert line.startswith(f"the node at {url} did not answer after 2 attempts") and "Traceback" not in line
        assert follower.poll() is None, "the follower gave up"
        node = start()
        w3 = connect(url)
        send(w3, bank, c.token.functions.approve(c.tournament.address, 5 * E18))
        send(w3, bank, c.tournament.functions.fundRewards(5 * E18))
        wait_for(lambda: cursor_of(path) == w3.eth.block_number)
        follower.send_signal(signal.SIGKILL)
        follower.wait()
        place["w3"], place["contracts"] = w3, type(c).of(w3, c.deployment)
        build(place, tmp_path / "fresh.sqlite3")
        ours, fresh = dump(path), dump(tmp_path / "fresh.sqlite3")
        assert ours == fresh and len(fresh["rewards_funded"]) == 1 and len(fresh["member_changes"]) == 3
    finally:
        if follower is not None and follower.poll() is None:
            follower.kill()
        node.terminate()
        node.wait(10)


def _answers(url) -> bool:
    import requests

    try:
        return requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1).ok
    except requests.ConnectionError:
        return False


def test_the_commands_mistakes_are_one_line(world, tmp_path):
    from dataclasses import replace

    other = tmp_path / "other.sqlite3"
    open_index(other, replace(identity(world["contracts"]), tournament="0x" + "12" * 20), write=True).close()
    for args, says in (
        (["--db", str(other)], f"crowdstake: {other} indexes another deployment (chain 31337, Tournament 0x{'12' * 20}"),
        (["--db", str(tmp_path / "no" / "i.sqlite3")], f"crowdstake: cannot write an index at {tmp_path / 'no'}"),
        (["--db", str(tmp_path / "i.sqlite3"), "--page-blocks", "0"], "crowdstake: Invalid value for '--page-blocks'"),
    ):
        run = cli(world, *args)
        out, err = run.communicate(timeout=60)
        assert run.returncode in (1, 2) and out == "" and err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith(says), err
