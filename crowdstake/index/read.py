"""What the dashboard and the CLI read from an index: plain dicts and lists, amounts as exact
wei text (`stake`, `payout`) beside tokens as floats (`stake_tokens`, ...), hashes and model ids
0x hex, addresses checksummed. Every function takes an open `Index` (`open_index(path)`, read
only, is enough) or a sqlite3 connection to one, and only reads; none raises for an id the
index does not know (None, or an empty list).

A round's score table is the one its finalisation names, else the one its standing accepted
result names (`round_table`); a round whose table is not stored yet has positions without
CORR/MMC (`score_table_status` says why)."""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict

from web3 import Web3

from crowdstake.index.decode import tokens
from crowdstake.index.schema import Index, positions_sql


def _db(db) -> sqlite3.Connection:
    db = db.db if isinstance(db, Index) else db
    db.row_factory = sqlite3.Row
    return db


def _dicts(cursor) -> list[dict]:
    return [dict(row) for row in cursor.fetchall()]


class Kept:
    """The last `size` values put, by key; shared by a server's threads. What is kept here is
    keyed by its index file (`file_of`) and everything it is computed from, so it is never
    stale, only evicted."""

    def __init__(self, size: int):
        self.size, self._values, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
            return self._values.get(key)

    def put(self, key, value):
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value


def file_of(db) -> str:
    """The index file a connection reads: part of every kept value's key, so that two indexes
    served by one process never share one (even where their content hashes agree)."""
    return _db(db).execute("PRAGMA database_list").fetchone()[2]


_STAKES = Kept(4096)  # a round's stake totals (`round_stakes`), small: one per round


def _model_hex(model_id) -> str:
    return "0x" + bytes(model_id).hex() if isinstance(model_id, (bytes, bytearray)) else str(model_id).lower()


def cursor_time(db) -> int | None:
    """The chain time of the index's cursor block (the clock as the index knows it); None
    before it has indexed a block."""
    row = _db(db).execute("SELECT b.timestamp FROM blocks b JOIN meta m ON m.key = 'cursor' "
                          "AND b.number = CAST(m.value AS INTEGER)").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def round_table(db, round_id: int) -> str | None:
    """The score table hash of round `round_id`: the finalised one, else the standing accepted one."""
    db = _db(db)
    row = db.execute("SELECT score_table_hash, accepted_hash FROM rounds WHERE round_id = ?", (round_id,)).fetchone()
    if row is None:
        return None
    if row["score_table_hash"]:
        return row["score_table_hash"]
    if row["accepted_hash"]:
        vote = db.execute("SELECT score_table_hash FROM votes WHERE round_id = ? AND result_hash = ? "
                          "AND score_table_hash IS NOT NULL LIMIT 1", (round_id, row["accepted_hash"])).fetchone()
        return vote["score_table_hash"] if vote else None
    return None


_SCORE_FIELDS = ("corr", "mmc", "table_score", "quantized", "table_delta", "table_delta_tokens", "reason")


def _positions(db: sqlite3.Connection, where: str, args: tuple) -> list[dict]:
    """The positions matching `where` (on `round_id`, `staker`, `model_id`: the `positions`
    view's rows, read through `positions_sql`) with the score row of their round's table, when stored:
    `corr`, `mmc`, `table_score`, `quantized`, `table_delta(_tokens)`, `reason` (None otherwise).
    A table's rows are read once per round (those of the positions' model ids) and matched by
    staker case-insensitively."""
    found = _dicts(db.execute(f"SELECT p.*, r.tournament_id FROM ({positions_sql(where)}) p "
                              f"JOIN rounds_opened r USING (round_id) ORDER BY p.round_id, p.staker, p.model_id",
                              args * 2))
    by_round: dict[int, list[dict]] = {}
    for p in found:
        p.update(dict.fromkeys(_SCORE_FIELDS))
        by_round.setdefault(p["round_id"], []).append(p)
    for rid, positions in by_round.items():
        digest = round_table(db, rid)
        if digest is None:
            continue
        models = sorted({p["model_id"] for p in positions})
        rows = {}
        for i in range(0, len(models), 500):
            chunk = models[i:i + 500]
            for row in db.execute(f"SELECT staker, model_id, corr, mmc, score, quantized, delta, delta_tokens, reason "
                                  f"FROM score_rows WHERE round_id = ? AND table_hash = ? AND model_id IN "
                                  f"({','.join('?' * len(chunk))})", (rid, digest, *chunk)):
                rows[row[0].lower(), row[1]] = tuple(row)[2:]
        for p in positions:
            row = rows.get((p["staker"].lower(), p["model_id"]))
            if row is not None:
                p.update(zip(_SCORE_FIELDS, row))
    return found


