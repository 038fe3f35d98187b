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
from collections import OrderedDict


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
        self._answers: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, db, function, *args):
        """`function(db, *args)`, from memory when the index is at the version it was read at."""
        if self.size <= 0:
            return function(db, *args)
        key, now = (function.__name__, args), version(db)
        with self._lock:
            found = self._answers.get(key)
            if found is not None and found[0] == now:
                self._answers.move_to_end(key)
                self.hits += 1
                return found[1]
            self.misses += 1
        value = function(db, *args)
        with self._lock:
            self._answers[key] = (now, value)
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return value
