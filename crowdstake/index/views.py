"""The participant's read-only views (`crowdstake rounds`, `status`, `scores`) from an index
instead of the chain and the store: the same frames as `Participant.rounds`, `.status` and
`.scores`, column for column (snake_case, token amounts as exact Decimals), as of the index's
cursor block (its chain time is `now`).

Only reads. A round's phase uses the parameters its tournament had when the round opened (the
Round struct's snapshot on-chain); a position's score comes from its round's voted table when
the index stored it (a table it could not fetch leaves the scores empty, as a store without the
table does for `Participant.status`)."""

from __future__ import annotations

import sqlite3

import pandas as pd

from crowdstake._units import to_tokens
from crowdstake.errors import ParticipantError
from crowdstake.index.read import _db, _dicts, cursor_time, round_table
from crowdstake.models import ModelBook
from crowdstake.participant import ROUND_COLUMNS, SCORE_COLUMNS, STATUS_COLUMNS, Scores, position_state, round_phase


def index_now(db) -> int:
    """The chain time of the index's cursor block: what the index knows the clock to be."""
    now = cursor_time(db)
    if now is None:
        raise ParticipantError("the index has indexed no block yet: run `crowdstake index` first")
    return now


def _results_window(db: sqlite3.Connection, round_row) -> int:
    """The results window of the tournament's parameters as the round opened."""
    row = db.execute("SELECT results_window FROM tournament_params WHERE tournament_id = ? AND (block, log_index) < "
                     "(SELECT block, log_index FROM rounds_opened WHERE round_id = ?) "
                     "ORDER BY block DESC, log_index DESC LIMIT 1",
                     (round_row["tournament_id"], round_row["round_id"])).fetchone()
    return int(row["results_window"])


def _phase(db: sqlite3.Connection, r, now: int) -> str:
    return round_phase(now, r["status"] == "finalized", r["close_time"], r["resolve_time"], _results_window(db, r))


def rounds_frame(db, now: int | None = None) -> pd.DataFrame:
    """`Participant.rounds()` from the index."""
    db = _db(db)
    now = index_now(db) if now is None else now
    rows = [{"round": r["round_id"], "tournament": r["tournament_id"], "state": _phase(db, r, now),
             "close_time": r["close_time"], "resolve_time": r["resolve_time"],
             "total_stake": to_tokens(_stake(db, r["round_id"])), "positions": r["staked_positions"],
             "total_reward": to_tokens(int(r["total_reward"] or 0))}
            for r in db.execute("SELECT * FROM rounds ORDER BY round_id").fetchall()]
    return pd.DataFrame(rows, columns=ROUND_COLUMNS)


def _stake(db: sqlite3.Connection, round_id: int) -> int:
    return sum(int(s) for (s,) in db.execute("SELECT stake FROM positions WHERE round_id = ?", (round_id,)))


def _voted(db: sqlite3.Connection, r) -> tuple[str, bool] | None:
    """(the voted table's hash, provisional) when the index stored that table, else None."""
    digest = round_table(db, r["round_id"])
    if digest is None or db.execute("SELECT 1 FROM score_tables WHERE round_id = ? AND table_hash = ? AND "
                                    "status = 'stored'", (r["round_id"], digest)).fetchone() is None:
        return None
    return digest, r["status"] != "finalized"


def _rows(db: sqlite3.Connection, round_id: int, digest: str) -> list[dict]:
    """The table's rows in its own order (the order they were stored in)."""
    return _dicts(db.execute("SELECT * FROM score_rows WHERE round_id = ? AND table_hash = ? ORDER BY rowid",
                             (round_id, digest)))


def _score(value):
    """A stored CORR or MMC as the score table reads it: NaN for a row scored at the floor (NULL)."""
    return float("nan") if value is None else value


def round_kinds(db) -> dict[int, int]:
    """Each round's tournament kind (0 classic, 1 and 2 Signals), round id -> kind."""
    return {r["round_id"]: r["kind"] for r in _db(db).execute(
        "SELECT o.round_id, t.kind FROM rounds_opened o JOIN tournaments t USING (tournament_id)")}


def status_frame(db, address: str, models: ModelBook, now: int | None = None) -> pd.DataFrame:
    """`Participant.status()` for the wallet `address` from the index."""
    db = _db(db)
    now = index_now(db) if now is None else now
    rounds = {r["round_id"]: r for r in db.execute("SELECT * FROM rounds").fetchall()}
    voted: dict[int, tuple[dict, bool] | None] = {}
    out = []
    for p in db.execute("SELECT * FROM positions WHERE lower(staker) = lower(?) AND stake != '0' "
                        "ORDER BY round_id, model_id", (address,)).fetchall():
        rid, r = p["round_id"], rounds[p["round_id"]]
        if rid not in voted:
            table = _voted(db, r)
            voted[rid] = None if table is None else (
                {row["model_id"]: row for row in _rows(db, rid, table[0])
                 if row["staker"].lower() == address.lower()}, table[1])
        scored, provisional = voted[rid] or ({}, False)
        row, claimed = scored.get(p["model_id"]), p["claimed_block"] is not None
        payout = int(p["payout_delta"]) if claimed else (int(row["delta"]) if row else None)
        out.append({
            "round": rid, "model": models.label(bytes.fromhex(p["model_id"][2:])), "stake": to_tokens(int(p["stake"])),
            "state": position_state(_phase(db, r, now), claimed, p["refunded_block"] is not None, provisional),
            "corr": _score(row["corr"]) if row else None, "mmc": _score(row["mmc"]) if row else None,
            "score": row["score"] if row else (p["score"] / 1e6 if claimed else None),
            "payout": None if payout is None else to_tokens(payout), "provisional": bool(row) and provisional,
        })
    return pd.DataFrame(out, columns=STATUS_COLUMNS)


def scores_of(db, round_id: int, me: str, models: ModelBook, now: int | None = None) -> Scores:
    """`Participant.scores(round_id)` from the index, the wallet `me`'s rows first."""
    db = _db(db)
    r = db.execute("SELECT * FROM rounds WHERE round_id = ?", (round_id,)).fetchone()
    if r is None:
        raise ParticipantError(f"round {round_id} is not in the index: index up to it first (`crowdstake index`)")
    table = _voted(db, r)
    if table is None:
        phase = _phase(db, r, index_now(db) if now is None else now)
        raise ParticipantError(f"round {round_id} is {phase} and the index holds no voted score table for it yet: "
                               "the committee votes once the round resolves; `crowdstake index` fetches the table")
    digest, provisional = table
    frame = pd.DataFrame([{
        "staker": row["staker"], "model": models.label(bytes.fromhex(row["model_id"][2:])),
        "stake": to_tokens(int(row["stake"])), "corr": _score(row["corr"]), "mmc": _score(row["mmc"]),
        "score": row["score"], "payout": to_tokens(int(row["delta"])), "reason": row["reason"],
        "mine": row["staker"].lower() == me.lower(),
    } for row in _rows(db, round_id, digest)], columns=SCORE_COLUMNS)
    frame = frame.sort_values(["mine", "score"], ascending=[False, False], kind="stable").reset_index(drop=True)
    return Scores(round_id, provisional, digest, frame)
