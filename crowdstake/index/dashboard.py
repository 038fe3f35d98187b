"""What the dashboard's pages show, read from an index: one function per page, each returning
plain dicts (the same dicts `/api/...` answers). Built on `crowdstake.index.read` (round detail,
histories, the committee) and adding what a page needs beyond it: standings per tournament (by
model or by participant, over the last N resolved rounds and over all), a round's timeline with
block times and its payout factor, cumulative payout series, votes and gas per round.

Conventions as in `read`: exact amounts are wei text beside `_tokens` floats, hashes 0x hex,
addresses checksummed, times unix seconds (None when not known yet). No function raises for an
id the index does not know: it answers None.

A *resolved* round is one whose score table (`read.round_table`) is stored; standings count
only those. A position's payout is its score row's delta (a burn when negative), whether or not
it has been claimed yet; "stake now" is the stake of the positions still open (neither claimed,
refunded nor unstaked)."""

from __future__ import annotations

import sqlite3

from crowdstake.index import read
from crowdstake.index.decode import tokens
from crowdstake.results.payout import WAD, payout_factor

SCORES = ("corr", "mmc", "score")  # the score table's scores, averaged over the rows that have them
SORTS = ("rank", "stake_now", "rounds", "corr_recent", "mmc_recent", "score_recent", "corr_all", "mmc_all",
         "score_all", "payout", "burns")


def _db(db) -> sqlite3.Connection:
    return read._db(db)


_RANKED = read.Kept(4)  # standings by what they are computed from (`standings`)
_TABLE_TOTALS = read.Kept(256)  # a stored score table's reward and burn (`table_totals`)


def tournaments(db) -> list[dict]:
    """Every tournament's current parameters."""
    return read._dicts(_db(db).execute("SELECT * FROM tournaments ORDER BY tournament_id"))


def resolved_rounds(db, tournament_id: int) -> list[tuple[int, str]]:
    """(round, table hash) of the tournament's rounds whose score table is stored, newest first."""
    db = _db(db)
    out = []
    for (rid,) in db.execute("SELECT round_id FROM rounds_opened WHERE tournament_id = ? ORDER BY round_id DESC",
                             (tournament_id,)).fetchall():
        digest = read.round_table(db, rid)
        if digest and db.execute("SELECT 1 FROM score_tables WHERE round_id = ? AND table_hash = ? AND "
                                 "status = 'stored'", (rid, digest)).fetchone():
            out.append((rid, digest))
    return out


def _open_stakes(db: sqlite3.Connection, tournament_id: int) -> dict[tuple[str, str], int]:
    """The stake of each (staker, model) in the tournament's positions still open (neither
    claimed, refunded nor unstaked), summed over rounds. Only rounds that may hold one are read:
    those not finalised, and finalised ones with fewer claims than leaves (every staked
    position is a leaf, and each is settled by one Claimed)."""
    out: dict[tuple[str, str], int] = {}
    rounds = [r[0] for r in db.execute(
        """SELECT o.round_id FROM rounds_opened o LEFT JOIN finalizations f USING (round_id)
           WHERE o.tournament_id = ? AND (f.block IS NULL OR
                 (SELECT COUNT(*) FROM claims c WHERE c.round_id = o.round_id) < f.leaf_count)""", (tournament_id,))]
    for rid in rounds:
        # each position's last stake change (SQLite takes the bare columns from the MAX row)
        for staker, model, stake in db.execute(
                """SELECT staker, model_id, new_stake FROM
                   (SELECT staker, model_id, new_stake, MAX(block * 4294967296 + log_index) FROM stake_changes
                    WHERE round_id = ?1 GROUP BY staker, model_id) l
                   WHERE new_stake != '0'
                     AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.round_id = ?1 AND c.staker = l.staker
                                     AND c.model_id = l.model_id)
                     AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.round_id = ?1 AND r.staker = l.staker
                                     AND r.model_id = l.model_id)""", (rid,)):
            out[staker, model] = out.get((staker, model), 0) + int(stake)
    return out


