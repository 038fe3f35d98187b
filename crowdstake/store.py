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

One store process owns a directory (the replay memory is per process).
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Self

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_hash.auto import keccak
from eth_utils import is_address, to_checksum_address

# at module level, where FastAPI resolves the handlers' (string) annotations
from starlette.requests import Request

from crowdstake.errors import ConfigError, CrowdstakeError, InvalidInputError
from crowdstake.merkle import model_id as _model_id_of

MAX_BYTES = 32 * 2**20  # a predictions file or score table, at most
MAX_EXPIRY = 86_400  # a signature may be valid at most this long (seconds of chain time) ahead
DEFAULT_TTL = 600
STALE_TMP = 600  # a temporary file older than this (seconds) is a crash's leftover
DOMAIN_NAME = "crowdstake submission store"
DOMAIN_VERSION = "1"
AUTH_HEADER = "X-Crowdstake-Auth"

RoundTimes = Callable[[int], "tuple[int, int]"]


# ------------------------------------------------------------------ errors (with HTTP statuses)


class StoreError(CrowdstakeError, RuntimeError):
    """The store refused a request; `status` is the HTTP status it answers with."""

    status = 500

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class StoreBadRequest(StoreError, ValueError):
    """The request does not match what it claims (chain, store, round, model, hash, fields)."""

    status = 400


class StoreUnauthorized(StoreError, PermissionError):
    """The signature is expired or not by the account the request names."""

    status = 401


class StoreForbidden(StoreError, PermissionError):
    """Not now or not you: round not open for uploads, round still open for reading, not a publisher."""

    status = 403


class StoreNotFound(StoreError, LookupError):
    """No such round, file or table."""

    status = 404


class StoreConflict(StoreError):
    """Replayed signature, or the round cannot take uploads yet (no live ids)."""

    status = 409


class StoreTooLarge(StoreError, ValueError):
    status = 413


class InvalidPredictionsError(InvalidInputError, StoreError):
    """The predictions file is malformed; the message names the first bad line."""

    status = 422


class StoreUnavailable(StoreError):
    status = 503


_BY_STATUS = {c.status: c for c in (StoreBadRequest, StoreUnauthorized, StoreForbidden, StoreNotFound,
                                     StoreConflict, StoreTooLarge, InvalidPredictionsError, StoreUnavailable)}


# ------------------------------------------------------------------ hashes, ids, signatures


