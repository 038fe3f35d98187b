"""The submission store: where participants upload predictions files before a round closes,
where everyone reads them after it closed, and where the oracle publishes score tables.

One interface, two backends:

- `LocalStore(directory, round_times, chain_id, identity, now=...)`: a plain directory; it also
  holds every check, so the HTTP service is this class behind HTTP;
- `HttpStore(base_url)`: the client of `create_app(...)` (FastAPI, served by uvicorn through
  `serve(...)` or `crowdstake store serve`).

Both offer `upload_predictions(account, round_id, model_id, data) -> fileHash`,
`get_predictions`, `get_file`, `submissions`, `live_ids`, `publish_score_table(account, round_id,
data) -> tableHash`, `get_score_table`, `info`.

Rules (the store enforces them; the clock is the chain's, `now()` = latest block timestamp):

- An upload carries an EIP-712 signature of the staker over (chainId, store identity, staker,
  roundId, modelId, fileHash, expiry, nonce), fileHash = keccak256 of the file's bytes (the
  `predictionsHash` that `Tournament.submit` commits). A wrong chain or store, round, model or
  hash, an expired or too-far expiry, a signature not by the staker, or a replay (used
  signatures are kept, on disk, until they expire) is refused. The nonce lets a staker upload
  the same file twice in one block.
- Uploads are accepted only while the round is open (`now < closeTime`), and only as a CSV with
  the header `id,prediction` whose ids are exactly the round's live ids, each once, values
  numbers in [0, 1] (no NaN), at most `max_bytes`; an error names the first bad line.
- Live ids: the fund registers them before opening uploads, as the file
  `<directory>/rounds/<roundId>/live_ids.csv` (header `id`, one id a line), written with
  `LocalStore.register_live_ids` or placed there by any other means (the fund runs the store or
  shares its disk). They are public: `live_ids(round_id)`.
- Files are written atomically (temporary file, fsync, rename) and content-addressed:
  `rounds/<roundId>/files/<hash>.csv`; the pointer (round, staker, model) -> hash is replaced
  atomically by a re-upload. No reader sees a file of an open round: not by pointer, not by
  hash, not in a listing. After close everything of the round is readable by anyone.
- Score tables: published by a signature (PublishScoreTable(chainId, store, publisher, roundId,
  tableHash, expiry, nonce)) of an allowed publisher (the committee's members: `serve` asks
  the chain) once the round has closed; readable by anyone after. tableHash = keccak256(bytes),
  the `scoreTableHash` the committee votes; a new publication replaces the latest pointer, every
  published table stays readable by hash.

One store process owns a directory (the replay memory is per process). The module: the
directory backend (`LocalStore`), registering live ids, and the chain's clock it runs by.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from eth_utils import to_checksum_address

from crowdstake._fs import atomic_write
from crowdstake.errors import (InvalidInputError, StoreConflict, StoreError, StoreForbidden, StoreNotFound,
                               StoreUnavailable)
from crowdstake.store.auth import (DEFAULT_TTL, MAX_EXPIRY, _address, _bytes32, _hex, model_bytes, sign_score_table,
                                   sign_upload, verify_request)
from crowdstake.store.formats import MAX_BYTES, parse_live_ids, validate_predictions

if TYPE_CHECKING:  # the store runs without a chain too; only these helpers read one
    from crowdstake.chain.contracts import Contracts

STALE_TMP = 600  # a temporary file older than this (seconds) is a crash's leftover

RoundTimes = Callable[[int], "tuple[int, int]"]


def register_live_ids(directory, round_id: int, ids: Iterable[str]) -> int:
    """The fund registers a round's live ids in a store directory (a running store sees them at
    once): writes `<directory>/rounds/<roundId>/live_ids.csv` atomically. Returns the count."""
    ids = [str(i) for i in ids]
    data = ("id\n" + "".join(f"{i}\n" for i in ids)).encode()
    parse_live_ids(data)
    atomic_write(Path(directory) / "rounds" / str(int(round_id)) / "live_ids.csv", data)
    return len(ids)


class LocalStore:
    """The store over a plain directory; every rule lives here (the HTTP service wraps it).

    `round_times(roundId) -> (closeTime, resolveTime)`, (0, 0) for an unknown round;
    `now() -> int` is the clock the rules use: give the chain's latest block timestamp
    (`chain_clock`), wall-clock time is only the default for chain-less demos.
    `publishers`: addresses, or a callable address -> bool, allowed to publish score tables
    (None: nobody)."""

    def __init__(self, directory, round_times: RoundTimes, chain_id: int, identity: str, *,
                 now: Callable[[], int] | None = None,
                 publishers: Iterable[str] | Callable[[str], bool] | None = None,
                 max_bytes: int = MAX_BYTES, max_expiry: int = MAX_EXPIRY):
        self.directory = Path(directory)
        self.round_times, self.chain_id, self.identity = round_times, int(chain_id), str(identity)
        self.now = now or (lambda: int(time.time()))
        if publishers is None or callable(publishers):
            self._is_publisher = publishers or (lambda address: False)
        else:
            allowed = {to_checksum_address(a) for a in publishers}
            self._is_publisher = allowed.__contains__
        self.max_bytes, self.max_expiry = max_bytes, max_expiry
        self._lock = threading.Lock()
        self._used: dict[bytes, int] = {}  # signature digest -> expiry
        self._live_cache: dict[int, tuple[tuple, frozenset[str]]] = {}
        self.directory.mkdir(parents=True, exist_ok=True)
        stale = time.time() - STALE_TMP
        for leftover in self.directory.rglob(".tmp-*"):  # a crash's half-written file: never read
            try:
                if leftover.stat().st_mtime < stale:  # not another writer's file in flight
                    leftover.unlink()
            except FileNotFoundError:
                pass
        self._journal = self.directory / "used_signatures.log"
        self._load_journal()

    # ---------------------------------------------------------------- replay memory

    def _load_journal(self) -> None:
        if not self._journal.exists():
            return
        for line in self._journal.read_text().splitlines():
            try:
                expiry, digest = line.split()
                self._used[bytes.fromhex(digest)] = int(expiry)
            except ValueError:
                continue  # a torn last line after a crash
        try:
            now = self._now()
        except StoreError:
            return
        self._used = {d: e for d, e in self._used.items() if e >= now}
        atomic_write(self._journal, "".join(f"{e} {d.hex()}\n" for d, e in self._used.items()).encode())

    def _remember(self, digest: bytes, expiry: int, now: int) -> None:
        """Record a signature as used; refuse it if it was (atomically, under the lock)."""
        with self._lock:
            if digest in self._used:
                raise StoreConflict("this signed request was used already (a replay): sign a new one")
            if len(self._used) > 10_000:
                self._used = {d: e for d, e in self._used.items() if e >= now}
            self._used[digest] = expiry
            with open(self._journal, "a") as f:
                f.write(f"{expiry} {digest.hex()}\n")
                f.flush()
                os.fsync(f.fileno())

    # ---------------------------------------------------------------- chain time and rounds

    def _now(self) -> int:
        try:
            return int(self.now())
        except Exception as e:  # noqa: BLE001 - any failure of the node (transport, RPC, decoding) is "unavailable"
            raise StoreUnavailable(f"the store cannot read the chain's time ({e.__class__.__name__}): try again later") from None

    def _times(self, round_id: int) -> tuple[int, int]:
        try:
            close, resolve = self.round_times(int(round_id))
        except Exception as e:  # noqa: BLE001 - as for _now
            raise StoreUnavailable(f"the store cannot read round {round_id}'s times from the chain "
                                   f"({e.__class__.__name__}): try again later") from None
        if not close:
            raise StoreNotFound(f"round {round_id} does not exist on chain {self.chain_id}")
        return int(close), int(resolve)

    def _require_closed(self, round_id: int) -> None:
        close, _ = self._times(round_id)
        now = self._now()
        if now < close:
            raise StoreForbidden(f"round {round_id} is open until {close} (chain time now {now}): "
                                 "its files are readable by nobody before it closes")

    def _round_dir(self, round_id: int) -> Path:
        return self.directory / "rounds" / str(int(round_id))

    # ---------------------------------------------------------------- live ids

    def register_live_ids(self, round_id: int, ids: Iterable[str]) -> int:
        """Register a round's live ids (the fund): see the module function."""
        return register_live_ids(self.directory, round_id, ids)

    def live_ids(self, round_id: int) -> list[str]:
        return sorted(self._live_set(round_id))

    def _live_set(self, round_id: int) -> frozenset[str]:
        path = self._round_dir(round_id) / "live_ids.csv"
        try:
            st = path.stat()
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
            cached = self._live_cache.get(round_id)
            if cached and cached[0] == key:
                return cached[1]
            ids = frozenset(parse_live_ids(path.read_bytes()))
            self._live_cache[round_id] = (key, ids)
            return ids
        except FileNotFoundError:
            raise StoreConflict(f"the fund has not registered live ids for round {round_id} in this store yet: "
                                "uploads open when it has") from None
        except (InvalidInputError, UnicodeDecodeError) as e:
            raise StoreUnavailable(f"round {round_id}'s live ids file is malformed ({e}): the fund must fix it") from None

    # ---------------------------------------------------------------- verification

    def _verify(self, kind: str, data: bytes, auth: dict, round_id: int | None, extra: dict) -> tuple[dict, int]:
        return verify_request(kind, data, auth, chain_id=self.chain_id, identity=self.identity, round_id=round_id,
                              extra=extra, max_bytes=self.max_bytes, max_expiry=self.max_expiry, clock=self._now)

    # ---------------------------------------------------------------- uploads (server side)

    def put_predictions(self, data: bytes, auth: dict, round_id: int | None = None, staker: str | None = None,
                        model_id=None) -> bytes:
        """Accept a signed upload (the server's side of `upload_predictions`): verify, validate,
        write. Returns the file hash. `round_id`/`staker`/`model_id` are what the request's URL
        says, and must match what was signed."""
        extra = {"staker": _address(staker, "staker") if staker is not None else None,
                 "modelId": model_bytes(model_id) if model_id is not None else None}
        msg, now = self._verify("upload", bytes(data), auth, round_id, extra)
        rid = msg["roundId"]
        close, _ = self._times(rid)
        if now >= close:
            raise StoreForbidden(f"round {rid} closed at {close} (chain time now {now}): uploads are no longer accepted")
        ids = self._live_set(rid)
        self._remember(msg["digest"], msg["expiry"], now)
        validate_predictions(data, ids, self.max_bytes)
        digest = msg["fileHash"]
        rdir = self._round_dir(rid)
        path = rdir / "files" / f"{digest.hex()}.csv"
        if not path.exists():
            atomic_write(path, bytes(data))
        atomic_write(rdir / "pointers" / f"{msg['staker'].lower()}-{msg['modelId'].hex()}", (_hex(digest) + "\n").encode())
        return digest

    def put_score_table(self, data: bytes, auth: dict, round_id: int | None = None) -> bytes:
        """Accept a signed score table from an allowed publisher once the round has closed."""
        msg, now = self._verify("scoreTable", bytes(data), auth, round_id, {})
        rid = msg["roundId"]
        if not self._is_publisher(msg["publisher"]):
            raise StoreForbidden(f"{msg['publisher']} may not publish score tables here: only the oracle committee's members may")
        close, _ = self._times(rid)
        if now < close:
            raise StoreForbidden(f"round {rid} is open until {close}: score tables are published after it closes")
        self._remember(msg["digest"], msg["expiry"], now)
        digest = msg["tableHash"]
        rdir = self._round_dir(rid)
        path = rdir / "tables" / f"{digest.hex()}.csv"
        if not path.exists():
            atomic_write(path, bytes(data))
        atomic_write(rdir / "score_table", (_hex(digest) + "\n").encode())
        return digest

    # ---------------------------------------------------------------- client side (same as HttpStore)

    def info(self) -> dict:
        return {"chainId": self.chain_id, "identity": self.identity, "now": self._now(),
                "maxBytes": self.max_bytes, "maxExpiry": self.max_expiry}

    def upload_predictions(self, account, round_id: int, model_id, data: bytes, ttl: int = DEFAULT_TTL) -> bytes:
        """Sign and upload a predictions file; returns its hash (commit it with `submit`)."""
        auth = sign_upload(account, self.chain_id, self.identity, round_id, model_id, data, self._now() + ttl)
        return self.put_predictions(bytes(data), auth)

    def publish_score_table(self, account, round_id: int, data: bytes, ttl: int = DEFAULT_TTL) -> bytes:
        auth = sign_score_table(account, self.chain_id, self.identity, round_id, data, self._now() + ttl)
        return self.put_score_table(bytes(data), auth)

    def get_predictions(self, round_id: int, staker: str, model_id) -> bytes:
        """A staker's latest file for a model, once the round has closed."""
        self._require_closed(round_id)
        staker, mid = _address(staker, "staker"), model_bytes(model_id)
        try:
            digest = (self._round_dir(round_id) / "pointers" / f"{staker.lower()}-{mid.hex()}").read_text().strip()
        except FileNotFoundError:
            raise StoreNotFound(f"no file of {staker} for model {_hex(mid)} in round {round_id}") from None
        return self.get_file(round_id, digest)

    def get_file(self, round_id: int, digest) -> bytes:
        """A file of a closed round by its hash."""
        self._require_closed(round_id)
        h = _bytes32(digest, "file hash")
        try:
            return (self._round_dir(round_id) / "files" / f"{h.hex()}.csv").read_bytes()
        except FileNotFoundError:
            raise StoreNotFound(f"no file with hash {_hex(h)} in round {round_id}") from None

    def submissions(self, round_id: int) -> list[dict]:
        """Every (staker, modelId, hash) of a closed round, sorted."""
        self._require_closed(round_id)
        pointers = self._round_dir(round_id) / "pointers"
        out = []
        if pointers.is_dir():
            for p in sorted(pointers.iterdir()):
                if p.name.startswith("."):
                    continue
                staker, mid = p.name.split("-")
                out.append({"staker": to_checksum_address(staker), "modelId": "0x" + mid, "hash": p.read_text().strip()})
        return out

    def get_score_table(self, round_id: int, table_hash=None) -> bytes:
        """The latest published score table of a round (or the one with `table_hash`)."""
        rdir = self._round_dir(round_id)
        try:
            digest = _bytes32(table_hash, "table hash") if table_hash is not None else \
                _bytes32((rdir / "score_table").read_text().strip(), "table hash")
            return (rdir / "tables" / f"{digest.hex()}.csv").read_bytes()
        except FileNotFoundError:
            which = f" with hash {table_hash if isinstance(table_hash, str) else _hex(table_hash)}" if table_hash is not None else ""
            raise StoreNotFound(f"no score table{which} published for round {round_id} yet") from None


