"""Page data kept while the index does not change: `PageCache(size)` remembers the last `size`
answers of the data functions, each under the index's version when it was read, and answers a
request again only while that version stands.

The version (`version(db)`) is the index's count of changes (`meta.changes`, which every
writing transaction of the indexer that adds or deletes rows moves, a rewind and a fetched
score table included; blocks without events do not), so a page stays kept across empty blocks.
A file written before that count existed has none: its version is then its cursor, the hash of
the cursor's block and its score tables' rows, statuses and attempts. Reading it costs one
lookup. `size` 0 keeps nothing (every request reads)."""

from __future__ import annotations

import threading

from crowdstake.index.read import Kept


def version(db) -> tuple:
    changes = db.execute("SELECT value FROM meta WHERE key = 'changes'").fetchone()
    if changes is not None:
        return (changes[0],)
    cursor = db.execute("SELECT value FROM meta WHERE key = 'cursor'").fetchone()[0]
    mark = db.execute("SELECT hash FROM blocks WHERE number = ?", (int(cursor),)).fetchone()
    tables = db.execute("SELECT COUNT(*), COALESCE(SUM(attempts), 0), COALESCE(SUM(status = 'stored'), 0) "
                        "FROM score_tables").fetchone()
    return cursor, mark[0] if mark else None, *tuple(tables)


class PageCache:
    def __init__(self, size: int = 256):
        self.size = size
        self._answers = Kept(size)
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, db, function, *args):
        """`function(db, *args)`, from memory when the index is at the version it was read at."""
        if self.size <= 0:
            return function(db, *args)
        key, now = (function.__name__, args), version(db)
        found = self._answers.get(key)
        hit = found is not None and found[0] == now
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1
        if hit:
            return found[1]
        return self._answers.put(key, (now, function(db, *args)))[1]
