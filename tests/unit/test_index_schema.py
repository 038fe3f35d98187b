"""The index file without a chain: opening refuses another schema version or another deployment
with one line saying what to do, a second writer is refused, a rewind deletes exactly the rows
above the fork (and the views then show the state at the fork), and the read API on rows
written by hand."""

import sqlite3

import pytest

from crowdstake.errors import ConfigError
from crowdstake.index import read, schema
from crowdstake.index.schema import open_index, rewind
from support.index_rows import ALICE, E18, ident, put, stake, wei


def populate(db):
    """Round 1 opened at block 5, entered at 6, staked up at 7 and 9, finalised at 12, claimed at 14."""
    put(db, "rounds_opened", 5, 0, round_id=1, tournament_id=1, dataset_hash="0x" + "da" * 32, close_time=100,
        resolve_time=200)
    put(db, "submissions", 6, 0, round_id=1, staker=ALICE, model_id="0x01", predictions_hash="0x" + "aa" * 32)
    stake(db, 6, 1, 1, "0x01", 10, 10)
    stake(db, 7, 0, 1, "0x01", 5, 15)
    stake(db, 9, 0, 1, "0x01", 3, 12, direction=-1)
    r, rt = wei(1)
    put(db, "finalizations", 12, 0, round_id=1, root="0x" + "77" * 32, score_table_hash="0x" + "5c" * 32,
        total_reward=r, total_reward_tokens=rt, leaf_count=1)
    d, dt = wei(1)
    put(db, "claims", 14, 0, round_id=1, staker=ALICE, model_id="0x01", score=250_000, delta=d, delta_tokens=dt)
    for b, h in ((6, "0x06"), (7, "0x07"), (9, "0x09"), (12, "0x0c"), (14, "0x0e")):
        db.execute("INSERT INTO blocks (number, hash) VALUES (?, ?)", (b, h))
    db.execute("INSERT INTO score_tables VALUES (1, ?, 12, 'stored', 1, NULL)", ("0x" + "5c" * 32,))
    db.execute("INSERT INTO score_rows VALUES (1, ?, 12, ?, '0x01', ?, 12.0, 0.1, 0.2, 0.25, 250000, ?, 1.0, '')",
               ("0x" + "5c" * 32, ALICE, str(12 * E18), str(E18)))


@pytest.fixture
def index(tmp_path):
    with open_index(tmp_path / "index.sqlite3", ident(), write=True) as opened:
        yield opened


def test_a_new_index_records_the_deployment_and_the_schema_version(index):
    found = schema.meta(index.db)
    assert found["schema_version"] == str(schema.SCHEMA_VERSION)
    assert found["tournament"] == "0x" + "11" * 20 and found["deployment_block_hash"] == "0x" + "ab" * 32
    assert index.cursor == 2  # the block before the deployment block: that one is indexed first
    assert index.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_another_deployments_index_is_refused_in_one_line(tmp_path):
    path = tmp_path / "index.sqlite3"
    open_index(path, ident(), write=True).close()
    for other in (ident(tournament="0x" + "33" * 20), ident(chain_id=1), ident(deployment_block_hash="0x" + "cd" * 32)):
        with pytest.raises(ConfigError) as refused:
            open_index(path, other, write=True)
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith(f"{path} indexes another deployment (chain 31337, Tournament 0x{'11' * 20}")
        assert message.endswith("give another index file, or delete it to index this deployment")
        assert refused.value.setting == "index_file"  # the CLI adds its flag
    open_index(path, ident(), write=True).close()  # its own deployment still opens


@pytest.mark.parametrize("version, says", [
    (0, "this crowdstake writes version 1: delete it and index again (everything in it comes from the chain)"),
    (99, "newer than this crowdstake's 1: upgrade crowdstake, or index into another file"),
])
def test_another_schema_version_is_refused_saying_what_to_do(tmp_path, version, says):
    path = tmp_path / "index.sqlite3"
    with open_index(path, ident(), write=True) as opened:
        opened.db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    for write in (True, False):
        with pytest.raises(ConfigError) as refused:
            open_index(path, ident(), write=write)
        assert str(refused.value) == f"{path} is an index of schema version {version}, and {says}" or \
            str(refused.value) == f"{path} is an index of schema version {version}, {says}"


