"""Every restricted function reverts for every account lacking its role (ANCHORS invariant 10)."""

import pytest
from brownie import chain
from support.rounds import PARAMS, reverts

ROOT = b"\x01" * 32


@pytest.fixture(scope="module")
def everyone(admin, operator, guardian, members, alice, bob, carol, outsider):
    return [admin, operator, guardian, *members, alice, bob, carol, outsider]


def _restricted(token, tournament, committee, outsider):
    """(contract, role, function name, arguments) for each role-gated function."""
    now = chain.time()
    return [
        (tournament, "OPERATOR_ROLE", "createTournament", (PARAMS,)),
        (tournament, "OPERATOR_ROLE", "setTournamentParams", (1, PARAMS)),
        (tournament, "OPERATOR_ROLE", "openRound", (1, ROOT, now + 100, now + 200)),
        (tournament, "OPERATOR_ROLE", "publishTargets", (1, ROOT)),
        (tournament, "COMMITTEE_ROLE", "settleRound", (1, ROOT, ROOT, 0, 0)),
        (tournament, "COMMITTEE_ROLE", "extendResultsDeadline", (1, 0)),
        (tournament, "GUARDIAN_ROLE", "pause", ()),
        (tournament, "DEFAULT_ADMIN_ROLE", "unpause", ()),
        (tournament, "DEFAULT_ADMIN_ROLE", "recoverERC20", (token, outsider, 0)),
        (tournament, "DEFAULT_ADMIN_ROLE", "grantRole", (tournament.OPERATOR_ROLE(), outsider)),
        (committee, "GUARDIAN_ROLE", "veto", (1,)),
        (committee, "DEFAULT_ADMIN_ROLE", "addMember", (outsider,)),
        (committee, "DEFAULT_ADMIN_ROLE", "removeMember", (outsider,)),
        (committee, "DEFAULT_ADMIN_ROLE", "setThreshold", (2,)),
        (committee, "DEFAULT_ADMIN_ROLE", "setDisputeWindow", (1,)),
        (committee, "DEFAULT_ADMIN_ROLE", "grantRole", (committee.GUARDIAN_ROLE(), outsider)),
        (token, "MINTER_ROLE", "mint", (outsider, 1)),
        (token, "DEFAULT_ADMIN_ROLE", "grantRole", (token.MINTER_ROLE(), outsider)),
    ]


def test_permission_matrix(token, tournament, committee, everyone, outsider):
    checked = 0
    for contract, role_name, fn, args in _restricted(token, tournament, committee, outsider):
        role = getattr(contract, role_name)()
        for account in everyone:
            if contract.hasRole(role, account):
                continue
            with reverts("AccessControlUnauthorizedAccount", account, role):
                getattr(contract, fn)(*args, {"from": account})
            checked += 1
    # 16 functions; each role has at most one named holder, so most accounts are refused
    assert checked >= 16 * (len(everyone) - 1)


def test_only_members_vote(driver, committee, everyone, members, alice):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 10**18)
    _, _, result = driver.results(rid, {(alice, "m"): 1})
    driver.until(driver.tournament.round(rid)["resolveTime"])
    for account in everyone:
        if account not in members:
            with reverts("OracleCommitteeNotMember", account):
                committee.vote(rid, result, {"from": account})


def test_roles_are_wired_by_deployment(tournament, committee, token, admin, operator, guardian):
    assert tournament.hasRole(tournament.OPERATOR_ROLE(), operator)
    assert tournament.hasRole(tournament.GUARDIAN_ROLE(), guardian)
    assert tournament.hasRole(tournament.COMMITTEE_ROLE(), committee)
    assert committee.hasRole(committee.GUARDIAN_ROLE(), guardian)
    for contract in (token, tournament, committee):
        assert contract.hasRole(contract.DEFAULT_ADMIN_ROLE(), admin)
    assert committee.tournament() == tournament and tournament.token() == token


def test_the_operators_and_the_guardians_functions_move_no_token(
    driver, token, tournament, committee, admin, operator, guardian, members, alice, bob
):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 10**19)
    driver.enter(rid, bob, "m", 10**19)
    holders = [tournament, committee, admin, operator, guardian, *members, alice, bob]

    def money():
        return [token.balanceOf(a) for a in holders], tournament.totalOwed(), tournament.rewardPool(), \
            tournament.round(rid)["totalStake"]

    before = money()
    tid = tournament.createTournament(PARAMS, {"from": operator}).return_value  # every function the operator holds
    tournament.setTournamentParams(tid, PARAMS, {"from": operator})
    tournament.openRound(tid, ROOT, chain.time() + 100, chain.time() + 200, {"from": operator})
    _, _, result = driver.results(rid, {(alice, "m"): 1, (bob, "m"): -1})
    driver.accept(rid, result)
    tournament.publishTargets(rid, ROOT, {"from": operator})
    committee.veto(rid, {"from": guardian})  # every function the guardian holds (and the admin's unpause)
    tournament.pause({"from": guardian})
    tournament.unpause({"from": admin})
    assert money() == before
