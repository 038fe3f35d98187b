"""`crowdstake web`: the dashboard over an index file (crowdstake.web), served until interrupted.

Without --store, no node is contacted: the pages read the index alone, and a round's verify
action says it needs a store and a node. With --store, the node (the node options) and the store
back that action (`crowdstake.oracle.verify_round`, with --targets for rounds that commit none
on-chain), and the index must be the node's deployment's. With --follow, an indexer
(`crowdstake.index.Indexer`) follows the node into the same file in a background thread, as `crowdstake index --follow` would (the same --confirmations,
--poll and --page-blocks); it is the file's one writer. If it stops on an error (not a node
away, which it waits out), it says so on stderr and every page says so at its top."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from crowdstake.cli import _options as options
from crowdstake.cli._errors import explain
from crowdstake.cli.index import confirmations_option, page_blocks_option, poll_option

if TYPE_CHECKING:  # the annotation only: commands import what they use when they run
    from crowdstake.store import Store

DEFAULT_PORT = 8800
VERIFY_HINT = "start `crowdstake web` with --store and --rpc-url or --network"  # the page's note without them


def check_port(host: str, port: int) -> None:
    from crowdstake.errors import ConfigError

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror}): pass another --port or --host") \
                from None


def _start_follower(path: Path, contracts, ident, store: Store | None, confirmations: int, poll: float,
                    page_blocks: int) -> tuple[threading.Event, list[str]]:
    """An indexer following the node into `path` in a daemon thread: its stop event and the
    list its failure is said in. Its opening errors (another writer, another deployment) are
    raised here, before anything is served. A node that stays away is waited out (`follow`);
    any other error ends the thread, said in one line on stderr and put in the list, which the
    pages show, so the site never serves a stale file as if it were following."""
    from crowdstake.errors import CrowdstakeError
    from crowdstake.index import Indexer, open_index

    stop, opened, failure, problem = threading.Event(), threading.Event(), [], []

    def run() -> None:
        try:
            index = open_index(path, ident, write=True)
        except Exception as e:  # noqa: BLE001 - handed to the caller's thread
            failure.append(e)
            opened.set()
            return
        opened.set()
        with index:
            indexer = Indexer(contracts, index, store, confirmations=confirmations, page=page_blocks)
            try:
                indexer.follow(poll, log=lambda line: click.echo(f"index: {line}", err=True), stop=stop.is_set)
            except Exception as e:  # noqa: BLE001 - said and shown, not lost with the thread
                said = explain(e, "web") if isinstance(e, CrowdstakeError) else f"{type(e).__name__}: {e}"
                problem.append(f"the index stopped following the node at block {index.cursor} ({said}); the pages "
                               "show the file as it was then: restart `crowdstake web`")
                click.echo(f"index: {problem[0]}", err=True)

    threading.Thread(target=run, name="index-follow", daemon=True).start()
    opened.wait()
    if failure:
        raise failure[0]
    return stop, problem


@click.command()
@click.option("--index", "index_file", required=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="the index file, built by `crowdstake index --db FILE`")
@click.option("--host", default="127.0.0.1", metavar="HOST", help="the address to listen on")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, metavar="PORT",
              help="the port to listen on")
@click.option("--follow", is_flag=True, help="also follow the node into the index file while serving (default: "
                                             "serve the file as it is; `crowdstake index --follow` may write it)")
@confirmations_option
@poll_option
@page_blocks_option
@click.option("--targets", default=None, metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="for verifying: a directory of the fund's targets, <round>.csv, checked against the round's "
                   "on-chain targets hash when it has one (default: the committed targets, from the store)")
@options.node
@options.store
def web(index_file, host, port, follow, confirmations, poll, page_blocks, targets, flags):
    """Serve the tournament's dashboard, until interrupted.

    Server-rendered pages over an index file: the leaderboard (/), the rounds, each round's
    timeline, votes and scores, each model's and wallet's history, the committee; their data as
    JSON under /api (listed at /docs). With --store, a round's page can verify it against the
    node. docs/dashboard.md describes the pages."""
    import uvicorn

    from crowdstake.web import create_app

    settings = options.load(flags)
    verify, ident, contracts, store = None, None, None, None
    if settings.store.location or follow:
        from crowdstake.index import identity

        contracts = settings.node.contracts()
        ident = identity(contracts)
        store = options.open_store(settings, contracts)
    if store is not None:
        from crowdstake.oracle import verify_round

        def verify(round_id: int):
            return verify_round(contracts, store, round_id, targets)

    check_port(host, port)
    stop, problem = _start_follower(index_file, contracts, ident, store, confirmations, poll, page_blocks) \
        if follow else (None, [])
    app = create_app(index_file, verify=verify, identity=ident, verify_hint=VERIFY_HINT,
                     problem=(lambda: problem[0] if problem else None)
                     if follow else None)
    click.echo(f"the dashboard of {index_file} at http://{host}:{port}/", err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if stop is not None:
            stop.set()


COMMANDS = [web]
