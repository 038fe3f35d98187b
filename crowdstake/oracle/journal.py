"""A small JSON journal of what a long job has done, replaced atomically at every step, so a
crash at any point leaves either the old record or the new one, never half of one."""

from __future__ import annotations

import json
from pathlib import Path

from crowdstake._fs import atomic_write
from crowdstake.errors import ConfigError


class Journal:
    """Key-value record on disk (`path`), or in memory only when `path` is None.

    A journal of on-chain work names its `owner`, the deployment it is about: a working
    directory reused for another deployment (a redeploy on a dev chain reuses the addresses and
    the round numbers) is refused, never resumed with another chain's hashes and roots."""

    def __init__(self, path: Path | str | None, owner: str | None = None):
        self.path = Path(path) if path else None
        self.data: dict = {}
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                self.data = json.loads(self.path.read_text())
        if owner is None:
            return
        found = self.data.get("owner")
        if found is None:
            self.record(owner=owner)
        elif found != owner:
            raise ConfigError(f"{self.path} is the journal of another deployment ({found}), not of this one "
                              f"({owner}): give each deployment its own working directory")

    def get(self, key: str, default=None):
        return self.data.get(key, default)

    def record(self, **entries) -> None:
        self.data.update(entries)
        if self.path:
            atomic_write(self.path, (json.dumps(self.data, indent=1, sort_keys=True) + "\n").encode())
