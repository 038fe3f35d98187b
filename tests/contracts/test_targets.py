"""The fund commits a round's targets on-chain: once, from the resolve time on, by the operator
alone. With the dataset hash, each predictions hash and the weights already on-chain, every
input of a round's scores is then committed."""

from support.rounds import at_second, reverts

TARGETS = b"\x7e" * 32


def test_targets_are_committed_once_from_the_resolve_time(driver, tournament, operator):
    rid = driver.open_round()
    resolve = tournament.round(rid)["resolveTime"]
    driver.until(resolve - 10)
    with at_second(resolve - 1), reverts("TournamentRoundNotResolved", rid, resolve):
        tournament.publishTargets(rid, TARGETS, {"from": operator})
    assert tournament.round(rid)["targetsHash"] == "0x" + "00" * 32
    with at_second(resolve):
        tx = tournament.publishTargets(rid, TARGETS, {"from": operator})
    assert dict(tx.events["TargetsPublished"]) == {"roundId": rid, "targetsHash": "0x" + TARGETS.hex()}
    assert tournament.round(rid)["targetsHash"] == "0x" + TARGETS.hex()
    with reverts("TournamentTargetsAlreadyPublished", rid, TARGETS):  # never replaced
        tournament.publishTargets(rid, b"\x7f" * 32, {"from": operator})


def test_targets_need_a_hash_and_a_known_round(driver, tournament, operator):
    rid = driver.open_round()
    driver.until(tournament.round(rid)["resolveTime"])
    with reverts("TournamentZeroHash"):
        tournament.publishTargets(rid, b"\x00" * 32, {"from": operator})
    with reverts("TournamentRoundUnknown", 99):
        tournament.publishTargets(99, TARGETS, {"from": operator})
