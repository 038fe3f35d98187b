"""The oracle against a node that really goes away: an anvil of this module's own, whose chain
lives in a state file (`--state`) so it survives a restart, as a real node's does; and, as on a
real node, its mempool does not survive. `crowdstake oracle run` runs as a subprocess, through
the CLI an operator uses.

- the node is down when the oracle starts and back a couple of seconds later: one vote, the right root;
- the node restarts while the vote waits in its mempool (and loses it): the same run gives the
  node the vote again, and it lands once;
- the node stays down past the retry budget: one clear line, exit 1, and the journal lets the
  next run finish the round with one vote and the same root.

Rounds resolve by the wall clock (a restarted anvil forgets `evm_increaseTime`), so the module
waits a few seconds once, for all its rounds."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from eth_account import Account

from crowdstake import oracle
from crowdstake.chain import connect, send
from crowdstake.chain.deploy import deploy
from crowdstake._server import free_port
from crowdstake.chain.localchain import _binary
from crowdstake.participant import Participant
from crowdstake.store import local_store_for, register_live_ids

E18 = 10**18
IDS = [f"s{i:03d}" for i in range(200)]
PARAMS = (1_000 * E18, E18, 5 * 10**16, 7 * 86400, 5000, 20000, 0, 0)
OPEN_FOR = 6  # seconds the rounds take stakes: enough for the set-up's transactions
NETWORK = "restart-node"  # the brownie network the CLI is pointed at


class Node:
    """An anvil on a fixed free port whose chain is kept in `state` across restarts."""

    def __init__(self, state: Path):
        self.state, self.port, self.proc = state, free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([_binary("anvil"), "--port", str(self.port), "--state", str(self.state),
                                      "--accounts", "10", "--max-persisted-states", "0", "--silent"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _until(lambda: self._answers(), "anvil to answer", self.proc)

    def stop(self) -> None:
        self.proc.terminate()  # anvil writes its state file on the way out
        self.proc.wait(10)

    def _answers(self) -> bool:
        import requests

        try:
            return requests.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1).ok
        except requests.ConnectionError:
            return False


def _until(condition, what: str, proc=None, tries: int = 600) -> None:
    """Wait for `condition` (polling, bounded); fail naming `what` if it never holds or `proc` dies."""
    for _ in range(tries):
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"gave up waiting for {what}: the process exited {proc.returncode}\n{out}\n{err}")
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("node") / "state.json")
    node.start()
    yield node
    if node.proc.poll() is None:
        node.stop()


def _funded(w3, wei=E18):
    account = Account.create()
    w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": account.address, "value": wei})
    return account


@pytest.fixture(scope="module")
def world(node, tmp_path_factory):
    """Three resolved rounds, four staked positions each, no votes yet; the expected results."""
    home = tmp_path_factory.mktemp("restart")
    w3 = connect(node.url)
    bank, operator = _funded(w3, 10 * E18), _funded(w3)
    members = [_funded(w3) for _ in range(3)]
    protocol = deploy(w3, bank, operator=operator.address, guardian=bank.address, members=[m.address for m in members],
                      threshold=2, dispute_window=600, treasury=bank.address, directory=home / "deployments")
    t = protocol.tournament
    send(w3, bank, protocol.token.functions.approve(t.address, 10_000 * E18))
    send(w3, bank, t.functions.fundRewards(10_000 * E18))
    send(w3, operator, t.functions.createTournament(PARAMS))
    store = local_store_for(home / "store", protocol)
    close = w3.eth.get_block("latest")["timestamp"] + OPEN_FOR
    rounds = []
    for _ in range(3):
        send(w3, operator, t.functions.openRound(1, b"\xda" * 32, close, close))
        rounds.append(t.functions.roundCount().call())
    rng = np.random.default_rng(5)
    targets = {rid: rng.choice([0, 0.25, 0.5, 0.75, 1.0], size=len(IDS)) for rid in rounds}
    for i in range(4):
        who = _funded(w3)
        send(w3, bank, protocol.token.functions.transfer(who.address, 1_000 * E18))
        p = Participant(protocol, who, store)
        for rid in rounds:
            register_live_ids(home / "store", rid, IDS)
            guess = np.clip(0.5 + 0.1 * (i * (targets[rid] - 0.5) + rng.normal(size=len(IDS))), 0, 1).round(4)
            p.submit(rid, "model", ("id,prediction\n" + "".join(f"{k},{v}\n" for k, v in zip(IDS, guess))).encode())
            p.stake(rid, "model", 50 + 25 * i)
    (home / "targets").mkdir()
    for rid in rounds:
        (home / "targets" / f"{rid}.csv").write_text("id,target\n" + "".join(f"{k},{v}\n" for k, v in zip(IDS, targets[rid])))

    def resolved() -> bool:
        w3.provider.make_request("evm_mine", [])
        return w3.eth.get_block("latest")["timestamp"] >= close

    _until(resolved, "the rounds to resolve", tries=int(OPEN_FOR / 0.05) + 100)
    expected = {rid: oracle.compute_result(protocol, store, rid, oracle.read_targets(home / "targets" / f"{rid}.csv"))
                for rid in rounds}
    (home / ".brownie").mkdir()  # the operator's brownie networks, as `brownie networks add` writes them
    (home / ".brownie" / "network-config.yaml").write_text(
        f"development:\n- id: {NETWORK}\n  name: restart test\n  cmd: anvil\n  host: http://${{NODE_HOST}}\n"
        f"  cmd_settings:\n    port: {node.port}\nlive: []\n")
    return {"home": home, "protocol": protocol, "members": members, "rounds": rounds, "expected": expected}


def _oracle_run(world, member, rid, workdir, *retry_flags):
    """`crowdstake oracle run` as a member would start it, through brownie's network name."""
    env = {"PATH": os.environ["PATH"], "HOME": str(world["home"]), "NODE_HOST": "127.0.0.1",
           "CROWDSTAKE_DEPLOYMENTS": str(world["home"] / "deployments"), "CROWDSTAKE_STORE": str(world["home"] / "store"),
           "MEMBER_KEY": member.key.hex()}
    return subprocess.Popen([sys.executable, "-m", "crowdstake.cli", "oracle", "run", "--round", str(rid),
                             "--network", NETWORK, "--key-env", "MEMBER_KEY", "--targets", str(world["home"] / "targets"),
                             "--workdir", str(workdir), *retry_flags],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _pending(node) -> int:
    return int(connect(node.url).provider.make_request("txpool_status", [])["result"]["pending"], 16)


def _assert_one_vote(world, node, member, rid):
    """The member voted exactly once, in one transaction, for the expected result."""
    committee, w3 = world["protocol"].committee, world["protocol"].w3  # its connection retries past restarts
    vote = world["expected"][rid].vote
    assert committee.functions.hasVoted(rid, member.address).call()
    assert committee.functions.votesFor(rid, committee.functions.resultHash(rid, vote).call()).call() == 1
    assert w3.eth.get_transaction_count(member.address) == 1


def test_oracle_waits_for_a_node_that_is_down_when_it_starts(world, node, tmp_path):
    rid, member = world["rounds"][0], world["members"][0]
    node.stop()
    run = _oracle_run(world, member, rid, tmp_path / "op", "--rpc-retries", "8", "--rpc-backoff", "0.25")
    time.sleep(2)  # the outage: the oracle is retrying meanwhile (nothing is timed, only waited out)
    node.start()
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert f"root 0x{world['expected'][rid].root.hex()}" in out and "4 positions scored" in out
    _assert_one_vote(world, node, member, rid)


def test_a_vote_lost_with_the_mempool_in_a_restart_is_sent_again(world, node, tmp_path):
    rid, member = world["rounds"][1], world["members"][1]
    connect(node.url).provider.make_request("evm_setAutomine", [False])  # the vote waits in the mempool
    run = _oracle_run(world, member, rid, tmp_path / "op", "--rpc-retries", "8", "--rpc-backoff", "0.25")
    _until(lambda: _pending(node) == 1, "the vote to reach the mempool", run)
    node.stop()
    node.start()  # the chain is back, its mempool (and the vote) is not; it mines on every transaction again
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert f"root 0x{world['expected'][rid].root.hex()}" in out
    _assert_one_vote(world, node, member, rid)


def test_a_node_down_past_the_retry_budget_fails_clearly_and_the_journal_resumes(world, node, tmp_path):
    rid, member = world["rounds"][2], world["members"][2]
    workdir = tmp_path / "op"
    connect(node.url).provider.make_request("evm_setAutomine", [False])
    run = _oracle_run(world, member, rid, workdir, "--rpc-retries", "3", "--rpc-backoff", "0.1")
    _until(lambda: _pending(node) == 1, "the vote to reach the mempool", run)
    node.stop()
    out, err = run.communicate(timeout=120)
    assert run.returncode == 1, (out, err)
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert f"127.0.0.1:{node.port} did not answer after 3 attempts" in err
    journal = json.loads((workdir / f"round-{rid}.json").read_text())
    assert journal["root"] == world["expected"][rid].root.hex() and journal["vote-0"]
    table = (workdir / f"round-{rid}-scores.csv").read_bytes()

    node.start()
    assert connect(node.url).eth.get_transaction_count(member.address) == 0  # the restart lost the vote
    rerun = _oracle_run(world, member, rid, workdir)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert f"root 0x{world['expected'][rid].root.hex()}" in out
    assert (workdir / f"round-{rid}-scores.csv").read_bytes() == table
    _assert_one_vote(world, node, member, rid)
