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
