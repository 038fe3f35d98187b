"""Following a deployment into an index: backfill from the deployment block in pages of
`eth_getLogs` (`LOG_PAGE` blocks, both contracts in one request), then the head, only ever up to
head − `confirmations`.

Each page is one SQLite transaction: its event rows, the hashes of its blocks with events and
of its last block, and the cursor (the last block indexed) commit together or not at all. A
process killed at any instant therefore leaves the index at the end of its last committed page,
and the next run resumes from there: no event lost, none twice (rows are keyed by (block,
log_index): a second copy would be refused, not hidden).

Reorgs: before each page the recorded hash of the cursor block is compared with the chain's.
Blocks are chained by their hashes, so an unchanged cursor hash means nothing indexed below it
changed. On a mismatch the index walks its recorded blocks down to the highest one the chain
still has, deletes every row above it (`schema.rewind`) and indexes on from there. A page whose
last block changes hash while it is being read is read again.

Node failures: every request runs under the connection's retry policy (`chain.rpc`); after the
last attempt, NodeUnavailable. `sync` lets it propagate (nothing half-written: the page's
transaction never began); `follow` says so in one line and tries again after `poll` seconds. A node that answers
`eth_getLogs` with an error (a range too wide for it, say) is a ConfigError saying to lower
`--page-blocks`. The logs are asked for with a raw JSON-RPC request (`decode.raw_log`): web3's
formatting of the answer took longer than everything else in a page.
Score tables are fetched after each pass (`scores.fetch_score_tables`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from web3 import Web3
from web3.exceptions import BlockNotFound, TransactionNotFound

from crowdstake.chain.contracts import LOG_PAGE, Contracts
from crowdstake.chain.rpc import with_retries
from crowdstake.errors import ConfigError, NodeUnavailable
from crowdstake.index.decode import Decoder, raw_log
from crowdstake.index.schema import Identity, Index, rewind, touch
from crowdstake.index.scores import fetch_score_tables

if TYPE_CHECKING:  # the annotation only: reading an index loads no store
    from crowdstake.store import Store

DEFAULT_CONFIRMATIONS = 5
DEFAULT_POLL = 12.0


def identity(contracts: Contracts) -> Identity:
    """The deployment `contracts` names, with its deployment block's hash read from the chain."""
    block = int(contracts.deployment.get("deploymentBlock", 0))
    mark = with_retries(contracts.w3.eth.get_block, block, policy=contracts.retry)["hash"]
    return Identity(int(contracts.w3.eth.chain_id), contracts.tournament.address, contracts.committee.address, block,
                    Web3.to_hex(mark))


