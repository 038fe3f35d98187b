"""The index's SQLite schema: one append-only table per kind of contract event, the views that
derive current state from them, and opening a file (which refuses another deployment's, or
another schema version's, with one line).

Why append-only: every event is one row keyed by (block, log_index), and nothing is ever
updated. A reorg is then one `DELETE ... WHERE block > fork` per table, after which the views
(`positions`, `rounds`, `tournaments`, `members`, `committee_state`, `balance_moves`,
`vote_epochs`) show exactly the state at the fork: no stored "current stake" or "state" can be
left stale, nothing needs recomputing. The score tables fetched from the store are rows too,
each carrying the block of the event that named its hash, so they rewind with it.

Amounts: a token amount (wei, up to 2^256) does not fit SQLite's int64, so each is stored twice:
`<name>` TEXT, the exact decimal (sign included for a payout delta), and `<name>_tokens` REAL
(wei / 1e18) for sorting and aggregating. Hashes and model ids are 0x-prefixed lowercase hex,
addresses checksummed, as web3 decodes them.

`meta` holds `schema_version`, `chain_id`, `tournament`, `committee`, `deployment_block`,
`deployment_block_hash`, `cursor` (the last block fully indexed) and `changes` (a count of the
transactions that changed its rows: `touch`). `blocks` holds the hash of
every block with an event and of each page's last block (the cursor), for reorg detection, and
its timestamp (NULL for a block with events when the node's logs do not carry blockTimestamp).

Opening (`open_index`): a new file gets the schema and the deployment's identity; an existing
one must carry the same identity (else ConfigError: it indexes another deployment) and the same
schema version (else ConfigError: an older file is rebuilt by indexing again, since everything
in it comes from the chain; a newer one needs a newer crowdstake). Writing is WAL mode with
`synchronous=NORMAL`: a crash or power cut may lose the last committed pages, never part of one
(cursor and rows commit together), and the next run indexes them again. One writer per file:
`open_index(..., write=True)` holds an exclusive lock on `<file>.lock` while it is open."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from crowdstake.errors import ConfigError

SCHEMA_VERSION = 1
BUSY_SECONDS = 30.0

# Column kinds: int (INTEGER), wei (TEXT exact + REAL `_tokens`), hex (TEXT 0x..), addr (TEXT), bool (INTEGER 0/1).
# (contract, event) -> (table, {column: (event argument path, kind)}, constant columns)
EVENTS: dict[tuple[str, str], tuple[str, dict[str, tuple[str, str]], dict[str, object]]] = {}


def _event(contract: str, event: str, table: str, columns: dict[str, tuple[str, str]], **constants) -> None:
    EVENTS[contract, event] = (table, columns, constants)


_PARAMS = {"tournament_id": ("tournamentId", "int"), "threshold": ("params.threshold", "wei"),
           "min_stake": ("params.minStake", "wei"), "cap": ("params.cap", "int"),
           "results_window": ("params.resultsWindow", "int"), "corr_weight_bps": ("params.corrWeightBps", "int"),
           "mmc_weight_bps": ("params.mmcWeightBps", "int"), "kind": ("params.kind", "int"),
           "min_tickers": ("params.minTickers", "int")}
_POSITION = {"round_id": ("roundId", "int"), "staker": ("staker", "addr"), "model_id": ("modelId", "hex")}
_T, _C = "Tournament", "OracleCommittee"

_event(_T, "TournamentCreated", "tournament_params", _PARAMS, created=1)
_event(_T, "TournamentParamsUpdated", "tournament_params", _PARAMS, created=0)
_event(_T, "RoundOpened", "rounds_opened", {"round_id": ("roundId", "int"), "tournament_id": ("tournamentId", "int"),
       "dataset_hash": ("datasetHash", "hex"), "close_time": ("closeTime", "int"), "resolve_time": ("resolveTime", "int")})
_event(_T, "TargetsPublished", "targets", {"round_id": ("roundId", "int"), "targets_hash": ("targetsHash", "hex")})
_event(_T, "ResultsDeadlineExtended", "deadline_extensions", {"round_id": ("roundId", "int"),
       "results_deadline": ("resultsDeadline", "int")})
_event(_T, "RoundFinalized", "finalizations", {"round_id": ("roundId", "int"), "root": ("root", "hex"),
       "score_table_hash": ("scoreTableHash", "hex"), "total_reward": ("totalReward", "wei"),
       "leaf_count": ("leafCount", "int")})
_event(_T, "Submitted", "submissions", {**_POSITION, "predictions_hash": ("predictionsHash", "hex")})
_event(_T, "StakeIncreased", "stake_changes", {**_POSITION, "amount": ("amount", "wei"), "new_stake": ("newStake", "wei")},
       direction=1)
_event(_T, "StakeDecreased", "stake_changes", {**_POSITION, "amount": ("amount", "wei"), "new_stake": ("newStake", "wei")},
       direction=-1)
_event(_T, "Claimed", "claims", {**_POSITION, "score": ("score", "int"), "delta": ("delta", "wei")})
_event(_T, "ClaimedMany", "claim_batches", {"round_id": ("roundId", "int"), "caller": ("caller", "addr"),
       "count": ("count", "int"), "paid": ("paid", "wei"), "credited": ("credited", "wei"), "burned": ("burned", "wei")})
_event(_T, "Restaked", "restakes", {"from_round_id": ("fromRoundId", "int"), "into_round_id": ("intoRoundId", "int"),
       "staker": ("staker", "addr"), "model_id": ("modelId", "hex"), "amount": ("amount", "wei")})
_event(_T, "Refunded", "refunds", {**_POSITION, "amount": ("amount", "wei")})
_event(_T, "Withdrawn", "withdrawals", {"staker": ("staker", "addr"), "amount": ("amount", "wei"),
       "balance": ("balance", "wei")})
_event(_T, "StakedFromBalance", "balance_stakes", {**_POSITION, "amount": ("amount", "wei"), "balance": ("balance", "wei")})
_event(_T, "RewardsFunded", "rewards_funded", {"funder": ("funder", "addr"), "amount": ("amount", "wei")})
_event(_T, "ReservationReleased", "reservations_released", {"round_id": ("roundId", "int"), "amount": ("amount", "wei")})
_event(_T, "ERC20Recovered", "recoveries", {"token": ("token", "addr"), "to_address": ("to", "addr"),
       "amount": ("amount", "wei")})
_event(_C, "MemberAdded", "member_changes", {"member": ("member", "addr"),
       "membership_version": ("membershipVersion", "int")}, added=1)
_event(_C, "MemberRemoved", "member_changes", {"member": ("member", "addr"),
       "membership_version": ("membershipVersion", "int")}, added=0)
_event(_C, "ThresholdChanged", "threshold_changes", {"threshold": ("threshold", "int"),
       "membership_version": ("membershipVersion", "int")})
_event(_C, "DisputeWindowChanged", "dispute_window_changes", {"dispute_window": ("disputeWindow", "int")})
# A vote's Result is not in its event: `root` .. `leaf_count` are decoded from the vote's
# transaction (NULL when it was not a direct call of vote), `gas_used` from its receipt.
_event(_C, "Voted", "votes", {"round_id": ("roundId", "int"), "member": ("member", "addr"),
       "result_hash": ("resultHash", "hex"), "votes": ("votes", "int")})
VOTE_EXTRA = {"root": "hex", "score_table_hash": "hex", "total_reward": "wei", "leaf_count": "int", "gas_used": "int"}
_event(_C, "ResultAccepted", "acceptances", {"round_id": ("roundId", "int"), "result_hash": ("resultHash", "hex"),
       "dispute_ends_at": ("disputeEndsAt", "int")})
_event(_C, "ResultVetoed", "vetoes", {"round_id": ("roundId", "int"), "result_hash": ("resultHash", "hex"),
       "vetoes": ("vetoes", "int")})
_event(_C, "ResultRefused", "refusals", {"round_id": ("roundId", "int"), "result_hash": ("resultHash", "hex"),
       "reason": ("reason", "hex")})
_event(_C, "RoundFinalized", "committee_finalizations", {"round_id": ("roundId", "int"),
       "result_hash": ("resultHash", "hex")})

_SQL_TYPE = {"int": "INTEGER", "hex": "TEXT", "addr": "TEXT", "bool": "INTEGER"}


def _columns(kind_by_column: dict[str, str]) -> list[tuple[str, str]]:
    out = []
    for name, kind in kind_by_column.items():
        if kind == "wei":
            out += [(name, "TEXT"), (f"{name}_tokens", "REAL")]
        else:
            out.append((name, _SQL_TYPE[kind]))
    return out


def event_tables() -> dict[str, list[tuple[str, str]]]:
    """Each event table's own columns (after block, log_index, tx_hash), in order."""
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, columns, constants in EVENTS.values():
        if table not in tables:
            kinds = {name: kind for name, (_, kind) in columns.items()} | {name: "int" for name in constants}
            if table == "votes":
                kinds |= VOTE_EXTRA
            tables[table] = _columns(kinds)
    return tables


