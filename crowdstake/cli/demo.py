"""`demo`: a whole season on a local chain, with a report. It prints the leaderboard as the report
shows it (the same columns and rounding) and the season's checks; a check that says NO makes it
exit 1, after the report is written. `--serve` then keeps the chain up and serves the dashboard
over the season's index until interrupted."""

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
@click.option("--rounds", type=int, default=8, help="rounds in the season (3 at least: a payout restaked into an open round)")
@click.option("--seed", type=int, default=7, help="the season's seed: the same seed plays the same season")
@click.option("--network", type=click.Choice(["anvil", "ganache"]), default="anvil", help="the local chain to start")
@click.option("--rpc-url", metavar="URL", default=None,
              help="play on this running dev node (its unlocked accounts) instead of starting one (default: none, "
                   "a fresh local chain)")
@click.option("--serve", is_flag=True, help="after the season, keep the chain up and serve the dashboard over its "
                                            "index until interrupted (Ctrl-C)")
@click.option("--port", type=click.IntRange(1, 65535), default=8800, metavar="PORT",
              help="with --serve: the dashboard's port on 127.0.0.1")
def demo(out, participants, rounds, seed, network, rpc_url, serve, port):
    """A whole season on a local chain, with a report.

    Starts the chain (or uses --rpc-url), plays participants, the oracle committee and a keeper
    through every round, prints the leaderboard and the checks and writes a report; exits 1 when
    a check fails. With --serve, the dashboard of the season follows, on the chain it played."""
    from rich.console import Console

    from crowdstake.sim.demo import failed, run_demo

    console = Console(soft_wrap=True)  # captured, a line stays one line (rich would wrap it at 80 columns)
    if serve:
        from crowdstake.cli.web import check_port

        check_port("127.0.0.1", port)  # before the season, not after it

    def show(result) -> None:
        board = result["leaderboard"]
        for name, part in board.groupby("tournament", sort=True):  # classic, then signals
            render.leaderboard(part.drop(columns="tournament"), f"leaderboard, {name} (tokens)")
        for fact, holds in result["outcomes"].items():
            console.print(f"{'[green]yes[/]' if holds else '[red]NO[/]'}  {fact}")
        console.print(f"report: {result['report']}")
        console.print(f"index: {result['index']} (`crowdstake rounds --index {result['index']}`)")

    def show_and_serve(result) -> None:
        show(result)
        _serve(result, port, console)

    result = run_demo(Path(out), participants=participants, rounds=rounds, seed=seed, network=network,
                      rpc_url=rpc_url, log=console.print, then=show_and_serve if serve else None)
    if not serve:
        show(result)
    wrong = failed(result["outcomes"])
    if wrong:  # the season does not show what the demo promises: a script must see it
        raise click.ClickException(f"{len(wrong)} of the season's {len(result['outcomes'])} checks failed: "
                                   + "; ".join(wrong))


def _serve(result, port: int, console) -> None:
    """The dashboard over the season's index, its verify action on the season's chain and store."""
    import uvicorn

    from crowdstake.index import identity
    from crowdstake.oracle import verify_round
    from crowdstake.web import create_app

    season = result["season"]
    app = create_app(result["index"], identity=identity(season.contracts),
                     verify=lambda round_id: verify_round(season.contracts, season.store, round_id))
    console.print(f"dashboard: http://127.0.0.1:{port}/ (chain {result['rpc_url']}; Ctrl-C stops both)")
    try:
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    except KeyboardInterrupt:
        pass


COMMANDS = [demo]
