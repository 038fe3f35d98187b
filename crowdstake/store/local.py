"""The submission store: where participants upload predictions files before a round closes,
where everyone reads them after it closed, and where the oracle publishes score tables.

One interface, two backends:

- `LocalStore(directory, round_times, chain_id, identity, now=...)`: a plain directory; it also
  holds every check, so the HTTP service is this class behind HTTP;
- `HttpStore(base_url)`: the client of `create_app(...)` (FastAPI, served by uvicorn through
  `serve(...)` or `crowdstake store serve`).

Both are a `crowdstake.store.Store`; the client side that signs requests (`upload_predictions`,
`publish_score_table`, `publish_dataset`, `publish_targets`) is `signing.SignedRequests`.

Rules (the store enforces them; the clock is the chain's, `now()` = latest block timestamp):

- An upload carries an EIP-712 signature of the staker over (chainId, store identity, staker,
  roundId, modelId, fileHash, expiry, nonce), fileHash = keccak256 of the file's bytes (the
  `predictionsHash` that `Tournament.submit` commits). A wrong chain or store, round, model or
  hash, an expired or too-far expiry, a signature not by the staker, or a replay (used
  signatures are kept, on disk, until they expire) is refused. The nonce lets a staker upload
  the same file twice in one block.
- Uploads are accepted only while the round is open (`now < closeTime`), and only as a CSV with
  the header `id,prediction` whose ids are exactly the round's live ids, each once, values
  numbers in [0, 1] (no NaN), at most `max_bytes`; an error names the first bad line. A
  Signals round's (`round_kind` says it) as `ticker,signal`, values in (0, 1), at least the
  round's `minTickers` of its universe, tickers outside it dropped
  (`crowdstake.store.signals_formats.validate_signals`).
- Live ids: a round's are the ids of its dataset's `live.csv` (a Signals dataset's
  `universe.csv`) when the round's on-chain
  `datasetHash` names a dataset this store holds (`commitments` reads it). For a round whose
  dataset is not in the store, the fund registers them as the file
  `<directory>/rounds/<roundId>/live_ids.csv` (header `id`, one id a line), written with
  `LocalStore.register_live_ids` or placed there by any other means (the fund runs the store or
  shares its disk); a dataset in the store wins over that file. They are public:
  `live_ids(round_id)`.
- An accepted upload's file, its pointer (round, staker, model) -> hash and its signature are
  committed in one fsynced transaction of the directory's SQLite file (`replay.ReplayMemory`);
  files are content-addressed (round, hash), and a re-upload moves the pointer. A file in
  `rounds/<roundId>/files/<hash>.csv` (an older version's upload, or put there by other means)
  is read too. No reader sees a file of an open round: not by pointer, not by
  hash, not in a listing. After close everything of the round is readable by anyone.
- Score tables: published by a signature (PublishScoreTable(chainId, store, publisher, roundId,
  tableHash, expiry, nonce)) of an allowed publisher (the committee's members: `serve` asks
  the chain) once the round has closed; readable by anyone after. tableHash = keccak256(bytes),
  the `scoreTableHash` the committee votes; a new publication replaces the latest pointer, every
  published table stays readable by hash.
- Datasets (see `crowdstake.store.datasets` for the files and the manifest's canonical form):
  published by an operator of the Tournament (`operators`: `serve` asks the chain for
  OPERATOR_ROLE), file by file (PublishDatasetFile(chainId, store, publisher, fileHash, expiry,
  nonce), at most `max_dataset_bytes` each), then the manifest (PublishDataset(chainId, store,
  publisher, datasetHash, expiry, nonce)), which is accepted only once every file it lists is in
  the store with its size, and the files are what their names say (live.csv's ids, no live
  target column). Files live at `datasets/files/<hash>`, manifests at
  `datasets/manifests/<hash>.csv`; the same bytes again are no change. Anyone reads a manifest
  or a file by its hash, at any time (participants download while a round is open); a manifest
  is there only once all of its files are.
- Targets: published by an operator (PublishTargets(chainId, store, publisher, roundId,
  targetsHash, expiry, nonce)) from the round's resolveTime on, `id,target` with exactly the
  round's live ids and values in [0, 1] (`crowdstake.store.formats.validate_targets`; a Signals
  round's `ticker,target` for each ticker of its universe), never
  bytes other than a targets hash already committed on-chain. Stored once per round as
  `rounds/<roundId>/targets.csv`: the same bytes again are no change, other bytes a 409.
  Readable by anyone from resolveTime on.

Several processes may serve one directory (`crowdstake store serve --workers N`): nothing a
rule depends on lives in one process's memory. The used signatures are in the directory's SQLite
file (`replay.ReplayMemory`: of two workers given one signature, one accepts it), and with them,
in the same transaction, the uploaded files and the pointers (round, staker, model) -> hash; a
round's latest score table is a file replaced by rename, so every worker reads the latest one
written; a round's targets are written once with a hard link (`_fs.write_once`: of two workers,
one writes, the other compares). What a process caches (live ids keyed by the file's stat, a
dataset's live ids, the chain's round times and commitments, the latest chain time seen, by which
rounds are known closed) never changes once written.
The module: the directory backend (`LocalStore`; its datasets: `crowdstake.store.local_datasets`) and
registering live ids; what it reads from the chain (the
clock it runs by, round times, the committee, the operators and each round's commitments) is
`crowdstake.store.onchain`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from crowdstake._fs import atomic_write, remove_leftovers, write_once
from crowdstake._human import when
from crowdstake.errors import (InvalidInputError, StoreConflict, StoreForbidden,
                               StoreNotFound, StoreUnavailable)
from crowdstake.store.auth import MAX_EXPIRY, _address, _bytes32, _hex, model_bytes, verify_request
from crowdstake.store.datasets import live_ids_of, parse_manifest
from crowdstake.store.local_datasets import LocalDatasets
from crowdstake.store.formats import MAX_BYTES, parse_live_ids, validate_predictions, validate_targets
from crowdstake.store.signals_formats import UNIVERSE, read_universe, validate_signals, validate_signals_targets
from crowdstake.store.replay import ReplayMemory
from crowdstake.store.signing import SignedRequests

STALE_TMP = 600  # a temporary file older than this (seconds) is a crash's leftover
MAX_DATASET_BYTES = 256 * 2**20  # one dataset file, at most
ZERO = bytes(32)

RoundTimes = Callable[[int], "tuple[int, int]"]
RoundHash = Callable[[int], bytes]  # roundId -> a hash the round commits on-chain (datasetHash, targetsHash), zeros if none


def _allowed(who: Iterable[str] | Callable[[str], bool] | None) -> Callable[[str], bool]:
    """Addresses, or a callable address -> bool, as one callable (None: nobody)."""
    if who is None or callable(who):
        return who or (lambda address: False)
    allowed = {to_checksum_address(a) for a in who}
    return allowed.__contains__


def register_live_ids(directory, round_id: int, ids: Iterable[str]) -> int:
    """The fund registers a round's live ids in a store directory (a running store sees them at
    once): writes `<directory>/rounds/<roundId>/live_ids.csv` atomically. Returns the count."""
    ids = [str(i) for i in ids]
    data = ("id\n" + "".join(f"{i}\n" for i in ids)).encode()
    parse_live_ids(data)
    atomic_write(Path(directory) / "rounds" / str(int(round_id)) / "live_ids.csv", data)
    return len(ids)


class LocalStore(SignedRequests, LocalDatasets):
    """The store over a plain directory; every rule lives here (the HTTP service wraps it).

    `round_times(roundId) -> (closeTime, resolveTime)`, (0, 0) for an unknown round;
    `now() -> int` is the clock the rules use: give the chain's latest block timestamp
    (`chain_clock`), wall-clock time is only the default for chain-less demos.
    `publishers`: addresses, or a callable address -> bool, allowed to publish score tables
    (None: nobody); `operators`: the same for datasets and targets (the Tournament's
    OPERATOR_ROLE holders; None: nobody). `round_dataset(roundId)` and `round_targets(roundId)`
    are the round's on-chain `datasetHash` and `targetsHash` (32 zero bytes when none; None:
    not known to this store): a round's live ids come from the dataset it names, and no targets
    but the committed ones are taken. `round_kind(roundId) -> (kind, minTickers)` (None: every
    round classic): a Signals round's live ids are its universe, its uploads `ticker,signal`
    with at least `minTickers` of them, its targets `ticker,target`. Datasets: `LocalDatasets`."""

    def __init__(self, directory, round_times: RoundTimes, chain_id: int, identity: str, *,
                 now: Callable[[], int] | None = None,
                 publishers: Iterable[str] | Callable[[str], bool] | None = None,
                 operators: Iterable[str] | Callable[[str], bool] | None = None,
                 round_dataset: RoundHash | None = None, round_targets: RoundHash | None = None,
                 round_kind: Callable[[int], tuple[int, int]] | None = None, max_bytes: int = MAX_BYTES, max_expiry: int = MAX_EXPIRY,
                 max_dataset_bytes: int = MAX_DATASET_BYTES):
        self.directory = Path(directory)
        self.round_times, self.chain_id, self.identity = round_times, int(chain_id), str(identity)
        self.now = now or (lambda: int(time.time()))
        self._is_publisher = _allowed(publishers)
        self._is_operator = _allowed(operators)
        self.round_dataset, self.round_targets, self.round_kind = round_dataset, round_targets, round_kind
        self.max_bytes, self.max_expiry, self.max_dataset_bytes = max_bytes, max_expiry, max_dataset_bytes
        self._live_cache: dict[int, tuple[tuple, frozenset[str]]] = {}
        self._dataset_ids: dict[bytes, frozenset[str]] = {}  # dataset hash -> its live ids (immutable)
        self._closed_by = 0  # a chain time seen: rounds that closed by then are closed for good
        self.directory.mkdir(parents=True, exist_ok=True)
        remove_leftovers(self.directory, STALE_TMP)
        self._replay = ReplayMemory(self.directory, self._now)

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
        if close and close <= self._closed_by:  # the chain's clock never goes back: no node asked per file
            return
        now = self._now()
        if now < close:
            raise StoreForbidden(f"round {round_id} is open until {when(close, now)} by the chain's clock: "
                                 "its files are readable by nobody before it closes")
        self._closed_by = max(self._closed_by, now)

    def _round_dir(self, round_id: int) -> Path:
        return self.directory / "rounds" / str(int(round_id))

    # ---------------------------------------------------------------- live ids

    def register_live_ids(self, round_id: int, ids: Iterable[str]) -> int:
        """Register a round's live ids (the fund): see the module function."""
        return register_live_ids(self.directory, round_id, ids)

    def live_ids(self, round_id: int) -> list[str]:
        return sorted(self._live_set(round_id))

    def _live_set(self, round_id: int) -> frozenset[str]:
        dataset, ids = self._dataset_live_ids(round_id)
        if ids is not None:
            return ids
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
            dataset_note = f", nor published its dataset {_hex(dataset)}" if dataset else ""
            raise StoreConflict(f"the fund has not registered live ids for round {round_id} in this store yet"
                                f"{dataset_note}: uploads open when it has") from None
        except (InvalidInputError, UnicodeDecodeError) as e:
            raise StoreUnavailable(f"round {round_id}'s live ids file is malformed ({e}): the fund must fix it") from None

    def _dataset_live_ids(self, round_id: int) -> tuple[bytes | None, frozenset[str] | None]:
        """(the round's on-chain datasetHash or None, the ids of its live.csv when this store
        holds that dataset, else None)."""
        if self.round_dataset is None:
            return None, None
        dataset = self._ask_chain(lambda: bytes(self.round_dataset(int(round_id))), f"round {round_id}'s dataset hash")
        if dataset == ZERO:
            return None, None
        if dataset in self._dataset_ids:
            return dataset, self._dataset_ids[dataset]
        try:
            entries = parse_manifest(self._manifest_path(dataset).read_bytes())
        except FileNotFoundError:
            return dataset, None  # not published here (yet): the fund may still
        except InvalidInputError as e:
            raise StoreUnavailable(f"dataset {_hex(dataset)} is damaged in this store ({e}): the fund must publish it again") from None
        live = next(e for e in entries if e.name in ("live.csv", UNIVERSE))  # a classic or a Signals dataset
        read = live_ids_of if live.name == "live.csv" else read_universe
        try:
            ids = frozenset(read(self._dataset_path(live.hash).read_bytes()))
        except (FileNotFoundError, InvalidInputError) as e:
            raise StoreUnavailable(f"dataset {_hex(dataset)}'s {live.name} is damaged or missing in this store "
                                   f"({e.__class__.__name__}): the fund must publish the dataset again") from None
        self._dataset_ids[dataset] = ids
        return dataset, ids

    # ---------------------------------------------------------------- verification

    def _verify(self, kind: str, data: bytes, auth: dict, round_id: int | None, extra: dict,
                max_bytes: int | None = None) -> tuple[dict, int]:
        return verify_request(kind, data, auth, chain_id=self.chain_id, identity=self.identity, round_id=round_id,
                              extra=extra, max_bytes=max_bytes or self.max_bytes, max_expiry=self.max_expiry,
                              clock=self._now)

    def _kind(self, round_id: int) -> tuple[int, int]:
        """(kind, minTickers) of the round: (0, 0), classic, when this store knows no chain."""
        if self.round_kind is None:
            return (0, 0)
        return self._ask_chain(lambda: self.round_kind(int(round_id)), f"round {round_id}'s kind")

    def _ask_chain(self, read: Callable, what: str):
        try:
            return read()
        except Exception as e:  # noqa: BLE001 - as for _now
            raise StoreUnavailable(f"the store cannot read {what} from the chain ({e.__class__.__name__}): "
                                   "try again later") from None

    def _require_operator(self, address: str, what: str) -> None:
        if not self._ask_chain(lambda: self._is_operator(address), "the Tournament's operators"):
            raise StoreForbidden(f"{address} may not publish {what} here: only the Tournament's operators "
                                 "(OPERATOR_ROLE) may")

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
            raise StoreForbidden(f"round {rid} closed at {when(close, now)} by the chain's clock: uploads are no longer "
                                 "accepted")
        ids, (kind, floor) = self._live_set(rid), self._kind(rid)
        self._replay.refuse_used(msg["digest"])  # before the work; `remember` below decides a race
        if kind:  # Signals: tickers outside the universe are dropped, as the oracle drops them
            validate_signals(data, ids, floor, self.max_bytes)
        else:
            validate_predictions(data, ids, self.max_bytes)
        digest = msg["fileHash"]
        self._replay.remember(msg["digest"], msg["expiry"], now,  # the file, its pointer, the signature: one commit
                              (rid, msg["staker"].lower(), msg["modelId"].hex(), _hex(digest)), (rid, digest, bytes(data)))
        return digest

    def put_score_table(self, data: bytes, auth: dict, round_id: int | None = None) -> bytes:
        """Accept a signed score table from an allowed publisher once the round has closed."""
        msg, now = self._verify("scoreTable", bytes(data), auth, round_id, {})
        rid = msg["roundId"]
        if not self._is_publisher(msg["publisher"]):
            raise StoreForbidden(f"{msg['publisher']} may not publish score tables here: only the oracle committee's members may")
        close, _ = self._times(rid)
        if now < close:
            raise StoreForbidden(f"round {rid} is open until {when(close, now)} by the chain's clock: score tables are "
                                 "published after it closes")
        self._replay.remember(msg["digest"], msg["expiry"], now)
        digest = msg["tableHash"]
        rdir = self._round_dir(rid)
        path = rdir / "tables" / f"{digest.hex()}.csv"
        if not path.exists():
            atomic_write(path, bytes(data))
        atomic_write(rdir / "score_table", (_hex(digest) + "\n").encode())
        return digest

    def put_targets(self, data: bytes, auth: dict, round_id: int | None = None) -> bytes:
        """Accept a round's targets from an operator from its resolveTime on: exactly the round's
        live ids, values in [0, 1], once per round."""
        msg, now = self._verify("targets", bytes(data), auth, round_id, {})
        rid = msg["roundId"]
        self._require_operator(msg["publisher"], "targets")
        _, resolve = self._times(rid)
        if now < resolve:
            raise StoreForbidden(f"round {rid} resolves at {when(resolve, now)} by the chain's clock: "
                                 "its targets are published from then on")
        ids, (kind, _) = self._live_set(rid), self._kind(rid)
        self._replay.remember(msg["digest"], msg["expiry"], now)
        (validate_signals_targets if kind else validate_targets)(data, ids, self.max_bytes)
        digest = msg["targetsHash"]
        if self.round_targets is not None:
            committed = self._ask_chain(lambda: bytes(self.round_targets(rid)), f"round {rid}'s targets hash")
            if committed not in (ZERO, digest):
                raise StoreConflict(f"round {rid}'s targets are committed on-chain as {_hex(committed)}, these bytes "
                                    f"hash to {_hex(digest)}: publish the committed file")
        path = self._round_dir(rid) / "targets.csv"
        if not write_once(path, bytes(data)):  # once per round, whichever worker is first
            held = keccak(path.read_bytes())
            if held != digest:
                raise StoreConflict(f"round {rid}'s targets are published already, with hash {_hex(held)}: "
                                    "a round's targets are stored once")
        return digest

    # ---------------------------------------------------------------- client side (signing: SignedRequests)

    def info(self) -> dict:
        return {"chainId": self.chain_id, "identity": self.identity, "now": self._now(),
                "maxBytes": self.max_bytes, "maxExpiry": self.max_expiry, "maxDatasetBytes": self.max_dataset_bytes}

    def get_targets(self, round_id: int, targets_hash=None) -> bytes:
        """A round's published targets, from its resolveTime on (or the ones with
        `targets_hash`: a round has one, so another hash is not found)."""
        h = _bytes32(targets_hash, "targets hash") if targets_hash is not None else None
        _, resolve = self._times(round_id)
        now = self._now()
        if now < resolve:
            raise StoreForbidden(f"round {round_id} resolves at {when(resolve, now)} by the chain's clock: "
                                 "its targets are readable from then on")
        try:
            data = (self._round_dir(round_id) / "targets.csv").read_bytes()
        except FileNotFoundError:
            raise StoreNotFound(f"no targets published for round {round_id} yet") from None
        if h is not None and keccak(data) != h:
            raise StoreNotFound(f"no targets with hash {_hex(h)} for round {round_id}: the store holds "
                                f"{_hex(keccak(data))}")
        return data

    def get_predictions(self, round_id: int, staker: str, model_id) -> bytes:
        """A staker's latest file for a model, once the round has closed."""
        self._require_closed(round_id)
        staker, mid = _address(staker, "staker"), model_bytes(model_id)
        digest = self._replay.pointer(round_id, staker.lower(), mid.hex())
        if digest is None:
            raise StoreNotFound(f"no file of {staker} for model {_hex(mid)} in round {round_id}")
        return self.get_file(round_id, digest)

    def get_file(self, round_id: int, digest) -> bytes:
        """A file of a closed round by its hash."""
        self._require_closed(round_id)
        h = _bytes32(digest, "file hash")
        data = self._replay.file(round_id, h)
        if data is not None:
            return data
        try:  # uploaded before the files moved into the replay memory, or placed there by other means
            return (self._round_dir(round_id) / "files" / f"{h.hex()}.csv").read_bytes()
        except FileNotFoundError:
            raise StoreNotFound(f"no file with hash {_hex(h)} in round {round_id}") from None

    def submissions(self, round_id: int) -> list[dict]:
        """Every (staker, modelId, hash) of a closed round, sorted."""
        self._require_closed(round_id)
        return [{"staker": to_checksum_address(staker), "modelId": "0x" + model, "hash": digest}
                for staker, model, digest in self._replay.pointers(round_id)]

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