def _event_ddl() -> list[str]:
    ddl = []
    for table, columns in event_tables().items():
        body = ", ".join(f"{name} {kind}" for name, kind in columns)
        ddl.append(f"CREATE TABLE {table} (block INTEGER NOT NULL, log_index INTEGER NOT NULL, tx_hash TEXT NOT NULL, "
                   f"{body}, PRIMARY KEY (block, log_index)) WITHOUT ROWID")
        if any(name == "round_id" for name, _ in columns):
            keys = "round_id, staker, model_id" if any(n == "model_id" for n, _ in columns) and \
                any(n == "staker" for n, _ in columns) else "round_id"
            ddl.append(f"CREATE INDEX {table}_by_round ON {table} ({keys}, block, log_index)")
    return ddl


_LAST = "ORDER BY x.block DESC, x.log_index DESC LIMIT 1"
_SAME_POSITION = "x.round_id = k.round_id AND x.staker = k.staker AND x.model_id = k.model_id"

def positions_sql(where: str = "1") -> str:
    """Every position ever submitted to or staked in, among the events matching `where` (a
    condition on `round_id`, `staker` and `model_id`, applied to both event tables before they
    are grouped: SQLite does not push a condition on the view down through its GROUP BY, so a
    reader filtering the view would group every position of the index first): its last
    predictions hash, its last stake (settling zeroes the stake on-chain; its events keep what
    was at stake), how it ended. The `positions` view is `positions_sql()`; a filtered reader
    binds the condition's arguments twice."""
    return f"""
        WITH k AS (SELECT round_id, staker, model_id, MIN(block) AS first_block FROM
                   (SELECT round_id, staker, model_id, block FROM submissions WHERE {where}
                    UNION ALL SELECT round_id, staker, model_id, block FROM stake_changes WHERE {where})
                   GROUP BY round_id, staker, model_id)
        SELECT k.round_id, k.staker, k.model_id, k.first_block,
               (SELECT x.predictions_hash FROM submissions x WHERE {_SAME_POSITION} {_LAST}) AS predictions_hash,
               COALESCE((SELECT x.new_stake FROM stake_changes x WHERE {_SAME_POSITION} {_LAST}), '0') AS stake,
               COALESCE((SELECT x.new_stake_tokens FROM stake_changes x WHERE {_SAME_POSITION} {_LAST}), 0.0) AS stake_tokens,
               c.score AS score, c.score / 1e6 AS score_value, c.delta AS payout_delta,
               c.delta_tokens AS payout_delta_tokens, c.block AS claimed_block, r.amount AS refunded,
               r.block AS refunded_block,
               CASE WHEN c.block IS NOT NULL THEN 'claimed' WHEN r.block IS NOT NULL THEN 'refunded'
                    WHEN COALESCE((SELECT x.new_stake FROM stake_changes x WHERE {_SAME_POSITION} {_LAST}), '0') = '0'
                    THEN 'unstaked' ELSE 'open' END AS state
        FROM k
        LEFT JOIN claims c ON c.round_id = k.round_id AND c.staker = k.staker AND c.model_id = k.model_id
        LEFT JOIN refunds r ON r.round_id = k.round_id AND r.staker = k.staker AND r.model_id = k.model_id"""


