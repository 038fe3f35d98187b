"""`demo`: a whole season on a local chain, with a report."""

from __future__ import annotations

from pathlib import Path

import click

from crowdstake.cli import _render as render


# Not the node options: its --network names the local chain it starts, not a brownie network, and
# no environment variable or crowdstake.toml points it at a node (only --rpc-url does).
@click.command()
@click.option("--out", default="demo-report", metavar="DIR", type=click.Path(file_okay=False),
              help="where the report and the season's files go")
@click.option("--participants", type=int, default=20, help="participants in the season (one of each kind at least)")
@click.option("--rounds", type=int, default=8, help="rounds in the season (2 at least)")
@click.option("--seed", type=int, default=7, help="the season's seed: the same seed plays the same season")
@click.option("--network", type=click.Choice(["anvil", "ganache"]), default="anvil", help="the local chain to start")
@click.option("--rpc-url", metavar="URL", default=None,
              help="play on this running dev node (its unlocked accounts) instead of starting one")
def demo(out, participants, rounds, seed, network, rpc_url):
    """A whole season on a local chain, with a report.

    Starts the chain (or uses --rpc-url), plays participants, the oracle committee and a keeper
    through every round, prints the leaderboard and writes a report."""
    from rich.console import Console

    from crowdstake.sim.season import run_demo

    console = Console()
    result = run_demo(Path(out), participants=participants, rounds=rounds, seed=seed, network=network,
                      rpc_url=rpc_url, log=console.print)
    board = result["leaderboard"][["participant", "models", "total_stake", "mean_corr", "total_payout", "total_burn"]]
    render.table(board.round(4), "leaderboard (tokens)")
    for fact, holds in result["outcomes"].items():
        console.print(f"{'[green]yes[/]' if holds else '[red]NO[/]'}  {fact}")
    console.print(f"report: {result['report']}")


COMMANDS = [demo]
