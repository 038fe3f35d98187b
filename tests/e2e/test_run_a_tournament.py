"""The README's "Run a tournament" section, run as written: its shell blocks, extracted and joined,
in one bash process against an anvil this module starts itself (what the section's `anvil` in
another terminal is), from an empty directory. A whole season through `crowdstake` commands
alone, every role its own wallet: deploy, a tournament, the reward pool, three overlapping
rounds opened with their datasets, participants downloading, training, submitting and staking,
time advanced, targets published, two of three members voting, finalisation, claims restaked, a
keeper's batch payment, status and an outsider's verify. The test then reads the chain itself:
every wallet's tokens equal what the voted score tables imply, and the supply fell by exactly
the burns. Then the fund's mistakes on the same deployment, each one line with nothing sent or
uploaded."""

import re
import subprocess
import sys

import pytest
from support.shell import ROOT, env_for, run_script, section_script
from web3 import Web3

from crowdstake.chain import Contracts, load_artifact
from crowdstake.chain.localchain import local_chain
from crowdstake.chain.wallet import list_wallets
from crowdstake.results.table import read_table
from crowdstake.store import local_store_for

E18 = 10**18
SECTION = "## Run a tournament"


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run-a-tournament")
    script = section_script((ROOT / "README.md").read_text(), SECTION)
    with local_chain("anvil") as node:
        env = env_for(workdir, node)
        output = run_script(script, workdir, env)
        w3 = Web3(Web3.HTTPProvider(node))
        contracts = Contracts.load(w3, workdir / "deployments")
        yield {"dir": workdir, "env": env, "output": output, "w3": w3, "contracts": contracts,
               "wallets": dict(list_wallets(workdir / ".crowdstake" / "wallets"))}


def test_the_readme_season_pays_what_the_voted_tables_say(season):
    c, wallets, output = season["contracts"], season["wallets"], season["output"]
    t, token = c.tournament.functions, c.token.functions
    record = c.deployment
    assert record["roles"]["operator"] == wallets["fund"]
    assert sorted(record["roles"]["members"]) == sorted(wallets[m] for m in ("m1", "m2", "m3"))

    store = local_store_for(season["dir"] / "store", c)
    gains, burns, delta = 0, 0, {wallets["alice"]: 0, wallets["bob"]: 0}
    assert c.round_count() == 3
    tables = {}
    for rid in (1, 2, 3):
        r = c.round(rid)
        assert r.finalized and r.settledPositions == r.stakedPositions == 2 and r.reserved == 0
        assert r.targetsHash != bytes(32) and r.datasetHash != bytes(32)
        rows = tables[rid] = read_table(store.get_score_table(rid, r.scoreTableHash))
        assert len(rows) == 2 and {row.staker for row in rows} == set(delta)
        for row in rows:
            delta[row.staker] += row.delta
            gains += max(row.delta, 0)
            burns += max(-row.delta, 0)
        assert sum(max(row.delta, 0) for row in rows) == r.totalReward
    assert gains > 0 and burns > 0, "a season with no gain or no burn checks less than it should"
    opened = {log.args.roundId: season["w3"].eth.get_block(log.blockNumber)["timestamp"]
              for log in c.tournament.events.RoundOpened().get_logs(from_block=0)}
    for rid in (1, 2):  # they overlap: each round opens while the one before it is still to resolve
        assert c.round(rid).closeTime <= opened[rid + 1] < c.round(rid).resolveTime
    # round 1's payouts were restaked into round 3, beside the 100 each staked there
    first = {row.staker: row.stake + row.delta for row in tables[1]}
    assert {row.staker: row.stake for row in tables[3]} == {who: 100 * E18 + paid for who, paid in first.items()}
    assert output.count("restaked into round 3") == 2
    # the keeper paid round 2, in one batch, before anyone claimed it
    batches = c.tournament.events.ClaimedMany().get_logs(from_block=0)
    assert [(b.args.roundId, b.args.caller, b.args.count) for b in batches] == [(2, wallets["keeper"], 2)]
    w3 = season["w3"]
    assert w3.eth.get_transaction_count(wallets["keeper"]) == 1
    # two of the three members voted (m1 also finalised); m3 sent nothing; none gained or lost a token
    assert w3.eth.get_transaction_count(wallets["m3"]) == 0
    assert all(w3.eth.get_transaction_count(wallets[m]) >= 3 for m in ("m1", "m2"))
    assert all(c.call(token.balanceOf(wallets[m])) == 1000 * E18 for m in ("m1", "m2", "m3"))

    for who, moved in delta.items():
        assert c.call(token.balanceOf(who)) == 1000 * E18 + moved
        assert c.call(t.internalBalance(who)) == 0
    assert c.call(t.rewardPool()) == 10_000 * E18 - gains
    assert c.call(token.balanceOf(wallets["fund"])) == 10_000 * E18
    assert c.call(token.totalSupply()) == 10_000_000 * E18 - burns
    assert c.call(token.balanceOf(c.tournament.address)) == c.call(t.totalOwed()) == c.call(t.rewardPool())
    assert c.call(token.balanceOf(wallets["keeper"])) == 1000 * E18  # the keeper paid gas, moved no token
    assert re.search(r"round 1: the recomputed root 0x[0-9a-f]{64} matches the on-chain", output)
    assert output.count("state: finalized") == 3
    assert f"positions of {wallets['alice']}" in output


