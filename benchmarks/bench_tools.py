"""Helpers the brownie benchmark scripts share."""

import time
from collections import deque

from brownie import web3
from brownie.exceptions import TransactionError
from brownie.network.transaction import TransactionReceipt
from eth_hash.auto import keccak
from web3.exceptions import TimeExhausted


def logger(tag):
    def log(msg):
        print(f"[{tag} {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    return log


def send(fn, *args):
    """Call a contract function in a transaction and return brownie's receipt. On a big state,
    anvil now and then reports a sender's new nonce before it can find the mined transaction,
    and brownie then calls it dropped; wait for its receipt and read that instead."""
    try:
        return fn(*args)
    except TransactionError as exc:
        if "dropped without known replacement" not in str(exc):
            raise
        txid = str(exc).split()[-1]
    web3.eth.wait_for_transaction_receipt(txid, timeout=300)
    tx = TransactionReceipt(txid, silent=True)
    if tx.status != 1:
        raise TransactionError(f"{txid} reverted")
    return tx


def send_windowed(transactions, window=64):
    """Send transactions straight through web3 (brownie's per-transaction work takes longer than
    the chain's) with at most `window` awaiting a receipt: thousands pending at once slow anvil to
    a crawl. Each item is a signed raw transaction (bytes) or a dict from an unlocked account.
    Returns the receipts' total gasUsed, each checked to have succeeded."""
    pending, total = deque(), 0

    def receive():
        nonlocal total
        while True:
            try:
                receipt = web3.eth.wait_for_transaction_receipt(pending[0], timeout=0.2, poll_latency=0.01)
                break
            except TimeExhausted:  # anvil's automine can miss a transaction that lands mid-block: mine it
                web3.provider.make_request("evm_mine", [])
        pending.popleft()
        assert receipt["status"] == 1, receipt["transactionHash"].hex()
        total += receipt["gasUsed"]

    for tx in transactions:
        if len(pending) >= window:
            receive()
        send_one = web3.eth.send_raw_transaction if isinstance(tx, bytes) else web3.eth.send_transaction
        pending.append(send_one(tx))
    while pending:
        receive()
    return total


def mass_model_id(round_id, i):
    """MassStaker.modelIdOf: keccak256(abi.encode(roundId, i))."""
    return keccak(round_id.to_bytes(32, "big") + i.to_bytes(32, "big"))