def _tallies(db: sqlite3.Connection, resolved: list[tuple[int, str]], last: int,
             open_stakes: dict[tuple[str, str], int]) -> dict[tuple[str, str], dict]:
    """Per (staker, model): stake now, rounds scored, payout, burns, and for each of CORR, MMC
    and score [sum, count, sum over the last `last` resolved rounds, count there]. Score rows
    carry checksummed stakers (`scores` writes them so), as positions do."""
    board: dict[tuple[str, str], dict] = {}

    def entry(key: tuple[str, str]) -> dict:
        if key not in board:
            board[key] = {"stake_now": 0, "rounds": 0, "payout": 0, "burns": 0,
                          "sums": {k: [0.0, 0, 0.0, 0] for k in SCORES}}
        return board[key]

    if resolved:
        pairs = ", ".join("(?, ?)" for _ in resolved)
        oldest_recent = min(rid for rid, _ in resolved[:last])
        # Sums and counts in SQL, each over the rows that have the score (a row scored at the
        # floor has no CORR or MMC); the exact payouts (wei text, beyond SQLite's integers) here.
        per_score = ", ".join(f"TOTAL(s.{k}), COUNT(s.{k}), TOTAL(CASE WHEN s.round_id >= ? THEN s.{k} END), "
                              f"COUNT(CASE WHEN s.round_id >= ? THEN s.{k} END)" for k in SCORES)
        for staker, model, n, deltas, *sums in db.execute(
                f"""WITH t(round_id, table_hash) AS (VALUES {pairs})
                    SELECT s.staker, s.model_id, COUNT(*), GROUP_CONCAT(s.delta), {per_score}
                    FROM score_rows s JOIN t ON s.round_id = t.round_id AND s.table_hash = t.table_hash
                    GROUP BY s.staker, s.model_id""",
                (*(x for pair in resolved for x in pair), *([oldest_recent] * 2 * len(SCORES)))):
            amounts = [int(d) for d in deltas.split(",")]
            board[staker, model] = {  # one row per (staker, model): set, not added
                "stake_now": 0, "rounds": n, "payout": sum(amounts), "burns": -sum(d for d in amounts if d < 0),
                "sums": {k: sums[4 * i:4 * i + 4] for i, k in enumerate(SCORES)}}
    for key, stake in open_stakes.items():
        entry(key)["stake_now"] += stake
    return board


def _merged(board: dict[tuple[str, str], dict]) -> dict[tuple[str, None], dict]:
    """The tallies of each staker's models added up."""
    out: dict[tuple[str, None], dict] = {}
    for (staker, _), e in board.items():
        m = out.setdefault((staker, None), {"stake_now": 0, "rounds": 0, "payout": 0, "burns": 0,
                                            "sums": {k: [0.0, 0, 0.0, 0] for k in SCORES}})
        for k in ("stake_now", "rounds", "payout", "burns"):
            m[k] += e[k]
        for k, t in e["sums"].items():
            m["sums"][k] = [a + b for a, b in zip(m["sums"][k], t)]
    return out


def _rows(board: dict[tuple, dict]) -> list[dict]:
    """The tallies as rows, ranked by payout (then stake now, staker, model)."""
    rows = []
    for (staker, model), e in board.items():
        row = {"staker": staker, "model_id": model, "rounds": e["rounds"]}
        if model is None:
            del row["model_id"]
        for k, (total, n, recent_total, recent_n) in e["sums"].items():
            row[f"{k}_recent"] = recent_total / recent_n if recent_n else None
            row[f"{k}_all"] = total / n if n else None
        for k in ("stake_now", "payout", "burns"):
            row[k], row[f"{k}_tokens"] = str(e[k]), tokens(e[k])
        rows.append(row)
    rows.sort(key=lambda r: (-int(r["payout"]), -int(r["stake_now"]), r["staker"].lower(), r.get("model_id") or ""))
    for i, row in enumerate(rows, 1):
        row["rank"] = i
    return rows


def sorted_by(rows: list[dict], sort: str) -> list[dict]:
    """Standings rows, given in rank order (as `standings` ranks them), in the order of `sort`
    (one of SORTS): descending, `rank` ascending; rows without a value (no resolved round) last;
    ties keep the rank order (the sort is stable)."""
    if sort not in SORTS:
        raise ValueError(f"sort by {sort!r}: one of {', '.join(SORTS)}")
    if sort == "rank":
        return list(rows)
    column = sort if sort == "rounds" or sort.endswith(("_recent", "_all")) else f"{sort}_tokens"
    return sorted(rows, key=lambda r: (r[column] is None, -(r[column] or 0)))


