"""The store's memory of used signatures: a signed request is accepted once. Kept in memory and
appended to `used_signatures.log` (`<expiry> <digest hex>` a line, fsynced) before the request
is accepted, so a replay is refused across a restart; a torn last line after a crash is
skipped. Loading drops the signatures that have expired and rewrites the file atomically. One
process owns a directory: the memory is that process's."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from crowdstake._fs import atomic_write
from crowdstake.errors import StoreConflict, StoreError


class ReplayMemory:
    """Used signature digests and their expiries, in the file at `path`."""

    def __init__(self, path: Path, now: Callable[[], int]):
        """`now()`: the store's clock, read once when there is a file, to forget the expired
        signatures (a clock that cannot be read, StoreError, keeps them all for now)."""
        self.path, self.lock = Path(path), threading.Lock()
        self._used: dict[bytes, int] = {}
        if not self.path.exists():
            return
        for line in self.path.read_text().splitlines():
            try:
                expiry, digest = line.split()
                self._used[bytes.fromhex(digest)] = int(expiry)
            except ValueError:
                continue  # a torn last line after a crash
        try:
            started = now()
        except StoreError:
            return
        self._used = {d: e for d, e in self._used.items() if e >= started}
        atomic_write(self.path, "".join(f"{e} {d.hex()}\n" for d, e in self._used.items()).encode())

    def remember(self, digest: bytes, expiry: int, now: int) -> None:
        """Record a signature as used; refuse it if it was (atomically, under the lock)."""
        with self.lock:
            if digest in self._used:
                raise StoreConflict("this signed request was used already (a replay): sign a new one")
            if len(self._used) > 10_000:
                self._used = {d: e for d, e in self._used.items() if e >= now}
            self._used[digest] = expiry
            with open(self.path, "a") as f:
                f.write(f"{expiry} {digest.hex()}\n")
                f.flush()
                os.fsync(f.fileno())