@dataclass
class Progress:
    """What one `sync` did."""

    first: int  # the first block indexed (cursor + 1 at the start)
    last: int  # the cursor at the end
    pages: int = 0
    events: int = 0
    rewound_to: int | None = None
    seconds: float = 0.0
    tables: dict | None = None

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class Indexer:
    """Writes the events of `contracts`' deployment into `index` (opened for writing). `store`
    (optional) serves the score tables; `on_page(lo, hi)` runs inside each page's transaction
    before it commits (a test's kill point)."""

    def __init__(self, contracts: Contracts, index: Index, store: Store | None = None,
                 confirmations: int = DEFAULT_CONFIRMATIONS,
                 page: int = LOG_PAGE, on_page: Callable[[int, int], None] | None = None):
        self.contracts, self.index, self.store = contracts, index, store
        self.confirmations, self.page, self.on_page = confirmations, page, on_page
        self.decoder = Decoder(contracts)
        self.db = index.db
        self.w3, self.policy = contracts.w3, contracts.retry

    def _block(self, number: int) -> tuple[str, int] | None:
        """The chain's block `number` now: (hash, timestamp), or None past its head."""
        try:
            block = with_retries(self.w3.eth.get_block, number, policy=self.policy)
        except BlockNotFound:
            return None
        return Web3.to_hex(block["hash"]), int(block["timestamp"])

    def _chain_hash(self, number: int) -> str | None:
        block = self._block(number)
        return None if block is None else block[0]

    def _check_reorg(self) -> int | None:
        """The fork point rewound to, when the chain no longer has the cursor block; else None."""
        cursor = self.index.cursor
        recorded = self.db.execute("SELECT hash FROM blocks WHERE number = ?", (cursor,)).fetchone()
        if recorded is None or self._chain_hash(cursor) == recorded["hash"]:
            return None
        fork = int(self.db.execute("SELECT value FROM meta WHERE key = 'deployment_block'").fetchone()[0]) - 1
        below = self.db.execute("SELECT number, hash FROM blocks WHERE number < ? ORDER BY number DESC", (cursor,))
        for row in below.fetchall():
            if self._chain_hash(row["number"]) == row["hash"]:
                fork = row["number"]
                break
        rewind(self.db, fork)
        return fork

    def _logs(self, lo: int, hi: int) -> tuple[list, tuple[str, int]] | None:
        """The page's logs and its last block (hash, timestamp); None when that block changed meanwhile."""
        before = self._block(hi)
        query = {"fromBlock": hex(lo), "toBlock": hex(hi), "address": self.decoder.addresses}
        answer = with_retries(self.w3.provider.make_request, "eth_getLogs", [query], policy=self.policy)
        if "error" in answer:
            raise ConfigError(f"the node refused eth_getLogs for blocks {lo} to {hi} "
                              f"({answer['error'].get('message', answer['error'])}): ask for fewer blocks per page") \
                .with_setting("page_blocks")
        logs = [raw_log(entry) for entry in answer["result"]]
        after = self._block(hi)
        return (logs, after) if before == after and after is not None else None

    def _commit_page(self, lo: int, hi: int, logs: list, last: tuple[str, int]) -> int | None:
        """Write the page and move the cursor, in one transaction: the rows written; None when a
        vote's transaction is gone meanwhile (a reorg in flight: the page is read again)."""
        rows, blocks = [], {hi: last}
        for log in sorted(logs, key=lambda g: (g["blockNumber"], g["logIndex"])):
            if log.get("removed"):
                continue
            decoded = self.decoder.row(log)
            if log["blockNumber"] != hi:
                blocks[log["blockNumber"]] = (Web3.to_hex(log["blockHash"]), log["blockTimestamp"])
            if decoded is None:
                continue
            table, row = decoded
            if table == "votes":
                try:
                    row.update(self.decoder.vote_details(row["tx_hash"]))
                except TransactionNotFound:
                    return None
            rows.append((table, row))
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            for table, row in rows:
                names = ", ".join(row)
                db.execute(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
            db.executemany("INSERT OR REPLACE INTO blocks (number, hash, timestamp) VALUES (?, ?, ?)",
                           [(n, h, ts) for n, (h, ts) in sorted(blocks.items())])
            db.execute("UPDATE meta SET value = ? WHERE key = 'cursor'", (str(hi),))
            if rows:
                touch(db)
            if self.on_page is not None:
                self.on_page(lo, hi)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return len(rows)

    def head(self) -> int:
        return with_retries(lambda: self.w3.eth.block_number, policy=self.policy)

    def sync(self) -> Progress:
        """Index every block up to head − confirmations, then fetch the score tables still missing."""
        started = time.monotonic()
        progress = Progress(first=self.index.cursor + 1, last=self.index.cursor)
        while True:
            fork = self._check_reorg()
            if fork is not None:
                progress.rewound_to = fork
            target = self.head() - self.confirmations
            cursor = self.index.cursor
            if cursor >= target:
                break
            lo, hi = cursor + 1, min(cursor + self.page, target)
            read = self._logs(lo, hi)
            if read is None:
                continue  # the page's last block changed while it was read: a reorg in flight
            written = self._commit_page(lo, hi, *read)
            if written is None:
                continue
            progress.events += written
            progress.pages += 1
        progress.last = self.index.cursor
        if self.store is not None:
            progress.tables = fetch_score_tables(self.db, self.store)
        progress.seconds = time.monotonic() - started
        return progress

    def follow(self, poll: float = DEFAULT_POLL, report: Callable[[Progress], None] = lambda p: None,
               log: Callable[[str], None] = print, stop: Callable[[], bool] = lambda: False) -> None:
        """`sync` every `poll` seconds until `stop()` (or an interrupt); a node that stays away
        past the retry policy is one line, and the next poll resumes from the cursor."""
        while not stop():
            try:
                report(self.sync())
            except NodeUnavailable as e:
                log(f"{e}; trying again in {poll:g} s")
            time.sleep(poll)
