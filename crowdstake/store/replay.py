"""The store's memory of used signatures, of whose file is whose, and of the uploaded files
themselves: a signed request is accepted once, by any of the processes serving a directory
(`crowdstake store serve --workers N`), and every one of them reads the same pointers
(round, staker, model) -> file hash and the same files.

The memory is the SQLite file `replay.sqlite3` in the store directory, in WAL mode, shared by
every process and thread that opens it: a table `used`, one row per used signature digest
(PRIMARY KEY: UNIQUE); `pointers`, a round's latest file hash per (staker, model); `files`, the
bytes of each uploaded file by (round, hash). `remember` writes the signature's row and, for an
upload, its file's and its pointer's, all or none (a savepoint); the requests waiting in one
process are committed together (group commit: one transaction, one fsync, for all that queued
while the previous commit ran). SQLite lets one writer commit at a time and the key refuses a
second row, so of two workers racing with one signature exactly one commits (its file and
pointer with it), and the other gets an IntegrityError, answered as StoreConflict (a replay).
A worker waits up to BUSY_SECONDS for another's write lock, then says the store is busy (503). Why the files are in here and not one file each: a predictions file
(85 kB for 5,000 ids) appended to the WAL and fsynced with the rows that point to it costs the
server 0.4 ms of CPU, against 1.1 ms to create, fsync and rename a file of its own and fsync
its directory, then 0.2 ms more for the rows (`benchmarks/store.py`), and one fsync makes the
whole upload durable at once.

Crash rules: a request is accepted only after its rows are durable (an upload's file among
them), so a replay is refused across a restart or a power cut, and a pointer never names a file
that is not there. `synchronous=FULL`: in WAL mode that fsyncs the WAL at every commit
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
(INSERT OR IGNORE: the same rows). The same for pointers kept as files, before they moved in
here: `rounds/<round>/pointers/<staker>-<model>` holding the hash; a crash between the insert and
the removal leaves files whose rows are in already (INSERT OR IGNORE: an upload accepted since
keeps its newer row)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crowdstake.errors import StoreConflict, StoreError, StoreUnavailable

FILENAME = "replay.sqlite3"
OLD_LOG = "used_signatures.log"
BUSY_SECONDS = 30.0
PRUNE_EVERY = 10_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS used (digest BLOB PRIMARY KEY, expiry INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pointers (round INTEGER NOT NULL, staker TEXT NOT NULL, model TEXT NOT NULL,
                                     hash TEXT NOT NULL, PRIMARY KEY (round, staker, model)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (round INTEGER NOT NULL, hash BLOB NOT NULL, data BLOB NOT NULL, UNIQUE (round, hash));
"""
KEEP_FILE = "INSERT OR IGNORE INTO files (round, hash, data) VALUES (?, ?, ?)"  # the same bytes again: no change
POINT = "INSERT INTO pointers (round, staker, model, hash) VALUES (?, ?, ?, ?) " \
        "ON CONFLICT (round, staker, model) DO UPDATE SET hash = excluded.hash"
Pointer = tuple[int, str, str, str]  # round, staker (lower-case hex), model id (hex, no 0x), file hash (0x hex)
File = tuple[int, bytes, bytes]  # round, hash, bytes


def _connect(path: Path) -> sqlite3.Connection:
    # Workers opening a new file at once can find it locked without SQLite waiting (switching
    # it to WAL, creating the tables): try again for up to BUSY_SECONDS.
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        # isolation_level=None: autocommit, so each statement (or our explicit BEGIN) is the transaction.
        db = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(SCHEMA)
            return db
        except sqlite3.OperationalError as e:
            db.close()
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _read_log(path: Path) -> dict[bytes, int]:
    used = {}
    for line in path.read_text().splitlines():
        try:
            expiry, digest = line.split()
            used[bytes.fromhex(digest)] = int(expiry)
        except ValueError:
            continue  # a torn last line after a crash
    return used


def _replayed() -> StoreConflict:
    return StoreConflict("this signed request was used already (a replay): sign a new one")