def standings(db, tournament_id: int, last: int = 20, sort: str = "rank") -> dict[str, list[dict]]:
    """The tournament's standings, `models` (one row per staker and model id) and
    `participants` (one per staker): rank (by cumulative payout, best first), stake now, rounds
    taken part in (resolved; a participant's counts each model), mean CORR/MMC/score over the
    last `last` resolved rounds (`*_recent`) and over all (`*_all`), cumulative payout and burns
    (exact and tokens). `sort` is one of SORTS (descending, `rank` ascending); the rank stays.

    Kept (`_RANKED`) under what they are computed from: the resolved (round, table hash) pairs,
    whose stored rows never change (a table is its hash's bytes), and the open stakes. So a
    stake, a vote or a claim elsewhere costs only reading those two again; a newly resolved
    round, or a changed open stake, reads the score rows again."""
    db = _db(db)
    resolved, open_stakes = resolved_rounds(db, tournament_id), _open_stakes(db, tournament_id)
    key = (read.file_of(db), tournament_id, last, tuple(resolved), tuple(sorted(open_stakes.items())))
    ranked = _RANKED.get(key)
    if ranked is None:
        board = _tallies(db, resolved, last, open_stakes)
        ranked = _RANKED.put(key, {"models": _rows(board), "participants": _rows(_merged(board)), "orders": {}})
    orders = ranked["orders"]  # each order sorted once, when first asked for
    for table in ("models", "participants"):
        if (table, sort) not in orders:
            orders[table, sort] = sorted_by(ranked[table], sort)
    return {"models": orders["models", sort], "participants": orders["participants", sort]}


def leaderboard_page(db, sort: str = "rank", last: int = 20) -> dict:
    """The `/` page: for every tournament, its parameters, resolved rounds, and its standings by
    model and by participant, sorted by `sort`."""
    out = []
    for t in tournaments(db):
        tid = t["tournament_id"]
        out.append({"tournament": t, "resolved_rounds": [rid for rid, _ in resolved_rounds(db, tid)],
                    **standings(db, tid, last, sort)})
    return {"sort": sort, "last": last, "tournaments": out}


def block_times(db, blocks) -> dict[int, int | None]:
    """The timestamp of each block the index recorded (None for one it has no time for)."""
    blocks = sorted({b for b in blocks if b is not None})
    db = _db(db)
    out = {}
    for i in range(0, len(blocks), 500):
        chunk = blocks[i:i + 500]
        out.update(db.execute(f"SELECT number, timestamp FROM blocks WHERE number IN ({','.join('?' * len(chunk))})",
                              chunk).fetchall())
    return {b: out.get(b) for b in blocks}


def rounds_list(db) -> list[dict]:
    """Every round, newest first: tournament, status, times, staked positions, stake, reward."""
    db = _db(db)
    rows = read._dicts(db.execute(
        "SELECT o.round_id, o.tournament_id, o.close_time, o.resolve_time, o.block AS opened_block, "
        "f.block AS finalized_block, f.total_reward, f.total_reward_tokens, f.leaf_count, "
        "(SELECT COUNT(*) FROM acceptances a WHERE a.round_id = o.round_id) AS acceptances, "
        "(SELECT COUNT(*) FROM vetoes v WHERE v.round_id = o.round_id) AS vetoes, "
        "(SELECT COUNT(*) FROM refusals v WHERE v.round_id = o.round_id) AS refusals "
        "FROM rounds_opened o LEFT JOIN finalizations f USING (round_id) ORDER BY o.round_id DESC"))
    times = block_times(db, [r["opened_block"] for r in rows] + [r["finalized_block"] for r in rows])
    for r in rows:
        stakes = read.round_stakes(db, r["round_id"])
        r["staked_positions"], r["total_stake_tokens"] = stakes["staked_positions"], stakes["total_stake_tokens"]
        r["opened_at"] = times.get(r["opened_block"])
        r["finalized_at"] = times.get(r["finalized_block"])
        r["status"] = "finalized" if r["finalized_block"] is not None else (
            "accepted" if r["acceptances"] > r["vetoes"] + r["refusals"] else "opened")  # each undoes one
    return rows


def table_totals(db, round_id: int, table: str | None) -> dict:
    """The reward (gains) and burn (losses) of a round's stored score table, and its rows; kept
    by (round, table hash): a stored table's rows are its hash's bytes, they never change."""
    if table is None:
        return {"reward": 0, "burn": 0, "rows": 0}
    key = (read.file_of(db), round_id, table)
    found = _TABLE_TOTALS.get(key)
    if found is None:
        deltas = [int(d) for (d,) in _db(db).execute("SELECT delta FROM score_rows WHERE round_id = ? AND "
                                                     "table_hash = ?", (round_id, table))]
        found = {"reward": sum(d for d in deltas if d > 0), "burn": -sum(d for d in deltas if d < 0),
                 "rows": len(deltas)}
        if deltas:  # an empty answer may be a table not stored yet: not kept
            _TABLE_TOTALS.put(key, found)
    return found


