"""Signed transactions: simulate, sign, send, wait for the receipt; a revert comes back as the
contract's custom error (`TransactionFailed.error`, `.error_args`) before anything is sent.
A transaction a restarted node lost is given to it again from its signed bytes, never signed
anew, so a retry can never send twice."""

from __future__ import annotations

import time
from functools import cache

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from crowdstake.chain.deployments import load_artifact
from crowdstake.chain.rpc import retry_policy, with_retries
from crowdstake.errors import TransactionFailed, TransactionPending

CONTRACTS = ("StakeToken", "Tournament", "OracleCommittee")


@cache
def _error_table() -> dict[bytes, tuple[str, list[str]]]:
    table = {}
    for name in CONTRACTS:
        for item in load_artifact(name)["abi"]:
            if item["type"] == "error":
                types = [i["type"] if i["type"] != "tuple" else "tuple" for i in item["inputs"]]
                selector = Web3.keccak(text=f"{item['name']}({','.join(types)})")[:4]
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


def estimate(w3: Web3, account: LocalAccount, call) -> int:
    """The gas `call` (a bound contract function or constructor) takes from `account`, by
    simulating it; a revert raises TransactionFailed naming the contract's custom error."""
    try:
        return with_retries(call.estimate_gas, {"from": account.address}, policy=retry_policy(w3))
    except (ContractCustomError, ContractLogicError) as e:
        decoded = decode_revert(_revert_data(e))
        if decoded:
            name, args = decoded
            raise TransactionFailed(f"{name}{args}", name, args) from None
        raise TransactionFailed(f"the transaction would revert: {e}") from None


def prepare(w3: Web3, account: LocalAccount, call, *, gas_margin: float = 1.25, min_gas: int = 0) -> dict:
    """The transaction `call` (a bound contract function) from `account`, ready to sign: simulated
    first (a revert raises TransactionFailed naming the contract's custom error) and checked
    against the account's ETH for gas, so a caller can make every check before it uploads or
    sends anything. `min_gas` covers calls whose cost depends on what lands first (the vote that
    reaches the quorum stores the result)."""
    policy = retry_policy(w3)
    gas = estimate(w3, account, call)
    tx = call.build_transaction({
        "from": account.address,
        "nonce": with_retries(w3.eth.get_transaction_count, account.address, "pending", policy=policy),
        "gas": max(int(gas * gas_margin), min_gas),
        "chainId": w3.eth.chain_id,
    })
    cost = tx["gas"] * int(tx.get("maxFeePerGas") or tx.get("gasPrice") or 0) + int(tx.get("value", 0))
    held = with_retries(w3.eth.get_balance, account.address, policy=policy)
    if held < cost:
        raise TransactionFailed(f"{account.address} holds {held / 10**18:.6g} ETH, and the transaction may cost up to "
                                f"{cost / 10**18:.6g} ETH in gas: send the account some ETH first")
    return tx


def tx_hash(receipt) -> str:
    """A transaction's hash as people copy it: 0x and 64 hex digits."""
    return Web3.to_hex(receipt["transactionHash"])


def refused_as(error_type, step):
    """Run `step`; a transaction the chain refused becomes `error_type`, the caller's own kind of
    error (`ParticipantError`, `FundError`), keeping the decoded custom error for callers that
    branch on it."""
    try:
        return step()
    except TransactionFailed as e:
        raise error_type(f"the contract refused: {e}" if e.error else str(e), e.error, e.error_args) from None


def send(w3: Web3, account: LocalAccount, call, *, confirmations: int = 0, gas_margin: float = 1.25,
         min_gas: int = 0, timeout: float = 120.0, on_sent=None) -> TxReceipt:
    """Prepare (`prepare`: simulate, check the gas money), sign and send `call` from `account`;
    wait for its receipt (and `confirmations` more blocks). `on_sent(tx_hash, raw_tx)` runs once
    the node has the transaction and before its receipt (a journal records it there, so a crash
    in between never leads to a second transaction, and a node that lost it can be given it
    again). Connection faults are retried; only the same signed transaction is ever resent, so
    a retry can never send twice."""
    signed = account.sign_transaction(prepare(w3, account, call, gas_margin=gas_margin, min_gas=min_gas))
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
        with_retries(w3.eth.send_raw_transaction, raw_tx, policy=retry_policy(w3))
    except Web3RPCError as e:
        if not any(known in str(e).lower() for known in _ALREADY_SENT):  # refused: funds, fees, size
            raise TransactionFailed(f"the node refused the transaction: {getattr(e, 'message', None) or e}") from None


def wait_for(w3: Web3, tx_hash, *, confirmations: int = 0, timeout: float = 120.0, raw_tx: bytes | None = None,
             poll: float = 0.05) -> TxReceipt:
    """The receipt of a sent transaction (after `confirmations` more blocks); a revert on-chain
    raises TransactionFailed. A node that restarted has lost its mempool: a transaction it no
    longer knows is sent again from `raw_tx`, or, without it, reported as dropped
    (TransactionFailed: the caller looks at the chain and decides)."""
    tx_hash = tx_hash if isinstance(tx_hash, str) else Web3.to_hex(tx_hash)  # a journal keeps hex
    policy = retry_policy(w3)
    deadline = time.monotonic() + timeout
    while (receipt := with_retries(_receipt_or_none, w3, tx_hash, policy=policy)) is None:
        if not with_retries(_node_knows, w3, tx_hash, policy=policy):
            if raw_tx is None:
                raise TransactionFailed(f"transaction {tx_hash} was dropped by the node (never mined)")
            broadcast(w3, raw_tx)
            if not with_retries(_node_knows, w3, tx_hash, policy=policy):  # its nonce went to another transaction
                raise TransactionFailed(f"transaction {tx_hash} was replaced (its nonce is used)")
        if time.monotonic() > deadline:
            raise TransactionPending(f"transaction {tx_hash} is not mined after {timeout:.0f} s: "
                                     "the node holds it; run again to keep waiting")
        time.sleep(poll)
        poll = min(poll * 1.5, 1.0)  # quick on a dev chain, gentle on a real node's 12 s blocks
    if receipt["status"] != 1:
        raise TransactionFailed(f"transaction {tx_hash} reverted on-chain")
    while confirmations and with_retries(lambda: w3.eth.block_number, policy=policy) < receipt["blockNumber"] + confirmations:
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
