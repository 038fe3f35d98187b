"""The event kinds the season never makes, indexed from a real chain (an anvil of this module's
own): a tournament's parameters updated, a result accepted and vetoed by the guardian (which
extends the round's results deadline), a second result accepted and refused by the Tournament
at finalisation (its leaf count is wrong: the committee clears it), the round's targets
published, and, the deadline passed with no result, both positions refunded. The index, its
read API and the dashboard's round page are checked against the chain's own reads."""

import pytest
from eth_utils import keccak

from crowdstake.chain.deploy import deploy
from crowdstake.chain.localchain import local_chain
from crowdstake.chain.tx import send
from crowdstake.chain import connect
from crowdstake.index import Indexer, dashboard, identity, open_index, read
from support.season import E18, advance, funded, now

WINDOW = 1800  # dispute window: two of them pass the round's 1-hour results window, so a veto extends it
PARAMS = (1_000 * E18, E18, 5 * 10**16, 7 * 86400, 5000, 20000, 0, 0)
UPDATED = (2_000 * E18, 2 * E18, 4 * 10**16, 3600, 6000, 15000, 0, 0)
RESULT_A = (b"\xa1" * 32, b"\x5a" * 32, 0, 2)
RESULT_B = (b"\xb2" * 32, b"\x5b" * 32, 0, 3)  # three leaves for two staked positions: refused
MODEL = keccak(text="model")


def hex_(value) -> str:
    return "0x" + bytes(value).hex()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("events")
    with local_chain("anvil") as url:
        w3 = connect(url)
        bank, operator = funded(w3), funded(w3)
        members = [funded(w3) for _ in range(3)]
        c = deploy(w3, bank, operator=operator.address, guardian=bank.address, members=[m.address for m in members],
                   threshold=2, dispute_window=WINDOW, treasury=bank.address, directory=home / "deployments")
        t, committee = c.tournament.functions, c.committee.functions
        send(w3, bank, c.token.functions.approve(c.tournament.address, 10_000 * E18))
        send(w3, bank, t.fundRewards(10_000 * E18))
        send(w3, operator, t.createTournament(PARAMS))
        send(w3, operator, t.setTournamentParams(1, UPDATED))  # the round opens with these
        send(w3, operator, t.openRound(1, b"\xda" * 32, now(w3) + 300, now(w3) + 600))
        people = [funded(w3, bank, c.token, 100) for _ in range(2)]
        for i, who in enumerate(people):
            send(w3, who, c.token.functions.approve(c.tournament.address, 100 * E18))
            send(w3, who, t.submit(1, MODEL, bytes([0x30 + i]) * 32))
            send(w3, who, t.stake(1, MODEL, (10 + 5 * i) * E18))
        advance(w3, c.round_times(1).resolveTime - now(w3) + 1)
        for member in members[:2]:
            send(w3, member, committee.vote(1, RESULT_A))
        send(w3, bank, committee.veto(1))  # the guardian: a new epoch, and the deadline moves
        for member in members[1:]:
            send(w3, member, committee.vote(1, RESULT_B))
        advance(w3, c.round_state(1).disputeEndsAt - now(w3) + 1)
        send(w3, bank, committee.finalize(1))  # refused: the Tournament counts two staked positions
        send(w3, operator, t.publishTargets(1, b"\x7a" * 32))
        advance(w3, c.round_times(1).resultsDeadline - now(w3) + 1)
        for who in people:
            send(w3, bank, t.refund(1, who.address, MODEL))  # anyone may, for the staker
        path = home / "index.sqlite3"
        with open_index(path, identity(c), write=True) as opened:
            Indexer(c, opened, confirmations=0, page=4).sync()
        yield {"w3": w3, "contracts": c, "people": people, "members": members, "path": path}


def test_the_parameters_update_is_indexed_as_the_chain_holds_it(world):
    c = world["contracts"]
    with open_index(world["path"]) as ix:
        (now_,) = dashboard.tournaments(ix)
        chain = c.call(c.tournament.functions.tournament(1))
        assert (int(now_["threshold"]), int(now_["min_stake"]), now_["cap"], now_["results_window"],
                now_["corr_weight_bps"], now_["mmc_weight_bps"], now_["kind"], now_["min_tickers"]) == tuple(chain) \
            == UPDATED
        history = ix.db.execute("SELECT created, results_window FROM tournament_params ORDER BY block").fetchall()
        assert [tuple(r) for r in history] == [(1, PARAMS[3]), (0, UPDATED[3])]