def cli(season, *args, **more_env):
    return subprocess.run([sys.executable, "-m", "crowdstake.cli", *args], cwd=season["dir"], capture_output=True,
                          text=True, env={**season["env"], "CROWDSTAKE_PASSWORD": "dev-chain-only",
                                          "CROWDSTAKE_STORE": str(season["dir"] / "store"), **more_env})


def refused(season, *args) -> str:
    """One line on stderr, no traceback, exit 1; returns the line."""
    run = cli(season, *args)
    assert run.returncode == 1 and run.stdout == "", (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1, run.stderr
    return run.stderr.removeprefix("crowdstake: ")


def test_the_funds_mistakes_are_one_line_and_send_nothing(season):
    c, wallets, root = season["contracts"], season["wallets"], season["dir"]
    fund = wallets["fund"]
    w3, datasets = season["w3"], root / "store" / "datasets"
    data, targets = root / "data" / "public", root / "data" / "private" / "targets"
    nonce, rounds, stored = w3.eth.get_transaction_count(fund), c.round_count(), sorted(datasets.rglob("*"))

    partial = root / "partial"
    partial.mkdir()
    for name in ("train.csv", "validation.csv"):
        (partial / name).write_bytes((data / "era-24" / name).read_bytes())
    line = refused(season, "fund", "open-round", "--wallet", "fund", "--tournament", "1", "--dataset", str(partial),
                   "--close-in", "1h", "--resolve-in", "1d")
    assert line == f"{partial / 'live.csv'} is missing: a dataset directory has train.csv, validation.csv, live.csv " \
                   "(and optionally features.json)\n"
    line = refused(season, "fund", "open-round", "--wallet", "alice", "--tournament", "1", "--dataset",
                   str(data / "era-24"), "--close-in", "1h", "--resolve-in", "1d")
    assert line.startswith(f"opening a round needs OPERATOR_ROLE on the Tournament, and {wallets['alice']} does not "
                           f"hold it; it is held by {fund}")
    line = refused(season, "fund", "open-round", "--wallet", "fund", "--tournament", "1", "--dataset",
                   str(data / "era-24"), "--close-at", "2020-01-01T00:00Z", "--resolve-in", "1d")
    assert line.startswith("close time 2020-01-01 00:00:00 UTC (") and "is not in the future" in line
    line = refused(season, "fund", "publish-targets", "--wallet", "fund", "--round", "1", "--targets",
                   str(targets / "era-22.csv"))
    assert line == "round 1's targets are published already (these targets): they are committed once; nothing was sent\n"
    assert (w3.eth.get_transaction_count(fund), c.round_count(), sorted(datasets.rglob("*"))) == (nonce, rounds, stored)

    # a fourth round, on round 3's dataset (published already): targets before it resolves, of another round, by
    # someone else, and an operator's own targets that differ from the committed ones
    opened = cli(season, "fund", "open-round", "--wallet", "fund", "--tournament", "1", "--dataset", str(data / "era-24"),
                 "--close-in", "1h", "--resolve-in", "2h")
    assert opened.returncode == 0 and opened.stdout.startswith("opened round 4 of tournament 1"), opened.stderr
    nonce = w3.eth.get_transaction_count(fund)
    publish = ("fund", "publish-targets", "--round", "4", "--targets")
    line = refused(season, *publish, str(targets / "era-24.csv"), "--wallet", "fund")
    assert line.startswith("round 4 resolves at ") and "its targets can be published from then on" in line
    assert cli(season, "dev", "advance", "--to", "resolve", "--round", "4").returncode == 0
    line = refused(season, *publish, str(targets / "era-22.csv"), "--wallet", "fund")
    assert re.fullmatch(rf"{re.escape(str(targets / 'era-22.csv'))}: line 2: id '[0-9a-f]+' is not a live id of this "
                        r"round.*\n", line), line
    line = refused(season, *publish, str(targets / "era-24.csv"), "--wallet", "bob")
    assert line.startswith("publishing a round's targets needs OPERATOR_ROLE on the Tournament")
    assert w3.eth.get_transaction_count(fund) == nonce and c.round(4).targetsHash == bytes(32)
    assert not (root / "store" / "rounds" / "4" / "targets.csv").exists()

    done = cli(season, *publish, str(targets / "era-24.csv"), "--wallet", "fund")
    assert done.returncode == 0 and done.stdout.startswith("round 4: targets 0x"), done.stderr
    own = root / "own-targets"
    own.mkdir()
    original = (targets / "era-24.csv").read_text().splitlines()
    flipped = [original[0]] + [f"{line.split(',')[0]},{1 - float(line.split(',')[1])}" for line in original[1:]]
    (own / "4.csv").write_text("\n".join(flipped) + "\n")
    voter = w3.eth.get_transaction_count(wallets["m1"])
    line = refused(season, "oracle", "run", "--round", "4", "--targets", str(own), "--wallet", "m1", "--workdir",
                   str(root / "m1"))
    assert line.startswith(f"{own / '4.csv'} hashes to 0x") and ", but round 4 commits the targets 0x" in line
    assert w3.eth.get_transaction_count(wallets["m1"]) == voter and not c.call(
        c.committee.functions.hasVoted(4, wallets["m1"]))



def test_the_participants_view_of_the_season(season):
    """Names from the book `submit` kept, the voted tables, the internal balance; and each of a
    participant's mistakes one line, nothing sent."""
    from crowdstake.results.merkle import model_id

    wallets, w3 = season["wallets"], season["w3"]
    status = cli(season, "status", "--wallet", "alice")
    assert status.returncode == 0 and "alice-model" in status.stdout and "0x" + model_id("alice-model").hex()[:12] \
        not in status.stdout and status.stdout.count("claimed") == 3
    scores = cli(season, "scores", "--round", "1", "--wallet", "bob")
    assert scores.returncode == 0, scores.stderr
    lines = [line for line in scores.stdout.splitlines() if "-model" in line]
    assert len(lines) == 2 and "(you)" in lines[0] and "bob-model" in lines[0] and "alice-model" in lines[1]
    assert "(final)" in scores.stdout and all(len(line) <= 100 for line in scores.stdout.splitlines())
    balance = cli(season, "wallet", "balance", "alice")
    assert balance.stdout.endswith("ETH; 0.0000 tokens of internal balance in the Tournament\n")

    nonce = w3.eth.get_transaction_count(wallets["alice"])
    assert refused(season, "withdraw", "--all", "--wallet", "alice").startswith(
        f"nothing to withdraw: {wallets['alice']} has no internal balance in the Tournament")
    line = refused(season, "refund", "--round", "1", "--wallet", "alice")
    assert line.startswith("refunds of round 1 open ") and "round 1 is finalized: claim its positions" in line
    assert line.endswith("nothing was sent (`crowdstake claim --round 1`)\n"), line  # the CLI's words for the next step
    assert w3.eth.get_transaction_count(wallets["alice"]) == nonce
    line = refused(season, "models", "name", "0x" + model_id("alice-model").hex(), "alice-modle")
    assert line.startswith(f"'alice-modle' is not the name of model 0x{model_id('alice-model').hex()[:12]}")


def test_the_readme_notebook_example_runs_as_written(season):
    """The README's Python block, run as written in the season's directory, on a round the fund
    opens for it, against the store the section serves (restarted here on its port)."""
    readme = (ROOT / "README.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", readme[readme.index("From a notebook"):], re.S)[:1]
    opened = cli(season, "fund", "open-round", "--wallet", "fund", "--tournament", "1", "--dataset",
                 str(season["dir"] / "data" / "public" / "era-24"), "--close-in", "1h", "--resolve-in", "2h")
    assert opened.returncode == 0, opened.stderr
    rid = season["contracts"].round_count()
    env = {**season["env"], "CROWDSTAKE_PASSWORD": "dev-chain-only"}
    server = subprocess.Popen([sys.executable, "-m", "crowdstake.cli", "store", "serve", "--dir", "store"],
                              cwd=season["dir"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run = subprocess.run([sys.executable, "-c", code], cwd=season["dir"], env=env, capture_output=True, text=True,
                             timeout=300)
    finally:
        server.terminate()
        server.wait(10)
    assert run.returncode == 0, run.stderr[-3000:]
    from crowdstake.results.merkle import model_id

    position = season["contracts"].position(rid, season["wallets"]["alice"], model_id("notebook-model"))
    assert position.stake == 50 * E18 and position.predictionsHash != bytes(32)
    assert "'corr_mean':" in run.stdout and "notebook-model" in run.stdout and "open" in run.stdout
