"""The package's runtime path to the chain: web3 + ABIs from the package, no brownie objects.
(A node that does not answer: tests/unit/test_unreachable.py.)"""

import secrets
import threading
import time

import pytest
from eth_account import Account
from support.rounds import model

from crowdstake.chain import TransactionFailed, contracts, send
from crowdstake.chain.tx import broadcast


@pytest.fixture
def wallet(token, alice):
    account = Account.from_key(secrets.token_bytes(32))
    alice.transfer(account.address, 10**18)
    token.transfer(account.address, 10 * 10**18, {"from": alice})
    return account


def test_signed_transaction_changes_state(runtime, wallet, driver):
    rid = driver.open_round()
    receipt = send(runtime.w3, wallet, runtime.tournament.functions.submit(rid, model("m"), b"\x11" * 32))
    assert receipt["status"] == 1
    assert runtime.tournament.functions.position(rid, wallet.address, model("m")).call().predictionsHash == b"\x11" * 32


def test_revert_is_decoded_and_nothing_is_sent(runtime, wallet, driver):
    rid = driver.open_round()
    nonce = runtime.w3.eth.get_transaction_count(wallet.address)
    with pytest.raises(TransactionFailed) as caught:
        send(runtime.w3, wallet, runtime.tournament.functions.stake(rid, model("m"), 10**18))
    assert caught.value.error == "TournamentNoSubmission"
    assert caught.value.error_args == (rid, wallet.address.lower(), model("m"))
    assert runtime.w3.eth.get_transaction_count(wallet.address) == nonce


def test_a_transaction_the_node_refuses_is_one_line(runtime):
    # signed, but the wallet holds no ETH for its gas: the node refuses it at broadcast
    w3, empty = runtime.w3, Account.from_key(secrets.token_bytes(32))
    tx = {"to": empty.address, "value": 0, "gas": 21_000, "nonce": 0, "chainId": w3.eth.chain_id,
          "maxFeePerGas": 2 * w3.eth.get_block("latest")["baseFeePerGas"] + 1, "maxPriorityFeePerGas": 1}
    with pytest.raises(TransactionFailed) as caught:
        broadcast(w3, empty.sign_transaction(tx).raw_transaction)
    message = str(caught.value)
    assert message.startswith("the node refused the transaction: ") and "insufficient funds" in message.lower()
    assert "\n" not in message and w3.eth.get_transaction_count(empty.address) == 0


def test_gas_limit_is_the_estimate_with_its_margin_or_the_floor(runtime, wallet, driver):
    rid = driver.open_round()
    call = runtime.tournament.functions.submit(rid, model("m"), b"\x11" * 32)
    estimate = call.estimate_gas({"from": wallet.address})
    sent = send(runtime.w3, wallet, call)
    assert runtime.w3.eth.get_transaction(sent["transactionHash"])["gas"] == int(estimate * 1.25)
    sent = send(runtime.w3, wallet, runtime.tournament.functions.submit(rid, model("n"), b"\x22" * 32),
                min_gas=300_000)
    assert runtime.w3.eth.get_transaction(sent["transactionHash"])["gas"] == 300_000


def test_confirmations_wait_for_blocks_after_the_receipt(runtime, wallet, driver):
    rid, w3 = driver.open_round(), runtime.w3
    call = runtime.tournament.functions.submit(rid, model("m"), b"\x11" * 32)
    returned = []
    sender = threading.Thread(target=lambda: returned.append(send(w3, wallet, call, confirmations=2)), daemon=True)
    sender.start()
    while runtime.tournament.functions.position(rid, wallet.address, model("m")).call().predictionsHash != b"\x11" * 32:
        time.sleep(0.05)  # mined: from here only new blocks can release the sender
    mined_at = w3.eth.block_number
    for _ in range(2):
        time.sleep(1.2)  # more than two of its polls
        assert not returned
        w3.provider.make_request("evm_mine", [])
    sender.join(timeout=30)
    assert returned and returned[0]["blockNumber"] == mined_at
    assert w3.eth.block_number == mined_at + 2


@pytest.mark.parametrize("page", [1, 2, 3])
def test_logs_are_read_in_pages_that_miss_and_repeat_nothing(runtime, wallet, driver, monkeypatch, page):
    # Real nodes cap a log query's block range; every page boundary must lose and double nothing.
    rid = driver.open_round()
    for i in range(5):  # anvil mines each transaction in its own block
        send(runtime.w3, wallet, runtime.tournament.functions.submit(rid, model(f"m{i}"), bytes([i + 1]) * 32))
    monkeypatch.setattr(contracts, "LOG_PAGE", page)
    logs = runtime.logs("Submitted", roundId=rid)
    assert [e["args"]["modelId"] for e in logs] == [model(f"m{i}") for i in range(5)]
    assert len({e["blockNumber"] for e in logs}) == 5
    assert runtime.predictions_hashes(roundId=rid) == {
        (rid, wallet.address, model(f"m{i}")): bytes([i + 1]) * 32 for i in range(5)}