_ROUND_COLUMNS = ("round_id", "tournament_id", "dataset_hash", "close_time", "resolve_time", "opened_block",
                  "targets_hash", "extended_results_deadline", "accepted_hash", "dispute_ends_at", "vetoes", "refusals",
                  "root", "score_table_hash", "total_reward", "total_reward_tokens", "leaf_count", "finalized_block",
                  "status")


def round_mark(db, round_id: int) -> tuple:
    """What a round's positions and stakes are computed from, as a key for values kept of them.
    A finalised round: its finalisation's block and hash (its submissions and stakes all came
    before, while it was open, and a reorg that changes any of them changes that hash: blocks
    chain by hash; one that removes the finalisation changes the key). A round not finalised:
    its submission and stake-change counts and its last such event's block hash."""
    db = _db(db)
    final = db.execute("SELECT f.block, b.hash FROM finalizations f LEFT JOIN blocks b ON b.number = f.block "
                       "WHERE f.round_id = ?", (round_id,)).fetchone()
    if final is not None:
        return file_of(db), round_id, "finalized", *tuple(final)
    marks = db.execute("""SELECT (SELECT COUNT(*) FROM submissions WHERE round_id = ?1),
                                 (SELECT COUNT(*) FROM stake_changes WHERE round_id = ?1),
                                 (SELECT MAX(block) FROM (SELECT block FROM submissions WHERE round_id = ?1
                                                          UNION ALL SELECT block FROM stake_changes WHERE round_id = ?1))
                       """, (round_id,)).fetchone()
    last = db.execute("SELECT hash FROM blocks WHERE number = ?", (marks[2],)).fetchone()
    return file_of(db), round_id, *tuple(marks), last[0] if last else None


def round_stakes(db, round_id: int) -> dict:
    """A round's positions (`position_count`: submitted to or staked in), staked positions, and
    its exact total stake and in tokens, from its stake changes in one pass: a position becomes
    staked by an increase from 0 (its new stake equals the amount), unstaked by a decrease to 0.
    Kept under `round_mark`."""
    db = _db(db)
    key = round_mark(db, round_id)
    found = _STAKES.get(key)
    if found is not None:
        return found
    staked, total = 0, 0
    for direction, amount, new_stake in db.execute(
            "SELECT direction, amount, new_stake FROM stake_changes WHERE round_id = ?", (round_id,)):
        if direction > 0:
            staked += amount == new_stake
            total += int(amount)
        else:
            staked -= new_stake == "0"
            total -= int(amount)
    positions = _round_keys(db, round_id)["count"]
    return _STAKES.put(key, {"position_count": positions, "staked_positions": staked, "total_stake": str(total),
                             "total_stake_tokens": tokens(total)})


_KEYS = "SELECT staker, model_id FROM submissions WHERE round_id = ?1 {and_} UNION " \
        "SELECT staker, model_id FROM stake_changes WHERE round_id = ?1 {and_} ORDER BY 1, 2"
MILESTONE = 200  # every this many positions of a round, its key is kept (`_round_keys`)
_KEYS_KEPT = Kept(64)


