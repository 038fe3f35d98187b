"""A round's dataset as the store keeps it: content-addressed files and the manifest that lists
them, in one canonical byte form, whose keccak256 is the dataset hash a round commits on-chain
(`Tournament.openRound(tournamentId, datasetHash, ...)`).

Files. A dataset is of one of two kinds, never a mix. A classic dataset has `train.csv`,
`validation.csv` and `live.csv` (the layout `crowdstake.fund.dataset` writes) and, optionally,
`features.json` (feature metadata). A Signals dataset (a Numerai Signals round, the layout of
`crowdstake.store.signals_formats`) has `universe.csv`, `neutralizers.csv` and
`sample_weights.csv`, whose first column is `ticker` instead of `id`, with the same tickers in
the same sorted order (checked by `dataset_manifest`; the store, which may read a large file's
first bytes only, checks each header). No other name is allowed, so a name from a manifest is
always safe to write in a participant's directory. Both kinds have the same manifest and so
the same dataset hash rules. Each CSV is UTF-8 text whose header's first column is `id`; `live.csv` lists each
live id once (the ids a round's predictions must have: the store takes them from there) and has
no `target` column (the live targets are the fund's until the round resolves); `features.json`
is a JSON object. Each file is stored under keccak256 of its exact bytes.

Manifest. UTF-8 CSV, `\\n` line ends, the header `file,keccak256,bytes`, then one line per file
sorted by name: its name, `0x` and 64 lowercase hex digits, its size as a decimal without
leading zeros:

    file,keccak256,bytes
    live.csv,0x3f…,41210
    train.csv,0x9a…,1834411
    validation.csv,0x07…,402118

Any other byte form of the same list is refused (`parse_manifest`), so a set of files has
exactly one manifest and one dataset hash. Errors are `InvalidDatasetError` (422 in the store)
naming the file and what to do."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from eth_hash.auto import keccak

from crowdstake.errors import InvalidDatasetError
from crowdstake.store import signals_formats
from crowdstake.store.formats import _ID

REQUIRED = ("train.csv", "validation.csv", "live.csv")  # a classic dataset's
OPTIONAL = ("features.json",)
SIGNALS_REQUIRED = signals_formats.ROUND_FILES  # a Signals dataset's (it has no optional file)
ALLOWED = REQUIRED + OPTIONAL + SIGNALS_REQUIRED
HEADER = "file,keccak256,bytes"
_LINE = re.compile(r"([a-z_.]+),0x([0-9a-f]{64}),(0|[1-9][0-9]{0,15})", re.ASCII)


@dataclass(frozen=True)
class Entry:
    """One file of a manifest: its name, keccak256 (32 bytes) and size in bytes."""

    name: str
    hash: bytes
    size: int


def dataset_hash(manifest: bytes) -> bytes:
    """keccak256 of a manifest's bytes: the `datasetHash` a round commits on-chain."""
    return keccak(bytes(manifest))


def is_signals(names) -> bool:
    """Whether a set of dataset file names is a Signals dataset's (any Signals name and no
    classic one); anything else is read as a classic dataset's, and checked as one."""
    names = set(names)
    return bool(names & set(SIGNALS_REQUIRED)) and not names & set(REQUIRED + OPTIONAL)


def kind_files(names) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(required, optional) file names of the kind of dataset `names` are (see `is_signals`)."""
    return (SIGNALS_REQUIRED, ()) if is_signals(names) else (REQUIRED, OPTIONAL)


def _kinds() -> str:
    return (f"a dataset has {', '.join(REQUIRED)} (and optionally {', '.join(OPTIONAL)}), "
            f"or, for Signals, {', '.join(SIGNALS_REQUIRED)}")


def _names_ok(names) -> None:
    names = set(names)
    unknown = sorted(names - set(ALLOWED))
    if unknown:
        raise InvalidDatasetError(f"{unknown[0][:80]!r} is not a dataset file: {_kinds()}")
    signals, classic = sorted(names & set(SIGNALS_REQUIRED)), sorted(names & set(REQUIRED + OPTIONAL))
    if signals and classic:
        raise InvalidDatasetError(f"the dataset mixes {classic[0]} (classic) and {signals[0]} (Signals): {_kinds()}, "
                                  "never both; publish them as two datasets")
    required, optional = kind_files(names)
    missing = [n for n in required if n not in names]
    if missing:
        extra = f" (and optionally {', '.join(optional)})" if optional else ""
        raise InvalidDatasetError(f"the dataset lacks {missing[0]}: a {'Signals ' if signals else ''}dataset has "
                                  f"{', '.join(required)}{extra}")


def _header(name: str, data: bytes) -> list[str]:
    """The header's columns of a dataset CSV; refuses a file that is not one."""
    first = bytes(data[:65536]).split(b"\n", 1)[0].rstrip(b"\r")
    try:
        columns = first.decode("utf-8").split(",")
    except UnicodeDecodeError:
        raise InvalidDatasetError(f"{name} is not UTF-8 text: a dataset file is a CSV") from None
    if columns[0] != "id":
        raise InvalidDatasetError(f"{name}: the header's first column must be `id`, got {columns[0][:80]!r}")
    return columns


