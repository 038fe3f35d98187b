"""Who may write to the store: EIP-712 signatures of uploads (by the staker), of score-table
publications (by a committee member), and of the fund's dataset files, dataset manifests and
targets (by a holder of the Tournament's OPERATOR_ROLE); the hashes they cover, and their
verification against the store, the round and the chain's clock.

Every kind signs (store identity, signer, [roundId,] hash, expiry, nonce) under the domain
(name, version, chainId); a dataset is not a round's (a round commits its hash when it opens),
so its two kinds have no roundId. A signature of one kind is never valid as another: each is
its own EIP-712 type."""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable

from eth_account.messages import encode_typed_data
from eth_hash.auto import keccak
from eth_keys import keys
from eth_utils import is_address, to_checksum_address

from crowdstake._human import format_duration, utc, when
from crowdstake.errors import StoreBadRequest, StoreTooLarge, StoreUnauthorized
from crowdstake.results.merkle import model_id as _model_id_of

MAX_EXPIRY = 86_400  # a signature may be valid at most this long (seconds of chain time) ahead
DEFAULT_TTL = 600
DOMAIN_NAME = "crowdstake submission store"
DOMAIN_VERSION = "1"
AUTH_HEADER = "X-Crowdstake-Auth"


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


def _uint256(value, what: str) -> int:
    """A signed field that EIP-712 encodes as uint256: an integer (or its decimal digits) in
    [0, 2**256), never a float, a bool or anything else."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**256:
        raise StoreBadRequest(f"{what} must be a whole number from 0 to 2**256 - 1, got {str(value)[:80]!r}")
    return value


def _address(value, what: str = "address") -> str:
    checksummed = _checksummed(value) if isinstance(value, str) else None
    if checksummed is None:
        raise StoreBadRequest(f"{what} {str(value)[:80]!r} is not an Ethereum address")
    return checksummed


@functools.lru_cache(maxsize=4096)  # a store sees the same wallets again and again; 0.2 ms a checksum
def _checksummed(value: str) -> str | None:
    return to_checksum_address(value) if is_address(value) else None


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
_DATASET_FILE = [
    {"name": "store", "type": "string"},
    {"name": "publisher", "type": "address"},
    {"name": "fileHash", "type": "bytes32"},
    {"name": "expiry", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
]
_DATASET = [
    {"name": "store", "type": "string"},
    {"name": "publisher", "type": "address"},
    {"name": "datasetHash", "type": "bytes32"},
    {"name": "expiry", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
]
_TARGETS = [
    {"name": "store", "type": "string"},
    {"name": "publisher", "type": "address"},
    {"name": "roundId", "type": "uint256"},
    {"name": "targetsHash", "type": "bytes32"},
    {"name": "expiry", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
]
_KINDS = {"upload": ("Upload", _UPLOAD, "staker", "fileHash"),
          "scoreTable": ("PublishScoreTable", _TABLE, "publisher", "tableHash"),
          "datasetFile": ("PublishDatasetFile", _DATASET_FILE, "publisher", "fileHash"),
          "dataset": ("PublishDataset", _DATASET, "publisher", "datasetHash"),
          "targets": ("PublishTargets", _TARGETS, "publisher", "targetsHash")}


def _has_round(kind: str) -> bool:
    return any(f["name"] == "roundId" for f in _KINDS[kind][1])


_DOMAIN_TYPE = [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}]


def _typed(kind: str, chain_id: int, message: dict):
    primary, fields, _, _ = _KINDS[kind]
    return encode_typed_data(full_message={
        "types": {"EIP712Domain": _DOMAIN_TYPE, primary: fields}, "primaryType": primary,
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id},
        "message": message,
    })


def _type_hash(primary: str, fields: list[dict]) -> bytes:
    return keccak(f"{primary}({','.join(f['type'] + ' ' + f['name'] for f in fields)})".encode())


_TYPE_HASHES = {kind: _type_hash(primary, fields) for kind, (primary, fields, _, _) in _KINDS.items()}


def _encoded(type_: str, value) -> bytes:
    """One field of a struct as EIP-712's encodeData writes it (the types these structs use)."""
    if type_ == "string":
        return keccak(value.encode())
    if type_ == "address":
        return bytes(12) + bytes.fromhex(value[2:])
    if type_ == "uint256":
        return value.to_bytes(32, "big")
    return value  # bytes32


@functools.lru_cache(maxsize=16)
def _domain_separator(chain_id: int) -> bytes:
    return keccak(_type_hash("EIP712Domain", _DOMAIN_TYPE) + _encoded("string", DOMAIN_NAME)
                  + _encoded("string", DOMAIN_VERSION) + _encoded("uint256", chain_id))


def typed_digest(kind: str, chain_id: int, message: dict) -> bytes:
    """The EIP-712 hash of a checked message of `kind`: what eth-account's `encode_typed_data`
    gives (a test holds the two to it), without its general encoder (0.9 ms against 0.05 ms a
    request; the store computes one per upload)."""
    fields = _KINDS[kind][1]
    struct = keccak(_TYPE_HASHES[kind] + b"".join(_encoded(f["type"], message[f["name"]]) for f in fields))
    return keccak(b"\x19\x01" + _domain_separator(chain_id) + struct)


def recover_signer(digest: bytes, signature: bytes) -> bytes | None:
    """The 20-byte address that signed `digest` (65 bytes r ‖ s ‖ v, v 27 or 28, as eth-account
    signs), or None for a signature that is not one."""
    if len(signature) != 65 or signature[64] not in (27, 28):
        return None
    try:
        return keys.Signature(signature[:64] + bytes([signature[64] - 27])) \
            .recover_public_key_from_msg_hash(digest).to_canonical_address()
    except Exception:  # noqa: BLE001 - eth-keys raises several types for r or s out of range
        return None