def _round_keys(db: sqlite3.Connection, round_id: int) -> dict:
    """The round's position count and its milestones: the (staker, model id) of its positions
    0, MILESTONE, 2 × MILESTONE, ... in key order, from one walk along the event tables'
    indexes, kept under `round_mark`. A page from any offset starts from the milestone below
    it instead of counting every position before it."""
    key = round_mark(db, round_id)
    found = _KEYS_KEPT.get(key)
    if found is None:
        keys = db.execute(_KEYS.format(and_=""), (round_id,)).fetchall()
        found = _KEYS_KEPT.put(key, {"count": len(keys), "milestones": [tuple(k) for k in keys[::MILESTONE]]})
    return found


def round_positions(db, round_id: int, offset: int = 0, limit: int | None = None) -> list[dict]:
    """The round's positions with their score rows (as `_positions`), ordered by staker and
    model id; with `limit`, `limit` of them from `offset`: the page's keys are read along the
    event tables' indexes from the kept milestone at or below `offset` (from the start for the
    first pages), and only the positions between its first and last key are read."""
    db = _db(db)
    if limit is None:
        return _positions(db, "round_id = ?", (round_id,))
    if offset < MILESTONE:
        keys = db.execute(_KEYS.format(and_="") + " LIMIT ?2 OFFSET ?3", (round_id, limit, offset)).fetchall()
    else:
        milestones = _round_keys(db, round_id)["milestones"]
        i = offset // MILESTONE
        if i >= len(milestones):
            return []
        skip = offset - i * MILESTONE
        keys = db.execute(_KEYS.format(and_="AND (staker, model_id) >= (?2, ?3)") + " LIMIT ?4",
                          (round_id, *milestones[i], skip + limit)).fetchall()[skip:]
    if not keys:
        return []
    return _positions(db, "round_id = ? AND (staker, model_id) >= (?, ?) AND (staker, model_id) <= (?, ?)",
                      (round_id, *keys[0], *keys[-1]))


def round_detail(db, round_id: int, offset: int = 0, limit: int | None = None) -> dict | None:
    """A round: what the `rounds` view says, its exact total stake (`round_stakes`), its
    positions (with their score rows; with `limit`, that many from `offset`: `round_positions`),
    votes (with their epochs), vetoes, refusals and its score table's status."""
    db = _db(db)
    row = db.execute(f"SELECT {', '.join(_ROUND_COLUMNS)} FROM rounds WHERE round_id = ?", (round_id,)).fetchone()
    if row is None:
        return None
    out = dict(row)
    out.update(round_stakes(db, round_id))
    out["positions"] = round_positions(db, round_id, offset, limit)
    out["positions_offset"], out["positions_limit"] = offset, limit
    out["votes"] = _dicts(db.execute("SELECT * FROM vote_epochs WHERE round_id = ? ORDER BY block, log_index",
                                     (round_id,)))
    out["vetoes"] = _dicts(db.execute("SELECT * FROM vetoes WHERE round_id = ? ORDER BY block, log_index", (round_id,)))
    out["refusals"] = _dicts(db.execute("SELECT * FROM refusals WHERE round_id = ? ORDER BY block, log_index",
                                        (round_id,)))
    out["score_table"] = round_table(db, round_id)
    status = db.execute("SELECT status, attempts, detail FROM score_tables WHERE round_id = ? AND table_hash = ?",
                        (round_id, out["score_table"])).fetchone()
    out["score_table_status"] = dict(status) if status else None
    return out


