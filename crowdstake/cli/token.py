"""`token`: the stake token from a wallet: `token balance`, `token transfer` (crowdstake.tokens.Tokens)."""

from __future__ import annotations

import click

from crowdstake._units import format_amount
from crowdstake.cli import _options as options


@click.group()
def token():
    """The stake token: balances and transfers."""


@token.command()
@click.option("--address", type=options.address(), default=None, metavar="ADDR",
              help="whose balance (default: the wallet's, read from its keystore without the password)")
@options.node
@options.wallet
def balance(address, flags):
    """The tokens and ETH of an address or of the wallet."""
    from crowdstake.errors import MissingSetting
    from crowdstake.tokens import Tokens

    settings = options.load(flags)
    if address is None:
        address = options.wallet_address(settings)
        if address is None:
            raise MissingSetting("no address and no wallet chosen: pass --address ADDR, or choose a wallet", "wallet")
    held = Tokens(settings.node.contracts()).balance(address)
    click.echo(f"{held.address}: {format_amount(held.tokens)} {held.symbol}, {format_amount(held.eth)} ETH")


@token.command()
@click.option("--to", "to", required=True, type=options.address(), metavar="ADDR", help="the recipient's address")
@click.option("--amount", required=True, type=options.tokens(), help="tokens to send, e.g. 250 or 12.5")
@options.node
@options.wallet
def transfer(to, amount, flags):
    """Send tokens from the wallet to an address.

    Refuses the protocol's own contracts as recipients: to fund the reward pool, use `crowdstake
    fund rewards`; to stake, `crowdstake stake`."""
    from crowdstake.tokens import Tokens

    settings = options.load(flags)
    done = Tokens(settings.node.contracts(), options.account(settings)).transfer(to, amount)
    click.echo(f"sent {format_amount(done.amount)} tokens to {done.to}: the wallet holds "
               f"{format_amount(done.sender_balance)}, the recipient {format_amount(done.recipient_balance)} "
               f"(tx {done.tx})")


COMMANDS = [token]