def _sign(kind: str, account, chain_id: int, identity: str, round_id: int | None, digest: bytes, expiry: int,
          nonce: int | None, extra: dict) -> dict:
    _, _, signer_field, hash_field = _KINDS[kind]
    nonce = secrets.randbits(128) if nonce is None else int(nonce)
    rounds = {"roundId": int(round_id)} if _has_round(kind) else {}
    message = {"store": identity, signer_field: account.address, **rounds, **extra,
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


def sign_dataset_file(account, chain_id: int, identity: str, data: bytes, expiry: int,
                      nonce: int | None = None) -> dict:
    """The signed authorisation of one dataset file's upload by an operator of the Tournament."""
    return _sign("datasetFile", account, chain_id, identity, None, file_hash(data), expiry, nonce, {})


def sign_dataset(account, chain_id: int, identity: str, manifest: bytes, expiry: int,
                 nonce: int | None = None) -> dict:
    """The signed authorisation of a dataset manifest's publication by an operator (its hash is
    the dataset hash a round commits)."""
    return _sign("dataset", account, chain_id, identity, None, keccak(bytes(manifest)), expiry, nonce, {})


def sign_targets(account, chain_id: int, identity: str, round_id: int, data: bytes, expiry: int,
                 nonce: int | None = None) -> dict:
    """The signed authorisation of a round's targets file's publication by an operator."""
    return _sign("targets", account, chain_id, identity, round_id, keccak(bytes(data)), expiry, nonce, {})


def verify_request(kind: str, data: bytes, auth: dict, *, chain_id: int, identity: str, round_id: int | None,
                   extra: dict, max_bytes: int, max_expiry: int, clock: Callable[[], int]) -> tuple[dict, int]:
    """Check a signed request of `kind` (a key of `_KINDS`: "upload", "scoreTable",
    "datasetFile", "dataset", "targets") against the store it reached (`chain_id`, `identity`),
    the round and `extra` fields its URL names, the body's hash, the signer, and the expiry by the
    chain's `clock()`. Returns (the signed message with its EIP-712 `digest` and `signer`, the
    time it was checked at); a StoreError says what failed."""
    _, fields, signer_field, hash_field = _KINDS[kind]
    if not isinstance(auth, dict):
        raise StoreBadRequest(f"the {AUTH_HEADER} authorisation must be a JSON object")
    if auth.get("kind", kind) != kind:
        raise StoreBadRequest(f"the authorisation is a {str(auth.get('kind'))[:40]!r} signature, this request needs {kind!r}")
    missing = [f["name"] for f in fields if f["name"] not in auth] + [f for f in ("chainId", "signature") if f not in auth]
    if missing:
        raise StoreBadRequest(f"the authorisation lacks {', '.join(missing)}")
    signed_chain, expiry, nonce = (_uint256(auth[k], k) for k in ("chainId", "expiry", "nonce"))
    rid = _uint256(auth["roundId"], "roundId") if _has_round(kind) else None
    try:
        signature = bytes.fromhex(str(auth["signature"]).removeprefix("0x"))
    except ValueError:
        raise StoreBadRequest("the signature must be hex") from None
    signer = _address(auth[signer_field], signer_field)
    claimed = _bytes32(auth[hash_field], hash_field)
    if signed_chain != chain_id:
        raise StoreBadRequest(f"the request is signed for chain {signed_chain}, this store serves chain {chain_id}")
    if auth["store"] != identity:
        raise StoreBadRequest(f"the request is signed for store {str(auth['store'])[:100]!r}, this store is {identity!r}")
    if round_id is not None and rid is not None and rid != int(round_id):
        raise StoreBadRequest(f"the request is signed for round {rid}, not round {round_id}")
    message = {"store": identity, signer_field: signer, **({"roundId": rid} if rid is not None else {}),
               hash_field: claimed, "expiry": expiry, "nonce": nonce}
    for name, value in extra.items():  # e.g. the URL's staker and model
        signed = auth[name]
        signed = _address(signed, name) if name == "staker" else _bytes32(signed, name)
        if value is not None and signed != value:
            shown = value if isinstance(value, str) else _hex(value)
            raise StoreBadRequest(f"the request is signed for {name} {signed if isinstance(signed, str) else _hex(signed)}, not {shown}")
        message[name] = signed
    if len(data) > max_bytes:
        raise StoreTooLarge(f"the file is {len(data):,} bytes, over the store's limit of {max_bytes:,}")
    actual = keccak(bytes(data))
    if actual != claimed:
        raise StoreBadRequest(f"the file's hash is {_hex(actual)}, the signature covers {_hex(claimed)}: "
                              "sign the file you upload")
    digest = typed_digest(kind, chain_id, message)
    recovered = recover_signer(digest, signature)
    if recovered is None:
        raise StoreUnauthorized("the signature is malformed: sign the request with the account's key")
    if recovered != bytes.fromhex(signer[2:]):
        raise StoreUnauthorized(f"the signature is not by {signer_field} {signer}: sign with that account's key")
    now = clock()
    if expiry < now:
        raise StoreUnauthorized(f"the signature expired at {when(expiry, now)} by the chain's clock: sign a new request")
    if expiry > now + max_expiry:
        raise StoreBadRequest(f"the signature's expiry {when(expiry, now)} is more than {format_duration(max_expiry)} "
                              f"after the chain's time {utc(now)}")
    return {**message, "digest": digest, "signer": signer}, now