def test_a_file_that_is_not_an_index_is_refused(tmp_path):
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(ConfigError, match="is not a crowdstake index: give another index file"):
        open_index(other, ident(), write=True)
    with pytest.raises(ConfigError, match="no index at .*: build one first, by indexing the chain") as absent:
        open_index(tmp_path / "absent.sqlite3")
    assert (absent.value.setting, absent.value.hint_values) == ("index_build", {"path": tmp_path / "absent.sqlite3"})


def test_one_writer_at_a_time(tmp_path):
    path = tmp_path / "index.sqlite3"
    with open_index(path, ident(), write=True):
        with pytest.raises(ConfigError, match=r"another indexer is writing .*: let it run, or stop it first"):
            open_index(path, ident(), write=True)
        with open_index(path, ident()) as reader:  # readers are never locked out
            assert reader.cursor == 2
    open_index(path, ident(), write=True).close()


def rows_by_table(db):
    return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in [*schema.REWOUND, "blocks"]}


def test_rewind_deletes_exactly_the_rows_above_the_fork(index):
    db = index.db
    populate(db)
    before = rows_by_table(db)
    deleted = rewind(db, 9)
    after = rows_by_table(db)
    assert deleted["stake_changes"] == 0 and deleted["finalizations"] == 1 and deleted["claims"] == 1
    assert deleted["score_tables"] == deleted["score_rows"] == 1 and deleted["blocks"] == 2
    for table, rows in before.items():
        key = "number" if table == "blocks" else "block"
        assert [tuple(r) for r in after[table]] == [tuple(r) for r in rows if r[key] <= 9], table
    assert index.cursor == 9
    # the views are the state at block 9: the stake as decreased, no longer claimed nor finalised
    p = db.execute("SELECT stake, stake_tokens, state, score FROM positions").fetchone()
    assert tuple(p) == (str(12 * E18), 12.0, "open", None)
    r = db.execute("SELECT status, score_table_hash FROM rounds").fetchone()
    assert tuple(r) == ("opened", None)
    rewind(db, 6)
    assert db.execute("SELECT stake FROM positions").fetchone()[0] == str(10 * E18)


def test_views_and_read_api_on_hand_written_rows(index):
    db = index.db
    populate(db)
    p = db.execute("SELECT * FROM positions").fetchone()
    assert (p["stake"], p["state"], p["score_value"], p["payout_delta"]) == (str(12 * E18), "claimed", 0.25, str(E18))
    detail = read.round_detail(index, 1)
    assert detail["status"] == "finalized" and detail["total_stake"] == str(12 * E18)
    assert detail["staked_positions"] == 1 and detail["score_table_status"]["status"] == "stored"
    assert detail["positions"][0]["corr"] == 0.1 and detail["positions"][0]["reason"] == ""
    board = read.leaderboard(index, 1)
    assert [(e["model_id"], e["rounds"], e["payout"], e["mean_mmc"]) for e in board] == [("0x01", 1, str(E18), 0.2)]
    assert read.leaderboard(index, 2) == [] and read.round_detail(index, 2) is None
    assert [h["round_id"] for h in read.model_history(index, bytes([1]))] == [1]
    wallet = read.wallet_history(index, ALICE.lower())
    assert wallet["internal_balance"] == "0" and len(wallet["positions"]) == 1


def test_the_participants_views_have_snake_case_columns_and_exact_token_amounts(index):
    """`rounds_frame`, `status_frame`, `scores_of`: the columns of Participant.rounds/status/scores,
    token amounts as Decimals to the wei (a float would lose the wei of a 12-token round)."""
    from decimal import Decimal

    from crowdstake.index import views
    from crowdstake.models import ModelBook

    db = index.db
    populate(db)
    put(db, "tournament_params", 4, 0, tournament_id=1, results_window=86400, created=1)
    put(db, "stake_changes", 8, 0, round_id=1, staker="0x" + "22" * 20, model_id="0x02", amount="1", amount_tokens=0.0,
        new_stake="1", new_stake_tokens=0.0, direction=1)  # one wei more in the round
    rounds = views.rounds_frame(db, now=150)
    assert list(rounds.columns) == ["round", "tournament", "state", "close_time", "resolve_time", "total_stake",
                                    "positions", "total_reward"]
    row = rounds.iloc[0]
    assert (row["close_time"], row["resolve_time"], row["state"]) == (100, 200, "finalized")
    assert row["total_stake"] == Decimal("12.000000000000000001") and row["total_reward"] == Decimal(1)
    status = views.status_frame(db, ALICE, ModelBook(None), now=150).iloc[0]
    assert (status["stake"], status["payout"]) == (Decimal(12), Decimal(1))
    scores = views.scores_of(db, 1, ALICE, ModelBook(None), now=150).table.iloc[0]
    assert (scores["stake"], scores["payout"]) == (Decimal(12), Decimal(1))
    for amount in (row["total_stake"], row["total_reward"], status["stake"], status["payout"], scores["stake"],
                   scores["payout"]):
        assert isinstance(amount, Decimal), type(amount)


