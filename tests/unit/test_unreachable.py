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


def test_a_store_that_starts_a_moment_late_is_reached():
    """`crowdstake store serve &` then a command at once: the client retries a refused connection."""
    import json
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Info(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"chainId": 31337, "identity": "0x" + "ab" * 20, "now": 1}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    port = free_port()
    servers = []

    def start_late():
        time.sleep(0.6)  # past the first two retries (0.25 s, 0.5 s)
        servers.append(HTTPServer(("127.0.0.1", port), Info))
        servers[0].serve_forever()

    threading.Thread(target=start_late, daemon=True).start()
    try:
        assert HttpStore(f"http://127.0.0.1:{port}").info()["chainId"] == 31337
    finally:
        while not servers:
            time.sleep(0.05)
        servers[0].shutdown()


class SlowStore:
    """Files after a delay that varies by file, so they arrive out of order; counts calls in flight."""

    def __init__(self, files, fail_at=None):
        import threading

        self.files, self.fail_at, self.lock = files, fail_at, threading.Lock()
        self.in_flight = self.most = self.calls = 0

    def get_file(self, round_id, digest):
        import time

        with self.lock:
            self.calls += 1
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            index = list(self.files).index(digest)
            time.sleep(0.002 * ((index * 7) % 5))
            if index == self.fail_at:
                raise StoreUnavailable("cannot reach the submission store at http://x (ConnectionError)")
            return self.files[digest]
        finally:
            with self.lock:
                self.in_flight -= 1


def _positions(n):
    from web3 import Web3

    files = {}
    for i in range(n):
        data = f"id,prediction\na,{i / n:.4f}\nb,0.9999\n".encode()
        files[bytes(Web3.keccak(data))] = data
    positions = [oracle.Position(Account.create().address, model_id(f"m{i}"), E18, digest)
                 for i, digest in enumerate(files)]
    return files, positions


def test_files_are_fetched_concurrently_and_kept_in_the_positions_order():
    files, positions = _positions(60)
    store = SlowStore(files)
    predictions, reasons = oracle.fetch_predictions(store, 1, positions, concurrency=4)
    assert not reasons and list(predictions) == [p.key for p in positions]
    assert [predictions[p.key]["a"] for p in positions] == [round(i / 60, 4) for i in range(60)]
    assert store.most == 4  # bounded, and used


def test_a_store_that_fails_mid_round_stops_the_fetch_soon():
    files, positions = _positions(200)
    store = SlowStore(files, fail_at=10)
    with pytest.raises(StoreUnavailable):
        oracle.fetch_predictions(store, 1, positions, concurrency=4)
    assert store.calls < 40  # the fetches not yet started were cancelled