def chain_clock(contracts: Contracts) -> tuple[RoundTimes, Callable[[], int]]:
    """(round_times, now) read from the chain: `Tournament.roundTimes` (cached once known: a
    round's times never change) and the latest block's timestamp."""
    cache: dict[int, tuple[int, int]] = {}
    fn = contracts.tournament.functions.roundTimes
    w3 = contracts.w3

    def round_times(round_id: int) -> tuple[int, int]:
        if round_id in cache:
            return cache[round_id]
        if not 0 <= round_id < 2**256:
            return (0, 0)
        close, resolve, _ = fn(round_id).call()
        if close:
            cache[round_id] = (close, resolve)
        return close, resolve

    def now() -> int:
        return int(w3.eth.get_block("latest")["timestamp"])

    return round_times, now


def committee_members(contracts: Contracts) -> Callable[[str], bool]:
    """The score-table publishers: the oracle committee's current members (asked on-chain)."""
    is_member = contracts.committee.functions.isMember
    return lambda address: bool(is_member(address).call())


def local_store_for(directory, contracts: Contracts, identity: str | None = None) -> LocalStore:
    """A LocalStore over `directory` on `contracts`'s chain and clock, publishers = the committee."""
    round_times, now = chain_clock(contracts)
    return LocalStore(directory, round_times, contracts.w3.eth.chain_id,
                      identity or f"local:{Path(directory).resolve()}", now=now,
                      publishers=committee_members(contracts))