VIEWS = {
    # A tournament's current parameters: its last TournamentCreated/TournamentParamsUpdated.
    "tournaments": """
        SELECT p.tournament_id, p.threshold, p.threshold_tokens, p.min_stake, p.min_stake_tokens, p.cap,
               p.results_window, p.corr_weight_bps, p.mmc_weight_bps, p.kind, p.min_tickers,
               (SELECT MIN(x.block) FROM tournament_params x WHERE x.tournament_id = p.tournament_id) AS created_block
        FROM tournament_params p
        WHERE (p.block, p.log_index) = (SELECT x.block, x.log_index FROM tournament_params x
                                         WHERE x.tournament_id = p.tournament_id """ + _LAST + ")",
    "positions": positions_sql(),
    # A round: opened, targets, the accepted result still standing (none after a veto or a
    # refusal), finalisation, and its staked positions.
    "rounds": f"""
        SELECT o.round_id, o.tournament_id, o.dataset_hash, o.close_time, o.resolve_time, o.block AS opened_block,
               t.targets_hash,
               (SELECT x.results_deadline FROM deadline_extensions x WHERE x.round_id = o.round_id {_LAST})
                   AS extended_results_deadline,
               (SELECT x.result_hash FROM acceptances x WHERE x.round_id = o.round_id
                  AND NOT EXISTS (SELECT 1 FROM vetoes v WHERE v.round_id = x.round_id
                                  AND (v.block, v.log_index) > (x.block, x.log_index))
                  AND NOT EXISTS (SELECT 1 FROM refusals v WHERE v.round_id = x.round_id
                                  AND (v.block, v.log_index) > (x.block, x.log_index)) {_LAST}) AS accepted_hash,
               (SELECT x.dispute_ends_at FROM acceptances x WHERE x.round_id = o.round_id {_LAST}) AS dispute_ends_at,
               (SELECT COUNT(*) FROM vetoes x WHERE x.round_id = o.round_id) AS vetoes,
               (SELECT COUNT(*) FROM refusals x WHERE x.round_id = o.round_id) AS refusals,
               f.root, f.score_table_hash, f.total_reward, f.total_reward_tokens, f.leaf_count,
               f.block AS finalized_block,
               (SELECT COUNT(*) FROM positions p WHERE p.round_id = o.round_id AND p.stake != '0') AS staked_positions,
               (SELECT COALESCE(SUM(p.stake_tokens), 0.0) FROM positions p WHERE p.round_id = o.round_id)
                   AS total_stake_tokens,
               CASE WHEN f.block IS NOT NULL THEN 'finalized' ELSE 'opened' END AS status
        FROM rounds_opened o
        LEFT JOIN targets t ON t.round_id = o.round_id
        LEFT JOIN finalizations f ON f.round_id = o.round_id""",
    # The committee's members now: each address whose last change added it.
    "members": f"""
        SELECT m.member, m.membership_version AS since_version, m.block AS since_block FROM member_changes m
        WHERE (m.block, m.log_index) = (SELECT x.block, x.log_index FROM member_changes x WHERE x.member = m.member {_LAST})
          AND m.added = 1""",
    "committee_state": f"""
        SELECT (SELECT COUNT(*) FROM members) AS member_count,
               (SELECT x.threshold FROM threshold_changes x {_LAST}) AS threshold,
               (SELECT x.dispute_window FROM dispute_window_changes x {_LAST}) AS dispute_window,
               (SELECT MAX(v) FROM (SELECT membership_version AS v FROM member_changes
                                    UNION ALL SELECT membership_version FROM threshold_changes)) AS membership_version""",
    # Each vote's epoch as the committee counts it: (restarts of its round before it, the
    # membership version then).
    "vote_epochs": """
        SELECT v.*, 
               (SELECT COUNT(*) FROM (SELECT block, log_index FROM vetoes x WHERE x.round_id = v.round_id
                                      UNION ALL SELECT block, log_index FROM refusals x WHERE x.round_id = v.round_id) e
                WHERE (e.block, e.log_index) < (v.block, v.log_index)) AS restarts,
               (SELECT MAX(m) FROM (SELECT membership_version AS m, block, log_index FROM member_changes
                                    UNION ALL SELECT membership_version, block, log_index FROM threshold_changes) c
                WHERE (c.block, c.log_index) < (v.block, v.log_index)) AS membership_version
        FROM votes v""",
    # Moves of the internal balances: payouts credited by a claimMany(toBalance) (the batch's
    # Claimed events in the same transaction: stake + delta each), withdrawals, stakes from it.
    "balance_moves": """
        SELECT c.block, c.log_index, c.tx_hash, c.staker, 'credited' AS kind, c.round_id, c.model_id,
               p.stake_tokens + c.delta_tokens AS amount_tokens
        FROM claims c JOIN claim_batches b ON b.tx_hash = c.tx_hash AND b.credited != '0'
        JOIN positions p ON p.round_id = c.round_id AND p.staker = c.staker AND p.model_id = c.model_id
        UNION ALL SELECT block, log_index, tx_hash, staker, 'withdrawn', NULL, NULL, -amount_tokens FROM withdrawals
        UNION ALL SELECT block, log_index, tx_hash, staker, 'staked', round_id, model_id, -amount_tokens
        FROM balance_stakes""",
}

