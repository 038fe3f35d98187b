"""The one atomic write (a reader, or a crash at any instant, sees the old file or the new one,
whole, never half of one), the write-once variant (of several processes writing one path, one
wins, the others see its file), and the removal of the temporary files a crash left behind."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _temporary_beside(path: Path, data: bytes, mode: int) -> str:
    """`data` in a new fsynced temporary file in `path`'s directory (created if needed): its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def atomic_write(path: Path | str, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` through a temporary file in the same directory (fsynced, then
    renamed over `path`, then the directory fsynced), creating the directory if needed."""
    path = Path(path)
    tmp = _temporary_beside(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise
    _fsync_dir(path.parent)


def write_once(path: Path | str, data: bytes, mode: int = 0o644) -> bool:
    """Write `data` to `path` as `atomic_write` does, unless `path` exists: False then, and the
    file there is untouched. The temporary file is hard-linked to `path` (link(2) fails if the
    name exists), so of any number of processes racing, exactly one writes; a crash leaves the
    file whole or absent, and at worst a temporary file (`remove_leftovers`)."""
    path = Path(path)
    tmp = _temporary_beside(path, data, mode)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        _unlink(tmp)
    _fsync_dir(path.parent)
    return True


def remove_leftovers(directory: Path | str, older_than: float) -> None:
    """Remove the temporary files a crash left under `directory` (never read: the rename never
    happened), those older than `older_than` seconds, so not another writer's file in flight."""
    stale = time.time() - older_than
    for leftover in Path(directory).rglob(".tmp-*"):
        try:
            if leftover.stat().st_mtime < stale:
                leftover.unlink()
        except FileNotFoundError:
            pass
