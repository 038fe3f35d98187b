"""docs/signals.md's "Run a Signals round", run as written (as test_run_a_tournament runs the
README's season): one Signals round through `crowdstake` commands alone, every role its own
wallet, against an anvil this module starts. Then the chain itself is read: the round is
final, the voted table scores alice's own-data signal above bob's signal with no information,
every wallet holds what the table implies, and an outsider's `oracle verify` reproduced the
root from the chain and the store."""

import re

import pytest
from support.shell import ROOT, env_for, run_script, section_script
from web3 import Web3

from crowdstake.chain import Contracts
from crowdstake.chain.localchain import local_chain
from crowdstake.chain.wallet import list_wallets
from crowdstake.results.merkle import model_id
from crowdstake.results.table import read_table
from crowdstake.store import local_store_for
from crowdstake.store.signals_formats import read_universe

E18 = 10**18


@pytest.fixture(scope="module")
def signals_round(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run-a-signals-round")
    script = section_script((ROOT / "docs" / "signals.md").read_text(), "## Run a Signals round")
    with local_chain("anvil") as node:
        output = run_script(script, workdir, env_for(workdir, node))
        contracts = Contracts.load(Web3(Web3.HTTPProvider(node)), workdir / "deployments")
        yield {"dir": workdir, "output": output, "contracts": contracts,
               "wallets": dict(list_wallets(workdir / ".crowdstake" / "wallets"))}


def test_a_signals_round_run_from_the_docs_pays_what_its_voted_table_says(signals_round):
    c, wallets = signals_round["contracts"], signals_round["wallets"]
    t, token = c.tournament.functions, c.token.functions
    assert c.call(t.tournament(1)).kind == 1  # Signals, scored by alpha
    r = c.round(1)
    assert r.finalized and r.settledPositions == r.stakedPositions == 2 and r.reserved == 0
    rows = {row.model_id: row for row in read_table(local_store_for(signals_round["dir"] / "store", c)
                                                    .get_score_table(1, r.scoreTableHash))}
    alice, bob = rows[model_id("alice-signal")], rows[model_id("bob-signal")]
    assert (alice.staker, bob.staker) == (wallets["alice"], wallets["bob"])
    assert not alice.reason and not bob.reason
    # own data beats no information, on the first score (alpha) and on the payout
    assert alice.corr > 0 and alice.corr > bob.corr and alice.delta > bob.delta
    for row in (alice, bob):
        assert c.call(token.balanceOf(row.staker)) == 1000 * E18 + row.delta
    assert c.call(token.balanceOf(c.tournament.address)) == c.call(t.totalOwed()) == c.call(t.rewardPool())


def test_the_outsider_reproduced_the_root_and_the_scores_name_alpha_and_mpc(signals_round):
    output = signals_round["output"]
    assert re.search(r"round 1: the recomputed root 0x[0-9a-f]{64} matches the on-chain", output)
    header = next(line for line in output.splitlines() if "staker" in line and "score" in line)
    assert re.search(r"alpha\W+mpc\W+score", header), header
    assert "corr" not in header and "mmc" not in header
    assert "Signals round 1: corr is the round's alpha (or FNC), mmc its MPC" in output  # alice's status


def test_a_submission_names_the_tickers_dropped_outside_the_universe(signals_round):
    output = signals_round["output"]
    dropped = re.findall(r"(\d+) tickers? outside the round's universe (?:was|were) dropped \(not scored\): (\S+)", output)
    assert len(dropped) == 1, output  # bob's, who sent every ticker he knows of; alice sent the universe
    count, first = dropped[0]
    universe = set(read_universe((signals_round["dir"] / "bob" / "round-1" / "universe.csv").read_bytes()))
    assert int(count) > 0 and first.rstrip(",") not in universe