OWN_TABLES = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    # timestamp: from the logs when the node includes blockTimestamp in them, always for a page's last block
    "CREATE TABLE blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL, timestamp INTEGER)",
    # One row per (round, table hash) a result names: status stored | missing | mismatch | malformed.
    """CREATE TABLE score_tables (round_id INTEGER NOT NULL, table_hash TEXT NOT NULL, block INTEGER NOT NULL,
           status TEXT NOT NULL, attempts INTEGER NOT NULL, detail TEXT, PRIMARY KEY (round_id, table_hash))""",
    """CREATE TABLE score_rows (round_id INTEGER NOT NULL, table_hash TEXT NOT NULL, block INTEGER NOT NULL,
           staker TEXT NOT NULL, model_id TEXT NOT NULL, stake TEXT NOT NULL, stake_tokens REAL NOT NULL,
           corr REAL, mmc REAL, score REAL NOT NULL, quantized INTEGER NOT NULL,
           delta TEXT NOT NULL, delta_tokens REAL NOT NULL, reason TEXT NOT NULL,
           PRIMARY KEY (round_id, table_hash, staker, model_id))""",
    "CREATE INDEX score_rows_by_model ON score_rows (model_id)",
]

REWOUND = [*event_tables(), "score_tables", "score_rows"]  # every table whose rows carry `block`


