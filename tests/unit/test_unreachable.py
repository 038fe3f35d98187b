"""What a node or store that does not answer does to the package, with none started: a clear
error after bounded retries, never a stack trace or a floor score."""

import pytest
import requests
from eth_account import Account

from crowdstake import oracle
from crowdstake._server import free_port
from crowdstake.chain import RetryPolicy, connect, with_retries
from crowdstake.errors import NodeUnavailable, StoreUnavailable
from crowdstake.results.merkle import model_id
from crowdstake.store import HttpStore

E18 = 10**18


def test_unreachable_node_is_a_clear_error():
    with pytest.raises(NodeUnavailable, match="cannot reach an Ethereum node at http://127.0.0.1:9 after 2 attempts"):
        connect("http://127.0.0.1:9", RetryPolicy(2, 0.01), timeout=2)


def test_unreachable_node_fails_after_bounded_retries():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise requests.ConnectionError("refused")
        return "ok"

    assert with_retries(flaky, policy=RetryPolicy(6, 0.01)) == "ok" and len(calls) == 3
    with pytest.raises(NodeUnavailable, match="did not answer after 4 attempts"):
        with_retries(lambda: (_ for _ in ()).throw(requests.Timeout()), policy=RetryPolicy(4, 0.01))


def test_an_unreachable_store_stops_the_run_instead_of_scoring_at_the_floor():
    position = oracle.Position(Account.create().address, model_id("model"), E18, b"\x11" * 32)
    with pytest.raises(StoreUnavailable, match="cannot reach the submission store"):
        oracle.fetch_predictions(HttpStore(f"http://127.0.0.1:{free_port()}"), 1, [position])
