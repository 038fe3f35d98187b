"""The package's way to a chain, without brownie: deployments (`deployments/<chainId>.json`,
written by `scripts/deploy.py`), the contracts' ABIs, a web3 connection, and signed
transactions whose reverts come back as the contracts' custom errors."""

from __future__ import annotations

import json
import os
import time
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import (ContractCustomError, ContractLogicError, TransactionNotFound, Web3Exception,
                             Web3RPCError)
from web3.types import TxReceipt

from crowdstake.errors import ConfigError, CrowdstakeError

keccak = Web3.keccak
LOG_PAGE = 10_000  # blocks per eth_getLogs request: real nodes refuse unbounded ranges


def deployments_dir() -> Path:
    """The deployments directory: $CROWDSTAKE_DEPLOYMENTS, else ./deployments."""
    return Path(os.environ.get("CROWDSTAKE_DEPLOYMENTS", "deployments"))


def save_deployment(chain_id: int, deployment: dict, directory: Path | None = None) -> Path:
    """Write a chain's deployment atomically (a crash never leaves a half-written file)."""
    directory = directory or deployments_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{chain_id}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(deployment, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def load_deployment(chain_id: int, directory: Path | None = None) -> dict:
    """Read a chain's deployment, or say how to make one."""
    path = (directory or deployments_dir()) / f"{chain_id}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"no crowdstake deployment for chain {chain_id} ({path} is missing): deploy with "
            "`brownie run scripts/deploy.py --network <network>` or set CROWDSTAKE_DEPLOYMENTS"
        ) from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path} is not valid JSON ({e}): redeploy or restore the file") from None


# ------------------------------------------------------------------ runtime: web3, no brownie

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def load_artifact(name: str) -> dict:
    """A contract's ABI and creation bytecode, as compiled (`make compile` refreshes them)."""
    return json.loads((ARTIFACTS / f"{name}.json").read_text())