def live_ids_of(live: bytes) -> list[str]:
    """The ids of a dataset's `live.csv`, in file order: each once, at least one; the file has
    no `target` column. InvalidDatasetError names the first bad line."""
    columns = _header("live.csv", live)
    if any(c.startswith("target") for c in columns):
        raise InvalidDatasetError("live.csv has a target column: the live targets stay with the fund until the "
                                  "round resolves (publish them with publish_targets then)")
    try:
        text = bytes(live).decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidDatasetError(f"live.csv is not UTF-8 text (byte {e.start})") from None
    ids, seen = [], set()
    for n, line in enumerate(text.split("\n")[1:], start=2):
        line = line.rstrip("\r")
        if not line:
            continue
        ident = line.split(",", 1)[0]
        if not _ID.fullmatch(ident):
            raise InvalidDatasetError(f"live.csv line {n}: id {ident[:80]!r} is empty or contains a space or quote")
        if ident in seen:
            raise InvalidDatasetError(f"live.csv line {n}: id {ident!r} appears twice")
        seen.add(ident)
        ids.append(ident)
    if not ids:
        raise InvalidDatasetError("live.csv lists no id: a round needs at least one to score")
    return ids


def check_file(name: str, data: bytes) -> None:
    """Refuse a dataset file that is not what its name says (see the module docstring)."""
    if name not in ALLOWED:
        raise InvalidDatasetError(f"{name[:80]!r} is not a dataset file: {_kinds()}")
    if name in SIGNALS_REQUIRED:
        signals_formats.check_header(name, data)
    elif name == "live.csv":
        live_ids_of(data)
    elif name.endswith(".csv"):
        _header(name, data)
    else:
        try:
            parsed = json.loads(bytes(data).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nesting too deep to read
            raise InvalidDatasetError(f"{name} is not UTF-8 JSON") from None
        if not isinstance(parsed, dict):
            raise InvalidDatasetError(f"{name} must hold a JSON object")


def manifest_of(entries) -> bytes:
    """The canonical manifest of `entries` (Entry, or (name, hash, size) tuples)."""
    rows = sorted((e if isinstance(e, Entry) else Entry(*e) for e in entries), key=lambda e: e.name)
    return (HEADER + "\n" + "".join(f"{e.name},0x{e.hash.hex()},{e.size}\n" for e in rows)).encode()


def dataset_manifest(files: Mapping[str, bytes]) -> bytes:
    """Check a dataset's files (names, each file's form) and return its canonical manifest:
    every check a store makes, made before anything is uploaded."""
    _names_ok(files)
    for name in sorted(files):
        check_file(name, files[name])
    if is_signals(files):
        signals_formats.read_signals_round(files)  # every line, and the same tickers in every file
    return manifest_of(Entry(name, keccak(bytes(data)), len(data)) for name, data in files.items())


def parse_manifest(data: bytes) -> list[Entry]:
    """The entries of a manifest in canonical form (sorted by name), refusing any other form,
    any name that is not a dataset file's, and a set of files missing a required one."""
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidDatasetError("the manifest is not UTF-8 text") from None
    lines = text.split("\n")
    if lines[0] != HEADER:
        raise InvalidDatasetError(f"manifest line 1: the header must be `{HEADER}`, got {lines[0][:80]!r}")
    if lines[-1] != "":
        raise InvalidDatasetError("the manifest must end with a newline (its canonical form)")
    entries = []
    for n, line in enumerate(lines[1:-1], start=2):
        match = _LINE.fullmatch(line)
        if not match:
            raise InvalidDatasetError(f"manifest line {n}: expected `name,0x<64 lowercase hex>,<bytes>`, got {line[:100]!r}")
        entries.append(Entry(match[1], bytes.fromhex(match[2]), int(match[3])))
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise InvalidDatasetError("the manifest lists a file twice")
    _names_ok(names)
    if manifest_of(entries) != bytes(data):
        raise InvalidDatasetError("the manifest's lines are not sorted by file name (its canonical form)")
    return entries