def ddl() -> list[str]:
    return OWN_TABLES + _event_ddl() + [f"CREATE VIEW {name} AS {body}" for name, body in VIEWS.items()]


@dataclass(frozen=True)
class Identity:
    """Which deployment an index follows."""

    chain_id: int
    tournament: str
    committee: str
    deployment_block: int
    deployment_block_hash: str

    def describe(self) -> str:
        return (f"chain {self.chain_id}, Tournament {self.tournament}, committee {self.committee}, "
                f"deployment block {self.deployment_block} {self.deployment_block_hash}")

    def meta(self) -> dict[str, str]:
        return {"chain_id": str(self.chain_id), "tournament": self.tournament, "committee": self.committee,
                "deployment_block": str(self.deployment_block), "deployment_block_hash": self.deployment_block_hash}


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    if read_only:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_SECONDS, isolation_level=None)
    else:
        db = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    db.row_factory = sqlite3.Row
    return db


def meta(db: sqlite3.Connection) -> dict[str, str]:
    return {row["key"]: row["value"] for row in db.execute("SELECT key, value FROM meta")}


def _lock(path: Path) -> int:
    try:
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ConfigError(f"cannot write an index at {path} ({e.strerror}): check that its directory exists and is "
                          "writable, or give another index file").with_setting("index_file") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError(f"another indexer is writing {path}: let it run, or stop it first (one writer per file)") \
            from None
    return fd