def connect(rpc_url: str, timeout: float = 30.0) -> Web3:
    """A web3 connection to `rpc_url` whose every request is retried on connection faults (see
    `with_retries`), or a ConfigError saying the node is not reachable."""
    w3 = Web3(_RetryingHTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id
    except ConfigError:
        raise ConfigError(f"cannot reach an Ethereum node at {redacted(rpc_url)} after {RETRY.attempts} attempts: "
                          "start one or pass the right --rpc-url/--network") from None
    except (OSError, Web3Exception, ValueError) as e:
        raise ConfigError(f"cannot reach an Ethereum node at {redacted(rpc_url)} ({e.__class__.__name__}): "
                          "start one or pass the right --rpc-url/--network") from None
    return w3


def redacted(url: str) -> str:
    """`url` without its path and query, where providers put API keys: safe to print."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}" if parts.hostname else url


class _RetryingHTTPProvider(HTTPProvider):
    """web3's HTTP provider with the package's retry policy on every request, sends included
    (resending a signed transaction is harmless), instead of web3's own for reads only."""

    def __init__(self, url: str, **kwargs):
        super().__init__(url, exception_retry_configuration=None, **kwargs)

    def make_request(self, method, params):
        where = f"the node at {redacted(self.endpoint_uri)}"
        try:
            return with_retries(super().make_request, method, params, what=where)
        except RETRYABLE as e:  # an outer with_retries owns the budget: tell its message which node
            e.node = where
            raise


@dataclass
class Protocol:
    """The deployed contracts of one chain, as web3 contract objects."""

    w3: Web3
    deployment: dict
    token: Contract
    tournament: Contract
    committee: Contract

    @classmethod
    def load(cls, w3: Web3, directory: Path | None = None) -> "Protocol":
        deployment = load_deployment(w3.eth.chain_id, directory)
        addresses = deployment["contracts"]

        def contract(name: str) -> Contract:
            return w3.eth.contract(address=addresses[name], abi=load_artifact(name)["abi"])

        return cls(w3, deployment, contract("StakeToken"), contract("Tournament"), contract("OracleCommittee"))

    def identity(self) -> str:
        """Which deployment this is, for journals: the chain, the Tournament, and the hash of the
        block it was deployed after: a fresh dev chain deploys to the same addresses again, but its
        blocks carry new timestamps, so new hashes."""
        block = self.deployment.get("deploymentBlock", 0)
        mark = with_retries(self.w3.eth.get_block, block)["hash"]
        return f"chain {self.w3.eth.chain_id}, Tournament {self.tournament.address}, block {block} {Web3.to_hex(mark)}"

    def round(self, round_id: int) -> dict:
        """A round's state by the contract's field names, its `params` a dict too."""
        fn = next(i for i in self.tournament.abi if i.get("name") == "round" and i["type"] == "function")
        fields = fn["outputs"][0]["components"]
        values = dict(zip([f["name"] for f in fields], self.tournament.functions.round(round_id).call()))
        params = next(f for f in fields if f["name"] == "params")["components"]
        values["params"] = dict(zip([f["name"] for f in params], values["params"]))
        return values

    def logs(self, event: str, **filters) -> list:
        """The Tournament's `event` logs since deployment that match `filters` (paged)."""
        w3, kind = self.w3, getattr(self.tournament.events, event)
        start = self.deployment.get("deploymentBlock", 0)
        end = with_retries(lambda: w3.eth.block_number)
        found = []
        for lo in range(start, end + 1, LOG_PAGE):
            found += with_retries(kind.get_logs, from_block=lo, to_block=min(lo + LOG_PAGE - 1, end),
                                  argument_filters=filters)
        return found

    def stakes(self, **filters) -> dict[tuple[int, str, bytes], int]:
        """Each matching position's last stake, (roundId, staker, modelId) -> wei, from its stake
        events: settling zeroes a position's stake on-chain, its events keep what was at stake."""
        return _latest(self.logs("StakeIncreased", **filters) + self.logs("StakeDecreased", **filters), "newStake")

    def predictions_hashes(self, **filters) -> dict[tuple[int, str, bytes], bytes]:
        """Each matching position's committed predictions hash (its last Submitted event)."""
        return _latest(self.logs("Submitted", **filters), "predictionsHash")


def _latest(logs: list, field: str) -> dict:
    """The last value of `field` per position, (roundId, staker, modelId), in chain order."""
    logs.sort(key=lambda e: (e["blockNumber"], e["logIndex"]))
    return {(e["args"]["roundId"], e["args"]["staker"], e["args"]["modelId"]): e["args"][field] for e in logs}


class TransactionFailed(CrowdstakeError, RuntimeError):
    """A transaction (or its simulation) reverted; `error` is the contract's custom error name."""

    def __init__(self, message: str, error: str | None = None, args: tuple = ()):
        super().__init__(message)
        self.error, self.error_args = error, args


def _error_table() -> dict[bytes, tuple[str, list[str]]]:
    table = {}
    for name in ("StakeToken", "Tournament", "OracleCommittee"):
        for item in load_artifact(name)["abi"]:
            if item["type"] == "error":
                types = [i["type"] if i["type"] != "tuple" else "tuple" for i in item["inputs"]]
                selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                table[selector] = (item["name"], types)
    return table


def decode_revert(data: bytes | str | None) -> tuple[str, tuple] | None:
    """(error name, arguments) of a custom-error revert payload from our contracts, else None."""
    if isinstance(data, str):
        data = bytes.fromhex(data.removeprefix("0x")) if data.startswith("0x") else None
    if not data or len(data) < 4:
        return None
    known = _error_table().get(data[:4])
    if known is None:
        return None
    name, types = known
    return name, tuple(abi_decode(types, data[4:]))


def _revert_data(exc: Exception) -> bytes | str | None:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if data is None and exc.args and isinstance(exc.args[-1], (str, bytes)):
        data = exc.args[-1]
    return data


# A node that is down, restarting, or cut off mid-answer.
RETRYABLE = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait out a node that is down or restarting: `attempts` tries, the first
    retry after `first_delay` seconds, each next one after twice as long."""

    attempts: int = 6
    first_delay: float = 0.5


RETRY = RetryPolicy()  # ~15 s of waiting; the CLI's --rpc-retries/--rpc-backoff change it
_retrying: ContextVar[bool] = ContextVar("retrying", default=False)


def set_retry_policy(attempts: int, first_delay: float) -> None:
    """Replace the package's retry policy (every later RPC call in this process uses it)."""
    global RETRY
    if attempts < 1 or first_delay < 0:
        raise ConfigError(f"retries need at least 1 attempt and a delay >= 0, got {attempts} and {first_delay}")
    RETRY = RetryPolicy(attempts, first_delay)


def with_retries(fn, *args, attempts: int | None = None, base_delay: float | None = None, what: str = "the node",
                 **kwargs):
    """Call `fn`, retrying connection failures and timeouts with exponential backoff (the package's
    `RETRY` policy unless given); after the last attempt, a ConfigError that says so. Anything
    else is raised at once. Nested calls (every request of `connect`'s provider is one) try once
    and leave the retrying to the outermost, so one operation has one budget, not a product."""
    if _retrying.get():
        return fn(*args, **kwargs)
    attempts = RETRY.attempts if attempts is None else attempts
    base_delay = RETRY.first_delay if base_delay is None else base_delay
    token = _retrying.set(True)
    try:
        for attempt in range(attempts):
            try:
                return fn(*args, **kwargs)
            except RETRYABLE as e:
                if attempt == attempts - 1:
                    raise ConfigError(f"{getattr(e, 'node', what)} did not answer after {attempts} attempts "
                                      f"({e.__class__.__name__}): "
                                      "check the node and --rpc-url/--network, then run again") from None
                time.sleep(base_delay * 2**attempt)
    finally:
        _retrying.reset(token)


class TransactionPending(CrowdstakeError, TimeoutError):
    """A sent transaction is still not mined; running again keeps waiting for it."""


def send(w3: Web3, account: LocalAccount, call, *, confirmations: int = 0, gas_margin: float = 1.25,
         min_gas: int = 0, timeout: float = 120.0, on_sent=None) -> TxReceipt:
    """Simulate, sign and send `call` (a bound contract function) from `account`; wait for its
    receipt (and `confirmations` more blocks). A revert raises TransactionFailed naming the
    contract's custom error, before anything is sent. `on_sent(tx_hash, raw_tx)` runs once the
    node has the transaction and before its receipt (a journal records it there, so a crash in
    between never leads to a second transaction, and a node that lost it can be given it
    again). Connection faults are retried; only the same signed transaction is ever resent, so
    a retry can never send twice. `min_gas` covers calls whose cost depends on what lands first
    (the vote that reaches the quorum stores the result)."""
    try:
        gas = with_retries(call.estimate_gas, {"from": account.address})
    except (ContractCustomError, ContractLogicError) as e:
        decoded = decode_revert(_revert_data(e))
        if decoded:
            name, args = decoded
            raise TransactionFailed(f"{name}{args}", name, args) from None
        raise TransactionFailed(f"the transaction would revert: {e}") from None
    tx = call.build_transaction({
        "from": account.address,
        "nonce": with_retries(w3.eth.get_transaction_count, account.address, "pending"),
        "gas": max(int(gas * gas_margin), min_gas),
        "chainId": w3.eth.chain_id,
    })
    signed = account.sign_transaction(tx)
    broadcast(w3, signed.raw_transaction)
    if on_sent:
        on_sent(signed.hash, signed.raw_transaction)
    return wait_for(w3, signed.hash, confirmations=confirmations, timeout=timeout, raw_tx=signed.raw_transaction)


# What nodes answer when given a transaction again: they hold it, or its nonce is used (mined).
_ALREADY_SENT = ("already known", "known transaction", "nonce too low", "already imported")


def broadcast(w3: Web3, raw_tx: bytes) -> None:
    """Give the node a signed transaction; one it already holds, or already mined, is no error
    (whether it landed is for `wait_for` to find out)."""
    try:
        with_retries(w3.eth.send_raw_transaction, raw_tx)
    except Web3RPCError as e:
        if not any(known in str(e).lower() for known in _ALREADY_SENT):
            raise


def wait_for(w3: Web3, tx_hash, *, confirmations: int = 0, timeout: float = 120.0, raw_tx: bytes | None = None,
             poll: float = 0.05) -> TxReceipt:
    """The receipt of a sent transaction (after `confirmations` more blocks); a revert on-chain
    raises TransactionFailed. A node that restarted has lost its mempool: a transaction it no
    longer knows is sent again from `raw_tx`, or, without it, reported as dropped
    (TransactionFailed: the caller looks at the chain and decides)."""
    tx_hash = tx_hash if isinstance(tx_hash, str) else Web3.to_hex(tx_hash)  # a journal keeps hex
    deadline = time.monotonic() + timeout
    while (receipt := with_retries(_receipt_or_none, w3, tx_hash)) is None:
        if not with_retries(_node_knows, w3, tx_hash):
            if raw_tx is None:
                raise TransactionFailed(f"transaction {tx_hash} was dropped by the node (never mined)")
            broadcast(w3, raw_tx)
            if not with_retries(_node_knows, w3, tx_hash):  # its nonce went to another transaction
                raise TransactionFailed(f"transaction {tx_hash} was replaced (its nonce is used)")
        if time.monotonic() > deadline:
            raise TransactionPending(f"transaction {tx_hash} is not mined after {timeout:.0f} s: "
                                     "the node holds it; run again to keep waiting")
        time.sleep(poll)
        poll = min(poll * 1.5, 1.0)  # quick on a dev chain, gentle on a real node's 12 s blocks
    if receipt["status"] != 1:
        raise TransactionFailed(f"transaction {tx_hash} reverted on-chain")
    while confirmations and with_retries(lambda: w3.eth.block_number) < receipt["blockNumber"] + confirmations:
        time.sleep(0.5)
    return receipt


def _receipt_or_none(w3: Web3, tx_hash: str) -> TxReceipt | None:
    try:
        return w3.eth.get_transaction_receipt(tx_hash)
    except TransactionNotFound:
        return None


def _node_knows(w3: Web3, tx_hash: str) -> bool:
    """Whether the node has the transaction, mined or in its mempool."""
    try:
        w3.eth.get_transaction(tx_hash)
        return True
    except TransactionNotFound:
        return False
