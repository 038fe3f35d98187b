"""The store's own EIP-712 hashing and signer recovery against eth-account's, for every kind of
signed request (the store checks with its own; participants sign with eth-account's)."""

import secrets

import pytest
from eth_account import Account

from crowdstake.store import auth
from crowdstake.store.auth import _KINDS, _typed, recover_signer, typed_digest

ACCOUNT = Account.from_key(bytes(range(1, 33)))


def _message(kind: str, rng) -> dict:
    values = {"string": lambda: "store-" + secrets.token_hex(rng), "address": lambda: Account.create().address,
              "uint256": lambda: secrets.randbits(8 * rng), "bytes32": lambda: secrets.token_bytes(32)}
    return {f["name"]: values[f["type"]]() for f in _KINDS[kind][1]}


@pytest.mark.parametrize("kind", sorted(_KINDS))
@pytest.mark.parametrize("width", [1, 7, 32])
def test_typed_digest_is_eth_accounts(kind, width):
    message = _message(kind, width)
    signable = _typed(kind, 31337 + width, message)
    assert typed_digest(kind, 31337 + width, message) == auth.keccak(b"\x19" + signable.version + signable.header
                                                                      + signable.body)


@pytest.mark.parametrize("kind", sorted(_KINDS))
def test_recover_signer_is_eth_accounts(kind):
    message = _message(kind, 16)
    signable = _typed(kind, 1, message)
    signature = ACCOUNT.sign_message(signable).signature
    recovered = recover_signer(typed_digest(kind, 1, message), bytes(signature))
    assert recovered == bytes.fromhex(Account.recover_message(signable, signature=signature)[2:])
    assert recovered == bytes.fromhex(ACCOUNT.address[2:])
    assert recover_signer(typed_digest(kind, 2, message), bytes(signature)) != recovered  # another chain's hash


@pytest.mark.parametrize("mangle", [
    lambda s: s[:64],                               # no v
    lambda s: s + b"\x00",                          # a byte too many
    lambda s: s[:64] + b"\x01",                     # v not 27 or 28
    lambda s: bytes(32) + s[32:],                   # r = 0
    lambda s: s[:32] + b"\xff" * 32 + s[64:],       # s over the curve's order
])
def test_a_malformed_signature_recovers_nobody(mangle):
    message = _message("upload", 8)
    digest = typed_digest("upload", 1, message)
    signature = bytes(ACCOUNT.sign_message(_typed("upload", 1, message)).signature)
    assert recover_signer(digest, signature) is not None
    assert recover_signer(digest, mangle(signature)) is None
