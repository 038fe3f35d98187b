"""k-of-n voting, acceptance, the dispute window, veto and re-vote, finalisation, membership."""

import secrets

from eth_abi import encode
from eth_hash.auto import keccak
from support.rounds import DISPUTE_WINDOW, reverts

E18 = 10**18


def _resolved_round(driver, alice, bob):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 10 * E18)
    driver.enter(rid, bob, "m", 10 * E18)
    leaves, tree, result = driver.results(rid, {(alice, "m"): 10_000, (bob, "m"): -10_000})
    driver.until(driver.tournament.round(rid)["resolveTime"])
    return rid, result


def test_vote_before_resolve_reverts(driver, committee, members, alice, bob):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 10 * E18)
    _, _, result = driver.results(rid, {(alice, "m"): 1})
    resolve = driver.tournament.round(rid)["resolveTime"]
    with reverts("OracleCommitteeRoundNotResolved", rid, resolve):
        committee.vote(rid, result, {"from": members[0]})
    with reverts("OracleCommitteeRoundNotResolved", 42, 0):
        committee.vote(42, result, {"from": members[0]})


def test_non_member_cannot_vote(driver, committee, alice, bob, outsider):
    rid, result = _resolved_round(driver, alice, bob)
    with reverts("OracleCommitteeNotMember", outsider):
        committee.vote(rid, result, {"from": outsider})


def test_one_vote_per_member_per_epoch(driver, committee, members, alice, bob):
    rid, result = _resolved_round(driver, alice, bob)
    committee.vote(rid, result, {"from": members[0]})
    with reverts("OracleCommitteeAlreadyVoted", rid, members[0]):
        committee.vote(rid, result, {"from": members[0]})
    assert committee.votesFor(rid, committee.resultHash(rid, result)) == 1


def test_k_matching_votes_accept_and_open_dispute_window(driver, committee, members, alice, bob):
    rid, result = _resolved_round(driver, alice, bob)
    committee.vote(rid, result, {"from": members[0]})
    assert committee.roundState(rid)["disputeEndsAt"] == 0
    tx = committee.vote(rid, result, {"from": members[1]})
    accepted = tx.events["ResultAccepted"]
    assert accepted["resultHash"] == committee.resultHash(rid, result)
    assert accepted["disputeEndsAt"] == tx.timestamp + DISPUTE_WINDOW
    with reverts("OracleCommitteeAlreadyAccepted", rid, accepted["resultHash"]):
        committee.vote(rid, result, {"from": members[2]})


def test_a_lone_dissenting_root_is_not_accepted(driver, committee, members, alice, bob):
    rid, result = _resolved_round(driver, alice, bob)
    forged = (b"\x66" * 32,) + tuple(result[1:])
    committee.vote(rid, forged, {"from": members[0]})
    tx = committee.vote(rid, result, {"from": members[1]})
    assert "ResultAccepted" not in tx.events
    tx = committee.vote(rid, result, {"from": members[2]})
    assert tx.events["ResultAccepted"]["resultHash"] == committee.resultHash(rid, result)


def test_finalize_only_after_window_and_once(driver, tournament, committee, members, alice, bob, outsider):
    rid, result = _resolved_round(driver, alice, bob)
    with reverts("OracleCommitteeNotAccepted", rid):
        committee.finalize(rid, {"from": outsider})
    driver.accept(rid, result)
    ends = committee.roundState(rid)["disputeEndsAt"]
    with reverts("OracleCommitteeDisputeWindowOpen", rid, ends):
        committee.finalize(rid, {"from": outsider})
    driver.until(ends)
    committee.finalize(rid, {"from": outsider})
    r = tournament.round(rid)
    assert r["finalized"] and r["root"] == "0x" + bytes(result[0]).hex()
    with reverts("OracleCommitteeAlreadyFinalized", rid):
        committee.finalize(rid, {"from": outsider})


def test_veto_starts_new_epoch_and_committee_revotes(driver, tournament, committee, guardian, members, alice, bob):
    rid, result = _resolved_round(driver, alice, bob)
    driver.accept(rid, result)
    tx = committee.veto(rid, {"from": guardian})
    assert tx.events["ResultVetoed"]["vetoes"] == 1
    state = committee.roundState(rid)
    assert state["disputeEndsAt"] == 0 and state["vetoes"] == 1
    assert not committee.hasVoted(rid, members[0])
    corrected = (result[0], b"\x7b" * 32) + tuple(result[2:])
    driver.accept(rid, corrected, voters=members[1:])
    driver.until(committee.roundState(rid)["disputeEndsAt"])
    committee.finalize(rid, {"from": guardian})
    assert tournament.round(rid)["scoreTableHash"] == "0x" + "7b" * 32


