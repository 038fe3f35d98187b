"""The stake token from one wallet: balances and transfers (`crowdstake token`). A transfer is
checked before it is sent: the recipient is a real address and not one of the protocol's
contracts (tokens sent straight to the Tournament are not a stake and not in the reward pool),
the amount is a plain decimal the wallet holds, and the gas is paid for; a mistake is one
FundError line and nothing is sent. Amounts are exact Decimals."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from eth_account.signers.local import LocalAccount
from web3 import Web3

from crowdstake._human import parse_address
from crowdstake._units import parse_amount, to_tokens
from crowdstake.chain.contracts import Contracts
from crowdstake.chain.tx import send
from crowdstake.errors import FundError, InvalidInputError, TransactionFailed


@dataclass(frozen=True)
class Holding:
    address: str
    tokens: Decimal
    eth: Decimal
    symbol: str


@dataclass(frozen=True)
class Transfer:
    """A transfer sent, and the sender's and recipient's token balances after it."""

    to: str
    amount: Decimal
    sender_balance: Decimal
    recipient_balance: Decimal
    tx: str


class Tokens:
    """The deployment's StakeToken, seen from `account` (None: reading only)."""

    def __init__(self, contracts: Contracts, account: LocalAccount | None = None):
        self.contracts, self.account, self.token = contracts, account, contracts.token

    def _tokens_of(self, address: str) -> int:
        return self.contracts.call(self.token.functions.balanceOf(address))

    def balance(self, address: str | None = None) -> Holding:
        """The tokens and ETH of `address` (default: the account's)."""
        if address is None:
            if self.account is None:
                raise FundError("whose balance? give an address, or a wallet")
            address = self.account.address
        else:
            address = _address(address, "the address")
        return Holding(address, to_tokens(self._tokens_of(address)), to_tokens(self.contracts.w3.eth.get_balance(address)),
                       self.contracts.call(self.token.functions.symbol()))

    def transfer(self, to: str, amount) -> Transfer:
        """Send `amount` tokens from the account to `to`."""
        if self.account is None:
            raise FundError("a transfer needs the sender's wallet")
        recipient = _address(to, "the recipient")
        try:
            wei = parse_amount(amount)
        except InvalidInputError as e:
            raise FundError(str(e)) from None
        contracts = {self.contracts.tournament.address: "the Tournament", self.token.address: "the token",
                     self.contracts.committee.address: "the OracleCommittee"}
        if recipient in contracts:
            hint = " (to fund the reward pool: `crowdstake fund rewards`)" if recipient == self.contracts.tournament.address else ""
            raise FundError(f"{recipient} is {contracts[recipient]} contract: tokens sent there are neither staked nor "
                            f"in the reward pool{hint}; nothing was sent")
        me = self.account.address
        if recipient == me:
            raise FundError(f"{recipient} is the sending wallet itself: nothing to send")
        held = self._tokens_of(me)
        if held < wei:
            raise FundError(f"{me} holds {to_tokens(held)} tokens, not the {to_tokens(wei)} to send")
        try:
            receipt = send(self.contracts.w3, self.account, self.token.functions.transfer(recipient, wei))
        except TransactionFailed as e:
            raise FundError(f"the contract refused: {e}" if e.error else str(e), e.error, e.error_args) from None
        return Transfer(recipient, to_tokens(wei), to_tokens(self._tokens_of(me)), to_tokens(self._tokens_of(recipient)),
                        Web3.to_hex(receipt["transactionHash"]))


def _address(value: str, what: str) -> str:
    try:
        return parse_address(value, what)
    except InvalidInputError as e:
        raise FundError(str(e)) from None