@dataclass
class _Pending:
    """One request's rows waiting in the group commit, and its outcome once committed."""

    used: tuple[bytes, int]  # digest, expiry
    file: File | None
    pointer: Pointer | None
    done: bool = False
    error: BaseException | None = None


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
        self._queue: list[_Pending] = []  # requests waiting for the next group commit
        self._queue_lock = threading.Lock()
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
        self._migrate_pointers(directory / "rounds")
        if started is not None:
            self._prune(started)

    def _migrate(self, log: Path, started: int | None) -> None:
        if not log.exists():
            return
        rows = [(d, e) for d, e in _read_log(log).items() if started is None or e >= started]
        self._insert_then_remove("INSERT OR IGNORE INTO used (digest, expiry) VALUES (?, ?)", rows, [log])

    def _migrate_pointers(self, rounds: Path) -> None:
        files = [p for p in rounds.glob("*/pointers/*") if not p.name.startswith(".")
                 and p.name.count("-") == 1 and p.parent.parent.name.isdigit()]
        rows = [(int(p.parent.parent.name), *p.name.split("-"), p.read_text().strip()) for p in files]
        self._insert_then_remove("INSERT OR IGNORE INTO pointers (round, staker, model, hash) VALUES (?, ?, ?, ?)",
                                 rows, files)

    def _insert_then_remove(self, insert: str, rows: list[tuple], files: list[Path]) -> None:
        if not files:
            return
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(insert, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        for path in files:  # only once their rows are durable
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass  # another worker migrated it first

    def _prune(self, now: int) -> None:
        with self.lock:
            self._db.execute("DELETE FROM used WHERE expiry < ?", (int(now),))

    def remember(self, digest: bytes, expiry: int, now: int, pointer: Pointer | None = None,
                 file: File | None = None) -> None:
        """Record a signature as used, durably, and with it an upload's `file` and `pointer`;
        refuse it if any process recorded the signature before (then nothing changes).

        Group commit: the request joins this process's queue, and whichever thread holds the
        connection next commits everything queued in one transaction (one fsync), each request
        inside its own savepoint, so a replay among them is refused alone. A request returns
        only once the transaction holding it has committed."""
        entry = _Pending((bytes(digest), int(expiry)), file, pointer)
        with self._queue_lock:
            self._queue.append(entry)
        with self.lock:
            if not entry.done:  # not in a batch another thread committed meanwhile: commit the queue
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
            self._inserts += entry.error is None
            prune = entry.error is None and self._inserts % PRUNE_EVERY == 0
        if entry.error is not None:
            raise entry.error
        if prune:
            self._prune(now)

    def _commit(self, batch: list[_Pending]) -> None:
        """One transaction for the batch (under self.lock); sets each entry's outcome."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for entry in batch:
                    self._db.execute("SAVEPOINT request")
                    try:
                        self._db.execute("INSERT INTO used (digest, expiry) VALUES (?, ?)", entry.used)
                        if entry.file is not None:
                            self._db.execute(KEEP_FILE, entry.file)
                        if entry.pointer is not None:
                            self._db.execute(POINT, entry.pointer)
                    except sqlite3.IntegrityError:
                        self._db.execute("ROLLBACK TO request")
                        entry.error = _replayed()
                    self._db.execute("RELEASE request")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as e:  # locked past BUSY_SECONDS, disk full, ...: nothing is accepted
            for entry in batch:
                entry.error = StoreUnavailable(f"the store's replay memory is unavailable ({e}): try again later")
        except BaseException as e:
            for entry in batch:
                entry.error = e
            raise
        finally:
            for entry in batch:
                entry.done = True

    def used(self, digest: bytes) -> bool:
        """Whether a signature was recorded (a quick refusal; `remember` alone decides)."""
        with self.lock:
            return self._db.execute("SELECT 1 FROM used WHERE digest = ?", (bytes(digest),)).fetchone() is not None

    def refuse_used(self, digest: bytes) -> None:
        """Raise StoreConflict if the signature was recorded: refused before the work of a
        request, with the answer `remember` gives a replay (which alone decides a race)."""
        if self.used(digest):
            raise _replayed()

    def pointer(self, round_id: int, staker: str, model: str) -> str | None:
        """The file hash (0x hex) of a staker's latest upload for a model (lower-case hex staker,
        model id hex without 0x), or None."""
        with self.lock:
            row = self._db.execute("SELECT hash FROM pointers WHERE round = ? AND staker = ? AND model = ?",
                                   (int(round_id), staker, model)).fetchone()
        return row[0] if row else None

    def file(self, round_id: int, digest: bytes) -> bytes | None:
        """An uploaded file of a round by its hash, or None."""
        with self.lock:
            row = self._db.execute("SELECT data FROM files WHERE round = ? AND hash = ?",
                                   (int(round_id), bytes(digest))).fetchone()
        return bytes(row[0]) if row else None

    def pointers(self, round_id: int) -> list[tuple[str, str, str]]:
        """Every (staker, model, hash) of a round, sorted by staker then model."""
        with self.lock:
            return self._db.execute("SELECT staker, model, hash FROM pointers WHERE round = ? ORDER BY staker, model",
                                    (int(round_id),)).fetchall()

    def close(self) -> None:
        with self.lock:
            self._db.close()