def test_veto_only_inside_window(driver, committee, guardian, alice, bob):
    rid, result = _resolved_round(driver, alice, bob)
    with reverts("OracleCommitteeNotAccepted", rid):
        committee.veto(rid, {"from": guardian})
    driver.accept(rid, result)
    ends = committee.roundState(rid)["disputeEndsAt"]
    driver.until(ends)
    with reverts("OracleCommitteeDisputeWindowClosed", rid, ends):
        committee.veto(rid, {"from": guardian})


def test_threshold_must_exceed_half(committee, admin):
    with reverts("OracleCommitteeInvalidThreshold", 1, 3):
        committee.setThreshold(1, {"from": admin})
    with reverts("OracleCommitteeInvalidThreshold", 4, 3):
        committee.setThreshold(4, {"from": admin})
    committee.setThreshold(3, {"from": admin})
    assert committee.threshold() == 3


def test_half_of_an_even_committee_is_not_a_quorum(committee, admin, outsider):
    # With 4 members, 2 could accept one result and the other 2 a different one: k = 2 is refused,
    # whether set directly or left in place by adding the 4th member.
    with reverts("OracleCommitteeInvalidThreshold", 2, 4):
        committee.addMember(outsider, {"from": admin})  # 3 members, k = 2
    committee.setThreshold(3, {"from": admin})
    committee.addMember(outsider, {"from": admin})
    assert committee.memberCount() == 4
    with reverts("OracleCommitteeInvalidThreshold", 2, 4):
        committee.setThreshold(2, {"from": admin})
    assert committee.threshold() == 3


def test_result_hash_is_the_abi_encoded_round_and_result(driver, committee, members, alice, bob):
    # Recomputed here (eth_abi): keccak256(abi.encode(roundId, result)). The round id is in it,
    # so votes for the same result in two rounds are never tallied together.
    rid, result = _resolved_round(driver, alice, bob)

    def expected(round_id):  # as hex: brownie compares its bytes32 return values with hex strings
        return "0x" + keccak(encode(["uint256", "(bytes32,bytes32,uint128,uint32)"], [round_id, result])).hex()

    assert committee.resultHash(rid, result) == expected(rid)
    assert committee.resultHash(rid + 1, result) == expected(rid + 1) != expected(rid)
    committee.vote(rid, result, {"from": members[0]})
    assert committee.votesFor(rid, expected(rid)) == 1  # the tally is kept under that hash


def test_membership_changes_cancel_pending_votes(driver, committee, admin, members, alice, bob, outsider):
    rid, result = _resolved_round(driver, alice, bob)
    committee.vote(rid, result, {"from": members[0]})
    committee.setThreshold(3, {"from": admin})
    tx = committee.addMember(outsider, {"from": admin})  # 4 members, k = 3
    assert tx.events["MemberAdded"]["member"] == outsider
    tx = committee.removeMember(members[0], {"from": admin})  # its vote no longer counts
    assert tx.events["MemberRemoved"]["member"] == members[0]
    assert committee.votesFor(rid, committee.resultHash(rid, result)) == 0
    with reverts("OracleCommitteeNotMember", members[0]):
        committee.vote(rid, result, {"from": members[0]})
    for voter in (members[1], members[2]):
        assert "ResultAccepted" not in committee.vote(rid, result, {"from": voter}).events
    assert "ResultAccepted" in committee.vote(rid, result, {"from": outsider}).events


def test_removal_cannot_break_quorum_rule(committee, admin, members):
    committee.setThreshold(3, {"from": admin})
    with reverts("OracleCommitteeInvalidThreshold", 3, 2):
        committee.removeMember(members[0], {"from": admin})
    with reverts("OracleCommitteeAlreadyMember", members[0]):
        committee.addMember(members[0], {"from": admin})


def test_dispute_window_change_applies_to_later_acceptances(driver, committee, admin, alice, bob):
    rid, result = _resolved_round(driver, alice, bob)
    driver.accept(rid, result)
    ends = committee.roundState(rid)["disputeEndsAt"]
    tx = committee.setDisputeWindow(700, {"from": admin})
    assert tx.events["DisputeWindowChanged"]["disputeWindow"] == 700
    assert committee.roundState(rid)["disputeEndsAt"] == ends


def _execution_gas(tx):
    """Gas used less the calldata's cost, which varies with the bytes of the (random) root."""
    data = bytes.fromhex(tx.input[2:])
    return tx.gas_used - sum(4 if b == 0 else 16 for b in data)


