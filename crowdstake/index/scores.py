"""The published score tables of the index's rounds, fetched from the store and checked.

Which tables: every (round, scoreTableHash) that an accepted result names (the hash decoded
from the accepting votes' transactions) or that the Tournament's RoundFinalized carries. Each
gets a `score_tables` row, status `stored` once its bytes hash to that scoreTableHash and parse
as a score table (`results.table.read_table`); its `score_rows` are written in the same
transaction (stakers checksummed, as the events' are). A table the store does not have (or
refuses for now: any other store error) is `missing`, one whose bytes hash to anything else
`mismatch` (nothing of it stored), one that does not parse `malformed`; each is tried again on every later pass (`attempts` counts). Both
kinds of row carry the block of the first event naming the hash, so a reorg below it removes
them with the event.

A store that does not answer (StoreUnavailable) ends the pass's fetching with the tables not
yet tried left as they were; the next pass tries them again. Each table's outcome is its own
transaction: a crash between two leaves the first recorded and the second still wanted."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from web3 import Web3

from crowdstake.errors import InvalidInputError, StoreError, StoreUnavailable
from crowdstake.index.decode import tokens
from crowdstake.index.schema import touch
from crowdstake.results.table import read_table, table_hash

if TYPE_CHECKING:  # the annotation only
    from crowdstake.store import Store

NAMED = """
    SELECT round_id, table_hash, MIN(block) AS block FROM (
        SELECT v.round_id, v.score_table_hash AS table_hash, a.block FROM acceptances a
        JOIN votes v ON v.round_id = a.round_id AND v.result_hash = a.result_hash
        WHERE v.score_table_hash IS NOT NULL
        UNION ALL SELECT round_id, score_table_hash, block FROM finalizations)
    GROUP BY round_id, table_hash"""

WANTED = f"""
    SELECT n.round_id, n.table_hash, n.block FROM ({NAMED}) n
    LEFT JOIN score_tables s ON s.round_id = n.round_id AND s.table_hash = n.table_hash
    WHERE s.status IS NULL OR s.status != 'stored' ORDER BY n.round_id, n.table_hash"""


def _record(db: sqlite3.Connection, round_id: int, digest: str, block: int, status: str, detail: str | None,
            rows: list = ()) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("""INSERT INTO score_tables (round_id, table_hash, block, status, attempts, detail)
                      VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (round_id, table_hash) DO UPDATE SET
                      status = excluded.status, attempts = attempts + 1, detail = excluded.detail""",
                   (round_id, digest, block, status, detail))
        db.executemany("""INSERT INTO score_rows (round_id, table_hash, block, staker, model_id, stake, stake_tokens,
                          corr, mmc, score, quantized, delta, delta_tokens, reason)
                          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                       [(round_id, digest, block, Web3.to_checksum_address(r.staker), "0x" + r.model_id.hex(),
                         str(r.stake), tokens(r.stake), r.corr, r.mmc, r.score, r.quantized, str(r.delta),
                         tokens(r.delta), r.reason) for r in rows])
        touch(db)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def fetch_score_tables(db: sqlite3.Connection, store: Store) -> dict[str, int]:
    """Fetch and check every wanted table not stored yet; the count of each outcome this pass."""
    counts = {"stored": 0, "missing": 0, "mismatch": 0, "malformed": 0}
    for want in db.execute(WANTED).fetchall():
        round_id, digest, block = want["round_id"], want["table_hash"], want["block"]
        try:
            data = store.get_score_table(round_id, bytes.fromhex(digest[2:]))
        except StoreUnavailable:
            break
        except StoreError as e:  # not there (404), or refused for now
            status, detail, rows = "missing", str(e), []
        else:
            if "0x" + table_hash(data).hex() != digest:
                status, detail, rows = "mismatch", f"the store's table hashes to 0x{table_hash(data).hex()}", []
            else:
                try:
                    status, detail, rows = "stored", None, read_table(data)
                except InvalidInputError as e:
                    status, detail, rows = "malformed", str(e), []
        _record(db, round_id, digest, block, status, detail, rows)
        counts[status] += 1
    return counts