def test_follow_says_when_the_node_stays_away_and_resumes_at_the_next_poll(monkeypatch):
    from crowdstake.errors import NodeUnavailable
    from crowdstake.index import follow

    outcomes = iter([NodeUnavailable("the node at http://127.0.0.1:8545 did not answer after 6 attempts"), "synced",
                     NodeUnavailable("again"), "synced again"])
    calls, reports, lines = [], [], []

    def sync():
        calls.append(1)
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    indexer = follow.Indexer.__new__(follow.Indexer)
    indexer.sync = sync
    monkeypatch.setattr(follow.time, "sleep", lambda seconds: None)
    indexer.follow(0.5, report=reports.append, log=lines.append, stop=lambda: len(calls) == 4)
    assert reports == ["synced", "synced again"]
    assert lines == ["the node at http://127.0.0.1:8545 did not answer after 6 attempts; trying again in 0.5 s",
                     "again; trying again in 0.5 s"]


def test_an_index_in_a_missing_directory_is_one_line(tmp_path):
    path = tmp_path / "absent" / "index.sqlite3"
    with pytest.raises(ConfigError) as refused:
        open_index(path, ident(), write=True)
    assert str(refused.value) == (f"cannot write an index at {path} (No such file or directory): check that its "
                                  "directory exists and is writable, or give another index file")


def test_a_rounds_pages_from_any_offset_are_slices_of_all_its_positions(index, monkeypatch):
    """Pages start from kept milestones (every MILESTONE-th key, 3 here): each page from each
    offset is that slice of the whole list, while the round is open (a new position moves its
    mark) and once it is finalised (the mark is then its finalisation's block and hash)."""
    db = index.db
    monkeypatch.setattr(read, "MILESTONE", 3)
    put(db, "rounds_opened", 5, 0, round_id=1, tournament_id=1, dataset_hash="0x" + "da" * 32, close_time=100,
        resolve_time=200)
    stakers = [f"0x{i:040X}" for i in (3, 1, 2)]
    for i in range(10):
        staker, model = stakers[i % 3], f"0x{i % 4:02x}"
        put(db, "submissions", 6 + i, 0, round_id=1, staker=staker, model_id=model, predictions_hash="0x" + "aa" * 32)
        if i % 2:
            stake(db, 6 + i, 1, 1, model, 1 + i, 1 + i, staker=staker)
    db.execute("INSERT INTO blocks (number, hash) VALUES (16, '0x10'), (20, '0x14')")

    def check():
        whole = [(p["staker"], p["model_id"]) for p in read.round_positions(db, 1)]
        assert whole == sorted(whole) and len(whole) == len(set(whole)) == read.round_stakes(db, 1)["position_count"]
        for offset in range(len(whole) + 2):
            for limit in (1, 2, 4, 7):
                page = [(p["staker"], p["model_id"]) for p in read.round_positions(db, 1, offset, limit)]
                assert page == whole[offset:offset + limit], (offset, limit)
        return whole

    assert len(check()) == 10
    opened = read.round_mark(db, 1)
    put(db, "submissions", 16, 0, round_id=1, staker=stakers[1], model_id="0x09", predictions_hash="0x" + "ab" * 32)
    assert read.round_mark(db, 1) != opened and len(check()) == 11
    put(db, "finalizations", 20, 0, round_id=1, root="0x" + "77" * 32, score_table_hash="0x" + "5c" * 32,
        total_reward="0", total_reward_tokens=0.0, leaf_count=5)
    final = read.round_mark(db, 1)
    assert final[2:] == ("finalized", 20, "0x14") and len(check()) == 11
    db.execute("UPDATE blocks SET hash = '0x15' WHERE number = 20")  # another branch's block at that height
    assert read.round_mark(db, 1) != final