def _moment(event: str, time, block=None, log_index=None, **more) -> dict:
    return {"event": event, "time": time, "block": block, "log_index": log_index, **more}


def timeline(detail: dict, times: dict, accepted: list[dict], later: dict[str, list[dict]]) -> list[dict]:
    """A round's moments in the order they happen: by time, and at the same second a scheduled
    one (closes, resolves, dispute ends: no block; the contract counts a deadline as passed at
    its second) before the block's events, these in block and log order. Moments not reached
    yet (no time) come last, in the order a round goes through them."""
    out = [_moment("opened", times.get(detail["opened_block"]), detail["opened_block"], -1),
           _moment("closes", detail["close_time"]), _moment("resolves", detail["resolve_time"])]
    out += [_moment(f"vote by {v['member']}", v["time"], v["block"], v["log_index"]) for v in detail["votes"]]
    out += [_moment(f"veto of {v['result_hash']}", v["time"], v["block"], v["log_index"]) for v in detail["vetoes"]]
    out += [_moment(f"refusal of {v['result_hash']}", v["time"], v["block"], v["log_index"])
            for v in detail["refusals"]]
    out += [_moment("accepted", a["time"], a["block"], a["log_index"]) for a in accepted]
    out += [_moment("targets published", t["time"], t["block"], t["log_index"]) for t in later["targets"]]
    out += [_moment("results deadline extended", x["time"], x["block"], x["log_index"], until=x["results_deadline"])
            for x in later["deadline_extensions"]]
    out += [_moment("dispute ends", detail["dispute_ends_at"]),
            _moment("finalized", times.get(detail["finalized_block"]), detail["finalized_block"], 1 << 30)]
    return sorted(out, key=lambda m: (m["time"] is None, m["time"] or 0, m["block"] is not None, m["block"] or 0,
                                      m["log_index"] or 0))


def with_countdowns(db, page: dict | None) -> dict | None:
    """A round page (`round_page`) with the index's chain time (`now`: its cursor block's, None
    before any) and, on each timeline moment, `in_seconds` (its time minus `now`: negative
    when past). Read apart from the page's data, which is kept while the index's rows stand:
    empty blocks move the cursor and so the clock, not the rows."""
    if page is None:
        return None
    now = read.cursor_time(db)
    moments = [{**m, "in_seconds": None if now is None or m["time"] is None else m["time"] - now}
               for m in page["timeline"]]
    return {**page, "now": now, "timeline": moments}


def round_page(db, round_id: int, offset: int = 0, limit: int | None = None) -> dict | None:
    """The `/rounds/{id}` page: `read.round_detail` (its positions: `limit` from `offset`, or
    all), plus its tournament's parameters, the timeline (`timeline`: opened, closes, resolves,
    each vote, veto, refusal and acceptance, targets published, a results deadline extended (to
    `until`), dispute ends, finalised; unix seconds, None when not reached), the payout factor
    (WAD and as a float), the totals of its score table (reward, burn), and settlement progress
    (settled: claimed or refunded / staked positions)."""
    db = _db(db)
    detail = read.round_detail(db, round_id, offset, limit)
    if detail is None:
        return None
    params = db.execute("SELECT * FROM tournaments WHERE tournament_id = ?", (detail["tournament_id"],)).fetchone()
    detail["tournament"] = dict(params) if params else None
    accepted = read._dicts(db.execute("SELECT block, log_index, result_hash, dispute_ends_at FROM acceptances "
                                      "WHERE round_id = ? ORDER BY block, log_index", (round_id,)))
    later = {table: read._dicts(db.execute(f"SELECT * FROM {table} WHERE round_id = ? ORDER BY block, log_index",
                                           (round_id,))) for table in ("targets", "deadline_extensions")}
    events = detail["votes"] + detail["vetoes"] + detail["refusals"] + accepted + sum(later.values(), [])
    times = block_times(db, [detail["opened_block"], detail["finalized_block"]] + [v["block"] for v in events])
    for v in events:
        v["time"] = times.get(v["block"])
    detail["accepted"] = accepted
    detail["timeline"] = timeline(detail, times, accepted, later)
    settled = db.execute("SELECT (SELECT COUNT(*) FROM claims WHERE round_id = ?1) + "
                         "(SELECT COUNT(*) FROM refunds WHERE round_id = ?1)", (round_id,)).fetchone()[0]
    detail["settlement"] = {"settled": settled, "staked": detail["staked_positions"]}
    detail["payout_factor"] = None
    if detail["tournament"] is not None:
        factor = payout_factor(int(detail["tournament"]["threshold"]), int(detail["total_stake"]))
        detail["payout_factor"] = {"wad": str(factor), "value": factor / WAD}
    stored = detail["score_table_status"] and detail["score_table_status"]["status"] == "stored"
    scored = table_totals(db, round_id, detail["score_table"] if stored else None)
    detail["totals"] = {"stake": detail["total_stake"], "stake_tokens": tokens(int(detail["total_stake"])),
                        "reward": str(scored["reward"]), "reward_tokens": tokens(scored["reward"]),
                        "burn": str(scored["burn"]), "burn_tokens": tokens(scored["burn"]),
                        "scored_positions": scored["rows"]}
    return detail


