"""The deployer's, the fund's and a developer's commands end to end, each a `crowdstake`
subprocess, against an anvil this module starts itself on a free port (a fresh chain: `crowdstake
deploy` with no flags gives the node's accounts the roles): deploy, a new wallet funded with `dev
fund`, a tournament, the reward pool, a round, the clock advanced to its close, the token; and each
refusal, one line with nothing sent: a wallet without the role, a close time in the past, `dev`
on a chain that is not a dev chain, no node at all. The test reads the chain itself with web3."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from crowdstake._server import free_port
from crowdstake.chain import load_artifact
from crowdstake.chain.localchain import local_chain
from crowdstake.chain.roles import role_id

ROOT = Path(__file__).resolve().parents[2]  # this checkout: the subprocesses import its package
PASSWORD = "correct horse battery staple"
E18 = 10**18
DATASET = "0x" + "d5" * 32
# anvil's well-known dev keys (mnemonic "test test ... junk"), which anvil prints when it starts:
# after a deploy with no flags node account 0 is the admin, 1 the operator, 2 the guardian
ADMIN_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OPERATOR_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
GUARDIAN_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"


@pytest.fixture(scope="module")
def node():
    with local_chain("anvil") as url:
        yield url


@pytest.fixture(scope="module")
def env(node, tmp_path_factory):
    home = tmp_path_factory.mktemp("fund-cli")
    return {"PATH": os.environ["PATH"], "HOME": str(home), "CROWDSTAKE_HOME": str(home / "crowdstake"),
            "CROWDSTAKE_DEPLOYMENTS": str(home / "deployments"), "CROWDSTAKE_RPC_URL": node,
            "CROWDSTAKE_PASSWORD": PASSWORD, "CROWDSTAKE_CONFIG": str(home / "absent.toml")}


def cli(env, *args, ok=True, **more_env):
    run = subprocess.run([sys.executable, "-m", "crowdstake.cli", *args], env={**env, **more_env}, cwd=ROOT,
                         capture_output=True, text=True)
    if ok:
        assert run.returncode == 0, (run.stdout, run.stderr)
    return run


def refused(env, *args, code=1, **more_env) -> str:
    """A mistake: the exit code and exactly one line on stderr, no traceback; returns the line."""
    run = cli(env, *args, ok=False, **more_env)
    assert run.returncode == code, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("crowdstake: ") and run.stdout == ""
    return run.stderr


def contract(w3, record, name):
    return w3.eth.contract(address=record["contracts"][name], abi=load_artifact(name)["abi"])


def test_a_tournament_from_the_command_line(env, node):
    import json

    w3 = Web3(Web3.HTTPProvider(node))
    nodes = w3.eth.accounts
    keys = [Account.from_key(k).address for k in (ADMIN_KEY, OPERATOR_KEY, GUARDIAN_KEY)]
    assert keys == nodes[:3], "anvil's dev accounts changed: update the keys"

    out = cli(env, "deploy").stdout
    record = json.loads((Path(env["CROWDSTAKE_DEPLOYMENTS"]) / "31337.json").read_text())
    tournament, token = contract(w3, record, "Tournament"), contract(w3, record, "StakeToken")
    assert f"deployed crowdstake on chain 31337 (anvil) from {nodes[0]} (node account 0): 7 transactions" in out
    assert f"  Tournament       {tournament.address}" in out
    assert f"  operator  {nodes[1]} (node account 1): creates tournaments" in out
    assert f"  guardian  {nodes[2]} (node account 2)" in out and f"  member    {nodes[5]} (node account 5)" in out
    assert "committee: 2 of 3 votes accept a result; dispute window 1h" in out
    assert tournament.functions.hasRole(role_id("OPERATOR_ROLE"), nodes[1]).call()
    assert tournament.functions.hasRole(role_id("GUARDIAN_ROLE"), nodes[2]).call()
    assert token.functions.balanceOf(nodes[0]).call() == 10_000_000 * E18

    alice = cli(env, "wallet", "new", "alice").stdout.split()[-1]
    out = cli(env, "dev", "fund", alice, "--eth", "10", "--tokens", "1000").stdout
    assert f"from the treasury {nodes[0]}" in out and out.endswith(f"{alice} holds 1,000.0000 tokens, 10.0000 ETH\n")
    assert w3.eth.get_balance(alice) == 10 * E18 and token.functions.balanceOf(alice).call() == 1000 * E18

    # a wallet without the operator's role: one line naming the role and its holder, nothing sent
    line = refused(env, "fund", "create-tournament", "--threshold", "2000", "--min-stake", "1", "--wallet", "alice")
    assert line == (f"crowdstake: creating a tournament needs OPERATOR_ROLE on the Tournament, and {alice} does not hold "
                    f"it; it is held by {nodes[1]}: sign with that key (or have the admin grant the role); nothing was "
                    "sent\n")
    assert w3.eth.get_transaction_count(alice) == 0 and tournament.functions.tournamentCount().call() == 0
    line = refused(env, "fund", "pause", "--wallet", "alice")
    assert f"pausing the Tournament needs GUARDIAN_ROLE on the Tournament, and {alice} does not hold it; it is held by " \
           f"{nodes[2]}" in line

    imported = cli(env, "wallet", "import", "operator", CROWDSTAKE_PRIVATE_KEY=OPERATOR_KEY)
    assert imported.stdout == f"imported wallet operator: {nodes[1]}\n"
    assert OPERATOR_KEY[2:] not in imported.stdout + imported.stderr

    out = cli(env, "fund", "create-tournament", "--threshold", "2000", "--min-stake", "1", "--cap", "5%",
              "--results-window", "30d", "--wallet", "operator").stdout
    assert out.startswith("created tournament 1: threshold 2,000 tokens, min stake 1, cap 5%, score 0.5 x CORR + 2 x MMC, "
                          "results window 30d (tx 0x")
    assert tuple(tournament.functions.tournament(1).call()) == (2000 * E18, E18, 5 * 10**16, 30 * 86400, 5000, 20000,
                                                                0, 0)

    out = cli(env, "fund", "rewards", "--amount", "500", "--wallet", "alice").stdout
    assert out.startswith("added 500.0000 tokens to the reward pool, which holds 500.0000 now (approve tx 0x")
    assert tournament.functions.rewardPool().call() == 500 * E18 and token.functions.balanceOf(alice).call() == 500 * E18

    out = cli(env, "fund", "open-round", "--tournament", "1", "--dataset-hash", DATASET, "--close-in", "1h",
              "--resolve-in", "20d", "--wallet", "operator").stdout.splitlines()
    close, resolve, deadline = tournament.functions.roundTimes(1).call()
    opened = w3.eth.get_block("latest")["timestamp"]
    assert out[0] == f"opened round 1 of tournament 1 with dataset {DATASET}"
    assert out[1].startswith("  closes   ") and out[1].endswith(" UTC (in 60 min)")
    assert out[2].endswith(" UTC (in 20 days)") and out[3].endswith("(in 50 days), else every stake is refunded")
    assert 3600 - 5 <= close - opened <= 3600 and resolve - close == 20 * 86400 - 3600
    assert tournament.functions.round(1).call()[7] == bytes.fromhex(DATASET[2:])  # Round.datasetHash

    # a close time in the past: one line, nothing sent
    nonce = w3.eth.get_transaction_count(nodes[1])
    line = refused(env, "fund", "open-round", "--tournament", "1", "--dataset-hash", DATASET, "--close-at",
                   "2020-01-01T00:00Z", "--resolve-in", "20d", "--wallet", "operator")
    assert line.startswith("crowdstake: close time 2020-01-01 00:00:00 UTC (") and "is not in the future by the chain's " \
                                                                                  "clock" in line
    assert w3.eth.get_transaction_count(nodes[1]) == nonce and tournament.functions.roundCount().call() == 1

    line = refused(env, "fund", "set-params", "--tournament", "1", "--cap", "10%", "--wallet", "alice")
    assert f"changing a tournament's parameters needs OPERATOR_ROLE on the Tournament, and {alice} does not hold " \
           f"it; it is held by {nodes[1]}" in line
    assert tournament.functions.tournament(1).call()[2] == 5 * 10**16
    out = cli(env, "fund", "set-params", "--tournament", "1", "--cap", "10%", "--wallet", "operator").stdout
    assert out.startswith("tournament 1: threshold 2,000 tokens, min stake 1, cap 10%, ")
    assert "  was: threshold 2,000 tokens, min stake 1, cap 5%, " in out
    assert tournament.functions.tournament(1).call()[2] == 10**17 and tournament.functions.round(1).call()[8][2] == 5 * 10**16

    # a Signals tournament: its own scores and a ticker floor; a classic one takes no floor
    out = cli(env, "fund", "create-tournament", "--kind", "signals", "--threshold", "2000", "--min-stake", "1",
              "--results-window", "30d", "--wallet", "operator").stdout
    assert out.startswith("created tournament 2: signals, at least 100 tickers, threshold 2,000 tokens, min stake 1, "
                          "cap 5%, score 0.3 x alpha + 0.8 x MPC, results window 30d (tx 0x")
    assert tuple(tournament.functions.tournament(2).call())[4:] == (3000, 8000, 1, 100)
    nonce = w3.eth.get_transaction_count(nodes[1])
    assert refused(env, "fund", "set-params", "--tournament", "1", "--min-tickers", "50", "--wallet", "operator") == (
        "crowdstake: a classic tournament has no ticker floor: a submission has every live id\n")
    assert w3.eth.get_transaction_count(nodes[1]) == nonce

    # the guardian pauses entry, only the admin unpauses
    cli(env, "wallet", "import", "guardian", CROWDSTAKE_PRIVATE_KEY=GUARDIAN_KEY)
    cli(env, "wallet", "import", "admin", CROWDSTAKE_PRIVATE_KEY=ADMIN_KEY)
    assert cli(env, "fund", "pause", "--wallet", "guardian").stdout.startswith("paused the Tournament: entry is closed")
    assert tournament.functions.paused().call()
    assert "the Tournament is paused, and no round opens until the admin unpauses it" in refused(
        env, "fund", "open-round", "--tournament", "1", "--dataset-hash", DATASET, "--close-in", "1h", "--resolve-in",
        "20d", "--wallet", "operator")
    assert f"needs DEFAULT_ADMIN_ROLE on the Tournament, and {nodes[2]} does not hold it; it is held by {nodes[0]}" in \
        refused(env, "fund", "unpause", "--wallet", "guardian")
    assert cli(env, "fund", "unpause", "--wallet", "admin").stdout.startswith("unpaused the Tournament")
    assert not tournament.functions.paused().call() and tournament.functions.roundCount().call() == 1

    out = cli(env, "dev", "advance", "--to", "close", "--round", "1").stdout
    now = w3.eth.get_block("latest")["timestamp"]
    assert close <= now <= close + 5 and "round 1's close" in out and out.startswith("chain time now ")
    from crowdstake._human import utc

    assert utc(now) in out
    out = cli(env, "dev", "advance", "3600").stdout
    assert w3.eth.get_block("latest")["timestamp"] >= now + 3600 and " s later (block mined)" in out
    out = cli(env, "dev", "advance", "--to", "resolve", "--round", "1").stdout
    assert resolve <= w3.eth.get_block("latest")["timestamp"] <= resolve + 5 and "round 1's resolve" in out

    rows = cli(env, "dev", "accounts").stdout.splitlines()
    assert len(rows) == 10 and rows[0].startswith(f" 0  {nodes[0]}") and rows[0].endswith("admin, treasury")
    assert rows[1].endswith(" 0.0000 tokens  operator") and rows[3].endswith("member") and "tokens" in rows[9]

    bob = Account.create().address
    out = cli(env, "token", "transfer", "--to", bob, "--amount", "12.5", "--wallet", "alice").stdout
    assert out.startswith(f"sent 12.5000 tokens to {bob}: the wallet holds 487.5000, the recipient 12.5000 (tx 0x")
    assert cli(env, "token", "balance", "--address", bob).stdout == f"{bob}: 12.5000 STAKE, 0.0000 ETH\n"
    assert cli(env, "token", "balance", "--wallet", "alice", CROWDSTAKE_PASSWORD="not needed").stdout.startswith(
        f"{alice}: 487.5000 STAKE, 9.99")  # read from the keystore's address, no password
    assert token.functions.balanceOf(bob).call() == 125 * E18 // 10


def test_dev_commands_refuse_a_chain_that_is_not_a_dev_chain(env):
    """An anvil with another chain id, as a fork of a live chain has: not a dev chain."""
    with local_chain("anvil", chain_id=5) as url:
        w3 = Web3(Web3.HTTPProvider(url))
        block, target = w3.eth.block_number, Account.create().address
        for args in (["dev", "accounts"], ["dev", "advance", "3600"], ["dev", "fund", target],
                     ["dev", "advance", "--to", "close", "--round", "1"]):
            line = refused(env, *args, CROWDSTAKE_RPC_URL=url)
            assert line == (f"crowdstake: `crowdstake {' '.join(args[:2])}` works only on a local dev chain (anvil with "
                            "chain id 31337, ganache with 1337); this node is 'anvil' with chain id 5: nothing was done\n")
        assert w3.eth.block_number == block and w3.eth.get_balance(target) == 0
        line = refused(env, "deploy", CROWDSTAKE_RPC_URL=url)  # no wallet, and no node accounts to deploy with
        assert line.startswith("crowdstake: deploying needs the deployer's key (on a dev chain, anvil or ganache, the "
                               "node's first account deploys without one) (pass --wallet NAME or --key-env VAR")
        assert w3.eth.block_number == block


def test_deploy_with_named_holders_from_a_wallet(env, tmp_path):
    """Off a dev chain (an anvil with chain id 5, named as a brownie network: funded accounts, but
    not a dev chain) the deployer is a wallet and every holder is named; the admin is not the
    deployer, which keeps nothing."""
    import json

    with local_chain("anvil", chain_id=5) as url:
        home = tmp_path / "home"
        (home / ".brownie").mkdir(parents=True)
        (home / ".brownie" / "network-config.yaml").write_text(
            f"live:\n- name: Ethereum\n  networks:\n  - id: testnet\n    chainid: 5\n    host: {url}\n")
        env = {**env, "HOME": str(home), "CROWDSTAKE_DEPLOYMENTS": str(tmp_path)}
        cli(env, "wallet", "import", "deployer", CROWDSTAKE_PRIVATE_KEY=ADMIN_KEY)
        w3 = Web3(Web3.HTTPProvider(url))
        deployer = Account.from_key(ADMIN_KEY)
        admin, operator, guardian, treasury, *members = (Account.create().address for _ in range(7))
        out = cli(env, "deploy", "--network", "testnet", "--wallet", "deployer", "--members", ",".join(members),
                  "--threshold", "2", "--dispute-window", "1d", "--operator", operator, "--guardian", guardian,
                  "--admin", admin, "--treasury", treasury).stdout
        assert f"deployed crowdstake on chain 5 (testnet) from {deployer.address} (the deployer): 11 transactions" in out
        assert f"  admin     {admin}: every admin role" in out and f"  member    {members[2]}\n" in out
        assert "committee: 2 of 3 votes accept a result; dispute window 1d" in out and ADMIN_KEY[2:] not in out
        record = json.loads((tmp_path / "5.json").read_text())
        assert record["roles"] == {"admin": admin, "operator": operator, "guardian": guardian, "treasury": treasury,
                                   "members": members, "threshold": 2, "disputeWindow": 86400}
        tournament, committee = contract(w3, record, "Tournament"), contract(w3, record, "OracleCommittee")
        for c in (tournament, committee, contract(w3, record, "StakeToken")):
            assert c.functions.hasRole(role_id("DEFAULT_ADMIN_ROLE"), admin).call()
            assert not c.functions.hasRole(role_id("DEFAULT_ADMIN_ROLE"), deployer.address).call()
        assert tournament.functions.hasRole(role_id("OPERATOR_ROLE"), operator).call()
        assert committee.functions.disputeWindow().call() == 86400


def test_deploy_with_no_node_says_how_to_start_one(env):
    port = free_port()
    line = refused(env, "deploy", "--rpc-url", f"http://127.0.0.1:{port}", "--rpc-retries", "1")
    assert line == (f"crowdstake: no Ethereum node answers at http://127.0.0.1:{port} (tried 1 times): start one, e.g. "
                    "`anvil` in another terminal (it listens on 127.0.0.1:8545), or point crowdstake at yours "
                    "(check --rpc-url / --network)\n")
