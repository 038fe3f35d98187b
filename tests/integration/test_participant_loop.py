"""The participant's loop around a round (crowdstake.participant.Participant), on the oracle's
world: positions shown by model name and scored as soon as the committee accepts a table
(provisional until final), a round's voted table with the wallet's models first, a book that
names only what hashes to the id, payouts credited to the internal balance then withdrawn or
staked from it, a restake into a round where the model has no submission refused before
anything is sent, a contract's refusal keeping its decoded custom error, and refunds of a round
that got no results."""

from decimal import Decimal

import pytest
from brownie import chain, web3
from support.world import IDS, funded, run_operator, until, world  # noqa: F401 - world: a fixture

from crowdstake.config import KeeperSettings
from crowdstake.errors import InvalidInputError, ParticipantError
from crowdstake.models import ModelBook, short_id
from crowdstake.oracle.keeper import pay_round
from crowdstake.participant import Participant
from crowdstake.results.merkle import model_id
from crowdstake.results.table import read_table
from crowdstake.store import register_live_ids

E18 = 10**18


def open_round(world, operator, close_in=300, resolve_in=600):
    now = chain.time()
    rid = world["tournament"].openRound(world["tid"], b"\xda" * 32, now + close_in, now + resolve_in,
                                        {"from": operator}).return_value
    register_live_ids(world["home"] / "store", rid, IDS)
    return rid


def predictions(seed: int) -> bytes:
    return ("id,prediction\n" + "".join(f"{k},{((i * 7919 + seed * 104729) % 1000) / 999:.4f}\n"
                                        for i, k in enumerate(IDS))).encode()


def targets(tmp_path, rid):
    directory = tmp_path / "targets"
    directory.mkdir(exist_ok=True)
    (directory / f"{rid}.csv").write_text("id,target\n" + "".join(f"{k},{(i % 5) / 4}\n" for i, k in enumerate(IDS)))
    return directory


@pytest.fixture
def people(world, admin, tmp_path):
    """alice (a book of her own) and bob (none), each with tokens and ETH."""
    alice, bob = funded(admin, world["token"], 500 * E18), funded(admin, world["token"], 500 * E18)
    book = ModelBook(tmp_path / "home" / "models.json")
    return (Participant(world["protocol"], alice, world["store"], book),
            Participant(world["protocol"], bob, world["store"]))


def scored(world, operator, people, tmp_path):
    """A round both entered, scored and accepted by two members: in its dispute window."""
    alice, bob = people
    rid = open_round(world, operator)
    alice.submit(rid, "alpha", predictions(1))
    alice.stake(rid, "alpha", 100)
    bob.submit(rid, "gamma", predictions(2))
    bob.stake(rid, "gamma", 60)
    until(world["tournament"].roundTimes(rid)[1])
    for i, member in enumerate(world["members"][:2]):
        run_operator(world, member, rid, targets(tmp_path, rid), tmp_path / f"op{i}")
    return rid


def test_positions_are_named_and_scored_as_soon_as_a_table_is_accepted(world, operator, people, tmp_path):
    alice, bob = people
    rid = scored(world, operator, people, tmp_path)
    table = {row.model_id: row for row in read_table(world["store"].get_score_table(
        rid, world["protocol"].round_state(rid).accepted.scoreTableHash))}
    mine = table[model_id("alpha")]

    status = alice.status()
    assert list(status["model"]) == ["alpha"] and list(status["state"]) == ["accepted"]
    row = status.iloc[0]
    assert bool(row["provisional"]) and (row["corr"], row["mmc"], row["score"]) == (mine.corr, mine.mmc, mine.score)
    assert row["payout"] == Decimal(mine.delta).scaleb(-18) and row["stake"] == Decimal(100)
    assert isinstance(row["payout"], Decimal) and isinstance(row["stake"], Decimal)  # exact tokens, not floats

    shown = alice.scores(rid)
    assert shown.provisional and list(shown.table["mine"]) == [True, False]
    assert list(shown.table["model"]) == ["alpha", short_id(model_id("gamma"))]  # bob's name is not in alice's book
    assert shown.table["payout"].tolist() == [Decimal(mine.delta).scaleb(-18),
                                              Decimal(table[model_id("gamma")].delta).scaleb(-18)]
    assert shown.table["stake"].tolist() == [Decimal(100), Decimal(60)]

    # the same wallet on another machine: ids until named, and only a name that hashes to the id
    elsewhere = Participant(world["protocol"], alice.account, world["store"], ModelBook(tmp_path / "other.json"))
    assert list(elsewhere.status()["model"]) == [short_id(model_id("alpha"))]
    with pytest.raises(InvalidInputError, match=f"'beta' is not the name of model {short_id(model_id('alpha'))}"):
        elsewhere.models.name("0x" + model_id("alpha").hex(), "beta")
    elsewhere.models.name("0x" + model_id("alpha").hex(), "alpha")
    assert list(ModelBook(tmp_path / "other.json").names().values()) == ["alpha"]  # kept in the file
    assert list(elsewhere.status()["model"]) == ["alpha"]

    until(world["protocol"].round_state(rid).disputeEndsAt + 1)
    run_operator(world, world["members"][0], rid, targets(tmp_path, rid), tmp_path / "op0")
    final = alice.status().iloc[0]
    assert final["state"] == "claimable" and not final["provisional"] and final["payout"] == Decimal(mine.delta).scaleb(-18)
    assert not alice.scores(rid).provisional


