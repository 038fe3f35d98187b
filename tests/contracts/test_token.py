"""StakeToken: the initial supply and who gets it, minting up to the cap, burning, and EIP-2612
permits (chain, contract, deadline and nonce all bound by the signature)."""

import secrets

import brownie
from brownie import chain
from support.rounds import reverts

from crowdstake.chain.permit import sign_permit
from scripts.deploy import INITIAL_SUPPLY, SUPPLY_CAP, TOKEN_NAME, TOKEN_SYMBOL


def test_initial_supply_goes_to_treasury(token, admin, alice):
    assert token.totalSupply() == INITIAL_SUPPLY
    assert token.cap() == SUPPLY_CAP
    assert token.balanceOf(admin) + 3 * token.balanceOf(alice) + token.balanceOf(brownie.Tournament[-1]) == INITIAL_SUPPLY


def test_initial_supply_goes_to_a_treasury_that_is_not_the_admin(admin, alice, outsider):
    # The module's protocol uses the admin as treasury, which cannot tell the two arguments apart.
    token = brownie.StakeToken.deploy(TOKEN_NAME, TOKEN_SYMBOL, SUPPLY_CAP, outsider, INITIAL_SUPPLY, admin,
                                      {"from": alice})
    assert token.balanceOf(outsider) == token.totalSupply() == INITIAL_SUPPLY
    assert token.balanceOf(admin) == token.balanceOf(alice) == 0
    assert token.hasRole(token.DEFAULT_ADMIN_ROLE(), admin)
    assert not token.hasRole(token.DEFAULT_ADMIN_ROLE(), outsider) and not token.hasRole(token.DEFAULT_ADMIN_ROLE(), alice)


def test_minter_mints_up_to_the_cap(token, admin, alice):
    token.grantRole(token.MINTER_ROLE(), admin, {"from": admin})
    room = SUPPLY_CAP - token.totalSupply()
    token.mint(alice, room, {"from": admin})
    assert token.totalSupply() == SUPPLY_CAP
    with reverts("ERC20ExceededCap", SUPPLY_CAP + 1, SUPPLY_CAP):
        token.mint(alice, 1, {"from": admin})


def test_mint_needs_minter_role(token, admin, alice):
    with reverts("AccessControlUnauthorizedAccount", admin, token.MINTER_ROLE()):
        token.mint(alice, 1, {"from": admin})


def test_burn_lowers_supply_exactly(token, alice):
    supply, balance = token.totalSupply(), token.balanceOf(alice)
    token.burn(12345, {"from": alice})
    assert token.totalSupply() == supply - 12345
    assert token.balanceOf(alice) == balance - 12345


def test_burn_from_needs_allowance(token, alice, bob):
    with reverts("ERC20InsufficientAllowance", bob, 0, 5):
        token.burnFrom(alice, 5, {"from": bob})
    token.approve(bob, 5, {"from": alice})
    supply = token.totalSupply()
    token.burnFrom(alice, 5, {"from": bob})
    assert token.totalSupply() == supply - 5


def _permit(token, signer, spender, value, deadline, chain_id=None, nonce=None, verifying=None):
    return sign_permit(
        signer.private_key,
        token_name=TOKEN_NAME,
        token_address=verifying or token.address,
        chain_id=chain_id or chain.id,
        owner=signer.address,
        spender=spender.address,
        value=value,
        nonce=token.nonces(signer) if nonce is None else nonce,
        deadline=deadline,
    )


def test_permit_sets_allowance(token, accounts, bob):
    signer = accounts.add(secrets.token_hex(32))
    deadline = chain.time() + 600
    v, r, s = _permit(token, signer, bob, 777, deadline)
    token.permit(signer, bob, 777, deadline, v, r, s, {"from": bob})
    assert token.allowance(signer, bob) == 777
    assert token.nonces(signer) == 1


def test_permit_rejects_wrong_chain_contract_deadline_and_reuse(token, tournament, accounts, bob):
    signer = accounts.add(secrets.token_hex(32))
    deadline = chain.time() + 600
    for bad in (
        _permit(token, signer, bob, 1, deadline, chain_id=chain.id + 1),
        _permit(token, signer, bob, 1, deadline, verifying=tournament.address),
        _permit(token, signer, bob, 1, deadline, nonce=1),
    ):
        with brownie.reverts():
            token.permit(signer, bob, 1, deadline, *bad, {"from": bob})
    past = chain.time() - 1
    with reverts("ERC2612ExpiredSignature", past):
        token.permit(signer, bob, 1, past, *_permit(token, signer, bob, 1, past), {"from": bob})
    good = _permit(token, signer, bob, 1, deadline)
    token.permit(signer, bob, 1, deadline, *good, {"from": bob})
    with brownie.reverts():
        token.permit(signer, bob, 1, deadline, *good, {"from": bob})  # nonce already used
    assert token.allowance(signer, bob) == 1