def test_the_veto_refusal_targets_and_deadline_are_the_chains(world):
    c, w3 = world["contracts"], world["w3"]
    state, times, chain_round = c.round_state(1), c.round_times(1), c.round(1)
    vetoed = c.logs("ResultVetoed", of=c.committee)
    refused = c.logs("ResultRefused", of=c.committee)
    assert len(vetoed) == len(refused) == 1
    with open_index(world["path"]) as ix:
        detail = read.round_detail(ix, 1)
        assert [(v["result_hash"], v["vetoes"]) for v in detail["vetoes"]] == \
            [(hex_(vetoed[0]["args"]["resultHash"]), state.vetoes)] == [(hex_(vetoed[0]["args"]["resultHash"]), 1)]
        assert [(r["result_hash"], r["reason"]) for r in detail["refusals"]] == \
            [(hex_(refused[0]["args"]["resultHash"]), hex_(refused[0]["args"]["reason"]))]
        assert refused[0]["args"]["reason"] == keccak(text="TournamentLeafCountMismatch(uint256,uint32,uint32)")[:4]
        # the committee cleared the refused result: no standing acceptance, two restarts
        assert detail["accepted_hash"] is None and state.acceptedHash == b"\x00" * 32 and state.restarts == 2
        assert [v["restarts"] for v in detail["votes"]] == [0, 0, 1, 1]
        assert detail["targets_hash"] == hex_(chain_round.targetsHash) == "0x" + "7a" * 32
        assert detail["extended_results_deadline"] == times.resultsDeadline
        assert detail["status"] == "opened" and not chain_round.finalized
        listed = {r["round_id"]: r for r in dashboard.rounds_list(ix)}[1]
        assert listed["status"] == "opened" and (listed["vetoes"], listed["acceptances"]) == (1, 2)

        page = dashboard.with_countdowns(ix, dashboard.round_page(ix, 1))
        moments = [(m["event"], m["time"]) for m in page["timeline"]]
        stamps = {name: w3.eth.get_block(logs[0]["blockNumber"])["timestamp"]
                  for name, logs in (("veto", vetoed), ("refusal", refused),
                                     ("targets", c.logs("TargetsPublished")),
                                     ("extended", c.logs("ResultsDeadlineExtended")))}
        assert (f"veto of {hex_(vetoed[0]['args']['resultHash'])}", stamps["veto"]) in moments
        assert (f"refusal of {hex_(refused[0]['args']['resultHash'])}", stamps["refusal"]) in moments
        assert ("targets published", stamps["targets"]) in moments
        assert ("results deadline extended", stamps["extended"]) in moments
        extended = next(m for m in page["timeline"] if m["event"] == "results deadline extended")
        assert extended["until"] == times.resultsDeadline
        times_in_order = [t for _, t in moments if t is not None]
        assert times_in_order == sorted(times_in_order)
        assert page["now"] == w3.eth.get_block(w3.eth.block_number)["timestamp"]


def test_the_refunds_are_the_chains(world):
    c = world["contracts"]
    refunded = {e["args"]["staker"]: e["args"]["amount"] for e in c.logs("Refunded")}
    assert len(refunded) == 2
    with open_index(world["path"]) as ix:
        positions = read.round_detail(ix, 1)["positions"]
        assert {p["staker"]: (p["state"], int(p["refunded"])) for p in positions} == \
            {who: ("refunded", amount) for who, amount in refunded.items()}
        for p in positions:
            assert c.position(1, p["staker"], MODEL).stake == 0 and int(p["stake"]) == refunded[p["staker"]]
        chain_round = c.round(1)
        assert dashboard.round_page(ix, 1)["settlement"] == {"settled": chain_round.settledPositions,
                                                               "staked": chain_round.stakedPositions} == \
            {"settled": 2, "staked": 2}
        for who in world["people"]:
            wallet = dashboard.wallet_page(ix, who.address)
            assert [(p["round_id"], p["state"]) for p in wallet["positions"]] == [(1, "refunded")]
            assert wallet["internal_balance"] == str(c.call(c.tournament.functions.internalBalance(who.address))) \
                == "0"
