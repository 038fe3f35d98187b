"""The package's way to a chain, without brownie: deployments (`deployments/<chainId>.json`,
written by `scripts/deploy.py`), the contracts' ABIs, a web3 connection, and signed
transactions whose reverts come back as the contracts' custom errors."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, Web3Exception, Web3RPCError
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
    """A web3 connection to `rpc_url`, or a ConfigError saying the node is not reachable."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id
    except (OSError, Web3Exception, ValueError) as e:
        raise ConfigError(f"cannot reach an Ethereum node at {rpc_url} ({e.__class__.__name__}): "
                          "start one or pass the right --rpc-url") from None
    return w3


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
        logs = self.logs("StakeIncreased", **filters) + self.logs("StakeDecreased", **filters)
        logs.sort(key=lambda e: (e["blockNumber"], e["logIndex"]))
        return {(e["args"]["roundId"], e["args"]["staker"], e["args"]["modelId"]): e["args"]["newStake"] for e in logs}


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


RETRYABLE = (requests.ConnectionError, requests.Timeout)


def with_retries(fn, *args, attempts: int = 5, base_delay: float = 0.5, what: str = "the node", **kwargs):
    """Call `fn`, retrying connection failures and timeouts with exponential backoff; after
    `attempts` tries, a ConfigError that says so. Anything else is raised at once."""
    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except RETRYABLE as e:
            if attempt == attempts - 1:
                raise ConfigError(f"{what} did not answer after {attempts} attempts "
                                  f"({e.__class__.__name__}): check the node and --rpc-url, then run again") from None
            time.sleep(base_delay * 2**attempt)


def send(w3: Web3, account: LocalAccount, call, *, confirmations: int = 0, gas_margin: float = 1.25,
         min_gas: int = 0, timeout: float = 120.0, on_sent=None) -> TxReceipt:
    """Simulate, sign and send `call` (a bound contract function) from `account`; wait for its
    receipt (and `confirmations` more blocks). A revert raises TransactionFailed naming the
    contract's custom error, before anything is sent. `on_sent(tx_hash)` runs once the node has
    the transaction and before its receipt (a journal records it there, so a crash in between
    never leads to a second transaction). Connection faults are retried; the same signed
    transaction is resent, so a retry can never send twice. `min_gas` covers calls whose cost
    depends on what lands first (the vote that reaches the quorum stores the result)."""
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
    try:
        tx_hash = with_retries(w3.eth.send_raw_transaction, signed.raw_transaction)
    except Web3RPCError as e:  # a resend of what the node already holds
        if "already known" not in str(e):
            raise
        tx_hash = signed.hash
    if on_sent:
        on_sent(tx_hash)
    return wait_for(w3, tx_hash, confirmations=confirmations, timeout=timeout)


def wait_for(w3: Web3, tx_hash, *, confirmations: int = 0, timeout: float = 120.0) -> TxReceipt:
    """The receipt of a sent transaction (after `confirmations` more blocks); a revert on-chain
    raises TransactionFailed."""
    receipt = with_retries(w3.eth.wait_for_transaction_receipt, tx_hash, timeout=timeout, poll_latency=0.05)
    if receipt["status"] != 1:
        raise TransactionFailed(f"transaction {Web3.to_hex(tx_hash)} reverted on-chain")
    while confirmations and w3.eth.block_number < receipt["blockNumber"] + confirmations:
        time.sleep(0.5)
    return receipt