class Index:
    """An open index file: `db` (sqlite3, rows as sqlite3.Row), its `meta`; a writer holds the lock."""

    def __init__(self, path: Path, db: sqlite3.Connection, lock: int | None):
        self.path, self.db, self._lock = path, db, lock

    @property
    def cursor(self) -> int:
        return int(meta(self.db)["cursor"])

    def close(self) -> None:
        self.db.close()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _check(path: Path, found: dict[str, str], identity: Identity | None) -> None:
    version = found.get("schema_version")
    if version is None:
        raise ConfigError(f"{path} is not a crowdstake index (it has no schema version): give another index file") \
            .with_setting("index_file")
    if int(version) != SCHEMA_VERSION:
        if int(version) < SCHEMA_VERSION:
            raise ConfigError(f"{path} is an index of schema version {version}, and this crowdstake writes version "
                              f"{SCHEMA_VERSION}: delete it and index again (everything in it comes from the chain)")
        raise ConfigError(f"{path} is an index of schema version {version}, newer than this crowdstake's "
                          f"{SCHEMA_VERSION}: upgrade crowdstake, or index into another file")
    if identity is not None:
        theirs = {k: found.get(k) for k in identity.meta()}
        if {k: (v or "").lower() for k, v in theirs.items()} != {k: v.lower() for k, v in identity.meta().items()}:
            raise ConfigError(
                f"{path} indexes another deployment (chain {theirs['chain_id']}, Tournament {theirs['tournament']}, "
                f"deployment block {theirs['deployment_block']} {theirs['deployment_block_hash']}), not "
                f"{identity.describe()}: give another index file, or delete it to index this deployment") \
                .with_setting("index_file")


def open_index(path, identity: Identity | None = None, write: bool = False) -> Index:
    """Open (with `write`, create) the index at `path`. A writer must give the deployment's
    `identity`; a reader may (then a file of another deployment is refused)."""
    path = Path(path)
    if not write and not path.exists():
        raise ConfigError(f"no index at {path}: build one first, by indexing the chain") \
            .with_setting("index_build", path=path)
    lock = _lock(path) if write else None
    try:
        db = _connect(path, read_only=not write)
        has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
        if has_meta is None:
            if not write or db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
                raise ConfigError(f"{path} is not a crowdstake index: give another index file") \
                    .with_setting("index_file")
            if identity is None:
                raise ConfigError("a new index needs the deployment it follows")
            _create(db, identity)
        _check(path, meta(db), identity)
    except sqlite3.DatabaseError as e:
        if lock is not None:
            os.close(lock)
        raise ConfigError(f"{path} cannot be opened as an index ({e}): give another index file") \
            .with_setting("index_file") from None
    except BaseException:
        if lock is not None:
            os.close(lock)
        raise
    return Index(path, db, lock)


def _create(db: sqlite3.Connection, identity: Identity) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in ddl():
            db.execute(statement)
        rows = {**identity.meta(), "schema_version": str(SCHEMA_VERSION), "cursor": str(identity.deployment_block - 1),
                "changes": "0"}
        db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", rows.items())
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def touch(db: sqlite3.Connection) -> None:
    """Count a change of the index's content (`meta.changes`), inside the writer's transaction:
    every transaction that adds or deletes rows calls it, one that only moves the cursor over
    blocks without events does not, so readers may keep what they read until it moves."""
    db.execute("INSERT INTO meta (key, value) VALUES ('changes', '1') "
               "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")


def rewind(db: sqlite3.Connection, fork: int) -> dict[str, int]:
    """Delete every row above block `fork` (events, score tables, recorded blocks) and set the
    cursor to `fork`, in one transaction; returns the rows deleted per table."""
    deleted = {}
    db.execute("BEGIN IMMEDIATE")
    try:
        for table in REWOUND:
            deleted[table] = db.execute(f"DELETE FROM {table} WHERE block > ?", (fork,)).rowcount
        deleted["blocks"] = db.execute("DELETE FROM blocks WHERE number > ?", (fork,)).rowcount
        db.execute("UPDATE meta SET value = ? WHERE key = 'cursor'", (str(fork),))
        touch(db)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return deleted