def file_hash(data: bytes) -> bytes:
    """keccak256 of a file's bytes: the `predictionsHash` committed on-chain, the store's address."""
    return keccak(bytes(data))


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _bytes32(value, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        b = bytes(value)
    elif isinstance(value, str) and re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", value):
        b = bytes.fromhex(value.removeprefix("0x"))
    else:
        raise StoreBadRequest(f"{what} must be 32 bytes as 64 hex digits, got {str(value)[:80]!r}")
    if len(b) != 32:
        raise StoreBadRequest(f"{what} must be 32 bytes, got {len(b)}")
    return b


def model_bytes(model) -> bytes:
    """A model id as bytes32: bytes as they are, a 0x-hex id, or a model name (keccak256)."""
    if isinstance(model, (bytes, bytearray)):
        return _bytes32(model, "modelId")
    return _model_id_of(str(model))


def _address(value, what: str = "address") -> str:
    if not isinstance(value, str) or not is_address(value):
        raise StoreBadRequest(f"{what} {str(value)[:80]!r} is not an Ethereum address")
    return to_checksum_address(value)


_UPLOAD = [
    {"name": "store", "type": "string"},
    {"name": "staker", "type": "address"},
    {"name": "roundId", "type": "uint256"},
    {"name": "modelId", "type": "bytes32"},
    {"name": "fileHash", "type": "bytes32"},
    {"name": "expiry", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
]
_TABLE = [
    {"name": "store", "type": "string"},
    {"name": "publisher", "type": "address"},
    {"name": "roundId", "type": "uint256"},
    {"name": "tableHash", "type": "bytes32"},
    {"name": "expiry", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
]
_KINDS = {"upload": ("Upload", _UPLOAD, "staker", "fileHash"),
          "scoreTable": ("PublishScoreTable", _TABLE, "publisher", "tableHash")}


def _typed(kind: str, chain_id: int, message: dict):
    primary, fields, _, _ = _KINDS[kind]
    return encode_typed_data(full_message={
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"}],
            primary: fields,
        },
        "primaryType": primary,
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id},
        "message": message,
    })


def _sign(kind: str, account, chain_id: int, identity: str, round_id: int, digest: bytes, expiry: int,
          nonce: int | None, extra: dict) -> dict:
    _, _, signer_field, hash_field = _KINDS[kind]
    nonce = secrets.randbits(128) if nonce is None else int(nonce)
    message = {"store": identity, signer_field: account.address, "roundId": int(round_id), **extra,
               hash_field: digest, "expiry": int(expiry), "nonce": nonce}
    signature = account.sign_message(_typed(kind, chain_id, message)).signature
    auth = {k: (_hex(v) if isinstance(v, bytes) else v) for k, v in message.items()}
    return {"kind": kind, "chainId": int(chain_id), **auth, "signature": _hex(signature)}


def sign_upload(account, chain_id: int, identity: str, round_id: int, model_id, data: bytes, expiry: int,
                nonce: int | None = None) -> dict:
    """The signed authorisation of an upload (a JSON-able dict; HTTP sends it in the
    X-Crowdstake-Auth header). `expiry` is in chain time (unix seconds)."""
    return _sign("upload", account, chain_id, identity, round_id, file_hash(data), expiry, nonce,
                 {"modelId": model_bytes(model_id)})


def sign_score_table(account, chain_id: int, identity: str, round_id: int, data: bytes, expiry: int,
                     nonce: int | None = None) -> dict:
    """The signed authorisation of a score table publication by a committee member."""
    return _sign("scoreTable", account, chain_id, identity, round_id, keccak(bytes(data)), expiry, nonce, {})


# ------------------------------------------------------------------ validation

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_ID = re.compile(r"[^\s,\"']+")


def parse_live_ids(data: bytes) -> list[str]:
    """A live ids file: the header `id`, then one id a line."""
    lines = data.decode("utf-8").splitlines()
    if not lines or lines[0].strip() != "id":
        raise InvalidInputError("a live ids file starts with the header line `id`")
    ids = [line.strip() for line in lines[1:] if line.strip()]
    for i in ids:
        if not _ID.fullmatch(i):
            raise InvalidInputError(f"live id {i[:80]!r} contains a comma, quote or space")
    if len(set(ids)) != len(ids):
        raise InvalidInputError("the live ids contain a duplicate")
    return ids


_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_ROW = r"[^\s,\"']+," + _NUM
_WELL_FORMED = re.compile(rf"id,prediction\r?\n(?:{_ROW}\r?\n)*(?:{_ROW}\r?)?")
_ROWS = re.compile(r"^([^\s,\"']+),(\S+?)\r?$", re.MULTILINE)


def validate_predictions(data: bytes, live_ids: Collection[str] | None = None, max_bytes: int = MAX_BYTES) -> int:
    """Check a predictions file: header `id,prediction`; one `id,value` a line; each id once and,
    when `live_ids` is given, exactly those ids; values numbers in [0, 1], no NaN; at most
    `max_bytes`. Returns the number of rows; raises InvalidPredictionsError naming the first bad line."""
    if len(data) <= max_bytes:  # fast path for good files (C-speed regex, numpy); errors come from the scan below
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and _WELL_FORMED.fullmatch(text):
            import numpy as np

            rows = _ROWS.findall(text, text.index("\n") + 1)
            ids = [r[0] for r in rows]
            values = np.array([r[1] for r in rows], dtype=float)
            unique = set(ids)
            if (len(unique) == len(ids) and (live_ids is None or unique == (live_ids if isinstance(live_ids, (set, frozenset)) else set(live_ids)))
                    and not np.isnan(values).any() and (values >= 0).all() and (values <= 1).all()):
                return len(ids)
    return _scan_predictions(data, live_ids, max_bytes)


def _scan_predictions(data: bytes, live_ids: Collection[str] | None, max_bytes: int) -> int:
    """Line by line: the first problem, with its line number."""

    def bad(message: str, status: int = 422):
        return InvalidPredictionsError(message, status)

    if len(data) > max_bytes:
        raise bad(f"the file is {len(data):,} bytes, over the store's limit of {max_bytes:,}", 413)
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad(f"the file is not UTF-8 text (byte {e.start})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    if not lines or lines[0].rstrip("\r") != "id,prediction":
        first = lines[0].rstrip("\r")[:80] if lines else ""
        raise bad(f"line 1: the header must be `id,prediction`, got {first!r}")
    expected = set(live_ids) if live_ids is not None else None
    seen: set[str] = set()
    for n, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        fields = line.split(",")
        if len(fields) != 2:
            raise bad(f"line {n}: expected 2 fields `id,prediction`, got {len(fields)}: {line[:80]!r}")
        ident, value = fields
        if not _ID.fullmatch(ident):
            raise bad(f"line {n}: id {ident[:80]!r} is empty or contains a space or quote")
        if ident in seen:
            raise bad(f"line {n}: id {ident!r} appears twice")
        if expected is not None and ident not in expected:
            raise bad(f"line {n}: id {ident!r} is not a live id of this round")
        seen.add(ident)
        v = value.strip()
        if v.lower() in ("nan", "+nan", "-nan"):
            raise bad(f"line {n}: prediction for id {ident!r} is NaN")
        if not _NUMBER.fullmatch(v):
            raise bad(f"line {n}: prediction {value[:80]!r} for id {ident!r} is not a number")
        x = float(v)
        if not (0.0 <= x <= 1.0) or math.isnan(x):
            raise bad(f"line {n}: prediction {v} for id {ident!r} is outside [0, 1]")
    if expected is not None and len(seen) != len(expected):
        missing = sorted(expected - seen)
        raise bad(f"line {len(lines) + 1}: the file ends with {len(missing)} live id(s) missing, first {missing[0]!r}")
    return len(seen)


# ------------------------------------------------------------------ files


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader or a crash sees the old file or the new one, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


# ------------------------------------------------------------------ the store itself


def register_live_ids(directory, round_id: int, ids: Iterable[str]) -> int:
    """The fund registers a round's live ids in a store directory (a running store sees them at
    once): writes `<directory>/rounds/<roundId>/live_ids.csv` atomically. Returns the count."""
    ids = [str(i) for i in ids]
    data = ("id\n" + "".join(f"{i}\n" for i in ids)).encode()
    parse_live_ids(data)
    _atomic_write(Path(directory) / "rounds" / str(int(round_id)) / "live_ids.csv", data)
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
        _atomic_write(self._journal, "".join(f"{e} {d.hex()}\n" for d, e in self._used.items()).encode())

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
        _, fields, signer_field, hash_field = _KINDS[kind]
        if not isinstance(auth, dict):
            raise StoreBadRequest(f"the {AUTH_HEADER} authorisation must be a JSON object")
        missing = [f["name"] for f in fields if f["name"] not in auth] + [f for f in ("chainId", "signature") if f not in auth]
        if missing:
            raise StoreBadRequest(f"the authorisation lacks {', '.join(missing)}")
        try:
            chain_id, rid, expiry, nonce = (int(auth[k]) for k in ("chainId", "roundId", "expiry", "nonce"))
            signature = bytes.fromhex(str(auth["signature"]).removeprefix("0x"))
        except (TypeError, ValueError):
            raise StoreBadRequest("chainId, roundId, expiry and nonce must be integers and signature hex") from None
        signer = _address(auth[signer_field], signer_field)
        claimed = _bytes32(auth[hash_field], hash_field)
        if chain_id != self.chain_id:
            raise StoreBadRequest(f"the request is signed for chain {chain_id}, this store serves chain {self.chain_id}")
        if auth["store"] != self.identity:
            raise StoreBadRequest(f"the request is signed for store {str(auth['store'])[:100]!r}, this store is {self.identity!r}")
        if round_id is not None and rid != int(round_id):
            raise StoreBadRequest(f"the request is signed for round {rid}, not round {round_id}")
        message = {"store": self.identity, signer_field: signer, "roundId": rid, hash_field: claimed,
                   "expiry": expiry, "nonce": nonce}
        for name, value in extra.items():  # e.g. the URL's staker and model
            signed = auth[name]
            signed = _address(signed, name) if name == "staker" else _bytes32(signed, name)
            if value is not None and signed != value:
                shown = value if isinstance(value, str) else _hex(value)
                raise StoreBadRequest(f"the request is signed for {name} {signed if isinstance(signed, str) else _hex(signed)}, not {shown}")
            message[name] = signed
        if len(data) > self.max_bytes:
            raise StoreTooLarge(f"the file is {len(data):,} bytes, over the store's limit of {self.max_bytes:,}")
        actual = keccak(bytes(data))
        if actual != claimed:
            raise StoreBadRequest(f"the file's hash is {_hex(actual)}, the signature covers {_hex(claimed)}: "
                                  "sign the file you upload")
        signable = _typed(kind, self.chain_id, message)
        try:
            recovered = Account.recover_message(signable, signature=signature)
        except Exception:  # noqa: BLE001 - eth-keys raises several types for a malformed signature
            raise StoreUnauthorized("the signature is malformed: sign the request with the account's key") from None
        if recovered != signer:
            raise StoreUnauthorized(f"the signature is not by {signer_field} {signer}: sign with that account's key")
        now = self._now()
        if expiry < now:
            raise StoreUnauthorized(f"the signature expired at {expiry} (chain time now {now}): sign a new request")
        if expiry > now + self.max_expiry:
            raise StoreBadRequest(f"the signature's expiry {expiry} is more than {self.max_expiry} s after chain time {now}")
        digest = keccak(b"\x19" + signable.version + signable.header + signable.body)  # the EIP-712 hash
        return {**message, "digest": digest, "signer": signer}, now

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
            _atomic_write(path, bytes(data))
        _atomic_write(rdir / "pointers" / f"{msg['staker'].lower()}-{msg['modelId'].hex()}", (_hex(digest) + "\n").encode())
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
            _atomic_write(path, bytes(data))
        _atomic_write(rdir / "score_table", (_hex(digest) + "\n").encode())
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


# ------------------------------------------------------------------ the chain's clock


def chain_clock(protocol) -> tuple[RoundTimes, Callable[[], int]]:
    """(round_times, now) read from the chain: `Tournament.roundTimes` (cached once known: a
    round's times never change) and the latest block's timestamp."""
    cache: dict[int, tuple[int, int]] = {}
    fn = protocol.tournament.functions.roundTimes
    w3 = protocol.w3

    def round_times(round_id: int) -> tuple[int, int]:
        if round_id in cache:
            return cache[round_id]
        if not 0 <= round_id < 2**256:
            return (0, 0)
        close, resolve = fn(round_id).call()
        if close:
            cache[round_id] = (close, resolve)
        return close, resolve

    def now() -> int:
        return int(w3.eth.get_block("latest")["timestamp"])

    return round_times, now


def committee_members(protocol) -> Callable[[str], bool]:
    """The score-table publishers: the oracle committee's current members (asked on-chain)."""
    is_member = protocol.committee.functions.isMember
    return lambda address: bool(is_member(address).call())


def local_store_for(directory, protocol, identity: str | None = None) -> LocalStore:
    """A LocalStore over `directory` on `protocol`'s chain and clock, publishers = the committee."""
    round_times, now = chain_clock(protocol)
    return LocalStore(directory, round_times, protocol.w3.eth.chain_id,
                      identity or f"local:{Path(directory).resolve()}", now=now,
                      publishers=committee_members(protocol))


# ------------------------------------------------------------------ HTTP service


def create_app(directory, round_times: RoundTimes, chain_id: int, identity: str, *,
               now: Callable[[], int] | None = None, publishers=None, max_bytes: int = MAX_BYTES,
               max_expiry: int = MAX_EXPIRY):
    """The store as an ASGI app (FastAPI). Routes:

    GET  /info                                         chainId, identity, now, limits
    PUT  /rounds/{r}/predictions/{staker}/{modelId}    body: the CSV; header X-Crowdstake-Auth: sign_upload(...) as JSON
    GET  /rounds/{r}/predictions/{staker}/{modelId}    the file (after close)
    GET  /rounds/{r}/files/{hash}                      a file by hash (after close)
    GET  /rounds/{r}/submissions                       [{staker, modelId, hash}] (after close)
    GET  /rounds/{r}/live-ids                          the live ids file
    PUT  /rounds/{r}/score-table                       body: the table; header: sign_score_table(...) as JSON
    GET  /rounds/{r}/score-table[/{hash}]              the latest (or that) published table

    Errors answer {"detail": message} with the status of the StoreError raised."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response
    from starlette.concurrency import run_in_threadpool

    store = directory if isinstance(directory, LocalStore) else LocalStore(
        directory, round_times, chain_id, identity, now=now, publishers=publishers,
        max_bytes=max_bytes, max_expiry=max_expiry)
    app = FastAPI(title="crowdstake submission store", version=DOMAIN_VERSION)
    app.state.store = store

    @app.exception_handler(StoreError)
    async def _refused(request, exc: StoreError):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    async def body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > store.max_bytes:
            raise StoreTooLarge(f"the body is {int(declared):,} bytes, over the store's limit of {store.max_bytes:,}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > store.max_bytes:
                raise StoreTooLarge(f"the body is over the store's limit of {store.max_bytes:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def auth_of(request: Request) -> dict:
        raw = request.headers.get(AUTH_HEADER)
        if not raw:
            raise StoreUnauthorized(f"no {AUTH_HEADER} header: sign the request (crowdstake.store.sign_upload)")
        try:
            return json.loads(raw)
        except ValueError:
            raise StoreBadRequest(f"the {AUTH_HEADER} header is not JSON") from None

    def csv(data: bytes, digest: str | None = None) -> Response:
        headers = {"X-Crowdstake-Hash": digest or _hex(keccak(data))}
        return Response(data, media_type="text/csv", headers=headers)

    @app.get("/info")
    async def info():
        return await run_in_threadpool(store.info)

    @app.put("/rounds/{round_id}/predictions/{staker}/{model}", status_code=201)
    async def upload(round_id: int, staker: str, model: str, request: Request):
        data = await body(request)
        digest = await run_in_threadpool(store.put_predictions, data, auth_of(request), round_id, staker, model)
        return {"hash": _hex(digest)}

    @app.get("/rounds/{round_id}/predictions/{staker}/{model}")
    async def predictions(round_id: int, staker: str, model: str):
        return csv(await run_in_threadpool(store.get_predictions, round_id, staker, model))

    @app.get("/rounds/{round_id}/files/{digest}")
    async def file(round_id: int, digest: str):
        return csv(await run_in_threadpool(store.get_file, round_id, digest))

    @app.get("/rounds/{round_id}/submissions")
    async def submissions(round_id: int):
        return await run_in_threadpool(store.submissions, round_id)

    @app.get("/rounds/{round_id}/live-ids")
    async def live_ids(round_id: int):
        ids = await run_in_threadpool(store.live_ids, round_id)
        return Response(("id\n" + "".join(f"{i}\n" for i in ids)).encode(), media_type="text/csv")

    @app.put("/rounds/{round_id}/score-table", status_code=201)
    async def publish(round_id: int, request: Request):
        data = await body(request)
        digest = await run_in_threadpool(store.put_score_table, data, auth_of(request), round_id)
        return {"hash": _hex(digest)}

    @app.get("/rounds/{round_id}/score-table")
    async def table(round_id: int):
        return csv(await run_in_threadpool(store.get_score_table, round_id))

    @app.get("/rounds/{round_id}/score-table/{digest}")
    async def table_by_hash(round_id: int, digest: str):
        return csv(await run_in_threadpool(store.get_score_table, round_id, digest))

    return app


class HttpStore:
    """Client of a store service: the same methods as LocalStore's client side.

    `chain_id`/`identity`, when given, are checked against the service's /info (a store for
    another chain is refused before anything is signed)."""

    def __init__(self, base_url: str, *, chain_id: int | None = None, identity: str | None = None,
                 timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._expect = (chain_id, identity)
        self._local = threading.local()
        self._identity: tuple[int, str] | None = None

    @property
    def _session(self):
        import requests

        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _request(self, method: str, path: str, **kwargs):
        import requests

        url = self.base_url + path
        try:
            response = self._session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as e:
            raise ConfigError(f"cannot reach the submission store at {self.base_url} ({e.__class__.__name__}): "
                              "start it (`crowdstake store serve`) or pass the right --store") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            if not isinstance(detail, str):  # FastAPI's own validation errors: a list
                detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail) \
                    if isinstance(detail, list) else str(detail)
            cls = _BY_STATUS.get(response.status_code, StoreError)
            raise cls(f"the store refused ({response.status_code}): {detail}", response.status_code)
        return response

    def info(self) -> dict:
        info = self._request("GET", "/info").json()
        chain_id, identity = self._expect
        if chain_id is not None and info["chainId"] != chain_id:
            raise ConfigError(f"the store at {self.base_url} serves chain {info['chainId']}, not chain {chain_id}: use another store")
        if identity is not None and info["identity"] != identity:
            raise ConfigError(f"the store at {self.base_url} is {info['identity']!r}, not {identity!r}")
        return info

    def upload_predictions(self, account, round_id: int, model_id, data: bytes, ttl: int = DEFAULT_TTL) -> bytes:
        """Sign and upload a predictions file; returns its hash (commit it with `submit`)."""
        info = self.info()
        auth = sign_upload(account, info["chainId"], info["identity"], round_id, model_id, data, info["now"] + ttl)
        return self.put_predictions(bytes(data), auth)

    def put_predictions(self, data: bytes, auth: dict, round_id: int | None = None, staker: str | None = None,
                        model_id=None) -> bytes:
        """Send an already signed upload (the URL names what `auth` says unless overridden)."""
        rid = auth.get("roundId") if round_id is None else round_id
        who = auth.get("staker") if staker is None else staker
        mid = auth.get("modelId") if model_id is None else (_hex(model_id) if isinstance(model_id, bytes) else model_id)
        r = self._request("PUT", f"/rounds/{rid}/predictions/{who}/{mid}", data=bytes(data),
                          headers={AUTH_HEADER: json.dumps(auth), "Content-Type": "text/csv"})
        return bytes.fromhex(r.json()["hash"][2:])

    def publish_score_table(self, account, round_id: int, data: bytes, ttl: int = DEFAULT_TTL) -> bytes:
        info = self.info()
        auth = sign_score_table(account, info["chainId"], info["identity"], round_id, data, info["now"] + ttl)
        return self.put_score_table(bytes(data), auth)

    def put_score_table(self, data: bytes, auth: dict, round_id: int | None = None) -> bytes:
        rid = auth.get("roundId") if round_id is None else round_id
        r = self._request("PUT", f"/rounds/{rid}/score-table", data=bytes(data),
                          headers={AUTH_HEADER: json.dumps(auth), "Content-Type": "text/csv"})
        return bytes.fromhex(r.json()["hash"][2:])

    def get_predictions(self, round_id: int, staker: str, model_id) -> bytes:
        return self._request("GET", f"/rounds/{int(round_id)}/predictions/{staker}/{_hex(model_bytes(model_id))}").content

    def get_file(self, round_id: int, digest) -> bytes:
        h = _hex(digest) if isinstance(digest, bytes) else digest
        return self._request("GET", f"/rounds/{int(round_id)}/files/{h}").content

    def submissions(self, round_id: int) -> list[dict]:
        return self._request("GET", f"/rounds/{int(round_id)}/submissions").json()

    def live_ids(self, round_id: int) -> list[str]:
        return parse_live_ids(self._request("GET", f"/rounds/{int(round_id)}/live-ids").content)

    def get_score_table(self, round_id: int, table_hash=None) -> bytes:
        suffix = "" if table_hash is None else "/" + (_hex(table_hash) if isinstance(table_hash, bytes) else table_hash)
        return self._request("GET", f"/rounds/{int(round_id)}/score-table{suffix}").content


# ------------------------------------------------------------------ running it


class ServerThread:
    """Run an ASGI app with uvicorn in a background thread on a free loopback port (tests,
    benchmarks, demos): `with ServerThread(app) as server: HttpStore(server.url) ...`."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        import socket

        import uvicorn

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                                    backlog=1024))
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError("the store server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(directory, host: str = "127.0.0.1", port: int = 8700, rpc_url: str = "http://127.0.0.1:8545",
          deployments_dir: Path | None = None, identity: str | None = None) -> None:
    """Run the store service on `host:port` over `directory`, with the round times, clock and
    committee of the chain at `rpc_url` (its deployment from `deployments_dir`). Blocks."""
    import uvicorn

    from crowdstake.chain import Protocol, connect

    protocol = Protocol.load(connect(rpc_url), deployments_dir)
    round_times, now = chain_clock(protocol)
    store = LocalStore(directory, round_times, protocol.w3.eth.chain_id, identity or f"http://{host}:{port}",
                       now=now, publishers=committee_members(protocol))
    app = create_app(store, round_times, store.chain_id, store.identity)
    uvicorn.run(app, host=host, port=port, log_level="info")
