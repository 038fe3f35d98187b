"""A round's dataset fetched from the store into a participant's directory, checked against the
hash the round commits on-chain: the manifest whose keccak256 is the round's `datasetHash`, then
every file it lists, each checked against its hash and size. A file already in the directory
with the right bytes is kept, not fetched. Any mismatch refuses with one ParticipantError line
and writes nothing: the files are checked in memory first, then each is written atomically (a
crash leaves each file whole or absent, and a rerun fetches only what is missing)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crowdstake._fs import atomic_write
from crowdstake.errors import InvalidDatasetError, ParticipantError, StoreNotFound
from crowdstake.store import Store, file_hash
from crowdstake.store.datasets import parse_manifest


@dataclass(frozen=True)
class Download:
    """A round's dataset in a directory: the files fetched, and those that were there already
    with the right bytes (kept)."""

    round: int
    dataset_hash: str
    directory: Path
    fetched: tuple[str, ...]
    kept: tuple[str, ...]


def download_dataset(store: Store, round_id: int, committed: bytes, out) -> Download:
    """Fetch round `round_id`'s dataset, whose manifest hashes to `committed` (the round's
    on-chain `datasetHash`), into the directory `out`."""
    entries = committed_manifest(store, round_id, committed)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ParticipantError(f"{out} is not a directory: give a directory to write the dataset into") \
            .with_setting("out")
    fetched, kept = {}, []
    for entry in entries:
        path = out / entry.name
        if path.is_file() and path.stat().st_size == entry.size and file_hash(path.read_bytes()) == entry.hash:
            kept.append(entry.name)
            continue
        fetched[entry.name] = committed_file(store, round_id, entry)
    for name, data in fetched.items():  # every file checked: now write them, each whole or not at all
        atomic_write(out / name, data)
    return Download(round_id, "0x" + committed.hex(), out, tuple(fetched), tuple(kept))


def dataset_files(store: Store, round_id: int, committed: bytes, error=ParticipantError) -> dict[str, bytes]:
    """Round `round_id`'s dataset in memory (name -> bytes), every byte checked against
    `committed` (the oracle reads a Signals round's universe and neutralisers so)."""
    return {e.name: committed_file(store, round_id, e, error, "")
            for e in committed_manifest(store, round_id, committed, error, "")}


_NOTHING_WRITTEN = "nothing was written; "


def committed_manifest(store: Store, round_id: int, committed: bytes, error=ParticipantError,
                       nothing: str = _NOTHING_WRITTEN) -> list:
    """The entries of the manifest that hashes to `committed`, or `error` (one line)."""
    shown = "0x" + committed.hex()
    try:
        manifest = store.get_manifest(committed)
    except StoreNotFound:
        raise error(f"the store has no dataset {shown}, the one round {round_id} commits: the fund "
                    "has not published it there (ask it which store has)") from None
    if file_hash(manifest) != committed:
        raise error(f"the store's manifest for round {round_id} hashes to 0x{file_hash(manifest).hex()}, "
                    f"not the datasetHash {shown} on-chain: {nothing}use another store")
    try:
        return parse_manifest(manifest)
    except InvalidDatasetError as e:
        raise error(f"round {round_id} commits a malformed dataset manifest ({e}): ask the fund") from None


def committed_file(store: Store, round_id: int, entry, error=ParticipantError, nothing: str = _NOTHING_WRITTEN
                   ) -> bytes:
    """A manifest entry's bytes from the store, checked against its hash and size, or `error`."""
    try:
        data = store.get_dataset_file(entry.hash)
    except StoreNotFound:
        raise error(f"the store lacks {entry.name} (0x{entry.hash.hex()}) of round {round_id}'s "
                    f"dataset: {nothing}use another store") from None
    if len(data) != entry.size or file_hash(data) != entry.hash:
        raise error(f"the store's {entry.name} for round {round_id} hashes to 0x{file_hash(data).hex()}, "
                    f"not the 0x{entry.hash.hex()} its manifest lists: {nothing}use another store")
    return data
