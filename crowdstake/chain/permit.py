"""EIP-2612 permit signatures, so a participant stakes in one transaction with no approve."""

from __future__ import annotations

from eth_account import Account


def sign_permit(
    private_key: bytes | str,
    *,
    token_name: str,
    token_address: str,
    chain_id: int,
    owner: str,
    spender: str,
    value: int,
    nonce: int,
    deadline: int,
) -> tuple[int, bytes, bytes]:
    """Sign `Permit(owner, spender, value, nonce, deadline)` for the token's EIP-712 domain
    (name, version "1", chainId, verifyingContract); returns (v, r, s)."""
    signed = Account.sign_typed_data(
        private_key,
        domain_data={
            "name": token_name,
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": token_address,
        },
        message_types={
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ]
        },
        message_data={
            "owner": owner,
            "spender": spender,
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    )
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")