def _with_cumulative(positions: list[dict]) -> list[dict]:
    """Each position with `cumulative_payout_tokens`: its series' (staker, model) payouts so far,
    counting scored positions only."""
    running: dict[tuple, float] = {}
    for p in positions:
        key = (p["staker"], p["model_id"])
        running[key] = running.get(key, 0.0) + (p["table_delta_tokens"] or 0.0)
        p["cumulative_payout_tokens"] = running[key]
    return positions


def _kinds(db, positions: list[dict]) -> dict[int, int]:
    """The kind (an index of `crowdstake.fund.params.KINDS`) of each tournament of `positions`:
    what a page calls its two scores (CORR and MMC, alpha and MPC)."""
    ids = sorted({p["tournament_id"] for p in positions})
    return {tid: kind for tid, kind in _db(db).execute(
        f"SELECT tournament_id, kind FROM tournaments WHERE tournament_id IN ({','.join('?' * len(ids))})", ids)}


def model_page(db, model_id: str, staker: str | None = None) -> dict | None:
    """The `/models/{model_id}` page: the model id's positions round by round (of one staker
    when given), each with its cumulative payout, and the kind of each of their tournaments
    (`kinds`); None when the index has none."""
    history = read.model_history(db, model_id, staker)
    if not history:
        return None
    return {"model_id": read._model_hex(model_id), "staker": staker, "positions": _with_cumulative(history),
            "stakers": sorted({p["staker"] for p in history}, key=str.lower), "kinds": _kinds(db, history)}


def wallet_page(db, address: str) -> dict | None:
    """The `/wallets/{address}` page: `read.wallet_history` with cumulative payouts per model
    and the kind of each of its tournaments (`kinds`); None when the index knows nothing of the
    address."""
    wallet = read.wallet_history(db, address)
    if not (wallet["positions"] or wallet["credited"] or wallet["withdrawals"] or wallet["staked_from_balance"]):
        return None
    _with_cumulative(wallet["positions"])
    wallet["kinds"] = _kinds(db, wallet["positions"])
    return wallet


def committee_page(db) -> dict:
    """The `/committee` page: `read.committee`, and per round its votes (member, result, tally,
    gas), acceptances and vetoes, the gas its votes cost in all."""
    db = _db(db)
    out = read.committee(db)
    votes = read._dicts(db.execute("SELECT round_id, block, member, result_hash, votes, gas_used, restarts, "
                                   "membership_version FROM vote_epochs ORDER BY block, log_index"))
    vetoes = read._dicts(db.execute("SELECT round_id, block, result_hash, vetoes FROM vetoes ORDER BY block, log_index"))
    times = block_times(db, [v["block"] for v in votes + vetoes])
    rounds: dict[int, dict] = {}
    for v in votes:
        v["time"] = times.get(v["block"])
        r = rounds.setdefault(v["round_id"], {"round_id": v["round_id"], "votes": [], "vetoes": [], "gas": 0})
        r["votes"].append(v)
        r["gas"] += v["gas_used"] or 0
    for v in vetoes:
        v["time"] = times.get(v["block"])
        rounds.setdefault(v["round_id"], {"round_id": v["round_id"], "votes": [], "vetoes": [], "gas": 0})["vetoes"] \
            .append(v)
    out["rounds"] = [rounds[k] for k in sorted(rounds, reverse=True)]
    out["vetoes"] = vetoes
    return out