def test_a_refusal_at_the_send_keeps_the_contracts_decoded_error(world, operator, guardian, admin, people):
    """What the contract refused survives Participant._send: ParticipantError keeps the custom
    error's name and arguments (chain.tx.refused_as), and nothing is sent. A stake in a paused
    Tournament passes the participant's own checks and is refused by the contract; a call the
    participant's checks would stop (a stake without a submission), given to _send itself, keeps
    its arguments."""
    alice, _ = people
    rid = open_round(world, operator)
    alice.submit(rid, "alpha", predictions(1))
    me = alice.account.address
    nonce = web3.eth.get_transaction_count(me)
    world["tournament"].pause({"from": guardian})
    with pytest.raises(ParticipantError) as paused:
        alice.stake(rid, "alpha", 100)
    assert (paused.value.error, paused.value.error_args) == ("EnforcedPause", ())
    assert str(paused.value) == "the contract refused: EnforcedPause()"
    world["tournament"].unpause({"from": admin})
    unsubmitted = model_id("beta")
    with pytest.raises(ParticipantError) as refused:
        alice._send(alice.tournament.functions.stake(rid, unsubmitted, 100 * E18))
    assert refused.value.error == "TournamentNoSubmission"
    assert refused.value.error_args == (rid, me.lower(), unsubmitted)
    assert str(refused.value).startswith("the contract refused: TournamentNoSubmission(")
    assert web3.eth.get_transaction_count(me) == nonce  # each refused in simulation: nothing was sent


def test_payouts_in_the_internal_balance_are_withdrawn_or_staked(world, operator, admin, people, tmp_path):
    alice, _ = people
    rid = scored(world, operator, people, tmp_path)
    until(world["protocol"].round_state(rid).disputeEndsAt + 1)
    run_operator(world, world["members"][0], rid, targets(tmp_path, rid), tmp_path / "op0")
    me = alice.account.address
    (row,) = [r for r in read_table(world["store"].get_score_table(rid)) if r.staker == me]
    payout = 100 * E18 + row.delta

    following = open_round(world, operator, close_in=5000, resolve_in=6000)
    nonce = web3.eth.get_transaction_count(me)
    with pytest.raises(ParticipantError, match=f"model alpha has no submission in round {following}, so its payout "
                                               f"cannot be restaked there: submit its predictions to round "
                                               f"{following} first, or claim without restaking") as refused:
        alice.claim(rid, restake_into=following)
    assert (refused.value.setting, refused.value.hint_values) == ("restake_into", {"round": following, "model": "alpha"})
    with pytest.raises(ParticipantError, match=f"nothing to withdraw: {me} has no internal balance"):
        alice.withdraw()
    assert web3.eth.get_transaction_count(me) == nonce

    pay_round(world["protocol"], funded(admin), world["store"], rid, KeeperSettings(to_balance=True))  # a keeper
    held = alice.balance()
    internal = world["protocol"].call(world["protocol"].tournament.functions.internalBalance(me))
    assert held.internal * E18 == internal == payout
    assert alice.status().iloc[0]["state"] == "claimed"

    tokens = held.tokens
    done = alice.withdraw("1.5")
    assert done.amount == Decimal("1.5") and done.left * E18 == internal - 15 * E18 // 10
    assert alice.balance().tokens == tokens + Decimal("1.5")

    alice.submit(following, "alpha", predictions(3))
    with pytest.raises(ParticipantError, match="insufficient internal balance: the wallet has .* the stake needs 1000"):
        alice.stake(following, "alpha", 1000, from_balance=True)
    moved = alice.stake(following, "alpha", 20, from_balance=True)
    assert moved.stake == 20 and alice.balance().tokens == tokens + Decimal("1.5")  # no token left the wallet
    assert world["protocol"].position(following, me, model_id("alpha")).stake == 20 * E18

    rest = alice.withdraw()
    assert rest.left == 0 and alice.balance().internal == 0
    with pytest.raises(ParticipantError, match="nothing to withdraw"):
        alice.withdraw()


def test_a_round_without_results_refunds_its_stakes_after_its_deadline(world, operator, people):
    alice, _ = people
    rid = open_round(world, operator)
    alice.submit(rid, "alpha", predictions(1))
    alice.stake(rid, "alpha", 40)
    until(world["tournament"].roundTimes(rid)[1])
    deadline = world["tournament"].roundTimes(rid)[2]
    nonce = web3.eth.get_transaction_count(alice.account.address)
    with pytest.raises(ParticipantError, match=f"refunds of round {rid} open .* UTC \\(in .*\\): round {rid} may still get "
                                               "its results until .*; nothing was sent"):
        alice.refund(rid)
    assert web3.eth.get_transaction_count(alice.account.address) == nonce

    until(deadline + 1)
    tokens = alice.balance().tokens
    (done,) = alice.refund(rid)
    assert (done.model, done.amount) == ("alpha", 40) and alice.balance().tokens == tokens + 40
    assert list(alice.status()["state"]) == ["refunded"]
    with pytest.raises(ParticipantError, match=f"nothing to refund in round {rid} for .*: no unsettled stake"):
        alice.refund(rid)