def test_finalize_cost_does_not_grow_with_participants(driver, committee, members, accounts, token, alice):
    """The oracle's on-chain cost is k votes and one finalise, whatever the round's size."""
    gas = []
    # the first round pays for setting the contract's running totals from zero: compare the later two
    for n in (2, 2, 9):
        rid = driver.open_round()
        stakers = [accounts.add(secrets.token_hex(32)) for _ in range(n)]
        scores = {}
        for s in stakers:
            token.transfer(s, 2 * E18, {"from": alice})
            alice.transfer(s, E18 // 10)
            driver.enter(rid, s, "m", E18)
            scores[(s, "m")] = 1
        _, _, result = driver.results(rid, scores)
        driver.until(driver.tournament.round(rid)["resolveTime"])
        votes = [_execution_gas(committee.vote(rid, result, {"from": m})) for m in members[:2]]
        driver.until(committee.roundState(rid)["disputeEndsAt"])
        gas.append(votes + [committee.finalize(rid, {"from": alice}).gas_used])
    assert gas[1] == gas[2]


def test_removed_members_pending_vote_no_longer_counts(driver, committee, admin, members, alice, bob):
    # Nothing but the removal changes: 3 members, k = 2 before and after (2 of the 2 left).
    rid, result = _resolved_round(driver, alice, bob)
    hash_ = committee.resultHash(rid, result)
    committee.vote(rid, result, {"from": members[0]})
    assert committee.votesFor(rid, hash_) == 1
    tx = committee.removeMember(members[0], {"from": admin})
    assert tx.events["MemberRemoved"]["member"] == members[0]
    assert "ThresholdChanged" not in tx.events and committee.threshold() == 2 and committee.memberCount() == 2
    # its vote is gone from the tally (the epoch moved on with the membership version) ...
    assert committee.votesFor(rid, hash_) == 0
    assert not committee.hasVoted(rid, members[0])
    # ... so the remaining members still need both their votes: the first one does not accept
    tx = committee.vote(rid, result, {"from": members[1]})
    assert tx.events["Voted"]["votes"] == 1 and "ResultAccepted" not in tx.events
    assert committee.roundState(rid)["disputeEndsAt"] == 0
    tx = committee.vote(rid, result, {"from": members[2]})
    assert tx.events["Voted"]["votes"] == 2 and "ResultAccepted" in tx.events


def test_removal_cancels_the_remaining_members_pending_votes_too(driver, committee, admin, members, alice, bob,
                                                                 outsider):
    # "pending votes are cancelled": every vote of the epoch, not only the removed member's. A
    # member who voted before the removal votes again; its earlier vote is not counted twice.
    committee.setThreshold(3, {"from": admin})
    committee.addMember(outsider, {"from": admin})  # 4 members, k = 3
    rid, result = _resolved_round(driver, alice, bob)
    hash_ = committee.resultHash(rid, result)
    committee.vote(rid, result, {"from": members[0]})
    committee.vote(rid, result, {"from": members[1]})
    committee.removeMember(members[0], {"from": admin})  # 3 members, k = 3
    assert committee.votesFor(rid, hash_) == 0 and not committee.hasVoted(rid, members[1])
    for voter, votes in ((members[1], 1), (members[2], 2)):
        tx = committee.vote(rid, result, {"from": voter})
        assert tx.events["Voted"]["votes"] == votes and "ResultAccepted" not in tx.events
    assert "ResultAccepted" in committee.vote(rid, result, {"from": outsider}).events


def test_removal_cancels_an_acceptance_not_yet_finalized(driver, tournament, committee, admin, members, alice, bob,
                                                          outsider):
    # A removed member's vote never counts: a result it helped accept is no longer accepted, and
    # only the members who remain can accept one again (k = 2 of the 2 left).
    rid, result = _resolved_round(driver, alice, bob)
    driver.accept(rid, result, voters=members[:2])
    ends = committee.roundState(rid)["disputeEndsAt"]
    committee.removeMember(members[0], {"from": admin})
    state = committee.roundState(rid)
    assert state["disputeEndsAt"] == 0 and state["acceptedHash"] == "0x" + "00" * 32
    driver.until(ends)
    with reverts("OracleCommitteeNotAccepted", rid):
        committee.finalize(rid, {"from": outsider})
    with reverts("OracleCommitteeNotMember", members[0]):
        committee.vote(rid, result, {"from": members[0]})
    committee.vote(rid, result, {"from": members[1]})  # its earlier vote was cancelled with the rest
    tx = committee.vote(rid, result, {"from": members[2]})
    driver.until(tx.events["ResultAccepted"]["disputeEndsAt"])
    committee.finalize(rid, {"from": outsider})
    assert tournament.round(rid)["finalized"]