def leaderboard(db, tournament_id: int, last: int = 20) -> list[dict]:
    """Each (staker, model) of the tournament's last `last` finalised rounds whose score table
    is stored: rounds entered, stake, mean CORR/MMC/score, and the payout summed (exact and in
    tokens), best payout first."""
    db = _db(db)
    rounds = [r["round_id"] for r in db.execute(
        "SELECT round_id FROM rounds WHERE tournament_id = ? AND status = 'finalized' ORDER BY round_id DESC LIMIT ?",
        (tournament_id, last))]
    board: dict[tuple[str, str], dict] = {}
    for rid in rounds:
        for s in db.execute("SELECT * FROM score_rows WHERE round_id = ? AND table_hash = ?", (rid, round_table(db, rid))):
            key = (Web3.to_checksum_address(s["staker"]), s["model_id"])
            entry = board.setdefault(key, {"staker": key[0], "model_id": key[1], "rounds": 0, "stake": 0, "corr": [],
                                           "mmc": [], "score": [], "payout": 0})
            entry["rounds"] += 1
            entry["stake"] += int(s["stake"])
            entry["payout"] += int(s["delta"])
            for k in ("corr", "mmc", "score"):
                if s[k] is not None:  # a row scored at the floor has no CORR or MMC
                    entry[k].append(s[k])
    out = []
    for e in board.values():
        mean = {k: sum(e[k]) / len(e[k]) if e[k] else None for k in ("corr", "mmc", "score")}
        out.append({"staker": e["staker"], "model_id": e["model_id"], "rounds": e["rounds"], "stake": str(e["stake"]),
                    "stake_tokens": tokens(e["stake"]), "mean_corr": mean["corr"], "mean_mmc": mean["mmc"],
                    "mean_score": mean["score"], "payout": str(e["payout"]), "payout_tokens": tokens(e["payout"])})
    return sorted(out, key=lambda e: (-int(e["payout"]), e["staker"].lower(), e["model_id"]))


def model_history(db, model_id, staker: str | None = None) -> list[dict]:
    """Every position of a model id (bytes or 0x hex), by round: stake, state, score, payout;
    only `staker`'s when given (a model id is a name's hash: several stakers may use one)."""
    if staker is None:
        return _positions(_db(db), "model_id = ?", (_model_hex(model_id),))
    return _positions(_db(db), "staker = ? AND model_id = ?",
                      (Web3.to_checksum_address(staker), _model_hex(model_id)))


def wallet_history(db, address: str) -> dict:
    """A wallet's positions, withdrawals, stakes from its internal balance, the payouts credited
    to it, and its internal balance now (exact)."""
    db = _db(db)
    who = Web3.to_checksum_address(address)
    # the stake a credited claim paid back: its position's last stake change (read along the
    # index, not through the `positions` view, which would group every position first)
    credited = _dicts(db.execute(
        """SELECT c.block, c.tx_hash, c.round_id, c.model_id,
                  (SELECT x.new_stake FROM stake_changes x WHERE x.round_id = c.round_id AND x.staker = c.staker
                   AND x.model_id = c.model_id ORDER BY x.block DESC, x.log_index DESC LIMIT 1) AS stake, c.delta
           FROM claims c JOIN claim_batches b ON b.tx_hash = c.tx_hash AND b.credited != '0'
           WHERE c.staker = ? ORDER BY c.block, c.log_index""", (who,)))
    for c in credited:
        c["amount"] = str(int(c["stake"]) + int(c["delta"]))
    withdrawals = _dicts(db.execute("SELECT block, tx_hash, amount, amount_tokens, balance FROM withdrawals "
                                    "WHERE staker = ? ORDER BY block, log_index", (who,)))
    staked = _dicts(db.execute("SELECT block, tx_hash, round_id, model_id, amount, amount_tokens, balance FROM "
                               "balance_stakes WHERE staker = ? ORDER BY block, log_index", (who,)))
    balance = sum(int(c["amount"]) for c in credited) - sum(int(w["amount"]) for w in withdrawals) \
        - sum(int(s["amount"]) for s in staked)
    return {"address": who, "positions": _positions(db, "staker = ?", (who,)), "credited": credited,
            "withdrawals": withdrawals, "staked_from_balance": staked, "internal_balance": str(balance),
            "internal_balance_tokens": tokens(balance)}


def committee(db) -> dict:
    """The committee now: its members, threshold, dispute window (seconds), membership version."""
    db = _db(db)
    state = dict(db.execute("SELECT * FROM committee_state").fetchone())
    state["members"] = [r["member"] for r in db.execute("SELECT member FROM members ORDER BY lower(member)")]
    return state


def status(db) -> dict:
    """The index itself: its deployment, schema version, cursor, and rows per event table."""
    from crowdstake.index.schema import event_tables, meta

    db = _db(db)
    out = meta(db)
    out["events"] = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in event_tables()}
    return out
