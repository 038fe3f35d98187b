"""crowdstake.oracle.keeper end to end over web3 (the package's own contracts view): a
finalised round's score table read back from a store, its positions settled in claimMany batches
to wallets or internal balances, resumed without paying twice; refusals of a round or table that
does not match the chain."""

import random
import secrets

import pytest
from eth_account import Account
from support.rounds import claim_many, model

from crowdstake.results.merkle import Leaf, ResultsTree
from crowdstake.results.payout import payout_delta, payout_factor, round_totals
from crowdstake.results.table import Row, table_hash, write_table
from crowdstake._units import to_tokens
from crowdstake.config import KeeperSettings
from crowdstake.errors import KeeperError
from crowdstake.oracle.keeper import pay_round

E18 = 10**18


@pytest.fixture
def people(alice, bob, carol):
    return {"alice": alice, "bob": bob, "carol": carol}


class TableStore:
    def __init__(self, tables):
        self.tables = tables

    def get_score_table(self, round_id):
        return self.tables[round_id]


@pytest.fixture
def keeper(alice):
    account = Account.from_key(secrets.token_bytes(32))
    alice.transfer(account.address, 10**18)
    return account


def _published_round(driver, tournament, people, count, skewed=None):
    """A finalised round of `count` positions over the three people, with its score table. With
    `skewed`, that row of the table (its hash the one voted) scores one more than its leaf in the
    voted root."""
    rng = random.Random(count)
    rid = driver.open_round()
    names = list(people)
    entries = [(names[i % 3], f"s{i}", rng.randint(1, 20)) for i in range(count)]
    for who, name, amount in entries:
        driver.enter(rid, people[who], name, amount * E18)
    scores = [rng.randint(-80_000, 80_000) for _ in entries]
    leaves = [Leaf(rid, people[w].address, model(n), s) for (w, n, _), s in zip(entries, scores)]
    tree = ResultsTree(leaves)
    r = tournament.round(rid)
    factor = payout_factor(r["params"]["threshold"], r["totalStake"])
    stakes = [a * E18 for _, _, a in entries]
    rows = [Row(l.staker, l.model_id, st, 0.0, 0.0, l.score / 1e6, l.score + (1 if i == skewed else 0),
                payout_delta(st, l.score, factor, r["params"]["cap"]), "", tuple(tree.proof(i)))
            for i, (l, st) in enumerate(zip(leaves, stakes))]
    data = write_table(rows)
    reward, _ = round_totals(zip(stakes, scores), factor, r["params"]["cap"])
    result = (tree.root, table_hash(data), reward, count)
    driver.accept(rid, result)
    driver.until(driver.committee.roundState(rid)["disputeEndsAt"])
    driver.committee.finalize(rid, {"from": driver.operator})
    return rid, leaves, tree, data, stakes, factor


@pytest.mark.parametrize("to_balance", [False, True])
def test_pay_round_end_to_end_and_resume(driver, token, tournament, people, runtime, keeper, outsider, to_balance):
    rid, leaves, tree, data, stakes, factor = _published_round(driver, tournament, people, 23)
    store = TableStore({rid: data})
    # someone settled a few already: one alone, three in a batch
    driver.claim(tree, leaves, 5, outsider)
    claim_many(tournament, tree, leaves, [0, 9, 17], outsider)
    supply, wallets = token.totalSupply(), {a: token.balanceOf(a) for a in people.values()}
    seen = []
    summary = pay_round(runtime, keeper, store, rid, KeeperSettings(to_balance=to_balance, batch_size=6),
                        progress=lambda done, total: seen.append((done, total)))
    assert summary.already_settled == 4 and summary.settled == 19 and summary.transactions == 4
    assert seen[-1] == (19, 19)
    todo = [i for i in range(23) if i not in (0, 5, 9, 17)]
    deltas = [payout_delta(stakes[i], leaves[i].score, factor, tournament.round(rid)["params"]["cap"]) for i in todo]
    assert summary.burned == to_tokens(sum(-d for d in deltas if d < 0)) == to_tokens(supply - token.totalSupply())
    paid = sum(stakes[i] + d for i, d in zip(todo, deltas))
    assert (summary.credited if to_balance else summary.paid) == to_tokens(paid)
    for a in people.values():
        mine = sum(stakes[i] + d for i, d in zip(todo, deltas) if leaves[i].staker == a.address)
        assert (tournament.internalBalance(a) if to_balance else token.balanceOf(a) - wallets[a]) == mine
    r = tournament.round(rid)
    assert r["settledPositions"] == r["stakedPositions"] == 23
    again = pay_round(runtime, keeper, store, rid, KeeperSettings(to_balance=to_balance))
    assert again.settled == 0 and again.transactions == 0 and again.already_settled == 23


def test_pay_refuses_unfinalized_round_and_wrong_table(driver, tournament, people, runtime, keeper):
    rid, leaves, tree, data, _, _ = _published_round(driver, tournament, people, 4)
    with pytest.raises(KeeperError, match="does not match the hash voted"):
        pay_round(runtime, keeper, TableStore({rid: data + b"\n"}), rid)
    other = driver.open_round()
    with pytest.raises(KeeperError, match="not finalised"):
        pay_round(runtime, keeper, TableStore({}), other)
    with pytest.raises(KeeperError, match="not found"):
        pay_round(runtime, keeper, TableStore({}), 999)


def test_pay_refuses_a_table_that_does_not_rebuild_the_root(driver, tournament, people, runtime, keeper):
    # Its hash is the one voted and it has a row per staked position, but one row's score is
    # not its leaf's: no proof built from it can verify, so the keeper stops before sending any.
    rid, _, _, data, _, _ = _published_round(driver, tournament, people, 4, skewed=2)
    with pytest.raises(KeeperError, match=rf"score table of round {rid} does not rebuild the on-chain root "
                                          r"\(4 rows, 4 staked positions\)"):
        pay_round(runtime, keeper, TableStore({rid: data}), rid)
    assert tournament.round(rid)["settledPositions"] == 0
