"""The store's memory of used signatures: a signed request is accepted once, by any of the
processes serving a directory (`crowdstake store serve --workers N`).

The memory is the SQLite file `replay.sqlite3` in the store directory, one row per used
signature digest (PRIMARY KEY: UNIQUE), in WAL mode, shared by every process and thread that
opens it. `remember` is one INSERT in its own transaction: SQLite lets one writer commit at a
time and the key refuses a second row, so of two workers racing with one signature exactly one
commits, and the other gets an IntegrityError, answered as StoreConflict (a replay). A worker
waits up to BUSY_SECONDS for another's write lock, then says the store is busy (503).

Crash rules: a request is accepted only after its row is durable, so a replay is refused across
a restart or a power cut. `synchronous=FULL`: in WAL mode that fsyncs the WAL at every commit
before `remember` returns (NORMAL would fsync only at checkpoints, so a power cut could forget
a signature whose request was already answered 201, and let it be replayed). A crash mid-commit
leaves the transaction uncommitted (SQLite rolls it back on the next open): that request was
never accepted.

Expired signatures are forgotten: on open and every PRUNE_EVERY inserts the rows whose expiry
has passed are deleted (an expired signature is refused before it is looked up here).

Migration: a directory written before this file existed holds `used_signatures.log`
(`<expiry> <digest hex>` a line; a torn last line after a crash is skipped). The first open
inserts its unexpired digests (all of them when the clock cannot be read) in one transaction,
then removes the log; a crash in between leaves the log, and the next open inserts it again
(INSERT OR IGNORE: the same rows)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from crowdstake.errors import StoreConflict, StoreError, StoreUnavailable

FILENAME = "replay.sqlite3"
OLD_LOG = "used_signatures.log"
BUSY_SECONDS = 30.0
PRUNE_EVERY = 10_000

SCHEMA = "CREATE TABLE IF NOT EXISTS used (digest BLOB PRIMARY KEY, expiry INTEGER NOT NULL) WITHOUT ROWID"


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: autocommit, so each statement (or our explicit BEGIN) is the transaction.
    db = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(SCHEMA)
    return db


def _read_log(path: Path) -> dict[bytes, int]:
    used = {}
    for line in path.read_text().splitlines():
        try:
            expiry, digest = line.split()
            used[bytes.fromhex(digest)] = int(expiry)
        except ValueError:
            continue  # a torn last line after a crash
    return used


class ReplayMemory:
    """Used signature digests and their expiries, in `directory/replay.sqlite3` (a path ending
    in `.log`, as before, names the directory's old log: the database goes next to it)."""

    def __init__(self, path: Path, now: Callable[[], int]):
        """`now()`: the store's clock, read once, to forget the expired signatures (a clock that
        cannot be read, StoreError, keeps them all for now)."""
        path = Path(path)
        directory = path.parent if path.suffix == ".log" else path
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / FILENAME
        self.lock = threading.Lock()  # one connection per process, used by one thread at a time
        self._inserts = 0
        try:
            self._db = _connect(self.path)
            started = now()
        except StoreError:
            started = None
        except sqlite3.Error as e:
            raise StoreUnavailable(f"the store cannot open its replay memory {self.path} ({e}): check the "
                                   "directory's permissions and free space") from None
        self._migrate(directory / OLD_LOG, started)
        if started is not None:
            self._prune(started)

    def _migrate(self, log: Path, started: int | None) -> None:
        if not log.exists():
            return
        rows = [(d, e) for d, e in _read_log(log).items() if started is None or e >= started]
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO used (digest, expiry) VALUES (?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        try:
            os.unlink(log)  # only once its rows are durable
        except FileNotFoundError:
            pass  # another worker migrated it first

    def _prune(self, now: int) -> None:
        with self.lock:
            self._db.execute("DELETE FROM used WHERE expiry < ?", (int(now),))

    def remember(self, digest: bytes, expiry: int, now: int) -> None:
        """Record a signature as used, durably; refuse it if any process recorded it before."""
        with self.lock:
            try:
                self._db.execute("INSERT INTO used (digest, expiry) VALUES (?, ?)", (bytes(digest), int(expiry)))
            except sqlite3.IntegrityError:
                raise StoreConflict("this signed request was used already (a replay): sign a new one") from None
            except sqlite3.OperationalError as e:  # locked past BUSY_SECONDS, disk full, ...
                raise StoreUnavailable(f"the store's replay memory is unavailable ({e}): try again later") from None
            self._inserts += 1
        if self._inserts % PRUNE_EVERY == 0:
            self._prune(now)

    def close(self) -> None:
        with self.lock:
            self._db.close()
