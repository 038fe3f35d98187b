"""`dev`: helpers for local dev chains only, anvil or ganache (crowdstake.chain.devchain.DevChain):
the node's accounts, funding a wallet, moving the chain's clock. Any other chain is refused in
one line before anything is done."""

from __future__ import annotations

import click

from crowdstake._units import format_amount
from crowdstake.cli import _options as options


@click.group()
def dev():
    """Local dev chains (anvil, ganache): accounts, funding, time.

    Refused on any other chain: the node must be anvil with chain id 31337 or ganache with 1337."""


def _dev_chain(flags: dict, name: str):
    from crowdstake.chain.devchain import DevChain

    settings = options.load(flags)
    return DevChain.open(options.connect(settings, start_hint=True), settings.node.deployments,
                         doing=f"`crowdstake dev {name}`")


@dev.command()
@options.node
def accounts(flags):
    """The node's unlocked accounts: ETH, tokens and the roles each holds."""
    chain = _dev_chain(flags, "accounts")
    rows = chain.accounts()
    if chain.contracts is None:
        click.echo("no crowdstake deployment for this chain: tokens and roles are not shown (`crowdstake deploy`)")
    for row in rows:
        tokens = "" if row.tokens is None else f"  {format_amount(row.tokens):>18} tokens"
        roles = f"  {', '.join(row.roles)}" if row.roles else ""
        click.echo(f"{row.index:>2}  {row.address}  {format_amount(row.eth):>12} ETH{tokens}{roles}")


@dev.command("fund")
@click.argument("address")
@click.option("--eth", default="10", metavar="ETH", help="ETH to send from the node's richest account (0: none)")
@click.option("--tokens", default="1000", metavar="TOKENS",
              help="tokens to send from the treasury, when the treasury is one of the node's accounts (0: none)")
@options.node
def fund_address(address, eth, tokens, flags):
    """Send ETH and tokens to ADDRESS from the node's accounts.

    The ETH comes from the node's richest unlocked account, the tokens from the deployment's
    treasury when the node holds that account unlocked (a dev deployment with no role flags)."""
    done = _dev_chain(flags, "fund").fund(address, eth=eth, tokens=tokens)
    if done.eth_tx:
        click.echo(f"sent {format_amount(done.eth)} ETH to {done.address} from {done.eth_from} (tx {done.eth_tx})")
    if done.tokens_tx:
        click.echo(f"sent {format_amount(done.tokens)} tokens to {done.address} from the treasury {done.tokens_from} "
                   f"(tx {done.tokens_tx})")
    held = "" if done.token_balance is None else f"{format_amount(done.token_balance)} tokens, "
    click.echo(f"{done.address} holds {held}{format_amount(done.eth_balance)} ETH")


@dev.command()
@click.argument("seconds", required=False)
@click.option("--to", "target", type=click.Choice(["close", "resolve", "dispute-end"]), default=None, metavar="WHEN",
              help="advance to the round's close, resolve or dispute-end (the end of its dispute window); with --round "
                   "(default: none, advance by SECONDS)")
@click.option("--round", "round_id", type=options.WholeNumber(1), default=None, metavar="R",
              help="the round of --to (default: none; needed with --to)")
@options.node
def advance(seconds, target, round_id, flags):
    """Move the chain's clock forward and mine a block.

    SECONDS forward (a number, or a duration such as 1h or 20d), or --to a round's close, resolve
    time or dispute-window end. Prints the new chain time."""
    from crowdstake._human import parse_duration, utc
    from crowdstake.errors import InvalidInputError

    ctx = click.get_current_context()
    if (seconds is None) == (target is None):
        raise click.UsageError("say how far: SECONDS, or --to close|resolve|dispute-end --round R", ctx=ctx)
    if target is not None and round_id is None:
        raise click.UsageError(f"--to {target} needs the round: --round R", ctx=ctx)
    if target is None and round_id is not None:
        raise click.UsageError("--round goes with --to close|resolve|dispute-end", ctx=ctx)
    if seconds is not None:
        try:
            parse_duration(seconds, "SECONDS")
        except InvalidInputError as e:
            raise click.UsageError(str(e), ctx=ctx) from None
    chain = _dev_chain(flags, "advance")
    done = chain.advance(seconds) if target is None else chain.advance_to(target, round_id)
    if target is not None and not done.moved:
        click.echo(f"chain time {utc(done.after)} is already past round {round_id}'s {target} ({utc(done.target)}): "
                   "nothing to do")
        return
    reached = f", round {round_id}'s {target} ({utc(done.target)})" if target else ""
    click.echo(f"chain time now {utc(done.after)}: {done.after - done.before:,} s later{reached} (block mined)")


COMMANDS = [dev]
